//! Statistics of Agora experiments: descriptive statistics, confidence intervals that respect
//! agents nested in replicates, hypothesis tests, effect sizes, paired arm-versus-control
//! comparisons, distances between simulated and human answers, person-by-person agreement of
//! digital twins, and a multinomial logit baseline.
//!
//! Every function validates its input and returns [`StatsError`] instead of panicking.
//! Every resampling method takes a seed, draws from `Pcg64Mcg` seeded with it, and is
//! deterministic for it. Quantiles everywhere use linear interpolation (type 7).
//!
//! ```
//! // An arm against its control, the same three people in each of two replicates.
//! let pairs = [(0, 4.0, 3.0), (0, 5.0, 3.5), (0, 3.0, 3.0), (1, 4.5, 4.0), (1, 2.0, 1.0), (1, 3.5, 2.0)];
//! let c = agora_stats::paired_comparison(&pairs, 0.95, 42)?;
//! assert!(c.difference.estimate > 0.0);
//! assert_eq!(c.clusters, 2);
//! println!("{} ({}), p = {}", c.difference.estimate, c.difference.method, c.p_value);
//! # Ok::<(), agora_stats::StatsError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod check;
pub mod describe;
mod dist;
pub mod distance;
pub mod effect;
pub mod error;
pub mod hypothesis;
pub mod interval;
pub mod paired;
pub mod regression;
pub mod twins;

#[cfg(test)]
mod reference;

pub use describe::{mean, median, quantile, std_dev, variance};
pub use distance::{
    bootstrap_distance, jensen_shannon_distance, ks_statistic, ks_test, mean_difference,
    median_difference, ordinal_wasserstein, pmf_from_counts, pmf_from_values, representativeness,
    total_variation,
};
pub use effect::{cohens_d, cohens_dz, hedges_g, risk_difference};
pub use error::{Result, StatsError};
pub use hypothesis::{
    TestResult, binomial_test, chi_square_goodness_of_fit, clustered_sign_flip_test,
    one_sample_t_test, paired_t_test, sign_flip_test, welch_t_test,
};
pub use interval::{
    ClusterMean, Interval, bootstrap_mean, cluster_bootstrap, cluster_robust_interval,
    cluster_robust_mean, design_interval, group_by_cluster, pooled_mean, t_interval,
    wilson_interval,
};
pub use paired::{Comparison, paired_comparison};
pub use regression::MultinomialLogit;
pub use twins::{
    exact_match_rate, normalised_accuracy, pearson_interval, pearson_r, within_one_rate,
};
