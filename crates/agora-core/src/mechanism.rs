//! The round contract: what a mechanism implements and in which order its hooks run.
//!
//! A [`Mechanism`] owns the rules of one kind of interaction (a survey, an auction, a
//! debate); the scheduler ([`crate::scheduler`]) owns the order of phases, the
//! concurrency of model calls and the recording of every call. The legal order of the
//! hooks within one run is:
//!
//! ```text
//! build (once per process: the mechanism is constructed, its tables opened)
//! setup                                  -- only when the run starts fresh (round 0)
//! for each round r = 1, 2, ...:
//!     start_round                        -- perceive: observations, stimuli, who acts
//!     while let Some(actors) = next_step:  -- without side effects
//!         request(actor, call)  for each actor, reading the world
//!         (the scheduler awaits every request concurrently, outside any borrow)
//!         resolve(actor, answer) for each actor, in the step's order
//!         end_step                       -- clearing, settling: may record events
//!     end_round                          -- per-round rows; Continue or Stop
//! finish                                 -- end-of-run rows, whatever stopped the run
//! ```
//!
//! - `next_step` must not change anything: calling it twice gives the same step. The
//!   step advances in `end_step`. A step with no actors is allowed (its `end_step` runs).
//! - Every hook that receives a [`RoundCtx`] may record rows and emit events; `setup`
//!   records as round 0.
//! - A request the mechanism declines ([`Ask::Decline`]) is recorded in `llm_calls`
//!   with decision `declined` and the reason, never skipped silently.
//! - Call seeds come from [`RoundCtx::call_seed`], one stream per (seat, round, call).
//! - Tables are opened when the mechanism is built, so a built mechanism always knows
//!   its tables.

use agora_model::{ChatRequest, ChatResponse, LlmError};
use bevy_ecs::prelude::*;

use crate::RunError;
use crate::events::{Event, EventLog};
use crate::record::{Recorder, RunInfo};
use crate::seed::purpose;

/// How a decision ended: the model's answer was used, or the mechanism's fallback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The answer was valid and applied.
    Valid,
    /// The answer was missing or invalid; the mechanism applied its default instead.
    Fallback(String),
}

/// Whether the run goes on after a round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Play another round (unless the round limit is reached).
    Continue,
    /// Stop now, for the given reason.
    Stop(String),
}

/// What a mechanism asks of one actor in a step.
pub enum Ask<P> {
    /// Send this request; `P` is what the mechanism needs back when resolving it.
    Request(ChatRequest, P),
    /// Ask nothing of this actor, for the given reason (recorded in `llm_calls`).
    Decline(String),
}

/// What a mechanism sees of the run during a hook.
pub struct RoundCtx<'a> {
    /// Round number, from 1 (0 during `setup`).
    pub round: u32,
    /// The run's identity and seeds.
    pub info: &'a RunInfo,
    /// Where rows go.
    pub recorder: &'a mut Recorder,
    /// The canonical event log.
    pub events: &'a mut EventLog,
    /// Whether the model reads prompts; when false, skip rendering them.
    pub reads_text: bool,
}

impl RoundCtx<'_> {
    /// Record an event of this round (see [`EventLog::push`]).
    pub fn emit(&mut self, event: Event) -> Result<(), RunError> {
        self.events
            .push(self.recorder, event)
            .map_err(RunError::from)
    }

    /// The seed of `seat`'s `call`-th model call this round (an agent's seat is its id).
    pub fn call_seed(&self, seat: u64, call: u32) -> u64 {
        self.info
            .seeds
            .seed(&[purpose::CALL, seat, u64::from(self.round), u64::from(call)])
    }
}

/// An interaction kind: survey, auction, debate, ... See the module documentation for
/// the order of hooks.
pub trait Mechanism: Send + 'static {
    /// What the mechanism remembers about a request until its answer arrives.
    type Pending: Send + Sync;

    /// The most rounds this mechanism will play.
    fn max_rounds(&self) -> u32;

    /// Before round 1 of a fresh run (never on resume): add the mechanism's components
    /// to agents, spawn its own entities, record round-0 rows.
    fn setup(&mut self, _world: &mut World, _ctx: &mut RoundCtx<'_>) -> Result<(), RunError> {
        Ok(())
    }

    /// Start of a round: agents perceive what they may know; the round's steps are set.
    fn start_round(&mut self, world: &mut World, ctx: &mut RoundCtx<'_>) -> Result<(), RunError>;

    /// The agents acting in the current step, in order; `None` ends the round.
    /// Has no side effects.
    fn next_step(&self, world: &World, ctx: &RoundCtx<'_>) -> Option<Vec<Entity>>;

    /// The request of `agent` for its `call`-th decision this round, or why none.
    fn request(
        &self,
        world: &World,
        ctx: &RoundCtx<'_>,
        agent: Entity,
        call: u32,
    ) -> Ask<Self::Pending>;

    /// Apply one answer (or failure) by the mechanism's rules; called in step order.
    fn resolve(
        &mut self,
        world: &mut World,
        ctx: &mut RoundCtx<'_>,
        agent: Entity,
        pending: Self::Pending,
        answer: Result<&ChatResponse, &LlmError>,
    ) -> Result<Decision, RunError>;

    /// After every answer of the step was resolved: settle the step (clear a market,
    /// advance a clock) and move to the next step.
    fn end_step(&mut self, world: &mut World, ctx: &mut RoundCtx<'_>) -> Result<(), RunError>;

    /// End of a round: record the mechanism's rows and decide whether to go on.
    fn end_round(&mut self, world: &mut World, ctx: &mut RoundCtx<'_>) -> Result<Flow, RunError>;

    /// After the last round played (whatever stopped the run): record end-of-run rows.
    /// `ctx.round` is the last round played.
    fn finish(&mut self, _world: &mut World, _ctx: &mut RoundCtx<'_>) -> Result<(), RunError> {
        Ok(())
    }
}
