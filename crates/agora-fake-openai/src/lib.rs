//! A fake OpenAI-compatible chat completions server for tests and benchmarks.
//!
//! It answers `POST /v1/chat/completions` with JSON that conforms to the request's
//! `response_format` schema, after a configurable latency, with a capacity limit
//! (requests beyond it get 429 with `Retry-After`) and injected faults: 429, 500,
//! malformed JSON, answers that break the schema, and hangs. It can also send a given
//! `Retry-After` header with its 429s, and echo the caller's API key back in answers
//! and errors, to test that clients survive and scrub them. Faults and answers are
//! drawn from a hash of the request body and how often that body was seen, so the
//! same run meets the same faults whatever order its requests arrive in.
//!
//! The Batch API is there too: `POST /v1/files` (multipart with a `file` part, or the
//! raw JSONL as the body), `GET /v1/files/{id}/content`, `POST /v1/batches` and
//! `GET /v1/batches/{id}`. A batch completes [`FakeConfig::batch_delay`] after it was
//! created; each of its lines is answered as the same body sent to
//! `/v1/chat/completions` would be.
//!
//! `POST /v1/embeddings` answers with deterministic vectors: a hashed bag of words
//! ([`embedding`]), so texts that share words are closer than texts that do not.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rand::{Rng, RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

/// Shares of requests that meet each fault (each in 0..1, together at most 1).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Faults {
    /// 429 Too Many Requests with `Retry-After`.
    pub rate_limited: f64,
    /// 500 Internal Server Error.
    pub server_error: f64,
    /// 200 with a body that is not valid JSON.
    pub malformed: f64,
    /// 200 with an answer that does not match the schema.
    pub invalid_answer: f64,
    /// No answer at all (the connection stays open).
    pub hang: f64,
}

/// Where the server echoes the caller's API key (the `Authorization` bearer token),
/// as careless or hostile servers do; for testing that the key is scrubbed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EchoKey {
    /// Inside every string of a valid answer (answers without strings gain none).
    InAnswer,
    /// As an answer that breaks the schema: `{"answer": "KEY"}`.
    InInvalidAnswer,
    /// As content that is not JSON.
    InMalformedAnswer,
    /// In the body of a 400 error.
    InError,
}

/// How the fake server behaves.
#[derive(Clone, Debug)]
pub struct FakeConfig {
    /// Time taken by every answered request.
    pub latency: Duration,
    /// Requests served at once; more get 429 (0 means unlimited).
    pub capacity: usize,
    /// The wait a 429 asks for.
    pub retry_after: Duration,
    /// Injected faults.
    pub faults: Faults,
    /// Seed of answer and fault draws.
    pub seed: u64,
    /// Answer 400 to `json_schema` response formats, like servers without structured output.
    pub reject_json_schema: bool,
    /// Send exactly this `Retry-After` header (and no `retry-after-ms`) with every 429.
    pub retry_after_header: Option<String>,
    /// Echo the caller's API key back.
    pub echo_key: Option<EchoKey>,
    /// Time from a batch's creation to its completion.
    pub batch_delay: Duration,
}

impl Default for FakeConfig {
    fn default() -> Self {
        Self {
            latency: Duration::ZERO,
            capacity: 0,
            retry_after: Duration::from_millis(50),
            faults: Faults::default(),
            seed: 0,
            reject_json_schema: false,
            retry_after_header: None,
            echo_key: None,
            batch_delay: Duration::ZERO,
        }
    }
}

/// Counters of what the server saw and did.
#[derive(Debug, Default)]
pub struct Stats {
    /// Requests received.
    pub requests: AtomicU64,
    /// Requests answered with a completion.
    pub completions: AtomicU64,
    /// Requests turned away for capacity.
    pub over_capacity: AtomicU64,
    /// Faults injected.
    pub faults: AtomicU64,
    /// Most requests in progress at once.
    pub peak_in_flight: AtomicU64,
    /// Requests to `/v1/chat/completions` (batch lines not included).
    pub chat_calls: AtomicU64,
    /// Files uploaded.
    pub files_uploaded: AtomicU64,
    /// Batches created.
    pub batches_created: AtomicU64,
    /// Polls of a batch (`GET /v1/batches/{id}`).
    pub batch_polls: AtomicU64,
    in_flight: AtomicU64,
    /// When the server started, for the timeline.
    started: std::sync::OnceLock<std::time::Instant>,
    /// Each answered chat request's start and end, from the server's start.
    timeline: Mutex<Vec<(Duration, Duration)>>,
    authorizations: Mutex<Vec<String>>,
    last_body: Mutex<Option<Bytes>>,
}

impl Stats {
    /// Requests received so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    /// Each answered chat completion's start and end since the server started, in the
    /// order they ended: how full the server was over time (for benchmarks).
    pub fn timeline(&self) -> Vec<(Duration, Duration)> {
        self.timeline.lock().map(|t| t.clone()).unwrap_or_default()
    }

    fn since_start(&self) -> Duration {
        self.started.get_or_init(std::time::Instant::now).elapsed()
    }

    /// `Authorization` headers received, in order.
    pub fn authorizations(&self) -> Vec<String> {
        self.authorizations
            .lock()
            .map(|a| a.clone())
            .unwrap_or_default()
    }

    /// The body of the last chat completion request received, as sent (for checking
    /// how a client writes its parameters, such as `"temperature":0.8`).
    pub fn last_body(&self) -> Option<String> {
        self.last_body
            .lock()
            .ok()
            .and_then(|b| b.as_ref().map(|b| String::from_utf8_lossy(b).into_owned()))
    }
}

/// A batch the server was given.
struct FakeBatch {
    input_file_id: String,
    created: std::time::Instant,
    output_file_id: Option<String>,
    lines: usize,
}

struct Shared {
    config: FakeConfig,
    files: Mutex<HashMap<String, Bytes>>,
    batches: tokio::sync::Mutex<HashMap<String, FakeBatch>>,
    slots: Option<Semaphore>,
    seen: Mutex<HashMap<u64, u64>>,
    stats: Arc<Stats>,
}

/// A running fake server; it stops when dropped.
pub struct FakeServer {
    addr: SocketAddr,
    stats: Arc<Stats>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeServer {
    /// Start a server on 127.0.0.1 (a free port) with `config`.
    pub async fn start(config: FakeConfig) -> std::io::Result<Self> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), config).await
    }

    /// Start a server on `addr` with `config`.
    pub async fn start_on(addr: SocketAddr, config: FakeConfig) -> std::io::Result<Self> {
        let stats = Arc::new(Stats::default());
        let _ = stats.started.set(std::time::Instant::now());
        let shared = Arc::new(Shared {
            slots: (config.capacity > 0).then(|| Semaphore::new(config.capacity)),
            config,
            files: Mutex::new(HashMap::new()),
            batches: tokio::sync::Mutex::new(HashMap::new()),
            seen: Mutex::new(HashMap::new()),
            stats: stats.clone(),
        });
        let app = Router::new()
            .route("/v1/chat/completions", post(complete))
            .route("/chat/completions", post(complete))
            .route("/v1/embeddings", post(embeddings))
            .route("/v1/files", post(upload))
            .route("/v1/files/{id}/content", get(download))
            .route("/v1/batches", post(create_batch))
            .route("/v1/batches/{id}", get(retrieve_batch))
            .route("/embeddings", post(embeddings))
            .fallback(not_found)
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, stats, task })
    }

    /// The base URL to use as `OPENAI_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// What the server has seen so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn not_found(State(shared): State<Arc<Shared>>) -> Response {
    shared.stats.requests.fetch_add(1, Ordering::SeqCst);
    error(StatusCode::NOT_FOUND, "no such endpoint")
}

async fn complete(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let stats = &shared.stats;
    stats.requests.fetch_add(1, Ordering::SeqCst);
    stats.chat_calls.fetch_add(1, Ordering::SeqCst);
    if let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok())
        && let Ok(mut seen) = stats.authorizations.lock()
    {
        seen.push(auth.to_string());
    }
    if let Ok(mut last) = stats.last_body.lock() {
        *last = Some(body.clone());
    }
    let _slot = match &shared.slots {
        Some(slots) => match slots.try_acquire() {
            Ok(slot) => Some(slot),
            Err(_) => {
                stats.over_capacity.fetch_add(1, Ordering::SeqCst);
                return rate_limited(&shared.config, "the server is at capacity");
            }
        },
        None => None,
    };
    let began = stats.since_start();
    let now = stats.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    stats.peak_in_flight.fetch_max(now, Ordering::SeqCst);
    let key = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(|auth| auth.strip_prefix("Bearer ").unwrap_or(auth).to_string())
        .unwrap_or_default();
    let response = match shared.config.echo_key {
        Some(echo) => echo_key(&shared, &body, echo, &key).await,
        None => answer(&shared, &body).await,
    };
    stats.in_flight.fetch_sub(1, Ordering::SeqCst);
    let ended = stats.since_start();
    if let Ok(mut timeline) = stats.timeline.lock() {
        timeline.push((began, ended));
    }
    response
}

async fn answer(shared: &Shared, body: &[u8]) -> Response {
    let config = &shared.config;
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return error(StatusCode::BAD_REQUEST, "the request body is not JSON");
    };
    let hash = fnv1a(body);
    let repeat = shared
        .seen
        .lock()
        .map(|mut seen| {
            let n = seen.entry(hash).or_insert(0);
            *n += 1;
            *n
        })
        .unwrap_or(1);
    let mut rng = Pcg64Mcg::seed_from_u64(mix(mix(mix(config.seed) ^ hash) ^ repeat));
    let schema = request
        .pointer("/response_format/json_schema/schema")
        .cloned();
    if config.reject_json_schema && schema.is_some() {
        return error(
            StatusCode::BAD_REQUEST,
            "response_format json_schema is not supported by this server",
        );
    }
    let f = config.faults;
    let draw: f64 = rng.random_range(0.0..1.0);
    let mut edge = 0.0;
    let mut hit = |share: f64| {
        edge += share;
        draw < edge
    };
    let fault = if hit(f.rate_limited) {
        Some("rate_limited")
    } else if hit(f.server_error) {
        Some("server_error")
    } else if hit(f.malformed) {
        Some("malformed")
    } else if hit(f.invalid_answer) {
        Some("invalid_answer")
    } else if hit(f.hang) {
        Some("hang")
    } else {
        None
    };
    if fault.is_some() {
        shared.stats.faults.fetch_add(1, Ordering::SeqCst);
    }
    match fault {
        Some("rate_limited") => return rate_limited(config, "rate limit reached"),
        Some("server_error") => {
            return error(StatusCode::INTERNAL_SERVER_ERROR, "the server had an error");
        }
        Some("hang") => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return error(StatusCode::GATEWAY_TIMEOUT, "hung");
        }
        _ => {}
    }
    tokio::time::sleep(config.latency).await;
    if fault == Some("malformed") {
        return (
            StatusCode::OK,
            [("content-type", "application/json")],
            "{\"choices\": [{\"message\": {\"content\": ",
        )
            .into_response();
    }
    let content = match (&schema, fault) {
        (Some(schema), Some("invalid_answer")) => {
            json!({ "unexpected": instance(schema, &mut rng) }).to_string()
        }
        (Some(schema), _) => instance(schema, &mut rng).to_string(),
        (None, Some("invalid_answer")) => "{}".to_string(),
        (None, _) => json!({ "answer": 1 }).to_string(),
    };
    completion(shared, &request, body, &content)
}

/// An answer that carries `key` where `echo` says.
async fn echo_key(shared: &Shared, body: &[u8], echo: EchoKey, key: &str) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return error(StatusCode::BAD_REQUEST, "the request body is not JSON");
    };
    let content = match echo {
        EchoKey::InError => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("Incorrect API key provided: {key}. You passed {key}."),
            );
        }
        EchoKey::InAnswer => {
            let schema = request
                .pointer("/response_format/json_schema/schema")
                .cloned()
                .unwrap_or(json!({ "type": "object" }));
            let mut rng = Pcg64Mcg::seed_from_u64(fnv1a(body));
            let mut value = instance(&schema, &mut rng);
            with_key(&mut value, key);
            value.to_string()
        }
        EchoKey::InInvalidAnswer => json!({ "answer": key }).to_string(),
        EchoKey::InMalformedAnswer => format!("my key is {key}, not JSON"),
    };
    completion(shared, &request, body, &content)
}

/// Put `key` into every string of `value`.
fn with_key(value: &mut Value, key: &str) {
    match value {
        Value::String(text) => *text = format!("{key} {text}"),
        Value::Array(items) => items.iter_mut().for_each(|v| with_key(v, key)),
        Value::Object(map) => map.values_mut().for_each(|v| with_key(v, key)),
        _ => {}
    }
}

/// Dimensions of the fake embeddings when the request names none.
pub const EMBEDDING_DIMS: usize = 64;

/// The fake embedding of `text`: lower-cased words (runs of letters and digits),
/// each hashed with 64-bit FNV-1a into one of `dims` buckets with the sign of the
/// hash's top bit, scaled to unit length (all zeros for a text without words).
pub fn embedding(text: &str, dims: usize) -> Vec<f64> {
    let dims = dims.max(1);
    let mut v = vec![0.0; dims];
    for word in text
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let h = fnv1a(word.as_bytes());
        v[(h % dims as u64) as usize] += if h >> 63 == 0 { 1.0 } else { -1.0 };
    }
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

/// `POST /v1/embeddings`: `input` a string or a list of strings, optional `dimensions`
/// (1 to 4096).
async fn embeddings(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let stats = &shared.stats;
    stats.requests.fetch_add(1, Ordering::SeqCst);
    let _slot = match &shared.slots {
        Some(slots) => match slots.try_acquire() {
            Ok(slot) => Some(slot),
            Err(_) => {
                stats.over_capacity.fetch_add(1, Ordering::SeqCst);
                return rate_limited(&shared.config, "the server is at capacity");
            }
        },
        None => None,
    };
    if !shared.config.latency.is_zero() {
        tokio::time::sleep(shared.config.latency).await;
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "the request body is not JSON");
    };
    let inputs: Vec<String> = match request.get("input") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "`input` must be a string or a list of strings",
            );
        }
    };
    let dims = match request.get("dimensions") {
        None | Some(Value::Null) => EMBEDDING_DIMS,
        Some(v) => match v.as_u64().filter(|d| (1..=4096).contains(d)) {
            Some(d) => d as usize,
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "`dimensions` must be from 1 to 4096",
                );
            }
        },
    };
    let tokens: u64 = inputs
        .iter()
        .map(|t| (t.split_whitespace().count() as u64).max(1))
        .sum();
    stats.completions.fetch_add(1, Ordering::SeqCst);
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| json!({ "object": "embedding", "index": i, "embedding": embedding(t, dims) }))
        .collect();
    axum::Json(json!({
        "object": "list",
        "data": data,
        "model": request.get("model").cloned().unwrap_or(Value::Null),
        "usage": { "prompt_tokens": tokens, "total_tokens": tokens }
    }))
    .into_response()
}

/// A chat completion whose message is `content`.
fn completion(shared: &Shared, request: &Value, body: &[u8], content: &str) -> Response {
    let prompt_tokens = body.len() as u64 / 4;
    let completion_tokens = (content.len() as u64 / 4).max(1);
    shared.stats.completions.fetch_add(1, Ordering::SeqCst);
    axum::Json(json!({
        "id": format!("chatcmpl-{:x}", fnv1a(body)),
        "object": "chat.completion",
        "created": 0,
        "model": request.get("model").cloned().unwrap_or(Value::Null),
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": content }, "finish_reason": "stop" }],
        "usage": { "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens }
    }))
    .into_response()
}

fn rate_limited(config: &FakeConfig, message: &str) -> Response {
    let mut response = error(StatusCode::TOO_MANY_REQUESTS, message);
    if let Some(header) = &config.retry_after_header {
        if let Ok(value) = HeaderValue::from_str(header) {
            response.headers_mut().insert("retry-after", value);
        }
        return response;
    }
    let ms = config.retry_after.as_millis().to_string();
    let secs = config.retry_after.as_secs_f64().ceil().to_string();
    if let (Ok(ms), Ok(secs)) = (HeaderValue::from_str(&ms), HeaderValue::from_str(&secs)) {
        response.headers_mut().insert("retry-after-ms", ms);
        response.headers_mut().insert("retry-after", secs);
    }
    response
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": { "message": message, "type": "fake_error", "param": null, "code": null } }))).into_response()
}

/// A JSON value that satisfies `schema` (the subset Agora's mechanisms use).
pub fn instance(schema: &Value, rng: &mut impl Rng) -> Value {
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.is_empty()
    {
        return options[rng.random_range(0..options.len())].clone();
    }
    let ty = match schema.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(ts)) => ts.first().and_then(Value::as_str).unwrap_or("null"),
        _ => "object",
    };
    let num = |key: &str| schema.get(key).and_then(Value::as_f64);
    match ty {
        "object" => {
            let mut out = serde_json::Map::new();
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (key, sub) in props {
                    out.insert(key.clone(), instance(sub, rng));
                }
            }
            Value::Object(out)
        }
        "integer" => {
            let lo = num("minimum").unwrap_or(0.0).ceil() as i64;
            let hi = num("maximum").unwrap_or(100.0).floor() as i64;
            json!(if hi >= lo {
                rng.random_range(lo..=hi)
            } else {
                lo
            })
        }
        "number" => {
            let lo = num("minimum").unwrap_or(0.0);
            let hi = num("maximum").unwrap_or(100.0).max(lo);
            json!(((lo + (hi - lo) * rng.random_range(0.0..=1.0)) * 100.0).round() / 100.0)
        }
        "string" => {
            let max = schema
                .get("maxLength")
                .and_then(Value::as_u64)
                .unwrap_or(40) as usize;
            json!(fake_text(max, rng))
        }
        "boolean" => json!(rng.random_range(0..2) == 1),
        "array" => {
            let n = schema.get("minItems").and_then(Value::as_u64).unwrap_or(1) as usize;
            let item = schema
                .get("items")
                .cloned()
                .unwrap_or(json!({ "type": "integer" }));
            Value::Array((0..n).map(|_| instance(&item, rng)).collect())
        }
        _ => Value::Null,
    }
}

/// Words fake answers are made of.
const WORDS: [&str; 24] = [
    "the",
    "price",
    "seems",
    "fair",
    "for",
    "what",
    "it",
    "offers",
    "and",
    "I",
    "would",
    "consider",
    "it",
    "if",
    "my",
    "neighbours",
    "agree",
    "but",
    "public",
    "transport",
    "matters",
    "more",
    "to",
    "us",
];

/// A fake answer as long as a model's typically is: from 40% to 90% of `max`
/// characters (at most 600), in words; short limits keep the fixed sentence.
fn fake_text(max: usize, rng: &mut impl Rng) -> String {
    const SENTENCE: &str = "A fake answer from the test server.";
    if max <= SENTENCE.len() + 5 {
        return SENTENCE.chars().take(max).collect();
    }
    let cap = max.min(600);
    let target = rng.random_range(cap * 2 / 5..=cap * 9 / 10);
    let mut out = String::from(SENTENCE);
    while out.len() < target {
        let word = WORDS[rng.random_range(0..WORDS.len())];
        if out.len() + 1 + word.len() > cap {
            break;
        }
        out.push(' ');
        out.push_str(word);
    }
    out
}

/// SplitMix64's finaliser: spreads nearby inputs over the whole range.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The content of the part named `file` of a multipart body, or `None` when `headers`
/// do not announce a multipart body.
fn multipart_file(headers: &HeaderMap, body: &[u8]) -> Option<Result<Bytes, &'static str>> {
    let content_type = headers.get("content-type")?.to_str().ok()?;
    if !content_type.starts_with("multipart/form-data") {
        return None;
    }
    let Some(boundary) = content_type
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("boundary="))
        .next()
        .map(|b| b.trim_matches('"'))
    else {
        return Some(Err("the multipart body has no boundary"));
    };
    let delimiter = format!("--{boundary}");
    let text = body;
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(at) = find(rest, delimiter.as_bytes()) {
        parts.push(&rest[..at]);
        rest = &rest[at + delimiter.len()..];
    }
    for part in parts {
        let Some(split) = find(part, b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&part[..split]);
        if head.contains("name=\"file\"") {
            let content = &part[split + 4..];
            let content = content.strip_suffix(b"\r\n").unwrap_or(content);
            return Some(Ok(Bytes::copy_from_slice(content)));
        }
    }
    Some(Err("the multipart body has no `file` part"))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `POST /v1/files`: store the uploaded file.
async fn upload(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    shared.stats.requests.fetch_add(1, Ordering::SeqCst);
    let content = match multipart_file(&headers, &body) {
        Some(Ok(content)) => content,
        Some(Err(message)) => return error(StatusCode::BAD_REQUEST, message),
        None => body,
    };
    let n = shared.stats.files_uploaded.fetch_add(1, Ordering::SeqCst) + 1;
    let id = format!("file-{n}");
    let bytes = content.len();
    if let Ok(mut files) = shared.files.lock() {
        files.insert(id.clone(), content);
    }
    axum::Json(json!({ "id": id, "object": "file", "bytes": bytes, "purpose": "batch", "filename": "batch.jsonl" }))
        .into_response()
}

/// `GET /v1/files/{id}/content`.
async fn download(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    shared.stats.requests.fetch_add(1, Ordering::SeqCst);
    let file = shared.files.lock().ok().and_then(|f| f.get(&id).cloned());
    match file {
        Some(content) => (
            StatusCode::OK,
            [("content-type", "application/jsonl")],
            content,
        )
            .into_response(),
        None => error(StatusCode::NOT_FOUND, &format!("no file {id}")),
    }
}

/// `POST /v1/batches`: a batch of an uploaded file's requests.
async fn create_batch(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    shared.stats.requests.fetch_add(1, Ordering::SeqCst);
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "the request body is not JSON");
    };
    let Some(input) = request.get("input_file_id").and_then(Value::as_str) else {
        return error(StatusCode::BAD_REQUEST, "`input_file_id` is required");
    };
    if request.get("endpoint").and_then(Value::as_str) != Some("/v1/chat/completions") {
        return error(
            StatusCode::BAD_REQUEST,
            "`endpoint` must be /v1/chat/completions",
        );
    }
    let lines = match shared.files.lock().ok().and_then(|f| f.get(input).cloned()) {
        Some(content) => String::from_utf8_lossy(&content)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .count(),
        None => return error(StatusCode::NOT_FOUND, &format!("no file {input}")),
    };
    let n = shared.stats.batches_created.fetch_add(1, Ordering::SeqCst) + 1;
    let id = format!("batch_{n}");
    let batch = FakeBatch {
        input_file_id: input.to_string(),
        created: std::time::Instant::now(),
        output_file_id: None,
        lines,
    };
    let answer = batch_json(&id, &batch);
    shared.batches.lock().await.insert(id, batch);
    axum::Json(answer).into_response()
}

fn batch_json(id: &str, batch: &FakeBatch) -> Value {
    let done = batch.output_file_id.is_some();
    json!({
        "id": id,
        "object": "batch",
        "endpoint": "/v1/chat/completions",
        "input_file_id": batch.input_file_id,
        "completion_window": "24h",
        "status": if done { "completed" } else { "in_progress" },
        "output_file_id": batch.output_file_id,
        "error_file_id": null,
        "request_counts": { "total": batch.lines, "completed": if done { batch.lines } else { 0 }, "failed": 0 }
    })
}

/// `GET /v1/batches/{id}`: the batch, answered once its delay has passed.
async fn retrieve_batch(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    shared.stats.requests.fetch_add(1, Ordering::SeqCst);
    shared.stats.batch_polls.fetch_add(1, Ordering::SeqCst);
    let mut batches = shared.batches.lock().await;
    let Some(batch) = batches.get_mut(&id) else {
        return error(StatusCode::NOT_FOUND, &format!("no batch {id}"));
    };
    if batch.output_file_id.is_none() && batch.created.elapsed() >= shared.config.batch_delay {
        let input = shared
            .files
            .lock()
            .ok()
            .and_then(|f| f.get(&batch.input_file_id).cloned())
            .unwrap_or_default();
        let mut output = String::new();
        for (k, line) in String::from_utf8_lossy(&input)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
        {
            output.push_str(&batch_line(&shared, k, line).await.to_string());
            output.push('\n');
        }
        let n = shared.stats.files_uploaded.fetch_add(1, Ordering::SeqCst) + 1;
        let file_id = format!("file-{n}");
        if let Ok(mut files) = shared.files.lock() {
            files.insert(file_id.clone(), Bytes::from(output));
        }
        batch.output_file_id = Some(file_id);
    }
    axum::Json(batch_json(&id, batch)).into_response()
}

/// The output line for input line `k`: the answer to its body as a chat completion.
async fn batch_line(shared: &Shared, k: usize, line: &str) -> Value {
    let Ok(request) = serde_json::from_str::<Value>(line) else {
        return json!({ "id": format!("batch_req_{k}"), "custom_id": null, "response": null, "error": { "code": "invalid_json", "message": "the line is not JSON" } });
    };
    let custom_id = request.get("custom_id").cloned().unwrap_or(Value::Null);
    let Some(body) = request.get("body") else {
        return json!({ "id": format!("batch_req_{k}"), "custom_id": custom_id, "response": null, "error": { "code": "missing_body", "message": "the line has no body" } });
    };
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let response = answer(shared, &bytes).await;
    let status = response.status().as_u16();
    let content = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    let body = serde_json::from_slice::<Value>(&content).unwrap_or_else(|_| {
        json!({ "error": { "message": format!("not JSON: {}", String::from_utf8_lossy(&content)) } })
    });
    let status = if status == 200 && body.get("choices").is_none() {
        500
    } else {
        status
    };
    json!({ "id": format!("batch_req_{k}"), "custom_id": custom_id, "response": { "status_code": status, "request_id": format!("req_{k}"), "body": body }, "error": null })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn faults_hit_about_their_share_and_repeats_draw_afresh() {
        let config = FakeConfig {
            faults: Faults {
                rate_limited: 0.5,
                ..Faults::default()
            },
            ..FakeConfig::default()
        };
        let shared = Shared {
            config,
            files: Mutex::new(HashMap::new()),
            batches: tokio::sync::Mutex::new(HashMap::new()),
            slots: None,
            seen: Mutex::new(HashMap::new()),
            stats: Arc::new(Stats::default()),
        };
        let mut limited = 0;
        let mut longest_run = 0;
        let mut run = 0;
        for i in 0..400 {
            let body = format!("{{\"model\": \"m\", \"n\": {}}}", i / 4);
            let status = answer(&shared, body.as_bytes()).await.status();
            if status == StatusCode::TOO_MANY_REQUESTS {
                limited += 1;
                run += 1;
                longest_run = longest_run.max(run);
            } else {
                run = 0;
            }
        }
        assert!((160..240).contains(&limited), "{limited} of 400");
        assert!(longest_run < 16, "{longest_run}");
        // Retries of one body: each repeat is a fresh draw.
        let mut after_limited = (0, 0);
        let mut previous = false;
        for _ in 0..2000 {
            let limited = answer(&shared, b"{\"same\": true}").await.status()
                == StatusCode::TOO_MANY_REQUESTS;
            if previous {
                after_limited.0 += 1;
                after_limited.1 += usize::from(limited);
            }
            previous = limited;
        }
        let share = after_limited.1 as f64 / after_limited.0 as f64;
        assert!((0.4..0.6).contains(&share), "P(429 | 429 before) = {share}");
    }

    #[tokio::test]
    async fn a_given_retry_after_is_sent_verbatim_and_keys_are_echoed_where_asked() {
        let config = FakeConfig {
            faults: Faults {
                rate_limited: 1.0,
                ..Faults::default()
            },
            retry_after_header: Some("1e300".into()),
            ..FakeConfig::default()
        };
        let shared = Shared {
            config,
            files: Mutex::new(HashMap::new()),
            batches: tokio::sync::Mutex::new(HashMap::new()),
            slots: None,
            seen: Mutex::new(HashMap::new()),
            stats: Arc::new(Stats::default()),
        };
        let response = answer(&shared, b"{}").await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()["retry-after"], "1e300");
        assert!(response.headers().get("retry-after-ms").is_none());
        let body = json!({
            "response_format": { "json_schema": { "schema": {
                "type": "object", "properties": { "why": { "type": "string" } }
            } } }
        })
        .to_string();
        for echo in [
            EchoKey::InAnswer,
            EchoKey::InInvalidAnswer,
            EchoKey::InMalformedAnswer,
            EchoKey::InError,
        ] {
            let response = echo_key(&shared, body.as_bytes(), echo, "k3y").await;
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            assert!(String::from_utf8_lossy(&bytes).contains("k3y"), "{echo:?}");
        }
    }

    #[test]
    fn embeddings_are_unit_vectors_closer_for_shared_words() {
        let a = embedding("I would definitely buy it", 64);
        let b = embedding("definitely buy", 64);
        let c = embedding("never in a million years", 64);
        let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(p, q)| p * q).sum::<f64>();
        assert!((dot(&a, &a) - 1.0).abs() < 1e-12);
        assert!(dot(&a, &b) > dot(&a, &c));
        assert!(embedding(" ,. ", 8).iter().all(|x| *x == 0.0));
    }

    #[tokio::test]
    async fn the_embeddings_endpoint_answers_lists_in_order_and_refuses_bad_input() {
        let server = FakeServer::start(FakeConfig::default()).await.unwrap();
        let base = server.base_url();
        let ok = post_embeddings(
            &base,
            json!({"model": "e", "input": ["a b", "c"], "dimensions": 8}),
        )
        .await;
        assert_eq!(ok["data"][1]["index"], 1);
        assert_eq!(ok["data"][0]["embedding"].as_array().map(Vec::len), Some(8));
        assert_eq!(ok["usage"]["prompt_tokens"], 3);
        let bad = post_embeddings(&base, json!({"model": "e", "input": 3})).await;
        assert!(
            bad["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains("input")
        );
    }

    /// A minimal HTTP/1.1 POST to `/v1/embeddings` over a TCP stream (the crate has no
    /// HTTP client); the JSON body of the response.
    async fn post_embeddings(base: &str, body: Value) -> Value {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = base.trim_start_matches("http://").trim_end_matches("/v1");
        let body = body.to_string();
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "POST /v1/embeddings HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut out = String::new();
        stream.read_to_string(&mut out).await.unwrap();
        let json = out.split("\r\n\r\n").nth(1).unwrap_or("null");
        serde_json::from_str(json).unwrap_or(Value::Null)
    }

    #[test]
    fn instances_satisfy_their_schema() {
        let schema = json!({
            "type": "object",
            "properties": {
                "a": { "type": "integer", "minimum": 3, "maximum": 4 },
                "b": { "type": "string", "enum": ["x", "y"] },
                "c": { "type": "string", "maxLength": 5 },
                "d": { "type": "number", "minimum": 0.5, "maximum": 0.75 }
            }
        });
        let mut rng = Pcg64Mcg::seed_from_u64(1);
        for _ in 0..100 {
            let v = instance(&schema, &mut rng);
            assert!((3..=4).contains(&v["a"].as_i64().unwrap()));
            assert!(["x", "y"].contains(&v["b"].as_str().unwrap()));
            assert!(v["c"].as_str().unwrap().chars().count() <= 5);
            assert!((0.5..=0.75).contains(&v["d"].as_f64().unwrap()));
        }
    }

    #[test]
    fn multipart_uploads_yield_their_file_part() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-type",
            HeaderValue::from_static("multipart/form-data; boundary=XYZ"),
        );
        let body = b"--XYZ\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b.jsonl\"\r\n\r\n{\"a\":1}\n\r\n--XYZ--\r\n";
        let file = multipart_file(&headers, body).unwrap().unwrap();
        assert_eq!(&file[..], b"{\"a\":1}\n");
        assert!(
            multipart_file(&HeaderMap::new(), body).is_none(),
            "a raw upload"
        );
        let no_file =
            b"--XYZ\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n--XYZ--";
        assert!(multipart_file(&headers, no_file).unwrap().is_err());
    }
}
