//! Helpers shared by the gateway's tests against the fake server.

use std::sync::Arc;

use agora_llm::{ChatMessage, ChatRequest, SamplingParams};
use serde_json::json;

/// A Likert question (1 to 5) for respondent `seed`: each seed a different prompt.
pub fn likert(seed: u64) -> ChatRequest {
    ChatRequest {
        task: "survey.answer",
        messages: vec![
            ChatMessage::system("Answer as JSON."),
            ChatMessage::user(format!("Rate it, respondent {seed}.")),
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
