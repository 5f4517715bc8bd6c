//! The scenario's `coding:` block, checked while it is parsed.
//!
//! ```ron
//! coding: (
//!     model: "openai:gpt-4o-mini",        // optional: the coder (default: the control arm's model)
//!     sources: [
//!         (source: "why", codes: [
//!             (id: "price", label: "Price", description: "cost, value for money",
//!              keywords: ["price", "expens*", "cheap"]),
//!         ]),
//!         (source: "comment", derive: (codes: 6, sample: 200)),
//!     ],
//! )
//! ```
//!
//! `source` names free-text answers the mechanism records (a survey's free-text item,
//! `messages`, `intent_text`, ...); the scenario checks it against the mechanism.

use agora_model::ModelSpec;
use serde::Deserialize;

use crate::codebook::{Code, Codebook};

/// Most codes a derived codebook may have.
pub const MAX_DERIVED_CODES: u32 = 30;
/// Most answers a codebook may be derived from.
pub const MAX_SAMPLE: u32 = 2000;

/// How many codes to derive from how many answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeriveSpec {
    /// Most codes (1 to 30; 8 by default).
    #[serde(default = "default_codes")]
    pub codes: u32,
    /// Answers in the sample the codebook is derived from (1 to 2000; 200 by default),
    /// drawn at random from the experiment's seed.
    #[serde(default = "default_sample")]
    pub sample: u32,
}

fn default_codes() -> u32 {
    8
}

fn default_sample() -> u32 {
    200
}

/// Where a source's codebook comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodebookSource {
    /// Written in the scenario.
    Given(Codebook),
    /// Derived from a sample of the answers, then applied to all of them.
    Derive(DeriveSpec),
}

/// One source of answers and its codebook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceSpec {
    /// The free-text answers to code, by the id the mechanism declares.
    pub source: String,
    /// The codebook.
    pub codebook: CodebookSource,
}

/// The `coding:` block of a scenario.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawCodingSpec")]
pub struct CodingSpec {
    /// The coder; `None` means the control arm's model.
    pub model: Option<ModelSpec>,
    /// What to code, each source once.
    pub sources: Vec<SourceSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "CodingSpec")]
struct RawCodingSpec {
    #[serde(default)]
    model: Option<String>,
    sources: Vec<RawSourceSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename = "SourceSpec")]
struct RawSourceSpec {
    source: String,
    #[serde(default)]
    codes: Option<Vec<Code>>,
    #[serde(default)]
    derive: Option<DeriveSpec>,
}

impl TryFrom<RawCodingSpec> for CodingSpec {
    type Error = String;

    fn try_from(raw: RawCodingSpec) -> Result<Self, String> {
        let model = match raw.model {
            None => None,
            Some(m) => Some(ModelSpec::parse(&m).map_err(|e| e.to_string())?),
        };
        if raw.sources.is_empty() {
            return Err(
                "coding needs at least one source: sources: [(source: \"why\", codes: [...])]"
                    .into(),
            );
        }
        let mut sources = Vec::with_capacity(raw.sources.len());
        for s in raw.sources {
            if sources.iter().any(|x: &SourceSpec| x.source == s.source) {
                return Err(format!(
                    "the source \"{}\" is coded twice; give each source one codebook",
                    s.source
                ));
            }
            let codebook = match (s.codes, s.derive) {
                (Some(codes), None) => {
                    if let Some(c) = codes.iter().find(|c| c.keywords.is_empty()) {
                        return Err(format!(
                            "code \"{}\" of source \"{}\" has no keywords; give at least one (`keywords: [\"word\", \"prefix*\"]`), which the rule-based coder matches",
                            c.id, s.source
                        ));
                    }
                    CodebookSource::Given(
                        Codebook::new(codes)
                            .map_err(|e| format!("source \"{}\": {e}", s.source))?,
                    )
                }
                (None, Some(d)) => {
                    if !(1..=MAX_DERIVED_CODES).contains(&d.codes) {
                        return Err(format!(
                            "derive codes must be from 1 to {MAX_DERIVED_CODES}, got {}",
                            d.codes
                        ));
                    }
                    if !(1..=MAX_SAMPLE).contains(&d.sample) {
                        return Err(format!(
                            "derive sample must be from 1 to {MAX_SAMPLE} answers, got {}",
                            d.sample
                        ));
                    }
                    CodebookSource::Derive(d)
                }
                (Some(_), Some(_)) => {
                    return Err(format!(
                        "source \"{}\" has both `codes` and `derive`; keep one",
                        s.source
                    ));
                }
                (None, None) => {
                    return Err(format!(
                        "source \"{}\" needs a codebook: `codes: [(id: ..., keywords: [...])]`, or `derive: (codes: 8, sample: 200)`",
                        s.source
                    ));
                }
            };
            sources.push(SourceSpec {
                source: s.source,
                codebook,
            });
        }
        Ok(Self { model, sources })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<CodingSpec, String> {
        ron::Options::default()
            .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
            .from_str::<CodingSpec>(text)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn both_kinds_of_codebook_parse() {
        let spec = parse(
            r#"(model: "rules", sources: [
                (source: "why", codes: [(id: "price", keywords: ["price"])]),
                (source: "comment", derive: (codes: 5)),
            ])"#,
        )
        .unwrap();
        assert_eq!(spec.model, Some(ModelSpec::Rules));
        assert!(matches!(&spec.sources[0].codebook, CodebookSource::Given(b) if b.len() == 1));
        assert_eq!(
            spec.sources[1].codebook,
            CodebookSource::Derive(DeriveSpec {
                codes: 5,
                sample: 200
            })
        );
    }

    #[test]
    fn mistakes_are_refused_with_a_fix() {
        for (text, expected) in [
            (r#"(sources: [])"#, "at least one source"),
            (r#"(sources: [(source: "a")])"#, "needs a codebook"),
            (
                r#"(sources: [(source: "a", codes: [(id: "x")])])"#,
                "has no keywords",
            ),
            (
                r#"(sources: [(source: "a", derive: (codes: 0))])"#,
                "from 1 to 30",
            ),
            (
                r#"(sources: [(source: "a", derive: ()), (source: "a", derive: ())])"#,
                "coded twice",
            ),
            (
                r#"(model: "gpt", sources: [(source: "a", derive: ())])"#,
                "openai:MODEL",
            ),
            (
                r#"(sources: [(source: "a", codes: [(id: "X", keywords: ["x"])])])"#,
                "lower-case",
            ),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }
}
