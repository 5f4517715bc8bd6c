//! Stimuli: named texts and numbers that arms vary, put into the mechanism block where
//! it writes `{{name}}`.
//!
//! A placeholder is `{{name}}` (spaces allowed inside the braces) where `name` is a
//! plain identifier; placeholders whose name holds a dot (`{{ answers.q1 }}`,
//! `{{ persona.age }}`) belong to the mechanism and are left alone. Inside a string the
//! placeholder becomes the stimulus as text (escaped for RON); a string that is exactly
//! one placeholder of a number becomes that number, so numeric settings (a price, a
//! reserve, an intercept) can differ between arms too: `reserve: "{{reserve}}"`.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A stimulus value: text (ad copy, a concept, a wording) or a number (a price).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Stimulus {
    /// A number: written as a number where a whole string is its placeholder.
    Number(f64),
    /// Text.
    Text(String),
}

impl Stimulus {
    /// The stimulus as it reads inside a text.
    pub fn as_text(&self) -> String {
        match self {
            Stimulus::Text(t) => t.clone(),
            Stimulus::Number(x) => format_number(*x),
        }
    }
}

/// Whole numbers without a fraction (so they fit integer settings too), others in
/// full precision.
fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x:?}")
    }
}

/// One placeholder found in a text: byte range of `{{...}}` and the name inside.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placeholder {
    /// Byte offset of the opening braces.
    pub start: usize,
    /// Byte offset just after the closing braces.
    pub end: usize,
    /// The trimmed name.
    pub name: String,
}

/// The arm placeholders of `text`, in order (names with a dot are not arm placeholders).
pub fn placeholders(text: &str) -> Vec<Placeholder> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(open) = text[from..].find("{{").map(|i| from + i) {
        let Some(close) = text[open + 2..].find("}}").map(|i| open + 2 + i) else {
            break;
        };
        let name = text[open + 2..close].trim();
        let is_name = !name.is_empty()
            && name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if is_name {
            found.push(Placeholder {
                start: open,
                end: close + 2,
                name: name.to_string(),
            });
            from = close + 2;
        } else {
            from = open + 2;
        }
    }
    found
}

/// Why a block could not be filled in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingStimulus {
    /// The placeholder's name.
    pub name: String,
}

/// `text` with every arm placeholder replaced by its value in `values`; the first
/// placeholder without a value is the error.
pub fn substitute(
    text: &str,
    values: &BTreeMap<String, Stimulus>,
) -> Result<String, MissingStimulus> {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for p in placeholders(text) {
        let value = values.get(&p.name).ok_or_else(|| MissingStimulus {
            name: p.name.clone(),
        })?;
        let whole_string =
            text[..p.start].ends_with('"') && text[p.end..].starts_with('"') && p.start > copied;
        match value {
            Stimulus::Number(x) if whole_string => {
                out.push_str(&text[copied..p.start - 1]);
                out.push_str(&format_number(*x));
                copied = p.end + 1;
            }
            _ => {
                out.push_str(&text[copied..p.start]);
                escape_into(&value.as_text(), &mut out);
                copied = p.end;
            }
        }
    }
    out.push_str(&text[copied..]);
    Ok(out)
}

/// Escape `s` for the inside of a RON string literal.
fn escape_into(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn values(pairs: &[(&str, Stimulus)]) -> BTreeMap<String, Stimulus> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn texts_go_inside_strings_and_numbers_replace_whole_strings() {
        let v = values(&[
            ("ad", Stimulus::Text("Say \"hi\"\nnow".into())),
            ("price", Stimulus::Number(9.0)),
            ("reserve", Stimulus::Number(12.5)),
        ]);
        let text = r#"(text: "{{ad}} costs ${{ price }}.", reserve: "{{reserve}}", pipe: "{{ answers.q1 }}")"#;
        assert_eq!(
            substitute(text, &v).as_deref(),
            Ok(r#"(text: "Say \"hi\"\nnow costs $9.", reserve: 12.5, pipe: "{{ answers.q1 }}")"#)
        );
        let parsed: ron::Value = ron::from_str(
            &substitute(r#"(a: "{{price}}", b: "x {{ad}}")"#, &v).unwrap_or_default(),
        )
        .unwrap_or(ron::Value::Unit);
        assert_ne!(parsed, ron::Value::Unit, "the filled-in block is valid RON");
    }

    #[test]
    fn a_placeholder_without_a_value_is_named() {
        let v = values(&[("ad", Stimulus::Text("x".into()))]);
        assert_eq!(
            substitute(r#""{{ad}} {{ addd }}""#, &v),
            Err(MissingStimulus {
                name: "addd".into()
            })
        );
        assert_eq!(placeholders("{{a.b}} {{}} {{ 9x }} {{ok}}").len(), 1);
    }

    proptest! {
        /// Any text value survives the trip through a RON string unchanged.
        #[test]
        fn text_values_round_trip_through_ron(value in "\\PC*") {
            let v = values(&[("t", Stimulus::Text(value.clone()))]);
            let filled = substitute(r#""<{{t}}>""#, &v).unwrap_or_default();
            let back: String = ron::from_str(&filled).unwrap_or_default();
            prop_assert_eq!(back, format!("<{value}>"));
        }
    }
}
