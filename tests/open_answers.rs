//! End to end: open-answer coding after a run (rule-based keywords and the fake
//! server's model coder), and the concept test's SSR on the fake server's embeddings.

mod common;

use std::path::Path;
use std::process::Command;

use agora_fake_openai::{FakeConfig, FakeServer};
use common::*;
use parquet::record::Field;

const SCENARIO: &str = "open-answers-meal-kit";

fn u32_of(row: &Row, column: &str) -> Option<u32> {
    match row.get(column) {
        Some(Field::UInt(x)) => Some(*x),
        Some(Field::Null) | None => None,
        other => panic!("{column}: {other:?}"),
    }
}

/// Rows of an experiment-wide table.
fn experiment_rows(out: &Path, table: &str) -> Vec<Row> {
    rows(&out.join(table).join("part-00000.parquet"))
}

#[test]
fn rule_based_answers_are_coded_by_keywords_with_shares_per_arm_and_segment() {
    let dir = tempfile::tempdir().unwrap();
    run_with_rules(dir.path(), SCENARIO, "a", &["--agents", "120"]);
    let out = dir.path().join("a");

    // Every valid answer of `why` gets one row per code (6), of `improve` one per
    // derived code; rule-based answers are all valid.
    let books = experiment_rows(&out, "codebooks");
    let why_codes = books.iter().filter(|r| text(r, "source") == "why").count();
    let improve: Vec<&Row> = books
        .iter()
        .filter(|r| text(r, "source") == "improve")
        .collect();
    assert_eq!(why_codes, 6);
    assert!(!improve.is_empty() && improve.len() <= 6);
    assert!(
        improve
            .iter()
            .all(|r| text(r, "origin") == "derived from frequent words"),
        "{improve:?}"
    );
    let answers = table_file(&out, "coded_answers", "standard", 0);
    assert_eq!(
        parquet_rows(&answers) as usize,
        120 * (why_codes + improve.len())
    );
    let coded = rows(&parts(&answers)[0]);
    assert!(coded.iter().all(|r| text(r, "coder") == "keywords"));
    assert!(coded.iter().all(|r| text(r, "status") == "valid"));
    // A rule-based answer says how it leans: exactly one of positive, mixed, negative.
    let mut per_answer = std::collections::BTreeMap::new();
    for r in coded.iter().filter(|r| text(r, "source") == "why") {
        let lean =
            ["why:positive", "why:mixed", "why:negative"].contains(&text(r, "theme").as_str());
        if lean {
            *per_answer.entry(u32_of(r, "answer")).or_insert(0) += u32_of(r, "applies").unwrap();
        }
    }
    assert_eq!(per_answer.len(), 120);
    assert!(per_answer.values().all(|&n| n == 1), "{per_answer:?}");

    // Theme shares: both arms, everyone and each household, intervals around shares.
    let shares = experiment_rows(&out, "theme_shares");
    let share = |arm: &str, theme: &str, segment: &str| {
        shares
            .iter()
            .find(|r| {
                text(r, "arm") == arm && text(r, "theme") == theme && text(r, "segment") == segment
            })
            .unwrap_or_else(|| panic!("{arm} {theme} {segment}"))
            .clone()
    };
    let standard = share("standard", "why:positive", "all");
    let discount = share("discount", "why:positive", "all");
    assert!(
        number(&discount, "share") > number(&standard, "share") + 0.1,
        "the discount's planted lean shows: {} vs {}",
        number(&discount, "share"),
        number(&standard, "share")
    );
    for r in [&standard, &discount] {
        assert!(
            number(r, "ci_low") <= number(r, "share") && number(r, "share") <= number(r, "ci_high")
        );
        assert!(text(r, "method").contains("2 replicates"), "{r:?}");
    }
    for household in ["single", "couple", "family"] {
        share("discount", "why:price", &format!("household={household}"));
    }
    // The same shares are outcomes of `stats`, with the difference from the control.
    let stats = experiment_rows(&out, "stats");
    let diff = stats
        .iter()
        .find(|r| {
            text(r, "outcome") == "why:positive"
                && text(r, "arm") == "discount"
                && text(r, "kind") == "difference"
                && text(r, "segment") == "all"
        })
        .expect("a paired difference of the theme share");
    assert!(number(diff, "estimate") > 0.1);
    assert!(
        experiment_rows(&out, "coding_calls").is_empty(),
        "keywords call no model"
    );
    let report = agora(dir.path(), &["report", out.to_str().unwrap()]);
    assert!(report.status.success(), "{}", stderr(&report));
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        page.contains("Coded answers") && page.contains("Themes of"),
        "a report section"
    );
    assert!(page.contains("Leans towards ordering (why:positive)"));

    // The same scenario and seed code the same way, byte for byte.
    run_with_rules(dir.path(), SCENARIO, "b", &["--agents", "120"]);
    let again = dir.path().join("b");
    for table in ["codebooks", "theme_shares"] {
        assert_eq!(
            std::fs::read(out.join(table).join("part-00000.parquet")).unwrap(),
            std::fs::read(again.join(table).join("part-00000.parquet")).unwrap(),
            "{table}"
        );
    }
    assert_eq!(
        table_bytes(table_file(&out, "coded_answers", "discount", 1)).unwrap(),
        table_bytes(table_file(&again, "coded_answers", "discount", 1)).unwrap()
    );
}

#[test]
fn a_source_the_mechanism_does_not_record_is_refused_at_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo().join(format!("scenarios/{SCENARIO}.ron")))
        .unwrap()
        .replace("(source: \"improve\"", "(source: \"improvement\"");
    let scenario = write_scenario(dir.path(), "o.ron", &text);
    let run = agora(dir.path(), &["validate", scenario.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    let err = stderr(&run);
    let line = text
        .lines()
        .position(|l| l.contains("\"improvement\""))
        .unwrap()
        + 1;
    assert!(err.contains(&format!("o.ron:{line}:")), "{err}");
    assert!(err.contains("source \"improvement\""), "{err}");
    assert!(
        err.contains("\"why\"") && err.contains("\"improve\""),
        "{err}"
    );

    let bad = text.replace("(id: \"time\"", "(id: \"Time\"");
    let scenario = write_scenario(dir.path(), "p.ron", &bad);
    let run = agora(dir.path(), &["validate", scenario.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    assert!(stderr(&run).contains("lower-case"), "{}", stderr(&run));
}

fn run_on(server: &FakeServer, cwd: &Path, scenario: &Path, out: &str, agents: &str) -> String {
    let run = Command::new(env!("CARGO_BIN_EXE_agora"))
        .current_dir(cwd)
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--model",
            "openai:gpt-4o-mini",
        ])
        .args(["--agents", agents, "--replicates", "1", "--out", out])
        .env("OPENAI_BASE_URL", server.base_url())
        .env("OPENAI_API_KEY", "sk-test-coding")
        .env("AGORA_CACHE_DIR", cwd.join("cache"))
        .env_remove("RUST_LOG")
        .output()
        .expect("the agora binary runs");
    assert!(run.status.success(), "{out}: {}", stderr(&run));
    stdout(&run)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_codes_the_answers_through_the_gateway_and_its_calls_are_recorded() {
    let server = FakeServer::start(FakeConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let scenario = repo().join(format!("scenarios/{SCENARIO}.ron"));
    let summary = run_on(&server, dir.path(), &scenario, "m", "12");
    assert!(summary.contains("coded answers"), "{summary}");
    let out = dir.path().join("m");
    let calls = experiment_rows(&out, "coding_calls");
    // One derivation (improve), then one call per answer of each source: 2 arms x 12.
    let derive = calls
        .iter()
        .filter(|r| text(r, "task") == "coding.derive")
        .count();
    let code = calls
        .iter()
        .filter(|r| text(r, "task") == "coding.code")
        .count();
    assert_eq!(derive, 1);
    assert_eq!(code, 2 * 12 * 2);
    assert!(
        calls
            .iter()
            .all(|r| text(r, "model") == "openai:gpt-4o-mini")
    );
    assert!(
        calls
            .iter()
            .any(|r| matches!(r.get("prompt_tokens"), Some(Field::UInt(n)) if *n > 0))
    );
    let books = experiment_rows(&out, "codebooks");
    assert!(
        books
            .iter()
            .any(|r| text(r, "origin") == "derived by openai:gpt-4o-mini"),
        "{books:?}"
    );
    // The fake server picks codes from the schema's enum: every answer is coded.
    let coded = rows(&parts(&table_file(&out, "coded_answers", "standard", 0))[0]);
    assert!(coded.iter().all(|r| text(r, "status") == "valid"));
    assert!(coded.iter().any(|r| u32_of(r, "applies") == Some(1)));

    // A rerun answers every coding call from the call cache.
    run_on(&server, dir.path(), &scenario, "m2", "12");
    let again = experiment_rows(&dir.path().join("m2"), "coding_calls");
    assert_eq!(again.len(), calls.len());
    assert!(
        again
            .iter()
            .all(|r| matches!(r.get("cache_hit"), Some(Field::Bool(true))))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_concept_tests_ssr_uses_the_servers_embeddings() {
    let server = FakeServer::start(FakeConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let source = std::fs::read_to_string(repo().join("scenarios/concept-test-meal-kit.ron"))
        .unwrap()
        .replace("text-embedding-3-small", "text-embedding-test");
    assert!(source.contains("embedding_model: \"text-embedding-test\""));
    let scenario = write_scenario(dir.path(), "c.ron", &source);
    run_on(&server, dir.path(), &scenario, "c", "8");
    let out = dir.path().join("c");
    let ratings: Vec<Row> = parts(&table_file(&out, "concept_ratings", "base", 0))
        .iter()
        .flat_map(|f| rows(f))
        .collect();
    assert!(!ratings.is_empty());
    let valid: Vec<&Row> = ratings
        .iter()
        .filter(|r| text(r, "status") == "valid")
        .collect();
    assert!(!valid.is_empty());
    for r in &valid {
        assert_eq!(text(r, "embedding"), "text-embedding-test");
        let p: f64 = (1..=5).map(|k| number(r, &format!("ssr_p{k}"))).sum();
        assert!((p - 1.0).abs() < 1e-9, "{r:?}");
    }
    let tasks = text_column(&table_file(&out, "llm_calls", "base", 0), "task");
    let embeds = tasks
        .iter()
        .filter(|t| t.as_deref() == Some("concept.embed"))
        .count();
    let rounds = 3; // sequential monadic over three concepts
    // Per rating round: one call for the anchors, one per valid rating.
    assert_eq!(embeds, rounds + valid.len(), "{tasks:?}");
    assert!(server.stats().requests() as usize >= embeds);
}
