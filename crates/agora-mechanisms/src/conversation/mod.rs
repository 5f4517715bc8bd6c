//! Conversations: the engine shared by debates and focus groups.
//!
//! Agents speak in turn to an audience given by a social graph, remember what they may
//! know (an egocentric projection of the event log, consolidated every few rounds by a
//! recorded model call) and give private opinions in separate calls nobody else sees.
//! Rules in Rust decide everything else: who speaks when, who hears whom, how opinions
//! of rule-based agents move ([`dynamics`]), the per-round [`metrics`] and when the
//! conversation stops ([`termination`]).

pub mod dynamics;
mod mechanism;
pub mod metrics;
mod policy;
mod prompt;
pub mod schema;
pub mod settings;
pub mod setup;
mod tables;
pub mod termination;
pub mod view;
pub mod voice;

#[cfg(test)]
mod tests;

pub use mechanism::{
    AgentState, Conversation, ConversationState, MAX_FOLDED_ITEMS, ModeratorSeat, Pending,
};
pub use policy::{ConversationRules, TurnFacts, rule_backend, rule_summary};
pub use tables::{
    conversation_end_table, focus_group_answers_table, messages_table, metrics_table,
    opinions_table,
};

/// Task name of a debater's public message.
pub const TASK_DEBATE: &str = "debate.message";
/// Task name of a focus-group participant's public answer.
pub const TASK_ANSWER: &str = "focus_group.answer";
/// Task name of a private opinion (debates) or rating (focus groups).
pub const TASK_OPINION: &str = "conversation.opinion";
/// Task name of a memory consolidation.
pub const TASK_CONSOLIDATE: &str = "memory.consolidate";
/// Task name of a model moderator's question.
pub const TASK_MODERATE: &str = "focus_group.moderator";

/// Registry hooks shared by debates and focus groups, which differ only in their
/// scenario block.
pub(crate) mod def {
    use std::path::Path;

    use agora_core::SettingsIssue;
    use agora_population::graph::{GraphSpec, parse_edge_list};

    use super::setup::Setup;

    /// Every population trait or attribute the settings refer to.
    pub fn drivers(setup: &Setup) -> Vec<String> {
        setup.driver_names().map(String::from).collect()
    }

    /// Speakers in turn are one actor per step; simultaneous speakers are all of a
    /// round's speakers (everyone, or `speakers_per_round`).
    pub fn actors_per_step(setup: &Setup, agents: usize) -> usize {
        if setup.order.is_simultaneous() {
            setup
                .speakers_per_round
                .map_or(agents, |cap| agents.min(cap as usize))
                .max(1)
        } else {
            1
        }
    }

    /// Read an edge-list audience from the scenario's folder.
    pub fn resolve_paths(setup: &mut Setup, base: &Path) {
        setup.audience.resolve_paths(base);
    }

    /// What a conversation keeps in the world: its state resource and the model
    /// moderator's seat.
    pub fn state_types(
        types: agora_core::checkpoint::StateTypes,
    ) -> agora_core::checkpoint::StateTypes {
        types
            .resource::<super::ConversationState>("conversation.state")
            .component::<super::ModeratorSeat>("conversation.moderator")
    }

    /// Outcomes of a conversation: each agent's final private opinion, the final
    /// opinion mean and polarisation of the run, and focus-group ratings per question.
    pub fn outcomes() -> Vec<agora_core::outcome::OutcomeSource> {
        use agora_core::outcome::{Combine, OutcomeName, OutcomeSource, OutcomeUnit, OutcomeValue};
        vec![
            OutcomeSource::number("opinions", "opinion", "private_stance", OutcomeUnit::Agent)
                .combined(Combine::Last),
            OutcomeSource::number(
                "debate_metrics",
                "polarisation",
                "polarisation",
                OutcomeUnit::Run,
            )
            .combined(Combine::Last),
            OutcomeSource {
                table: "focus_group_answers".into(),
                name: OutcomeName::Column("question_id".into()),
                value: OutcomeValue::Number("rating".into()),
                unit: OutcomeUnit::Agent,
                combine: Combine::Mean,
                only: Vec::new(),
            },
        ]
    }

    /// Free text of a conversation: every participant's public messages (`messages`),
    /// and those answering each question of a script (`messages:QUESTION`).
    pub fn texts(setup: &Setup) -> Vec<agora_core::outcome::TextSource> {
        use agora_core::outcome::TextSource;
        let mut texts = vec![
            TextSource::new(
                "messages",
                "participants' public messages",
                "messages",
                "text",
            )
            .only("status", &["valid"]),
        ];
        for q in &setup.questions {
            texts.push(
                TextSource::new(
                    &format!("messages:{}", q.id),
                    format!("answers to question `{}`", q.id),
                    "messages",
                    "text",
                )
                .only("status", &["valid"])
                .only("question_id", &[q.id.as_str()]),
            );
        }
        texts
    }

    /// An edge-list audience must be readable and well formed before anything runs.
    pub fn check(setup: &Setup) -> Vec<SettingsIssue> {
        let GraphSpec::File(path) = &setup.audience else {
            return Vec::new();
        };
        let problem = match std::fs::read_to_string(path) {
            Err(e) => Some((
                format!("cannot read the graph file {}: {e}", path.display()),
                "check the path; a relative path is read from the scenario's folder",
            )),
            Ok(text) => parse_edge_list(&text).err().map(|e| {
                (
                    format!("{}: {e}", path.display()),
                    "write one pair of agent ids per line, such as 0,1",
                )
            }),
        };
        problem
            .map(|(message, hint)| SettingsIssue {
                message,
                hint: hint.into(),
                needle: "File(".into(),
            })
            .into_iter()
            .collect()
    }
}
