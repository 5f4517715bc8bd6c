//! Sign-flip permutation test for paired differences.
//!
//! Under the null hypothesis that each difference is symmetric around zero, flipping the sign of
//! any difference is equally likely. The statistic is the mean difference `T`; the two-sided
//! p-value is the share of sign arrangements with `|T*| ≥ |T|`. With at most [`EXACT_MAX`]
//! differences all `2ⁿ` arrangements are enumerated (the observed one included); otherwise
//! `B` random arrangements give `p = (b + 1)/(B + 1)`, where `b` counts `|T*| ≥ |T|`.
//! Ties are judged with a relative tolerance of 1e-12 of `Σ|dᵢ|`.

use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;

use super::TestResult;
use crate::check;
use crate::error::{Result, StatsError};

/// Largest number of differences for which every sign arrangement is enumerated.
pub const EXACT_MAX: usize = 20;

/// Two-sided sign-flip permutation test of paired differences (exact for `n ≤ 20`, otherwise
/// `resamples` random flips from `seed`; both are ignored when the test is exact). The
/// statistic is the mean difference.
pub fn sign_flip_test(differences: &[f64], resamples: usize, seed: u64) -> Result<TestResult> {
    check::finite_nonempty("sign_flip_test", differences)?;
    let (p_value, exact) = sign_flip_p(differences, resamples, seed)?;
    Ok(TestResult {
        statistic: differences.iter().sum::<f64>() / differences.len() as f64,
        p_value,
        df: None,
        test: if exact {
            "sign-flip permutation test, exact"
        } else {
            "sign-flip permutation test, random flips"
        },
    })
}

/// Sign-flip test on cluster mean differences: each cluster's differences are averaged and the
/// signs of whole clusters are flipped, so dependence inside a cluster is respected. The
/// statistic is the unweighted mean of the cluster means. Empty clusters are ignored; needs at
/// least two clusters.
pub fn clustered_sign_flip_test(
    clusters: &[Vec<f64>],
    resamples: usize,
    seed: u64,
) -> Result<TestResult> {
    let mut means = Vec::with_capacity(clusters.len());
    for c in clusters.iter().filter(|c| !c.is_empty()) {
        check::finite("clustered_sign_flip_test", c)?;
        means.push(c.iter().sum::<f64>() / c.len() as f64);
    }
    if means.len() < 2 {
        return Err(StatsError::TooFewClusters {
            what: "clustered_sign_flip_test",
            needed: 2,
            got: means.len(),
        });
    }
    let (p_value, exact) = sign_flip_p(&means, resamples, seed)?;
    Ok(TestResult {
        statistic: means.iter().sum::<f64>() / means.len() as f64,
        p_value,
        df: None,
        test: if exact {
            "clustered sign-flip permutation test, exact"
        } else {
            "clustered sign-flip permutation test, random flips"
        },
    })
}

/// Two-sided p-value and whether it was exact.
fn sign_flip_p(d: &[f64], resamples: usize, seed: u64) -> Result<(f64, bool)> {
    let observed: f64 = d.iter().sum::<f64>().abs();
    let tol = 1e-12 * d.iter().map(|x| x.abs()).sum::<f64>();
    let threshold = observed - tol;
    if d.len() <= EXACT_MAX {
        return Ok((exact_p(d, threshold), true));
    }
    check::resamples("sign_flip_test", resamples)?;
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let mut b = 0usize;
    for _ in 0..resamples {
        let s: f64 = d
            .iter()
            .map(|&x| if rng.random::<bool>() { x } else { -x })
            .sum();
        if s.abs() >= threshold {
            b += 1;
        }
    }
    Ok(((b as f64 + 1.0) / (resamples as f64 + 1.0), false))
}

/// Share of all `2ⁿ` sign arrangements whose absolute sum reaches `threshold`, computed by
/// combining the signed sums of the two halves.
pub(super) fn exact_p(d: &[f64], threshold: f64) -> f64 {
    let (left, right) = d.split_at(d.len() / 2);
    let ls = signed_sums(left);
    let rs = signed_sums(right);
    let hits: usize = ls
        .iter()
        .map(|l| rs.iter().filter(|r| (l + *r).abs() >= threshold).count())
        .sum();
    hits as f64 / (ls.len() * rs.len()) as f64
}

/// All `2ⁿ` sums `Σ ±xᵢ` of a short slice.
fn signed_sums(x: &[f64]) -> Vec<f64> {
    (0..1usize << x.len())
        .map(|mask| {
            x.iter()
                .enumerate()
                .map(|(i, &v)| if mask >> i & 1 == 1 { -v } else { v })
                .sum()
        })
        .collect()
}
