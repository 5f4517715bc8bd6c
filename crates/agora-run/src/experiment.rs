//! Performing an experiment: every arm and replicate of a scenario, end to end.

use std::time::Instant;

use agora_core::Play;
use agora_core::scheduler::{RunControl, RunEnd, SchedulerLimits};
use agora_export::{Manifest, OutputLayout, RunRecord};
use agora_scenario::{ExperimentPlan, RunPlan, Scenario};

use crate::ExperimentError;
use crate::backends::{Backends, CallOptions, default_model};
use crate::progress::RunProgress;
use crate::setup::{RunIdentity, prepare_run};
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
    /// Gateway settings for language models.
    pub calls: CallOptions,
    /// Spending limits.
    pub budget: Budget,
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
    let mut backends = Backends::new(execution.calls.clone());
    // Every run's backend must be usable before anything is written.
    for run in &plan.runs {
        let spec = run.model.clone().unwrap_or_else(default_model);
        backends
            .build(&spec, &scenario.file.mechanism)
            .map_err(|e| in_arm(&run.arm, e))?;
    }
    let layout = OutputLayout::new(&plan.output);
    prepare_output(&layout, execution.overwrite)?;
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
        runs: Vec::new(),
    };
    let mut summary = ExperimentSummary {
        name: scenario.file.name.clone(),
        output: plan.output.clone(),
        ..Default::default()
    };
    let mut spent = Budget {
        max_cost_usd: Some(0.0),
        max_tokens: Some(0),
    };
    for run in &plan.runs {
        let remaining = remaining_budget(&execution.budget, &spent);
        if remaining.max_cost_usd.is_some_and(|c| c <= 0.0) || remaining.max_tokens == Some(0) {
            manifest.status = format!(
                "stopped: budget exhausted before arm {} replicate {}",
                run.arm, run.replicate
            );
            manifest.write(&layout.manifest_file())?;
            summary.stopped = Some(manifest.status.clone());
            return Ok(summary);
        }
        let performed = perform_run(
            scenario,
            plan,
            run,
            &layout,
            &runtime,
            &mut backends,
            remaining,
            progress,
        );
        // Answers bought so far are kept, whatever happened to the run.
        backends.sync()?;
        match performed {
            Ok((record, run_summary)) => {
                spent.max_cost_usd = spent.max_cost_usd.map(|c| c + record.cost_usd);
                spent.max_tokens = spent
                    .max_tokens
                    .map(|t| t + record.prompt_tokens + record.completion_tokens);
                manifest.runs.push(record);
                manifest.write(&layout.manifest_file())?;
                summary.runs.push(run_summary);
            }
            Err(err) => {
                manifest.status = format!(
                    "failed in arm {} replicate {}: {err}",
                    run.arm, run.replicate
                );
                // Keep what finished: the manifest lists the runs that completed.
                let _ = manifest.write(&layout.manifest_file());
                return Err(err);
            }
        }
    }
    manifest.status = "complete".into();
    manifest.write(&layout.manifest_file())?;
    Ok(summary)
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

fn prepare_output(layout: &OutputLayout, overwrite: bool) -> Result<(), ExperimentError> {
    if !layout.holds_results() {
        return Ok(());
    }
    if !overwrite {
        return Err(ExperimentError::Output {
            path: layout.root().to_path_buf(),
            message: "already holds the results of an earlier run (manifest.json); pass --overwrite to replace them or --out to write elsewhere".into(),
        });
    }
    std::fs::remove_dir_all(layout.root()).map_err(|e| ExperimentError::Output {
        path: layout.root().to_path_buf(),
        message: format!("removing the earlier results: {e}"),
    })
}

/// What is left of `budget` after `spent`.
fn remaining_budget(budget: &Budget, spent: &Budget) -> Budget {
    Budget {
        max_cost_usd: budget
            .max_cost_usd
            .map(|max| max - spent.max_cost_usd.unwrap_or(0.0)),
        max_tokens: budget
            .max_tokens
            .map(|max| max.saturating_sub(spent.max_tokens.unwrap_or(0))),
    }
}

#[allow(clippy::too_many_arguments)]
fn perform_run(
    scenario: &Scenario,
    plan: &ExperimentPlan,
    run: &RunPlan,
    layout: &OutputLayout,
    runtime: &tokio::runtime::Runtime,
    backends: &mut Backends,
    budget: Budget,
    progress: &dyn RunProgress,
) -> Result<(RunRecord, RunSummary), ExperimentError> {
    let started = Instant::now();
    let identity = RunIdentity {
        run_id: &run.run_id,
        arm: &run.arm,
        replicate: run.replicate,
        seed: plan.seed,
    };
    let mut setup = prepare_run(
        &scenario.file.population,
        plan.agents,
        scenario.base_dir(),
        &scenario.path,
        &identity,
        layout,
    )?;
    tracing::info!(agents = plan.agents, elapsed = ?started.elapsed(), "population ready");
    let model_spec = run.model.clone().unwrap_or_else(default_model);
    let model = backends.build(&model_spec, &scenario.file.mechanism)?;
    let limits = SchedulerLimits {
        concurrency: plan.concurrency,
        max_cost_usd: budget.max_cost_usd,
        max_tokens: budget.max_tokens,
        ..Default::default()
    };
    let label = format!("{}/{}", run.arm, run.replicate);
    let mut observer = progress.start(&label, plan.agents as u64 * u64::from(plan.max_rounds));
    let seed_base = setup.recorder.info().seeds.base();
    let played = runtime.block_on(scenario.file.mechanism.play(Play {
        params: plan.params,
        world: &mut setup.world,
        recorder: &mut setup.recorder,
        model: model.as_ref(),
        max_rounds: plan.max_rounds,
        limits,
        progress: observer.as_mut(),
        control: RunControl::default(),
    }));
    drop(observer);
    let outcome = match played {
        Ok(RunEnd::Finished(outcome)) => outcome,
        Ok(RunEnd::Paused(snapshot)) => snapshot.outcome,
        Err(source) => {
            return Err(ExperimentError::Run {
                arm: run.arm.clone(),
                replicate: run.replicate,
                source: Box::new(source),
            });
        }
    };
    let tables = setup.recorder.close()?;
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
        tables: tables.iter().map(|t| (t.name.clone(), t.rows)).collect(),
    };
    let summary = RunSummary {
        record: record.clone(),
        marginals: setup.marginals,
        elapsed: started.elapsed(),
    };
    Ok((record, summary))
}
