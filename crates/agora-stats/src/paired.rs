//! Comparison of an arm with its control when both arms saw the same sampled people.
//!
//! Each pair `(cluster, treated, control)` gives a difference `treated − control`. The interval
//! of the mean difference follows [`design_interval`] over the clusters; the p-value is the
//! sign-flip permutation test (on cluster mean differences when there are at least two
//! clusters, on the individual differences otherwise); the effect size is Cohen's d_z of the
//! individual differences.

use serde::Serialize;

use crate::check;
use crate::effect::cohens_dz;
use crate::error::{Result, StatsError};
use crate::hypothesis::{clustered_sign_flip_test, sign_flip_test};
use crate::interval::{Interval, design_interval, group_by_cluster};

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
    let test = if clusters.len() >= 2 {
        clustered_sign_flip_test(&clusters, PERMUTATION_RESAMPLES, seed)?
    } else {
        sign_flip_test(&values, PERMUTATION_RESAMPLES, seed)?
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
        // st.permutation_test((cluster means, zeros), ...); hand 2/16.
        assert_close(c.p_value, 0.125, 1e-12);
        assert_eq!(c.test, "clustered sign-flip permutation test, exact");
        // d_z(CLUSTER_OBS values)
        assert_close(c.effect_size.unwrap(), 2.5212096313989334, 1e-9);
        assert_eq!((c.n, c.clusters), (11, 4));
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
