//! Cluster-robust (CR1) standard error of a mean.
//!
//! For `N` observations in `G` clusters with residuals `e_i = y_i − ȳ`, the variance of `ȳ` is
//! `V = c · Σ_g (Σ_{i∈g} e_i)² / N²` with the small-sample factor
//! `c = G/(G−1) · (N−1)/(N−K)` and `K = 1` (the intercept), as in statsmodels'
//! `cov_type="cluster"`. Inference uses Student t with `G − 1` degrees of freedom.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Interval;
use crate::check;
use crate::dist::t_quantile;
use crate::error::{Result, StatsError};

/// A mean with its cluster-robust standard error; the input of a cluster t interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterMean {
    /// Pooled mean of all observations.
    pub mean: f64,
    /// CR1 standard error of the mean.
    pub std_error: f64,
    /// Degrees of freedom for t inference, `G − 1`.
    pub df: f64,
    /// Number of clusters `G`.
    pub clusters: usize,
    /// Number of observations `N`.
    pub n: usize,
}

/// Groups `(cluster, value)` pairs into one vector per cluster, ordered by cluster id, so the
/// cluster methods can take either form.
pub fn group_by_cluster(observations: &[(u32, f64)]) -> Vec<Vec<f64>> {
    let mut map: BTreeMap<u32, Vec<f64>> = BTreeMap::new();
    for &(c, v) in observations {
        map.entry(c).or_default().push(v);
    }
    map.into_values().collect()
}

/// Pooled mean and CR1 cluster-robust standard error of `(cluster, value)` observations;
/// needs at least two clusters.
pub fn cluster_robust_mean(observations: &[(u32, f64)]) -> Result<ClusterMean> {
    cluster_mean_of(&group_by_cluster(observations))
}

/// Cluster-robust t interval `ȳ ± t_{G−1,(1+level)/2} · SE_CR1` for `(cluster, value)` pairs.
pub fn cluster_robust_interval(observations: &[(u32, f64)], level: f64) -> Result<Interval> {
    cluster_interval_of(&group_by_cluster(observations), level)
}

/// CR1 mean of clusters given as vectors (empty clusters are ignored).
pub(crate) fn cluster_mean_of(clusters: &[Vec<f64>]) -> Result<ClusterMean> {
    let nonempty: Vec<&Vec<f64>> = clusters.iter().filter(|c| !c.is_empty()).collect();
    if nonempty.is_empty() {
        return Err(StatsError::EmptyInput {
            what: "cluster_robust_mean",
        });
    }
    for c in &nonempty {
        check::finite("cluster_robust_mean", c)?;
    }
    let g = nonempty.len();
    if g < 2 {
        return Err(StatsError::TooFewClusters {
            what: "cluster_robust_mean",
            needed: 2,
            got: g,
        });
    }
    let n: usize = nonempty.iter().map(|c| c.len()).sum();
    let nf = n as f64;
    let gf = g as f64;
    let mean = nonempty.iter().map(|c| c.iter().sum::<f64>()).sum::<f64>() / nf;
    let meat: f64 = nonempty
        .iter()
        .map(|c| {
            let s: f64 = c.iter().map(|y| y - mean).sum();
            s * s
        })
        .sum();
    const K: f64 = 1.0;
    let factor = gf / (gf - 1.0) * (nf - 1.0) / (nf - K);
    Ok(ClusterMean {
        mean,
        std_error: (factor * meat).sqrt() / nf,
        df: gf - 1.0,
        clusters: g,
        n,
    })
}

/// Cluster-robust t interval for clusters given as vectors.
pub(crate) fn cluster_interval_of(clusters: &[Vec<f64>], level: f64) -> Result<Interval> {
    check::level(level)?;
    let cm = cluster_mean_of(clusters)?;
    let half = t_quantile(cm.df, 0.5 + level / 2.0)? * cm.std_error;
    Ok(Interval {
        estimate: cm.mean,
        low: cm.mean - half,
        high: cm.mean + half,
        level,
        method: format!(
            "cluster-robust (CR1) t interval over {} clusters, {} df",
            cm.clusters,
            cm.clusters - 1
        ),
    })
}
