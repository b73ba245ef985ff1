//! `/v1beta1/forex/...`: exchange rates for currency pairs like `USDJPY`.

use axum::extract::{RawQuery, State};
use serde_json::{Map, Value, json};

use super::series::{Grid, Schedule, Timeframe, Window, paginate};
use crate::assets::ok;
use crate::errors::{ApiError, ApiResult};
use crate::hashing::{hash_parts, hash3, signed_unit, unit};
use crate::numbers::round_to;
use crate::query::{Api, Query};
use crate::state::MockState;
use crate::time::Timestamp;

/// US dollars per unit of each currency.
const USD_PER: &[(&str, f64)] = &[
    ("USD", 1.0),
    ("EUR", 1.08),
    ("GBP", 1.27),
    ("JPY", 0.0067),
    ("CAD", 0.74),
    ("MXN", 0.058),
    ("CHF", 1.12),
    ("AUD", 0.66),
    ("NZD", 0.61),
    ("CNY", 0.14),
    ("HKD", 0.128),
    ("SGD", 0.74),
    ("INR", 0.012),
];

fn usd_per(ccy: &str) -> f64 {
    USD_PER
        .iter()
        .find(|(c, _)| *c == ccy)
        .map(|(_, r)| *r)
        .unwrap_or_else(|| 0.01 + unit(hash_parts(&[b"fx", ccy.as_bytes()])) * 2.0)
}

fn pairs(q: &Query) -> Result<Vec<String>, ApiError> {
    let mut v: Vec<String> = q
        .required_list("currency_pairs")?
        .into_iter()
        .map(|p| p.to_ascii_uppercase())
        .collect();
    if let Some(bad) = v
        .iter()
        .find(|p| p.len() != 6 || !p.bytes().all(|b| b.is_ascii_uppercase()))
    {
        return Err(q.invalid(format!("invalid currency pair: {bad}")));
    }
    v.sort();
    v.dedup();
    Ok(v)
}

fn rate(seed: u64, pair: &str, t: Timestamp) -> Value {
    let mid0 = usd_per(&pair[..3]) / usd_per(&pair[3..]);
    let minute = t.unix_secs().div_euclid(60);
    let mid = mid0 * (1.0 + 0.002 * signed_unit(hash3(seed, pair, minute)));
    let places = if mid > 20.0 { 3 } else { 5 };
    let half = mid * 0.00005;
    json!({
        "bp": round_to(mid - half, places),
        "mp": round_to(mid, places),
        "ap": round_to(mid + half, places),
        "t": t.rfc3339(),
    })
}

/// `GET /v1beta1/forex/latest/rates`
pub(crate) async fn latest_rates(State(s): State<MockState>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Data);
    let now = s.now();
    let at = Timestamp::from_unix_secs(now.unix_secs() / 5 * 5);
    let m: Map<String, Value> = pairs(&q)?
        .into_iter()
        .map(|p| {
            let r = rate(s.seed(), &p, at);
            (p, r)
        })
        .collect();
    Ok(ok(json!({ "rates": m })))
}

/// `GET /v1beta1/forex/rates`
pub(crate) async fn rates(State(s): State<MockState>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Data);
    let ps = pairs(&q)?;
    let raw_tf = q.get("timeframe").unwrap_or("1Min");
    let tf = match Timeframe::parse(raw_tf, true) {
        Some(Timeframe::Secs(5)) => Timeframe::Secs(5),
        Some(Timeframe::Secs(60)) => Timeframe::Secs(60),
        Some(Timeframe::Day) => Timeframe::Day,
        _ => return Err(q.invalid(format!("invalid timeframe: {raw_tf}"))),
    };
    let now = s.now();
    let w = Window::parse(&q, now, Schedule::AllDay, 1000, 10_000)?;
    let grid = Grid::Bars(tf);
    let pts = grid.points(Schedule::AllDay, w.start, w.end);
    let seed = s.seed();
    let page = paginate(&ps, &w, |_| pts.clone(), |p, t| rate(seed, p, t));
    Ok(ok(
        json!({ "rates": page.items, "next_page_token": page.next }),
    ))
}
