//! Person-by-person agreement of digital twins: one simulated agent per real respondent,
//! answers compared pair by pair. Each rate comes with a percentile bootstrap interval over
//! respondents (pairs resampled with replacement, deterministic for a seed).

use crate::check;
use crate::error::{Result, StatsError};
use crate::interval::{Interval, bootstrap_indices, percentile_interval};

/// Share of respondents whose twin gave exactly their answer, with a bootstrap interval.
pub fn exact_match_rate<T: PartialEq>(
    sim: &[T],
    human: &[T],
    resamples: usize,
    seed: u64,
    level: f64,
) -> Result<Interval> {
    let hits: Vec<f64> = matches(sim, human, |s, h| s == h)?;
    rate_interval(&hits, resamples, seed, level, "exact-match rate")
}

/// Share of respondents whose twin's ordinal answer is within one scale point of theirs
/// (`|sim − human| ≤ 1`), with a bootstrap interval.
pub fn within_one_rate(
    sim: &[i64],
    human: &[i64],
    resamples: usize,
    seed: u64,
    level: f64,
) -> Result<Interval> {
    let hits: Vec<f64> = matches(sim, human, |s, h| s.abs_diff(*h) <= 1)?;
    rate_interval(&hits, resamples, seed, level, "within-one rate")
}

/// Pearson correlation `r = Σ(x−x̄)(y−ȳ) / √(Σ(x−x̄)² Σ(y−ȳ)²)`; zero variance is an error.
pub fn pearson_r(x: &[f64], y: &[f64]) -> Result<f64> {
    check::same_length("pearson_r", x.len(), y.len())?;
    check::at_least("pearson_r (first sample)", x, 2)?;
    check::at_least("pearson_r (second sample)", y, 2)?;
    let r = pearson_unchecked(x, y);
    if r.is_finite() {
        Ok(r)
    } else {
        Err(StatsError::ZeroVariance { what: "pearson_r" })
    }
}

/// Pearson correlation between twins' and respondents' answers with a bootstrap interval over
/// respondents (resamples where either side is constant are dropped).
pub fn pearson_interval(
    sim: &[f64],
    human: &[f64],
    resamples: usize,
    seed: u64,
    level: f64,
) -> Result<Interval> {
    check::level(level)?;
    let estimate = pearson_r(sim, human)?;
    let (mut xs, mut ys) = (Vec::with_capacity(sim.len()), Vec::with_capacity(sim.len()));
    let reps = bootstrap_indices(
        sim.len(),
        |idx| {
            xs.clear();
            ys.clear();
            xs.extend(idx.iter().map(|&i| sim[i]));
            ys.extend(idx.iter().map(|&i| human[i]));
            pearson_unchecked(&xs, &ys)
        },
        resamples,
        seed,
    )?;
    percentile_interval(
        reps,
        estimate,
        level,
        format!(
            "Pearson correlation, bootstrap over {} respondents",
            sim.len()
        ),
    )
}

/// Accuracy divided by the test-retest ceiling (how often people repeat their own answer), so
/// 1 means twins agree with people as often as people agree with themselves. The interval's
/// bounds are divided by the same ceiling, which must lie in (0, 1].
pub fn normalised_accuracy(accuracy: &Interval, ceiling: f64) -> Result<Interval> {
    if !(ceiling.is_finite() && ceiling > 0.0 && ceiling <= 1.0) {
        return Err(StatsError::InvalidArgument {
            what: "normalised_accuracy",
            reason: format!(
                "test-retest ceiling {ceiling} is outside (0, 1]; pass the share of repeated answers"
            ),
        });
    }
    Ok(Interval {
        estimate: accuracy.estimate / ceiling,
        low: accuracy.low / ceiling,
        high: accuracy.high / ceiling,
        level: accuracy.level,
        method: format!(
            "{} divided by test-retest ceiling {ceiling}",
            accuracy.method
        ),
    })
}

/// 1.0 where `agree(sim, human)` holds, else 0.0, after checking the lengths.
fn matches<T, F: Fn(&T, &T) -> bool>(sim: &[T], human: &[T], agree: F) -> Result<Vec<f64>> {
    check::same_length("twins (simulated vs human answers)", sim.len(), human.len())?;
    if sim.is_empty() {
        return Err(StatsError::EmptyInput { what: "twins" });
    }
    Ok(sim
        .iter()
        .zip(human)
        .map(|(s, h)| if agree(s, h) { 1.0 } else { 0.0 })
        .collect())
}

/// Mean of 0/1 hits with a bootstrap interval over respondents.
fn rate_interval(
    hits: &[f64],
    resamples: usize,
    seed: u64,
    level: f64,
    name: &str,
) -> Result<Interval> {
    check::level(level)?;
    let estimate = hits.iter().sum::<f64>() / hits.len() as f64;
    let reps = bootstrap_indices(
        hits.len(),
        |idx| idx.iter().map(|&i| hits[i]).sum::<f64>() / idx.len() as f64,
        resamples,
        seed,
    )?;
    percentile_interval(
        reps,
        estimate,
        level,
        format!("{name}, bootstrap over {} respondents", hits.len()),
    )
}

/// Pearson correlation without checks; NaN when either side is constant.
fn pearson_unchecked(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx <= 0.0 || syy <= 0.0 {
        return f64::NAN;
    }
    (sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::{DATA_A, DATA_B, assert_close};

    // Hand: exact matches 3 of 4; within one: |diffs| 0, 1, 2, 0 → 3 of 4; 0.6 / 0.8 = 0.75.
    #[test]
    fn hand_computed() {
        let iv =
            exact_match_rate(&["a", "b", "c", "d"], &["a", "b", "x", "d"], 200, 1, 0.95).unwrap();
        assert_close(iv.estimate, 0.75, 1e-15);
        assert!(
            iv.low >= 0.0 && iv.high <= 1.0 && iv.contains(0.75),
            "{iv:?}"
        );
        let iv = within_one_rate(&[1, 2, 5, 4], &[1, 3, 3, 4], 200, 1, 0.95).unwrap();
        assert_close(iv.estimate, 0.75, 1e-15);
        let acc = Interval {
            estimate: 0.6,
            low: 0.4,
            high: 0.72,
            level: 0.95,
            method: "m".into(),
        };
        let n = normalised_accuracy(&acc, 0.8).unwrap();
        assert_close(n.estimate, 0.75, 1e-15);
        assert_close(n.low, 0.5, 1e-15);
        assert_close(n.high, 0.9, 1e-15);
        // Hand: x = [1, 2, 3], y = [2, 4, 7]: deviations (−1, 0, 1) and (−2.333, −0.333, 2.667);
        // Σxy = 5, Σx² = 2, Σy² = 12.6667, r = 5/√25.3333 = 0.9933992677987828.
        assert_close(
            pearson_r(&[1.0, 2.0, 3.0], &[2.0, 4.0, 7.0]).unwrap(),
            0.9933992677987828,
            1e-12,
        );
    }

    #[test]
    fn pearson_scipy() {
        // st.pearsonr(A[:7], B).statistic
        assert_close(
            pearson_r(&DATA_A[..7], &DATA_B).unwrap(),
            0.1360850776435632,
            1e-9,
        );
        let iv = pearson_interval(&DATA_A[..7], &DATA_B, 500, 4, 0.9).unwrap();
        assert_close(iv.estimate, 0.1360850776435632, 1e-9);
        assert!(
            iv.low >= -1.0 && iv.high <= 1.0 && iv.low < iv.high,
            "{iv:?}"
        );
        assert_eq!(
            iv,
            pearson_interval(&DATA_A[..7], &DATA_B, 500, 4, 0.9).unwrap()
        );
    }

    #[test]
    fn bad_input() {
        assert!(matches!(
            exact_match_rate::<i32>(&[], &[], 100, 1, 0.95),
            Err(StatsError::EmptyInput { .. })
        ));
        assert!(matches!(
            exact_match_rate(&[1], &[1, 2], 100, 1, 0.95),
            Err(StatsError::LengthMismatch { .. })
        ));
        assert!(matches!(
            within_one_rate(&[1], &[1], 100, 1, 0.0),
            Err(StatsError::InvalidLevel(_))
        ));
        assert!(matches!(
            pearson_r(&[1.0, 1.0], &[1.0, 2.0]),
            Err(StatsError::ZeroVariance { .. })
        ));
        assert!(pearson_r(&[1.0, f64::NAN], &[1.0, 2.0]).is_err());
        let acc = Interval {
            estimate: 0.5,
            low: 0.4,
            high: 0.6,
            level: 0.95,
            method: "m".into(),
        };
        for bad in [0.0, -0.1, 1.1, f64::NAN] {
            assert!(normalised_accuracy(&acc, bad).is_err());
        }
    }
}
