//! Short-sale locates (`/v1/locates`). Hard-to-borrow assets can be located;
//! easy-to-borrow ones answer `easy_to_borrow`, unknown ones `symbol_not_found`.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use crate::assets::{self, ok};
use crate::errors::{ApiError, ApiResult, json_object};
use crate::numbers::{dec, money};
use crate::query::{Api, Query};
use crate::state::MockState;
use crate::time::Timestamp;

fn locate_error(status: u16, code: &str, message: impl Into<String>) -> ApiError {
    ApiError {
        status,
        body: json!({ "code": code, "message": message.into() }),
    }
}

/// Fee per share to borrow `symbol`, in dollars.
fn borrow_fee(symbol: &str) -> f64 {
    0.01 + (crate::hashing::hash_parts(&[b"fee", symbol.as_bytes()]) % 20) as f64 / 100.0
}

fn check_symbol(symbol: &str) -> Result<&'static assets::AssetDef, (&'static str, String)> {
    match assets::find(symbol) {
        Some(a) if a.class != "us_equity" => {
            Err(("security_not_found", format!("{symbol} is not an equity")))
        }
        Some(a) if a.easy_to_borrow => {
            Err(("easy_to_borrow", format!("{} is easy to borrow", a.symbol)))
        }
        Some(a) => Ok(a),
        None => Err(("symbol_not_found", format!("symbol not found: {symbol}"))),
    }
}

/// `GET /v1/locates/quotes`
pub(crate) async fn quotes(State(s): State<MockState>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Trading);
    let symbols = q.list("symbols");
    if symbols.is_empty() {
        return Err(locate_error(400, "invalid_symbols", "symbols is required"));
    }
    if symbols.len() > 100 {
        return Err(locate_error(
            400,
            "invalid_symbols",
            "symbols must contain at most 100 unique symbols",
        ));
    }
    let now = s.now();
    let mut quotes = Vec::new();
    let mut errors = Vec::new();
    for sym in symbols {
        match check_symbol(&sym) {
            Ok(a) => quotes.push(json!({
                "symbol": a.symbol,
                "available_qty": 1000 + crate::hashing::hash_parts(&[b"avail", a.symbol.as_bytes()]) % 50_000,
                "price": dec(borrow_fee(a.symbol), 4),
                "quoted_at": now.rfc3339_micros(),
            })),
            Err((code, message)) => errors.push(json!({ "symbol": sym, "code": code, "message": message })),
        }
    }
    Ok(ok(json!({ "quotes": quotes, "errors": errors })))
}

/// `POST /v1/locates`
pub(crate) async fn create(
    State(s): State<MockState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let m =
        json_object(&body).map_err(|e| locate_error(400, "invalid_request_body", e.message()))?;
    let symbol = m
        .get("symbol")
        .and_then(Value::as_str)
        .filter(|x| !x.is_empty())
        .ok_or_else(|| locate_error(422, "invalid_input", "symbol is required"))?;
    let qty = m
        .get("qty")
        .and_then(Value::as_i64)
        .filter(|q| (1..=10_000_000).contains(q))
        .ok_or_else(|| locate_error(422, "invalid_input", "qty must be a positive integer"))?;
    let all_or_none = m
        .get("all_or_none")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let limit_price = match m.get("limit_price") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.parse::<f64>().is_ok_and(|x| x > 0.0 && x.is_finite()) => {
            Some(p.clone())
        }
        Some(_) => {
            return Err(locate_error(
                422,
                "invalid_limit_price",
                "limit_price must be a positive decimal",
            ));
        }
    };
    let asset = check_symbol(symbol).map_err(|(code, msg)| locate_error(422, code, msg))?;
    let fee = borrow_fee(asset.symbol);
    if limit_price
        .as_deref()
        .and_then(|p| p.parse::<f64>().ok())
        .is_some_and(|p| p < fee)
    {
        return Err(locate_error(
            422,
            "invalid_limit_price",
            "limit_price is below the locate price",
        ));
    }
    let idem = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let now = s.now();
    let mut book = s.book();
    if let Some(key) = &idem
        && let Some(prev) = book
            .locates
            .iter()
            .find(|l| l["_idempotency_key"] == key.as_str())
    {
        return Ok((StatusCode::CREATED, axum::Json(strip(prev))).into_response());
    }
    let id = s.next_uuid(&mut book);
    let expires: Timestamp = now.date_eastern().at_eastern(20 * 3600);
    let mut v = json!({
        "id": id,
        "symbol": asset.symbol,
        "requested_qty": qty,
        "located_qty": qty,
        "all_or_none": all_or_none,
        "status": "active",
        "limit_price": limit_price,
        "located_price": dec(fee, 4),
        "total_fee": money(fee * qty as f64),
        "rejection_reason": Value::Null,
        "created_at": now.rfc3339_micros(),
        "expires_at": expires.rfc3339(),
    });
    if let Some(key) = idem {
        v["_idempotency_key"] = json!(key);
    }
    book.locates.push(v.clone());
    Ok((StatusCode::CREATED, axum::Json(strip(&v))).into_response())
}

fn strip(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("_idempotency_key");
    }
    v
}

/// `GET /v1/locates`
pub(crate) async fn list(State(s): State<MockState>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Trading);
    let bad = |e: ApiError| locate_error(400, "invalid_input", e.message());
    let status = q
        .one_of("status", &["active", "expired", "rejected"])
        .map_err(bad)?;
    let symbol = q.get("symbol").map(str::to_ascii_uppercase);
    let start = q.date("start").map_err(bad)?;
    let end = q.date("end").map_err(bad)?;
    let limit = q.int("limit", 1, 10_000).map_err(bad)?.unwrap_or(1000) as usize;
    let offset: usize = match q.get("page_token") {
        Some(t) => t
            .parse()
            .map_err(|_| locate_error(400, "invalid_input", "invalid page_token"))?,
        None => 0,
    };
    let book = s.book();
    let all: Vec<Value> = book
        .locates
        .iter()
        .filter(|l| status.as_deref().is_none_or(|st| l["status"] == st))
        .filter(|l| symbol.as_deref().is_none_or(|sy| l["symbol"] == sy))
        .filter(|l| {
            let d = l["created_at"]
                .as_str()
                .and_then(Timestamp::parse)
                .map(Timestamp::date_utc);
            start.is_none_or(|st| d.is_some_and(|d| d >= st))
                && end.is_none_or(|en| d.is_some_and(|d| d <= en))
        })
        .map(strip)
        .collect();
    let page: Vec<Value> = all.iter().skip(offset).take(limit).cloned().collect();
    let next = (offset + limit < all.len()).then(|| (offset + limit).to_string());
    Ok(ok(json!({ "locates": page, "next_page_token": next })))
}

/// `GET /v1/locates/{locate_id}`
pub(crate) async fn get(State(s): State<MockState>, Path(id): Path<String>) -> ApiResult {
    let book = s.book();
    book.locates
        .iter()
        .find(|l| l["id"] == id.as_str())
        .map(|l| ok(strip(l)))
        .ok_or_else(|| ApiError::message_only(404, "locate not found"))
}
