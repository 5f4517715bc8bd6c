//! The one error type of the crate.

use thiserror::Error;

/// Everything that can go wrong when an estimator is given unusable input.
///
/// Each message says what is wrong and how to fix it, so that callers can pass it
/// straight to the person who supplied the data.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ChoiceError {
    /// A required collection was empty.
    #[error("{what} is empty: supply at least one {item}")]
    Empty {
        /// What was empty (e.g. "the list of choice tasks").
        what: String,
        /// What one element of it is (e.g. "task").
        item: String,
    },
    /// A number was NaN or infinite.
    #[error(
        "{what} is not a finite number ({value}): remove or repair the missing or invalid value"
    )]
    NonFinite {
        /// Where the value was found.
        what: String,
        /// The offending value.
        value: f64,
    },
    /// Vectors or rows that must have the same length do not.
    #[error(
        "{what} has length {found} but {expected} was expected: make every row the same length"
    )]
    DimensionMismatch {
        /// Which input has the wrong length.
        what: String,
        /// The length required.
        expected: usize,
        /// The length found.
        found: usize,
    },
    /// A choice, level or item index points outside the valid range.
    #[error("{what} is {index} but must be below {bound}: use an index of an existing entry")]
    IndexOutOfRange {
        /// Which index is wrong.
        what: String,
        /// The index given.
        index: usize,
        /// The exclusive upper bound.
        bound: usize,
    },
    /// An argument has a value that the method cannot use.
    #[error("invalid {name}: {reason}")]
    InvalidArgument {
        /// The argument's name.
        name: String,
        /// Why it is invalid and what would be valid.
        reason: String,
    },
    /// The data do not determine all parameters (singular information matrix).
    #[error(
        "the model is not identified: {detail}; check that every parameter varies within tasks, \
         that no column is a combination of others, and that no option is always or never chosen"
    )]
    NotIdentified {
        /// What was detected.
        detail: String,
    },
    /// A named attribute, level or product was not found.
    #[error("unknown {kind} \"{name}\": use one of the names defined in the study")]
    UnknownName {
        /// What kind of name (attribute, level, ...).
        kind: String,
        /// The name that was looked up.
        name: String,
    },
    /// No valid observation remained after removing unusable ones.
    #[error("no usable {what} remain ({dropped} dropped as invalid): {hint}")]
    NoValidData {
        /// What was being counted.
        what: String,
        /// How many were dropped.
        dropped: usize,
        /// How to get usable data.
        hint: String,
    },
}

impl ChoiceError {
    /// Shorthand for [`ChoiceError::Empty`].
    pub(crate) fn empty(what: &str, item: &str) -> Self {
        Self::Empty {
            what: what.to_owned(),
            item: item.to_owned(),
        }
    }

    /// Shorthand for [`ChoiceError::NonFinite`].
    pub(crate) fn non_finite(what: impl Into<String>, value: f64) -> Self {
        Self::NonFinite {
            what: what.into(),
            value,
        }
    }

    /// Shorthand for [`ChoiceError::InvalidArgument`].
    pub(crate) fn invalid(name: &str, reason: impl Into<String>) -> Self {
        Self::InvalidArgument {
            name: name.to_owned(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`ChoiceError::IndexOutOfRange`].
    pub(crate) fn index(what: impl Into<String>, index: usize, bound: usize) -> Self {
        Self::IndexOutOfRange {
            what: what.into(),
            index,
            bound,
        }
    }

    /// Shorthand for [`ChoiceError::DimensionMismatch`].
    pub(crate) fn dims(what: impl Into<String>, expected: usize, found: usize) -> Self {
        Self::DimensionMismatch {
            what: what.into(),
            expected,
            found,
        }
    }
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, ChoiceError>;
