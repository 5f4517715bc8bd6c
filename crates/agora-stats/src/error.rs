//! The error type shared by every function of the crate.

use thiserror::Error;

/// Why a statistic could not be computed. Every message names the problem and the fix.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum StatsError {
    /// A slice that must hold data was empty.
    #[error("{what}: the input is empty; pass at least one value")]
    EmptyInput {
        /// Which input was empty.
        what: &'static str,
    },
    /// Fewer observations than the method needs.
    #[error(
        "{what}: needs at least {needed} values but got {got}; collect more data or use another method"
    )]
    TooFew {
        /// Which input was too short.
        what: &'static str,
        /// Minimum number of values.
        needed: usize,
        /// Number of values passed.
        got: usize,
    },
    /// A value was NaN or infinite.
    #[error("{what}: value {value} is not finite; remove NaN and infinite values before calling")]
    NotFinite {
        /// Which input held the value.
        what: &'static str,
        /// The offending value.
        value: f64,
    },
    /// Fewer clusters than the method needs.
    #[error(
        "{what}: needs at least {needed} clusters but got {got}; add replicates or use an observation-level method"
    )]
    TooFewClusters {
        /// Which method needed the clusters.
        what: &'static str,
        /// Minimum number of clusters.
        needed: usize,
        /// Number of non-empty clusters passed.
        got: usize,
    },
    /// A confidence level outside the open interval (0, 1).
    #[error("confidence level {0} is outside (0, 1); pass a level such as 0.95")]
    InvalidLevel(f64),
    /// The data have no spread, so a ratio with the standard deviation is undefined.
    #[error(
        "{what}: the values have zero variance, so the statistic is undefined; check that the data vary"
    )]
    ZeroVariance {
        /// Which statistic needed a positive variance.
        what: &'static str,
    },
    /// A linear system could not be solved.
    #[error("{what}: the matrix is singular; remove collinear columns or add an L2 penalty")]
    Singular {
        /// Which computation hit the singular matrix.
        what: &'static str,
    },
    /// Two inputs that must have the same length do not.
    #[error("{what}: lengths differ ({left} vs {right}); pass inputs of equal length")]
    LengthMismatch {
        /// Which inputs were compared.
        what: &'static str,
        /// Length of the first input.
        left: usize,
        /// Length of the second input.
        right: usize,
    },
    /// A vector passed as a probability distribution is not one.
    #[error("not a probability distribution: {reason}; normalise with pmf_from_counts first")]
    NotADistribution {
        /// What is wrong with the vector.
        reason: String,
    },
    /// An argument outside its valid range.
    #[error("{what}: {reason}")]
    InvalidArgument {
        /// Which argument.
        what: &'static str,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// An iterative fit did not converge.
    #[error(
        "{what}: did not converge in {iterations} iterations; add an L2 penalty or check for separated classes"
    )]
    NoConvergence {
        /// Which fit.
        what: &'static str,
        /// Iterations run.
        iterations: usize,
    },
}

/// Result type of the crate.
pub type Result<T> = std::result::Result<T, StatsError>;
