//! `agora validate` and `agora run`: parse arguments into a plan, call the library,
//! print what it returns.

use std::time::Instant;

use agora_run::{Budget, Execution, default_model_notice_if_needed};
use agora_scenario::Overrides;
use anyhow::Result;

use crate::cli::{MergeArgs, ReportArgs, RunArgs, ValidateArgs};
use crate::progress::Bars;

/// `agora validate`: parse and check a scenario, say what it would run.
pub fn validate_command(args: &ValidateArgs) -> Result<()> {
    let scenario = agora_scenario::load(&args.scenario, &agora_mechanisms::registry())?;
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

/// The plan overrides `agora run`'s options name.
pub fn overrides(args: &RunArgs) -> Overrides {
    Overrides {
        agents: args.agents,
        seed: args.seed,
        out: args.out.clone(),
        replicates: args.replicates,
        model: args.model.clone(),
        rounds: args.rounds,
        concurrency: args.concurrency.map(|c| c as usize),
    }
}

/// `agora run`: perform every run of the scenario and print a summary.
pub fn run_command(args: &RunArgs) -> Result<()> {
    let scenario = agora_scenario::load(&args.scenario, &agora_mechanisms::registry())?;
    let overrides = overrides(args);
    // Command-line sizes are checked before anything is written (a population too
    // large for memory, too many replicates).
    scenario.check_overrides(&overrides)?;
    let plan = scenario.plan(&overrides);
    let quiet = args.quiet || args.stats_json;
    let execution = Execution {
        overwrite: args.overwrite,
        resume: args.resume,
        branch: args.from.clone().map(|from| agora_run::Branch {
            from,
            round: args.at_round.unwrap_or(0),
            arm: args.from_arm.clone(),
        }),
        stop: Some(crate::signals::stop_flag()),
        calls: args.call_options(),
        budget: Budget {
            max_cost_usd: args.max_cost,
            max_tokens: args.max_tokens,
        },
        shard: args.shard,
        record_prompts: args.record_prompts,
    };
    if args.dry_run {
        print!(
            "{}",
            agora_run::dry_run::estimate(&scenario, &plan, &execution.calls)?
        );
        return Ok(());
    }
    if !quiet && let Some(notice) = default_model_notice_if_needed(&plan) {
        eprintln!("{notice}");
    }
    let started = Instant::now();
    let summary = agora_run::run_experiment(&scenario, &plan, &execution, &Bars::new(quiet))?;
    let elapsed = started.elapsed();
    if args.stats_json {
        println!("{}", summary.stats_json(elapsed));
    } else if !args.quiet {
        print!("{}", summary.render(elapsed));
        if let Some(shard) = args.shard {
            println!(
                "shard {shard} complete; once all {} shards are: agora merge {}",
                shard.count,
                summary.output.display()
            );
        }
    }
    if args.report {
        let page = agora_report::write_report(&summary.output)?;
        if !quiet {
            println!("report: {}", page.display());
        }
    }
    Ok(())
}

/// `agora report DIR`: write the experiment's report page.
pub fn report_command(args: &ReportArgs) -> Result<()> {
    let page = agora_report::write_report(&args.dir)?;
    println!("report: {}", page.display());
    Ok(())
}

/// `agora merge DIR`: check the shards, write the experiment-wide tables and manifest.
pub fn merge_command(args: &MergeArgs) -> Result<()> {
    let path = match &args.scenario {
        Some(p) => p.clone(),
        None => agora_run::shard::scenario_of(&args.dir)?,
    };
    if !path.exists() {
        anyhow::bail!(
            "the shards ran the scenario {}, which is not found from here; pass --scenario FILE",
            path.display()
        );
    }
    let scenario = agora_scenario::load(&path, &agora_mechanisms::registry())?;
    let merged = agora_run::merge(&args.dir, &scenario)?;
    if args.quiet {
        return Ok(());
    }
    println!(
        "{}: merged {} shards, {} runs; manifest.json written",
        args.dir.display(),
        merged.shards,
        merged.manifest.runs.len()
    );
    let statistics = &merged.statistics;
    if let Some(error) = &statistics.error {
        println!("statistics not computed: {error}");
    }
    for line in &statistics.headline {
        println!("  {line}");
    }
    for file in &statistics.files {
        println!("  wrote {}", file.display());
    }
    Ok(())
}
