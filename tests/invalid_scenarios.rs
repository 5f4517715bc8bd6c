//! Invalid scenarios: each kind of mistake gets `file:line:col`, what is wrong, how to
//! fix it, exit code 2, and nothing written.

mod common;

use common::*;

/// (what is wrong, text to replace in the valid scenario, replacement, expected line,
/// words the message must contain)
const CASES: &[(&str, &str, &str, usize, &[&str])] = &[
    (
        "unknown key",
        "    seed: 7,",
        "    sead: 7,",
        4,
        &["unknown key `sead`", "did you mean `seed`"],
    ),
    (
        "unknown key in a question's kind",
        "SingleChoice(options: [\"A\", \"B\", \"C\"])",
        "SingleChoice(options: [\"A\", \"B\", \"C\"], other: true)",
        22,
        &["unknown key `other` in `SingleChoice`", "`with_other`"],
    ),
    (
        "negative standard deviation",
        "std_dev: 12.0",
        "std_dev: -3.0",
        8,
        &["std_dev must be >= 0", "-3"],
    ),
    (
        "weights that do not sum to 1",
        "(\"south\", 0.6)",
        "(\"south\", 0.7)",
        9,
        &["must sum to 1", "1.1"],
    ),
    (
        "probability outside 0..1",
        "(\"north\", 0.4), (\"south\", 0.6)",
        "(\"north\", 1.4), (\"south\", -0.4)",
        9,
        &["between 0 and 1", "1.4"],
    ),
    (
        "unknown mechanism",
        "mechanism: Survey((",
        "mechanism: Lottery((",
        18,
        &["unknown mechanism `Lottery`", "Survey"],
    ),
    (
        "unknown distribution",
        "dist: Beta(alpha",
        "dist: Gamma(alpha",
        16,
        &["Gamma", "Normal"],
    ),
    (
        "missing key",
        "    name: \"Test survey\",\n",
        "",
        26,
        &["missing key `name`"],
    ),
    (
        "Likert scale too short",
        "Likert(points: 5)",
        "Likert(points: 1)",
        21,
        &["2 to 11 points"],
    ),
    (
        "unknown driver",
        "(\"thrift\", -0.3)",
        "(\"thirft\", -0.3)",
        21,
        &["driver \"thirft\"", "thrift"],
    ),
    (
        "conditional on an unknown attribute",
        "given: \"region\"",
        "given: \"regoin\"",
        10,
        &["\"regoin\", which is not an attribute", "region"],
    ),
    (
        "quota on an unknown attribute",
        "quotas: [\"region\"]",
        "quotas: [\"religion\"]",
        15,
        &["\"religion\", which is not an attribute"],
    ),
    (
        "unknown model",
        "    seed: 7,",
        "    seed: 7,\n    model: (name: \"gpt4\"),",
        5,
        &["unknown model `gpt4`", "openai:MODEL"],
    ),
    (
        "zero replicates",
        "    seed: 7,",
        "    seed: 7,\n    replicates: 0,",
        5,
        &["at least 1"],
    ),
    (
        "syntax error",
        "(name: \"age\", dist",
        "(name: \"age\" dist",
        8,
        &["Expected comma"],
    ),
    (
        "replicates beyond the maximum",
        "    seed: 7,",
        "    seed: 7,\n    replicates: 1000000000,",
        5,
        &["replicates must be at most 10000", "1000000000"],
    ),
    (
        "population beyond the maximum",
        "size: 50",
        "size: 18446744073709551615",
        6,
        &["maximum population of 10000000"],
    ),
    (
        "LogNormal mu on the wrong scale",
        "Normal(mean: 40.0, std_dev: 12.0, min: 18.0, max: 90.0)",
        "LogNormal(mu: 1000.0, sigma: 0.5)",
        8,
        &["mu is on the log scale", "ln(1000)"],
    ),
    (
        "Uniform range that overflows",
        "Normal(mean: 40.0, std_dev: 12.0, min: 18.0, max: 90.0)",
        "Uniform(min: -1e308, max: 1e308)",
        8,
        &["too large to compute with"],
    ),
    (
        "duplicate item ids",
        "(id: \"brand\"",
        "(id: \"like\"",
        26,
        &["\"like\" is used twice"],
    ),
];

/// A small, valid debate on a small-world graph.
const SMALL_DEBATE: &str = r#"// A small debate for tests.
Scenario(
    name: "Test debate",
    seed: 3,
    population: (
        size: 6,
        attributes: [(name: "age", dist: Normal(mean: 40.0, std_dev: 12.0, min: 18.0, max: 90.0), round: true)],
    ),
    mechanism: Debate((
        motion: "Trains should be free",
        sides: ("for", "against"),
        rounds: 4,
        audience: SmallWorld(neighbours: 2, rewire: 0.1),
        scale: (min: 1.0, max: 7.0),
        stop: (consensus: 0.05),
        rules: (epsilon: 0.3, drivers: [("openness", 0.3)]),
    )),
)
"#;

/// A small, valid focus group.
const SMALL_FOCUS_GROUP: &str = r#"// A small focus group for tests.
Scenario(
    name: "Test focus group",
    population: (size: 4),
    mechanism: FocusGroup((
        product: "FreshBox",
        questions: [(id: "a", text: "First impression?"), (id: "b", text: "Price?")],
        stimuli: [(id: "ad", round: 2, title: "Ad", text: "Dinner fast")],
        rating: (min: 1.0, max: 7.0),
    )),
)
"#;

const DEBATE_CASES: &[(&str, &str, &str, usize, &[&str])] = &[
    (
        "empty motion",
        "motion: \"Trains should be free\"",
        "motion: \"\"",
        10,
        &["motion or product is empty"],
    ),
    (
        "same sides",
        "(\"for\", \"against\")",
        "(\"for\", \"for\")",
        11,
        &["must be named and differ"],
    ),
    (
        "odd neighbours",
        "neighbours: 2",
        "neighbours: 3",
        13,
        &["even number of neighbours"],
    ),
    (
        "inverted scale",
        "(min: 1.0, max: 7.0)",
        "(min: 7.0, max: 1.0)",
        14,
        &["min < max"],
    ),
    (
        "consensus too wide",
        "consensus: 0.05",
        "consensus: 0.9",
        15,
        &["consensus"],
    ),
    (
        "epsilon above 1",
        "epsilon: 0.3",
        "epsilon: 3.0",
        16,
        &["epsilon must be between 0 and 1"],
    ),
    (
        "unknown order",
        "rounds: 4,",
        "rounds: 4,\n        order: Loudest,",
        13,
        &["Loudest"],
    ),
    (
        "unknown driver",
        "(\"openness\", 0.3)",
        "(\"openess\", 0.3)",
        16,
        &["driver \"openess\""],
    ),
    (
        "missing graph file",
        "SmallWorld(neighbours: 2, rewire: 0.1)",
        "File(\"nowhere.csv\")",
        13,
        &["cannot read the graph file"],
    ),
];

const FOCUS_GROUP_CASES: &[(&str, &str, &str, usize, &[&str])] = &[
    (
        "no questions",
        "questions: [(id: \"a\", text: \"First impression?\"), (id: \"b\", text: \"Price?\")]",
        "questions: []",
        7,
        &["at least one question"],
    ),
    (
        "stimulus after the script",
        "round: 2",
        "round: 5",
        10,
        &["rounds 1 to 2"],
    ),
    (
        "duplicate question",
        "(id: \"b\"",
        "(id: \"a\"",
        7,
        &["\"a\" is used twice"],
    ),
];

#[test]
fn every_kind_of_mistake_is_reported_with_position_and_fix() {
    check_cases(SMALL_SURVEY, CASES);
}

#[test]
fn conversation_mistakes_are_reported_with_position_and_fix() {
    check_cases(SMALL_DEBATE, DEBATE_CASES);
    check_cases(SMALL_FOCUS_GROUP, FOCUS_GROUP_CASES);
}

/// Each case breaks `base` by one replacement; the run must be refused at the case's line.
fn check_cases(base: &str, cases: &[(&str, &str, &str, usize, &[&str])]) {
    let dir = tempfile::tempdir().unwrap();
    let valid = write_scenario(dir.path(), "valid.ron", base);
    let ok = agora(dir.path(), &["validate", valid.to_str().unwrap()]);
    assert!(
        ok.status.success(),
        "the base scenario is valid: {}",
        stderr(&ok)
    );

    for (i, (what, from, to, line, words)) in cases.iter().enumerate() {
        assert!(
            base.contains(from),
            "case `{what}`: base text lacks {from:?}"
        );
        let text = base.replacen(from, to, 1);
        let name = format!("bad{i}.ron");
        let path = write_scenario(dir.path(), &name, &text);
        let out_dir = dir.path().join(format!("out{i}"));
        let run = agora(
            dir.path(),
            &[
                "run",
                path.to_str().unwrap(),
                "--out",
                out_dir.to_str().unwrap(),
            ],
        );
        let err = stderr(&run);
        assert_eq!(
            run.status.code(),
            Some(2),
            "case `{what}` should exit with 2: {err}"
        );
        assert!(!out_dir.exists(), "case `{what}`: nothing may be written");
        let location = format!("{name}:{line}:");
        assert!(
            err.contains(&location),
            "case `{what}`: expected {location} in:\n{err}"
        );
        assert!(
            err.contains("help:"),
            "case `{what}`: expected a hint in:\n{err}"
        );
        for word in *words {
            assert!(
                err.contains(word),
                "case `{what}`: expected {word:?} in:\n{err}"
            );
        }
        assert!(!err.contains("panicked"), "case `{what}` panicked:\n{err}");
        let validate = agora(dir.path(), &["validate", path.to_str().unwrap()]);
        assert_eq!(
            validate.status.code(),
            Some(2),
            "validate agrees for `{what}`"
        );
    }
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let run = agora(dir.path(), &["run", "nope.ron"]);
    assert_eq!(run.status.code(), Some(2));
    assert!(stderr(&run).contains("nope.ron"), "{}", stderr(&run));
    assert!(
        stderr(&run).contains("no such scenario file"),
        "{}",
        stderr(&run)
    );
}

/// A survey of personas imported from `people.csv` next to it.
const IMPORTED_SURVEY: &str = r#"// An imported survey for tests.
Scenario(
    name: "Imported survey",
    seed: 7,
    population: (
        size: 2,
        attributes: [
            (name: "age", dist: Uniform(min: 18.0, max: 90.0)),
            (name: "region", dist: Categorical([("north", 0.5), ("south", 0.5)])),
        ],
        import: (path: "people.csv"),
    ),
    mechanism: Survey((
        mode: OnePerRound,
        items: [(id: "like", text: "Do you like it?", kind: Likert(points: 5), drivers: [("age", 0.1)])],
    )),
)
"#;

#[test]
fn import_problems_are_found_by_validate_at_their_line_and_column() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "age,region\n30,north\n-1,south\n",
            "people.csv:3:1:",
            &["value -1 is below the minimum 18", "widen min/max"],
        ),
        (
            "age,region\n30,north\n1e308,south\n",
            "people.csv:3:1:",
            &["is above the maximum 90"],
        ),
        (
            "age,region\n30,north\n41,mars\n",
            "people.csv:3:4:",
            &["unknown category \"mars\"", "north"],
        ),
        (
            "age,region,shoe\n30,north,4\n41,south,5\n",
            "people.csv:1:12:",
            &["not an attribute of the population"],
        ),
        (
            "age,region\n30,north\n",
            "imported.ron:11:",
            &["holds 1 persona but 2 were requested"],
        ),
    ];
    for (csv, location, words) in cases {
        let dir = tempfile::tempdir().unwrap();
        let scenario = write_scenario(dir.path(), "imported.ron", IMPORTED_SURVEY);
        std::fs::write(dir.path().join("people.csv"), csv).unwrap();
        let out = agora(dir.path(), &["validate", scenario.to_str().unwrap()]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{csv:?}: {err}");
        assert!(
            err.contains(location),
            "{csv:?}: expected {location} in:\n{err}"
        );
        assert!(err.contains("help:"), "{csv:?}: expected a hint in:\n{err}");
        for word in *words {
            assert!(err.contains(word), "{csv:?}: expected {word:?} in:\n{err}");
        }
    }
}

#[test]
fn a_bad_import_keeps_earlier_results_and_exits_with_2() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(dir.path(), "imported.ron", IMPORTED_SURVEY);
    let csv = dir.path().join("people.csv");
    std::fs::write(&csv, "age,region\n30,north\n41,south\n").unwrap();
    let out_dir = dir.path().join("out");
    let args = [
        "run",
        scenario.to_str().unwrap(),
        "--model",
        "rules",
        "--out",
        out_dir.to_str().unwrap(),
        "--quiet",
        "--overwrite",
    ];
    let first = agora(dir.path(), &args);
    assert!(first.status.success(), "{}", stderr(&first));
    let manifest = out_dir.join("manifest.json");
    let before = std::fs::read(&manifest).expect("the first run wrote a manifest");

    std::fs::write(&csv, "age,region\n30,north\n-1,south\n").unwrap();
    let second = agora(dir.path(), &args);
    let err = stderr(&second);
    assert_eq!(second.status.code(), Some(2), "{err}");
    assert!(err.contains("people.csv:3:1:"), "{err}");
    assert_eq!(
        std::fs::read(&manifest).ok(),
        Some(before),
        "the earlier results must be kept"
    );
}

#[test]
fn import_paths_that_are_not_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = IMPORTED_SURVEY.replace(
        "import: (path: \"people.csv\")",
        "import: (path: \"/dev/zero\", format: Csv)",
    );
    let scenario = write_scenario(dir.path(), "zero.ron", &text);
    let out = agora(dir.path(), &["validate", scenario.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("zero.ron:11:") && err.contains("not a regular file") && err.contains("help:"),
        "{err}"
    );
}

#[test]
fn agents_beyond_the_maximum_are_refused_before_sampling() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write_scenario(dir.path(), "survey.ron", SMALL_SURVEY);
    let out_dir = dir.path().join("out");
    let run = agora(
        dir.path(),
        &[
            "run",
            scenario.to_str().unwrap(),
            "--model",
            "rules",
            "--agents",
            "100000000",
            "--out",
            out_dir.to_str().unwrap(),
            "--quiet",
        ],
    );
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(2), "{err}");
    assert!(
        err.contains("100000000 agents requested")
            && err.contains("maximum population of 10000000")
            && err.contains("lower size"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        !out_dir.join("agents").exists(),
        "no population may be written"
    );
}
