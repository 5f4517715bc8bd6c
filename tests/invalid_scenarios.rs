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
    assert!(stderr(&run).contains("cannot read"), "{}", stderr(&run));
}
