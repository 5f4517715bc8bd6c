//! Confidence intervals: the [`Interval`] type and the methods that produce it.

mod basic;
mod bootstrap;
mod cluster;
mod design;

pub use basic::{t_interval, wilson_interval};
pub(crate) use bootstrap::{bootstrap_indices, bootstrap_with, fill_indices, percentile_interval};
pub use bootstrap::{bootstrap_mean, cluster_bootstrap, pooled_mean};
pub(crate) use cluster::cluster_mean_of;
pub use cluster::{ClusterMean, cluster_robust_interval, cluster_robust_mean, group_by_cluster};
pub use design::{DESIGN_RESAMPLES, LARGE_SAMPLE, MAX_LEVELS, design_interval};

use serde::Serialize;

/// A point estimate with a two-sided confidence interval and a description of how it was made,
/// so a report can print the method next to the numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Interval {
    /// The point estimate.
    pub estimate: f64,
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
    /// Confidence level in (0, 1), e.g. 0.95.
    pub level: f64,
    /// What was done, in words.
    pub method: String,
}

impl Interval {
    /// Whether `value` lies inside the closed interval `[low, high]`.
    pub fn contains(&self, value: f64) -> bool {
        self.low <= value && value <= self.high
    }

    /// Width `high - low`.
    pub fn width(&self) -> f64 {
        self.high - self.low
    }
}

#[cfg(test)]
mod tests;
