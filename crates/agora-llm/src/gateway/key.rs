//! The content address of a call: what makes two calls the same call.

use crate::request::ChatRequest;

/// BLAKE3 hash of everything that determines a call's answer: model, sampling
/// parameters, rendered messages, schema, and the seed (only when sampling is random,
/// i.e. temperature above 0). The request's task and typed facts are not part of it:
/// a language model sees only the messages.
///
/// Temperature and top-p enter as their `f32` form, as they did when they were held as
/// `f32`, so caches written before they became `f64` keep answering. Two values that
/// round to the same `f32` share a key (they differ by less than one part in 10^7).
pub fn call_key(model: &str, request: &ChatRequest) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    let mut field = |bytes: &[u8]| {
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field(b"agora-call-v1");
    field(model.as_bytes());
    let p = &request.params;
    field(&(p.temperature as f32).to_le_bytes());
    field(&(p.top_p as f32).to_le_bytes());
    field(&p.max_tokens.to_le_bytes());
    for m in &request.messages {
        field(format!("{:?}", m.role).as_bytes());
        field(m.content.as_bytes());
    }
    field(request.schema.to_string().as_bytes());
    if p.temperature > 0.0 {
        field(&request.seed.to_le_bytes());
    }
    *h.finalize().as_bytes()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::request::{ChatMessage, SamplingParams};

    fn request(seed: u64, temperature: f64, text: &str) -> ChatRequest {
        ChatRequest {
            task: "t",
            messages: vec![ChatMessage::user(text)],
            schema: Arc::new(serde_json::json!({ "type": "object" })),
            params: SamplingParams {
                temperature,
                ..SamplingParams::default()
            },
            seed,
            facts: None,
        }
    }

    #[test]
    fn the_key_covers_model_messages_and_seed_when_sampling() {
        let a = call_key("m", &request(1, 0.7, "hi"));
        assert_eq!(a, call_key("m", &request(1, 0.7, "hi")));
        assert_ne!(a, call_key("n", &request(1, 0.7, "hi")));
        assert_ne!(a, call_key("m", &request(2, 0.7, "hi")));
        assert_ne!(a, call_key("m", &request(1, 0.7, "hello")));
        assert_ne!(a, call_key("m", &request(1, 0.8, "hi")));
        // Greedy decoding ignores the seed, so identical greedy prompts share a key.
        assert_eq!(
            call_key("m", &request(1, 0.0, "hi")),
            call_key("m", &request(2, 0.0, "hi"))
        );
    }
}
