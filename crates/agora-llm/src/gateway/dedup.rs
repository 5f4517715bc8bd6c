//! Identical requests in flight at the same time are sent once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};

use super::key::call_key;
use crate::model::{ChatModel, ChatResponse, LlmError};
use crate::request::ChatRequest;

type SharedCall = Shared<BoxFuture<'static, Result<ChatResponse, LlmError>>>;

/// Sends identical concurrent requests (same call key, see [`call_key`]) to the inner
/// model once and gives every caller the same answer. With greedy decoding, agents
/// asked the same question in the same words share one call; with sampling, requests
/// differ by seed and are never merged.
pub struct Deduplicated {
    inner: Arc<dyn ChatModel>,
    in_flight: Arc<Mutex<HashMap<[u8; 32], SharedCall>>>,
}

impl Deduplicated {
    /// Deduplicate concurrent calls to `inner`.
    pub fn new(inner: Arc<dyn ChatModel>) -> Self {
        Self {
            inner,
            in_flight: Arc::default(),
        }
    }

    async fn call(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let key = call_key(self.inner.name(), request);
        let shared = {
            let Ok(mut in_flight) = self.in_flight.lock() else {
                return self.inner.complete(request).await;
            };
            match in_flight.get(&key) {
                Some(call) => call.clone(),
                None => {
                    let inner = self.inner.clone();
                    let owned = request.clone();
                    let registry = self.in_flight.clone();
                    let call = async move {
                        let answer = inner.complete(&owned).await;
                        if let Ok(mut in_flight) = registry.lock() {
                            in_flight.remove(&key);
                        }
                        answer
                    }
                    .boxed()
                    .shared();
                    in_flight.insert(key, call.clone());
                    call
                }
            }
        };
        shared.await
    }
}

middleware_chat_model!(Deduplicated);

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::gateway::testing::{Scripted, request};

    #[tokio::test(start_paused = true)]
    async fn concurrent_identical_greedy_requests_are_sent_once() {
        let inner = Scripted::with_delay(vec![], Duration::from_millis(50));
        let dedup = Deduplicated::new(inner.clone());
        let mut greedy = request(1);
        greedy.params.temperature = 0.0;
        let mut other_seed = greedy.clone();
        other_seed.seed = 2;
        let (a, b) = futures::join!(dedup.complete(&greedy), dedup.complete(&other_seed));
        assert_eq!(a.unwrap(), b.unwrap());
        assert_eq!(inner.calls(), 1);
        // Once answered, the entry is gone: a later identical call is sent again.
        dedup.complete(&greedy).await.unwrap();
        assert_eq!(inner.calls(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn sampled_requests_with_different_seeds_are_not_merged() {
        let inner = Scripted::with_delay(vec![], Duration::from_millis(50));
        let dedup = Deduplicated::new(inner.clone());
        let (a, b) = (request(1), request(2));
        let _ = futures::join!(dedup.complete(&a), dedup.complete(&b));
        assert_eq!(inner.calls(), 2);
    }
}
