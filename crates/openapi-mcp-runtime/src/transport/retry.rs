//! When a failed request is sent again, and after how long.
//!
//! The policy (see [`RetryPolicy::delay`]):
//!
//! - **Only idempotent requests are retried**: GET, HEAD and OPTIONS ([`Method::is_safe`]).
//!   POST, PUT, PATCH and DELETE are never sent twice by the transport: an order, a
//!   cancellation or a watchlist change that may have reached the API must be looked up, not
//!   repeated (the order tools do exactly that).
//! - **At most `max_attempts` tries in all** (3 by default).
//! - **429**: waits `Retry-After` seconds when the API sends it, as long as that is at most
//!   `max_retry_after` (10 s by default); a longer wait is not sat through: the 429 is
//!   returned at once, and its hint tells the model how long to wait. Without `Retry-After`
//!   the backoff below applies.
//! - **502, 503, 504** (gateway and availability failures, usually transient) and a
//!   **connection reset or dropped** after the request went out (`Connection { sent: true }`):
//!   capped exponential backoff, `retry_base * 2^(try-1)` capped at `max_backoff`, with "equal
//!   jitter" (half fixed, half random) so many sessions do not retry in lock step.
//! - **Not retried**: any other status (a 500 is usually a deterministic server bug for that
//!   request, and 4xx will not change), a refused or unreachable connection (the API is down
//!   or the URL is wrong: failing at once says so faster than three refusals would), and a
//!   decode or request-building error.
//! - **Timeouts are not retried.** A request that timed out waited the whole
//!   `request_timeout` (30 s by default); trying again would multiply the latency of a slow
//!   upstream by the number of tries, while the model can narrow the request or retry itself.
//!   The error says the request may have reached the API.
//!
//! The client-side rate limiter (see `rate_limit`) is consulted before every try, retries
//! included.
//!
//! Why by hand: the policy is one pure function of the method, the status or error (with
//! whether the request went out) and `Retry-After`, tested case by case here. The backoff
//! crates (`backoff`, `tokio-retry`) supply the delay schedule, the smallest part; what
//! matters here (never resend a write, trust `sent`, cap `Retry-After`) they leave to the
//! caller.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::{Error, Method};

/// When and how fast to retry; see the module doc.
#[derive(Debug, Clone)]
pub(crate) struct RetryPolicy {
    /// Tries in all, the first included (1 = never retry).
    pub(crate) max_attempts: u32,
    /// Backoff before the second try; doubled for each further one.
    pub(crate) base: Duration,
    /// Longest backoff.
    pub(crate) max_backoff: Duration,
    /// Longest `Retry-After` that is waited out.
    pub(crate) max_retry_after: Duration,
}

impl RetryPolicy {
    /// How long to wait before trying again after `attempt` (1-based) failed with `error`, or
    /// `None` to give up and return the error.
    pub(crate) fn delay(&self, method: Method, attempt: u32, error: &Error) -> Option<Duration> {
        if !method.is_safe() || attempt >= self.max_attempts {
            return None;
        }
        match error {
            Error::Api {
                status: 429,
                retry_after: Some(secs),
                ..
            } => {
                let wait = Duration::from_secs(*secs);
                (wait <= self.max_retry_after).then_some(wait)
            }
            Error::Api {
                status: 429 | 502 | 503 | 504,
                ..
            }
            | Error::Connection { sent: true, .. } => Some(self.backoff(attempt)),
            _ => None,
        }
    }

    /// `base * 2^(attempt-1)`, capped, with equal jitter: between half and all of it.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max_backoff);
        exp / 2 + exp.mul_f64(jitter() / 2.0)
    }
}

/// A number in `[0, 1)`: a xorshift64* over the clock's nanoseconds and a counter. Good enough
/// to spread retries; not for anything else.
fn jitter() -> f64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64 ^ d.as_secs())
        .unwrap_or(0);
    let mut x = COUNTER.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed) ^ nanos;
    if x == 0 {
        x = 0x2545_F491_4F6C_DD1D;
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
    (r >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            base: Duration::from_millis(100),
            max_backoff: Duration::from_millis(300),
            max_retry_after: Duration::from_secs(10),
        }
    }

    fn api(status: u16, retry_after: Option<u64>) -> Error {
        Error::Api {
            status,
            code: None,
            message: String::new(),
            retry_after,
        }
    }

    #[test]
    fn only_safe_methods_and_transient_failures_are_retried() {
        let p = policy();
        for m in [Method::Post, Method::Put, Method::Patch, Method::Delete] {
            assert_eq!(p.delay(m, 1, &api(503, None)), None, "{m:?}");
            assert_eq!(p.delay(m, 1, &api(429, Some(1))), None, "{m:?}");
        }
        assert!(p.delay(Method::Get, 1, &api(503, None)).is_some());
        assert!(p.delay(Method::Head, 1, &api(502, None)).is_some());
        let reset = Error::Connection {
            detail: String::new(),
            sent: true,
        };
        assert!(p.delay(Method::Get, 1, &reset).is_some());
        let refused = Error::Connection {
            detail: String::new(),
            sent: false,
        };
        assert_eq!(p.delay(Method::Get, 1, &refused), None);
        assert_eq!(p.delay(Method::Get, 1, &Error::Timeout), None);
        for status in [400, 401, 403, 404, 422, 500] {
            assert_eq!(p.delay(Method::Get, 1, &api(status, None)), None);
        }
        assert_eq!(p.delay(Method::Get, 3, &api(503, None)), None, "3 tries");
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        let p = policy();
        assert_eq!(
            p.delay(Method::Get, 1, &api(429, Some(2))),
            Some(Duration::from_secs(2))
        );
        assert_eq!(p.delay(Method::Get, 1, &api(429, Some(11))), None);
    }

    #[test]
    fn backoff_doubles_is_capped_and_jittered() {
        let p = policy();
        for _ in 0..100 {
            let first = p.backoff(1);
            assert!(
                first >= Duration::from_millis(50) && first <= Duration::from_millis(100),
                "{first:?}"
            );
            let second = p.backoff(2);
            assert!(
                second >= Duration::from_millis(100) && second <= Duration::from_millis(200),
                "{second:?}"
            );
            assert!(p.backoff(30) <= Duration::from_millis(300));
        }
        let values: std::collections::HashSet<_> = (0..20).map(|_| p.backoff(2)).collect();
        assert!(values.len() > 1, "jittered");
    }
}
