//! Experiments end to end: arms as treatments (stimuli, a no-persona control, models),
//! interventions, and the `stats` and `diagnostics` tables with the headline, on the
//! rule-based backend and against the fake OpenAI-compatible server.

mod common;

use std::process::Command;

use agora_fake_openai::{FakeConfig, FakeServer};
use common::*;
use parquet::record::Field;

fn find<'a>(rows: &'a [Row], arm: &str, outcome: &str, segment: &str, kind: &str) -> &'a Row {
    rows.iter()
        .find(|r| {
            text(r, "arm") == arm
                && text(r, "outcome") == outcome
                && text(r, "segment") == segment
                && text(r, "kind") == kind
        })
        .unwrap_or_else(|| panic!("no {arm} {outcome} {segment} {kind} row"))
}

/// The difference of `arm` with arm `with` over everyone.
fn difference<'a>(rows: &'a [Row], arm: &str, outcome: &str, with: &str) -> &'a Row {
    rows.iter()
        .find(|r| {
            text(r, "arm") == arm
                && text(r, "outcome") == outcome
                && text(r, "segment") == "all"
                && text(r, "kind") == "difference"
                && text(r, "control") == with
        })
        .unwrap_or_else(|| panic!("no {arm} - {with} {outcome} row"))
}

/// Every estimate lies inside its interval and the method is named.
fn check_intervals(rows: &[Row]) {
    assert!(!rows.is_empty());
    for r in rows {
        let (e, lo, hi) = (
            number(r, "estimate"),
            number(r, "ci_low"),
            number(r, "ci_high"),
        );
        assert!(lo <= e && e <= hi, "{r:?}");
        assert!(!text(r, "method").is_empty());
    }
}

#[test]
fn a_concept_test_compares_ads_and_a_no_persona_control_with_intervals() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = repo().join("scenarios/concept-test.ron");
    let run = agora(
        dir.path(),
        &[
            "run",
            scenario.to_str().unwrap(),
            "--model",
            "rules",
            "--agents",
            "150",
            "--out",
            "ct",
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let printed = stdout(&run);
    assert!(
        printed.contains("results (mean or share, 95% interval"),
        "{printed}"
    );
    assert!(printed.contains("ad_b−ad_a"), "{printed}");
    assert!(
        printed.contains("arm no_persona (control): model rules, persona None"),
        "{printed}"
    );
    let out = dir.path().join("ct");
    let stats = rows(&out.join("stats/part-00000.parquet"));
    check_intervals(&stats);
    for arm in ["ad_a", "ad_b", "no_persona"] {
        for outcome in ["appeal", "intent", "first_look=the price"] {
            find(&stats, arm, outcome, "all", "level");
            find(&stats, arm, outcome, "household=family", "level");
        }
    }
    // The planted truth: ad B is more appealing (+0.3 sd) and less compelling (-0.1 sd).
    let appeal = difference(&stats, "ad_b", "appeal", "ad_a");
    assert!(number(appeal, "ci_low") > 0.0, "{appeal:?}");
    assert!(number(difference(&stats, "ad_b", "intent", "ad_a"), "ci_high") < 0.0);
    // Each arm against the control, the no-persona arm.
    difference(&stats, "ad_a", "appeal", "no_persona");
    difference(&stats, "ad_b", "appeal", "no_persona");
    // 4 replicates x 150 agents, paired person by person.
    assert!(
        matches!(appeal.get("n"), Some(Field::ULong(600))),
        "{appeal:?}"
    );
    assert!(text(appeal, "test").contains("cluster-robust"));
    // The control arm has no difference with itself.
    assert!(
        !stats
            .iter()
            .any(|r| text(r, "arm") == "no_persona" && text(r, "kind") == "difference")
    );
    // Shares of one item sum to one.
    let shares: f64 = stats
        .iter()
        .filter(|r| {
            text(r, "arm") == "ad_a"
                && text(r, "outcome").starts_with("first_look=")
                && text(r, "segment") == "all"
                && text(r, "kind") == "level"
        })
        .map(|r| number(r, "estimate"))
        .sum();
    assert!((shares - 1.0).abs() < 1e-9, "{shares}");
    // Each respondent got one of the two wordings of `intent`, recorded per row.
    let responses: Vec<Row> = parts(&table_file(&out, "survey_responses", "ad_a", 0))
        .iter()
        .flat_map(|p| rows(p))
        .collect();
    let mut wordings = [0usize; 2];
    for r in &responses {
        match (text(r, "item_id").as_str(), r.get("wording")) {
            ("intent", Some(Field::UInt(w))) => wordings[*w as usize] += 1,
            ("intent", other) => panic!("intent without a wording: {other:?}"),
            (_, Some(Field::Null)) => {}
            (item, other) => panic!("{item} has a wording: {other:?}"),
        }
    }
    assert_eq!(wordings[0] + wordings[1], 150);
    assert!(wordings[0] > 40 && wordings[1] > 40, "{wordings:?}");
    let diagnostics = rows(&out.join("diagnostics/part-00000.parquet"));
    let kinds: Vec<String> = diagnostics.iter().map(|r| text(r, "diagnostic")).collect();
    for d in [
        "position_bias",
        "valid_rate",
        "fallback_rate",
        "straight_lining",
    ] {
        assert!(kinds.iter().any(|k| k == d), "{d} missing from {kinds:?}");
    }
    // Rule-based answers ignore the order options are shown in: no position bias.
    for r in diagnostics
        .iter()
        .filter(|r| text(r, "diagnostic") == "position_bias")
    {
        assert!(number(r, "p_value") > 0.001, "{r:?}");
    }
    // The same scenario and seed give the same statistics, byte for byte.
    let again = agora(
        dir.path(),
        &[
            "run",
            scenario.to_str().unwrap(),
            "--model",
            "rules",
            "--agents",
            "150",
            "--out",
            "ct2",
            "--quiet",
        ],
    );
    assert!(again.status.success(), "{}", stderr(&again));
    for table in ["stats", "diagnostics"] {
        assert_eq!(
            std::fs::read(out.join(table).join("part-00000.parquet")).unwrap(),
            std::fs::read(
                dir.path()
                    .join("ct2")
                    .join(table)
                    .join("part-00000.parquet")
            )
            .unwrap(),
            "{table}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concept_test_runs_against_the_fake_server_and_only_unnamed_arms_take_the_model_flag() {
    let server = FakeServer::start(FakeConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The no-persona arm keeps the rule-based backend it names; --model reaches the others.
    let text = std::fs::read_to_string(repo().join("scenarios/concept-test.ron"))
        .unwrap()
        .replace(
            "(name: \"no_persona\", persona: None, control: true,",
            "(name: \"no_persona\", persona: None, control: true, model: \"rules\",",
        )
        .replace("replicates: 4,", "replicates: 2,");
    let scenario = write_scenario(dir.path(), "concept.ron", &text);
    let run = Command::new(env!("CARGO_BIN_EXE_agora"))
        .current_dir(dir.path())
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--model",
            "openai:gpt-4o-mini",
        ])
        .args(["--agents", "12", "--out", "ct"])
        .env("OPENAI_BASE_URL", server.base_url())
        .env("OPENAI_API_KEY", "sk-test-experiment")
        .env("AGORA_CACHE_DIR", dir.path().join("cache"))
        .env_remove("RUST_LOG")
        .output()
        .expect("the agora binary runs");
    assert!(run.status.success(), "{}", stderr(&run));
    let printed = stdout(&run);
    assert!(
        printed.contains("arm ad_a: model openai:gpt-4o-mini, persona Full"),
        "{printed}"
    );
    assert!(
        printed.contains("arm no_persona (control): model rules, persona None"),
        "{printed}"
    );
    let out = dir.path().join("ct");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let models: Vec<&str> = manifest["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["model"].as_str().unwrap())
        .collect();
    assert_eq!(
        models.iter().filter(|m| **m == "rules").count(),
        2,
        "{models:?}"
    );
    // The fake server saw every survey prompt with its ad, and none for the rules arm.
    assert_eq!(server.stats().requests(), 2 * 2 * 12);
    let stats = rows(&out.join("stats/part-00000.parquet"));
    check_intervals(&stats);
    for arm in ["ad_a", "ad_b", "no_persona"] {
        find(&stats, arm, "appeal", "all", "level");
    }
    difference(&stats, "ad_b", "appeal", "no_persona");
    difference(&stats, "ad_b", "appeal", "ad_a");
}

#[test]
fn a_fact_check_intervention_moves_opinions_against_the_untreated_arm() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = repo().join("scenarios/debate-fact-check.ron");
    let run = agora(
        dir.path(),
        &[
            "run",
            scenario.to_str().unwrap(),
            "--model",
            "rules",
            "--out",
            "fc",
            "--quiet",
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let out = dir.path().join("fc");
    let stats = rows(&out.join("stats/part-00000.parquet"));
    check_intervals(&stats);
    let effect = find(&stats, "fact_check", "opinion", "all", "difference");
    assert!(number(effect, "ci_high") < 0.0, "{effect:?}");
    assert!(number(effect, "p_value") < 0.01, "{effect:?}");
    // 12 replicates: the p-value is the sign flip over replicates.
    assert!(text(effect, "test").contains("sign-flip"), "{effect:?}");
    // One intervention event per treated run, in round 3, reaching half of 12 agents.
    for replicate in 0..12 {
        let kinds = text_column(&table_file(&out, "events", "fact_check", replicate), "kind");
        let payloads = text_column(
            &table_file(&out, "events", "fact_check", replicate),
            "payload",
        );
        let fired: Vec<&Option<String>> = kinds
            .iter()
            .zip(&payloads)
            .filter(|(k, _)| k.as_deref() == Some("intervention"))
            .map(|(_, p)| p)
            .collect();
        assert_eq!(fired.len(), 1);
        assert!(
            fired[0].as_deref().unwrap_or("").contains("\"reached\":6"),
            "{fired:?}"
        );
        let untreated = text_column(&table_file(&out, "events", "untreated", replicate), "kind");
        assert!(
            !untreated
                .iter()
                .any(|k| k.as_deref() == Some("intervention"))
        );
    }
}

#[test]
fn treatment_mistakes_are_positioned_errors_with_a_fix() {
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(repo().join("scenarios/concept-test.ron")).unwrap();
    let debate = std::fs::read_to_string(repo().join("scenarios/debate-fact-check.ron")).unwrap();
    let cases: [(&str, String, &str); 6] = [
        (
            "missing.ron",
            base.replace(
                "How appealing is the offer",
                "{{adz}} How appealing is the offer",
            ),
            "the placeholder {{adz}} has no value in arm \"ad_a\"",
        ),
        (
            "unused.ron",
            base.replacen("\"ad\": \"Dinner", "\"add\": \"x\", \"ad\": \"Dinner", 1),
            "sets the stimulus \"add\" but its mechanism block has no {{add}} placeholder",
        ),
        (
            "segment.ron",
            base.replace("segments: [\"household\"]", "segments: [\"age\"]"),
            "segment \"age\" names no categorical attribute",
        ),
        (
            "arm.ron",
            debate.replace("arms: [\"fact_check\"]", "arms: [\"fact_chek\"]"),
            "names the arm \"fact_chek\", which the scenario does not have",
        ),
        (
            "round.ron",
            debate.replace("at: Round(3)", "at: Round(9)"),
            "fires at round 9, but runs play rounds 1 to 5",
        ),
        (
            "persona.ron",
            base.replace("persona: None", "persona: Nobody"),
            "Nobody",
        ),
    ];
    for (name, text, expected) in cases {
        let path = write_scenario(dir.path(), name, &text);
        let out = agora(dir.path(), &["validate", path.to_str().unwrap()]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(expected), "{name}: {err}");
        assert!(
            err.contains(&format!("{name}:")) && err.contains("help:") || name == "persona.ron",
            "{name}: {err}"
        );
    }
}

#[test]
fn a_retest_asks_the_same_people_again_and_reports_their_agreement() {
    let dir = tempfile::tempdir().unwrap();
    let source = std::fs::read_to_string(repo().join("scenarios/concept-test.ron"))
        .unwrap()
        .replace("replicates: 4,", "replicates: 2,\n    retest: true,");
    let scenario = write_scenario(dir.path(), "retest.ron", &source);
    let run = agora(
        dir.path(),
        &[
            "run",
            scenario.to_str().unwrap(),
            "--model",
            "rules",
            "--agents",
            "40",
            "--out",
            "rt",
            "--quiet",
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let out = dir.path().join("rt");
    // The retest arm's people are the arm's own.
    let names = |arm: &str| text_column(&table_file(&out, "agents", arm, 1), "name");
    assert_eq!(names("ad_a"), names("ad_a_retest"));
    let diagnostics = rows(&out.join("diagnostics/part-00000.parquet"));
    let retest: Vec<&Row> = diagnostics
        .iter()
        .filter(|r| text(r, "diagnostic") == "test_retest" && text(r, "item") == "appeal")
        .collect();
    assert_eq!(retest.len(), 3, "one per arm");
    for r in retest {
        assert!(matches!(r.get("n"), Some(Field::ULong(80))), "{r:?}");
        // New decision seeds: the rule-based noise differs, so some answers change.
        assert!(
            number(r, "estimate") < 1.0 && number(r, "estimate") > 0.0,
            "{r:?}"
        );
    }
    // Retest arms are not treatments: the stats table compares the scenario's arms only.
    let stats = rows(&out.join("stats/part-00000.parquet"));
    assert!(!stats.iter().any(|r| text(r, "arm").ends_with("_retest")));
}
