//! Completions (`completion/complete`) for the arguments that name a symbol: the
//! `pre_trade_checklist` prompt's `symbol` and the `alpaca://positions/{symbol}` template.
//!
//! - The prompt's symbol: the account's own symbols first (positions, then open orders, then
//!   watchlists), then active assets in alphabetical order. The position template: positions
//!   only, since a resource exists only for a held position.
//! - Matching is a case-insensitive prefix of the symbol; at most [`MAX_VALUES`] (the
//!   protocol's limit) come back, with `total` and `hasMore`.
//! - Nothing is fetched per keystroke: the account's symbols are read once and kept for
//!   [`ACCOUNT_TTL`], the asset list for [`ASSETS_TTL`]. Concurrent requests wait for the one
//!   read in flight instead of starting their own. A source whose tool is not enabled, or whose
//!   read fails, adds nothing (a failed read is retried after [`RETRY_AFTER`]).
//! - The account's symbols are the caller's own: a call made as one of several users
//!   ([`crate::runtime::caller`]) completes from that user's account, kept apart from
//!   everyone else's; the asset list is shared.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use tokio::sync::Mutex;

use crate::engine::AlpacaTools;

/// The most values one completion returns (the protocol's limit).
pub const MAX_VALUES: usize = 100;
/// How long the account's symbols (positions, open orders, watchlists) are reused.
pub const ACCOUNT_TTL: Duration = Duration::from_secs(30);
/// How long the list of active assets is reused.
pub const ASSETS_TTL: Duration = Duration::from_secs(3600);
/// How soon a source whose read failed is tried again.
pub const RETRY_AFTER: Duration = Duration::from_secs(5);
/// The most watchlists read one by one for their symbols.
const MAX_WATCHLISTS: usize = 20;

/// What an argument completes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Positions, open orders, watchlists, then active assets.
    Symbols,
    /// Held positions only.
    Positions,
}

/// The values for one completion request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Completion {
    /// At most [`MAX_VALUES`] values, best first.
    pub values: Vec<String>,
    /// How many values matched in all.
    pub total: usize,
}

impl Completion {
    /// Whether more matched than were returned.
    pub fn has_more(&self) -> bool {
        self.total > self.values.len()
    }
}

/// The account's symbols, in the order they are offered.
#[derive(Debug, Default)]
struct Account {
    positions: Vec<String>,
    /// Open orders' and watchlists' symbols not already among the positions.
    others: Vec<String>,
}

struct Kept<T> {
    at: Instant,
    ttl: Duration,
    value: Arc<T>,
}

impl<T> Kept<T> {
    fn fresh(&self) -> Option<Arc<T>> {
        (self.at.elapsed() < self.ttl).then(|| self.value.clone())
    }
}

/// One caller's kept account symbols.
type AccountSlot = Arc<Mutex<Option<Kept<Account>>>>;

/// The symbols completions are drawn from, read lazily and kept for a while.
#[derive(Default)]
pub struct Completer {
    /// Each caller's own account symbols (`None`: the server's one account); the asset list
    /// is the same for everyone and shared.
    accounts: std::sync::Mutex<HashMap<Option<String>, AccountSlot>>,
    assets: Mutex<Option<Kept<Vec<String>>>>,
}

impl Completer {
    /// The values for `prefix` from `source`, reading through `tools` what is not kept.
    pub async fn complete(&self, tools: &AlpacaTools, source: Source, prefix: &str) -> Completion {
        let account = self.account(tools).await;
        let mut candidates: Vec<&str> = account.positions.iter().map(String::as_str).collect();
        let assets;
        if source == Source::Symbols {
            candidates.extend(account.others.iter().map(String::as_str));
            assets = self.assets(tools).await;
            candidates.extend(assets.iter().map(String::as_str));
        }
        let mut seen = std::collections::HashSet::new();
        let mut values = Vec::new();
        let mut total = 0;
        for s in candidates {
            if !starts_with_ignoring_case(s, prefix) || !seen.insert(s) {
                continue;
            }
            total += 1;
            if values.len() < MAX_VALUES {
                values.push(s.to_string());
            }
        }
        Completion { values, total }
    }

    async fn account(&self, tools: &AlpacaTools) -> Arc<Account> {
        let caller = crate::runtime::caller::current_id();
        let slot = self
            .accounts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(caller)
            .or_default()
            .clone();
        kept_or_read(&slot, ACCOUNT_TTL, read_account(tools)).await
    }

    async fn assets(&self, tools: &AlpacaTools) -> Arc<Vec<String>> {
        kept_or_read(&self.assets, ASSETS_TTL, async {
            let read = read_json(tools, "get_all_assets", json!({"status": "active"})).await;
            let ok = read.is_some();
            let mut symbols: Vec<String> = read
                .as_ref()
                .and_then(Value::as_array)
                .map(|a| symbols_of(a.iter()))
                .unwrap_or_default();
            symbols.sort();
            symbols.dedup();
            (symbols, ok)
        })
        .await
    }
}

/// What `slot` keeps while fresh; otherwise what `read` gives (the value and whether every
/// source was read), kept for `ttl`, or for [`RETRY_AFTER`] when a read failed. The lock is
/// held across the read, so concurrent requests wait for it instead of reading again.
async fn kept_or_read<T>(
    slot: &Mutex<Option<Kept<T>>>,
    ttl: Duration,
    read: impl Future<Output = (T, bool)>,
) -> Arc<T> {
    let mut kept = slot.lock().await;
    if let Some(v) = kept.as_ref().and_then(Kept::fresh) {
        return v;
    }
    let (value, complete) = read.await;
    let value = Arc::new(value);
    *kept = Some(Kept {
        at: Instant::now(),
        ttl: if complete { ttl } else { RETRY_AFTER },
        value: value.clone(),
    });
    value
}

fn starts_with_ignoring_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// The `symbol` of each record, in order.
fn symbols_of<'a>(records: impl Iterator<Item = &'a Value>) -> Vec<String> {
    records
        .filter_map(|r| r.get("symbol").and_then(Value::as_str))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Positions, open orders and watchlists; whether every enabled source was read.
async fn read_account(tools: &AlpacaTools) -> (Account, bool) {
    let mut complete = true;
    let mut read = async |tool: &str, args: Value| -> Option<Value> {
        // A source whose tool is not enabled adds nothing and is not a failure.
        tools.tool(tool)?;
        let got = read_json(tools, tool, args).await;
        complete &= got.is_some();
        got
    };
    let positions = read("get_all_positions", json!({}))
        .await
        .and_then(|v| v.as_array().map(|a| symbols_of(a.iter())))
        .unwrap_or_default();
    let mut others = Vec::new();
    if let Some(orders) = read("get_orders", json!({"status": "open", "limit": 500})).await
        && let Some(orders) = orders.as_array()
    {
        others.extend(symbols_of(orders.iter()));
    }
    if let Some(lists) = read("get_watchlists", json!({})).await
        && let Some(lists) = lists.as_array()
    {
        for list in lists.iter().take(MAX_WATCHLISTS) {
            // The list answer may carry each watchlist's assets; otherwise read it by id.
            let assets = match list.get("assets").and_then(Value::as_array) {
                Some(a) => Some(a.clone()),
                None => match list.get("id").and_then(Value::as_str) {
                    Some(id) => read("get_watchlist_by_id", json!({"watchlist_id": id}))
                        .await
                        .and_then(|w| w.get("assets").and_then(Value::as_array).cloned()),
                    None => None,
                },
            };
            others.extend(symbols_of(assets.unwrap_or_default().iter()));
        }
    }
    (Account { positions, others }, complete)
}

/// The API's JSON answer of an enabled read tool called with the object `args`, or `None`.
async fn read_json(tools: &AlpacaTools, tool: &str, args: Value) -> Option<Value> {
    tools.read_json(tool, args.as_object()?.clone()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_in_any_case_and_never_split_a_character() {
        assert!(starts_with_ignoring_case("AAPL", "aa"));
        assert!(starts_with_ignoring_case("BTC/USD", "btc/"));
        assert!(starts_with_ignoring_case("MSFT", ""));
        assert!(!starts_with_ignoring_case("MSFT", "MSFTX"));
        assert!(!starts_with_ignoring_case("É", "\u{0045}"));
    }
}
