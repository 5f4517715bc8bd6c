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
    let started = Instant::now();
    let summary = run_experiment(
        &scenario,
        &plan,
        args.overwrite,
        args.quiet || args.stats_json,
    )?;
    let elapsed = started.elapsed();
    if args.stats_json {
        println!("{}", summary.stats_json(elapsed));
    } else if !args.quiet {
        print!("{}", summary.render(elapsed));
    }
    Ok(())
}

/// Perform `plan`; tables and the manifest go below its output directory.
pub fn run_experiment(
    scenario: &Scenario,
    plan: &ExperimentPlan,
    overwrite: bool,
    quiet: bool,
) -> Result<ExperimentSummary> {
    // Every run's backend must be usable before anything is written.
    for run in &plan.runs {
        let spec = run
            .model
            .clone()
            .unwrap_or_else(crate::models::default_model);
        crate::models::build(&spec, &scenario.file.mechanism)
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
    for run in &plan.runs {
        match perform_run(scenario, plan, run, &layout, &runtime, quiet) {
            Ok((record, run_summary)) => {
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

fn perform_run(
    scenario: &Scenario,
    plan: &ExperimentPlan,
    run: &RunPlan,
    layout: &OutputLayout,
    runtime: &tokio::runtime::Runtime,
    quiet: bool,
) -> Result<(RunRecord, RunSummary)> {
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
    let model = crate::models::build(&model_spec, &scenario.file.mechanism)?;
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
        ..Default::default()
    };
    let label = format!("{}/{}", run.arm, run.replicate);
    let mut bar = Bar::new(
        plan.agents as u64 * u64::from(plan.max_rounds),
        label,
        quiet,
    );
    let outcome = match &scenario.file.mechanism {
        MechanismSpec::Survey(spec) => {
            let mut survey = Survey::new(spec.clone(), plan.params);
            play(
                &mut survey,
                &mut world,
                &mut recorder,
                model.as_ref(),
                plan.max_rounds,
                limits,
                &mut bar,
                runtime,
            )
        }
        MechanismSpec::Auction(spec) => {
            let mut auction = Auction::new(spec.clone(), plan.params);
            play(
                &mut auction,
                &mut world,
                &mut recorder,
                model.as_ref(),
                plan.max_rounds,
                limits,
                &mut bar,
                runtime,
            )
        }
    };
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

#[allow(clippy::too_many_arguments)]
fn play<M: Mechanism>(
    mechanism: &mut M,
    world: &mut World,
    recorder: &mut Recorder,
    model: &dyn ChatModel,
    max_rounds: u32,
    limits: SchedulerLimits,
    progress: &mut dyn Progress,
    runtime: &tokio::runtime::Runtime,
) -> Result<RunOutcome> {
    runtime
        .block_on(run_rounds(
            mechanism, world, recorder, model, max_rounds, limits, progress,
        ))
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
