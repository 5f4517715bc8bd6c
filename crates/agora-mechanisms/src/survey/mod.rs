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

use agora_core::outcome::{
    Combine, OutcomeName, OutcomeSource, OutcomeUnit, OutcomeValue, Question, Scale,
};

/// The survey's entry in the mechanism registry.
pub struct SurveyDef;

impl agora_core::MechanismDef for SurveyDef {
    type Settings = SurveySpec;
    type Mechanism = Survey;

    const KEYWORD: &'static str = "Survey";
    const NAME: &'static str = "survey";
    const TEMPLATE: Option<agora_core::Template> = Some(agora_core::Template {
        summary: "A questionnaire: scales, choices, rankings, grids, numbers and free text, with skip logic, piping and item loops.",
        about: "A first look at a meal-kit concept: appeal, price, plan choice and willingness to pay.",
        agents: 200,
        replicates: 1,
        mechanism: include_str!("template.ron"),
    });

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

    fn questions(settings: &SurveySpec) -> Vec<Question> {
        settings
            .items
            .iter()
            .filter_map(|item| {
                let (scale, answer) = match &item.kind {
                    ItemKind::Likert { points, .. } => {
                        (Scale::Ordinal(u16::from(*points)), "answer_value")
                    }
                    ItemKind::SingleChoice { options, .. } | ItemKind::Dropdown { options, .. } => {
                        (Scale::Categorical(options.clone()), "answer_label")
                    }
                    ItemKind::YesNo => (
                        Scale::Categorical(vec!["yes".into(), "no".into()]),
                        "answer_label",
                    ),
                    ItemKind::Numeric { .. } => (Scale::Numeric, "answer_value"),
                    // Free text, and kinds answered in sub-items, have no single scale.
                    _ => return None,
                };
                Some(Question {
                    id: item.id.clone(),
                    scale,
                    table: "survey_responses".into(),
                    id_column: "item_id".into(),
                    answer_column: answer.into(),
                })
            })
            .collect()
    }

    fn texts(settings: &SurveySpec) -> Vec<agora_core::outcome::TextSource> {
        settings
            .items
            .iter()
            .filter(|item| matches!(item.kind, ItemKind::FreeText { .. }))
            .map(|item| {
                agora_core::outcome::TextSource::new(
                    &item.id,
                    format!("free-text item `{}`", item.id),
                    "survey_responses",
                    "answer_label",
                )
                .only("item_id", &[item.id.as_str()])
                .only("status", &["valid", "repaired"])
            })
            .collect()
    }

    fn outcomes(_settings: &SurveySpec) -> Vec<OutcomeSource> {
        // Valid and repaired answers count; a fallback is not the respondent's answer.
        let answered = ["valid", "repaired"];
        vec![
            OutcomeSource {
                table: "survey_responses".into(),
                name: OutcomeName::Column("item_id".into()),
                value: OutcomeValue::Number("answer_value".into()),
                unit: OutcomeUnit::Agent,
                combine: Combine::Mean,
                only: Vec::new(),
            }
            .only("item_kind", &["likert", "numeric"])
            .only("status", &answered),
            OutcomeSource {
                table: "survey_responses".into(),
                name: OutcomeName::Column("item_id".into()),
                value: OutcomeValue::Shares("answer_label".into()),
                unit: OutcomeUnit::Agent,
                combine: Combine::Mean,
                only: Vec::new(),
            }
            .only("item_kind", &["single_choice", "yes_no", "dropdown"])
            .only("status", &answered),
        ]
    }

    fn build(
        settings: &SurveySpec,
        build: agora_core::Build<'_>,
    ) -> Result<Survey, agora_core::RunError> {
        Survey::build(settings, build)
    }
}
