//! The conjoint study as a [`Mechanism`] of the round scheduler: one choice task per
//! round for every respondent, estimation in `finish`.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;

use agora_choice::conjoint::{DesignTask, balanced_overlap_design, random_design};
use agora_core::components::{AgentId, Demographics, Traits};
use agora_core::record::keyed_table;
use agora_core::registry::Build;
use agora_core::seed::purpose;
use agora_core::{Ask, Decision, Flow, Mechanism, RoundCtx, RunError};
use agora_export::{Column, ColumnType, TableId, TableSpec};
use agora_model::{ChatMessage, ChatRequest, ChatResponse, LlmError, SamplingParams};
use bevy_ecs::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::estimate::{Answer, EstimateRow, estimate_all};
use super::policy::ConjointFacts;
use super::spec::{ConjointSpec, DesignKind};
use crate::drivers::{self, ResolvedDriver};
use crate::market::{self, Segmentation};

/// Seed path element of the conjoint design (after [`purpose::PRESENTATION`] and a
/// value no agent id takes).
const DESIGN_STREAM: u64 = 0xC0_4A01;

/// `conjoint_choices`: one row per respondent, task and alternative shown.
pub fn conjoint_choices_table(spec: &ConjointSpec) -> TableSpec {
    let mut columns = vec![
        Column::required("task", ColumnType::U32),
        Column::required("alternative", ColumnType::U32),
        Column::required("is_none", ColumnType::Bool),
    ];
    columns.extend(
        spec.study
            .attributes()
            .iter()
            .map(|a| Column::optional(&a.name, ColumnType::Utf8)),
    );
    columns.extend([
        Column::optional("chosen", ColumnType::Bool),
        Column::required("status", ColumnType::Utf8),
        Column::optional("fallback_reason", ColumnType::Utf8),
    ]);
    keyed_table("conjoint_choices", columns)
}

/// `conjoint_estimates`: part-worths, importances, willingness to pay, shares and fit
/// statistics, overall and per segment (after the last round).
pub fn conjoint_estimates_table() -> TableSpec {
    keyed_table(
        "conjoint_estimates",
        vec![
            Column::required("segment", ColumnType::Utf8),
            Column::required("kind", ColumnType::Utf8),
            Column::optional("attribute", ColumnType::Utf8),
            Column::optional("level", ColumnType::Utf8),
            Column::optional("estimate", ColumnType::F64),
            Column::optional("std_error", ColumnType::F64),
            Column::optional("ci_low", ColumnType::F64),
            Column::optional("ci_high", ColumnType::F64),
            Column::required("respondents", ColumnType::U32),
            Column::required("choices", ColumnType::U32),
            Column::optional("note", ColumnType::Utf8),
        ],
    )
}

/// The valid choices of the run so far, kept in the world so a resumed run estimates
/// from all of them: one byte per respondent and task (the chosen alternative, or
/// [`ConjointAnswers::NONE`] when there is no valid answer), so checkpoints stay small.
#[derive(Resource, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ConjointAnswers {
    /// Tasks per respondent.
    pub tasks: u32,
    /// Chosen alternative at `respondent * tasks + task`.
    pub chosen: Vec<u8>,
}

impl ConjointAnswers {
    /// Marks a task without a valid answer.
    pub const NONE: u8 = u8::MAX;

    /// Room for `respondents` x `tasks` answers, none given yet.
    pub fn new(respondents: usize, tasks: u32) -> Self {
        Self {
            tasks,
            chosen: vec![Self::NONE; respondents * tasks as usize],
        }
    }

    /// The valid answers, by respondent then task.
    pub fn answers(&self) -> Vec<Answer> {
        let tasks = self.tasks.max(1) as usize;
        self.chosen
            .iter()
            .enumerate()
            .filter(|(_, c)| **c != Self::NONE)
            .map(|(i, &chosen)| Answer {
                respondent: (i / tasks) as u32,
                task: (i % tasks) as u16,
                chosen,
            })
            .collect()
    }
}

/// The estimates written at the end of the run.
#[derive(Resource, Clone, Debug, Default, PartialEq)]
pub struct ConjointEstimates(pub Vec<EstimateRow>);

/// What the study remembers about a request: the respondent and its task.
pub struct Pending {
    respondent: u32,
    task: u16,
}

/// A running conjoint study.
pub struct Conjoint {
    spec: Arc<ConjointSpec>,
    params: SamplingParams,
    schema: Arc<Value>,
    design: Vec<DesignTask>,
    positions: HashMap<Entity, u32>,
    roster: Vec<Entity>,
    /// Per driver: the parameter it moves, the resolved driver and its weight.
    drivers: Vec<(usize, ResolvedDriver, f64)>,
    segments: Vec<Segmentation>,
    choices: TableId,
    estimates: TableId,
    stepped: bool,
}

/// The answer schema of a task with `profiles` profiles.
fn answer_schema(profiles: u32, none: bool) -> Value {
    let mut options: Vec<String> = (1..=profiles).map(|i| i.to_string()).collect();
    if none {
        options.push("none".into());
    }
    json!({
        "type": "object",
        "properties": { "choice": { "type": "string", "enum": options } },
        "required": ["choice"],
        "additionalProperties": false,
    })
}

/// Read a choice among `profiles` profiles: `"2"`, `2`, `"Option 2"` or `"none"`
/// (when offered); the result indexes the coded alternatives ("none" last).
pub fn parse_choice(value: &Value, profiles: usize, none: bool) -> Result<usize, String> {
    let number = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => {
            let t = s.trim().to_ascii_lowercase();
            if t == "none" || t == "none of these" {
                return if none {
                    Ok(profiles)
                } else {
                    Err("\"none\" is not offered in this study".into())
                };
            }
            t.trim_start_matches("option").trim().parse::<u64>().ok()
        }
        _ => None,
    };
    match number {
        Some(n) if n >= 1 && n as usize <= profiles => Ok(n as usize - 1),
        Some(n) => Err(format!("option {n} is not among options 1..{profiles}")),
        None => Err(format!(
            "expected an option number 1..{profiles}{}, got {value}",
            if none { " or \"none\"" } else { "" }
        )),
    }
}

impl Conjoint {
    /// Build the study of `spec` for a run: draw the design, resolve drivers and
    /// segments against the population, open the tables.
    pub fn build(spec: &ConjointSpec, build: Build<'_>) -> Result<Self, RunError> {
        let error = |message: String| RunError::Mechanism {
            mechanism: "conjoint",
            message,
        };
        let roster = market::roster(build.world);
        if roster.is_empty() {
            return Err(error("the population is empty".into()));
        }
        let seed = build
            .info
            .seeds
            .seed(&[purpose::PRESENTATION, u64::MAX, DESIGN_STREAM]);
        let (respondents, tasks, alternatives) = (
            roster.len(),
            spec.tasks as usize,
            spec.alternatives as usize,
        );
        let design = match spec.design {
            DesignKind::Random => {
                random_design(&spec.study, respondents, tasks, alternatives, seed)
            }
            DesignKind::BalancedOverlap => {
                balanced_overlap_design(&spec.study, respondents, tasks, alternatives, seed)
            }
        }
        .map_err(|e| error(e.to_string()))?;
        let weighted: Vec<(String, f64)> = spec
            .rules
            .drivers
            .iter()
            .map(|d| (d.driver.clone(), d.weight))
            .collect();
        let resolved =
            drivers::resolve_shown(build.world, &weighted).map_err(|e| error(e.to_string()))?;
        let drivers = spec
            .rules
            .drivers
            .iter()
            .zip(resolved)
            .map(|(d, (r, w))| {
                spec.parameter_index(&d.parameter)
                    .map(|p| (p, r, w))
                    .ok_or_else(|| error(format!("no parameter \"{}\"", d.parameter)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let segments =
            market::segmentations(build.world, &roster, &spec.segments).map_err(error)?;
        Ok(Self {
            schema: Arc::new(answer_schema(spec.alternatives, spec.none_option)),
            spec: Arc::new(spec.clone()),
            params: build.params,
            design,
            positions: market::positions(&roster),
            roster,
            drivers,
            segments,
            choices: build.recorder.open(conjoint_choices_table(spec))?,
            estimates: build.recorder.open(conjoint_estimates_table())?,
            stepped: false,
        })
    }

    fn task(&self, respondent: u32, task: u16) -> Option<&DesignTask> {
        self.design
            .get(respondent as usize * self.spec.tasks as usize + usize::from(task))
    }

    /// The respondent's part-worths: planted values moved by its drivers.
    fn part_worths(&self, traits: &Traits, demographics: &Demographics) -> Vec<f64> {
        let mut beta = self.spec.planted.clone();
        for (p, d, w) in &self.drivers {
            let z = d.z(traits, demographics);
            if z.is_finite() {
                beta[*p] += w * z;
            }
        }
        beta
    }

    fn prompt(&self, card: &str, task: &DesignTask, number: u16) -> String {
        let mut out = String::with_capacity(card.len() + 512);
        out.push_str(card);
        let _ = write!(
            out,
            "\n\nTask {} of {}: which of these would you choose?\n",
            number + 1,
            self.spec.tasks
        );
        for (j, profile) in task.profiles.iter().enumerate() {
            let _ = write!(out, "\nOption {}: ", j + 1);
            let parts: Vec<String> = profile
                .iter()
                .enumerate()
                .map(|(a, &l)| {
                    format!(
                        "{}: {}",
                        self.spec.study.attributes()[a].name,
                        self.spec.level_text(a, l)
                    )
                })
                .collect();
            out.push_str(&parts.join("; "));
        }
        if self.spec.none_option {
            out.push_str("\nNone: I would choose none of these.");
        }
        out.push_str(
            "\n\nReply with a JSON object of the form {\"choice\": \"1\"}: the number of the option you choose",
        );
        out.push_str(if self.spec.none_option {
            ", or \"none\"."
        } else {
            "."
        });
        out
    }

    fn record(
        &self,
        ctx: &mut RoundCtx<'_>,
        id: AgentId,
        (respondent, task): (u32, u16),
        result: &Result<usize, String>,
    ) -> Result<(), RunError> {
        let Some(shown) = self.task(respondent, task) else {
            return Ok(());
        };
        let (status, reason) = match result {
            Ok(_) => ("valid", None),
            Err(r) => ("fallback", Some(r.as_str())),
        };
        let count = shown.profiles.len() + usize::from(self.spec.none_option);
        for j in 0..count {
            let profile = shown.profiles.get(j);
            let mut row = self
                .recorder_row(ctx, id)?
                .u32(u32::from(task) + 1)
                .u32(j as u32 + 1)
                .bool(profile.is_none());
            for a in 0..self.spec.study.attributes().len() {
                row = row.opt_str(
                    profile.map(|p| self.spec.study.attributes()[a].levels[p[a]].as_str()),
                );
            }
            row.opt_bool(result.as_ref().ok().map(|&c| c == j))
                .str(status)
                .opt_str(reason)
                .end();
        }
        Ok(())
    }

    fn recorder_row<'a>(
        &self,
        ctx: &'a mut RoundCtx<'_>,
        id: AgentId,
    ) -> Result<agora_export::table::Row<'a>, RunError> {
        Ok(ctx.recorder.row(self.choices, ctx.round, Some(id))?)
    }
}

impl Mechanism for Conjoint {
    type Pending = Pending;

    fn max_rounds(&self) -> u32 {
        self.spec.tasks
    }

    fn setup(&mut self, world: &mut World, _ctx: &mut RoundCtx<'_>) -> Result<(), RunError> {
        world.insert_resource(ConjointAnswers::new(self.roster.len(), self.spec.tasks));
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
        let number = ctx.round.saturating_sub(1);
        let (Ok(task), true) = (u16::try_from(number), number < self.spec.tasks) else {
            return Ask::Decline("no task is asked in this round".into());
        };
        let Some(shown) = self.task(respondent, task) else {
            return Ask::Decline("no task is asked in this round".into());
        };
        let Ok(alternatives) = self.spec.study.code_alternatives(&shown.profiles) else {
            return Ask::Decline("the task's profiles cannot be coded".into());
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
        let facts = ConjointFacts {
            part_worths: self.part_worths(traits, demographics),
            alternatives,
            has_none: self.spec.none_option,
        };
        Ask::Request(
            ChatRequest {
                task: super::TASK,
                messages,
                schema: self.schema.clone(),
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
        let profiles = self
            .task(pending.respondent, pending.task)
            .map_or(0, |t| t.profiles.len());
        let result = match answer {
            Err(e) => Err(format!("no answer: {e}")),
            Ok(response) => match response.answer.get("choice") {
                None => Err("the answer has no \"choice\" field".into()),
                Some(v) => parse_choice(v, profiles, self.spec.none_option),
            },
        };
        self.record(ctx, id, (pending.respondent, pending.task), &result)?;
        Ok(match result {
            Ok(chosen) => {
                let (respondents, tasks) = (self.roster.len(), self.spec.tasks);
                let mut answers =
                    world.get_resource_or_insert_with(|| ConjointAnswers::new(respondents, tasks));
                let slot = pending.respondent as usize * tasks as usize + usize::from(pending.task);
                if let Some(c) = answers.chosen.get_mut(slot) {
                    *c = chosen as u8;
                }
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
            .get_resource::<ConjointAnswers>()
            .map(ConjointAnswers::answers)
            .unwrap_or_default();
        let rows = estimate_all(&self.spec, &self.design, &answers, &self.segments);
        for r in &rows {
            ctx.recorder
                .row(self.estimates, ctx.round, None)?
                .str(&r.segment)
                .str(r.kind)
                .opt_str(r.attribute.as_deref())
                .opt_str(r.level.as_deref())
                .opt_f64(r.estimate)
                .opt_f64(r.std_error)
                .opt_f64(r.ci_low)
                .opt_f64(r.ci_high)
                .u32(r.respondents)
                .u32(r.choices)
                .opt_str(r.note.as_deref())
                .end();
        }
        world.insert_resource(ConjointEstimates(rows));
        Ok(())
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn choices_are_read_leniently_but_only_among_the_options() {
        assert_eq!(parse_choice(&json!("2"), 3, true), Ok(1));
        assert_eq!(parse_choice(&json!(3), 3, true), Ok(2));
        assert_eq!(parse_choice(&json!("Option 1"), 3, false), Ok(0));
        assert_eq!(parse_choice(&json!(" None "), 3, true), Ok(3));
        assert!(parse_choice(&json!("none"), 3, false).is_err());
        assert!(parse_choice(&json!("4"), 3, true).is_err());
        assert!(parse_choice(&json!("0"), 3, true).is_err());
        assert!(parse_choice(&json!(null), 3, true).is_err());
    }

    #[test]
    fn the_schema_lists_every_option() {
        let s = answer_schema(3, true);
        assert_eq!(
            s["properties"]["choice"]["enum"],
            json!(["1", "2", "3", "none"])
        );
    }
}
