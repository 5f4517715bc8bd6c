//! A scripted backend for the middleware's unit tests.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use crate::model::{ChatModel, ChatResponse, LlmError, Usage};
use crate::request::{ChatMessage, ChatRequest, SamplingParams};

/// One scripted reaction of the backend.
#[derive(Clone, Debug)]
pub enum Step {
    /// A valid answer `{"answer": 3}`.
    Answer,
    /// This answer.
    AnswerWith(Value),
    /// An HTTP error status.
    Status(u16),
    /// A 429 asking to wait.
    RateLimited(Duration),
    /// Never answers.
    Hang,
    /// Not JSON.
    Garbage,
    /// This error.
    Fail(LlmError),
}

/// A backend that follows a script (then answers validly), counting calls and keeping
/// the requests it saw.
pub struct Scripted {
    steps: Mutex<std::collections::VecDeque<Step>>,
    calls: AtomicUsize,
    seen: Mutex<Vec<ChatRequest>>,
    delay: Duration,
}

impl Scripted {
    pub fn new(steps: Vec<Step>) -> Arc<Self> {
        Self::with_delay(steps, Duration::ZERO)
    }

    pub fn with_delay(steps: Vec<Step>, delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            steps: Mutex::new(steps.into()),
            calls: AtomicUsize::new(0),
            seen: Mutex::new(Vec::new()),
            delay,
        })
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub fn seen(&self) -> Vec<ChatRequest> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl ChatModel for Scripted {
    fn name(&self) -> &str {
        "scripted"
    }

    fn reads_messages(&self) -> bool {
        true
    }

    fn complete<'a>(
        &'a self,
        request: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<ChatResponse, LlmError>> {
        async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if let Ok(mut seen) = self.seen.lock() {
                seen.push(request.clone());
            }
            let step = self
                .steps
                .lock()
                .ok()
                .and_then(|mut s| s.pop_front())
                .unwrap_or(Step::Answer);
            if !self.delay.is_zero() {
                tokio::time::sleep(self.delay).await;
            }
            let usage = Usage {
                prompt_tokens: 100,
                completion_tokens: 10,
                cached_tokens: 0,
            };
            match step {
                Step::Answer => {
                    Ok(
                        ChatResponse::new(json!({ "answer": 3 }), usage, Duration::from_millis(5))
                            .with_raw("{\"answer\": 3}"),
                    )
                }
                Step::AnswerWith(v) => Ok(ChatResponse::new(v, usage, Duration::from_millis(5))),
                Step::Status(status) => Err(LlmError::Http {
                    status,
                    message: "scripted".into(),
                    retry_after: None,
                }),
                Step::RateLimited(wait) => Err(LlmError::Http {
                    status: 429,
                    message: "slow down".into(),
                    retry_after: Some(wait),
                }),
                Step::Hang => futures::future::pending().await,
                Step::Garbage => Err(LlmError::Malformed("<html>oops</html>".into())),
                Step::Fail(error) => Err(error),
            }
        }
        .boxed()
    }
}

/// A Likert-style request with seed `seed`.
pub fn request(seed: u64) -> ChatRequest {
    ChatRequest {
        task: "test",
        messages: vec![
            ChatMessage::system("Answer."),
            ChatMessage::user("How much do you agree?"),
        ],
        schema: Arc::new(json!({
            "type": "object",
            "properties": { "answer": { "type": "integer", "minimum": 1, "maximum": 5 } },
            "required": ["answer"],
            "additionalProperties": false
        })),
        params: SamplingParams::default(),
        seed,
        facts: None,
    }
}
