//! The interval for a mean of observations nested in clusters (agents nested in replicates),
//! chosen by the number of clusters `G`:
//!
//! - `G ≥ 10`: cluster bootstrap of the pooled mean, [`DESIGN_RESAMPLES`] resamples, percentile;
//! - `2 ≤ G < 10`: cluster-robust (CR1) t interval with `G − 1` df (too few clusters for a
//!   bootstrap to be trusted);
//! - `G = 1`: ordinary bootstrap over the observations (needs at least two). From
//!   [`LARGE_SAMPLE`] observations on, values that take at most [`MAX_LEVELS`] distinct
//!   values (ratings, choices, shares) are resampled as multinomial counts, the same
//!   bootstrap in time independent of the sample's size; other large samples get the
//!   Student t interval, the limit the bootstrap of a mean approaches as samples grow
//!   (drawing two thousand resamples of a million observations would take seconds per
//!   outcome).
//!
//! Empty clusters are ignored.

use super::Interval;
use super::basic::t_interval;
use super::bootstrap::{bootstrap_mean, bootstrap_mean_of_levels, cluster_bootstrap, levels_of};
use super::cluster::cluster_interval_of;
use crate::check;
use crate::error::{Result, StatsError};

/// Number of bootstrap resamples [`design_interval`] draws.
pub const DESIGN_RESAMPLES: usize = 2000;

/// Observations of one replicate from which [`design_interval`] stops drawing indices.
pub const LARGE_SAMPLE: usize = 20_000;

/// Most distinct values a large sample may take to be bootstrapped as counts.
pub const MAX_LEVELS: usize = 1_000;

/// Clusters at or above which [`design_interval`] bootstraps clusters.
const BOOTSTRAP_MIN_CLUSTERS: usize = 10;

/// Interval for the pooled mean of clustered observations, using the method suited to the
/// number of non-empty clusters (see the module documentation). `method` names the choice in
/// terms of replicates.
pub fn design_interval(clusters: &[Vec<f64>], level: f64, seed: u64) -> Result<Interval> {
    check::level(level)?;
    let nonempty: Vec<&Vec<f64>> = clusters.iter().filter(|c| !c.is_empty()).collect();
    let g = nonempty.len();
    match g {
        0 => Err(StatsError::EmptyInput {
            what: "design_interval",
        }),
        1 => {
            let only = nonempty[0];
            if only.len() < 2 {
                return Err(StatsError::TooFew {
                    what: "design_interval (one replicate)",
                    needed: 2,
                    got: only.len(),
                });
            }
            let n = only.len();
            if n >= LARGE_SAMPLE {
                return match levels_of(only, MAX_LEVELS) {
                    Some(levels) => {
                        let mut iv =
                            bootstrap_mean_of_levels(&levels, DESIGN_RESAMPLES, seed, level)?;
                        iv.method = format!(
                            "bootstrap over {n} observations in 1 replicate ({} distinct values, resampled as multinomial counts), {DESIGN_RESAMPLES} resamples, percentile",
                            levels.len()
                        );
                        Ok(iv)
                    }
                    None => {
                        let mut iv = t_interval(only, level)?;
                        iv.method = format!(
                            "Student t interval over {n} observations in 1 replicate, {} df (a large sample of many distinct values: the bootstrap's limit)",
                            n - 1
                        );
                        Ok(iv)
                    }
                };
            }
            let mut iv = bootstrap_mean(only, DESIGN_RESAMPLES, seed, level)?;
            iv.method = format!(
                "bootstrap over {n} observations in 1 replicate, {DESIGN_RESAMPLES} resamples, percentile"
            );
            Ok(iv)
        }
        g if g < BOOTSTRAP_MIN_CLUSTERS => {
            // It leaves out empty clusters itself.
            let mut iv = cluster_interval_of(clusters, level)?;
            iv.method = format!(
                "cluster-robust (CR1) t interval over {g} replicates, {} df",
                g - 1
            );
            Ok(iv)
        }
        g => {
            // Each cluster enters the pooled mean by its sum and size only: resampling
            // those pairs gives the same replicates, without re-adding every observation.
            let summaries: Vec<Vec<f64>> = nonempty
                .iter()
                .map(|c| vec![c.iter().sum::<f64>(), c.len() as f64])
                .collect();
            let mut iv = cluster_bootstrap(&summaries, pooled_sums, DESIGN_RESAMPLES, seed, level)?;
            iv.method = format!(
                "cluster bootstrap over {g} replicates, {DESIGN_RESAMPLES} resamples, percentile"
            );
            Ok(iv)
        }
    }
}

/// The pooled mean of clusters given as `[sum, size]` pairs, added in the order
/// [`pooled_mean`](super::bootstrap::pooled_mean) adds the clusters' own sums.
fn pooled_sums(clusters: &[&[f64]]) -> f64 {
    let (sum, n) = clusters
        .iter()
        .fold((0.0, 0usize), |(s, n), c| (s + c[0], n + c[1] as usize));
    sum / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interval::bootstrap::pooled_mean;

    /// `n` ratings 1..=5 in a fixed, uneven mix.
    fn ratings(n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| [1.0, 2.0, 2.0, 3.0, 4.0, 4.0, 4.0, 5.0][i % 8])
            .collect()
    }

    #[test]
    fn a_large_sample_of_few_values_is_bootstrapped_as_counts() {
        let values = ratings(LARGE_SAMPLE);
        let iv = design_interval(std::slice::from_ref(&values), 0.95, 7).unwrap();
        assert!(iv.method.contains("multinomial counts"), "{}", iv.method);
        assert!(iv.method.contains("5 distinct values"), "{}", iv.method);
        // Hand-computed: mean 25/8 = 3.125, population sd sqrt(1.609375) = 1.2686; the
        // bootstrap's 95% percentile interval approaches mean -/+ 1.95996 sd / sqrt(n)
        // (the normal limit; half-width 0.017582 at n = 20,000).
        assert!((iv.estimate - 3.125).abs() < 1e-12);
        let half = 1.959964 * 1.609375f64.sqrt() / (LARGE_SAMPLE as f64).sqrt();
        assert!((half - 0.017582).abs() < 1e-5);
        assert!((iv.low - (3.125 - half)).abs() < 0.1 * half, "{iv:?}");
        assert!((iv.high - (3.125 + half)).abs() < 0.1 * half, "{iv:?}");
        // The same seed, the same interval.
        assert_eq!(
            iv,
            design_interval(std::slice::from_ref(&values), 0.95, 7).unwrap()
        );
    }

    #[test]
    fn counts_and_indices_are_the_same_bootstrap() {
        // Below the large-sample size both ways apply; their intervals agree within the
        // resampling error (about 2% of the half-width at 2,000 resamples).
        let values = ratings(8_000);
        let by_index = bootstrap_mean(&values, 4000, 3, 0.95).unwrap();
        let levels = levels_of(&values, MAX_LEVELS).unwrap();
        assert_eq!(levels.iter().map(|l| l.1).sum::<u64>(), 8_000);
        assert_eq!(levels[1], (2.0, 2_000));
        let by_count = bootstrap_mean_of_levels(&levels, 4000, 3, 0.95).unwrap();
        let half = (by_index.high - by_index.low) / 2.0;
        assert_eq!(by_index.estimate, by_count.estimate);
        assert!(
            (by_index.low - by_count.low).abs() < 0.1 * half,
            "{by_index:?} {by_count:?}"
        );
        assert!(
            (by_index.high - by_count.high).abs() < 0.1 * half,
            "{by_index:?} {by_count:?}"
        );
    }

    #[test]
    fn a_large_sample_of_many_values_gets_the_t_interval() {
        let values: Vec<f64> = (0..LARGE_SAMPLE).map(|i| (i as f64 * 0.37).sin()).collect();
        assert!(levels_of(&values, MAX_LEVELS).is_none());
        let iv = design_interval(std::slice::from_ref(&values), 0.95, 7).unwrap();
        let t = t_interval(&values, 0.95).unwrap();
        assert!(iv.method.starts_with("Student t interval"), "{}", iv.method);
        assert_eq!((iv.estimate, iv.low, iv.high), (t.estimate, t.low, t.high));
    }

    #[test]
    fn clusters_bootstrapped_by_their_sums_give_the_interval_of_their_values() {
        let clusters: Vec<Vec<f64>> = (0..12)
            .map(|g| {
                (0..(5 + g))
                    .map(|i| ((g * 7 + i) % 9) as f64 * 0.5)
                    .collect()
            })
            .collect();
        let iv = design_interval(&clusters, 0.95, 11).unwrap();
        let direct = cluster_bootstrap(&clusters, pooled_mean, DESIGN_RESAMPLES, 11, 0.95).unwrap();
        assert_eq!(
            (iv.estimate, iv.low, iv.high),
            (direct.estimate, direct.low, direct.high)
        );
    }
}
