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
    let mut plan = scenario.plan(&overrides);
    let quiet = args.quiet || args.stats_json;
    if let Some(from) = &args.from
        && agora_run::remote::object_url(from).is_some()
    {
        anyhow::bail!(
            "--from {}: branching reads a local experiment; copy it to a directory first (for example with `aws s3 sync`)",
            from.display()
        );
    }
    // An object-store output (s3://, gs://, az://) is written through a local staging
    // directory mirrored to the store; a dry run writes nothing.
    let staged = if args.dry_run {
        None
    } else {
        agora_run::remote::stage_plan(&mut plan, args.shard)?
    };
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
    let mut summary = agora_run::run_experiment(&scenario, &plan, &execution, &Bars::new(quiet))
        .map_err(|e| match &staged {
            Some(staged) => staged.locate_error(e),
            None => e,
        })?;
    let elapsed = started.elapsed();
    let mut page = None;
    if args.report {
        let written = agora_report::write_report(&summary.output)?;
        agora_run::remote::publish(&written)?;
        page = Some(written);
    }
    if let Some(staged) = &staged {
        summary.output = staged.locate(&summary.output);
        summary.manifest = summary.manifest.as_deref().map(|m| staged.locate(m));
        page = page.as_deref().map(|p| staged.locate(p));
        if let Some(statistics) = summary.statistics.as_mut() {
            for file in &mut statistics.files {
                *file = staged.locate(file);
            }
        }
    }
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
    if let Some(page) = page
        && !quiet
    {
        println!("report: {}", page.display());
    }
    Ok(())
}

/// `agora report DIR`: write the experiment's report page.
pub fn report_command(args: &ReportArgs) -> Result<()> {
    if agora_run::remote::object_url(&args.dir).is_some() {
        anyhow::bail!(
            "{}: the report reads a local experiment; `agora run --report` writes it to the store at the end of a run",
            args.dir.display()
        );
    }
    let page = agora_report::write_report(&args.dir)?;
    println!("report: {}", page.display());
    Ok(())
}

/// `agora merge DIR`: check the shards, write the experiment-wide tables and manifest.
pub fn merge_command(args: &MergeArgs) -> Result<()> {
    // Shards written to an object store are merged in a local copy; the experiment-wide
    // tables and the manifest (last) go back to the store.
    let staged = match agora_run::remote::object_url(&args.dir) {
        Some(url) => Some(agora_run::remote::stage(
            &url,
            agora_run::remote::Need::Everything,
        )?),
        None => None,
    };
    let dir = staged
        .as_ref()
        .map_or_else(|| args.dir.clone(), |s| s.staging().to_path_buf());
    let locate = |e: agora_run::ExperimentError| match &staged {
        Some(staged) => staged.locate_error(e),
        None => e,
    };
    let path = match &args.scenario {
        Some(p) => p.clone(),
        None => agora_run::shard::scenario_of(&dir).map_err(locate)?,
    };
    if !path.exists() {
        anyhow::bail!(
            "the shards ran the scenario {}, which is not found from here; pass --scenario FILE",
            path.display()
        );
    }
    let scenario = agora_scenario::load(&path, &agora_mechanisms::registry())?;
    let merged = agora_run::merge(&dir, &scenario).map_err(locate)?;
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
        let file = staged
            .as_ref()
            .map_or_else(|| file.clone(), |s| s.locate(file));
        println!("  wrote {}", file.display());
    }
    Ok(())
}
