//! The auction as a [`Mechanism`] of the round scheduler: one lot per round; sealed
//! formats ask every bidder once, clocks ask the bidders still in at every price step.
//!
//! Decisions of a step are buffered and applied together when the step ends, so every
//! prompt of a step sees the same state and the outcome never depends on answer order.

use std::sync::Arc;

use agora_core::components::{
    AgentId, Demographics, Identity, Memory, MemoryKind, PopulationSchema, Traits,
};
use agora_core::persona::persona_card_of;
use agora_core::record::RunInfo;
use agora_core::registry::Build;
use agora_core::seed::{StreamRng, purpose};
use agora_core::world::Roster;
use agora_core::{Ask, Decision, Flow, Mechanism, RoundCtx};
use agora_core::{Event, RunError, Visibility};
use agora_export::TableId;
use agora_model::{ChatMessage, ChatRequest, ChatResponse, LlmError, SamplingParams};
use bevy_ecs::prelude::*;
use rand::RngExt;
use rand_distr::{Distribution, StandardNormal};
use serde_json::{Value, json};

use super::policy::BidFacts;
use super::prompt::{LotMemory, Situation, memory_line, system_message, user_message};
use super::rules::{
    self, Choice, ClockStep, Close, Limits, Metrics, Outcome, clock_price, dutch_levels,
};
use super::schema::answer_schema;
use super::spec::{AuctionSpec, Format};
use super::tables::{auction_bidders_table, auction_outcomes_table, bids_table};
use super::wallet::{BudgetSource, Wallet};
use crate::drivers::{self, ResolvedDriver};

/// Seed path tags after `purpose::MECHANISM, round`: private values, the common value,
/// tie-breaks. Changing them changes every run's draws.
const VALUE_DRAW: u64 = 1;
const COMMON_DRAW: u64 = 2;
const TIE_BREAK: u64 = 3;

/// Most bids announced when a sealed lot closes with `reveal_bids`.
pub const REVEALED_BIDS: usize = 10;

/// What the auction remembers about a request: the clock price it was asked at.
pub struct Pending {
    price: Option<f64>,
}

/// How one lot ended, with its welfare figures.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LotOutcome {
    /// Index of the lot in the scenario.
    pub lot: usize,
    /// Winner, price and tie.
    pub close: Close,
    /// Revenue, surplus, efficiency.
    pub metrics: Metrics,
    /// Steps the lot took (1 for sealed bids).
    pub steps: u32,
}

struct Tables {
    bids: TableId,
    outcomes: TableId,
    bidders: TableId,
}

/// A bidder's running totals over the auction (a component of each bidder).
#[derive(
    Component, Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize,
)]
pub struct Tally {
    /// Lots won.
    pub won: u32,
    /// Value minus price over the lots won.
    pub surplus: f64,
    /// Decisions made.
    pub decisions: u32,
    /// Decisions that fell back.
    pub fallbacks: u32,
}

/// The lots closed so far, in order (a resource of the run's world).
#[derive(Resource, Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClosedLots(pub Vec<LotOutcome>);

/// The lot being sold.
struct LotState {
    index: usize,
    /// True values and what each bidder knows of them, by agent id.
    values: Vec<f64>,
    signals: Vec<f64>,
    /// Steps started so far.
    step: u32,
    /// Bidders asked at the current step.
    active: Vec<u32>,
    /// Decisions of the current step.
    answers: Vec<(u32, Choice)>,
    /// Sealed formats: the valid bids.
    bids: Vec<(u32, f64)>,
    /// English: who dropped out so far and at what price (for prompts).
    dropped: Vec<(String, f64)>,
    /// Each bidder's last decision and the clock price it was made at.
    last: Vec<Option<(Choice, Option<f64>)>>,
    previous_price: Option<f64>,
    close: Option<Close>,
}

/// A running auction.
pub struct Auction {
    spec: Arc<AuctionSpec>,
    params: SamplingParams,
    schema: Arc<Value>,
    system: String,
    /// Per lot: its id as a JSON string, for event payloads.
    lot_json: Vec<String>,
    tables: Tables,
    /// Per lot: value drivers with their weights.
    drivers: Vec<Vec<(ResolvedDriver, f64)>>,
    /// Bidders in agent-id order (the roster).
    bidders: Vec<Entity>,
    /// The lot being sold (within a round only: every round starts a new lot).
    lot: Option<LotState>,
}

/// The bidders whose decision in `answers` was `wanted`, in answer order.
fn taken(answers: &[(u32, Choice)], wanted: Choice) -> Vec<u32> {
    answers
        .iter()
        .filter(|(_, c)| *c == wanted)
        .map(|(i, _)| *i)
        .collect()
}

/// The JSON payload of a decision event, written directly (one per decision).
fn decision_payload(
    lot_json: &str,
    step: u32,
    price: Option<f64>,
    amount: Option<f64>,
    status: &str,
) -> String {
    let number = |x: Option<f64>| {
        x.filter(|x| x.is_finite())
            .map_or("null".into(), |x| x.to_string())
    };
    format!(
        "{{\"lot\":{lot_json},\"step\":{step},\"price\":{},\"amount\":{},\"status\":\"{status}\"}}",
        number(price),
        number(amount)
    )
}

/// The name of bidder `i` as others know it.
fn bidder_name(bidders: &[Entity], world: &World, i: u32) -> String {
    bidders
        .get(i as usize)
        .and_then(|e| world.get::<Identity>(*e))
        .map_or_else(|| format!("Bidder {i}"), |id| id.name.clone())
}

fn failure(message: impl Into<String>) -> RunError {
    RunError::Mechanism {
        mechanism: "auction",
        message: message.into(),
    }
}

impl Auction {
    /// Build the auction of `spec` for a run: resolve each lot's value drivers against
    /// the population and open `bids`, `auction_outcomes` and `auction_bidders`.
    pub fn build(spec: &AuctionSpec, build: Build<'_>) -> Result<Self, RunError> {
        let mut per_lot = Vec::with_capacity(spec.lots.len());
        for lot in &spec.lots {
            per_lot.push(
                drivers::resolve_weighted(build.world, &lot.drivers)
                    .map_err(|e| failure(format!("lot \"{}\": {e}", lot.id)))?,
            );
        }
        let roster = build
            .world
            .get_resource::<Roster>()
            .cloned()
            .unwrap_or_default();
        for (i, &entity) in roster.0.iter().enumerate() {
            if build.world.get::<AgentId>(entity) != Some(&AgentId(i as u32)) {
                return Err(failure("bidders must have agent ids 0..n in roster order"));
            }
        }
        let recorder = build.recorder;
        Ok(Self {
            schema: Arc::new(answer_schema(spec.format)),
            system: system_message(&spec.instructions, spec.format),
            lot_json: spec
                .lots
                .iter()
                .map(|l| Value::String(l.id.clone()).to_string())
                .collect(),
            spec: Arc::new(spec.clone()),
            params: build.params,
            tables: Tables {
                bids: recorder.open(bids_table())?,
                outcomes: recorder.open(auction_outcomes_table())?,
                bidders: recorder.open(auction_bidders_table())?,
            },
            drivers: per_lot,
            bidders: roster.0,
            lot: None,
        })
    }

    /// Draw every bidder's value of lot `index` (sold in `round`).
    fn draw_values(&self, world: &World, info: &RunInfo, round: u32, index: usize) -> LotState {
        let lot = &self.spec.lots[index];
        let round = u64::from(round);
        let common = self.spec.common_value.as_ref().map(|cv| {
            let mut rng = info.seeds.rng(&[purpose::MECHANISM, round, COMMON_DRAW]);
            (cv.dist.sample(&mut rng), cv.signal_noise)
        });
        let drivers = &self.drivers[index];
        let n = self.bidders.len();
        let (mut values, mut signals) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for (i, &entity) in self.bidders.iter().enumerate() {
            let mut rng = info
                .seeds
                .rng(&[purpose::MECHANISM, round, VALUE_DRAW, i as u64]);
            let private = lot.values.sample(&mut rng);
            let taste = match (
                world.get::<Traits>(entity),
                world.get::<Demographics>(entity),
            ) {
                (Some(t), Some(d)) if !drivers.is_empty() => drivers::score(drivers, t, d).exp(),
                _ => 1.0,
            };
            let value = (private * taste + common.map_or(0.0, |c| c.0)).max(0.0);
            let signal = match common {
                Some((_, noise)) => {
                    let e: f64 = StandardNormal.sample(&mut rng);
                    (value + noise * e).max(0.0)
                }
                None => value,
            };
            values.push(value);
            signals.push(signal);
        }
        LotState {
            index,
            values,
            signals,
            step: 0,
            active: (0..n as u32).collect(),
            answers: Vec::new(),
            bids: Vec::new(),
            dropped: Vec::new(),
            last: vec![None; n],
            previous_price: None,
            close: None,
        }
    }

    /// Apply the decisions of the step just answered; sets `close` when the lot ends.
    fn settle_step(&mut self, world: &World, ctx: &RoundCtx<'_>) {
        let format = self.spec.format;
        let max_steps = self.spec.max_steps;
        let Some(state) = self.lot.as_mut() else {
            return;
        };
        let lot = &self.spec.lots[state.index];
        let mut rng: StreamRng = ctx.info.seeds.rng(&[
            purpose::MECHANISM,
            u64::from(ctx.round),
            TIE_BREAK,
            u64::from(state.step),
        ]);
        let tie_break = move |n: usize| rng.random_range(0..n);
        let price = clock_price(format, lot, state.step).unwrap_or(lot.reserve);
        let step = match format {
            Format::FirstPrice | Format::SecondPrice => ClockStep::Closed(rules::clear_sealed(
                format,
                &state.bids,
                lot.reserve,
                tie_break,
            )),
            Format::English => {
                let stayed = taken(&state.answers, Choice::Stay);
                if ctx.reads_text {
                    for i in taken(&state.answers, Choice::Drop) {
                        state
                            .dropped
                            .push((bidder_name(&self.bidders, world, i), price));
                    }
                }
                let at_limit = state.step >= max_steps;
                let step = rules::english_step(
                    &state.active,
                    &stayed,
                    price,
                    state.previous_price,
                    at_limit,
                    tie_break,
                );
                state.active = stayed;
                step
            }
            Format::Dutch => {
                let last =
                    if state.step >= dutch_levels(lot.start_price, lot.reserve, lot.increment) {
                        Some(Outcome::NoAcceptance)
                    } else if state.step >= max_steps {
                        Some(Outcome::StepLimit)
                    } else {
                        None
                    };
                rules::dutch_step(
                    &taken(&state.answers, Choice::Accept),
                    price,
                    last,
                    tie_break,
                )
            }
        };
        state.previous_price = Some(price);
        state.answers.clear();
        if let ClockStep::Closed(close) = step {
            state.close = Some(close);
        }
    }

    /// The user message of `agent` (agent id `id`) for the current step.
    fn render(
        &self,
        world: &World,
        agent: Entity,
        id: usize,
        wallet: &Wallet,
        price: Option<f64>,
    ) -> Option<String> {
        let state = self.lot.as_ref()?;
        let card = persona_card_of(world, agent)?;
        let memory = world
            .get::<Memory>(agent)
            .map(|m| m.render(self.spec.memory_chars as usize))
            .unwrap_or_default();
        let situation = Situation {
            format: self.spec.format,
            lot: (
                &self.spec.lots[state.index],
                state.index,
                self.spec.lots.len(),
            ),
            bidders: self.bidders.len(),
            value: state.signals[id],
            estimate: self.spec.common_value.is_some(),
            budget: wallet.budget.zip(wallet.left()),
            clock: price.map(|p| (state.step, p)),
            still_in: state.active.len(),
            dropped: &state.dropped,
        };
        Some(user_message(&card, &memory, &situation))
    }

    fn record_decision(
        &self,
        ctx: &mut RoundCtx<'_>,
        id: AgentId,
        (choice, price): (Choice, Option<f64>),
        budget_left: Option<f64>,
        (fallback_reason, reason): (Option<&str>, Option<&str>),
    ) -> Result<(), RunError> {
        let state = self.lot.as_ref().ok_or_else(|| failure("no lot is open"))?;
        let lot = &self.spec.lots[state.index];
        let i = id.0 as usize;
        let format = self.spec.format;
        let amount = choice.amount(price);
        let status = if fallback_reason.is_some() {
            "fallback"
        } else {
            "valid"
        };
        ctx.recorder
            .row(self.tables.bids, ctx.round, Some(id))?
            .str(&lot.id)
            .str(format.label())
            .u32(state.step)
            .opt_f64(price)
            .str(choice.label())
            .opt_f64(amount)
            .f64(state.values[i])
            .f64(state.signals[i])
            .opt_f64(budget_left)
            .str(status)
            .opt_str(fallback_reason)
            .opt_str(reason)
            .end();
        // Sealed bids stay private; on a clock, drop-outs and acceptances are seen by all.
        let visibility = match choice {
            Choice::Drop | Choice::Accept => Visibility::Public,
            _ => Visibility::Private,
        };
        ctx.emit(Event {
            round: ctx.round,
            actor: Some(id),
            kind: choice.label(),
            target: None,
            visibility,
            payload: decision_payload(
                &self.lot_json[state.index],
                state.step,
                price,
                amount,
                status,
            ),
        })
    }

    /// Pay for the lot won and update the winner's tally.
    fn settle_sale(
        &mut self,
        world: &mut World,
        state: &LotState,
        close: &Close,
    ) -> Result<(), RunError> {
        let Some(sale) = &close.sale else {
            return Ok(());
        };
        let entity = *self
            .bidders
            .get(sale.winner as usize)
            .ok_or_else(|| failure(format!("no bidder {}", sale.winner)))?;
        let mut wallet = world
            .get_mut::<Wallet>(entity)
            .ok_or_else(|| failure("the winner has no wallet"))?;
        wallet.pay(sale.price).map_err(failure)?;
        let mut tally = world
            .get_mut::<Tally>(entity)
            .ok_or_else(|| failure("the winner has no tally"))?;
        tally.won += 1;
        tally.surplus += state.values[sale.winner as usize] - sale.price;
        Ok(())
    }

    /// The highest sealed bids, as announced with `reveal_bids`.
    fn revealed(&self, state: &LotState) -> Vec<(u32, f64)> {
        if !(self.spec.reveal_bids && self.spec.format.is_sealed()) {
            return Vec::new();
        }
        let mut bids = state.bids.clone();
        bids.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        bids.truncate(REVEALED_BIDS);
        bids
    }

    /// Each bidder remembers how the lot ended, from its own point of view.
    fn remember(
        &self,
        world: &mut World,
        round: u32,
        state: &LotState,
        close: &Close,
        revealed: &[(u32, f64)],
    ) {
        let name = |world: &World, i: u32| bidder_name(&self.bidders, world, i);
        let winner = close
            .sale
            .as_ref()
            .map(|s| (s.winner, name(world, s.winner)));
        let revealed_names: Vec<(u32, String, f64)> = revealed
            .iter()
            .map(|&(i, x)| (i, name(world, i), x))
            .collect();
        let lot = &self.spec.lots[state.index];
        for (i, &entity) in self.bidders.iter().enumerate() {
            let me = i as u32;
            let as_seen = |who: u32, name: &str| {
                if who == me {
                    "you".to_string()
                } else {
                    name.to_string()
                }
            };
            let winner_label = winner.as_ref().map(|(w, n)| as_seen(*w, n));
            let shown: Vec<(String, f64)> = revealed_names
                .iter()
                .map(|(who, n, x)| (as_seen(*who, n), *x))
                .collect();
            let line = memory_line(&LotMemory {
                number: state.index + 1,
                title: &lot.title,
                outcome: close.outcome,
                sale: winner_label
                    .as_deref()
                    .zip(close.sale.as_ref().map(|s| s.price)),
                own: state.last[i],
                // A winner learns what the lot is really worth to it.
                won_value: (winner.as_ref().map(|w| w.0) == Some(me)).then_some(state.values[i]),
                revealed: &shown,
            });
            if let Some(mut memory) = world.get_mut::<Memory>(entity) {
                memory.remember(round, MemoryKind::Saw, line);
            }
        }
    }

    fn record_outcome(
        &self,
        ctx: &mut RoundCtx<'_>,
        state: &LotState,
        close: &Close,
        m: &Metrics,
        revealed: &[(u32, f64)],
    ) -> Result<(), RunError> {
        let lot = &self.spec.lots[state.index];
        let format = self.spec.format;
        let sale = close.sale.as_ref();
        let tied = sale.filter(|s| !s.tied.is_empty()).map(|s| {
            s.tied
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",")
        });
        ctx.recorder
            .row(self.tables.outcomes, ctx.round, None)?
            .str(&lot.id)
            .str(format.label())
            .str(close.outcome.label())
            .u32(self.bidders.len() as u32)
            .opt_u32(sale.map(|s| s.winner))
            .opt_f64(sale.map(|s| s.price))
            .f64(lot.reserve)
            .f64(m.revenue)
            .f64(m.highest_value)
            .opt_f64(m.second_value)
            .opt_f64(m.winner_value)
            .opt_f64(m.surplus)
            .opt_f64(m.efficiency)
            .u32(state.step)
            .opt_str(tied.as_deref())
            .end();
        let mut payload = json!({
            "lot": lot.id,
            "format": format.label(),
            "result": close.outcome.label(),
            "winner": sale.map(|s| s.winner),
            "price": sale.map(|s| s.price),
            "tied": sale.map(|s| s.tied.clone()).unwrap_or_default(),
        });
        if !revealed.is_empty() {
            payload["bids"] = json!(revealed);
        }
        ctx.emit(Event {
            round: ctx.round,
            actor: None,
            kind: "lot_closed",
            target: sale.map(|s| AgentId(s.winner)),
            visibility: Visibility::Public,
            payload: payload.to_string(),
        })
    }
}

impl Mechanism for Auction {
    type Pending = Pending;

    fn max_rounds(&self) -> u32 {
        self.spec.rounds()
    }

    fn setup(&mut self, world: &mut World, ctx: &mut RoundCtx<'_>) -> Result<(), RunError> {
        let schema = world
            .get_resource::<PopulationSchema>()
            .cloned()
            .unwrap_or_default();
        let source =
            BudgetSource::resolve(&self.spec.budget, &schema, ctx.info.seeds).map_err(failure)?;
        let wallets: Vec<(Entity, (Wallet, Tally))> = self
            .bidders
            .iter()
            .enumerate()
            .map(|(i, &entity)| {
                let budget = source.budget(i as u32, world.get::<Demographics>(entity));
                (entity, (Wallet::new(budget), Tally::default()))
            })
            .collect();
        world.insert_resource(ClosedLots::default());
        world
            .try_insert_batch(wallets)
            .map_err(|e| failure(format!("giving bidders their wallets: {e}")))
    }

    fn start_round(&mut self, world: &mut World, ctx: &mut RoundCtx<'_>) -> Result<(), RunError> {
        let index = ctx.round.saturating_sub(1) as usize;
        self.lot = (index < self.spec.lots.len()).then(|| {
            let mut lot = self.draw_values(world, ctx.info, ctx.round, index);
            lot.step = 1;
            lot
        });
        Ok(())
    }

    fn next_step(&self, _world: &World, _ctx: &RoundCtx<'_>) -> Option<Vec<Entity>> {
        let state = self.lot.as_ref()?;
        if state.close.is_some() {
            return None;
        }
        Some(
            state
                .active
                .iter()
                .filter_map(|&i| self.bidders.get(i as usize).copied())
                .collect(),
        )
    }

    fn end_step(&mut self, world: &mut World, ctx: &mut RoundCtx<'_>) -> Result<(), RunError> {
        self.settle_step(world, ctx);
        if let Some(state) = self.lot.as_mut()
            && state.close.is_none()
        {
            state.step += 1;
        }
        Ok(())
    }

    fn request(&self, world: &World, ctx: &RoundCtx<'_>, agent: Entity, call: u32) -> Ask<Pending> {
        let Some(state) = self.lot.as_ref() else {
            return Ask::Decline("no lot is open".into());
        };
        let (Some(id), Some(wallet)) = (
            world.get::<AgentId>(agent).map(|a| a.0),
            world.get::<Wallet>(agent).copied(),
        ) else {
            return Ask::Decline("not a bidder".into());
        };
        let i = id as usize;
        let Some(&value) = state.signals.get(i) else {
            return Ask::Decline("the bidder has no value for this lot".into());
        };
        let lot = &self.spec.lots[state.index];
        let price = clock_price(self.spec.format, lot, state.step);
        let facts = BidFacts {
            format: self.spec.format,
            lot: state.index,
            bidder: id,
            value,
            budget_left: wallet.left(),
            reserve: lot.reserve,
            price,
            bidders: self.bidders.len() as u32,
        };
        let messages = if ctx.reads_text {
            let Some(user) = self.render(world, agent, i, &wallet, price) else {
                return Ask::Decline("the bidder has no persona to put in a prompt".into());
            };
            vec![
                ChatMessage::system(self.system.clone()),
                ChatMessage::user(user),
            ]
        } else {
            Vec::new()
        };
        let request = ChatRequest {
            task: self.spec.format.task(),
            messages,
            schema: self.schema.clone(),
            params: self.params,
            seed: ctx.call_seed(u64::from(id), call),
            facts: Some(Arc::new(facts)),
        };
        Ask::Request(request, Pending { price })
    }

    fn resolve(
        &mut self,
        world: &mut World,
        ctx: &mut RoundCtx<'_>,
        agent: Entity,
        pending: Pending,
        answer: Result<&ChatResponse, &LlmError>,
    ) -> Result<Decision, RunError> {
        let (Some(id), Some(wallet)) = (
            world.get::<AgentId>(agent).copied(),
            world.get::<Wallet>(agent).copied(),
        ) else {
            return Ok(Decision::Fallback("not a bidder".into()));
        };
        let Some(state) = self.lot.as_ref() else {
            return Ok(Decision::Fallback("no lot is open".into()));
        };
        let format = self.spec.format;
        let limits = Limits {
            reserve: self.spec.lots[state.index].reserve,
            budget_left: wallet.left(),
            price: pending.price.unwrap_or(0.0),
        };
        let (choice, failed, reason) = match answer {
            Err(e) => (
                rules::fallback(format),
                Some(format!("no answer: {e}")),
                None,
            ),
            Ok(response) => {
                let reason = rules::reason(&response.answer);
                match rules::validate(format, &response.answer, &limits) {
                    Ok(choice) => (choice, None, reason),
                    Err(why) => (rules::fallback(format), Some(why), reason),
                }
            }
        };
        self.record_decision(
            ctx,
            id,
            (choice, pending.price),
            wallet.left(),
            (failed.as_deref(), reason),
        )?;
        let i = id.0 as usize;
        if let Some(mut tally) = world.get_mut::<Tally>(agent) {
            tally.decisions += 1;
            tally.fallbacks += u32::from(failed.is_some());
        }
        if let Some(state) = self.lot.as_mut() {
            state.answers.push((id.0, choice));
            if let Choice::Bid(x) = choice {
                state.bids.push((id.0, x));
            }
            if let Some(last) = state.last.get_mut(i) {
                *last = Some((choice, pending.price));
            }
        }
        Ok(match failed {
            None => Decision::Valid,
            Some(reason) => Decision::Fallback(reason),
        })
    }

    fn end_round(&mut self, world: &mut World, ctx: &mut RoundCtx<'_>) -> Result<Flow, RunError> {
        let Some(mut state) = self.lot.take() else {
            return Ok(Flow::Stop("lots_complete".into()));
        };
        let close = state.close.take().unwrap_or(Close {
            outcome: Outcome::StepLimit,
            sale: None,
        });
        self.settle_sale(world, &state, &close)?;
        let m = rules::metrics(&state.values, close.sale.as_ref());
        let revealed = self.revealed(&state);
        self.record_outcome(ctx, &state, &close, &m, &revealed)?;
        if ctx.reads_text {
            self.remember(world, ctx.round, &state, &close, &revealed);
        }
        world
            .get_resource_or_init::<ClosedLots>()
            .0
            .push(LotOutcome {
                lot: state.index,
                close,
                metrics: m,
                steps: state.step,
            });
        if state.index + 1 >= self.spec.lots.len() {
            return Ok(Flow::Stop("lots_complete".into()));
        }
        Ok(Flow::Continue)
    }

    fn finish(&mut self, world: &mut World, ctx: &mut RoundCtx<'_>) -> Result<(), RunError> {
        let table = self.tables.bidders;
        for (i, &entity) in self.bidders.iter().enumerate() {
            let wallet = world.get::<Wallet>(entity).copied().unwrap_or_default();
            let tally = world.get::<Tally>(entity).copied().unwrap_or_default();
            ctx.recorder
                .row(table, ctx.round, Some(AgentId(i as u32)))?
                .opt_f64(wallet.budget)
                .f64(wallet.spent)
                .opt_f64(wallet.left())
                .u32(tally.won)
                .f64(tally.surplus)
                .u32(tally.decisions)
                .u32(tally.fallbacks)
                .end();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decision_payloads_are_json() {
        let lot = Value::String("a \"b\"".into()).to_string();
        let payload = decision_payload(&lot, 3, Some(12.5), None, "valid");
        let parsed: Value = serde_json::from_str(&payload).unwrap();
        assert_eq!(
            parsed,
            json!({"lot": "a \"b\"", "step": 3, "price": 12.5, "amount": null, "status": "valid"})
        );
    }
}
