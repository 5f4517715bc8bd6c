//! The survey as a [`Mechanism`] of the round scheduler.

use std::fmt::Write;
use std::sync::Arc;

use agora_core::components::{AgentId, Demographics, Memory, MemoryKind, Traits};
use agora_core::persona::persona_card_of;
use agora_core::record::keyed_table;
use agora_core::registry::Build;
use agora_core::seed::purpose;
use agora_core::world::Roster;
use agora_core::{Ask, Decision, Flow, Mechanism, RoundCtx};
use agora_core::{Event, RunError, Visibility};
use agora_export::{Column, ColumnType, TableId, TableSpec};
use agora_model::{ChatMessage, ChatRequest, ChatResponse, LlmError, SamplingParams};
use bevy_ecs::prelude::*;
use rand::seq::SliceRandom;
use serde_json::Value;

use super::answer::{Answer, validate_answer};
use super::policy::SurveyFacts;
use super::prompt::{render_item, user_message};
use super::schema::request_schema;
use super::spec::{ItemKind, SurveyMode, SurveySpec};
use crate::drivers::{self, ResolvedDriver};

/// `survey_responses`: one row per agent and item.
pub fn survey_responses_table() -> TableSpec {
    keyed_table(
        "survey_responses",
        vec![
            Column::required("item_id", ColumnType::Utf8),
            Column::required("item_kind", ColumnType::Utf8),
            Column::optional("answer_value", ColumnType::F64),
            Column::optional("answer_label", ColumnType::Utf8),
            Column::optional("option_order", ColumnType::Utf8),
            Column::optional("shown_position", ColumnType::U32),
            Column::required("status", ColumnType::Utf8),
            Column::optional("fallback_reason", ColumnType::Utf8),
        ],
    )
}

/// What the survey remembers about a request: the items asked and their option orders.
pub struct Pending {
    items: Vec<(u16, Option<Box<[u16]>>)>,
}

/// A running survey.
pub struct Survey {
    spec: Arc<SurveySpec>,
    params: SamplingParams,
    /// Request schema per round (one per item, or one for all items at once).
    schemas: Vec<Arc<Value>>,
    /// Per item: resolved drivers with their weights.
    drivers: Vec<Vec<(ResolvedDriver, f64)>>,
    /// Per item: its id as a JSON string, for event payloads.
    item_json: Vec<String>,
    table: TableId,
    /// Whether this round's one step has been played.
    stepped: bool,
}

impl Survey {
    /// Build the survey of `spec` for a run: resolve each item's drivers against the
    /// population and open `survey_responses`.
    pub fn build(spec: &SurveySpec, build: Build<'_>) -> Result<Self, RunError> {
        let schemas = match spec.mode {
            SurveyMode::OnePerRound => spec
                .items
                .iter()
                .map(|i| Arc::new(request_schema(&[i])))
                .collect(),
            SurveyMode::AllAtOnce => vec![Arc::new(request_schema(
                &spec.items.iter().collect::<Vec<_>>(),
            ))],
        };
        let item_json = spec
            .items
            .iter()
            .map(|i| Value::String(i.id.clone()).to_string())
            .collect();
        let mut per_item = Vec::with_capacity(spec.items.len());
        for item in &spec.items {
            per_item.push(
                drivers::resolve_shown(build.world, &item.drivers).map_err(|e| {
                    RunError::Mechanism {
                        mechanism: "survey",
                        message: format!("item \"{}\": {e}", item.id),
                    }
                })?,
            );
        }
        Ok(Self {
            spec: Arc::new(spec.clone()),
            params: build.params,
            schemas,
            drivers: per_item,
            item_json,
            table: build.recorder.open(survey_responses_table())?,
            stepped: false,
        })
    }

    fn items_of_round(&self, round: u32) -> std::ops::Range<usize> {
        match self.spec.mode {
            SurveyMode::OnePerRound => {
                let i = (round as usize)
                    .saturating_sub(1)
                    .min(self.spec.items.len());
                i..(i + 1).min(self.spec.items.len())
            }
            SurveyMode::AllAtOnce => 0..self.spec.items.len(),
        }
    }

    fn option_order(&self, ctx: &RoundCtx<'_>, agent: AgentId, item: usize) -> Option<Box<[u16]>> {
        let ItemKind::SingleChoice { options } = &self.spec.items[item].kind else {
            return None;
        };
        if !self.spec.shuffle_options {
            return None;
        }
        let mut order: Vec<u16> = (0..options.len() as u16).collect();
        let mut rng = ctx
            .info
            .seeds
            .rng(&[purpose::PRESENTATION, u64::from(agent.0), item as u64]);
        order.shuffle(&mut rng);
        Some(order.into_boxed_slice())
    }

    fn record(
        &self,
        world: &mut World,
        ctx: &mut RoundCtx<'_>,
        agent: Entity,
        id: AgentId,
        (item, order): (usize, Option<&[u16]>),
        result: Result<Answer, String>,
    ) -> Result<(), RunError> {
        let spec = &self.spec.items[item];
        let table = self.table;
        // Numeric value, text label, and the answer as JSON for the event payload.
        let mut payload = String::with_capacity(48);
        payload.push_str("{\"item\":");
        payload.push_str(&self.item_json[item]);
        payload.push_str(",\"answer\":");
        let (value, label): (Option<f64>, Option<&str>) = match &result {
            Ok(Answer::Point(p)) => {
                let _ = write!(payload, "{p}");
                let label = match &spec.kind {
                    ItemKind::Likert { labels, .. } => {
                        labels.get(usize::from(*p) - 1).map(String::as_str)
                    }
                    _ => None,
                };
                (Some(f64::from(*p)), label)
            }
            Ok(Answer::Choice(c)) => {
                let label = match &spec.kind {
                    ItemKind::SingleChoice { options } => {
                        options.get(usize::from(*c)).map(String::as_str)
                    }
                    _ => None,
                };
                push_json_string(&mut payload, label.unwrap_or_default());
                (Some(f64::from(*c) + 1.0), label)
            }
            Ok(Answer::Number(x)) => {
                payload.push_str(&Value::from(*x).to_string());
                (Some(*x), None)
            }
            Ok(Answer::Text(t)) => {
                push_json_string(&mut payload, t);
                (None, Some(t.as_str()))
            }
            Err(_) => {
                payload.push_str("null");
                (None, None)
            }
        };
        payload.push('}');
        let shown = match (&result, order) {
            (Ok(Answer::Choice(c)), Some(order)) => {
                order.iter().position(|o| o == c).map(|p| p as u32 + 1)
            }
            (Ok(Answer::Choice(c)), None) => Some(u32::from(*c) + 1),
            _ => None,
        };
        let order_text = order.map(|o| {
            o.iter()
                .map(|i| (i + 1).to_string())
                .collect::<Vec<_>>()
                .join(",")
        });
        let (status, reason) = match &result {
            Ok(_) => ("valid", None),
            Err(reason) => ("fallback", Some(reason.as_str())),
        };
        ctx.recorder
            .row(table, ctx.round, Some(id))?
            .str(&spec.id)
            .str(spec.kind.label())
            .opt_f64(value)
            .opt_str(label)
            .opt_str(order_text.as_deref())
            .opt_u32(shown)
            .str(status)
            .opt_str(reason)
            .end();
        ctx.emit(Event {
            round: ctx.round,
            actor: Some(id),
            kind: "answer",
            target: None,
            visibility: Visibility::Private,
            payload,
        })?;
        if ctx.reads_text
            && let Some(mut memory) = world.get_mut::<Memory>(agent)
        {
            let said = match (label, value) {
                (Some(l), _) => l.to_string(),
                (None, Some(v)) => agora_core::components::format_number(v),
                (None, None) => "no answer".to_string(),
            };
            memory.remember(
                ctx.round,
                MemoryKind::Thought,
                format!("- \"{}\": {said}", spec.text),
            );
        }
        Ok(())
    }
}

/// Append `text` to `out` as a JSON string literal.
fn push_json_string(out: &mut String, text: &str) {
    let _ = write!(out, "{}", Value::from(text));
}

impl Mechanism for Survey {
    type Pending = Pending;

    fn max_rounds(&self) -> u32 {
        self.spec.rounds()
    }

    fn start_round(&mut self, _world: &mut World, _ctx: &mut RoundCtx<'_>) -> Result<(), RunError> {
        self.stepped = false;
        Ok(())
    }

    fn next_step(&self, world: &World, _ctx: &RoundCtx<'_>) -> Option<Vec<Entity>> {
        if self.stepped {
            return None;
        }
        world.get_resource::<Roster>().map(|r| r.0.clone())
    }

    fn end_step(&mut self, _world: &mut World, _ctx: &mut RoundCtx<'_>) -> Result<(), RunError> {
        self.stepped = true;
        Ok(())
    }

    fn request(&self, world: &World, ctx: &RoundCtx<'_>, agent: Entity, call: u32) -> Ask<Pending> {
        let (Some(id), Some(traits), Some(demographics)) = (
            world.get::<AgentId>(agent).copied(),
            world.get::<Traits>(agent),
            world.get::<Demographics>(agent),
        ) else {
            return Ask::Decline("not an agent of the population".into());
        };
        let items = self.items_of_round(ctx.round);
        if items.is_empty() {
            return Ask::Decline("no item is asked in this round".into());
        }
        let asked: Vec<(u16, Option<Box<[u16]>>)> = items
            .clone()
            .map(|i| (i as u16, self.option_order(ctx, id, i)))
            .collect();
        let facts = SurveyFacts {
            items: items
                .clone()
                .map(|i| {
                    (
                        i as u16,
                        self.spec.items[i].intercept
                            + drivers::score(&self.drivers[i], traits, demographics),
                    )
                })
                .collect(),
        };
        let messages = if ctx.reads_text {
            let Some(card) = persona_card_of(world, agent) else {
                return Ask::Decline("the agent has no identity to put in a prompt".into());
            };
            let memory = world
                .get::<Memory>(agent)
                .map(|m| m.render(self.spec.memory_chars as usize))
                .unwrap_or_default();
            let questions: Vec<String> = asked
                .iter()
                .map(|(i, order)| render_item(&self.spec.items[usize::from(*i)], order.as_deref()))
                .collect();
            vec![
                ChatMessage::system(self.spec.instructions.clone()),
                ChatMessage::user(user_message(&card, &memory, &questions, asked.len() == 1)),
            ]
        } else {
            Vec::new()
        };
        let schema_index = match self.spec.mode {
            SurveyMode::OnePerRound => items.start,
            SurveyMode::AllAtOnce => 0,
        };
        let request = ChatRequest {
            task: super::TASK,
            messages,
            schema: self.schemas[schema_index].clone(),
            params: self.params,
            seed: ctx.call_seed(u64::from(id.0), call),
            facts: Some(Arc::new(facts)),
        };
        Ask::Request(request, Pending { items: asked })
    }

    fn resolve(
        &mut self,
        world: &mut World,
        ctx: &mut RoundCtx<'_>,
        agent: Entity,
        pending: Pending,
        answer: Result<&ChatResponse, &LlmError>,
    ) -> Result<Decision, RunError> {
        let Some(id) = world.get::<AgentId>(agent).copied() else {
            return Ok(Decision::Fallback("agent has no id".into()));
        };
        let single = pending.items.len() == 1;
        let mut failures = Vec::new();
        for (item, order) in &pending.items {
            let item = usize::from(*item);
            let spec = &self.spec.items[item];
            let result = match answer {
                Err(e) => Err(format!("no answer: {e}")),
                Ok(response) => {
                    let key = if single { "answer" } else { spec.id.as_str() };
                    match response.answer.get(key) {
                        None => Err(format!("the answer has no \"{key}\" field")),
                        Some(value) => validate_answer(&spec.kind, value),
                    }
                }
            };
            if let Err(reason) = &result {
                failures.push(format!("{}: {reason}", spec.id));
            }
            self.record(world, ctx, agent, id, (item, order.as_deref()), result)?;
        }
        Ok(if failures.is_empty() {
            Decision::Valid
        } else {
            Decision::Fallback(failures.join("; "))
        })
    }

    fn end_round(&mut self, _world: &mut World, ctx: &mut RoundCtx<'_>) -> Result<Flow, RunError> {
        if ctx.round >= self.spec.rounds() {
            return Ok(Flow::Stop("questionnaire_complete".into()));
        }
        Ok(Flow::Continue)
    }
}
