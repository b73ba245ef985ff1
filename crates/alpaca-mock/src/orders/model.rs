//! The order model: an order as the book keeps it and as the API prints it.

use serde_json::{Value, json};

use crate::numbers::{price, qty as fmt_qty};
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

pub(crate) const OPEN: &[&str] = &[
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

pub(crate) const TYPES: &[&str] = &["market", "limit", "stop", "stop_limit", "trailing_stop"];
pub(crate) const TIFS: &[&str] = &["day", "gtc", "opg", "cls", "ioc", "fok"];
pub(crate) const CLASSES: &[&str] = &["simple", "bracket", "oco", "oto", "mleg", ""];
pub(crate) const INTENTS: &[&str] = &[
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
pub(crate) fn expiry(now: Timestamp, tif: &str) -> Timestamp {
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
