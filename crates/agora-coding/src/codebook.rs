//! Codebooks: the codes an answer can receive.

use serde::Deserialize;

use crate::error::CodingError;

/// Most codes in one codebook.
pub const MAX_CODES: usize = 100;

/// One code of a codebook.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Code {
    /// Short identifier used in tables: lower-case letters, digits, `_` and `-`.
    pub id: String,
    /// A readable name (the id when not given).
    #[serde(default)]
    pub label: String,
    /// When the code applies, for a model coder and for readers.
    #[serde(default)]
    pub description: String,
    /// Words or phrases that mark the code for the keyword coder (`expens*` matches
    /// every word starting with `expens`).
    #[serde(default)]
    pub keywords: Vec<String>,
}

impl Code {
    /// A code from its parts.
    pub fn new(id: &str, label: &str, description: &str, keywords: &[&str]) -> Self {
        Self {
            id: id.into(),
            label: label.into(),
            description: description.into(),
            keywords: keywords.iter().map(|k| k.to_string()).collect(),
        }
    }

    /// The label, or the id when the label is empty.
    pub fn name(&self) -> &str {
        if self.label.trim().is_empty() {
            &self.id
        } else {
            &self.label
        }
    }
}

/// A checked list of codes: at least one, at most [`MAX_CODES`], ids unique and
/// usable as column values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Codebook {
    codes: Vec<Code>,
}

/// Whether `id` is a usable code id: 1 to 40 lower-case ASCII letters, digits, `_`, `-`.
pub fn valid_id(id: &str) -> bool {
    (1..=40).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

impl Codebook {
    /// Check `codes` and make them a codebook.
    pub fn new(codes: Vec<Code>) -> Result<Self, CodingError> {
        if codes.is_empty() {
            return Err(CodingError::Codebook(
                "a codebook needs at least one code, e.g. (id: \"price\", label: \"Price\", keywords: [\"price\"])".into(),
            ));
        }
        if codes.len() > MAX_CODES {
            return Err(CodingError::Codebook(format!(
                "{} codes are more than the {MAX_CODES} a codebook may hold; merge related codes",
                codes.len()
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for c in &codes {
            if !valid_id(&c.id) {
                return Err(CodingError::Codebook(format!(
                    "code id \"{}\" must be 1 to 40 lower-case letters, digits, `_` or `-`, e.g. \"too_expensive\"",
                    c.id
                )));
            }
            if !seen.insert(c.id.as_str()) {
                return Err(CodingError::Codebook(format!(
                    "code id \"{}\" is used twice; give every code its own id",
                    c.id
                )));
            }
            if let Some(k) = c.keywords.iter().find(|k| crate::words(k).is_empty()) {
                return Err(CodingError::Codebook(format!(
                    "code \"{}\" has the keyword \"{k}\", which holds no word; use letters or digits, e.g. \"price\" or \"expens*\"",
                    c.id
                )));
            }
        }
        Ok(Self { codes })
    }

    /// The codes, in order.
    pub fn codes(&self) -> &[Code] {
        &self.codes
    }

    /// Number of codes.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// Whether the codebook has no code (never true for a checked codebook).
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// The position of the code `id`.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.codes.iter().position(|c| c.id == id)
    }
}

/// `text` made into a code id: lower-case ASCII letters and digits, other runs of
/// characters become `_`, at most 40 characters; `None` when nothing is left.
pub fn slug(text: &str) -> Option<String> {
    let mut out = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    let out: String = out.trim_end_matches('_').chars().take(40).collect();
    let out = out.trim_end_matches('_').to_string();
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codebooks_refuse_empty_duplicate_and_unusable_ids() {
        assert!(Codebook::new(vec![]).is_err());
        let a = Code::new("a", "", "", &["x"]);
        assert!(Codebook::new(vec![a.clone(), a.clone()]).is_err());
        assert!(Codebook::new(vec![Code::new("Price", "", "", &[])]).is_err());
        assert!(Codebook::new(vec![Code::new("p", "", "", &["  -- "])]).is_err());
        let book = Codebook::new(vec![a, Code::new("b-2", "B", "", &[])]).unwrap();
        assert_eq!((book.len(), book.position("b-2")), (2, Some(1)));
        assert_eq!(book.codes()[0].name(), "a");
    }

    #[test]
    fn slugs_are_valid_ids() {
        assert_eq!(slug(" Too expensive! ").as_deref(), Some("too_expensive"));
        assert_eq!(slug("¿¡").as_deref(), None);
        assert!(valid_id(&slug(&"x y ".repeat(40)).unwrap()));
    }
}
