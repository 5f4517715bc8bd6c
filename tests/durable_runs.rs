//! Durable runs: `kill -9` at random points of every shipped mechanism's run, then
//! `--resume`, gives the tables of a run that was never interrupted; Ctrl-C and SIGTERM
//! stop after a round with an `interrupted` manifest and exit 130 / 143; `--overwrite`
//! removes only what Agora wrote.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use agora_fake_openai::{FakeConfig, FakeServer};
use common::*;

/// A deterministic sequence of kill delays (no clock or entropy in tests).
struct Delays(u64);

impl Delays {
    fn next_ms(&mut self, most: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % most.max(1)
    }
}

fn command(cwd: &Path, server: Option<&FakeServer>, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_agora"));
    cmd.current_dir(cwd)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env("AGORA_CACHE_DIR", cwd.join("cache"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(server) = server {
        cmd.env("OPENAI_BASE_URL", server.base_url())
            .env("OPENAI_API_KEY", "test-key");
    }
    cmd
}

/// Every table file below `out` (relative path and bytes), `.agora` and the manifest
/// left out; `llm_calls` compared without `cache_hit` and `latency_ms`, which a resumed
/// run may serve from the cache.
fn tables(out: &Path) -> Vec<(String, Vec<String>)> {
    let mut found = Vec::new();
    let mut stack = vec![out.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if name == ".agora" || name == "cache" {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else if name.ends_with(".parquet") {
                found.push(p);
            }
        }
    }
    found.sort();
    found
        .iter()
        .map(|p| {
            let rel = p.strip_prefix(out).unwrap().display().to_string();
            let reader =
                parquet::file::reader::SerializedFileReader::new(std::fs::File::open(p).unwrap())
                    .unwrap();
            use parquet::file::reader::FileReader;
            let rows = reader
                .get_row_iter(None)
                .unwrap()
                .map(|r| {
                    let r = r.unwrap();
                    r.get_column_iter()
                        .filter(|(c, _)| c.as_str() != "cache_hit" && c.as_str() != "latency_ms")
                        .map(|(c, v)| format!("{c}={v}"))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .collect();
            (rel, rows)
        })
        .collect()
}

/// Run `name` once uninterrupted, then `kills` times killed with SIGKILL at a random
/// moment and resumed, and compare the tables.
fn crash_and_resume(
    name: &str,
    server: Option<&FakeServer>,
    extra: &[&str],
    kills: usize,
    seed: u64,
) {
    let dir = tempfile::tempdir().unwrap();
    let scenario = repo().join(format!("scenarios/{name}.ron"));
    let scenario = scenario.to_str().unwrap();
    let model = if server.is_some() {
        "openai:fake"
    } else {
        "rules"
    };
    let base = |out: &str| {
        let mut args = vec!["run", scenario, "--model", model, "--quiet", "--out", out];
        args.extend_from_slice(extra);
        args.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let as_str = |v: &Vec<String>| v.iter().map(String::as_str).collect::<Vec<_>>().join(" ");

    let started = Instant::now();
    let whole = command(
        dir.path(),
        server,
        &base("whole").iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .output()
    .unwrap();
    assert!(whole.status.success(), "{name}: {}", stderr(&whole));
    let span = started.elapsed().as_millis() as u64;
    let expected = tables(&dir.path().join("whole"));

    let mut delays = Delays(seed);
    for attempt in 0..kills {
        let out = format!("killed-{attempt}");
        let args = base(&out);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut child = command(dir.path(), server, &args).spawn().unwrap();
        let delay = delays.next_ms(span);
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill();
        let _ = child.wait();
        let mut resume = args.clone();
        resume.push("--resume");
        let resumed = command(dir.path(), server, &resume).output().unwrap();
        let text = stderr(&resumed);
        if !resumed.status.success() && text.contains("no manifest.json") {
            // Killed before the manifest was written: nothing was started, run again.
            let again = command(dir.path(), server, &args).output().unwrap();
            assert!(again.status.success(), "{name}: {}", stderr(&again));
        } else {
            assert!(
                resumed.status.success(),
                "{name}: resume after a kill at {delay} ms failed: {text}\n{}",
                as_str(&resume.iter().map(|s| s.to_string()).collect())
            );
        }
        let got = tables(&dir.path().join(&out));
        let manifest: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.path().join(&out).join("manifest.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(manifest["status"], "complete", "{name}: kill at {delay} ms");
        assert_eq!(
            got.iter().map(|t| &t.0).collect::<Vec<_>>(),
            expected.iter().map(|t| &t.0).collect::<Vec<_>>(),
            "{name}: the same files after a kill at {delay} ms"
        );
        for ((file, rows), (_, want)) in got.iter().zip(&expected) {
            assert_eq!(rows, want, "{name}: {file} after a kill at {delay} ms");
        }
    }
}

#[test]
fn rule_based_runs_of_every_mechanism_survive_kill_9_and_resume() {
    crash_and_resume("consumer-survey", None, &["--agents", "3000"], 5, 11);
    crash_and_resume("house-auction", None, &["--replicates", "12"], 5, 12);
    crash_and_resume("debate-two-sided", None, &["--replicates", "10"], 5, 13);
    crash_and_resume("focus-group", None, &["--replicates", "8"], 5, 14);
    crash_and_resume("conjoint-meal-kit", None, &["--replicates", "4"], 3, 15);
    crash_and_resume("price-test-meal-kit", None, &["--replicates", "4"], 3, 16);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_server_runs_of_every_mechanism_survive_kill_9_and_resume() {
    let server = FakeServer::start(FakeConfig {
        latency: Duration::from_millis(3),
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let s = &server;
    tokio::task::block_in_place(|| {
        crash_and_resume("consumer-survey", Some(s), &["--agents", "40"], 5, 21);
        crash_and_resume(
            "house-auction",
            Some(s),
            &["--agents", "6", "--replicates", "2"],
            5,
            22,
        );
        crash_and_resume(
            "debate-two-sided",
            Some(s),
            &["--agents", "4", "--replicates", "2"],
            5,
            23,
        );
        crash_and_resume(
            "focus-group",
            Some(s),
            &["--agents", "4", "--rounds", "4"],
            5,
            24,
        );
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_stops_after_a_round_and_resume_finishes_the_run() {
    let server = FakeServer::start(FakeConfig {
        latency: Duration::from_millis(40),
        capacity: 4,
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let scenario = repo().join("scenarios/consumer-survey.ron");
    let scenario = scenario.to_str().unwrap();
    for (signal, code) in [("-INT", 130), ("-TERM", 143)] {
        let out = format!("out{code}");
        let cache = format!("cache{code}");
        let args = [
            "run",
            scenario,
            "--model",
            "openai:fake",
            "--agents",
            "8",
            "--quiet",
            "--out",
            &out,
            "--cache-dir",
            &cache,
        ];
        let child = tokio::task::block_in_place(|| {
            command(dir.path(), Some(&server), &args).spawn().unwrap()
        });
        tokio::time::sleep(Duration::from_millis(900)).await;
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let output = tokio::task::block_in_place(|| child.wait_with_output().unwrap());
        assert_eq!(output.status.code(), Some(code), "{}", stderr(&output));
        assert!(stderr(&output).contains("--resume"), "{}", stderr(&output));
        let manifest: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.path().join(&out).join("manifest.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(manifest["status"], "interrupted");
        let mut resume = args.to_vec();
        resume.push("--resume");
        let resumed = tokio::task::block_in_place(|| {
            command(dir.path(), Some(&server), &resume)
                .output()
                .unwrap()
        });
        assert!(resumed.status.success(), "{}", stderr(&resumed));
        assert_eq!(
            parquet_rows(&table_file(
                &dir.path().join(&out),
                "survey_responses",
                "base",
                0
            )),
            8 * 10
        );
    }
}

#[test]
fn overwrite_removes_only_what_agora_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    run_with_rules(dir.path(), "debate-two-sided", "out", &[]);
    std::fs::create_dir_all(out.join("src")).unwrap();
    std::fs::write(out.join("src/notes.txt"), "mine").unwrap();
    std::fs::write(out.join("messages/arm=base/replicate=0/mine.csv"), "mine").unwrap();
    run_with_rules(dir.path(), "debate-two-sided", "out", &["--overwrite"]);
    assert_eq!(
        std::fs::read_to_string(out.join("src/notes.txt")).unwrap(),
        "mine"
    );
    assert!(out.join("messages/arm=base/replicate=0/mine.csv").exists());
    assert!(parquet_rows(&table_file(&out, "messages", "base", 0)) > 0);

    // A directory that holds other files and no manifest is not written into.
    let foreign = dir.path().join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("data.csv"), "x").unwrap();
    let scenario = repo().join("scenarios/debate-two-sided.ron");
    let run = agora(
        dir.path(),
        &[
            "run",
            scenario.to_str().unwrap(),
            "--model",
            "rules",
            "--out",
            "foreign",
            "--quiet",
        ],
    );
    assert!(!run.status.success());
    assert!(stderr(&run).contains("did not write"), "{}", stderr(&run));
    assert_eq!(std::fs::read_dir(&foreign).unwrap().count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_budget_is_never_exceeded_and_resume_with_a_larger_one_pays_nothing_twice() {
    let server = FakeServer::start(FakeConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let scenario = repo().join("scenarios/debate-two-sided.ron");
    let scenario = scenario.to_str().unwrap();
    let args = [
        "run",
        scenario,
        "--model",
        "openai:fake",
        "--out",
        "out",
        "--max-tokens",
        "5000",
    ];
    let first =
        tokio::task::block_in_place(|| command(dir.path(), Some(&server), &args).output().unwrap());
    assert!(first.status.success(), "{}", stderr(&first));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["status"], "budget_exhausted");
    let reason = manifest["reason"].as_str().unwrap();
    assert!(reason.contains("token budget (5000)"), "{reason}");
    // What was sent fits the budget: the reason states the tokens spent.
    let spent: u64 = reason
        .split("cannot cover this call: ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(spent <= 5000, "{spent} tokens spent of 5000");
    let sent = server.stats().requests();
    assert!(sent > 0);

    let mut resume = args.to_vec();
    resume[7] = "1000000";
    resume.push("--resume");
    let resumed = tokio::task::block_in_place(|| {
        command(dir.path(), Some(&server), &resume)
            .output()
            .unwrap()
    });
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["status"], "complete");
    let replicates = manifest["runs"].as_array().unwrap().len() as u32;
    assert_eq!(replicates, 4);
    let calls: u64 = (0..replicates)
        .map(|r| parquet_rows(&table_file(&dir.path().join("out"), "llm_calls", "base", r)) as u64)
        .sum();
    assert_eq!(
        server.stats().requests(),
        calls,
        "every call was sent once: those paid before the budget stopped came from the cache"
    );
}

#[test]
fn a_branch_after_round_k_continues_the_earlier_runs_exactly() {
    let dir = tempfile::tempdir().unwrap();
    run_with_rules(dir.path(), "debate-two-sided", "whole", &[]);
    let scenario = repo().join("scenarios/debate-two-sided.ron");
    let scenario = scenario.to_str().unwrap();
    let branch = agora(
        dir.path(),
        &[
            "run",
            scenario,
            "--model",
            "rules",
            "--replicates",
            "2",
            "--quiet",
            "--out",
            "branch",
            "--from",
            "whole",
            "--at-round",
            "3",
        ],
    );
    assert!(branch.status.success(), "{}", stderr(&branch));
    let whole = dir.path().join("whole");
    let branched = dir.path().join("branch");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(branched.join("manifest.json")).unwrap()).unwrap();
    assert!(
        manifest["branched_from"]
            .as_str()
            .unwrap()
            .ends_with("after round 3"),
        "{manifest}"
    );
    for table in [
        "messages",
        "opinions",
        "debate_metrics",
        "events",
        "llm_calls",
        "conversation_end",
    ] {
        for rep in 0..2 {
            let files = parts(&table_file(&branched, table, "base", rep));
            assert!(!files.is_empty(), "{table}");
            for file in &files {
                let name = file.file_name().unwrap().to_string_lossy().into_owned();
                let segment: u32 = name[5..10].parse().unwrap();
                assert!(segment > 3, "{table}: {name} belongs to the shared history");
                let original = table_file(&whole, table, "base", rep).join(&name);
                assert_eq!(
                    std::fs::read(file).unwrap(),
                    std::fs::read(&original).unwrap(),
                    "{table} {name}: the branch continues the run exactly"
                );
            }
        }
    }

    let late = agora(
        dir.path(),
        &[
            "run",
            scenario,
            "--model",
            "rules",
            "--replicates",
            "2",
            "--quiet",
            "--out",
            "late",
            "--from",
            "whole",
            "--at-round",
            "99",
        ],
    );
    assert_eq!(late.status.code(), Some(2), "{}", stderr(&late));
    assert!(
        stderr(&late).contains("has rounds up to"),
        "{}",
        stderr(&late)
    );
}
