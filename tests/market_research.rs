//! End to end: the market-research scenarios (conjoint, MaxDiff, price and concept
//! tests) on the
//! rule-based backend and against the fake OpenAI-compatible server.

mod common;

use std::process::Command;

use agora_fake_openai::{FakeConfig, FakeServer};
use common::*;

fn manifest(out: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap()
}

#[test]
fn the_conjoint_study_writes_choices_and_estimates_per_segment() {
    let dir = tempfile::tempdir().unwrap();
    run_with_rules(dir.path(), "conjoint-meal-kit", "c", &[]);
    let out = dir.path().join("c");
    let m = manifest(&out);
    assert_eq!(m["status"], "complete");
    assert_eq!(m["mechanism"], "conjoint");
    for rep in 0..2 {
        let rows = |t: &str| parquet_rows(&table_file(&out, t, "base", rep));
        // 600 respondents x 10 tasks x (3 profiles + none).
        assert_eq!(rows("conjoint_choices"), 600 * 10 * 4);
        assert_eq!(rows("llm_calls"), 6000);
        // Per segment (all + 3 households): fit, 10 part-worths, 4 importances, 8 WTP, 4 shares.
        assert_eq!(rows("conjoint_estimates"), 4 * (1 + 10 + 4 + 8 + 4));
        assert_eq!(m["runs"][rep as usize]["fallbacks"], 0);
        assert_eq!(m["runs"][rep as usize]["stop_reason"], "tasks_complete");
    }
    let estimates = table_file(&out, "conjoint_estimates", "base", 0);
    let segments = text_column(&estimates, "segment");
    for s in [
        "all",
        "household=single",
        "household=couple",
        "household=family",
    ] {
        assert!(segments.iter().any(|x| x.as_deref() == Some(s)), "{s}");
    }
    let kinds = text_column(&estimates, "kind");
    for k in ["fit", "part_worth", "importance", "wtp", "share"] {
        assert!(kinds.iter().any(|x| x.as_deref() == Some(k)), "{k}");
    }
    // Same seed, same bytes.
    run_with_rules(dir.path(), "conjoint-meal-kit", "d", &[]);
    for table in ["conjoint_choices", "conjoint_estimates", "llm_calls"] {
        let read =
            |o: &str| table_bytes(table_file(&dir.path().join(o), table, "base", 1)).unwrap();
        assert!(
            read("c") == read("d"),
            "{table} differs between identical runs"
        );
    }
}

#[test]
fn the_maxdiff_and_price_studies_write_their_tables() {
    let dir = tempfile::tempdir().unwrap();
    run_with_rules(dir.path(), "maxdiff-meal-kit", "m", &[]);
    let out = dir.path().join("m");
    let rows = |t: &str| parquet_rows(&table_file(&out, t, "base", 0));
    assert_eq!(rows("maxdiff_answers"), 400 * 8);
    // Ten items, overall and for three households.
    assert_eq!(rows("maxdiff_scores"), 10 * 4);
    assert_eq!(manifest(&out)["runs"][0]["fallbacks"], 0);

    run_with_rules(dir.path(), "price-test-meal-kit", "p", &[]);
    let out = dir.path().join("p");
    let rows = |t: &str| parquet_rows(&table_file(&out, t, "base", 0));
    let m = manifest(&out);
    assert_eq!(m["runs"][0]["stop_reason"], "price_test_complete");
    // Four Van Westendorp answers per respondent, then one per rung of each walk.
    assert_eq!(rows("price_answers"), rows("llm_calls") + 3 * 800);
    let names = text_column(&table_file(&out, "price_sensitivity", "base", 0), "name");
    for n in [
        "pmc",
        "pme",
        "opp",
        "ipp",
        "revenue_max",
        "demand",
        "too_cheap",
    ] {
        assert!(names.iter().any(|x| x.as_deref() == Some(n)), "{n}");
    }
}

#[test]
fn the_concept_test_records_direct_and_ssr_purchase_intent_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    run_with_rules(dir.path(), "concept-test-meal-kit", "c", &[]);
    let out = dir.path().join("c");
    let rows = |t: &str| parquet_rows(&table_file(&out, t, "base", 1));
    // Sequential monadic: 300 respondents rate 3 concepts, then one forced choice.
    assert_eq!(rows("concept_ratings"), 900);
    assert_eq!(rows("concept_choices"), 300);
    // Five measures, SSR and forced choice for each of 3 concepts.
    assert_eq!(rows("concept_summary"), 3 * 7);
    let ratings = table_file(&out, "concept_ratings", "base", 1);
    assert!(
        text_column(&ratings, "embedding")
            .iter()
            .all(|e| e.as_deref() == Some("lexical-256"))
    );
    assert!(
        text_column(&ratings, "intent_text")
            .iter()
            .all(Option::is_some)
    );
    let shown = text_column(
        &table_file(&out, "concept_choices", "base", 1),
        "shown_order",
    );
    let distinct: std::collections::BTreeSet<_> = shown.iter().collect();
    assert!(
        distinct.len() > 1,
        "blind orders differ between respondents"
    );
    run_with_rules(dir.path(), "concept-test-meal-kit", "d", &[]);
    for table in ["concept_ratings", "concept_choices", "concept_summary"] {
        let read =
            |o: &str| table_bytes(table_file(&dir.path().join(o), table, "base", 0)).unwrap();
        assert!(
            read("c") == read("d"),
            "{table} differs between identical runs"
        );
    }
}

#[test]
fn an_invalid_conjoint_study_is_refused_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo().join("scenarios/conjoint-meal-kit.ron"))
        .unwrap()
        .replace("(\"brand=HomeCook\", -0.20)", "(\"brand=Homecook\", -0.20)");
    let scenario = write_scenario(dir.path(), "c.ron", &text);
    let run = agora(
        dir.path(),
        &[
            "run",
            scenario.to_str().unwrap(),
            "--model",
            "rules",
            "--quiet",
        ],
    );
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    let err = stderr(&run);
    assert!(err.contains("c.ron:"), "{err}");
    assert!(
        err.contains("brand=Homecook") && err.contains("brand=HomeCook"),
        "{err}"
    );
    assert!(!dir.path().join("runs").exists(), "nothing is written");

    let text = std::fs::read_to_string(repo().join("scenarios/maxdiff-meal-kit.ron"))
        .unwrap()
        .replace("segments: [\"household\"]", "segments: [\"age\"]");
    let scenario = write_scenario(dir.path(), "m.ron", &text);
    let run = agora(dir.path(), &["validate", scenario.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    let err = stderr(&run);
    assert!(
        err.contains("m.ron:") && err.contains("segment \"age\""),
        "{err}"
    );
    assert!(err.contains("use one of: household"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_market_research_studies_run_against_the_fake_server() {
    let server = FakeServer::start(FakeConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (name, tables) in [
        (
            "conjoint-meal-kit",
            ["conjoint_choices", "conjoint_estimates"],
        ),
        ("maxdiff-meal-kit", ["maxdiff_answers", "maxdiff_scores"]),
        (
            "price-test-meal-kit",
            ["price_answers", "price_sensitivity"],
        ),
        (
            "concept-test-meal-kit",
            ["concept_ratings", "concept_summary"],
        ),
    ] {
        let scenario = repo().join(format!("scenarios/{name}.ron"));
        let run = Command::new(env!("CARGO_BIN_EXE_agora"))
            .current_dir(dir.path())
            .args([
                "run",
                scenario.to_str().unwrap(),
                "--model",
                "openai:gpt-4o-mini",
            ])
            .args([
                "--agents",
                "20",
                "--replicates",
                "1",
                "--out",
                name,
                "--quiet",
            ])
            .env("OPENAI_BASE_URL", server.base_url())
            .env("OPENAI_API_KEY", "sk-test-market")
            .env("AGORA_CACHE_DIR", dir.path().join("cache"))
            .env_remove("RUST_LOG")
            .output()
            .expect("the agora binary runs");
        assert!(run.status.success(), "{name}: {}", stderr(&run));
        let out = dir.path().join(name);
        let m = manifest(&out);
        assert_eq!(m["status"], "complete", "{name}");
        assert!(
            m["runs"][0]["prompt_tokens"].as_u64().unwrap() > 0,
            "{name}"
        );
        for t in tables {
            assert!(
                parquet_rows(&table_file(&out, t, "base", 0)) > 0,
                "{name}: {t}"
            );
        }
    }
    // Conjoint: 20 respondents x 10 tasks, one call each, every answer from the enum.
    let out = dir.path().join("conjoint-meal-kit");
    assert_eq!(parquet_rows(&table_file(&out, "llm_calls", "base", 0)), 200);
    assert_eq!(manifest(&out)["runs"][0]["fallbacks"], 0);
}
