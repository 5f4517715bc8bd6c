//! Performing an experiment: every arm and replicate of a scenario, end to end.
//!
//! The manifest is written first (`running`), then after every run, and last with
//! the experiment's status. Each run checkpoints after every round: its rows of the
//! round are sealed into complete Parquet files, then its state lands atomically in
//! `.agora/runs/ARM/REPLICATE.json`. `--resume` continues every unfinished run from its
//! last checkpoint, so an interrupted experiment ends with the tables it would have
//! had, and no call is paid twice (answers are in the call cache).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use agora_core::Play;
use agora_core::checkpoint::RunSnapshot;
use agora_core::scheduler::{Checkpointer, RunControl, RunEnd, SchedulerLimits};
use agora_export::{Manifest, OutputLayout, PARTIAL_SUFFIX, RunRecord, segment_of};
use agora_llm::ChatModel;
use agora_llm::gateway::SpendingLimit;
use agora_scenario::{ExperimentPlan, RunPlan, Scenario};
use futures::StreamExt;

use crate::ExperimentError;
use crate::backends::{Backends, CallOptions, default_model};
use crate::checkpoints::{CheckpointWriter, checkpoint_name};
use crate::progress::RunProgress;
use crate::setup::{Resume, RunIdentity, prepare_run};
use crate::shard::{Shard, shard_manifests};
use crate::summary::{ExperimentSummary, RunSummary};

/// Spending limits of an experiment, over all its runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Budget {
    /// Most US dollars to spend on priced calls.
    pub max_cost_usd: Option<f64>,
    /// Most prompt plus completion tokens.
    pub max_tokens: Option<u64>,
}

/// How an experiment is carried out (as opposed to what it is: the plan).
#[derive(Clone, Debug, Default)]
pub struct Execution {
    /// Replace earlier results in the output directory.
    pub overwrite: bool,
    /// Continue an interrupted experiment in the output directory.
    pub resume: bool,
    /// Gateway settings for language models.
    pub calls: CallOptions,
    /// Spending limits.
    pub budget: Budget,
    /// Set (by a signal handler) to stop after the round in progress; the experiment
    /// is then `interrupted` and resumable.
    pub stop: Option<Arc<AtomicBool>>,
    /// Start every run from another experiment's checkpoint after a round.
    pub branch: Option<Branch>,
    /// Perform only this shard's runs (see [`crate::shard`]); its manifest goes to
    /// `.agora/shards/` and the experiment-wide tables wait for `agora merge`.
    pub shard: Option<Shard>,
    /// Keep every call's messages and completion in the `transcripts` table.
    pub record_prompts: bool,
}

/// Where runs branch from: an earlier experiment's state after round `round`.
#[derive(Clone, Debug)]
pub struct Branch {
    /// The earlier experiment's output directory.
    pub from: PathBuf,
    /// The round after which its runs are continued.
    pub round: u32,
    /// The arm of the earlier experiment every run starts from; by default the arm of
    /// the same name, or its only arm.
    pub arm: Option<String>,
}

impl Branch {
    /// The checkpoint `run` starts from.
    fn checkpoint(&self, run: &RunPlan) -> Result<RunSnapshot, ExperimentError> {
        let source = OutputLayout::new(&self.from);
        let runs = source.state_dir().join("runs");
        let arms: Vec<String> = std::fs::read_dir(&runs)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let arm = match &self.arm {
            Some(a) => a.clone(),
            None if arms.contains(&run.arm) => run.arm.clone(),
            None if arms.len() == 1 => arms[0].clone(),
            None => {
                return Err(ExperimentError::Invalid(format!(
                    "{} holds the arms {} and none is called `{}`; choose one with --from-arm",
                    self.from.display(),
                    arms.join(", "),
                    run.arm
                )));
            }
        };
        let dir = checkpoint_dir(&source, &arm, run.replicate);
        let last = last_checkpoint(&dir).ok_or_else(|| {
            ExperimentError::Invalid(format!(
                "{} has no checkpoints of arm `{arm}` replicate {}; it must be an experiment written by this version of agora",
                self.from.display(),
                run.replicate
            ))
        })?;
        if self.round > last {
            return Err(ExperimentError::Invalid(format!(
                "--at-round {}: arm `{arm}` replicate {} of {} has rounds up to {last}",
                self.round,
                run.replicate,
                self.from.display()
            )));
        }
        let snapshot = read_checkpoint(&dir, self.round)?;
        if snapshot.finished && snapshot.round == last && self.round == last {
            return Err(ExperimentError::Invalid(format!(
                "--at-round {}: the run ended after that round; branch from an earlier one",
                self.round
            )));
        }
        Ok(snapshot)
    }
}

/// Perform `plan`; tables and the manifest go below its output directory.
pub fn run_experiment(
    scenario: &Scenario,
    plan: &ExperimentPlan,
    execution: &Execution,
    progress: &dyn RunProgress,
) -> Result<ExperimentSummary, ExperimentError> {
    if plan.agents == 0 {
        return Err(ExperimentError::Invalid(
            "--agents must be at least 1".into(),
        ));
    }
    let spending = (execution.budget.max_cost_usd.is_some()
        || execution.budget.max_tokens.is_some())
    .then(|| SpendingLimit::new(execution.budget.max_cost_usd, execution.budget.max_tokens));
    // One limit on calls in flight over every run of the experiment; batched calls wait
    // on the server's batch, so all of a step's calls go into it.
    let calls = CallOptions {
        concurrency: (!execution.calls.batch).then_some(plan.concurrency),
        batch_dir: execution
            .calls
            .batch
            .then(|| OutputLayout::new(&plan.output).state_dir().join("batches")),
        ..execution.calls.clone()
    };
    let mut backends = Backends::new(calls);
    if let Some(limit) = &spending {
        backends = backends.with_spending(limit.clone());
    }
    // Every run's backend must be usable before anything is written. Runs share one
    // model per backend (one gateway: its cache, deduplication, limits, budget).
    let mut models: HashMap<String, Arc<dyn ChatModel>> = HashMap::new();
    for run in &plan.runs {
        let spec = run.model.clone().unwrap_or_else(default_model);
        if let std::collections::hash_map::Entry::Vacant(e) = models.entry(model_key(&spec, run)) {
            e.insert(
                backends
                    .build(&spec, arm_mechanism(scenario, &run.treatment))
                    .map_err(|e| in_arm(&run.arm, e))?,
            );
        }
    }
    let layout = OutputLayout::new(&plan.output);
    if let Some(branch) = &execution.branch {
        check_branch(branch, plan)?;
    }
    let manifest_path = match &execution.shard {
        Some(shard) => {
            Shard::check_count(shard.count, plan)?;
            shard.manifest_file(&layout)
        }
        None => layout.manifest_file(),
    };
    let earlier = if execution.resume {
        Some(resumable_manifest(&layout, &manifest_path, plan)?)
    } else {
        match &execution.shard {
            Some(shard) => prepare_shard_output(&layout, shard, plan, execution.overwrite)?,
            None => prepare_output(&layout, execution.overwrite)?,
        }
        None
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|source| ExperimentError::Io {
            context: "starting the async runtime".into(),
            source,
        })?;
    let mechanism = &scenario.file.mechanism;
    let mut manifest = Manifest {
        scenario: scenario.file.name.clone(),
        scenario_path: scenario.path.display().to_string(),
        scenario_hash: scenario.hash.clone(),
        settings_hash: plan.settings_hash.clone(),
        seed: plan.seed,
        mechanism: mechanism.name().to_string(),
        versions: [("agora".to_string(), env!("CARGO_PKG_VERSION").to_string())]
            .into_iter()
            .collect(),
        status: "running".into(),
        reason: None,
        pid: Some(std::process::id()),
        branched_from: execution.branch.as_ref().map(|b| {
            format!(
                "{} after round {}{}",
                b.from.display(),
                b.round,
                b.arm
                    .as_ref()
                    .map(|a| format!(", arm {a}"))
                    .unwrap_or_default()
            )
        }),
        shard: execution.shard.map(|s| s.info(plan)),
        runs: earlier.map(|m| m.runs).unwrap_or_default(),
    };
    if let Some(limit) = &spending {
        for r in &manifest.runs {
            limit.add_spent(r.cost_usd, r.prompt_tokens + r.completion_tokens);
        }
    }
    manifest.write(&manifest_path)?;
    let mut summary = ExperimentSummary {
        name: scenario.file.name.clone(),
        output: plan.output.clone(),
        arms: crate::summary::arm_lines(scenario, plan),
        manifest: execution.shard.map(|_| manifest_path.clone()),
        ..Default::default()
    };
    // The runs still to play, in plan order; several are in flight together and share
    // the models built above.
    let pending: Vec<&RunPlan> = plan
        .runs
        .iter()
        .enumerate()
        .filter(|(i, run)| {
            execution.shard.is_none_or(|s| s.contains(*i))
                && !manifest
                    .runs
                    .iter()
                    .any(|r| r.arm == run.arm && r.replicate == run.replicate)
        })
        .map(|(_, run)| run)
        .collect();
    let actors = scenario.file.mechanism.actors_per_step(plan.agents);
    let in_flight = runs_in_flight(plan, actors, pending.len());
    // Set when the experiment must not start more runs (a failure, the budget).
    let halt = Arc::new(AtomicBool::new(false));
    // Runs stop after their round in progress on a signal, or when the experiment halts.
    let stop: Vec<Arc<AtomicBool>> = execution
        .stop
        .iter()
        .cloned()
        .chain(std::iter::once(halt.clone()))
        .collect();
    // Each run plays on its own task, so that the runtime's threads share the runs'
    // work (building requests, recording, writing tables) while this thread keeps the
    // manifest.
    let context = Arc::new(RunContext {
        scenario: scenario.clone(),
        plan: plan.clone(),
        layout: layout.clone(),
        execution: execution.clone(),
        spending: spending.clone(),
        stop,
        halt: halt.clone(),
    });
    let mut outcome: Result<(), ExperimentError> = Ok(());
    let mut stopped: Option<(String, String)> = None;
    runtime.block_on(async {
        let mut results = futures::stream::iter(pending.iter().map(|run| {
            let model = models
                .get(&model_key(
                    &run.model.clone().unwrap_or_else(default_model),
                    run,
                ))
                .cloned();
            let label = format!("{}/{}", run.arm, run.replicate);
            let observer = progress.start(&label, plan.agents as u64 * u64::from(plan.max_rounds));
            let task = tokio::spawn(perform_run(
                context.clone(),
                (*run).clone(),
                model,
                observer,
            ));
            async move {
                let performed = task.await.unwrap_or_else(|e| {
                    Err(ExperimentError::Backend {
                        context: format!("arm `{}` replicate {}", run.arm, run.replicate),
                        message: format!("the run stopped unexpectedly: {e}"),
                    })
                });
                (*run, performed)
            }
        }))
        .buffer_unordered(in_flight);
        while let Some((run, performed)) = results.next().await {
            // Answers bought so far are kept, whatever happened to the run.
            if let Err(e) = backends.sync() {
                keep_first(&mut outcome, e);
            }
            match performed {
                Ok(Performed::Finished(record, run_summary)) => {
                    if record.stop_reason.starts_with("budget") && stopped.is_none() {
                        halt.store(true, Ordering::SeqCst);
                        stopped = Some(("budget_exhausted".into(), record.stop_reason.clone()));
                    }
                    manifest.runs.push(*record);
                    sort_runs(&mut manifest, plan);
                    if let Err(e) = manifest.write(&manifest_path) {
                        keep_first(&mut outcome, e.into());
                    }
                    summary.runs.push(*run_summary);
                }
                Ok(Performed::NotStarted) => {}
                Ok(Performed::Interrupted) => {
                    if stopped.is_none() && !halt.load(Ordering::SeqCst) {
                        stopped = Some(("interrupted".into(), String::new()));
                    }
                }
                Ok(Performed::OverBudget(why)) => {
                    halt.store(true, Ordering::SeqCst);
                    let reason = format!(
                        "arm {} replicate {}: {why}; --resume with a larger budget continues it",
                        run.arm, run.replicate
                    );
                    if !matches!(&stopped, Some((s, _)) if s == "failed") {
                        stopped = Some(("budget_exhausted".into(), reason));
                    }
                }
                Err(err) => {
                    halt.store(true, Ordering::SeqCst);
                    let reason = format!("arm {} replicate {}: {err}", run.arm, run.replicate);
                    stopped = Some(("failed".into(), reason));
                    keep_first(&mut outcome, err);
                }
            }
        }
    });
    summary
        .runs
        .sort_by_key(|r| plan_position(plan, &r.record.arm, r.record.replicate));
    match (outcome, stopped) {
        (Err(err), stopped) => {
            let reason = stopped.map(|s| s.1).unwrap_or_else(|| err.to_string());
            let _ = finish_manifest(&mut manifest, &manifest_path, "failed", Some(&reason));
            Err(err)
        }
        (Ok(()), Some((status, _))) if status == "interrupted" => {
            Err(interrupted(&mut manifest, &layout, &manifest_path))
        }
        (Ok(()), Some((status, reason))) => {
            finish_manifest(&mut manifest, &manifest_path, &status, Some(&reason))?;
            summary.stopped = Some(format!("stopped: {reason}"));
            Ok(summary)
        }
        (Ok(()), None) => {
            finish_manifest(&mut manifest, &manifest_path, "complete", None)?;
            // A shard's runs are a part of the experiment: `agora merge` computes the
            // experiment-wide tables once every shard is complete.
            if execution.shard.is_none() {
                let coding =
                    runtime.block_on(crate::coding::code_plan(scenario, plan, &mut backends));
                let computing = Instant::now();
                let mut statistics = crate::stats::write_all(scenario, plan);
                tracing::info!(elapsed = ?computing.elapsed(), "statistics written");
                if let Some(coding) = coding {
                    statistics.coding = coding.lines;
                    statistics.files.extend(coding.files);
                }
                summary.statistics = Some(statistics);
            }
            Ok(summary)
        }
    }
}

/// Runs played at once. A run whose steps ask fewer agents than `concurrency` (a
/// debate's speaker, an auction's bidders) leaves slots free while it records a step
/// and builds the next, and the last runs to start would finish alone: so as many runs
/// as memory allows are in flight (at most 64, and at most [`MAX_AGENTS_IN_FLIGHT`]
/// agents together), and the gateway's limit decides which waiting call goes next
/// (`agora_model::priority`: the run furthest behind first, so they finish together).
/// A run whose steps alone fill the concurrency plays one at a time.
fn runs_in_flight(plan: &ExperimentPlan, actors_per_step: usize, pending: usize) -> usize {
    let concurrency = plan.concurrency.max(1);
    let runs = if actors_per_step >= concurrency {
        1
    } else {
        (MAX_AGENTS_IN_FLIGHT / plan.agents.max(1)).max(2 * concurrency / actors_per_step.max(1))
    };
    runs.clamp(1, MAX_RUNS_IN_FLIGHT).min(pending.max(1))
}

/// Keep the first error of an experiment.
fn keep_first(slot: &mut Result<(), ExperimentError>, error: ExperimentError) {
    if slot.is_ok() {
        *slot = Err(error);
    }
}

/// Most runs of an experiment in flight at once.
pub const MAX_RUNS_IN_FLIGHT: usize = 64;

/// Most agents of the runs in flight together (their worlds are in memory).
pub const MAX_AGENTS_IN_FLIGHT: usize = 16_384;

/// The position of a run in the plan (arms in order, replicates in order).
fn plan_position(plan: &ExperimentPlan, arm: &str, replicate: u32) -> usize {
    plan.runs
        .iter()
        .position(|r| r.arm == arm && r.replicate == replicate)
        .unwrap_or(usize::MAX)
}

/// Keep the manifest's runs in plan order, whichever finished first.
fn sort_runs(manifest: &mut Manifest, plan: &ExperimentPlan) {
    manifest
        .runs
        .sort_by_key(|r| plan_position(plan, &r.arm, r.replicate));
}

/// What every run of an experiment shares (owned, so that each run can play on its own
/// task of the runtime).
struct RunContext {
    scenario: Scenario,
    plan: ExperimentPlan,
    layout: OutputLayout,
    execution: Execution,
    spending: Option<Arc<SpendingLimit>>,
    /// Runs stop after their round in progress when any of these is set.
    stop: Vec<Arc<AtomicBool>>,
    /// No further run starts when set.
    halt: Arc<AtomicBool>,
}

fn finish_manifest(
    manifest: &mut Manifest,
    path: &Path,
    status: &str,
    reason: Option<&str>,
) -> Result<(), ExperimentError> {
    manifest.status = status.into();
    manifest.reason = reason.map(String::from);
    manifest.pid = None;
    Ok(manifest.write(path)?)
}

fn interrupted(manifest: &mut Manifest, layout: &OutputLayout, path: &Path) -> ExperimentError {
    let reason = "stopped by a signal after a round; --resume continues it";
    if let Err(e) = finish_manifest(manifest, path, "interrupted", Some(reason)) {
        return e;
    }
    ExperimentError::Interrupted {
        output: layout.root().to_path_buf(),
    }
}

/// The mechanism settings of arm `arm` (the scenario's when no arm has that name).
fn arm_mechanism<'a>(scenario: &'a Scenario, arm: &str) -> &'a agora_core::MechanismSettings {
    scenario
        .file
        .arm(arm)
        .map_or(&scenario.file.mechanism, |a| &a.mechanism)
}

/// Runs share one model per key: per backend, and for the rule-based backend (whose
/// policies follow the mechanism's settings) per arm.
fn model_key(spec: &agora_llm::ModelSpec, run: &RunPlan) -> String {
    match spec {
        agora_llm::ModelSpec::Rules => format!("{spec}@{}", run.treatment),
        _ => spec.to_string(),
    }
}

fn in_arm(arm: &str, e: ExperimentError) -> ExperimentError {
    match e {
        ExperimentError::Backend { context, message } => ExperimentError::Backend {
            context: format!("arm `{arm}`: {context}"),
            message,
        },
        other => other,
    }
}

/// A branch must start from an experiment with the same people: the same seed and
/// number of agents (and the same population block, which the checkpoint's roster
/// checks again).
fn check_branch(branch: &Branch, plan: &ExperimentPlan) -> Result<(), ExperimentError> {
    let source = OutputLayout::new(&branch.from);
    let manifest = Manifest::read(&source.manifest_file()).map_err(|_| {
        ExperimentError::Invalid(format!(
            "--from {}: no experiment there (manifest.json is missing or unreadable)",
            branch.from.display()
        ))
    })?;
    if manifest.seed != plan.seed {
        return Err(ExperimentError::Invalid(format!(
            "--from {}: its seed is {}, this experiment's is {}; a branch continues the same people, so use --seed {}",
            branch.from.display(),
            manifest.seed,
            plan.seed,
            manifest.seed
        )));
    }
    if let Some(r) = manifest.runs.first()
        && r.agents != plan.agents as u64
    {
        return Err(ExperimentError::Invalid(format!(
            "--from {}: it has {} agents, this experiment {}; use --agents {}",
            branch.from.display(),
            r.agents,
            plan.agents,
            r.agents
        )));
    }
    if std::fs::canonicalize(&branch.from).ok() == std::fs::canonicalize(&plan.output).ok() {
        return Err(ExperimentError::Invalid(
            "--from and --out name the same directory; write the branch elsewhere".into(),
        ));
    }
    Ok(())
}

/// The manifest of the experiment to resume in `layout`, checked against `plan`.
fn resumable_manifest(
    layout: &OutputLayout,
    path: &Path,
    plan: &ExperimentPlan,
) -> Result<Manifest, ExperimentError> {
    if !path.exists() {
        let name = path.strip_prefix(layout.root()).unwrap_or(path);
        return Err(ExperimentError::Output {
            path: layout.root().to_path_buf(),
            message: format!(
                "holds no experiment to resume (no {}); run without --resume",
                name.display()
            ),
        });
    }
    let manifest = Manifest::read(path)?;
    if manifest.settings_hash != plan.settings_hash {
        return Err(ExperimentError::Output {
            path: layout.root().to_path_buf(),
            message: "holds an experiment with other settings (the scenario file, seed, agents, replicates, rounds or model differ); resume with the same scenario and options, or use --out for a new experiment".into(),
        });
    }
    if manifest.status == "running"
        && let Some(pid) = manifest.pid
        && pid != std::process::id()
        && agora_is_running(pid)
    {
        return Err(ExperimentError::Output {
            path: layout.root().to_path_buf(),
            message: format!(
                "is being written by another agora process (pid {pid}); wait for it or stop it first"
            ),
        });
    }
    Ok(manifest)
}

/// Whether process `pid` is alive and is an agora process (a dead run's manifest says
/// `running` forever; its pid may since belong to another program).
fn agora_is_running(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name in parentheses: "pid (comm) S ...".
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    if matches!(state, Some("Z") | Some("X") | None) {
        return false;
    }
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|cmd| String::from_utf8_lossy(&cmd).contains("agora"))
}

/// Make `layout` ready for a new experiment: refuse a directory Agora did not write,
/// and with `overwrite` remove what an earlier experiment wrote, nothing else.
fn prepare_output(layout: &OutputLayout, overwrite: bool) -> Result<(), ExperimentError> {
    let root = layout.root();
    let has_manifest = layout.holds_results();
    let foreign = agora_files(root).map_err(|e| io_output(root, e))?;
    if !has_manifest && !overwrite && !shard_manifests(layout)?.is_empty() {
        return Err(ExperimentError::Output {
            path: root.to_path_buf(),
            message: "holds the shards of an experiment (.agora/shards); `agora merge` completes it once every shard is done, `--shard K/N --resume` continues a shard, --overwrite replaces them, --out writes elsewhere".into(),
        });
    }
    if !has_manifest {
        if let Some(other) = foreign.others.first() {
            return Err(ExperimentError::Output {
                path: root.to_path_buf(),
                message: format!(
                    "holds files Agora did not write (such as {}) and no manifest.json; choose a new or empty directory with --out",
                    other.display()
                ),
            });
        }
        return remove_agora_files(root, &foreign.ours).map_err(|e| io_output(root, e));
    }
    if !overwrite {
        return Err(ExperimentError::Output {
            path: root.to_path_buf(),
            message: "already holds the results of an earlier run (manifest.json); pass --overwrite to replace them, --resume to continue them, or --out to write elsewhere".into(),
        });
    }
    let mut ours = foreign.ours;
    ours.push(layout.manifest_file());
    remove_agora_files(root, &ours).map_err(|e| io_output(root, e))
}

/// Make `layout` ready for shard `shard` of `plan`: only the shard's own runs are
/// cleared, since other shards may be writing into the same directory.
fn prepare_shard_output(
    layout: &OutputLayout,
    shard: &Shard,
    plan: &ExperimentPlan,
    overwrite: bool,
) -> Result<(), ExperimentError> {
    let root = layout.root();
    let output = |message: String| ExperimentError::Output {
        path: root.to_path_buf(),
        message,
    };
    let shards = shard_manifests(layout)?;
    if layout.holds_results() {
        if !overwrite {
            return Err(output(
                "already holds a whole experiment (manifest.json); pass --overwrite to replace this shard's runs, or --out to write elsewhere".into(),
            ));
        }
        match agora_export::store::remove_file(&layout.manifest_file()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io_output(root, e)),
            _ => {}
        }
    } else if shards.is_empty() {
        let found = agora_files(root).map_err(|e| io_output(root, e))?;
        if let Some(other) = found.others.first() {
            return Err(output(format!(
                "holds files Agora did not write (such as {}) and no manifest.json; choose a new or empty directory with --out",
                other.display()
            )));
        }
    }
    let own = shard.manifest_file(layout);
    for (path, m) in &shards {
        let same_split = m.shard.as_ref().is_some_and(|s| s.count == shard.count)
            && m.settings_hash == plan.settings_hash;
        if *path == own {
            if !overwrite {
                return Err(output(format!(
                    "shard {shard} was already started here (status {}); --resume continues it, --overwrite starts it again",
                    m.status
                )));
            }
        } else if !same_split {
            if !overwrite {
                return Err(output(format!(
                    "holds a shard of another experiment or split ({}): other settings or another number of shards; pass --overwrite to replace it, or --out to write elsewhere",
                    path.display()
                )));
            }
            agora_export::store::remove_file(path).map_err(|e| io_output(root, e))?;
        }
    }
    for run in shard.runs(plan) {
        discard_after(layout, run, None)?;
        let checkpoints = checkpoint_dir(layout, &run.arm, run.replicate);
        if checkpoints.exists() {
            agora_export::store::remove_dir_all(&checkpoints).map_err(|e| io_output(root, e))?;
        }
    }
    if own.exists() {
        agora_export::store::remove_file(&own).map_err(|e| io_output(root, e))?;
    }
    Ok(())
}

fn io_output(root: &Path, e: std::io::Error) -> ExperimentError {
    ExperimentError::Output {
        path: root.to_path_buf(),
        message: format!("cleaning up earlier results: {e}"),
    }
}

/// Files below an output directory: those Agora writes (table segments inside hive
/// partitions, its state directory) and any others.
struct Found {
    ours: Vec<PathBuf>,
    others: Vec<PathBuf>,
}

fn agora_files(root: &Path) -> std::io::Result<Found> {
    let mut found = Found {
        ours: Vec::new(),
        others: Vec::new(),
    };
    let Ok(entries) = std::fs::read_dir(root) else {
        return Ok(found);
    };
    for entry in entries {
        let path = entry?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        match name.as_deref() {
            Some(".agora") => found.ours.push(path),
            Some("manifest.json") | Some("manifest.json.tmp") => {}
            _ if path.is_dir() => table_files(&path, &mut found)?,
            _ => found.others.push(path),
        }
    }
    Ok(found)
}

/// Segment files of one table directory (`TABLE/arm=A/replicate=R/part-NNNNN.parquet`).
fn table_files(table: &Path, found: &mut Found) -> std::io::Result<()> {
    for arm in std::fs::read_dir(table)? {
        let arm = arm?.path();
        let is_arm = arm
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("arm="));
        if !is_arm || !arm.is_dir() {
            found.others.push(arm);
            continue;
        }
        for rep in std::fs::read_dir(&arm)? {
            let rep = rep?.path();
            let is_rep = rep
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("replicate="));
            if !is_rep || !rep.is_dir() {
                found.others.push(rep);
                continue;
            }
            for file in std::fs::read_dir(&rep)? {
                let file = file?.path();
                if is_segment_file(&file) {
                    found.ours.push(file);
                } else {
                    found.others.push(file);
                }
            }
        }
    }
    Ok(())
}

/// Whether `path` is a segment file as the recorder names it (complete or partial).
fn is_segment_file(path: &Path) -> bool {
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return false;
    };
    let name = match name.strip_suffix(PARTIAL_SUFFIX) {
        Some(partial) => partial.strip_prefix('.').unwrap_or(partial),
        None => &name,
    };
    segment_of(name).is_some()
}

/// Remove `files` (directories recursively), then the directories they leave empty.
fn remove_agora_files(root: &Path, files: &[PathBuf]) -> std::io::Result<()> {
    for path in files {
        if path.is_dir() {
            agora_export::store::remove_dir_all(path)?;
        } else if path.exists() {
            agora_export::store::remove_file(path)?;
        }
        let mut dir = path.parent();
        while let Some(d) = dir {
            if d == root || std::fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
    }
    Ok(())
}

/// The folder of a run's checkpoints: one `round-NNNNN.json` per round played.
fn checkpoint_dir(layout: &OutputLayout, arm: &str, replicate: u32) -> PathBuf {
    layout
        .state_dir()
        .join("runs")
        .join(arm)
        .join(replicate.to_string())
}

/// The last round a run checkpointed in `dir`, if any.
fn last_checkpoint(dir: &Path) -> Option<u32> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix("round-")?
                .strip_suffix(".json")?
                .parse::<u32>()
                .ok()
        })
        .max()
}

/// Read the checkpoint of round `round` in `dir`.
fn read_checkpoint(dir: &Path, round: u32) -> Result<RunSnapshot, ExperimentError> {
    let path = dir.join(checkpoint_name(round));
    let bytes = std::fs::read(&path).map_err(|source| ExperimentError::Io {
        context: format!("reading the checkpoint {}", path.display()),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|e| ExperimentError::Output {
        path,
        message: format!("the checkpoint cannot be read ({e}); rerun with --overwrite"),
    })
}

/// Remove a run's files written after its checkpoint (`round`): partial files and
/// segments of later rounds; with no checkpoint, every segment file of the run.
fn discard_after(
    layout: &OutputLayout,
    run: &RunPlan,
    round: Option<u32>,
) -> Result<(), ExperimentError> {
    let root = layout.root();
    let Ok(tables) = std::fs::read_dir(root) else {
        return Ok(());
    };
    for table in tables {
        let table = table.map_err(|e| io_output(root, e))?.path();
        let dir = table
            .join(format!("arm={}", run.arm))
            .join(format!("replicate={}", run.replicate));
        let Ok(files) = std::fs::read_dir(&dir) else {
            continue;
        };
        for file in files {
            let file = file.map_err(|e| io_output(root, e))?.path();
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let stale = if name.ends_with(PARTIAL_SUFFIX) {
                true
            } else {
                match (segment_of(&name), round) {
                    (Some(s), Some(r)) => s > r,
                    (Some(_), None) => true,
                    (None, _) => false,
                }
            };
            if stale {
                agora_export::store::remove_file(&file).map_err(|e| io_output(root, e))?;
            }
        }
    }
    Ok(())
}

/// How a run ended.
enum Performed {
    Finished(Box<RunRecord>, Box<RunSummary>),
    /// The experiment halted before the run started.
    NotStarted,
    Interrupted,
    /// A call of the round in progress did not fit the budget: the run stopped at its
    /// last checkpoint.
    OverBudget(String),
}

async fn perform_run(
    context: Arc<RunContext>,
    run: RunPlan,
    model: Option<Arc<dyn ChatModel>>,
    mut observer: Box<dyn agora_core::Progress>,
) -> Result<Performed, ExperimentError> {
    let RunContext {
        scenario,
        plan,
        layout,
        execution,
        spending,
        ..
    } = &*context;
    let run = &run;
    let spending = spending.as_ref();
    if context.stop.iter().any(|s| s.load(Ordering::SeqCst)) {
        return Ok(if context.halt.load(Ordering::SeqCst) {
            Performed::NotStarted
        } else {
            Performed::Interrupted
        });
    }
    let model = model.ok_or_else(|| ExperimentError::Backend {
        context: format!("arm `{}`", run.arm),
        message: "no backend was built for this run's model".into(),
    })?;
    // What is left of the experiment's budget (the spending limit keeps the hard
    // limit; this lets the round-end check stop a run that reached it).
    let spent = spending.map(|l| l.spent());
    let budget = Budget {
        max_cost_usd: execution
            .budget
            .max_cost_usd
            .map(|max| max - spent.map_or(0.0, |s| s.0)),
        max_tokens: execution
            .budget
            .max_tokens
            .map(|max| max.saturating_sub(spent.map_or(0, |s| s.1))),
    };
    let started = Instant::now();
    let identity = RunIdentity {
        run_id: &run.run_id,
        arm: &run.arm,
        replicate: run.replicate,
        seed: plan.seed,
        retest: run.retest,
    };
    let checkpoints = checkpoint_dir(layout, &run.arm, run.replicate);
    let last = if execution.resume {
        last_checkpoint(&checkpoints)
    } else {
        None
    };
    let mut snapshot: Option<RunSnapshot> = match last {
        Some(round) => Some(read_checkpoint(&checkpoints, round)?),
        None => None,
    };
    if execution.resume {
        discard_after(layout, run, last)?;
    }
    let resume = snapshot.as_ref().map(|s| Resume {
        segment: s.round + 1,
        rows: s.rows.clone(),
    });
    // A resumed run does not open the tables it finished before its checkpoint (the
    // population's): their counts come from the checkpoint.
    let rows_before = resume.as_ref().map(|r| r.rows.clone()).unwrap_or_default();
    let mut setup = prepare_run(
        &scenario.file.population,
        plan.agents,
        scenario.base_dir(),
        &scenario.path,
        &identity,
        layout,
        resume,
    )?;
    if let Some(branch) = &execution.branch {
        let mut from = branch.checkpoint(run)?;
        // The history belongs to the run branched from; this run's tables and totals
        // start after it.
        from.outcome = agora_core::RunOutcome {
            rounds: from.round,
            stop_reason: "max_rounds".into(),
            ..Default::default()
        };
        from.rows.clear();
        setup.recorder.seal(from.round + 1)?;
        snapshot = Some(from);
    }
    let checkpoint_path = checkpoints.clone();
    let mechanism = arm_mechanism(scenario, &run.treatment);
    let state = mechanism.state_types();
    setup.world.insert_resource(run.persona);
    setup
        .world
        .insert_resource(crate::backends::embedding_source(
            &run.model.clone().unwrap_or_else(default_model),
        ));
    setup
        .world
        .insert_resource(agora_core::intervention::Interventions(
            scenario
                .file
                .interventions
                .iter()
                .filter(|i| i.applies_to(&run.treatment))
                .cloned()
                .collect(),
        ));
    if let (Some(snapshot), Some(limit)) = (&snapshot, spending) {
        // What the run spent before its checkpoint counts against the budget.
        let o = &snapshot.outcome;
        limit.add_spent(o.cost_usd, o.prompt_tokens + o.completion_tokens);
    }
    if let Some(snapshot) = &snapshot {
        snapshot
            .world
            .apply(&mut setup.world, &state)
            .map_err(|e| ExperimentError::Output {
                path: checkpoint_path.clone(),
                message: format!("the checkpoint does not fit the scenario's population ({e}); rerun with --overwrite"),
            })?;
    }
    tracing::info!(agents = plan.agents, elapsed = ?started.elapsed(), "population ready");
    let limits = SchedulerLimits {
        // A batched step sends all its calls at once: they wait on the batch, not a slot.
        concurrency: if execution.calls.batch {
            agora_llm::openai::batch::MAX_BATCH_REQUESTS
        } else {
            plan.concurrency
        },
        max_cost_usd: budget.max_cost_usd,
        max_tokens: budget.max_tokens,
        ..Default::default()
    };
    let seed_base = setup.recorder.info().seeds.base();
    let writer =
        CheckpointWriter::start(checkpoints.clone()).map_err(|source| ExperimentError::Io {
            context: format!(
                "starting the checkpoint writer of {}",
                checkpoints.display()
            ),
            source,
        })?;
    let checkpoint: Checkpointer = writer.checkpointer();
    let played = mechanism
        .play(Play {
            params: run.params,
            world: &mut setup.world,
            recorder: &mut setup.recorder,
            model: model.as_ref(),
            max_rounds: plan.max_rounds,
            limits,
            progress: observer.as_mut(),
            control: RunControl {
                resume: snapshot,
                checkpoint: Some(checkpoint),
                stop: context.stop.clone(),
                transcripts: execution.record_prompts,
                ..Default::default()
            },
        })
        .await;
    drop(observer);
    // The run's checkpoints are on disk before it reports, however it ended.
    let written = writer.finish();
    let played = match (played, written) {
        (Ok(_), Err(e)) => Err(agora_core::RunError::Snapshot(e)),
        (played, _) => played,
    };
    let outcome = match played {
        Ok(RunEnd::Finished(outcome)) => outcome,
        Ok(RunEnd::Interrupted(_)) | Ok(RunEnd::Paused(_)) => {
            setup.recorder.close()?;
            return Ok(Performed::Interrupted);
        }
        Err(agora_core::RunError::BudgetExhausted(why)) => return Ok(Performed::OverBudget(why)),
        Err(source) => {
            return Err(ExperimentError::Run {
                arm: run.arm.clone(),
                replicate: run.replicate,
                source: Box::new(source),
            });
        }
    };
    let tables = setup.recorder.close()?;
    tracing::info!(arm = %run.arm, replicate = run.replicate, elapsed = ?started.elapsed(), "run finished");
    let record = RunRecord {
        run_id: run.run_id.clone(),
        arm: run.arm.clone(),
        replicate: run.replicate,
        seed: seed_base,
        model: model.name().to_string(),
        agents: plan.agents as u64,
        rounds: outcome.rounds,
        stop_reason: outcome.stop_reason.clone(),
        decisions: outcome.decisions,
        fallbacks: outcome.fallbacks,
        repaired: outcome.repaired,
        errors: outcome.errors,
        cache_hits: outcome.cache_hits,
        cost_usd: outcome.cost_usd,
        prompt_tokens: outcome.prompt_tokens,
        completion_tokens: outcome.completion_tokens,
        prompt_estimate_tokens: outcome.prompt_estimate_tokens,
        shared_prefix_tokens: outcome.shared_prefix_tokens,
        tables: rows_before
            .into_iter()
            .chain(tables.iter().map(|t| (t.name.clone(), t.rows)))
            .collect(),
    };
    let summary = RunSummary {
        record: record.clone(),
        marginals: setup.marginals,
        elapsed: started.elapsed(),
    };
    Ok(Performed::Finished(Box::new(record), Box::new(summary)))
}
