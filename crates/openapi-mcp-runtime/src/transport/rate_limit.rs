//! Client-side pacing, so the server slows down before the API answers 429.
//!
//! A [`super::Transport`] holds one limiter per API (two APIs of one provider
//! commonly have separate budgets), shared by every clone of the transport, so by every MCP session of a run.
//! Each is a token bucket: it holds up to `burst` tokens and refills so that no 60-second
//! window sees more than the limit; every request (and every retry) takes one. When the bucket
//! is empty the caller *waits* (`tokio::time::sleep`, never blocking a runtime thread).
//!
//! - **Writes first.** Callers wait in one queue, writes (POST, PUT, PATCH, DELETE: placing,
//!   replacing and cancelling orders) ahead of every read, so an order never waits behind
//!   queued reads; reads also leave a tenth of the bucket for writes that come along.
//!   Reads are served in arrival order.
//! - **The API's own headers.** When an answer carries `X-RateLimit-Limit`, `-Remaining` and
//!   `-Reset`, the bucket follows them: it never holds more tokens than the API says remain,
//!   waits for the reset when none remain, and takes the API's limit as its own (a paid data
//!   plan's 10,000 a minute, say) unless the operator set a limit, which the API can then only
//!   lower.
//! - A caller that gives up while waiting (its call was cancelled) leaves the queue.
//!
//! Why by hand: the rate-limit crates (`governor`'s GCRA, tower's `RateLimit`) decide whether
//! one caller may go now; none keeps a queue with two priority classes, none takes the
//! server's `X-RateLimit-*` answers as the bucket's truth at run time, and tower's applies to
//! a whole service rather than to one API of several. Those two rules are what keep an order
//! from waiting behind reads, and they are most of this file.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;
// tokio's clock, so that tests can pause it; the same as std's otherwise.
use tokio::time::Instant;

/// Pacing of one API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests a minute; 0 turns pacing off.
    pub per_minute: u32,
    /// Requests that may go out back to back; 0 means a quarter of the limit (at most half).
    pub burst: u32,
    /// Set by the operator: the API's `X-RateLimit-Limit` may lower it but never raise it.
    pub fixed: bool,
}

impl RateLimit {
    /// The bucket size and refill (requests a minute) for a limit: `burst + refill == limit`.
    fn shape(per_minute: u32, burst: u32) -> (u32, u32) {
        let cap = (per_minute / 2).max(1);
        let burst = match burst {
            0 => (per_minute / 4).max(1),
            b => b,
        }
        .min(cap);
        (burst, per_minute.saturating_sub(burst).max(1))
    }
}

/// A token bucket with a queue; see the module doc.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    state: Mutex<Bucket>,
    /// Woken when the queue changes other than at its head (a caller left, the API's headers
    /// changed the pace), so waiters recompute when their turn comes.
    changed: Notify,
    ids: AtomicU64,
    fixed: bool,
    /// The burst the operator asked for (0: a quarter of the limit).
    burst_setting: u32,
}

#[derive(Debug)]
struct Bucket {
    /// The limit in force, in requests a minute.
    per_minute: u32,
    /// Tokens a second.
    rate: f64,
    /// Most tokens the bucket holds.
    burst: f64,
    tokens: f64,
    updated: Instant,
    /// No request goes out before this (the API said none remain until its reset).
    blocked_until: Option<Instant>,
    /// Waiting callers: writes first, then reads, each in arrival order.
    queue: VecDeque<(u64, bool)>,
}

impl Bucket {
    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.updated = now;
    }

    fn set_limit(&mut self, per_minute: u32, burst_setting: u32) {
        let (burst, refill) = RateLimit::shape(per_minute, burst_setting);
        self.per_minute = per_minute;
        self.rate = f64::from(refill) / 60.0;
        self.burst = f64::from(burst);
        self.tokens = self.tokens.min(self.burst);
    }

    /// Tokens a read must leave behind for writes: a tenth of the bucket (5 of a bucket of 50),
    /// at least one when the bucket holds four or more.
    fn reserve(&self) -> f64 {
        if self.burst >= 4.0 {
            (self.burst / 10.0).floor().max(1.0)
        } else {
            0.0
        }
    }
}

/// Removes a waiter from the queue if its call is dropped while it waits.
struct Waiting<'a> {
    limiter: &'a RateLimiter,
    id: u64,
    done: bool,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut b = self.limiter.lock();
        b.queue.retain(|(id, _)| *id != self.id);
        drop(b);
        self.limiter.changed.notify_waiters();
    }
}

impl RateLimiter {
    /// A limiter for `limit`; `None` when its `per_minute` is 0 (no pacing).
    pub(crate) fn new(limit: RateLimit) -> Option<RateLimiter> {
        if limit.per_minute == 0 {
            return None;
        }
        let (burst, refill) = RateLimit::shape(limit.per_minute, limit.burst);
        Some(RateLimiter {
            state: Mutex::new(Bucket {
                per_minute: limit.per_minute,
                rate: f64::from(refill) / 60.0,
                burst: f64::from(burst),
                tokens: f64::from(burst),
                updated: Instant::now(),
                blocked_until: None,
                queue: VecDeque::new(),
            }),
            changed: Notify::new(),
            ids: AtomicU64::new(0),
            fixed: limit.fixed,
            burst_setting: limit.burst,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Bucket> {
        // A poisoned lock only means another caller panicked mid-update; the numbers are
        // still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Tries to take a token for the caller `id` (already queued); otherwise how long to wait.
    fn try_take(&self, id: u64, write: bool) -> Result<(), Duration> {
        let mut b = self.lock();
        let now = Instant::now();
        b.refill(now);
        if let Some(until) = b.blocked_until {
            if until > now {
                return Err(until - now);
            }
            b.blocked_until = None;
        }
        let position = b.queue.iter().position(|(i, _)| *i == id).unwrap_or(0);
        let reserve = if write { 0.0 } else { b.reserve() };
        if position == 0 && b.tokens >= 1.0 + reserve {
            b.tokens -= 1.0;
            b.queue.pop_front();
            return Ok(());
        }
        // Wait until the tokens for everyone ahead, and this caller's, have come in.
        let needed = position as f64 + 1.0 + reserve - b.tokens;
        Err(Duration::from_secs_f64((needed / b.rate).max(0.001)))
    }

    /// Waits until a request may go out; `write` for a request that changes something.
    pub(crate) async fn acquire(&self, write: bool) {
        let id = self.ids.fetch_add(1, Ordering::Relaxed);
        {
            let mut b = self.lock();
            // Writes go ahead of every read, behind earlier writes.
            let at = if write {
                b.queue.iter().take_while(|(_, w)| *w).count()
            } else {
                b.queue.len()
            };
            b.queue.insert(at, (id, write));
        }
        let mut waiting = Waiting {
            limiter: self,
            id,
            done: false,
        };
        let mut logged = false;
        loop {
            let changed = self.changed.notified();
            match self.try_take(id, write) {
                Ok(()) => {
                    waiting.done = true;
                    return;
                }
                Err(wait) => {
                    if !logged {
                        tracing::debug!(
                            wait_ms = wait.as_millis() as u64,
                            write,
                            "client-side rate limit: waiting"
                        );
                        crate::events::emit(
                            crate::events::Level::Info,
                            format!(
                                "waiting about {:.1} s for the API's rate limit before sending",
                                wait.as_secs_f64()
                            ),
                        );
                        logged = true;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = changed => {}
                    }
                }
            }
        }
    }

    /// Follows the API's `X-RateLimit-*` headers of an answer (see the module doc): `limit`
    /// a minute, `remaining` in the current window, `reset` as Unix seconds.
    pub(crate) fn observe(&self, limit: Option<u32>, remaining: Option<u32>, reset: Option<u64>) {
        let mut b = self.lock();
        let now = Instant::now();
        b.refill(now);
        if let Some(limit) = limit.filter(|l| *l > 0) {
            let want = if self.fixed {
                limit.min(b.per_minute)
            } else {
                limit
            };
            if want != b.per_minute {
                b.set_limit(want, self.burst_setting);
            }
        }
        if let Some(remaining) = remaining {
            b.tokens = b.tokens.min(f64::from(remaining));
            if remaining == 0
                && let Some(reset) = reset
            {
                let unix_now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs_f64())
                    .unwrap_or(0.0);
                // Never more than a minute: a window is a minute long.
                let wait = (reset as f64 - unix_now).clamp(0.0, 60.0);
                b.blocked_until = Some(now + Duration::from_secs_f64(wait));
            }
        }
        drop(b);
        self.changed.notify_waiters();
    }

    /// The limit in force, in requests a minute.
    pub(crate) fn per_minute(&self) -> u32 {
        self.lock().per_minute
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(per_minute: u32, burst: u32) -> RateLimit {
        RateLimit {
            per_minute,
            burst,
            fixed: false,
        }
    }

    #[test]
    fn zero_is_off() {
        assert!(RateLimiter::new(limit(0, 5)).is_none());
    }

    #[test]
    fn every_minute_stays_under_the_limit() {
        // burst + refill per minute == the limit
        assert_eq!(RateLimit::shape(200, 0), (50, 150));
        assert_eq!(RateLimit::shape(200, 10), (10, 190));
        assert_eq!(RateLimit::shape(200, 500), (100, 100));
        assert_eq!(RateLimit::shape(1, 0), (1, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn burst_then_paced_in_arrival_order() {
        let l = std::sync::Arc::new(RateLimiter::new(limit(62, 2)).unwrap());
        let start = tokio::time::Instant::now();
        l.acquire(false).await;
        l.acquire(false).await;
        assert!(
            start.elapsed() < Duration::from_millis(5),
            "the burst goes at once"
        );
        l.acquire(false).await;
        let third = start.elapsed();
        assert!(
            third > Duration::from_millis(900) && third < Duration::from_millis(1100),
            "{third:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_goes_ahead_of_queued_reads() {
        let l = std::sync::Arc::new(RateLimiter::new(limit(61, 1)).unwrap());
        l.acquire(false).await; // the bucket is empty now
        let order = std::sync::Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..5 {
            let (l, order) = (l.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                l.acquire(false).await;
                order.lock().unwrap().push(format!("read{i}"));
            }));
            tokio::task::yield_now().await;
        }
        let (l2, order2) = (l.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            l2.acquire(true).await;
            order2.lock().unwrap().push("write".to_string());
        }));
        for t in tasks {
            t.await.unwrap();
        }
        let order = order.lock().unwrap().clone();
        assert_eq!(order[0], "write", "{order:?}");
        assert_eq!(&order[1..], ["read0", "read1", "read2", "read3", "read4"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_waiter_leaves_the_queue() {
        let l = std::sync::Arc::new(RateLimiter::new(limit(61, 1)).unwrap());
        l.acquire(false).await;
        let l2 = l.clone();
        let stuck = tokio::spawn(async move { l2.acquire(false).await });
        tokio::task::yield_now().await;
        stuck.abort();
        let _ = stuck.await;
        assert!(l.lock().queue.is_empty());
        let start = tokio::time::Instant::now();
        l.acquire(false).await;
        assert!(start.elapsed() <= Duration::from_millis(1100));
    }

    #[tokio::test(start_paused = true)]
    async fn the_apis_headers_set_the_pace() {
        let l = RateLimiter::new(limit(200, 0)).unwrap();
        l.observe(Some(10_000), Some(9_999), None);
        assert_eq!(l.per_minute(), 10_000, "a paid plan's limit is taken up");
        let fixed = RateLimiter::new(RateLimit {
            fixed: true,
            ..limit(200, 0)
        })
        .unwrap();
        fixed.observe(Some(10_000), None, None);
        assert_eq!(
            fixed.per_minute(),
            200,
            "the operator's limit is never raised"
        );
        fixed.observe(Some(100), None, None);
        assert_eq!(fixed.per_minute(), 100, "but may be lowered");
        // None remain until the reset, two seconds away.
        let reset = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 2;
        l.observe(None, Some(0), Some(reset));
        let start = tokio::time::Instant::now();
        l.acquire(true).await;
        assert!(
            start.elapsed() >= Duration::from_millis(900),
            "{:?}",
            start.elapsed()
        );
    }
}
