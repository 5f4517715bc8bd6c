//! MaxDiff as a [`Mechanism`]: one best-worst task per round, scores in `finish`; and
//! its rule-based respondent.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;

use agora_choice::MnlOptions;
use agora_choice::maxdiff::{
    MaxDiffResponse, bibd_design, count_scores, maxdiff_logit, simulate_best_worst,
};
use agora_core::components::{AgentId, Demographics, Traits};
use agora_core::record::keyed_table;
use agora_core::registry::Build;
use agora_core::seed::{StreamRng, purpose};
use agora_core::{Ask, Decision, Flow, Mechanism, RoundCtx, RunError};
use agora_export::{Column, ColumnType, TableId, TableSpec};
use agora_model::{
    ChatMessage, ChatRequest, ChatResponse, LlmError, RuleBackend, RulePolicy, SamplingParams,
};
use bevy_ecs::prelude::*;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::spec::MaxDiffSpec;
use crate::drivers::{self, ResolvedDriver};
use crate::market::{self, Segmentation};

/// Seed path element of the MaxDiff designs (after [`purpose::PRESENTATION`] and a
/// value no agent id takes), followed by the respondent.
const DESIGN_STREAM: u64 = 0x3D_1F01;

/// `maxdiff_answers`: one row per respondent and task.
pub fn maxdiff_answers_table() -> TableSpec {
    keyed_table(
        "maxdiff_answers",
        vec![
            Column::required("task", ColumnType::U32),
            Column::required("shown", ColumnType::Utf8),
            Column::optional("best", ColumnType::Utf8),
            Column::optional("worst", ColumnType::Utf8),
            Column::required("status", ColumnType::Utf8),
            Column::optional("fallback_reason", ColumnType::Utf8),
        ],
    )
}

/// `maxdiff_scores`: one row per item, overall and per segment (after the last round).
pub fn maxdiff_scores_table() -> TableSpec {
    keyed_table(
        "maxdiff_scores",
        vec![
            Column::required("segment", ColumnType::Utf8),
            Column::required("item_id", ColumnType::Utf8),
            Column::required("item_text", ColumnType::Utf8),
            Column::required("shown", ColumnType::U32),
            Column::required("best", ColumnType::U32),
            Column::required("worst", ColumnType::U32),
            Column::optional("count_score", ColumnType::F64),
            Column::optional("utility", ColumnType::F64),
            Column::optional("std_error", ColumnType::F64),
            Column::optional("ci_low", ColumnType::F64),
            Column::optional("ci_high", ColumnType::F64),
            Column::optional("share", ColumnType::F64),
            Column::required("respondents", ColumnType::U32),
            Column::optional("note", ColumnType::Utf8),
        ],
    )
}

/// One valid best-worst answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaxDiffAnswer {
    /// Respondent number (roster position).
    pub respondent: u32,
    /// Task number, from 0.
    pub task: u16,
    /// Item picked as best.
    pub best: u16,
    /// Item picked as worst.
    pub worst: u16,
}

/// The valid answers of the run so far, kept in the world.
#[derive(Resource, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MaxDiffAnswers(pub Vec<MaxDiffAnswer>);

/// One row of `maxdiff_scores`.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoreRow {
    /// `all` or `attribute=category`.
    pub segment: String,
    /// Item index.
    pub item: usize,
    /// Times shown, picked best, picked worst.
    pub counts: (u32, u32, u32),
    /// `(best − worst) / shown`.
    pub count_score: Option<f64>,
    /// Logit utility centred on the mean of all items.
    pub utility: Option<f64>,
    /// Standard error of `utility`.
    pub std_error: Option<f64>,
    /// 95% interval of `utility`.
    pub ci: Option<(f64, f64)>,
    /// `exp(u_i) / Σ_k exp(u_k)`: the probability of being picked best among all items.
    pub share: Option<f64>,
    /// Respondents whose answers entered the scores.
    pub respondents: u32,
    /// Why the logit scores are missing.
    pub note: Option<String>,
}

/// Count and logit scores of `answers`, overall and per segment.
pub fn score_all(
    items: usize,
    designs: &[Vec<Vec<usize>>],
    answers: &[MaxDiffAnswer],
    segments: &[Segmentation],
) -> Vec<ScoreRow> {
    let mut rows = score(items, designs, answers, "all");
    for s in segments {
        for label in 0..s.labels.len() {
            let subset: Vec<MaxDiffAnswer> = answers
                .iter()
                .copied()
                .filter(|a| {
                    s.of.get(a.respondent as usize)
                        .copied()
                        .flatten()
                        .map(usize::from)
                        == Some(label)
                })
                .collect();
            rows.extend(score(items, designs, &subset, &s.name(label)));
        }
    }
    rows
}

fn score(
    items: usize,
    designs: &[Vec<Vec<usize>>],
    answers: &[MaxDiffAnswer],
    segment: &str,
) -> Vec<ScoreRow> {
    let responses: Vec<MaxDiffResponse> = answers
        .iter()
        .filter_map(|a| {
            Some(MaxDiffResponse {
                shown: designs
                    .get(a.respondent as usize)?
                    .get(usize::from(a.task))?
                    .clone(),
                best: usize::from(a.best),
                worst: usize::from(a.worst),
            })
        })
        .collect();
    let mut respondents: Vec<u32> = answers.iter().map(|a| a.respondent).collect();
    respondents.sort_unstable();
    respondents.dedup();
    let n = respondents.len() as u32;
    let counts = count_scores(items, &responses);
    let logit = maxdiff_logit(items, &responses, &MnlOptions::default());
    let note = match (&counts, &logit) {
        (Err(e), _) | (Ok(_), Err(e)) => Some(e.to_string()),
        _ => None,
    };
    let shares: Option<Vec<f64>> = logit.as_ref().ok().map(|fit| {
        let max = fit
            .scores
            .iter()
            .map(|s| s.centred)
            .fold(f64::NEG_INFINITY, f64::max);
        let exp: Vec<f64> = fit.scores.iter().map(|s| (s.centred - max).exp()).collect();
        let total: f64 = exp.iter().sum();
        exp.into_iter().map(|e| e / total).collect()
    });
    (0..items)
        .map(|i| {
            let c = counts.as_ref().ok().and_then(|c| c.get(i));
            let l = logit.as_ref().ok().and_then(|f| f.scores.get(i));
            ScoreRow {
                segment: segment.to_string(),
                item: i,
                counts: c.map_or((0, 0, 0), |c| {
                    (c.shown as u32, c.best as u32, c.worst as u32)
                }),
                count_score: c.and_then(|c| c.score),
                utility: l.map(|s| s.centred),
                std_error: l.map(|s| s.centred_std_error),
                ci: l.map(|s| (s.ci_low, s.ci_high)),
                share: shares.as_ref().and_then(|s| s.get(i).copied()),
                respondents: n,
                note: note.clone(),
            }
        })
        .collect()
}

/// Typed facts of one task: the respondent's utilities of the items shown, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct MaxDiffFacts {
    /// Utilities of the shown items, as shown.
    pub utilities: Vec<f64>,
    /// The texts of the shown items, as shown.
    pub texts: Vec<String>,
}

/// The `maxdiff.choose` policy: best = argmax of `u + Gumbel`, then worst = argmax of
/// `−u + Gumbel` among the rest (the sequential best-worst logit).
pub struct MaxDiffRules;

impl RulePolicy for MaxDiffRules {
    fn answer(&self, request: &ChatRequest) -> Result<Value, LlmError> {
        let facts = request
            .facts
            .as_ref()
            .and_then(|f| f.downcast_ref::<MaxDiffFacts>())
            .ok_or_else(|| {
                LlmError::InvalidRequest("MaxDiff request without MaxDiff facts".into())
            })?;
        let mut rng = StreamRng::seed_from_u64(request.seed);
        let shown: Vec<usize> = (0..facts.utilities.len()).collect();
        let (best, worst) = simulate_best_worst(&facts.utilities, &shown, &mut rng)
            .map_err(|e| LlmError::InvalidRequest(e.to_string()))?;
        Ok(json!({ "best": facts.texts[best], "worst": facts.texts[worst] }))
    }
}

/// A `rules` backend that answers this study.
pub fn rule_backend(_spec: &MaxDiffSpec) -> RuleBackend {
    RuleBackend::new().with_policy(super::TASK, Arc::new(MaxDiffRules))
}

/// What the study remembers about a request.
pub struct Pending {
    respondent: u32,
    task: u16,
}

/// A running MaxDiff study.
pub struct MaxDiff {
    spec: Arc<MaxDiffSpec>,
    params: SamplingParams,
    /// Per respondent, per task: the items shown, in display order.
    designs: Vec<Vec<Vec<usize>>>,
    positions: HashMap<Entity, u32>,
    roster: Vec<Entity>,
    drivers: Vec<Vec<(ResolvedDriver, f64)>>,
    segments: Vec<Segmentation>,
    answers: TableId,
    scores: TableId,
    stepped: bool,
}

/// Find the shown item whose text is `value` (case and surrounding spaces ignored).
fn pick(
    value: Option<&Value>,
    field: &str,
    shown: &[usize],
    spec: &MaxDiffSpec,
) -> Result<usize, String> {
    let text = value
        .and_then(Value::as_str)
        .ok_or_else(|| format!("the answer has no \"{field}\" text"))?;
    shown
        .iter()
        .copied()
        .find(|&i| spec.items[i].text.eq_ignore_ascii_case(text.trim()))
        .ok_or_else(|| format!("{field} \"{text}\" is not one of the items shown"))
}

/// Validate a best-worst answer to a task showing `shown`.
pub fn validate(
    answer: &Value,
    shown: &[usize],
    spec: &MaxDiffSpec,
) -> Result<(usize, usize), String> {
    let best = pick(answer.get("best"), "best", shown, spec)?;
    let worst = pick(answer.get("worst"), "worst", shown, spec)?;
    if best == worst {
        return Err("the same item is best and worst".into());
    }
    Ok((best, worst))
}

impl MaxDiff {
    /// Build the study for a run: one design per respondent, drivers, segments, tables.
    pub fn build(spec: &MaxDiffSpec, build: Build<'_>) -> Result<Self, RunError> {
        let error = |message: String| RunError::Mechanism {
            mechanism: "maxdiff",
            message,
        };
        let roster = market::roster(build.world);
        let n = spec.items.len();
        let designs = (0..roster.len())
            .map(|r| {
                let seed = build.info.seeds.seed(&[
                    purpose::PRESENTATION,
                    u64::MAX,
                    DESIGN_STREAM,
                    r as u64,
                ]);
                bibd_design(n, spec.per_task as usize, spec.tasks as usize, seed)
                    .map(|d| d.tasks)
                    .map_err(|e| error(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let lists: Vec<&[(String, f64)]> = spec.items.iter().map(|i| &i.drivers[..]).collect();
        let drivers = drivers::resolve_shown_each(build.world, &lists)
            .map_err(|(i, e)| error(format!("item \"{}\": {e}", spec.items[i].id)))?;
        let segments =
            market::segmentations(build.world, &roster, &spec.segments).map_err(error)?;
        Ok(Self {
            spec: Arc::new(spec.clone()),
            params: build.params,
            designs,
            positions: market::positions(&roster),
            roster,
            drivers,
            segments,
            answers: build.recorder.open(maxdiff_answers_table())?,
            scores: build.recorder.open(maxdiff_scores_table())?,
            stepped: false,
        })
    }

    fn shown(&self, respondent: u32, task: u16) -> Option<&Vec<usize>> {
        self.designs
            .get(respondent as usize)?
            .get(usize::from(task))
    }

    fn schema(&self, shown: &[usize]) -> Value {
        let texts: Vec<&str> = shown
            .iter()
            .map(|&i| self.spec.items[i].text.as_str())
            .collect();
        json!({
            "type": "object",
            "properties": {
                "best": { "type": "string", "enum": texts },
                "worst": { "type": "string", "enum": texts },
            },
            "required": ["best", "worst"],
            "additionalProperties": false,
        })
    }

    fn prompt(&self, card: &str, shown: &[usize], task: u16) -> String {
        let mut out = String::with_capacity(card.len() + 400);
        out.push_str(card);
        let _ = write!(
            out,
            "\n\nTask {} of {}. {}\n",
            task + 1,
            self.spec.tasks,
            self.spec.question
        );
        for &i in shown {
            let _ = write!(out, "\n- {}", self.spec.items[i].text);
        }
        out.push_str(
            "\n\nReply with a JSON object {\"best\": \"...\", \"worst\": \"...\"} giving the text of one item each; they must differ.",
        );
        out
    }
}

impl Mechanism for MaxDiff {
    type Pending = Pending;

    fn max_rounds(&self) -> u32 {
        self.spec.tasks
    }

    fn setup(&mut self, world: &mut World, _ctx: &mut RoundCtx<'_>) -> Result<(), RunError> {
        world.insert_resource(MaxDiffAnswers::default());
        Ok(())
    }

    fn start_round(&mut self, _world: &mut World, _ctx: &mut RoundCtx<'_>) -> Result<(), RunError> {
        self.stepped = false;
        Ok(())
    }

    fn next_step(&self, _world: &World, _ctx: &RoundCtx<'_>) -> Option<Vec<Entity>> {
        (!self.stepped).then(|| self.roster.clone())
    }

    fn request(&self, world: &World, ctx: &RoundCtx<'_>, agent: Entity, call: u32) -> Ask<Pending> {
        let (Some(&respondent), Some(id), Some(traits), Some(demographics)) = (
            self.positions.get(&agent),
            world.get::<AgentId>(agent).copied(),
            world.get::<Traits>(agent),
            world.get::<Demographics>(agent),
        ) else {
            return Ask::Decline("not a respondent of the study".into());
        };
        let Ok(task) = u16::try_from(ctx.round.saturating_sub(1)) else {
            return Ask::Decline("no task is asked in this round".into());
        };
        let Some(shown) = self.shown(respondent, task) else {
            return Ask::Decline("no task is asked in this round".into());
        };
        let messages = if ctx.reads_text {
            let Some(card) = market::card(world, agent) else {
                return Ask::Decline("the agent has no persona to put in a prompt".into());
            };
            vec![
                ChatMessage::system(self.spec.instructions.clone()),
                ChatMessage::user(self.prompt(&card, shown, task)),
            ]
        } else {
            Vec::new()
        };
        let facts = MaxDiffFacts {
            utilities: shown
                .iter()
                .map(|&i| {
                    self.spec.items[i].utility
                        + drivers::score(&self.drivers[i], traits, demographics)
                })
                .collect(),
            texts: shown
                .iter()
                .map(|&i| self.spec.items[i].text.clone())
                .collect(),
        };
        Ask::Request(
            ChatRequest {
                task: super::TASK,
                messages,
                schema: Arc::new(self.schema(shown)),
                params: self.params,
                seed: ctx.call_seed(u64::from(id.0), call),
                facts: Some(Arc::new(facts)),
            },
            Pending { respondent, task },
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
        let shown = self
            .shown(pending.respondent, pending.task)
            .cloned()
            .unwrap_or_default();
        let result = match answer {
            Err(e) => Err(format!("no answer: {e}")),
            Ok(response) => validate(&response.answer, &shown, &self.spec),
        };
        let ids: Vec<&str> = shown
            .iter()
            .map(|&i| self.spec.items[i].id.as_str())
            .collect();
        let (status, reason) = match &result {
            Ok(_) => ("valid", None),
            Err(r) => ("fallback", Some(r.as_str())),
        };
        let item_id = |i: usize| self.spec.items[i].id.as_str();
        ctx.recorder
            .row(self.answers, ctx.round, Some(id))?
            .u32(u32::from(pending.task) + 1)
            .str(&ids.join(","))
            .opt_str(result.as_ref().ok().map(|&(b, _)| item_id(b)))
            .opt_str(result.as_ref().ok().map(|&(_, w)| item_id(w)))
            .str(status)
            .opt_str(reason)
            .end();
        Ok(match result {
            Ok((best, worst)) => {
                world
                    .get_resource_or_insert_with(MaxDiffAnswers::default)
                    .0
                    .push(MaxDiffAnswer {
                        respondent: pending.respondent,
                        task: pending.task,
                        best: best as u16,
                        worst: worst as u16,
                    });
                Decision::Valid
            }
            Err(reason) => Decision::Fallback(reason),
        })
    }

    fn end_step(&mut self, _world: &mut World, _ctx: &mut RoundCtx<'_>) -> Result<(), RunError> {
        self.stepped = true;
        Ok(())
    }

    fn end_round(&mut self, _world: &mut World, ctx: &mut RoundCtx<'_>) -> Result<Flow, RunError> {
        Ok(if ctx.round >= self.spec.tasks {
            Flow::Stop("tasks_complete".into())
        } else {
            Flow::Continue
        })
    }

    fn finish(&mut self, world: &mut World, ctx: &mut RoundCtx<'_>) -> Result<(), RunError> {
        let answers = world
            .get_resource::<MaxDiffAnswers>()
            .map(|a| a.0.clone())
            .unwrap_or_default();
        let rows = score_all(
            self.spec.items.len(),
            &self.designs,
            &answers,
            &self.segments,
        );
        for r in &rows {
            let item = &self.spec.items[r.item];
            ctx.recorder
                .row(self.scores, ctx.round, None)?
                .str(&r.segment)
                .str(&item.id)
                .str(&item.text)
                .u32(r.counts.0)
                .u32(r.counts.1)
                .u32(r.counts.2)
                .opt_f64(r.count_score)
                .opt_f64(r.utility)
                .opt_f64(r.std_error)
                .opt_f64(r.ci.map(|c| c.0))
                .opt_f64(r.ci.map(|c| c.1))
                .opt_f64(r.share)
                .u32(r.respondents)
                .opt_str(r.note.as_deref())
                .end();
        }
        world.insert_resource(MaxDiffScores(rows));
        Ok(())
    }
}

/// The scores written at the end of the run.
#[derive(Resource, Clone, Debug, Default, PartialEq)]
pub struct MaxDiffScores(pub Vec<ScoreRow>);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{personas, run_in_process};

    fn spec() -> MaxDiffSpec {
        ron::Options::default()
            .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
            .from_str(
                r#"(items: [
                    (id: "price", text: "Low price", utility: 1.0),
                    (id: "fresh", text: "Fresh ingredients", utility: 0.5),
                    (id: "quick", text: "Quick to cook", utility: 0.0),
                    (id: "variety", text: "Many recipes", utility: -0.5),
                    (id: "pack", text: "Little packaging", utility: -1.0),
                    (id: "local", text: "Local farms", utility: 0.0),
                ], per_task: 4, tasks: 6)"#,
            )
            .unwrap()
    }

    #[test]
    fn answers_are_checked_against_the_items_shown() {
        let spec = spec();
        let shown = [0, 1, 2, 3];
        assert_eq!(
            validate(
                &json!({"best": "low price", "worst": " Many recipes"}),
                &shown,
                &spec
            ),
            Ok((0, 3))
        );
        assert!(
            validate(
                &json!({"best": "Low price", "worst": "Low price"}),
                &shown,
                &spec
            )
            .is_err()
        );
        assert!(
            validate(
                &json!({"best": "Local farms", "worst": "Low price"}),
                &shown,
                &spec
            )
            .is_err()
        );
        assert!(validate(&json!({"best": "Low price"}), &shown, &spec).is_err());
    }

    #[test]
    fn scores_recover_the_planted_order_with_intervals() {
        let spec = spec();
        let model = rule_backend(&spec);
        let finished = run_in_process(
            |b| MaxDiff::build(&spec, b),
            personas("m", 300),
            (5, 0),
            &model,
            spec.tasks,
        );
        assert_eq!(finished.outcome.fallbacks, 0);
        assert_eq!(finished.rows["maxdiff_answers"], 1800);
        let rows = &finished.world.get_resource::<MaxDiffScores>().unwrap().0;
        assert_eq!(rows.len(), 6);
        // Planted utilities centred on their mean (0): 1, 0.5, 0, -0.5, -1, 0.
        let planted = [1.0, 0.5, 0.0, -0.5, -1.0, 0.0];
        let mut covered = 0;
        for (row, truth) in rows.iter().zip(planted) {
            let (lo, hi) = row.ci.unwrap();
            covered += usize::from(lo <= truth && truth <= hi);
            assert_eq!(
                row.counts.0,
                300 * 6 * 4 / 6,
                "every item shown equally often"
            );
        }
        assert!(covered >= 5, "{covered} of 6 intervals cover");
        let count = |i: usize| rows[i].count_score.unwrap();
        assert!(
            count(0) > count(1)
                && count(1) > count(2)
                && count(2) > count(3)
                && count(3) > count(4)
        );
        let shares: f64 = rows.iter().filter_map(|r| r.share).sum();
        assert!((shares - 1.0).abs() < 1e-9);
    }
}
