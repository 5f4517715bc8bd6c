//! Splitting an experiment across machines: shards, and merging them.
//!
//! Shard `K/N` (K from 1 to N) performs the runs whose position `i` in the plan (arms
//! in order, replicates in order, from 0) satisfies `i mod N = K - 1`. Every shard
//! writes into the same output directory: a run's tables live in their own hive
//! partitions (`TABLE/arm=A/replicate=R/`) and its checkpoints in
//! `.agora/runs/A/R/`, so shards never write the same file. Instead of
//! `manifest.json`, a shard keeps its own manifest in
//! `.agora/shards/shard-K-of-N.json`, with the same life cycle (`running`, then
//! `complete`, `interrupted`, `budget_exhausted` or `failed`; `--resume` continues it).
//!
//! [`merge`] checks that every shard is complete, computes the experiment-wide tables
//! (`stats`, `diagnostics`, `validation`) from the union of the runs, and writes the
//! experiment's `manifest.json` last. The tables are then byte for byte those a single
//! machine writes.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use agora_export::{Manifest, OutputLayout, ShardInfo};
use agora_scenario::{ExperimentPlan, RunPlan, Scenario};

use crate::ExperimentError;
use crate::stats::Statistics;

/// One shard of an experiment: number `index` (from 1) of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// The shard's number, from 1 to `count`.
    pub index: u32,
    /// How many shards the experiment is split into.
    pub count: u32,
}

/// Why a `K/N` shard specification is not valid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ShardSpecError(String);

impl FromStr for Shard {
    type Err = ShardSpecError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let usage = || {
            ShardSpecError(format!(
                "`{text}` is not a shard: write K/N with 1 <= K <= N, e.g. --shard 1/4 for the first of four shards"
            ))
        };
        let (k, n) = text.trim().split_once('/').ok_or_else(usage)?;
        let index: u32 = k.trim().parse().map_err(|_| usage())?;
        let count: u32 = n.trim().parse().map_err(|_| usage())?;
        if count == 0 {
            return Err(ShardSpecError(format!(
                "`{text}`: the number of shards must be at least 1"
            )));
        }
        if index == 0 || index > count {
            return Err(ShardSpecError(format!(
                "`{text}`: shards are numbered from 1 to {count}; the first is --shard 1/{count} (for a 0-based array index I, use --shard $((I+1))/{count})"
            )));
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// Whether the run at `position` in the plan (from 0) belongs to this shard.
    pub fn contains(&self, position: usize) -> bool {
        position % self.count as usize == (self.index - 1) as usize
    }

    /// The runs of `plan` this shard performs, in plan order.
    pub fn runs<'a>(&self, plan: &'a ExperimentPlan) -> Vec<&'a RunPlan> {
        plan.runs
            .iter()
            .enumerate()
            .filter(|(i, _)| self.contains(*i))
            .map(|(_, r)| r)
            .collect()
    }

    /// Check that every shard of `count` gets at least one run of `plan`.
    pub fn check_count(count: u32, plan: &ExperimentPlan) -> Result<(), ExperimentError> {
        if count as usize > plan.runs.len() {
            return Err(ExperimentError::Invalid(format!(
                "{count} shards for an experiment of {} run(s) (arms x replicates): some shards would have nothing to do; use at most {} shards, or more --replicates",
                plan.runs.len(),
                plan.runs.len()
            )));
        }
        Ok(())
    }

    /// The shard's manifest in `layout`.
    pub fn manifest_file(&self, layout: &OutputLayout) -> PathBuf {
        shards_dir(layout).join(format!("shard-{}-of-{}.json", self.index, self.count))
    }

    /// What the shard's manifest records about it.
    pub fn info(&self, plan: &ExperimentPlan) -> ShardInfo {
        ShardInfo {
            index: self.index,
            count: self.count,
            planned: plan.runs.iter().map(run_key_of).collect(),
        }
    }
}

/// The folder of shard manifests in `layout`.
pub fn shards_dir(layout: &OutputLayout) -> PathBuf {
    layout.state_dir().join("shards")
}

fn run_key(arm: &str, replicate: u32) -> String {
    format!("{arm}/{replicate}")
}

fn run_key_of(run: &RunPlan) -> String {
    run_key(&run.arm, run.replicate)
}

/// The shard manifests found in `layout`, with their paths, in file-name order.
pub fn shard_manifests(layout: &OutputLayout) -> Result<Vec<(PathBuf, Manifest)>, ExperimentError> {
    let dir = shards_dir(layout);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy())
                .is_some_and(|n| n.starts_with("shard-") && n.ends_with(".json"))
        })
        .collect();
    paths.sort();
    let mut found = Vec::new();
    for path in paths {
        let manifest = Manifest::read(&path).map_err(|e| ExperimentError::Output {
            path: path.clone(),
            message: format!(
                "this shard manifest cannot be read ({e}); run that shard again with --overwrite"
            ),
        })?;
        found.push((path, manifest));
    }
    Ok(found)
}

/// The scenario file the shards in `dir` ran, as they recorded it.
pub fn scenario_of(dir: &Path) -> Result<PathBuf, ExperimentError> {
    let layout = OutputLayout::new(dir);
    let shards = shard_manifests(&layout)?;
    match shards.first() {
        Some((_, m)) => Ok(PathBuf::from(&m.scenario_path)),
        None => Err(no_shards(dir)),
    }
}

fn no_shards(dir: &Path) -> ExperimentError {
    ExperimentError::Output {
        path: dir.to_path_buf(),
        message: "holds no shards (no .agora/shards/shard-K-of-N.json); run `agora run SCENARIO --shard K/N --out DIR` for K = 1..N first".into(),
    }
}

/// What [`merge`] did.
#[derive(Clone, Debug)]
pub struct Merged {
    /// The experiment's manifest, as written.
    pub manifest: Manifest,
    /// How many shards were merged.
    pub shards: u32,
    /// The experiment-wide tables written.
    pub statistics: Statistics,
}

/// Check that every shard of the experiment in `dir` is complete, write its
/// experiment-wide tables and then its `manifest.json`. `scenario` must be the file the
/// shards ran (its hash is checked).
pub fn merge(dir: &Path, scenario: &Scenario) -> Result<Merged, ExperimentError> {
    let layout = OutputLayout::new(dir);
    let shards = shard_manifests(&layout)?;
    let Some((_, first)) = shards.first() else {
        return Err(no_shards(dir));
    };
    let first = first.clone();
    let output = |message: String| ExperimentError::Output {
        path: dir.to_path_buf(),
        message,
    };
    let info = |path: &Path, m: &Manifest| {
        m.shard.clone().ok_or_else(|| ExperimentError::Output {
            path: path.to_path_buf(),
            message: "is not a shard manifest (it names no shard); remove it".into(),
        })
    };
    let first_info = info(&shards[0].0, &first)?;
    let count = first_info.count;
    // Every shard must belong to the same experiment split the same way.
    let mut by_index: HashMap<u32, &Manifest> = HashMap::new();
    for (path, m) in &shards {
        let i = info(path, m)?;
        if i.count != count {
            return Err(output(format!(
                "holds shards of {count} and of {} shards ({}); they split the experiment differently: remove the shards of the wrong count (in .agora/shards) and their runs, or run every shard of one count",
                i.count,
                path.display()
            )));
        }
        if m.settings_hash != first.settings_hash || i.planned != first_info.planned {
            return Err(output(format!(
                "shard {}/{count} ran other settings than shard {}/{count} (scenario file, seed, agents, replicates, rounds or model differ); run every shard with the same scenario and options",
                i.index, first_info.index
            )));
        }
        by_index.insert(i.index, m);
    }
    // Every shard must be complete.
    let mut unfinished = Vec::new();
    for k in 1..=count {
        match by_index.get(&k) {
            None => unfinished.push(format!(
                "{k}/{count} never started (no shard manifest): run `agora run {} --shard {k}/{count} --out {}` with the same options",
                first.scenario_path,
                dir.display()
            )),
            Some(m) if m.status == "complete" => {}
            Some(m) => {
                let why = m
                    .reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default();
                let state = if m.status == "running" {
                    match m.pid {
                        Some(pid) => format!("is running or died (pid {pid})"),
                        None => "is running or died".to_string(),
                    }
                } else {
                    format!("is {}", m.status)
                };
                unfinished.push(format!(
                    "{k}/{count} {state}{why}: continue it with `agora run {} --shard {k}/{count} --out {} --resume` with the same options",
                    first.scenario_path,
                    dir.display()
                ));
            }
        }
    }
    if !unfinished.is_empty() {
        return Err(output(format!(
            "not every shard finished, so nothing was merged:\n  shard {}\nthen run `agora merge {}` again",
            unfinished.join("\n  shard "),
            dir.display()
        )));
    }
    if scenario.hash != first.scenario_hash {
        return Err(ExperimentError::Invalid(format!(
            "{} is not the scenario file the shards in {} ran (its contents changed since); merge with that file (--scenario)",
            scenario.path.display(),
            dir.display()
        )));
    }
    // The union of the shards' runs, each planned run exactly once, in plan order.
    let position: HashMap<&str, usize> = first_info
        .planned
        .iter()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    let mut runs = Vec::new();
    for (_, m) in &shards {
        runs.extend(m.runs.iter().cloned());
    }
    let mut seen = vec![false; first_info.planned.len()];
    for r in &runs {
        let key = run_key(&r.arm, r.replicate);
        let Some(&i) = position.get(key.as_str()) else {
            return Err(output(format!(
                "a shard recorded run {key}, which the experiment does not plan; run the shards again with --overwrite"
            )));
        };
        if std::mem::replace(&mut seen[i], true) {
            return Err(output(format!(
                "run {key} was performed by two shards; run the shards again with --overwrite"
            )));
        }
    }
    if let Some(i) = seen.iter().position(|s| !s) {
        return Err(output(format!(
            "run {} is missing although every shard is complete; run shard {}/{count} again with --overwrite",
            first_info.planned[i],
            i as u32 % count + 1
        )));
    }
    if let Some(stale) = unplanned_partition(dir, &position) {
        return Err(output(format!(
            "holds {}, a run the experiment does not plan (left by an earlier experiment); remove that folder, or write the shards to a new --out",
            stale.display()
        )));
    }
    runs.sort_by_key(|r| position[run_key(&r.arm, r.replicate).as_str()]);
    // The experiment-wide tables first, the manifest last: a manifest says the
    // experiment is complete only once everything it describes is written.
    let statistics = crate::stats::write_all_in(scenario, dir, first.seed);
    let manifest = Manifest {
        status: "complete".into(),
        reason: None,
        pid: None,
        shard: None,
        runs,
        ..first
    };
    manifest.write(&layout.manifest_file())?;
    Ok(Merged {
        manifest,
        shards: count,
        statistics,
    })
}

/// A run partition (`TABLE/arm=A/replicate=R`) below `root` that is not in `planned`:
/// the experiment-wide tables would count its rows.
fn unplanned_partition(root: &Path, planned: &HashMap<&str, usize>) -> Option<PathBuf> {
    let dirs = |dir: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.is_dir())
                    .collect()
            })
            .unwrap_or_default()
    };
    let named = |path: &Path, prefix: &str| -> Option<String> {
        let name = path.file_name()?.to_string_lossy().into_owned();
        name.strip_prefix(prefix).map(String::from)
    };
    for table in dirs(root) {
        for arm_dir in dirs(&table) {
            let Some(arm) = named(&arm_dir, "arm=") else {
                continue;
            };
            for rep_dir in dirs(&arm_dir) {
                let Some(replicate) = named(&rep_dir, "replicate=") else {
                    continue;
                };
                if !planned.contains_key(format!("{arm}/{replicate}").as_str()) {
                    return Some(rep_dir);
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_numbered_from_one_and_checked() {
        let s: Shard = "2/4".parse().unwrap();
        assert_eq!(s, Shard { index: 2, count: 4 });
        assert_eq!(s.to_string(), "2/4");
        assert!(s.contains(1) && s.contains(5) && !s.contains(0) && !s.contains(2));
        let zero = "0/4".parse::<Shard>().unwrap_err().to_string();
        assert!(
            zero.contains("from 1 to 4") && zero.contains("$((I+1))/4"),
            "{zero}"
        );
        assert!("5/4".parse::<Shard>().is_err());
        assert!(
            "1/0"
                .parse::<Shard>()
                .unwrap_err()
                .to_string()
                .contains("at least 1")
        );
        assert!(
            "3".parse::<Shard>()
                .unwrap_err()
                .to_string()
                .contains("K/N")
        );
        assert!("a/b".parse::<Shard>().is_err());
    }

    #[test]
    fn every_position_belongs_to_exactly_one_shard() {
        for count in 1..6u32 {
            for position in 0..20usize {
                let owners = (1..=count)
                    .filter(|&index| Shard { index, count }.contains(position))
                    .count();
                assert_eq!(owners, 1, "position {position} of {count} shards");
            }
        }
    }
}
