//! The `/v2/orders` routes.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::model::Order;
use super::{cancel_all_open, cancel_in_place, find_index, order_not_found, place};
use crate::assets::ok;
use crate::errors::{ApiError, ApiResult, json_object};
use crate::query::{Api, Query};
use crate::state::MockState;

/// `POST /v2/orders`
pub(crate) async fn post(State(s): State<MockState>, body: Bytes) -> ApiResult {
    let m = json_object(&body)?;
    Ok(ok(place(&s, &Value::Object(m), None)?))
}

/// `GET /v2/orders`
pub(crate) async fn list(State(s): State<MockState>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Trading);
    let status = q
        .one_of("status", &["open", "closed", "all"])?
        .unwrap_or_else(|| "open".into());
    let limit = q.int("limit", 1, 500)?.unwrap_or(50) as usize;
    let direction = q
        .one_of("direction", &["asc", "desc"])?
        .unwrap_or_else(|| "desc".into());
    let nested = q.bool("nested")?.unwrap_or(false);
    let symbols: Vec<String> = q
        .list("symbols")
        .into_iter()
        .map(|s| s.to_ascii_uppercase())
        .collect();
    let side = q.one_of("side", &["buy", "sell"])?;
    let after = q.time("after")?;
    let until = q.time("until")?;
    let classes = q.list("asset_class");
    let now = s.now();
    let book = s.book();
    let mut out: Vec<&Order> = book
        .orders
        .iter()
        .filter(|o| match status.as_str() {
            "open" => o.is_open(),
            "closed" => !o.is_open(),
            _ => true,
        })
        .filter(|o| {
            symbols.is_empty()
                || symbols
                    .iter()
                    .any(|w| *w == o.symbol || o.legs.iter().any(|l| *w == l.symbol))
        })
        .filter(|o| side.as_deref().is_none_or(|sd| sd == o.side))
        .filter(|o| after.is_none_or(|a| o.created_at > a))
        .filter(|o| until.is_none_or(|u| o.created_at < u))
        .filter(|o| classes.is_empty() || classes.iter().any(|c| c == "all" || *c == o.asset_class))
        .collect();
    // Stable creation order, newest first unless asked otherwise.
    if direction == "desc" {
        out.reverse();
    }
    let v: Vec<Value> = out
        .into_iter()
        .take(limit)
        .map(|o| o.to_json(nested || !o.legs.is_empty(), now))
        .collect();
    Ok(ok(Value::Array(v)))
}

/// `GET /v2/orders/{order_id}`
pub(crate) async fn get(State(s): State<MockState>, Path(id): Path<String>) -> ApiResult {
    let now = s.now();
    let book = s.book();
    book.orders
        .iter()
        .find(|o| o.id == id)
        .or_else(|| {
            book.orders
                .iter()
                .flat_map(|o| o.legs.iter())
                .find(|l| l.id == id)
        })
        .map(|o| ok(o.to_json(true, now)))
        .ok_or_else(order_not_found)
}

/// `GET /v2/orders:by_client_order_id`
pub(crate) async fn get_by_client_id(
    State(s): State<MockState>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Trading);
    let coid = q.required("client_order_id")?;
    let now = s.now();
    let book = s.book();
    book.orders
        .iter()
        .find(|o| o.client_order_id == coid)
        .map(|o| ok(o.to_json(true, now)))
        .ok_or_else(order_not_found)
}

/// `PATCH /v2/orders/{order_id}`: a new order replaces the old one, which
/// becomes `replaced`.
pub(crate) async fn patch(
    State(s): State<MockState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let m = json_object(&body)?;
    if ![
        "qty",
        "limit_price",
        "stop_price",
        "trail",
        "time_in_force",
        "client_order_id",
    ]
    .iter()
    .any(|k| m.get(*k).is_some_and(|v| !v.is_null()))
    {
        return Err(ApiError::unprocessable(
            "nothing to replace: give qty, limit_price, stop_price, trail, time_in_force or client_order_id",
        ));
    }
    let old = {
        let book = s.book();
        let idx = find_index(&book, &id).ok_or_else(order_not_found)?;
        book.orders[idx].clone()
    };
    if !old.is_open() {
        return Err(ApiError::new(
            422,
            42210000,
            format!("order is not replaceable: {}", old.status),
        ));
    }
    if old.order_class == "mleg" {
        return Err(ApiError::new(
            422,
            42210000,
            "multi-leg orders cannot be replaced",
        ));
    }
    let mut req = old.to_json(false, s.now());
    let obj = req
        .as_object_mut()
        .ok_or_else(|| ApiError::unprocessable("bad order"))?;
    for key in [
        "qty",
        "limit_price",
        "stop_price",
        "time_in_force",
        "client_order_id",
    ] {
        match m.get(key) {
            None | Some(Value::Null) => {}
            Some(v) => {
                obj.insert(key.into(), v.clone());
            }
        }
    }
    if let Some(t) = m.get("trail").filter(|v| !v.is_null()) {
        let k = if old.trail_percent.is_some() {
            "trail_percent"
        } else {
            "trail_price"
        };
        obj.insert(k.into(), t.clone());
    }
    if m.get("limit_price").is_some_and(|v| !v.is_null())
        && !["limit", "stop_limit"].contains(&old.kind.as_str())
    {
        return Err(ApiError::unprocessable(
            "limit_price can only be changed on limit and stop_limit orders",
        ));
    }
    if m.get("stop_price").is_some_and(|v| !v.is_null())
        && !["stop", "stop_limit"].contains(&old.kind.as_str())
    {
        return Err(ApiError::unprocessable(
            "stop_price can only be changed on stop and stop_limit orders",
        ));
    }
    if !m.contains_key("client_order_id") {
        obj.remove("client_order_id");
    }
    obj.remove("legs");
    obj.insert("order_class".into(), json!("simple"));
    // The replaced order's reservation no longer counts.
    {
        let mut book = s.book();
        if let Some(idx) = find_index(&book, &id) {
            book.orders[idx].status = "pending_replace_internal".into();
        }
    }
    let placed = place(&s, &req, Some(&old));
    let now = s.now();
    let mut book = s.book();
    let idx = find_index(&book, &id).ok_or_else(order_not_found)?;
    match placed {
        Ok(new) => {
            let new_id = new["id"].as_str().unwrap_or_default().to_string();
            let o = &mut book.orders[idx];
            o.status = "replaced".into();
            o.replaced_by = Some(new_id);
            o.replaced_at = Some(now);
            o.updated_at = now;
            Ok(ok(new))
        }
        Err(e) => {
            book.orders[idx].status = old.status;
            Err(e)
        }
    }
}

/// `DELETE /v2/orders/{order_id}`
pub(crate) async fn cancel(State(s): State<MockState>, Path(id): Path<String>) -> ApiResult {
    let now = s.now();
    let mut book = s.book();
    let idx = find_index(&book, &id).ok_or_else(order_not_found)?;
    let o = &mut book.orders[idx];
    if !o.is_open() {
        return Err(ApiError::new(
            422,
            42210000,
            format!("order is not cancelable: {}", o.status),
        ));
    }
    cancel_in_place(o, now);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /v2/orders`
pub(crate) async fn cancel_all(State(s): State<MockState>, _h: HeaderMap) -> ApiResult {
    let out = cancel_all_open(&s);
    Ok((StatusCode::MULTI_STATUS, axum::Json(Value::Array(out))).into_response())
}
