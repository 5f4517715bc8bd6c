//! The model gateway: middleware that wraps any backend.
//!
//! Each layer is itself a [`ChatModel`] around an inner one, does one job and is tested
//! on its own. [`Gateway::wrap`] composes them in the order that makes their
//! accounting right, outermost first:
//!
//! 1. [`Cached`]: answers repeated calls from the on-disk call cache (or fails loudly
//!    in replay mode) and stores new answers, durable at once, including calls whose
//!    answers failed validation (replayed as the same failure);
//! 2. [`Deduplicated`]: identical requests in flight at the same time are sent once;
//! 3. [`Priced`]: the cost of the call from the price table;
//! 4. [`Validated`]: every answer is checked against the request's JSON Schema, with
//!    one repair re-ask before the call is reported as failed;
//! 5. [`Retrying`]: per-attempt timeout (enforced by a backend that queues requests
//!    itself from the moment it starts on one, see [`attempt_limit`]), retries with exponential backoff and jitter
//!    for timeouts, connection failures, 429 (honouring `Retry-After` up to
//!    [`MAX_RETRY_AFTER`] and the timeout) and 5xx;
//! 6. [`RateLimited`]: requests and tokens per minute, and a cap on calls in flight
//!    whose freed slots go to the waiting call of highest priority (small steps first,
//!    then the run furthest behind: `agora_model::priority`);
//! 7. [`Budgeted`]: every attempt reserves its most expensive outcome against the
//!    experiment's [`SpendingLimit`] and is not sent when that does not fit.

/// Implements [`ChatModel`] for a middleware whose `call(&self, &ChatRequest)` future does
/// its work on every model call; immediate answers pass through to `self.inner` untouched.
macro_rules! middleware_chat_model {
    ($layer:ty) => {
        impl $crate::model::ChatModel for $layer {
            fn name(&self) -> &str {
                self.inner.name()
            }

            fn reads_messages(&self) -> bool {
                self.inner.reads_messages()
            }

            fn times_own_attempts(&self) -> bool {
                self.inner.times_own_attempts()
            }

            fn complete<'a>(
                &'a self,
                request: &'a $crate::request::ChatRequest,
            ) -> futures::future::BoxFuture<
                'a,
                Result<$crate::model::ChatResponse, $crate::model::LlmError>,
            > {
                futures::FutureExt::boxed(self.call(request))
            }

            fn answer_now(
                &self,
                request: &$crate::request::ChatRequest,
            ) -> Option<Result<$crate::model::ChatResponse, $crate::model::LlmError>> {
                self.inner.answer_now(request)
            }
        }
    };
}

mod budget;
mod cache;
mod dedup;
mod key;
mod limit;
mod pricing;
mod repair;
mod retry;
mod slots;
#[cfg(test)]
mod testing;

use std::sync::Arc;

pub use budget::{Budgeted, SpendingLimit};
pub use cache::{CacheError, CacheMode, Cached, CallCache};
pub use dedup::Deduplicated;
pub use key::call_key;
pub use limit::{RateLimited, RateLimits};
pub use pricing::{Price, PriceTable, Priced};
pub use repair::Validated;
pub use retry::{
    DurationError, MAX_RETRY_AFTER, MAX_TIMEOUT, RetryPolicy, Retrying, attempt_limit,
    seconds_at_most,
};

use crate::model::ChatModel;

/// Settings of the whole middleware stack.
#[derive(Clone, Debug, Default)]
pub struct Gateway {
    /// Retry and timeout policy.
    pub retry: RetryPolicy,
    /// Rate and concurrency limits.
    pub limits: RateLimits,
    /// Prices per model.
    pub prices: PriceTable,
    /// Call cache and how to use it (`None`: no cache).
    pub cache: Option<(Arc<CallCache>, CacheMode)>,
    /// Ask calls cached as failed (answers the schema rejected) again instead of
    /// replaying the failure.
    pub retry_failed: bool,
    /// The experiment's spending limit, shared by all its calls (`None`: unlimited).
    pub spending: Option<Arc<SpendingLimit>>,
}

impl Gateway {
    /// Wrap `backend` in the full stack.
    pub fn wrap(&self, backend: Arc<dyn ChatModel>) -> Arc<dyn ChatModel> {
        let price = self.prices.get(backend.name());
        let backend: Arc<dyn ChatModel> = match &self.spending {
            Some(limit) => Arc::new(Budgeted::new(backend, limit.clone(), price)),
            None => backend,
        };
        let limited: Arc<dyn ChatModel> = Arc::new(RateLimited::new(backend, &self.limits));
        let retrying: Arc<dyn ChatModel> = Arc::new(Retrying::new(limited, self.retry.clone()));
        let validated: Arc<dyn ChatModel> = Arc::new(Validated::new(retrying));
        let priced: Arc<dyn ChatModel> = Arc::new(Priced::new(validated, price));
        let deduplicated: Arc<dyn ChatModel> = Arc::new(Deduplicated::new(priced));
        match &self.cache {
            Some((cache, mode)) if *mode != CacheMode::Off => Arc::new(
                Cached::new(deduplicated, cache.clone(), *mode).retry_failed(self.retry_failed),
            ),
            _ => deduplicated,
        }
    }
}
