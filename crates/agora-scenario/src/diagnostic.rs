//! Errors that point into the scenario file: `file:line:col`, the problem, the fix.

use std::fmt;
use std::path::{Path, PathBuf};

use ron::error::{Error as RonError, SpannedError};

/// One problem in a scenario file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The scenario file.
    pub path: PathBuf,
    /// 1-based line (0 when the problem concerns the whole file).
    pub line: usize,
    /// 1-based column.
    pub col: usize,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: error: {}", self.path.display(), self.message)?;
        } else {
            write!(
                f,
                "{}:{}:{}: error: {}",
                self.path.display(),
                self.line,
                self.col,
                self.message
            )?;
        }
        if !self.hint.is_empty() {
            write!(f, "\n  help: {}", self.hint)?;
        }
        Ok(())
    }
}

/// Every problem found in a scenario file (at least one).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioError {
    /// The problems, in file order where known.
    pub diagnostics: Vec<Diagnostic>,
}

impl ScenarioError {
    /// An error with one diagnostic.
    pub fn single(d: Diagnostic) -> Self {
        Self {
            diagnostics: vec![d],
        }
    }

    /// Whether the scenario file itself does not exist (rather than being invalid).
    pub fn is_missing_file(&self) -> bool {
        matches!(self.diagnostics.as_slice(), [d] if d.line == 0 && d.message.starts_with(MISSING_FILE))
    }
}

/// How the message about a scenario file that does not exist begins.
pub(crate) const MISSING_FILE: &str = "no such scenario file";

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// Turn a RON parse error into a diagnostic with a fix.
pub(crate) fn from_ron(path: &Path, _text: &str, err: &SpannedError) -> Diagnostic {
    let (message, hint) = explain(&err.code);
    Diagnostic {
        path: path.to_path_buf(),
        line: err.span.start.line,
        col: err.span.start.col,
        message,
        hint,
    }
}

/// Turn a mechanism block's parse error into a diagnostic; positions inside the block
/// are moved by `origin`, where the block starts in the file.
pub(crate) fn from_settings(
    path: &Path,
    text: &str,
    err: agora_core::registry::ParseSettingsError,
    origin: ron::error::Position,
) -> Diagnostic {
    use agora_core::registry::{ParseSettingsError, shift_position};
    let at = |p: ron::error::Position| shift_position(p, origin);
    match err {
        ParseSettingsError::Ron(e) => {
            let start = at(e.span.start);
            let mut d = from_ron(path, text, &e);
            d.line = start.line;
            d.col = start.col;
            d
        }
        ParseSettingsError::Unknown {
            found,
            known,
            at: p,
        } => {
            let p = at(p);
            Diagnostic {
                path: path.to_path_buf(),
                line: p.line,
                col: p.col,
                message: format!("unknown mechanism `{found}`"),
                hint: suggest(&found, &known, "choices"),
            }
        }
        ParseSettingsError::Shape { known, at: p } => {
            let p = at(p);
            Diagnostic {
                path: path.to_path_buf(),
                line: p.line,
                col: p.col,
                message: "the mechanism block must be `Name(( ... ))`".into(),
                hint: format!(
                    "write for example `mechanism: Survey(( items: [...] ))`; mechanisms: {}",
                    known.join(", ")
                ),
            }
        }
    }
}

fn explain(code: &RonError) -> (String, String) {
    match code {
        RonError::NoSuchStructField {
            expected,
            found,
            outer,
        } => (
            format!("unknown key `{found}`{}", within(outer)),
            suggest(found, expected, "keys"),
        ),
        RonError::NoSuchEnumVariant {
            expected,
            found,
            outer,
        } => (
            format!("unknown {} `{found}`", variant_noun(outer)),
            suggest(found, expected, "choices"),
        ),
        RonError::MissingStructField { field, outer } => (
            format!("missing key `{field}`{}", within(outer)),
            format!("add `{field}: ...` to this block"),
        ),
        RonError::DuplicateStructField { field, outer } => (
            format!("key `{field}` is given twice{}", within(outer)),
            "keep one of them".into(),
        ),
        RonError::Message(msg) => {
            let (problem, hint) = agora_population::split_hint(msg);
            (problem.to_string(), hint.unwrap_or("").to_string())
        }
        RonError::ExpectedDifferentStructName { expected, found } => (
            format!("expected `{expected}(...)`, found `{found}(...)`"),
            format!("rename the block to `{expected}`"),
        ),
        other => (
            other.to_string(),
            "check the RON syntax here: parentheses, commas, quotes".into(),
        ),
    }
}

fn within(outer: &Option<String>) -> String {
    outer
        .as_ref()
        .map(|o| format!(" in `{o}`"))
        .unwrap_or_default()
}

fn variant_noun(outer: &Option<String>) -> String {
    match outer.as_deref() {
        Some("MechanismSpec") => "mechanism".into(),
        Some("dist") | Some("Dist") => "distribution".into(),
        Some(o) => format!("variant of `{o}`"),
        None => "variant".into(),
    }
}

fn suggest(found: &str, expected: &[&str], noun: &str) -> String {
    let close = expected
        .iter()
        .filter(|e| edit_distance(found, e) <= 2.max(found.len() / 3))
        .min_by_key(|e| edit_distance(found, e));
    let list = expected
        .iter()
        .map(|e| format!("`{e}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match close {
        Some(c) => format!("did you mean `{c}`? valid {noun}: {list}"),
        None => format!("valid {noun}: {list}"),
    }
}

/// Levenshtein distance, for "did you mean" hints.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_name_the_closest_key() {
        assert_eq!(edit_distance("sead", "seed"), 1);
        assert!(suggest("sead", &["seed", "name"], "keys").starts_with("did you mean `seed`?"));
        assert!(suggest("zzzzzz", &["seed"], "keys").starts_with("valid keys"));
    }
}
