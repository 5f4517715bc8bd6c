//! From a scenario and command-line overrides to the list of runs to perform.

use std::path::PathBuf;

use agora_model::{ModelSpec, SamplingParams};

use crate::Scenario;

/// Command-line settings that win over the scenario file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// Number of agents.
    pub agents: Option<usize>,
    /// Base seed.
    pub seed: Option<u64>,
    /// Output directory.
    pub out: Option<PathBuf>,
    /// Replicates per arm.
    pub replicates: Option<u32>,
    /// Model for every arm.
    pub model: Option<ModelSpec>,
    /// Cap on rounds.
    pub rounds: Option<u32>,
    /// Concurrency limit of model calls.
    pub concurrency: Option<usize>,
}

/// One run: an arm and a replicate.
#[derive(Clone, Debug, PartialEq)]
pub struct RunPlan {
    /// Arm name.
    pub arm: String,
    /// Replicate index, from 0.
    pub replicate: u32,
    /// Model of the run (`None`: the default backend).
    pub model: Option<ModelSpec>,
    /// Deterministic run id.
    pub run_id: String,
}

/// Everything needed to perform an experiment.
#[derive(Clone, Debug, PartialEq)]
pub struct ExperimentPlan {
    /// Number of agents per run.
    pub agents: usize,
    /// Base seed.
    pub seed: u64,
    /// Output directory.
    pub output: PathBuf,
    /// Most rounds per run.
    pub max_rounds: u32,
    /// Sampling parameters.
    pub params: SamplingParams,
    /// Concurrency limit of model calls.
    pub concurrency: usize,
    /// Hash of the scenario file plus overrides: identifies the experiment's settings.
    pub settings_hash: String,
    /// The runs, arm by arm, replicate by replicate.
    pub runs: Vec<RunPlan>,
}

impl Scenario {
    /// The experiment this scenario describes, with `overrides` applied.
    pub fn plan(&self, overrides: &Overrides) -> ExperimentPlan {
        let file = &self.file;
        let seed = overrides.seed.unwrap_or(file.seed);
        let agents = overrides.agents.unwrap_or(file.population.size);
        let replicates = overrides.replicates.unwrap_or(file.replicates.0).max(1);
        let output = overrides
            .out
            .clone()
            .or_else(|| file.output.clone())
            .unwrap_or_else(|| {
                let stem = self
                    .path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "run".into());
                PathBuf::from("runs").join(stem)
            });
        let mechanism_rounds = file.mechanism.max_rounds();
        let max_rounds = overrides
            .rounds
            .or(file.rounds.map(|r| r.0))
            .map_or(mechanism_rounds, |r| r.min(mechanism_rounds));
        let settings_hash = {
            let mut h = blake3::Hasher::new();
            h.update(self.hash.as_bytes());
            h.update(
                format!(
                    "{seed}|{agents}|{replicates}|{max_rounds}|{:?}",
                    overrides.model
                )
                .as_bytes(),
            );
            h.finalize().to_hex().to_string()
        };
        let arms: Vec<(String, Option<ModelSpec>)> = if file.arms.is_empty() {
            vec![("base".to_string(), file.model.name.clone())]
        } else {
            file.arms
                .iter()
                .map(|a| {
                    (
                        a.name.0.clone(),
                        a.model
                            .as_ref()
                            .map(|m| m.0.clone())
                            .or_else(|| file.model.name.clone()),
                    )
                })
                .collect()
        };
        let runs = arms
            .into_iter()
            .flat_map(|(arm, model)| {
                let model = overrides.model.clone().or(model);
                let settings_hash = &settings_hash;
                (0..replicates).map(move |replicate| RunPlan {
                    run_id: run_id(settings_hash, &arm, replicate),
                    arm: arm.clone(),
                    replicate,
                    model: model.clone(),
                })
            })
            .collect();
        ExperimentPlan {
            agents,
            seed,
            output,
            max_rounds,
            params: file.model.params,
            concurrency: overrides
                .concurrency
                .unwrap_or(file.model.concurrency)
                .max(1),
            settings_hash,
            runs,
        }
    }
}

fn run_id(settings_hash: &str, arm: &str, replicate: u32) -> String {
    let h = blake3::hash(format!("{settings_hash}/{arm}/{replicate}").as_bytes());
    h.to_hex()[..16].to_string()
}
