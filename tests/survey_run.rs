//! End to end: the survey scenario on the rule-based backend.

mod common;

use common::*;

const TABLES: [&str; 5] = [
    "agents",
    "events",
    "llm_calls",
    "population_marginals",
    "survey_responses",
];

#[test]
fn the_shipped_survey_writes_every_table_with_matching_row_counts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let scenario = repo().join("scenarios/consumer-survey.ron");
    let run = agora(
        dir.path(),
        &[
            "run",
            scenario.to_str().unwrap(),
            "--model",
            "rules",
            "--agents",
            "3000",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let summary = stdout(&run);
    assert!(summary.contains("30000 decisions"), "{summary}");
    assert!(summary.contains("population vs targets"), "{summary}");
    let items = 10;
    assert_eq!(parquet_rows(&table_file(&out, "agents", "base", 0)), 3000);
    assert_eq!(
        parquet_rows(&table_file(&out, "survey_responses", "base", 0)),
        3000 * items
    );
    assert_eq!(
        parquet_rows(&table_file(&out, "llm_calls", "base", 0)),
        3000 * items
    );
    assert_eq!(
        parquet_rows(&table_file(&out, "events", "base", 0)),
        3000 * items
    );
    assert!(parquet_rows(&table_file(&out, "population_marginals", "base", 0)) > 10);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["status"], "complete");
    assert_eq!(manifest["runs"][0]["decisions"], 30000);
    assert_eq!(manifest["runs"][0]["model"], "rules");
    assert_eq!(manifest["runs"][0]["tables"]["survey_responses"], 30000);
    assert_eq!(manifest["scenario_hash"].as_str().unwrap().len(), 64);
    // Every answer's event says, as JSON, the item and the answer its response row holds.
    let responses: Vec<Row> = parts(&table_file(&out, "survey_responses", "base", 0))
        .iter()
        .flat_map(|f| rows(f))
        .collect();
    let payloads = text_column(&table_file(&out, "events", "base", 0), "payload");
    assert_eq!(payloads.len(), responses.len());
    for (payload, response) in payloads.iter().zip(&responses) {
        let payload = payload.as_deref().unwrap_or_default();
        let event: serde_json::Value =
            serde_json::from_str(payload).unwrap_or_else(|e| panic!("{payload}: {e}"));
        assert_eq!(event["item"], text(response, "item_id"), "{payload}");
        match &event["answer"] {
            serde_json::Value::Number(x) => {
                assert_eq!(
                    x.as_f64(),
                    Some(number(response, "answer_value")),
                    "{payload}"
                )
            }
            serde_json::Value::String(label) => {
                assert_eq!(label, &text(response, "answer_label"), "{payload}")
            }
            other => panic!("{payload}: {other}"),
        }
    }
}

#[test]
fn the_same_seed_gives_byte_identical_tables_and_another_seed_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(dir.path(), "s.ron", SMALL_SURVEY);
    let run = |out: &str, seed: &str| {
        let r = agora(
            dir.path(),
            &[
                "run",
                scenario.to_str().unwrap(),
                "--model",
                "rules",
                "--agents",
                "400",
                "--seed",
                seed,
                "--out",
                out,
            ],
        );
        assert!(r.status.success(), "{}", stderr(&r));
    };
    run("a", "11");
    run("b", "11");
    run("c", "12");
    for table in TABLES {
        let a = table_bytes(table_file(&dir.path().join("a"), table, "base", 0)).unwrap();
        let b = table_bytes(table_file(&dir.path().join("b"), table, "base", 0)).unwrap();
        assert!(
            a == b,
            "table {table} differs between two runs with the same seed"
        );
    }
    let a = table_bytes(table_file(
        &dir.path().join("a"),
        "survey_responses",
        "base",
        0,
    ))
    .unwrap();
    let c = table_bytes(table_file(
        &dir.path().join("c"),
        "survey_responses",
        "base",
        0,
    ))
    .unwrap();
    assert_ne!(a, c, "a different seed should give different answers");
}

#[test]
fn replicates_and_arms_write_hive_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let text = SMALL_SURVEY.replace(
        "    population: (",
        "    arms: [(name: \"baseline\", model: \"rules\"), (name: \"second\")],\n    population: (",
    );
    let scenario = write_scenario(dir.path(), "arms.ron", &text);
    let r = agora(
        dir.path(),
        &[
            "run",
            scenario.to_str().unwrap(),
            "--model",
            "rules",
            "--replicates",
            "2",
            "--out",
            "out",
        ],
    );
    assert!(r.status.success(), "{}", stderr(&r));
    let out = dir.path().join("out");
    for arm in ["baseline", "second"] {
        for rep in 0..2 {
            assert_eq!(
                parquet_rows(&table_file(&out, "survey_responses", arm, rep)),
                50 * 4
            );
        }
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["runs"].as_array().unwrap().len(), 4);
    // Arms of one replicate share their population (paired comparisons).
    let a = table_bytes(table_file(&out, "agents", "baseline", 1)).unwrap();
    let b = table_bytes(table_file(&out, "agents", "second", 1)).unwrap();
    assert_ne!(a, b, "run ids differ, so the files differ");
    let ids: Vec<&str> = manifest["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), 4, "every run has its own id: {ids:?}");
}

#[test]
fn an_earlier_result_is_never_overwritten_without_asking() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(dir.path(), "s.ron", SMALL_SURVEY);
    let first = agora(
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
    assert!(first.status.success(), "{}", stderr(&first));
    let before = std::fs::read(dir.path().join("out/manifest.json")).unwrap();
    let second = agora(
        dir.path(),
        &[
            "run",
            scenario.to_str().unwrap(),
            "--model",
            "rules",
            "--out",
            "out",
            "--seed",
            "99",
        ],
    );
    assert!(!second.status.success());
    assert!(
        stderr(&second).contains("--overwrite"),
        "{}",
        stderr(&second)
    );
    assert_eq!(
        std::fs::read(dir.path().join("out/manifest.json")).unwrap(),
        before
    );
    let third = agora(
        dir.path(),
        &[
            "run",
            scenario.to_str().unwrap(),
            "--model",
            "rules",
            "--out",
            "out",
            "--seed",
            "99",
            "--overwrite",
            "-q",
        ],
    );
    assert!(third.status.success(), "{}", stderr(&third));
    assert!(
        stdout(&third).is_empty(),
        "quiet prints nothing: {}",
        stdout(&third)
    );
    assert_ne!(
        std::fs::read(dir.path().join("out/manifest.json")).unwrap(),
        before
    );
}

#[test]
fn validate_and_help_explain_themselves() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = repo().join("scenarios/consumer-survey.ron");
    let v = agora(dir.path(), &["validate", scenario.to_str().unwrap()]);
    assert!(v.status.success(), "{}", stderr(&v));
    assert!(stdout(&v).contains("valid"), "{}", stdout(&v));
    assert!(!dir.path().join("runs").exists(), "validate writes nothing");
    let help = agora(dir.path(), &["--help"]);
    assert!(stdout(&help).contains("Examples:"), "{}", stdout(&help));
    let run_help = agora(dir.path(), &["run", "--help"]);
    for flag in ["--model", "--agents", "--seed", "--out", "--replicates"] {
        assert!(stdout(&run_help).contains(flag), "run --help lacks {flag}");
    }
}

#[test]
fn an_unusable_backend_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(dir.path(), "s.ron", SMALL_SURVEY);
    let r = agora(
        dir.path(),
        &[
            "run",
            scenario.to_str().unwrap(),
            "--model",
            "openai:gpt-4o-mini",
            "--out",
            "out",
        ],
    );
    assert_eq!(r.status.code(), Some(1));
    assert!(
        stderr(&r).contains("OPENAI_API_KEY is not set"),
        "{}",
        stderr(&r)
    );
    assert!(!dir.path().join("out").exists());
}

#[test]
fn stats_json_gives_agents_per_run_totals_and_per_run_figures() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = repo().join("scenarios/consumer-survey.ron");
    let run = agora(
        dir.path(),
        &[
            "run",
            scenario.to_str().unwrap(),
            "--model",
            "rules",
            "--agents",
            "30",
            "--replicates",
            "3",
            "--out",
            "out",
            "--stats-json",
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let stats: serde_json::Value = serde_json::from_str(stdout(&run).trim()).unwrap();
    assert_eq!(stats["agents"], 30, "agents per run, not summed: {stats}");
    assert_eq!(stats["runs"], 3);
    let per_run = stats["per_run"].as_array().unwrap();
    assert_eq!(per_run.len(), 3);
    let decisions: u64 = per_run
        .iter()
        .map(|r| r["decisions"].as_u64().unwrap())
        .sum();
    assert_eq!(stats["decisions"].as_u64().unwrap(), decisions);
    assert_eq!(decisions, 3 * 30 * 10);
}
