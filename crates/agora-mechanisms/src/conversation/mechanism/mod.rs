//! A debate or focus group as a [`Mechanism`] of the round scheduler.
//!
//! A round is a sequence of steps: every few rounds a memory consolidation step
//! (everyone with items to fold in); before round 1 a private opinion from everyone;
//! one step per speaker, in the round's speaking order, so each speaker's prompt holds
//! what was said before it (or, with `order: Simultaneous`, one step in which every
//! speaker answers the conversation as it stood at the end of the previous round, and
//! the messages are heard afterwards in agent-id order); then a private opinion from
//! everyone. Public messages are
//! events heard by the speaker's audience (its neighbours in the social graph, or
//! everyone); each agent's memory receives the projection of every event it may know
//! about ([`super::view`]).

use std::collections::VecDeque;
use std::sync::Arc;

use agora_core::components::{
    AgentId, Demographics, Identity, Memory, MemoryKind, PopulationSchema, Traits,
};
use agora_core::intervention::{Action, Intervention, Interventions, reached};
use agora_core::memory::{MemoryBudget, truncate_line};
use agora_core::persona::{PersonaView, persona_card};
use agora_core::record::RunInfo;
use agora_core::registry::Build;
use agora_core::seed::purpose;
use agora_core::text::WordCounts;
use agora_core::world::Roster;
use agora_core::{Ask, Decision, Flow, Mechanism, RoundCtx};
use agora_core::{Event, RunError, Visibility};
use agora_export::TableId;
use agora_model::{ChatMessage, ChatRequest, ChatResponse, LlmError, SamplingParams};
use agora_population::graph::SocialGraph;
use bevy_ecs::prelude::*;
use rand::RngExt;
use rand::seq::SliceRandom;
use serde_json::{Value, json};

use super::metrics::{self, mean};
use super::policy::{TurnFacts, rule_summary};
use super::prompt::{
    consolidate_task, moderate_task, moderator_system, opinion_task, speak_task, system_message,
    user_message,
};
use super::schema::{
    Held, check_message, check_opinion, check_question, check_summary, message_schema,
    opinion_schema, question_schema, summary_schema,
};
use super::settings::SpeakingOrder;
use super::setup::{Moderator, Setup};
use super::tables;
use super::termination::{RoundSignal, Stop, detect};
use super::view::{kind, project_parsed};
use super::voice::Voice;
use crate::drivers::{self, ResolvedDriver};

mod moderator;
mod record;
mod request;

/// Seed path tags after `purpose::MECHANISM, round`. Changing them changes runs.
const GRAPH_DRAW: u64 = 1;
const ORDER_DRAW: u64 = 2;
const INTERVENTION_DRAW: u64 = 3;
/// The seat of a model moderator in call seeds (agents use their ids).
const MODERATOR_SEAT: u64 = u64::MAX;

/// Most remembered items folded into a summary by one consolidation call, and the most
/// bytes of each, so a consolidation prompt stays bounded however large the group.
pub const MAX_FOLDED_ITEMS: usize = 32;
const MAX_FOLDED_BYTES: usize = 200;
/// Most stances an agent keeps of what it heard since its last turn (one that never
/// speaks keeps the newest).
const MAX_HEARD: usize = 64;

/// What a step of the round asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Consolidate,
    Prior,
    Moderate,
    Speak(usize),
    /// Every speaker of the round at once (`order: Simultaneous`).
    SpeakTogether,
    Opinion,
}

/// A consolidation's memory mark and the items folded in.
type Fold = (u64, Vec<String>);

/// What the conversation remembers about a request until its answer arrives.
pub struct Pending {
    step: Step,
    /// Consolidation: the memory mark and the items folded in.
    fold: Option<Fold>,
}

/// One agent's running state; opinions and stances are shares of the scale.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AgentState {
    opinion: f64,
    confidence: f64,
    initial: f64,
    at_round_start: f64,
    spoke: u32,
    last_public: Option<f64>,
    /// Public stance and turn of this round's message, if it spoke.
    public_now: Option<(f64, u32)>,
    /// Stances heard since its last turn, and during this round.
    heard: Vec<f64>,
    heard_round: Vec<f64>,
    /// The last speaker it heard and the stance taken.
    last_heard: Option<(u32, f64)>,
}

struct Tables {
    messages: TableId,
    opinions: TableId,
    metrics: TableId,
    answers: Option<TableId>,
    end: TableId,
}

/// Per-round accumulators of message metrics.
#[derive(Default)]
struct RoundTally {
    echo: Vec<f64>,
    drift: Vec<f64>,
    novelty: Vec<f64>,
    words: Vec<WordCounts>,
}

/// Everything a conversation changes from round to round, kept in the world as a
/// resource so that a snapshot after any round continues the run exactly. A hook that
/// changes it checks it out of the world and back in before returning; hooks that only
/// read (requests) read it in the world.
#[derive(Resource, Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ConversationState {
    /// Per agent, in id order.
    agents: Vec<AgentState>,
    /// The previous message's words (for the echo score).
    previous: Option<WordCounts>,
    /// Messages of earlier rounds, newest last, for novelty.
    earlier: VecDeque<Vec<WordCounts>>,
    /// One signal per round played, for the stopping rules.
    history: Vec<RoundSignal>,
    /// Per intervention of the run, the round it fired in.
    #[serde(default)]
    fired: Vec<Option<u32>>,
}

/// Marks the entity of a model moderator (it is not an agent of the population).
#[derive(
    Component, Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize,
)]
pub struct ModeratorSeat;

/// A running debate or focus group.
pub struct Conversation {
    setup: Arc<Setup>,
    params: SamplingParams,
    message_schema: Arc<Value>,
    opinion_schema: Arc<Value>,
    summary_schema: Arc<Value>,
    question_schema: Arc<Value>,
    system: String,
    tables: Tables,
    agents: Vec<Entity>,
    names: Vec<String>,
    cards: Vec<String>,
    card_words: Vec<WordCounts>,
    personas: Vec<String>,
    agreeableness: Vec<f64>,
    prior_scores: Vec<f64>,
    /// Per stimulus: per agent, its push on the rating.
    stimulus_shift: Vec<Vec<f64>>,
    /// The run's interventions, each with the agents it reaches.
    interventions: Vec<(Intervention, Vec<usize>)>,
    /// Per intervention, the round it fired in (a copy of the state's, readable while
    /// the state is in the world).
    fired: Vec<Option<u32>>,
    graph: SocialGraph,
    /// The run's state, checked out of the world during a hook that changes it
    /// (see [`ConversationState`]); empty otherwise.
    st: ConversationState,
    /// The round's steps, and the one being played.
    steps: Vec<Step>,
    cursor: usize,
    speakers: Vec<u32>,
    tally: RoundTally,
    /// Why the conversation stopped, set in its last round and read by `finish`.
    stop: Option<Stop>,
    /// A model moderator's entity (it is not an agent of the population).
    moderator: Option<Entity>,
    /// The question asked this round (focus groups).
    asked: Option<String>,
    /// Answers of a simultaneous step, held until every speaker has answered and then
    /// heard in agent-id order.
    together: Vec<(usize, Result<crate::conversation::schema::Said, String>)>,
}

fn failure(message: impl Into<String>) -> RunError {
    RunError::Mechanism {
        mechanism: "conversation",
        message: message.into(),
    }
}

/// A few persona facts for rule-based messages ("age 34, region north").
fn persona_facts(schema: &PopulationSchema, demographics: &Demographics) -> String {
    demographics
        .0
        .iter()
        .enumerate()
        .take(3)
        .filter_map(|(i, v)| {
            let def = schema.attributes.get(i)?;
            Some(format!(
                "{} {}",
                def.name.replace('_', " "),
                schema.display_value(i, v)
            ))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl Conversation {
    /// Build the conversation of `setup` for a run: open its tables, learn the
    /// agents' names, persona cards and rule-based priors, draw the audience graph.
    pub fn build(setup: &Setup, build: Build<'_>) -> Result<Self, RunError> {
        let recorder = build.recorder;
        let tables = Tables {
            messages: recorder.open(tables::messages_table())?,
            opinions: recorder.open(tables::opinions_table())?,
            metrics: recorder.open(tables::metrics_table())?,
            answers: if setup.kind.answers_table {
                Some(recorder.open(tables::focus_group_answers_table())?)
            } else {
                None
            },
            end: recorder.open(tables::conversation_end_table())?,
        };
        let mut conversation = Self {
            message_schema: Arc::new(message_schema(setup.max_chars, &setup.scale)),
            opinion_schema: Arc::new(opinion_schema(&setup.scale)),
            summary_schema: Arc::new(summary_schema(setup.memory.summary_chars)),
            question_schema: Arc::new(question_schema()),
            system: system_message(setup),
            setup: Arc::new(setup.clone()),
            params: build.params,
            tables,
            agents: Vec::new(),
            names: Vec::new(),
            cards: Vec::new(),
            card_words: Vec::new(),
            personas: Vec::new(),
            agreeableness: Vec::new(),
            prior_scores: Vec::new(),
            stimulus_shift: Vec::new(),
            interventions: Vec::new(),
            fired: Vec::new(),
            graph: SocialGraph::complete(0),
            st: ConversationState::default(),
            steps: Vec::new(),
            cursor: 0,
            speakers: Vec::new(),
            tally: RoundTally::default(),
            stop: None,
            moderator: None,
            asked: None,
            together: Vec::new(),
        };
        conversation.learn_agents(build.world, build.info)?;
        // A restored world already holds the moderator of the run.
        conversation.moderator = build
            .world
            .iter_entities()
            .find(|e| e.contains::<ModeratorSeat>())
            .map(|e| e.id());
        Ok(conversation)
    }

    /// The step being played.
    fn asking(&self) -> Step {
        self.steps
            .get(self.cursor)
            .copied()
            .unwrap_or(Step::Opinion)
    }

    /// An agent's request in the current step, if it has one.
    fn agent_request(
        &self,
        world: &World,
        ctx: &RoundCtx<'_>,
        agent: Entity,
        call: u32,
    ) -> Option<(ChatRequest, Pending)> {
        let i = self.index(world, agent)?;
        let (facts, fold) = self.facts(world, i, ctx)?;
        let messages = if ctx.reads_text {
            self.render(world, i, ctx, fold.as_ref())?
        } else {
            Vec::new()
        };
        let request = self.chat_request(ctx, (i as u64, call), messages, facts);
        Some((
            request,
            Pending {
                step: self.asking(),
                fold,
            },
        ))
    }

    /// Learn what the conversation needs to know of its agents (names, persona cards,
    /// rule-based priors and stimulus pushes) and draw the audience graph.
    fn learn_agents(&mut self, world: &World, info: &RunInfo) -> Result<(), RunError> {
        let roster = world.get_resource::<Roster>().cloned().unwrap_or_default();
        let schema = world
            .get_resource::<PopulationSchema>()
            .cloned()
            .unwrap_or_default();
        let view = world
            .get_resource::<PersonaView>()
            .copied()
            .unwrap_or_default();
        let priors = Self::weighted(world, &self.setup.rules.drivers)?;
        let mut stimulus_drivers = Vec::new();
        for s in &self.setup.stimuli {
            stimulus_drivers.push(Self::weighted(world, &s.drivers)?);
        }
        let n = roster.len();
        self.stimulus_shift = vec![Vec::with_capacity(n); self.setup.stimuli.len()];
        for (i, &entity) in roster.0.iter().enumerate() {
            if world.get::<AgentId>(entity).map(|a| a.0 as usize) != Some(i) {
                return Err(failure("agents must be numbered in roster order"));
            }
            let identity = world.get::<Identity>(entity).cloned().unwrap_or_default();
            let demographics = world
                .get::<Demographics>(entity)
                .cloned()
                .unwrap_or_default();
            let traits = world.get::<Traits>(entity).cloned().unwrap_or_default();
            let card = persona_card(&schema, &identity, &demographics, &traits, view);
            self.card_words.push(WordCounts::of(&card));
            self.cards.push(card);
            self.personas.push(persona_facts(&schema, &demographics));
            self.names.push(identity.name.clone());
            // Conformity follows agreeableness only where prompts show the personality.
            self.agreeableness.push(if view.shows_traits() {
                f64::from(traits.big_five[3])
            } else {
                0.5
            });
            let side = match self.setup.side_of(i as u32) {
                Some((0, _)) => 1.0,
                Some(_) => -1.0,
                None => 0.0,
            };
            let rules = &self.setup.rules;
            self.prior_scores.push(
                rules.intercept
                    + side * rules.side_shift
                    + drivers::score(&priors, &traits, &demographics),
            );
            for ((stimulus, d), shifts) in self
                .setup
                .stimuli
                .iter()
                .zip(&stimulus_drivers)
                .zip(&mut self.stimulus_shift)
            {
                shifts.push(stimulus.effect + drivers::score(d, &traits, &demographics));
            }
        }
        self.agents = roster.0;
        let mut rng = info.seeds.rng(&[purpose::MECHANISM, 0, GRAPH_DRAW]);
        self.graph = SocialGraph::build(&self.setup.audience, n, &mut rng)
            .map_err(|e| failure(format!("building the audience graph: {e}")))?;
        self.learn_interventions(world, info);
        Ok(())
    }

    /// Resolve whom each of the run's interventions reaches (a random share is drawn
    /// from the run's seed, so a resumed run reaches the same agents).
    fn learn_interventions(&mut self, world: &World, info: &RunInfo) {
        let list = world
            .get_resource::<Interventions>()
            .map(|i| i.0.clone())
            .unwrap_or_default();
        let schema = world
            .get_resource::<PopulationSchema>()
            .cloned()
            .unwrap_or_default();
        let n = self.agents.len();
        self.interventions = list
            .into_iter()
            .enumerate()
            .map(|(k, intervention)| {
                let mut rng = info
                    .seeds
                    .rng(&[purpose::MECHANISM, 0, INTERVENTION_DRAW, k as u64]);
                let category = |i: usize, spec: &str| {
                    let Some((attr, level)) = spec.split_once('=') else {
                        return false;
                    };
                    let (Some(a), Some(d)) = (
                        schema.attribute_index(attr),
                        world.get::<Demographics>(self.agents[i]),
                    ) else {
                        return false;
                    };
                    d.0.get(a)
                        .is_some_and(|v| schema.display_value(a, v) == level)
                };
                let degree = |i: usize| self.graph.neighbours(i as u32).len();
                let reached = reached(
                    &intervention.to,
                    n,
                    || rng.random::<f64>(),
                    category,
                    degree,
                );
                (intervention, reached)
            })
            .collect();
    }

    /// Fire the interventions due at the start of this round: their message goes into
    /// the memories of the agents reached, and an `intervention` event records it.
    fn intervene(&mut self, world: &mut World, ctx: &mut RoundCtx<'_>) -> Result<(), RunError> {
        if self.interventions.is_empty() {
            return Ok(());
        }
        self.st.fired.resize(self.interventions.len(), None);
        let n = self.st.agents.len().max(1) as f64;
        let mean = self
            .setup
            .scale
            .point(self.st.agents.iter().map(|s| s.opinion).sum::<f64>() / n);
        for k in 0..self.interventions.len() {
            let (intervention, reached) = &self.interventions[k];
            if self.st.fired[k].is_some() || !intervention.fires(ctx.round, mean) {
                continue;
            }
            self.st.fired[k] = Some(ctx.round);
            let Action::Broadcast { text, .. } = &intervention.action;
            for &i in reached {
                if let Some(mut memory) = world.get_mut::<Memory>(self.agents[i]) {
                    memory.remember(
                        ctx.round,
                        MemoryKind::Saw,
                        format!("A message reached you: {text}"),
                    );
                }
            }
            let payload = json!({
                "id": intervention.id,
                "action": "broadcast",
                "text": text,
                "reached": reached.len(),
                "mean_opinion": mean,
            })
            .to_string();
            ctx.emit(Event {
                round: ctx.round,
                actor: None,
                kind: kind::INTERVENTION,
                target: None,
                visibility: Visibility::Private,
                payload,
            })?;
        }
        self.fired = self.st.fired.clone();
        Ok(())
    }

    /// The interventions' shift agent `i` feels this round (rule-based backend).
    fn intervention_shift(&self, i: usize, round: u32) -> f64 {
        self.interventions
            .iter()
            .zip(&self.fired)
            .filter(|((_, reached), fired)| {
                **fired == Some(round) && reached.binary_search(&i).is_ok()
            })
            .map(|((intervention, _), _)| {
                let Action::Broadcast { effect, .. } = intervention.action;
                effect
            })
            .sum()
    }

    fn label(&self) -> &'static str {
        self.setup.kind.label
    }

    fn budget(&self) -> MemoryBudget {
        let m = &self.setup.memory;
        MemoryBudget {
            recent: m.recent as usize,
            relevant: m.relevant as usize,
            max_chars: m.max_chars as usize,
        }
    }

    /// Resolve drivers or fail naming the one that matches nothing.
    fn weighted(
        world: &World,
        list: &[(String, f64)],
    ) -> Result<Vec<(ResolvedDriver, f64)>, RunError> {
        drivers::resolve_shown(world, list).map_err(|e| failure(e.to_string()))
    }

    /// Put `event` into the memory of everyone who may know of it, then record it.
    fn tell(
        &mut self,
        world: &mut World,
        ctx: &mut RoundCtx<'_>,
        event: Event,
    ) -> Result<(), RunError> {
        let names = &self.names;
        let name = |a: AgentId| names.get(a.0 as usize).map_or("Someone", String::as_str);
        // One parse of the payload for every viewer.
        if let Ok(payload) = serde_json::from_str::<Value>(&event.payload) {
            for (i, &entity) in self.agents.iter().enumerate() {
                if let Some((kind, line)) =
                    project_parsed(&event, &payload, AgentId(i as u32), name)
                    && let Some(mut memory) = world.get_mut::<Memory>(entity)
                {
                    memory.remember(event.round, kind, line);
                }
            }
            // A moderator hears what everyone may hear, as an outsider.
            if let Some(entity) = self.moderator
                && let Some((kind, line)) =
                    project_parsed(&event, &payload, AgentId(u32::MAX), name)
                && let Some(mut memory) = world.get_mut::<Memory>(entity)
            {
                memory.remember(event.round, kind, line);
            }
        }
        ctx.emit(event)
    }

    /// This round's speakers, in order.
    fn speaking_order(&self, ctx: &RoundCtx<'_>) -> Vec<u32> {
        let n = self.agents.len() as u32;
        let mut order: Vec<u32> = (0..n).collect();
        match self.setup.order {
            SpeakingOrder::Fixed => {}
            SpeakingOrder::Random => {
                let mut rng =
                    ctx.info
                        .seeds
                        .rng(&[purpose::MECHANISM, u64::from(ctx.round), ORDER_DRAW]);
                order.shuffle(&mut rng);
            }
            SpeakingOrder::Moderator => {
                let publics: Vec<f64> = self
                    .st
                    .agents
                    .iter()
                    .filter_map(|s| s.last_public)
                    .collect();
                let centre = mean(&publics).unwrap_or(0.5);
                let distance = |i: u32| {
                    self.st.agents[i as usize]
                        .last_public
                        .map_or(0.0, |p| (p - centre).abs())
                };
                order.sort_by(|&a, &b| {
                    let (sa, sb) = (&self.st.agents[a as usize], &self.st.agents[b as usize]);
                    sa.spoke
                        .cmp(&sb.spoke)
                        .then(distance(b).total_cmp(&distance(a)))
                        .then(a.cmp(&b))
                });
            }
            SpeakingOrder::Simultaneous => {
                // With a cap, those who spoke least take the round's seats (then by id).
                if self.setup.speakers_per_round.is_some() {
                    order.sort_by_key(|&i| (self.st.agents[i as usize].spoke, i));
                }
            }
        }
        if let Some(cap) = self.setup.speakers_per_round {
            order.truncate(cap as usize);
        }
        if self.setup.order.is_simultaneous() {
            // Heard in agent-id order.
            order.sort_unstable();
        }
        order
    }

    fn index(&self, world: &World, agent: Entity) -> Option<usize> {
        world
            .get::<AgentId>(agent)
            .map(|id| id.0 as usize)
            .filter(|&i| i < self.agents.len())
    }

    fn voice(&self, i: usize, round: u32, state: &AgentState) -> Voice {
        Voice {
            topic: self.setup.short_topic().to_string(),
            question: self
                .asked
                .clone()
                .filter(|_| self.setup.question(round).is_some()),
            side: self.setup.side_of(i as u32).map(|(_, s)| s.to_string()),
            persona: self.personas[i].clone(),
            previous: state
                .last_heard
                .map(|(who, stance)| (self.names[who as usize].clone(), stance)),
        }
    }

    /// The shift agent `i` feels this round from stimuli and interventions.
    fn shift(&self, i: usize, round: u32) -> f64 {
        self.setup
            .stimuli
            .iter()
            .zip(&self.stimulus_shift)
            .filter(|(s, _)| s.round == round)
            .map(|(_, shifts)| shifts[i])
            .sum::<f64>()
            + self.intervention_shift(i, round)
    }
}

impl Mechanism for Conversation {
    type Pending = Pending;

    fn max_rounds(&self) -> u32 {
        self.setup.rounds
    }

    fn setup(&mut self, world: &mut World, _ctx: &mut RoundCtx<'_>) -> Result<(), RunError> {
        for &entity in &self.agents {
            world
                .entity_mut(entity)
                .insert(Memory::with_capacity(self.setup.memory.capacity));
        }
        if self.setup.moderator == Moderator::Model {
            let memory = Memory::with_capacity(self.setup.memory.capacity);
            self.moderator = Some(world.spawn((ModeratorSeat, memory)).id());
        }
        world.insert_resource(ConversationState {
            agents: vec![
                AgentState {
                    confidence: 0.5,
                    ..Default::default()
                };
                self.agents.len()
            ],
            ..Default::default()
        });
        Ok(())
    }

    fn start_round(&mut self, world: &mut World, ctx: &mut RoundCtx<'_>) -> Result<(), RunError> {
        self.checked_out(world, |c, world| c.round_start(world, ctx))
    }

    fn next_step(&self, world: &World, _ctx: &RoundCtx<'_>) -> Option<Vec<Entity>> {
        self.step_actors(world)
    }

    fn end_step(&mut self, world: &mut World, ctx: &mut RoundCtx<'_>) -> Result<(), RunError> {
        if self.asking() == Step::SpeakTogether {
            self.checked_out(world, |c, world| c.hear_together(world, ctx))?;
        }
        self.cursor += 1;
        Ok(())
    }

    fn request(&self, world: &World, ctx: &RoundCtx<'_>, agent: Entity, call: u32) -> Ask<Pending> {
        self.ask_of(world, ctx, agent, call)
    }

    fn resolve(
        &mut self,
        world: &mut World,
        ctx: &mut RoundCtx<'_>,
        agent: Entity,
        pending: Pending,
        answer: Result<&ChatResponse, &LlmError>,
    ) -> Result<Decision, RunError> {
        self.checked_out(world, |c, world| {
            c.resolve_answer(world, ctx, agent, pending, answer)
        })
    }

    fn end_round(&mut self, world: &mut World, ctx: &mut RoundCtx<'_>) -> Result<Flow, RunError> {
        self.checked_out(world, |c, world| c.round_end(world, ctx))
    }

    fn finish(&mut self, world: &mut World, ctx: &mut RoundCtx<'_>) -> Result<(), RunError> {
        self.record_end(world, ctx)
    }
}

impl Conversation {
    /// Run `f` with the run's state checked out of the world into `self.st`, and put
    /// it back whatever `f` returns.
    fn checked_out<T>(
        &mut self,
        world: &mut World,
        f: impl FnOnce(&mut Self, &mut World) -> Result<T, RunError>,
    ) -> Result<T, RunError> {
        self.st = world
            .remove_resource::<ConversationState>()
            .ok_or_else(|| failure("the conversation's state is missing from the world"))?;
        let result = f(self, world);
        world.insert_resource(std::mem::take(&mut self.st));
        result
    }

    fn round_start(&mut self, world: &mut World, ctx: &mut RoundCtx<'_>) -> Result<(), RunError> {
        for s in &mut self.st.agents {
            s.at_round_start = s.opinion;
            s.public_now = None;
            s.heard_round.clear();
        }
        self.tally = RoundTally::default();
        self.asked = None;
        self.intervene(world, ctx)?;
        let script = self.setup.question(ctx.round).cloned();
        if let Some(q) = &script
            && self.moderator.is_none()
        {
            self.ask(world, ctx, q.text.clone())?;
        }
        let shown: Vec<_> = self
            .setup
            .stimuli
            .iter()
            .filter(|s| s.round == ctx.round)
            .cloned()
            .collect();
        for s in shown {
            let payload = json!({ "id": s.id, "title": s.title, "text": s.text }).to_string();
            self.tell(
                world,
                ctx,
                moderator_event(ctx.round, kind::STIMULUS, payload),
            )?;
        }
        self.speakers = self.speaking_order(ctx);
        self.steps.clear();
        self.cursor = 0;
        let every = self.setup.memory.consolidate_every;
        if ctx.round > 1 && every > 0 && (ctx.round - 1).is_multiple_of(every) {
            self.steps.push(Step::Consolidate);
        }
        if ctx.round == 1 {
            self.steps.push(Step::Prior);
        }
        if script.is_some() && self.moderator.is_some() {
            self.steps.push(Step::Moderate);
        }
        if !self.setup.order.is_simultaneous() {
            self.steps.extend((0..self.speakers.len()).map(Step::Speak));
        } else if !self.speakers.is_empty() {
            self.steps.push(Step::SpeakTogether);
        }
        self.together.clear();
        self.steps.push(Step::Opinion);
        Ok(())
    }

    fn step_actors(&self, world: &World) -> Option<Vec<Entity>> {
        let step = *self.steps.get(self.cursor)?;
        Some(match step {
            Step::Speak(turn) => vec![self.agents[self.speakers[turn] as usize]],
            Step::SpeakTogether => self
                .speakers
                .iter()
                .map(|&i| self.agents[i as usize])
                .collect(),
            Step::Consolidate => {
                let recent = self.setup.memory.recent as usize;
                self.agents
                    .iter()
                    .copied()
                    .filter(|&e| {
                        world
                            .get::<Memory>(e)
                            .is_some_and(|m| !m.to_consolidate(recent).0.is_empty())
                    })
                    .collect()
            }
            Step::Prior | Step::Opinion => self.agents.clone(),
            Step::Moderate => self.moderator.into_iter().collect(),
        })
    }

    fn ask_of(&self, world: &World, ctx: &RoundCtx<'_>, agent: Entity, call: u32) -> Ask<Pending> {
        let asked = if Some(agent) == self.moderator {
            self.moderator_request(world, ctx, call)
        } else {
            self.agent_request(world, ctx, agent, call)
        };
        match asked {
            Some((request, pending)) => Ask::Request(request, pending),
            None => Ask::Decline(format!(
                "nothing to ask in step {:?} of round {}",
                self.asking(),
                ctx.round
            )),
        }
    }

    fn resolve_answer(
        &mut self,
        world: &mut World,
        ctx: &mut RoundCtx<'_>,
        agent: Entity,
        pending: Pending,
        answer: Result<&ChatResponse, &LlmError>,
    ) -> Result<Decision, RunError> {
        if pending.step == Step::Moderate {
            return self.moderated(world, ctx, answer);
        }
        let Some(i) = self.index(world, agent) else {
            return Ok(Decision::Fallback("agent has no id".into()));
        };
        let scale = self.setup.scale.clone();
        let max_chars = self.setup.max_chars;
        match pending.step {
            Step::Prior | Step::Opinion => {
                let held = checked(answer, |v| check_opinion(v, &scale));
                self.record_opinion(world, ctx, i, held, pending.step == Step::Prior)
            }
            Step::Speak(turn) => {
                let said = checked(answer, |v| check_message(v, max_chars, &scale));
                self.record_message(world, ctx, i, turn, said, true)
            }
            Step::SpeakTogether => {
                // Nobody hears anything before everyone has answered (`end_step`).
                let said = checked(answer, |v| check_message(v, max_chars, &scale));
                let decision = match &said {
                    Ok(_) => Decision::Valid,
                    Err(reason) => Decision::Fallback(reason.clone()),
                };
                self.together.push((i, said));
                Ok(decision)
            }
            Step::Consolidate => self.consolidate(world, ctx, i, pending.fold, answer),
            Step::Moderate => Ok(Decision::Fallback("not a moderator".into())),
        }
    }

    /// After a simultaneous step: every speaker has spoken (so what each heard before
    /// now lies behind its turn), then everyone hears every message in agent-id order.
    /// All of them speak at turn 1, and each message's echo is measured against the
    /// last message before the step, the last one its speaker could have heard.
    fn hear_together(&mut self, world: &mut World, ctx: &mut RoundCtx<'_>) -> Result<(), RunError> {
        let mut said = std::mem::take(&mut self.together);
        said.sort_by_key(|(i, _)| *i);
        for (i, answer) in &said {
            if answer.is_ok() {
                self.st.agents[*i].heard.clear();
            }
        }
        let before = self.st.previous.clone();
        let mut last = before.clone();
        for (i, answer) in said {
            let spoke = answer.is_ok();
            self.st.previous = before.clone();
            self.record_message(world, ctx, i, 0, answer, false)?;
            if spoke {
                last = self.st.previous.take();
            }
        }
        self.st.previous = last;
        Ok(())
    }

    fn round_end(&mut self, _world: &mut World, ctx: &mut RoundCtx<'_>) -> Result<Flow, RunError> {
        let xs: Vec<f64> = self.st.agents.iter().map(|s| s.opinion).collect();
        let (_, var) = metrics::mean_variance(&xs);
        let signal = RoundSignal {
            spread: var.sqrt(),
            shift: metrics::mean_abs_difference(
                self.st.agents.iter().map(|s| (s.opinion, s.at_round_start)),
            )
            .unwrap_or(0.0),
            novelty: mean(&self.tally.novelty),
        };
        self.st.history.push(signal);
        let stop = detect(&self.setup.stop, &self.st.history, self.setup.rounds);
        self.write_metrics(ctx, stop.as_ref(), signal)?;
        let window = self.setup.stop.stagnation.map_or(1, |s| s.window.max(1)) as usize;
        self.st
            .earlier
            .push_back(std::mem::take(&mut self.tally.words));
        while self.st.earlier.len() > window {
            self.st.earlier.pop_front();
        }
        match stop {
            Some(stop) => {
                let payload = json!({ "reason": stop.reason, "detail": stop.detail }).to_string();
                ctx.emit(moderator_event(ctx.round, kind::STOPPED, payload))?;
                let reason = stop.reason.to_string();
                self.stop = Some(stop);
                Ok(Flow::Stop(reason))
            }
            None => Ok(Flow::Continue),
        }
    }

    fn record_end(&mut self, _world: &mut World, ctx: &mut RoundCtx<'_>) -> Result<(), RunError> {
        let (reason, detail) = match &self.stop {
            Some(stop) => (stop.reason, stop.detail.clone()),
            None => (
                "round_limit",
                format!(
                    "stopped by the run's round cap or budget after round {}",
                    ctx.round
                ),
            ),
        };
        let table = self.tables.end;
        ctx.recorder
            .row(table, ctx.round, None)?
            .str(self.label())
            .u32(ctx.round)
            .str(reason)
            .str(&detail)
            .end();
        Ok(())
    }
}

/// The checked answer, or why there is none.
fn checked<T>(
    answer: Result<&ChatResponse, &LlmError>,
    check: impl Fn(&Value) -> Result<T, String>,
) -> Result<T, String> {
    answer
        .map_err(|e| format!("no answer: {e}"))
        .and_then(|r| check(&r.answer))
}

/// An event of agent `actor`.
fn agent_event(
    round: u32,
    actor: AgentId,
    kind: &'static str,
    visibility: Visibility,
    payload: String,
) -> Event {
    Event {
        round,
        actor: Some(actor),
        kind,
        target: None,
        visibility,
        payload,
    }
}

/// A public event of the moderator (no agent acts).
fn moderator_event(round: u32, kind: &'static str, payload: String) -> Event {
    Event {
        round,
        actor: None,
        kind,
        target: None,
        visibility: Visibility::Public,
        payload,
    }
}
