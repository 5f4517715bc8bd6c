//! One function per section of the report; each returns `None` when the experiment has
//! none of the tables it reads.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use agora_export::Manifest;

use crate::data::{Coded, NULL_CODE, Table};
use crate::error::Result;
use crate::page::{Block, GridRow, Section, count, interval, num, opt_num, p_value};
use crate::plots::{self, Line};

/// Most outcomes drawn as interval plots; the tables list them all.
const MAX_OUTCOME_PLOTS: usize = 24;
/// Most points in the bids-against-values scatter; more are thinned evenly.
const MAX_SCATTER_POINTS: usize = 4000;

/// Distinct values in order of first appearance.
fn first_seen<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for v in values {
        if seen.insert(v) {
            out.push(v.to_string());
        }
    }
    out
}

// ---------------------------------------------------------------------------------
// Scenario

/// Where the scenario file named in the manifest is, if it is still there unchanged
/// (same BLAKE3 hash), together with its text.
fn scenario_source(
    dir: &Path,
    manifest: &Manifest,
) -> (Option<(PathBuf, String)>, Option<PathBuf>) {
    let given = PathBuf::from(&manifest.scenario_path);
    if manifest.scenario_path.is_empty() {
        return (None, None);
    }
    let mut candidates = vec![given.clone()];
    if given.is_relative() {
        candidates.extend(dir.ancestors().skip(1).map(|a| a.join(&given)));
        if let Ok(abs) = std::path::absolute(dir) {
            candidates.extend(abs.ancestors().skip(1).map(|a| a.join(&given)));
        }
    }
    let mut changed = None;
    for path in candidates {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        if blake3::hash(text.as_bytes()).to_hex().as_str() == manifest.scenario_hash {
            return (Some((path, text)), None);
        }
        changed.get_or_insert(path);
    }
    (None, changed)
}

/// The scenario: what ran, with which settings, and the scenario file when available.
pub fn scenario(dir: &Path, manifest: &Manifest, raw: &serde_json::Value) -> Section {
    let mut blocks = Vec::new();
    if let Some(d) = raw.get("description").and_then(|d| d.as_str()) {
        blocks.push(Block::text(d));
    }
    let arms = first_seen(manifest.runs.iter().map(|r| r.arm.as_str()));
    let replicates: BTreeSet<u32> = manifest.runs.iter().map(|r| r.replicate).collect();
    let mut pairs = vec![
        ("Scenario".to_string(), manifest.scenario.clone()),
        ("Mechanism".to_string(), manifest.mechanism.clone()),
        (
            "Status".to_string(),
            match &manifest.reason {
                Some(r) => format!("{} ({r})", manifest.status),
                None => manifest.status.clone(),
            },
        ),
        ("Seed".to_string(), manifest.seed.to_string()),
        (
            "Arms (model)".to_string(),
            if arms.is_empty() {
                "–".to_string()
            } else {
                arms.iter()
                    .map(|a| {
                        let used: BTreeSet<&str> = manifest
                            .runs
                            .iter()
                            .filter(|r| &r.arm == a)
                            .map(|r| r.model.as_str())
                            .collect();
                        format!("{a} ({})", used.into_iter().collect::<Vec<_>>().join(", "))
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            },
        ),
        ("Replicates".to_string(), replicates.len().to_string()),
        ("Runs finished".to_string(), manifest.runs.len().to_string()),
        ("Scenario file".to_string(), manifest.scenario_path.clone()),
        (
            "Scenario hash (BLAKE3)".to_string(),
            manifest.scenario_hash.clone(),
        ),
        ("Settings hash".to_string(), manifest.settings_hash.clone()),
    ];
    if let Some(b) = &manifest.branched_from {
        pairs.push(("Branched from".to_string(), b.clone()));
    }
    for (k, v) in &manifest.versions {
        pairs.push((format!("Version of {k}"), v.clone()));
    }
    // Settings the manifest holds beyond the fields above (for example per-arm
    // treatments), shown as they are written.
    const KNOWN: [&str; 13] = [
        "scenario",
        "scenario_path",
        "scenario_hash",
        "settings_hash",
        "seed",
        "mechanism",
        "versions",
        "status",
        "reason",
        "pid",
        "branched_from",
        "runs",
        "description",
    ];
    if let Some(obj) = raw.as_object() {
        for (k, v) in obj {
            if !KNOWN.contains(&k.as_str()) {
                let text = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => serde_json::to_string_pretty(other).unwrap_or_default(),
                };
                pairs.push((k.clone(), text));
            }
        }
    }
    blocks.push(Block::Facts { pairs });

    let mut models: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for r in &manifest.runs {
        models
            .entry(r.arm.as_str())
            .or_default()
            .insert(r.model.as_str());
    }
    if !manifest.runs.is_empty() {
        blocks.push(Block::Grid {
            caption: "Runs (one per arm and replicate)".to_string(),
            columns: [
                "arm",
                "replicate",
                "model",
                "agents",
                "rounds",
                "stopped",
                "decisions",
                "fallbacks",
                "seed",
            ]
            .map(String::from)
            .to_vec(),
            rows: manifest
                .runs
                .iter()
                .map(|r| {
                    GridRow::new(vec![
                        r.arm.clone(),
                        r.replicate.to_string(),
                        r.model.clone(),
                        count(r.agents),
                        r.rounds.to_string(),
                        r.stop_reason.clone(),
                        count(r.decisions),
                        count(r.fallbacks),
                        r.seed.to_string(),
                    ])
                })
                .collect(),
        });
    }
    match scenario_source(dir, manifest) {
        (Some((path, text)), _) => blocks.push(Block::Details {
            summary: format!("Scenario file ({})", path.display()),
            blocks: vec![Block::Code { text }],
        }),
        (None, Some(path)) => blocks.push(Block::text(format!(
            "The scenario file at {} has changed since this experiment ran (its hash differs), so it is not shown.",
            path.display()
        ))),
        (None, None) => blocks.push(Block::text(format!(
            "The scenario file {} was not found from here; the settings above are those the manifest recorded.",
            manifest.scenario_path
        ))),
    }
    Section {
        id: "scenario",
        title: "Scenario".to_string(),
        blocks,
    }
}

// ---------------------------------------------------------------------------------
// Population fit

/// Sampled population against its targets, for every replicate.
pub fn population_fit(dir: &Path) -> Result<Option<Section>> {
    let Some(t) = Table::read(
        dir,
        "population_marginals",
        &[
            "arm",
            "replicate",
            "attribute",
            "level",
            "target",
            "observed",
        ],
    )?
    else {
        return Ok(None);
    };
    let arms = t.text_or_empty("arm")?;
    let reps = t.counts("replicate")?;
    let attrs = t.text_or_empty("attribute")?;
    let levels = t.text_or_empty("level")?;
    let targets = t.numbers("target")?;
    let observed = t.numbers("observed")?;
    // Arms share each replicate's population: one arm shows it.
    let Some(arm) = arms.iter().min().cloned() else {
        return Ok(None);
    };
    let replicates: BTreeSet<u64> = reps.iter().copied().collect();
    let rep_index: BTreeMap<u64, usize> = replicates
        .iter()
        .enumerate()
        .map(|(i, r)| (*r, i))
        .collect();
    // (attribute, level) in order of first appearance, with target and observed per replicate.
    let mut keys: Vec<(String, String)> = Vec::new();
    let mut cells: BTreeMap<(String, String), (f64, BTreeMap<u64, f64>)> = BTreeMap::new();
    for i in 0..t.rows() {
        if arms[i] != arm {
            continue;
        }
        let key = (attrs[i].clone(), levels[i].clone());
        let entry = cells.entry(key.clone()).or_insert_with(|| {
            keys.push(key.clone());
            (targets[i].unwrap_or(f64::NAN), BTreeMap::new())
        });
        entry.1.insert(reps[i], observed[i].unwrap_or(f64::NAN));
    }
    // An attribute whose levels are only moments is numeric; the others are shares.
    let mut attr_levels: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, l) in &keys {
        attr_levels.entry(a.as_str()).or_default().push(l.as_str());
    }
    let numeric = |a: &str| {
        attr_levels
            .get(a)
            .is_some_and(|ls| ls.iter().all(|l| *l == "mean" || *l == "std_dev"))
    };
    let groups: Vec<String> = replicates
        .iter()
        .map(|r| format!("replicate {r}"))
        .collect();
    let mut blocks = vec![Block::text(format!(
        "Each replicate samples its own population; arms of a replicate share it (shown for arm {arm}). \
         Points are the observed value minus the target, one per replicate: percentage points for shares \
         of categories, percent of the target for means and standard deviations."
    ))];
    for (shares, unit) in [
        (true, "observed − target (percentage points)"),
        (false, "observed − target (% of target)"),
    ] {
        let rows: Vec<&(String, String)> =
            keys.iter().filter(|(a, _)| numeric(a) != shares).collect();
        if rows.is_empty() {
            continue;
        }
        let labels: Vec<String> = rows.iter().map(|(a, l)| format!("{a}: {l}")).collect();
        let mut points = Vec::new();
        for (k, key) in rows.iter().enumerate() {
            let (target, obs) = &cells[*key];
            for (r, o) in obs {
                let gap = if shares {
                    (o - target) * 100.0
                } else if target.abs() > 1e-12 {
                    (o - target) / target.abs() * 100.0
                } else {
                    f64::NAN
                };
                if gap.is_finite() {
                    points.push((k, gap, rep_index[r]));
                }
            }
        }
        let title = if shares {
            "Categories: sampled shares against targets"
        } else {
            "Numeric attributes: sampled moments against targets"
        };
        blocks.push(Block::Figure {
            svg: plots::dots(
                "population fit",
                title,
                &labels,
                &points,
                &groups,
                0.0,
                unit,
            )?,
            caption: format!("{title}, {} replicate(s).", replicates.len()),
        });
    }
    let mut grid = Vec::new();
    for key in &keys {
        let (target, obs) = &cells[key];
        let values: Vec<f64> = obs.values().copied().filter(|v| v.is_finite()).collect();
        let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let worst = values
            .iter()
            .map(|v| (v - target).abs())
            .fold(0.0, f64::max);
        grid.push(GridRow::new(vec![
            key.0.clone(),
            key.1.clone(),
            num(*target),
            num(mean),
            interval(Some(lo), Some(hi)),
            num(worst),
        ]));
    }
    blocks.push(Block::Details {
        summary: "Targets and observed values".to_string(),
        blocks: vec![Block::Grid {
            caption: format!(
                "Population marginals over {} replicate(s)",
                replicates.len()
            ),
            columns: [
                "attribute",
                "level",
                "target",
                "observed (mean)",
                "observed (min, max)",
                "largest gap",
            ]
            .map(String::from)
            .to_vec(),
            rows: grid,
        }],
    });
    Ok(Some(Section {
        id: "population",
        title: "Population fit".to_string(),
        blocks,
    }))
}

// ---------------------------------------------------------------------------------
// Headline outcomes (the `stats` table)

/// One row of the `stats` table.
#[derive(Clone, Debug)]
pub struct StatRow {
    /// Arm.
    pub arm: String,
    /// Outcome name.
    pub outcome: String,
    /// `all` or `attribute=level`.
    pub segment: String,
    /// `level` or `difference`.
    pub kind: String,
    /// Control arm of a difference.
    pub control: Option<String>,
    /// `agent` or `run`.
    pub unit: String,
    /// Point estimate.
    pub estimate: f64,
    /// Lower end of the 95% interval.
    pub ci_low: f64,
    /// Upper end of the 95% interval.
    pub ci_high: f64,
    /// Observations.
    pub n: u64,
    /// Replicates.
    pub replicates: u64,
    /// How the interval was computed.
    pub method: String,
    /// p-value of a difference.
    pub p_value: Option<f64>,
    /// The test behind the p-value.
    pub test: Option<String>,
    /// Effect size.
    pub effect_size: Option<f64>,
    /// What the effect size measures.
    pub effect_measure: Option<String>,
}

/// The columns of the `stats` table.
const STATS_COLUMNS: [&str; 16] = [
    "arm",
    "outcome",
    "segment",
    "kind",
    "control",
    "unit",
    "estimate",
    "ci_low",
    "ci_high",
    "n",
    "replicates",
    "method",
    "p_value",
    "test",
    "effect_size",
    "effect_measure",
];

/// The columns of the `diagnostics` table.
const DIAGNOSTICS_COLUMNS: [&str; 11] = [
    "arm",
    "item",
    "diagnostic",
    "estimate",
    "expected",
    "ci_low",
    "ci_high",
    "n",
    "p_value",
    "test",
    "method",
];

/// Read the `stats` table, if the experiment has one.
pub fn read_stats(dir: &Path) -> Result<Option<Vec<StatRow>>> {
    let Some(t) = Table::read(dir, "stats", &STATS_COLUMNS)? else {
        return Ok(None);
    };
    let arm = t.text_or_empty("arm")?;
    let outcome = t.text_or_empty("outcome")?;
    let segment = t.text_or_empty("segment")?;
    let kind = t.text_or_empty("kind")?;
    let control = t.text("control")?;
    let unit = t.text_or_empty("unit")?;
    let estimate = t.numbers("estimate")?;
    let low = t.numbers("ci_low")?;
    let high = t.numbers("ci_high")?;
    let n = t.counts("n")?;
    let replicates = t.counts("replicates")?;
    let method = t.text_or_empty("method")?;
    let p = t.numbers("p_value")?;
    let test = t.text("test")?;
    let effect = t.numbers("effect_size")?;
    let measure = t.text("effect_measure")?;
    Ok(Some(
        (0..t.rows())
            .map(|i| StatRow {
                arm: arm[i].clone(),
                outcome: outcome[i].clone(),
                segment: segment[i].clone(),
                kind: kind[i].clone(),
                control: control[i].clone(),
                unit: unit[i].clone(),
                estimate: estimate[i].unwrap_or(f64::NAN),
                ci_low: low[i].unwrap_or(f64::NAN),
                ci_high: high[i].unwrap_or(f64::NAN),
                n: n[i],
                replicates: replicates[i],
                method: method[i].clone(),
                p_value: p[i],
                test: test[i].clone(),
                effect_size: effect[i],
                effect_measure: measure[i].clone(),
            })
            .collect(),
    ))
}

fn level_rows(rows: &[&StatRow]) -> Vec<GridRow> {
    rows.iter()
        .map(|r| {
            GridRow::new(vec![
                r.outcome.clone(),
                r.segment.clone(),
                r.arm.clone(),
                num(r.estimate),
                interval(Some(r.ci_low), Some(r.ci_high)),
                count(r.n),
                r.replicates.to_string(),
                r.unit.clone(),
                r.method.clone(),
            ])
        })
        .collect()
}

fn difference_rows(rows: &[&StatRow]) -> Vec<GridRow> {
    rows.iter()
        .map(|r| GridRow {
            cells: vec![
                r.outcome.clone(),
                r.segment.clone(),
                format!("{} − {}", r.arm, r.control.as_deref().unwrap_or("control")),
                num(r.estimate),
                interval(Some(r.ci_low), Some(r.ci_high)),
                p_value(r.p_value),
                r.test.clone().unwrap_or_else(|| "–".to_string()),
                match (&r.effect_size, &r.effect_measure) {
                    (Some(e), Some(m)) => format!("{} ({m})", num(*e)),
                    (Some(e), None) => num(*e),
                    _ => "–".to_string(),
                },
                count(r.n),
                r.method.clone(),
            ],
            flagged: r.p_value.is_some_and(|p| p < 0.05),
        })
        .collect()
}

const LEVEL_COLUMNS: [&str; 9] = [
    "outcome",
    "segment",
    "arm",
    "estimate",
    "95% interval",
    "n",
    "replicates",
    "unit",
    "method",
];
const DIFFERENCE_COLUMNS: [&str; 10] = [
    "outcome",
    "segment",
    "arm − control",
    "difference",
    "95% interval",
    "p",
    "test",
    "effect size",
    "n",
    "method",
];

/// Headline outcomes by arm with their intervals, and each arm's paired difference
/// from the control.
pub fn headline(stats: Option<&[StatRow]>) -> Result<Section> {
    let mut blocks = Vec::new();
    let Some(stats) = stats.filter(|s| !s.is_empty()) else {
        blocks.push(Block::text(
            "This experiment has no `stats` table, so no estimates with intervals are shown. \
             They appear here once the experiment's statistics are computed (the `stats` table in this directory).",
        ));
        return Ok(Section {
            id: "headline",
            title: "Headline outcomes".to_string(),
            blocks,
        });
    };
    let overall = |r: &&StatRow| r.segment == "all";
    let levels: Vec<&StatRow> = stats
        .iter()
        .filter(|r| r.kind == "level")
        .filter(overall)
        .collect();
    let diffs: Vec<&StatRow> = stats
        .iter()
        .filter(|r| r.kind == "difference")
        .filter(overall)
        .collect();
    blocks.push(Block::text(
        "Estimates with 95% intervals that respect the design (agents nested in replicates), \
         and the paired difference of each arm from the control arm. Rows with p < 0.05 are highlighted.",
    ));
    let outcomes = first_seen(stats.iter().filter(overall).map(|r| r.outcome.as_str()));
    for outcome in outcomes.iter().take(MAX_OUTCOME_PLOTS) {
        let lv: Vec<(String, f64, f64, f64)> = levels
            .iter()
            .filter(|r| &r.outcome == outcome)
            .map(|r| (r.arm.clone(), r.estimate, r.ci_low, r.ci_high))
            .collect();
        let df: Vec<(String, f64, f64, f64)> = diffs
            .iter()
            .filter(|r| &r.outcome == outcome)
            .map(|r| {
                (
                    format!("{} − {}", r.arm, r.control.as_deref().unwrap_or("control")),
                    r.estimate,
                    r.ci_low,
                    r.ci_high,
                )
            })
            .collect();
        if !lv.is_empty() {
            blocks.push(Block::Figure {
                svg: plots::intervals("outcome", outcome, &lv, None, "estimate with 95% interval")?,
                caption: format!("{outcome}: estimate by arm."),
            });
        }
        if !df.is_empty() {
            blocks.push(Block::Figure {
                svg: plots::intervals(
                    "difference",
                    &format!("{outcome}: difference from control"),
                    &df,
                    Some(0.0),
                    "paired difference with 95% interval",
                )?,
                caption: format!(
                    "{outcome}: each arm minus the control arm; the line marks no difference."
                ),
            });
        }
    }
    if outcomes.len() > MAX_OUTCOME_PLOTS {
        blocks.push(Block::text(format!(
            "{} outcomes; the first {MAX_OUTCOME_PLOTS} are drawn, the tables list all.",
            outcomes.len()
        )));
    }
    if !levels.is_empty() {
        blocks.push(Block::Grid {
            caption: "Estimates by arm".to_string(),
            columns: LEVEL_COLUMNS.map(String::from).to_vec(),
            rows: level_rows(&levels),
        });
    }
    if !diffs.is_empty() {
        blocks.push(Block::Grid {
            caption: "Differences from the control arm (paired by replicate)".to_string(),
            columns: DIFFERENCE_COLUMNS.map(String::from).to_vec(),
            rows: difference_rows(&diffs),
        });
    }
    let seg_levels: Vec<&StatRow> = stats
        .iter()
        .filter(|r| r.segment != "all" && r.kind == "level")
        .collect();
    let seg_diffs: Vec<&StatRow> = stats
        .iter()
        .filter(|r| r.segment != "all" && r.kind == "difference")
        .collect();
    if !seg_levels.is_empty() || !seg_diffs.is_empty() {
        let mut inner = Vec::new();
        if !seg_levels.is_empty() {
            inner.push(Block::Grid {
                caption: "Estimates by arm and segment".to_string(),
                columns: LEVEL_COLUMNS.map(String::from).to_vec(),
                rows: level_rows(&seg_levels),
            });
        }
        if !seg_diffs.is_empty() {
            inner.push(Block::Grid {
                caption: "Differences from the control arm by segment".to_string(),
                columns: DIFFERENCE_COLUMNS.map(String::from).to_vec(),
                rows: difference_rows(&seg_diffs),
            });
        }
        blocks.push(Block::Details {
            summary: format!("By segment ({} rows)", seg_levels.len() + seg_diffs.len()),
            blocks: inner,
        });
    }
    Ok(Section {
        id: "headline",
        title: "Headline outcomes".to_string(),
        blocks,
    })
}

/// The attributes the `stats` table splits by (`attribute` of `attribute=level`).
pub fn segment_attributes(stats: Option<&[StatRow]>) -> Vec<String> {
    let mut out = BTreeSet::new();
    for r in stats.unwrap_or_default() {
        if let Some((a, _)) = r.segment.split_once('=') {
            out.insert(a.to_string());
        }
    }
    out.into_iter().collect()
}

// ---------------------------------------------------------------------------------
// Survey answers

/// Label of answers with no valid value.
const NO_ANSWER: &str = "(no answer)";

/// A scale point or option number as a label (`4`, not `4.000`).
fn value_label(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        num(v)
    }
}

/// One answer: arm (code), replicate, agent, value and label (code).
#[derive(Clone, Copy)]
struct Answer {
    arm: u32,
    replicate: u32,
    agent: u32,
    value: Option<f64>,
    label: u32,
}

/// Shares of answers per category, one series per arm.
struct Distribution {
    /// Category labels, in scale, option or bin order.
    categories: Vec<String>,
    /// Per arm, the share of its answers in each category.
    series: Vec<(String, Vec<f64>)>,
    /// Answers per arm, as `arm n` texts.
    totals: Vec<String>,
}

/// The answer distribution of one item, one series per arm: categories in scale or
/// option order (numeric items in ten bins), shares of each arm's answers.
fn distribution(
    kind: &str,
    answers: &[Answer],
    arms: &Coded,
    labels: &Coded,
) -> Option<Distribution> {
    let mut categories: Vec<(f64, String)> = Vec::new();
    let bins: Option<(f64, f64)>;
    if kind == "numeric" {
        let finite = || {
            answers
                .iter()
                .filter_map(|a| a.value)
                .filter(|v| v.is_finite())
        };
        let lo = finite().fold(f64::INFINITY, f64::min);
        let hi = finite().fold(f64::NEG_INFINITY, f64::max);
        if !lo.is_finite() {
            return None;
        }
        let width = if hi > lo { (hi - lo) / 10.0 } else { 1.0 };
        for b in 0..10 {
            let a = lo + width * b as f64;
            categories.push((b as f64, format!("{} – {}", num(a), num(a + width))));
            if hi <= lo {
                break;
            }
        }
        bins = Some((lo, width));
    } else {
        let mut seen: BTreeMap<u64, String> = BTreeMap::new();
        for a in answers {
            if let Some(v) = a.value.filter(|v| v.is_finite()) {
                seen.entry(v.to_bits()).or_insert_with(|| {
                    let label = labels
                        .values
                        .get(a.label as usize)
                        .map_or("", String::as_str);
                    if label.trim().is_empty() {
                        value_label(v)
                    } else {
                        label.to_string()
                    }
                });
            }
        }
        categories = seen
            .into_iter()
            .map(|(bits, l)| (f64::from_bits(bits), l))
            .collect();
        categories.sort_by(|a, b| a.0.total_cmp(&b.0));
        bins = None;
    }
    let position: BTreeMap<u64, usize> = categories
        .iter()
        .enumerate()
        .map(|(k, c)| (c.0.to_bits(), k))
        .collect();
    let slot = |a: &Answer| -> usize {
        match (a.value, bins) {
            (None, _) => categories.len(),
            (Some(v), Some((lo, width))) => {
                (((v - lo) / width).floor().max(0.0) as usize).min(categories.len() - 1)
            }
            (Some(v), None) => position
                .get(&v.to_bits())
                .copied()
                .unwrap_or(categories.len()),
        }
    };
    let slots = categories.len() + 1;
    let mut counts: Vec<Vec<u64>> = vec![vec![0; slots]; arms.values.len()];
    let mut missing = false;
    for a in answers {
        missing |= a.value.is_none();
        if let Some(c) = counts.get_mut(a.arm as usize) {
            c[slot(a)] += 1;
        }
    }
    let mut names: Vec<String> = categories.into_iter().map(|c| c.1).collect();
    if missing {
        names.push(NO_ANSWER.to_string());
    }
    let mut series = Vec::new();
    let mut totals = Vec::new();
    for (arm, c) in arms.values.iter().zip(&counts) {
        let total: u64 = c.iter().sum();
        if total == 0 {
            continue;
        }
        series.push((
            arm.clone(),
            c[..names.len()]
                .iter()
                .map(|&x| x as f64 / total as f64)
                .collect(),
        ));
        totals.push(format!("{arm} {}", count(total)));
    }
    if series.is_empty() {
        return None;
    }
    Some(Distribution {
        categories: names,
        series,
        totals,
    })
}

/// Each agent's level of each segment attribute, from the `agents` table, keyed by
/// (arm, replicate, agent) with arms named by their codes in `arms`.
type Segments = BTreeMap<String, (Vec<String>, HashMap<(u32, u32, u32), u32>)>;

fn segment_levels(dir: &Path, segments: &[String], arms: &Coded) -> Result<Segments> {
    let mut out = Segments::new();
    if segments.is_empty() {
        return Ok(out);
    }
    let mut columns = vec!["arm", "replicate", "agent_id"];
    columns.extend(segments.iter().map(String::as_str));
    let Some(a) = Table::read(dir, "agents", &columns)? else {
        return Ok(out);
    };
    let a_arms = a.coded("arm")?;
    // The survey's code of each arm of the agents table.
    let arm_code: Vec<Option<u32>> = a_arms.values.iter().map(|v| arms.code_of(v)).collect();
    let a_reps = a.counts("replicate")?;
    let a_ids = a.counts("agent_id")?;
    for attr in segments {
        if !a.has(attr) {
            continue;
        }
        let Ok(levels) = a.coded(attr) else {
            continue; // a numeric attribute: segments are categorical
        };
        let mut map = HashMap::new();
        for i in 0..a.rows() {
            let (Some(Some(arm)), level) =
                (arm_code.get(a_arms.codes[i] as usize), levels.codes[i])
            else {
                continue;
            };
            if level != NULL_CODE {
                map.insert((*arm, a_reps[i] as u32, a_ids[i] as u32), level);
            }
        }
        out.insert(attr.clone(), (levels.values, map));
    }
    Ok(out)
}

/// Answer distributions by arm, and by segment when the `stats` table has segments.
pub fn survey(dir: &Path, segments: &[String]) -> Result<Option<Section>> {
    let Some(t) = Table::read(
        dir,
        "survey_responses",
        &[
            "arm",
            "replicate",
            "agent_id",
            "item_id",
            "item_kind",
            "answer_value",
            "answer_label",
        ],
    )?
    else {
        return Ok(None);
    };
    let arms = t.coded("arm")?;
    let reps = t.counts("replicate")?;
    let agents = t.counts("agent_id")?;
    let items = t.coded("item_id")?;
    let kinds = t.coded("item_kind")?;
    let values = t.numbers("answer_value")?;
    let labels = t.coded("answer_label")?;
    let segment_of = segment_levels(dir, segments, &arms)?;

    let mut blocks = vec![Block::text(
        "Share of each arm's answers on each scale point or option (numeric items in ten equal bins), \
         over all replicates. Free-text items are counted, not drawn.",
    )];
    for (code, item) in items.values.iter().enumerate() {
        let code = code as u32;
        let rows: Vec<usize> = (0..t.rows()).filter(|&i| items.codes[i] == code).collect();
        let kind = rows.first().map_or("", |&i| kinds.get(i));
        if kind == "free_text" {
            blocks.push(Block::text(format!(
                "{item}: free text, {} answers.",
                count(rows.len() as u64)
            )));
            continue;
        }
        let these: Vec<Answer> = rows
            .iter()
            .map(|&i| Answer {
                arm: arms.codes[i],
                replicate: reps[i] as u32,
                agent: agents[i] as u32,
                value: values[i],
                label: labels.codes[i],
            })
            .collect();
        drop(rows);
        let Some(d) = distribution(kind, &these, &arms, &labels) else {
            continue;
        };
        blocks.push(Block::Figure {
            svg: plots::grouped_bars(
                "answers",
                &format!("{item} ({kind})"),
                &d.categories,
                &d.series,
                "share of answers",
            )?,
            caption: format!("{item}: answers by arm (n = {}).", d.totals.join(", ")),
        });
        for (attr, (level_names, map)) in &segment_of {
            let mut by_level: BTreeMap<u32, Vec<Answer>> = BTreeMap::new();
            for a in &these {
                if let Some(level) = map.get(&(a.arm, a.replicate, a.agent)) {
                    by_level.entry(*level).or_default().push(*a);
                }
            }
            let mut inner = Vec::new();
            let mut ordered: Vec<(&String, &Vec<Answer>)> = by_level
                .iter()
                .map(|(l, answers)| (&level_names[*l as usize], answers))
                .collect();
            ordered.sort_by(|a, b| a.0.cmp(b.0));
            for (level, answers) in ordered {
                if let Some(d) = distribution(kind, answers, &arms, &labels) {
                    inner.push(Block::Figure {
                        svg: plots::grouped_bars(
                            "answers by segment",
                            &format!("{item}: {attr}={level}"),
                            &d.categories,
                            &d.series,
                            "share of answers",
                        )?,
                        caption: format!(
                            "{item} among {attr}={level} (n = {}).",
                            d.totals.join(", ")
                        ),
                    });
                }
            }
            if !inner.is_empty() {
                blocks.push(Block::Details {
                    summary: format!("{item} by {attr}"),
                    blocks: inner,
                });
            }
        }
    }
    Ok(Some(Section {
        id: "answers",
        title: "Survey answers".to_string(),
        blocks,
    }))
}

// ---------------------------------------------------------------------------------
// Interventions

/// What the interventions of an experiment did: one row per intervention and arm.
pub struct Interventions {
    /// The section, when any intervention fired.
    pub section: Option<Section>,
    /// The rounds at which one fired.
    pub rounds: Vec<f64>,
}

/// Interventions that fired (`intervention` events), with the rounds they fired at.
pub fn interventions(dir: &Path) -> Result<Interventions> {
    let none = Interventions {
        section: None,
        rounds: Vec::new(),
    };
    let Some(t) = Table::read_where(
        dir,
        "events",
        &["arm", "replicate", "round", "payload"],
        Some(("kind", "intervention")),
    )?
    else {
        return Ok(none);
    };
    if t.rows() == 0 {
        return Ok(none);
    }
    let arms = t.coded("arm")?;
    let reps = t.counts("replicate")?;
    let rounds = t.counts("round")?;
    let payloads = t.text_or_empty("payload")?;
    #[derive(Default)]
    struct Fired {
        rounds: BTreeSet<u64>,
        replicates: BTreeSet<u64>,
        times: u64,
        reached: u64,
        text: String,
    }
    let mut fired: BTreeMap<(String, String, String), Fired> = BTreeMap::new();
    for i in 0..t.rows() {
        let payload: serde_json::Value = serde_json::from_str(&payloads[i]).unwrap_or_default();
        let field = |k: &str| {
            payload
                .get(k)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string()
        };
        let f = fired
            .entry((arms.get(i).to_string(), field("id"), field("action")))
            .or_default();
        f.rounds.insert(rounds[i]);
        f.replicates.insert(reps[i]);
        f.times += 1;
        f.reached += payload.get("reached").and_then(|v| v.as_u64()).unwrap_or(0);
        if f.text.is_empty() {
            f.text = field("text");
        }
    }
    let all_rounds: BTreeSet<u64> = rounds.iter().copied().collect();
    let rows = fired
        .iter()
        .map(|((arm, id, action), f)| {
            GridRow::new(vec![
                arm.clone(),
                id.clone(),
                action.clone(),
                f.rounds
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                count(f.replicates.len() as u64),
                num(f.reached as f64 / f.times.max(1) as f64),
                f.text.clone(),
            ])
        })
        .collect();
    Ok(Interventions {
        section: Some(Section {
            id: "interventions",
            title: "Interventions".to_string(),
            blocks: vec![
                Block::text(
                    "Interventions that fired, from the `intervention` events; their rounds are \
                     marked on the opinion trajectories.",
                ),
                Block::Grid {
                    caption: "Interventions by arm".to_string(),
                    columns: [
                        "arm",
                        "intervention",
                        "action",
                        "rounds",
                        "replicates",
                        "agents reached (mean)",
                        "message",
                    ]
                    .map(String::from)
                    .to_vec(),
                    rows,
                },
            ],
        }),
        rounds: all_rounds.into_iter().map(|r| r as f64).collect(),
    })
}

// ---------------------------------------------------------------------------------
// Opinion trajectories

/// Mean of `values` per (arm, replicate, round) and per (arm, round) as line series.
fn trajectories(arms: &Coded, reps: &[u64], rounds: &[u64], values: &[Option<f64>]) -> Vec<Line> {
    let mut per_run: BTreeMap<(u32, u64), BTreeMap<u64, (f64, u64)>> = BTreeMap::new();
    for i in 0..arms.codes.len() {
        if let Some(v) = values[i].filter(|v| v.is_finite()) {
            let e = per_run
                .entry((arms.codes[i], reps[i]))
                .or_default()
                .entry(rounds[i])
                .or_insert((0.0, 0));
            e.0 += v;
            e.1 += 1;
        }
    }
    let name = |code: u32| arms.values.get(code as usize).cloned().unwrap_or_default();
    let mut out = Vec::new();
    let mut per_arm: BTreeMap<u32, BTreeMap<u64, (f64, u64)>> = BTreeMap::new();
    let replicates: BTreeSet<u64> = reps.iter().copied().collect();
    for ((arm, _), by_round) in &per_run {
        let points: Vec<(f64, f64)> = by_round
            .iter()
            .map(|(r, (s, n))| (*r as f64, s / *n as f64))
            .collect();
        for (r, (s, n)) in by_round {
            let e = per_arm
                .entry(*arm)
                .or_default()
                .entry(*r)
                .or_insert((0.0, 0));
            e.0 += s / *n as f64;
            e.1 += 1;
        }
        if replicates.len() > 1 {
            out.push(Line {
                name: name(*arm),
                colour: *arm as usize,
                bold: false,
                points,
            });
        }
    }
    for (arm, by_round) in &per_arm {
        out.push(Line {
            name: name(*arm),
            colour: *arm as usize,
            bold: true,
            points: by_round
                .iter()
                .map(|(r, (s, n))| (*r as f64, s / *n as f64))
                .collect(),
        });
    }
    out
}

/// Mean private opinion per round per arm, and polarisation when recorded.
///
/// `marks` are the rounds at which an intervention fired.
pub fn opinions(dir: &Path, marks: &[f64]) -> Result<Option<Section>> {
    let opinions = Table::read(
        dir,
        "opinions",
        &["arm", "replicate", "round", "private_stance"],
    )?;
    let metrics = Table::read(
        dir,
        "debate_metrics",
        &["arm", "replicate", "round", "opinion_mean", "polarisation"],
    )?;
    if opinions.is_none() && metrics.is_none() {
        return Ok(None);
    }
    let mut blocks = vec![Block::text(
        "Thick lines: the mean over replicates of each arm; thin lines: single replicates. \
         Round 0 is before the first round.",
    )];
    if let Some(t) = &opinions {
        let lines = trajectories(
            &t.coded("arm")?,
            &t.counts("replicate")?,
            &t.counts("round")?,
            &t.numbers("private_stance")?,
        );
        if !lines.is_empty() {
            blocks.push(Block::Figure {
                svg: plots::lines(
                    "opinions",
                    "Mean private opinion by round",
                    &lines,
                    marks,
                    "intervention",
                    "round",
                    "mean private stance",
                )?,
                caption:
                    "Mean private stance (scale units) of all agents after each round, by arm."
                        .to_string(),
            });
        }
    }
    if let Some(t) = &metrics {
        let arms = t.coded("arm")?;
        let reps = t.counts("replicate")?;
        let rounds = t.counts("round")?;
        if opinions.is_none() {
            let lines = trajectories(&arms, &reps, &rounds, &t.numbers("opinion_mean")?);
            if !lines.is_empty() {
                blocks.push(Block::Figure {
                    svg: plots::lines(
                        "opinions",
                        "Mean private opinion by round",
                        &lines,
                        marks,
                        "intervention",
                        "round",
                        "opinion mean",
                    )?,
                    caption: "Mean private opinion after each round, by arm (from debate_metrics)."
                        .to_string(),
                });
            }
        }
        let lines = trajectories(&arms, &reps, &rounds, &t.numbers("polarisation")?);
        if !lines.is_empty() {
            blocks.push(Block::Figure {
                svg: plots::lines(
                    "polarisation",
                    "Polarisation by round",
                    &lines,
                    marks,
                    "intervention",
                    "round",
                    "polarisation",
                )?,
                caption: "Mean absolute difference between two agents' opinions (shares of the scale), by arm."
                    .to_string(),
            });
        }
    }
    if let Some(t) = Table::read(
        dir,
        "focus_group_answers",
        &["arm", "question_id", "sentiment"],
    )? {
        let arms = t.coded("arm")?;
        let questions = t.coded("question_id")?;
        let sentiment = t.numbers("sentiment")?;
        let mut sums = vec![vec![(0.0, 0u64); questions.values.len()]; arms.values.len()];
        for (i, value) in sentiment.iter().enumerate() {
            let (a, q) = (arms.codes[i] as usize, questions.codes[i] as usize);
            if let (Some(v), Some(cell)) = (
                value.filter(|v| v.is_finite()),
                sums.get_mut(a).and_then(|r| r.get_mut(q)),
            ) {
                cell.0 += v;
                cell.1 += 1;
            }
        }
        let series: Vec<(String, Vec<f64>)> = arms
            .values
            .iter()
            .zip(&sums)
            .map(|(arm, row)| {
                (
                    arm.clone(),
                    row.iter()
                        .map(|(s, n)| if *n > 0 { s / *n as f64 } else { 0.0 })
                        .collect(),
                )
            })
            .collect();
        if !questions.values.is_empty() && !series.is_empty() {
            blocks.push(Block::Figure {
                svg: plots::grouped_bars(
                    "focus group",
                    "Mean public sentiment by question",
                    &questions.values,
                    &series,
                    "mean stance of the answers (scale units)",
                )?,
                caption: "Mean stance of the participants' answers to each question, by arm, over all replicates."
                    .to_string(),
            });
        }
    }
    Ok(Some(Section {
        id: "opinions",
        title: "Opinion trajectories".to_string(),
        blocks,
    }))
}

// ---------------------------------------------------------------------------------
// Auctions

/// Bids against values, and each arm's lots, revenue and efficiency.
pub fn auction(dir: &Path) -> Result<Option<Section>> {
    let bids = Table::read(
        dir,
        "bids",
        &[
            "run_id", "arm", "agent_id", "lot_id", "decision", "amount", "value", "format",
        ],
    )?;
    let outcomes = Table::read(
        dir,
        "auction_outcomes",
        &["arm", "result", "revenue", "efficiency"],
    )?;
    if bids.is_none() && outcomes.is_none() {
        return Ok(None);
    }
    let mut blocks = Vec::new();
    if let Some(t) = &bids {
        let runs = t.coded("run_id")?;
        let arms = t.coded("arm")?;
        let agents = t.counts("agent_id")?;
        let lots = t.coded("lot_id")?;
        let decisions = t.coded("decision")?;
        let amounts = t.numbers("amount")?;
        let values = t.numbers("value")?;
        let formats = t.coded("format")?;
        let committed: Vec<bool> = decisions
            .values
            .iter()
            .map(|d| matches!(d.as_str(), "bid" | "stay" | "accept"))
            .collect();
        // A bidder's bid on a lot: its sealed bid, or the highest clock price it committed to.
        let mut best: BTreeMap<(u32, u32, u64), (u32, f64, f64)> = BTreeMap::new();
        for i in 0..t.rows() {
            if !committed
                .get(decisions.codes[i] as usize)
                .copied()
                .unwrap_or(false)
            {
                continue;
            }
            let (Some(a), Some(v)) = (amounts[i], values[i]) else {
                continue;
            };
            if !a.is_finite() || !v.is_finite() {
                continue;
            }
            let e = best
                .entry((runs.codes[i], lots.codes[i], agents[i]))
                .or_insert((arms.codes[i], v, a));
            if a > e.2 {
                e.2 = a;
            }
        }
        let stride = best.len().div_ceil(MAX_SCATTER_POINTS).max(1);
        let mut groups: Vec<(String, Vec<(f64, f64)>)> = arms
            .values
            .iter()
            .map(|a| (a.clone(), Vec::new()))
            .collect();
        for (i, (arm, v, a)) in best.values().enumerate() {
            if i % stride != 0 {
                continue;
            }
            if let Some(g) = groups.get_mut(*arm as usize) {
                g.1.push((*v, *a));
            }
        }
        let format_names = &formats.values;
        if !best.is_empty() {
            blocks.push(Block::Figure {
                svg: plots::scatter("bids", "Bids against values", &groups, true, "value to the bidder", "bid")?,
                caption: format!(
                    "Each point is a bidder on a lot ({}): its sealed bid, or the highest clock price it stayed in or accepted at; {} points{}.",
                    format_names.join(", "),
                    count(best.len() as u64),
                    if stride > 1 { format!(", one in {stride} drawn") } else { String::new() }
                ),
            });
        }
    }
    if let Some(t) = &outcomes {
        let arms = t.coded("arm")?;
        let results = t.coded("result")?;
        let revenue = t.numbers("revenue")?;
        let efficiency = t.numbers("efficiency")?;
        let mut per_arm: BTreeMap<String, (u64, u64, f64, f64, u64)> = BTreeMap::new();
        for i in 0..t.rows() {
            let e = per_arm.entry(arms.get(i).to_string()).or_default();
            e.0 += 1;
            if results.get(i) == "sold" {
                e.1 += 1;
            }
            e.2 += revenue[i].unwrap_or(0.0);
            if let Some(x) = efficiency[i].filter(|x| x.is_finite()) {
                e.3 += x;
                e.4 += 1;
            }
        }
        blocks.push(Block::Grid {
            caption: "Lots by arm (all replicates; intervals are in the headline outcomes)"
                .to_string(),
            columns: [
                "arm",
                "lots",
                "sold",
                "mean revenue per lot",
                "mean efficiency of sold lots",
            ]
            .map(String::from)
            .to_vec(),
            rows: per_arm
                .iter()
                .map(|(arm, (lots, sold, rev, eff, n_eff))| {
                    GridRow::new(vec![
                        arm.clone(),
                        count(*lots),
                        count(*sold),
                        num(rev / (*lots).max(1) as f64),
                        if *n_eff > 0 {
                            num(eff / *n_eff as f64)
                        } else {
                            "–".to_string()
                        },
                    ])
                })
                .collect(),
        });
    }
    Ok(Some(Section {
        id: "auction",
        title: "Auction".to_string(),
        blocks,
    }))
}

// ---------------------------------------------------------------------------------
// Diagnostics

/// Position bias, straight-lining, answer validity and reliability checks.
pub fn diagnostics(dir: &Path) -> Result<Option<Section>> {
    let Some(t) = Table::read(dir, "diagnostics", &DIAGNOSTICS_COLUMNS)? else {
        return Ok(None);
    };
    let arm = t.text_or_empty("arm")?;
    let item = t.text_or_empty("item")?;
    let diagnostic = t.text_or_empty("diagnostic")?;
    let estimate = t.numbers("estimate")?;
    let expected = t.numbers("expected")?;
    let low = t.numbers("ci_low")?;
    let high = t.numbers("ci_high")?;
    let n = t.counts("n")?;
    let p = t.numbers("p_value")?;
    let test = t.text("test")?;
    let method = t.text_or_empty("method")?;
    let mut blocks = vec![Block::text(
        "Checks of the answers themselves. Rows with p < 0.05 (for example options shown first \
         chosen more often than chance) are highlighted.",
    )];
    let bias: Vec<(String, f64, f64, f64)> = (0..t.rows())
        .filter(|&i| diagnostic[i] == "position_bias")
        .filter_map(|i| {
            let e = expected[i]?;
            let est = estimate[i]?;
            Some((
                format!("{} · {}", arm[i], item[i]),
                est - e,
                low[i].map_or(f64::NAN, |l| l - e),
                high[i].map_or(f64::NAN, |h| h - e),
            ))
        })
        .collect();
    if !bias.is_empty() {
        blocks.push(Block::Figure {
            svg: plots::intervals(
                "position bias",
                "Position bias: first shown option chosen, minus chance",
                &bias,
                Some(0.0),
                "share choosing the first shown option − expected share",
            )?,
            caption: "Share of answers on the option shown first, minus the share expected if position did not matter, with its 95% interval.".to_string(),
        });
    }
    blocks.push(Block::Grid {
        caption: "Diagnostics".to_string(),
        columns: [
            "arm",
            "item",
            "diagnostic",
            "estimate",
            "expected",
            "95% interval",
            "n",
            "p",
            "test",
            "method",
        ]
        .map(String::from)
        .to_vec(),
        rows: (0..t.rows())
            .map(|i| GridRow {
                cells: vec![
                    arm[i].clone(),
                    item[i].clone(),
                    diagnostic[i].clone(),
                    opt_num(estimate[i]),
                    opt_num(expected[i]),
                    interval(low[i], high[i]),
                    count(n[i]),
                    p_value(p[i]),
                    test[i].clone().unwrap_or_else(|| "–".to_string()),
                    method[i].clone(),
                ],
                flagged: p[i].is_some_and(|p| p < 0.05),
            })
            .collect(),
    });
    Ok(Some(Section {
        id: "diagnostics",
        title: "Diagnostics".to_string(),
        blocks,
    }))
}

// ---------------------------------------------------------------------------------
// Cost and tokens

/// Model calls, tokens and cost, by arm and by task.
pub fn cost(dir: &Path, manifest: &Manifest) -> Result<Option<Section>> {
    let calls = Table::read(
        dir,
        "llm_calls",
        &[
            "arm",
            "task",
            "model",
            "status",
            "decision",
            "prompt_tokens",
            "completion_tokens",
            "cached_tokens",
            "latency_ms",
            "cache_hit",
            "cost_usd",
        ],
    )?;
    if calls.is_none() && manifest.runs.is_empty() {
        return Ok(None);
    }
    let mut blocks = Vec::new();
    if !manifest.runs.is_empty() {
        #[derive(Default)]
        struct Totals {
            runs: u64,
            decisions: u64,
            fallbacks: u64,
            repaired: u64,
            errors: u64,
            cache_hits: u64,
            prompt: u64,
            completion: u64,
            cost: f64,
        }
        let mut per_arm: BTreeMap<&str, Totals> = BTreeMap::new();
        let mut all = Totals::default();
        for r in &manifest.runs {
            for t in [per_arm.entry(r.arm.as_str()).or_default(), &mut all] {
                t.runs += 1;
                t.decisions += r.decisions;
                t.fallbacks += r.fallbacks;
                t.repaired += r.repaired;
                t.errors += r.errors;
                t.cache_hits += r.cache_hits;
                t.prompt += r.prompt_tokens;
                t.completion += r.completion_tokens;
                t.cost += r.cost_usd;
            }
        }
        let row = |name: &str, t: &Totals| {
            GridRow::new(vec![
                name.to_string(),
                count(t.runs),
                count(t.decisions),
                count(t.repaired),
                count(t.fallbacks),
                count(t.errors),
                count(t.cache_hits),
                count(t.prompt),
                count(t.completion),
                format!("${:.4}", t.cost),
            ])
        };
        let mut rows: Vec<GridRow> = per_arm.iter().map(|(a, t)| row(a, t)).collect();
        rows.push(row("all arms", &all));
        blocks.push(Block::Grid {
            caption: "Totals by arm (from the manifest)".to_string(),
            columns: [
                "arm",
                "runs",
                "decisions",
                "repaired",
                "fallbacks",
                "errors",
                "cache hits",
                "prompt tokens",
                "completion tokens",
                "cost",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        });
    }
    if let Some(t) = &calls {
        let arms = t.coded("arm")?;
        let tasks = t.coded("task")?;
        let models = t.coded("model")?;
        let status = t.coded("status")?;
        let decision = t.coded("decision")?;
        let prompt = t.counts("prompt_tokens")?;
        let completion = t.counts("completion_tokens")?;
        let cached = t.counts("cached_tokens")?;
        let latency = t.numbers("latency_ms")?;
        let hits = t.flags("cache_hit")?;
        let cost = t.numbers("cost_usd")?;
        #[derive(Default)]
        struct Calls {
            calls: u64,
            valid: u64,
            repaired: u64,
            fallback: u64,
            errors: u64,
            hits: u64,
            prompt: u64,
            completion: u64,
            cached: u64,
            latency: f64,
            cost: f64,
            priced: bool,
        }
        let mut by_code: HashMap<(u32, u32, u32), Calls> = HashMap::new();
        for i in 0..t.rows() {
            let g = by_code
                .entry((arms.codes[i], tasks.codes[i], models.codes[i]))
                .or_default();
            g.calls += 1;
            match decision.get(i) {
                "valid" => g.valid += 1,
                "repaired" => g.repaired += 1,
                _ => g.fallback += 1,
            }
            if status.get(i) != "ok" {
                g.errors += 1;
            }
            g.hits += u64::from(hits[i]);
            g.prompt += prompt[i];
            g.completion += completion[i];
            g.cached += cached[i];
            g.latency += latency[i].unwrap_or(0.0);
            if let Some(c) = cost[i] {
                g.cost += c;
                g.priced = true;
            }
        }
        let name = |c: &Coded, code: u32| c.values.get(code as usize).cloned().unwrap_or_default();
        let groups: BTreeMap<(String, String, String), Calls> = by_code
            .into_iter()
            .map(|((a, t, m), g)| ((name(&arms, a), name(&tasks, t), name(&models, m)), g))
            .collect();
        blocks.push(Block::Grid {
            caption: "Model calls by arm, task and model (from llm_calls)".to_string(),
            columns: [
                "arm",
                "task",
                "model",
                "calls",
                "valid",
                "repaired",
                "fallback",
                "errors",
                "cache hits",
                "prompt tokens",
                "completion tokens",
                "cached tokens",
                "mean latency (ms)",
                "cost",
            ]
            .map(String::from)
            .to_vec(),
            rows: groups
                .iter()
                .map(|((arm, task, model), g)| GridRow {
                    cells: vec![
                        arm.clone(),
                        task.clone(),
                        model.clone(),
                        count(g.calls),
                        count(g.valid),
                        count(g.repaired),
                        count(g.fallback),
                        count(g.errors),
                        count(g.hits),
                        count(g.prompt),
                        count(g.completion),
                        count(g.cached),
                        num(g.latency / g.calls.max(1) as f64),
                        if g.priced {
                            format!("${:.4}", g.cost)
                        } else {
                            "unpriced".to_string()
                        },
                    ],
                    flagged: g.fallback > 0 || g.errors > 0,
                })
                .collect(),
        });
    }
    Ok(Some(Section {
        id: "cost",
        title: "Cost and tokens".to_string(),
        blocks,
    }))
}

// ---------------------------------------------------------------------------------
// Tables

/// The tables of the experiment with their rows, as the manifest counts them.
pub fn tables(names: &[String], manifest: &Manifest) -> Section {
    let mut rows: BTreeMap<&str, u64> = BTreeMap::new();
    for r in &manifest.runs {
        for (t, n) in &r.tables {
            *rows.entry(t.as_str()).or_default() += n;
        }
    }
    Section {
        id: "tables",
        title: "Tables".to_string(),
        blocks: vec![
            Block::text(
                "Every table is a hive-partitioned Parquet dataset below this directory \
                 (TABLE/arm=NAME/replicate=K/part-NNNNN.parquet).",
            ),
            Block::Grid {
                caption: "Tables in this directory".to_string(),
                columns: ["table", "rows"].map(String::from).to_vec(),
                rows: names
                    .iter()
                    .map(|n| {
                        GridRow::new(vec![
                            n.clone(),
                            rows.get(n.as_str())
                                .map_or_else(|| "–".to_string(), |r| count(*r)),
                        ])
                    })
                    .collect(),
            },
        ],
    }
}

// ---------------------------------------------------------------------------------
// Open-answer coding

const THEME_COLUMNS: [&str; 11] = [
    "source", "theme", "label", "arm", "segment", "share", "ci_low", "ci_high", "agents",
    "answers", "method",
];

/// Theme shares of the coded free-text answers (`theme_shares`), drawn per source for
/// everyone, listed by segment, with the codebooks they were coded against.
pub fn coding(dir: &Path) -> Result<Option<Section>> {
    let Some(t) = Table::read(dir, "theme_shares", &THEME_COLUMNS)? else {
        return Ok(None);
    };
    let source = t.text_or_empty("source")?;
    let theme = t.text_or_empty("theme")?;
    let label = t.text_or_empty("label")?;
    let arm = t.text_or_empty("arm")?;
    let segment = t.text_or_empty("segment")?;
    let share = t.numbers("share")?;
    let low = t.numbers("ci_low")?;
    let high = t.numbers("ci_high")?;
    let agents = t.counts("agents")?;
    let answers = t.counts("answers")?;
    let method = t.text_or_empty("method")?;
    let mut blocks = vec![Block::text(
        "Free-text answers coded against each source's codebook: the share of answers with \
         each theme (per agent, then averaged over agents), with 95% intervals over replicates.",
    )];
    for (k, s) in first_seen(source.iter().map(String::as_str))
        .iter()
        .enumerate()
    {
        let points: Vec<(String, f64, f64, f64)> = (0..t.rows())
            .filter(|&i| &source[i] == s && segment[i] == "all")
            .filter_map(|i| {
                Some((
                    format!("{} · {}", label[i], arm[i]),
                    share[i]?,
                    low[i]?,
                    high[i]?,
                ))
            })
            .collect();
        if points.is_empty() || k >= MAX_OUTCOME_PLOTS {
            continue;
        }
        blocks.push(Block::Figure {
            svg: plots::intervals(
                &format!("themes {s}"),
                &format!("Themes of \"{s}\""),
                &points,
                None,
                "share of answers",
            )?,
            caption: format!("Theme shares of \"{s}\" by arm, everyone, with 95% intervals."),
        });
    }
    blocks.push(Block::Grid {
        caption: "Theme shares".to_string(),
        columns: [
            "source",
            "theme",
            "arm",
            "segment",
            "share",
            "95% interval",
            "agents",
            "answers",
            "method",
        ]
        .map(String::from)
        .to_vec(),
        rows: (0..t.rows())
            .map(|i| {
                GridRow::new(vec![
                    source[i].clone(),
                    format!("{} ({})", label[i], theme[i]),
                    arm[i].clone(),
                    segment[i].clone(),
                    opt_num(share[i]),
                    interval(low[i], high[i]),
                    count(agents[i]),
                    count(answers[i]),
                    method[i].clone(),
                ])
            })
            .collect(),
    });
    if let Some(b) = Table::read(
        dir,
        "codebooks",
        &[
            "source",
            "code",
            "label",
            "description",
            "keywords",
            "origin",
        ],
    )? {
        let cols = [
            "source",
            "code",
            "label",
            "description",
            "keywords",
            "origin",
        ];
        let values = cols
            .iter()
            .map(|c| b.text_or_empty(c))
            .collect::<Result<Vec<_>>>()?;
        blocks.push(Block::Grid {
            caption: "Codebooks".to_string(),
            columns: cols.map(String::from).to_vec(),
            rows: (0..b.rows())
                .map(|i| GridRow::new(values.iter().map(|v| v[i].clone()).collect()))
                .collect(),
        });
    }
    Ok(Some(Section {
        id: "coding",
        title: "Coded answers".to_string(),
        blocks,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coded(values: &[&str]) -> Coded {
        Coded {
            values: values.iter().map(|v| v.to_string()).collect(),
            codes: Vec::new(),
        }
    }

    fn answer(arm: u32, value: Option<f64>, label: u32) -> Answer {
        Answer {
            arm,
            replicate: 0,
            agent: 0,
            value,
            label,
        }
    }

    #[test]
    fn choice_shares_follow_option_order_and_count_abstentions() {
        let arms = coded(&["a", "b"]);
        let labels = coded(&["no", "yes"]);
        // Arm a: yes (2), no (1), one abstention; arm b: no (2).
        let answers = [
            answer(0, Some(2.0), 0),
            answer(0, Some(1.0), 1),
            answer(0, Some(1.0), 1),
            answer(0, None, NULL_CODE),
            answer(1, Some(2.0), 0),
            answer(1, Some(2.0), 0),
        ];
        let d = distribution("single_choice", &answers, &arms, &labels).unwrap();
        // Categories in option-number order, named by their labels, then abstentions.
        assert_eq!(d.categories, ["yes", "no", NO_ANSWER]);
        assert_eq!(d.series[0], ("a".to_string(), vec![0.5, 0.25, 0.25]));
        assert_eq!(d.series[1], ("b".to_string(), vec![0.0, 1.0, 0.0]));
        assert_eq!(d.totals, ["a 4", "b 2"]);
    }

    #[test]
    fn scale_points_without_labels_are_numbered() {
        let arms = coded(&["a"]);
        let labels = coded(&[]);
        let answers = [
            answer(0, Some(3.0), NULL_CODE),
            answer(0, Some(1.0), NULL_CODE),
        ];
        let d = distribution("likert", &answers, &arms, &labels).unwrap();
        assert_eq!(d.categories, ["1", "3"]);
        assert_eq!(d.series[0].1, [0.5, 0.5]);
    }

    #[test]
    fn numbers_fall_in_ten_equal_bins() {
        let arms = coded(&["a"]);
        let labels = coded(&[]);
        // 0..=10: width 1; 10 joins the last bin.
        let answers: Vec<Answer> = (0..=10)
            .map(|v| answer(0, Some(v as f64), NULL_CODE))
            .collect();
        let d = distribution("numeric", &answers, &arms, &labels).unwrap();
        assert_eq!(d.categories.len(), 10);
        assert_eq!(d.categories[0], "0 – 1.000");
        let shares = &d.series[0].1;
        assert!((shares[0] - 1.0 / 11.0).abs() < 1e-12);
        assert!((shares[9] - 2.0 / 11.0).abs() < 1e-12);
        assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        // A single value makes one bin.
        let one = [answer(0, Some(4.0), NULL_CODE)];
        let d = distribution("numeric", &one, &arms, &labels).unwrap();
        assert_eq!(d.series[0].1, [1.0]);
    }

    #[test]
    fn trajectories_average_agents_then_replicates() {
        let mut arms = coded(&["a"]);
        arms.codes = vec![0; 6];
        // Replicate 0: round 1 stances 1 and 3 (mean 2); replicate 1: 4 and 6 (mean 5);
        // round 2 only in replicate 0 (mean 7).
        let reps = [0, 0, 1, 1, 0, 0];
        let rounds = [1, 1, 1, 1, 2, 2];
        let values = [Some(1.0), Some(3.0), Some(4.0), Some(6.0), Some(7.0), None];
        let lines = trajectories(&arms, &reps, &rounds, &values);
        let thin: Vec<&Line> = lines.iter().filter(|l| !l.bold).collect();
        let bold: Vec<&Line> = lines.iter().filter(|l| l.bold).collect();
        assert_eq!(thin.len(), 2);
        assert_eq!(thin[0].points, [(1.0, 2.0), (2.0, 7.0)]);
        assert_eq!(thin[1].points, [(1.0, 5.0)]);
        assert_eq!(bold.len(), 1);
        assert_eq!(bold[0].points, [(1.0, 3.5), (2.0, 7.0)]);
    }
}
