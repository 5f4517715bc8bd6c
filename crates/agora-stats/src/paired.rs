//! Comparison of an arm with its control when both arms saw the same sampled people.
//!
//! Each pair `(cluster, treated, control)` gives a difference `treated − control`. The interval
//! of the mean difference follows [`design_interval`] over the clusters; the p-value is the
//! test dual to it: the sign-flip permutation test on the individual differences for one
//! cluster, the cluster-robust t test for 2 to 9 clusters, and the sign-flip permutation test
//! on cluster mean differences from 10 clusters; the effect size is Cohen's d_z of the
//! individual differences.

use serde::Serialize;

use crate::check;
use crate::dist::t_two_sided_p;
use crate::effect::cohens_dz;
use crate::error::{Result, StatsError};
use crate::hypothesis::{TestResult, clustered_sign_flip_test, sign_flip_test};
use crate::interval::{Interval, cluster_mean_of, design_interval, group_by_cluster};

/// Random sign flips drawn when there are too many units to enumerate.
pub const PERMUTATION_RESAMPLES: usize = 10_000;

/// Result of [`paired_comparison`]: everything a report needs about treated − control.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// Mean difference treated − control with its interval.
    pub difference: Interval,
    /// Two-sided p-value of the sign-flip permutation test.
    pub p_value: f64,
    /// Name of the test that produced `p_value`.
    pub test: String,
    /// Standardised effect size; `None` when all differences are equal (d_z undefined).
    pub effect_size: Option<f64>,
    /// Name of the effect size measure.
    pub effect_measure: &'static str,
    /// Number of pairs.
    pub n: usize,
    /// Number of clusters (replicates).
    pub clusters: usize,
}

/// Replicates from which the p-value is a sign-flip permutation test over replicate
/// means; with fewer, 2^G sign patterns cannot give a p-value below 2/2^G, so the test
/// is the cluster-robust t test that matches the interval.
pub const PERMUTATION_MIN_CLUSTERS: usize = 10;

/// Cluster-robust t test of a zero mean: `t = ȳ / SE_CR1` with `G − 1` df, the test
/// dual to the CR1 interval of [`design_interval`] for 2 to 9 clusters.
fn cluster_robust_t_test(clusters: &[Vec<f64>]) -> Result<TestResult> {
    let m = cluster_mean_of(clusters)?;
    let t = if m.std_error > 0.0 {
        m.mean / m.std_error
    } else if m.mean == 0.0 {
        0.0
    } else {
        f64::INFINITY.copysign(m.mean)
    };
    Ok(TestResult {
        statistic: t,
        p_value: t_two_sided_p(t, m.df)?,
        df: Some(m.df),
        test: "cluster-robust (CR1) t test",
    })
}

/// Compares treated with control over `(cluster, treated, control)` pairs (see the module
/// documentation). Deterministic for a seed.
pub fn paired_comparison(pairs: &[(u32, f64, f64)], level: f64, seed: u64) -> Result<Comparison> {
    check::level(level)?;
    if pairs.is_empty() {
        return Err(StatsError::EmptyInput {
            what: "paired_comparison",
        });
    }
    if let Some(&(_, t, c)) = pairs.iter().find(|p| !p.1.is_finite() || !p.2.is_finite()) {
        let value = if t.is_finite() { c } else { t };
        return Err(StatsError::NotFinite {
            what: "paired_comparison",
            value,
        });
    }
    let diffs: Vec<(u32, f64)> = pairs.iter().map(|&(c, t, co)| (c, t - co)).collect();
    let values: Vec<f64> = diffs.iter().map(|d| d.1).collect();
    let clusters = group_by_cluster(&diffs);
    let difference = design_interval(&clusters, level, seed)?;
    let test = match clusters.len() {
        1 => sign_flip_test(&values, PERMUTATION_RESAMPLES, seed)?,
        g if g < PERMUTATION_MIN_CLUSTERS => cluster_robust_t_test(&clusters)?,
        _ => clustered_sign_flip_test(&clusters, PERMUTATION_RESAMPLES, seed)?,
    };
    let effect_size = match cohens_dz(&values) {
        Ok(d) => Some(d),
        Err(StatsError::ZeroVariance { .. }) => None,
        Err(e) => return Err(e),
    };
    Ok(Comparison {
        difference,
        p_value: test.p_value,
        test: test.test.to_string(),
        effect_size,
        effect_measure: "Cohen's d_z (mean difference / SD of differences)",
        n: pairs.len(),
        clusters: clusters.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::{CLUSTER_OBS, CONTROL, TREATED, assert_close};

    #[test]
    fn one_replicate() {
        let pairs: Vec<(u32, f64, f64)> = TREATED
            .iter()
            .zip(&CONTROL)
            .map(|(&t, &c)| (7, t, c))
            .collect();
        let c = paired_comparison(&pairs, 0.95, 1).unwrap();
        // Hand: mean difference (0.3 − 0.1 + 0.9 + 0.3 + 0.3 + 0.5 − 0.1 + 0.2 + 0.6)/9 = 2.9/9.
        assert_close(c.difference.estimate, 2.9 / 9.0, 1e-12);
        assert_eq!(
            c.difference.method,
            "bootstrap over 9 observations in 1 replicate, 2000 resamples, percentile"
        );
        // st.permutation_test((TREATED, CONTROL), mean(x-y), samples, inf, two-sided)
        assert_close(c.p_value, 0.01953125, 1e-12);
        assert_eq!(c.test, "sign-flip permutation test, exact");
        // d_z(TREATED - CONTROL)
        assert_close(c.effect_size.unwrap(), 1.0091917852123022, 1e-9);
        assert_eq!((c.n, c.clusters), (9, 1));
        assert_eq!(c, paired_comparison(&pairs, 0.95, 1).unwrap());
    }

    #[test]
    fn several_replicates() {
        let pairs: Vec<(u32, f64, f64)> = CLUSTER_OBS
            .iter()
            .map(|&(g, v)| (g, v + 1.0, 1.0))
            .collect();
        let c = paired_comparison(&pairs, 0.95, 1).unwrap();
        // mean -+ st.t.ppf(0.975, 3) * bse (CR1 interval, G = 4)
        assert_close(c.difference.low, 0.6063872133466408, 1e-9);
        assert_close(c.difference.high, 2.5572491502897226, 1e-9);
        // t = mean / CR1 se = 1.5818181818181816 / 0.3065035117331174 on 3 df:
        // 2 * st.t.sf(5.1608484773105054, 3)
        assert_close(c.p_value, 0.014109559882819431, 1e-9);
        assert_eq!(c.test, "cluster-robust (CR1) t test");
        // d_z(CLUSTER_OBS values)
        assert_close(c.effect_size.unwrap(), 2.5212096313989334, 1e-9);
        assert_eq!((c.n, c.clusters), (11, 4));
        // From ten replicates the test is the sign flip over replicate means.
        let many: Vec<(u32, f64, f64)> = (0..10u32)
            .flat_map(|g| [(g, 1.0 + f64::from(g % 3), 0.0), (g, 0.5, 0.0)])
            .collect();
        let c = paired_comparison(&many, 0.95, 1).unwrap();
        // All ten replicate means are positive: exact p = 2 / 2^10.
        assert_close(c.p_value, 2.0 / 1024.0, 1e-12);
        assert_eq!(c.test, "clustered sign-flip permutation test, exact");
    }

    #[test]
    fn equal_differences_have_no_effect_size() {
        let pairs = [(0, 2.0, 1.0), (0, 3.0, 2.0), (1, 4.0, 3.0), (1, 1.0, 0.0)];
        let c = paired_comparison(&pairs, 0.95, 1).unwrap();
        assert_eq!(c.effect_size, None);
        assert_eq!((c.difference.low, c.difference.high), (1.0, 1.0));
    }

    #[test]
    fn bad_input() {
        assert!(matches!(
            paired_comparison(&[], 0.95, 1),
            Err(StatsError::EmptyInput { .. })
        ));
        assert!(matches!(
            paired_comparison(&[(0, 1.0, f64::NAN), (0, 1.0, 2.0)], 0.95, 1),
            Err(StatsError::NotFinite { .. })
        ));
        assert!(matches!(
            paired_comparison(&[(0, 1.0, 2.0)], 0.95, 1),
            Err(StatsError::TooFew { .. })
        ));
        assert!(matches!(
            paired_comparison(&[(0, 1.0, 2.0), (0, 2.0, 2.0)], 2.0, 1),
            Err(StatsError::InvalidLevel(_))
        ));
    }
}
