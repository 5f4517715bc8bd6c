//! The report of a synthetic experiment: sections, escaping, determinism and errors.

mod common;

use std::path::Path;

use agora_report::{ReportError, write_report};
use common::{HOSTILE, Parts, write_experiment};

fn report(dir: &Path) -> String {
    let path = write_report(dir).expect("the report is written");
    assert_eq!(path, dir.join("report.html"));
    std::fs::read_to_string(path).unwrap()
}

/// The ids of the page's sections, in order.
fn sections(html: &str) -> Vec<String> {
    html.split("<section id=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_string())
        .collect()
}

#[test]
fn every_section_appears_with_its_tables() {
    let dir = tempfile::tempdir().unwrap();
    write_experiment(dir.path(), Parts::all());
    let html = report(dir.path());
    assert_eq!(
        sections(&html),
        [
            "scenario",
            "headline",
            "population",
            "answers",
            "interventions",
            "opinions",
            "auction",
            "diagnostics",
            "cost",
            "tables"
        ]
    );
    // Headline: a level of every arm with its interval, and the paired differences.
    assert!(
        html.contains("<td>ad_a</td><td>0.3000</td><td>[0.2500,\u{a0}0.3500]</td>"),
        "levels with intervals"
    );
    assert!(html.contains("ad_b − control"));
    assert!(html.contains(
        "<td>[-0.2400,\u{a0}-0.1600]</td><td>&lt;\u{a0}0.001</td><td>paired permutation</td>"
    ));
    assert!(html.contains("-0.4000 (cohen_dz)"));
    assert!(html.contains("By segment"));
    assert!(html.contains("region=rural"));
    // Pictures: fit (shares and moments), answers to 3 items by arm and by 2 regions,
    // trajectories and polarisation, bids, levels and differences of 3 outcomes, and
    // position bias.
    let svgs = html.matches("<svg").count();
    assert_eq!(svgs, 2 + 3 + 3 * 2 + 2 + 1 + 3 * 2 + 1, "plots");
    assert!(html.contains("plan by region"), "answers by segment");
    assert!(html.contains("plan: region=urban"));
    // Each replicate of the population fit is a series of its own.
    assert!(html.contains("replicate 0") && html.contains("replicate 1"));
    // Likert points without labels are named by their number; abstentions are shown.
    assert!(html.contains("(no answer)"));
    assert!(html.contains("free text, 36 answers"));
    // Bids against values: 5 bids per run (one bidder did not bid), 6 runs.
    assert!(html.contains("30 points"), "bids counted");
    // The fact-check of the treated arms, marked on the trajectories.
    assert!(html.contains(
        "<tr><td>ad_a</td><td>fact_check</td><td>broadcast</td><td>3</td><td>2</td><td>3.000</td>"
    ));
    assert!(!html.contains("<td>control</td><td>fact_check</td>"));
    // Marked in the legends of both trajectory plots.
    assert_eq!(html.matches(">\nintervention\n</text>").count(), 2);
    // Diagnostics with the significant row flagged.
    assert!(html.contains("position_bias"));
    assert!(
        html.contains("<tr class=\"flagged\"><td>ad_a</td><td>plan</td><td>position_bias</td>")
    );
    // Cost and tokens by arm and task; per-arm models from the manifest.
    assert!(html.contains("survey.answer"));
    assert!(html.contains("openai:fake"));
    assert!(
        html.contains("$0.0012"),
        "cost of one arm over two replicates"
    );
    // Manifest extras such as per-arm settings are shown.
    assert!(html.contains("Which ad works?"));
    assert!(html.contains("stimuli"));
}

#[test]
fn every_user_string_is_escaped() {
    let dir = tempfile::tempdir().unwrap();
    write_experiment(dir.path(), Parts::all());
    let html = report(dir.path());
    assert!(
        !html.contains(HOSTILE),
        "a raw user string reached the page"
    );
    assert!(!html.contains("<script"), "no script in the page");
    assert!(!html.contains("<b>"));
    // Escaped by the template (HTML) and by plotters (SVG text).
    assert!(html.contains("&lt;script&gt;alert("));
    assert!(html.matches("&lt;script&gt;").count() > 10);
}

#[test]
fn the_page_is_self_contained() {
    let dir = tempfile::tempdir().unwrap();
    write_experiment(dir.path(), Parts::all());
    let html = report(dir.path());
    assert!(html.contains("Content-Security-Policy\" content=\"default-src 'none'"));
    for needle in [
        "src=",
        "<link",
        "@import",
        "url(",
        "href=\"http",
        "<iframe",
        "<object",
    ] {
        assert!(!html.contains(needle), "the page holds `{needle}`");
    }
    // SVG namespaces are names, not requests; nothing else names a web address.
    let others: Vec<&str> = html
        .match_indices("://")
        .map(|(i, _)| &html[i.saturating_sub(40)..(i + 40).min(html.len())])
        .filter(|context| !context.contains("xmlns=\"http://www.w3.org/2000/svg\""))
        .collect();
    assert!(others.is_empty(), "{others:?}");
    // Labels are SVG text, not paths of glyphs.
    assert!(html.contains("<text"));
}

#[test]
fn sections_are_left_out_without_their_tables() {
    let dir = tempfile::tempdir().unwrap();
    write_experiment(dir.path(), Parts::minimal());
    let html = report(dir.path());
    assert_eq!(
        sections(&html),
        ["scenario", "headline", "population", "cost", "tables"]
    );
    assert!(html.contains("This experiment has no `stats` table"));
}

#[test]
fn the_same_tables_give_the_same_page() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    write_experiment(a.path(), Parts::all());
    write_experiment(b.path(), Parts::all());
    let first = report(a.path());
    assert_eq!(first, report(a.path()));
    assert_eq!(first, report(b.path()));
}

#[test]
fn the_scenario_file_is_shown_when_it_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs/concept");
    write_experiment(&out, Parts::minimal());
    let text = format!("Scenario(name: \"Concept test {HOSTILE}\")\n");
    std::fs::create_dir_all(dir.path().join("scenarios")).unwrap();
    std::fs::write(dir.path().join("scenarios/concept-test.ron"), &text).unwrap();
    // The manifest's hash is of another file: not shown, and said so.
    let html = report(&out);
    assert!(html.contains("has changed since this experiment ran"));
    // With the right hash, the file is shown (escaped), found relative to the output.
    let path = out.join("manifest.json");
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    json["scenario_hash"] = blake3::hash(text.as_bytes()).to_hex().to_string().into();
    std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
    let html = report(&out);
    assert!(html.contains("Scenario(name: &quot;Concept test &lt;script&gt;"));
}

#[test]
fn errors_name_the_file_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere");
    let e = write_report(&missing).unwrap_err();
    assert!(matches!(e, ReportError::MissingDirectory { .. }), "{e}");
    assert!(e.to_string().contains("nowhere") && e.to_string().contains("help:"));

    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let e = write_report(&empty).unwrap_err();
    assert!(matches!(e, ReportError::NotAgoraOutput { .. }), "{e}");
    assert!(e.to_string().contains("manifest.json"));

    let bad = dir.path().join("bad-manifest");
    std::fs::create_dir(&bad).unwrap();
    std::fs::write(bad.join("manifest.json"), "{ not json").unwrap();
    let e = write_report(&bad).unwrap_err();
    assert!(matches!(e, ReportError::Manifest { .. }), "{e}");

    let broken = dir.path().join("broken");
    write_experiment(&broken, Parts::all());
    let file = broken.join("survey_responses/arm=ad_a/replicate=0/part-00001.parquet");
    std::fs::write(&file, b"not parquet").unwrap();
    let e = write_report(&broken).unwrap_err();
    match &e {
        ReportError::Table { table, path, .. } => {
            assert_eq!(table, "survey_responses");
            assert_eq!(path, &file);
        }
        other => panic!("expected a table error, got {other}"),
    }
    assert!(e.to_string().contains("--overwrite"));
    assert!(
        !broken.join("report.html").exists(),
        "no report from unreadable tables"
    );
}

#[test]
fn a_column_of_the_wrong_type_is_named() {
    use agora_export::{Column, ColumnType, SinkSet, TableSpec};
    let dir = tempfile::tempdir().unwrap();
    write_experiment(dir.path(), Parts::minimal());
    // A stats table whose estimate is text.
    let mut spec = common::stats_spec();
    spec.columns[6] = Column::required("estimate", ColumnType::Utf8);
    let spec = TableSpec::new("stats", spec.columns);
    let mut sinks = SinkSet::new(16);
    let t = sinks.open(spec, dir.path().join("stats")).unwrap();
    sinks
        .row(t)
        .unwrap()
        .str("a")
        .str("o")
        .str("all")
        .str("level")
        .opt_str(None)
        .str("agent")
        .str("high")
        .f64(0.0)
        .f64(1.0)
        .u64(1)
        .u32(1)
        .str("m")
        .opt_f64(None)
        .opt_str(None)
        .opt_f64(None)
        .opt_str(None)
        .end();
    sinks.close().unwrap();
    let e = write_report(dir.path()).unwrap_err();
    match &e {
        ReportError::Column { table, column, .. } => {
            assert_eq!(table, "stats");
            assert_eq!(column, "estimate");
        }
        other => panic!("expected a column error, got {other}"),
    }
    assert!(e.to_string().contains("Utf8"), "{e}");
}
