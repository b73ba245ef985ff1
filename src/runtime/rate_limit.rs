//! A client-side token bucket, so the server slows down before Alpaca answers 429.
//!
//! One bucket lives inside a [`super::Transport`] and is shared by every clone of it, so by
//! every MCP session of a run. The bucket holds up to `burst` tokens and refills at
//! `per_minute / 60` tokens a second; every request (and every retry) takes one. When the
//! bucket is empty the caller *waits* (`tokio::time::sleep`, never blocking a runtime thread)
//! instead of failing. Waiters reserve their token up front (the balance may go negative), so
//! they are served in arrival order and nobody spins on the lock.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A token bucket; see the module doc.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    /// Tokens per second.
    rate: f64,
    /// Most tokens the bucket holds.
    burst: f64,
    state: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    /// Tokens available; negative while callers wait for reserved tokens.
    tokens: f64,
    /// When `tokens` was last brought up to date.
    updated: Instant,
}

impl RateLimiter {
    /// A bucket for `per_minute` requests a minute with bursts of up to `burst` (at least 1);
    /// `None` when `per_minute` is 0 (no limit).
    pub(crate) fn new(per_minute: u32, burst: u32) -> Option<RateLimiter> {
        if per_minute == 0 {
            return None;
        }
        let burst = f64::from(burst.max(1));
        Some(RateLimiter {
            rate: f64::from(per_minute) / 60.0,
            burst,
            state: Mutex::new(Bucket {
                tokens: burst,
                updated: Instant::now(),
            }),
        })
    }

    /// Reserves one token and returns how long to wait before using it.
    fn reserve(&self) -> Duration {
        // A poisoned lock only means another caller panicked mid-update; the numbers are
        // still usable.
        let mut b = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(b.updated).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.rate).min(self.burst);
        b.updated = now;
        b.tokens -= 1.0;
        if b.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-b.tokens / self.rate)
        }
    }

    /// Waits until a request may go out.
    pub(crate) async fn acquire(&self) {
        let wait = self.reserve();
        if !wait.is_zero() {
            tracing::debug!(
                wait_ms = wait.as_millis() as u64,
                "client-side rate limit: waiting"
            );
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_off() {
        assert!(RateLimiter::new(0, 5).is_none());
    }

    #[test]
    fn burst_then_paced() {
        let l = RateLimiter::new(60, 2).unwrap();
        assert_eq!(l.reserve(), Duration::ZERO);
        assert_eq!(l.reserve(), Duration::ZERO);
        let third = l.reserve();
        assert!(
            third > Duration::from_millis(900) && third <= Duration::from_secs(1),
            "{third:?}"
        );
        let fourth = l.reserve();
        assert!(fourth > Duration::from_millis(1900), "{fourth:?}");
    }
}
