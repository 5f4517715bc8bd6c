//! Percentile bootstrap: resample units with replacement, recompute the statistic, and take
//! type-7 quantiles `(1−level)/2` and `(1+level)/2` of the replicates.
//!
//! Every resample draws from `Pcg64Mcg::seed_from_u64(seed)`, so a seed fixes the result.
//! Replicates where the statistic is undefined (not finite, e.g. a correlation of a constant
//! resample) are dropped and counted in `method`; if more than half are dropped it is an error.

use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;

use super::Interval;
use crate::check;
use crate::describe::{mean_unchecked, quantile_sorted};
use crate::error::{Result, StatsError};

/// Replicates of a statistic recomputed on bootstrap resamples, with the count of dropped ones.
pub(crate) struct Replicates {
    /// Finite replicate values.
    pub values: Vec<f64>,
    /// Resamples whose statistic was not finite.
    pub skipped: usize,
}

/// Evaluates `replicate` on `resamples` draws from one generator seeded with `seed`; the closure
/// draws its own resample from the generator and returns the statistic on it.
pub(crate) fn bootstrap_with<F>(mut replicate: F, resamples: usize, seed: u64) -> Result<Replicates>
where
    F: FnMut(&mut Pcg64Mcg) -> f64,
{
    check::resamples("bootstrap", resamples)?;
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let mut values = Vec::with_capacity(resamples);
    let mut skipped = 0;
    for _ in 0..resamples {
        let v = replicate(&mut rng);
        if v.is_finite() {
            values.push(v);
        } else {
            skipped += 1;
        }
    }
    if values.len() * 2 < resamples {
        return Err(StatsError::InvalidArgument {
            what: "bootstrap",
            reason: format!(
                "the statistic was undefined on {skipped} of {resamples} resamples; the sample is too small or too uniform for a bootstrap"
            ),
        });
    }
    Ok(Replicates { values, skipped })
}

/// Draws `resamples` sets of `n` indices with replacement from `0..n` and evaluates `statistic`
/// on each.
pub(crate) fn bootstrap_indices<F>(
    n: usize,
    mut statistic: F,
    resamples: usize,
    seed: u64,
) -> Result<Replicates>
where
    F: FnMut(&[usize]) -> f64,
{
    if n == 0 {
        return Err(StatsError::EmptyInput { what: "bootstrap" });
    }
    let mut idx = vec![0usize; n];
    bootstrap_with(
        |rng| {
            fill_indices(rng, n, &mut idx);
            statistic(&idx)
        },
        resamples,
        seed,
    )
}

/// Overwrites `idx` with draws from `0..n` with replacement.
pub(crate) fn fill_indices(rng: &mut Pcg64Mcg, n: usize, idx: &mut [usize]) {
    for slot in idx.iter_mut() {
        *slot = rng.random_range(0..n);
    }
}

/// Percentile interval from replicates around `estimate`; appends the resample count to `method`.
pub(crate) fn percentile_interval(
    mut replicates: Replicates,
    estimate: f64,
    level: f64,
    method: String,
) -> Result<Interval> {
    check::level(level)?;
    if !estimate.is_finite() {
        return Err(StatsError::NotFinite {
            what: "bootstrap estimate on the full sample",
            value: estimate,
        });
    }
    replicates.values.sort_by(f64::total_cmp);
    let total = replicates.values.len() + replicates.skipped;
    let skipped = if replicates.skipped > 0 {
        format!(" ({} undefined resamples dropped)", replicates.skipped)
    } else {
        String::new()
    };
    Ok(Interval {
        estimate,
        low: quantile_sorted(&replicates.values, 0.5 - level / 2.0),
        high: quantile_sorted(&replicates.values, 0.5 + level / 2.0),
        level,
        method: format!("{method}, {total} resamples, percentile{skipped}"),
    })
}

/// Cluster (block) bootstrap: resamples whole clusters with replacement, so dependence inside a
/// cluster (agents of one replicate) is kept. `statistic` receives the resampled clusters.
pub fn cluster_bootstrap<F>(
    clusters: &[Vec<f64>],
    statistic: F,
    resamples: usize,
    seed: u64,
    level: f64,
) -> Result<Interval>
where
    F: Fn(&[&[f64]]) -> f64,
{
    check::level(level)?;
    if clusters.is_empty() {
        return Err(StatsError::EmptyInput {
            what: "cluster_bootstrap",
        });
    }
    for c in clusters {
        check::finite("cluster_bootstrap", c)?;
    }
    let all: Vec<&[f64]> = clusters.iter().map(Vec::as_slice).collect();
    let estimate = statistic(&all);
    let mut buf: Vec<&[f64]> = Vec::with_capacity(all.len());
    let reps = bootstrap_indices(
        all.len(),
        |idx| {
            buf.clear();
            buf.extend(idx.iter().map(|&i| all[i]));
            statistic(&buf)
        },
        resamples,
        seed,
    )?;
    percentile_interval(
        reps,
        estimate,
        level,
        format!("cluster bootstrap over {} clusters", clusters.len()),
    )
}

/// Ordinary bootstrap of the mean of independent observations.
pub fn bootstrap_mean(values: &[f64], resamples: usize, seed: u64, level: f64) -> Result<Interval> {
    check::at_least("bootstrap_mean", values, 2)?;
    check::level(level)?;
    let reps = bootstrap_indices(
        values.len(),
        |idx| idx.iter().map(|&i| values[i]).sum::<f64>() / idx.len() as f64,
        resamples,
        seed,
    )?;
    percentile_interval(
        reps,
        mean_unchecked(values),
        level,
        format!("bootstrap over {} observations", values.len()),
    )
}

/// The distinct values of `values` with their counts, in increasing order, when there are
/// at most `max_levels` of them.
///
/// One pass over the values, each found among the levels seen so far by binary search
/// (a run of equal values by one comparison), instead of sorting a copy of a sample of
/// a million observations for its five distinct ratings. Equal values are one level:
/// -0.0 and 0.0 count as the first of them in increasing order (-0.0), and every NaN is
/// a level of its own, as in [`levels_by_sorting`], which it equals on every input.
pub(crate) fn levels_of(values: &[f64], max_levels: usize) -> Option<Vec<(f64, u64)>> {
    if values.iter().any(|v| v.is_nan()) {
        return levels_by_sorting(values, max_levels);
    }
    // Levels by their bits' total order; -0.0 and 0.0 are merged at the end, so one
    // level more than `max_levels` is kept until then.
    let mut levels: Vec<(f64, u64)> = Vec::new();
    let mut last = 0;
    for &v in values {
        if let Some(level) = levels.get_mut(last)
            && level.0.total_cmp(&v).is_eq()
        {
            level.1 += 1;
            continue;
        }
        match levels.binary_search_by(|(x, _)| x.total_cmp(&v)) {
            Ok(i) => {
                levels[i].1 += 1;
                last = i;
            }
            Err(i) => {
                if levels.len() > max_levels {
                    return None;
                }
                levels.insert(i, (v, 1));
                last = i;
            }
        }
    }
    levels.dedup_by(|later, first| {
        let equal = later.0 == first.0;
        if equal {
            first.1 += later.1;
        }
        equal
    });
    (levels.len() <= max_levels).then_some(levels)
}

/// [`levels_of`] by sorting a copy of the values (what it does when a value is NaN).
fn levels_by_sorting(values: &[f64], max_levels: usize) -> Option<Vec<(f64, u64)>> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut levels: Vec<(f64, u64)> = Vec::new();
    for v in sorted {
        match levels.last_mut() {
            Some((last, count)) if *last == v => *count += 1,
            _ => {
                if levels.len() == max_levels {
                    return None;
                }
                levels.push((v, 1));
            }
        }
    }
    Some(levels)
}

/// Ordinary bootstrap of the mean of `n` observations that take a few distinct values
/// (`levels`: each value with its count). A resample of `n` draws with replacement holds
/// each value a multinomial number of times, with the observed shares as probabilities; the
/// counts are drawn one value after another as binomials of what is left (conditional
/// probabilities from the integer counts). That is the same resampling distribution as
/// drawing `n` indices, in time proportional to the number of values, not of observations.
pub(crate) fn bootstrap_mean_of_levels(
    levels: &[(f64, u64)],
    resamples: usize,
    seed: u64,
    level: f64,
) -> Result<Interval> {
    use rand_distr::{Binomial, Distribution};
    check::level(level)?;
    let n: u64 = levels.iter().map(|(_, c)| c).sum();
    if n < 2 {
        return Err(StatsError::TooFew {
            what: "bootstrap_mean_of_levels",
            needed: 2,
            got: n as usize,
        });
    }
    // Observations at or after each value: the conditional probability's denominator.
    let mut remaining: Vec<u64> = levels
        .iter()
        .rev()
        .scan(0u64, |acc, (_, c)| {
            *acc += c;
            Some(*acc)
        })
        .collect();
    remaining.reverse();
    let probabilities: Vec<f64> = levels
        .iter()
        .zip(&remaining)
        .map(|((_, c), r)| *c as f64 / *r as f64)
        .collect();
    let reps = bootstrap_with(
        |rng| {
            let mut left = n;
            let mut sum = 0.0;
            for (j, (value, _)) in levels.iter().enumerate() {
                if left == 0 {
                    break;
                }
                let count = if j + 1 == levels.len() {
                    left
                } else {
                    // A count over what is left is always a probability in (0, 1].
                    Binomial::new(left, probabilities[j])
                        .map(|b| b.sample(rng))
                        .unwrap_or(left)
                };
                sum += value * count as f64;
                left -= count;
            }
            sum / n as f64
        },
        resamples,
        seed,
    )?;
    let estimate = levels.iter().map(|(v, c)| v * *c as f64).sum::<f64>() / n as f64;
    percentile_interval(
        reps,
        estimate,
        level,
        format!(
            "bootstrap over {n} observations ({} distinct values, resampled as multinomial counts)",
            levels.len()
        ),
    )
}

/// Mean of all values pooled across clusters (each observation weighted equally), the
/// statistic [`design_interval`](super::design_interval) bootstraps; NaN when there are none.
pub fn pooled_mean(clusters: &[&[f64]]) -> f64 {
    let (sum, n) = clusters.iter().fold((0.0, 0usize), |(s, n), c| {
        (s + c.iter().sum::<f64>(), n + c.len())
    });
    sum / n as f64
}

#[cfg(test)]
mod levels {
    use proptest::prelude::*;

    use super::{levels_by_sorting, levels_of};

    /// Levels with their values as bits, so that -0.0, 0.0 and NaNs compare exactly.
    fn bits(levels: Option<Vec<(f64, u64)>>) -> Option<Vec<(u64, u64)>> {
        levels.map(|l| l.into_iter().map(|(v, c)| (v.to_bits(), c)).collect())
    }

    #[test]
    fn ratings_are_counted_in_increasing_order() {
        let values = [3.0, 1.0, 3.0, 5.0, 5.0, 5.0, 1.0, 2.0];
        assert_eq!(
            levels_of(&values, 10),
            Some(vec![(1.0, 2), (2.0, 1), (3.0, 2), (5.0, 3)])
        );
        assert_eq!(levels_of(&values, 4).map(|l| l.len()), Some(4));
        assert_eq!(levels_of(&values, 3), None);
        assert_eq!(levels_of(&[], 3), Some(Vec::new()));
        // -0.0 and 0.0 are one level, under -0.0 (first in increasing order), and count
        // once against the limit.
        let zeros = [0.0, -0.0, 0.0, 1.0];
        assert_eq!(
            bits(levels_of(&zeros, 2)),
            bits(Some(vec![(-0.0, 3), (1.0, 1)]))
        );
        assert_eq!(bits(levels_of(&[0.0, 0.0], 1)), bits(Some(vec![(0.0, 2)])));
    }

    proptest! {
        #[test]
        fn one_pass_counts_as_sorting_does(
            picks in prop::collection::vec(0usize..9, 0..300),
            max_levels in 0usize..9,
        ) {
            let palette = [-0.0, 0.0, 1.0, -2.5, f64::INFINITY, f64::NEG_INFINITY, 7.0, 1e300, f64::NAN];
            // Without NaN most of the time: that is the one-pass path.
            let no_nan = picks.len() % 4 != 0;
            let values: Vec<f64> = picks
                .iter()
                .map(|&i| if no_nan && i == 8 { 3.0 } else { palette[i] })
                .collect();
            prop_assert_eq!(
                bits(levels_of(&values, max_levels)),
                bits(levels_by_sorting(&values, max_levels))
            );
        }
    }
}
