//! The HTTP transport under the OpenAI client: one plain attempt per call (retries are
//! the gateway's job), and error statuses kept with their `Retry-After`.

use std::task::{Context, Poll};
use std::time::Duration;

use async_openai::error::OpenAIError;
use async_openai::middleware::{HttpRequestFactory, ReqwestService};
use futures::FutureExt;
use futures::future::BoxFuture;

/// An HTTP error status with what the server said and how long it asked us to wait.
#[derive(Debug)]
pub struct HttpFailure {
    /// Status code.
    pub status: u16,
    /// The response body (trimmed).
    pub body: String,
    /// Parsed `Retry-After` (seconds or `retry-after-ms`).
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

/// `retry-after-ms` (milliseconds) or `Retry-After` (seconds); HTTP dates are ignored.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let number = |name: &str| {
        headers
            .get(name)?
            .to_str()
            .ok()?
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && *x >= 0.0)
    };
    number("retry-after-ms")
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .or_else(|| number("retry-after").map(Duration::from_secs_f64))
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
        assert_eq!(retry_after(&headers), None);
    }
}
