//! [`LocalModel`]: the embedded GGUF model as a [`ChatModel`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Instant;

use futures::FutureExt;
use futures::channel::oneshot;
use futures::future::BoxFuture;

use super::gguf::{self, GgufInfo};
use super::grammar::Grammar;
use super::template::{CHATML, ChatTemplate};
use super::worker::{self, CompiledGrammar, EmbedJob, Job, Work, WorkerConfig};
use super::{LocalError, fetch};
use crate::model::{ChatModel, ChatResponse, LlmError, Usage};
use crate::request::ChatRequest;

/// A GGUF model running on this machine's CPU.
///
/// Loading starts a worker thread that owns the model; requests are rendered with the
/// file's chat template, constrained by a grammar from their schema and queued to the
/// worker, which answers them one at a time (exact, the default) or in batches
/// ([`WorkerConfig::batched`]). Dropping the last handle stops the thread.
///
/// A call's per-attempt timeout (the gateway's `--timeout`) counts from the moment the
/// worker starts on the request, not while it waits in the queue behind others.
pub struct LocalModel {
    name: String,
    info: GgufInfo,
    template: ChatTemplate,
    config: WorkerConfig,
    jobs: Sender<Work>,
    grammars: Mutex<HashMap<(String, u32), Arc<CompiledGrammar>>>,
    params: u64,
}

impl std::fmt::Debug for LocalModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalModel")
            .field("name", &self.name)
            .field("path", &self.info.path)
            .finish_non_exhaustive()
    }
}

impl LocalModel {
    /// Load the GGUF file at `path`; `name` labels its calls (`local`, `local:PATH`).
    pub fn load(path: &Path, name: &str, config: WorkerConfig) -> Result<Self, LocalError> {
        let started = Instant::now();
        let info = gguf::inspect(path)?;
        let (jobs, loaded) = worker::spawn(path.to_path_buf(), config)?;
        let source = info
            .chat_template
            .clone()
            .or(loaded.template.clone())
            .unwrap_or_else(|| {
                tracing::warn!(path = %path.display(), "the model file has no chat template; using ChatML");
                CHATML.to_string()
            });
        let template = ChatTemplate::new(&source, &loaded.bos, &loaded.eos).map_err(|source| {
            LocalError::Template {
                path: path.to_path_buf(),
                source,
            }
        })?;
        tracing::info!(
            path = %path.display(),
            architecture = %info.architecture,
            parameters = loaded.params,
            threads = config.threads,
            slots = config.slots,
            sequences = config.sequences,
            elapsed = ?started.elapsed(),
            "local model loaded"
        );
        Ok(Self {
            name: name.to_string(),
            info,
            template,
            config,
            jobs,
            grammars: Mutex::new(HashMap::new()),
            params: loaded.params,
        })
    }

    /// The model at `path` (or the default model for `None`), loaded once per process
    /// and shared while any handle lives, in the exact mode (one request at a time).
    pub fn shared(path: Option<&Path>, name: &str) -> Result<Arc<Self>, LocalError> {
        Self::shared_with(path, name, WorkerConfig::default())
    }

    /// [`LocalModel::shared`] with the worker settings `config` (for instance
    /// [`WorkerConfig::batched`]); one model is loaded per file and settings.
    pub fn shared_with(
        path: Option<&Path>,
        name: &str,
        config: WorkerConfig,
    ) -> Result<Arc<Self>, LocalError> {
        type Loaded = HashMap<(PathBuf, String), Weak<LocalModel>>;
        static LOADED: OnceLock<Mutex<Loaded>> = OnceLock::new();
        let path = match path {
            Some(p) => p.to_path_buf(),
            None => fetch::default_model_path().ok_or_else(|| {
                LocalError::Gguf(gguf::GgufError::NotFound {
                    path: PathBuf::from(fetch::DEFAULT_MODEL.file_name),
                    hint: format!(": {}", fetch::MISSING_HINT),
                })
            })?,
        };
        let map = LOADED.get_or_init(Default::default);
        let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
        let key = (path.clone(), format!("{config:?}"));
        if let Some(model) = map.get(&key).and_then(Weak::upgrade) {
            return Ok(model);
        }
        let model = match Self::load(&path, name, config) {
            Err(LocalError::Gguf(gguf::GgufError::NotFound { path: p, .. }))
                if fetch::is_default_location(&p) =>
            {
                return Err(LocalError::Gguf(gguf::GgufError::NotFound {
                    path: p,
                    hint: format!(": {}", fetch::MISSING_HINT),
                }));
            }
            Err(LocalError::Gguf(gguf::GgufError::NotFound { path: p, hint }))
                if hint.is_empty() =>
            {
                return Err(LocalError::Gguf(gguf::GgufError::NotFound {
                    path: p,
                    hint: ": check the path (`agora models list` shows the cached models), or use --model local for the default model".into(),
                }));
            }
            other => Arc::new(other?),
        };
        map.insert(key, Arc::downgrade(&model));
        Ok(model)
    }

    /// The worker settings the model runs with.
    pub fn config(&self) -> WorkerConfig {
        self.config
    }

    /// Embeddings of `texts` from this model: for each text, the mean of its tokens'
    /// final hidden states, scaled to unit length, so that the dot product of two
    /// vectors is their cosine similarity. Each text is computed on its own, so its
    /// vector does not depend on the other texts or on chat requests in flight; the
    /// same text gives the same vector on the same machine. Texts are tokenized as
    /// they are (no chat template); an empty text, or one longer than the model's
    /// context per request (2,048 tokens by default), is an
    /// [`LlmError::InvalidRequest`].
    pub async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, LlmError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(i) = texts.iter().position(|t| t.is_empty()) {
            return Err(LlmError::InvalidRequest(format!(
                "text {i} is empty; the local model embeds only non-empty texts"
            )));
        }
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Work::Embed(EmbedJob {
                texts: texts.to_vec(),
                reply,
            }))
            .map_err(|_| LlmError::Backend("the local model's worker has stopped".into()))?;
        answer
            .await
            .map_err(|_| LlmError::Backend("the local model's worker has stopped".into()))?
    }

    /// What the file's header says.
    pub fn info(&self) -> &GgufInfo {
        &self.info
    }

    /// Number of parameters.
    pub fn parameters(&self) -> u64 {
        self.params
    }

    /// The prompt text `request` is decoded from (its messages in the chat template).
    pub fn prompt(&self, request: &ChatRequest) -> Result<String, LlmError> {
        self.template
            .render(&request.messages)
            .map_err(|e| LlmError::InvalidRequest(e.to_string()))
    }

    fn grammar(&self, request: &ChatRequest) -> Result<Arc<CompiledGrammar>, LlmError> {
        let key = (request.schema.to_string(), request.params.max_tokens);
        let mut cache = self.grammars.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(g) = cache.get(&key) {
            return Ok(g.clone());
        }
        let grammar = Grammar::with_string_limit(
            &request.schema,
            u64::from(request.params.max_tokens.max(1)),
        )
        .map_err(|e| LlmError::InvalidRequest(e.to_string()))?;
        let compiled = Arc::new(CompiledGrammar {
            gbnf: grammar.to_gbnf(),
            max_tokens: u32::try_from(grammar.max_bytes().saturating_add(1)).unwrap_or(u32::MAX),
            closes_itself: grammar.closes_itself(),
        });
        cache.insert(key, compiled.clone());
        Ok(compiled)
    }

    async fn answer(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let started = Instant::now();
        if let Some(query) = agora_model::embedding_query(request) {
            // The local model embeds with its own weights, whatever model the query
            // names; its vectors have the model's width (`dimensions` is not applied).
            let vectors: Vec<Vec<f64>> = self
                .embed(&query.inputs)
                .await?
                .into_iter()
                .map(|v| v.into_iter().map(f64::from).collect())
                .collect();
            return Ok(ChatResponse::new(
                serde_json::json!({ "embeddings": vectors }),
                Usage::default(),
                started.elapsed(),
            ));
        }
        if request.messages.is_empty() {
            return Err(LlmError::InvalidRequest(
                "the request has no messages for the local model to read".into(),
            ));
        }
        let prompt = self.prompt(request)?;
        let grammar = self.grammar(request)?;
        let (reply, answer) = oneshot::channel();
        let job = Job {
            prompt,
            grammar,
            params: request.params,
            seed: request.seed,
            limit: crate::gateway::attempt_limit(),
            reply,
        };
        self.jobs
            .send(Work::Chat(job))
            .map_err(|_| LlmError::Backend("the local model's worker has stopped".into()))?;
        let generation = answer
            .await
            .map_err(|_| LlmError::Backend("the local model's worker has stopped".into()))??;
        let value = serde_json::from_str(&generation.text)
            .map_err(|e| LlmError::Malformed(format!("{e}: {}", generation.text)))?;
        Ok(ChatResponse::new(
            value,
            Usage {
                prompt_tokens: generation.prompt_tokens,
                completion_tokens: generation.completion_tokens,
                cached_tokens: generation.cached_tokens,
            },
            started.elapsed(),
        )
        .with_raw(generation.text))
    }
}

impl ChatModel for LocalModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn reads_messages(&self) -> bool {
        true
    }

    fn times_own_attempts(&self) -> bool {
        true
    }

    fn complete<'a>(
        &'a self,
        request: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<ChatResponse, LlmError>> {
        self.answer(request).boxed()
    }
}
