//! The two server-sent-event streams. Each answers one event and ends.

use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use crate::assets;
use crate::errors::ApiResult;
use crate::ids::{stable_uuid, ulid};
use crate::query::{Api, Query};
use crate::state::MockState;

fn sse(id: &str, data: &Value) -> axum::response::Response {
    let body = format!("id: {id}\ndata: {data}\n\n");
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// `GET /v2beta1/events/activities`: the latest fill as an activity event (a
/// made-up one when nothing has filled yet).
pub(crate) async fn activities(State(s): State<MockState>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Trading);
    q.time("since")?;
    q.time("until")?;
    let now = s.now();
    let last_fill = s
        .book()
        .activities
        .iter()
        .rev()
        .find(|a| a["activity_type"] == "FILL")
        .cloned();
    let (symbol, side, qty, price, order_id) = match &last_fill {
        Some(a) => (
            a["symbol"].as_str().unwrap_or("AAPL").to_string(),
            a["side"].as_str().unwrap_or("buy").to_string(),
            a["qty"].as_str().unwrap_or("1").to_string(),
            a["price"].as_str().unwrap_or("1").to_string(),
            a["order_id"].as_str().unwrap_or_default().to_string(),
        ),
        None => (
            "AAPL".to_string(),
            "buy".to_string(),
            "1".to_string(),
            crate::numbers::price(s.last_price("AAPL")),
            stable_uuid("example-order"),
        ),
    };
    let id = ulid(now, crate::hashing::hash_parts(&[order_id.as_bytes()]));
    let event = json!({
        "event_id": id,
        "at": now.rfc3339_nanos(),
        "activity_type": "FILL",
        "executed_at": now.rfc3339_nanos(),
        "status": "executed",
        "settle_date": now.date_eastern().next_weekday().to_string(),
        "currency": "USD",
        "ref_id": stable_uuid(&format!("ref:{order_id}")),
        "qty": qty,
        "price": price,
        "details": {
            "order_id": if order_id.is_empty() { stable_uuid("example-order") } else { order_id.clone() },
            "side": side,
            "symbol": symbol,
            "asset_id": assets::find(&symbol).map(|a| a.id()).unwrap_or_else(|| stable_uuid(&symbol)),
            "leaves_qty": "0",
            "cum_qty": qty,
            "order_status": "filled",
            "execution_type": "fill",
        },
    });
    Ok(sse(&id, &event))
}

/// `GET /v1beta1/events/corporate-actions`: one cash dividend announcement.
pub(crate) async fn corporate_actions(
    State(s): State<MockState>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Data);
    q.one_of("region", &["all", "us", "non_us"])?;
    q.time("since")?;
    q.time("until")?;
    let now = s.now();
    let ex = now.date_eastern().add_days(10);
    let id = ulid(now, 99);
    let event = json!({
        "event_id": id,
        "at": now.rfc3339_nanos(),
        "action": "insert",
        "region": "us",
        "event_type": "cash_dividend_corporateaction_event",
        "ca": {
            "id": stable_uuid(&format!("cash_dividend:AAPL:{ex}")),
            "process_date": now.date_eastern().to_string(),
            "symbol": "AAPL",
            "cusip": assets::cusip("AAPL"),
            "rate": "0.25",
            "special": false,
            "foreign": false,
            "currency": "USD",
            "ex_date": ex.to_string(),
            "record_date": ex.to_string(),
            "payable_date": ex.add_days(7).to_string(),
        },
    });
    Ok(sse(&id, &event))
}
