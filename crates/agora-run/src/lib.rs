//! Running Agora experiments: everything between a validated scenario and its tables.
//!
//! [`run_experiment`] performs every run of an [`ExperimentPlan`](agora_scenario::ExperimentPlan)
//! (arms x replicates): it builds each run's population and world, sets up its
//! recorder and model backend ([`backends`]), plays the scenario's mechanism through
//! the registry, keeps the budget, writes the manifest and returns an
//! [`ExperimentSummary`]. [`dry_run::estimate`] plays a small sample against a probe
//! to estimate calls, tokens and cost first. Progress is reported through
//! [`RunProgress`]; the library prints nothing.

pub mod backends;
mod checkpoints;
pub mod coding;
pub mod dry_run;
mod error;
pub mod experiment;
pub mod progress;
pub mod remote;
pub mod setup;
pub mod shard;
pub mod stats;
pub mod summary;
pub mod validation;

pub use backends::{
    Backends, CallOptions, default_model, default_model_notice, default_model_notice_if_needed,
};
pub use error::ExperimentError;
pub use experiment::{Branch, Budget, Execution, run_experiment};
pub use progress::{NoProgress, RunProgress};
pub use shard::{Merged, Shard, merge};
pub use summary::{ExperimentSummary, RunSummary};
