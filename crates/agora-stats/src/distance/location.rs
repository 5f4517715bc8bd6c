//! Differences of location between simulated and human samples.

use crate::describe::{mean, median};
use crate::error::Result;

/// Mean of `sim` minus mean of `human`: the simplest bias of simulated answers.
pub fn mean_difference(sim: &[f64], human: &[f64]) -> Result<f64> {
    Ok(mean(sim)? - mean(human)?)
}

/// Median of `sim` minus median of `human`: a bias robust to outlying answers.
pub fn median_difference(sim: &[f64], human: &[f64]) -> Result<f64> {
    Ok(median(sim)? - median(human)?)
}
