//! Command-line interface.

use std::path::PathBuf;

use agora_llm::ModelSpec;
use clap::{Args, Parser, Subcommand};

const EXAMPLES: &str = "\
Examples:
  agora run scenarios/consumer-survey.ron
  agora run scenarios/consumer-survey.ron --model rules --agents 10000 --seed 7 --out runs/big
  agora run scenarios/consumer-survey.ron --replicates 5 --overwrite
  agora validate scenarios/consumer-survey.ron
  agora bench scenarios/consumer-survey.ron --agents 10000,100000,1000000

Tables are written as Parquet below the output directory, one directory per table,
partitioned as arm=NAME/replicate=K; manifest.json describes the experiment.";

/// Simulate populations of persona agents: surveys, auctions, debates, focus groups.
#[derive(Debug, Parser)]
#[command(name = "agora", version, about, after_help = EXAMPLES)]
pub struct Cli {
    /// More log output (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario and write its tables.
    Run(RunArgs),
    /// Check a scenario file without running it.
    Validate(ValidateArgs),
    /// Measure decisions per second and memory per agent at several population sizes.
    Bench(BenchArgs),
}

/// Arguments of `agora run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario file (RON).
    pub scenario: PathBuf,
    /// Model for every arm: rules, openai:MODEL, local or local:PATH.gguf.
    #[arg(long, value_parser = parse_model)]
    pub model: Option<ModelSpec>,
    /// Number of agents (overrides the population size).
    #[arg(long)]
    pub agents: Option<usize>,
    /// Base seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replicates per arm.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub replicates: Option<u32>,
    /// Cap on rounds per run.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub rounds: Option<u32>,
    /// Most model calls in flight at once.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub concurrency: Option<u64>,
    /// Replace the results of an earlier run in the output directory.
    #[arg(long)]
    pub overwrite: bool,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
    /// Print a one-line JSON summary on stdout (used by `agora bench`).
    #[arg(long, hide = true)]
    pub stats_json: bool,
}

/// Arguments of `agora validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Scenario file (RON).
    pub scenario: PathBuf,
}

/// Arguments of `agora bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Scenario file (RON).
    pub scenario: PathBuf,
    /// Population sizes to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = vec![10_000usize, 100_000, 1_000_000])]
    pub agents: Vec<usize>,
    /// Model to measure.
    #[arg(long, default_value = "rules", value_parser = parse_model)]
    pub model: ModelSpec,
    /// Repetitions per size (the best wall time is reported).
    #[arg(long, default_value_t = 1)]
    pub repeat: u32,
}

fn parse_model(text: &str) -> Result<ModelSpec, String> {
    ModelSpec::parse(text).map_err(|e| e.to_string())
}
