//! Batch inference (`--batch`) end to end against the fake OpenAI-compatible server:
//! the same tables as direct calls without a single direct chat call, answers that a
//! run without `--batch` replays from the cache, and a run killed while a batch is in
//! flight that resumes by polling the same batch.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use agora_fake_openai::{FakeConfig, FakeServer};
use common::*;

const TABLES: [&str; 4] = [
    "agents",
    "events",
    "survey_responses",
    "population_marginals",
];

fn command(cwd: &Path, server: &FakeServer, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_agora"));
    cmd.current_dir(cwd)
        .args(args)
        .env("OPENAI_BASE_URL", server.base_url())
        .env("OPENAI_API_KEY", "test-key")
        .env("AGORA_CACHE_DIR", cwd.join("cache"))
        .env_remove("RUST_LOG");
    cmd
}

fn agora_on(cwd: &Path, server: &FakeServer, args: &[&str]) -> Output {
    command(cwd, server, args)
        .output()
        .expect("the agora binary runs")
}

fn survey_args<'a>(scenario: &'a str, out: &'a str, batch: bool) -> Vec<&'a str> {
    let mut args = vec![
        "run",
        scenario,
        "--model",
        "openai:gpt-4o-mini",
        "--agents",
        "20",
        "--quiet",
        "--out",
        out,
    ];
    if batch {
        args.extend(["--batch", "--batch-poll", "0.05"]);
    }
    args
}

fn assert_same_tables(a: &Path, b: &Path, what: &str) {
    for table in TABLES {
        let x = table_bytes(table_file(a, table, "base", 0)).unwrap();
        let y = table_bytes(table_file(b, table, "base", 0)).unwrap();
        assert!(x == y, "{table} differs: {what}");
    }
}

fn batch_records(out: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(out.join(".agora/batches"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batched_survey_gives_the_tables_of_direct_calls_without_a_direct_call() {
    let direct_server = FakeServer::start(FakeConfig::default()).await.unwrap();
    let batch_server = FakeServer::start(FakeConfig::default()).await.unwrap();
    let direct_dir = tempfile::tempdir().unwrap();
    let batch_dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(direct_dir.path(), "s.ron", SMALL_SURVEY);
    let s = scenario.to_str().unwrap();

    let direct = agora_on(
        direct_dir.path(),
        &direct_server,
        &survey_args(s, "out", false),
    );
    assert!(direct.status.success(), "{}", stderr(&direct));
    let batched = agora_on(
        batch_dir.path(),
        &batch_server,
        &survey_args(s, "out", true),
    );
    assert!(batched.status.success(), "{}", stderr(&batched));

    let stats = batch_server.stats();
    assert_eq!(stats.chat_calls.load(Ordering::SeqCst), 0, "no direct call");
    let batches = stats.batches_created.load(Ordering::SeqCst);
    assert_eq!(
        batches, 4,
        "one batch per round of the one-item-per-round survey"
    );
    assert_eq!(
        stats.completions.load(Ordering::SeqCst),
        direct_server.stats().chat_calls.load(Ordering::SeqCst),
        "every direct call was a batch line"
    );
    assert_same_tables(
        &direct_dir.path().join("out"),
        &batch_dir.path().join("out"),
        "between the direct and the batched run",
    );
    assert!(
        batch_records(&batch_dir.path().join("out")).is_empty(),
        "finished batches leave no record"
    );

    // The batch answers are in the cache: a run without --batch replays them.
    let before = stats.requests();
    let again = agora_on(
        batch_dir.path(),
        &batch_server,
        &survey_args(s, "again", false),
    );
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(
        stats.requests(),
        before,
        "the rerun was answered from the cache"
    );
    assert_same_tables(
        &batch_dir.path().join("out"),
        &batch_dir.path().join("again"),
        "between the batched run and its cached rerun",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_while_a_batch_is_in_flight_resumes_by_polling_that_batch() {
    let slow = FakeConfig {
        batch_delay: Duration::from_millis(1500),
        ..FakeConfig::default()
    };
    let whole_server = FakeServer::start(slow.clone()).await.unwrap();
    let server = FakeServer::start(slow).await.unwrap();
    let whole_dir = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(dir.path(), "s.ron", SMALL_SURVEY);
    let s = scenario.to_str().unwrap();

    let whole = agora_on(
        whole_dir.path(),
        &whole_server,
        &survey_args(s, "out", true),
    );
    assert!(whole.status.success(), "{}", stderr(&whole));
    let whole_batches = whole_server.stats().batches_created.load(Ordering::SeqCst);

    let args = survey_args(s, "out", true);
    let mut child = command(dir.path(), &server, &args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = dir.path().join("out");
    let started = Instant::now();
    while batch_records(&out).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no batch was recorded"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    let stats = server.stats();
    assert_eq!(stats.batches_created.load(Ordering::SeqCst), 1);
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&batch_records(&out)[0]).unwrap()).unwrap();
    assert_eq!(record["batch_id"], "batch_1");
    let polls = stats.batch_polls.load(Ordering::SeqCst);

    let mut resume = args.clone();
    resume.push("--resume");
    let resumed = agora_on(dir.path(), &server, &resume);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert!(
        stats.batch_polls.load(Ordering::SeqCst) > polls,
        "the resumed run polled"
    );
    assert_eq!(
        stats.batches_created.load(Ordering::SeqCst),
        whole_batches,
        "the batch in flight was not submitted again"
    );
    assert_eq!(stats.chat_calls.load(Ordering::SeqCst), 0);
    assert!(batch_records(&out).is_empty());
    assert_same_tables(
        &whole_dir.path().join("out"),
        &out,
        "between an uninterrupted and a killed and resumed batched run",
    );
}

#[test]
fn run_help_shows_batch() {
    let help = agora(Path::new("."), &["run", "--help"]);
    let text = stdout(&help);
    assert!(text.contains("--batch"), "{text}");
    assert!(text.contains("--batch-poll"), "{text}");
}
