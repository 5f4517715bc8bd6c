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

#[test]
fn every_kind_of_mistake_is_reported_with_position_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let valid = write_scenario(dir.path(), "valid.ron", SMALL_SURVEY);
    let ok = agora(dir.path(), &["validate", valid.to_str().unwrap()]);
    assert!(
        ok.status.success(),
        "the base scenario is valid: {}",
        stderr(&ok)
    );

    for (i, (what, from, to, line, words)) in CASES.iter().enumerate() {
        assert!(
            SMALL_SURVEY.contains(from),
            "case `{what}`: base text lacks {from:?}"
        );
        let text = SMALL_SURVEY.replacen(from, to, 1);
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
