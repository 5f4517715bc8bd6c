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

/// Switch off transparent huge pages for this process (Linux), unless the user set
/// `MIMALLOC_ALLOW_THP`. mimalloc asks for huge pages for its arenas, and the kernel
/// then zeroes 2 MiB at each first touch: for the many short-lived buffers of a run
/// (table batches, Parquet pages, checkpoints) that zeroing was the largest single cost
/// of building a population of 1M agents and a seventh of an experiment of 32 debates.
/// The embedded model's speed is the same either way (BENCHMARKS.md).
fn disable_huge_pages() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
        // Only speed is at stake: where the kernel refuses, the system's setting stays.
        let _ = rustix::thread::disable_transparent_huge_pages(true);
    }
}

// Runs allocate many small, short-lived values (requests, answers, rows); mimalloc
// handles that pattern markedly faster than the system allocator and returns memory
// more readily, which keeps peak memory per agent low.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    disable_huge_pages();
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

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn huge_pages_are_off_for_the_process_unless_the_user_asked_for_them() {
        super::disable_huge_pages();
        let off = rustix::thread::transparent_huge_pages_are_disabled();
        if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
            assert!(matches!(off, Ok(true)), "{off:?}");
        }
    }
}
