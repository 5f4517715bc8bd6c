//! Bootstrap interval for a distance between a simulated and a human sample.

use crate::check;
use crate::error::{Result, StatsError};
use crate::interval::{Interval, bootstrap_with, fill_indices, percentile_interval};

/// Percentile bootstrap interval of `metric(sim, human)`, resampling each sample independently
/// (respondents with replacement within each sample), `resamples` times from `seed`.
/// `metric` may fail on the full samples (the error is returned) but a resample on which it
/// fails counts as undefined and is dropped.
pub fn bootstrap_distance<T, F>(
    sim: &[T],
    human: &[T],
    metric: F,
    resamples: usize,
    seed: u64,
    level: f64,
) -> Result<Interval>
where
    T: Clone,
    F: Fn(&[T], &[T]) -> Result<f64>,
{
    check::level(level)?;
    if sim.is_empty() {
        return Err(StatsError::EmptyInput {
            what: "bootstrap_distance (simulated sample)",
        });
    }
    if human.is_empty() {
        return Err(StatsError::EmptyInput {
            what: "bootstrap_distance (human sample)",
        });
    }
    let estimate = metric(sim, human)?;
    let (ns, nh) = (sim.len(), human.len());
    let (mut is, mut ih) = (vec![0usize; ns], vec![0usize; nh]);
    let mut rs: Vec<T> = Vec::with_capacity(ns);
    let mut rh: Vec<T> = Vec::with_capacity(nh);
    let reps = bootstrap_with(
        |rng| {
            fill_indices(rng, ns, &mut is);
            fill_indices(rng, nh, &mut ih);
            rs.clear();
            rh.clear();
            rs.extend(is.iter().map(|&i| sim[i].clone()));
            rh.extend(ih.iter().map(|&i| human[i].clone()));
            metric(&rs, &rh).unwrap_or(f64::NAN)
        },
        resamples,
        seed,
    )?;
    percentile_interval(
        reps,
        estimate,
        level,
        format!("bootstrap over {ns} simulated and {nh} human respondents, resampled separately"),
    )
}
