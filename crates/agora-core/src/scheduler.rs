//! The round scheduler: perceive, deliberate, resolve, record.
//!
//! The scheduler drives a [`Mechanism`] through the hooks of the round contract (see
//! [`crate::mechanism`]). For each step it collects every actor's request while reading
//! the world, leaves the world, awaits all requests concurrently (bounded), and hands
//! the answers back to the mechanism in the step's order, so that results never depend
//! on which call finished first. Every call, declined requests included, is a row of
//! `llm_calls`. The round's events and rows are flushed when it ends.

use agora_export::TableId;
use agora_model::{CallPriority, ChatModel, ChatRequest, ChatResponse, LlmError, with_priority};
use bevy_ecs::prelude::*;
use futures::{FutureExt, StreamExt};

use crate::RunError;
use crate::checkpoint::{RunSnapshot, StateTypes, WorldSnapshot};
use crate::components::AgentId;
use crate::events::EventLog;
pub use crate::mechanism::{Ask, Decision, Flow, Mechanism, RoundCtx};
use crate::record::Recorder;
use crate::tables;

/// Observer of a run's progress (a progress bar, a log line); every method is optional.
pub trait Progress: Send {
    /// A round begins.
    fn round_started(&mut self, _round: u32, _max_rounds: u32) {}
    /// `n` more decisions were resolved.
    fn decided(&mut self, _n: u64) {}
}

/// A progress observer that shows nothing.
pub struct Silent;
impl Progress for Silent {}

/// Totals of a finished run.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunOutcome {
    /// Rounds played.
    pub rounds: u32,
    /// Why the run stopped.
    pub stop_reason: String,
    /// Decisions made (model calls).
    pub decisions: u64,
    /// Decisions that ended in the mechanism's fallback.
    pub fallbacks: u64,
    /// Decisions whose answer needed a repair re-ask.
    pub repaired: u64,
    /// Answers served from the call cache.
    pub cache_hits: u64,
    /// Cost in US dollars of the calls with a known price.
    pub cost_usd: f64,
    /// Calls whose backend reported an error.
    pub errors: u64,
    /// Requests the mechanism declined to make (recorded, never sent).
    pub declined: u64,
    /// Prompt tokens over all calls.
    pub prompt_tokens: u64,
    /// Completion tokens over all calls.
    pub completion_tokens: u64,
    /// Estimated prompt tokens (four bytes a token) of the calls with rendered prompts.
    #[serde(default)]
    pub prompt_estimate_tokens: u64,
    /// Of those, tokens of a prefix shared with an earlier call of the same round
    /// (see [`crate::prefix`]).
    #[serde(default)]
    pub shared_prefix_tokens: u64,
}

/// Limits of the scheduler.
#[derive(Clone, Copy, Debug)]
pub struct SchedulerLimits {
    /// Most requests in flight at once.
    pub concurrency: usize,
    /// Most requests gathered before awaiting them (bounds memory on huge steps).
    pub batch: usize,
    /// Stop at the end of the round in which the cost reaches this many US dollars.
    pub max_cost_usd: Option<f64>,
    /// Stop at the end of the round in which prompt plus completion tokens reach this.
    pub max_tokens: Option<u64>,
}

impl Default for SchedulerLimits {
    fn default() -> Self {
        Self {
            concurrency: 64,
            batch: 8192,
            max_cost_usd: None,
            max_tokens: None,
        }
    }
}

/// Per-round count of each agent's calls, indexed by entity index.
#[derive(Default)]
struct CallCounter {
    counts: Vec<u32>,
}

impl CallCounter {
    fn clear(&mut self) {
        self.counts.iter_mut().for_each(|c| *c = 0);
    }

    /// The index of `agent`'s next call this round.
    fn next(&mut self, agent: Entity) -> u32 {
        let i = agent.index_u32() as usize;
        if i >= self.counts.len() {
            self.counts.resize(i + 1, 0);
        }
        let call = self.counts[i];
        self.counts[i] += 1;
        call
    }
}

struct CallTables {
    llm_calls: TableId,
    /// `transcripts`, when the run records prompts and completions.
    transcripts: Option<TableId>,
}

/// What the scheduler keeps about the calls of the round in progress.
#[derive(Default)]
struct RoundCalls {
    /// Per-round count of each agent's calls.
    counter: CallCounter,
    /// The round's prompts, for `llm_calls.shared_prefix_tokens`.
    prefixes: crate::prefix::PrefixIndex,
    /// Steps (batches of calls) the run has finished, for the calls' queue priority.
    steps_done: u64,
}

/// Play `mechanism` on `world` until it stops or `max_rounds` have been played.
///
/// The mechanism has been built (its tables are open); the scheduler opens `events`
/// and `llm_calls`, calls `setup`, and plays from round 1.
pub async fn run_rounds<M: Mechanism>(
    mechanism: &mut M,
    world: &mut World,
    recorder: &mut Recorder,
    model: &dyn ChatModel,
    max_rounds: u32,
    limits: SchedulerLimits,
    progress: &mut dyn Progress,
) -> Result<RunOutcome, RunError> {
    let control = RunControl::default();
    match play_rounds(
        mechanism, world, recorder, model, max_rounds, limits, progress, &control,
    )
    .await?
    {
        RunEnd::Finished(outcome) | RunEnd::Interrupted(outcome) => Ok(outcome),
        RunEnd::Paused(snapshot) => Ok(snapshot.outcome),
    }
}

/// Receives the run's snapshot after every round (and after the set-up), with the
/// receipt of the round's sealed segment, to make it durable once the segment is on
/// disk; an error stops the run.
pub type Checkpointer = std::sync::Arc<
    dyn Fn(RunSnapshot, agora_export::SealReceipt) -> Result<(), String> + Send + Sync,
>;

/// Where a run starts, whether it pauses, and what it does after each round.
#[derive(Clone, Default)]
pub struct RunControl {
    /// Continue after the snapshot's round (its world already restored) instead of
    /// starting fresh.
    pub resume: Option<RunSnapshot>,
    /// Stop after this round and hand back a snapshot instead of finishing.
    pub pause_after: Option<u32>,
    /// The run's serializable state types (for snapshots).
    pub state: StateTypes,
    /// Called with a snapshot after every round, once its rows are sealed.
    pub checkpoint: Option<Checkpointer>,
    /// When any of these is set, the run stops after the round in progress
    /// (resumable), as after a signal.
    pub stop: Vec<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// Record every call's messages and the model's completion in `transcripts`, so a
    /// surprising answer can be inspected (off by default: the table is large).
    pub transcripts: bool,
}

/// How a call to [`play_rounds`] ended.
#[derive(Debug)]
pub enum RunEnd {
    /// The run is over: the mechanism stopped, the round limit or the budget was reached.
    Finished(RunOutcome),
    /// The run paused after a round; the snapshot continues it.
    Paused(Box<RunSnapshot>),
    /// The run was asked to stop ([`RunControl::stop`]) and did after a round; its
    /// last checkpoint continues it.
    Interrupted(RunOutcome),
}

/// Play `mechanism` as [`run_rounds`] does, starting fresh or from `control.resume`,
/// and pausing after `control.pause_after` if set.
#[allow(clippy::too_many_arguments)]
pub async fn play_rounds<M: Mechanism>(
    mechanism: &mut M,
    world: &mut World,
    recorder: &mut Recorder,
    model: &dyn ChatModel,
    max_rounds: u32,
    limits: SchedulerLimits,
    progress: &mut dyn Progress,
    control: &RunControl,
) -> Result<RunEnd, RunError> {
    let info = recorder.info().clone();
    let mut events = EventLog::new(recorder.open(tables::events_table())?);
    let tables = CallTables {
        llm_calls: recorder.open(tables::llm_calls_table())?,
        transcripts: if control.transcripts {
            Some(recorder.open(tables::transcripts_table())?)
        } else {
            None
        },
    };
    let reads_text = model.reads_messages();
    let mut outcome = RunOutcome::default();
    let max_rounds = max_rounds.min(mechanism.max_rounds());
    let first = match &control.resume {
        Some(snapshot) if snapshot.finished => {
            return Ok(RunEnd::Finished(snapshot.outcome.clone()));
        }
        Some(snapshot) => {
            events.resume(snapshot.events.clone());
            outcome = snapshot.outcome.clone();
            snapshot.round + 1
        }
        None => {
            let mut ctx = RoundCtx {
                round: 0,
                info: &info,
                recorder,
                events: &mut events,
                reads_text,
            };
            mechanism.setup(world, &mut ctx)?;
            outcome.stop_reason = "max_rounds".into();
            seal_and_checkpoint(control, world, recorder, &events, &outcome, (0, false))?;
            1
        }
    };
    // Calls each agent made this round, by entity index (an agent may act in several
    // steps), and the round's prompts.
    let mut calls = RoundCalls::default();
    let stop_requested = || {
        control
            .stop
            .iter()
            .any(|s| s.load(std::sync::atomic::Ordering::SeqCst))
    };

    let mut round = first;
    while round <= max_rounds {
        progress.round_started(round, max_rounds);
        let mut ctx = RoundCtx {
            round,
            info: &info,
            recorder,
            events: &mut events,
            reads_text,
        };
        mechanism.start_round(world, &mut ctx)?;
        calls.counter.clear();
        calls.prefixes.clear();
        while let Some(actors) = mechanism.next_step(world, &ctx) {
            for chunk in actors.chunks(limits.batch.max(1)) {
                deliberate(
                    mechanism,
                    world,
                    &mut ctx,
                    model,
                    chunk,
                    &mut calls,
                    &tables,
                    limits,
                    &mut outcome,
                )
                .await?;
                progress.decided(chunk.len() as u64);
            }
            mechanism.end_step(world, &mut ctx)?;
        }
        let flow = mechanism.end_round(world, &mut ctx)?;
        events.end_round();
        outcome.rounds = round;
        let mut over = round >= max_rounds;
        if let Flow::Stop(reason) = flow {
            outcome.stop_reason = reason;
            over = true;
        } else if let Some(reason) = budget_exhausted(&limits, &outcome) {
            tracing::warn!("{reason}; stopping after round {round}");
            outcome.stop_reason = reason;
            over = true;
        }
        if over {
            // The end-of-run rows belong to the last round's segment: a checkpoint
            // never falls between the last round and its end.
            let mut ctx = RoundCtx {
                round,
                info: &info,
                recorder,
                events: &mut events,
                reads_text,
            };
            mechanism.finish(world, &mut ctx)?;
        }
        seal_and_checkpoint(control, world, recorder, &events, &outcome, (round, over))?;
        if over {
            return Ok(RunEnd::Finished(outcome));
        }
        if control.pause_after == Some(round) {
            let world = WorldSnapshot::capture(world, &control.state)
                .map_err(|e| RunError::Snapshot(e.to_string()))?;
            return Ok(RunEnd::Paused(Box::new(RunSnapshot {
                round,
                finished: false,
                rows: recorder.rows(),
                outcome,
                events: events.previous().to_vec(),
                world,
            })));
        }
        if stop_requested() {
            return Ok(RunEnd::Interrupted(outcome));
        }
        round += 1;
    }
    // No round left to play (a run resumed after its last round, or none allowed).
    let mut ctx = RoundCtx {
        round: outcome.rounds,
        info: &info,
        recorder,
        events: &mut events,
        reads_text,
    };
    mechanism.finish(world, &mut ctx)?;
    seal_and_checkpoint(
        control,
        world,
        recorder,
        &events,
        &outcome,
        (outcome.rounds, true),
    )?;
    Ok(RunEnd::Finished(outcome))
}

/// Seal the segment of `round` and hand the run's snapshot after it to the
/// checkpointer, if there is one (without one, wait for the seal).
fn seal_and_checkpoint(
    control: &RunControl,
    world: &World,
    recorder: &mut Recorder,
    events: &EventLog,
    outcome: &RunOutcome,
    (round, finished): (u32, bool),
) -> Result<(), RunError> {
    let Some(save) = &control.checkpoint else {
        recorder.seal(round + 1)?;
        return Ok(());
    };
    // The writer thread completes the round's files while the next round plays; the
    // checkpoint is written once they are on disk.
    let sealed = recorder.seal_in_background(round + 1)?;
    let world = WorldSnapshot::capture(world, &control.state.changing())
        .map_err(|e| RunError::Snapshot(e.to_string()))?;
    let snapshot = RunSnapshot {
        round,
        finished,
        rows: recorder.rows(),
        outcome: outcome.clone(),
        events: events.previous().to_vec(),
        world,
    };
    save(snapshot, sealed).map_err(RunError::Snapshot)
}

/// Why the run must stop for its budget, if it must.
fn budget_exhausted(limits: &SchedulerLimits, outcome: &RunOutcome) -> Option<String> {
    if let Some(max) = limits.max_cost_usd
        && outcome.cost_usd >= max
    {
        return Some(format!(
            "budget: cost ${:.4} reached the limit ${max:.4}",
            outcome.cost_usd
        ));
    }
    let tokens = outcome.prompt_tokens + outcome.completion_tokens;
    match limits.max_tokens {
        Some(max) if tokens >= max => {
            Some(format!("budget: {tokens} tokens reached the limit {max}"))
        }
        _ => None,
    }
}

#[allow(clippy::too_many_arguments)]
async fn deliberate<M: Mechanism>(
    mechanism: &mut M,
    world: &mut World,
    ctx: &mut RoundCtx<'_>,
    model: &dyn ChatModel,
    actors: &[Entity],
    calls: &mut RoundCalls,
    tables: &CallTables,
    limits: SchedulerLimits,
    outcome: &mut RunOutcome,
) -> Result<(), RunError> {
    // Gather: read the world, build every request of the batch.
    let mut batch = Vec::with_capacity(actors.len());
    for &agent in actors {
        let call = calls.counter.next(agent);
        match mechanism.request(world, ctx, agent, call) {
            Ask::Request(request, pending) => batch.push((agent, call, request, pending)),
            Ask::Decline(reason) => {
                let agent_id = world.get::<AgentId>(agent).copied();
                record_declined(ctx, tables.llm_calls, model.name(), agent_id, call, &reason)?;
                outcome.declined += 1;
            }
        }
    }
    // Await: no borrow of the world is held while the model works. Immediate answers
    // (rules, cached calls) are taken at once; the rest run concurrently, bounded.
    let (requests, mut pendings): (Vec<_>, Vec<_>) = batch
        .into_iter()
        .map(|(agent, call, request, pending)| ((agent, call, request), Some(pending)))
        .unzip();
    let mut answers: Vec<Option<Result<ChatResponse, LlmError>>> = std::iter::repeat_with(|| None)
        .take(requests.len())
        .collect();
    // Answers are resolved in the batch's order as soon as every earlier one is in, so
    // that the step's work is done while its last calls are still out.
    let mut step = StepResolution::default();
    let steps_done = calls.steps_done;
    let mut resolve = |answers: &mut [Option<Result<ChatResponse, LlmError>>],
                       pendings: &mut [Option<M::Pending>]| {
        step.resolve_ready(
            mechanism, world, ctx, model, &requests, answers, pendings, calls, tables, outcome,
        )
    };
    // Immediate answers (rules, cached calls) are taken a block at a time, each block
    // resolved before the next is asked: answers do not pile up for the whole step.
    let mut waiting = Vec::new();
    for start in (0..requests.len()).step_by(IMMEDIATE_BLOCK) {
        let end = (start + IMMEDIATE_BLOCK).min(requests.len());
        for i in start..end {
            answers[i] = model.answer_now(&requests[i].2);
            if answers[i].is_none() {
                waiting.push(i);
            }
        }
        resolve(&mut answers, &mut pendings);
    }
    if !waiting.is_empty() {
        // Where slots are short, a small step's calls go before a wide step's, and a
        // run behind before one ahead (`agora_model::priority`).
        let priority = CallPriority::new(waiting.len(), steps_done);
        // Unordered, so a slow call never holds a free slot; order is kept by resolving
        // in the batch's order.
        let requests = &requests;
        let mut awaited = futures::stream::iter(waiting.into_iter().map(|i| async move {
            (
                i,
                with_priority(priority, model.complete(&requests[i].2)).await,
            )
        }))
        .buffer_unordered(limits.concurrency.max(1));
        while let Some((i, answer)) = awaited.next().await {
            answers[i] = Some(answer);
            // Answers arrive in bursts: take every one already in before resolving, as
            // each take sends the next waiting call, so the server is refilled before
            // this task works through the burst.
            while let Some(Some((i, answer))) = awaited.next().now_or_never() {
                answers[i] = Some(answer);
            }
            resolve(&mut answers, &mut pendings);
        }
    }
    calls.steps_done += 1;
    step.finish(&answers)
}

/// Immediate answers asked before resolving them: enough that the loop costs nothing,
/// few enough that a block's answers stay in cache.
const IMMEDIATE_BLOCK: usize = 1024;

/// Where the in-order resolution of a step's answers stands.
#[derive(Default)]
struct StepResolution {
    /// Answers before this index are resolved.
    next: usize,
    /// Resolution stopped at a replay miss or a call the budget could not cover.
    halted: bool,
    /// Resolution stopped at an error of the mechanism or of recording.
    failed: Option<RunError>,
}

impl StepResolution {
    /// Resolve and record, in order, every answer whose earlier answers are all in.
    #[allow(clippy::too_many_arguments)]
    fn resolve_ready<M: Mechanism>(
        &mut self,
        mechanism: &mut M,
        world: &mut World,
        ctx: &mut RoundCtx<'_>,
        model: &dyn ChatModel,
        requests: &[(Entity, u32, ChatRequest)],
        answers: &mut [Option<Result<ChatResponse, LlmError>>],
        pendings: &mut [Option<M::Pending>],
        calls: &mut RoundCalls,
        tables: &CallTables,
        outcome: &mut RunOutcome,
    ) {
        // After a stop the step's other calls still finish (what they bought is kept),
        // and the step then fails.
        while !self.halted && self.failed.is_none() && self.next < requests.len() {
            let i = self.next;
            let Some(answer) = answers[i].as_ref() else {
                return;
            };
            // Replay must never call a model, nor quietly fall back; a call the budget
            // could not cover was not sent, so its round cannot be completed as it
            // would have been (the run resumes from its last checkpoint).
            if let Err(e) = answer
                && matches!(e.last(), LlmError::CacheMiss | LlmError::BudgetExhausted(_))
            {
                self.halted = true;
                return;
            }
            let (Some(pending), (agent, call, request)) = (pendings[i].take(), &requests[i]) else {
                return;
            };
            // A resolved answer is dropped: only the ones that halt resolution (never
            // resolved) decide how the step ends.
            let Some(answer) = answers[i].take() else {
                return;
            };
            let answer = &answer;
            let resolved = (|| {
                let decision = mechanism.resolve(world, ctx, *agent, pending, answer.as_ref())?;
                let agent_id = world.get::<AgentId>(*agent).copied();
                record_call(
                    ctx,
                    tables.llm_calls,
                    model.name(),
                    agent_id,
                    *call,
                    request,
                    answer,
                    &decision,
                    outcome,
                    &mut calls.prefixes,
                )?;
                if let Some(table) = tables.transcripts {
                    record_transcript(ctx, table, model.name(), agent_id, *call, request, answer)?;
                }
                Ok::<(), RunError>(())
            })();
            if let Err(e) = resolved {
                self.failed = Some(e);
                return;
            }
            self.next += 1;
        }
    }

    /// The step's result once every call has finished: a replay miss first, then a
    /// call the budget could not cover, then an error of the mechanism.
    fn finish(self, answers: &[Option<Result<ChatResponse, LlmError>>]) -> Result<(), RunError> {
        let errors = || answers.iter().flatten().filter_map(|a| a.as_ref().err());
        if errors().any(|e| matches!(e.last(), LlmError::CacheMiss)) {
            return Err(RunError::Replay);
        }
        if let Some(why) = errors().find_map(|e| match e.last() {
            LlmError::BudgetExhausted(why) => Some(why.clone()),
            _ => None,
        }) {
            return Err(RunError::BudgetExhausted(why));
        }
        match self.failed {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Write the `transcripts` row of one call: what the model read and what it wrote.
fn record_transcript(
    ctx: &mut RoundCtx<'_>,
    table: TableId,
    model: &str,
    agent: Option<AgentId>,
    call: u32,
    request: &ChatRequest,
    answer: &Result<ChatResponse, LlmError>,
) -> Result<(), RunError> {
    // Plain strings and roles always serialize.
    let messages = serde_json::to_string(&request.messages).unwrap_or_default();
    let (completion, parsed, error) = match answer {
        Ok(r) => (r.raw.as_deref(), Some(r.answer.to_string()), None),
        Err(e) => (None, None, Some(e.to_string())),
    };
    ctx.recorder
        .row(table, ctx.round, agent)?
        .u32(call)
        .str(request.task)
        .str(model)
        .str(&messages)
        .opt_str(completion)
        .opt_str(parsed.as_deref())
        .opt_str(error.as_deref())
        .end();
    Ok(())
}

/// Write the `llm_calls` row of a request the mechanism declined to make.
fn record_declined(
    ctx: &mut RoundCtx<'_>,
    table: TableId,
    model: &str,
    agent: Option<AgentId>,
    call: u32,
    reason: &str,
) -> Result<(), RunError> {
    let seed = ctx.call_seed(agent.map_or(u64::MAX, |a| u64::from(a.0)), call);
    ctx.recorder
        .row(table, ctx.round, agent)?
        .u32(call)
        .str("declined")
        .str(model)
        .u64(seed)
        .str("declined")
        .opt_str(None)
        .str("declined")
        .opt_str(Some(reason))
        .u32(0)
        .u32(0)
        .u32(0)
        .f64(0.0)
        .u32(0)
        .bool(false)
        .opt_f64(None)
        .u32(0)
        .opt_str(None)
        .end();
    Ok(())
}

/// Write one `llm_calls` row and add the call to the run's totals.
#[allow(clippy::too_many_arguments)]
fn record_call(
    ctx: &mut RoundCtx<'_>,
    table: TableId,
    model: &str,
    agent: Option<AgentId>,
    call: u32,
    request: &ChatRequest,
    answer: &Result<ChatResponse, LlmError>,
    decision: &Decision,
    outcome: &mut RunOutcome,
    prefixes: &mut crate::prefix::PrefixIndex,
) -> Result<(), RunError> {
    outcome.decisions += 1;
    let prefix = prefixes.share(&request.messages);
    outcome.prompt_estimate_tokens += u64::from(prefix.tokens);
    outcome.shared_prefix_tokens += u64::from(prefix.shared);
    let (status, error, usage, latency_ms, meta) = match answer {
        Ok(r) => (
            "ok",
            None,
            r.usage,
            r.latency.as_secs_f64() * 1000.0,
            Some(&r.meta),
        ),
        // A failed call still counts the tokens and cost of the attempts that reached
        // the model (answers that failed validation, a repair).
        Err(e) => {
            outcome.errors += 1;
            ("error", Some(e.to_string()), e.usage(), 0.0, e.meta())
        }
    };
    let attempts = match answer {
        Ok(r) => r.meta.attempts,
        Err(e) => e.attempts(),
    };
    let cache_hit = meta.is_some_and(|m| m.cache_hit);
    let cost = meta.and_then(|m| m.cost_usd);
    outcome.prompt_tokens += u64::from(usage.prompt_tokens);
    outcome.completion_tokens += u64::from(usage.completion_tokens);
    outcome.cost_usd += cost.unwrap_or(0.0);
    outcome.cache_hits += u64::from(cache_hit);
    let (label, reason) = match (decision, meta.and_then(|m| m.repaired.as_deref())) {
        (Decision::Valid, None) => ("valid", None),
        (Decision::Valid, Some(why)) => {
            outcome.repaired += 1;
            ("repaired", Some(why))
        }
        (Decision::Fallback(reason), _) => {
            outcome.fallbacks += 1;
            ("fallback", Some(reason.as_str()))
        }
    };
    ctx.recorder
        .row(table, ctx.round, agent)?
        .u32(call)
        .str(request.task)
        .str(model)
        .u64(request.seed)
        .str(status)
        .opt_str(error.as_deref())
        .str(label)
        .opt_str(reason)
        .u32(usage.prompt_tokens)
        .u32(usage.completion_tokens)
        .u32(usage.cached_tokens)
        .f64(latency_ms)
        .u32(attempts)
        .bool(cache_hit)
        .opt_f64(cost)
        .u32(prefix.shared)
        .opt_str(meta.and_then(|m| m.endpoint.as_deref()))
        .end();
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use agora_export::{Column, ColumnType, OutputLayout, Partition};
    use agora_model::{ChatModel, ChatRequest, ChatResponse, LlmError, SamplingParams, Usage};
    use futures::FutureExt;
    use futures::future::BoxFuture;

    use super::*;
    use crate::components::{Identity, Persona, PopulationSchema};
    use crate::record::{RunInfo, keyed_table};
    use crate::seed::SeedStream;
    use crate::world::spawn_population;

    /// Answers with the agent id it was asked about, after a delay that makes later
    /// requests finish first; counts calls in flight.
    struct SlowEcho {
        in_flight: AtomicUsize,
        peak: AtomicUsize,
        /// The queue priority each call was made at.
        priorities: std::sync::Mutex<Vec<CallPriority>>,
    }

    impl ChatModel for SlowEcho {
        fn name(&self) -> &str {
            "slow-echo"
        }

        fn reads_messages(&self) -> bool {
            true
        }

        fn complete<'a>(
            &'a self,
            request: &'a ChatRequest,
        ) -> BoxFuture<'a, Result<ChatResponse, LlmError>> {
            async move {
                self.priorities
                    .lock()
                    .unwrap()
                    .push(agora_model::priority::current());
                let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                self.peak.fetch_max(now, Ordering::SeqCst);
                let agent = request.seed;
                if agent == 3 {
                    self.in_flight.fetch_sub(1, Ordering::SeqCst);
                    return Err(LlmError::Backend("agent 3 always fails".into()));
                }
                tokio::time::sleep(Duration::from_millis(40 - agent * 4)).await;
                self.in_flight.fetch_sub(1, Ordering::SeqCst);
                let usage = Usage {
                    prompt_tokens: 10,
                    completion_tokens: 2,
                    cached_tokens: 0,
                };
                Ok(ChatResponse::new(
                    serde_json::json!({ "agent": agent }),
                    usage,
                    Duration::from_millis(1),
                ))
            }
            .boxed()
        }
    }

    /// A speaker list: in each round, agents speak one per step, in id order.
    struct SpeakerList {
        resolved: Vec<(u32, u32, Option<u64>)>,
        step: usize,
        table: TableId,
    }

    impl Mechanism for SpeakerList {
        type Pending = u32;

        fn max_rounds(&self) -> u32 {
            2
        }

        fn start_round(
            &mut self,
            _world: &mut World,
            _ctx: &mut RoundCtx<'_>,
        ) -> Result<(), RunError> {
            self.step = 0;
            Ok(())
        }

        fn next_step(&self, world: &World, ctx: &RoundCtx<'_>) -> Option<Vec<Entity>> {
            let roster = world.get_resource::<crate::world::Roster>()?;
            // Round 1: everyone at once; round 2: one speaker per step.
            match ctx.round {
                1 if self.step == 0 => Some(roster.0.clone()),
                2 => roster.0.get(self.step).map(|e| vec![*e]),
                _ => None,
            }
        }

        fn request(
            &self,
            world: &World,
            _ctx: &RoundCtx<'_>,
            agent: Entity,
            _call: u32,
        ) -> Ask<u32> {
            let Some(id) = world.get::<AgentId>(agent).map(|a| a.0) else {
                return Ask::Decline("not an agent".into());
            };
            if id == 5 {
                return Ask::Decline("agent 5 is never asked".into());
            }
            let request = ChatRequest {
                task: "speak",
                messages: vec![],
                schema: Arc::new(serde_json::json!({})),
                params: SamplingParams::default(),
                seed: u64::from(id),
                facts: None,
            };
            Ask::Request(request, id)
        }

        fn resolve(
            &mut self,
            _world: &mut World,
            ctx: &mut RoundCtx<'_>,
            _agent: Entity,
            pending: u32,
            answer: Result<&ChatResponse, &LlmError>,
        ) -> Result<Decision, RunError> {
            let said = answer.ok().and_then(|r| r.answer["agent"].as_u64());
            self.resolved.push((ctx.round, pending, said));
            if let Some(x) = said {
                ctx.recorder
                    .row(self.table, ctx.round, Some(AgentId(pending)))?
                    .u64(x)
                    .end();
            }
            Ok(match said {
                Some(_) => Decision::Valid,
                None => Decision::Fallback("no answer".into()),
            })
        }

        fn end_step(
            &mut self,
            _world: &mut World,
            _ctx: &mut RoundCtx<'_>,
        ) -> Result<(), RunError> {
            self.step += 1;
            Ok(())
        }

        fn end_round(
            &mut self,
            _world: &mut World,
            _ctx: &mut RoundCtx<'_>,
        ) -> Result<Flow, RunError> {
            Ok(Flow::Continue)
        }
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn answers_are_resolved_in_step_order_whatever_finishes_first() {
        let mut world = World::new();
        let personas = (0..6)
            .map(|i| Persona {
                identity: Identity {
                    name: format!("A{i}"),
                    ..Default::default()
                },
                ..Default::default()
            })
            .collect();
        spawn_population(&mut world, PopulationSchema::default(), personas, 4);
        let dir = tempfile::tempdir().unwrap();
        let info = RunInfo {
            run_id: "r".into(),
            partition: Partition {
                arm: "a".into(),
                replicate: 0,
            },
            seeds: SeedStream::new(1),
        };
        let mut recorder = Recorder::new(OutputLayout::new(dir.path()), info);
        let model = SlowEcho {
            in_flight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            priorities: Default::default(),
        };
        let table = recorder
            .open(keyed_table(
                "said",
                vec![Column::required("x", ColumnType::U64)],
            ))
            .unwrap();
        let mut mechanism = SpeakerList {
            resolved: vec![],
            step: 0,
            table,
        };
        let limits = SchedulerLimits {
            concurrency: 4,
            batch: 5,
            ..SchedulerLimits::default()
        };
        let outcome = run_rounds(
            &mut mechanism,
            &mut world,
            &mut recorder,
            &model,
            10,
            limits,
            &mut Silent,
        )
        .await
        .unwrap();

        let round1: Vec<u32> = mechanism
            .resolved
            .iter()
            .filter(|r| r.0 == 1)
            .map(|r| r.1)
            .collect();
        let round2: Vec<u32> = mechanism
            .resolved
            .iter()
            .filter(|r| r.0 == 2)
            .map(|r| r.1)
            .collect();
        assert_eq!(
            round1,
            vec![0, 1, 2, 3, 4],
            "later requests finished first, yet order holds"
        );
        assert_eq!(round2, vec![0, 1, 2, 3, 4], "one speaker per step");
        // Calls queue at their step's width, then by the steps their run has finished.
        let priorities = model.priorities.lock().unwrap().clone();
        assert!(
            priorities[..5]
                .iter()
                .all(|p| *p == CallPriority::new(5, 0))
        );
        let lone: Vec<CallPriority> = priorities[priorities.len() - 5..].to_vec();
        let first = lone[0].steps_done;
        assert!(first >= 1);
        assert_eq!(
            lone,
            (0..5)
                .map(|k| CallPriority::new(1, first + k))
                .collect::<Vec<_>>()
        );
        assert!(
            mechanism
                .resolved
                .iter()
                .all(|(_, id, said)| (*id == 3) == said.is_none())
        );
        assert_eq!(
            model.peak.load(Ordering::SeqCst),
            4,
            "the concurrency limit is used and respected"
        );
        assert_eq!(outcome.rounds, 2);
        assert_eq!(outcome.decisions, 10);
        assert_eq!(outcome.declined, 2, "a declined request is counted");
        assert_eq!(
            (outcome.errors, outcome.fallbacks),
            (2, 2),
            "a failing agent does not stop the round"
        );
        assert_eq!(outcome.prompt_tokens, 80);
        let tables = recorder.close().unwrap();
        let rows: std::collections::HashMap<_, _> =
            tables.iter().map(|t| (t.name.as_str(), t.rows)).collect();
        assert_eq!(rows["llm_calls"], 12, "declined requests are rows too");
        assert_eq!(rows["said"], 8);
    }
}
