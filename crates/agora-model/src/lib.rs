//! The model interface of Agora: what a mechanism asks and what a model answers.
//!
//! Mechanisms describe each decision as a [`ChatRequest`]: chat messages, the JSON
//! Schema the answer must satisfy, sampling parameters and a seed. Any [`ChatModel`]
//! answers it: the rule-based [`RuleBackend`] here, and the OpenAI-compatible and
//! embedded backends of `agora-llm`. This crate is small on purpose: the engine, the
//! population and the scenario compile against it without any backend.

pub mod embedding;
pub mod model;
pub mod priority;
pub mod request;
pub mod rules;
pub mod schema;
pub mod spec;

pub use embedding::{EmbeddingQuery, embedding_query, embedding_request, embeddings_of};
pub use model::{CallMeta, ChatModel, ChatResponse, LlmError, Usage};
pub use priority::{CallPriority, with_priority};
pub use request::{ChatMessage, ChatRequest, Facts, Role, SamplingParams};
pub use rules::{RuleBackend, RulePolicy};
pub use spec::{ModelSpec, ModelSpecError};
