//! The experiment manifest: what produced the tables, and what they hold.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{ExportError, Result};

/// One run (arm x replicate) of an experiment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Deterministic run id (derived from scenario hash, arm and replicate).
    pub run_id: String,
    /// Experiment arm.
    pub arm: String,
    /// Replicate index.
    pub replicate: u32,
    /// Seed of this run's stream tree.
    pub seed: u64,
    /// Model specification used by this run.
    pub model: String,
    /// Agents in the run.
    pub agents: u64,
    /// Rounds actually played.
    pub rounds: u32,
    /// Why the run stopped ("max_rounds", "mechanism_finished", ...).
    pub stop_reason: String,
    /// Decisions (model calls) made.
    pub decisions: u64,
    /// Decisions whose answer was replaced by the mechanism's fallback.
    pub fallbacks: u64,
    /// Decisions whose answer needed a repair re-ask.
    pub repaired: u64,
    /// Calls that ended in an error (after retries).
    pub errors: u64,
    /// Answers served from the call cache.
    pub cache_hits: u64,
    /// Cost in US dollars of the priced calls.
    pub cost_usd: f64,
    /// Prompt tokens over all calls.
    pub prompt_tokens: u64,
    /// Completion tokens over all calls.
    pub completion_tokens: u64,
    /// Estimated prompt tokens (four bytes a token) of the calls whose prompts were
    /// rendered, and how many of them were a prefix shared with an earlier call of the
    /// same round (`llm_calls.shared_prefix_tokens`).
    #[serde(default)]
    pub prompt_estimate_tokens: u64,
    /// See `prompt_estimate_tokens`.
    #[serde(default)]
    pub shared_prefix_tokens: u64,
    /// Rows written per table.
    pub tables: BTreeMap<String, u64>,
}

/// The `manifest.json` of an experiment directory.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Scenario name.
    pub scenario: String,
    /// Path of the scenario file as given.
    pub scenario_path: String,
    /// BLAKE3 hash of the scenario file's bytes.
    pub scenario_hash: String,
    /// Hash of the effective settings (file plus command-line overrides).
    pub settings_hash: String,
    /// The experiment's base seed.
    pub seed: u64,
    /// Mechanism name.
    pub mechanism: String,
    /// Versions of Agora and its key components.
    pub versions: BTreeMap<String, String>,
    /// `running` while a process works on the experiment, then `complete`,
    /// `interrupted` (a signal stopped it; `--resume` continues), `budget_exhausted`
    /// or `failed`.
    pub status: String,
    /// Why the experiment is not complete, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The process working on the experiment while `running`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// The experiment and round whose state every run started from, for a branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branched_from: Option<String>,
    /// The shard this manifest belongs to, for the manifest of one shard
    /// (`.agora/shards/shard-K-of-N.json`); absent in an experiment's `manifest.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
    /// One record per finished run.
    pub runs: Vec<RunRecord>,
}

/// Which part of an experiment a shard performs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardInfo {
    /// The shard's number, from 1.
    pub index: u32,
    /// How many shards the experiment is split into.
    pub count: u32,
    /// Every run of the whole experiment, in plan order (`ARM/REPLICATE`), so that the
    /// shards can be merged into the order a single machine writes.
    pub planned: Vec<String>,
}

impl Manifest {
    /// Read the manifest at `path`.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| ExportError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(serde_json::from_slice(&bytes)?)
    }

    /// Write the manifest as pretty JSON (via a temporary file, then rename), and to the
    /// object store of an output mounted there.
    pub fn write(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_vec_pretty(self)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| ExportError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, json).map_err(|source| ExportError::Io {
            path: tmp.clone(),
            source,
        })?;
        std::fs::rename(&tmp, path).map_err(|source| ExportError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        // In an object-store output the manifest follows the files it describes.
        crate::store::publish(path)?;
        Ok(())
    }
}
