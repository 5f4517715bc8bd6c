//! The OpenAI-compatible backend: OpenAI, Azure OpenAI's v1 endpoint, vLLM, SGLang,
//! Ollama, the llama.cpp server, LM Studio.
//!
//! Configured as users expect: `OPENAI_API_KEY` and `OPENAI_BASE_URL` (several base
//! URLs separated by commas are used round-robin, each with its own limit of calls in
//! flight, `URL|N` weighting one; a failing server leaves the rotation for a while, see
//! [`endpoints`]). Answers are requested as structured output (`response_format` with the
//! request's JSON Schema, strict); servers that reject that are switched to JSON mode
//! and the gateway validates the answers instead. Seeds and sampling parameters are
//! passed through. Embedding queries ([`agora_model::EmbeddingQuery`]) go to
//! `/v1/embeddings` of the same endpoints, through the same gateway.

pub mod batch;
pub mod endpoints;
mod transport;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

pub use transport::{HttpFailure, StatusAware};

use crate::model::{CallMeta, ChatModel, ChatResponse, LlmError, Usage};
use crate::request::{ChatRequest, Role};

/// The default base URL when `OPENAI_BASE_URL` is not set.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// How answers are constrained on the server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ResponseFormat {
    /// `response_format: json_schema` with `strict: true`.
    #[default]
    JsonSchema,
    /// `response_format: json_object`; the gateway validates against the schema.
    JsonObject,
}

/// Settings of the OpenAI-compatible backend.
#[derive(Clone)]
pub struct OpenAiSettings {
    /// Model name sent to the server.
    pub model: String,
    /// Base URLs, used round-robin; `URL|N` gives one the weight N.
    pub base_urls: Vec<String>,
    /// API key (may be empty for local servers).
    pub api_key: String,
    /// Most calls in flight per base URL.
    pub per_endpoint_in_flight: usize,
    /// Structured output or JSON mode.
    pub response_format: ResponseFormat,
}

impl std::fmt::Debug for OpenAiSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiSettings")
            .field("model", &self.model)
            .field("base_urls", &self.base_urls)
            .field(
                "api_key",
                &if self.api_key.is_empty() {
                    "(none)"
                } else {
                    "(set)"
                },
            )
            .field("per_endpoint_in_flight", &self.per_endpoint_in_flight)
            .field("response_format", &self.response_format)
            .finish()
    }
}

/// A model server that does not accept connections.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "cannot reach the model server at {url} ({reason}); start it or point OPENAI_BASE_URL at a running one (--model local and --model rules need no server)"
)]
pub struct Unreachable {
    /// The base URL tried.
    pub url: String,
    /// Why no connection was made.
    pub reason: String,
}

/// Environment variables that send HTTP connections through a proxy.
const PROXY_VARS: [&str; 6] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
];

impl OpenAiSettings {
    /// Check that every base URL's host accepts a TCP connection within `timeout`, so
    /// that a server that is not running stops an experiment before it starts rather
    /// than turning every answer into a fallback. Not checked when a proxy is set in
    /// the environment (connections then go through it).
    pub fn check_reachable(&self, timeout: Duration) -> Result<(), Unreachable> {
        if PROXY_VARS
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()))
        {
            return Ok(());
        }
        for url in &self.base_urls {
            let unreachable = |reason: String| Unreachable {
                url: url.clone(),
                reason,
            };
            let parsed = reqwest::Url::parse(url).map_err(|e| unreachable(e.to_string()))?;
            let host = parsed
                .host_str()
                .ok_or_else(|| unreachable("no host in the URL".into()))?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let port = parsed.port_or_known_default().unwrap_or(80);
            let addrs = std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
                .map_err(|e| unreachable(format!("cannot resolve {host}: {e}")))?;
            let mut reason = format!("{host} has no address");
            let connected =
                addrs.into_iter().any(|addr| {
                    match std::net::TcpStream::connect_timeout(&addr, timeout) {
                        Ok(_) => true,
                        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                            reason = "connection refused".into();
                            false
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                            reason = format!("no connection within {} s", timeout.as_secs_f64());
                            false
                        }
                        Err(e) => {
                            reason = e.to_string();
                            false
                        }
                    }
                });
            if !connected {
                return Err(unreachable(reason));
            }
        }
        Ok(())
    }

    /// Settings for `model` from `OPENAI_API_KEY` and `OPENAI_BASE_URL`.
    ///
    /// A key is required for the public OpenAI endpoint and optional for others (local
    /// servers usually need none).
    pub fn from_env(model: &str) -> Result<Self, LlmError> {
        let base = std::env::var("OPENAI_BASE_URL")
            .ok()
            .filter(|b| !b.trim().is_empty());
        let base_urls: Vec<String> = base
            .as_deref()
            .unwrap_or(DEFAULT_BASE_URL)
            .split(',')
            .map(|u| u.trim().to_string())
            .filter(|u| !u.is_empty())
            .collect();
        let api_key = std::env::var("OPENAI_API_KEY").unwrap_or_default();
        if api_key.trim().is_empty() && base.is_none() {
            return Err(LlmError::InvalidRequest(
                "OPENAI_API_KEY is not set; export your key, or set OPENAI_BASE_URL to an OpenAI-compatible server (vLLM, Ollama, llama.cpp server, ...)".into(),
            ));
        }
        let mut entries = Vec::with_capacity(base_urls.len());
        for entry in &base_urls {
            let (url, weight) = endpoints::parse_entry(entry)?;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(LlmError::InvalidRequest(format!(
                    "OPENAI_BASE_URL entry `{url}` is not an http(s) URL; use for example http://127.0.0.1:8000/v1"
                )));
            }
            entries.push(if weight == 1 {
                url
            } else {
                format!("{url}|{weight}")
            });
        }
        let base_urls = entries;
        Ok(Self {
            model: model.to_string(),
            base_urls,
            api_key,
            per_endpoint_in_flight: 256,
            response_format: ResponseFormat::JsonSchema,
        })
    }
}

struct Endpoint {
    url: String,
    client: Client<OpenAIConfig>,
    slots: Semaphore,
    health: endpoints::Health,
}

/// A chat model behind one or more OpenAI-compatible endpoints.
pub struct OpenAiBackend {
    name: String,
    model: String,
    api_key: String,
    endpoints: Vec<Endpoint>,
    /// The weighted round-robin order of the endpoints.
    order: Vec<usize>,
    next: AtomicUsize,
    json_mode: AtomicBool,
}

impl OpenAiBackend {
    /// A backend for `settings`.
    pub fn new(settings: OpenAiSettings) -> Result<Self, LlmError> {
        // TLS uses the ring provider; installing it twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(settings.per_endpoint_in_flight)
            .build()
            .map_err(|e| LlmError::Backend(format!("starting the HTTP client: {e}")))?;
        let mut weights = Vec::with_capacity(settings.base_urls.len());
        let mut endpoints = Vec::with_capacity(settings.base_urls.len());
        for entry in &settings.base_urls {
            let (url, weight) = endpoints::parse_entry(entry)?;
            let config = OpenAIConfig::new()
                .with_api_base(url.clone())
                .with_api_key(settings.api_key.clone());
            weights.push(weight);
            endpoints.push(Endpoint {
                url,
                client: Client::with_config(config)
                    .with_http_service(StatusAware::new(http.clone())),
                slots: Semaphore::new(settings.per_endpoint_in_flight.max(1)),
                health: endpoints::Health::default(),
            });
        }
        if endpoints.is_empty() {
            return Err(LlmError::InvalidRequest(
                "no OpenAI base URL configured".into(),
            ));
        }
        Ok(Self {
            name: format!("openai:{}", settings.model),
            model: settings.model,
            api_key: settings.api_key,
            endpoints,
            order: endpoints::schedule(&weights),
            next: AtomicUsize::new(0),
            json_mode: AtomicBool::new(settings.response_format == ResponseFormat::JsonObject),
        })
    }

    fn body(&self, request: &ChatRequest) -> Value {
        let messages: Vec<Value> = request
            .messages
            .iter()
            .map(|m| {
                let role = match m.role {
                    Role::System => "system",
                    Role::User => "user",
                    Role::Assistant => "assistant",
                };
                json!({ "role": role, "content": m.content })
            })
            .collect();
        let response_format = if self.json_mode.load(Ordering::Relaxed) {
            json!({ "type": "json_object" })
        } else {
            json!({
                "type": "json_schema",
                "json_schema": { "name": "answer", "schema": *request.schema, "strict": true }
            })
        };
        json!({
            "model": self.model,
            "messages": messages,
            "temperature": request.params.temperature,
            "top_p": request.params.top_p,
            "max_tokens": request.params.max_tokens,
            "seed": request.seed & (i64::MAX as u64),
            "response_format": response_format,
        })
    }

    /// One call, with the API key scrubbed from everything it returns: error messages,
    /// every string of the answer and the raw completion (a model may echo the key).
    async fn call(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        self.scrubbed(self.send(request).await)
    }

    /// `result` with the API key scrubbed from its messages, answer and raw completion.
    fn scrubbed(&self, result: Result<ChatResponse, LlmError>) -> Result<ChatResponse, LlmError> {
        match result {
            Ok(mut response) => {
                scrub_value(&mut response.answer, &self.api_key);
                response.raw = response.raw.map(|raw| redact(&raw, &self.api_key));
                Ok(response)
            }
            Err(error) => Err(error.map_messages(&|text| redact(&text, &self.api_key))),
        }
    }

    /// Send `request` to the next endpoint in rotation; a server failure takes that
    /// endpoint out of rotation for a while.
    async fn send(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let ticket = self.next.fetch_add(1, Ordering::Relaxed);
        let health: Vec<&endpoints::Health> = self.endpoints.iter().map(|e| &e.health).collect();
        let index = endpoints::choose(&self.order, &health, ticket, Instant::now());
        let endpoint = &self.endpoints[index];
        let _slot = endpoint
            .slots
            .acquire()
            .await
            .map_err(|e| LlmError::Backend(e.to_string()))?;
        // From here the server has the call: an error or a timeout is the server's.
        let mut outcome = endpoints::Outcome::new(&endpoint.health, &endpoint.url);
        let result = self.send_to(endpoint, request).await;
        outcome.record(&result);
        result.map(|mut response| {
            response.meta.endpoint = Some(endpoints::label(&endpoint.url));
            response
        })
    }

    /// One request (and its JSON-mode re-ask) to `endpoint`.
    async fn send_to(
        &self,
        endpoint: &Endpoint,
        request: &ChatRequest,
    ) -> Result<ChatResponse, LlmError> {
        let started = Instant::now();
        if let Some(query) = agora_model::embedding_query(request) {
            return self.embed(endpoint, query, started).await;
        }
        let sent = endpoint
            .client
            .chat()
            .create_byot::<Value, Value>(self.body(request))
            .await;
        let raw = match sent {
            Ok(raw) => raw,
            Err(error) => {
                let error = self.map_error(error);
                // A server without structured output: switch to JSON mode and ask again.
                if !self.json_mode.load(Ordering::Relaxed) && rejects_response_format(&error) {
                    tracing::warn!(model = %self.name, "the server rejected json_schema output; using JSON mode with validation");
                    self.json_mode.store(true, Ordering::Relaxed);
                    let again = endpoint
                        .client
                        .chat()
                        .create_byot::<Value, Value>(self.body(request))
                        .await;
                    again.map_err(|e| self.map_error(e))?
                } else {
                    return Err(error);
                }
            }
        };
        parse_completion(&raw, started.elapsed())
    }

    /// `POST /v1/embeddings` for an embedding query: one vector per input, in order.
    async fn embed(
        &self,
        endpoint: &Endpoint,
        query: &agora_model::EmbeddingQuery,
        started: Instant,
    ) -> Result<ChatResponse, LlmError> {
        let mut body = json!({ "model": query.model, "input": query.inputs });
        if let Some(d) = query.dimensions {
            body["dimensions"] = json!(d);
        }
        let raw = endpoint
            .client
            .embeddings()
            .create_byot::<Value, Value>(body)
            .await
            .map_err(|e| self.map_error(e))?;
        parse_embeddings(&raw, query.inputs.len(), started.elapsed())
    }

    fn map_error(&self, error: OpenAIError) -> LlmError {
        let redact = |text: String| redact(&text, &self.api_key);
        match error {
            OpenAIError::Boxed(inner) => match inner.downcast::<HttpFailure>() {
                Ok(failure) => LlmError::Http {
                    status: failure.status,
                    message: redact(failure.body),
                    retry_after: failure.retry_after,
                },
                Err(other) => LlmError::Transport(redact(other.to_string())),
            },
            OpenAIError::Reqwest(e) if e.is_timeout() => LlmError::Timeout(Duration::ZERO),
            OpenAIError::Reqwest(e) => LlmError::Transport(redact(e.without_url().to_string())),
            OpenAIError::ApiError(e) => LlmError::Http {
                status: e.status_code.as_u16(),
                message: redact(e.api_error.message),
                retry_after: None,
            },
            // A response body that is not a chat completion is a transport fault (retried);
            // a completion whose content is not JSON is the model's (repaired).
            OpenAIError::JSONDeserialize(_, content) => LlmError::Transport(format!(
                "the response is not a chat completion: {}",
                redact(excerpt(&content))
            )),
            other => LlmError::Backend(redact(other.to_string())),
        }
    }
}

fn rejects_response_format(error: &LlmError) -> bool {
    matches!(error, LlmError::Http { status: 400 | 422, message, .. }
        if message.contains("response_format") || message.contains("json_schema"))
}

/// Pull the answer and token counts out of a chat completion. A completion whose
/// content is not JSON is [`LlmError::Malformed`], wrapped in [`LlmError::Spent`] with
/// the completion's tokens (the attempt reached the model and is paid for).
fn parse_completion(raw: &Value, latency: Duration) -> Result<ChatResponse, LlmError> {
    let count = |path: &str| {
        raw.pointer(path)
            .and_then(Value::as_u64)
            .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX))
    };
    let usage = Usage {
        prompt_tokens: count("/usage/prompt_tokens"),
        completion_tokens: count("/usage/completion_tokens"),
        cached_tokens: count("/usage/prompt_tokens_details/cached_tokens"),
    };
    let malformed = |message: String| LlmError::Spent {
        error: Box::new(LlmError::Malformed(message)),
        usage,
        meta: CallMeta {
            attempts: 1,
            ..CallMeta::default()
        },
    };
    let content = raw
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            malformed(format!(
                "no message content in the completion: {}",
                excerpt(&raw.to_string())
            ))
        })?;
    let answer: Value = serde_json::from_str(strip_fences(content))
        .map_err(|e| malformed(format!("{e}: {}", excerpt(content))))?;
    Ok(ChatResponse::new(answer, usage, latency).with_raw(content))
}

/// The vectors of an embeddings response (`data[i].embedding`, put in `index` order)
/// as the answer `{"embeddings": [...]}`, with the prompt tokens used. A response
/// without `expected` finite vectors is [`LlmError::Malformed`] with its tokens.
fn parse_embeddings(
    raw: &Value,
    expected: usize,
    latency: Duration,
) -> Result<ChatResponse, LlmError> {
    let tokens = raw
        .pointer("/usage/prompt_tokens")
        .and_then(Value::as_u64)
        .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX));
    let usage = Usage {
        prompt_tokens: tokens,
        completion_tokens: 0,
        cached_tokens: 0,
    };
    let malformed = |message: String| LlmError::Spent {
        error: Box::new(LlmError::Malformed(message)),
        usage,
        meta: CallMeta {
            attempts: 1,
            ..CallMeta::default()
        },
    };
    let data = raw.get("data").and_then(Value::as_array).ok_or_else(|| {
        malformed(format!(
            "no `data` in the embeddings response: {}",
            excerpt(&raw.to_string())
        ))
    })?;
    let mut vectors: Vec<Option<Value>> = vec![None; expected];
    for (k, item) in data.iter().enumerate() {
        let index = item
            .get("index")
            .and_then(Value::as_u64)
            .map_or(k, |i| i as usize);
        let vector = item
            .get("embedding")
            .filter(|v| {
                v.as_array().is_some_and(|xs| {
                    !xs.is_empty() && xs.iter().all(|x| x.as_f64().is_some_and(f64::is_finite))
                })
            })
            .ok_or_else(|| {
                malformed(format!("embedding {index} is not a list of finite numbers"))
            })?;
        match vectors.get_mut(index) {
            Some(slot) => *slot = Some(vector.clone()),
            None => {
                return Err(malformed(format!(
                    "embedding index {index} beyond the {expected} inputs"
                )));
            }
        }
    }
    let vectors: Vec<Value> = vectors
        .into_iter()
        .enumerate()
        .map(|(i, v)| v.ok_or_else(|| malformed(format!("no embedding for input {i}"))))
        .collect::<Result<_, _>>()?;
    Ok(ChatResponse::new(
        json!({ "embeddings": vectors }),
        usage,
        latency,
    ))
}

/// Accept answers wrapped in a Markdown code fence, as some servers send them.
fn strip_fences(content: &str) -> &str {
    let trimmed = content.trim();
    let Some(rest) = trimmed.strip_prefix("```") else {
        return trimmed;
    };
    let rest = rest.strip_prefix("json").unwrap_or(rest);
    rest.strip_suffix("```").unwrap_or(rest).trim()
}

fn excerpt(text: &str) -> String {
    let short: String = text.chars().take(200).collect();
    if short.len() < text.len() {
        format!("{short}...")
    } else {
        short
    }
}

/// Remove the API key, whatever its length, and any 8-character piece of a longer key
/// from a text a server sent back.
pub fn redact(text: &str, key: &str) -> String {
    let key = key.trim();
    if key.is_empty() || (!text.contains(key) && key.chars().count() < 8) {
        return text.to_string();
    }
    // A key that is part of the marker (a one-letter key, say) is removed outright.
    let marker = if "[redacted]".contains(key) {
        ""
    } else {
        "[redacted]"
    };
    let mut out = text.replace(key, marker);
    if key.chars().count() < 8 {
        return out;
    }
    // Servers often echo a key with its middle masked: hide any 8-character piece.
    let chars: Vec<char> = key.chars().collect();
    for window in chars.windows(8) {
        let piece: String = window.iter().collect();
        if out.contains(&piece) {
            out = out.replace(&piece, "[redacted]");
        }
    }
    out
}

/// Redact the API key from every string of `value`, keys of objects included.
fn scrub_value(value: &mut Value, key: &str) {
    if key.trim().is_empty() {
        return;
    }
    match value {
        Value::String(text) => *text = redact(text, key),
        Value::Array(items) => items.iter_mut().for_each(|v| scrub_value(v, key)),
        Value::Object(map) => {
            let leaked = map.keys().any(|k| redact(k, key) != *k);
            if leaked {
                *map = std::mem::take(map)
                    .into_iter()
                    .map(|(k, v)| (redact(&k, key), v))
                    .collect();
            }
            map.values_mut().for_each(|v| scrub_value(v, key));
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

impl ChatModel for OpenAiBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn reads_messages(&self) -> bool {
        true
    }

    fn complete<'a>(
        &'a self,
        request: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<ChatResponse, LlmError>> {
        self.call(request).boxed()
    }
}

/// Shared handle to a backend, for composing with the gateway.
pub fn backend(settings: OpenAiSettings) -> Result<Arc<dyn ChatModel>, LlmError> {
    Ok(Arc::new(OpenAiBackend::new(settings)?))
}

/// Shared handle to a backend whose chat requests go through the Batch API
/// ([`batch::Batched`]), for composing with the gateway.
pub fn batched_backend(
    settings: OpenAiSettings,
    batch: batch::BatchSettings,
) -> Result<Arc<dyn ChatModel>, LlmError> {
    let backend = Arc::new(OpenAiBackend::new(settings)?);
    Ok(Arc::new(batch::Batched::new(backend, batch)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_are_parsed_with_usage_and_fences_are_tolerated() {
        let raw = json!({
            "choices": [{ "message": { "content": "```json\n{\"answer\": 4}\n```" } }],
            "usage": { "prompt_tokens": 120, "completion_tokens": 7, "prompt_tokens_details": { "cached_tokens": 64 } }
        });
        let r = parse_completion(&raw, Duration::from_millis(3)).unwrap();
        assert_eq!(r.answer, json!({ "answer": 4 }));
        assert_eq!(
            r.usage,
            Usage {
                prompt_tokens: 120,
                completion_tokens: 7,
                cached_tokens: 64
            }
        );
        let bad = json!({
            "choices": [{ "message": { "content": "four" } }],
            "usage": { "prompt_tokens": 50, "completion_tokens": 1 }
        });
        let err = parse_completion(&bad, Duration::ZERO).unwrap_err();
        assert!(matches!(err.cause(), LlmError::Malformed(_)), "{err}");
        assert_eq!(err.usage().prompt_tokens, 50, "the paid attempt is counted");
    }

    #[test]
    fn embeddings_are_put_in_input_order_and_gaps_are_malformed() {
        let raw = json!({
            "data": [
                { "index": 1, "embedding": [0.0, 1.0] },
                { "index": 0, "embedding": [1.0, 0.0] }
            ],
            "usage": { "prompt_tokens": 6, "total_tokens": 6 }
        });
        let r = parse_embeddings(&raw, 2, Duration::ZERO).unwrap();
        assert_eq!(r.answer, json!({ "embeddings": [[1.0, 0.0], [0.0, 1.0]] }));
        assert_eq!(r.usage.prompt_tokens, 6);
        let short = parse_embeddings(&raw, 3, Duration::ZERO).unwrap_err();
        assert!(
            short.to_string().contains("no embedding for input 2"),
            "{short}"
        );
        assert_eq!(short.usage().prompt_tokens, 6);
        let bad = json!({ "data": [{ "index": 0, "embedding": [] }] });
        assert!(parse_embeddings(&bad, 1, Duration::ZERO).is_err());
    }

    #[test]
    fn keys_are_redacted_whole_and_in_pieces() {
        let key = "sk-test-0123456789abcdef";
        let echoed = format!("Incorrect API key provided: {key}. Also sk-test-0123****cdef");
        let clean = redact(&echoed, key);
        assert!(
            !clean.contains(key) && !clean.contains("0123456789"),
            "{clean}"
        );
        assert!(!clean.contains("sk-test-0123"), "{clean}");
        assert_eq!(redact("nothing here", key), "nothing here");
    }

    #[test]
    fn short_keys_are_redacted_too_and_answers_are_scrubbed_to_the_leaves() {
        assert_eq!(redact("key abc here", "abc"), "key [redacted] here");
        assert_eq!(redact("a [b] c", "d"), "a [b] c");
        assert!(!redact("dad", "d").contains('d'));
        assert_eq!(redact("anything", ""), "anything");
        let mut answer = json!({ "reason": "my key is q~Z", "list": ["q~Z"], "q~Z": 1, "n": 3 });
        scrub_value(&mut answer, "q~Z");
        assert!(!answer.to_string().contains("q~Z"), "{answer}");
        assert_eq!(answer["n"], 3);
    }

    #[test]
    fn settings_never_show_the_key() {
        let settings = OpenAiSettings {
            model: "m".into(),
            base_urls: vec!["http://127.0.0.1:1/v1".into()],
            api_key: "sk-very-secret-value".into(),
            per_endpoint_in_flight: 1,
            response_format: ResponseFormat::JsonSchema,
        };
        assert!(!format!("{settings:?}").contains("secret"));
    }
}
