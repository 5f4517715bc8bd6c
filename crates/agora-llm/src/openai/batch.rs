//! Batch inference through the OpenAI Batch API.
//!
//! [`Batched`] collects the chat requests that reach the backend together (every request
//! of a scheduler step is gathered before any is awaited, so they arrive within
//! moments of each other): once no new request has come for [`BatchSettings::window`],
//! the collected requests go out as one batch. The batch is a JSONL file, one line per
//! request (`{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body"}`,
//! the body exactly that of a direct call), uploaded with `POST /files` (purpose
//! `batch`) and started with `POST /batches` (`completion_window: "24h"`); the batch is
//! polled with `GET /batches/{id}` every [`BatchSettings::poll`] until it ends, and its
//! output (and error) file is downloaded and matched to the requests by `custom_id`.
//! A line that failed becomes the call's error, so it goes through the gateway's
//! retries, repair and fallback like a failed direct call.
//!
//! The `custom_id` of a request is its call-cache key, so answers are those of direct
//! calls and a run without batching replays them from the cache. While a batch is in
//! flight its id and custom ids are kept in a small file in
//! [`BatchSettings::state_dir`]; a resumed run whose requests are found there polls
//! that batch instead of submitting them again.
//!
//! Batches go to the first base URL. Embedding queries are sent directly.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::{OpenAiBackend, parse_completion};
use crate::gateway::call_key;
use crate::model::{ChatModel, ChatResponse, LlmError};
use crate::request::ChatRequest;

/// The most requests in one batch (the OpenAI limit).
pub const MAX_BATCH_REQUESTS: usize = 50_000;

/// Polls of a batch that may fail in a row (timeouts, 429, 5xx) before its requests
/// are given up as failed.
const MAX_POLL_FAILURES: u32 = 10;

/// The longest one request of the Batch API (an upload, a poll, a download) may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(600);

/// How requests are batched.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchSettings {
    /// Wait between two polls of a batch in flight.
    pub poll: Duration,
    /// A batch is sent once no new request has arrived for this long.
    pub window: Duration,
    /// Where the ids of batches in flight are kept (`None`: not kept, no resumption).
    pub state_dir: Option<PathBuf>,
}

impl Default for BatchSettings {
    fn default() -> Self {
        Self {
            poll: Duration::from_secs(30),
            window: Duration::from_millis(200),
            state_dir: None,
        }
    }
}

/// The record of a batch in flight, kept as `BATCH_ID.json` in the state directory.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct InFlight {
    batch_id: String,
    custom_ids: Vec<String>,
}

type Reply = oneshot::Sender<Result<ChatResponse, LlmError>>;

/// One request waiting for its batch: the body sent and everyone waiting for it.
struct Waiting {
    custom_id: String,
    body: Value,
    queued: Instant,
    replies: Vec<Reply>,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<Waiting>,
    /// Requests added so far (tells the sender whether the window stayed quiet).
    added: u64,
}

struct Shared {
    backend: Arc<OpenAiBackend>,
    settings: BatchSettings,
    http: reqwest::Client,
    base_url: String,
    queue: Mutex<Queue>,
    /// Batches in flight found in the state directory: custom id to batch id.
    recorded: Mutex<Option<HashMap<String, String>>>,
}

/// The OpenAI-compatible backend sending chat requests through the Batch API.
pub struct Batched {
    shared: Arc<Shared>,
}

impl Batched {
    /// Batch the chat requests of `backend` by `settings`.
    pub fn new(backend: Arc<OpenAiBackend>, settings: BatchSettings) -> Result<Self, LlmError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .timeout(HTTP_TIMEOUT)
            .build()
            .map_err(|e| LlmError::Backend(format!("starting the HTTP client: {e}")))?;
        let base_url = backend
            .endpoints
            .first()
            .map(|e| e.url.trim_end_matches('/').to_string())
            .ok_or_else(|| LlmError::InvalidRequest("no OpenAI base URL configured".into()))?;
        Ok(Self {
            shared: Arc::new(Shared {
                backend,
                settings,
                http,
                base_url,
                queue: Mutex::new(Queue::default()),
                recorded: Mutex::new(None),
            }),
        })
    }

    async fn call(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        if agora_model::embedding_query(request).is_some() {
            return self.shared.backend.call(request).await;
        }
        let backend = &self.shared.backend;
        let custom_id = hex(&call_key(&backend.model, request));
        let body = backend.body(request);
        let (reply, answer) = oneshot::channel();
        let start_sender = {
            let mut queue = self
                .shared
                .queue
                .lock()
                .map_err(|_| LlmError::Backend("the batch queue is poisoned".into()))?;
            let first = queue.waiting.is_empty();
            queue.added += 1;
            match queue.waiting.iter_mut().find(|w| w.custom_id == custom_id) {
                Some(same) => same.replies.push(reply),
                None => queue.waiting.push(Waiting {
                    custom_id,
                    body,
                    queued: Instant::now(),
                    replies: vec![reply],
                }),
            }
            first
        };
        if start_sender {
            tokio::spawn(send_when_quiet(self.shared.clone()));
        }
        let result = answer
            .await
            .map_err(|_| LlmError::Backend("the batch was abandoned".into()))?;
        self.shared.backend.scrubbed(result)
    }
}

/// Wait until the queue has been quiet for the window (or is full), then send it.
async fn send_when_quiet(shared: Arc<Shared>) {
    let mut seen = u64::MAX;
    let waiting = loop {
        tokio::time::sleep(shared.settings.window).await;
        let Ok(mut queue) = shared.queue.lock() else {
            return;
        };
        if queue.added == seen || queue.waiting.len() >= MAX_BATCH_REQUESTS {
            break std::mem::take(&mut queue.waiting);
        }
        seen = queue.added;
    };
    for chunk in chunks(waiting, MAX_BATCH_REQUESTS) {
        run(&shared, chunk).await;
    }
}

fn chunks(mut items: Vec<Waiting>, size: usize) -> Vec<Vec<Waiting>> {
    let mut out = Vec::new();
    while items.len() > size {
        let rest = items.split_off(size);
        out.push(items);
        items = rest;
    }
    out.push(items);
    out
}

/// Answer `waiting`: first from batches recorded as in flight, the rest in a new batch.
async fn run(shared: &Shared, waiting: Vec<Waiting>) {
    let recorded = shared.recorded_batches();
    let mut groups: HashMap<String, Vec<Waiting>> = HashMap::new();
    let mut fresh = Vec::new();
    for w in waiting {
        match recorded.get(&w.custom_id) {
            Some(batch) => groups.entry(batch.clone()).or_default().push(w),
            None => fresh.push(w),
        }
    }
    for (batch_id, group) in groups {
        tracing::info!(%batch_id, requests = group.len(), "polling a batch submitted before the resume");
        match shared.collect(&batch_id).await {
            Ok(mut lines) => {
                let mut missing = Vec::new();
                for w in group {
                    match lines.remove(&w.custom_id) {
                        Some(line) => deliver(w, line),
                        None => missing.push(w),
                    }
                }
                shared.forget(&batch_id);
                fresh.extend(missing);
            }
            Err(error) => {
                tracing::warn!(%batch_id, %error, "a recorded batch is not usable; submitting its requests again");
                shared.forget(&batch_id);
                fresh.extend(group);
            }
        }
    }
    if fresh.is_empty() {
        return;
    }
    match shared.submit(&fresh).await {
        Ok(batch_id) => match shared.collect(&batch_id).await {
            Ok(mut lines) => {
                for w in fresh {
                    let line = lines.remove(&w.custom_id).unwrap_or_else(|| {
                        Err(LlmError::Backend(format!(
                            "batch {batch_id} has no answer for request {}",
                            w.custom_id
                        )))
                    });
                    deliver(w, line);
                }
                shared.forget(&batch_id);
            }
            Err(error) => {
                shared.forget(&batch_id);
                fail(fresh, &error);
            }
        },
        Err(error) => fail(fresh, &error),
    }
}

type Lines = HashMap<String, Result<Value, LlmError>>;

fn deliver(w: Waiting, line: Result<Value, LlmError>) {
    let latency = w.queued.elapsed();
    for reply in w.replies {
        let result = match &line {
            Ok(raw) => parse_completion(raw, latency),
            Err(error) => Err(error.clone()),
        };
        let _ = reply.send(result);
    }
}

fn fail(waiting: Vec<Waiting>, error: &LlmError) {
    for w in waiting {
        for reply in w.replies {
            let _ = reply.send(Err(error.clone()));
        }
    }
}

impl Shared {
    /// The batches in flight recorded in the state directory, read once.
    fn recorded_batches(&self) -> HashMap<String, String> {
        let Ok(mut recorded) = self.recorded.lock() else {
            return HashMap::new();
        };
        recorded
            .get_or_insert_with(|| match &self.settings.state_dir {
                Some(dir) => read_records(dir),
                None => HashMap::new(),
            })
            .clone()
    }

    /// Drop the record of a batch whose answers were delivered.
    fn forget(&self, batch_id: &str) {
        if let Ok(mut recorded) = self.recorded.lock()
            && let Some(map) = recorded.as_mut()
        {
            map.retain(|_, b| b != batch_id);
        }
        if let Some(dir) = &self.settings.state_dir {
            let _ = std::fs::remove_file(dir.join(format!("{}.json", file_stem(batch_id))));
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base_url)
    }

    fn authorized(&self, builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let key = self.backend.api_key.trim();
        if key.is_empty() {
            builder
        } else {
            builder.bearer_auth(key)
        }
    }

    /// Send a request and read its JSON answer; error statuses become [`LlmError::Http`].
    async fn send(&self, builder: reqwest::RequestBuilder, what: &str) -> Result<Value, LlmError> {
        let text = self.send_text(builder, what).await?;
        serde_json::from_str(&text)
            .map_err(|e| LlmError::Transport(format!("{what}: the answer is not JSON ({e})")))
    }

    async fn send_text(
        &self,
        builder: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<String, LlmError> {
        let response = self
            .authorized(builder)
            .send()
            .await
            .map_err(|e| LlmError::Transport(format!("{what}: {}", e.without_url())))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| LlmError::Transport(format!("{what}: {}", e.without_url())))?;
        if !status.is_success() {
            return Err(LlmError::Http {
                status: status.as_u16(),
                message: format!(
                    "{what}: {}",
                    text.trim().chars().take(500).collect::<String>()
                ),
                retry_after: None,
            });
        }
        Ok(text)
    }

    /// Upload the requests as a JSONL file, start a batch and record it; its id.
    async fn submit(&self, waiting: &[Waiting]) -> Result<String, LlmError> {
        let mut jsonl = String::new();
        for w in waiting {
            let line = json!({
                "custom_id": w.custom_id,
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": w.body,
            });
            jsonl.push_str(&line.to_string());
            jsonl.push('\n');
        }
        let part = reqwest::multipart::Part::bytes(jsonl.into_bytes())
            .file_name("batch.jsonl")
            .mime_str("application/jsonl")
            .map_err(|e| LlmError::Backend(format!("building the batch upload: {e}")))?;
        let form = reqwest::multipart::Form::new()
            .text("purpose", "batch")
            .part("file", part);
        let file = self
            .send(
                self.http.post(self.url("files")).multipart(form),
                "uploading the batch file",
            )
            .await?;
        let file_id = text_field(&file, "id", "the uploaded batch file")?;
        let batch = self
            .send(
                self.http.post(self.url("batches")).json(&json!({
                    "input_file_id": file_id,
                    "endpoint": "/v1/chat/completions",
                    "completion_window": "24h",
                })),
                "creating the batch",
            )
            .await?;
        let batch_id = text_field(&batch, "id", "the created batch")?;
        tracing::info!(%batch_id, requests = waiting.len(), "submitted a batch");
        if let Some(dir) = &self.settings.state_dir {
            let record = InFlight {
                batch_id: batch_id.clone(),
                custom_ids: waiting.iter().map(|w| w.custom_id.clone()).collect(),
            };
            write_record(dir, &record).map_err(|e| {
                LlmError::Backend(format!(
                    "{}: recording batch {batch_id}: {e}",
                    dir.display()
                ))
            })?;
        }
        Ok(batch_id)
    }

    /// Poll a batch until it ends; its lines by custom id.
    async fn collect(&self, batch_id: &str) -> Result<Lines, LlmError> {
        let mut failures = 0;
        let batch = loop {
            let polled = self
                .send(
                    self.http.get(self.url(&format!("batches/{batch_id}"))),
                    "polling the batch",
                )
                .await;
            let batch = match polled {
                Ok(batch) => {
                    failures = 0;
                    batch
                }
                // A passing fault of the server or the network: poll again later.
                Err(error) if error.is_retryable() && failures < MAX_POLL_FAILURES => {
                    failures += 1;
                    tracing::warn!(%batch_id, %error, "polling the batch failed; polling again");
                    tokio::time::sleep(self.settings.poll).await;
                    continue;
                }
                Err(error) => return Err(error),
            };
            match batch.get("status").and_then(Value::as_str) {
                Some("completed") => break batch,
                Some(status @ ("failed" | "expired" | "cancelled" | "cancelling")) => {
                    return Err(LlmError::Backend(format!(
                        "batch {batch_id} ended {status}: {}",
                        batch
                            .get("errors")
                            .map(Value::to_string)
                            .unwrap_or_default()
                    )));
                }
                _ => tokio::time::sleep(self.settings.poll).await,
            }
        };
        let mut lines = Lines::new();
        for field in ["error_file_id", "output_file_id"] {
            let Some(file_id) = batch.get(field).and_then(Value::as_str) else {
                continue;
            };
            let text = self
                .send_text(
                    self.http.get(self.url(&format!("files/{file_id}/content"))),
                    "downloading the batch results",
                )
                .await?;
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                if let Some((id, result)) = parse_line(line) {
                    lines.insert(id, result);
                }
            }
        }
        Ok(lines)
    }
}

/// One line of a batch's output or error file: its custom id and the completion or the
/// error.
fn parse_line(line: &str) -> Option<(String, Result<Value, LlmError>)> {
    let value: Value = serde_json::from_str(line).ok()?;
    let id = value.get("custom_id")?.as_str()?.to_string();
    let status = value
        .pointer("/response/status_code")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok());
    let body = value.pointer("/response/body");
    let result = match (status, body) {
        (Some(200), Some(body)) => Ok(body.clone()),
        (Some(status), body) => Err(LlmError::Http {
            status,
            message: body
                .and_then(|b| b.pointer("/error/message"))
                .and_then(Value::as_str)
                .map_or_else(
                    || format!("batch line failed with HTTP {status}"),
                    str::to_string,
                ),
            retry_after: None,
        }),
        (None, _) => Err(LlmError::Backend(format!(
            "batch line failed: {}",
            value
                .get("error")
                .map(Value::to_string)
                .unwrap_or_else(|| "no response".into())
        ))),
    };
    Some((id, result))
}

fn text_field(value: &Value, field: &str, what: &str) -> Result<String, LlmError> {
    value
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| LlmError::Transport(format!("{what} has no `{field}`: {value}")))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A batch id as a file name (ids are letters, digits, `_` and `-`; anything else is
/// replaced).
fn file_stem(batch_id: &str) -> String {
    batch_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn write_record(dir: &Path, record: &InFlight) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let stem = file_stem(&record.batch_id);
    let tmp = dir.join(format!("{stem}.json.tmp"));
    let text = serde_json::to_string(record).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, text)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, dir.join(format!("{stem}.json")))
}

/// Custom id to batch id for every record in `dir` (unreadable records are skipped).
fn read_records(dir: &Path) -> HashMap<String, String> {
    let mut map = HashMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return map;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let record = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| serde_json::from_str::<InFlight>(&text).ok());
        match record {
            Some(record) => {
                for id in record.custom_ids {
                    map.insert(id, record.batch_id.clone());
                }
            }
            None => tracing::warn!(path = %path.display(), "skipping an unreadable batch record"),
        }
    }
    map
}

impl ChatModel for Batched {
    fn name(&self) -> &str {
        self.shared.backend.name()
    }

    fn reads_messages(&self) -> bool {
        true
    }

    /// A batch may take up to its completion window: the per-attempt timeout is not
    /// applied to it.
    fn times_own_attempts(&self) -> bool {
        true
    }

    fn complete<'a>(
        &'a self,
        request: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<ChatResponse, LlmError>> {
        self.call(request).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_give_completions_or_errors() {
        let ok = r#"{"id":"r1","custom_id":"a","response":{"status_code":200,"body":{"choices":[]}},"error":null}"#;
        let (id, result) = parse_line(ok).unwrap();
        assert_eq!(id, "a");
        assert_eq!(result.unwrap(), json!({ "choices": [] }));
        let bad = r#"{"custom_id":"b","response":{"status_code":429,"body":{"error":{"message":"slow down"}}}}"#;
        let (_, result) = parse_line(bad).unwrap();
        let error = result.unwrap_err();
        assert!(error.is_retryable(), "{error}");
        assert!(error.to_string().contains("slow down"), "{error}");
        let failed = r#"{"custom_id":"c","response":null,"error":{"code":"x","message":"gone"}}"#;
        assert!(parse_line(failed).unwrap().1.is_err());
        assert!(parse_line("not json").is_none());
    }

    #[test]
    fn records_round_trip_and_ids_are_safe_file_names() {
        let dir = tempfile::tempdir().unwrap();
        let record = InFlight {
            batch_id: "batch/../1".into(),
            custom_ids: vec!["a".into(), "b".into()],
        };
        write_record(dir.path(), &record).unwrap();
        assert!(dir.path().join("batch____1.json").exists());
        let map = read_records(dir.path());
        assert_eq!(map.get("b").map(String::as_str), Some("batch/../1"));
        assert!(read_records(&dir.path().join("missing")).is_empty());
    }
}
