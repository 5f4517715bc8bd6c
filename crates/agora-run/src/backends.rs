//! Choosing the model backend of a run, and the gateway's settings.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use agora_core::MechanismSettings;
use agora_llm::gateway::{
    CacheMode, CallCache, Gateway, PriceTable, RateLimits, RetryPolicy, SpendingLimit,
};
use agora_llm::openai::{OpenAiSettings, ResponseFormat};
use agora_llm::{ChatModel, ModelSpec};

use crate::ExperimentError;

type Result<T, E = ExperimentError> = std::result::Result<T, E>;

fn backend_error(context: &str, message: impl std::fmt::Display) -> ExperimentError {
    ExperimentError::Backend {
        context: context.to_string(),
        message: message.to_string(),
    }
}

/// The backend a run uses when neither the command line nor the scenario names one:
/// an OpenAI-compatible server when `OPENAI_API_KEY` is set, else the embedded local
/// model, which needs no key, GPU or server.
pub fn default_model() -> ModelSpec {
    if std::env::var_os("OPENAI_API_KEY").is_some_and(|k| !k.is_empty()) {
        return ModelSpec::OpenAi {
            model: "gpt-4o-mini".into(),
        };
    }
    ModelSpec::Local { path: None }
}

/// Where the runs of a model get semantic embeddings: the OpenAI-compatible server's
/// `/v1/embeddings`, the local model's own (llama.cpp, mean-pooled hidden states); the
/// rule-based backend leaves the mechanisms on their lexical embedding.
pub fn embedding_source(spec: &ModelSpec) -> agora_core::embedding::EmbeddingSource {
    use agora_core::embedding::EmbeddingSource;
    match spec {
        ModelSpec::OpenAi { .. } => EmbeddingSource::Endpoint,
        ModelSpec::Local { .. } => EmbeddingSource::Local,
        ModelSpec::Rules => EmbeddingSource::Lexical,
    }
}

/// The one-line notice to show when some run of `plan` names no model, else `None`.
pub fn default_model_notice_if_needed(plan: &agora_scenario::ExperimentPlan) -> Option<String> {
    plan.runs
        .iter()
        .any(|r| r.model.is_none())
        .then(default_model_notice)
}

/// One line saying which model a run uses when none was named.
pub fn default_model_notice() -> String {
    match default_model() {
        ModelSpec::Local { path: None } => format!(
            "no model named: using the embedded local model {} (--model local); --model rules or openai:MODEL choose another",
            agora_llm::local::DEFAULT_MODEL.name
        ),
        spec => {
            format!("no model named: using {spec} (OPENAI_API_KEY is set); --model chooses another")
        }
    }
}

/// How calls to a language model are made: the gateway's settings from the command line.
#[derive(Clone, Debug, Default)]
pub struct CallOptions {
    /// Cache mode; `None` means `write` for language models.
    pub cache: Option<CacheMode>,
    /// Directory of the call cache; `None` means `$AGORA_CACHE_DIR` or `~/.cache/agora`.
    pub cache_dir: Option<PathBuf>,
    /// Time allowed for one attempt.
    pub timeout: Option<Duration>,
    /// Most attempts per call.
    pub attempts: Option<u32>,
    /// Requests per minute.
    pub requests_per_minute: Option<u32>,
    /// Tokens per minute.
    pub tokens_per_minute: Option<u32>,
    /// Most calls in flight per endpoint.
    pub endpoint_concurrency: Option<usize>,
    /// Extra prices (RON file).
    pub prices: Option<PathBuf>,
    /// Ask for JSON mode instead of structured output.
    pub json_mode: bool,
    /// Most calls in flight at once over every run of the experiment.
    pub concurrency: Option<usize>,
    /// Ask again the calls cached as failed instead of replaying their failure.
    pub retry_failed: bool,
    /// Requests the embedded model decodes together; `None` or 1 is the exact mode.
    pub local_batch: Option<u32>,
    /// Send the chat requests of OpenAI-compatible models through the Batch API.
    pub batch: bool,
    /// Wait between two polls of a batch in flight (`None`: 30 seconds).
    pub batch_poll: Option<Duration>,
    /// Where batches in flight are recorded, so that a resumed run polls them
    /// (set from the output directory by the experiment).
    pub batch_dir: Option<PathBuf>,
}

impl CallOptions {
    /// The call cache file these options name.
    pub fn cache_file(&self) -> PathBuf {
        let dir = self
            .cache_dir
            .clone()
            .or_else(|| std::env::var_os("AGORA_CACHE_DIR").map(PathBuf::from))
            .unwrap_or_else(|| {
                std::env::var_os("HOME")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from("."))
                    .join(".cache/agora")
            });
        dir.join("calls.sqlite")
    }

    /// The price table: built-in prices, extended by `--prices`.
    pub fn price_table(&self) -> Result<PriceTable> {
        let mut table = PriceTable::built_in();
        if let Some(path) = &self.prices {
            table
                .extend_from_file(path)
                .map_err(|e| backend_error("--prices", e))?;
        }
        Ok(table)
    }

    fn gateway(&self, backends: &mut Backends) -> Result<Gateway> {
        let defaults = RetryPolicy::default();
        let retry = RetryPolicy {
            max_attempts: self.attempts.unwrap_or(defaults.max_attempts),
            timeout: self.timeout.unwrap_or(defaults.timeout),
            ..defaults
        };
        let limits = RateLimits {
            requests_per_minute: self.requests_per_minute,
            tokens_per_minute: self.tokens_per_minute,
            max_in_flight: self.concurrency,
        };
        let mode = self.cache.unwrap_or(CacheMode::Write);
        let cache = match mode {
            CacheMode::Off => None,
            mode => Some((backends.cache(&self.cache_file())?, mode)),
        };
        Ok(Gateway {
            retry,
            limits,
            prices: self.price_table()?,
            cache,
            retry_failed: self.retry_failed,
            spending: backends.spending.clone(),
        })
    }
}

/// The model backends of one experiment: the call caches it opened (one handle per
/// file per experiment) and the gateway settings.
#[derive(Debug, Default)]
pub struct Backends {
    options: CallOptions,
    caches: HashMap<PathBuf, Arc<CallCache>>,
    spending: Option<Arc<SpendingLimit>>,
    /// Server lists already found to accept connections.
    reachable: HashSet<String>,
}

impl Backends {
    /// Backends built with the gateway settings `options`.
    pub fn new(options: CallOptions) -> Self {
        Self {
            options,
            caches: HashMap::new(),
            spending: None,
            reachable: HashSet::new(),
        }
    }

    /// Keep every language-model call of the experiment within `limit`.
    pub fn with_spending(mut self, limit: Arc<SpendingLimit>) -> Self {
        self.spending = Some(limit);
        self
    }

    /// The gateway settings.
    pub fn options(&self) -> &CallOptions {
        &self.options
    }

    fn cache(&mut self, path: &Path) -> Result<Arc<CallCache>> {
        if let Some(cache) = self.caches.get(path) {
            return Ok(cache.clone());
        }
        let cache = Arc::new(
            CallCache::open(path).map_err(|e| backend_error("opening the call cache", e))?,
        );
        self.caches.insert(path.to_path_buf(), cache.clone());
        Ok(cache)
    }

    /// Make every answer stored so far durable on disk (called after each run).
    pub fn sync(&self) -> Result<()> {
        for cache in self.caches.values() {
            cache.sync().map_err(|e| {
                backend_error(
                    &format!("{}: syncing the call cache", cache.path().display()),
                    e,
                )
            })?;
        }
        Ok(())
    }

    /// Build the backend for `spec`, with the rule policies `mechanism` needs.
    /// Language models are wrapped in the gateway (cache, deduplication, pricing,
    /// validation and repair, retries, rate limits); rule-based answers are computed
    /// in-process, always valid and free, and go without it.
    pub fn build(
        &mut self,
        spec: &ModelSpec,
        mechanism: &MechanismSettings,
    ) -> Result<Arc<dyn ChatModel>> {
        let options = self.options.clone();
        let backend: Arc<dyn ChatModel> = match spec {
            ModelSpec::Rules => return Ok(Arc::new(mechanism.rule_backend())),
            ModelSpec::Local { path } => {
                let config =
                    agora_llm::local::WorkerConfig::batched(options.local_batch.unwrap_or(1));
                agora_llm::local::LocalModel::shared_with(
                    path.as_deref(),
                    &spec.to_string(),
                    config,
                )
                .map_err(|e| backend_error("the local model", e))?
            }
            ModelSpec::OpenAi { model } => {
                let mut settings = OpenAiSettings::from_env(model)
                    .map_err(|e| backend_error("configuring the OpenAI-compatible backend", e))?;
                if let Some(n) = options.endpoint_concurrency {
                    settings.per_endpoint_in_flight = n.max(1);
                }
                if options.json_mode {
                    settings.response_format = ResponseFormat::JsonObject;
                }
                // Replays answer from the call cache alone and need no server.
                if options.cache != Some(CacheMode::Replay)
                    && self.reachable.insert(settings.base_urls.join(","))
                {
                    settings
                        .check_reachable(Duration::from_secs(5))
                        .map_err(|e| backend_error(&spec.to_string(), e))?;
                }
                if options.batch {
                    let defaults = agora_llm::openai::batch::BatchSettings::default();
                    let batch = agora_llm::openai::batch::BatchSettings {
                        poll: options.batch_poll.unwrap_or(defaults.poll),
                        state_dir: options.batch_dir.clone(),
                        ..defaults
                    };
                    agora_llm::openai::batched_backend(settings, batch)
                        .map_err(|e| backend_error("the OpenAI-compatible backend", e))?
                } else {
                    agora_llm::openai::backend(settings)
                        .map_err(|e| backend_error("the OpenAI-compatible backend", e))?
                }
            }
        };
        Ok(options.gateway(self)?.wrap(backend))
    }
}
