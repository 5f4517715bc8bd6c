//! Errors the sampler reports, and the "problem; hint" convention every message follows.
//!
//! All messages produced by this crate (serde errors raised while a scenario is parsed,
//! [`SpecIssue`]s and [`PopulationError`]s) say what is wrong first and how to fix it
//! second, separated by [`HINT_SEPARATOR`]. Front ends may show the message as is or
//! split it with [`split_hint`] to style the hint differently.

use std::fmt;
use std::path::PathBuf;

use crate::validate::SpecIssue;

/// Separator between the problem and the fix in every message of this crate.
pub const HINT_SEPARATOR: &str = "; ";

/// Split a message into its problem and its hint.
///
/// The split happens at the first [`HINT_SEPARATOR`] that is not inside a double-quoted
/// label (labels are printed with Rust string escaping, so quotes inside them are
/// escaped). Returns the whole message and `None` when it carries no hint.
pub fn split_hint(message: &str) -> (&str, Option<&str>) {
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in message.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            _ if !in_quotes && message[i..].starts_with(HINT_SEPARATOR) => {
                return (&message[..i], Some(&message[i + HINT_SEPARATOR.len()..]));
            }
            _ => {}
        }
    }
    (message, None)
}

/// Join a problem and a hint with [`HINT_SEPARATOR`].
pub(crate) fn with_hint(problem: impl fmt::Display, hint: impl fmt::Display) -> String {
    format!("{problem}{HINT_SEPARATOR}{hint}")
}

/// Why a population could not be produced.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PopulationError {
    /// Zero agents were requested; a population needs at least one.
    #[error(
        "size must be at least 1, got 0; set size (or the agent count given on the command line) to the number of agents to simulate, e.g. 100"
    )]
    EmptyPopulation,
    /// The spec failed [`PopulationSpec::validate`](crate::PopulationSpec::validate);
    /// holds every issue found (never empty).
    #[error("{}", render_issues(.0))]
    InvalidSpec(Vec<SpecIssue>),
    /// Reading or interpreting the import file failed.
    #[error(transparent)]
    Import(#[from] ImportError),
    /// More agents were requested than [`MAX_POPULATION`](crate::MAX_POPULATION).
    #[error(
        "{agents} agents requested, more than the maximum population of {max}; lower size (or the agent count given on the command line) to at most {max}, or split the population into several runs"
    )]
    TooManyAgents {
        /// Agents requested.
        agents: u64,
        /// The maximum.
        max: usize,
    },
    /// The population's estimated memory exceeds the share of memory it may use.
    #[error(
        "{agents} agents need about {} ({bytes_per_agent} bytes per agent), more than the limit of {} ({}% of the {} of memory available); lower size (or the agent count given on the command line) to at most {}, or drop attributes or custom traits",
        crate::limits::human_bytes(*.estimate),
        crate::limits::human_bytes(*.limit),
        crate::limits::MEMORY_SHARE_PERCENT,
        crate::limits::human_bytes(*.available),
        .limit / .bytes_per_agent.max(&1)
    )]
    OutOfMemory {
        /// Agents requested.
        agents: u64,
        /// Estimated bytes per agent.
        bytes_per_agent: u64,
        /// Estimated bytes for the whole population.
        estimate: u64,
        /// Most bytes the population may use.
        limit: u64,
        /// Memory available on the machine, in bytes.
        available: u64,
    },
}

fn render_issues(issues: &[SpecIssue]) -> String {
    issues
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// A problem with an import file, located as precisely as the problem allows.
///
/// Displayed as `file:line:col: column "x": problem; hint`, leaving out the parts that
/// do not apply (a missing file has no line, a short file has no column).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ImportError {
    /// The import file, as resolved against the scenario's folder.
    pub file: PathBuf,
    /// 1-based line in the file (the header is line 1 of a CSV file).
    pub line: Option<usize>,
    /// 1-based character column of the bad value on its line, when known.
    pub col: Option<u32>,
    /// Column (CSV header name or JSONL key) holding the bad value.
    pub column: Option<String>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

impl ImportError {
    pub(crate) fn new(
        file: &std::path::Path,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Self {
            file: file.to_path_buf(),
            line: None,
            col: None,
            column: None,
            message: message.into(),
            hint: hint.into(),
        }
    }

    pub(crate) fn at_line(mut self, line: usize) -> Self {
        self.line = Some(line);
        self
    }

    pub(crate) fn at_col(mut self, col: usize) -> Self {
        self.col = Some(u32::try_from(col).unwrap_or(u32::MAX));
        self
    }

    pub(crate) fn in_column(mut self, column: &str) -> Self {
        self.column = Some(column.to_string());
        self
    }

    fn render(&self) -> String {
        let mut out = self.file.display().to_string();
        if let Some(line) = self.line {
            out.push_str(&format!(":{line}"));
            if let Some(col) = self.col {
                out.push_str(&format!(":{col}"));
            }
        }
        out.push_str(": ");
        if let Some(column) = &self.column {
            out.push_str(&format!("column {column:?}: "));
        }
        out.push_str(&with_hint(&self.message, &self.hint));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_hint_ignores_separators_inside_labels() {
        let msg = r#"unknown category "a; b"; use one of "x""#;
        assert_eq!(
            split_hint(msg),
            (r#"unknown category "a; b""#, Some(r#"use one of "x""#))
        );
        assert_eq!(split_hint("no hint here"), ("no hint here", None));
        let escaped = r#"label "say \"hi; there\"" is odd; rename it"#;
        assert_eq!(split_hint(escaped).1, Some("rename it"));
    }

    #[test]
    fn import_error_names_file_line_and_column() {
        let e = ImportError::new(std::path::Path::new("p.csv"), "bad", "fix it")
            .at_line(3)
            .in_column("age");
        assert_eq!(e.to_string(), r#"p.csv:3: column "age": bad; fix it"#);
        let e = e.at_col(7);
        assert_eq!(e.to_string(), r#"p.csv:3:7: column "age": bad; fix it"#);
    }
}
