//! End to end: every shipped auction scenario on the rule-based backend.

mod common;

use common::*;

/// (scenario, lots, bidders)
const SCENARIOS: [(&str, i64, i64); 5] = [
    ("auction-first-price", 5, 4),
    ("auction-second-price", 5, 4),
    ("auction-english", 5, 4),
    ("auction-dutch", 5, 4),
    ("house-auction", 4, 8),
];

#[test]
fn every_auction_scenario_runs_and_writes_consistent_tables() {
    let dir = tempfile::tempdir().unwrap();
    for (name, lots, bidders) in SCENARIOS {
        run_with_rules(dir.path(), name, name, &[]);
        let out = dir.path().join(name);
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(manifest["status"], "complete", "{name}");
        assert_eq!(manifest["mechanism"], "auction", "{name}");
        for rep in 0..2 {
            let rows = |table: &str| parquet_rows(&table_file(&out, table, "base", rep));
            assert_eq!(rows("agents"), bidders, "{name}");
            assert_eq!(rows("auction_outcomes"), lots, "{name}: one row per lot");
            assert_eq!(
                rows("auction_bidders"),
                bidders,
                "{name}: one row per bidder"
            );
            assert_eq!(
                rows("bids"),
                rows("llm_calls"),
                "{name}: one bids row per decision"
            );
            assert!(
                rows("bids") >= lots * bidders,
                "{name}: every bidder decides on every lot"
            );
            assert!(rows("events") > rows("auction_outcomes"), "{name}");
            let run = &manifest["runs"][rep as usize];
            assert_eq!(run["fallbacks"], 0, "{name}: rule bidders are always valid");
            assert_eq!(run["stop_reason"], "lots_complete", "{name}");
            assert_eq!(run["rounds"], lots, "{name}: one round per lot");
        }
    }
}

#[test]
fn the_house_auction_is_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    run_with_rules(dir.path(), "house-auction", "a", &["--seed", "3"]);
    run_with_rules(dir.path(), "house-auction", "b", &["--seed", "3"]);
    for table in ["bids", "auction_outcomes", "auction_bidders", "events"] {
        let read =
            |out: &str| table_bytes(table_file(&dir.path().join(out), table, "base", 1)).unwrap();
        assert!(
            read("a") == read("b"),
            "{table} differs between identical runs"
        );
    }
}

#[test]
fn an_invalid_auction_is_refused_with_its_position_and_a_fix() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo().join("scenarios/auction-dutch.ron"))
        .unwrap()
        .replace("        start_price: 1000.0,\n", "");
    let scenario = write_scenario(dir.path(), "dutch.ron", &text);
    let run = agora(
        dir.path(),
        &[
            "run",
            scenario.to_str().unwrap(),
            "--model",
            "rules",
            "--out",
            "out",
        ],
    );
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    let err = stderr(&run);
    assert!(err.contains("dutch.ron:"), "{err}");
    assert!(err.contains("needs a start_price"), "{err}");
    assert!(err.contains("help: give the lot"), "{err}");
    assert!(!dir.path().join("out").exists());
    let valid = agora(
        dir.path(),
        &[
            "validate",
            repo().join("scenarios/house-auction.ron").to_str().unwrap(),
        ],
    );
    assert!(valid.status.success(), "{}", stderr(&valid));
    assert!(
        stdout(&valid).contains("auction mechanism"),
        "{}",
        stdout(&valid)
    );
}
