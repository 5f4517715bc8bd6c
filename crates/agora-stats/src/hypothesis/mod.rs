//! Hypothesis tests, each returning a [`TestResult`] with a two-sided p-value.

mod binomial;
mod chisquare;
mod sign_flip;
mod t_tests;

pub use binomial::binomial_test;
pub use chisquare::chi_square_goodness_of_fit;
pub use sign_flip::{EXACT_MAX, clustered_sign_flip_test, sign_flip_test};
pub use t_tests::{one_sample_t_test, paired_t_test, welch_t_test};

use serde::Serialize;

/// Outcome of a hypothesis test: the test statistic, its two-sided p-value and the test's name,
/// so results can be reported without knowing which function produced them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestResult {
    /// The test statistic (t, chi-square, mean difference, or observed proportion).
    pub statistic: f64,
    /// Two-sided p-value in [0, 1].
    pub p_value: f64,
    /// Degrees of freedom of the reference distribution, when there is one.
    pub df: Option<f64>,
    /// Name of the test.
    pub test: &'static str,
}

#[cfg(test)]
mod tests;
