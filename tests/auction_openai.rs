//! End to end against the fake OpenAI-compatible server: the house auction with a model
//! that reads every prompt and answers over HTTP.

mod common;

use std::process::Command;

use agora_fake_openai::{FakeConfig, FakeServer};
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_house_auction_runs_against_the_fake_server() {
    let server = FakeServer::start(FakeConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let scenario = repo().join("scenarios/house-auction.ron");
    let run = Command::new(env!("CARGO_BIN_EXE_agora"))
        .current_dir(dir.path())
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--model",
            "openai:gpt-4o-mini",
        ])
        .args(["--replicates", "1", "--out", "out", "--quiet"])
        .env("OPENAI_BASE_URL", server.base_url())
        .env("OPENAI_API_KEY", "sk-test-auction")
        .env("AGORA_CACHE_DIR", dir.path().join("cache"))
        .env_remove("RUST_LOG")
        .output()
        .expect("the agora binary runs");
    assert!(run.status.success(), "{}", stderr(&run));
    // Four houses, eight buyers, one sealed bid each: 32 calls.
    assert_eq!(server.stats().requests(), 32);
    let out = dir.path().join("out");
    let rows = |table: &str| parquet_rows(&table_file(&out, table, "base", 0));
    assert_eq!(rows("bids"), 32);
    assert_eq!(rows("llm_calls"), 32);
    assert_eq!(rows("auction_outcomes"), 4);
    assert_eq!(rows("auction_bidders"), 8);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["status"], "complete");
    assert_eq!(manifest["runs"][0]["model"], "openai:gpt-4o-mini");
    assert_eq!(manifest["runs"][0]["stop_reason"], "lots_complete");
    // The server's schema-shaped answers are checked by the auction's rules: a bid below
    // a house's reserve is a recorded fallback, never a crash.
    assert!(manifest["runs"][0]["prompt_tokens"].as_u64().unwrap() > 0);
}
