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

pub use agora_core::Registry;
pub use diagnostic::{Diagnostic, ScenarioError};
use file::RawScenarioFile;
pub use file::{ArmSpec, ModelBlock, ScenarioFile, is_known_driver};
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

/// Read, parse and validate the scenario at `path`; its mechanism block must name a
/// mechanism of `registry`.
pub fn load(path: &Path, registry: &Registry) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ScenarioError::single(Diagnostic {
            path: path.to_path_buf(),
            line: 0,
            col: 0,
            message: format!("cannot read the scenario file: {e}"),
            hint: "check the path; scenarios live in scenarios/*.ron".into(),
        })
    })?;
    let file = parse(path, &text, registry)?;
    Ok(Scenario {
        path: path.to_path_buf(),
        file,
        hash: blake3::hash(text.as_bytes()).to_hex().to_string(),
    })
}

/// Parse and validate scenario `text` (read from `path`, used in messages).
pub fn parse(path: &Path, text: &str, registry: &Registry) -> Result<ScenarioFile, ScenarioError> {
    let options =
        ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
    let raw: RawScenarioFile<'_> = options
        .from_str(text)
        .map_err(|e| ScenarioError::single(diagnostic::from_ron(path, text, &e)))?;
    let block = raw.mechanism.get_ron();
    // The block is a slice of `text`: positions inside it move by its offset.
    let origin = (block.as_ptr() as usize)
        .checked_sub(text.as_ptr() as usize)
        .filter(|o| *o <= text.len())
        .map(|o| locate::line_col(text, o))
        .unwrap_or((1, 1));
    let origin = ron::error::Position {
        line: origin.0,
        col: origin.1,
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let mechanism = registry
        .parse(block, base)
        .map_err(|e| ScenarioError::single(diagnostic::from_settings(path, text, e, origin)))?;
    let file = raw.with_mechanism(mechanism);
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
