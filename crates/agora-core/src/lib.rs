//! The engine of Agora: persona agents in an ECS world and the round scheduler.
//!
//! Agents are `bevy_ecs` entities with plain-data [`components`]. A
//! [`scheduler::Mechanism`] (a survey, an auction, a debate) decides each round who acts
//! and what they perceive; the scheduler gathers the round's model requests, awaits them
//! concurrently outside any borrow of the world, and hands the answers back in agent
//! order so that results are deterministic. What happens is recorded once in the
//! [`events::EventLog`] and streamed to Parquet through the [`record::Recorder`].

pub mod checkpoint;
pub mod components;
pub mod embedding;
pub mod events;
pub mod intervention;
pub mod mechanism;
pub mod memory;
pub mod outcome;
pub mod persona;
pub mod prefix;
pub mod record;
pub mod registry;
pub mod scheduler;
pub mod seed;
pub mod tables;
pub mod text;
pub mod world;

pub use components::{
    AgentId, AttrKind, AttrValue, AttributeDef, Demographics, Identity, Memory, MemoryKind,
    Persona, PopulationSchema, Traits,
};
pub use events::{Event, EventLog, Visibility};
pub use mechanism::{Ask, Decision, Flow, Mechanism, RoundCtx};
pub use record::{Recorder, RunInfo};
pub use registry::{
    Build, MechanismDef, MechanismInfo, MechanismSettings, Play, Registry, SettingsIssue, Template,
};
pub use scheduler::{Progress, RunOutcome, run_rounds};
pub use seed::SeedStream;
pub use world::{Roster, spawn_population};

/// Errors that stop a run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Writing a table failed.
    #[error(transparent)]
    Export(#[from] agora_export::ExportError),
    /// Replay mode met a call that is not in the cache.
    #[error(
        "replay found a call that is not in the cache; the scenario, seed or model differ from the cached run (use --cache write to call the model)"
    )]
    Replay,
    /// The experiment's budget cannot cover a call of this round: the round was not
    /// completed, and the run can be resumed from its last checkpoint with a larger
    /// budget.
    #[error("budget exhausted: {0}")]
    BudgetExhausted(String),
    /// The run's state could not be captured or restored.
    #[error("snapshot: {0}")]
    Snapshot(String),
    /// A mechanism hit a condition it cannot continue from.
    #[error("{mechanism}: {message}")]
    Mechanism {
        /// Mechanism name.
        mechanism: &'static str,
        /// What went wrong.
        message: String,
    },
}
