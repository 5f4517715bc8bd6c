//! End to end against the fake OpenAI-compatible server: every conversation scenario
//! with a model that reads every prompt and answers over HTTP.

mod common;

use std::process::Command;

use agora_fake_openai::{FakeConfig, FakeServer};
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversations_run_against_the_fake_server() {
    let server = FakeServer::start(FakeConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut requests = 0;
    // The focus group once more with a model moderator.
    let moderated = std::fs::read_to_string(repo().join("scenarios/focus-group.ron"))
        .unwrap()
        .replace("order: Fixed,", "order: Fixed,\n        moderator: Model,");
    write_scenario(dir.path(), "focus-group-moderated.ron", &moderated);
    for (name, rounds) in [
        ("debate-two-sided", "6"),
        ("opinion-dynamics", "4"),
        ("focus-group", "5"),
        ("focus-group-moderated", "3"),
    ] {
        let scenario = if name.ends_with("moderated") {
            dir.path().join(format!("{name}.ron"))
        } else {
            repo().join(format!("scenarios/{name}.ron"))
        };
        let run = Command::new(env!("CARGO_BIN_EXE_agora"))
            .current_dir(dir.path())
            .args([
                "run",
                scenario.to_str().unwrap(),
                "--model",
                "openai:gpt-4o-mini",
            ])
            .args([
                "--replicates",
                "1",
                "--rounds",
                rounds,
                "--out",
                name,
                "--quiet",
            ])
            .env("OPENAI_BASE_URL", server.base_url())
            .env("OPENAI_API_KEY", "sk-test-debate")
            .env("AGORA_CACHE_DIR", dir.path().join("cache"))
            .env_remove("RUST_LOG")
            .output()
            .expect("the agora binary runs");
        assert!(run.status.success(), "{name}: {}", stderr(&run));
        let out = dir.path().join(name);
        let rows = |table: &str| parquet_rows(&table_file(&out, table, "base", 0));
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
        let record = &manifest["runs"][0];
        assert_eq!(manifest["status"], "complete", "{name}");
        assert_eq!(record["model"], "openai:gpt-4o-mini", "{name}");
        assert_eq!(
            record["fallbacks"], 0,
            "{name}: the server's answers fit every schema"
        );
        assert!(record["prompt_tokens"].as_u64().unwrap() > 0, "{name}");
        let calls = rows("llm_calls");
        assert_eq!(calls, record["decisions"].as_i64().unwrap(), "{name}");
        assert!(
            rows("messages") > 0 && rows("opinions") > 0 && rows("debate_metrics") > 0,
            "{name}"
        );
        let tasks = text_column(&table_file(&out, "llm_calls", "base", 0), "task");
        let moderator = tasks
            .iter()
            .filter(|t| t.as_deref() == Some("focus_group.moderator"))
            .count();
        let want = if name.ends_with("moderated") { 3 } else { 0 };
        assert_eq!(moderator, want, "{name}: one moderator question per round");
        requests += calls;
    }
    // Identical prompts in flight together are sent once, so the server may see fewer.
    assert!(server.stats().requests() as i64 <= requests);
    assert!(server.stats().requests() > 0);
}

/// A simultaneous focus group against the server: every participant answers every
/// round, the scenario's sampling parameters reach the server exactly as written, and
/// the run reports how much of its prompts repeat an earlier prompt of the round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_answers_go_out_together_with_the_parameters_as_written() {
    let server = FakeServer::start(FakeConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo().join("scenarios/focus-group-simultaneous.ron"))
        .unwrap()
        .replace(
            "model: (temperature: 0.8, max_tokens: 250),",
            "model: (temperature: 0.8, top_p: 0.9, max_tokens: 250),",
        );
    assert!(text.contains("top_p: 0.9"));
    let scenario = write_scenario(dir.path(), "together.ron", &text);
    let run = Command::new(env!("CARGO_BIN_EXE_agora"))
        .current_dir(dir.path())
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--model",
            "openai:gpt-4o-mini",
        ])
        .args(["--replicates", "1", "--agents", "16", "--rounds", "2"])
        .args(["--out", "together", "--quiet", "--cache", "off"])
        .env("OPENAI_BASE_URL", server.base_url())
        .env("OPENAI_API_KEY", "sk-test-together")
        .env_remove("RUST_LOG")
        .output()
        .expect("the agora binary runs");
    assert!(run.status.success(), "{}", stderr(&run));
    let out = dir.path().join("together");
    assert_eq!(parquet_rows(&table_file(&out, "messages", "base", 0)), 32);
    let turns = text_column(
        &table_file(&out, "focus_group_answers", "base", 0),
        "question_id",
    );
    assert_eq!(turns.len(), 32, "sixteen answers to each of two questions");
    let body = server.stats().last_body().expect("the server saw requests");
    let sent: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(sent["temperature"].as_f64(), Some(0.8), "{body}");
    assert_eq!(sent["top_p"].as_f64(), Some(0.9), "{body}");
    assert!(!body.contains("0.80000001"), "{body}");
    // Every answer repeats the fixed instructions of the calls before it in its round.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let record = &manifest["runs"][0];
    let shared = record["shared_prefix_tokens"].as_u64().unwrap();
    let estimate = record["prompt_estimate_tokens"].as_u64().unwrap();
    assert!(shared > 0 && shared < estimate, "{record}");
}

/// The runs of an experiment in flight together write the tables they write one after
/// another: each run stays deterministic whatever the others do, and the queue order at
/// the call limit changes when calls are made, never what is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_in_flight_together_write_the_tables_of_runs_one_after_another() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = repo().join("scenarios/debate-two-sided.ron");
    let mut peaks = Vec::new();
    for (out, concurrency) in [("serial", "1"), ("together", "64")] {
        // A fresh server each time: the fake server varies repeated identical requests.
        let server = FakeServer::start(FakeConfig::default()).await.unwrap();
        let run = Command::new(env!("CARGO_BIN_EXE_agora"))
            .current_dir(dir.path())
            .args(["run", scenario.to_str().unwrap()])
            .args(["--model", "openai:gpt-4o-mini", "--replicates", "4"])
            .args([
                "--rounds",
                "3",
                "--cache",
                "off",
                "--concurrency",
                concurrency,
            ])
            .args(["--out", out, "--quiet"])
            .env("OPENAI_BASE_URL", server.base_url())
            .env("OPENAI_API_KEY", "sk-test-together")
            .env_remove("RUST_LOG")
            .output()
            .expect("the agora binary runs");
        assert!(run.status.success(), "{out}: {}", stderr(&run));
        peaks.push(
            server
                .stats()
                .peak_in_flight
                .load(std::sync::atomic::Ordering::SeqCst),
        );
    }
    // One run at a time keeps one call in flight; together, the four runs' opening
    // opinions (six each) overlap.
    assert_eq!(peaks[0], 1);
    assert!(peaks[1] > 6, "{peaks:?}");
    for table in ["messages", "opinions", "debate_metrics", "agents"] {
        for replicate in 0..4 {
            let serial = table_bytes(table_file(
                &dir.path().join("serial"),
                table,
                "base",
                replicate,
            ));
            let together = table_bytes(table_file(
                &dir.path().join("together"),
                table,
                "base",
                replicate,
            ));
            assert!(
                serial.unwrap() == together.unwrap(),
                "{table}, replicate {replicate}: the same bytes"
            );
        }
    }
}
