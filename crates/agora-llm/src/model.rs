//! The trait every model backend implements, and what it returns.

use std::time::Duration;

use futures::future::BoxFuture;

use crate::request::ChatRequest;

/// Token accounting of one call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Tokens in the prompt.
    pub prompt_tokens: u32,
    /// Tokens generated.
    pub completion_tokens: u32,
    /// Prompt tokens served from the server's prefix cache.
    pub cached_tokens: u32,
}

/// A model's answer to one request.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatResponse {
    /// The answer, parsed as JSON (mechanisms validate it against their rules).
    pub answer: serde_json::Value,
    /// Token counts.
    pub usage: Usage,
    /// Time the backend spent on the call (zero for rule-based answers).
    pub latency: Duration,
}

/// Why a call produced no usable answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmError {
    /// The backend has no policy or capability for this kind of decision.
    #[error("model `{model}` cannot answer `{task}` decisions: {hint}")]
    Unsupported {
        /// Model name.
        model: String,
        /// The task asked for.
        task: String,
        /// What to do instead.
        hint: String,
    },
    /// The request lacked something the backend needs.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The model answered, but not with valid JSON.
    #[error("the answer is not valid JSON: {0}")]
    Malformed(String),
    /// The model server or runtime failed.
    #[error("backend failure: {0}")]
    Backend(String),
}

/// A backend that answers decisions.
///
/// Implementations must be deterministic given the request's seed where the underlying
/// model allows it, and must never panic on a bad answer: return an [`LlmError`].
pub trait ChatModel: Send + Sync {
    /// Name recorded in `llm_calls` and the manifest (`rules`, `openai:gpt-4o-mini`, ...).
    fn name(&self) -> &str;

    /// Whether the backend reads prompt text. When false, mechanisms skip rendering
    /// prompts (and prompt-only state), which is what makes million-agent rule-based
    /// runs cheap.
    fn reads_messages(&self) -> bool;

    /// Answer one request.
    fn complete<'a>(
        &'a self,
        request: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<ChatResponse, LlmError>>;

    /// Answer at once, without waiting, when the backend can (a rule, a cached answer);
    /// `None` means "await [`ChatModel::complete`]". The scheduler asks this first, so
    /// immediate answers skip the machinery that keeps slow calls in flight.
    fn answer_now(&self, _request: &ChatRequest) -> Option<Result<ChatResponse, LlmError>> {
        None
    }
}
