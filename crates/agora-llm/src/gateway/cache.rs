//! The call cache: answers stored on disk by content address, so a rerun is exact
//! and free, and a run can be replayed offline.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use redb::{Database, Durability, ReadableDatabase, TableDefinition};
use serde::{Deserialize, Serialize};

use super::key::call_key;
use crate::model::{CallMeta, ChatModel, ChatResponse, LlmError, Usage};
use crate::request::ChatRequest;

const CALLS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("calls");

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

/// What is stored per call: the answer and how the original call went.
#[derive(Serialize, Deserialize)]
struct Entry {
    answer: serde_json::Value,
    usage: Usage,
    latency_us: u64,
    attempts: u32,
    repaired: Option<String>,
    cost_usd: Option<f64>,
}

/// An embedded key-value store of call answers (one file, safe across crashes).
pub struct CallCache {
    db: Database,
    path: PathBuf,
}

impl CallCache {
    /// Open (or create) the cache file at `path`.
    pub fn open(path: &Path) -> Result<Self, String> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                format!("{}: cannot create the cache directory: {e}", dir.display())
            })?;
        }
        let db = Database::create(path)
            .map_err(|e| format!("{}: cannot open the call cache: {e}", path.display()))?;
        Ok(Self {
            db,
            path: path.to_path_buf(),
        })
    }

    /// The cache file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn get(&self, key: &[u8; 32]) -> Result<Option<Entry>, LlmError> {
        let err = |e: &dyn std::fmt::Display| {
            LlmError::Backend(format!(
                "reading the call cache {}: {e}",
                self.path.display()
            ))
        };
        let txn = self.db.begin_read().map_err(|e| err(&e))?;
        let table = match txn.open_table(CALLS) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(err(&e)),
        };
        let Some(bytes) = table.get(key.as_slice()).map_err(|e| err(&e))? else {
            return Ok(None);
        };
        serde_json::from_slice(bytes.value())
            .map(Some)
            .map_err(|e| err(&e))
    }

    fn put(&self, key: &[u8; 32], entry: &Entry) -> Result<(), LlmError> {
        let err = |e: &dyn std::fmt::Display| {
            LlmError::Backend(format!(
                "writing the call cache {}: {e}",
                self.path.display()
            ))
        };
        let bytes = serde_json::to_vec(entry).map_err(|e| err(&e))?;
        let mut txn = self.db.begin_write().map_err(|e| err(&e))?;
        // Each answer is committed without syncing; `sync` (and dropping the cache)
        // makes everything durable at once.
        txn.set_durability(Durability::None).map_err(|e| err(&e))?;
        {
            let mut table = txn.open_table(CALLS).map_err(|e| err(&e))?;
            table
                .insert(key.as_slice(), bytes.as_slice())
                .map_err(|e| err(&e))?;
        }
        txn.commit().map_err(|e| err(&e))
    }

    /// Make every stored answer durable on disk.
    pub fn sync(&self) -> Result<(), String> {
        let txn = self.db.begin_write().map_err(|e| e.to_string())?;
        txn.commit().map_err(|e| e.to_string())
    }
}

impl std::fmt::Debug for CallCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallCache")
            .field("path", &self.path)
            .finish()
    }
}

impl Drop for CallCache {
    fn drop(&mut self) {
        if let Err(e) = self.sync() {
            tracing::warn!(path = %self.path.display(), "the call cache could not be synced: {e}");
        }
    }
}

/// Serves calls from the cache and stores new answers, by [`CacheMode`].
pub struct Cached {
    inner: Arc<dyn ChatModel>,
    cache: Arc<CallCache>,
    mode: CacheMode,
}

impl Cached {
    /// Cache calls to `inner` in `cache`.
    pub fn new(inner: Arc<dyn ChatModel>, cache: Arc<CallCache>, mode: CacheMode) -> Self {
        Self { inner, cache, mode }
    }

    fn lookup(&self, key: &[u8; 32]) -> Option<Result<ChatResponse, LlmError>> {
        if self.mode == CacheMode::Off {
            return None;
        }
        match self.cache.get(key) {
            Ok(Some(entry)) => Some(Ok(ChatResponse {
                answer: entry.answer,
                usage: entry.usage,
                latency: Duration::from_micros(entry.latency_us),
                meta: CallMeta {
                    attempts: entry.attempts,
                    cache_hit: true,
                    repaired: entry.repaired,
                    cost_usd: entry.cost_usd,
                },
            })),
            Ok(None) if self.mode == CacheMode::Replay => Some(Err(LlmError::CacheMiss)),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }

    fn store(&self, key: &[u8; 32], answer: &Result<ChatResponse, LlmError>) {
        if self.mode != CacheMode::Write {
            return;
        }
        if let Ok(r) = answer {
            let entry = Entry {
                answer: r.answer.clone(),
                usage: r.usage,
                latency_us: r.latency.as_micros() as u64,
                attempts: r.meta.attempts,
                repaired: r.meta.repaired.clone(),
                cost_usd: r.meta.cost_usd,
            };
            if let Err(e) = self.cache.put(key, &entry) {
                tracing::warn!("{e}");
            }
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
            self.store(&key, &answer);
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
    use super::*;
    use crate::gateway::testing::{Scripted, request};

    fn cache(dir: &Path) -> Arc<CallCache> {
        Arc::new(CallCache::open(&dir.join("calls.redb")).unwrap())
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

    #[test]
    fn modes_parse_from_their_names() {
        assert_eq!("replay".parse::<CacheMode>(), Ok(CacheMode::Replay));
        assert!(
            "sometimes"
                .parse::<CacheMode>()
                .unwrap_err()
                .contains("off, read, write or replay")
        );
    }
}
