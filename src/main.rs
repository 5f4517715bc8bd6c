//! `agora`: run populations of persona agents through surveys, auctions and debates.

mod bench;
mod cli;
mod cluster;
mod commands;
mod init;
mod models_cmd;
mod progress;
mod signals;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

// Runs allocate many small, short-lived values (requests, answers, rows); mimalloc
// handles that pattern markedly faster than the system allocator and returns memory
// more readily, which keeps peak memory per agent low.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let result = match &cli.command {
        Command::Run(args) => commands::run_command(args),
        Command::Validate(args) => commands::validate_command(args),
        Command::Merge(args) => commands::merge_command(args),
        Command::Slurm(args) => cluster::slurm_command(args),
        Command::K8s(args) => cluster::k8s_command(args),
        Command::Report(args) => commands::report_command(args),
        Command::Bench(args) => bench::bench_command(args),
        Command::Models(args) => models_cmd::models_command(args),
        Command::Init(args) => init::init_command(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let invalid = err
                .downcast_ref::<agora_scenario::ScenarioError>()
                .or_else(|| match err.downcast_ref::<agora_run::ExperimentError>() {
                    Some(agora_run::ExperimentError::Scenario(e)) => Some(e.as_ref()),
                    _ => None,
                });
            if let Some(invalid) = invalid {
                eprintln!("{invalid}");
                if invalid.is_missing_file() {
                    return ExitCode::from(2);
                }
                let n = invalid.diagnostics.len();
                eprintln!(
                    "the scenario is invalid ({n} problem{}); nothing was run or written",
                    if n == 1 { "" } else { "s" }
                );
                return ExitCode::from(2);
            }
            if let Some(agora_run::ExperimentError::Interrupted { .. }) =
                err.downcast_ref::<agora_run::ExperimentError>()
            {
                eprintln!("{err}");
                return ExitCode::from(signals::exit_code());
            }
            if err
                .downcast_ref::<agora_run::ExperimentError>()
                .is_some_and(agora_run::ExperimentError::is_invalid_input)
            {
                // The message already carries its cause; the chain would repeat it.
                eprintln!("error: {err}");
                return ExitCode::from(2);
            }
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
