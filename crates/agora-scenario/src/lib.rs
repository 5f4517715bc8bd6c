//! Scenarios: RON files that describe an experiment, checked before anything runs.
//!
//! A scenario names its population, its mechanism and settings, seed, replicates,
//! model and output directory. [`load`] parses and validates the whole file; every
//! problem is reported as `file:line:col` with what is wrong and how to fix it, and a
//! valid [`Scenario`] turns into an [`ExperimentPlan`] (arms x replicates) once
//! command-line overrides are applied.

mod diagnostic;
mod file;
mod locate;
mod plan;

pub use diagnostic::{Diagnostic, ScenarioError};
pub use file::{ArmSpec, ModelBlock, ScenarioFile};
pub use plan::{ExperimentPlan, Overrides, RunPlan};

use std::path::{Path, PathBuf};

/// A parsed and validated scenario file.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Where it was read from.
    pub path: PathBuf,
    /// The file's settings.
    pub file: ScenarioFile,
    /// BLAKE3 hash of the file's bytes, hex.
    pub hash: String,
}

impl Scenario {
    /// Directory relative paths inside the scenario (imports) are resolved against.
    pub fn base_dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }
}

/// Read, parse and validate the scenario at `path`.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ScenarioError::single(Diagnostic {
            path: path.to_path_buf(),
            line: 0,
            col: 0,
            message: format!("cannot read the scenario file: {e}"),
            hint: "check the path; scenarios live in scenarios/*.ron".into(),
        })
    })?;
    let file = parse(path, &text)?;
    Ok(Scenario {
        path: path.to_path_buf(),
        file,
        hash: blake3::hash(text.as_bytes()).to_hex().to_string(),
    })
}

/// Parse and validate scenario `text` (read from `path`, used in messages).
pub fn parse(path: &Path, text: &str) -> Result<ScenarioFile, ScenarioError> {
    let options =
        ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
    let mut file: ScenarioFile = options
        .from_str(text)
        .map_err(|e| ScenarioError::single(diagnostic::from_ron(path, text, &e)))?;
    file.mechanism
        .resolve_paths(path.parent().unwrap_or(Path::new(".")));
    let issues = file.cross_check();
    if issues.is_empty() {
        Ok(file)
    } else {
        Err(ScenarioError {
            diagnostics: issues
                .into_iter()
                .map(|i| locate::diagnostic(path, text, i))
                .collect(),
        })
    }
}
