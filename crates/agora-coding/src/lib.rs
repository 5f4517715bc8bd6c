//! Open-answer coding: free-text answers of any mechanism coded against a codebook.
//!
//! A codebook ([`Codebook`]) is a list of codes, each with an id, a label, a
//! description and keywords. It is written in the scenario, or derived from a sample
//! of the answers: by a language model ([`prompt::derive_request`]), or, on the
//! rule-based backend, from the words most answers share ([`derive::frequent_words`]).
//! Every answer is then coded: by the model, which returns the list of codes that apply
//! as structured output ([`prompt::code_request`], [`prompt::parse_codes`]), or by
//! keywords ([`KeywordCoder`], deterministic, so testable). Theme shares per arm and
//! segment, with intervals that respect agents nested in replicates, come from
//! [`shares::theme_shares`].
//!
//! ```
//! use agora_coding::{Code, Codebook, KeywordCoder};
//!
//! let book = Codebook::new(vec![
//!     Code::new("price", "Price", "cost, value for money", &["price", "expens*", "cheap"]),
//!     Code::new("time", "Saves time", "convenience, speed", &["time", "quick", "no shopping"]),
//! ])?;
//! let coder = KeywordCoder::new(&book);
//! assert_eq!(coder.code("Too expensive for what it is."), vec![0]);
//! assert_eq!(coder.code("Quick, and no shopping at all!"), vec![1]);
//! assert!(coder.code("I like the recipes.").is_empty());
//! # Ok::<(), agora_coding::CodingError>(())
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod codebook;
pub mod derive;
pub mod error;
pub mod keywords;
pub mod prompt;
pub mod shares;
pub mod spec;

pub use codebook::{Code, Codebook};
pub use error::CodingError;
pub use keywords::{KeywordCoder, words};
pub use spec::{CodebookSource, CodingSpec, DeriveSpec, SourceSpec};
