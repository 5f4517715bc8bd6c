//! Embedding requests: texts to turn into vectors, asked through the same gateway as
//! decisions (cache, deduplication, limits, retries, budget, accounting).
//!
//! A mechanism that needs embeddings (semantic similarity rating) sends a
//! [`ChatRequest`] made by [`embedding_request`]: its facts hold the
//! [`EmbeddingQuery`] (embedding model and input texts), its messages the same texts
//! and its schema names the embedding model, so the call cache keys on both. A
//! backend that offers embeddings recognises the query ([`embedding_query`]) and
//! answers `{"embeddings": [[...], ...]}`, one vector per input in order (read back
//! with [`embeddings_of`]). The OpenAI-compatible backend calls `/v1/embeddings`.
//!
//! Which backends offer embeddings is the runner's knowledge: it tells a run through
//! the world's embedding source resource, and mechanisms use their lexical embedding
//! otherwise.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::request::{ChatMessage, ChatRequest, SamplingParams};

/// What an embedding request asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmbeddingQuery {
    /// The embedding model (`text-embedding-3-small`).
    pub model: String,
    /// The texts, in order.
    pub inputs: Vec<String>,
    /// Dimensions to ask for, when the model can shorten its vectors.
    pub dimensions: Option<u32>,
}

/// The request that embeds `query`'s inputs, labelled `task` in `llm_calls`.
pub fn embedding_request(task: &'static str, query: EmbeddingQuery) -> ChatRequest {
    let n = query.inputs.len();
    let title = match query.dimensions {
        Some(d) => format!("embedding:{}:{d}", query.model),
        None => format!("embedding:{}", query.model),
    };
    ChatRequest {
        task,
        messages: query.inputs.iter().map(ChatMessage::user).collect(),
        schema: Arc::new(json!({
            "title": title,
            "type": "object",
            "properties": {
                "embeddings": {
                    "type": "array",
                    "items": { "type": "array", "items": { "type": "number" }, "minItems": 1 },
                    "minItems": n,
                    "maxItems": n,
                }
            },
            "required": ["embeddings"],
        })),
        params: SamplingParams {
            temperature: 0.0,
            top_p: 1.0,
            max_tokens: 1,
        },
        // Embeddings do not sample: the same texts are the same call.
        seed: 0,
        facts: Some(Arc::new(query)),
    }
}

/// The embedding query of `request`, when it is one.
pub fn embedding_query(request: &ChatRequest) -> Option<&EmbeddingQuery> {
    request
        .facts
        .as_ref()
        .and_then(|f| f.downcast_ref::<EmbeddingQuery>())
}

/// The vectors of an embedding answer, one per input, each finite and non-empty.
pub fn embeddings_of(answer: &Value) -> Result<Vec<Vec<f64>>, String> {
    let list = answer
        .get("embeddings")
        .and_then(Value::as_array)
        .ok_or("the answer has no \"embeddings\" list")?;
    list.iter()
        .enumerate()
        .map(|(i, v)| {
            let values = v
                .as_array()
                .ok_or_else(|| format!("embedding {i} is not a list of numbers"))?;
            if values.is_empty() {
                return Err(format!("embedding {i} is empty"));
            }
            values
                .iter()
                .map(|x| {
                    x.as_f64()
                        .filter(|x| x.is_finite())
                        .ok_or_else(|| format!("embedding {i} holds {x}, not a finite number"))
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_travel_in_the_facts_and_the_key_sees_model_and_texts() {
        let q = EmbeddingQuery {
            model: "e3".into(),
            inputs: vec!["a".into(), "b".into()],
            dimensions: None,
        };
        let r = embedding_request("concept.embed", q.clone());
        assert_eq!(embedding_query(&r), Some(&q));
        assert_eq!(r.messages.len(), 2);
        assert_eq!(r.schema["title"], "embedding:e3");
        let ok = json!({"embeddings": [[0.5, 1.0], [0.0, -1.0]]});
        assert!(crate::schema::validate(&r.schema, &ok).is_ok());
        assert_eq!(embeddings_of(&ok).unwrap()[1], vec![0.0, -1.0]);
        assert!(crate::schema::validate(&r.schema, &json!({"embeddings": [[1.0]]})).is_err());
        assert!(embeddings_of(&json!({"embeddings": [[]]})).is_err());
        assert!(embeddings_of(&json!({"vectors": []})).is_err());
        let plain = ChatRequest { facts: None, ..r };
        assert!(embedding_query(&plain).is_none());
    }
}
