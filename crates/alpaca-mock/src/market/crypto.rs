//! `/v1beta3/crypto/{loc}/...`: bars, quotes, trades, latest values, order books
//! and snapshots. Crypto trades around the clock.

use axum::extract::{Path, RawQuery, State};
use serde_json::{Map, Value, json};

use super::items::{self, Class};
use super::series::{Grid, Schedule, Timeframe, Window, paginate};
use super::{is_crypto_symbol, multi_body, symbol_list};
use crate::assets::ok;
use crate::errors::{ApiError, ApiResult};
use crate::hashing::{hash3, unit};
use crate::numbers::round_to;
use crate::query::{Api, Query};
use crate::state::MockState;

const SCHED: Schedule = Schedule::AllDay;

fn check_loc(loc: &str) -> Result<(), ApiError> {
    if ["us", "us-1", "us-2", "eu-1", "bs-1"].contains(&loc) {
        Ok(())
    } else {
        Err(ApiError::not_found(format!(
            "unknown crypto location: {loc}"
        )))
    }
}

enum Kind {
    Bars,
    Quotes,
    Trades,
}

fn historical(s: &MockState, loc: &str, raw: Option<String>, kind: Kind) -> ApiResult {
    check_loc(loc)?;
    let q = Query::parse(raw.as_deref(), Api::Data);
    let syms = symbol_list(&q, is_crypto_symbol)?;
    let grid = match kind {
        Kind::Bars => {
            let raw_tf = q.required("timeframe")?;
            Grid::Bars(
                Timeframe::parse(raw_tf, false)
                    .ok_or_else(|| q.invalid(format!("invalid timeframe: {raw_tf}")))?,
            )
        }
        Kind::Quotes => Grid::Ticks(Class::Crypto.quote_step()),
        Kind::Trades => Grid::Ticks(Class::Crypto.trade_step()),
    };
    let now = s.now();
    let w = Window::parse(&q, now, SCHED, 1000, 10_000)?;
    let seed = s.seed();
    let pts = grid.points(SCHED, w.start, w.end);
    let page = paginate(
        &syms,
        &w,
        |_| pts.clone(),
        |sym, t| match kind {
            Kind::Bars => items::bar(seed, sym, t, grid.span(t, SCHED), now, 1.0),
            Kind::Quotes => items::quote(seed, sym, t, now, false),
            Kind::Trades => items::trade(seed, sym, t, now, false),
        },
    );
    let key = match kind {
        Kind::Bars => "bars",
        Kind::Quotes => "quotes",
        Kind::Trades => "trades",
    };
    Ok(ok(multi_body(key, page, None)))
}

/// `GET /v1beta3/crypto/{loc}/bars`
pub(crate) async fn bars(
    State(s): State<MockState>,
    Path(loc): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    historical(&s, &loc, q, Kind::Bars)
}

/// `GET /v1beta3/crypto/{loc}/quotes`
pub(crate) async fn quotes(
    State(s): State<MockState>,
    Path(loc): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    historical(&s, &loc, q, Kind::Quotes)
}

/// `GET /v1beta3/crypto/{loc}/trades`
pub(crate) async fn trades(
    State(s): State<MockState>,
    Path(loc): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    historical(&s, &loc, q, Kind::Trades)
}

fn latest_map(
    s: &MockState,
    loc: &str,
    raw: Option<String>,
    make: impl Fn(u64, &str) -> Value,
) -> Result<Map<String, Value>, ApiError> {
    check_loc(loc)?;
    let q = Query::parse(raw.as_deref(), Api::Data);
    let syms = symbol_list(&q, is_crypto_symbol)?;
    Ok(syms
        .iter()
        .map(|sym| (sym.clone(), make(s.seed(), sym)))
        .collect())
}

/// `GET /v1beta3/crypto/{loc}/latest/bars`
pub(crate) async fn latest_bars(
    State(s): State<MockState>,
    Path(loc): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let now = s.now();
    let m = latest_map(&s, &loc, q, |seed, sym| {
        items::bar(seed, sym, items::latest_minute(sym, now), 60, now, 1.0)
    })?;
    Ok(ok(json!({ "bars": m })))
}

/// `GET /v1beta3/crypto/{loc}/latest/quotes`
pub(crate) async fn latest_quotes(
    State(s): State<MockState>,
    Path(loc): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let now = s.now();
    let m = latest_map(&s, &loc, q, |seed, sym| {
        items::quote(seed, sym, items::latest_quote_slot(sym, now), now, false)
    })?;
    Ok(ok(json!({ "quotes": m })))
}

/// `GET /v1beta3/crypto/{loc}/latest/trades`
pub(crate) async fn latest_trades(
    State(s): State<MockState>,
    Path(loc): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let now = s.now();
    let m = latest_map(&s, &loc, q, |seed, sym| {
        items::trade(seed, sym, items::latest_trade_slot(sym, now), now, false)
    })?;
    Ok(ok(json!({ "trades": m })))
}

/// Depth on each side of a generated order book.
const BOOK_DEPTH: usize = 20;

/// `GET /v1beta3/crypto/{loc}/latest/orderbooks`
pub(crate) async fn latest_orderbooks(
    State(s): State<MockState>,
    Path(loc): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let now = s.now();
    let m = latest_map(&s, &loc, q, |seed, sym| {
        let slot = items::latest_quote_slot(sym, now);
        let quote = items::quote(seed, sym, slot, now, false);
        let bid = quote["bp"].as_f64().unwrap_or(1.0);
        let ask = quote["ap"].as_f64().unwrap_or(1.0);
        let places = super::model::price_places(sym);
        let tick = (bid * 0.0001).max(10f64.powi(-places));
        let side = |start: f64, dir: f64, salt: i64| -> Vec<Value> {
            (0..BOOK_DEPTH)
                .map(|i| {
                    let r = hash3(seed ^ salt as u64, sym, slot.unix_secs() + i as i64);
                    json!({
                        "p": round_to(start + dir * tick * i as f64, places),
                        "s": round_to(unit(r) * 20_000.0 / bid.max(1e-9), 6),
                    })
                })
                .collect()
        };
        json!({
            "t": items::tick_time(seed, sym, slot, 20, 41).min(now).rfc3339_nanos(),
            "b": side(bid, -1.0, 42),
            "a": side(ask, 1.0, 43),
        })
    })?;
    Ok(ok(json!({ "orderbooks": m })))
}

/// `GET /v1beta3/crypto/{loc}/snapshots`
pub(crate) async fn snapshots(
    State(s): State<MockState>,
    Path(loc): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let now = s.now();
    let m = latest_map(&s, &loc, q, |seed, sym| {
        Value::Object(super::stocks::snapshot(seed, sym, now, false, 1.0))
    })?;
    Ok(ok(json!({ "snapshots": m })))
}
