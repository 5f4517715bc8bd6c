//! Schema validation of every answer, with one repair re-ask.

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;

use crate::model::{CallMeta, ChatModel, ChatResponse, LlmError, Usage};
use crate::request::{ChatMessage, ChatRequest, Role};
use crate::schema::validate;

/// Checks every answer against its request's JSON Schema. An answer that does not
/// match (or is not JSON at all) gets one repair attempt: the request is asked again
/// with the bad answer and the validation error appended. If the repaired answer
/// matches, the response records why a repair was needed; otherwise the call fails
/// with [`LlmError::SchemaMismatch`] and the mechanism applies its fallback. A failed
/// call that reached the model is an [`LlmError::Spent`] with the tokens of both
/// attempts, and a repaired answer counts the tokens of the first attempt too.
pub struct Validated {
    inner: Arc<dyn ChatModel>,
}

impl Validated {
    /// Validate and repair answers of `inner`.
    pub fn new(inner: Arc<dyn ChatModel>) -> Self {
        Self { inner }
    }

    fn check(request: &ChatRequest, response: &ChatResponse) -> Result<(), String> {
        validate(&request.schema, &response.answer)
    }

    async fn call(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        // What the first attempt produced, what was wrong with it, and what it used.
        let (first, problem, first_usage, first_attempts) = match self.inner.complete(request).await
        {
            Ok(response) => match Self::check(request, &response) {
                Ok(()) => return Ok(response),
                Err(problem) => {
                    let (usage, attempts) = (response.usage, response.meta.attempts.max(1));
                    (Some(response), problem, usage, attempts)
                }
            },
            Err(error) => match error.last() {
                LlmError::Malformed(text) => (
                    None,
                    format!("the reply was not valid JSON: {}", excerpt(text)),
                    error.usage(),
                    error.attempts().max(1),
                ),
                _ => return Err(error),
            },
        };
        let repair = repair_request(request, first.as_ref(), &problem);
        match self.inner.complete(&repair).await {
            Ok(mut second) => {
                let attempts = first_attempts + second.meta.attempts.max(1);
                let usage = first_usage.plus(&second.usage);
                if let Err(again) = Self::check(request, &second) {
                    return Err(spent(
                        LlmError::GaveUp {
                            attempts,
                            last: Box::new(LlmError::SchemaMismatch(again)),
                        },
                        usage,
                        attempts,
                    ));
                }
                if let Some(first) = &first {
                    second.latency += first.latency;
                }
                second.usage = usage;
                second.meta.attempts = attempts;
                second.meta.repaired = Some(problem);
                Ok(second)
            }
            Err(error) => {
                let attempts = first_attempts + error.attempts().max(1);
                let (error, second_usage) = error.into_unspent();
                Err(spent(
                    LlmError::GaveUp {
                        attempts,
                        last: Box::new(error),
                    },
                    first_usage.plus(&second_usage),
                    attempts,
                ))
            }
        }
    }
}

/// A failure after attempts that reached the model, with their tokens.
fn spent(error: LlmError, usage: Usage, attempts: u32) -> LlmError {
    LlmError::Spent {
        error: Box::new(error),
        usage,
        meta: CallMeta {
            attempts,
            ..CallMeta::default()
        },
    }
}

/// The original request plus the bad answer and what was wrong with it.
fn repair_request(
    request: &ChatRequest,
    first: Option<&ChatResponse>,
    problem: &str,
) -> ChatRequest {
    let mut repair = request.clone();
    if let Some(first) = first {
        repair.messages.push(ChatMessage {
            role: Role::Assistant,
            content: first.answer.to_string(),
        });
    }
    repair.messages.push(ChatMessage::user(format!(
        "That answer is invalid: {problem}. Reply again with only a JSON value that matches this schema: {}",
        request.schema
    )));
    repair
}

fn excerpt(text: &str) -> String {
    let short: String = text.chars().take(80).collect();
    if short.len() < text.len() {
        format!("{short}...")
    } else {
        short
    }
}

impl ChatModel for Validated {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn reads_messages(&self) -> bool {
        self.inner.reads_messages()
    }

    fn complete<'a>(
        &'a self,
        request: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<ChatResponse, LlmError>> {
        self.call(request).boxed()
    }

    fn answer_now(&self, request: &ChatRequest) -> Option<Result<ChatResponse, LlmError>> {
        let answer = self.inner.answer_now(request)?;
        Some(
            answer.and_then(|response| match Self::check(request, &response) {
                Ok(()) => Ok(response),
                Err(problem) => Err(spent(
                    LlmError::SchemaMismatch(problem),
                    response.usage,
                    response.meta.attempts.max(1),
                )),
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::gateway::testing::{Scripted, Step, request};

    #[tokio::test]
    async fn a_valid_answer_passes_untouched() {
        let inner = Scripted::new(vec![Step::Answer]);
        let r = Validated::new(inner.clone())
            .complete(&request(1))
            .await
            .unwrap();
        assert_eq!(r.meta.repaired, None);
        assert_eq!(inner.calls(), 1);
    }

    #[tokio::test]
    async fn an_invalid_answer_is_repaired_once_with_the_error_in_the_prompt() {
        let inner = Scripted::new(vec![Step::AnswerWith(json!({ "answer": 9 })), Step::Answer]);
        let r = Validated::new(inner.clone())
            .complete(&request(1))
            .await
            .unwrap();
        let why = r.meta.repaired.clone().unwrap();
        assert!(why.contains("above the maximum 5"), "{why}");
        assert_eq!((r.meta.attempts, r.usage.prompt_tokens), (2, 200));
        let seen = inner.seen();
        let last = &seen[1].messages;
        assert_eq!(last[last.len() - 2].content, r#"{"answer":9}"#);
        assert!(last[last.len() - 1].content.contains("above the maximum 5"));
    }

    #[tokio::test]
    async fn garbage_is_repaired_too() {
        let inner = Scripted::new(vec![Step::Garbage, Step::Answer]);
        let r = Validated::new(inner).complete(&request(1)).await.unwrap();
        assert!(r.meta.repaired.unwrap().contains("not valid JSON"));
    }

    #[tokio::test]
    async fn a_second_invalid_answer_is_a_schema_mismatch() {
        let inner = Scripted::new(vec![
            Step::AnswerWith(json!({ "answer": 0 })),
            Step::AnswerWith(json!({ "x": 1 })),
        ]);
        let err = Validated::new(inner.clone())
            .complete(&request(1))
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("does not match the schema"),
            "{err}"
        );
        assert_eq!(err.attempts(), 2);
        assert_eq!(inner.calls(), 2);
        // Both paid attempts are counted.
        assert_eq!(
            (err.usage().prompt_tokens, err.usage().completion_tokens),
            (200, 20)
        );
    }

    #[tokio::test]
    async fn garbage_and_a_failed_repair_still_count_every_token() {
        let malformed = || LlmError::Spent {
            error: Box::new(LlmError::Malformed("four".into())),
            usage: crate::model::Usage {
                prompt_tokens: 50,
                completion_tokens: 5,
                cached_tokens: 0,
            },
            meta: CallMeta {
                attempts: 1,
                ..CallMeta::default()
            },
        };
        let inner = Scripted::new(vec![Step::Fail(malformed()), Step::Answer]);
        let r = Validated::new(inner).complete(&request(1)).await.unwrap();
        assert_eq!((r.usage.prompt_tokens, r.meta.attempts), (150, 2));
        let inner = Scripted::new(vec![Step::Fail(malformed()), Step::Fail(malformed())]);
        let err = Validated::new(inner)
            .complete(&request(1))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("not valid JSON"), "{err}");
        assert_eq!((err.usage().prompt_tokens, err.attempts()), (100, 2));
    }

    #[tokio::test]
    async fn other_failures_pass_through_without_a_repair() {
        let inner = Scripted::new(vec![Step::Status(401)]);
        let err = Validated::new(inner.clone())
            .complete(&request(1))
            .await
            .unwrap_err();
        assert!(matches!(err, LlmError::Http { status: 401, .. }));
        assert_eq!(inner.calls(), 1);
    }
}
