//! `/v1beta1/options/...`: bars, trades, latest values, snapshots and chains.

use axum::extract::{Path, RawQuery, State};
use serde_json::{Map, Value, json};

use super::items::{self, Class};
use super::model::{self, Occ};
use super::series::{Grid, Schedule, Timeframe, Window, encode_token, paginate};
use super::{is_option_symbol, multi_body, symbol_list};
use crate::assets::ok;
use crate::errors::{ApiError, ApiResult};
use crate::query::{Api, Query};
use crate::state::MockState;
use crate::time::Timestamp;

const SCHED: Schedule = Schedule::Stocks;

fn feed(q: &Query) -> Result<(), ApiError> {
    q.one_of("feed", &["opra", "indicative"]).map(|_| ())
}

fn option_symbols(q: &Query) -> Result<Vec<String>, ApiError> {
    let syms = symbol_list(q, is_option_symbol)?;
    if syms.len() > 100 {
        return Err(q.invalid("at most 100 symbols"));
    }
    Ok(syms)
}

/// `GET /v1beta1/options/bars`
pub(crate) async fn bars(State(s): State<MockState>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Data);
    let syms = option_symbols(&q)?;
    let raw_tf = q.required("timeframe")?;
    let tf = Timeframe::parse(raw_tf, false)
        .ok_or_else(|| q.invalid(format!("invalid timeframe: {raw_tf}")))?;
    let now = s.now();
    let w = Window::parse(&q, now, SCHED, 1000, 10_000)?;
    let grid = Grid::Bars(tf);
    let seed = s.seed();
    let page = paginate(
        &syms,
        &w,
        |sym| {
            let exp = Occ::parse(sym).map(|o| o.expires_at()).unwrap_or(w.end);
            grid.points(SCHED, w.start, w.end.min(exp))
        },
        |sym, t| items::bar(seed, sym, t, grid.span(t, SCHED), now, 1.0),
    );
    Ok(ok(multi_body("bars", page, None)))
}

/// `GET /v1beta1/options/trades`
pub(crate) async fn trades(State(s): State<MockState>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Data);
    let syms = option_symbols(&q)?;
    let now = s.now();
    let w = Window::parse(&q, now, SCHED, 1000, 10_000)?;
    let grid = Grid::Ticks(Class::Option.trade_step());
    let seed = s.seed();
    let page = paginate(
        &syms,
        &w,
        |sym| {
            let exp = Occ::parse(sym).map(|o| o.expires_at()).unwrap_or(w.end);
            grid.points(SCHED, w.start, w.end.min(exp))
        },
        |sym, t| items::trade(seed, sym, t, now, false),
    );
    Ok(ok(multi_body("trades", page, None)))
}

/// "Now" for an option: its expiry once that has passed.
fn as_of(sym: &str, now: Timestamp) -> Timestamp {
    Occ::parse(sym)
        .map(|o| o.expires_at().add_secs(-1).min(now))
        .unwrap_or(now)
}

/// `GET /v1beta1/options/quotes/latest`
pub(crate) async fn latest_quotes(State(s): State<MockState>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Data);
    feed(&q)?;
    let syms = option_symbols(&q)?;
    let now = s.now();
    let m: Map<String, Value> = syms
        .iter()
        .map(|sym| {
            let at = as_of(sym, now);
            (
                sym.clone(),
                items::quote(s.seed(), sym, items::latest_quote_slot(sym, at), at, false),
            )
        })
        .collect();
    Ok(ok(json!({ "quotes": m })))
}

/// `GET /v1beta1/options/trades/latest`
pub(crate) async fn latest_trades(State(s): State<MockState>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Data);
    feed(&q)?;
    let syms = option_symbols(&q)?;
    let now = s.now();
    let m: Map<String, Value> = syms
        .iter()
        .map(|sym| {
            let at = as_of(sym, now);
            (
                sym.clone(),
                items::trade(s.seed(), sym, items::latest_trade_slot(sym, at), at, false),
            )
        })
        .collect();
    Ok(ok(json!({ "trades": m })))
}

fn option_snapshot(seed: u64, sym: &str, now: Timestamp) -> Value {
    let at = as_of(sym, now);
    let mut m = super::stocks::snapshot(seed, sym, at, false, 1.0);
    if let Some(occ) = Occ::parse(sym) {
        let v = model::option_value(seed, &occ, at);
        m.insert(
            "greeks".into(),
            json!({ "delta": v.delta, "gamma": v.gamma, "theta": v.theta, "vega": v.vega, "rho": v.rho }),
        );
        m.insert("impliedVolatility".into(), json!(v.iv));
    }
    Value::Object(m)
}

fn snapshot_page(s: &MockState, q: &Query, syms: &[String]) -> ApiResult {
    let limit = q.int("limit", 1, 1000)?.unwrap_or(100) as usize;
    let offset = match q.get("page_token") {
        None => 0,
        Some(t) => syms
            .iter()
            .position(|sym| encode_token(0, 0) + sym == t)
            .ok_or_else(|| q.invalid("invalid page_token"))?,
    };
    q.time("updated_since")?;
    let now = s.now();
    let m: Map<String, Value> = syms
        .iter()
        .skip(offset)
        .take(limit)
        .map(|sym| (sym.clone(), option_snapshot(s.seed(), sym, now)))
        .collect();
    // The token names the first symbol of the next page.
    let next = syms.get(offset + limit).map(|sym| encode_token(0, 0) + sym);
    Ok(ok(json!({ "snapshots": m, "next_page_token": next })))
}

/// `GET /v1beta1/options/snapshots`
pub(crate) async fn snapshots(State(s): State<MockState>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Data);
    feed(&q)?;
    let syms = option_symbols(&q)?;
    snapshot_page(&s, &q, &syms)
}

/// `GET /v1beta1/options/snapshots/{underlying_symbol}`
pub(crate) async fn chain(
    State(s): State<MockState>,
    Path(underlying): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Data);
    feed(&q)?;
    let underlying = underlying.to_ascii_uppercase();
    if !super::is_stock_symbol(&underlying) {
        return Err(q.invalid(format!("invalid underlying symbol: {underlying}")));
    }
    let kind = q.one_of("type", &["call", "put"])?;
    let k_gte = q.number("strike_price_gte")?;
    let k_lte = q.number("strike_price_lte")?;
    let exp = q.date("expiration_date")?;
    let exp_gte = q.date("expiration_date_gte")?;
    let exp_lte = q.date("expiration_date_lte")?;
    let root = q.get("root_symbol").map(str::to_ascii_uppercase);
    let syms: Vec<String> = crate::option_contracts::chain(s.seed(), &underlying, s.now())
        .into_iter()
        .filter(|o| kind.as_deref().is_none_or(|k| (k == "call") == o.call))
        .filter(|o| k_gte.is_none_or(|k| o.strike >= k))
        .filter(|o| k_lte.is_none_or(|k| o.strike <= k))
        .filter(|o| exp.is_none_or(|d| o.expiration == d))
        .filter(|o| exp_gte.is_none_or(|d| o.expiration >= d))
        .filter(|o| exp_lte.is_none_or(|d| o.expiration <= d))
        .filter(|o| root.as_deref().is_none_or(|r| r == o.root))
        .map(|o| o.symbol())
        .collect();
    snapshot_page(&s, &q, &syms)
}
