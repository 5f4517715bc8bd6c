//! Human answers to compare a scenario's simulated answers with: the `reference:` block
//! and its file, read and checked before anything runs.
//!
//! The file is a CSV with a header row and one row per respondent: one column per
//! question answered (matched to the mechanism's questions by name, or as `items:`
//! maps them), and any attributes (for segments and the statistical baseline). Ordinal
//! answers must be whole scale points, categorical answers known option labels, numeric
//! answers numbers; an empty cell is a missing answer. Every problem names the file,
//! the line and the column, and the fix.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use agora_core::outcome::{Question, Scale};
use serde::Deserialize;

/// Largest reference file read (64 MiB).
pub const MAX_REFERENCE_BYTES: u64 = 64 << 20;

/// The `reference:` block.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceSpec {
    /// CSV file of human answers, one row per respondent (relative to the scenario).
    pub path: PathBuf,
    /// Question id to column name, for questions whose column is named otherwise;
    /// every question with a column of its own name is compared too.
    #[serde(default)]
    pub items: BTreeMap<String, String>,
    /// Agent k is the digital twin of the respondent in row k (the population imports
    /// the same rows): answers are compared person by person too.
    #[serde(default)]
    pub twins: bool,
    /// Test-retest agreement of people with themselves per question (Park et al.'s
    /// ceiling): normalised accuracy is twin accuracy divided by it.
    #[serde(default)]
    pub retest: BTreeMap<String, f64>,
    /// Columns of the file a multinomial logit baseline predicts answers from (fitted
    /// on half of the respondents, scored on the other half); none when empty.
    #[serde(default)]
    pub baseline: Vec<String>,
}

/// One human answer.
#[derive(Clone, Debug, PartialEq)]
pub enum HumanAnswer {
    /// A scale point or a number.
    Number(f64),
    /// An option's label.
    Label(String),
}

/// The reference file, read and checked.
#[derive(Clone, Debug, PartialEq)]
pub struct ReferenceData {
    /// The block as written.
    pub spec: ReferenceSpec,
    /// The file's resolved path.
    pub file: PathBuf,
    /// Respondents (rows).
    pub rows: usize,
    /// Per compared question (by question id), its column and one answer per row.
    pub answers: BTreeMap<String, (String, Vec<Option<HumanAnswer>>)>,
    /// Every column's text, per row (for segments and the baseline).
    pub columns: BTreeMap<String, Vec<Option<String>>>,
}

/// A problem in the reference file or block: where, what, how to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferenceProblem {
    /// The file concerned (the reference file, or `None` for the scenario's block).
    pub file: Option<PathBuf>,
    /// 1-based line in that file (0: the whole file).
    pub line: usize,
    /// 1-based column number (the CSV field) where known.
    pub col: usize,
    /// Text to find in the scenario when the problem is in the block.
    pub needle: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

fn block_problem(needle: &str, message: String, hint: String) -> ReferenceProblem {
    ReferenceProblem {
        file: None,
        line: 0,
        col: 0,
        needle: needle.to_string(),
        message,
        hint,
    }
}

/// Read and check the reference of `spec` against the mechanism's `questions`
/// (`base`: the scenario's folder).
pub fn load(
    spec: &ReferenceSpec,
    questions: &[Question],
    base: &Path,
) -> Result<ReferenceData, ReferenceProblem> {
    let file = if spec.path.is_absolute() {
        spec.path.clone()
    } else {
        base.join(&spec.path)
    };
    let shown = spec.path.display().to_string();
    let meta = std::fs::metadata(&file).map_err(|e| {
        block_problem(
            &shown,
            format!("cannot read the reference file {}: {e}", file.display()),
            "give the path of a CSV file of human answers, relative to the scenario".into(),
        )
    })?;
    if !meta.is_file() || meta.len() > MAX_REFERENCE_BYTES {
        return Err(block_problem(
            &shown,
            format!(
                "the reference {} is not a regular file of at most 64 MiB",
                file.display()
            ),
            "keep the respondents and columns you compare; split larger studies".into(),
        ));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(&file)
        .map_err(|e| {
            block_problem(
                &shown,
                format!("cannot read {}: {e}", file.display()),
                "check the file is a CSV with a header row".into(),
            )
        })?;
    let at = |line: u64, col: usize, message: String, hint: String| ReferenceProblem {
        file: Some(file.clone()),
        line: line as usize,
        col,
        needle: String::new(),
        message,
        hint,
    };
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| {
            at(
                1,
                1,
                format!("unreadable header: {e}"),
                "the first line names the columns".into(),
            )
        })?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let mut columns: BTreeMap<String, Vec<Option<String>>> =
        header.iter().map(|h| (h.clone(), Vec::new())).collect();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            at(
                line,
                1,
                format!("unreadable row: {e}"),
                "every row needs as many fields as the header".into(),
            )
        })?;
        for (h, value) in header.iter().zip(record.iter()) {
            let v = value.trim();
            if let Some(col) = columns.get_mut(h) {
                col.push((!v.is_empty()).then(|| v.to_string()));
            }
        }
    }
    let rows = columns.values().next().map_or(0, Vec::len);
    if rows == 0 {
        return Err(at(
            2,
            1,
            "the reference file has no respondents".into(),
            "add one row per respondent below the header".into(),
        ));
    }
    for (item, column) in &spec.items {
        if !questions.iter().any(|q| &q.id == item) {
            let ids: Vec<&str> = questions.iter().map(|q| q.id.as_str()).collect();
            return Err(block_problem(
                &format!("\"{item}\""),
                format!(
                    "the reference maps \"{item}\", which is no question of the mechanism with a fixed scale"
                ),
                format!("use one of: {}", ids.join(", ")),
            ));
        }
        if !columns.contains_key(column) {
            return Err(block_problem(
                &format!("\"{column}\""),
                format!(
                    "the reference file {} has no column \"{column}\"",
                    file.display()
                ),
                format!("its columns are: {}", header.join(", ")),
            ));
        }
    }
    for column in spec.baseline.iter() {
        if !columns.contains_key(column) {
            return Err(block_problem(
                &format!("\"{column}\""),
                format!(
                    "the baseline names the column \"{column}\", which the reference file lacks"
                ),
                format!("its columns are: {}", header.join(", ")),
            ));
        }
    }
    for item in spec.retest.keys() {
        if !questions.iter().any(|q| &q.id == item) {
            return Err(block_problem(
                &format!("\"{item}\""),
                format!("retest names \"{item}\", which is no question of the mechanism"),
                "give test-retest agreement for the questions compared".into(),
            ));
        }
    }
    if let Some((item, r)) = spec.retest.iter().find(|(_, r)| !(**r > 0.0 && **r <= 1.0)) {
        return Err(block_problem(
            &format!("\"{item}\""),
            format!("retest agreement of \"{item}\" is {r}, not within (0, 1]"),
            "give the share of answers people repeat, for example 0.8".into(),
        ));
    }
    let mut answers = BTreeMap::new();
    for q in questions {
        let column = spec
            .items
            .get(&q.id)
            .cloned()
            .unwrap_or_else(|| q.id.clone());
        let Some(values) = columns.get(&column) else {
            continue;
        };
        let col = header
            .iter()
            .position(|h| *h == column)
            .map_or(1, |i| i + 1);
        let mut parsed = Vec::with_capacity(rows);
        for (row, value) in values.iter().enumerate() {
            let line = row as u64 + 2;
            let Some(v) = value else {
                parsed.push(None);
                continue;
            };
            let answer = match &q.scale {
                Scale::Ordinal(points) => match v.parse::<f64>() {
                    Ok(x) if x.fract() == 0.0 && x >= 1.0 && x <= f64::from(*points) => {
                        HumanAnswer::Number(x)
                    }
                    _ => {
                        return Err(at(
                            line,
                            col,
                            format!(
                                "column \"{column}\": \"{v}\" is not a point of the {points}-point scale of question \"{}\"",
                                q.id
                            ),
                            format!(
                                "write a whole number from 1 to {points}, or leave the cell empty for a missing answer"
                            ),
                        ));
                    }
                },
                Scale::Categorical(options) => {
                    if !options.iter().any(|o| o == v) {
                        return Err(at(
                            line,
                            col,
                            format!(
                                "column \"{column}\": \"{v}\" is not an option of question \"{}\"",
                                q.id
                            ),
                            format!("use one of the question's options: {}", options.join(", ")),
                        ));
                    }
                    HumanAnswer::Label(v.clone())
                }
                Scale::Numeric => match v.parse::<f64>() {
                    Ok(x) if x.is_finite() => HumanAnswer::Number(x),
                    _ => {
                        return Err(at(
                            line,
                            col,
                            format!("column \"{column}\": \"{v}\" is not a number"),
                            "write a number, or leave the cell empty for a missing answer".into(),
                        ));
                    }
                },
            };
            parsed.push(Some(answer));
        }
        answers.insert(q.id.clone(), (column, parsed));
    }
    if answers.is_empty() {
        return Err(block_problem(
            "reference",
            format!(
                "the reference file {} has no column for any question",
                file.display()
            ),
            format!(
                "name columns after the questions ({}) or map them with `items: {{\"question\": \"column\"}}`",
                questions
                    .iter()
                    .map(|q| q.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    Ok(ReferenceData {
        spec: spec.clone(),
        file,
        rows,
        answers,
        columns,
    })
}
