//! Exact two-sided binomial test.
//!
//! The p-value sums the probabilities of all outcomes no more likely than the observed one,
//! `Σ_{i: P(i) ≤ P(k)(1+1e-7)} P(i)`, the "minimum likelihood" rule scipy's `binomtest` uses.
//! The outcomes on the far side of the mode form a tail, found by bisection.

use statrs::distribution::{Binomial, Discrete, DiscreteCDF};

use super::TestResult;
use crate::error::{Result, StatsError};

/// Relative slack for judging outcomes as likely as the observed one.
const RERR: f64 = 1.0 + 1e-7;

/// Exact two-sided binomial test of `successes` in `n` trials against success probability `p`.
/// The statistic is the observed proportion `k/n`.
pub fn binomial_test(successes: u64, n: u64, p: f64) -> Result<TestResult> {
    if n == 0 {
        return Err(StatsError::EmptyInput {
            what: "binomial_test (n = 0 trials)",
        });
    }
    if successes > n {
        return Err(StatsError::InvalidArgument {
            what: "binomial_test",
            reason: format!("{successes} successes out of {n} trials; successes must not exceed n"),
        });
    }
    if !(0.0..=1.0).contains(&p) {
        return Err(StatsError::InvalidArgument {
            what: "binomial_test",
            reason: format!("success probability {p} is outside [0, 1]"),
        });
    }
    let dist = Binomial::new(p, n).map_err(|e| StatsError::InvalidArgument {
        what: "binomial_test",
        reason: format!("binomial({n}, {p}) rejected: {e}"),
    })?;
    let k = successes;
    let expected = p * n as f64;
    let d = dist.pmf(k) * RERR;
    let p_value = if k as f64 == expected {
        1.0
    } else if (k as f64) < expected {
        // Upper tail: the first j ≥ ⌈np⌉ with pmf(j) ≤ d; pmf is non-increasing there.
        let first = first_at_most(&dist, expected.ceil() as u64, n, d);
        let upper = match first {
            Some(0) => 1.0,
            Some(j) => dist.sf(j - 1),
            None => 0.0,
        };
        dist.cdf(k) + upper
    } else {
        // Lower tail: the last j ≤ ⌊np⌋ with pmf(j) ≤ d; pmf is non-decreasing there.
        let lower = last_at_most(&dist, expected.floor() as u64, d).map_or(0.0, |j| dist.cdf(j));
        let at_least_k = if k == 0 { 1.0 } else { dist.sf(k - 1) };
        lower + at_least_k
    };
    Ok(TestResult {
        statistic: k as f64 / n as f64,
        p_value: p_value.min(1.0),
        df: None,
        test: "exact binomial test",
    })
}

/// Smallest `j` in `[lo, hi]` with `pmf(j) ≤ d`, where pmf decreases on the range.
fn first_at_most(dist: &Binomial, lo: u64, hi: u64, d: f64) -> Option<u64> {
    if lo > hi || dist.pmf(hi) > d {
        return None;
    }
    let (mut a, mut b) = (lo, hi);
    while a < b {
        let mid = a + (b - a) / 2;
        if dist.pmf(mid) <= d {
            b = mid
        } else {
            a = mid + 1
        }
    }
    Some(a)
}

/// Largest `j` in `[0, hi]` with `pmf(j) ≤ d`, where pmf increases on the range.
fn last_at_most(dist: &Binomial, hi: u64, d: f64) -> Option<u64> {
    if dist.pmf(0) > d {
        return None;
    }
    let (mut a, mut b) = (0, hi);
    while a < b {
        let mid = a + (b - a).div_ceil(2);
        if dist.pmf(mid) <= d {
            a = mid
        } else {
            b = mid - 1
        }
    }
    Some(a)
}
