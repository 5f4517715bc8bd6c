//! Closed-form intervals: Student t for a mean, Wilson score for a proportion.

use super::Interval;
use crate::check;
use crate::describe::{mean_unchecked, variance_unchecked};
use crate::dist::{t_quantile, z_quantile};
use crate::error::{Result, StatsError};

/// Mean ± `t_{n-1, (1+level)/2} · s/√n`: the textbook interval for a mean of independent values.
///
/// With zero spread the interval collapses to the mean.
pub fn t_interval(values: &[f64], level: f64) -> Result<Interval> {
    check::at_least("t_interval", values, 2)?;
    check::level(level)?;
    let n = values.len() as f64;
    let m = mean_unchecked(values);
    let se = (variance_unchecked(values) / n).sqrt();
    let half = t_quantile(n - 1.0, 0.5 + level / 2.0)? * se;
    Ok(Interval {
        estimate: m,
        low: m - half,
        high: m + half,
        level,
        method: format!(
            "Student t interval over {} observations, {} df",
            values.len(),
            values.len() - 1
        ),
    })
}

/// Wilson score interval for a proportion `successes / n`; unlike the Wald interval it stays
/// inside [0, 1] and behaves well near 0 and 1.
///
/// With `p̂ = k/n` and `z = Φ⁻¹((1+level)/2)`, the centre is `(p̂ + z²/2n) / (1 + z²/n)` and the
/// half-width `z/(1 + z²/n) · √(p̂(1−p̂)/n + z²/4n²)`. The estimate reported is `p̂`.
pub fn wilson_interval(successes: u64, n: u64, level: f64) -> Result<Interval> {
    check::level(level)?;
    if n == 0 {
        return Err(StatsError::EmptyInput {
            what: "wilson_interval (n = 0 trials)",
        });
    }
    if successes > n {
        return Err(StatsError::InvalidArgument {
            what: "wilson_interval",
            reason: format!("{successes} successes out of {n} trials; successes must not exceed n"),
        });
    }
    let nf = n as f64;
    let p = successes as f64 / nf;
    let z = z_quantile(0.5 + level / 2.0);
    let z2 = z * z;
    let denom = 1.0 + z2 / nf;
    let centre = (p + z2 / (2.0 * nf)) / denom;
    let half = z / denom * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt();
    Ok(Interval {
        estimate: p,
        low: (centre - half).max(0.0),
        high: (centre + half).min(1.0),
        level,
        method: format!("Wilson score interval for {successes} of {n}"),
    })
}
