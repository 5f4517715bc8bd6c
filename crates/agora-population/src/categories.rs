//! Labelled category weights, validated as they are parsed.
//!
//! Used by `Categorical` attributes and by every row of a `Conditional` table, so the
//! RON parser reports a bad weight at the exact list it occurs in.

use serde::{Deserialize, Serialize};

use crate::error::with_hint;

/// Most categories one attribute can have (values are stored as `u16` indices).
pub const MAX_CATEGORIES: usize = 1 << 16;

/// Tolerance on category weights summing to 1.
pub const WEIGHT_TOLERANCE: f64 = 1e-6;

/// A validated list of `(label, weight)` pairs: labels unique and non-empty, weights in
/// 0..1 summing to 1 within [`WEIGHT_TOLERANCE`].
///
/// Written in RON as a list of tuples: `[("north", 0.3), ("south", 0.7)]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Vec<(String, f64)>", into = "Vec<(String, f64)>")]
pub struct Categories {
    entries: Vec<(String, f64)>,
}

impl TryFrom<Vec<(String, f64)>> for Categories {
    type Error = String;

    fn try_from(entries: Vec<(String, f64)>) -> Result<Self, String> {
        Self::new(entries)
    }
}

impl From<Categories> for Vec<(String, f64)> {
    fn from(c: Categories) -> Self {
        c.entries
    }
}

impl Categories {
    /// Validate `(label, weight)` pairs; the error says what is wrong and how to fix it.
    pub fn new(entries: Vec<(String, f64)>) -> Result<Self, String> {
        if entries.is_empty() {
            return Err(with_hint(
                "the category list is empty",
                "list at least one (label, weight) pair, e.g. [(\"yes\", 0.4), (\"no\", 0.6)]",
            ));
        }
        if entries.len() > MAX_CATEGORIES {
            return Err(with_hint(
                format!(
                    "{} categories is more than the {MAX_CATEGORIES} supported",
                    entries.len()
                ),
                "merge rare categories into an \"other\" category",
            ));
        }
        for (i, (label, w)) in entries.iter().enumerate() {
            if label.trim().is_empty() {
                return Err(with_hint(
                    format!("category {} has an empty label", i + 1),
                    "give every category a name, e.g. \"other\"",
                ));
            }
            if !w.is_finite() || !(0.0..=1.0).contains(w) {
                return Err(with_hint(
                    format!("weight of {label:?} must be between 0 and 1, got {w}"),
                    "weights are shares of the population, e.g. 0.3 for 30%",
                ));
            }
            if entries[..i].iter().any(|(l, _)| l == label) {
                return Err(with_hint(
                    format!("category {label:?} is listed twice"),
                    "list each category once; merge the two entries by adding their weights",
                ));
            }
        }
        let sum: f64 = entries.iter().map(|(_, w)| w).sum();
        if (sum - 1.0).abs() > WEIGHT_TOLERANCE {
            let (last, w) = &entries[entries.len() - 1];
            let fixed = w + (1.0 - sum);
            let hint = if (0.0..=1.0).contains(&fixed) {
                format!(
                    "adjust the weights so they add up to 1, e.g. change {last:?} from {w} to {}",
                    approx(fixed)
                )
            } else {
                "adjust the weights so they add up to 1 (divide each by their sum)".to_string()
            };
            return Err(with_hint(
                format!(
                    "category weights must sum to 1, they sum to {}",
                    approx(sum)
                ),
                hint,
            ));
        }
        Ok(Self { entries })
    }

    /// Labels in index order.
    pub fn labels(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(l, _)| l.as_str())
    }

    /// Weights in index order, divided by their sum so they add up to exactly 1.
    pub fn shares(&self) -> Vec<f64> {
        let sum: f64 = self.entries.iter().map(|(_, w)| w).sum();
        self.entries.iter().map(|(_, w)| w / sum).collect()
    }

    /// The `(label, weight)` pairs as written.
    pub fn entries(&self) -> &[(String, f64)] {
        &self.entries
    }

    /// Number of categories (at least 1).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Always `false`: a category list holds at least one entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Index of `label`.
    pub fn position(&self, label: &str) -> Option<usize> {
        self.entries.iter().position(|(l, _)| l == label)
    }
}

/// A number rounded to 6 decimals without trailing zeros, for messages.
pub(crate) fn approx(x: f64) -> String {
    let s = format!("{x:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use crate::dist::tests::rejects;

    #[test]
    fn categorical_rejects_bad_weights_and_labels() {
        rejects(
            r#"Categorical([("a", 1.3), ("b", -0.3)])"#,
            r#"weight of "a" must be between 0 and 1, got 1.3"#,
        );
        rejects(
            r#"Categorical([("a", 0.3), ("b", 0.6)])"#,
            "weights must sum to 1, they sum to 0.9",
        );
        rejects(
            r#"Categorical([("a", 0.3), ("b", 0.6)])"#,
            r#"change "b" from 0.6 to 0.7"#,
        );
        rejects(r#"Categorical([])"#, "the category list is empty");
        rejects(
            r#"Categorical([("a", 0.5), ("a", 0.5)])"#,
            r#"category "a" is listed twice"#,
        );
        rejects(r#"Categorical([("", 1.0)])"#, "empty label");
    }
}
