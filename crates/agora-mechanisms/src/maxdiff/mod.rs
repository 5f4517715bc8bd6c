//! MaxDiff (best-worst scaling): respondents see a few items per task and pick the one
//! that matters most and the one that matters least; items are scored by counts and by
//! the sequential best-worst logit at the end of the run.
//!
//! Each respondent gets its own near-balanced incomplete block design of `tasks` tasks
//! of `per_task` items (every item shown about equally often, pairs about equally
//! often), drawn from the run's seed; one task per round.

mod mechanism;
mod spec;

pub use mechanism::{
    MaxDiff, MaxDiffAnswer, MaxDiffAnswers, MaxDiffFacts, MaxDiffRules, MaxDiffScores, ScoreRow,
    maxdiff_answers_table, maxdiff_scores_table, rule_backend, score_all, validate,
};
pub use spec::{MaxDiffItem, MaxDiffSpec};

/// Task name of MaxDiff choices in requests and `llm_calls`.
pub const TASK: &str = "maxdiff.choose";

/// The MaxDiff study's entry in the mechanism registry.
pub struct MaxDiffDef;

impl agora_core::MechanismDef for MaxDiffDef {
    type Settings = MaxDiffSpec;
    type Mechanism = MaxDiff;

    const KEYWORD: &'static str = "MaxDiff";
    const NAME: &'static str = "maxdiff";
    const TEMPLATE: Option<agora_core::Template> = Some(agora_core::Template {
        summary: "MaxDiff (best-worst scaling): which items matter most and least, by counts and logit scores.",
        about: "What matters most and least when people choose a meal kit.",
        agents: 200,
        replicates: 1,
        mechanism: include_str!("template.ron"),
    });

    fn max_rounds(settings: &MaxDiffSpec) -> u32 {
        settings.tasks
    }

    fn drivers(settings: &MaxDiffSpec) -> Vec<String> {
        settings.driver_names().map(String::from).collect()
    }

    fn segments(settings: &MaxDiffSpec) -> Vec<String> {
        settings.segments.clone()
    }

    fn rule_backend(settings: &MaxDiffSpec) -> agora_model::RuleBackend {
        rule_backend(settings)
    }

    fn state_types(
        types: agora_core::checkpoint::StateTypes,
    ) -> agora_core::checkpoint::StateTypes {
        types.resource::<MaxDiffAnswers>("maxdiff.answers")
    }

    fn build(
        settings: &MaxDiffSpec,
        build: agora_core::Build<'_>,
    ) -> Result<MaxDiff, agora_core::RunError> {
        MaxDiff::build(settings, build)
    }
}
