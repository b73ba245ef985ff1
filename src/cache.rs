//! A response cache for read-only tools, and answers that survive a brief outage.
//!
//! - Only tools with a `cache_ttl` in the manifest are cached (reference data: assets, option
//!   contracts, condition and exchange codes, calendars, announcements; watchlists briefly).
//!   Account, positions, orders and market data have none, so they always go to Alpaca.
//! - Keyed by the request itself (API, method, path, sorted query): arguments that make the
//!   same request share an entry. Bounded by entry count and bytes; least recently used out.
//!   Shared by every session of a server; in memory only, never on disk. One cache belongs to
//!   one set of credentials (it lives in [`crate::AlpacaTools`], built for one configuration).
//! - A write through the server (POST, PUT, PATCH, DELETE) drops the cached entries of the
//!   same collection (`/v2/watchlists/...` after a watchlist update).
//! - Stale on failure: when Alpaca cannot be reached, times out or answers 5xx, a cached
//!   answer up to `max_stale` old (default 15 minutes) is returned instead, marked stale with
//!   its age and the error. Never for a 4xx, and never for tools without a `cache_ttl`.
//!
//! `ALPACA_CACHE=off` turns it off; `ALPACA_CACHE_MAX_ENTRIES`, `ALPACA_CACHE_MAX_BYTES`,
//! `ALPACA_CACHE_MAX_TTL_SECONDS` (caps every TTL) and `ALPACA_STALE_MAX_SECONDS` tune it.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::runtime::{ApiRequest, ApiResponse, Error, Method};
use crate::settings::{ConfigError, parse_bool};

/// Cache settings.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheConfig {
    /// On or off.
    pub enabled: bool,
    /// Most entries kept.
    pub max_entries: usize,
    /// Most body bytes kept.
    pub max_bytes: usize,
    /// A cap on every entry's time-to-live.
    pub max_ttl: Option<Duration>,
    /// How old an answer may be when served because Alpaca failed.
    pub max_stale: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            enabled: true,
            max_entries: 1000,
            max_bytes: 32 * 1024 * 1024,
            max_ttl: None,
            max_stale: Duration::from_secs(15 * 60),
        }
    }
}

impl CacheConfig {
    /// Reads `ALPACA_CACHE`, `ALPACA_CACHE_MAX_ENTRIES`, `ALPACA_CACHE_MAX_BYTES`,
    /// `ALPACA_CACHE_MAX_TTL_SECONDS` and `ALPACA_STALE_MAX_SECONDS`.
    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<CacheConfig, ConfigError> {
        let non_empty = |name: &str| get(name).filter(|v| crate::settings::is_set(v));
        let number = |name: &str, expected: &'static str| -> Result<Option<u64>, ConfigError> {
            match non_empty(name) {
                None => Ok(None),
                Some(v) => v
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .map(Some)
                    .ok_or(ConfigError::BadNumber {
                        name: name.into(),
                        value: v,
                        expected,
                    }),
            }
        };
        let d = CacheConfig::default();
        Ok(CacheConfig {
            enabled: match non_empty("ALPACA_CACHE") {
                Some(v) if v.trim().eq_ignore_ascii_case("off") => false,
                Some(v) if v.trim().eq_ignore_ascii_case("on") => true,
                Some(v) => parse_bool("ALPACA_CACHE", &v)?,
                None => true,
            },
            max_entries: number("ALPACA_CACHE_MAX_ENTRIES", "a whole number of entries")?
                .map_or(d.max_entries, |n| n as usize),
            max_bytes: number("ALPACA_CACHE_MAX_BYTES", "a whole number of bytes")?
                .map_or(d.max_bytes, |n| n as usize),
            max_ttl: number("ALPACA_CACHE_MAX_TTL_SECONDS", "a whole number of seconds")?
                .map(Duration::from_secs),
            max_stale: number("ALPACA_STALE_MAX_SECONDS", "a whole number of seconds")?
                .map_or(d.max_stale, Duration::from_secs),
        })
    }
}

struct Entry {
    response: ApiResponse,
    stored: Instant,
    ttl: Duration,
    last_used: u64,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    bytes: usize,
    tick: u64,
}

/// A source of the current instant for [`ResponseCache`].
pub type CacheClock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// The cache. Cheap to share behind an `Arc`.
pub struct ResponseCache {
    config: CacheConfig,
    /// The time entries age by (the system's monotonic clock; tests move their own).
    clock: Mutex<CacheClock>,
    inner: Mutex<Inner>,
}

/// What sending a request through the cache gave.
pub enum Sent {
    /// Alpaca's answer, or a fresh cache hit.
    Fresh(ApiResponse),
    /// A cached answer served because Alpaca failed, and the failure.
    Stale(Stale, Error),
}

/// A cache hit served because Alpaca failed.
pub struct Stale {
    /// The cached answer.
    pub response: ApiResponse,
    /// How old it is.
    pub age: Duration,
}

impl std::fmt::Debug for ResponseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseCache")
            .field("config", &self.config)
            .field("entries", &self.len())
            .finish()
    }
}

/// The cache key of a request: API, method, path and the query sorted; for a call made as
/// one of several users ([`crate::runtime::caller`]), their id first, so no answer cached
/// for one user is ever served to another.
pub fn key(request: &ApiRequest) -> String {
    let mut query: Vec<&(&str, String)> = request.query.iter().collect();
    query.sort();
    let q: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let owner = match crate::runtime::caller::current_id() {
        // A unit separator ends the id: no id can make the rest look like another key.
        Some(id) => format!("user {id}\u{1f}"),
        None => String::new(),
    };
    format!(
        "{owner}{} {} {}?{}",
        request.api,
        request.method.as_str(),
        request.path,
        q.join("&")
    )
}

/// The collection a path belongs to: its first two segments (`/v2/watchlists`).
fn collection(path: &str) -> String {
    path.split('/')
        .filter(|s| !s.is_empty())
        .take(2)
        .fold(String::new(), |acc, s| {
            acc + "/" + s.split(':').next().unwrap_or(s)
        })
}

impl ResponseCache {
    /// Replaces the clock entries age by (tests move time on without sleeping).
    pub fn set_clock(&self, clock: CacheClock) {
        *self.clock.lock().unwrap_or_else(|p| p.into_inner()) = clock;
    }

    fn now(&self) -> Instant {
        let clock = self.clock.lock().unwrap_or_else(|p| p.into_inner()).clone();
        clock()
    }

    /// An empty cache.
    pub fn new(config: CacheConfig) -> Self {
        ResponseCache {
            config,
            clock: Mutex::new(Arc::new(Instant::now)),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Whether caching is on.
    pub fn enabled(&self) -> bool {
        self.config.enabled
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// A fresh answer for `key`, if any.
    pub fn fresh(&self, key: &str) -> Option<ApiResponse> {
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        let entry = inner.entries.get_mut(key)?;
        if self.now().saturating_duration_since(entry.stored) >= entry.ttl {
            return None;
        }
        entry.last_used = tick;
        Some(entry.response.clone())
    }

    /// A cached answer no older than the stale bound, whatever its TTL.
    pub fn stale(&self, key: &str) -> Option<Stale> {
        let inner = self.lock();
        let entry = inner.entries.get(key)?;
        let age = self.now().saturating_duration_since(entry.stored);
        (age <= self.config.max_stale).then(|| Stale {
            response: entry.response.clone(),
            age,
        })
    }

    /// Stores an answer for `ttl_secs` (capped by `max_ttl`), evicting least recently used
    /// entries to stay within the bounds.
    pub fn put(&self, key: String, response: &ApiResponse, ttl_secs: u32) {
        if !self.config.enabled || ttl_secs == 0 {
            return;
        }
        let size = response.body.len() + key.len();
        if size > self.config.max_bytes {
            return;
        }
        let mut ttl = Duration::from_secs(u64::from(ttl_secs));
        if let Some(cap) = self.config.max_ttl {
            ttl = ttl.min(cap);
        }
        let mut inner = self.lock();
        inner.tick += 1;
        let tick = inner.tick;
        if let Some(old) = inner.entries.remove(&key) {
            inner.bytes -= old.response.body.len() + key.len();
        }
        while !inner.entries.is_empty()
            && (inner.entries.len() >= self.config.max_entries
                || inner.bytes + size > self.config.max_bytes)
        {
            let oldest = inner
                .entries
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest
                && let Some(e) = inner.entries.remove(&k)
            {
                inner.bytes -= e.response.body.len() + k.len();
            }
        }
        inner.bytes += size;
        inner.entries.insert(
            key,
            Entry {
                response: response.clone(),
                stored: self.now(),
                ttl,
                last_used: tick,
            },
        );
    }

    /// Drops what a write to `request` makes out of date: every entry of the same API and
    /// collection.
    pub fn invalidate_for(&self, request: &ApiRequest) {
        if request.method == Method::Get {
            return;
        }
        let prefix = collection(&request.path);
        let api = request.api;
        let mut inner = self.lock();
        let doomed: Vec<String> = inner
            .entries
            .keys()
            .filter(|k| {
                // Every user's entries of the collection go (more than needed, never less).
                let k = match k.strip_prefix("user ") {
                    Some(rest) => rest.split_once('\u{1f}').map_or(rest, |(_, r)| r),
                    None => k.as_str(),
                };
                let mut parts = k.splitn(3, ' ');
                let (a, _, rest) = (parts.next(), parts.next(), parts.next().unwrap_or(""));
                a == Some(api) && collection(rest.split('?').next().unwrap_or("")) == prefix
            })
            .cloned()
            .collect();
        for k in doomed {
            if let Some(e) = inner.entries.remove(&k) {
                inner.bytes -= e.response.body.len() + k.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: Method, path: &str, query: Vec<(&'static str, String)>) -> ApiRequest {
        ApiRequest {
            api: "trading",
            operation_id: "x",
            method,
            path: path.into(),
            query,
            body: None,
        }
    }

    fn resp(n: usize) -> ApiResponse {
        ApiResponse {
            status: 200,
            body: bytes::Bytes::from(vec![b'x'; n]),
        }
    }

    #[test]
    fn keys_ignore_query_order() {
        let a = req(
            Method::Get,
            "/v2/assets",
            vec![
                ("status", "active".into()),
                ("asset_class", "us_equity".into()),
            ],
        );
        let b = req(
            Method::Get,
            "/v2/assets",
            vec![
                ("asset_class", "us_equity".into()),
                ("status", "active".into()),
            ],
        );
        assert_eq!(key(&a), key(&b));
    }

    #[test]
    fn bounded_by_entries_and_bytes_least_recently_used_out() {
        let c = ResponseCache::new(CacheConfig {
            max_entries: 3,
            max_bytes: 1000,
            ..CacheConfig::default()
        });
        for i in 0..3 {
            c.put(format!("k{i}"), &resp(10), 60);
        }
        assert!(c.fresh("k0").is_some()); // k0 is now the most recent
        c.put("k3".into(), &resp(10), 60);
        assert_eq!(c.len(), 3);
        assert!(c.fresh("k1").is_none(), "least recently used went first");
        assert!(c.fresh("k0").is_some());
        c.put("big".into(), &resp(900), 60);
        assert!(c.bytes() <= 1000, "{}", c.bytes());
        c.put("huge".into(), &resp(5000), 60);
        assert!(
            c.fresh("huge").is_none(),
            "larger than the whole cache: not kept"
        );
    }

    #[test]
    fn writes_invalidate_their_collection() {
        let c = ResponseCache::new(CacheConfig::default());
        let get = req(Method::Get, "/v2/watchlists/abc", vec![]);
        let other = req(Method::Get, "/v2/assets/AAPL", vec![]);
        c.put(key(&get), &resp(5), 60);
        c.put(key(&other), &resp(5), 60);
        c.invalidate_for(&req(Method::Put, "/v2/watchlists/abc", vec![]));
        assert!(c.fresh(&key(&get)).is_none());
        assert!(c.fresh(&key(&other)).is_some());
        c.put(key(&get), &resp(5), 60);
        c.invalidate_for(&req(Method::Delete, "/v2/watchlists:by_name", vec![]));
        assert!(
            c.fresh(&key(&get)).is_none(),
            "by-name writes touch the same lists"
        );
    }

    #[test]
    fn off_means_off() {
        let c = ResponseCache::new(
            CacheConfig::from_lookup(&|k: &str| (k == "ALPACA_CACHE").then(|| "off".to_string()))
                .unwrap(),
        );
        c.put("k".into(), &resp(1), 60);
        assert!(c.is_empty());
    }
}
