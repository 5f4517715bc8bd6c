//! Focus groups: a moderator puts a script of questions about a product to a group.
//!
//! One question per round; participants answer in turn, each seeing the answers
//! given before it (as far as the audience graph lets it hear them). Stimuli (a
//! product concept, an ad) are shown at the rounds the script names. After each
//! round, and once before the first, every participant rates the product privately on
//! the rating scale, in a call nobody else sees. The conversation engine in
//! [`crate::conversation`] plays it; this module holds the scenario block and the
//! rule-based voice.

mod spec;
mod voice;

pub use spec::FocusGroupSpec;
pub use voice::focus_group_line;

/// What makes a conversation a focus group: a product, a moderator's script, and
/// answers recorded per question.
pub static KIND: crate::conversation::setup::Kind = crate::conversation::setup::Kind {
    label: "focus_group",
    speak_task: crate::conversation::TASK_ANSWER,
    answers_table: true,
    asks_questions: true,
    topic_line: |topic| format!("The group discusses: {topic}."),
    short_topic: |topic| topic.split(',').next().unwrap_or(topic).trim(),
    opinion_question: |topic| format!("How likely would you be to buy or use {topic}?"),
    rule_line: focus_group_line,
};

/// The focus group's entry in the mechanism registry.
pub struct FocusGroupDef;

impl agora_core::MechanismDef for FocusGroupDef {
    type Settings = FocusGroupSpec;
    type Mechanism = crate::conversation::Conversation;

    const KEYWORD: &'static str = "FocusGroup";
    const INTERVENTIONS: bool = true;
    const NAME: &'static str = "focus_group";
    const TEMPLATE: Option<agora_core::Template> = Some(agora_core::Template {
        summary: "A moderated group discussion of a product, with stimuli and private purchase-intent ratings.",
        about: "A small focus group on a meal-kit concept with a concept board in round 2.",
        agents: 6,
        replicates: 2,
        mechanism: include_str!("template.ron"),
    });

    fn max_rounds(settings: &FocusGroupSpec) -> u32 {
        settings.0.rounds
    }

    fn drivers(settings: &FocusGroupSpec) -> Vec<String> {
        crate::conversation::def::drivers(&settings.0)
    }

    fn resolve_paths(settings: &mut FocusGroupSpec, base: &std::path::Path) {
        crate::conversation::def::resolve_paths(&mut settings.0, base);
    }

    fn check(settings: &FocusGroupSpec) -> Vec<agora_core::SettingsIssue> {
        crate::conversation::def::check(&settings.0)
    }

    fn actors_per_step(settings: &FocusGroupSpec, agents: usize) -> usize {
        crate::conversation::def::actors_per_step(&settings.0, agents)
    }

    fn state_types(
        types: agora_core::checkpoint::StateTypes,
    ) -> agora_core::checkpoint::StateTypes {
        crate::conversation::def::state_types(types)
    }

    fn texts(settings: &FocusGroupSpec) -> Vec<agora_core::outcome::TextSource> {
        crate::conversation::def::texts(&settings.0)
    }

    fn outcomes(_settings: &FocusGroupSpec) -> Vec<agora_core::outcome::OutcomeSource> {
        crate::conversation::def::outcomes()
    }

    fn rule_backend(settings: &FocusGroupSpec) -> agora_model::RuleBackend {
        crate::conversation::rule_backend(&settings.0)
    }

    fn build(
        settings: &FocusGroupSpec,
        build: agora_core::Build<'_>,
    ) -> Result<crate::conversation::Conversation, agora_core::RunError> {
        crate::conversation::Conversation::build(&settings.0, build)
    }
}
