//! Validation against human answers end to end: the ANES 1996 twins scenario on the
//! rule-based backend and against the fake server, and reference mistakes reported at
//! their place with a fix.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use agora_fake_openai::{FakeConfig, FakeServer};
use common::*;

/// `(arm, item, segment, metric, estimate, ci_low, ci_high)` of every validation row.
type Metric = (String, String, String, String, f64, f64, f64);

fn validation(out: &Path) -> Vec<Metric> {
    rows(&out.join("validation/part-00000.parquet"))
        .iter()
        .map(|r| {
            (
                text(r, "arm"),
                text(r, "item"),
                text(r, "segment"),
                text(r, "metric"),
                number(r, "estimate"),
                number(r, "ci_low"),
                number(r, "ci_high"),
            )
        })
        .collect()
}

fn check(rows: &[Metric], arms: &[&str], twins: bool) {
    for r in rows {
        assert!(r.5 <= r.4 && r.4 <= r.6, "{r:?}");
    }
    for arm in arms.iter().chain(&["baseline_logit"]) {
        for item in ["self_lr", "clinton_lr", "dole_lr"] {
            for metric in ["wasserstein", "representativeness"] {
                assert!(
                    rows.iter()
                        .any(|r| r.0 == *arm && r.1 == item && r.2 == "all" && r.3 == metric),
                    "{arm} {item} {metric}"
                );
            }
        }
        for metric in ["total_variation", "jensen_shannon"] {
            assert!(
                rows.iter()
                    .any(|r| r.0 == *arm && r.1 == "vote" && r.3 == metric)
            );
        }
        let twin = rows
            .iter()
            .any(|r| r.0 == *arm && r.1 == "self_lr" && r.3 == "exact_match");
        assert_eq!(twin, twins || *arm == "baseline_logit", "{arm}");
    }
    let segments: BTreeSet<&str> = rows.iter().map(|r| r.2.as_str()).collect();
    assert!(
        segments.contains("party_id=Strong Democrat"),
        "{segments:?}"
    );
}

#[test]
fn the_anes_twins_are_scored_against_the_respondents_with_rules() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = repo().join("scenarios/anes96-twins.ron");
    let run = agora(
        dir.path(),
        &[
            "run",
            scenario.to_str().unwrap(),
            "--model",
            "rules",
            "--agents",
            "120",
            "--out",
            "twins",
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(
        stdout(&run).contains("distance to the human reference"),
        "{}",
        stdout(&run)
    );
    let rows = validation(&dir.path().join("twins"));
    check(&rows, &["full", "demographics", "no_persona"], true);
    // Rule-based twins follow party identification; without a persona they cannot.
    let exact = |arm: &str| {
        rows.iter()
            .find(|r| r.0 == arm && r.1 == "vote" && r.2 == "all" && r.3 == "exact_match")
            .map(|r| r.4)
            .unwrap_or(f64::NAN)
    };
    assert!(
        exact("full") > exact("no_persona") + 0.1,
        "{} vs {}",
        exact("full"),
        exact("no_persona")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_anes_twins_run_against_the_fake_server() {
    let server = FakeServer::start(FakeConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let scenario = repo().join("scenarios/anes96-twins.ron");
    let run = Command::new(env!("CARGO_BIN_EXE_agora"))
        .current_dir(dir.path())
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--model",
            "openai:gpt-4o-mini",
        ])
        .args(["--agents", "30", "--out", "twins", "--quiet"])
        .env("OPENAI_BASE_URL", server.base_url())
        .env("OPENAI_API_KEY", "sk-test-validation")
        .env("AGORA_CACHE_DIR", dir.path().join("cache"))
        .env_remove("RUST_LOG")
        .output()
        .expect("the agora binary runs");
    assert!(run.status.success(), "{}", stderr(&run));
    // One call per twin and arm, all questions at once.
    assert_eq!(server.stats().requests(), 3 * 30);
    check(
        &validation(&dir.path().join("twins")),
        &["full", "demographics", "no_persona"],
        true,
    );
}

#[test]
fn the_silicon_sample_is_scored_on_distributions_only() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = repo().join("scenarios/anes96-silicon.ron");
    let run = agora(
        dir.path(),
        &[
            "run",
            scenario.to_str().unwrap(),
            "--model",
            "rules",
            "--agents",
            "100",
            "--replicates",
            "2",
            "--out",
            "silicon",
            "--quiet",
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    check(
        &validation(&dir.path().join("silicon")),
        &["full", "demographics", "no_persona"],
        false,
    );
}

#[test]
fn reference_mistakes_point_at_the_file_the_line_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(repo().join("scenarios/anes96-silicon.ron"))
        .unwrap()
        .replace("../assets/reference/anes96.csv", "people.csv");
    let people = std::fs::read_to_string(repo().join("assets/reference/anes96.csv")).unwrap();
    std::fs::write(dir.path().join("people.csv"), &people).unwrap();
    // Row 5 (line 6) answers "Perot", no option of the vote question.
    let mut lines: Vec<String> = people.lines().map(String::from).collect();
    lines[5] = lines[5]
        .replace(",Clinton", ",Perot")
        .replace(",Dole", ",Perot");
    std::fs::write(dir.path().join("perot.csv"), lines.join("\n") + "\n").unwrap();
    // Line 3 places Dole at 9 on a 7-point scale.
    let mut nine: Vec<String> = people.lines().map(String::from).collect();
    let cells: Vec<&str> = nine[2].rsplitn(2, ',').collect();
    let (vote, rest) = (cells[0], cells[1]);
    let mut rest: Vec<&str> = rest.rsplitn(2, ',').collect();
    rest[0] = "9";
    nine[2] = format!("{},{},{vote}", rest[1], rest[0]);
    std::fs::write(dir.path().join("nine.csv"), nine.join("\n") + "\n").unwrap();
    let cases: [(&str, String, &str); 5] = [
        (
            "missing.ron",
            base.replace("people.csv", "nobody.csv"),
            "cannot read the reference file",
        ),
        (
            "perot.ron",
            base.replace("people.csv", "perot.csv"),
            "perot.csv:6:13: error: column \"vote\": \"Perot\" is not an option of question \"vote\"",
        ),
        (
            "nine.ron",
            base.replace("people.csv", "nine.csv"),
            "nine.csv:3:12: error: column \"dole_lr\": \"9\" is not a point of the 7-point scale",
        ),
        (
            "baseline.ron",
            base.replace("\"tv_news_days\"]", "\"tv_news\"]"),
            "the baseline names the column \"tv_news\", which the reference file lacks",
        ),
        (
            "twins.ron",
            base.replace("baseline: [", "twins: true, baseline: ["),
            "`twins: true` needs the population imported from the reference respondents",
        ),
    ];
    for (name, text, expected) in cases {
        let path = write_scenario(dir.path(), name, &text);
        let out = agora(dir.path(), &["validate", path.to_str().unwrap()]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(expected), "{name}: {err}");
        assert!(err.contains("help:"), "{name}: {err}");
    }
}
