//! Finding where in the file a cross-section problem is, from the text that names it.

use std::path::Path;

use crate::diagnostic::Diagnostic;
use crate::file::Issue;

/// Place `issue` at the first occurrence of its needle (after its section key, when
/// that key is found), or at the section key, or at the top of the file.
pub(crate) fn diagnostic(path: &Path, text: &str, issue: Issue) -> Diagnostic {
    let section_start = issue
        .section
        .and_then(|key| find_key(text, key))
        .unwrap_or(0);
    let offset = text[section_start..]
        .find(&issue.needle)
        .map(|i| section_start + i)
        .or_else(|| text.find(&issue.needle))
        .unwrap_or(section_start);
    let (line, col) = line_col(text, offset);
    Diagnostic {
        path: path.to_path_buf(),
        line,
        col,
        message: issue.message,
        hint: issue.hint,
    }
}

/// Offset of `key:` outside comments and strings (a light scan, good enough to anchor).
fn find_key(text: &str, key: &str) -> Option<usize> {
    let mut search = 0;
    while let Some(i) = text[search..].find(key) {
        let at = search + i;
        let before_ok = at == 0
            || !text.as_bytes()[at - 1].is_ascii_alphanumeric() && text.as_bytes()[at - 1] != b'_';
        let rest = text[at + key.len()..].trim_start();
        let line_start = text[..at].rfind('\n').map_or(0, |n| n + 1);
        let in_comment = text[line_start..at].contains("//");
        if before_ok && rest.starts_with(':') && !in_comment {
            return Some(at);
        }
        search = at + key.len();
    }
    None
}

/// 1-based line and column (in characters) of byte `offset`.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needles_are_found_after_their_section() {
        let text = "(\n  a: \"x\",\n  mechanism: (\n    d: \"x\",\n  ),\n)";
        let issue = Issue {
            message: "m".into(),
            hint: "h".into(),
            needle: "\"x\"".into(),
            section: Some("mechanism"),
        };
        let d = diagnostic(Path::new("f.ron"), text, issue);
        assert_eq!((d.line, d.col), (4, 8));
    }

    #[test]
    fn line_and_column_are_one_based() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
    }
}
