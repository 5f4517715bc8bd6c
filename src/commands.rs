//! `agora validate` and `agora run`: parse arguments into a plan, call the library,
//! print what it returns.

use std::time::Instant;

use agora_run::{Budget, Execution, default_model_notice_if_needed};
use agora_scenario::Overrides;
use anyhow::Result;

use crate::cli::{ReportArgs, RunArgs, ValidateArgs};
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

/// `agora run`: perform every run of the scenario and print a summary.
pub fn run_command(args: &RunArgs) -> Result<()> {
    let scenario = agora_scenario::load(&args.scenario, &agora_mechanisms::registry())?;
    let overrides = Overrides {
        agents: args.agents,
        seed: args.seed,
        out: args.out.clone(),
        replicates: args.replicates,
        model: args.model.clone(),
        rounds: args.rounds,
        concurrency: args.concurrency.map(|c| c as usize),
    };
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
