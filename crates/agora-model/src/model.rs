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

impl Usage {
    /// The tokens of `self` and `other` together.
    pub fn plus(&self, other: &Usage) -> Usage {
        Usage {
            prompt_tokens: self.prompt_tokens.saturating_add(other.prompt_tokens),
            completion_tokens: self
                .completion_tokens
                .saturating_add(other.completion_tokens),
            cached_tokens: self.cached_tokens.saturating_add(other.cached_tokens),
        }
    }

    /// Whether no token was counted.
    pub fn is_zero(&self) -> bool {
        *self == Usage::default()
    }
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
    /// The server that answered (its base URL, without credentials), when the backend
    /// spreads calls over several (`llm_calls.endpoint`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
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
    /// The completion's text as the model wrote it, before parsing, when a backend
    /// produced text (kept for `transcripts`; rule-based answers have none).
    pub raw: Option<String>,
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
            raw: None,
        }
    }

    /// The same answer, with the completion's text as the model wrote it.
    pub fn with_raw(mut self, raw: impl Into<String>) -> Self {
        self.raw = Some(raw.into());
        self
    }
}

/// Why a call produced no usable answer.
///
/// Serializable so that the call cache can store a call that ended in an answer the
/// schema rejects and replay exactly the same failure.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
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
    /// The experiment's spending limit cannot cover this call, so it was not sent.
    #[error("not sent: {0}")]
    BudgetExhausted(String),
    /// A failed call whose attempts reached the model: the failure, with the tokens
    /// those attempts used and how the call went. It reads exactly as `error`.
    #[error("{error}")]
    Spent {
        /// Why the call failed.
        error: Box<LlmError>,
        /// Tokens of every attempt that reached the model.
        usage: Usage,
        /// Attempts, cost of the tokens, and whether the failure was replayed from the
        /// call cache.
        meta: CallMeta,
    },
}

impl LlmError {
    /// Whether trying again may help: timeouts, connection failures, 429 and 5xx.
    pub fn is_retryable(&self) -> bool {
        match self {
            LlmError::Spent { error, .. } => error.is_retryable(),
            LlmError::Http { status, .. } => *status == 429 || *status >= 500,
            LlmError::Timeout(_) | LlmError::Transport(_) => true,
            _ => false,
        }
    }

    /// Requests sent to the backend before this error (at least 1 for call errors).
    pub fn attempts(&self) -> u32 {
        match self {
            LlmError::GaveUp { attempts, .. } => *attempts,
            LlmError::Spent { error, meta, .. } => meta.attempts.max(error.attempts()),
            LlmError::CacheMiss
            | LlmError::Unsupported { .. }
            | LlmError::InvalidRequest(_)
            | LlmError::BudgetExhausted(_) => 0,
            _ => 1,
        }
    }

    /// Tokens that the failed call's attempts used (zero when none reached the model).
    pub fn usage(&self) -> Usage {
        match self {
            LlmError::Spent { usage, .. } => *usage,
            LlmError::GaveUp { last, .. } => last.usage(),
            _ => Usage::default(),
        }
    }

    /// How the failed call went (attempts, cost, cache hit), when it reached the model.
    pub fn meta(&self) -> Option<&CallMeta> {
        match self {
            LlmError::Spent { meta, .. } => Some(meta),
            LlmError::GaveUp { last, .. } => last.meta(),
            _ => None,
        }
    }

    /// The failure itself, without the accounting of [`LlmError::Spent`].
    pub fn cause(&self) -> &LlmError {
        match self {
            LlmError::Spent { error, .. } => error.cause(),
            other => other,
        }
    }

    /// The final attempt's failure, through [`LlmError::Spent`] and [`LlmError::GaveUp`].
    pub fn last(&self) -> &LlmError {
        match self.cause() {
            LlmError::GaveUp { last, .. } => last.last(),
            other => other,
        }
    }

    /// This error with `f` applied to every message text it carries (to scrub a
    /// secret, say).
    pub fn map_messages(self, f: &dyn Fn(String) -> String) -> LlmError {
        match self {
            LlmError::Unsupported { model, task, hint } => LlmError::Unsupported {
                model: f(model),
                task: f(task),
                hint: f(hint),
            },
            LlmError::InvalidRequest(m) => LlmError::InvalidRequest(f(m)),
            LlmError::Malformed(m) => LlmError::Malformed(f(m)),
            LlmError::Backend(m) => LlmError::Backend(f(m)),
            LlmError::Http {
                status,
                message,
                retry_after,
            } => LlmError::Http {
                status,
                message: f(message),
                retry_after,
            },
            LlmError::Transport(m) => LlmError::Transport(f(m)),
            LlmError::SchemaMismatch(m) => LlmError::SchemaMismatch(f(m)),
            LlmError::BudgetExhausted(m) => LlmError::BudgetExhausted(f(m)),
            LlmError::GaveUp { attempts, last } => LlmError::GaveUp {
                attempts,
                last: Box::new(last.map_messages(f)),
            },
            LlmError::Spent {
                error,
                usage,
                mut meta,
            } => {
                meta.repaired = meta.repaired.map(f);
                LlmError::Spent {
                    error: Box::new(error.map_messages(f)),
                    usage,
                    meta,
                }
            }
            other @ (LlmError::Timeout(_) | LlmError::CacheMiss) => other,
        }
    }

    /// This error without any [`LlmError::Spent`] wrapper (also inside
    /// [`LlmError::GaveUp`]), and the tokens the outermost wrapper counted.
    pub fn into_unspent(self) -> (LlmError, Usage) {
        match self {
            // The outer accounting covers everything inside it.
            LlmError::Spent { error, usage, .. } => (error.into_unspent().0, usage),
            LlmError::GaveUp { attempts, last } => {
                let (last, usage) = last.into_unspent();
                (
                    LlmError::GaveUp {
                        attempts,
                        last: Box::new(last),
                    },
                    usage,
                )
            }
            other => (other, Usage::default()),
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

    /// Whether the backend enforces the per-attempt timeout itself, counting from the
    /// moment it starts working on a request, so that time spent waiting for a turn in
    /// its own queue does not count (the embedded model, which decodes requests in
    /// turn). The gateway then does not cut its calls short but hands it the limit.
    fn times_own_attempts(&self) -> bool {
        false
    }

    /// Answer at once, without waiting, when the backend can (a rule, a cached answer);
    /// `None` means "await [`ChatModel::complete`]". The scheduler asks this first, so
    /// immediate answers skip the machinery that keeps slow calls in flight.
    fn answer_now(&self, _request: &ChatRequest) -> Option<Result<ChatResponse, LlmError>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spent() -> LlmError {
        LlmError::Spent {
            error: Box::new(LlmError::GaveUp {
                attempts: 2,
                last: Box::new(LlmError::SchemaMismatch(
                    "$.answer: 9 is above the maximum 5".into(),
                )),
            }),
            usage: Usage {
                prompt_tokens: 200,
                completion_tokens: 20,
                cached_tokens: 0,
            },
            meta: CallMeta {
                attempts: 2,
                cost_usd: Some(0.5),
                ..CallMeta::default()
            },
        }
    }

    #[test]
    fn a_spent_failure_reads_as_its_cause_and_carries_its_accounting() {
        let error = spent();
        assert_eq!(
            error.to_string(),
            "gave up after 2 attempts: the answer does not match the schema: $.answer: 9 is above the maximum 5"
        );
        assert_eq!(error.usage().prompt_tokens, 200);
        assert_eq!(error.meta().and_then(|m| m.cost_usd), Some(0.5));
        assert_eq!(error.attempts(), 2);
        assert!(matches!(error.last(), LlmError::SchemaMismatch(_)));
        let (bare, usage) = error.clone().into_unspent();
        assert!(matches!(bare, LlmError::GaveUp { .. }));
        assert_eq!(usage, error.usage());
        let text = serde_json::to_string(&error).unwrap();
        assert_eq!(serde_json::from_str::<LlmError>(&text).unwrap(), error);
    }

    #[test]
    fn messages_can_be_rewritten_everywhere() {
        let scrubbed = spent().map_messages(&|m| m.replace("9", "#"));
        assert!(!scrubbed.to_string().contains('9'), "{scrubbed}");
    }
}
