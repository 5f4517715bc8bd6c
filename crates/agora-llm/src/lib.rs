//! The model interface of Agora and its backends.
//!
//! Mechanisms describe each decision as a [`ChatRequest`]: chat messages, the JSON
//! Schema the answer must satisfy, sampling parameters and a seed. Any [`ChatModel`]
//! answers it: the rule-based backend here, and the OpenAI-compatible and embedded
//! backends beside it. Rules of the simulation never live here: a backend only chooses.

pub mod gateway;
pub mod local;
pub mod model;
pub mod openai;
pub mod request;
pub mod rules;
pub mod schema;
pub mod spec;

pub use model::{CallMeta, ChatModel, ChatResponse, LlmError, Usage};
pub use request::{ChatMessage, ChatRequest, Role, SamplingParams};
pub use rules::{RuleBackend, RulePolicy};
pub use spec::{ModelSpec, ModelSpecError};
