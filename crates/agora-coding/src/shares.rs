//! Theme shares: how often each code applies, per arm and segment, with intervals.
//!
//! An agent may give several answers of one source (a debater's messages, a concept
//! rating per concept); its value for a code is the share of its answers that received
//! the code (0 or 1 when it answered once). The theme share of an arm is the mean of
//! its agents' values, pooled over replicates. Agents are nested in replicates (they
//! share the replicate's draws), so the 95% interval is the design interval of
//! [`agora_stats::design_interval`]: a cluster bootstrap over replicates from 10, a
//! cluster-robust t interval from 2 to 9, a bootstrap over agents with one replicate.
//! Intervals are clipped to 0..1. Segments are `all`, then `attribute=level` for each
//! level of each segment attribute.

use std::collections::BTreeMap;

use crate::error::CodingError;

/// Confidence level of the intervals.
pub const LEVEL: f64 = 0.95;

/// One coded answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodedAnswer {
    /// Arm.
    pub arm: String,
    /// Replicate.
    pub replicate: u32,
    /// Agent.
    pub agent: u32,
    /// Positions of the codes that apply.
    pub codes: Vec<usize>,
}

/// A theme share of one arm, segment and code.
#[derive(Clone, Debug, PartialEq)]
pub struct ThemeShare {
    /// Arm.
    pub arm: String,
    /// Segment (`all` or `attribute=level`).
    pub segment: String,
    /// Position of the code in the codebook.
    pub code: usize,
    /// Mean over agents of the share of their answers with the code.
    pub share: f64,
    /// Lower end of the 95% interval (`None` when too few observations).
    pub ci_low: Option<f64>,
    /// Upper end of the 95% interval.
    pub ci_high: Option<f64>,
    /// Agents with at least one answer.
    pub agents: u64,
    /// Answers coded.
    pub answers: u64,
    /// Replicates contributing.
    pub replicates: u32,
    /// How the interval was computed.
    pub method: String,
}

/// Segment labels of agents: `(arm, replicate, agent)` to one label per segment
/// attribute (`None` where missing).
pub type Labels = BTreeMap<(String, u32, u32), Vec<Option<String>>>;

/// Per agent: answers and hits per code.
type Tally = (u64, Vec<u64>);

/// Theme shares of `answers` against a codebook of `codes` codes, for every arm of
/// `arms` (in that order), segment and code. `segments` names the segment attributes
/// whose levels `labels` gives; `seed` seeds the bootstraps (each row mixes in its
/// identity, so rows are reproducible one by one).
pub fn theme_shares(
    answers: &[CodedAnswer],
    codes: usize,
    arms: &[String],
    segments: &[String],
    labels: &Labels,
    seed: u64,
) -> Result<Vec<ThemeShare>, CodingError> {
    let mut tallies: BTreeMap<(&str, u32, u32), Tally> = BTreeMap::new();
    for a in answers {
        let t = tallies
            .entry((a.arm.as_str(), a.replicate, a.agent))
            .or_insert_with(|| (0, vec![0; codes]));
        t.0 += 1;
        for &c in &a.codes {
            let hit = t.1.get_mut(c).ok_or_else(|| {
                CodingError::Shares(format!(
                    "code position {c} is beyond the codebook's {codes} codes"
                ))
            })?;
            *hit += 1;
        }
    }
    let mut names: Vec<(String, Option<(usize, String)>)> = vec![("all".into(), None)];
    for (s, attribute) in segments.iter().enumerate() {
        let mut levels: Vec<&String> = labels.values().filter_map(|l| l.get(s)?.as_ref()).collect();
        levels.sort();
        levels.dedup();
        names.extend(
            levels
                .into_iter()
                .map(|level| (format!("{attribute}={level}"), Some((s, level.clone())))),
        );
    }
    let mut rows = Vec::new();
    for arm in arms {
        for (segment, filter) in &names {
            // replicate -> agents' tallies
            let mut by_replicate: BTreeMap<u32, Vec<&Tally>> = BTreeMap::new();
            for ((a, replicate, agent), tally) in &tallies {
                if *a != arm.as_str() {
                    continue;
                }
                if let Some((s, level)) = filter {
                    let label = labels
                        .get(&(arm.clone(), *replicate, *agent))
                        .and_then(|l| l.get(*s))
                        .and_then(Option::as_ref);
                    if label != Some(level) {
                        continue;
                    }
                }
                by_replicate.entry(*replicate).or_default().push(tally);
            }
            if by_replicate.is_empty() {
                continue;
            }
            let agents: u64 = by_replicate.values().map(|v| v.len() as u64).sum();
            let answered: u64 = by_replicate
                .values()
                .flat_map(|v| v.iter().map(|t| t.0))
                .sum();
            for code in 0..codes {
                let clusters: Vec<Vec<f64>> = by_replicate
                    .values()
                    .map(|v| v.iter().map(|t| t.1[code] as f64 / t.0 as f64).collect())
                    .collect();
                let n: f64 = clusters.iter().map(|c| c.len() as f64).sum();
                let share = clusters.iter().flatten().sum::<f64>() / n;
                let row_seed = mix(seed, &[arm, segment, &code.to_string()]);
                let (ci_low, ci_high, method) =
                    match agora_stats::design_interval(&clusters, LEVEL, row_seed) {
                        Ok(iv) => (
                            Some(iv.low.clamp(0.0, 1.0)),
                            Some(iv.high.clamp(0.0, 1.0)),
                            iv.method,
                        ),
                        Err(e) => (None, None, format!("no interval: {e}")),
                    };
                rows.push(ThemeShare {
                    arm: arm.clone(),
                    segment: segment.clone(),
                    code,
                    share,
                    ci_low,
                    ci_high,
                    agents,
                    answers: answered,
                    replicates: by_replicate.len() as u32,
                    method,
                });
            }
        }
    }
    Ok(rows)
}

/// `seed` mixed with `parts` (BLAKE3), for one row's bootstrap.
pub fn mix(seed: u64, parts: &[&str]) -> u64 {
    let mut h = blake3::Hasher::new();
    h.update(&seed.to_le_bytes());
    for p in parts {
        h.update(p.as_bytes());
        h.update(&[0]);
    }
    let bytes = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&bytes.as_bytes()[..8]);
    u64::from_le_bytes(first)
}
