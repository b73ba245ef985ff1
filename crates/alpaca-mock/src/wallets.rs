//! Crypto funding (`/v2/wallets...`): a deposit wallet per asset, one past
//! transfer, whitelisted withdrawal addresses and a tiny VASP directory.
//!
//! Shapes follow the published schemas, which describe the transfer and
//! whitelist listings as single objects: the mock answers the most recent one.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use crate::assets::ok;
use crate::errors::{ApiError, ApiResult, json_object};
use crate::hashing::hash_parts;
use crate::ids::stable_uuid;
use crate::query::{Api, Query};
use crate::state::MockState;

fn chain_of(asset: &str) -> Option<&'static str> {
    match asset.to_ascii_uppercase().trim_end_matches("/USD") {
        "BTC" => Some("BTC"),
        "ETH" | "USDC" | "USDT" | "LINK" | "UNI" | "AAVE" => Some("ETH"),
        "SOL" => Some("SOL"),
        "XRP" => Some("XRP"),
        "ARB" => Some("ARB"),
        _ => None,
    }
}

fn address(kind: &str, asset: &str) -> String {
    let h = hash_parts(&[kind.as_bytes(), asset.as_bytes()]);
    let h2 = crate::hashing::mix(h);
    match chain_of(asset) {
        Some("BTC") => format!("bc1q{:016x}{:016x}", h, h2),
        Some("SOL") => format!("So1{:016x}{:016x}", h, h2),
        _ => format!("0x{:016x}{:016x}{:08x}", h, h2, h >> 32),
    }
}

/// The one past transfer the mock reports.
fn seeded_transfer(s: &MockState) -> Value {
    let at = s.now().add_secs(-3 * 86_400);
    json!({
        "id": stable_uuid("transfer-1"),
        "tx_hash": format!("0x{:016x}{:016x}", hash_parts(&[b"tx"]), hash_parts(&[b"tx2"])),
        "direction": "INCOMING",
        "status": "COMPLETE",
        "amount": "0.05",
        "usd_value": "3000.00",
        "network_fee": "0",
        "fees": "0",
        "chain": "ETH",
        "asset": "ETH",
        "from_address": address("external", "ETH"),
        "to_address": address("deposit", "ETH"),
        "created_at": at.rfc3339(),
    })
}

/// `GET /v2/wallets`
pub(crate) async fn wallet(State(s): State<MockState>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Trading);
    q.one_of("chain", &["SOL", "ETH", "BTC", "XRP", "ARB"])?;
    q.one_of("network", &["ethereum", "solana"])?;
    let asset = q.get("asset").unwrap_or("BTC").to_ascii_uppercase();
    let chain = chain_of(&asset)
        .ok_or_else(|| ApiError::unprocessable(format!("unsupported asset: {asset}")))?;
    Ok(ok(json!({
        "address": address("deposit", &asset),
        "chain": chain,
        "created_at": s.now().add_secs(-30 * 86_400).rfc3339(),
    })))
}

/// `GET /v2/wallets/fees/estimate`
pub(crate) async fn fee_estimate(RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Trading);
    let asset = q.get("asset").unwrap_or("ETH").to_ascii_uppercase();
    chain_of(&asset)
        .ok_or_else(|| ApiError::unprocessable(format!("unsupported asset: {asset}")))?;
    let amount = q.number("amount")?.unwrap_or(0.0);
    if amount < 0.0 {
        return Err(ApiError::unprocessable("amount must not be negative"));
    }
    let network_fee = if asset == "BTC" { 0.00002 } else { 0.0004 };
    Ok(ok(json!({
        "fee": crate::numbers::dec(amount * 0.001, 9),
        "network_fee": crate::numbers::dec(network_fee, 9),
    })))
}

/// `GET /v2/wallets/transfers`
pub(crate) async fn transfers(State(s): State<MockState>) -> ApiResult {
    Ok(ok(seeded_transfer(&s)))
}

/// `GET /v2/wallets/transfers/{transfer_id}`
pub(crate) async fn transfer(State(s): State<MockState>, Path(id): Path<String>) -> ApiResult {
    let t = seeded_transfer(&s);
    if t["id"] == id.as_str() {
        Ok(ok(t))
    } else {
        Err(ApiError::not_found("transfer not found"))
    }
}

const VASPS: &[(&str, &str, &str, &str)] = &[
    (
        "did:ethr:0x1111111111111111111111111111111111111111",
        "Example Exchange",
        "exchange.example",
        "US",
    ),
    (
        "did:ethr:0x2222222222222222222222222222222222222222",
        "Sample Custody",
        "custody.example",
        "DE",
    ),
    (
        "did:ethr:0x3333333333333333333333333333333333333333",
        "Demo Wallet Co",
        "wallet.example",
        "GB",
    ),
];

/// `GET /v2/wallets/travel-rule/vasps`
pub(crate) async fn vasps(RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Trading);
    let needle = q.get("q").map(str::to_ascii_lowercase);
    let domain = q.get("emailDomain").map(str::to_ascii_lowercase);
    let page = q.int("page", 0, 1_000_000)?.unwrap_or(0) as usize;
    let per_page = q.int("per_page", 1, 100)?.unwrap_or(10) as usize;
    let all: Vec<Value> = VASPS
        .iter()
        .filter(|(_, name, _, _)| {
            needle
                .as_deref()
                .is_none_or(|n| name.to_ascii_lowercase().contains(n))
        })
        .filter(|(_, _, d, _)| domain.as_deref().is_none_or(|w| *d == w))
        .map(|(id, name, d, country)| {
            json!({
                "id": id,
                "did": id,
                "name": name,
                "emailDomain": d,
                "website": format!("https://{d}/"),
                "country": country,
            })
        })
        .collect();
    let pages = all.len().div_ceil(per_page);
    let items: Vec<Value> = all
        .iter()
        .skip(page * per_page)
        .take(per_page)
        .cloned()
        .collect();
    Ok(ok(
        json!({ "vasps": items, "page": page, "pages": pages, "total": all.len() }),
    ))
}

/// `GET /v2/wallets/whitelists`: the most recently added address (or `{}`).
pub(crate) async fn whitelists(State(s): State<MockState>) -> ApiResult {
    let book = s.book();
    Ok(ok(book
        .whitelists
        .last()
        .cloned()
        .unwrap_or_else(|| json!({}))))
}

/// `POST /v2/wallets/whitelists`
pub(crate) async fn create_whitelist(State(s): State<MockState>, body: Bytes) -> ApiResult {
    let m = json_object(&body).map_err(|e| ApiError::message_only(400, e.message()))?;
    let address = m
        .get("address")
        .and_then(Value::as_str)
        .filter(|a| a.len() >= 8)
        .ok_or_else(|| ApiError::message_only(400, "address is required"))?;
    let asset = m
        .get("asset")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::message_only(400, "asset is required"))?
        .to_ascii_uppercase();
    let chain = match m.get("chain").and_then(Value::as_str) {
        Some(c) if ["SOL", "ETH", "BTC", "XRP", "ARB"].contains(&c) => c.to_string(),
        Some(c) => return Err(ApiError::message_only(400, format!("invalid chain: {c}"))),
        None => chain_of(&asset)
            .ok_or_else(|| ApiError::message_only(400, format!("unsupported asset: {asset}")))?
            .to_string(),
    };
    let now = s.now();
    let mut book = s.book();
    let id = s.next_uuid(&mut book);
    let mut v = json!({
        "id": id,
        "address": address,
        "asset": asset,
        "chain": chain,
        "status": "APPROVED",
        "created_at": now.rfc3339(),
    });
    if let Some(tr) = m.get("travel_rule_info").filter(|t| t.is_object()) {
        v["travel_rule_info"] = tr.clone();
    }
    book.whitelists.push(v.clone());
    Ok(ok(v))
}

/// `DELETE /v2/wallets/whitelists/{whitelisted_address_id}`
pub(crate) async fn delete_whitelist(
    State(s): State<MockState>,
    Path(id): Path<String>,
) -> ApiResult {
    let mut book = s.book();
    let i = book
        .whitelists
        .iter()
        .position(|w| w["id"] == id.as_str())
        .ok_or_else(|| ApiError::not_found("whitelisted address not found"))?;
    book.whitelists.remove(i);
    Ok(StatusCode::OK.into_response())
}

/// `PATCH /v2/wallets/whitelists/{whitelisted_address_id}/travel-rule-info`
pub(crate) async fn update_travel_rule(
    State(s): State<MockState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let m = json_object(&body).map_err(|e| ApiError::message_only(400, e.message()))?;
    let info = m
        .get("travel_rule_info")
        .filter(|t| t.is_object())
        .ok_or_else(|| ApiError::message_only(400, "travel_rule_info is missing"))?
        .clone();
    let mut book = s.book();
    let w = book
        .whitelists
        .iter_mut()
        .find(|w| w["id"] == id.as_str())
        .ok_or_else(|| ApiError::not_found("whitelisted address not found"))?;
    w["travel_rule_info"] = info;
    Ok(StatusCode::OK.into_response())
}
