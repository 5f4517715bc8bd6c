//! Surveys: a questionnaire of items put to every agent.
//!
//! Items are Likert scales, single choices, dropdowns, yes/no, multi-selects,
//! rankings, matrices (statements on one scale), constant sums, numbers or free text.
//! They are asked one per round (so later answers can see earlier ones) or all at
//! once. Options (and a matrix's statements) can be shuffled per agent, with the
//! permutation recorded. Every answer is validated against its item; an invalid or
//! missing answer is recorded as an abstention (`fallback`) with the reason.
//!
//! Survey logic ([`logic`]) skips, shows, stops and branches on earlier answers and
//! persona attributes, and fills `{{ answers.id }}`, `{{ persona.attribute }}` and
//! `{{ item.field }}` into texts; an item loop (`for_each`) repeats a block of
//! questions per loop item.

mod answer;
pub mod logic;
mod mechanism;
mod policy;
mod prompt;
mod schema;
mod spec;

pub use answer::{Answer, validate_answer};
pub use mechanism::{Survey, SurveyProgress, survey_responses_table};
pub use policy::{AskedFact, SurveyFacts, SurveyRules, rule_backend};
pub use spec::{
    Branch, Condition, Item, ItemKind, Loop, LoopItem, LoopSource, MemoryScope, Slot, SurveyMode,
    SurveySpec,
};

/// Task name of survey decisions in requests and `llm_calls`.
pub const TASK: &str = "survey.answer";

/// The survey's entry in the mechanism registry.
pub struct SurveyDef;

impl agora_core::MechanismDef for SurveyDef {
    type Settings = SurveySpec;
    type Mechanism = Survey;

    const KEYWORD: &'static str = "Survey";
    const NAME: &'static str = "survey";

    fn max_rounds(settings: &SurveySpec) -> u32 {
        settings.rounds()
    }

    fn drivers(settings: &SurveySpec) -> Vec<String> {
        settings.driver_names()
    }

    fn resolve_paths(settings: &mut SurveySpec, base: &std::path::Path) {
        settings.load_loops(base);
    }

    fn check(settings: &SurveySpec) -> Vec<agora_core::SettingsIssue> {
        logic::check(settings)
    }

    fn state_types(
        types: agora_core::checkpoint::StateTypes,
    ) -> agora_core::checkpoint::StateTypes {
        types.component::<SurveyProgress>("survey.progress")
    }

    fn rule_backend(settings: &SurveySpec) -> agora_model::RuleBackend {
        rule_backend(settings)
    }

    fn build(
        settings: &SurveySpec,
        build: agora_core::Build<'_>,
    ) -> Result<Survey, agora_core::RunError> {
        Survey::build(settings, build)
    }
}
