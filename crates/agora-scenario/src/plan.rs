//! From a scenario and command-line overrides to the list of runs to perform.

use std::path::PathBuf;

use agora_core::persona::PersonaView;
use agora_model::{ModelSpec, SamplingParams};

use crate::file::{MAX_REPLICATES, MAX_RUNS, check_replicates};
use crate::{Diagnostic, Scenario, ScenarioError};

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
    /// Model for every arm that names no model of its own.
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
    /// Sampling parameters of the run's arm.
    pub params: SamplingParams,
    /// How much of the persona the run's prompts show.
    pub persona: PersonaView,
    /// Deterministic run id.
    pub run_id: String,
    /// The arm whose settings the run plays (its own name, or for a retest run the arm
    /// it repeats).
    pub treatment: String,
    /// A retest run: the arm's people asked again with new decision seeds.
    pub retest: bool,
}

/// The suffix of a retest arm's name (`ad_a_retest` repeats `ad_a`).
pub const RETEST_SUFFIX: &str = "_retest";

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
    /// Sampling parameters of the scenario (arms may set their own: see [`RunPlan`]).
    pub params: SamplingParams,
    /// Concurrency limit of model calls.
    pub concurrency: usize,
    /// Hash of the scenario file plus overrides: identifies the experiment's settings.
    pub settings_hash: String,
    /// The runs, arm by arm, replicate by replicate.
    pub runs: Vec<RunPlan>,
}

impl Scenario {
    /// Check `overrides` the way [`crate::load`] checks the file: `agents` between 1
    /// and [`MAX_POPULATION`](agora_population::MAX_POPULATION) and fitting in memory,
    /// enough rows in an import file for them, `replicates` between 1 and
    /// [`MAX_REPLICATES`] and at most [`MAX_RUNS`] runs. Each problem names the
    /// option and how to fix it.
    pub fn check_overrides(&self, overrides: &Overrides) -> Result<(), ScenarioError> {
        let mut diagnostics = Vec::new();
        let mut problem = |message: String| {
            let (message, hint) = agora_population::split_hint(&message);
            diagnostics.push(Diagnostic {
                path: self.path.clone(),
                line: 0,
                col: 0,
                message: message.to_string(),
                hint: hint.unwrap_or_default().to_string(),
            });
        };
        let population = &self.file.population;
        if let Some(agents) = overrides.agents {
            if agents == 0 {
                problem("--agents must be at least 1; give the number of agents to simulate, e.g. --agents 100".into());
            } else if let Err(e) = agora_population::check_population(
                population,
                agents as u64,
                crate::MEMORY_CAPACITY,
                agora_population::available_memory(),
            ) {
                problem(format!("--agents {agents}: {e}"));
            } else if agents > population.size
                && let Err(e) = agora_population::check_import(population, agents, self.base_dir())
            {
                problem(format!("--agents {agents}: {e}"));
            }
        }
        if let Some(replicates) = overrides.replicates {
            match check_replicates(u64::from(replicates)) {
                Err(e) => problem(format!("--replicates: {e}")),
                Ok(r) => {
                    let arms = self.file.arms.len().max(1) as u64;
                    if arms * r > MAX_RUNS {
                        problem(format!(
                            "--replicates {r} with {arms} arms makes {} runs, more than the maximum of {MAX_RUNS}; use --replicates {} or less",
                            arms * r,
                            MAX_RUNS / arms
                        ));
                    }
                }
            }
        }
        if diagnostics.is_empty() {
            Ok(())
        } else {
            Err(ScenarioError { diagnostics })
        }
    }

    /// The experiment this scenario describes, with `overrides` applied.
    ///
    /// Overridden replicates are capped at [`MAX_REPLICATES`], so the plan stays small
    /// whatever is asked; check overrides first with [`Scenario::check_overrides`] to
    /// refuse values beyond the limits instead.
    pub fn plan(&self, overrides: &Overrides) -> ExperimentPlan {
        let file = &self.file;
        let seed = overrides.seed.unwrap_or(file.seed);
        let agents = overrides.agents.unwrap_or(file.population.size);
        let replicates = overrides
            .replicates
            .unwrap_or(file.replicates.0)
            .clamp(1, MAX_REPLICATES);
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
        // An arm's own model wins over --model, which wins over the scenario's model.
        let retests = if file.retest { 2 } else { 1 };
        let runs = (0..retests)
            .flat_map(|pass| file.arms.iter().map(move |arm| (pass == 1, arm)))
            .flat_map(|(retest, arm)| {
                let model = arm
                    .model
                    .clone()
                    .or_else(|| overrides.model.clone())
                    .or_else(|| file.model.name.clone());
                let settings_hash = &settings_hash;
                let name = if retest {
                    format!("{}{RETEST_SUFFIX}", arm.name.0)
                } else {
                    arm.name.0.clone()
                };
                (0..replicates).map(move |replicate| RunPlan {
                    run_id: run_id(settings_hash, &name, replicate),
                    arm: name.clone(),
                    treatment: arm.name.0.clone(),
                    retest,
                    replicate,
                    model: model.clone(),
                    params: arm.params,
                    persona: arm.persona,
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
