//! Distances between simulated and human answers: distances between answer distributions,
//! differences of location, the two-sample Kolmogorov–Smirnov statistic, and a bootstrap
//! interval for any of them.

mod bootstrap;
mod ks;
mod location;
mod pmf;

pub use bootstrap::bootstrap_distance;
pub use ks::{ks_statistic, ks_test};
pub use location::{mean_difference, median_difference};
pub use pmf::{
    jensen_shannon_distance, ordinal_wasserstein, pmf_from_counts, pmf_from_values,
    representativeness, total_variation,
};

#[cfg(test)]
mod tests;
