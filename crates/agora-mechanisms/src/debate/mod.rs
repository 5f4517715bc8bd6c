//! Debates: agents argue about a motion over rounds, taking sides or free positions.
//!
//! Each round the speakers (in a fixed, random or moderated order) state a public
//! message; after the round every agent gives its private opinion of the motion (a
//! point on the scale and a confidence) in a separate call that nobody else sees, and
//! once before round 1 as well. The conversation engine in [`crate::conversation`]
//! plays it; this module holds the scenario block and the rule-based voice.

mod spec;
mod voice;

pub use spec::DebateSpec;
pub use voice::debate_line;

/// What makes a conversation a debate: a motion, sides, no scripted questions.
pub static KIND: crate::conversation::setup::Kind = crate::conversation::setup::Kind {
    label: "debate",
    speak_task: crate::conversation::TASK_DEBATE,
    answers_table: false,
    asks_questions: false,
    topic_line: |topic| format!("The motion of the debate: \"{topic}\"."),
    short_topic: |topic| topic,
    opinion_question: |topic| format!("How much do you agree with the motion \"{topic}\"?"),
    rule_line: debate_line,
};

/// The debate's entry in the mechanism registry.
pub struct DebateDef;

impl agora_core::MechanismDef for DebateDef {
    type Settings = DebateSpec;
    type Mechanism = crate::conversation::Conversation;

    const KEYWORD: &'static str = "Debate";
    const INTERVENTIONS: bool = true;
    const NAME: &'static str = "debate";
    const TEMPLATE: Option<agora_core::Template> = Some(agora_core::Template {
        summary: "A debate on a motion: public messages in turn, private opinions before and after every round.",
        about: "A small debate for and against free public transport.",
        agents: 6,
        replicates: 2,
        mechanism: include_str!("template.ron"),
    });

    fn max_rounds(settings: &DebateSpec) -> u32 {
        settings.0.rounds
    }

    fn drivers(settings: &DebateSpec) -> Vec<String> {
        crate::conversation::def::drivers(&settings.0)
    }

    fn resolve_paths(settings: &mut DebateSpec, base: &std::path::Path) {
        crate::conversation::def::resolve_paths(&mut settings.0, base);
    }

    fn check(settings: &DebateSpec) -> Vec<agora_core::SettingsIssue> {
        crate::conversation::def::check(&settings.0)
    }

    fn actors_per_step(settings: &DebateSpec, agents: usize) -> usize {
        crate::conversation::def::actors_per_step(&settings.0, agents)
    }

    fn state_types(
        types: agora_core::checkpoint::StateTypes,
    ) -> agora_core::checkpoint::StateTypes {
        crate::conversation::def::state_types(types)
    }

    fn texts(settings: &DebateSpec) -> Vec<agora_core::outcome::TextSource> {
        crate::conversation::def::texts(&settings.0)
    }

    fn outcomes(_settings: &DebateSpec) -> Vec<agora_core::outcome::OutcomeSource> {
        crate::conversation::def::outcomes()
    }

    fn rule_backend(settings: &DebateSpec) -> agora_model::RuleBackend {
        crate::conversation::rule_backend(&settings.0)
    }

    fn build(
        settings: &DebateSpec,
        build: agora_core::Build<'_>,
    ) -> Result<crate::conversation::Conversation, agora_core::RunError> {
        crate::conversation::Conversation::build(&settings.0, build)
    }
}
