//! The trait every model backend implements, and what it returns.

use std::time::Duration;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::request::ChatRequest;

/// Token accounting of one call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the prompt.
    pub prompt_tokens: u32,
    /// Tokens generated.
    pub completion_tokens: u32,
    /// Prompt tokens served from the server's prefix cache.
    pub cached_tokens: u32,
}

/// How a call went, beyond its answer: filled in by the middleware around a backend.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CallMeta {
    /// Requests sent to the backend for this answer (retries and a repair included);
    /// 0 when the answer came from the cache without a call.
    pub attempts: u32,
    /// Whether the answer was served from the call cache.
    pub cache_hit: bool,
    /// Why the first answer failed schema validation, when a repair re-ask fixed it.
    pub repaired: Option<String>,
    /// Cost in US dollars from the price table, when the model has a price.
    pub cost_usd: Option<f64>,
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
    /// Attempts, cache and repair status, cost.
    pub meta: CallMeta,
}

impl ChatResponse {
    /// An answer from one attempt, with nothing yet known about cache, repair or cost.
    pub fn new(answer: serde_json::Value, usage: Usage, latency: Duration) -> Self {
        Self {
            answer,
            usage,
            latency,
            meta: CallMeta {
                attempts: 1,
                ..CallMeta::default()
            },
        }
    }
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
    /// The server answered with an HTTP error status.
    #[error("HTTP {status}: {message}")]
    Http {
        /// Status code.
        status: u16,
        /// The server's message (never contains credentials).
        message: String,
        /// How long the server asked us to wait before retrying.
        retry_after: Option<Duration>,
    },
    /// No answer arrived within the per-call timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The connection failed before an answer arrived.
    #[error("connection failed: {0}")]
    Transport(String),
    /// The answer was valid JSON but did not match the requested schema, also after
    /// one repair attempt.
    #[error("the answer does not match the schema: {0}")]
    SchemaMismatch(String),
    /// Replay mode found no cached answer for this call.
    #[error("no cached answer for this call (cache mode `replay` never calls a model)")]
    CacheMiss,
    /// Retries were exhausted; `last` is the final attempt's error.
    #[error("gave up after {attempts} attempts: {last}")]
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// The last error.
        last: Box<LlmError>,
    },
}

impl LlmError {
    /// Whether trying again may help: timeouts, connection failures, 429 and 5xx.
    pub fn is_retryable(&self) -> bool {
        match self {
            LlmError::Http { status, .. } => *status == 429 || *status >= 500,
            LlmError::Timeout(_) | LlmError::Transport(_) => true,
            _ => false,
        }
    }

    /// Requests sent to the backend before this error (at least 1 for call errors).
    pub fn attempts(&self) -> u32 {
        match self {
            LlmError::GaveUp { attempts, .. } => *attempts,
            LlmError::CacheMiss | LlmError::Unsupported { .. } | LlmError::InvalidRequest(_) => 0,
            _ => 1,
        }
    }
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
