//! The interval for a mean of observations nested in clusters (agents nested in replicates),
//! chosen by the number of clusters `G`:
//!
//! - `G ≥ 10`: cluster bootstrap of the pooled mean, [`DESIGN_RESAMPLES`] resamples, percentile;
//! - `2 ≤ G < 10`: cluster-robust (CR1) t interval with `G − 1` df (too few clusters for a
//!   bootstrap to be trusted);
//! - `G = 1`: ordinary bootstrap over the observations (needs at least two).
//!
//! Empty clusters are ignored.

use super::Interval;
use super::bootstrap::{bootstrap_mean, cluster_bootstrap, pooled_mean};
use super::cluster::cluster_interval_of;
use crate::check;
use crate::error::{Result, StatsError};

/// Number of bootstrap resamples [`design_interval`] draws.
pub const DESIGN_RESAMPLES: usize = 2000;

/// Clusters at or above which [`design_interval`] bootstraps clusters.
const BOOTSTRAP_MIN_CLUSTERS: usize = 10;

/// Interval for the pooled mean of clustered observations, using the method suited to the
/// number of non-empty clusters (see the module documentation). `method` names the choice in
/// terms of replicates.
pub fn design_interval(clusters: &[Vec<f64>], level: f64, seed: u64) -> Result<Interval> {
    check::level(level)?;
    let nonempty: Vec<Vec<f64>> = clusters.iter().filter(|c| !c.is_empty()).cloned().collect();
    let g = nonempty.len();
    match g {
        0 => Err(StatsError::EmptyInput {
            what: "design_interval",
        }),
        1 => {
            let only = &nonempty[0];
            if only.len() < 2 {
                return Err(StatsError::TooFew {
                    what: "design_interval (one replicate)",
                    needed: 2,
                    got: only.len(),
                });
            }
            let mut iv = bootstrap_mean(only, DESIGN_RESAMPLES, seed, level)?;
            iv.method = format!(
                "bootstrap over {} observations in 1 replicate, {DESIGN_RESAMPLES} resamples, percentile",
                only.len()
            );
            Ok(iv)
        }
        g if g < BOOTSTRAP_MIN_CLUSTERS => {
            let mut iv = cluster_interval_of(&nonempty, level)?;
            iv.method = format!(
                "cluster-robust (CR1) t interval over {g} replicates, {} df",
                g - 1
            );
            Ok(iv)
        }
        g => {
            let mut iv = cluster_bootstrap(&nonempty, pooled_mean, DESIGN_RESAMPLES, seed, level)?;
            iv.method = format!(
                "cluster bootstrap over {g} replicates, {DESIGN_RESAMPLES} resamples, percentile"
            );
            Ok(iv)
        }
    }
}
