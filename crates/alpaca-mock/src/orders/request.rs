//! Reading an order request's fields: each checked as Alpaca checks it (422 with the field's
//! name), and the instrument a symbol names.

use serde_json::{Map, Value};

use super::model::{CLASSES, INTENTS, TIFS, TYPES};
use crate::assets;
use crate::errors::ApiError;
use crate::market::model::Occ;
use crate::numbers::parse_decimal;

pub(crate) fn field_str<'a>(
    m: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, ApiError> {
    match m.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::unprocessable(format!("{name} must be a string"))),
    }
}

pub(crate) fn enum_field<'a>(
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

pub(crate) fn decimal_field(m: &Map<String, Value>, name: &str) -> Result<Option<f64>, ApiError> {
    parse_decimal(m.get(name)).map_err(|_| ApiError::unprocessable(format!("invalid {name}")))
}

pub(crate) fn positive(m: &Map<String, Value>, name: &str) -> Result<Option<f64>, ApiError> {
    match decimal_field(m, name)? {
        Some(x) if x <= 0.0 => Err(ApiError::unprocessable(format!("{name} must be > 0"))),
        other => Ok(other),
    }
}

/// What an order is on.
pub(crate) struct Instrument {
    pub(crate) symbol: String,
    pub(crate) asset_id: String,
    pub(crate) class: String,
    pub(crate) exchange: String,
    pub(crate) multiplier: f64,
}

pub(crate) fn instrument(symbol: &str) -> Result<Instrument, ApiError> {
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

/// An order request's own fields, checked on their own and against each other (nothing
/// here looks at the account).
pub(crate) struct Fields<'a> {
    pub(crate) kind: &'a str,
    pub(crate) tif: &'a str,
    pub(crate) class: &'a str,
    pub(crate) intent: Option<String>,
    pub(crate) qty: Option<f64>,
    pub(crate) notional: Option<f64>,
    pub(crate) limit_price: Option<f64>,
    pub(crate) stop_price: Option<f64>,
    pub(crate) trail_price: Option<f64>,
    pub(crate) trail_percent: Option<f64>,
    pub(crate) extended_hours: bool,
    pub(crate) client_order_id: Option<String>,
}

/// Reads and checks [`Fields`].
pub(crate) fn fields(m: &Map<String, Value>) -> Result<Fields<'_>, ApiError> {
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
    Ok(Fields {
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
    })
}

/// A leg of a multi-leg order: its instrument, ratio, side and intent.
pub(crate) type Leg = (Instrument, f64, String, Option<String>);

/// What the order is on: one instrument and its side, or (`mleg`) its legs.
pub(crate) fn instruments(
    m: &Map<String, Value>,
    class: &str,
    qty: Option<f64>,
) -> Result<(Option<Instrument>, String, Vec<Leg>), ApiError> {
    Ok(if class == "mleg" {
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
    })
}

/// A bracket, OCO or OTO order's exits: role, type, limit and stop price.
pub(crate) type Exit = (&'static str, &'static str, Option<f64>, Option<f64>);

/// The exits of a bracket, OCO or OTO order (`class`).
pub(crate) fn exits(m: &Map<String, Value>, class: &str) -> Result<Vec<Exit>, ApiError> {
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
    let mut exits: Vec<Exit> = Vec::new();
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
    Ok(exits)
}
