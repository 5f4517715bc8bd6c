//! Where a run's semantic embeddings come from.
//!
//! Mechanisms that compare texts by meaning (semantic similarity rating) read the
//! [`EmbeddingSource`] resource of the run's world. The runner sets it from the run's
//! model: the OpenAI-compatible backend offers `/v1/embeddings`; a backend that offers
//! none leaves the mechanisms on their deterministic lexical embedding. A backend that
//! learns to embed (the local llama.cpp model) is enabled here and answers
//! [`agora_model::EmbeddingQuery`] requests.

use bevy_ecs::prelude::*;

/// Which embeddings the run's model offers.
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EmbeddingSource {
    /// None: mechanisms use their deterministic lexical embedding.
    #[default]
    Lexical,
    /// The OpenAI-compatible server's `/v1/embeddings`, asked through the gateway.
    Endpoint,
    /// The local backend's own embeddings, asked through the gateway.
    Local,
}

impl EmbeddingSource {
    /// Whether embedding requests can be sent to the run's model.
    pub fn asks_model(self) -> bool {
        self != EmbeddingSource::Lexical
    }
}
