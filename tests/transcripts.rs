//! `agora run --record-prompts`: every call's messages and the model's completion in
//! the `transcripts` table, on the rule-based backend and against the fake server;
//! off by default, never holding the API key, identical when replayed from the cache.

mod common;

use std::path::Path;
use std::process::Command;

use agora_fake_openai::{FakeConfig, FakeServer};
use common::*;

const KEY: &str = "sk-test-transcripts-secret";

fn run_fake(dir: &Path, server: &FakeServer, out: &Path, extra: &[&str]) {
    let scenario = repo().join("scenarios/consumer-survey.ron");
    let mut args = vec![
        "run",
        scenario.to_str().unwrap(),
        "--model",
        "openai:gpt-4o-mini",
        "--agents",
        "12",
        "--replicates",
        "1",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
        "--cache-dir",
        "cache",
    ];
    args.extend_from_slice(extra);
    let run = Command::new(env!("CARGO_BIN_EXE_agora"))
        .current_dir(dir)
        .args(&args)
        .env("OPENAI_BASE_URL", server.base_url())
        .env("OPENAI_API_KEY", KEY)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", stderr(&run));
}

/// Every file below `dir`, as bytes.
fn all_bytes(dir: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(all_bytes(&path));
        } else {
            out.extend(std::fs::read(&path).unwrap());
        }
    }
    out
}

#[test]
fn transcripts_are_off_by_default_and_hold_each_rule_based_answer_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    run_with_rules(dir.path(), "consumer-survey", "plain", &["--agents", "20"]);
    assert!(!dir.path().join("plain/transcripts").exists());

    run_with_rules(
        dir.path(),
        "consumer-survey",
        "recorded",
        &["--agents", "20", "--record-prompts"],
    );
    let out = dir.path().join("recorded");
    for rep in 0..2 {
        let transcripts = table_file(&out, "transcripts", "base", rep);
        let calls = table_file(&out, "llm_calls", "base", rep);
        let decided = text_column(&calls, "decision")
            .iter()
            .filter(|d| d.as_deref() != Some("declined"))
            .count() as i64;
        assert!(decided > 0);
        assert_eq!(parquet_rows(&transcripts), decided, "one row per call made");
        // Rule-based agents read typed facts, not messages, and write no text.
        assert!(
            text_column(&transcripts, "messages")
                .iter()
                .all(|m| m.as_deref() == Some("[]"))
        );
        assert!(
            text_column(&transcripts, "completion")
                .iter()
                .all(Option::is_none)
        );
        let answers = text_column(&transcripts, "answer");
        assert!(answers.iter().all(|a| {
            a.as_deref()
                .is_some_and(|a| serde_json::from_str::<serde_json::Value>(a).is_ok())
        }));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn transcripts_hold_what_the_server_read_and_wrote_never_the_key_and_replay_identically() {
    let server = FakeServer::start(FakeConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first");
    run_fake(dir.path(), &server, &first, &["--record-prompts"]);
    let requests = server.stats().requests() as i64;
    let transcripts = table_file(&first, "transcripts", "base", 0);
    assert_eq!(parquet_rows(&transcripts), requests, "one row per request");

    let messages = text_column(&transcripts, "messages");
    let completions = text_column(&transcripts, "completion");
    let answers = text_column(&transcripts, "answer");
    let names: Vec<String> = text_column(&table_file(&first, "agents", "base", 0), "name")
        .into_iter()
        .flatten()
        .collect();
    for ((messages, completion), answer) in messages.iter().zip(&completions).zip(&answers) {
        let messages: Vec<serde_json::Value> =
            serde_json::from_str(messages.as_deref().unwrap()).unwrap();
        assert_eq!(messages[0]["role"], "system");
        assert!(messages.iter().any(|m| m["role"] == "user"));
        let text = serde_json::to_string(&messages).unwrap();
        assert!(
            names.iter().any(|name| text.contains(name.as_str())),
            "the persona card is in the prompt: {text}"
        );
        // The completion as the server wrote it parses to the recorded answer.
        let completion: serde_json::Value =
            serde_json::from_str(completion.as_deref().unwrap()).unwrap();
        let answer: serde_json::Value = serde_json::from_str(answer.as_deref().unwrap()).unwrap();
        assert_eq!(completion, answer);
    }
    let bytes = all_bytes(&first);
    assert!(
        !bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()),
        "the API key is never written"
    );

    // The same scenario, seed and cache give the same transcripts, from the cache.
    let second = dir.path().join("second");
    run_fake(dir.path(), &server, &second, &["--record-prompts"]);
    assert_eq!(
        server.stats().requests() as i64,
        requests,
        "all from the cache"
    );
    assert_eq!(
        table_bytes(table_file(&second, "transcripts", "base", 0)).unwrap(),
        table_bytes(&transcripts).unwrap()
    );
}
