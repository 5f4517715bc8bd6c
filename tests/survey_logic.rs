//! End to end: the survey with every question type, logic, piping and an item loop
//! (`scenarios/survey-logic.ron`), on the rule-based backend and against the fake
//! OpenAI-compatible server. The questions each respondent was asked, and so the row
//! count, are recomputed from the scenario's rules and the recorded answers.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use agora_fake_openai::{FakeConfig, FakeServer};
use arrow_array::{Array, Float64Array, RecordBatch, StringArray, UInt32Array};
use common::*;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// All rows of a table's partition (every segment file) as one batch.
fn read(path: &Path) -> RecordBatch {
    let mut batches: Vec<RecordBatch> = Vec::new();
    for file in parts(path) {
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

fn col<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> &'a T {
    batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_any()
        .downcast_ref::<T>()
        .unwrap()
}

fn text(a: &StringArray, i: usize) -> Option<String> {
    (!a.is_null(i)).then(|| a.value(i).to_string())
}

/// One row of `survey_responses`.
#[derive(Clone, Debug)]
struct Row {
    value: Option<f64>,
    label: Option<String>,
    sub_item: Option<String>,
    status: String,
}

/// Per agent: (item id, loop item) -> rows.
type Answers = BTreeMap<u32, BTreeMap<(String, Option<String>), Vec<Row>>>;

fn answers(out: &Path) -> Answers {
    let batch = read(&table_file(out, "survey_responses", "base", 0));
    let agent = col::<UInt32Array>(&batch, "agent_id");
    let item = col::<StringArray>(&batch, "item_id");
    let loop_item = col::<StringArray>(&batch, "loop_item");
    let value = col::<Float64Array>(&batch, "answer_value");
    let label = col::<StringArray>(&batch, "answer_label");
    let sub = col::<StringArray>(&batch, "sub_item");
    let status = col::<StringArray>(&batch, "status");
    let mut out = Answers::new();
    for i in 0..batch.num_rows() {
        out.entry(agent.value(i))
            .or_default()
            .entry((item.value(i).to_string(), text(loop_item, i)))
            .or_default()
            .push(Row {
                value: (!value.is_null(i)).then(|| value.value(i)),
                label: text(label, i),
                sub_item: text(sub, i),
                status: status.value(i).to_string(),
            });
    }
    out
}

/// Per agent: (age, household).
fn people(out: &Path) -> BTreeMap<u32, (f64, String)> {
    let batch = read(&table_file(out, "agents", "base", 0));
    let agent = col::<UInt32Array>(&batch, "agent_id");
    let age = col::<Float64Array>(&batch, "age");
    let household = col::<StringArray>(&batch, "household");
    (0..batch.num_rows())
        .map(|i| {
            (
                agent.value(i),
                (age.value(i), household.value(i).to_string()),
            )
        })
        .collect()
}

/// Rows a valid answer of each item writes (one per sub-item where it has them).
fn rows_when_valid(item: &str) -> usize {
    match item {
        "services" => 5,      // four options and "Other"
        "rank_features" => 5, // one per option, ranked or not
        "ratings" => 3,       // one per statement
        "budget" => 4,        // one per option
        _ => 1,
    }
}

/// The questions the scenario's rules ask of one respondent, given the answers they
/// gave (as recorded): the logic of `scenarios/survey-logic.ron`, written out again.
fn expected_questions(
    (age, household): &(f64, String),
    given: &BTreeMap<(String, Option<String>), Vec<Row>>,
) -> Vec<(String, Option<String>)> {
    let valid = |id: &str, li: Option<&str>| -> Option<&Vec<Row>> {
        given
            .get(&(id.to_string(), li.map(String::from)))
            .filter(|rows| rows[0].status == "valid")
    };
    let label_is =
        |id: &str, want: &str| valid(id, None).is_some_and(|r| r[0].label.as_deref() == Some(want));
    let mut asked: Vec<(String, Option<String>)> = Vec::new();
    let mut ask = |id: &str, li: Option<&str>| asked.push((id.to_string(), li.map(String::from)));
    ask("subscribes", None);
    if !label_is("subscribes", "no") {
        ask("services", None);
        let selected = valid("services", None).map_or(0, |rows| {
            rows.iter().filter(|r| r.value == Some(1.0)).count()
        });
        if selected > 0 {
            ask("favourite", None);
        }
        ask("rank_features", None);
        let price_ranked = valid("rank_features", None).is_some_and(|rows| {
            rows.iter()
                .any(|r| r.sub_item.as_deref() == Some("price") && r.value.is_some())
        });
        ask("ratings", None);
        ask("budget", None);
        if *age > 59.0 || price_ranked {
            ask("cancel_reason", None);
        }
    }
    ask("ads_intro", None);
    if label_is("ads_intro", "no") && *age > 75.0 {
        return asked;
    }
    for ad in ["ad_bright", "ad_north"] {
        ask("ad_like", Some(ad));
        if valid("ad_like", Some(ad)).is_some_and(|r| r[0].value.is_some_and(|v| v > 3.0)) {
            ask("ad_why", Some(ad));
        }
    }
    if household != "single" {
        ask("household_size", None);
    }
    ask("comment", None);
    asked
}

/// Check the run in `out` against the logic; returns (rows, agents who branched past
/// the subscriber block, agents asked `ad_why` at least once).
fn check_run(out: &Path, agents: usize) -> (usize, usize, usize) {
    let answers = answers(out);
    let people = people(out);
    assert_eq!(people.len(), agents);
    let mut rows = 0;
    let (mut branched, mut why) = (0, 0);
    for (id, person) in &people {
        let empty = BTreeMap::new();
        let given = answers.get(id).unwrap_or(&empty);
        let expected = expected_questions(person, given);
        let got: BTreeSet<_> = given.keys().cloned().collect();
        let want: BTreeSet<_> = expected.iter().cloned().collect();
        assert_eq!(
            got, want,
            "agent {id} ({person:?}) was asked other questions than its logic implies"
        );
        for q in &expected {
            let n = given[q].len();
            let status = &given[q][0].status;
            let expected_rows = if status == "valid" {
                rows_when_valid(&q.0)
            } else {
                1
            };
            assert_eq!(n, expected_rows, "agent {id}: {q:?} ({status})");
            rows += n;
        }
        branched += usize::from(!want.contains(&("services".to_string(), None)));
        why += usize::from(want.iter().any(|(q, _)| q == "ad_why"));
    }
    assert_eq!(
        parquet_rows(&table_file(out, "survey_responses", "base", 0)) as usize,
        rows
    );
    (rows, branched, why)
}

#[test]
fn the_logic_survey_asks_each_respondent_what_its_rules_imply_on_the_rule_backend() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let scenario = repo().join("scenarios/survey-logic.ron");
    let run = agora(
        dir.path(),
        &[
            "run",
            scenario.to_str().unwrap(),
            "--model",
            "rules",
            "--agents",
            "400",
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let (rows, branched, why) = check_run(&out, 400);
    // The rules answer every question validly, and the logic has both outcomes.
    let batch = read(&table_file(&out, "survey_responses", "base", 0));
    let status = col::<StringArray>(&batch, "status");
    assert!((0..batch.num_rows()).all(|i| status.value(i) == "valid"));
    assert!(
        branched > 20 && branched < 380,
        "{branched} skipped the subscriber block"
    );
    assert!(
        why > 20 && why < 400,
        "{why} were asked why they liked an ad"
    );
    assert!(rows > 400 * 8, "{rows}");
    // Every respondent is asked about both ads unless stopped: the loop item is a column.
    let loop_items = col::<StringArray>(&batch, "loop_item");
    let ads: BTreeSet<String> = (0..batch.num_rows())
        .filter(|&i| !loop_items.is_null(i))
        .map(|i| loop_items.value(i).to_string())
        .collect();
    assert_eq!(ads, ["ad_bright", "ad_north"].map(String::from).into());
    // A shuffled option order is recorded for every kind with options.
    let kinds = col::<StringArray>(&batch, "item_kind");
    let orders = col::<StringArray>(&batch, "option_order");
    for kind in [
        "multi_select",
        "ranking",
        "matrix",
        "constant_sum",
        "dropdown",
        "single_choice",
    ] {
        assert!(
            (0..batch.num_rows()).any(|i| kinds.value(i) == kind && !orders.is_null(i)),
            "{kind} has no recorded order"
        );
    }
    // The same scenario and seed give byte-identical tables.
    let again = dir.path().join("again");
    let rerun = agora(
        dir.path(),
        &[
            "run",
            scenario.to_str().unwrap(),
            "--model",
            "rules",
            "--agents",
            "400",
            "--out",
            again.to_str().unwrap(),
            "--quiet",
        ],
    );
    assert!(rerun.status.success(), "{}", stderr(&rerun));
    assert_eq!(
        table_bytes(table_file(&out, "survey_responses", "base", 0)).unwrap(),
        table_bytes(table_file(&again, "survey_responses", "base", 0)).unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_logic_survey_follows_its_rules_against_the_fake_server() {
    let server = FakeServer::start(FakeConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let scenario = repo().join("scenarios/survey-logic.ron");
    let run = Command::new(env!("CARGO_BIN_EXE_agora"))
        .current_dir(dir.path())
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--model",
            "openai:gpt-4o-mini",
            "--agents",
            "60",
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ])
        .env("OPENAI_BASE_URL", server.base_url())
        .env("OPENAI_API_KEY", "sk-test-logic")
        .env("AGORA_CACHE_DIR", dir.path().join("cache"))
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", stderr(&run));
    let (rows, _, _) = check_run(&out, 60);
    assert_eq!(
        parquet_rows(&table_file(&out, "llm_calls", "base", 0)),
        server.stats().requests() as i64,
        "one call per question asked"
    );
    assert!(rows >= 60 * 5);
}

/// (replaced text, replacement, words the message must contain)
const BAD_LOGIC: &[(&str, &str, &str)] = &[
    (
        r#"show_if: Answer(item: "services", above: 0.0)"#,
        r#"show_if: Answer(item: "servicez", above: 0.0)"#,
        "\"servicez\", which does not exist",
    ),
    (
        r#"show_if: Answer(item: "services", above: 0.0)"#,
        r#"show_if: Answer(item: "budget", above: 0.0)"#,
        "\"budget\", which is asked after it",
    ),
    (r#"to: "ads_intro""#, r#"to: "subscribes""#, "(a cycle)"),
    (
        "min: 0, max: 3, with_other: true",
        "min: 4, max: 3, with_other: true",
        "cannot take min 4 and max 3",
    ),
    (
        "{{ item.claim }}",
        "{{ item.slogan }}",
        "no field \"slogan\"",
    ),
    (
        r#"Csv("../assets/survey/streaming-ads.csv")"#,
        r#"Csv("../assets/survey/missing.csv")"#,
        "cannot read the item-loop file",
    ),
];

#[test]
fn invalid_logic_is_reported_at_its_line_with_a_fix_and_nothing_runs() {
    let original = std::fs::read_to_string(repo().join("scenarios/survey-logic.ron")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("scenarios")).unwrap();
    std::fs::create_dir_all(dir.path().join("assets/survey")).unwrap();
    std::fs::copy(
        repo().join("assets/survey/streaming-ads.csv"),
        dir.path().join("assets/survey/streaming-ads.csv"),
    )
    .unwrap();
    for (from, to, words) in BAD_LOGIC {
        assert!(original.contains(from), "{from}");
        let text = original.replacen(from, to, 1);
        let at = text.find(to).unwrap();
        let line = text[..at].lines().count();
        let path = dir.path().join("scenarios/bad.ron");
        std::fs::write(&path, &text).unwrap();
        let out = agora(dir.path(), &["validate", path.to_str().unwrap()]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{to}: {err}");
        assert!(err.contains(words), "{to}: {err}");
        assert!(
            err.contains(&format!("bad.ron:{line}:")),
            "{to}: expected line {line}: {err}"
        );
        assert!(err.contains("help:"), "{to}: {err}");
    }
}
