//! The market data API: deterministic data for any symbol.
//!
//! Values come from [`model`] (prices) laid on the grids of [`series`]; the same
//! request against the same mock (same seed, same "now") gives the same body.

pub(crate) mod corporate_actions;
pub(crate) mod crypto;
pub(crate) mod fixed_income;
pub(crate) mod forex;
pub(crate) mod items;
pub(crate) mod meta;
pub(crate) mod model;
pub(crate) mod news;
pub(crate) mod options;
pub(crate) mod screener;
pub(crate) mod series;
pub(crate) mod stocks;

use serde_json::{Map, Value, json};

use crate::errors::ApiError;
use crate::query::Query;
use crate::state::MockState;
use crate::time::Timestamp;
use series::Page;

/// Most symbols one request may name.
const MAX_SYMBOLS: usize = 1000;

/// Reads a comma-separated symbol list: upper-cased, de-duplicated and sorted.
pub(crate) fn symbol_list(q: &Query, check: fn(&str) -> bool) -> Result<Vec<String>, ApiError> {
    let mut v: Vec<String> = q
        .required_list("symbols")?
        .into_iter()
        .map(|s| s.to_ascii_uppercase())
        .collect();
    if v.len() > MAX_SYMBOLS {
        return Err(q.invalid(format!("too many symbols: at most {MAX_SYMBOLS}")));
    }
    if let Some(bad) = v.iter().find(|s| !check(s)) {
        return Err(q.invalid(format!("invalid symbol: {bad}")));
    }
    v.sort();
    v.dedup();
    Ok(v)
}

/// A stock ticker: 1 to 16 of `A-Z0-9.-`.
pub(crate) fn is_stock_symbol(s: &str) -> bool {
    (1..=16).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
}

/// A crypto pair: `BASE/QUOTE`.
pub(crate) fn is_crypto_symbol(s: &str) -> bool {
    match s.split_once('/') {
        Some((a, b)) => {
            (1..=12).contains(&a.len())
                && (1..=6).contains(&b.len())
                && a.bytes()
                    .chain(b.bytes())
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        }
        None => false,
    }
}

/// An OCC option symbol.
pub(crate) fn is_option_symbol(s: &str) -> bool {
    model::Occ::parse(s).is_some()
}

/// The body of a historical multi-symbol response.
pub(crate) fn multi_body(key: &str, page: Page, currency: Option<&str>) -> Value {
    let mut m = Map::new();
    m.insert(key.into(), Value::Object(page.items));
    m.insert("next_page_token".into(), json!(page.next));
    if let Some(c) = currency {
        m.insert("currency".into(), json!(c));
    }
    Value::Object(m)
}

/// The body of a historical single-symbol response.
pub(crate) fn single_body(
    key: &str,
    symbol: &str,
    mut page: Page,
    currency: Option<&str>,
) -> Value {
    let items = page.items.remove(symbol).unwrap_or_else(|| json!([]));
    let mut m = Map::new();
    m.insert(key.into(), items);
    m.insert("symbol".into(), json!(symbol));
    m.insert("next_page_token".into(), json!(page.next));
    if let Some(c) = currency {
        m.insert("currency".into(), json!(c));
    }
    Value::Object(m)
}

/// A stock data feed a request resolved to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Feed {
    /// Venue codes pinned to IEX.
    pub(crate) iex: bool,
    /// Volume relative to the consolidated tape.
    pub(crate) volume_scale: f64,
    /// How far behind "now" the data stops.
    pub(crate) delay_secs: i64,
}

fn sip_forbidden() -> ApiError {
    ApiError::message_only(403, "subscription does not permit querying recent SIP data")
}

/// Resolves `feed` for a stock request whose data reaches `end`; `latest` picks
/// the set of feeds the latest/snapshot endpoints accept.
pub(crate) fn stock_feed(
    s: &MockState,
    q: &Query,
    end: Timestamp,
    latest: bool,
) -> Result<Feed, ApiError> {
    let allowed: &[&str] = if latest {
        &["delayed_sip", "iex", "otc", "sip", "boats", "overnight"]
    } else {
        &["iex", "otc", "sip", "boats"]
    };
    let entitled = s.sip_entitled();
    let feed = q
        .one_of("feed", allowed)?
        .unwrap_or_else(|| if entitled { "sip".into() } else { "iex".into() });
    let recent = end > s.now().add_secs(-15 * 60);
    if feed == "sip" && !entitled && (latest || recent) {
        return Err(sip_forbidden());
    }
    Ok(match feed.as_str() {
        "iex" => Feed {
            iex: true,
            volume_scale: 0.03,
            delay_secs: 0,
        },
        "delayed_sip" => Feed {
            iex: false,
            volume_scale: 1.0,
            delay_secs: 15 * 60,
        },
        "otc" | "boats" | "overnight" => Feed {
            iex: false,
            volume_scale: 0.05,
            delay_secs: 0,
        },
        _ => Feed {
            iex: false,
            volume_scale: 1.0,
            delay_secs: 0,
        },
    })
}

/// Checks `currency` (three letters) and returns it.
pub(crate) fn currency(q: &Query) -> Result<Option<String>, ApiError> {
    match q.get("currency") {
        None => Ok(None),
        Some(c) if c.len() == 3 && c.bytes().all(|b| b.is_ascii_alphabetic()) => {
            Ok(Some(c.to_ascii_uppercase()))
        }
        Some(c) => Err(q.invalid(format!("invalid currency: {c}"))),
    }
}
