//! Positions: they follow fills, and closing one places a market order.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use crate::assets::ok;
use crate::errors::{ApiError, ApiResult};
use crate::market::model::{self as market, Occ};
use crate::numbers::{money, price, qty as fmt_qty, round_to};
use crate::orders::apply_fill;
use crate::query::{Api, Query};
use crate::state::{Book, MockState};

pub(crate) mod model;

pub(crate) use model::Position;

/// A position as the API prints it (prices from the state).
pub(crate) fn position_json(p: &Position, state: &MockState, book: &Book) -> Value {
    let current = state.price_in(book, &p.symbol);
    let lastday = round_to(
        market::any_price(state.seed(), &p.symbol, state.now().add_secs(-86_400)),
        market::price_places(&p.symbol).max(2),
    );
    let q = p.qty;
    let market_value = q * current * p.multiplier;
    let cost_basis = q * p.avg_entry_price * p.multiplier;
    let unrealized = market_value - cost_basis;
    let plpc = if cost_basis.abs() > f64::EPSILON {
        unrealized / cost_basis.abs()
    } else {
        0.0
    };
    let intraday = q * (current - lastday) * p.multiplier;
    let intraday_pc = if lastday > 0.0 {
        (current - lastday) / lastday * q.signum()
    } else {
        0.0
    };
    let change_today = if lastday > 0.0 {
        (current - lastday) / lastday
    } else {
        0.0
    };
    let reserved: f64 = book
        .orders
        .iter()
        .filter(|o| o.is_open() && o.symbol == p.symbol && (o.side == "sell") == (q > 0.0))
        .map(|o| o.qty.unwrap_or(0.0) - o.filled_qty)
        .sum();
    json!({
        "asset_id": p.asset_id,
        "symbol": p.symbol,
        "exchange": p.exchange,
        "asset_class": p.asset_class,
        "asset_marginable": p.asset_class == "us_equity",
        "qty": fmt_qty(q),
        "qty_available": fmt_qty(if q >= 0.0 { (q - reserved).max(0.0) } else { (q + reserved).min(0.0) }),
        "avg_entry_price": price(p.avg_entry_price),
        "side": if q >= 0.0 { "long" } else { "short" },
        "market_value": money(market_value),
        "cost_basis": money(cost_basis),
        "unrealized_pl": money(unrealized),
        "unrealized_plpc": crate::numbers::dec(plpc, 6),
        "unrealized_intraday_pl": money(intraday),
        "unrealized_intraday_plpc": crate::numbers::dec(intraday_pc, 6),
        "current_price": price(current),
        "lastday_price": price(lastday),
        "change_today": crate::numbers::dec(change_today, 6),
    })
}

/// Finds a position by symbol (`BTCUSD` finds `BTC/USD`) or asset id.
pub(crate) fn find_key(book: &Book, symbol_or_id: &str) -> Option<String> {
    let want = symbol_or_id.trim().to_ascii_uppercase();
    book.positions
        .values()
        .find(|p| {
            p.symbol == want || p.symbol.replace('/', "") == want || p.asset_id == symbol_or_id
        })
        .map(|p| p.symbol.clone())
}

fn no_position(symbol: &str) -> ApiError {
    ApiError::not_found(format!("position does not exist: {symbol}"))
}

/// `GET /v2/positions`
pub(crate) async fn list(State(s): State<MockState>) -> ApiResult {
    Ok(ok(Value::Array(s.positions())))
}

/// `GET /v2/positions/{symbol_or_asset_id}`
pub(crate) async fn get(State(s): State<MockState>, Path(symbol): Path<String>) -> ApiResult {
    let book = s.book();
    let key = find_key(&book, &symbol).ok_or_else(|| no_position(&symbol))?;
    let v = position_json(&book.positions[&key], &s, &book);
    Ok(ok(v))
}

/// Closes `qty` of the position `key` (all of it when `None`) with a market order.
pub(crate) fn close(state: &MockState, key: &str, qty: Option<f64>) -> Result<Value, ApiError> {
    let (held, class) = {
        let book = state.book();
        let p = book.positions.get(key).ok_or_else(|| no_position(key))?;
        (p.qty, p.asset_class.clone())
    };
    let q = qty.unwrap_or(held.abs());
    if q <= 0.0 || q > held.abs() + 1e-9 {
        return Err(ApiError::forbidden(format!(
            "insufficient qty available for order (requested: {}, available: {})",
            fmt_qty(q),
            fmt_qty(held.abs())
        )));
    }
    let side = if held > 0.0 { "sell" } else { "buy" };
    let mut order = json!({
        "symbol": key,
        "qty": fmt_qty(q),
        "side": side,
        "type": "market",
        "time_in_force": if class == "crypto" { "gtc" } else { "day" },
    });
    if class == "us_option" {
        order["position_intent"] = json!(if held > 0.0 {
            "sell_to_close"
        } else {
            "buy_to_close"
        });
    }
    crate::orders::place(state, &order, None)
}

/// `DELETE /v2/positions/{symbol_or_asset_id}`
pub(crate) async fn close_one(
    State(s): State<MockState>,
    Path(symbol): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Trading);
    let qty = q.number("qty")?;
    let pct = q.number("percentage")?;
    if qty.is_some() && pct.is_some() {
        return Err(ApiError::unprocessable(
            "only one of qty or percentage may be given",
        ));
    }
    let key = find_key(&s.book(), &symbol).ok_or_else(|| no_position(&symbol))?;
    let held = s.book().positions[&key].qty.abs();
    let amount = match (qty, pct) {
        (Some(q), _) if q <= 0.0 => return Err(ApiError::unprocessable("qty must be > 0")),
        (Some(q), _) => Some(q),
        (_, Some(p)) if p <= 0.0 || p > 100.0 => {
            return Err(ApiError::unprocessable(
                "percentage must be between 0 and 100",
            ));
        }
        (_, Some(p)) => Some(round_to(held * p / 100.0, 9)),
        _ => None,
    };
    Ok(ok(close(&s, &key, amount)?))
}

/// `DELETE /v2/positions`
pub(crate) async fn close_all(State(s): State<MockState>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Trading);
    if q.bool("cancel_orders")?.unwrap_or(false) {
        crate::orders::cancel_all_open(&s);
    }
    let keys: Vec<String> = s.book().positions.keys().cloned().collect();
    let out: Vec<Value> = keys
        .iter()
        .map(|k| match close(&s, k, None) {
            Ok(order) => json!({ "symbol": k, "status": 200, "body": order }),
            Err(e) => json!({ "symbol": k, "status": e.status, "body": e.body }),
        })
        .collect();
    Ok((StatusCode::MULTI_STATUS, axum::Json(Value::Array(out))).into_response())
}

fn option_position(s: &MockState, id: &str) -> Result<(String, Occ, f64), ApiError> {
    let book = s.book();
    let key = find_key(&book, id)
        .filter(|k| book.positions[k].asset_class == "us_option")
        .ok_or_else(|| ApiError::unprocessable(format!("no option position for {id}")))?;
    let occ = Occ::parse(&key)
        .ok_or_else(|| ApiError::unprocessable(format!("{key} is not an option")))?;
    Ok((key.clone(), occ, book.positions[&key].qty))
}

/// `POST /v2/positions/{symbol_or_contract_id}/exercise`: a long call becomes
/// 100 shares per contract bought at the strike (a put, 100 sold), at once.
pub(crate) async fn exercise(State(s): State<MockState>, Path(id): Path<String>) -> ApiResult {
    let (key, occ, held) = option_position(&s, &id)?;
    if held <= 0.0 {
        return Err(ApiError::forbidden(
            "only long option positions can be exercised",
        ));
    }
    let mut book = s.book();
    book.positions.remove(&key);
    let underlying = crate::assets::find(&occ.root);
    let stock = Position {
        symbol: occ.root.clone(),
        asset_id: underlying
            .map(|a| a.id())
            .unwrap_or_else(|| crate::ids::stable_uuid(&occ.root)),
        asset_class: "us_equity".into(),
        exchange: underlying
            .map(|a| a.exchange.to_string())
            .unwrap_or_else(|| "NASDAQ".into()),
        qty: 0.0,
        avg_entry_price: occ.strike,
        multiplier: 1.0,
    };
    let shares = held * 100.0 * if occ.call { 1.0 } else { -1.0 };
    apply_fill(&mut book, &stock, shares, occ.strike);
    Ok(StatusCode::OK.into_response())
}

/// `POST /v2/positions/{symbol_or_contract_id}/do-not-exercise`
pub(crate) async fn do_not_exercise(
    State(s): State<MockState>,
    Path(id): Path<String>,
) -> ApiResult {
    let (key, _, _) = option_position(&s, &id)?;
    s.book().do_not_exercise.insert(key);
    Ok(StatusCode::OK.into_response())
}

impl MockState {
    /// Open positions, as the API prints them.
    pub fn positions(&self) -> Vec<Value> {
        let book = self.book();
        book.positions
            .values()
            .map(|p| position_json(p, self, &book))
            .collect()
    }
}
