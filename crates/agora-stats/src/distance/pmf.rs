//! Distances between probability vectors over the same categories.
//!
//! A probability vector must be non-empty, finite, non-negative and sum to 1 within 1e-9;
//! [`pmf_from_counts`] and [`pmf_from_values`] build one from raw data.

use crate::check;
use crate::error::{Result, StatsError};

/// Largest allowed deviation of a probability vector's sum from 1.
const SUM_TOLERANCE: f64 = 1e-9;

/// Normalises non-negative counts (or weights) to a probability vector.
pub fn pmf_from_counts(counts: &[f64]) -> Result<Vec<f64>> {
    check::finite_nonempty("pmf_from_counts", counts)?;
    if let Some(&bad) = counts.iter().find(|c| **c < 0.0) {
        return Err(StatsError::NotADistribution {
            reason: format!("count {bad} is negative"),
        });
    }
    let total: f64 = counts.iter().sum();
    if total <= 0.0 {
        return Err(StatsError::NotADistribution {
            reason: "all counts are zero".to_string(),
        });
    }
    Ok(counts.iter().map(|c| c / total).collect())
}

/// Share of `values` in each of `categories` (in the order of `categories`); a value outside
/// the categories is an error, so answers that failed to parse are not silently dropped.
pub fn pmf_from_values<T: PartialEq + std::fmt::Debug>(
    values: &[T],
    categories: &[T],
) -> Result<Vec<f64>> {
    if values.is_empty() {
        return Err(StatsError::EmptyInput {
            what: "pmf_from_values",
        });
    }
    if categories.is_empty() {
        return Err(StatsError::EmptyInput {
            what: "pmf_from_values (categories)",
        });
    }
    let mut counts = vec![0.0; categories.len()];
    for v in values {
        match categories.iter().position(|c| c == v) {
            Some(i) => counts[i] += 1.0,
            None => {
                return Err(StatsError::InvalidArgument {
                    what: "pmf_from_values",
                    reason: format!(
                        "value {v:?} is not one of the categories {categories:?}; map or drop it first"
                    ),
                });
            }
        }
    }
    pmf_from_counts(&counts)
}

/// Checks that `p` and `q` are probability vectors of equal length.
fn check_pair(p: &[f64], q: &[f64]) -> Result<()> {
    check::same_length("probability vectors", p.len(), q.len())?;
    for v in [p, q] {
        check::finite_nonempty("probability vector", v)?;
        if let Some(&bad) = v.iter().find(|x| **x < 0.0) {
            return Err(StatsError::NotADistribution {
                reason: format!("probability {bad} is negative"),
            });
        }
        let sum: f64 = v.iter().sum();
        if (sum - 1.0).abs() > SUM_TOLERANCE {
            return Err(StatsError::NotADistribution {
                reason: format!("probabilities sum to {sum}, not 1"),
            });
        }
    }
    Ok(())
}

/// Wasserstein-1 (earth mover's) distance between distributions on the ordinal positions
/// `1..N`, divided by `N − 1` so it lies in [0, 1]: `Σ_{k<N} |F_p(k) − F_q(k)| / (N − 1)` with
/// `F` the cumulative sums. It respects order: moving mass to a neighbouring answer costs less
/// than moving it to the far end of the scale.
pub fn ordinal_wasserstein(p: &[f64], q: &[f64]) -> Result<f64> {
    check_pair(p, q)?;
    if p.len() < 2 {
        return Err(StatsError::TooFew {
            what: "ordinal_wasserstein (categories)",
            needed: 2,
            got: p.len(),
        });
    }
    let (mut fp, mut fq, mut sum) = (0.0, 0.0, 0.0);
    for (a, b) in p.iter().zip(q).take(p.len() - 1) {
        fp += a;
        fq += b;
        sum += (fp - fq).abs();
    }
    Ok(sum / (p.len() as f64 - 1.0))
}

/// Representativeness `1 − ordinal_wasserstein(p, q)`: 1 for identical answer distributions,
/// 0 when all mass sits at opposite ends of the scale.
pub fn representativeness(p: &[f64], q: &[f64]) -> Result<f64> {
    Ok(1.0 - ordinal_wasserstein(p, q)?)
}

/// Total variation distance `½ Σ |pᵢ − qᵢ|`, the largest difference in probability the two
/// distributions assign to any set of answers; for nominal answers.
pub fn total_variation(p: &[f64], q: &[f64]) -> Result<f64> {
    check_pair(p, q)?;
    Ok(0.5 * p.iter().zip(q).map(|(a, b)| (a - b).abs()).sum::<f64>())
}

/// Jensen–Shannon distance with base-2 logarithms, in [0, 1]:
/// `√(½ KL(p‖m) + ½ KL(q‖m))` with `m = (p + q)/2` and `0·log 0 = 0`.
pub fn jensen_shannon_distance(p: &[f64], q: &[f64]) -> Result<f64> {
    check_pair(p, q)?;
    let kl = |x: &[f64]| -> f64 {
        x.iter()
            .zip(p.iter().zip(q))
            .filter(|(xi, _)| **xi > 0.0)
            .map(|(xi, (a, b))| xi * (xi / ((a + b) / 2.0)).log2())
            .sum()
    };
    let js = (0.5 * kl(p) + 0.5 * kl(q)).max(0.0);
    Ok(js.sqrt())
}
