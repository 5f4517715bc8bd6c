//! The call cache: answers stored on disk by content address, so a rerun is exact
//! and free, and a run can be replayed offline.
//!
//! The store is one SQLite database in write-ahead-log mode (`calls.sqlite`). Every
//! answer is committed and synced to disk as soon as it arrives, so a process that is
//! killed keeps every answer it paid for. Several processes (the shards of one
//! experiment, say) share one cache directory at once: they read in parallel and take
//! turns writing, each write holding the lock for about one commit. A cache of the
//! earlier format (`calls.redb`) in the same directory is imported once.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use redb::{ReadOnlyDatabase, ReadableDatabase, ReadableTable, TableDefinition};
use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

use super::key::call_key;
use crate::model::{CallMeta, ChatModel, ChatResponse, LlmError, Usage};
use crate::request::ChatRequest;

/// The table of the earlier (redb) cache format.
const REDB_CALLS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("calls");

/// How long a write waits for another process that holds the cache's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS calls (key BLOB PRIMARY KEY, entry BLOB NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS imports (source TEXT PRIMARY KEY, entries INTEGER NOT NULL);
";

/// How a run uses the call cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CacheMode {
    /// No cache: every call goes to the model.
    Off,
    /// Use cached answers, store nothing new.
    Read,
    /// Use cached answers and store new ones.
    #[default]
    Write,
    /// Use cached answers only; a call that is not cached fails the run.
    Replay,
}

impl std::str::FromStr for CacheMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "off" => Ok(CacheMode::Off),
            "read" => Ok(CacheMode::Read),
            "write" => Ok(CacheMode::Write),
            "replay" => Ok(CacheMode::Replay),
            other => Err(format!(
                "unknown cache mode `{other}`; use off, read, write or replay"
            )),
        }
    }
}

/// Why the call cache could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The cache directory could not be created.
    #[error("{}: cannot create the cache directory: {source}", dir.display())]
    Directory {
        /// The directory.
        dir: PathBuf,
        /// What the file system said.
        source: std::io::Error,
    },
    /// Another process kept the cache locked for longer than a write waits.
    #[error(
        "{}: the call cache stayed locked by another process for {}s; another agora process is writing to it (several may share a cache, but one stuck in a write holds the others up): let it finish or stop it, or give this run its own --cache-dir",
        path.display(),
        BUSY_TIMEOUT.as_secs()
    )]
    Busy {
        /// The cache file.
        path: PathBuf,
    },
    /// SQLite failed.
    #[error("{}: {doing}: {source}", path.display())]
    Store {
        /// The cache file.
        path: PathBuf,
        /// What was being done.
        doing: &'static str,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// A stored entry could not be encoded or decoded.
    #[error("{}: {doing}: {source}", path.display())]
    Entry {
        /// The cache file.
        path: PathBuf,
        /// What was being done.
        doing: &'static str,
        /// What the encoder said.
        source: serde_json::Error,
    },
    /// A cache of the earlier format could not be imported.
    #[error("{}: cannot import this call cache of the earlier format: {message}", path.display())]
    Import {
        /// The earlier cache file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// What is stored per call: the answer (or the failure the answer led to) and how the
/// original call went.
#[derive(Serialize, Deserialize)]
struct Entry {
    answer: serde_json::Value,
    usage: Usage,
    latency_us: u64,
    attempts: u32,
    repaired: Option<String>,
    cost_usd: Option<f64>,
    /// The failure of a call whose answers the schema rejected (after the repair).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failure: Option<LlmError>,
    /// The completion's text as the model wrote it (absent in entries stored before
    /// it was kept, and for backends that write no text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    raw: Option<String>,
    /// The server that answered, so a cached rerun writes the same `llm_calls`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    endpoint: Option<String>,
}

/// An embedded store of call answers shared by every process that opens it, each
/// answer durable on disk once stored.
pub struct CallCache {
    db: Mutex<Connection>,
    path: PathBuf,
}

impl CallCache {
    /// Open (or create) the cache named by `path`.
    ///
    /// The store is the SQLite file `path` with the extension `sqlite`; a cache of the
    /// earlier format beside it (extension `redb`) is imported the first time. So both
    /// `DIR/calls.sqlite` and `DIR/calls.redb` open `DIR/calls.sqlite`.
    pub fn open(path: &Path) -> Result<Self, CacheError> {
        let path = path.with_extension("sqlite");
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| CacheError::Directory {
                dir: dir.to_path_buf(),
                source,
            })?;
        }
        let store = |doing| {
            let path = path.clone();
            move |source| store_error(&path, doing, source)
        };
        let db = Connection::open(&path).map_err(store("cannot open the call cache"))?;
        db.busy_timeout(BUSY_TIMEOUT)
            .map_err(store("cannot open the call cache"))?;
        // Write-ahead log: readers never block the one writer, several processes share
        // the file; FULL syncs the log at every commit, so a stored answer survives a
        // crash of the process and of the machine.
        let mode: String = db
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(store("cannot switch the call cache to WAL mode"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), mode, "the call cache is not in WAL mode; processes sharing it wait for each other");
        }
        db.pragma_update(None, "synchronous", "FULL")
            .map_err(store("cannot set up the call cache"))?;
        db.execute_batch(SCHEMA)
            .map_err(store("cannot set up the call cache"))?;
        let cache = Self {
            db: Mutex::new(db),
            path,
        };
        // An earlier cache that cannot be read now (another process of an earlier
        // version holds it, say) is imported by a later open.
        if let Err(e) = cache.import_redb(&cache.path.with_extension("redb")) {
            tracing::warn!("{e}; its answers are not used by this run");
        }
        Ok(cache)
    }

    /// The cache file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn connection(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves the connection itself usable.
        self.db.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Import the answers of the earlier-format cache at `legacy`, once.
    fn import_redb(&self, legacy: &Path) -> Result<(), CacheError> {
        if !legacy.is_file() {
            return Ok(());
        }
        let source = legacy.to_string_lossy().into_owned();
        let store = |doing| move |e| store_error(&self.path, doing, e);
        let mut db = self.connection();
        let done = |db: &Connection| {
            db.query_row(
                "SELECT 1 FROM imports WHERE source = ?1",
                params![source],
                |_| Ok(()),
            )
            .optional()
        };
        if done(&db)
            .map_err(store("reading the call cache"))?
            .is_some()
        {
            return Ok(());
        }
        // The write lock keeps a second process from importing at the same time.
        let txn = db
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(store("importing into the call cache"))?;
        if done(&txn)
            .map_err(store("reading the call cache"))?
            .is_some()
        {
            return Ok(());
        }
        let import = |message: String| CacheError::Import {
            path: legacy.to_path_buf(),
            message,
        };
        let old = ReadOnlyDatabase::open(legacy).map_err(|e| import(e.to_string()))?;
        let read = old.begin_read().map_err(|e| import(e.to_string()))?;
        let mut entries = 0i64;
        match read.open_table(REDB_CALLS) {
            Ok(table) => {
                let mut insert = txn
                    .prepare("INSERT OR IGNORE INTO calls (key, entry) VALUES (?1, ?2)")
                    .map_err(store("importing into the call cache"))?;
                for item in table.iter().map_err(|e| import(e.to_string()))? {
                    let (key, value) = item.map_err(|e| import(e.to_string()))?;
                    insert
                        .execute(params![key.value(), value.value()])
                        .map_err(store("importing into the call cache"))?;
                    entries += 1;
                }
            }
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(import(e.to_string())),
        }
        txn.execute(
            "INSERT INTO imports (source, entries) VALUES (?1, ?2)",
            params![source, entries],
        )
        .map_err(store("importing into the call cache"))?;
        txn.commit()
            .map_err(store("importing into the call cache"))?;
        tracing::info!(from = %legacy.display(), to = %self.path.display(), entries, "imported the earlier call cache");
        Ok(())
    }

    fn get(&self, key: &[u8; 32]) -> Result<Option<Entry>, CacheError> {
        let bytes: Option<Vec<u8>> = self
            .connection()
            .query_row(
                "SELECT entry FROM calls WHERE key = ?1",
                params![key.as_slice()],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| store_error(&self.path, "reading the call cache", e))?;
        let Some(bytes) = bytes else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| CacheError::Entry {
                path: self.path.clone(),
                doing: "reading the call cache",
                source,
            })
    }

    fn put(&self, key: &[u8; 32], entry: &Entry) -> Result<(), CacheError> {
        let bytes = serde_json::to_vec(entry).map_err(|source| CacheError::Entry {
            path: self.path.clone(),
            doing: "writing the call cache",
            source,
        })?;
        // One transaction per answer, synced before it returns.
        self.connection()
            .execute(
                "INSERT OR REPLACE INTO calls (key, entry) VALUES (?1, ?2)",
                params![key.as_slice(), bytes],
            )
            .map_err(|e| store_error(&self.path, "writing the call cache", e))?;
        Ok(())
    }

    /// Fold the write-ahead log into the cache file. Every stored answer is already
    /// durable; this only keeps the log short.
    pub fn sync(&self) -> Result<(), CacheError> {
        self.connection()
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            .map_err(|e| store_error(&self.path, "checkpointing the call cache", e))
    }
}

fn store_error(path: &Path, doing: &'static str, source: rusqlite::Error) -> CacheError {
    match source.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => CacheError::Busy {
            path: path.to_path_buf(),
        },
        _ => CacheError::Store {
            path: path.to_path_buf(),
            doing,
            source,
        },
    }
}

impl std::fmt::Debug for CallCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallCache")
            .field("path", &self.path)
            .finish()
    }
}

/// Whether a failure is a model's answer (kept in the cache) rather than a fault on the
/// way to it: answers the schema rejected, or that were not JSON, after the repair.
fn is_answer_failure(error: &LlmError) -> bool {
    matches!(
        error.last(),
        LlmError::SchemaMismatch(_) | LlmError::Malformed(_)
    )
}

/// Serves calls from the cache and stores new answers, by [`CacheMode`].
///
/// Calls whose answers failed validation are stored too, and replayed as the same
/// failure; [`Cached::retry_failed`] asks them again instead. Transport failures,
/// timeouts and HTTP errors were not answers and are never stored.
pub struct Cached {
    inner: Arc<dyn ChatModel>,
    cache: Arc<CallCache>,
    mode: CacheMode,
    retry_failed: bool,
}

impl Cached {
    /// Cache calls to `inner` in `cache`.
    pub fn new(inner: Arc<dyn ChatModel>, cache: Arc<CallCache>, mode: CacheMode) -> Self {
        Self {
            inner,
            cache,
            mode,
            retry_failed: false,
        }
    }

    /// Whether calls cached as failed are asked again (and their new outcome stored)
    /// instead of replayed; replay mode never asks.
    pub fn retry_failed(mut self, retry_failed: bool) -> Self {
        self.retry_failed = retry_failed;
        self
    }

    fn lookup(&self, key: &[u8; 32]) -> Option<Result<ChatResponse, LlmError>> {
        if self.mode == CacheMode::Off {
            return None;
        }
        match self.cache.get(key) {
            Ok(Some(entry)) => {
                let meta = CallMeta {
                    attempts: entry.attempts,
                    cache_hit: true,
                    repaired: entry.repaired,
                    cost_usd: entry.cost_usd,
                    endpoint: entry.endpoint,
                };
                match entry.failure {
                    Some(_) if self.retry_failed && self.mode != CacheMode::Replay => None,
                    Some(failure) => Some(Err(LlmError::Spent {
                        error: Box::new(failure),
                        usage: entry.usage,
                        meta,
                    })),
                    None => Some(Ok(ChatResponse {
                        answer: entry.answer,
                        usage: entry.usage,
                        latency: Duration::from_micros(entry.latency_us),
                        meta,
                        raw: entry.raw,
                    })),
                }
            }
            Ok(None) if self.mode == CacheMode::Replay => Some(Err(LlmError::CacheMiss)),
            Ok(None) => None,
            Err(e) => Some(Err(LlmError::Backend(e.to_string()))),
        }
    }

    /// What to store for `answer`, if anything.
    fn entry(&self, answer: &Result<ChatResponse, LlmError>) -> Option<Entry> {
        if self.mode != CacheMode::Write {
            return None;
        }
        match answer {
            Ok(r) => Some(Entry {
                answer: r.answer.clone(),
                usage: r.usage,
                latency_us: r.latency.as_micros() as u64,
                attempts: r.meta.attempts,
                repaired: r.meta.repaired.clone(),
                cost_usd: r.meta.cost_usd,
                failure: None,
                raw: r.raw.clone(),
                endpoint: r.meta.endpoint.clone(),
            }),
            Err(error) if is_answer_failure(error) => {
                let (failure, usage) = error.clone().into_unspent();
                Some(Entry {
                    answer: serde_json::Value::Null,
                    usage,
                    latency_us: 0,
                    attempts: error.attempts(),
                    repaired: None,
                    cost_usd: error.meta().and_then(|m| m.cost_usd),
                    failure: Some(failure),
                    raw: None,
                    endpoint: None,
                })
            }
            Err(_) => None,
        }
    }

    fn store(&self, key: &[u8; 32], answer: &Result<ChatResponse, LlmError>) {
        if let Some(entry) = self.entry(answer)
            && let Err(e) = self.cache.put(key, &entry)
        {
            tracing::warn!("{e}");
        }
    }

    /// Store `answer` and wait until it is on disk, on tokio's blocking threads (a
    /// synced commit takes about a millisecond) so other calls go on meanwhile.
    async fn store_durably(&self, key: [u8; 32], answer: &Result<ChatResponse, LlmError>) {
        let Some(entry) = self.entry(answer) else {
            return;
        };
        let cache = self.cache.clone();
        let put = move || {
            if let Err(e) = cache.put(&key, &entry) {
                tracing::warn!("{e}");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                if let Err(e) = runtime.spawn_blocking(put).await {
                    tracing::warn!("storing an answer in the call cache failed: {e}");
                }
            }
            Err(_) => put(),
        }
    }
}

impl ChatModel for Cached {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn reads_messages(&self) -> bool {
        self.inner.reads_messages()
    }

    fn complete<'a>(
        &'a self,
        request: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<ChatResponse, LlmError>> {
        async move {
            let key = call_key(self.inner.name(), request);
            if let Some(hit) = self.lookup(&key) {
                return hit;
            }
            let mut answer = self.inner.complete(request).await;
            if let Ok(r) = &mut answer {
                // Latency is stored in microseconds: report it so from the start, so a
                // cached rerun writes exactly the same tables.
                r.latency = Duration::from_micros(r.latency.as_micros() as u64);
            }
            self.store_durably(key, &answer).await;
            answer
        }
        .boxed()
    }

    fn answer_now(&self, request: &ChatRequest) -> Option<Result<ChatResponse, LlmError>> {
        let key = call_key(self.inner.name(), request);
        if let Some(hit) = self.lookup(&key) {
            return Some(hit);
        }
        let answer = self.inner.answer_now(request)?;
        self.store(&key, &answer);
        Some(answer)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::gateway::Validated;
    use crate::gateway::testing::{Scripted, Step, request};

    fn cache(dir: &Path) -> Arc<CallCache> {
        Arc::new(CallCache::open(&dir.join("calls.sqlite")).unwrap())
    }

    #[tokio::test]
    async fn a_repeated_call_is_answered_from_the_cache_with_its_original_accounting() {
        let dir = tempfile::tempdir().unwrap();
        let inner = Scripted::new(vec![]);
        let cached = Cached::new(inner.clone(), cache(dir.path()), CacheMode::Write);
        let first = cached.complete(&request(1)).await.unwrap();
        let second = cached.complete(&request(1)).await.unwrap();
        assert_eq!(inner.calls(), 1);
        assert!(!first.meta.cache_hit && second.meta.cache_hit);
        assert_eq!(
            (second.answer, second.usage, second.latency),
            (first.answer, first.usage, first.latency)
        );
        cached.complete(&request(2)).await.unwrap();
        assert_eq!(inner.calls(), 2, "another seed is another call");
    }

    #[tokio::test]
    async fn the_raw_completion_is_kept_and_entries_stored_without_it_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let cached = Cached::new(Scripted::new(vec![]), cache(dir.path()), CacheMode::Write);
        let first = cached.complete(&request(1)).await.unwrap();
        let second = cached.complete(&request(1)).await.unwrap();
        assert!(second.meta.cache_hit);
        assert_eq!(first.raw.as_deref(), Some("{\"answer\": 3}"));
        assert_eq!(second.raw, first.raw);
        let older: Entry = serde_json::from_value(json!({
            "answer": {"answer": 3},
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "cached_tokens": 0},
            "latency_us": 5, "attempts": 1, "repaired": null, "cost_usd": null,
        }))
        .unwrap();
        assert_eq!(older.raw, None);
    }

    #[tokio::test]
    async fn answers_survive_reopening_and_replay_never_calls_the_model() {
        let dir = tempfile::tempdir().unwrap();
        {
            let cached = Cached::new(Scripted::new(vec![]), cache(dir.path()), CacheMode::Write);
            cached.complete(&request(1)).await.unwrap();
        }
        let inner = Scripted::new(vec![]);
        let replay = Cached::new(inner.clone(), cache(dir.path()), CacheMode::Replay);
        assert!(replay.complete(&request(1)).await.unwrap().meta.cache_hit);
        assert_eq!(
            replay.complete(&request(9)).await.unwrap_err(),
            LlmError::CacheMiss
        );
        assert_eq!(inner.calls(), 0);
    }

    #[tokio::test]
    async fn read_mode_uses_but_never_stores_and_off_ignores_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let store = cache(dir.path());
        let inner = Scripted::new(vec![]);
        let read = Cached::new(inner.clone(), store.clone(), CacheMode::Read);
        read.complete(&request(1)).await.unwrap();
        read.complete(&request(1)).await.unwrap();
        assert_eq!(inner.calls(), 2);
        Cached::new(inner.clone(), store.clone(), CacheMode::Write)
            .complete(&request(1))
            .await
            .unwrap();
        let off = Cached::new(inner.clone(), store, CacheMode::Off);
        assert!(!off.complete(&request(1)).await.unwrap().meta.cache_hit);
        assert_eq!(inner.calls(), 4);
    }

    #[tokio::test]
    async fn an_answer_stored_without_a_sync_survives_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let store = cache(dir.path());
        let inner = Scripted::new(vec![]);
        let cached = Cached::new(inner.clone(), store.clone(), CacheMode::Write);
        let first = cached.complete(&request(1)).await.unwrap();
        // A crash: the handle is never synced, closed or dropped.
        std::mem::forget(cached);
        std::mem::forget(store);
        let replay = Cached::new(inner.clone(), cache(dir.path()), CacheMode::Replay);
        let again = replay.complete(&request(1)).await.unwrap();
        assert!(again.meta.cache_hit);
        assert_eq!(again.answer, first.answer);
        assert_eq!(inner.calls(), 1);
    }

    #[tokio::test]
    async fn two_handles_on_one_directory_both_read_and_write() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (cache(dir.path()), cache(dir.path()));
        let inner = Scripted::new(vec![]);
        let on_a = Cached::new(inner.clone(), a, CacheMode::Write);
        let on_b = Cached::new(inner.clone(), b, CacheMode::Write);
        on_a.complete(&request(1)).await.unwrap();
        on_b.complete(&request(2)).await.unwrap();
        assert!(on_b.complete(&request(1)).await.unwrap().meta.cache_hit);
        assert!(on_a.complete(&request(2)).await.unwrap().meta.cache_hit);
        assert_eq!(inner.calls(), 2);
    }

    #[tokio::test]
    async fn a_cache_of_the_earlier_format_is_imported_once() {
        let dir = tempfile::tempdir().unwrap();
        let legacy = dir.path().join("calls.redb");
        let key = call_key("scripted", &request(1));
        {
            let db = redb::Database::create(&legacy).unwrap();
            let txn = db.begin_write().unwrap();
            {
                let mut table = txn.open_table(REDB_CALLS).unwrap();
                let old = json!({
                    "answer": { "answer": 5 },
                    "usage": { "prompt_tokens": 7, "completion_tokens": 2, "cached_tokens": 0 },
                    "latency_us": 1234, "attempts": 1, "repaired": null, "cost_usd": 0.5
                });
                let bytes = serde_json::to_vec(&old).unwrap();
                table.insert(key.as_slice(), bytes.as_slice()).unwrap();
            }
            txn.commit().unwrap();
        }
        // Opened by the old name, as earlier configurations do.
        let store = Arc::new(CallCache::open(&legacy).unwrap());
        assert_eq!(store.path(), dir.path().join("calls.sqlite"));
        let inner = Scripted::new(vec![]);
        let replay = Cached::new(inner.clone(), store, CacheMode::Replay);
        let r = replay.complete(&request(1)).await.unwrap();
        assert_eq!(r.answer, json!({ "answer": 5 }));
        assert_eq!(
            (r.usage.prompt_tokens, r.latency, r.meta.cost_usd),
            (7, Duration::from_micros(1234), Some(0.5))
        );
        // A second open finds the import done and does not repeat it.
        let again = CallCache::open(&dir.path().join("calls.sqlite")).unwrap();
        let imports: i64 = again
            .connection()
            .query_row("SELECT COUNT(*) FROM imports", [], |row| row.get(0))
            .unwrap();
        assert_eq!(imports, 1);
    }

    fn never_valid() -> Vec<Step> {
        vec![Step::AnswerWith(json!({ "answer": 9 })); 4]
    }

    #[tokio::test]
    async fn a_call_whose_answers_fail_validation_is_replayed_as_the_same_failure() {
        let dir = tempfile::tempdir().unwrap();
        let inner = Scripted::new(never_valid());
        let validated: Arc<dyn ChatModel> = Arc::new(Validated::new(inner.clone()));
        let cached = Cached::new(validated.clone(), cache(dir.path()), CacheMode::Write);
        let first = cached.complete(&request(1)).await.unwrap_err();
        assert!(first.to_string().contains("above the maximum 5"), "{first}");
        assert_eq!(inner.calls(), 2, "the answer and its repair");
        let again = cached.complete(&request(1)).await.unwrap_err();
        assert_eq!(again.to_string(), first.to_string());
        assert_eq!(inner.calls(), 2, "a cached failure is free");
        assert!(again.meta().is_some_and(|m| m.cache_hit));
        assert!(!first.meta().is_some_and(|m| m.cache_hit));
        assert_eq!(
            (again.usage(), again.attempts()),
            (first.usage(), first.attempts())
        );
        // Replay serves it too, without a model.
        let replay = Cached::new(validated, cache(dir.path()), CacheMode::Replay);
        assert_eq!(
            replay.complete(&request(1)).await.unwrap_err().to_string(),
            first.to_string()
        );
        assert_eq!(inner.calls(), 2);
    }

    #[tokio::test]
    async fn retry_failed_asks_a_failed_call_again_and_stores_the_new_answer() {
        let dir = tempfile::tempdir().unwrap();
        let inner = Scripted::new(vec![
            Step::AnswerWith(json!({ "answer": 9 })),
            Step::AnswerWith(json!({ "answer": 9 })),
        ]);
        let validated: Arc<dyn ChatModel> = Arc::new(Validated::new(inner.clone()));
        let store = cache(dir.path());
        let cached = Cached::new(validated.clone(), store.clone(), CacheMode::Write);
        cached.complete(&request(1)).await.unwrap_err();
        let retrying =
            Cached::new(validated.clone(), store.clone(), CacheMode::Write).retry_failed(true);
        let r = retrying.complete(&request(1)).await.unwrap();
        assert!(!r.meta.cache_hit);
        assert_eq!(inner.calls(), 3);
        // The new answer replaced the failure.
        assert!(cached.complete(&request(1)).await.unwrap().meta.cache_hit);
        assert_eq!(inner.calls(), 3);
    }

    #[tokio::test]
    async fn transport_failures_and_http_errors_are_never_stored() {
        let dir = tempfile::tempdir().unwrap();
        let inner = Scripted::new(vec![Step::Status(500), Step::Status(400)]);
        let cached = Cached::new(inner.clone(), cache(dir.path()), CacheMode::Write);
        cached.complete(&request(1)).await.unwrap_err();
        cached.complete(&request(1)).await.unwrap_err();
        assert!(!cached.complete(&request(1)).await.unwrap().meta.cache_hit);
        assert_eq!(inner.calls(), 3);
    }

    /// Prints what storing one answer durably costs (run with `--ignored`).
    #[test]
    #[ignore = "a measurement, not a check"]
    fn durable_store_cost() {
        let dir = tempfile::tempdir().unwrap();
        let store = CallCache::open(&dir.path().join("calls.sqlite")).unwrap();
        let entry = || Entry {
            answer: json!({ "answer": 3, "reason": "A fake answer from the test server." }),
            usage: Usage::default(),
            latency_us: 1000,
            attempts: 1,
            repaired: None,
            cost_usd: Some(0.0001),
            failure: None,
            raw: None,
            endpoint: None,
        };
        let n = 2000u64;
        let started = std::time::Instant::now();
        for i in 0..n {
            let key = *blake3::hash(&i.to_le_bytes()).as_bytes();
            store.put(&key, &entry()).unwrap();
        }
        let per = started.elapsed() / n as u32;
        let started = std::time::Instant::now();
        for i in 0..n {
            let key = *blake3::hash(&i.to_le_bytes()).as_bytes();
            assert!(store.get(&key).unwrap().is_some());
        }
        let read = started.elapsed() / n as u32;
        println!("synced put (FULL): {per:?} per answer; get: {read:?} per answer");
        store
            .connection()
            .pragma_update(None, "synchronous", "NORMAL")
            .unwrap();
        let started = std::time::Instant::now();
        for i in n..2 * n {
            let key = *blake3::hash(&i.to_le_bytes()).as_bytes();
            store.put(&key, &entry()).unwrap();
        }
        let per = started.elapsed() / n as u32;
        println!("unsynced put (NORMAL, for comparison): {per:?} per answer");
    }
}
