//! When to retry a request to the Devin API, and how long to wait first.
//!
//! The rule (§2.4) follows from one fact: v3 has no idempotency keys. A 429 means the request
//! was never processed, so any method may be resent. A 5xx, a timeout or a broken connection
//! leaves it unknown whether the request took effect, so only GET, PUT and DELETE, which are
//! safe to repeat, are resent; a POST is not, because a second create would start a second
//! session and bill for it.

use std::time::{Duration, SystemTime};

use rand::Rng;
use reqwest::Method;
use reqwest::header::HeaderMap;

/// How the client retries. The defaults suit the real API; tests shrink the waits.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first backoff; each retry doubles it, up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// The longest `Retry-After` honoured; a longer one is cut to this.
    pub max_retry_after: Duration,
    /// How long one attempt may take, from sending to the last byte of the body.
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 4,
            base_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// What went wrong with one attempt, as far as retrying cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// HTTP 429: not processed.
    RateLimited,
    /// HTTP 5xx: maybe processed.
    Server,
    /// Connection refused, reset or timed out: maybe processed.
    Transport,
}

/// Whether the method may be resent after the failure (see the module doc).
pub fn may_retry(method: &Method, failure: Failure) -> bool {
    match failure {
        Failure::RateLimited => true,
        Failure::Server | Failure::Transport => {
            matches!(
                *method,
                Method::GET | Method::PUT | Method::DELETE | Method::HEAD
            )
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1-based): exponential with full jitter, so
    /// that many clients rate-limited together do not come back together.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exponent = retry.saturating_sub(1).min(16);
        let ceiling = self
            .base_backoff
            .saturating_mul(1u32 << exponent)
            .min(self.max_backoff);
        let ceiling_ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        // At least half the ceiling, so that retries cannot collapse into a burst.
        let floor_ms = ceiling_ms / 2;
        Duration::from_millis(rand::rng().random_range(floor_ms..=ceiling_ms))
    }

    /// The wait the server asked for, capped by `max_retry_after`.
    pub fn honoured_retry_after(&self, asked: Duration) -> Duration {
        asked.min(self.max_retry_after)
    }
}

/// Reads `retry-after-ms`, then `Retry-After` as seconds or as an HTTP date.
///
/// A wait too long for a `Duration` comes back as `Duration::MAX`, so that
/// [`RetryPolicy::honoured_retry_after`] caps it like any other long wait; a negative, NaN or
/// infinite value is no wait at all (`None`), since it says nothing a client can act on.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let millis = text("retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok());
    if let Some(wait) = millis.and_then(|ms| seconds(ms / 1000.0)) {
        return Some(wait);
    }
    let value = text("retry-after")?.trim();
    if let Ok(number) = value.parse::<f64>() {
        return seconds(number);
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(
        date.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// A number of seconds from an upstream header as a wait. `Duration::from_secs_f64` would
/// panic on the values refused or saturated here.
fn seconds(seconds: f64) -> Option<Duration> {
    if !seconds.is_finite() || seconds < 0.0 {
        return None;
    }
    // The only way a finite, non-negative value fails is being too large.
    Some(Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn post_is_retried_only_after_a_429() {
        assert!(may_retry(&Method::POST, Failure::RateLimited));
        assert!(!may_retry(&Method::POST, Failure::Server));
        assert!(!may_retry(&Method::POST, Failure::Transport));
        for method in [Method::GET, Method::PUT, Method::DELETE] {
            assert!(may_retry(&method, Failure::Server));
            assert!(may_retry(&method, Failure::Transport));
            assert!(may_retry(&method, Failure::RateLimited));
        }
    }

    #[test]
    fn retry_after_reads_seconds_millis_and_dates() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("3"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(250)));

        let mut dated = HeaderMap::new();
        let later = SystemTime::now() + Duration::from_secs(120);
        let value = HeaderValue::from_str(&httpdate::fmt_http_date(later)).unwrap();
        dated.insert("retry-after", value);
        let wait = retry_after(&dated).unwrap();
        assert!(
            wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );

        let mut past = HeaderMap::new();
        past.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&past), Some(Duration::ZERO));

        let mut junk = HeaderMap::new();
        junk.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&junk), None);

        for meaningless in ["-5", "-0.5", "inf", "-inf", "NaN"] {
            let mut headers = HeaderMap::new();
            headers.insert("retry-after", HeaderValue::from_static(meaningless));
            headers.insert("retry-after-ms", HeaderValue::from_static(meaningless));
            assert_eq!(retry_after(&headers), None, "{meaningless}");
        }
    }

    #[test]
    fn an_overflowing_retry_after_is_the_longest_wait_and_gets_capped() {
        let policy = RetryPolicy::default();
        for (name, huge) in [
            ("retry-after", "100000000000000000000"),
            ("retry-after", "1e300"),
            ("retry-after-ms", "1e300"),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(name, HeaderValue::from_static(huge));
            let asked = retry_after(&headers);
            assert_eq!(asked, Some(Duration::MAX), "{name}: {huge}");
            assert_eq!(
                policy.honoured_retry_after(Duration::MAX),
                policy.max_retry_after
            );
        }
    }

    #[test]
    fn backoff_grows_is_jittered_and_capped() {
        let policy = RetryPolicy::default();
        for retry in 1..=10 {
            let wait = policy.backoff(retry);
            assert!(wait <= policy.max_backoff, "{retry}: {wait:?}");
        }
        let first = policy.backoff(1);
        assert!(first >= Duration::from_millis(250) && first <= Duration::from_millis(500));
        assert!(policy.backoff(4) >= Duration::from_secs(2));
        assert_eq!(
            policy.honoured_retry_after(Duration::from_secs(3600)),
            policy.max_retry_after
        );
    }
}
