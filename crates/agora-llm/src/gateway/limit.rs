//! Rate limits in requests and tokens per minute, and a cap on calls in flight.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::slots::PrioritySlots;
use crate::model::{ChatModel, ChatResponse, LlmError};
use crate::request::ChatRequest;

/// Limits a backend must respect; `None` means unlimited.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RateLimits {
    /// Requests per minute.
    pub requests_per_minute: Option<u32>,
    /// Tokens per minute (prompt estimate plus `max_tokens`, as servers count them).
    pub tokens_per_minute: Option<u32>,
    /// Most calls in flight at once through this layer.
    pub max_in_flight: Option<usize>,
}

/// A token bucket that refills continuously; waiting uses the tokio clock.
struct Bucket {
    capacity: f64,
    per_second: f64,
    state: Mutex<(f64, Instant)>,
}

impl Bucket {
    fn per_minute(rate: u32) -> Self {
        let capacity = f64::from(rate.max(1));
        Self {
            capacity,
            per_second: capacity / 60.0,
            state: Mutex::new((capacity, Instant::now())),
        }
    }

    /// Wait until `amount` tokens (at most the bucket's capacity) can be taken.
    async fn take(&self, amount: f64) {
        let amount = amount.min(self.capacity);
        loop {
            let wait = {
                let Ok(mut state) = self.state.lock() else {
                    return;
                };
                let now = Instant::now();
                let (tokens, last) = *state;
                let tokens = (tokens + now.duration_since(last).as_secs_f64() * self.per_second)
                    .min(self.capacity);
                if tokens >= amount {
                    *state = (tokens - amount, now);
                    return;
                }
                *state = (tokens, now);
                // At most a minute's refill; the fallback only guards the arithmetic.
                Duration::try_from_secs_f64((amount - tokens) / self.per_second)
                    .unwrap_or(Duration::from_secs(60))
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// Holds calls back until the rate limits allow them and a slot is free.
pub struct RateLimited {
    inner: Arc<dyn ChatModel>,
    requests: Option<Bucket>,
    tokens: Option<Bucket>,
    in_flight: Option<PrioritySlots>,
}

impl RateLimited {
    /// Limit calls to `inner` by `limits`.
    pub fn new(inner: Arc<dyn ChatModel>, limits: &RateLimits) -> Self {
        Self {
            inner,
            requests: limits.requests_per_minute.map(Bucket::per_minute),
            tokens: limits.tokens_per_minute.map(Bucket::per_minute),
            in_flight: limits.max_in_flight.map(PrioritySlots::new),
        }
    }

    async fn call(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        // A freed slot goes to the waiting call of highest priority (see
        // `agora_model::priority`).
        let _permit = match &self.in_flight {
            Some(slots) => Some(slots.acquire(agora_model::priority::current()).await),
            None => None,
        };
        if let Some(bucket) = &self.requests {
            bucket.take(1.0).await;
        }
        if let Some(bucket) = &self.tokens {
            bucket.take(estimated_tokens(request)).await;
        }
        self.inner.complete(request).await
    }
}

/// Tokens a call will count against a tokens-per-minute limit: about four characters
/// per prompt token, plus the most the answer may use.
pub fn estimated_tokens(request: &ChatRequest) -> f64 {
    let chars: usize = request.messages.iter().map(|m| m.content.len()).sum();
    (chars as f64 / 4.0).ceil() + f64::from(request.params.max_tokens)
}

middleware_chat_model!(RateLimited);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::testing::{Scripted, request};

    #[tokio::test(start_paused = true)]
    async fn requests_per_minute_spread_calls_out() {
        let inner = Scripted::new(vec![]);
        let limits = RateLimits {
            requests_per_minute: Some(60),
            ..RateLimits::default()
        };
        let limited = RateLimited::new(inner.clone(), &limits);
        let started = Instant::now();
        // The bucket starts full (a minute's worth), then refills at one per second.
        for i in 0..65 {
            limited.complete(&request(i)).await.unwrap();
        }
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(5) && waited < Duration::from_secs(6),
            "{waited:?}"
        );
        assert_eq!(inner.calls(), 65);
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_per_minute_count_prompt_and_answer_budget() {
        let inner = Scripted::new(vec![]);
        let r = request(1);
        let per_call = estimated_tokens(&r);
        let limits = RateLimits {
            tokens_per_minute: Some((per_call * 2.0) as u32),
            ..RateLimits::default()
        };
        let limited = RateLimited::new(inner, &limits);
        let started = Instant::now();
        for _ in 0..4 {
            limited.complete(&r).await.unwrap();
        }
        // Two calls fit the first minute; the next two need another minute of refill.
        assert!(
            started.elapsed() >= Duration::from_secs(59),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn no_more_than_the_cap_are_in_flight() {
        let inner = Scripted::with_delay(vec![], Duration::from_millis(100));
        let limits = RateLimits {
            max_in_flight: Some(3),
            ..RateLimits::default()
        };
        let limited = Arc::new(RateLimited::new(inner.clone(), &limits));
        let started = Instant::now();
        let calls = (0..9).map(|i| {
            let limited = limited.clone();
            async move { limited.complete(&request(i)).await }
        });
        for answer in futures::future::join_all(calls).await {
            answer.unwrap();
        }
        // Nine calls of 100 ms, three at a time: three waves.
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(300) && elapsed < Duration::from_millis(400),
            "{elapsed:?}"
        );
    }
}
