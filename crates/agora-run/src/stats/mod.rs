//! Statistics of an experiment, computed from its tables once the runs are written.
//!
//! For every outcome the mechanism declares (see [`agora_core::outcome`]), per arm and
//! per segment (`all`, then every level of each categorical attribute named in the
//! scenario's `segments:`):
//!
//! - `level` rows: the pooled mean with a 95% interval that respects the design, agents
//!   nested in replicates ([`agora_stats::design_interval`]: a cluster bootstrap over
//!   replicates from 10 replicates, a cluster-robust t interval from 2, a bootstrap over
//!   agents for one replicate); the method is written in each row;
//! - `difference` rows: each arm minus the control arm, paired person by person (arms
//!   of a replicate share its people; run-level outcomes pair replicates), with the
//!   design interval of the mean difference, a sign-flip permutation p-value (over
//!   replicates when there are several) and Cohen's d_z
//!   ([`agora_stats::paired_comparison`]).
//!
//! Resampling seeds derive from the experiment's seed and the row's identity, so the
//! table is the same byte for byte on every computation.

mod diagnostics;
mod observe;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use agora_core::outcome::{OutcomeSource, OutcomeUnit};
use agora_export::{Column, ColumnType, ExportError, TableBuffer, TableSpec};

pub use diagnostics::{DiagnosticRow, diagnostics, write_diagnostics};
pub use observe::{
    OutcomeData, RunValues, TableReader, for_each_outcome, for_each_outcome_with, observations,
};

/// Confidence level of every interval.
pub const LEVEL: f64 = 0.95;

/// What the statistics need to know about the experiment.
#[derive(Clone, Debug)]
pub struct StatsPlan {
    /// Arms in scenario order.
    pub arms: Vec<String>,
    /// The arm the others are compared with.
    pub control: String,
    /// Further comparisons `(arm, with)` the scenario asks for.
    pub comparisons: Vec<(String, String)>,
    /// Whether every arm has a retest arm (`NAME_retest`).
    pub retest: bool,
    /// Categorical attributes to break agent-level outcomes down by.
    pub segments: Vec<String>,
    /// Where the outcomes are.
    pub sources: Vec<OutcomeSource>,
    /// The experiment's seed (resampling seeds derive from it).
    pub seed: u64,
}

impl StatsPlan {
    /// The arms `arm` is compared with: the control (unless it is the control), then
    /// the scenario's further comparisons.
    fn baselines_of<'a>(&'a self, arm: &'a str) -> Vec<&'a str> {
        let mut with: Vec<&str> = Vec::new();
        if arm != self.control {
            with.push(&self.control);
        }
        for (a, b) in &self.comparisons {
            if a == arm && !with.contains(&b.as_str()) && b != arm {
                with.push(b);
            }
        }
        with
    }
}

/// One row of the `stats` table.
#[derive(Clone, Debug, PartialEq)]
pub struct StatsRow {
    /// Arm.
    pub arm: String,
    /// Outcome (`appeal`, `plan=none`, `revenue`).
    pub outcome: String,
    /// `all`, or `attribute=level`.
    pub segment: String,
    /// `level` or `difference`.
    pub kind: &'static str,
    /// The control arm of a difference.
    pub control: Option<String>,
    /// `agent` or `run`.
    pub unit: &'static str,
    /// Estimate.
    pub estimate: f64,
    /// Lower end of the 95% interval.
    pub ci_low: f64,
    /// Upper end of the 95% interval.
    pub ci_high: f64,
    /// Observations (pairs for a difference).
    pub n: u64,
    /// Replicates contributing.
    pub replicates: u32,
    /// How the interval was computed.
    pub method: String,
    /// p-value of the difference's test.
    pub p_value: Option<f64>,
    /// The test.
    pub test: Option<String>,
    /// Effect size of the difference.
    pub effect_size: Option<f64>,
    /// Its measure.
    pub effect_measure: Option<String>,
}

/// The `stats` table's columns.
pub fn stats_table() -> TableSpec {
    TableSpec::new(
        "stats",
        vec![
            Column::required("arm", ColumnType::Utf8),
            Column::required("outcome", ColumnType::Utf8),
            Column::required("segment", ColumnType::Utf8),
            Column::required("kind", ColumnType::Utf8),
            Column::optional("control", ColumnType::Utf8),
            Column::required("unit", ColumnType::Utf8),
            Column::required("estimate", ColumnType::F64),
            Column::required("ci_low", ColumnType::F64),
            Column::required("ci_high", ColumnType::F64),
            Column::required("n", ColumnType::U64),
            Column::required("replicates", ColumnType::U32),
            Column::required("method", ColumnType::Utf8),
            Column::optional("p_value", ColumnType::F64),
            Column::optional("test", ColumnType::Utf8),
            Column::optional("effect_size", ColumnType::F64),
            Column::optional("effect_measure", ColumnType::Utf8),
        ],
    )
}

/// A seed for one row: the experiment's seed mixed with the row's identity.
pub(crate) fn row_seed(seed: u64, parts: &[&str]) -> u64 {
    let mut h = blake3::Hasher::new();
    h.update(&seed.to_le_bytes());
    for p in parts {
        h.update(p.as_bytes());
        h.update(&[0]);
    }
    let bytes = h.finalize();
    u64::from_le_bytes(bytes.as_bytes()[..8].try_into().unwrap_or([0; 8]))
}

/// Segment labels of every agent: (arm, replicate, agent) -> one label per segment
/// attribute (`None` where the attribute is missing).
pub(crate) type SegmentLabels = BTreeMap<(String, u32, u32), Vec<Option<String>>>;

/// The segment labels of every agent of the experiment below `root` (from `agents`).
pub(crate) fn segment_labels(
    root: &Path,
    segments: &[String],
) -> Result<SegmentLabels, ExportError> {
    if segments.is_empty() {
        return Ok(BTreeMap::new());
    }
    let columns: Vec<&str> = segments.iter().map(String::as_str).collect();
    let Some(frame) = agora_export::read_table(root, "agents", &columns, &[])? else {
        return Ok(BTreeMap::new());
    };
    let mut labels = BTreeMap::new();
    for i in 0..frame.len() {
        let Some(agent) = frame.agent[i] else {
            continue;
        };
        let row: Vec<Option<String>> = columns
            .iter()
            .map(|c| frame.text(c).and_then(|v| v.get(i)).map(str::to_string))
            .collect();
        labels.insert((frame.arm(i).to_string(), frame.replicate[i], agent), row);
    }
    Ok(labels)
}

/// Every segment of the experiment: `all`, then `attribute=level` for each level seen.
fn segment_names(
    plan: &StatsPlan,
    labels: &SegmentLabels,
) -> Vec<(String, Option<(usize, String)>)> {
    let mut names = vec![("all".to_string(), None)];
    for (s, attribute) in plan.segments.iter().enumerate() {
        let mut levels: Vec<&String> = labels.values().filter_map(|l| l[s].as_ref()).collect();
        levels.sort();
        levels.dedup();
        for level in levels {
            names.push((format!("{attribute}={level}"), Some((s, level.clone()))));
        }
    }
    names
}

/// One run of an arm in a segment: replicate, units (ascending), values.
type ArmRun = (u32, Vec<Option<u32>>, Vec<f64>);

/// Compute the `stats` rows of the experiment written below `root`.
pub fn compute(root: &Path, plan: &StatsPlan) -> Result<Vec<StatsRow>, ExportError> {
    compute_with(root, plan, &mut [])
}

/// [`compute`], feeding `readers` from the same reads of the tables.
pub fn compute_with(
    root: &Path,
    plan: &StatsPlan,
    readers: &mut [&mut dyn TableReader],
) -> Result<Vec<StatsRow>, ExportError> {
    let labels = segment_labels(root, &plan.segments)?;
    let segments = segment_names(plan, &labels);
    // Outcomes are read one at a time and their rows computed on worker threads (a
    // few outcomes in flight); rows come back in the outcomes' order.
    let workers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, MAX_WORKERS);
    let (labels, segments) = (&labels, &segments);
    std::thread::scope(|scope| {
        let (send, receive) =
            std::sync::mpsc::sync_channel::<(usize, String, OutcomeData)>(workers);
        let receive = std::sync::Arc::new(std::sync::Mutex::new(receive));
        let (done, results) = std::sync::mpsc::channel::<(usize, Vec<StatsRow>)>();
        for _ in 0..workers {
            let (receive, done) = (receive.clone(), done.clone());
            scope.spawn(move || {
                loop {
                    let next = receive.lock().ok().and_then(|r| r.recv().ok());
                    let Some((index, outcome, data)) = next else {
                        return;
                    };
                    let rows = outcome_rows(plan, labels, segments, &outcome, &data);
                    if done.send((index, rows)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(done);
        let mut index = 0;
        let read = for_each_outcome_with(root, &plan.sources, readers, |outcome, data| {
            // The workers only stop when this side hangs up.
            let _ = send.send((index, outcome.to_string(), data));
            index += 1;
        });
        drop(send);
        let mut by_outcome: BTreeMap<usize, Vec<StatsRow>> = results.iter().collect();
        read?;
        Ok(std::mem::take(&mut by_outcome)
            .into_values()
            .flatten()
            .collect())
    })
}

/// At most this many threads compute statistics.
const MAX_WORKERS: usize = 4;

/// The `stats` rows of one outcome: per segment and arm, its level and differences.
fn outcome_rows(
    plan: &StatsPlan,
    labels: &SegmentLabels,
    segments: &[(String, Option<(usize, String)>)],
    outcome: &str,
    data: &OutcomeData,
) -> Vec<StatsRow> {
    let mut rows = Vec::new();
    let outcome = &outcome.to_string();
    let unit = data.unit.unwrap_or(OutcomeUnit::Agent);
    let unit_name = match unit {
        OutcomeUnit::Agent => "agent",
        OutcomeUnit::Run => "run",
    };
    for (segment, filter) in segments {
        if unit == OutcomeUnit::Run && filter.is_some() {
            continue;
        }
        // Per arm: its runs' values, in replicate order (units ascending within).
        let mut by_arm: BTreeMap<&str, Vec<ArmRun>> = BTreeMap::new();
        for run in &data.runs {
            let (units, values) = match filter {
                None => (run.units.clone(), run.values.clone()),
                Some((s, level)) => in_segment(labels, run, *s, level).into_iter().unzip(),
            };
            if !units.is_empty() {
                by_arm
                    .entry(run.arm.as_str())
                    .or_default()
                    .push((run.replicate, units, values));
            }
        }
        for arm in &plan.arms {
            let Some(reps) = by_arm.get(arm.as_str()) else {
                continue;
            };
            let clusters: Vec<Vec<f64>> = reps.iter().map(|r| r.2.clone()).collect();
            let n: usize = clusters.iter().map(Vec::len).sum();
            let seed = row_seed(plan.seed, &[arm, outcome, segment, "level"]);
            match agora_stats::design_interval(&clusters, LEVEL, seed) {
                Ok(iv) => rows.push(StatsRow {
                    arm: arm.clone(),
                    outcome: outcome.clone(),
                    segment: segment.clone(),
                    kind: "level",
                    control: None,
                    unit: unit_name,
                    estimate: iv.estimate,
                    ci_low: iv.low,
                    ci_high: iv.high,
                    n: n as u64,
                    replicates: clusters.len() as u32,
                    method: iv.method,
                    p_value: None,
                    test: None,
                    effect_size: None,
                    effect_measure: None,
                }),
                Err(e) => tracing::debug!(arm, outcome, segment, "no interval: {e}"),
            }
            for baseline in plan.baselines_of(arm) {
                let Some(control) = by_arm.get(baseline) else {
                    continue;
                };
                let mut pairs = Vec::new();
                for (replicate, units, values) in reps {
                    let Some((_, control_units, control_values)) =
                        control.iter().find(|c| c.0 == *replicate)
                    else {
                        continue;
                    };
                    pair_units(
                        (units, values),
                        (control_units, control_values),
                        |treated, c| pairs.push((*replicate, treated, c)),
                    );
                }
                let seed = row_seed(plan.seed, &[arm, baseline, outcome, segment, "difference"]);
                match agora_stats::paired_comparison(&pairs, LEVEL, seed) {
                    Ok(c) => rows.push(StatsRow {
                        arm: arm.clone(),
                        outcome: outcome.clone(),
                        segment: segment.clone(),
                        kind: "difference",
                        control: Some(baseline.to_string()),
                        unit: unit_name,
                        estimate: c.difference.estimate,
                        ci_low: c.difference.low,
                        ci_high: c.difference.high,
                        n: c.n as u64,
                        replicates: c.clusters as u32,
                        method: c.difference.method,
                        p_value: Some(c.p_value),
                        test: Some(c.test),
                        effect_size: c.effect_size,
                        effect_measure: Some(c.effect_measure.to_string()),
                    }),
                    Err(e) => tracing::debug!(arm, outcome, segment, "no difference: {e}"),
                }
            }
        }
    }
    rows
}

/// The units of one run in segment `segment` = `level`, with their values.
fn in_segment(
    labels: &SegmentLabels,
    run: &observe::RunValues,
    segment: usize,
    level: &str,
) -> Vec<(Option<u32>, f64)> {
    let from = (run.arm.clone(), run.replicate, 0);
    let to = (run.arm.clone(), run.replicate, u32::MAX);
    let mut of_run = labels.range(from..=to).peekable();
    let mut kept = Vec::new();
    for (unit, value) in run.units.iter().zip(&run.values) {
        let Some(agent) = unit else {
            continue;
        };
        while of_run.next_if(|((_, _, a), _)| a < agent).is_some() {}
        if let Some(((_, _, a), l)) = of_run.peek()
            && a == agent
            && l[segment].as_deref() == Some(level)
        {
            kept.push((*unit, *value));
        }
    }
    kept
}

/// Call `pair` with the values of every unit observed in both runs (both ascending by
/// unit), in unit order.
fn pair_units(
    treated: (&[Option<u32>], &[f64]),
    control: (&[Option<u32>], &[f64]),
    mut pair: impl FnMut(f64, f64),
) {
    let (mut i, mut j) = (0, 0);
    while i < treated.0.len() && j < control.0.len() {
        match treated.0[i].cmp(&control.0[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                pair(treated.1[i], control.1[j]);
                i += 1;
                j += 1;
            }
        }
    }
}

/// Write `rows` as the experiment's `stats` table (`root/stats/part-00000.parquet`).
pub fn write_stats(root: &Path, rows: &[StatsRow]) -> Result<PathBuf, ExportError> {
    let mut buffer = TableBuffer::new(stats_table(), rows.len().max(1));
    for r in rows {
        buffer
            .row()
            .str(&r.arm)
            .str(&r.outcome)
            .str(&r.segment)
            .str(r.kind)
            .opt_str(r.control.as_deref())
            .str(r.unit)
            .f64(r.estimate)
            .f64(r.ci_low)
            .f64(r.ci_high)
            .u64(r.n)
            .u32(r.replicates)
            .str(&r.method)
            .opt_f64(r.p_value)
            .opt_str(r.test.as_deref())
            .opt_f64(r.effect_size)
            .opt_str(r.effect_measure.as_deref())
            .end();
    }
    agora_export::write_experiment_table(root, &mut buffer)
}

/// The plan of statistics for `scenario`.
pub fn plan_for(scenario: &agora_scenario::Scenario, seed: u64) -> StatsPlan {
    let file = &scenario.file;
    let mut sources = Vec::new();
    for arm in &file.arms {
        for s in arm.mechanism.outcomes() {
            if !sources.contains(&s) {
                sources.push(s);
            }
        }
    }
    if file.coding.is_some() {
        sources.extend(crate::coding::outcome_sources());
    }
    StatsPlan {
        arms: file.arms.iter().map(|a| a.name.0.clone()).collect(),
        control: file.control_arm().name.0.clone(),
        comparisons: file.comparisons.clone(),
        retest: file.retest,
        segments: file.segments.clone(),
        sources,
        seed,
    }
}

/// What [`write_all`] produced: the headline lines and the tables written, or why
/// statistics could not be computed.
#[derive(Clone, Debug, Default)]
pub struct Statistics {
    /// The headline, a few lines.
    pub headline: Vec<String>,
    /// Files written (`stats`, `diagnostics`).
    pub files: Vec<PathBuf>,
    /// Diagnostics worth a reader's attention (position bias with p < 0.05).
    pub warnings: Vec<String>,
    /// Distance to the human reference per arm, when the scenario has one.
    pub validation: Vec<String>,
    /// Open-answer coding: one line per coded source (top themes per arm), and the
    /// coding calls.
    pub coding: Vec<String>,
    /// Why nothing could be computed.
    pub error: Option<String>,
}

/// Compute and write the `stats` and `diagnostics` tables of the experiment `plan`
/// wrote for `scenario`. A failure is reported, not raised: the runs' tables stand.
pub fn write_all(
    scenario: &agora_scenario::Scenario,
    plan: &agora_scenario::ExperimentPlan,
) -> Statistics {
    write_all_in(scenario, &plan.output, plan.seed)
}

/// Compute and write the experiment-wide tables (`stats`, `diagnostics`, and
/// `validation` when the scenario has a reference) of the experiment of `scenario`
/// with seed `seed` whose runs are below `root`. A failure is reported, not raised.
pub fn write_all_in(scenario: &agora_scenario::Scenario, root: &Path, seed: u64) -> Statistics {
    let stats_plan = plan_for(scenario, seed);
    let written = write_tables(root, &stats_plan).and_then(|mut s| {
        if let Some(reference) = &scenario.file.reference {
            let rows = crate::validation::compute(
                root,
                reference,
                &scenario.file.mechanism.questions(),
                &stats_plan.arms,
                &stats_plan.segments,
                seed,
            )?;
            s.files
                .push(crate::validation::write_validation(root, &rows)?);
            s.validation = crate::validation::headline(&rows);
        }
        Ok(s)
    });
    match written {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("statistics not computed: {e}");
            Statistics {
                error: Some(e.to_string()),
                ..Default::default()
            }
        }
    }
}

/// Compute and write the `stats` and `diagnostics` tables below `root`.
pub fn write_tables(root: &Path, plan: &StatsPlan) -> Result<Statistics, ExportError> {
    // The diagnostics read the same tables as the outcomes: one read serves both.
    let mut responses = diagnostics::ResponseDiagnostics::new(plan.retest);
    let mut calls = diagnostics::CallDiagnostics::default();
    let rows = compute_with(root, plan, &mut [&mut responses, &mut calls])?;
    let mut files = vec![write_stats(root, &rows)?];
    let diagnostics = diagnostics::finish(&plan.arms, responses, calls);
    files.push(write_diagnostics(root, &diagnostics)?);
    let warnings = diagnostics
        .iter()
        .filter(|d| d.diagnostic == "position_bias" && d.p_value.is_some_and(|p| p < 0.05))
        .map(|d| {
            format!(
                "position bias in arm {} item {}: the first option shown was chosen {:.0}% of the time against {:.0}% expected (p = {:.3}, n = {})",
                d.arm,
                d.item,
                d.estimate * 100.0,
                d.expected.unwrap_or(0.0) * 100.0,
                d.p_value.unwrap_or(1.0),
                d.n
            )
        })
        .collect();
    Ok(Statistics {
        headline: headline(&rows, 8),
        files,
        warnings,
        validation: Vec::new(),
        coding: Vec::new(),
        error: None,
    })
}

/// The headline of an experiment: every outcome's estimate per arm over everyone, and
/// each arm's difference with the control, a few lines of text.
pub fn headline(rows: &[StatsRow], max_outcomes: usize) -> Vec<String> {
    let mut outcomes: Vec<&str> = Vec::new();
    for r in rows.iter().filter(|r| r.segment == "all") {
        if !outcomes.contains(&r.outcome.as_str()) {
            outcomes.push(&r.outcome);
        }
    }
    let mut lines = Vec::new();
    for outcome in outcomes.iter().take(max_outcomes) {
        let mut parts = Vec::new();
        for r in rows
            .iter()
            .filter(|r| r.segment == "all" && r.outcome == *outcome)
        {
            match r.kind {
                "level" => parts.push(format!(
                    "{} {} [{}, {}]",
                    r.arm,
                    number(r.estimate),
                    number(r.ci_low),
                    number(r.ci_high)
                )),
                _ => parts.push(format!(
                    "{}−{} {:+} [{:+}, {:+}]{}",
                    r.arm,
                    r.control.as_deref().unwrap_or("control"),
                    Signed(r.estimate),
                    Signed(r.ci_low),
                    Signed(r.ci_high),
                    r.p_value
                        .map(|p| format!(" p={}", p_text(p)))
                        .unwrap_or_default()
                )),
            }
        }
        lines.push(format!("{outcome}: {}", parts.join("; ")));
    }
    if outcomes.len() > max_outcomes {
        lines.push(format!(
            "... {} more outcomes in the stats table",
            outcomes.len() - max_outcomes
        ));
    }
    lines
}

/// A number shown with three significant digits.
fn number(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let digits = (2 - x.abs().log10().floor() as i32).clamp(0, 6) as usize;
    format!("{x:.digits$}")
}

/// A number with its sign, three significant digits.
struct Signed(f64);

impl std::fmt::Display for Signed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = number(self.0);
        if self.0 >= 0.0 && f.sign_plus() {
            write!(f, "+{s}")
        } else {
            write!(f, "{s}")
        }
    }
}

fn p_text(p: f64) -> String {
    if p < 0.001 {
        "<0.001".into()
    } else {
        format!("{p:.3}")
    }
}

#[cfg(test)]
mod tests;
