//! The embedded model: a GGUF language model run on the CPU inside the process.
//!
//! `--model local` runs the default model (SmolLM2-135M-Instruct, fetched once into a
//! cache directory by [`fetch::fetch_default`]); `--model local:PATH.gguf` runs any GGUF
//! file of a supported architecture. Inference is llama.cpp's (through the
//! `llama-cpp-2` bindings), on a worker thread of its own:
//!
//! - [`gguf`] checks a file before llama.cpp sees it, with errors naming the file;
//! - [`template`] renders chat messages with the file's own chat template;
//! - [`grammar`] turns the request's JSON Schema into a grammar, so that every answer
//!   parses and has the schema's shape;
//! - [`worker`] batches the requests in flight, reuses cached prompt prefixes and samples
//!   from each request's seed;
//! - [`backend`] is the [`crate::ChatModel`] that ties them together.

pub mod backend;
pub mod bench;
pub mod fetch;
pub mod gguf;
pub mod grammar;
pub mod template;
pub mod worker;

use std::path::PathBuf;

pub use backend::LocalModel;
pub use fetch::{DEFAULT_MODEL, DefaultModel, FetchError, cache_dir, default_model_path};
pub use gguf::{GgufError, GgufInfo, SUPPORTED_ARCHITECTURES};
pub use grammar::{Grammar, GrammarError};
pub use template::{ChatTemplate, TemplateError};
pub use worker::WorkerConfig;

/// Why a local model could not be made ready.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocalError {
    /// The file failed the GGUF checks (missing, corrupt, unsupported).
    #[error(transparent)]
    Gguf(#[from] GgufError),
    /// The file passed the checks but llama.cpp could not load it.
    #[error("cannot load model file {}: {reason}", path.display())]
    Load {
        /// The file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The file's chat template cannot be used.
    #[error("model file {}: {source}", path.display())]
    Template {
        /// The file.
        path: PathBuf,
        /// The template's problem.
        source: TemplateError,
    },
}
