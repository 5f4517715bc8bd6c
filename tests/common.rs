//! Helpers shared by the end-to-end tests of the `agora` binary.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;

/// The repository root (where `scenarios/` lives).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Run the `agora` binary with `args` in `cwd`.
pub fn agora(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_agora"))
        .current_dir(cwd)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .output()
        .expect("the agora binary runs")
}

/// Run `scenarios/{name}.ron` with rule-based agents, two replicates, into `out`
/// (below `dir`) with `extra` arguments; the run must succeed.
pub fn run_with_rules(dir: &Path, name: &str, out: &str, extra: &[&str]) {
    let scenario = repo().join(format!("scenarios/{name}.ron"));
    let mut args = vec![
        "run",
        scenario.to_str().unwrap(),
        "--model",
        "rules",
        "--replicates",
        "2",
        "--out",
        out,
        "--quiet",
    ];
    args.extend_from_slice(extra);
    let run = agora(dir, &args);
    assert!(run.status.success(), "{name}: {}", stderr(&run));
}

/// The arguments of a rule-based run of `scenario` (2 replicates of 60 agents) into
/// `out`, then `extra`.
pub fn rules_run_args<'a>(scenario: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "run",
        scenario,
        "--model",
        "rules",
        "--replicates",
        "2",
        "--agents",
        "60",
        "--out",
        out,
        "--quiet",
    ];
    args.extend_from_slice(extra);
    args
}

/// Standard error as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Standard output as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Rows in a Parquet file, or in all segment files of a partition.
pub fn parquet_rows(path: &Path) -> i64 {
    parts(path)
        .iter()
        .map(|path| {
            let file = File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            SerializedFileReader::new(file)
                .expect("a Parquet file")
                .metadata()
                .file_metadata()
                .num_rows()
        })
        .sum()
}

/// The text values of `column` in a Parquet file or a partition's segment files, in
/// row order (`None` for nulls).
pub fn text_column(path: &Path, column: &str) -> Vec<Option<String>> {
    parts(path)
        .iter()
        .flat_map(|file| text_column_of_file(file, column))
        .collect()
}

fn text_column_of_file(path: &Path, column: &str) -> Vec<Option<String>> {
    let file = File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let reader = SerializedFileReader::new(file).expect("a Parquet file");
    reader
        .get_row_iter(None)
        .expect("readable rows")
        .map(|row| {
            let row = row.expect("a row");
            row.get_column_iter()
                .find(|(name, _)| name.as_str() == column)
                .and_then(|(_, field)| match field {
                    parquet::record::Field::Str(s) => Some(s.clone()),
                    _ => None,
                })
        })
        .collect()
}

/// The directory of `table` for arm `arm`, replicate `rep` below `out` (one Parquet
/// file per segment: the set-up, then each round).
pub fn table_file(out: &Path, table: &str, arm: &str, rep: u32) -> PathBuf {
    out.join(table)
        .join(format!("arm={arm}"))
        .join(format!("replicate={rep}"))
}

/// The Parquet files at `path`: the file itself, or a partition's segment files in order.
pub fn parts(path: &Path) -> Vec<PathBuf> {
    if !path.is_dir() {
        return vec![path.to_path_buf()];
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    files.sort();
    files
}

/// The bytes of every segment file at `path`, concatenated in order.
pub fn table_bytes(path: impl AsRef<Path>) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    for file in parts(path.as_ref()) {
        out.extend(std::fs::read(file)?);
    }
    Ok(out)
}

/// A small, valid survey scenario exercising every item kind and population feature.
pub const SMALL_SURVEY: &str = r#"// A small survey for tests.
Scenario(
    name: "Test survey",
    seed: 7,
    population: (
        size: 50,
        attributes: [
            (name: "age", dist: Normal(mean: 40.0, std_dev: 12.0, min: 18.0, max: 90.0), round: true),
            (name: "region", dist: Categorical([("north", 0.4), ("south", 0.6)])),
            (name: "job", dist: Conditional(given: "region", table: [
                ("north", [("office", 0.5), ("field", 0.5)]),
                ("south", [("office", 0.2), ("field", 0.8)]),
            ])),
        ],
        quotas: ["region"],
        custom_traits: [(name: "thrift", dist: Beta(alpha: 2.0, beta: 2.0))],
    ),
    mechanism: Survey((
        mode: OnePerRound,
        items: [
            (id: "like", text: "Do you like it?", kind: Likert(points: 5), drivers: [("openness", 0.5), ("thrift", -0.3)]),
            (id: "brand", text: "Which brand?", kind: SingleChoice(options: ["A", "B", "C"]), drivers: [("region=north", 0.4)]),
            (id: "pay", text: "How much would you pay?", kind: Numeric(min: 0.0, max: 50.0), drivers: [("age", 0.2)]),
            (id: "why", text: "Why?", kind: FreeText(max_chars: 80)),
        ],
    )),
)
"#;

/// Write `text` as `name` in `dir` and return its path.
pub fn write_scenario(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("writing a scenario");
    path
}

/// Every file below `root` except Agora's own state (`.agora`), by relative path.
fn files(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, into: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().is_some_and(|n| n == ".agora") {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, into);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                into.insert(path.strip_prefix(root).unwrap().to_path_buf(), bytes);
            }
        }
    }
    let mut found = BTreeMap::new();
    walk(root, root, &mut found);
    found
}

/// Assert that `sharded` holds exactly the files of `single`, with the same bytes.
pub fn assert_same_files(single: &Path, sharded: &Path) {
    let a = files(single);
    let b = files(sharded);
    let names = |m: &BTreeMap<PathBuf, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&a), names(&b), "the same files");
    for (name, bytes) in &a {
        assert!(
            *bytes == b[name],
            "{} differs between the single-machine run and the merged shards",
            name.display()
        );
    }
    for table in ["stats", "diagnostics"] {
        assert!(
            a.keys().any(|p| p.starts_with(table)),
            "the single-machine run wrote {table}"
        );
    }
}

/// One row of a Parquet file, by column name.
pub type Row = BTreeMap<String, Field>;

/// Every row of the Parquet file `file`.
pub fn rows(file: &Path) -> Vec<Row> {
    let reader = SerializedFileReader::new(
        File::open(file).unwrap_or_else(|e| panic!("{}: {e}", file.display())),
    )
    .expect("a Parquet file");
    reader
        .get_row_iter(None)
        .expect("rows")
        .map(|r| {
            r.expect("a row")
                .get_column_iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .collect()
}

/// The text in `column` of `row` (panics when it holds none).
pub fn text(row: &Row, column: &str) -> String {
    match row.get(column) {
        Some(Field::Str(s)) => s.clone(),
        other => panic!("{column}: {other:?}"),
    }
}

/// The 64-bit float in `column` of `row` (panics when it holds none).
pub fn number(row: &Row, column: &str) -> f64 {
    match row.get(column) {
        Some(Field::Double(x)) => *x,
        other => panic!("{column}: {other:?}"),
    }
}
