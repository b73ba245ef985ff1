//! Orders: placement, fills, replacement, cancellation and the `/v2/orders` routes.
//!
//! Market orders fill at once at [`MockState::last_price`]; every other type rests
//! with status `new` until it is cancelled, replaced, or filled by a test through
//! [`MockState::fill_order`].

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};

use crate::assets::{self, ok};
use crate::errors::{ApiError, ApiResult, json_object};
use crate::market::model::Occ;
use crate::numbers::{parse_decimal, price, qty as fmt_qty, round_to};
use crate::positions::{Position, apply_fill};
use crate::query::{Api, Query};
use crate::state::{Book, MockState};
use crate::time::{Date, Timestamp};

/// One order (or one leg of an order).
#[derive(Debug, Clone)]
pub(crate) struct Order {
    pub(crate) id: String,
    pub(crate) client_order_id: String,
    pub(crate) created_at: Timestamp,
    pub(crate) updated_at: Timestamp,
    pub(crate) filled_at: Option<Timestamp>,
    pub(crate) canceled_at: Option<Timestamp>,
    pub(crate) replaced_at: Option<Timestamp>,
    pub(crate) expires_at: Timestamp,
    pub(crate) replaced_by: Option<String>,
    pub(crate) replaces: Option<String>,
    pub(crate) symbol: String,
    pub(crate) asset_id: String,
    pub(crate) asset_class: String,
    pub(crate) exchange: String,
    pub(crate) qty: Option<f64>,
    pub(crate) notional: Option<f64>,
    pub(crate) filled_qty: f64,
    pub(crate) filled_avg_price: Option<f64>,
    pub(crate) order_class: String,
    pub(crate) kind: String,
    pub(crate) side: String,
    pub(crate) position_intent: Option<String>,
    pub(crate) time_in_force: String,
    pub(crate) limit_price: Option<f64>,
    pub(crate) stop_price: Option<f64>,
    pub(crate) trail_price: Option<f64>,
    pub(crate) trail_percent: Option<f64>,
    pub(crate) ratio_qty: Option<f64>,
    pub(crate) status: String,
    pub(crate) extended_hours: bool,
    pub(crate) legs: Vec<Order>,
    pub(crate) group_role: Option<String>,
}

const OPEN: &[&str] = &[
    "new",
    "partially_filled",
    "accepted",
    "pending_new",
    "accepted_for_bidding",
    "pending_cancel",
    "pending_replace",
    "held",
    "calculated",
    "done_for_day",
];

const TYPES: &[&str] = &["market", "limit", "stop", "stop_limit", "trailing_stop"];
const TIFS: &[&str] = &["day", "gtc", "opg", "cls", "ioc", "fok"];
const CLASSES: &[&str] = &["simple", "bracket", "oco", "oto", "mleg", ""];
const INTENTS: &[&str] = &[
    "buy_to_open",
    "buy_to_close",
    "sell_to_open",
    "sell_to_close",
];

fn opt_time(t: Option<Timestamp>) -> Value {
    t.map(|t| Value::String(t.rfc3339_micros()))
        .unwrap_or(Value::Null)
}

fn opt_num(x: Option<f64>, f: fn(f64) -> String) -> Value {
    x.map(|x| Value::String(f(x))).unwrap_or(Value::Null)
}

impl Order {
    pub(crate) fn is_open(&self) -> bool {
        OPEN.contains(&self.status.as_str())
    }

    pub(crate) fn to_json(&self, nested: bool, _now: Timestamp) -> Value {
        let mut v = json!({
            "id": self.id,
            "client_order_id": self.client_order_id,
            "created_at": self.created_at.rfc3339_micros(),
            "updated_at": self.updated_at.rfc3339_micros(),
            "submitted_at": self.created_at.rfc3339_micros(),
            "filled_at": opt_time(self.filled_at),
            "expired_at": Value::Null,
            "expires_at": self.expires_at.rfc3339_micros(),
            "canceled_at": opt_time(self.canceled_at),
            "failed_at": Value::Null,
            "replaced_at": opt_time(self.replaced_at),
            "replaced_by": self.replaced_by,
            "replaces": self.replaces,
            "asset_id": self.asset_id,
            "symbol": self.symbol,
            "asset_class": self.asset_class,
            "notional": opt_num(self.notional, crate::numbers::money),
            "qty": opt_num(self.qty, fmt_qty),
            "filled_qty": fmt_qty(self.filled_qty),
            "filled_avg_price": opt_num(self.filled_avg_price, price),
            "order_class": self.order_class,
            "order_type": self.kind,
            "type": self.kind,
            "side": self.side,
            "time_in_force": self.time_in_force,
            "limit_price": opt_num(self.limit_price, price),
            "stop_price": opt_num(self.stop_price, price),
            "trail_price": opt_num(self.trail_price, price),
            "trail_percent": opt_num(self.trail_percent, price),
            "hwm": Value::Null,
            "status": self.status,
            "extended_hours": self.extended_hours,
            "legs": Value::Null,
        });
        if let Some(pi) = &self.position_intent {
            v["position_intent"] = json!(pi);
        }
        if let Some(r) = self.ratio_qty {
            v["ratio_qty"] = json!(fmt_qty(r));
        }
        if let Some(role) = &self.group_role {
            v["group_role"] = json!(role);
        }
        if nested && !self.legs.is_empty() {
            v["legs"] = Value::Array(self.legs.iter().map(|l| l.to_json(false, _now)).collect());
        }
        v
    }
}

/// When a `day` order expires: 16:00 New York time today, or on the next weekday
/// once today's close has passed.
fn expiry(now: Timestamp, tif: &str) -> Timestamp {
    if tif == "day" || tif == "opg" || tif == "cls" {
        let today = now.date_eastern();
        let mut d: Date = today;
        if !d.is_weekday() || now >= d.at_eastern(16 * 3600) {
            d = d.next_weekday();
        }
        d.at_eastern(16 * 3600)
    } else {
        now.add_secs(90 * 86_400)
    }
}

fn field_str<'a>(m: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, ApiError> {
    match m.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::unprocessable(format!("{name} must be a string"))),
    }
}

fn enum_field<'a>(
    m: &'a Map<String, Value>,
    name: &str,
    allowed: &[&str],
) -> Result<Option<&'a str>, ApiError> {
    match field_str(m, name)? {
        Some(s) if !allowed.contains(&s) => {
            Err(ApiError::unprocessable(format!("invalid {name}: {s}")))
        }
        other => Ok(other),
    }
}

fn decimal_field(m: &Map<String, Value>, name: &str) -> Result<Option<f64>, ApiError> {
    parse_decimal(m.get(name)).map_err(|_| ApiError::unprocessable(format!("invalid {name}")))
}

fn positive(m: &Map<String, Value>, name: &str) -> Result<Option<f64>, ApiError> {
    match decimal_field(m, name)? {
        Some(x) if x <= 0.0 => Err(ApiError::unprocessable(format!("{name} must be > 0"))),
        other => Ok(other),
    }
}

/// What an order is on.
struct Instrument {
    symbol: String,
    asset_id: String,
    class: String,
    exchange: String,
    multiplier: f64,
}

fn instrument(symbol: &str) -> Result<Instrument, ApiError> {
    if let Some(a) = assets::find(symbol) {
        if !a.active {
            return Err(ApiError::unprocessable(format!(
                "asset {} is not active",
                a.symbol
            )));
        }
        return Ok(Instrument {
            symbol: a.symbol.to_string(),
            asset_id: a.id(),
            class: a.class.to_string(),
            exchange: a.exchange.to_string(),
            multiplier: 1.0,
        });
    }
    if let Some(occ) = Occ::parse(symbol)
        && assets::find(&occ.root).is_some_and(|a| a.has_options)
    {
        return Ok(Instrument {
            symbol: occ.symbol(),
            asset_id: crate::ids::stable_uuid(&occ.symbol()),
            class: "us_option".into(),
            exchange: String::new(),
            multiplier: 100.0,
        });
    }
    Err(ApiError::unprocessable(format!(
        "asset \"{symbol}\" not found"
    )))
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
    let kind =
        enum_field(m, "type", TYPES)?.ok_or_else(|| ApiError::unprocessable("type is required"))?;
    let tif = enum_field(m, "time_in_force", TIFS)?
        .ok_or_else(|| ApiError::unprocessable("time_in_force is required"))?;
    let class = match enum_field(m, "order_class", CLASSES)? {
        None | Some("") => "simple",
        Some(c) => c,
    };
    let intent = enum_field(m, "position_intent", INTENTS)?.map(str::to_string);
    let qty = positive(m, "qty")?;
    let notional = positive(m, "notional")?;
    let limit_price = positive(m, "limit_price")?;
    let stop_price = positive(m, "stop_price")?;
    let trail_price = positive(m, "trail_price")?;
    let trail_percent = positive(m, "trail_percent")?;
    let extended_hours = match m.get("extended_hours") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::unprocessable("extended_hours must be a boolean")),
    };
    match (qty, notional) {
        (None, None) => return Err(ApiError::unprocessable("qty or notional is required")),
        (Some(_), Some(_)) => {
            return Err(ApiError::unprocessable(
                "only one of qty or notional may be given",
            ));
        }
        (None, Some(_)) if kind != "market" => {
            return Err(ApiError::unprocessable(
                "notional orders must be market orders",
            ));
        }
        _ => {}
    }
    match kind {
        "limit" if limit_price.is_none() => {
            return Err(ApiError::unprocessable("limit_price is required"));
        }
        "stop" if stop_price.is_none() => {
            return Err(ApiError::unprocessable("stop_price is required"));
        }
        "stop_limit" if limit_price.is_none() || stop_price.is_none() => {
            return Err(ApiError::unprocessable(
                "stop_limit orders need limit_price and stop_price",
            ));
        }
        "trailing_stop" if trail_price.is_some() == trail_percent.is_some() => {
            return Err(ApiError::unprocessable(
                "exactly one of trail_price or trail_percent is required",
            ));
        }
        _ => {}
    }
    let client_order_id = field_str(m, "client_order_id")?.map(str::to_string);
    if client_order_id.as_ref().is_some_and(|c| c.len() > 128) {
        return Err(ApiError::unprocessable(
            "client_order_id must be at most 128 characters",
        ));
    }

    let mut book = state.book();
    if let Some(c) = &client_order_id
        && book.orders.iter().any(|o| &o.client_order_id == c)
    {
        return Err(ApiError::unprocessable("client_order_id must be unique"));
    }

    let (inst, side, legs_in) = if class == "mleg" {
        let legs = m
            .get("legs")
            .and_then(Value::as_array)
            .filter(|l| (2..=4).contains(&l.len()))
            .ok_or_else(|| ApiError::unprocessable("mleg orders need 2 to 4 legs"))?;
        if qty.is_none() {
            return Err(ApiError::unprocessable("mleg orders need qty"));
        }
        let mut parsed = Vec::new();
        for leg in legs {
            let lm = leg
                .as_object()
                .ok_or_else(|| ApiError::unprocessable("each leg must be an object"))?;
            let sym = field_str(lm, "symbol")?
                .ok_or_else(|| ApiError::unprocessable("leg symbol is required"))?;
            let ratio = positive(lm, "ratio_qty")?
                .ok_or_else(|| ApiError::unprocessable("leg ratio_qty is required"))?;
            let leg_side = enum_field(lm, "side", &["buy", "sell"])?
                .unwrap_or("buy")
                .to_string();
            let leg_intent = enum_field(lm, "position_intent", INTENTS)?.map(str::to_string);
            parsed.push((instrument(sym)?, ratio, leg_side, leg_intent));
        }
        (None, String::new(), parsed)
    } else {
        let sym =
            field_str(m, "symbol")?.ok_or_else(|| ApiError::unprocessable("symbol is required"))?;
        let side = enum_field(m, "side", &["buy", "sell"])?
            .ok_or_else(|| ApiError::unprocessable("side is required"))?;
        (Some(instrument(sym)?), side.to_string(), Vec::new())
    };

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
        let take_profit = m
            .get("take_profit")
            .and_then(Value::as_object)
            .map(|tp| positive(tp, "limit_price"))
            .transpose()?
            .flatten();
        let stop_loss = m.get("stop_loss").and_then(Value::as_object);
        let sl_stop = stop_loss
            .map(|sl| positive(sl, "stop_price"))
            .transpose()?
            .flatten();
        let sl_limit = stop_loss
            .map(|sl| positive(sl, "limit_price"))
            .transpose()?
            .flatten();
        if class == "bracket" && (take_profit.is_none() || sl_stop.is_none()) {
            return Err(ApiError::unprocessable(
                "bracket orders need take_profit.limit_price and stop_loss.stop_price",
            ));
        }
        if take_profit.is_none() && sl_stop.is_none() {
            return Err(ApiError::unprocessable(
                "take_profit or stop_loss is required",
            ));
        }
        let mut exits = Vec::new();
        if let Some(tp) = take_profit {
            exits.push(("take_profit", "limit", Some(tp), None));
        }
        if let Some(sp) = sl_stop {
            exits.push((
                "stop_loss",
                if sl_limit.is_some() {
                    "stop_limit"
                } else {
                    "stop"
                },
                sl_limit,
                Some(sp),
            ));
        }
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
