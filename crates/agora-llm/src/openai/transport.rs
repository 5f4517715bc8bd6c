//! The HTTP transport under the OpenAI client: one plain attempt per call (retries are
//! the gateway's job), and error statuses kept with their `Retry-After`.

use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use async_openai::error::OpenAIError;
use async_openai::middleware::{HttpRequestFactory, ReqwestService};
use futures::FutureExt;
use futures::future::BoxFuture;

use crate::gateway::MAX_RETRY_AFTER;

/// An HTTP error status with what the server said and how long it asked us to wait.
#[derive(Debug)]
pub struct HttpFailure {
    /// Status code.
    pub status: u16,
    /// The response body (trimmed).
    pub body: String,
    /// Parsed `Retry-After` (seconds, an HTTP date or `retry-after-ms`), at most
    /// [`MAX_RETRY_AFTER`].
    pub retry_after: Option<Duration>,
}

impl std::fmt::Display for HttpFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}: {}", self.status, self.body)
    }
}

impl std::error::Error for HttpFailure {}

/// Wraps reqwest so that error responses become [`HttpFailure`]s before the client
/// parses them (the client would drop the `Retry-After` header).
#[derive(Clone)]
pub struct StatusAware {
    inner: ReqwestService,
}

impl StatusAware {
    /// A transport over `client`.
    pub fn new(client: reqwest::Client) -> Self {
        Self {
            inner: ReqwestService::new(client),
        }
    }
}

impl tower::Service<HttpRequestFactory> for StatusAware {
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = BoxFuture<'static, Result<reqwest::Response, OpenAIError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequestFactory) -> Self::Future {
        let call = self.inner.call(request);
        async move {
            let response = call.await?;
            let status = response.status();
            if status.is_success() {
                return Ok(response);
            }
            let retry_after = retry_after(response.headers());
            let body = response.text().await.unwrap_or_default();
            let body: String = body.trim().chars().take(500).collect();
            Err(OpenAIError::Boxed(Box::new(HttpFailure {
                status: status.as_u16(),
                body,
                retry_after,
            })))
        }
        .boxed()
    }
}

/// The wait a server asked for: `retry-after-ms` (milliseconds), else `Retry-After`
/// (seconds, or an HTTP date). Negative, NaN and non-numeric values are ignored; a
/// wait beyond [`MAX_RETRY_AFTER`] is cut to it, and a date in the past
/// means no wait.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    retry_after_at(headers, SystemTime::now())
}

fn retry_after_at(headers: &reqwest::header::HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name: &str| headers.get(name)?.to_str().ok().map(str::trim);
    let seconds = |secs: f64| {
        // NaN and negative waits are no waits asked for; an infinite one is the cap.
        (secs >= 0.0)
            .then(|| Duration::try_from_secs_f64(secs.min(MAX_RETRY_AFTER.as_secs_f64())).ok())
            .flatten()
    };
    if let Some(wait) = text("retry-after-ms")
        .and_then(|ms| ms.parse::<f64>().ok())
        .and_then(|ms| seconds(ms / 1000.0))
    {
        return Some(wait);
    }
    let value = text("retry-after")?;
    match value.parse::<f64>() {
        Ok(secs) => seconds(secs),
        Err(_) => httpdate::parse_http_date(value).ok().map(|date| {
            date.duration_since(now)
                .unwrap_or(Duration::ZERO)
                .min(MAX_RETRY_AFTER)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_milliseconds() {
        let mut headers = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert("retry-after-ms", "150".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(150)));
        headers.remove("retry-after-ms");
        headers.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO), "a past date");
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:27:50 GMT").unwrap();
        assert_eq!(retry_after_at(&headers, now), Some(Duration::from_secs(10)));
    }

    #[test]
    fn retry_after_survives_hostile_values() {
        let with = |name: &str, value: &str| {
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert(
                reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
            retry_after(&headers)
        };
        for huge in ["1e300", "100000", "1e400", "inf"] {
            assert_eq!(with("retry-after", huge), Some(MAX_RETRY_AFTER), "{huge}");
        }
        assert_eq!(with("retry-after-ms", "1e300"), Some(MAX_RETRY_AFTER));
        for bad in ["-5", "NaN", "-inf", "soon", ""] {
            assert_eq!(with("retry-after", bad), None, "{bad}");
        }
        assert_eq!(
            with("retry-after", "Fri, 31 Dec 9999 23:59:59 GMT"),
            Some(MAX_RETRY_AFTER)
        );
    }
}
