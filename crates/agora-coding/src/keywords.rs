//! The keyword coder: a code applies when one of its keywords occurs in the answer.
//!
//! Answers and keywords are split into words the same way: lower-cased, maximal runs
//! of letters and digits (Unicode alphanumerics). A keyword of several words matches
//! where the same words follow each other in the answer; a keyword whose last word
//! ends in `*` matches any word starting with what precedes the star (`expens*` matches
//! `expensive` and `expense`). Matching is exact otherwise, so the same answer always
//! receives the same codes.

use crate::codebook::Codebook;

/// The words of `text`: lower-cased maximal runs of letters and digits.
pub fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// One keyword, split into words; the last may be a prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Pattern {
    words: Vec<String>,
    prefix: bool,
}

impl Pattern {
    fn new(keyword: &str) -> Option<Self> {
        let prefix = keyword.trim_end().ends_with('*');
        let words = words(keyword);
        (!words.is_empty()).then_some(Self { words, prefix })
    }

    fn matches_at(&self, answer: &[String], start: usize) -> bool {
        let n = self.words.len();
        if start + n > answer.len() {
            return false;
        }
        self.words.iter().enumerate().all(|(i, w)| {
            let a = &answer[start + i];
            if self.prefix && i == n - 1 {
                a.starts_with(w.as_str())
            } else {
                a == w
            }
        })
    }

    fn matches(&self, answer: &[String]) -> bool {
        (0..answer.len()).any(|start| self.matches_at(answer, start))
    }
}

/// Codes answers by the keywords of a codebook.
#[derive(Clone, Debug)]
pub struct KeywordCoder {
    patterns: Vec<Vec<Pattern>>,
}

impl KeywordCoder {
    /// A coder for `book`'s keywords (a code without keywords never applies).
    pub fn new(book: &Codebook) -> Self {
        Self {
            patterns: book
                .codes()
                .iter()
                .map(|c| c.keywords.iter().filter_map(|k| Pattern::new(k)).collect())
                .collect(),
        }
    }

    /// The positions of the codes that apply to `answer`, in codebook order.
    pub fn code(&self, answer: &str) -> Vec<usize> {
        let answer = words(answer);
        self.patterns
            .iter()
            .enumerate()
            .filter(|(_, patterns)| patterns.iter().any(|p| p.matches(&answer)))
            .map(|(i, _)| i)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codebook::Code;

    fn coder(codes: Vec<Code>) -> KeywordCoder {
        KeywordCoder::new(&Codebook::new(codes).unwrap())
    }

    #[test]
    fn words_are_lower_cased_alphanumeric_runs() {
        assert_eq!(
            words("Don't stop—ÜBER 4ever!"),
            ["don", "t", "stop", "über", "4ever"]
        );
        assert!(words(" ,.; ").is_empty());
    }

    #[test]
    fn phrases_match_consecutive_words_only() {
        let c = coder(vec![Code::new("shop", "", "", &["no shopping"])]);
        assert_eq!(c.code("No shopping trips!"), vec![0]);
        assert!(c.code("no more shopping").is_empty());
        assert!(c.code("shopping, no").is_empty());
    }

    #[test]
    fn a_star_matches_word_beginnings_and_words_match_whole() {
        let c = coder(vec![
            Code::new("price", "", "", &["expens*", "cost"]),
            Code::new("health", "", "", &["healthy"]),
        ]);
        assert_eq!(c.code("EXPENSIVE."), vec![0]);
        assert_eq!(c.code("the costs"), Vec::<usize>::new());
        assert_eq!(c.code("cost and healthy"), vec![0, 1]);
        assert!(c.code("unhealthy").is_empty());
    }
}
