//! End to end against the fake OpenAI-compatible server: a survey run, a cached rerun,
//! replay, faults, budgets, the dry run, and no API key in any output.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::Ordering;

use agora_fake_openai::{FakeConfig, FakeServer, Faults};
use arrow_array::{Array, BooleanArray, RecordBatch, StringArray};
use common::*;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

const KEY: &str = "sk-test-e2e-73a1b9c4d2f0";

fn agora_with(cwd: &Path, server: &FakeServer, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_agora"))
        .current_dir(cwd)
        .args(args)
        .env("OPENAI_BASE_URL", server.base_url())
        .env("OPENAI_API_KEY", KEY)
        .env("AGORA_CACHE_DIR", cwd.join("cache"))
        .env_remove("RUST_LOG")
        .output()
        .expect("the agora binary runs")
}

/// All rows of a table's partition (every segment file) as one batch.
fn read(path: &Path) -> RecordBatch {
    let mut batches: Vec<RecordBatch> = Vec::new();
    for file in common::parts(path) {
        let file = std::fs::File::open(file).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        batches.extend(reader.map(Result::unwrap));
    }
    let schema = batches[0].schema();
    arrow_select::concat::concat_batches(&schema, &batches).unwrap()
}

fn strings<'a>(batch: &'a RecordBatch, column: &str) -> &'a StringArray {
    batch
        .column_by_name(column)
        .unwrap()
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap()
}

/// Every file below `dir` as text, for searching.
fn all_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_survey_runs_against_the_server_and_a_cached_rerun_is_exact_and_free() {
    let server = FakeServer::start(FakeConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(dir.path(), "s.ron", SMALL_SURVEY);
    let s = scenario.to_str().unwrap();
    let args = |out: &'static str| {
        vec![
            "-vv",
            "run",
            s,
            "--model",
            "openai:gpt-4o-mini",
            "--agents",
            "30",
            "--out",
            out,
        ]
    };
    let first = agora_with(dir.path(), &server, &args("a"));
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        stdout(&first).contains("model calls:"),
        "{}",
        stdout(&first)
    );
    let sent = server.stats().requests();
    assert_eq!(sent, 30 * 4, "one call per agent and item");
    let out = dir.path().join("a");
    assert_eq!(
        parquet_rows(&table_file(&out, "survey_responses", "base", 0)),
        120
    );
    let calls = read(&table_file(&out, "llm_calls", "base", 0));
    let decisions = strings(&calls, "decision");
    assert!(
        (0..decisions.len()).all(|i| decisions.value(i) == "valid"),
        "the fake server answers validly"
    );
    assert!(strings(&calls, "model").value(0) == "openai:gpt-4o-mini");

    // A rerun answers from the cache: no request, identical tables but for `cache_hit`.
    let second = agora_with(dir.path(), &server, &args("b"));
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(
        server.stats().requests(),
        sent,
        "the rerun made no model call"
    );
    let third = agora_with(dir.path(), &server, &args("c"));
    assert!(third.status.success(), "{}", stderr(&third));
    for table in [
        "agents",
        "events",
        "survey_responses",
        "population_marginals",
    ] {
        let a = table_bytes(table_file(&out, table, "base", 0)).unwrap();
        let b = table_bytes(table_file(&dir.path().join("b"), table, "base", 0)).unwrap();
        assert!(
            a == b,
            "{table} differs between the run and its cached rerun"
        );
    }
    let b_calls = read(&table_file(&dir.path().join("b"), "llm_calls", "base", 0));
    let hits = b_calls
        .column_by_name("cache_hit")
        .unwrap()
        .as_any()
        .downcast_ref::<BooleanArray>()
        .unwrap();
    assert_eq!(hits.true_count(), 120);
    for column in [
        "seed",
        "prompt_tokens",
        "completion_tokens",
        "latency_ms",
        "attempts",
        "cost_usd",
        "decision",
    ] {
        assert_eq!(
            calls.column_by_name(column).unwrap().to_data(),
            b_calls.column_by_name(column).unwrap().to_data(),
            "{column}"
        );
    }
    let b = table_bytes(table_file(&dir.path().join("b"), "llm_calls", "base", 0)).unwrap();
    let c = table_bytes(table_file(&dir.path().join("c"), "llm_calls", "base", 0)).unwrap();
    assert!(b == c, "two warm reruns give byte-identical llm_calls");

    // Replay never calls: with an empty cache it stops loudly.
    let empty = agora_with(
        dir.path(),
        &server,
        &[
            "run",
            s,
            "--model",
            "openai:gpt-4o-mini",
            "--agents",
            "30",
            "--out",
            "d",
            "--cache",
            "replay",
            "--cache-dir",
            "empty-cache",
        ],
    );
    assert_eq!(empty.status.code(), Some(1));
    assert!(stderr(&empty).contains("replay"), "{}", stderr(&empty));
    assert_eq!(server.stats().requests(), sent);

    // The key appears nowhere: not in output, logs, tables, manifests or the cache.
    for output in [&first, &second, &third, &empty] {
        assert!(!stdout(output).contains(KEY) && !stderr(output).contains(KEY));
    }
    for (path, bytes) in all_bytes(dir.path()) {
        assert!(
            !String::from_utf8_lossy(&bytes).contains(KEY),
            "the API key leaked into {path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_fifth_of_calls_failing_and_some_hanging_every_decision_is_accounted_for() {
    // A fifth of the calls fail (429, 500, malformed bodies, answers off the schema) and
    // 2% hang until the per-call timeout.
    let faults = Faults {
        rate_limited: 0.06,
        server_error: 0.06,
        malformed: 0.04,
        invalid_answer: 0.04,
        hang: 0.02,
    };
    let server = FakeServer::start(FakeConfig {
        faults,
        seed: 11,
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(dir.path(), "s.ron", SMALL_SURVEY);
    let run = agora_with(
        dir.path(),
        &server,
        &[
            "run",
            scenario.to_str().unwrap(),
            "--model",
            "openai:gpt-4o-mini",
            "--agents",
            "500",
            "--rounds",
            "1",
            "--out",
            "out",
            "--cache",
            "off",
            "--timeout",
            "1",
            "--concurrency",
            "64",
            "-q",
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(
        server.stats().faults.load(Ordering::SeqCst) > 80,
        "faults were injected"
    );
    let calls = read(&table_file(&dir.path().join("out"), "llm_calls", "base", 0));
    assert_eq!(calls.num_rows(), 500);
    let decisions = strings(&calls, "decision");
    let reasons = strings(&calls, "decision_reason");
    let mut counts = std::collections::HashMap::new();
    for i in 0..calls.num_rows() {
        let d = decisions.value(i);
        *counts.entry(d.to_string()).or_insert(0) += 1;
        assert!(["valid", "repaired", "fallback"].contains(&d), "{d}");
        assert_eq!(
            d == "valid",
            reasons.is_null(i),
            "row {i}: a reason goes with every repair and fallback"
        );
    }
    assert!(
        counts.get("repaired").copied().unwrap_or(0) > 0,
        "{counts:?}"
    );
    assert!(counts["valid"] > 400, "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_budget_sends_no_call_it_cannot_cover_and_the_dry_run_spends_nothing() {
    let server = FakeServer::start(FakeConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(dir.path(), "s.ron", SMALL_SURVEY);
    let s = scenario.to_str().unwrap();
    let dry = agora_with(
        dir.path(),
        &server,
        &[
            "run",
            s,
            "--model",
            "openai:gpt-4o-mini",
            "--agents",
            "1000",
            "--dry-run",
            "--out",
            "dry",
        ],
    );
    assert!(dry.status.success(), "{}", stderr(&dry));
    let table = stdout(&dry);
    assert!(
        table.contains("| base | openai:gpt-4o-mini | 1 | 4000 |"),
        "{table}"
    );
    assert!(table.contains('$'), "{table}");
    assert_eq!(server.stats().requests(), 0);
    assert!(!dir.path().join("dry").exists());

    // A call reserves its prompt plus `max_tokens` of answer: 100 tokens cover none,
    // so nothing is sent and nothing is paid.
    let run = agora_with(
        dir.path(),
        &server,
        &[
            "run",
            s,
            "--model",
            "openai:gpt-4o-mini",
            "--agents",
            "20",
            "--max-tokens",
            "100",
            "--out",
            "out",
            "--cache",
            "off",
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["status"], "budget_exhausted");
    assert!(
        manifest["reason"]
            .as_str()
            .unwrap()
            .contains("token budget (100) cannot cover this call"),
        "{manifest}"
    );
    assert_eq!(
        server.stats().requests(),
        0,
        "no call the budget cannot cover is sent"
    );

    // A budget that covers the first round: the round is completed and paid within it.
    let run = agora_with(
        dir.path(),
        &server,
        &[
            "run",
            s,
            "--model",
            "openai:gpt-4o-mini",
            "--agents",
            "20",
            "--max-tokens",
            "12000",
            "--out",
            "out2",
            "--cache",
            "off",
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out2/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["status"], "budget_exhausted", "{manifest}");
    let sealed = parquet_rows(&table_file(
        &dir.path().join("out2"),
        "survey_responses",
        "base",
        0,
    ));
    assert!(
        sealed >= 20 && sealed % 20 == 0,
        "whole rounds only: {sealed}"
    );
}
