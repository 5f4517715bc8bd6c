//! What can stop an experiment, each with what went wrong and where.

use std::path::PathBuf;

/// Why an experiment could not be performed.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    /// The scenario is invalid (every problem is listed with its position).
    #[error(transparent)]
    Scenario(#[from] Box<agora_scenario::ScenarioError>),
    /// The population could not be built.
    #[error("building the population of {scenario}: {source}")]
    Population {
        /// The scenario file.
        scenario: PathBuf,
        /// What went wrong.
        source: Box<agora_population::PopulationError>,
    },
    /// A run stopped on an error of the engine or a mechanism.
    #[error("arm {arm} replicate {replicate}: {source}")]
    Run {
        /// Arm of the run.
        arm: String,
        /// Replicate of the run.
        replicate: u32,
        /// What went wrong.
        source: Box<agora_core::RunError>,
    },
    /// Writing tables or the manifest failed.
    #[error(transparent)]
    Export(#[from] Box<agora_export::ExportError>),
    /// A model backend could not be set up.
    #[error("{context}: {message}")]
    Backend {
        /// Which arm or step needed the backend.
        context: String,
        /// What went wrong, and how to fix it.
        message: String,
    },
    /// The output directory cannot be used.
    #[error("{path}: {message}")]
    Output {
        /// The directory.
        path: PathBuf,
        /// What is wrong, and how to fix it.
        message: String,
    },
    /// A signal stopped the experiment after a round; `--resume` continues it.
    #[error(
        "interrupted: the experiment in {output} stopped after a round; run the same command with --resume to continue it"
    )]
    Interrupted {
        /// The output directory.
        output: PathBuf,
    },
    /// A setting passed to the runner is out of range.
    #[error("{0}")]
    Invalid(String),
    /// The async runtime or a scratch directory could not be created.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl ExperimentError {
    /// Whether the error is about the user's input (exit code 2) rather than a failure
    /// while running: an invalid scenario or setting, or a population that cannot be
    /// built from it (too large, beyond memory, a bad import file).
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            ExperimentError::Scenario(_)
                | ExperimentError::Invalid(_)
                | ExperimentError::Population { .. }
        )
    }
}

impl From<agora_scenario::ScenarioError> for ExperimentError {
    fn from(e: agora_scenario::ScenarioError) -> Self {
        ExperimentError::Scenario(Box::new(e))
    }
}

impl From<agora_export::ExportError> for ExperimentError {
    fn from(e: agora_export::ExportError) -> Self {
        ExperimentError::Export(Box::new(e))
    }
}
