//! Timeouts and retries with exponential backoff and jitter.

use std::sync::Arc;
use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;

use crate::model::{ChatModel, ChatResponse, LlmError};
use crate::request::ChatRequest;

/// The longest wait a server's `Retry-After` can impose before a retry; a longer
/// request is cut to it (and every wait is also at most the per-attempt timeout).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The longest per-attempt timeout accepted from a flag or a file: one hour.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

/// Why a number of seconds is not a usable duration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not a number.
    #[error("`{0}` is not a number of seconds; give one such as 60 or 2.5")]
    NotANumber(String),
    /// Zero, negative or not finite.
    #[error("`{0}` is not a positive number of seconds; give one such as 60 or 2.5")]
    NotPositive(String),
    /// Longer than the maximum.
    #[error("`{text}` seconds is more than the maximum of {max} seconds; give at most {max}")]
    TooLong {
        /// The value given.
        text: String,
        /// The maximum in seconds.
        max: u64,
    },
}

/// A positive number of seconds, at most `max`, as a [`Duration`]: for timeouts from
/// a flag or a file (see [`MAX_TIMEOUT`]).
pub fn seconds_at_most(text: &str, max: Duration) -> Result<Duration, DurationError> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| DurationError::NotANumber(text.to_string()))?;
    if !(secs.is_finite() && secs > 0.0) {
        return Err(DurationError::NotPositive(text.to_string()));
    }
    let too_long = || DurationError::TooLong {
        text: text.to_string(),
        max: max.as_secs(),
    };
    let duration = Duration::try_from_secs_f64(secs).map_err(|_| too_long())?;
    if duration > max {
        return Err(too_long());
    }
    if duration.is_zero() {
        return Err(DurationError::NotPositive(text.to_string()));
    }
    Ok(duration)
}

/// How long to wait for one attempt and how to back off between attempts.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Most requests per call, the first included.
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubles each time.
    pub base_delay: Duration,
    /// Upper bound of one backoff.
    pub max_delay: Duration,
    /// Time allowed for one attempt.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
            timeout: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1`: full jitter over an exponential backoff,
    /// but never shorter than what the server asked for, up to [`MAX_RETRY_AFTER`] and
    /// the per-attempt timeout.
    pub fn backoff(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        rng: &mut Pcg64Mcg,
    ) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << (attempt.saturating_sub(1)).min(16));
        let cap = exp.min(self.max_delay);
        let jittered =
            Duration::try_from_secs_f64(rng.random_range(0.0..=cap.as_secs_f64().max(0.0)))
                .unwrap_or(cap);
        match retry_after {
            Some(wait) => jittered.max(wait.min(MAX_RETRY_AFTER).min(self.timeout)),
            None => jittered,
        }
    }
}

tokio::task_local! {
    static ATTEMPT_LIMIT: Duration;
}

/// The per-attempt timeout of the model call this task is making, when the call goes
/// through [`Retrying`] to a backend that times its own attempts
/// ([`ChatModel::times_own_attempts`]); `None` elsewhere. Such a backend starts the
/// clock when it starts working on the request and fails it with
/// [`LlmError::Timeout`] when the limit passes.
pub fn attempt_limit() -> Option<Duration> {
    ATTEMPT_LIMIT.try_with(|limit| *limit).ok()
}

/// Retries retryable failures of the inner model (timeouts, connection failures, 429
/// and 5xx), never other client errors. Jitter is drawn from the call's seed, so
/// a rerun waits the same way.
pub struct Retrying {
    inner: Arc<dyn ChatModel>,
    policy: RetryPolicy,
}

impl Retrying {
    /// Retry calls to `inner` by `policy`.
    pub fn new(inner: Arc<dyn ChatModel>, policy: RetryPolicy) -> Self {
        Self { inner, policy }
    }

    async fn call(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let mut rng = Pcg64Mcg::seed_from_u64(request.seed ^ 0x7265_7472_795f_6a69);
        let max = self.policy.max_attempts.max(1);
        let mut attempt = 1;
        loop {
            let result = if self.inner.times_own_attempts() {
                ATTEMPT_LIMIT
                    .scope(self.policy.timeout, self.inner.complete(request))
                    .await
            } else {
                match tokio::time::timeout(self.policy.timeout, self.inner.complete(request)).await
                {
                    Ok(result) => result,
                    Err(_) => Err(LlmError::Timeout(self.policy.timeout)),
                }
            };
            match result {
                Ok(mut response) => {
                    response.meta.attempts = attempt - 1 + response.meta.attempts.max(1);
                    return Ok(response);
                }
                Err(error) if error.is_retryable() && attempt < max => {
                    let retry_after = match &error {
                        LlmError::Http { retry_after, .. } => *retry_after,
                        _ => None,
                    };
                    let wait = self.policy.backoff(attempt, retry_after, &mut rng);
                    tracing::debug!(attempt, ?wait, %error, "retrying a model call");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(error) if attempt > 1 => {
                    return Err(LlmError::GaveUp {
                        attempts: attempt,
                        last: Box::new(error),
                    });
                }
                Err(error) => return Err(error),
            }
        }
    }
}

middleware_chat_model!(Retrying);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::testing::{Scripted, Step, request};

    fn policy() -> RetryPolicy {
        RetryPolicy {
            timeout: Duration::from_millis(500),
            ..RetryPolicy::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retryable_failures_are_retried_until_an_answer() {
        let inner = Scripted::new(vec![
            Step::Status(500),
            Step::Hang,
            Step::Status(429),
            Step::Answer,
        ]);
        let retrying = Retrying::new(inner.clone(), policy());
        let answer = retrying.complete(&request(1)).await.unwrap();
        assert_eq!(answer.meta.attempts, 4);
        assert_eq!(inner.calls(), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn client_errors_are_not_retried() {
        let inner = Scripted::new(vec![Step::Status(400), Step::Answer]);
        let err = Retrying::new(inner.clone(), policy())
            .complete(&request(1))
            .await
            .unwrap_err();
        assert!(matches!(err, LlmError::Http { status: 400, .. }), "{err}");
        assert_eq!(inner.calls(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_stop_after_the_last_attempt_with_the_last_error() {
        let inner = Scripted::new(vec![Step::Status(503); 6]);
        let err = Retrying::new(inner.clone(), policy())
            .complete(&request(1))
            .await
            .unwrap_err();
        assert_eq!(err.attempts(), 4);
        assert!(
            err.to_string()
                .contains("gave up after 4 attempts: HTTP 503"),
            "{err}"
        );
        assert_eq!(inner.calls(), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_honoured() {
        let inner = Scripted::new(vec![
            Step::RateLimited(Duration::from_secs(3)),
            Step::Answer,
        ]);
        let started = tokio::time::Instant::now();
        let patient = RetryPolicy {
            timeout: Duration::from_secs(10),
            ..policy()
        };
        Retrying::new(inner, patient)
            .complete(&request(1))
            .await
            .unwrap();
        assert!(
            started.elapsed() >= Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_huge_retry_after_waits_at_most_the_cap() {
        let inner = Scripted::new(vec![
            Step::RateLimited(Duration::from_secs(100_000)),
            Step::Answer,
        ]);
        let started = tokio::time::Instant::now();
        Retrying::new(inner, policy())
            .complete(&request(1))
            .await
            .unwrap();
        // The policy's timeout (500 ms) is below the 60 s cap.
        assert_eq!(started.elapsed(), Duration::from_millis(500));
        let p = RetryPolicy::default();
        let mut rng = Pcg64Mcg::seed_from_u64(1);
        assert_eq!(p.backoff(1, Some(Duration::MAX), &mut rng), MAX_RETRY_AFTER);
    }

    /// A backend with one decoding slot: requests wait for their turn, then take
    /// `work` each. When it times its own attempts it starts the clock at its turn.
    struct OneSlot {
        turn: tokio::sync::Mutex<()>,
        work: Duration,
        times_itself: bool,
    }

    impl OneSlot {
        fn new(work: Duration, times_itself: bool) -> Arc<Self> {
            Arc::new(Self {
                turn: tokio::sync::Mutex::new(()),
                work,
                times_itself,
            })
        }
    }

    impl ChatModel for OneSlot {
        fn name(&self) -> &str {
            "one-slot"
        }

        fn reads_messages(&self) -> bool {
            true
        }

        fn times_own_attempts(&self) -> bool {
            self.times_itself
        }

        fn complete<'a>(
            &'a self,
            _request: &'a ChatRequest,
        ) -> futures::future::BoxFuture<'a, Result<ChatResponse, LlmError>> {
            Box::pin(async move {
                let _turn = self.turn.lock().await;
                let limit = attempt_limit();
                assert_eq!(limit.is_some(), self.times_itself, "{limit:?}");
                match limit {
                    Some(limit) if limit < self.work => {
                        tokio::time::sleep(limit).await;
                        Err(LlmError::Timeout(limit))
                    }
                    _ => {
                        tokio::time::sleep(self.work).await;
                        Ok(ChatResponse::new(
                            serde_json::json!({"answer": 3}),
                            crate::model::Usage::default(),
                            self.work,
                        ))
                    }
                }
            })
        }
    }

    async fn ten_at_once(inner: Arc<OneSlot>) -> Vec<Result<ChatResponse, LlmError>> {
        let once = RetryPolicy {
            max_attempts: 1,
            timeout: Duration::from_secs(1),
            ..RetryPolicy::default()
        };
        let retrying = Retrying::new(inner, once);
        let requests: Vec<ChatRequest> = (0..10).map(request).collect();
        futures::future::join_all(requests.iter().map(|r| retrying.complete(r))).await
    }

    #[tokio::test(start_paused = true)]
    async fn time_waiting_in_a_backends_own_queue_does_not_count_against_the_timeout() {
        // Ten requests of 300 ms each through one slot take 3 s, three times the
        // timeout; each attempt's own 300 ms is well within it.
        let started = tokio::time::Instant::now();
        let answers = ten_at_once(OneSlot::new(Duration::from_millis(300), true)).await;
        assert!(answers.iter().all(Result::is_ok), "{answers:?}");
        assert_eq!(started.elapsed(), Duration::from_secs(3));
        // A backend that does not time itself is cut off by the gateway, queue and all.
        let answers = ten_at_once(OneSlot::new(Duration::from_millis(300), false)).await;
        let timeouts = answers
            .iter()
            .filter(|a| matches!(a, Err(LlmError::Timeout(_))))
            .count();
        assert_eq!(timeouts, 7, "{answers:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_backend_that_times_itself_still_gets_the_limit_and_its_timeouts_are_retried() {
        let inner = OneSlot::new(Duration::from_secs(5), true);
        let err = Retrying::new(inner, policy())
            .complete(&request(1))
            .await
            .unwrap_err();
        assert_eq!(err.attempts(), 4);
        assert!(
            matches!(err.last(), LlmError::Timeout(t) if *t == Duration::from_millis(500)),
            "{err}"
        );
        assert_eq!(attempt_limit(), None, "the limit is scoped to the call");
    }

    #[test]
    fn seconds_are_checked_for_sign_size_and_form() {
        let max = MAX_TIMEOUT;
        assert_eq!(seconds_at_most("2.5", max), Ok(Duration::from_millis(2500)));
        assert_eq!(seconds_at_most("3600", max), Ok(max));
        for bad in ["1e300", "3601", "1e20"] {
            let err = seconds_at_most(bad, max).unwrap_err();
            assert!(err.to_string().contains("at most 3600"), "{bad}: {err}");
        }
        for bad in ["0", "-1", "NaN", "inf", "1e-300"] {
            assert_eq!(
                seconds_at_most(bad, max),
                Err(DurationError::NotPositive(bad.into())),
                "{bad}"
            );
        }
        assert!(matches!(
            seconds_at_most("soon", max),
            Err(DurationError::NotANumber(_))
        ));
    }

    #[test]
    fn backoff_grows_exponentially_within_its_cap() {
        let p = RetryPolicy::default();
        let mut rng = Pcg64Mcg::seed_from_u64(1);
        for attempt in 1..10 {
            let cap = p
                .base_delay
                .saturating_mul(1 << (attempt - 1))
                .min(p.max_delay);
            for _ in 0..50 {
                assert!(p.backoff(attempt, None, &mut rng) <= cap);
            }
        }
        assert_eq!(
            p.backoff(1, Some(Duration::from_secs(30)), &mut rng),
            Duration::from_secs(30)
        );
    }
}
