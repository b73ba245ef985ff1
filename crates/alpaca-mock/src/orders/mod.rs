//! Orders: the matching engine (placement against the account, fills, cancellation), over
//! the order model ([`model`]), the request's checks ([`request`]) and the `/v2/orders`
//! routes ([`routes`]).
//!
//! Market orders fill at once at [`MockState::last_price`]; every other type rests
//! with status `new` until it is cancelled, replaced, or filled by a test through
//! [`MockState::fill_order`].

use serde_json::{Value, json};

use crate::errors::ApiError;
use crate::numbers::{price, qty as fmt_qty, round_to};
use crate::positions::model::Position;
use crate::state::{Book, MockState};
use crate::time::Timestamp;

pub(crate) mod model;
mod request;
pub(crate) mod routes;

pub(crate) use model::Order;
use model::{OPEN, expiry};
use request::{Fields, Instrument, exits, fields, instruments};

/// Applies a fill of `signed_qty` (positive buys) at `fill_price` to the book:
/// moves cash and opens, grows, shrinks, flips or closes the position.
pub(crate) fn apply_fill(book: &mut Book, p: &Position, signed_qty: f64, fill_price: f64) {
    book.cash -= signed_qty * fill_price * p.multiplier;
    let entry = book
        .positions
        .entry(p.symbol.clone())
        .or_insert_with(|| Position {
            qty: 0.0,
            avg_entry_price: fill_price,
            ..p.clone()
        });
    let old = entry.qty;
    let new = round_to(old + signed_qty, 9);
    if new.abs() < 1e-9 {
        book.positions.remove(&p.symbol);
        return;
    }
    if old == 0.0 || old.signum() != new.signum() {
        entry.avg_entry_price = fill_price;
    } else if new.abs() > old.abs() {
        entry.avg_entry_price = (old * entry.avg_entry_price + signed_qty * fill_price) / new;
    }
    entry.qty = new;
}

fn position_template(i: &Instrument) -> Position {
    Position {
        symbol: i.symbol.clone(),
        asset_id: i.asset_id.clone(),
        asset_class: i.class.clone(),
        exchange: i.exchange.clone(),
        qty: 0.0,
        avg_entry_price: 0.0,
        multiplier: i.multiplier,
    }
}

/// Cash set aside for open buy orders.
pub(crate) fn reserved_for_buys(state: &MockState, book: &Book) -> f64 {
    book.orders
        .iter()
        .filter(|o| o.is_open() && o.side == "buy" && o.order_class != "mleg")
        .map(|o| {
            let px = o
                .limit_price
                .or(o.stop_price)
                .unwrap_or_else(|| state.price_in(book, &o.symbol));
            let mult = if o.asset_class == "us_option" {
                100.0
            } else {
                1.0
            };
            (o.qty.unwrap_or(0.0) - o.filled_qty).max(0.0) * px * mult + o.notional.unwrap_or(0.0)
        })
        .sum()
}

/// Places an order from a request body; `replaces` is the order being replaced.
pub(crate) fn place(
    state: &MockState,
    body: &Value,
    replaces: Option<&Order>,
) -> Result<Value, ApiError> {
    let m = body
        .as_object()
        .ok_or_else(|| ApiError::unprocessable("order request must be a JSON object"))?;
    let now = state.now();
    let Fields {
        kind,
        tif,
        class,
        intent,
        qty,
        notional,
        limit_price,
        stop_price,
        trail_price,
        trail_percent,
        extended_hours,
        client_order_id,
    } = fields(m)?;

    let mut book = state.book();
    if let Some(c) = &client_order_id
        && book.orders.iter().any(|o| &o.client_order_id == c)
    {
        return Err(ApiError::unprocessable("client_order_id must be unique"));
    }

    let (inst, side, legs_in) = instruments(m, class, qty)?;

    if let Some(i) = &inst {
        if i.class == "crypto" && !["gtc", "ioc"].contains(&tif) {
            return Err(ApiError::unprocessable(format!(
                "invalid crypto time_in_force: {tif}"
            )));
        }
        if i.class == "us_option" && qty.is_some_and(|q| q.fract() != 0.0) {
            return Err(ApiError::unprocessable(
                "qty must be a whole number for options",
            ));
        }
        let last = state.price_in(&book, &i.symbol);
        let est_px = limit_price.unwrap_or(last);
        let cost = notional.unwrap_or_else(|| qty.unwrap_or(0.0) * est_px * i.multiplier);
        if side == "buy" {
            let bp = book.cash - reserved_for_buys(state, &book);
            if cost > bp + 1e-6 {
                return Err(ApiError::forbidden("insufficient buying power"));
            }
        } else {
            let held = book.positions.get(&i.symbol).map(|p| p.qty).unwrap_or(0.0);
            let want = qty.unwrap_or_else(|| notional.unwrap_or(0.0) / last.max(1e-9));
            if i.class == "crypto" && want > held + 1e-9 {
                return Err(ApiError::forbidden(format!(
                    "insufficient balance for {} (requested: {}, available: {})",
                    i.symbol,
                    fmt_qty(want),
                    fmt_qty(held.max(0.0))
                )));
            }
            if want > held.max(0.0) + 1e-9 && book.account_config["no_shorting"] == json!(true) {
                return Err(ApiError::forbidden("account is not allowed to short"));
            }
        }
    }

    let id = state.next_uuid(&mut book);
    let coid = match client_order_id {
        Some(c) => c,
        None => state.next_uuid(&mut book),
    };
    let mut order = Order {
        id,
        client_order_id: coid,
        created_at: now,
        updated_at: now,
        filled_at: None,
        canceled_at: None,
        replaced_at: None,
        expires_at: expiry(now, tif),
        replaced_by: None,
        replaces: replaces.map(|r| r.id.clone()),
        symbol: inst.as_ref().map(|i| i.symbol.clone()).unwrap_or_default(),
        asset_id: inst
            .as_ref()
            .map(|i| i.asset_id.clone())
            .unwrap_or_default(),
        asset_class: inst
            .as_ref()
            .map(|i| i.class.clone())
            .unwrap_or_else(|| "us_option".into()),
        exchange: inst
            .as_ref()
            .map(|i| i.exchange.clone())
            .unwrap_or_default(),
        qty,
        notional,
        filled_qty: 0.0,
        filled_avg_price: None,
        order_class: class.to_string(),
        kind: kind.to_string(),
        side: side.clone(),
        position_intent: intent,
        time_in_force: tif.to_string(),
        limit_price,
        stop_price,
        trail_price,
        trail_percent,
        ratio_qty: None,
        status: "new".into(),
        extended_hours,
        legs: Vec::new(),
        group_role: None,
    };

    // Legs: mleg legs carry their own symbols; bracket/oco/oto legs are exits.
    for (li, ratio, leg_side, leg_intent) in &legs_in {
        let leg_id = state.next_uuid(&mut book);
        let leg_coid = state.next_uuid(&mut book);
        order.legs.push(Order {
            id: leg_id,
            client_order_id: leg_coid,
            symbol: li.symbol.clone(),
            asset_id: li.asset_id.clone(),
            asset_class: li.class.clone(),
            exchange: li.exchange.clone(),
            qty: qty.map(|q| q * ratio),
            ratio_qty: Some(*ratio),
            side: leg_side.clone(),
            position_intent: leg_intent.clone(),
            order_class: "mleg".into(),
            legs: Vec::new(),
            ..order.clone()
        });
    }
    if matches!(class, "bracket" | "oco" | "oto") {
        let exit_side = if side == "buy" { "sell" } else { "buy" };
        let exits = exits(m, class)?;
        order.group_role = Some("entry".into());
        for (role, leg_kind, lp, sp) in exits {
            let leg_id = state.next_uuid(&mut book);
            let leg_coid = state.next_uuid(&mut book);
            order.legs.push(Order {
                id: leg_id,
                client_order_id: leg_coid,
                kind: leg_kind.into(),
                side: exit_side.into(),
                limit_price: lp,
                stop_price: sp,
                trail_price: None,
                trail_percent: None,
                status: "held".into(),
                group_role: Some(role.into()),
                legs: Vec::new(),
                notional: None,
                position_intent: None,
                ..order.clone()
            });
        }
    }

    if kind == "market" {
        fill(state, &mut book, &mut order, None);
    }
    let out = order.to_json(true, now);
    book.orders.push(order);
    Ok(out)
}

/// Fills `order` completely at `at` (or the last price) and books the result.
fn fill(state: &MockState, book: &mut Book, order: &mut Order, at: Option<f64>) {
    let now = state.now();
    if order.order_class == "mleg" && !order.legs.is_empty() {
        let mut net = 0.0;
        for leg in order.legs.iter_mut() {
            let px = at.unwrap_or_else(|| state.price_in(book, &leg.symbol));
            let q = leg.qty.unwrap_or(0.0);
            let inst = Instrument {
                symbol: leg.symbol.clone(),
                asset_id: leg.asset_id.clone(),
                class: leg.asset_class.clone(),
                exchange: leg.exchange.clone(),
                multiplier: if leg.asset_class == "us_option" {
                    100.0
                } else {
                    1.0
                },
            };
            let signed = if leg.side == "buy" { q } else { -q };
            apply_fill(book, &position_template(&inst), signed, px);
            leg.filled_qty = q;
            leg.filled_avg_price = Some(px);
            leg.filled_at = Some(now);
            leg.status = "filled".into();
            leg.updated_at = now;
            net += signed.signum() * px * leg.ratio_qty.unwrap_or(1.0);
            record_fill_activity(book, leg, q, px, now);
        }
        order.filled_qty = order.qty.unwrap_or(0.0);
        order.filled_avg_price = Some(round_to(net.abs(), 2));
    } else {
        let px = at.unwrap_or_else(|| state.price_in(book, &order.symbol));
        let mult = if order.asset_class == "us_option" {
            100.0
        } else {
            1.0
        };
        let q = match (order.qty, order.notional) {
            (Some(q), _) => q,
            (None, Some(n)) => round_to(n / px.max(1e-9), 9),
            _ => 0.0,
        };
        let inst = Instrument {
            symbol: order.symbol.clone(),
            asset_id: order.asset_id.clone(),
            class: order.asset_class.clone(),
            exchange: order.exchange.clone(),
            multiplier: mult,
        };
        let signed = if order.side == "buy" { q } else { -q };
        apply_fill(book, &position_template(&inst), signed, px);
        order.filled_qty = q;
        order.filled_avg_price = Some(px);
        record_fill_activity(book, order, q, px, now);
        // Exits of a filled bracket entry become live.
        for leg in order.legs.iter_mut() {
            if leg.status == "held" {
                leg.status = "new".into();
                leg.updated_at = now;
            }
        }
    }
    order.filled_at = Some(now);
    order.updated_at = now;
    order.status = "filled".into();
}

fn record_fill_activity(book: &mut Book, order: &Order, q: f64, px: f64, now: Timestamp) {
    let n = book.activities.len();
    book.activities.push(json!({
        "id": format!("{}::{}", now.rfc3339().replace(['-', ':', 'T', 'Z'], ""), crate::ids::uuid_from(n as u64 + 1, 7)),
        "activity_type": "FILL",
        "transaction_time": now.rfc3339_micros(),
        "type": "fill",
        "price": price(px),
        "qty": fmt_qty(q),
        "side": order.side,
        "symbol": order.symbol,
        "leaves_qty": "0",
        "order_id": order.id,
        "cum_qty": fmt_qty(q),
        "order_status": "filled",
    }));
}

fn find_index(book: &Book, id: &str) -> Option<usize> {
    book.orders.iter().position(|o| o.id == id)
}

fn order_not_found() -> ApiError {
    ApiError::not_found("order not found")
}

/// Fills a resting order (test helper behind [`MockState::fill_order`]).
pub(crate) fn fill_resting(
    state: &MockState,
    id: &str,
    at: Option<f64>,
) -> Result<Value, ApiError> {
    let now = state.now();
    let mut book = state.book();
    let idx = find_index(&book, id).ok_or_else(order_not_found)?;
    let mut order = book.orders[idx].clone();
    if !order.is_open() {
        return Err(ApiError::new(
            422,
            42210000,
            format!("order is not open: {}", order.status),
        ));
    }
    let px = at.or(order.limit_price).or(order.stop_price);
    fill(state, &mut book, &mut order, px);
    let out = order.to_json(true, now);
    book.orders[idx] = order;
    Ok(out)
}

/// Cancels every open order; returns the 207 items.
pub(crate) fn cancel_all_open(state: &MockState) -> Vec<Value> {
    let now = state.now();
    let mut book = state.book();
    let mut out = Vec::new();
    for o in book.orders.iter_mut().filter(|o| o.is_open()) {
        cancel_in_place(o, now);
        out.push(json!({ "id": o.id, "status": 200, "body": o.to_json(true, now) }));
    }
    out
}

fn cancel_in_place(o: &mut Order, now: Timestamp) {
    o.status = "canceled".into();
    o.canceled_at = Some(now);
    o.updated_at = now;
    for leg in o
        .legs
        .iter_mut()
        .filter(|l| OPEN.contains(&l.status.as_str()))
    {
        leg.status = "canceled".into();
        leg.canceled_at = Some(now);
        leg.updated_at = now;
    }
}

impl MockState {
    /// Places an order as `POST /v2/orders` would, and returns the order object.
    pub fn place_order(&self, body: Value) -> Result<Value, ApiError> {
        place(self, &body, None)
    }

    /// Fills a resting order at `price` (or the last price) and returns it.
    pub fn fill_order(&self, order_id: &str, price: Option<f64>) -> Result<Value, ApiError> {
        fill_resting(self, order_id, price)
    }
}
