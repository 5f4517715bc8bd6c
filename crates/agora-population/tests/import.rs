//! Importing personas from CSV and JSONL files.

use std::path::Path;

use agora_core::components::{AttrKind, AttrValue};
use agora_core::seed::SeedStream;
use agora_population::{ImportError, PopulationError, PopulationSpec, SampledPopulation, sample};

fn parse(src: &str) -> PopulationSpec {
    ron::Options::default()
        .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
        .from_str(src)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A spec importing `file` (written into a fresh folder) with `attributes`.
fn setup(file: &str, contents: &str, attributes: &str) -> (tempfile::TempDir, PopulationSpec) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join(file), contents).unwrap_or_else(|e| panic!("{e}"));
    let spec = parse(&format!(
        r#"(attributes: [{attributes}], custom_traits: [(name: "thrift", dist: Beta(alpha: 2.0, beta: 2.0))], import: (path: {file:?}))"#
    ));
    (dir, spec)
}

fn run(dir: &Path, spec: &PopulationSpec, n: usize) -> Result<SampledPopulation, PopulationError> {
    sample(spec, n, &SeedStream::new(1), dir)
}

fn import_error(result: Result<SampledPopulation, PopulationError>) -> ImportError {
    match result {
        Err(PopulationError::Import(e)) => e,
        other => panic!("expected an import error, got {other:?}"),
    }
}

const ATTRS: &str = r#"(name: "age", dist: Uniform(min: 18.0, max: 90.0)),
    (name: "region", dist: Categorical([("north", 0.5), ("south", 0.5)]))"#;

const CSV: &str = "name,age,region,openness,thrift\n\
Ana Silva,34,north,0.9,0.2\n\
,51,south,,\n\
Bo Chen,,north,0.1,\n";

#[test]
fn csv_with_spec_attributes() {
    let (dir, spec) = setup("people.csv", CSV, ATTRS);
    let pop = run(dir.path(), &spec, 3).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        pop.schema.attributes[1].kind,
        AttrKind::Categorical(vec!["north".into(), "south".into()])
    );
    let [a, b, c] = &pop.personas[..] else {
        panic!("3 personas")
    };
    assert_eq!(a.identity.name, "Ana Silva");
    assert_eq!(
        a.demographics.0,
        vec![AttrValue::Number(34.0), AttrValue::Category(0)]
    );
    assert_eq!(a.identity.narrative, "");
    assert_eq!((a.traits.big_five[0], a.traits.custom[0]), (0.9, 0.2));
    // Empty cells: the name is generated, traits are sampled, the value is missing.
    assert!(
        !b.identity.name.is_empty()
            && b.identity.name != "Ana Silva"
            && b.identity.name != "Bo Chen"
    );
    assert!((0.0..=1.0).contains(&b.traits.custom[0]));
    assert_eq!(c.demographics.0[0], AttrValue::Missing);
    assert_eq!(c.identity.narrative, "");
    // Targets come from the spec.
    let north = pop
        .marginals
        .iter()
        .find(|r| r.level == "north")
        .map(|r| (r.target, r.observed));
    assert_eq!(north, Some((0.5, 2.0 / 3.0)));
}

#[test]
fn fewer_agents_than_rows_takes_the_first_rows() {
    let (dir, spec) = setup("people.csv", CSV, ATTRS);
    let pop = run(dir.path(), &spec, 1).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pop.personas.len(), 1);
    assert_eq!(pop.personas[0].identity.name, "Ana Silva");
}

#[test]
fn more_agents_than_rows_is_explained() {
    let (dir, spec) = setup("people.csv", CSV, ATTRS);
    let e = import_error(run(dir.path(), &spec, 10));
    let msg = e.to_string();
    assert!(
        msg.contains("people.csv") && msg.contains("holds 3 personas but 10 were requested"),
        "{msg}"
    );
    assert!(msg.contains("to at most 3"), "{msg}");
}

#[test]
fn jsonl_with_inferred_schema() {
    let jsonl = r#"{"name": "Kofi Mensah", "age": 40, "city": "Accra", "member": true}

{"age": 22.5, "city": "Lagos", "score": null}
{"city": "Accra", "age": 31, "openness": 0.3}
"#;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("people.jsonl"), jsonl).unwrap_or_else(|e| panic!("{e}"));
    let spec = parse(r#"(import: (path: "people.jsonl"))"#);
    let pop = run(dir.path(), &spec, 3).unwrap_or_else(|e| panic!("{e}"));
    let kinds: Vec<(&str, &AttrKind)> = pop
        .schema
        .attributes
        .iter()
        .map(|a| (a.name.as_str(), &a.kind))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("age", &AttrKind::Numeric),
            (
                "city",
                &AttrKind::Categorical(vec!["Accra".into(), "Lagos".into()])
            ),
            ("member", &AttrKind::Categorical(vec!["true".into()])),
            ("score", &AttrKind::Text),
        ]
    );
    assert_eq!(pop.personas[0].identity.name, "Kofi Mensah");
    assert_eq!(
        pop.personas[1].demographics.0[..2],
        [AttrValue::Number(22.5), AttrValue::Category(1)]
    );
    assert_eq!(pop.personas[1].demographics.0[2], AttrValue::Missing);
    assert_eq!(pop.personas[2].traits.big_five[0], 0.3);
    let age = pop
        .marginals
        .iter()
        .find(|r| r.attribute == "age" && r.level == "mean");
    assert!(age.is_some_and(|r| r.target.is_nan() && (r.observed - 93.5 / 3.0).abs() < 1e-9));
}

#[test]
fn unknown_category_names_file_line_column_and_fix() {
    let (dir, spec) = setup("people.csv", "age,region\n30,north\n41,mars\n", ATTRS);
    let e = import_error(run(dir.path(), &spec, 2));
    assert_eq!((e.line, e.column.as_deref()), (Some(3), Some("region")));
    let msg = e.to_string();
    assert!(
        msg.contains("people.csv:3:4: column \"region\": unknown category \"mars\""),
        "{msg}"
    );
    assert!(
        msg.contains("use one of \"north\", \"south\", or add \"mars\""),
        "{msg}"
    );
}

#[test]
fn bad_number_names_file_line_and_column() {
    let (dir, spec) = setup(
        "people.jsonl",
        "{\"age\": 30, \"region\": \"north\"}\n{\"age\": \"old\", \"region\": \"north\"}\n",
        ATTRS,
    );
    let e = import_error(run(dir.path(), &spec, 2));
    let msg = e.to_string();
    assert!(
        msg.contains(
            "people.jsonl:2:2: column \"age\": \"old\" is not a number; write a plain number"
        ),
        "{msg}"
    );
}

#[test]
fn missing_file_is_reported_with_its_resolved_path() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let spec = parse(r#"(import: (path: "nowhere.csv"))"#);
    let e = import_error(run(dir.path(), &spec, 1));
    assert_eq!(e.file, dir.path().join("nowhere.csv"));
    let msg = e.to_string();
    assert!(
        msg.contains("cannot read the import file")
            && msg.contains("resolved against the scenario's folder"),
        "{msg}"
    );
}

#[test]
fn column_and_row_problems_are_located() {
    let cases: [(&str, &str, Option<usize>, &str); 6] = [
        (
            "age,regoin\n30,north\n",
            "people.csv",
            Some(1),
            "is not an attribute of the population",
        ),
        (
            "age\n30\n",
            "people.csv",
            None,
            "no column for attribute \"region\"",
        ),
        (
            "name,age,region\nAna,30,north\nAna,31,south\n",
            "people.csv",
            Some(3),
            "name \"Ana\" is already used on line 2",
        ),
        (
            "age,region,openness\n30,north,1.5\n",
            "people.csv",
            Some(2),
            "trait value must be between 0 and 1, got 1.5",
        ),
        (
            "age,region\n30,north,extra\n",
            "people.csv",
            Some(2),
            "cannot read CSV",
        ),
        (
            "{\"age\": 30, \"region\": \"north\"}\n[1, 2]\n",
            "people.jsonl",
            Some(2),
            "line is not a JSON object",
        ),
    ];
    for (contents, file, line, needle) in cases {
        let (dir, spec) = setup(file, contents, ATTRS);
        let e = import_error(run(dir.path(), &spec, 2));
        assert_eq!(e.line, line, "{e}");
        assert!(e.to_string().contains(needle) && !e.hint.is_empty(), "{e}");
    }
}

#[test]
fn non_regular_files_are_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir(dir.path().join("people.csv")).unwrap_or_else(|e| panic!("{e}"));
    let spec = parse(r#"(import: (path: "people.csv"))"#);
    let msg = import_error(run(dir.path(), &spec, 1)).to_string();
    assert!(
        msg.contains("people.csv: the import path is a directory"),
        "{msg}"
    );
    let zero = parse(r#"(import: (path: "/dev/zero", format: Csv))"#);
    let msg = import_error(run(dir.path(), &zero, 1)).to_string();
    assert!(
        msg.contains("/dev/zero: the import path is not a regular file")
            && msg.contains("point import path at a .csv or .jsonl file"),
        "{msg}"
    );
}

#[test]
fn files_above_the_size_limit_are_refused() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("people.csv");
    let file = std::fs::File::create(&path).unwrap_or_else(|e| panic!("{e}"));
    file.set_len(agora_population::MAX_IMPORT_BYTES + 1)
        .unwrap_or_else(|e| panic!("{e}"));
    let spec = parse(r#"(import: (path: "people.csv"))"#);
    let msg = import_error(run(dir.path(), &spec, 1)).to_string();
    assert!(
        msg.contains("more than the limit of 67108864 bytes (64 MiB)"),
        "{msg}"
    );
}

#[test]
fn too_many_columns_are_refused_at_the_first_extra_column() {
    let header: Vec<String> = (0..1_001).map(|i| format!("c{i}")).collect();
    let row = vec!["1"; 1_001].join(",");
    let (dir, _) = setup("wide.csv", &format!("{}\n{row}\n", header.join(",")), ATTRS);
    let spec = parse(r#"(import: (path: "wide.csv"))"#);
    let e = import_error(run(dir.path(), &spec, 1));
    let col = header[..1_000].iter().map(|h| h.len() + 1).sum::<usize>() + 1;
    assert_eq!(
        (e.line, e.col, e.column.as_deref()),
        (Some(1), Some(col as u32), Some("c1000"))
    );
    assert!(e.to_string().contains("more than the limit of 1000"), "{e}");

    let keys: Vec<String> = (0..1_001).map(|i| format!("\"k{i}\": 1")).collect();
    let (dir, _) = setup("wide.jsonl", &format!("{{{}}}\n", keys.join(", ")), ATTRS);
    let spec = parse(r#"(import: (path: "wide.jsonl"))"#);
    let e = import_error(run(dir.path(), &spec, 1));
    assert_eq!((e.line, e.column.as_deref()), (Some(1), Some("k1000")));
    assert!(e.col.is_some_and(|c| c > 1), "{e}");
}

#[test]
fn over_long_lines_are_refused_with_line_and_column() {
    let long = "x".repeat(agora_population::MAX_IMPORT_LINE_BYTES + 10);
    let (dir, spec) = setup(
        "people.csv",
        &format!("age,region,narrative\n30,north,{long}\n"),
        ATTRS,
    );
    let e = import_error(run(dir.path(), &spec, 1));
    assert_eq!(
        (e.line, e.col),
        (
            Some(2),
            Some(agora_population::MAX_IMPORT_LINE_BYTES as u32 + 1)
        )
    );
    assert!(e.to_string().contains("longer than the limit"), "{e}");
}

#[test]
fn imported_values_must_lie_within_the_attribute_bounds() {
    for (value, words) in [
        (
            "-1",
            "value -1 is below the minimum 18 of attribute \"age\"",
        ),
        ("1e308", "is above the maximum 90 of attribute \"age\""),
    ] {
        let (dir, spec) = setup(
            "people.csv",
            &format!("age,region\n30,north\n{value},south\n"),
            ATTRS,
        );
        let e = import_error(run(dir.path(), &spec, 2));
        assert_eq!((e.line, e.col), (Some(3), Some(1)), "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains(words) && msg.contains("widen min/max"),
            "{msg}"
        );
        // Checking the import alone finds the same problem.
        let checked = agora_population::check_import(&spec, 2, dir.path()).err();
        assert_eq!(checked, Some(e));
    }
}

#[test]
fn check_import_reports_too_few_rows() {
    let (dir, spec) = setup("people.csv", CSV, ATTRS);
    assert_eq!(agora_population::check_import(&spec, 3, dir.path()), Ok(()));
    let e = agora_population::check_import(&spec, 5, dir.path()).err();
    assert!(
        e.is_some_and(|e| e.message.contains("holds 3 personas but 5 were requested")),
        "too few rows"
    );
}
