//! Tokenization requests (`/v2/tokenization/...`): mints are recorded as
//! `pending` and can be listed and fetched.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use serde_json::{Value, json};

use crate::assets::{self, ok};
use crate::errors::{ApiError, ApiResult, json_object};
use crate::query::{Api, Query};
use crate::state::MockState;
use crate::time::Timestamp;

const ISSUERS: &[&str] = &["binance", "coinbase", "ondo", "st0x", "xstocks"];
const NETWORKS: &[&str] = &[
    "arbitrum",
    "base",
    "binance",
    "cronos",
    "ethereum",
    "hypercore",
    "hyperevm",
    "mantle",
    "robinhood",
    "solana",
    "ton",
    "tron",
];

fn token_symbol(symbol: &str, issuer: &str) -> String {
    match issuer {
        "xstocks" => format!("{symbol}x"),
        "ondo" => format!("{symbol}on"),
        _ => format!("{symbol}.t"),
    }
}

fn required<'a>(m: &'a serde_json::Map<String, Value>, name: &str) -> Result<&'a str, ApiError> {
    m.get(name)
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::unprocessable(format!("{name} is required")))
}

/// `POST /v2/tokenization/mint`
pub(crate) async fn mint(State(s): State<MockState>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let m = json_object(&body)?;
    let symbol = required(&m, "underlying_symbol")?;
    let qty = required(&m, "qty")?;
    let issuer = required(&m, "issuer")?;
    let network = required(&m, "network")?;
    let wallet = required(&m, "wallet_address")?;
    if !qty.parse::<f64>().is_ok_and(|q| q > 0.0 && q.is_finite()) {
        return Err(ApiError::unprocessable("qty must be a positive decimal"));
    }
    if !ISSUERS.contains(&issuer) {
        return Err(ApiError::unprocessable(format!("invalid issuer: {issuer}")));
    }
    if !NETWORKS.contains(&network) {
        return Err(ApiError::unprocessable(format!(
            "invalid network: {network}"
        )));
    }
    let asset = assets::find(symbol)
        .filter(|a| a.class == "us_equity")
        .ok_or_else(|| ApiError::unprocessable(format!("asset not found: {symbol}")))?;
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let now = s.now();
    let mut book = s.book();
    if let Some(k) = &key
        && let Some(prev) = book
            .tokenization
            .iter()
            .find(|r| r["client_request_id"] == k.as_str())
    {
        return Ok(ok(mint_response(prev)));
    }
    let id = s.next_uuid(&mut book);
    let client_request_id = match key {
        Some(k) => k,
        None => s.next_uuid(&mut book),
    };
    let req = json!({
        "tokenization_request_id": id,
        "client_request_id": client_request_id,
        "type": "mint",
        "status": "pending",
        "underlying_symbol": asset.symbol,
        "token_symbol": token_symbol(asset.symbol, issuer),
        "qty": qty,
        "issuer": issuer,
        "network": network,
        "wallet_address": wallet,
        "account": "PA3MOCK00001",
        "fees": Value::Null,
        "tx_hash": Value::Null,
        "issuer_request_id": Value::Null,
        "created_at": now.rfc3339_micros(),
        "updated_at": now.rfc3339_micros(),
    });
    let out = mint_response(&req);
    book.tokenization.push(req);
    Ok(ok(out))
}

fn mint_response(r: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for k in [
        "tokenization_request_id",
        "status",
        "underlying_symbol",
        "token_symbol",
        "qty",
        "created_at",
        "issuer",
        "network",
    ] {
        out.insert(k.into(), r[k].clone());
    }
    Value::Object(out)
}

/// `GET /v2/tokenization/requests`
pub(crate) async fn list(State(s): State<MockState>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Trading);
    let kind = q.one_of("type", &["mint", "redeem"])?;
    let status = q.one_of("status", &["pending", "rejected", "completed"])?;
    let issuer = q.one_of("issuer", ISSUERS)?;
    let network = q.one_of("network", NETWORKS)?;
    let symbol = q.get("underlying_symbol").map(str::to_ascii_uppercase);
    let after = q.time("after")?;
    let before = q.time("before")?;
    let book = s.book();
    let out: Vec<Value> = book
        .tokenization
        .iter()
        .filter(|r| kind.as_deref().is_none_or(|k| r["type"] == k))
        .filter(|r| status.as_deref().is_none_or(|k| r["status"] == k))
        .filter(|r| issuer.as_deref().is_none_or(|k| r["issuer"] == k))
        .filter(|r| network.as_deref().is_none_or(|k| r["network"] == k))
        .filter(|r| {
            symbol
                .as_deref()
                .is_none_or(|k| r["underlying_symbol"] == k)
        })
        .filter(|r| {
            let t = r["created_at"].as_str().and_then(Timestamp::parse);
            after.is_none_or(|a| t.is_some_and(|t| t > a))
                && before.is_none_or(|b| t.is_some_and(|t| t < b))
        })
        .cloned()
        .collect();
    Ok(ok(Value::Array(out)))
}

/// `GET /v2/tokenization/requests/{tokenization_request_id}`
pub(crate) async fn get(State(s): State<MockState>, Path(id): Path<String>) -> ApiResult {
    let book = s.book();
    book.tokenization
        .iter()
        .find(|r| r["tokenization_request_id"] == id.as_str())
        .cloned()
        .map(ok)
        .ok_or_else(|| ApiError::not_found("tokenization request not found"))
}

/// `GET /v2/tokenization/requests:by_client_request_id`
pub(crate) async fn get_by_client_id(
    State(s): State<MockState>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Trading);
    let id = q.required("client_request_id")?;
    let book = s.book();
    book.tokenization
        .iter()
        .find(|r| r["client_request_id"] == id)
        .cloned()
        .map(ok)
        .ok_or_else(|| ApiError::not_found("tokenization request not found"))
}
