//! What a mechanism asks of a model for one decision.

use std::any::Any;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Who wrote a chat message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Fixed instructions.
    System,
    /// The situation and question put to the agent.
    User,
    /// An earlier answer of the model.
    Assistant,
}

/// One message of a chat prompt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Author role.
    pub role: Role,
    /// Message text.
    pub content: String,
}

impl ChatMessage {
    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: Role::System,
            content: content.into(),
        }
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: content.into(),
        }
    }
}

/// Sampling parameters passed through to the model.
///
/// Temperature and top-p are `f64` so that the value a scenario writes (`0.8`) is the
/// value a server receives (`0.8`, not `0.800000011920929`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SamplingParams {
    /// Softmax temperature; 0 is greedy.
    pub temperature: f64,
    /// Nucleus sampling mass.
    pub top_p: f64,
    /// Upper bound on generated tokens.
    pub max_tokens: u32,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            temperature: 0.7,
            top_p: 1.0,
            max_tokens: 256,
        }
    }
}

/// Structured facts about a decision, for rule-based policies.
///
/// A language model reads the rendered messages; a rule-based policy reads the same
/// information as typed data. The mechanism that builds the request puts a value of its
/// own type here and its policy downcasts it.
pub type Facts = Arc<dyn Any + Send + Sync>;

/// One decision put to a model.
#[derive(Clone)]
pub struct ChatRequest {
    /// What kind of decision this is (`survey.answer`, ...); selects a rule policy and
    /// labels the call in `llm_calls`.
    pub task: &'static str,
    /// The prompt: fixed instructions first, then the persona, then what changes.
    /// Empty when the model does not read prompts (see [`crate::ChatModel::reads_messages`]).
    pub messages: Vec<ChatMessage>,
    /// JSON Schema the answer must satisfy.
    pub schema: Arc<serde_json::Value>,
    /// Sampling parameters.
    pub params: SamplingParams,
    /// Seed of this call's stream (agent, round and call derive it).
    pub seed: u64,
    /// Typed facts for rule-based policies.
    pub facts: Option<Facts>,
}

impl std::fmt::Debug for ChatRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatRequest")
            .field("task", &self.task)
            .field("messages", &self.messages)
            .field("schema", &self.schema)
            .field("params", &self.params)
            .field("seed", &self.seed)
            .field("facts", &self.facts.as_ref().map(|_| "..."))
            .finish()
    }
}
