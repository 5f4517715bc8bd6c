//! The survey as a [`Mechanism`] of the round scheduler.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;

use agora_core::components::{
    AgentId, AttrKind, AttrValue, Demographics, Identity, Memory, MemoryKind, PopulationSchema,
    Traits,
};
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
use rand::RngExt;
use rand::seq::SliceRandom;
use serde_json::Value;

use super::answer::{Answer, validate_answer};
use super::logic::{self, AttrRef, Facts, Given, PipeContext, Pipes, varies_per_respondent};
use super::policy::{AskedFact, SurveyFacts};
use super::prompt::{render_item, user_message};
use super::schema::request_schema;
use super::spec::{ItemKind, MemoryScope, OTHER, Slot, SurveyMode, SurveySpec};
use crate::drivers::{self, ResolvedDriver};

/// `survey_responses`: one row per agent and question asked, or, for kinds with
/// sub-items (multi-select, ranking, matrix, constant sum), one row per sub-item.
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
            Column::optional("loop_item", ColumnType::Utf8),
            Column::optional("sub_item", ColumnType::Utf8),
            Column::optional("sub_position", ColumnType::U32),
            Column::optional("other_text", ColumnType::Utf8),
            Column::optional("wording", ColumnType::U32),
        ],
    )
}

/// A respondent's way through a questionnaire with logic: the valid answers later
/// questions refer to (by slot, ascending), where a branch continues, and whether a
/// stop rule ended the questionnaire. Only respondents with something to keep carry
/// it, so checkpoints stay small.
#[derive(Component, Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SurveyProgress {
    /// (slot, answer) of the valid answers kept, by ascending slot.
    pub given: Vec<(u32, Given)>,
    /// Slots before this one are passed over (set by a branch).
    pub resume_at: u32,
    /// A stop rule ended the questionnaire.
    pub stopped: bool,
}

/// One question of a request: its slot, the shown order of its options (canonical
/// indices) and its kind as asked.
type AskedQuestion = (u16, Option<Box<[u16]>>, Arc<ItemKind>);

/// What the survey remembers about a request: the questions asked.
pub struct Pending {
    items: Vec<AskedQuestion>,
}

/// One question as asked, prepared at build time.
struct SlotPlan {
    slot: Slot,
    /// Answer key in multi-question replies: the item id, `id:loop_item` in loops.
    key: String,
    /// The key as a JSON string, for event payloads.
    key_json: String,
    /// The loop item's id.
    loop_id: Option<String>,
    /// Text, kind and single-question schema when they do not vary per respondent.
    fixed: Option<(String, Arc<ItemKind>, Arc<Value>)>,
}

/// Seed path tag of wording draws (after agent and slot).
const WORDING_DRAW: u64 = 1;

/// A running survey.
pub struct Survey {
    spec: Arc<SurveySpec>,
    /// The run's seeds (wordings are drawn from them).
    seeds: agora_core::SeedStream,
    params: SamplingParams,
    slots: Vec<SlotPlan>,
    /// Slot of (item, loop item) for looped items, (item, None) otherwise.
    slot_of: HashMap<(u16, Option<u16>), usize>,
    /// Schema of an all-at-once request, when no question varies per respondent.
    all_schema: Option<Arc<Value>>,
    /// Per item: resolved drivers with their weights, and the score's scale.
    drivers: Vec<(Vec<(ResolvedDriver, f64)>, f64)>,
    pipes: Pipes,
    /// Attribute indices by name, for conditions and `{{ persona.* }}`.
    attributes: HashMap<String, usize>,
    schema: PopulationSchema,
    /// Whether the survey has logic (conditions, branches, piping or memory scopes).
    logic: bool,
    /// Per item: whether its answers are kept, because a condition, placeholder or
    /// memory scope names it.
    kept: Vec<bool>,
    /// Per item: whether a memory scope `Items([...])` names it (kept only when the
    /// model reads prompts).
    kept_for_memory: Vec<bool>,
    /// Whether a memory scope of `All` or `Last(k)` needs every answer kept (when the
    /// model reads prompts).
    keep_all_for_memory: bool,
    table: TableId,
    /// This round's respondents.
    actors: Vec<Entity>,
    /// Whether this round's one step has been played.
    stepped: bool,
}

fn mechanism_error(message: String) -> RunError {
    RunError::Mechanism {
        mechanism: "survey",
        message,
    }
}

/// An agent's answers and attributes, seen from one question.
struct AgentFacts<'a> {
    survey: &'a Survey,
    progress: Option<&'a SurveyProgress>,
    demographics: &'a Demographics,
    loop_item: Option<u16>,
    /// An answer just given, not yet in `progress`.
    just: Option<(usize, Option<&'a Given>)>,
}

impl SurveyProgress {
    /// The answer kept for `slot`.
    pub fn get(&self, slot: usize) -> Option<&Given> {
        let slot = slot as u32;
        self.given
            .binary_search_by_key(&slot, |(s, _)| *s)
            .ok()
            .map(|i| &self.given[i].1)
    }
}

impl AgentFacts<'_> {
    fn slot_of(&self, id: &str) -> Option<usize> {
        let item = self.survey.spec.items.iter().position(|i| i.id == id)? as u16;
        let looped = self.survey.spec.items[usize::from(item)]
            .loop_block
            .is_some();
        let key = (item, if looped { self.loop_item } else { None });
        self.survey.slot_of.get(&key).copied()
    }
}

impl Facts for AgentFacts<'_> {
    fn answer(&self, id: &str) -> Option<&Given> {
        let slot = self.slot_of(id)?;
        if let Some((s, given)) = self.just
            && s == slot
        {
            return given;
        }
        self.progress?.get(slot)
    }

    fn attribute(&self, name: &str) -> Option<AttrRef<'_>> {
        let &i = self.survey.attributes.get(name)?;
        match self.demographics.0.get(i)? {
            AttrValue::Number(x) => Some(AttrRef::Number(*x)),
            AttrValue::Category(c) => match &self.survey.schema.attributes[i].kind {
                AttrKind::Categorical(labels) => {
                    labels.get(usize::from(*c)).map(|l| AttrRef::Category(l))
                }
                _ => None,
            },
            AttrValue::Text(t) => Some(AttrRef::Category(t)),
            AttrValue::Missing => None,
        }
    }
}

impl Survey {
    /// Build the survey of `spec` for a run: resolve each item's drivers against the
    /// population, prepare every question as asked and open `survey_responses`.
    pub fn build(spec: &SurveySpec, build: Build<'_>) -> Result<Self, RunError> {
        if let Some(issue) = logic::check(spec).into_iter().next() {
            return Err(mechanism_error(format!(
                "{}; {}",
                issue.message, issue.hint
            )));
        }
        let pipes = Pipes::compile(spec).map_err(mechanism_error)?;
        let mut slots = Vec::new();
        let mut slot_of = HashMap::new();
        for (n, slot) in spec.slots().into_iter().enumerate() {
            let item = &spec.items[usize::from(slot.item)];
            let loop_item = slot.loop_item.and_then(|li| {
                spec.loops
                    .get(usize::from(item.loop_block?))?
                    .items
                    .get(usize::from(li))
            });
            let key = match loop_item {
                Some(li) => format!("{}:{}", item.id, li.id),
                None => item.id.clone(),
            };
            let varies = !item.paraphrases.is_empty()
                || item.texts().iter().any(|t| varies_per_respondent(t));
            let fixed = if varies {
                None
            } else {
                let mut ctx = PipeContext::default();
                if let Some(li) = loop_item {
                    fill_item(&mut ctx, li);
                }
                let text = pipes.render(&item.text, &ctx).map_err(mechanism_error)?;
                let kind = item
                    .kind
                    .map_texts(|t| pipes.render(t, &ctx))
                    .map_err(|e| mechanism_error(format!("item \"{key}\": {e}")))?;
                let schema = Arc::new(request_schema(&[(key.as_str(), &kind)]));
                Some((text, Arc::new(kind), schema))
            };
            slot_of.insert((slot.item, slot.loop_item), n);
            slots.push(SlotPlan {
                slot,
                key_json: Value::String(key.clone()).to_string(),
                key,
                loop_id: loop_item.map(|li| li.id.clone()),
                fixed,
            });
        }
        let all_schema = slots
            .iter()
            .map(|s| s.fixed.as_ref().map(|(_, k, _)| (s.key.as_str(), &**k)))
            .collect::<Option<Vec<_>>>()
            .map(|asked| Arc::new(request_schema(&asked)));
        let lists: Vec<&[(String, f64)]> = spec.items.iter().map(|i| &i.drivers[..]).collect();
        let per_item = drivers::resolve_shown_each(build.world, &lists)
            .map_err(|(i, e)| mechanism_error(format!("item \"{}\": {e}", spec.items[i].id)))?
            .into_iter()
            .zip(&spec.items)
            .map(|(resolved, item)| {
                let scale = (1.0 + item.drivers.iter().map(|(_, w)| w * w).sum::<f64>()).sqrt();
                (resolved, scale)
            })
            .collect::<Vec<_>>();
        let schema = build
            .world
            .get_resource::<PopulationSchema>()
            .cloned()
            .unwrap_or_default();
        let attributes: HashMap<String, usize> = schema
            .attributes
            .iter()
            .enumerate()
            .map(|(i, a)| (a.name.clone(), i))
            .collect();
        for item in &spec.items {
            for text in item.texts() {
                let vars = logic::template_variables(text).unwrap_or_default();
                let unknown = vars.iter().find_map(|v| {
                    let name = v.strip_prefix("persona.")?;
                    (name != "name" && !attributes.contains_key(name)).then_some(name)
                });
                if let Some(name) = unknown {
                    let mut known: Vec<&str> = attributes.keys().map(String::as_str).collect();
                    known.sort_unstable();
                    return Err(mechanism_error(format!(
                        "item \"{}\": {{{{ persona.{name} }}}} names no attribute of the population; use one of: name, {}",
                        item.id,
                        known.join(", ")
                    )));
                }
            }
        }
        let mut kept = vec![false; spec.items.len()];
        let mut kept_for_memory = vec![false; spec.items.len()];
        let mut keep_all_for_memory = false;
        for item in &spec.items {
            let named: Vec<&str> = [&item.skip_if, &item.show_if, &item.stop_if]
                .into_iter()
                .flatten()
                .chain(item.branches.iter().map(|b| &b.when))
                .flat_map(|c| c.answer_refs())
                .collect();
            match &item.memory {
                Some(MemoryScope::Items(ids)) => {
                    for id in ids {
                        if let Some(i) = spec.items.iter().position(|x| &x.id == id) {
                            kept_for_memory[i] = true;
                        }
                    }
                }
                Some(MemoryScope::All | MemoryScope::Last(_)) => keep_all_for_memory = true,
                _ => {}
            }
            for text in item.texts() {
                for var in logic::template_variables(text).unwrap_or_default() {
                    if let Some(id) = var.strip_prefix("answers.")
                        && let Some(i) = spec.items.iter().position(|x| x.id == id)
                    {
                        kept[i] = true;
                    }
                }
            }
            for id in named {
                if let Some(i) = spec.items.iter().position(|x| x.id == id) {
                    kept[i] = true;
                }
            }
        }
        Ok(Self {
            kept,
            kept_for_memory,
            keep_all_for_memory,
            logic: spec.has_logic(),
            spec: Arc::new(spec.clone()),
            seeds: build.info.seeds,
            params: build.params,
            slots,
            slot_of,
            all_schema,
            drivers: per_item,
            pipes,
            attributes,
            schema,
            table: build.recorder.open(survey_responses_table())?,
            actors: Vec::new(),
            stepped: false,
        })
    }

    fn slots_of_round(&self, round: u32) -> std::ops::Range<usize> {
        match self.spec.mode {
            SurveyMode::OnePerRound => {
                let i = (round as usize).saturating_sub(1).min(self.slots.len());
                i..(i + 1).min(self.slots.len())
            }
            SurveyMode::AllAtOnce => 0..self.slots.len(),
        }
    }

    fn facts<'a>(
        &'a self,
        world: &'a World,
        agent: Entity,
        demographics: &'a Demographics,
        slot: usize,
    ) -> AgentFacts<'a> {
        AgentFacts {
            survey: self,
            progress: world.get::<SurveyProgress>(agent),
            demographics,
            loop_item: self.slots[slot].slot.loop_item,
            just: None,
        }
    }

    /// Whether `agent` is asked the question of `slot` (logic permitting).
    fn is_asked(&self, world: &World, agent: Entity, slot: usize) -> bool {
        let Some(demographics) = world.get::<Demographics>(agent) else {
            return false;
        };
        if let Some(p) = world.get::<SurveyProgress>(agent)
            && (p.stopped || (slot as u32) < p.resume_at)
        {
            return false;
        }
        let item = &self.spec.items[usize::from(self.slots[slot].slot.item)];
        let facts = self.facts(world, agent, demographics, slot);
        !item.skip_if.as_ref().is_some_and(|c| c.holds(&facts))
            && item.show_if.as_ref().is_none_or(|c| c.holds(&facts))
    }

    /// The text and kind of `slot` for one respondent, placeholders filled in.
    fn as_asked(
        &self,
        world: &World,
        agent: Entity,
        demographics: &Demographics,
        slot: usize,
    ) -> Result<(Cow<'_, str>, Arc<ItemKind>), String> {
        let plan = &self.slots[slot];
        if let Some((text, kind, _)) = &plan.fixed {
            return Ok((Cow::Borrowed(text), kind.clone()));
        }
        let item = &self.spec.items[usize::from(plan.slot.item)];
        let mut ctx = PipeContext::default();
        if let (Some(block), Some(li)) = (item.loop_block, plan.slot.loop_item)
            && let Some(li) = self
                .spec
                .loops
                .get(usize::from(block))
                .and_then(|l| l.items.get(usize::from(li)))
        {
            fill_item(&mut ctx, li);
        }
        let facts = self.facts(world, agent, demographics, slot);
        for other in &self.spec.items {
            if let Some(given) = facts.answer(&other.id) {
                ctx.answers.insert(other.id.as_str(), given.said());
            }
        }
        for (name, _) in self.attributes.iter() {
            match facts.attribute(name) {
                Some(AttrRef::Number(x)) => {
                    ctx.persona
                        .insert(name.as_str(), agora_core::components::format_number(x));
                }
                Some(AttrRef::Category(c)) => {
                    ctx.persona.insert(name.as_str(), c.to_string());
                }
                None => {}
            }
        }
        if let Some(identity) = world.get::<Identity>(agent) {
            ctx.persona.insert("name", identity.name.clone());
        }
        let wording = world
            .get::<AgentId>(agent)
            .and_then(|id| self.wording(id.0, slot))
            .unwrap_or(0);
        let source = match wording {
            0 => &item.text,
            k => &item.paraphrases[k as usize - 1],
        };
        let text = self.pipes.render(source, &ctx)?;
        let kind = item.kind.map_texts(|t| self.pipes.render(t, &ctx))?;
        Ok((Cow::Owned(text), Arc::new(kind)))
    }

    /// Which wording of `slot`'s question agent `agent` gets (0: the text, k: the
    /// k-th paraphrase); `None` when the item has no paraphrases.
    fn wording(&self, agent: u32, slot: usize) -> Option<u32> {
        let item = &self.spec.items[usize::from(self.slots.get(slot)?.slot.item)];
        if item.paraphrases.is_empty() {
            return None;
        }
        let mut rng = self.seeds.rng(&[
            purpose::PRESENTATION,
            u64::from(agent),
            slot as u64,
            WORDING_DRAW,
        ]);
        Some(rng.random_range(0..=item.paraphrases.len() as u32))
    }

    fn option_order(
        &self,
        ctx: &RoundCtx<'_>,
        agent: AgentId,
        slot: usize,
        kind: &ItemKind,
    ) -> Option<Box<[u16]>> {
        let options = kind.shuffled()?;
        if !self.spec.shuffle_options {
            return None;
        }
        let mut order: Vec<u16> = (0..options.len() as u16).collect();
        let mut rng = ctx
            .info
            .seeds
            .rng(&[purpose::PRESENTATION, u64::from(agent.0), slot as u64]);
        order.shuffle(&mut rng);
        Some(order.into_boxed_slice())
    }

    /// Earlier answers shown with `slot` under an explicit memory scope.
    fn scoped_memory(
        &self,
        progress: Option<&SurveyProgress>,
        slot: usize,
        scope: &MemoryScope,
    ) -> String {
        let Some(progress) = progress else {
            return String::new();
        };
        let answered: Vec<(usize, &Given)> = progress
            .given
            .iter()
            .filter(|(s, _)| (*s as usize) < slot)
            .map(|(s, g)| (*s as usize, g))
            .collect();
        let chosen: Vec<&(usize, &Given)> = match scope {
            MemoryScope::Off => Vec::new(),
            MemoryScope::All => answered.iter().collect(),
            MemoryScope::Last(k) => {
                let from = answered.len().saturating_sub(usize::from(*k));
                answered[from..].iter().collect()
            }
            MemoryScope::Items(ids) => answered
                .iter()
                .filter(|(s, _)| {
                    let item = &self.spec.items[usize::from(self.slots[*s].slot.item)];
                    ids.contains(&item.id)
                })
                .collect(),
        };
        let mut out = String::new();
        for (s, given) in chosen {
            let plan = &self.slots[*s];
            let text = plan.fixed.as_ref().map_or_else(
                || self.spec.items[usize::from(plan.slot.item)].text.as_str(),
                |(t, _, _)| t.as_str(),
            );
            let _ = writeln!(out, "- \"{text}\": {}", given.said());
        }
        out
    }

    fn record(
        &self,
        world: &mut World,
        ctx: &mut RoundCtx<'_>,
        (agent, id): (Entity, AgentId),
        (slot, order, kind): (usize, Option<&[u16]>, &ItemKind),
        result: Result<(Answer, &Value), String>,
    ) -> Result<Option<Given>, RunError> {
        let plan = &self.slots[slot];
        let spec = &self.spec.items[usize::from(plan.slot.item)];
        let table = self.table;
        // The event's payload is written as JSON bytes by serde_json (numbers without the
        // formatting machinery, strings escaped) and becomes a string once.
        let mut payload: Vec<u8> = Vec::with_capacity(48);
        payload.extend_from_slice(b"{\"item\":");
        payload.extend_from_slice(plan.key_json.as_bytes());
        payload.extend_from_slice(b",\"answer\":");
        let answer_at = payload.len();
        let rows = match &result {
            Ok((answer, raw)) => {
                let written = match answer {
                    Answer::Point(p) => serde_json::to_writer(&mut payload, p),
                    Answer::Choice(c) => serde_json::to_writer(
                        &mut payload,
                        kind.choice(usize::from(*c)).unwrap_or_default(),
                    ),
                    Answer::Number(x) => serde_json::to_writer(&mut payload, x),
                    Answer::Text(t) => serde_json::to_writer(&mut payload, t),
                    _ => serde_json::to_writer(&mut payload, raw),
                };
                if written.is_err() {
                    // Nothing half-written stays: the answer reads as null.
                    payload.truncate(answer_at);
                    payload.extend_from_slice(b"null");
                }
                rows_of(kind, answer, order)
            }
            Err(_) => {
                payload.extend_from_slice(b"null");
                Rows::One(Row::default())
            }
        };
        payload.push(b'}');
        let payload = String::from_utf8(payload)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        let order_text = order.map(order_text);
        let (status, reason) = match &result {
            Ok(_) => ("valid", None),
            Err(reason) => ("fallback", Some(reason.as_str())),
        };
        let wording = self.wording(id.0, slot);
        for row in rows.as_slice() {
            ctx.recorder
                .row(table, ctx.round, Some(id))?
                .str(&spec.id)
                .str(kind.label())
                .opt_f64(row.value)
                .opt_str(row.label)
                .opt_str(order_text.as_deref())
                .opt_u32(row.shown)
                .str(status)
                .opt_str(reason)
                .opt_str(plan.loop_id.as_deref())
                .opt_str(row.sub_item)
                .opt_u32(row.sub_position)
                .opt_str(row.other)
                .opt_u32(wording)
                .end();
        }
        ctx.emit(Event {
            round: ctx.round,
            actor: Some(id),
            kind: "answer",
            target: None,
            visibility: Visibility::Private,
            payload,
        })?;
        // What was said matters to the questionnaire's logic and to a memory of it.
        let given = result
            .ok()
            .filter(|_| self.logic || ctx.reads_text)
            .map(|(a, _)| given_of(kind, &a));
        if ctx.reads_text
            && let Some(mut memory) = world.get_mut::<Memory>(agent)
        {
            let said = given
                .as_ref()
                .map(Given::said)
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "no answer".to_string());
            let text = plan
                .fixed
                .as_ref()
                .map_or(spec.text.as_str(), |(t, _, _)| t);
            memory.remember(
                ctx.round,
                MemoryKind::Thought,
                format!("- \"{text}\": {said}"),
            );
        }
        Ok(given)
    }

    /// Keep `given` for `slot` and apply the item's stop rule and branches.
    fn advance(
        &self,
        world: &mut World,
        (agent, reads_text): (Entity, bool),
        slot: usize,
        given: Option<Given>,
    ) {
        let Some(demographics) = world.get::<Demographics>(agent) else {
            return;
        };
        let plan = &self.slots[slot];
        let item = &self.spec.items[usize::from(plan.slot.item)];
        let (stop, jump) = {
            let mut facts = self.facts(world, agent, demographics, slot);
            facts.just = Some((slot, given.as_ref()));
            let stop = item.stop_if.as_ref().is_some_and(|c| c.holds(&facts));
            let jump = item
                .branches
                .iter()
                .find(|b| b.when.holds(&facts))
                .and_then(|b| {
                    let target = self.spec.items.iter().position(|i| i.id == b.to)? as u16;
                    let block = self.spec.items[usize::from(target)].loop_block;
                    // Within a loop: the same loop item; into a loop: its first item.
                    let li = match block {
                        None => None,
                        Some(b) if Some(b) == item.loop_block => plan.slot.loop_item,
                        Some(_) => Some(0),
                    };
                    self.slot_of.get(&(target, li)).copied()
                });
            (stop, jump)
        };
        let i = usize::from(plan.slot.item);
        let keep =
            self.kept[i] || (reads_text && (self.keep_all_for_memory || self.kept_for_memory[i]));
        let given = given.filter(|_| keep);
        if given.is_none() && !stop && jump.is_none() {
            return;
        }
        let mut entity = world.entity_mut(agent);
        if !entity.contains::<SurveyProgress>() {
            entity.insert(SurveyProgress::default());
        }
        let Some(mut p) = entity.get_mut::<SurveyProgress>() else {
            return;
        };
        if let Some(given) = given {
            let s = slot as u32;
            match p.given.binary_search_by_key(&s, |(x, _)| *x) {
                Ok(i) => p.given[i].1 = given,
                Err(i) => p.given.insert(i, (s, given)),
            }
        }
        if stop {
            p.stopped = true;
        }
        if let Some(j) = jump {
            p.resume_at = p.resume_at.max(j as u32);
        }
    }
}

/// Put a loop item's `id`, `text` and fields in a pipe context.
fn fill_item<'a>(ctx: &mut PipeContext<'a>, li: &'a super::spec::LoopItem) {
    ctx.item.insert("id", &li.id);
    ctx.item.insert("text", &li.text);
    for (k, v) in &li.fields {
        ctx.item.insert(k, v);
    }
}

/// One row of `survey_responses` (beyond the keys, item, status and order).
/// Its texts are borrowed from the item and the answer: recording a row copies them
/// into the table once.
#[derive(Default)]
struct Row<'a> {
    value: Option<f64>,
    label: Option<&'a str>,
    shown: Option<u32>,
    sub_item: Option<&'a str>,
    sub_position: Option<u32>,
    other: Option<&'a str>,
}

/// The rows of one answer: one for most answers (kept off the heap), one per
/// sub-item for the others.
enum Rows<'a> {
    One(Row<'a>),
    Many(Vec<Row<'a>>),
}

impl<'a> From<Vec<Row<'a>>> for Rows<'a> {
    fn from(rows: Vec<Row<'a>>) -> Self {
        Rows::Many(rows)
    }
}

impl<'a> Rows<'a> {
    fn as_slice(&self) -> &[Row<'a>] {
        match self {
            Rows::One(row) => std::slice::from_ref(row),
            Rows::Many(rows) => rows,
        }
    }
}

/// Where a reply holds the answer to the question under `field`.
///
/// A model is asked for an object: `{"answer": value}` for one question, a field per
/// item for several (the gateway holds a model's reply to that schema). For one
/// question a reply that is not an object is the answer itself: that is how the rule
/// policy answers a point, an option, a number or a list ([`super::SurveyRules`]);
/// an answer that is an object (a choice with its "other" text) is always wrapped.
fn reply_field<'a>(reply: &'a Value, field: &str, single: bool) -> Option<&'a Value> {
    if single && !reply.is_object() {
        return Some(reply);
    }
    reply.get(field)
}

/// The `option_order` column: the options' 1-based indices in the order shown, as
/// `3,1,2`.
fn order_text(order: &[u16]) -> String {
    let mut text = String::with_capacity(order.len() * 3);
    let mut digits = itoa::Buffer::new();
    for (k, i) in order.iter().enumerate() {
        if k > 0 {
            text.push(',');
        }
        text.push_str(digits.format(u32::from(*i) + 1));
    }
    text
}

/// Where canonical option `i` was shown (1-based); "Other" is always last.
fn shown_at(order: Option<&[u16]>, i: u16) -> u32 {
    order
        .and_then(|o| o.iter().position(|&x| x == i))
        .map_or(u32::from(i) + 1, |p| p as u32 + 1)
}

fn scale_label(kind: &ItemKind, point: u8) -> Option<&str> {
    match kind {
        ItemKind::Likert { labels, .. } | ItemKind::Matrix { labels, .. } => labels
            .get(usize::from(point).saturating_sub(1))
            .map(String::as_str),
        _ => None,
    }
}

/// The tidy rows of a valid answer: one, or one per sub-item.
fn rows_of<'a>(kind: &'a ItemKind, answer: &'a Answer, order: Option<&[u16]>) -> Rows<'a> {
    let sub = |i: usize| Row {
        sub_item: kind.choice(i),
        sub_position: Some(i as u32 + 1),
        shown: Some(shown_at(order, i as u16)),
        ..Row::default()
    };
    match answer {
        Answer::Point(p) => Rows::One(Row {
            value: Some(f64::from(*p)),
            label: scale_label(kind, *p),
            ..Row::default()
        }),
        Answer::Choice(c) => Rows::One(Row {
            value: Some(f64::from(*c) + 1.0),
            label: kind.choice(usize::from(*c)),
            shown: Some(shown_at(order, *c)),
            ..Row::default()
        }),
        Answer::Other(text) => {
            let i = kind.choice_count().saturating_sub(1) as u16;
            Rows::One(Row {
                value: Some(f64::from(i) + 1.0),
                label: Some(OTHER),
                shown: Some(shown_at(order, i)),
                other: Some(text),
                ..Row::default()
            })
        }
        Answer::Number(x) => Rows::One(Row {
            value: Some(*x),
            ..Row::default()
        }),
        Answer::Text(t) => Rows::One(Row {
            label: Some(t),
            ..Row::default()
        }),
        Answer::Flag(b) => Rows::One(Row {
            value: Some(if *b { 1.0 } else { 0.0 }),
            label: Some(if *b { "yes" } else { "no" }),
            ..Row::default()
        }),
        Answer::Choices(picked, other) => (0..kind.choice_count())
            .map(|i| {
                let chosen = picked.contains(&(i as u16));
                Row {
                    value: Some(if chosen { 1.0 } else { 0.0 }),
                    other: other
                        .as_deref()
                        .filter(|_| chosen && kind.choice(i) == Some(OTHER)),
                    ..sub(i)
                }
            })
            .collect::<Vec<_>>()
            .into(),
        Answer::Ranked(ranked) => (0..kind.choice_count())
            .map(|i| Row {
                value: ranked
                    .iter()
                    .position(|&r| usize::from(r) == i)
                    .map(|p| p as f64 + 1.0),
                ..sub(i)
            })
            .collect::<Vec<_>>()
            .into(),
        Answer::Grid(points) => points
            .iter()
            .enumerate()
            .map(|(i, &p)| Row {
                value: Some(f64::from(p)),
                label: scale_label(kind, p),
                ..sub(i)
            })
            .collect::<Vec<_>>()
            .into(),
        Answer::Points(points) => points
            .iter()
            .enumerate()
            .map(|(i, &p)| Row {
                value: Some(f64::from(p)),
                ..sub(i)
            })
            .collect::<Vec<_>>()
            .into(),
    }
}

/// A valid answer as conditions and piping see it.
fn given_of(kind: &ItemKind, answer: &Answer) -> Given {
    let choices = kind.choices();
    let label = |i: u16| {
        choices
            .get(usize::from(i))
            .map_or(String::new(), |s| s.to_string())
    };
    match answer {
        Answer::Point(p) => Given {
            value: Some(f64::from(*p)),
            labels: scale_label(kind, *p)
                .into_iter()
                .map(str::to_string)
                .collect(),
        },
        Answer::Choice(c) => Given {
            value: Some(f64::from(*c) + 1.0),
            labels: vec![label(*c)],
        },
        Answer::Other(text) => Given {
            value: Some(choices.len() as f64),
            labels: vec![OTHER.to_string(), text.clone()],
        },
        Answer::Number(x) => Given {
            value: Some(*x),
            labels: vec![],
        },
        Answer::Text(t) => Given {
            value: None,
            labels: vec![t.clone()],
        },
        Answer::Flag(b) => Given {
            value: Some(if *b { 1.0 } else { 0.0 }),
            labels: vec![if *b { "yes" } else { "no" }.to_string()],
        },
        Answer::Choices(picked, _) => Given {
            value: Some(picked.len() as f64),
            labels: picked.iter().map(|&i| label(i)).collect(),
        },
        Answer::Ranked(ranked) => Given {
            value: None,
            labels: ranked.iter().map(|&i| label(i)).collect(),
        },
        Answer::Grid(points) => Given {
            value: None,
            labels: points
                .iter()
                .enumerate()
                .map(|(i, p)| format!("{}: {p}", label(i as u16)))
                .collect(),
        },
        Answer::Points(points) => Given {
            value: None,
            labels: points
                .iter()
                .enumerate()
                .map(|(i, p)| format!("{}: {p}", label(i as u16)))
                .collect(),
        },
    }
}

impl Mechanism for Survey {
    type Pending = Pending;

    fn max_rounds(&self) -> u32 {
        self.spec.rounds()
    }

    fn start_round(&mut self, world: &mut World, ctx: &mut RoundCtx<'_>) -> Result<(), RunError> {
        self.stepped = false;
        let roster = world
            .get_resource::<Roster>()
            .map(|r| r.0.clone())
            .unwrap_or_default();
        let slots = self.slots_of_round(ctx.round);
        self.actors = if self.logic && slots.len() == 1 {
            roster
                .into_iter()
                .filter(|&e| self.is_asked(world, e, slots.start))
                .collect()
        } else {
            roster
        };
        Ok(())
    }

    fn next_step(&self, _world: &World, _ctx: &RoundCtx<'_>) -> Option<Vec<Entity>> {
        if self.stepped {
            return None;
        }
        Some(self.actors.clone())
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
        let slots = self.slots_of_round(ctx.round);
        if slots.is_empty() {
            return Ask::Decline("no item is asked in this round".into());
        }
        let mut asked = Vec::with_capacity(slots.len());
        // The questions' texts go into a prompt only for a backend that reads one.
        let mut texts = Vec::with_capacity(if ctx.reads_text { slots.len() } else { 0 });
        let mut facts = Vec::with_capacity(slots.len());
        let single = slots.len() == 1;
        for s in slots.clone() {
            let (text, kind) = match self.as_asked(world, agent, demographics, s) {
                Ok(asked) => asked,
                Err(e) => {
                    return Ask::Decline(format!(
                        "question \"{}\" cannot be filled in: {e}",
                        self.slots[s].key
                    ));
                }
            };
            let item = usize::from(self.slots[s].slot.item);
            let (drivers, scale) = &self.drivers[item];
            facts.push(AskedFact {
                key: if single {
                    Cow::Borrowed("answer")
                } else {
                    Cow::Owned(self.slots[s].key.clone())
                },
                kind: kind.clone(),
                score: self.spec.items[item].intercept
                    + drivers::score(drivers, traits, demographics),
                scale: *scale,
            });
            let order = self.option_order(ctx, id, s, &kind);
            if ctx.reads_text {
                texts.push(text);
            }
            asked.push((s as u16, order, kind));
        }
        let messages = if ctx.reads_text {
            let Some(card) = persona_card_of(world, agent) else {
                return Ask::Decline("the agent has no identity to put in a prompt".into());
            };
            let scope = single
                .then(|| {
                    self.spec.items[usize::from(self.slots[slots.start].slot.item)]
                        .memory
                        .as_ref()
                })
                .flatten();
            let memory = match scope {
                Some(scope) => {
                    self.scoped_memory(world.get::<SurveyProgress>(agent), slots.start, scope)
                }
                None => world
                    .get::<Memory>(agent)
                    .map(|m| m.render(self.spec.memory_chars as usize))
                    .unwrap_or_default(),
            };
            let questions: Vec<String> = asked
                .iter()
                .zip(&texts)
                .map(|((s, order, kind), text)| {
                    render_item(
                        &self.slots[usize::from(*s)].key,
                        text,
                        kind,
                        order.as_deref(),
                    )
                })
                .collect();
            vec![
                ChatMessage::system(self.spec.instructions.clone()),
                ChatMessage::user(user_message(&card, &memory, &questions, single)),
            ]
        } else {
            Vec::new()
        };
        let schema = if single {
            self.slots[slots.start]
                .fixed
                .as_ref()
                .map(|(_, _, schema)| schema.clone())
        } else {
            self.all_schema.clone()
        };
        let schema = schema.unwrap_or_else(|| {
            let keyed: Vec<(&str, &ItemKind)> = asked
                .iter()
                .map(|(s, _, kind)| (self.slots[usize::from(*s)].key.as_str(), &**kind))
                .collect();
            Arc::new(request_schema(&keyed))
        });
        let request = ChatRequest {
            task: super::TASK,
            messages,
            schema,
            params: self.params,
            seed: ctx.call_seed(u64::from(id.0), call),
            facts: Some(Arc::new(SurveyFacts { items: facts })),
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
        for (slot, order, kind) in &pending.items {
            let slot = usize::from(*slot);
            let key = &self.slots[slot].key;
            let result = match answer {
                Err(e) => Err(format!("no answer: {e}")),
                Ok(response) => {
                    let field = if single { "answer" } else { key.as_str() };
                    match reply_field(&response.answer, field, single) {
                        None => Err(format!("the answer has no \"{field}\" field")),
                        Some(value) => validate_answer(kind, value).map(|a| (a, value)),
                    }
                }
            };
            if let Err(reason) = &result {
                failures.push(format!("{key}: {reason}"));
            }
            let given = self.record(
                world,
                ctx,
                (agent, id),
                (slot, order.as_deref(), kind),
                result,
            )?;
            if self.logic {
                self.advance(world, (agent, ctx.reads_text), slot, given);
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{personas, run_in_process};

    fn spec(text: &str) -> SurveySpec {
        ron::Options::default()
            .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
            .from_str(text)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn run(spec: &SurveySpec, agents: usize) -> crate::testing::Finished<Survey> {
        let model = super::super::rule_backend(spec);
        run_in_process(
            |build| Survey::build(spec, build),
            personas("P", agents),
            (5, 0),
            &model,
            spec.rounds(),
        )
    }

    #[test]
    fn skips_branches_and_stops_decide_who_is_asked() {
        let spec = spec(
            r#"(items: [
                (id: "a", text: "A?", kind: YesNo,
                 branches: [(when: Answer(item: "a", is: ["no"]), to: "d")]),
                (id: "b", text: "B after {{ answers.a }}?", kind: MultiSelect(options: ["x", "y", "z"], min: 0, max: 2),
                 stop_if: Answer(item: "b", below: 1.0)),
                (id: "c", text: "C?", kind: YesNo, show_if: Answer(item: "b", is: ["y"])),
                (id: "d", text: "D?", kind: Likert(points: 5),
                 skip_if: Answer(item: "c", is: ["never said"]), stop_if: Answer(item: "d", above: 9.0)),
            ])"#,
        );
        let mut done = run(&spec, 300);
        let mut expected = 0u64;
        let (mut branched, mut stopped) = (0, 0);
        let mut q = done.world.query::<&SurveyProgress>();
        assert_eq!(
            q.iter(&done.world).count(),
            300,
            "every answer to a is kept"
        );
        for p in q.iter(&done.world) {
            let said = |s: usize| p.get(s).map(Given::said);
            expected += 1;
            if said(0).as_deref() == Some("no") {
                branched += 1;
                assert!(p.get(1).is_none() && p.get(2).is_none());
                assert!(p.get(3).is_some(), "a branch lands on d");
                expected += 1;
                continue;
            }
            let b = p.get(1).expect("b is asked after yes");
            expected += 3; // one row per option of the multi-select
            if b.value == Some(0.0) {
                stopped += 1;
                assert!(p.stopped && p.get(2).is_none() && p.get(3).is_none());
                continue;
            }
            let shown_c = b.labels.iter().any(|l| l == "y");
            assert_eq!(p.get(2).is_some(), shown_c);
            expected += u64::from(shown_c) + 1;
            assert!(p.get(3).is_some());
        }
        assert!(branched > 50 && branched < 250, "{branched}");
        assert!(stopped > 10, "{stopped}");
        assert_eq!(done.rows["survey_responses"], expected);
    }

    #[test]
    fn one_answer_is_read_from_its_field_or_as_the_whole_reply() {
        let wrapped = serde_json::json!({"answer": 4});
        assert_eq!(
            reply_field(&wrapped, "answer", true),
            Some(&serde_json::json!(4))
        );
        let bare = serde_json::json!("Yes");
        assert_eq!(reply_field(&bare, "answer", true), Some(&bare));
        // A list is a multi-select's answer, read whole too.
        let list = serde_json::json!(["a", "b"]);
        assert_eq!(reply_field(&list, "answer", true), Some(&list));
        // An object without the field has no answer; several questions need fields.
        assert_eq!(
            reply_field(&serde_json::json!({"x": 1}), "answer", true),
            None
        );
        assert_eq!(reply_field(&bare, "q1", false), None);
        let several = serde_json::json!({"q1": 2, "q2": "No"});
        assert_eq!(
            reply_field(&several, "q2", false),
            Some(&serde_json::json!("No"))
        );
    }

    #[test]
    fn the_option_order_is_written_one_based_and_comma_separated() {
        assert_eq!(order_text(&[2, 0, 1]), "3,1,2");
        assert_eq!(order_text(&[9, 10, 99]), "10,11,100");
        assert_eq!(order_text(&[0]), "1");
        assert_eq!(order_text(&[]), "");
    }

    #[test]
    fn a_persona_placeholder_must_name_an_attribute() {
        let spec = spec(r#"(items: [(id: "a", text: "In {{ persona.city }}?", kind: YesNo)])"#);
        let model = super::super::rule_backend(&spec);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_in_process(
                |build| Survey::build(&spec, build),
                personas("P", 2),
                (5, 0),
                &model,
                1,
            )
        }));
        assert!(
            result.is_err(),
            "an unknown persona attribute stops the build"
        );
        let spec =
            self::spec(r#"(items: [(id: "a", text: "{{ persona.name }}, yes?", kind: YesNo)])"#);
        assert_eq!(run(&spec, 3).rows["survey_responses"], 3);
    }
}
