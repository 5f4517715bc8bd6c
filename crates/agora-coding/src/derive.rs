//! Deriving a codebook from a sample of answers.
//!
//! A language model proposes the codes ([`crate::prompt::derive_request`]); the
//! rule-based backend takes the words that most answers of the sample share
//! ([`frequent_words`]), so a run without a model still gets a codebook, the same one
//! every time.

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_pcg::Pcg64Mcg;

use crate::codebook::{Code, Codebook};
use crate::error::CodingError;
use crate::keywords::words;

/// Common English words that carry no theme.
const STOPWORDS: &[&str] = &[
    "about",
    "after",
    "again",
    "all",
    "also",
    "and",
    "any",
    "are",
    "because",
    "been",
    "before",
    "being",
    "but",
    "can",
    "could",
    "did",
    "does",
    "doing",
    "don",
    "for",
    "from",
    "had",
    "has",
    "have",
    "her",
    "here",
    "him",
    "his",
    "how",
    "into",
    "its",
    "just",
    "like",
    "more",
    "most",
    "much",
    "not",
    "now",
    "off",
    "once",
    "one",
    "only",
    "other",
    "our",
    "out",
    "over",
    "own",
    "really",
    "same",
    "she",
    "should",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "too",
    "very",
    "was",
    "way",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "it",
    "is",
    "be",
    "to",
    "of",
    "in",
    "on",
    "at",
    "as",
    "or",
    "an",
    "my",
    "me",
    "we",
    "us",
    "so",
    "if",
    "do",
    "no",
    "yes",
    "am",
    "get",
    "got",
    "think",
    "maybe",
    "something",
    "thing",
    "things",
    "make",
    "makes",
    "want",
    "wants",
    "lot",
    "even",
    "still",
    "each",
];

/// A random sample of at most `n` of `count` answers, drawn from `seed`: their indices
/// in increasing order (so the sample reads in the answers' own order).
pub fn sample_indices(count: usize, n: usize, seed: u64) -> Vec<usize> {
    let mut all: Vec<usize> = (0..count).collect();
    if n < count {
        all.shuffle(&mut Pcg64Mcg::seed_from_u64(seed));
        all.truncate(n);
        all.sort_unstable();
    }
    all
}

/// A codebook of the `max_codes` content words that appear in the most answers of
/// `sample` (at least two answers each, and not every answer of a sample of five or
/// more, which would tell no answers apart; ties broken alphabetically). Content words
/// have at least three characters, are not all digits and are not common function
/// words. Each code's id is its word (made an id) and its keyword is the word itself.
pub fn frequent_words(sample: &[&str], max_codes: usize) -> Result<Codebook, CodingError> {
    let mut answers_with: BTreeMap<String, usize> = BTreeMap::new();
    for answer in sample {
        let mut seen: Vec<String> = words(answer)
            .into_iter()
            .filter(|w| {
                w.chars().count() >= 3
                    && !w.chars().all(|c| c.is_ascii_digit())
                    && !STOPWORDS.contains(&w.as_str())
            })
            .collect();
        seen.sort();
        seen.dedup();
        for w in seen {
            *answers_with.entry(w).or_default() += 1;
        }
    }
    // A word in every answer of a sample of five or more tells no answers apart.
    let everywhere = |n: usize| sample.len() >= 5 && n == sample.len();
    let mut ranked: Vec<(String, usize)> = answers_with
        .into_iter()
        .filter(|(_, n)| *n >= 2 && !everywhere(*n))
        .collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut codes: Vec<Code> = Vec::new();
    for (word, n) in ranked {
        if codes.len() >= max_codes {
            break;
        }
        let Some(id) = crate::codebook::slug(&word) else {
            continue;
        };
        if codes.iter().any(|c| c.id == id) {
            continue;
        }
        codes.push(Code {
            id,
            label: word.clone(),
            description: format!(
                "answers that use the word \"{word}\" ({n} of {} sampled answers)",
                sample.len()
            ),
            keywords: vec![word],
        });
    }
    if codes.is_empty() {
        return Err(CodingError::Codebook(format!(
            "no content word appears in two or more of the {} sampled answers, so no codebook could be derived; write the codes in the scenario, or sample more answers",
            sample.len()
        )));
    }
    Codebook::new(codes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_shared_content_words_become_codes() {
        let answers = [
            "The price is too high, price matters",
            "Great price and fresh vegetables",
            "Fresh food, saves time",
            "Saves me time on weekdays",
            "fresh!",
        ];
        let book = frequent_words(&answers, 3).unwrap();
        let ids: Vec<&str> = book.codes().iter().map(|c| c.id.as_str()).collect();
        // fresh: 3 answers; price, saves, time: 2 each (alphabetical).
        assert_eq!(ids, ["fresh", "price", "saves"]);
        assert!(book.codes()[1].description.contains("2 of 5"));
        assert!(frequent_words(&["one answer only"], 3).is_err());
        // "lean" is in every one of five answers: not a theme.
        let same = [
            "I lean towards buying",
            "lean against buying",
            "I lean towards waiting",
            "lean against",
            "lean towards",
        ];
        let ids: Vec<String> = frequent_words(&same, 5)
            .unwrap()
            .codes()
            .iter()
            .map(|c| c.id.clone())
            .collect();
        assert_eq!(ids, ["towards", "against", "buying"]);
    }

    #[test]
    fn samples_are_sorted_distinct_and_reproducible() {
        let s = sample_indices(100, 10, 7);
        assert_eq!(s.len(), 10);
        assert!(s.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(s, sample_indices(100, 10, 7));
        assert_ne!(s, sample_indices(100, 10, 8));
        assert_eq!(sample_indices(3, 10, 1), [0, 1, 2]);
    }
}
