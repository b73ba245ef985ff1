//! Where the safety state lives that must hold for every process serving one deployment:
//! calls held for `confirm_order`, the confirmation states already answered, and each
//! caller's orders of the last minute. One process keeps them in memory ([`MemoryLedger`],
//! the default); replicas behind one address share a database (the server's PostgreSQL
//! ledger), so a call held by one is confirmed at another exactly once, and a caller's order
//! limit counts the orders every replica sent.
//!
//! Every operation that must not race is one call, made atomic by the implementation. Times
//! are Unix milliseconds, given by the caller. A ledger that cannot answer makes the call
//! fail closed: nothing is sent to Alpaca.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

/// A boxed future of a ledger operation; the error says what failed (never a secret).
pub type LedgerFut<'a, T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send + 'a>>;

/// Taking a held call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// No call is held under that id (never held, or taken already).
    Missing,
    /// It is another owner's (it stays held).
    NotYours,
    /// It expired (and is gone now).
    Expired,
    /// The held call (gone from the ledger now): what [`Ledger::hold`] was given.
    Held(String),
}

/// Taking order slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slots {
    /// Taken: the orders may go.
    Taken,
    /// The window is full; the slot needed frees up in this many seconds.
    Full {
        /// Seconds until enough slots free up.
        wait_secs: u64,
    },
}

/// The safety state shared by every process of a deployment.
pub trait Ledger: Send + Sync + std::fmt::Debug {
    /// Holds `body` (a held call, as JSON) under `id` for `owner` until `expires_at`.
    fn hold<'a>(
        &'a self,
        id: &'a str,
        owner: &'a str,
        body: &'a str,
        expires_at: i64,
    ) -> LedgerFut<'a, ()>;

    /// Takes the call held under `id`, if it is `owner`'s and has not expired at `now`: one
    /// taker only, whichever process asks.
    fn take<'a>(&'a self, id: &'a str, owner: &'a str, now: i64) -> LedgerFut<'a, Taken>;

    /// Marks the confirmation state `nonce` answered until `until` (when it would expire
    /// anyway); `false` when it already was.
    fn spend<'a>(&'a self, nonce: &'a str, now: i64, until: i64) -> LedgerFut<'a, bool>;

    /// Takes `n` of `caller`'s order slots (all or none) in the minute before `now`, at most
    /// `max` in that minute.
    fn take_slots<'a>(
        &'a self,
        caller: &'a str,
        n: u32,
        max: u32,
        now: i64,
    ) -> LedgerFut<'a, Slots>;
}

/// One minute, in milliseconds: the order window.
pub const WINDOW_MS: i64 = 60_000;

/// The seconds until `needed` slots free up, given the sorted send times `sent` in the
/// window before `now` (shared by the implementations).
pub fn wait_secs(sent: &[i64], needed: usize, now: i64) -> u64 {
    let oldest = sent.get(needed.saturating_sub(1)).copied().unwrap_or(now);
    let left = (oldest + WINDOW_MS - now).max(0);
    (left as u64).div_ceil(1000).clamp(1, 60)
}

/// The ledger of a single process.
#[derive(Default)]
pub struct MemoryLedger {
    held: Mutex<HashMap<String, (String, String, i64)>>,
    spent: Mutex<HashMap<String, i64>>,
    sent: Mutex<HashMap<String, VecDeque<i64>>>,
}

impl std::fmt::Debug for MemoryLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryLedger")
            .field("held", &lock(&self.held).len())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn ready<'a, T: Send + 'a>(v: T) -> LedgerFut<'a, T> {
    Box::pin(std::future::ready(Ok(v)))
}

impl Ledger for MemoryLedger {
    fn hold<'a>(
        &'a self,
        id: &'a str,
        owner: &'a str,
        body: &'a str,
        expires_at: i64,
    ) -> LedgerFut<'a, ()> {
        let mut held = lock(&self.held);
        let now = crate::ledger::now_ms();
        held.retain(|_, (_, _, until)| *until > now);
        held.insert(
            id.to_string(),
            (owner.to_string(), body.to_string(), expires_at),
        );
        ready(())
    }

    fn take<'a>(&'a self, id: &'a str, owner: &'a str, now: i64) -> LedgerFut<'a, Taken> {
        let mut held = lock(&self.held);
        let taken = match held.get(id) {
            None => Taken::Missing,
            Some((o, _, _)) if o != owner => Taken::NotYours,
            Some((_, _, until)) if *until <= now => {
                held.remove(id);
                Taken::Expired
            }
            Some(_) => Taken::Held(held.remove(id).map(|(_, b, _)| b).unwrap_or_default()),
        };
        ready(taken)
    }

    fn spend<'a>(&'a self, nonce: &'a str, now: i64, until: i64) -> LedgerFut<'a, bool> {
        let mut spent = lock(&self.spent);
        spent.retain(|_, u| *u > now);
        if spent.contains_key(nonce) {
            return ready(false);
        }
        spent.insert(nonce.to_string(), until);
        ready(true)
    }

    fn take_slots<'a>(
        &'a self,
        caller: &'a str,
        n: u32,
        max: u32,
        now: i64,
    ) -> LedgerFut<'a, Slots> {
        let mut all = lock(&self.sent);
        let sent = all.entry(caller.to_string()).or_default();
        while sent.front().is_some_and(|t| now - *t >= WINDOW_MS) {
            sent.pop_front();
        }
        if sent.len() + n as usize > max as usize {
            let needed = sent.len() + n as usize - max as usize;
            let times: Vec<i64> = sent.iter().copied().collect();
            return ready(Slots::Full {
                wait_secs: wait_secs(&times, needed, now),
            });
        }
        for _ in 0..n {
            sent.push_back(now);
        }
        ready(Slots::Taken)
    }
}

/// The wall clock in Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// What every ledger must do: run against [`MemoryLedger`] here and against the server's
/// PostgreSQL ledger there.
pub mod suite {
    use super::{Ledger, Slots, Taken};

    /// Holding and taking: one taker, the owner only, not after expiry.
    pub async fn held_calls(l: &dyn Ledger) {
        let now = 1_000_000_000;
        l.hold("c1", "alice", "{\"x\":1}", now + 60_000)
            .await
            .unwrap();
        assert_eq!(l.take("c1", "bob", now).await.unwrap(), Taken::NotYours);
        assert_eq!(
            l.take("c1", "alice", now).await.unwrap(),
            Taken::Held("{\"x\":1}".into())
        );
        assert_eq!(l.take("c1", "alice", now).await.unwrap(), Taken::Missing);
        l.hold("c2", "alice", "{}", now + 10).await.unwrap();
        assert_eq!(
            l.take("c2", "alice", now + 10).await.unwrap(),
            Taken::Expired
        );
        assert_eq!(l.take("c2", "alice", now).await.unwrap(), Taken::Missing);
    }

    /// Spending: once per nonce until it expires.
    pub async fn spent_states(l: &dyn Ledger) {
        let now = 1_000_000_000;
        assert!(l.spend("n1", now, now + 1000).await.unwrap());
        assert!(!l.spend("n1", now + 1, now + 1000).await.unwrap());
        assert!(l.spend("n2", now, now + 1000).await.unwrap());
    }

    /// The order window: per caller, all or none, freeing up after a minute.
    pub async fn order_slots(l: &dyn Ledger) {
        let now = 1_000_000_000;
        assert_eq!(
            l.take_slots("alice", 2, 3, now).await.unwrap(),
            Slots::Taken
        );
        assert_eq!(
            l.take_slots("alice", 2, 3, now + 1000).await.unwrap(),
            Slots::Full { wait_secs: 59 }
        );
        assert_eq!(
            l.take_slots("bob", 3, 3, now + 1000).await.unwrap(),
            Slots::Taken,
            "each caller has a window of their own"
        );
        assert_eq!(
            l.take_slots("alice", 1, 3, now + 2000).await.unwrap(),
            Slots::Taken
        );
        assert_eq!(
            l.take_slots("alice", 1, 3, now + 59_000).await.unwrap(),
            Slots::Full { wait_secs: 1 }
        );
        assert_eq!(
            l.take_slots("alice", 2, 3, now + 60_000).await.unwrap(),
            Slots::Taken,
            "the first two freed up"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_memory_ledger_does_what_every_ledger_does() {
        suite::held_calls(&MemoryLedger::default()).await;
        suite::spent_states(&MemoryLedger::default()).await;
        suite::order_slots(&MemoryLedger::default()).await;
    }
}
