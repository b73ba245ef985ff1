//! `/v1beta1/fixed_income/...`: prices and quotes for bonds named by ISIN.

use axum::extract::{RawQuery, State};
use serde_json::{Map, Value, json};

use crate::assets::ok;
use crate::errors::{ApiError, ApiResult};
use crate::hashing::{hash_parts, hash3, unit};
use crate::numbers::round_to;
use crate::query::{Api, Query};
use crate::state::MockState;

fn isins(q: &Query) -> Result<Vec<String>, ApiError> {
    let mut v: Vec<String> = q
        .required_list("isins")?
        .into_iter()
        .map(|i| i.to_ascii_uppercase())
        .collect();
    let valid = |i: &str| {
        let b = i.as_bytes();
        b.len() == 12
            && b[..2].iter().all(u8::is_ascii_uppercase)
            && b[2..11].iter().all(|c| c.is_ascii_alphanumeric())
            && b[11].is_ascii_digit()
    };
    if let Some(bad) = v.iter().find(|i| !valid(i)) {
        return Err(q.invalid(format!("invalid isin: {bad}")));
    }
    if v.len() > 1000 {
        return Err(q.invalid("too many isins"));
    }
    v.sort();
    v.dedup();
    Ok(v)
}

/// (clean price per 100 face, yield in percent) for a bond at minute `m`.
fn level(seed: u64, isin: &str, minute: i64) -> (f64, f64) {
    let base = 85.0 + unit(hash_parts(&[b"bond", isin.as_bytes()])) * 25.0;
    let p = base * (1.0 + 0.001 * (unit(hash3(seed, isin, minute / 15)) - 0.5));
    let y = (4.0 + (100.0 - p) * 0.08).max(0.1);
    (round_to(p, 4), round_to(y, 4))
}

/// `GET /v1beta1/fixed_income/latest/prices`
pub(crate) async fn latest_prices(State(s): State<MockState>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Data);
    let now = s.now();
    let minute = now.unix_secs() / 60;
    let m: Map<String, Value> = isins(&q)?
        .into_iter()
        .map(|i| {
            let (p, y) = level(s.seed(), &i, minute);
            let v = json!({ "t": crate::time::Timestamp::from_unix_secs(minute * 60).rfc3339(), "p": p, "ytm": y, "ytw": y });
            (i, v)
        })
        .collect();
    Ok(ok(json!({ "prices": m })))
}

/// `GET /v1beta1/fixed_income/latest/quotes`
pub(crate) async fn latest_quotes(State(s): State<MockState>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Data);
    let size = q.int("trade_size", 1, i64::from(i32::MAX))?.unwrap_or(100);
    let now = s.now();
    let minute = now.unix_secs() / 60;
    let m: Map<String, Value> = isins(&q)?
        .into_iter()
        .map(|i| {
            let (p, y) = level(s.seed(), &i, minute);
            let v = json!({
                "t": crate::time::Timestamp::from_unix_secs(minute * 60).rfc3339(),
                "bp": round_to(p - 0.05, 4), "bs": size * 10, "bms": size,
                "bytm": round_to(y + 0.01, 4), "bytw": round_to(y + 0.01, 4),
                "ap": round_to(p + 0.05, 4), "as": size * 10, "ams": size,
                "aytm": round_to(y - 0.01, 4), "aytw": round_to(y - 0.01, 4),
            });
            (i, v)
        })
        .collect();
    Ok(ok(json!({ "quotes": m })))
}
