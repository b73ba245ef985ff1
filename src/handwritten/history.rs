//! Historical bars, quotes and trades with the range given relative to now.
//!
//! Models get absolute timestamps wrong; these tools take a lookback (`days`, `hours`,
//! `minutes`) and compute `start` = now - lookback in UTC when `start` is absent. Timeframes are
//! accepted as people type them. When the `sip` feed is refused (it needs a paid plan) and the
//! caller did not ask for it, the request is retried once with `iex`. Pages are followed until
//! `limit` items are collected or the server's page cap (`ALPACA_MAX_PAGES`) is reached, and
//! the result says whether more data remains, with the token to continue.

use std::time::Duration;

use rmcp::model::CallToolResult;
use serde_json::{Map, Value, json};

use super::args::Args;
use super::time::{normalize_timeframe, rfc3339};
use super::{Ctx, HandTool};
use crate::envelope;
use crate::pagination;
use crate::runtime::events;
use crate::runtime::{ApiRequest, Error, JsonObject, Risk, ToolError, parse_args};

#[cfg(feature = "crypto-data")]
use crate::market_data::params::{CryptoBars, CryptoQuotes, CryptoTrades};
#[cfg(feature = "stock-data")]
use crate::market_data::params::{StockBars, StockQuotes, StockTrades};

/// One historical endpoint.
struct Endpoint {
    tool: &'static str,
    /// The response's item map: `bars`, `quotes` or `trades`.
    key: &'static str,
    stock: bool,
    /// Default timeframe, for bars.
    timeframe: Option<&'static str>,
    /// Default lookback: days, hours, minutes.
    lookback: (u64, u64, u64),
    /// Builds the request from the generated arguments struct (strict parsing).
    request: fn(JsonObject) -> Result<ApiRequest, ToolError>,
}

fn req<T: serde::de::DeserializeOwned>(
    args: JsonObject,
    to: fn(&T) -> Result<ApiRequest, Error>,
) -> Result<ApiRequest, ToolError> {
    Ok(to(&parse_args::<T>(args)?)?)
}

#[cfg(feature = "stock-data")]
const STOCK_BARS: Endpoint = Endpoint {
    tool: "get_stock_bars",
    key: "bars",
    stock: true,
    timeframe: Some("1Day"),
    lookback: (5, 0, 0),
    request: |a| req::<StockBars>(a, StockBars::to_request),
};
#[cfg(feature = "stock-data")]
const STOCK_QUOTES: Endpoint = Endpoint {
    tool: "get_stock_quotes",
    key: "quotes",
    stock: true,
    timeframe: None,
    lookback: (0, 0, 20),
    request: |a| req::<StockQuotes>(a, StockQuotes::to_request),
};
#[cfg(feature = "stock-data")]
const STOCK_TRADES: Endpoint = Endpoint {
    tool: "get_stock_trades",
    key: "trades",
    stock: true,
    timeframe: None,
    lookback: (0, 0, 20),
    request: |a| req::<StockTrades>(a, StockTrades::to_request),
};
#[cfg(feature = "crypto-data")]
const CRYPTO_BARS: Endpoint = Endpoint {
    tool: "get_crypto_bars",
    key: "bars",
    stock: false,
    timeframe: Some("1Hour"),
    lookback: (1, 0, 0),
    request: |a| req::<CryptoBars>(a, CryptoBars::to_request),
};
#[cfg(feature = "crypto-data")]
const CRYPTO_QUOTES: Endpoint = Endpoint {
    tool: "get_crypto_quotes",
    key: "quotes",
    stock: false,
    timeframe: None,
    lookback: (0, 0, 15),
    request: |a| req::<CryptoQuotes>(a, CryptoQuotes::to_request),
};
#[cfg(feature = "crypto-data")]
const CRYPTO_TRADES: Endpoint = Endpoint {
    tool: "get_crypto_trades",
    key: "trades",
    stock: false,
    timeframe: None,
    lookback: (0, 0, 15),
    request: |a| req::<CryptoTrades>(a, CryptoTrades::to_request),
};

/// The stock tools.
#[cfg(feature = "stock-data")]
pub static STOCK_TOOLS: &[HandTool] = &[
    HandTool {
        name: "get_stock_bars",
        schema: || schema(&STOCK_BARS),
        call: |c, a| Box::pin(run(c, a, &STOCK_BARS)),
    },
    HandTool {
        name: "get_stock_quotes",
        schema: || schema(&STOCK_QUOTES),
        call: |c, a| Box::pin(run(c, a, &STOCK_QUOTES)),
    },
    HandTool {
        name: "get_stock_trades",
        schema: || schema(&STOCK_TRADES),
        call: |c, a| Box::pin(run(c, a, &STOCK_TRADES)),
    },
];

/// The crypto tools.
#[cfg(feature = "crypto-data")]
pub static CRYPTO_TOOLS: &[HandTool] = &[
    HandTool {
        name: "get_crypto_bars",
        schema: || schema(&CRYPTO_BARS),
        call: |c, a| Box::pin(run(c, a, &CRYPTO_BARS)),
    },
    HandTool {
        name: "get_crypto_quotes",
        schema: || schema(&CRYPTO_QUOTES),
        call: |c, a| Box::pin(run(c, a, &CRYPTO_QUOTES)),
    },
    HandTool {
        name: "get_crypto_trades",
        schema: || schema(&CRYPTO_TRADES),
        call: |c, a| Box::pin(run(c, a, &CRYPTO_TRADES)),
    },
];

const STOCK_FEEDS: &[&str] = &["sip", "iex", "boats", "otc"];

fn schema(e: &Endpoint) -> Value {
    let (d, h, m) = e.lookback;
    let mut props = json!({
        "symbols": {"type": "string"},
        // RFC 3339 or YYYY-MM-DD: not a JSON Schema date-time, so no `format`.
        "start": {"type": "string"},
        "end": {"type": "string"},
        "days": {"type": "integer", "minimum": 0, "default": d},
        "hours": {"type": "integer", "minimum": 0, "default": h},
        "minutes": {"type": "integer", "minimum": 0, "default": m},
        "limit": {"type": "integer", "minimum": 1, "maximum": 100000, "default": 1000},
        "sort": {"type": "string", "enum": ["asc", "desc"], "default": "asc"},
        "page_token": {"type": "string"}
    });
    let p = props.as_object_mut().expect("object literal");
    if let Some(tf) = e.timeframe {
        p.insert("timeframe".into(), json!({"type": "string", "default": tf}));
    }
    if e.stock {
        p.insert(
            "feed".into(),
            json!({"type": "string", "enum": STOCK_FEEDS}),
        );
        p.insert("currency".into(), json!({"type": "string"}));
        p.insert("asof".into(), json!({"type": "string", "format": "date"}));
        if e.timeframe.is_some() {
            p.insert("adjustment".into(), json!({"type": "string", "enum": ["raw", "split", "dividend", "spin-off", "all"], "default": "raw"}));
        }
    } else {
        p.insert("loc".into(), json!({"type": "string", "enum": ["us", "us-1", "us-2", "eu-1", "bs-1"], "default": "us"}));
    }
    json!({"properties": props, "required": ["symbols"]})
}

/// The argument names a tool takes: its schema's properties (one list, so the two agree).
fn allowed(e: &Endpoint) -> Vec<String> {
    schema(e)["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

/// What the caller asked for, checked, with the computed range.
struct Plan {
    base: JsonObject,
    limit: u64,
    page_token: Option<String>,
    feed_asked: Option<String>,
    start: String,
    /// The `start` the caller gave, as given (else it is now minus the lookback).
    start_sent: Option<String>,
    /// The `end` the caller gave, as given.
    end_sent: Option<Value>,
    /// Whether the caller gave `timeframe` (else the tool's default).
    timeframe_given: bool,
}

fn plan(ctx: &Ctx<'_>, args: &Args, e: &Endpoint) -> Result<Plan, String> {
    // Unknown arguments never get here: the server rejects them by name for every tool.
    let allowed = allowed(e);
    let symbols = args.required("symbols")?;
    let (d, h, m) = e.lookback;
    let days = args.integer("days", 0, 3650)?.map_or(d, |v| v as u64);
    let hours = args.integer("hours", 0, 87_600)?.map_or(h, |v| v as u64);
    let minutes = args
        .integer("minutes", 0, 5_256_000)?
        .map_or(m, |v| v as u64);
    // A bare date becomes the instant that keeps the whole day in the range, as for every
    // date-time argument (runtime::checks), so `meta` shows what was sent.
    let instant = |name: &str, v: String| {
        crate::runtime::date_time(name, &v, crate::runtime::DayEdge::for_name(name))
            .map_err(|e| e.to_string())
    };
    let start_sent = args.string("start")?;
    let start = match start_sent.clone() {
        Some(s) => instant("start", s)?,
        None => {
            let back = Duration::from_secs(days * 86_400 + hours * 3_600 + minutes * 60);
            rfc3339(
                ctx.clock
                    .now()
                    .checked_sub(back)
                    .unwrap_or(std::time::UNIX_EPOCH),
            )
        }
    };
    let limit = args.integer("limit", 1, 100_000)?.unwrap_or(1000) as u64;
    let mut base = Map::new();
    base.insert("symbols".into(), Value::String(symbols));
    base.insert("start".into(), Value::String(start.clone()));
    let end_sent = args.string("end")?;
    if let Some(end) = end_sent.clone() {
        base.insert("end".into(), Value::String(instant("end", end)?));
    }
    let mut timeframe_given = false;
    if let Some(tf) = e.timeframe {
        let given = args.string("timeframe")?;
        timeframe_given = given.is_some();
        let raw = given.unwrap_or_else(|| tf.to_string());
        base.insert(
            "timeframe".into(),
            Value::String(normalize_timeframe(&raw)?),
        );
    }
    base.insert(
        "sort".into(),
        Value::String(
            args.choice("sort", &["asc", "desc"], Some("asc"))?
                .unwrap_or_default(),
        ),
    );
    let mut feed_asked = None;
    if e.stock {
        feed_asked = args.choice("feed", STOCK_FEEDS, None)?;
        if let Some(f) = &feed_asked {
            base.insert("feed".into(), Value::String(f.clone()));
        }
        for key in ["currency", "asof", "adjustment"] {
            if allowed.iter().any(|a| a == key) {
                let default = (key == "adjustment").then_some("raw");
                if let Some(v) = args.string(key)?.or(default.map(str::to_string)) {
                    base.insert(key.into(), Value::String(v));
                }
            }
        }
    } else {
        let loc = args
            .choice("loc", &["us", "us-1", "us-2", "eu-1", "bs-1"], Some("us"))?
            .unwrap_or_default();
        base.insert("loc".into(), Value::String(loc));
    }
    Ok(Plan {
        base,
        limit,
        page_token: args.string("page_token")?,
        feed_asked,
        start,
        start_sent,
        end_sent: end_sent.map(Value::String),
        timeframe_given,
    })
}

/// Why a range came back without a row, in words a model can pass on: it starts after now, it
/// holds no weekday (for US stocks), a daily bar left out by a start after midnight New York
/// time, or otherwise the causes Alpaca does not tell apart (a holiday, no trades, the feed).
fn why_empty(
    e: &Endpoint,
    start: &str,
    end: Option<&str>,
    timeframe: Option<&Value>,
    feed: &str,
    now: i64,
) -> String {
    use crate::runtime::checks::unix_secs;
    let what = e.key;
    let (Some(from), to) = (unix_secs(start), end.and_then(unix_secs)) else {
        return format!("Alpaca returned no {what} for this range.");
    };
    let until = to.unwrap_or(now).min(now);
    let at = |t: i64| rfc3339(std::time::UNIX_EPOCH + Duration::from_secs(t.max(0) as u64));
    if from > now {
        return format!(
            "No {what}: the range starts at {start}, after now ({}), and there is no data from the future.",
            at(now)
        );
    }
    if until < from {
        return format!("No {what}: the range ends before it starts.");
    }
    if !e.stock {
        return format!(
            "Alpaca returned no {what} for these symbols from {start} to {}: check the pair (e.g. BTC/USD) and the range.",
            at(until)
        );
    }
    // The UTC days the range touches, and the weekdays among them whose regular session
    // (09:30-16:00 New York: 13:30-21:00 UTC across summer and winter) it overlaps.
    let weekday = |day: i64| (day + 4).rem_euclid(7); // 0 = Sunday (1970-01-01 was a Thursday)
    let weekend = |day: i64| matches!(weekday(day), 0 | 6);
    let days: Vec<i64> = (from.div_euclid(86_400)..=until.div_euclid(86_400))
        .take(8)
        .collect();
    let in_session = |d: i64| {
        let (open, close) = (d * 86_400 + 13 * 3600 + 1800, d * 86_400 + 21 * 3600);
        !weekend(d) && from <= close && until >= open
    };
    if days.len() < 8 && !days.iter().any(|&d| in_session(d)) {
        let why = if days.iter().any(|&d| weekend(d)) {
            "falls on a weekend, when US markets are closed; widen the range (days=5 reaches back over it)"
        } else {
            "is outside the regular session (09:30-16:00 New York time), when a thin feed such as IEX may have nothing; ask for the session's hours"
        };
        return format!("No {what}: {start} to {} {why}.", at(until));
    }
    let daily = timeframe
        .and_then(Value::as_str)
        .is_some_and(|t| t.ends_with("Day") || t.ends_with("Week") || t.ends_with("Month"));
    // A daily bar's stamp: midnight New York time of a weekday, 04:00 or 05:00 UTC.
    let stamped = |d: i64| {
        [4, 5]
            .iter()
            .any(|h| (from..=until).contains(&(d * 86_400 + h * 3600)))
    };
    if daily
        && !days
            .iter()
            .any(|&d| !matches!(weekday(d), 0 | 6) && stamped(d))
    {
        return format!(
            "No {what}: a daily bar is stamped at midnight New York time, so a range from {start} to {} leaves out that day's bar; start at the date (e.g. start={}) or ask for hours.",
            at(until),
            &start[..10.min(start.len())]
        );
    }
    format!(
        "Alpaca returned no {what} for these symbols from {start} to {}: the market may have been closed (a holiday), the symbols may not have traded, or the {feed} feed may not carry them (feed=sip covers every US exchange, feed=iex only IEX).",
        at(until)
    )
}

async fn run(ctx: Ctx<'_>, args: JsonObject, e: &'static Endpoint) -> CallToolResult {
    let plan = match plan(&ctx, &Args(args), e) {
        Ok(p) => p,
        Err(msg) => {
            return envelope::error_text(format!(
                "{} was not called: {msg}. Nothing was sent to Alpaca.",
                e.tool
            ));
        }
    };
    let mut base = plan.base.clone();
    let mut feed_note = None;
    let mut merged: Map<String, Value> = Map::new();
    let mut collected = 0u64;
    let mut pages = 0u64;
    let mut token = plan.page_token.clone();
    let mut size = 0usize;
    loop {
        let mut page = base.clone();
        page.insert("limit".into(), json!((plan.limit - collected).min(10_000)));
        if let Some(t) = &token {
            page.insert("page_token".into(), Value::String(t.clone()));
        }
        let request = match (e.request)(page) {
            Ok(r) => r,
            Err(err) => {
                return envelope::error_text(format!(
                    "{} was not called: {err}. Nothing was sent to Alpaca.",
                    e.tool
                ));
            }
        };
        let response = match ctx.client.transport().send(request).await {
            Ok(r) => r,
            Err(Error::Api { status: 403, .. })
                if e.stock
                    && pages == 0
                    && plan.feed_asked.is_none()
                    && !base.contains_key("feed") =>
            {
                // The default feed needs a plan this account lacks: once more with IEX.
                base.insert("feed".into(), Value::String("iex".into()));
                feed_note = Some("Alpaca refused the default (SIP) feed for this account, so the data comes from the IEX feed.".to_string());
                continue;
            }
            Err(err) => return envelope::api_error(e.tool, &err, false),
        };
        pages += 1;
        let body = match response.json() {
            Ok(Value::Object(m)) => m,
            Ok(other) => return envelope::envelope(other, Risk::ApiData, ctx.mode),
            Err(err) => return envelope::api_error(e.tool, &err, false),
        };
        let mut body = body;
        token = body
            .remove("next_page_token")
            .and_then(|t| t.as_str().map(str::to_string));
        let body = Value::Object(body);
        size += ctx.output.measure(&body, &[]);
        let Value::Object(body) = body else {
            unreachable!("made an object above")
        };
        collected += pagination::merge(&mut merged, body);
        events::progress(
            collected,
            Some(plan.limit),
            format!("{pages} page(s) read, {collected} rows"),
        );
        if token.is_none()
            || collected >= plan.limit
            || pages >= ctx.max_pages
            || size >= ctx.output.max_chars
            // The caller gave up: no more pages are fetched for nobody.
            || events::cancelled()
        {
            break;
        }
    }
    let feed = base
        .get("feed")
        .and_then(Value::as_str)
        .unwrap_or(if e.stock { "default" } else { "n/a" })
        .to_string();
    let mut data = merged;
    data.entry(e.key).or_insert_with(|| json!({}));
    let more = token.is_some();
    // Counts, range and timeframe are in meta; the summary says only what needs saying.
    let mut said = Vec::new();
    if size >= ctx.output.max_chars && more {
        said.push(pagination::BUDGET_FILLED.to_string());
    }
    if more {
        said.push(pagination::CONTINUE.to_string());
    }
    if let Some(note) = feed_note {
        said.push(note);
    }
    if collected == 0 && !more {
        let now = ctx
            .clock
            .now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let end = base.get("end").and_then(Value::as_str);
        said.push(why_empty(
            e,
            &plan.start,
            end,
            base.get("timeframe"),
            &feed,
            now,
        ));
    }
    let summary = (!said.is_empty()).then(|| said.join(" "));
    // What the caller did not send (a start from the lookback, a default timeframe, the feed
    // fallen back to), the counts, and the token that continues: each once.
    let mut meta = Map::new();
    if plan.start_sent.as_deref() != Some(plan.start.as_str()) {
        meta.insert("start".into(), json!(plan.start));
    }
    if let Some(end) = base.get("end")
        && plan.end_sent.as_ref() != Some(end)
    {
        meta.insert("end".into(), end.clone());
    }
    if !plan.timeframe_given
        && let Some(tf) = base.get("timeframe")
    {
        meta.insert("timeframe".into(), tf.clone());
    }
    if plan.feed_asked.is_none()
        && let Some(f) = base.get("feed")
    {
        meta.insert("feed".into(), f.clone());
    }
    meta.insert("pages".into(), json!(pages));
    meta.insert("items".into(), json!(collected));
    meta.insert("more_available".into(), json!(more));
    if let Some(t) = &token {
        meta.insert("next_page_token".into(), json!(t));
    }
    let meta = Value::Object(meta);
    envelope::envelope_with(
        Value::Object(data),
        Risk::ApiData,
        ctx.mode,
        summary,
        Some(meta),
    )
}
