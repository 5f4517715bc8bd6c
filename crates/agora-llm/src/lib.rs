//! Model backends of Agora and the gateway that wraps them.
//!
//! The model interface itself ([`ChatRequest`], [`ChatModel`], the rule-based backend)
//! lives in `agora-model` and is re-exported here. This crate adds the backends that
//! call language models: an OpenAI-compatible client ([`openai`]), an embedded
//! llama.cpp model ([`local`]), and the [`gateway`] middleware (cache, deduplication,
//! validation and repair, retries, limits, prices). A backend only chooses: rules of
//! the simulation never live here.

pub mod gateway;
pub mod local;
pub mod openai;

pub use agora_model::{
    CallMeta, ChatMessage, ChatModel, ChatRequest, ChatResponse, LlmError, ModelSpec,
    ModelSpecError, Role, RuleBackend, RulePolicy, SamplingParams, Usage,
};
pub use agora_model::{EmbeddingQuery, embedding_request, embeddings_of};
pub use agora_model::{embedding, model, request, rules, schema, spec};
