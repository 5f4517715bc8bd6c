//! Gabor–Granger demand and revenue curves.

use serde::{Deserialize, Serialize};

use crate::error::{ChoiceError, Result};
use crate::normal::z95;

/// Demand and revenue at one price.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DemandPoint {
    /// The price asked.
    pub price: f64,
    /// Answers at this price.
    pub n: usize,
    /// "Yes" answers at this price.
    pub buyers: usize,
    /// `buyers / n`.
    pub demand: f64,
    /// Lower end of the Wilson 95% interval of `demand`.
    pub ci_low: f64,
    /// Upper end of the Wilson 95% interval of `demand`.
    pub ci_high: f64,
    /// `price · demand`, expected revenue per respondent.
    pub revenue: f64,
}

/// Result of [`gabor_granger`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GaborGranger {
    /// One point per distinct price, ascending.
    pub points: Vec<DemandPoint>,
    /// Price with the highest revenue (the lowest such price on ties).
    pub best_price: f64,
    /// Revenue at `best_price`.
    pub best_revenue: f64,
}

/// Wilson score interval for `successes` out of `n` at critical value `z`:
/// `(p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n)`.
pub fn wilson_interval(successes: usize, n: usize, z: f64) -> Result<(f64, f64)> {
    if n == 0 || successes > n {
        return Err(ChoiceError::invalid(
            "Wilson interval counts",
            format!("{successes} successes out of {n}; need n ≥ 1 and successes ≤ n"),
        ));
    }
    if !(z.is_finite() && z > 0.0) {
        return Err(ChoiceError::invalid(
            "critical value",
            format!("{z} is not a positive number"),
        ));
    }
    let nf = n as f64;
    let p = successes as f64 / nf;
    let z2 = z * z;
    let denominator = 1.0 + z2 / nf;
    let centre = (p + z2 / (2.0 * nf)) / denominator;
    let half = z * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt() / denominator;
    Ok(((centre - half).max(0.0), (centre + half).min(1.0)))
}

/// Demand and revenue curves from `(price, would buy)` answers.
///
/// Respondents are asked whether they would buy at prices from a ladder (either one
/// random price each, or a walk: start at a random rung, go up after "yes" and down
/// after "no", see [`next_price_index`]). Demand at a price is the share of answers at
/// that price that were "yes", with a Wilson 95% interval; revenue is
/// `price · demand`. Demand is reported as observed, without forcing it to fall with
/// price.
///
/// Errors on an empty list and on negative or non-finite prices.
pub fn gabor_granger(observations: &[(f64, bool)]) -> Result<GaborGranger> {
    if observations.is_empty() {
        return Err(ChoiceError::empty(
            "the list of Gabor–Granger answers",
            "(price, buys) answer",
        ));
    }
    for (i, &(p, _)) in observations.iter().enumerate() {
        if !p.is_finite() {
            return Err(ChoiceError::non_finite(
                format!("the price of answer {i}"),
                p,
            ));
        }
        if p < 0.0 {
            return Err(ChoiceError::invalid(
                "price",
                format!("answer {i} has negative price {p}; prices must be ≥ 0"),
            ));
        }
    }
    let mut sorted: Vec<(f64, bool)> = observations.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let z = z95();
    let mut points: Vec<DemandPoint> = Vec::new();
    for group in sorted.chunk_by(|a, b| a.0 == b.0) {
        let price = group[0].0;
        let n = group.len();
        let buyers = group.iter().filter(|(_, yes)| *yes).count();
        let demand = buyers as f64 / n as f64;
        let (ci_low, ci_high) = wilson_interval(buyers, n, z)?;
        points.push(DemandPoint {
            price,
            n,
            buyers,
            demand,
            ci_low,
            ci_high,
            revenue: price * demand,
        });
    }
    let best = points
        .iter()
        .fold(None::<&DemandPoint>, |best, p| match best {
            Some(b) if b.revenue >= p.revenue => Some(b),
            _ => Some(p),
        })
        .copied()
        .unwrap_or(points[0]);
    Ok(GaborGranger {
        best_price: best.price,
        best_revenue: best.revenue,
        points,
    })
}

/// The next rung of a price ladder walk: one up after "yes", one down after "no";
/// `None` when the walk leaves the ladder (or `current` is not on it), which ends it.
pub fn next_price_index(ladder_len: usize, current: usize, said_yes: bool) -> Option<usize> {
    if current >= ladder_len {
        return None;
    }
    if said_yes {
        (current + 1 < ladder_len).then_some(current + 1)
    } else {
        current.checked_sub(1)
    }
}
