//! The rule-based backend: deterministic policies instead of a language model.
//!
//! It is a real backend, not a test double: a non-LLM baseline arm (rational or
//! heuristic agents against LLM agents) and the engine's benchmark backend. Each
//! mechanism registers a [`RulePolicy`] per task it asks; a policy reads the request's
//! typed facts and seed and returns an answer of the request's schema.

use std::sync::Arc;
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt, ready};

use crate::model::{ChatModel, ChatResponse, LlmError, Usage};
use crate::request::ChatRequest;

/// A deterministic decision rule for one task.
pub trait RulePolicy: Send + Sync {
    /// Answer `request` from its facts and seed; the same request gives the same answer.
    fn answer(&self, request: &ChatRequest) -> Result<serde_json::Value, LlmError>;
}

/// The `rules` backend: a table from task name to policy.
///
/// A mechanism registers a handful of tasks, and every call looks its policy up: a
/// short list searched in order is cheaper than hashing the task name each time.
#[derive(Clone, Default)]
pub struct RuleBackend {
    policies: Vec<(&'static str, Arc<dyn RulePolicy>)>,
}

impl RuleBackend {
    /// A backend with no policies yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Register `policy` for decisions of kind `task`.
    pub fn with_policy(mut self, task: &'static str, policy: Arc<dyn RulePolicy>) -> Self {
        match self.policies.iter_mut().find(|(t, _)| *t == task) {
            Some((_, slot)) => *slot = policy,
            None => self.policies.push((task, policy)),
        }
        self
    }

    /// Tasks this backend can answer, sorted.
    pub fn tasks(&self) -> Vec<&'static str> {
        let mut tasks: Vec<_> = self.policies.iter().map(|(t, _)| *t).collect();
        tasks.sort_unstable();
        tasks
    }

    fn answer(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let (_, policy) = self
            .policies
            .iter()
            .find(|(task, _)| *task == request.task)
            .ok_or_else(|| LlmError::Unsupported {
                model: "rules".into(),
                task: request.task.into(),
                hint: format!("rule policies exist for: {}", self.tasks().join(", ")),
            })?;
        let answer = policy.answer(request)?;
        Ok(ChatResponse::new(answer, Usage::default(), Duration::ZERO))
    }
}

impl ChatModel for RuleBackend {
    fn name(&self) -> &str {
        "rules"
    }

    fn reads_messages(&self) -> bool {
        false
    }

    fn complete<'a>(
        &'a self,
        request: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<ChatResponse, LlmError>> {
        ready(self.answer(request)).boxed()
    }

    fn answer_now(&self, request: &ChatRequest) -> Option<Result<ChatResponse, LlmError>> {
        Some(self.answer(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::SamplingParams;

    struct EchoSeed;
    impl RulePolicy for EchoSeed {
        fn answer(&self, request: &ChatRequest) -> Result<serde_json::Value, LlmError> {
            Ok(serde_json::json!({ "seed": request.seed }))
        }
    }

    fn request(task: &'static str) -> ChatRequest {
        ChatRequest {
            task,
            messages: vec![],
            schema: Arc::new(serde_json::json!({})),
            params: SamplingParams::default(),
            seed: 7,
            facts: None,
        }
    }

    #[test]
    fn a_registered_policy_answers_and_an_unknown_task_is_a_clear_error() {
        let backend = RuleBackend::new().with_policy("echo", Arc::new(EchoSeed));
        let ok = futures::executor::block_on(backend.complete(&request("echo"))).unwrap();
        assert_eq!(ok.answer, serde_json::json!({ "seed": 7 }));
        assert_eq!(backend.answer_now(&request("echo")), Some(Ok(ok)));
        let err = futures::executor::block_on(backend.complete(&request("bid"))).unwrap_err();
        assert!(
            err.to_string().contains("rule policies exist for: echo"),
            "{err}"
        );
    }

    struct Fixed;
    impl RulePolicy for Fixed {
        fn answer(&self, _: &ChatRequest) -> Result<serde_json::Value, LlmError> {
            Ok(serde_json::json!("fixed"))
        }
    }

    #[test]
    fn a_task_registered_again_keeps_the_later_policy_and_each_task_its_own() {
        let backend = RuleBackend::new()
            .with_policy("b", Arc::new(EchoSeed))
            .with_policy("a", Arc::new(EchoSeed))
            .with_policy("b", Arc::new(Fixed));
        assert_eq!(backend.tasks(), vec!["a", "b"]);
        let answer = |task| {
            backend
                .answer_now(&request(task))
                .map(|r| r.map(|r| r.answer))
        };
        assert_eq!(answer("b"), Some(Ok(serde_json::json!("fixed"))));
        assert_eq!(answer("a"), Some(Ok(serde_json::json!({ "seed": 7 }))));
    }
}
