//! Experiments whose output is an object store (`--out s3://bucket/prefix`, `gs://`,
//! `az://`).
//!
//! The engine writes an experiment into a local staging directory exactly as it writes
//! a local output; [`agora_export::store`] mirrors every complete file to the store
//! (Parquet by multipart upload, the manifest last) and every removal. Before a command
//! starts, [`stage`] copies what it needs of the store into the staging directory: for
//! a whole experiment everything there (a resumed run continues from its checkpoints,
//! and the experiment-wide statistics read every run's tables), for a shard the shard
//! manifests and its own runs' files, since other shards write the rest at the same
//! time. Dropping the [`StagedOutput`] stops the mirroring and removes the staging
//! directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use agora_export::ObjectOutput;
use agora_export::store::{mount, staging_dir, unmount};
use agora_scenario::{ExperimentPlan, RunPlan};

use crate::ExperimentError;
use crate::shard::Shard;

/// What of an object-store output a command needs in its staging directory.
#[derive(Clone, Copy, Debug)]
pub enum Need<'a> {
    /// Every object of the output (a whole experiment, a merge).
    Everything,
    /// The manifests and the files of these runs only (a shard).
    Runs(&'a [&'a RunPlan]),
}

/// An object-store output mounted on a local staging directory for one command.
#[derive(Debug)]
pub struct StagedOutput {
    output: Arc<ObjectOutput>,
}

impl StagedOutput {
    /// The output's URL.
    pub fn url(&self) -> &str {
        self.output.url()
    }

    /// The local staging directory the engine writes to.
    pub fn staging(&self) -> &Path {
        self.output.staging()
    }

    /// Where `path` of the staging directory is in the store (`s3://bucket/prefix/...`);
    /// other paths unchanged.
    pub fn locate(&self, path: &Path) -> PathBuf {
        match path.strip_prefix(self.staging()) {
            Ok(rest) if rest.as_os_str().is_empty() => PathBuf::from(self.url()),
            Ok(rest) => PathBuf::from(format!("{}/{}", self.url(), rest.display())),
            Err(_) => path.to_path_buf(),
        }
    }

    /// `error` with the staging paths it names replaced by the store's URLs.
    pub fn locate_error(&self, error: ExperimentError) -> ExperimentError {
        match error {
            ExperimentError::Output { path, message } => ExperimentError::Output {
                path: self.locate(&path),
                message,
            },
            ExperimentError::Interrupted { output } => ExperimentError::Interrupted {
                output: self.locate(&output),
            },
            other => other,
        }
    }
}

impl Drop for StagedOutput {
    fn drop(&mut self) {
        unmount(&self.output);
        let _ = std::fs::remove_dir_all(self.output.staging());
    }
}

/// Connect to the object store `url`, copy into a new staging directory what `need`
/// names, and mirror every later write there to the store.
pub fn stage(url: &str, need: Need<'_>) -> Result<StagedOutput, ExperimentError> {
    let output =
        ObjectOutput::open(url, staging_dir(url)).map_err(agora_export::ExportError::from)?;
    let pulled = output
        .pull(&|key| wanted(key, need))
        .map_err(agora_export::ExportError::from)?;
    tracing::info!(url, objects = pulled, staging = %output.staging().display(), "object-store output staged");
    let output = Arc::new(output);
    mount(output.clone());
    Ok(StagedOutput { output })
}

/// When `plan` writes to an object store, stage it (only `shard`'s runs for a shard)
/// and point the plan at the staging directory; `None` for a local output.
pub fn stage_plan(
    plan: &mut ExperimentPlan,
    shard: Option<Shard>,
) -> Result<Option<StagedOutput>, ExperimentError> {
    let Some(url) = object_url(&plan.output) else {
        return Ok(None);
    };
    let staged = match shard {
        Some(shard) => {
            let runs = shard.runs(plan);
            stage(&url, Need::Runs(&runs))?
        }
        None => stage(&url, Need::Everything)?,
    };
    plan.output = staged.staging().to_path_buf();
    Ok(Some(staged))
}

/// Copy the complete file `path` to the object store when it lies in a staging
/// directory (a report written after the run, for example); nothing for a local file.
pub fn publish(path: &Path) -> Result<(), ExperimentError> {
    agora_export::store::publish(path).map_err(|e| agora_export::ExportError::from(e).into())
}

/// The URL `path` holds when it names an object store.
pub fn object_url(path: &Path) -> Option<String> {
    let text = path.to_str()?;
    agora_export::is_object_url(text).then(|| text.to_string())
}

/// Whether the object at `key` (its path below the output) is one `need` names.
fn wanted(key: &str, need: Need<'_>) -> bool {
    let Need::Runs(runs) = need else {
        return true;
    };
    if key == "manifest.json" || key.starts_with(".agora/shards/") {
        return true;
    }
    let parts: Vec<&str> = key.split('/').collect();
    runs.iter().any(|run| {
        let arm = format!("arm={}", run.arm);
        let replicate = format!("replicate={}", run.replicate);
        let in_partition = parts.windows(2).any(|w| w[0] == arm && w[1] == replicate);
        let state = PathBuf::from(".agora/runs")
            .join(&run.arm)
            .join(run.replicate.to_string());
        in_partition || Path::new(key).starts_with(&state)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(arm: &str, replicate: u32) -> RunPlan {
        RunPlan {
            run_id: String::new(),
            arm: arm.into(),
            treatment: arm.into(),
            retest: false,
            replicate,
            model: None,
            params: Default::default(),
            persona: Default::default(),
        }
    }

    #[test]
    fn a_shard_stages_the_manifests_and_its_own_runs_only() {
        let a = run("base", 1);
        let runs = [&a];
        let need = Need::Runs(&runs);
        assert!(wanted("manifest.json", need));
        assert!(wanted(".agora/shards/shard-1-of-2.json", need));
        assert!(wanted(
            "decisions/arm=base/replicate=1/part-00001.parquet",
            need
        ));
        assert!(wanted(".agora/runs/base/1/round-00001.json", need));
        assert!(!wanted(
            "decisions/arm=base/replicate=0/part-00001.parquet",
            need
        ));
        assert!(!wanted(
            "decisions/arm=base/replicate=10/part-00001.parquet",
            need
        ));
        assert!(!wanted(".agora/runs/base/10/round-00001.json", need));
        assert!(!wanted("stats/part-00000.parquet", need));
        assert!(wanted("anything", Need::Everything));
    }

    #[test]
    fn only_object_store_urls_are_staged() {
        assert_eq!(
            object_url(Path::new("s3://bucket/x")).as_deref(),
            Some("s3://bucket/x")
        );
        assert_eq!(object_url(Path::new("runs/x")), None);
    }
}
