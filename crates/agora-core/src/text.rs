//! Cheap, deterministic text similarity: cosine over word counts.
//!
//! Text is lower-cased and split into words of letters and digits; words shorter than
//! three characters and a short list of common English function words are dropped.
//! The similarity of two texts is the cosine of their word-count vectors,
//! `cos(a, b) = sum_w a_w b_w / (|a| |b|)`, in 0..1 (0 when either text has no words).
//! Memory retrieval and the conversation metrics (echo, persona drift, novelty) use it.

use std::collections::BTreeMap;

/// Common words that carry no topic, left out of comparisons.
const STOP_WORDS: &[&str] = &[
    "the", "and", "for", "are", "but", "not", "you", "your", "with", "that", "this", "have", "has",
    "was", "were", "from", "they", "them", "their", "what", "which", "who", "would", "could",
    "should", "will", "about", "there", "been", "more", "than", "also", "its", "our", "all", "can",
    "any", "some", "just", "very", "into", "out", "one", "said",
];

/// Word counts of one text, in word order (deterministic iteration).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WordCounts {
    counts: BTreeMap<String, u32>,
    norm: f64,
}

impl WordCounts {
    /// Count the words of `text`.
    pub fn of(text: &str) -> Self {
        let mut counts: BTreeMap<String, u32> = BTreeMap::new();
        for word in words(text) {
            *counts.entry(word).or_default() += 1;
        }
        let norm = counts
            .values()
            .map(|&c| f64::from(c) * f64::from(c))
            .sum::<f64>()
            .sqrt();
        Self { counts, norm }
    }

    /// Whether the text had no counted words.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Cosine similarity with `other`, in 0..1.
    pub fn cosine(&self, other: &WordCounts) -> f64 {
        if self.norm == 0.0 || other.norm == 0.0 {
            return 0.0;
        }
        let (small, large) = if self.counts.len() <= other.counts.len() {
            (self, other)
        } else {
            (other, self)
        };
        let dot: f64 = small
            .counts
            .iter()
            .filter_map(|(w, &a)| large.counts.get(w).map(|&b| f64::from(a) * f64::from(b)))
            .sum();
        (dot / (self.norm * other.norm)).clamp(0.0, 1.0)
    }
}

/// The counted words of `text`: lower case, letters and digits, at least three
/// characters, not a stop word.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3)
        .map(str::to_lowercase)
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
}

/// Cosine similarity of two texts' word counts, in 0..1.
pub fn similarity(a: &str, b: &str) -> f64 {
    WordCounts::of(a).cosine(&WordCounts::of(b))
}

/// Rough token count of `text` for budgets: one token per four bytes, rounded up.
pub fn estimate_tokens(text: &str) -> usize {
    text.len().div_ceil(4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn identical_texts_are_one_and_disjoint_texts_zero() {
        assert!(
            (similarity("Cheap trains help cities", "cheap TRAINS help cities!") - 1.0).abs()
                < 1e-12
        );
        assert_eq!(similarity("trains and buses", "apples oranges"), 0.0);
        assert_eq!(similarity("", "apples"), 0.0);
        assert_eq!(
            similarity("the and you", "the and you"),
            0.0,
            "stop words do not count"
        );
        let s = similarity("trains are cheap", "trains are expensive");
        assert!((s - 0.5).abs() < 1e-12, "{s}");
    }

    proptest! {
        #[test]
        fn similarity_is_symmetric_and_bounded(a in "[a-z ]{0,60}", b in "[a-z ]{0,60}") {
            let (x, y) = (similarity(&a, &b), similarity(&b, &a));
            prop_assert!((x - y).abs() < 1e-12);
            prop_assert!((0.0..=1.0).contains(&x));
        }
    }
}
