//! `/v2/stocks/...`: bars, quotes, trades, auctions, latest values and snapshots.

use axum::extract::{Path, RawQuery, State};
use serde_json::{Map, Value, json};

use super::items::{self, Class};
use super::series::{Grid, Schedule, Timeframe, Window, paginate};
use super::{Feed, currency, is_stock_symbol, multi_body, single_body, stock_feed, symbol_list};
use crate::assets::ok;
use crate::errors::ApiResult;
use crate::query::{Api, Query};
use crate::state::MockState;
use crate::time::Timestamp;

const SCHED: Schedule = Schedule::Stocks;

fn symbols(q: &Query, single: Option<String>) -> Result<Vec<String>, crate::errors::ApiError> {
    match single {
        Some(s) => {
            let s = s.to_ascii_uppercase();
            if is_stock_symbol(&s) {
                Ok(vec![s])
            } else {
                Err(q.invalid(format!("invalid symbol: {s}")))
            }
        }
        None => symbol_list(q, is_stock_symbol),
    }
}

enum Kind {
    Bars,
    Quotes,
    Trades,
    Auctions,
}

fn historical(s: &MockState, raw: Option<String>, single: Option<String>, kind: Kind) -> ApiResult {
    let q = Query::parse(raw.as_deref(), Api::Data);
    let syms = symbols(&q, single.clone())?;
    let tf = match kind {
        Kind::Bars => {
            let raw_tf = q.required("timeframe")?;
            Some(
                Timeframe::parse(raw_tf, false)
                    .ok_or_else(|| q.invalid(format!("invalid timeframe: {raw_tf}")))?,
            )
        }
        _ => None,
    };
    if let Some(adj) = q.get("adjustment") {
        let ok = adj
            .split(',')
            .all(|a| ["raw", "split", "dividend", "spin-off", "all"].contains(&a.trim()));
        if !ok {
            return Err(q.invalid(format!("invalid adjustment: {adj}")));
        }
    }
    if let Some(asof) = q.get("asof")
        && crate::time::Date::parse(asof).is_none()
        && asof != "-"
    {
        return Err(q.invalid(format!("invalid asof: {asof}")));
    }
    let cur = currency(&q)?;
    let now = s.now();
    let w = Window::parse(&q, now, SCHED, 1000, 10_000)?;
    let feed: Feed = match kind {
        Kind::Auctions => {
            if q.get("feed").is_some_and(|f| f != "sip") {
                return Err(q.invalid("only sip is valid for auctions"));
            }
            stock_feed(s, &q, w.end, false)?
        }
        _ => stock_feed(s, &q, w.end, false)?,
    };
    let seed = s.seed();
    let end = w.end.min(now.add_secs(-feed.delay_secs));
    let (key, grid) = match kind {
        Kind::Bars => ("bars", Grid::Bars(tf.unwrap_or(Timeframe::Day))),
        Kind::Quotes => ("quotes", Grid::Ticks(Class::Stock.quote_step())),
        Kind::Trades => ("trades", Grid::Ticks(Class::Stock.trade_step())),
        Kind::Auctions => ("auctions", Grid::Bars(Timeframe::Day)),
    };
    let pts = grid.points(SCHED, w.start, end);
    let page = paginate(
        &syms,
        &w,
        |_| pts.clone(),
        |sym, t| match kind {
            Kind::Bars => items::bar(seed, sym, t, grid.span(t, SCHED), now, feed.volume_scale),
            Kind::Quotes => items::quote(seed, sym, t, now, feed.iex),
            Kind::Trades => items::trade(seed, sym, t, now, feed.iex),
            Kind::Auctions => auction_day(seed, sym, t, now),
        },
    );
    Ok(ok(match single {
        Some(_) => single_body(key, &syms[0], page, cur.as_deref()),
        None => multi_body(key, page, cur.as_deref()),
    }))
}

/// The opening and closing auctions of the day starting at `day` (New York
/// midnight); the closing one only once it has happened.
fn auction_day(seed: u64, symbol: &str, day: Timestamp, now: Timestamp) -> Value {
    let d = day.date_eastern();
    let venue = match crate::assets::find(symbol).map(|a| a.exchange) {
        Some("NYSE") => "N",
        Some("ARCA") => "P",
        _ => "Q",
    };
    let mk = |secs: i64, cond: &str, salt: i64| {
        let t = items::tick_time(seed, symbol, d.at_eastern(secs), 1, salt);
        let p = items::px(seed, symbol, t);
        let size =
            1000 + crate::hashing::hash3(seed ^ salt as u64, symbol, day.unix_secs()) % 500_000;
        json!({ "t": t.rfc3339_nanos(), "x": venue, "p": p, "s": size, "c": cond })
    };
    let open_at = d.at_eastern(9 * 3600 + 1800);
    let close_at = d.at_eastern(16 * 3600);
    let opens: Vec<Value> = if now >= open_at {
        vec![mk(9 * 3600 + 1800, "O", 31)]
    } else {
        vec![]
    };
    let closes: Vec<Value> = if now >= close_at {
        vec![mk(16 * 3600, "6", 32)]
    } else {
        vec![]
    };
    json!({ "d": d.to_string(), "o": opens, "c": closes })
}

/// `GET /v2/stocks/bars`
pub(crate) async fn bars(State(s): State<MockState>, RawQuery(q): RawQuery) -> ApiResult {
    historical(&s, q, None, Kind::Bars)
}

/// `GET /v2/stocks/{symbol}/bars`
pub(crate) async fn bars_single(
    State(s): State<MockState>,
    Path(sym): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    historical(&s, q, Some(sym), Kind::Bars)
}

/// `GET /v2/stocks/quotes`
pub(crate) async fn quotes(State(s): State<MockState>, RawQuery(q): RawQuery) -> ApiResult {
    historical(&s, q, None, Kind::Quotes)
}

/// `GET /v2/stocks/{symbol}/quotes`
pub(crate) async fn quotes_single(
    State(s): State<MockState>,
    Path(sym): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    historical(&s, q, Some(sym), Kind::Quotes)
}

/// `GET /v2/stocks/trades`
pub(crate) async fn trades(State(s): State<MockState>, RawQuery(q): RawQuery) -> ApiResult {
    historical(&s, q, None, Kind::Trades)
}

/// `GET /v2/stocks/{symbol}/trades`
pub(crate) async fn trades_single(
    State(s): State<MockState>,
    Path(sym): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    historical(&s, q, Some(sym), Kind::Trades)
}

/// `GET /v2/stocks/auctions`
pub(crate) async fn auctions(State(s): State<MockState>, RawQuery(q): RawQuery) -> ApiResult {
    historical(&s, q, None, Kind::Auctions)
}

/// `GET /v2/stocks/{symbol}/auctions`
pub(crate) async fn auctions_single(
    State(s): State<MockState>,
    Path(sym): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    historical(&s, q, Some(sym), Kind::Auctions)
}

#[derive(Clone, Copy)]
enum Latest {
    Bar,
    Quote,
    Trade,
}

fn latest_value(seed: u64, sym: &str, at: Timestamp, feed: Feed, kind: Latest) -> Value {
    match kind {
        Latest::Bar => items::bar(
            seed,
            sym,
            items::latest_minute(sym, at),
            60,
            at,
            feed.volume_scale,
        ),
        Latest::Quote => items::quote(seed, sym, items::latest_quote_slot(sym, at), at, feed.iex),
        Latest::Trade => items::trade(seed, sym, items::latest_trade_slot(sym, at), at, feed.iex),
    }
}

fn latest(s: &MockState, raw: Option<String>, single: Option<String>, kind: Latest) -> ApiResult {
    let q = Query::parse(raw.as_deref(), Api::Data);
    let syms = symbols(&q, single.clone())?;
    let cur = currency(&q)?;
    let now = s.now();
    let feed = stock_feed(s, &q, now, true)?;
    let at = now.add_secs(-feed.delay_secs);
    let (many, one) = match kind {
        Latest::Bar => ("bars", "bar"),
        Latest::Quote => ("quotes", "quote"),
        Latest::Trade => ("trades", "trade"),
    };
    let mut body = Map::new();
    match single {
        Some(_) => {
            body.insert("symbol".into(), json!(syms[0]));
            body.insert(one.into(), latest_value(s.seed(), &syms[0], at, feed, kind));
        }
        None => {
            let m: Map<String, Value> = syms
                .iter()
                .map(|sym| (sym.clone(), latest_value(s.seed(), sym, at, feed, kind)))
                .collect();
            body.insert(many.into(), Value::Object(m));
        }
    }
    if let Some(c) = cur {
        body.insert("currency".into(), json!(c));
    }
    Ok(ok(Value::Object(body)))
}

/// `GET /v2/stocks/bars/latest`
pub(crate) async fn latest_bars(State(s): State<MockState>, RawQuery(q): RawQuery) -> ApiResult {
    latest(&s, q, None, Latest::Bar)
}

/// `GET /v2/stocks/{symbol}/bars/latest`
pub(crate) async fn latest_bar(
    State(s): State<MockState>,
    Path(sym): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    latest(&s, q, Some(sym), Latest::Bar)
}

/// `GET /v2/stocks/quotes/latest`
pub(crate) async fn latest_quotes(State(s): State<MockState>, RawQuery(q): RawQuery) -> ApiResult {
    latest(&s, q, None, Latest::Quote)
}

/// `GET /v2/stocks/{symbol}/quotes/latest`
pub(crate) async fn latest_quote(
    State(s): State<MockState>,
    Path(sym): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    latest(&s, q, Some(sym), Latest::Quote)
}

/// `GET /v2/stocks/trades/latest`
pub(crate) async fn latest_trades(State(s): State<MockState>, RawQuery(q): RawQuery) -> ApiResult {
    latest(&s, q, None, Latest::Trade)
}

/// `GET /v2/stocks/{symbol}/trades/latest`
pub(crate) async fn latest_trade(
    State(s): State<MockState>,
    Path(sym): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    latest(&s, q, Some(sym), Latest::Trade)
}

/// A snapshot: latest trade and quote, current minute and daily bars, and the
/// previous daily bar. Used for stocks, crypto and options alike.
pub(crate) fn snapshot(
    seed: u64,
    sym: &str,
    at: Timestamp,
    iex: bool,
    volume_scale: f64,
) -> Map<String, Value> {
    let class = Class::of(sym);
    let sched = class.schedule();
    let (today, prev) = items::daily_bars(sym, at);
    let day_span = Grid::Bars(Timeframe::Day).span(today, sched);
    let mut m = Map::new();
    m.insert(
        "latestTrade".into(),
        items::trade(seed, sym, items::latest_trade_slot(sym, at), at, iex),
    );
    m.insert(
        "latestQuote".into(),
        items::quote(seed, sym, items::latest_quote_slot(sym, at), at, iex),
    );
    m.insert(
        "minuteBar".into(),
        items::bar(
            seed,
            sym,
            items::latest_minute(sym, at),
            60,
            at,
            volume_scale,
        ),
    );
    m.insert(
        "dailyBar".into(),
        items::bar(seed, sym, today, day_span, at, volume_scale),
    );
    m.insert(
        "prevDailyBar".into(),
        items::bar(seed, sym, prev, day_span, at, volume_scale),
    );
    m
}

/// `GET /v2/stocks/snapshots`
pub(crate) async fn snapshots(State(s): State<MockState>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Data);
    let syms = symbols(&q, None)?;
    currency(&q)?;
    let now = s.now();
    let feed = stock_feed(&s, &q, now, true)?;
    let at = now.add_secs(-feed.delay_secs);
    let m: Map<String, Value> = syms
        .iter()
        .map(|sym| {
            (
                sym.clone(),
                Value::Object(snapshot(s.seed(), sym, at, feed.iex, feed.volume_scale)),
            )
        })
        .collect();
    Ok(ok(Value::Object(m)))
}

/// `GET /v2/stocks/{symbol}/snapshot`
pub(crate) async fn snapshot_single(
    State(s): State<MockState>,
    Path(sym): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Data);
    let syms = symbols(&q, Some(sym))?;
    let cur = currency(&q)?;
    let now = s.now();
    let feed = stock_feed(&s, &q, now, true)?;
    let at = now.add_secs(-feed.delay_secs);
    let mut m = snapshot(s.seed(), &syms[0], at, feed.iex, feed.volume_scale);
    m.insert("symbol".into(), json!(syms[0]));
    if let Some(c) = cur {
        m.insert("currency".into(), json!(c));
    }
    Ok(ok(Value::Object(m)))
}
