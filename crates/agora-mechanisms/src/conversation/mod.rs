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

pub use mechanism::{Conversation, MAX_FOLDED_ITEMS, Pending};
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
