//! Student t tests: Welch's two-sample test, the one-sample test and the paired test.

use super::TestResult;
use crate::check;
use crate::describe::{mean_unchecked, variance_unchecked};
use crate::dist::t_two_sided_p;
use crate::error::{Result, StatsError};

/// Welch's two-sample t test, which does not assume equal variances:
/// `t = (x̄_a − x̄_b) / √(s²_a/n_a + s²_b/n_b)` with Welch–Satterthwaite df
/// `(s²_a/n_a + s²_b/n_b)² / ((s²_a/n_a)²/(n_a−1) + (s²_b/n_b)²/(n_b−1))`.
pub fn welch_t_test(a: &[f64], b: &[f64]) -> Result<TestResult> {
    check::at_least("welch_t_test (first sample)", a, 2)?;
    check::at_least("welch_t_test (second sample)", b, 2)?;
    let va = variance_unchecked(a) / a.len() as f64;
    let vb = variance_unchecked(b) / b.len() as f64;
    let se2 = va + vb;
    if se2 <= 0.0 {
        return Err(StatsError::ZeroVariance {
            what: "welch_t_test",
        });
    }
    let t = (mean_unchecked(a) - mean_unchecked(b)) / se2.sqrt();
    let df = se2 * se2 / (va * va / (a.len() as f64 - 1.0) + vb * vb / (b.len() as f64 - 1.0));
    Ok(TestResult {
        statistic: t,
        p_value: t_two_sided_p(t, df)?,
        df: Some(df),
        test: "Welch two-sample t test",
    })
}

/// One-sample t test of `mean = mu`: `t = (x̄ − mu) / (s/√n)` with `n − 1` df.
pub fn one_sample_t_test(values: &[f64], mu: f64) -> Result<TestResult> {
    check::at_least("one_sample_t_test", values, 2)?;
    check::finite("one_sample_t_test (mu)", &[mu])?;
    let n = values.len() as f64;
    let se = (variance_unchecked(values) / n).sqrt();
    if se <= 0.0 {
        return Err(StatsError::ZeroVariance {
            what: "one_sample_t_test",
        });
    }
    let t = (mean_unchecked(values) - mu) / se;
    let df = n - 1.0;
    Ok(TestResult {
        statistic: t,
        p_value: t_two_sided_p(t, df)?,
        df: Some(df),
        test: "one-sample t test",
    })
}

/// Paired t test: the one-sample t test of the differences `treated − control` against 0.
pub fn paired_t_test(treated: &[f64], control: &[f64]) -> Result<TestResult> {
    check::same_length("paired_t_test", treated.len(), control.len())?;
    check::finite("paired_t_test (treated)", treated)?;
    check::finite("paired_t_test (control)", control)?;
    let diffs: Vec<f64> = treated.iter().zip(control).map(|(t, c)| t - c).collect();
    let mut r = one_sample_t_test(&diffs, 0.0)?;
    r.test = "paired t test";
    Ok(r)
}
