//! Spreading calls over several servers: weights, and taking a failing server out of
//! rotation until it is tried again.
//!
//! `OPENAI_BASE_URL` lists servers separated by commas; `URL|N` gives one a weight of N
//! (default 1), so `http://a/v1|3,http://b/v1` sends three calls to `a` for each to `b`,
//! interleaved (smooth weighted round-robin: `a a b a`, not `a a a b`). A server whose
//! call fails with a connection error, a timeout or a 5xx status is out of rotation for
//! a pause (1 s, doubling with each further failure up to 60 s); the first call after
//! the pause is its health check, and a success puts it back. When every server is out,
//! calls go to the one whose pause ends first. The gateway's retries of a failed call
//! therefore reach the servers still up.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::model::LlmError;

/// Largest weight of one server.
pub const MAX_WEIGHT: u32 = 1000;

/// The first pause of a server after a failure.
const FIRST_PAUSE: Duration = Duration::from_secs(1);

/// The longest pause.
const MAX_PAUSE: Duration = Duration::from_secs(60);

/// Split an `OPENAI_BASE_URL` entry into its URL (without a trailing slash) and weight.
pub fn parse_entry(entry: &str) -> Result<(String, u32), LlmError> {
    let entry = entry.trim();
    let (url, weight) = match entry.rsplit_once('|') {
        Some((url, weight)) => {
            let weight = weight
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|w| (1..=MAX_WEIGHT).contains(w))
                .ok_or_else(|| {
                    LlmError::InvalidRequest(format!(
                        "OPENAI_BASE_URL entry `{entry}`: the weight after `|` must be a whole number from 1 to {MAX_WEIGHT}, as in http://10.0.0.2:8000/v1|3"
                    ))
                })?;
            (url, weight)
        }
        None => (entry, 1),
    };
    Ok((url.trim().trim_end_matches('/').to_string(), weight))
}

/// A server's URL as tables show it: without any `user:password@` part.
pub fn label(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host_end = rest.find('/').unwrap_or(rest.len());
            let start = rest[..host_end].rfind('@').map_or(0, |at| at + 1);
            format!("{scheme}://{}", &rest[start..])
        }
        None => url.to_string(),
    }
}

/// The order in which servers of the given weights take calls: each server `i` appears
/// `weights[i]` times, spread out (smooth weighted round-robin).
pub fn schedule(weights: &[u32]) -> Vec<usize> {
    let total: i64 = weights.iter().map(|&w| i64::from(w)).sum();
    let mut current = vec![0i64; weights.len()];
    let mut order = Vec::with_capacity(total.max(0) as usize);
    for _ in 0..total {
        for (c, &w) in current.iter_mut().zip(weights) {
            *c += i64::from(w);
        }
        let mut best = 0;
        for i in 1..current.len() {
            if current[i] > current[best] {
                best = i;
            }
        }
        current[best] -= total;
        order.push(best);
    }
    order
}

/// Whether a failure says the server is unwell (rather than the request being wrong).
pub fn is_server_failure(error: &LlmError) -> bool {
    match error.cause() {
        LlmError::Transport(_) | LlmError::Timeout(_) => true,
        LlmError::Http { status, .. } => *status >= 500,
        _ => false,
    }
}

/// The health of one server.
#[derive(Debug, Default)]
pub struct Health {
    state: Mutex<HealthState>,
}

#[derive(Debug, Default)]
struct HealthState {
    /// Failures since the last success.
    failures: u32,
    /// Out of rotation until then.
    paused_until: Option<Instant>,
}

impl Health {
    /// Whether the server takes calls at `now`.
    pub fn available(&self, now: Instant) -> bool {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.paused_until.is_none_or(|t| t <= now)
    }

    /// When the server's pause ends (`None`: in rotation).
    pub fn paused_until(&self) -> Option<Instant> {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .paused_until
    }

    /// A call succeeded: back in rotation.
    pub fn succeeded(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let was_out = state.failures > 0;
        *state = HealthState::default();
        was_out
    }

    /// A call failed at `now`: out of rotation for a pause that doubles with each
    /// failure in a row. Returns the pause.
    pub fn failed(&self, now: Instant) -> Duration {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.failures = state.failures.saturating_add(1);
        let pause = FIRST_PAUSE
            .saturating_mul(1u32 << (state.failures - 1).min(6))
            .min(MAX_PAUSE);
        state.paused_until = Some(now + pause);
        pause
    }
}

/// Records a failure of the server when a call is dropped before it finished (the
/// gateway's timeout drops it), unless the outcome was recorded.
pub struct Outcome<'a> {
    health: &'a Health,
    url: &'a str,
    recorded: bool,
}

impl<'a> Outcome<'a> {
    /// Watch a call to the server of `health`.
    pub fn new(health: &'a Health, url: &'a str) -> Self {
        Self {
            health,
            url,
            recorded: false,
        }
    }

    /// The call ended with `result`; a server failure takes the server out of rotation.
    pub fn record<T>(&mut self, result: &Result<T, LlmError>) {
        self.recorded = true;
        match result {
            Err(e) if is_server_failure(e) => {
                let pause = self.health.failed(Instant::now());
                tracing::warn!(endpoint = self.url, ?pause, error = %e, "endpoint out of rotation");
            }
            _ => {
                if self.health.succeeded() {
                    tracing::info!(endpoint = self.url, "endpoint back in rotation");
                }
            }
        }
    }
}

impl Drop for Outcome<'_> {
    fn drop(&mut self) {
        if !self.recorded {
            let pause = self.health.failed(Instant::now());
            tracing::warn!(
                endpoint = self.url,
                ?pause,
                "endpoint out of rotation after a call timed out"
            );
        }
    }
}

/// Choose the server for the call numbered `ticket`: the scheduled one when in rotation,
/// else the next in the schedule that is, else (all out) the one back first.
pub fn choose(order: &[usize], health: &[&Health], ticket: usize, now: Instant) -> usize {
    let n = order.len();
    for k in 0..n {
        let i = order[(ticket + k) % n];
        if health[i].available(now) {
            return i;
        }
    }
    (0..health.len())
        .min_by_key(|&i| health[i].paused_until())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn labels_drop_credentials_and_keep_the_rest() {
        assert_eq!(
            super::label("https://user:secret@vllm.example:8000/v1"),
            "https://vllm.example:8000/v1"
        );
        assert_eq!(
            super::label("http://127.0.0.1:8000/v1"),
            "http://127.0.0.1:8000/v1"
        );
        assert_eq!(super::label("http://h/v1/a@b"), "http://h/v1/a@b");
    }

    use super::*;

    #[test]
    fn entries_carry_weights_and_bad_weights_say_the_form() {
        assert_eq!(
            parse_entry(" http://a:8000/v1/ |3").unwrap(),
            ("http://a:8000/v1".to_string(), 3)
        );
        assert_eq!(
            parse_entry("http://b/v1").unwrap(),
            ("http://b/v1".to_string(), 1)
        );
        for bad in [
            "http://a/v1|0",
            "http://a/v1|x",
            "http://a/v1|1001",
            "http://a/v1|",
        ] {
            let err = parse_entry(bad).unwrap_err().to_string();
            assert!(
                err.contains("from 1 to 1000") && err.contains("|3"),
                "{err}"
            );
        }
    }

    #[test]
    fn weighted_schedules_interleave_in_proportion() {
        assert_eq!(schedule(&[1, 1]), vec![0, 1]);
        assert_eq!(schedule(&[3, 1]), vec![0, 0, 1, 0]);
        let order = schedule(&[5, 2, 1]);
        assert_eq!(order.len(), 8);
        assert_eq!(order.iter().filter(|&&i| i == 0).count(), 5);
        assert_eq!(order.iter().filter(|&&i| i == 1).count(), 2);
        // Never more than two calls in a row to the heavy server here.
        assert!(!order.windows(3).any(|w| w.iter().all(|&i| i == 0)));
    }

    #[test]
    fn a_failing_server_leaves_the_rotation_and_returns_after_its_pause() {
        let a = Health::default();
        let b = Health::default();
        let order = schedule(&[1, 1]);
        let now = Instant::now();
        assert_eq!(choose(&order, &[&a, &b], 0, now), 0);
        assert_eq!(a.failed(now), Duration::from_secs(1));
        // While `a` pauses, every call goes to `b`.
        for ticket in 0..6 {
            assert_eq!(choose(&order, &[&a, &b], ticket, now), 1);
        }
        // After the pause, `a` takes its turn again (its health check).
        let later = now + Duration::from_millis(1001);
        assert_eq!(choose(&order, &[&a, &b], 0, later), 0);
        // Failures in a row double the pause, up to a minute.
        assert_eq!(a.failed(later), Duration::from_secs(2));
        for _ in 0..10 {
            a.failed(later);
        }
        assert_eq!(a.failed(later), Duration::from_secs(60));
        assert!(a.succeeded());
        assert!(a.available(later));
        // Both out: the one back first.
        a.failed(now);
        b.failed(now);
        b.failed(now);
        assert_eq!(choose(&order, &[&a, &b], 1, now), 0);
    }

    #[test]
    fn only_server_faults_take_a_server_out() {
        assert!(is_server_failure(&LlmError::Transport("refused".into())));
        assert!(is_server_failure(&LlmError::Http {
            status: 503,
            message: String::new(),
            retry_after: None
        }));
        assert!(!is_server_failure(&LlmError::Http {
            status: 400,
            message: String::new(),
            retry_after: None
        }));
        let health = Health::default();
        {
            let _dropped = Outcome::new(&health, "http://a/v1");
        }
        assert!(
            !health.available(Instant::now()),
            "a call dropped mid-way counts"
        );
    }
}
