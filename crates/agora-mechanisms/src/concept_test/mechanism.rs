//! The concept test as a [`Mechanism`], its rule-based respondent, SSR scoring and
//! the end-of-run summary.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;

use agora_choice::pricing::wilson_interval;
use agora_choice::ssr::{lexical_embedding, mean_rating, ssr_from_embeddings};
use agora_choice::z_critical;
use agora_core::components::{AgentId, Demographics, Traits};
use agora_core::embedding::EmbeddingSource;
use agora_core::record::keyed_table;
use agora_core::registry::Build;
use agora_core::seed::{StreamRng, purpose};
use agora_core::{Ask, Decision, Flow, Mechanism, RoundCtx, RunError};
use agora_export::{Column, ColumnType, TableId, TableSpec};
use agora_model::{
    ChatMessage, ChatRequest, ChatResponse, EmbeddingQuery, LlmError, RuleBackend, RulePolicy,
    SamplingParams, embedding_request, embeddings_of,
};
use bevy_ecs::prelude::*;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::spec::{ConceptDesign, ConceptSpec, MEASURES};
use crate::drivers::{self, ResolvedDriver};
use crate::market;
use crate::stats::bin_of;

/// Seed path element of the concept test's draws (after [`purpose::PRESENTATION`] and
/// a value no agent id takes).
const CONCEPT_STREAM: u64 = 0xC0_4CE9;
/// Spread of each measure around the respondent's liking of a concept.
const MEASURE_NOISE: f64 = 0.7;
/// Longest free-text purchase intent.
const MAX_TEXT: u32 = 300;

/// `concept_ratings`: one row per respondent and concept rated.
pub fn concept_ratings_table() -> TableSpec {
    let mut columns = vec![
        Column::required("concept_id", ColumnType::Utf8),
        Column::required("position", ColumnType::U32),
    ];
    columns.extend(
        MEASURES
            .iter()
            .map(|(m, _)| Column::optional(m, ColumnType::U32)),
    );
    columns.push(Column::optional("intent_text", ColumnType::Utf8));
    columns.extend((1..=5).map(|p| Column::optional(&format!("ssr_p{p}"), ColumnType::F64)));
    columns.extend([
        Column::optional("ssr_mean", ColumnType::F64),
        Column::required("embedding", ColumnType::Utf8),
        Column::required("status", ColumnType::Utf8),
        Column::optional("fallback_reason", ColumnType::Utf8),
        Column::optional("purchase_intent_top2", ColumnType::U32),
    ]);
    keyed_table("concept_ratings", columns)
}

/// `concept_choices`: one row per respondent's forced choice.
pub fn concept_choices_table() -> TableSpec {
    keyed_table(
        "concept_choices",
        vec![
            Column::required("shown_order", ColumnType::Utf8),
            Column::optional("chosen", ColumnType::Utf8),
            Column::optional("chosen_position", ColumnType::U32),
            Column::required("status", ColumnType::Utf8),
            Column::optional("fallback_reason", ColumnType::Utf8),
        ],
    )
}

/// `concept_summary`: per concept and measure, after the last round.
pub fn concept_summary_table() -> TableSpec {
    keyed_table(
        "concept_summary",
        vec![
            Column::required("concept_id", ColumnType::Utf8),
            Column::required("measure", ColumnType::Utf8),
            Column::required("n", ColumnType::U32),
            Column::optional("mean", ColumnType::F64),
            Column::optional("mean_ci_low", ColumnType::F64),
            Column::optional("mean_ci_high", ColumnType::F64),
            Column::optional("top2_box", ColumnType::F64),
            Column::optional("top2_ci_low", ColumnType::F64),
            Column::optional("top2_ci_high", ColumnType::F64),
        ],
    )
}

/// One valid rating.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rating {
    /// Respondent number (roster position).
    pub respondent: u32,
    /// Concept index.
    pub concept: u16,
    /// The five measures, 1..=5, in [`MEASURES`] order.
    pub values: [u8; 5],
    /// SSR distribution of the free-text purchase intent, when it could be scored.
    pub ssr: Option<[f64; 5]>,
}

/// The valid answers of the run so far.
#[derive(Resource, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ConceptAnswers {
    /// Ratings.
    pub ratings: Vec<Rating>,
    /// Forced choices: (respondent, concept chosen).
    pub choices: Vec<(u32, u16)>,
}

/// Typed facts of a concept request.
#[derive(Clone, Debug, PartialEq)]
pub enum ConceptFacts {
    /// Rate one concept: the respondent's latent liking and its scale.
    Rate {
        /// Planted shift plus drivers plus the respondent's own draw.
        liking: f64,
        /// Standard deviation of a measure's latent score.
        scale: f64,
        /// The concept's title.
        title: String,
    },
    /// Choose among concepts: the likings, in the order shown.
    Choose {
        /// Latent liking of each shown concept.
        likings: Vec<f64>,
    },
}

/// The free-text purchase intent of a rule-based respondent at point `p` (1..=5): the
/// `p`-th statement of every anchor set, after the concept's title.
pub fn intent_sentence(p: u8, title: &str, anchors: &[Vec<String>]) -> String {
    let index = usize::from(p.clamp(1, 5)) - 1;
    let statements: Vec<&str> = anchors
        .iter()
        .filter_map(|set| set.get(index).map(String::as_str))
        .collect();
    format!("About {title}: {}", statements.join(" "))
}

/// The rule-based respondent of both concept tasks.
///
/// Rating: measure `m` has latent score `s_m = (L + 0.7 e_m) / √(1 + Σ w_k² + 0.49)`,
/// with `L` the respondent's liking of the concept (the concept's `liking`, plus its
/// weighted standardised drivers, plus a `N(0, 1)` draw of the respondent's own, the
/// same for every measure) and `e_m ~ N(0, 1)` from the call's seed; it answers
/// `1 + floor(5 Φ(s_m))` and states its purchase intent in the words of the anchor
/// statements of that point ([`intent_sentence`]). Forced choice: the concept of
/// highest `L + Gumbel`.
pub struct ConceptTestRules {
    anchors: Vec<Vec<String>>,
}

impl RulePolicy for ConceptTestRules {
    fn answer(&self, request: &ChatRequest) -> Result<Value, LlmError> {
        let facts = request
            .facts
            .as_ref()
            .and_then(|f| f.downcast_ref::<ConceptFacts>())
            .ok_or_else(|| {
                LlmError::InvalidRequest("concept request without concept facts".into())
            })?;
        let mut rng = StreamRng::seed_from_u64(request.seed);
        match facts {
            ConceptFacts::Rate {
                liking,
                scale,
                title,
            } => {
                let mut out = serde_json::Map::new();
                let mut intent = 3;
                for (i, (key, _)) in MEASURES.iter().enumerate() {
                    let e: f64 = StandardNormal.sample(&mut rng);
                    let p = 1 + bin_of((liking + MEASURE_NOISE * e) / scale, 5) as u8;
                    if i == 0 {
                        intent = p;
                    }
                    out.insert((*key).to_string(), json!(p));
                }
                out.insert(
                    "intent_text".into(),
                    json!(intent_sentence(intent, title, &self.anchors)),
                );
                Ok(Value::Object(out))
            }
            ConceptFacts::Choose { likings } => {
                let alternatives: Vec<Vec<f64>> = likings.iter().map(|l| vec![*l]).collect();
                let chosen =
                    agora_choice::conjoint::simulate_choice(&[1.0], &alternatives, &mut rng)
                        .map_err(|e| LlmError::InvalidRequest(e.to_string()))?;
                Ok(json!({ "choice": (chosen + 1).to_string() }))
            }
        }
    }
}

/// A `rules` backend that answers this concept test.
pub fn rule_backend(spec: &ConceptSpec) -> RuleBackend {
    let policy = Arc::new(ConceptTestRules {
        anchors: spec.ssr.anchors.clone(),
    });
    RuleBackend::new()
        .with_policy(super::TASK_RATE, policy.clone())
        .with_policy(super::TASK_CHOOSE, policy)
}

/// Validate a rating: five points on the 1..=5 scale and a free text within bounds.
pub fn validate_rating(answer: &Value) -> Result<([u8; 5], String), String> {
    let mut values = [0u8; 5];
    for (slot, (key, _)) in values.iter_mut().zip(MEASURES) {
        let v = answer
            .get(key)
            .ok_or_else(|| format!("the answer has no \"{key}\""))?;
        let n = v
            .as_i64()
            .or_else(|| v.as_f64().filter(|x| x.fract() == 0.0).map(|x| x as i64))
            .ok_or_else(|| format!("{key}: expected a whole number 1..5, got {v}"))?;
        if !(1..=5).contains(&n) {
            return Err(format!("{key}: {n} is outside the scale 1..5"));
        }
        *slot = n as u8;
    }
    let text = answer
        .get("intent_text")
        .and_then(Value::as_str)
        .ok_or("the answer has no \"intent_text\" text")?;
    if text.chars().count() > MAX_TEXT as usize {
        return Err(format!("intent_text is longer than {MAX_TEXT} characters"));
    }
    Ok((values, text.to_string()))
}

/// The SSR distribution of `text` against anchor embeddings (see
/// [`agora_choice::ssr`]); `None` when the text has no words to embed.
pub fn ssr_of(
    text: &str,
    anchors: &[Vec<Vec<f64>>],
    dims: usize,
    epsilon: f64,
) -> Option<[f64; 5]> {
    let e = lexical_embedding(text, dims).ok()?;
    let pmf = ssr_from_embeddings(&e, anchors, epsilon).ok()?;
    pmf.try_into().ok()
}

/// One row of `concept_summary`.
#[derive(Clone, Debug, PartialEq)]
pub struct ConceptSummaryRow {
    /// Concept index.
    pub concept: usize,
    /// A measure of [`MEASURES`], `purchase_intent_ssr` or `forced_choice`.
    pub measure: String,
    /// Answers behind the row.
    pub n: u32,
    /// Mean rating (SSR: mean of expected ratings; forced choice: share chosen).
    pub mean: Option<f64>,
    /// 95% interval of the mean (normal; Wilson for the forced-choice share).
    pub mean_ci: Option<(f64, f64)>,
    /// Share in the top two boxes (SSR: mean of `p4 + p5`).
    pub top2: Option<f64>,
    /// 95% interval of the top-two box (Wilson; normal for SSR).
    pub top2_ci: Option<(f64, f64)>,
}

fn normal_ci(values: &[f64], z: f64) -> Option<(f64, f64, f64)> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return Some((mean, mean, mean));
    }
    let var = values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let half = z * (var / n as f64).sqrt();
    Some((mean, mean - half, mean + half))
}

/// Per concept: every measure's mean and top-two box with 95% intervals, the SSR
/// purchase intent, and (with a forced choice) the share choosing it.
pub fn summarise(
    concepts: usize,
    answers: &ConceptAnswers,
    forced_choice: bool,
) -> Vec<ConceptSummaryRow> {
    let z = z_critical(0.95).unwrap_or(1.959_963_984_540_054);
    let mut out = Vec::new();
    for c in 0..concepts {
        let ratings: Vec<&Rating> = answers
            .ratings
            .iter()
            .filter(|r| usize::from(r.concept) == c)
            .collect();
        let n = ratings.len();
        for (m, (key, _)) in MEASURES.iter().enumerate() {
            let values: Vec<f64> = ratings.iter().map(|r| f64::from(r.values[m])).collect();
            let top = ratings.iter().filter(|r| r.values[m] >= 4).count();
            let ci = normal_ci(&values, z);
            out.push(ConceptSummaryRow {
                concept: c,
                measure: (*key).to_string(),
                n: n as u32,
                mean: ci.map(|c| c.0),
                mean_ci: ci.map(|c| (c.1, c.2)),
                top2: (n > 0).then(|| top as f64 / n as f64),
                top2_ci: wilson_interval(top, n, z).ok(),
            });
        }
        let ssr: Vec<&[f64; 5]> = ratings.iter().filter_map(|r| r.ssr.as_ref()).collect();
        let means: Vec<f64> = ssr
            .iter()
            .filter_map(|p| mean_rating(&p[..]).ok())
            .collect();
        let tops: Vec<f64> = ssr.iter().map(|p| p[3] + p[4]).collect();
        let mean = normal_ci(&means, z);
        let top = normal_ci(&tops, z);
        out.push(ConceptSummaryRow {
            concept: c,
            measure: "purchase_intent_ssr".into(),
            n: ssr.len() as u32,
            mean: mean.map(|c| c.0),
            mean_ci: mean.map(|c| (c.1, c.2)),
            top2: top.map(|c| c.0),
            top2_ci: top.map(|c| (c.1, c.2)),
        });
        if forced_choice {
            let total = answers.choices.len();
            let chosen = answers
                .choices
                .iter()
                .filter(|(_, k)| usize::from(*k) == c)
                .count();
            out.push(ConceptSummaryRow {
                concept: c,
                measure: "forced_choice".into(),
                n: total as u32,
                mean: (total > 0).then(|| chosen as f64 / total as f64),
                mean_ci: wilson_interval(chosen, total, z).ok(),
                top2: None,
                top2_ci: None,
            });
        }
    }
    out
}

/// What the test remembers about a request.
pub enum Pending {
    /// A rating of a concept at a position of the respondent's sequence.
    Rate(u32, u16, u32),
    /// The forced choice, with the concepts in the order shown.
    Choose(u32, Vec<u16>),
    /// The embeddings of every anchor statement, from the embedding model.
    Anchors,
    /// The embedding of a valid rating's free text (its place in the waiting list).
    Embed(usize),
}

/// A valid rating whose free text waits for its embedding.
#[derive(Clone, Debug)]
struct Waiting {
    agent: Entity,
    id: agora_core::components::AgentId,
    rating: Rating,
    position: u32,
    text: String,
    done: bool,
}

/// Steps of a rating round whose SSR embeddings come from the run's model.
const STEP_RATE: u8 = 0;
const STEP_ANCHORS: u8 = 1;
const STEP_EMBED: u8 = 2;

/// A running concept test.
pub struct ConceptTest {
    spec: Arc<ConceptSpec>,
    params: SamplingParams,
    positions: HashMap<Entity, u32>,
    roster: Vec<Entity>,
    /// Per respondent: the concepts it rates, in order.
    orders: Vec<Vec<u16>>,
    /// Per respondent: the forced choice's display order.
    blind: Vec<Vec<u16>>,
    drivers: Vec<Vec<(ResolvedDriver, f64)>>,
    anchors: Vec<Vec<Vec<f64>>>,
    embedding: String,
    ratings: TableId,
    choices: TableId,
    summary: TableId,
    /// The step of the round (ratings; with model embeddings, anchors and answers).
    step: u8,
    /// Whether this round's SSR embeddings come from the run's model.
    model_embeddings: bool,
    /// Whether those embeddings come from the local model (which embeds with its own
    /// weights whatever `embedding_model` names).
    local_embeddings: bool,
    /// Anchor embeddings from the embedding model (this round).
    model_anchors: Option<Vec<Vec<Vec<f64>>>>,
    /// Valid ratings waiting for their text's embedding (this round).
    waiting: Vec<Waiting>,
}

impl ConceptTest {
    /// Build the test for a run: assignments and orders from the run's seed, drivers,
    /// anchor embeddings, tables.
    pub fn build(spec: &ConceptSpec, build: Build<'_>) -> Result<Self, RunError> {
        let error = |message: String| RunError::Mechanism {
            mechanism: "concept_test",
            message,
        };
        let roster = market::roster(build.world);
        let k = spec.concepts.len();
        let seeds = &build.info.seeds;
        let rng = |path: &[u64]| {
            let mut full = vec![purpose::PRESENTATION, u64::MAX, CONCEPT_STREAM];
            full.extend_from_slice(path);
            seeds.rng(&full)
        };
        let orders: Vec<Vec<u16>> = match spec.design {
            ConceptDesign::Monadic => {
                // Deal concepts in shuffled blocks, so counts differ by at most one.
                let mut deck = Vec::with_capacity(roster.len() + k);
                let mut block = 0u64;
                while deck.len() < roster.len() {
                    let mut cards: Vec<u16> = (0..k as u16).collect();
                    cards.shuffle(&mut rng(&[1, block]));
                    deck.extend(cards);
                    block += 1;
                }
                deck.into_iter()
                    .take(roster.len())
                    .map(|c| vec![c])
                    .collect()
            }
            ConceptDesign::SequentialMonadic => (0..roster.len() as u64)
                .map(|r| {
                    let mut order: Vec<u16> = (0..k as u16).collect();
                    order.shuffle(&mut rng(&[2, r]));
                    order
                })
                .collect(),
        };
        let blind = (0..roster.len() as u64)
            .map(|r| {
                let mut order: Vec<u16> = (0..k as u16).collect();
                order.shuffle(&mut rng(&[3, r]));
                order
            })
            .collect();
        let lists: Vec<&[(String, f64)]> =
            spec.concepts.iter().map(|c| &c.rules.drivers[..]).collect();
        let drivers = drivers::resolve_shown_each(build.world, &lists)
            .map_err(|(i, e)| error(format!("concept \"{}\": {e}", spec.concepts[i].id)))?;
        let dims = spec.ssr.dims as usize;
        let anchors = spec
            .ssr
            .anchors
            .iter()
            .map(|set| {
                set.iter()
                    .map(|a| lexical_embedding(a, dims).map_err(|e| error(e.to_string())))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            spec: Arc::new(spec.clone()),
            params: build.params,
            positions: market::positions(&roster),
            roster,
            orders,
            blind,
            drivers,
            anchors,
            embedding: format!("lexical-{dims}"),
            ratings: build.recorder.open(concept_ratings_table())?,
            choices: build.recorder.open(concept_choices_table())?,
            summary: build.recorder.open(concept_summary_table())?,
            step: STEP_RATE,
            model_embeddings: false,
            local_embeddings: false,
            model_anchors: None,
            waiting: Vec::new(),
        })
    }

    /// The embedding request of `agent` in the anchors or answers step.
    fn embedding_ask(&self, agent: Entity) -> Ask<Pending> {
        let Some(model) = self.spec.ssr.embedding_model.clone() else {
            return Ask::Decline("no embedding model".into());
        };
        let (inputs, pending) = if self.step == STEP_ANCHORS {
            (self.spec.ssr.anchors.concat(), Pending::Anchors)
        } else {
            match self
                .waiting
                .iter()
                .position(|w| w.agent == agent && !w.done)
            {
                Some(k) => (vec![self.waiting[k].text.clone()], Pending::Embed(k)),
                None => return Ask::Decline("no free text waits for its embedding".into()),
            }
        };
        Ask::Request(
            embedding_request(
                super::TASK_EMBED,
                EmbeddingQuery {
                    model,
                    inputs,
                    dimensions: self.spec.ssr.embedding_dims,
                },
            ),
            pending,
        )
    }

    /// Write the row of waiting rating `k` with its SSR (if any) and keep the rating.
    fn finish_waiting(
        &mut self,
        world: &mut World,
        ctx: &mut RoundCtx<'_>,
        k: usize,
        ssr: Option<[f64; 5]>,
    ) -> Result<(), RunError> {
        let Some(w) = self.waiting.get_mut(k) else {
            return Ok(());
        };
        if w.done {
            return Ok(());
        }
        w.done = true;
        w.rating.ssr = ssr;
        let w = w.clone();
        let concept = &self.spec.concepts[usize::from(w.rating.concept)];
        let label = self.spec.ssr.embedding_model.clone().unwrap_or_default();
        let mut row = ctx
            .recorder
            .row(self.ratings, ctx.round, Some(w.id))?
            .str(&concept.id)
            .u32(w.position);
        for m in 0..MEASURES.len() {
            row = row.opt_u32(Some(u32::from(w.rating.values[m])));
        }
        row = row.opt_str(Some(&w.text));
        for p in 0..5 {
            row = row.opt_f64(ssr.map(|s| s[p]));
        }
        row.opt_f64(ssr.and_then(|s| mean_rating(&s).ok()))
            .str(&label)
            .str("valid")
            .opt_str(None)
            .opt_u32(Some(u32::from(w.rating.values[0] >= 4)))
            .end();
        world
            .get_resource_or_insert_with(ConceptAnswers::default)
            .ratings
            .push(w.rating);
        Ok(())
    }

    /// The respondent's latent liking of concept `c` and the scale of its measures.
    fn liking(
        &self,
        ctx: &RoundCtx<'_>,
        respondent: u32,
        c: u16,
        t: &Traits,
        d: &Demographics,
    ) -> (f64, f64) {
        let concept = &self.spec.concepts[usize::from(c)];
        let drivers = &self.drivers[usize::from(c)];
        let mut rng = ctx.info.seeds.rng(&[
            purpose::PRESENTATION,
            u64::MAX,
            CONCEPT_STREAM,
            4,
            u64::from(respondent),
            u64::from(c),
        ]);
        let own: f64 = StandardNormal.sample(&mut rng);
        let weights: f64 = drivers.iter().map(|(_, w)| w * w).sum();
        (
            concept.rules.liking + drivers::score(drivers, t, d) + own,
            (1.0 + weights + MEASURE_NOISE * MEASURE_NOISE).sqrt(),
        )
    }

    fn rating_prompt(&self, card: &str, c: u16, position: u32) -> String {
        let concept = &self.spec.concepts[usize::from(c)];
        let mut out = String::with_capacity(card.len() + concept.text.len() + 800);
        out.push_str(card);
        if self.spec.design == ConceptDesign::SequentialMonadic {
            let _ = write!(
                out,
                "\n\nConcept {} of {}.",
                position,
                self.spec.concepts.len()
            );
        }
        let _ = write!(
            out,
            "\n\nConcept: {}\n{}\n\nAnswer each question with a whole number from 1 to 5:",
            concept.title, concept.text
        );
        for (key, question) in MEASURES {
            let _ = write!(out, "\n- \"{key}\": {question}");
        }
        let _ = write!(
            out,
            "\n- \"intent_text\": In a sentence or two, in your own words: would you buy it, and why? (at most {MAX_TEXT} characters)\n\nReply with a JSON object with the keys in quotes above."
        );
        out
    }

    fn choice_prompt(&self, card: &str, shown: &[u16]) -> String {
        let mut out = String::with_capacity(card.len() + 1200);
        out.push_str(card);
        out.push_str("\n\nIf you could have only one of these, which would you choose?\n");
        for (i, &c) in shown.iter().enumerate() {
            let concept = &self.spec.concepts[usize::from(c)];
            let _ = write!(
                out,
                "\nOption {}: {}\n{}\n",
                i + 1,
                concept.title,
                concept.text
            );
        }
        out.push_str("\nReply with a JSON object {\"choice\": \"1\"} giving the number of the option you choose.");
        out
    }
}

impl Mechanism for ConceptTest {
    type Pending = Pending;

    fn max_rounds(&self) -> u32 {
        self.spec.rounds()
    }

    fn setup(&mut self, world: &mut World, _ctx: &mut RoundCtx<'_>) -> Result<(), RunError> {
        world.insert_resource(ConceptAnswers::default());
        Ok(())
    }

    fn start_round(&mut self, world: &mut World, ctx: &mut RoundCtx<'_>) -> Result<(), RunError> {
        self.step = STEP_RATE;
        self.model_anchors = None;
        self.waiting.clear();
        let source = world
            .get_resource::<EmbeddingSource>()
            .copied()
            .unwrap_or_default();
        self.model_embeddings = ctx.round <= self.spec.rating_rounds()
            && ctx.reads_text
            && self.spec.ssr.embedding_model.is_some()
            && source.asks_model();
        self.local_embeddings = source == EmbeddingSource::Local;
        Ok(())
    }

    fn next_step(&self, _world: &World, _ctx: &RoundCtx<'_>) -> Option<Vec<Entity>> {
        match self.step {
            STEP_RATE => Some(self.roster.clone()),
            STEP_ANCHORS if self.model_embeddings && !self.waiting.is_empty() => {
                Some(vec![self.waiting[0].agent])
            }
            STEP_EMBED if self.model_embeddings && self.model_anchors.is_some() => {
                Some(self.waiting.iter().map(|w| w.agent).collect())
            }
            _ => None,
        }
    }

    fn request(&self, world: &World, ctx: &RoundCtx<'_>, agent: Entity, call: u32) -> Ask<Pending> {
        if self.step != STEP_RATE {
            return self.embedding_ask(agent);
        }
        let (Some(&respondent), Some(id), Some(traits), Some(demographics)) = (
            self.positions.get(&agent),
            world.get::<AgentId>(agent).copied(),
            world.get::<Traits>(agent),
            world.get::<Demographics>(agent),
        ) else {
            return Ask::Decline("not a respondent of the study".into());
        };
        let card = if ctx.reads_text {
            match market::card(world, agent) {
                Some(card) => Some(card),
                None => return Ask::Decline("the agent has no persona to put in a prompt".into()),
            }
        } else {
            None
        };
        let r = respondent as usize;
        let (task, user, schema, facts, pending) = if ctx.round <= self.spec.rating_rounds() {
            let position = ctx.round;
            let Some(&c) = self
                .orders
                .get(r)
                .and_then(|o| o.get(position as usize - 1))
            else {
                return Ask::Decline("no concept is rated in this round".into());
            };
            let (liking, scale) = self.liking(ctx, respondent, c, traits, demographics);
            let mut properties = serde_json::Map::new();
            for (key, _) in MEASURES {
                properties.insert(
                    key.into(),
                    json!({ "type": "integer", "minimum": 1, "maximum": 5 }),
                );
            }
            properties.insert(
                "intent_text".into(),
                json!({ "type": "string", "maxLength": MAX_TEXT }),
            );
            let mut required: Vec<&str> = MEASURES.iter().map(|(k, _)| *k).collect();
            required.push("intent_text");
            (
                super::TASK_RATE,
                card.map(|card| self.rating_prompt(&card, c, position)),
                json!({ "type": "object", "properties": properties, "required": required, "additionalProperties": false }),
                ConceptFacts::Rate {
                    liking,
                    scale,
                    title: self.spec.concepts[usize::from(c)].title.clone(),
                },
                Pending::Rate(respondent, c, position),
            )
        } else {
            let Some(shown) = self.blind.get(r) else {
                return Ask::Decline("no forced choice for this respondent".into());
            };
            let options: Vec<String> = (1..=shown.len()).map(|i| i.to_string()).collect();
            (
                super::TASK_CHOOSE,
                card.map(|card| self.choice_prompt(&card, shown)),
                json!({
                    "type": "object",
                    "properties": { "choice": { "type": "string", "enum": options } },
                    "required": ["choice"],
                    "additionalProperties": false,
                }),
                ConceptFacts::Choose {
                    likings: shown
                        .iter()
                        .map(|&c| self.liking(ctx, respondent, c, traits, demographics).0)
                        .collect(),
                },
                Pending::Choose(respondent, shown.clone()),
            )
        };
        let messages = match user {
            Some(user) => vec![
                ChatMessage::system(self.spec.instructions.clone()),
                ChatMessage::user(user),
            ],
            None => Vec::new(),
        };
        Ask::Request(
            ChatRequest {
                task,
                messages,
                schema: Arc::new(schema),
                params: self.params,
                seed: ctx.call_seed(u64::from(id.0), call),
                facts: Some(Arc::new(facts)),
            },
            pending,
        )
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
        match pending {
            Pending::Rate(respondent, c, position) => {
                let result = match answer {
                    Err(e) => Err(format!("no answer: {e}")),
                    Ok(r) => validate_rating(&r.answer),
                };
                if self.model_embeddings
                    && let Ok((values, text)) = &result
                {
                    // The row is written once the text's embedding is in.
                    self.waiting.push(Waiting {
                        agent,
                        id,
                        rating: Rating {
                            respondent,
                            concept: c,
                            values: *values,
                            ssr: None,
                        },
                        position,
                        text: text.clone(),
                        done: false,
                    });
                    return Ok(Decision::Valid);
                }
                let concept = &self.spec.concepts[usize::from(c)];
                let (values, text, ssr) = match &result {
                    Ok((values, text)) => (
                        Some(*values),
                        Some(text.as_str()),
                        ssr_of(
                            text,
                            &self.anchors,
                            self.spec.ssr.dims as usize,
                            self.spec.ssr.epsilon,
                        ),
                    ),
                    Err(_) => (None, None, None),
                };
                let mut row = ctx
                    .recorder
                    .row(self.ratings, ctx.round, Some(id))?
                    .str(&concept.id)
                    .u32(position);
                for m in 0..MEASURES.len() {
                    row = row.opt_u32(values.map(|v| u32::from(v[m])));
                }
                row = row.opt_str(text);
                for p in 0..5 {
                    row = row.opt_f64(ssr.map(|s| s[p]));
                }
                let label = match (&self.spec.ssr.embedding_model, self.model_embeddings) {
                    (Some(_), true) if self.local_embeddings => "local",
                    (Some(model), true) => model.as_str(),
                    _ => self.embedding.as_str(),
                };
                row.opt_f64(ssr.and_then(|s| mean_rating(&s).ok()))
                    .str(label)
                    .str(if result.is_ok() { "valid" } else { "fallback" })
                    .opt_str(result.as_ref().err().map(String::as_str))
                    .opt_u32(values.map(|v| u32::from(v[0] >= 4)))
                    .end();
                Ok(match result {
                    Ok((values, _)) => {
                        world
                            .get_resource_or_insert_with(ConceptAnswers::default)
                            .ratings
                            .push(Rating {
                                respondent,
                                concept: c,
                                values,
                                ssr,
                            });
                        Decision::Valid
                    }
                    Err(reason) => Decision::Fallback(reason),
                })
            }
            Pending::Anchors => {
                let vectors = match answer {
                    Err(e) => Err(format!("no anchor embeddings: {e}")),
                    Ok(r) => embeddings_of(&r.answer),
                };
                let per_set = 5;
                match vectors {
                    Ok(v) if v.len() == self.spec.ssr.anchors.len() * per_set => {
                        self.model_anchors =
                            Some(v.chunks(per_set).map(<[Vec<f64>]>::to_vec).collect());
                        Ok(Decision::Valid)
                    }
                    Ok(v) => Ok(Decision::Fallback(format!(
                        "{} anchor embeddings for {} anchors",
                        v.len(),
                        self.spec.ssr.anchors.len() * per_set
                    ))),
                    Err(why) => Ok(Decision::Fallback(why)),
                }
            }
            Pending::Embed(k) => {
                let vector = match answer {
                    Err(e) => Err(format!("no embedding: {e}")),
                    Ok(r) => embeddings_of(&r.answer).and_then(|v| {
                        v.into_iter()
                            .next()
                            .ok_or_else(|| "no embedding in the answer".to_string())
                    }),
                };
                let ssr = match (&vector, &self.model_anchors) {
                    (Ok(e), Some(anchors)) => {
                        ssr_from_embeddings(e, anchors, self.spec.ssr.epsilon)
                            .ok()
                            .and_then(|p| <[f64; 5]>::try_from(p).ok())
                    }
                    _ => None,
                };
                let decision = match &vector {
                    Ok(_) if ssr.is_some() => Decision::Valid,
                    Ok(_) => Decision::Fallback(
                        "the embedding does not fit the anchors' (zero vector or other dimensions)"
                            .into(),
                    ),
                    Err(why) => Decision::Fallback(why.clone()),
                };
                self.finish_waiting(world, ctx, k, ssr)?;
                Ok(decision)
            }
            Pending::Choose(respondent, shown) => {
                let result = match answer {
                    Err(e) => Err(format!("no answer: {e}")),
                    Ok(r) => match r.answer.get("choice") {
                        None => Err("the answer has no \"choice\" field".into()),
                        Some(v) => super::super::conjoint::parse_choice(v, shown.len(), false),
                    },
                };
                let order: Vec<&str> = shown
                    .iter()
                    .map(|&c| self.spec.concepts[usize::from(c)].id.as_str())
                    .collect();
                let chosen = result.as_ref().ok().map(|&i| shown[i]);
                ctx.recorder
                    .row(self.choices, ctx.round, Some(id))?
                    .str(&order.join(","))
                    .opt_str(chosen.map(|c| self.spec.concepts[usize::from(c)].id.as_str()))
                    .opt_u32(result.as_ref().ok().map(|&i| i as u32 + 1))
                    .str(if result.is_ok() { "valid" } else { "fallback" })
                    .opt_str(result.as_ref().err().map(String::as_str))
                    .end();
                Ok(match (result, chosen) {
                    (Ok(_), Some(c)) => {
                        world
                            .get_resource_or_insert_with(ConceptAnswers::default)
                            .choices
                            .push((respondent, c));
                        Decision::Valid
                    }
                    (Err(reason), _) => Decision::Fallback(reason),
                    (Ok(_), None) => Decision::Fallback("no concept chosen".into()),
                })
            }
        }
    }

    fn end_step(&mut self, _world: &mut World, _ctx: &mut RoundCtx<'_>) -> Result<(), RunError> {
        self.step = match self.step {
            STEP_RATE if self.model_embeddings => STEP_ANCHORS,
            STEP_ANCHORS => STEP_EMBED,
            _ => u8::MAX,
        };
        Ok(())
    }

    fn end_round(&mut self, world: &mut World, ctx: &mut RoundCtx<'_>) -> Result<Flow, RunError> {
        // Ratings whose text got no embedding (the anchors could not be embedded, or
        // the call was declined) are written without SSR.
        for k in 0..self.waiting.len() {
            if !self.waiting[k].done {
                self.finish_waiting(world, ctx, k, None)?;
            }
        }
        self.waiting.clear();
        Ok(if ctx.round >= self.spec.rounds() {
            Flow::Stop("concept_test_complete".into())
        } else {
            Flow::Continue
        })
    }

    fn finish(&mut self, world: &mut World, ctx: &mut RoundCtx<'_>) -> Result<(), RunError> {
        let answers = world
            .get_resource::<ConceptAnswers>()
            .cloned()
            .unwrap_or_default();
        let rows = summarise(self.spec.concepts.len(), &answers, self.spec.forced_choice);
        for r in &rows {
            ctx.recorder
                .row(self.summary, ctx.round, None)?
                .str(&self.spec.concepts[r.concept].id)
                .str(&r.measure)
                .u32(r.n)
                .opt_f64(r.mean)
                .opt_f64(r.mean_ci.map(|c| c.0))
                .opt_f64(r.mean_ci.map(|c| c.1))
                .opt_f64(r.top2)
                .opt_f64(r.top2_ci.map(|c| c.0))
                .opt_f64(r.top2_ci.map(|c| c.1))
                .end();
        }
        world.insert_resource(ConceptSummary(rows));
        Ok(())
    }
}

/// The summary written at the end of the run.
#[derive(Resource, Clone, Debug, Default, PartialEq)]
pub struct ConceptSummary(pub Vec<ConceptSummaryRow>);
