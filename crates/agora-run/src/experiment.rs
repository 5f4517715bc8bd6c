//! Performing an experiment: every arm and replicate of a scenario, end to end.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use agora_core::record::{Recorder, RunInfo};
use agora_core::scheduler::{Mechanism, Progress, RunOutcome, SchedulerLimits, run_rounds};
use agora_core::seed::SeedStream;
use agora_core::tables::{marginals_table, write_agents};
use agora_core::world::spawn_population;
use agora_export::{Manifest, OutputLayout, Partition, RunRecord};
use agora_llm::ChatModel;
use agora_mechanisms::MechanismSpec;
use agora_mechanisms::auction::Auction;
use agora_mechanisms::conversation::Conversation;
use agora_mechanisms::survey::Survey;
use agora_population::{MarginalRow, sample};
use agora_scenario::{ExperimentPlan, Overrides, RunPlan, Scenario};
use anyhow::{Context, Result, bail};
use bevy_ecs::world::World;

use crate::cli::{RunArgs, ValidateArgs};
use crate::progress::Bar;
use crate::summary::{ExperimentSummary, RunSummary};

/// `agora validate`: parse and check a scenario, say what it would run.
pub fn validate_command(args: &ValidateArgs) -> Result<()> {
    let scenario = agora_scenario::load(&args.scenario)?;
    let plan = scenario.plan(&Overrides::default());
    println!(
        "{}: valid — {} ({} mechanism), {} agents, {} run(s), up to {} round(s), output {}",
        args.scenario.display(),
        scenario.file.name,
        scenario.file.mechanism.name(),
        plan.agents,
        plan.runs.len(),
        plan.max_rounds,
        plan.output.display()
    );
    Ok(())
}

/// `agora run`: perform every run of the scenario and print a summary.
pub fn run_command(args: &RunArgs) -> Result<()> {
    let scenario = agora_scenario::load(&args.scenario)?;
    let overrides = Overrides {
        agents: args.agents,
        seed: args.seed,
        out: args.out.clone(),
        replicates: args.replicates,
        model: args.model.clone(),
        rounds: args.rounds,
        concurrency: args.concurrency.map(|c| c as usize),
    };
    let plan = scenario.plan(&overrides);
    if plan.agents == 0 {
        bail!("--agents must be at least 1");
    }
    let execution = Execution {
        overwrite: args.overwrite,
        quiet: args.quiet || args.stats_json,
        calls: args.call_options(),
        budget: Budget {
            max_cost_usd: args.max_cost,
            max_tokens: args.max_tokens,
        },
    };
    if args.dry_run {
        return crate::dry_run::estimate(&scenario, &plan, &execution.calls);
    }
    let started = Instant::now();
    let summary = run_experiment(&scenario, &plan, &execution)?;
    let elapsed = started.elapsed();
    if args.stats_json {
        println!("{}", summary.stats_json(elapsed));
    } else if !args.quiet {
        print!("{}", summary.render(elapsed));
    }
    Ok(())
}

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
    /// Print nothing.
    pub quiet: bool,
    /// Gateway settings for language models.
    pub calls: crate::models::CallOptions,
    /// Spending limits.
    pub budget: Budget,
}

/// Perform `plan`; tables and the manifest go below its output directory.
pub fn run_experiment(
    scenario: &Scenario,
    plan: &ExperimentPlan,
    execution: &Execution,
) -> Result<ExperimentSummary> {
    let (overwrite, quiet) = (execution.overwrite, execution.quiet);
    if !quiet && plan.runs.iter().any(|r| r.model.is_none()) {
        crate::models::announce_default();
    }
    // Every run's backend must be usable before anything is written.
    for run in &plan.runs {
        let spec = run
            .model
            .clone()
            .unwrap_or_else(crate::models::default_model);
        crate::models::build(&spec, &scenario.file.mechanism, &execution.calls)
            .with_context(|| format!("arm `{}`", run.arm))?;
    }
    let layout = OutputLayout::new(&plan.output);
    prepare_output(&layout, overwrite)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
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
        let performed = perform_run(scenario, plan, run, &layout, &runtime, execution, remaining);
        // Answers bought so far are kept, whatever happened to the run.
        crate::models::sync_caches()?;
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
                    "failed in arm {} replicate {}: {err:#}",
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

fn prepare_output(layout: &OutputLayout, overwrite: bool) -> Result<()> {
    if !layout.holds_results() {
        return Ok(());
    }
    if !overwrite {
        bail!(
            "{} already holds the results of an earlier run (manifest.json); pass --overwrite to replace them or --out to write elsewhere",
            layout.root().display()
        );
    }
    std::fs::remove_dir_all(layout.root()).with_context(|| {
        format!(
            "removing the earlier results in {}",
            layout.root().display()
        )
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

fn perform_run(
    scenario: &Scenario,
    plan: &ExperimentPlan,
    run: &RunPlan,
    layout: &OutputLayout,
    runtime: &tokio::runtime::Runtime,
    execution: &Execution,
    budget: Budget,
) -> Result<(RunRecord, RunSummary)> {
    let quiet = execution.quiet;
    let started = Instant::now();
    // Arms share the population of a replicate: comparisons between arms are paired.
    let seeds = SeedStream::for_replicate(plan.seed, run.replicate);
    let population = sample(
        &scenario.file.population,
        plan.agents,
        &seeds,
        scenario.base_dir(),
    )
    .with_context(|| format!("building the population of {}", scenario.path.display()))?;
    let marginals = population.marginals;
    tracing::info!(agents = plan.agents, elapsed = ?started.elapsed(), "population sampled");
    let mut world = World::new();
    spawn_population(&mut world, population.schema, population.personas, 32);
    tracing::info!(elapsed = ?started.elapsed(), "world built");

    let model_spec = run
        .model
        .clone()
        .unwrap_or_else(crate::models::default_model);
    let model = crate::models::build(&model_spec, &scenario.file.mechanism, &execution.calls)?;
    let info = RunInfo {
        run_id: Arc::from(run.run_id.as_str()),
        partition: Partition {
            arm: run.arm.clone(),
            replicate: run.replicate,
        },
        seeds,
    };
    let mut recorder = Recorder::new(layout.clone(), info);
    write_agents(&world, &mut recorder)?;
    write_marginals(&mut recorder, &marginals)?;
    tracing::info!(elapsed = ?started.elapsed(), "agents table written");

    let limits = SchedulerLimits {
        concurrency: plan.concurrency,
        max_cost_usd: budget.max_cost_usd,
        max_tokens: budget.max_tokens,
        ..Default::default()
    };
    let label = format!("{}/{}", run.arm, run.replicate);
    let mut bar = Bar::new(
        plan.agents as u64 * u64::from(plan.max_rounds),
        label,
        quiet,
    );
    let session = Session {
        model: model.as_ref(),
        max_rounds: plan.max_rounds,
        limits,
        runtime,
    };
    let outcome = play_mechanism(
        &scenario.file.mechanism,
        plan.params,
        &mut world,
        &mut recorder,
        &session,
        &mut bar,
    );
    bar.finish();
    let outcome = outcome?;
    let tables = recorder.close().context("finishing the Parquet tables")?;
    let record = RunRecord {
        run_id: run.run_id.clone(),
        arm: run.arm.clone(),
        replicate: run.replicate,
        seed: seeds.base(),
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
        marginals,
        elapsed: started.elapsed(),
    };
    Ok((record, summary))
}

/// What a run's rounds are played with: the model, the round limit, the scheduler's
/// limits and the async runtime.
pub struct Session<'a> {
    /// The model answering decisions.
    pub model: &'a dyn ChatModel,
    /// Most rounds.
    pub max_rounds: u32,
    /// Concurrency and budget limits.
    pub limits: SchedulerLimits,
    /// The runtime awaiting model calls.
    pub runtime: &'a tokio::runtime::Runtime,
}

/// Play the mechanism `spec` names on `world`: the one place that maps scenario
/// mechanisms to their implementations.
pub fn play_mechanism(
    spec: &MechanismSpec,
    params: agora_llm::SamplingParams,
    world: &mut World,
    recorder: &mut Recorder,
    session: &Session<'_>,
    progress: &mut dyn Progress,
) -> Result<RunOutcome> {
    match spec {
        MechanismSpec::Survey(spec) => play(
            &mut Survey::new(spec.clone(), params),
            world,
            recorder,
            session,
            progress,
        ),
        MechanismSpec::Auction(spec) => play(
            &mut Auction::new(spec.clone(), params),
            world,
            recorder,
            session,
            progress,
        ),
        MechanismSpec::Debate(spec) => play(
            &mut Conversation::new(spec.0.clone(), params),
            world,
            recorder,
            session,
            progress,
        ),
        MechanismSpec::FocusGroup(spec) => play(
            &mut Conversation::new(spec.0.clone(), params),
            world,
            recorder,
            session,
            progress,
        ),
    }
}

fn play<M: Mechanism>(
    mechanism: &mut M,
    world: &mut World,
    recorder: &mut Recorder,
    session: &Session<'_>,
    progress: &mut dyn Progress,
) -> Result<RunOutcome> {
    let rounds = run_rounds(
        mechanism,
        world,
        recorder,
        session.model,
        session.max_rounds,
        session.limits,
        progress,
    );
    session
        .runtime
        .block_on(rounds)
        .map_err(anyhow::Error::from)
}

fn write_marginals(recorder: &mut Recorder, rows: &[MarginalRow]) -> Result<()> {
    let table = recorder.open(marginals_table())?;
    for m in rows {
        recorder
            .row(table, 0, None)?
            .str(&m.attribute)
            .str(&m.level)
            .f64(m.target)
            .f64(m.observed)
            .end();
    }
    Ok(())
}

/// Whether `path` looks like a scenario file (used for friendlier CLI errors).
#[allow(dead_code)]
pub fn is_scenario(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "ron")
}
