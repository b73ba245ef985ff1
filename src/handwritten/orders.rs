//! Order placement: `place_stock_order`, `place_crypto_order`, `place_option_order`.
//!
//! Every rule is checked before anything is sent, each failure naming the rule. An order is
//! never sent twice: a `client_order_id` is generated when absent, and when the response is
//! lost (timeout, dropped connection) the tool does not retry; it looks the order up by that
//! id and reports placed, not placed, or unknown.

use rmcp::model::CallToolResult;
use serde_json::{Map, Value, json};

use super::args::Args;
use super::decimal::Decimal;
use super::guarded::{self, Guard};
use super::{Ctx, HandTool};
use crate::safety::Kind;

use crate::envelope;
use crate::runtime::JsonObject;
use crate::trading::params::PostOrder;

/// The order tools.
pub static TOOLS: &[HandTool] = &[
    HandTool {
        name: "place_stock_order",
        schema: stock_schema,
        call: |ctx, args| Box::pin(place(ctx, args, Kind::Stock)),
    },
    HandTool {
        name: "place_crypto_order",
        schema: crypto_schema,
        call: |ctx, args| Box::pin(place(ctx, args, Kind::Crypto)),
    },
    HandTool {
        name: "place_option_order",
        schema: option_schema,
        call: |ctx, args| Box::pin(place(ctx, args, Kind::Option)),
    },
    HandTool {
        name: "confirm_order",
        schema: confirm_schema,
        call: |ctx, args| Box::pin(confirm(ctx, args)),
    },
    HandTool {
        name: "cancel_confirmation",
        schema: confirm_schema,
        call: |ctx, args| Box::pin(cancel_confirmation(ctx, args)),
    },
];

const SIDES: &[&str] = &["buy", "sell"];
const STOCK_TYPES: &[&str] = &["market", "limit", "stop", "stop_limit", "trailing_stop"];
const CRYPTO_TYPES: &[&str] = &["market", "limit", "stop_limit"];
const OPTION_TYPES: &[&str] = &["market", "limit", "stop", "stop_limit"];
const STOCK_TIFS: &[&str] = &["day", "gtc", "opg", "cls", "ioc", "fok"];
const CRYPTO_TIFS: &[&str] = &["gtc", "ioc"];
const OPTION_TIFS: &[&str] = &["day", "gtc"];
const STOCK_CLASSES: &[&str] = &["simple", "bracket", "oco", "oto"];
const INTENTS: &[&str] = &[
    "buy_to_open",
    "buy_to_close",
    "sell_to_open",
    "sell_to_close",
];

/// A price or quantity: a decimal string (numbers are accepted and normalized too; the format
/// is checked on arrival, so the schema stays short).
fn decimal_prop() -> Value {
    json!({"type": "string"})
}

fn stock_schema() -> Value {
    json!({
        "properties": {
            "symbol": {"type": "string"},
            "side": {"type": "string", "enum": SIDES},
            "qty": decimal_prop(),
            "notional": decimal_prop(),
            "type": {"type": "string", "enum": STOCK_TYPES, "default": "market"},
            "time_in_force": {"type": "string", "enum": STOCK_TIFS, "default": "day"},
            "limit_price": decimal_prop(),
            "stop_price": decimal_prop(),
            "trail_price": decimal_prop(),
            "trail_percent": decimal_prop(),
            "extended_hours": {"type": "boolean", "default": false},
            "client_order_id": {"type": "string", "maxLength": 128},
            "order_class": {"type": "string", "enum": STOCK_CLASSES},
            "take_profit_limit_price": decimal_prop(),
            "stop_loss_stop_price": decimal_prop(),
            "stop_loss_limit_price": decimal_prop(),
            "advanced_instructions": {"type": "object"}
        },
        "required": ["symbol", "side"]
    })
}

fn crypto_schema() -> Value {
    json!({
        "properties": {
            "symbol": {"type": "string"},
            "side": {"type": "string", "enum": SIDES},
            "qty": decimal_prop(),
            "notional": decimal_prop(),
            "type": {"type": "string", "enum": CRYPTO_TYPES, "default": "market"},
            "time_in_force": {"type": "string", "enum": CRYPTO_TIFS, "default": "gtc"},
            "limit_price": decimal_prop(),
            "stop_price": decimal_prop(),
            "client_order_id": {"type": "string", "maxLength": 128}
        },
        "required": ["symbol", "side"]
    })
}

fn option_schema() -> Value {
    json!({
        "properties": {
            "qty": decimal_prop(),
            "type": {"type": "string", "enum": OPTION_TYPES, "default": "market"},
            "time_in_force": {"type": "string", "enum": OPTION_TIFS, "default": "day"},
            "symbol": {"type": "string"},
            "side": {"type": "string", "enum": SIDES},
            "position_intent": {"type": "string", "enum": INTENTS},
            "limit_price": {"type": "string"},
            "stop_price": decimal_prop(),
            "client_order_id": {"type": "string", "maxLength": 128},
            "order_class": {"type": "string", "enum": ["simple", "mleg"]},
            "legs": {
                "type": "array",
                "minItems": 2,
                "maxItems": 4,
                "items": {
                    "type": "object",
                    "properties": {
                        "symbol": {"type": "string"},
                        "ratio_qty": {"type": "integer", "minimum": 1},
                        "side": {"type": "string", "enum": SIDES},
                        "position_intent": {"type": "string", "enum": INTENTS}
                    },
                    "required": ["symbol", "ratio_qty", "side"],
                    "additionalProperties": false
                }
            }
        },
        "required": ["qty"]
    })
}

/// Whether `s` is an OCC option symbol: root (1-6 letters), YYMMDD, C or P, strike x 1000 in
/// eight digits, e.g. `AAPL250117C00150000`.
pub fn is_occ(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 16 || b.len() > 21 {
        return false;
    }
    let root = b.len() - 15;
    let (r, rest) = b.split_at(root);
    r.iter().all(u8::is_ascii_uppercase)
        && rest[..6].iter().all(u8::is_ascii_digit)
        && matches!(rest[6], b'C' | b'P')
        && rest[7..].iter().all(u8::is_ascii_digit)
        && valid_date(&rest[..6])
}

fn valid_date(yymmdd: &[u8]) -> bool {
    let n = |i: usize| ((yymmdd[i] - b'0') * 10 + (yymmdd[i + 1] - b'0')) as u32;
    (1..=12).contains(&n(2)) && (1..=31).contains(&n(4))
}

fn put(body: &mut Map<String, Value>, key: &str, value: Option<impl Into<Value>>) {
    if let Some(v) = value {
        body.insert(key.to_string(), v.into());
    }
}

fn dec(d: &Option<Decimal>) -> Option<Value> {
    d.as_ref().map(|d| Value::String(d.0.clone()))
}

/// Checks the arguments and builds Alpaca's order body.
fn build(args: &Args, kind: Kind) -> Result<Map<String, Value>, String> {
    match kind {
        Kind::Stock => build_stock(args),
        Kind::Crypto => build_crypto(args),
        Kind::Option => build_option(args),
    }
}

/// The prices each order type needs, and no others: limit_price for limit and stop_limit,
/// stop_price for stop and stop_limit.
fn price_rules(
    order_type: &str,
    limit_price: &Option<Decimal>,
    stop_price: &Option<Decimal>,
) -> Result<(), String> {
    let needs_limit = matches!(order_type, "limit" | "stop_limit");
    let needs_stop = matches!(order_type, "stop" | "stop_limit");
    if needs_limit && limit_price.is_none() {
        return Err(format!("type={order_type} needs limit_price"));
    }
    if !needs_limit && limit_price.is_some() {
        return Err(format!(
            "limit_price is only for limit and stop_limit orders (this is type={order_type})"
        ));
    }
    if needs_stop && stop_price.is_none() {
        return Err(format!("type={order_type} needs stop_price"));
    }
    if !needs_stop && stop_price.is_some() {
        return Err(format!(
            "stop_price is only for stop and stop_limit orders (this is type={order_type})"
        ));
    }
    Ok(())
}

/// Rules shared by stock and crypto orders: quantity or notional, and the prices each type needs.
fn common(
    args: &Args,
    types: &[&str],
    tifs: &[&str],
    default_tif: &str,
) -> Result<Map<String, Value>, String> {
    let side = args
        .choice("side", SIDES, None)?
        .ok_or("argument `side` is required (buy or sell)")?;
    let order_type = args
        .choice("type", types, Some("market"))?
        .unwrap_or_default();
    let tif = args
        .choice("time_in_force", tifs, Some(default_tif))?
        .unwrap_or_default();
    let qty = args.decimal("qty")?;
    let notional = args.decimal("notional")?;
    match (&qty, &notional) {
        (Some(_), Some(_)) | (None, None) => {
            return Err("give exactly one of qty and notional".into());
        }
        _ => {}
    }
    if notional.is_some() && order_type != "market" {
        return Err(format!(
            "notional works only with type=market (this is type={order_type}); give qty instead"
        ));
    }
    let limit_price = args.decimal("limit_price")?;
    let stop_price = args.decimal("stop_price")?;
    price_rules(&order_type, &limit_price, &stop_price)?;
    let mut body = Map::new();
    put(&mut body, "side", Some(side));
    put(&mut body, "type", Some(order_type));
    put(&mut body, "time_in_force", Some(tif));
    put(&mut body, "qty", dec(&qty));
    put(&mut body, "notional", dec(&notional));
    put(&mut body, "limit_price", dec(&limit_price));
    put(&mut body, "stop_price", dec(&stop_price));
    Ok(body)
}

fn build_stock(args: &Args) -> Result<Map<String, Value>, String> {
    let symbol = args.required("symbol")?.to_ascii_uppercase();
    if symbol.contains('/') {
        return Err(format!(
            "{symbol} looks like a crypto pair: use place_crypto_order"
        ));
    }
    if is_occ(&symbol) {
        return Err(format!(
            "{symbol} is an option contract: use place_option_order"
        ));
    }
    let mut body = common(args, STOCK_TYPES, STOCK_TIFS, "day")?;
    let order_type = body["type"].as_str().unwrap_or_default().to_string();
    let tif = body["time_in_force"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let trail_price = args.decimal("trail_price")?;
    let trail_percent = args.decimal("trail_percent")?;
    if order_type == "trailing_stop" {
        if trail_price.is_some() == trail_percent.is_some() {
            return Err(
                "type=trailing_stop needs exactly one of trail_price and trail_percent".into(),
            );
        }
    } else if trail_price.is_some() || trail_percent.is_some() {
        return Err(format!(
            "trail_price and trail_percent are only for trailing_stop orders (this is type={order_type})"
        ));
    }
    let extended_hours = args.boolean("extended_hours")?.unwrap_or(false);
    if extended_hours && !(order_type == "limit" && matches!(tif.as_str(), "day" | "gtc")) {
        return Err(format!(
            "extended_hours works only for type=limit with time_in_force day or gtc (this is type={order_type}, time_in_force={tif})"
        ));
    }
    let take_profit = args.decimal("take_profit_limit_price")?;
    let stop_loss_stop = args.decimal("stop_loss_stop_price")?;
    let stop_loss_limit = args.decimal("stop_loss_limit_price")?;
    let has_legs = take_profit.is_some() || stop_loss_stop.is_some() || stop_loss_limit.is_some();
    let class = match args.choice("order_class", STOCK_CLASSES, None)? {
        Some(c) => c,
        None if has_legs => "bracket".to_string(),
        None => "simple".to_string(),
    };
    if stop_loss_limit.is_some() && stop_loss_stop.is_none() {
        return Err("stop_loss_limit_price needs stop_loss_stop_price".into());
    }
    match class.as_str() {
        "simple" if has_legs => {
            return Err("take_profit_limit_price and stop_loss_* make a bracket, oco or oto order, not order_class=simple".into());
        }
        "bracket" | "oco" if take_profit.is_none() || stop_loss_stop.is_none() => {
            return Err(format!(
                "order_class={class} needs both take_profit_limit_price and stop_loss_stop_price"
            ));
        }
        "oto" if take_profit.is_some() == stop_loss_stop.is_some() => {
            return Err("order_class=oto needs exactly one of take_profit_limit_price and stop_loss_stop_price".into());
        }
        _ => {}
    }
    body.insert("symbol".into(), Value::String(symbol));
    put(&mut body, "trail_price", dec(&trail_price));
    put(&mut body, "trail_percent", dec(&trail_percent));
    if extended_hours {
        body.insert("extended_hours".into(), Value::Bool(true));
    }
    if class != "simple" {
        body.insert("order_class".into(), Value::String(class));
    }
    if let Some(tp) = take_profit {
        body.insert("take_profit".into(), json!({"limit_price": tp.0}));
    }
    if let Some(sl) = stop_loss_stop {
        let mut leg = Map::new();
        leg.insert("stop_price".into(), Value::String(sl.0));
        put(&mut leg, "limit_price", dec(&stop_loss_limit));
        body.insert("stop_loss".into(), Value::Object(leg));
    }
    put(
        &mut body,
        "advanced_instructions",
        args.object("advanced_instructions")?,
    );
    Ok(body)
}

fn build_crypto(args: &Args) -> Result<Map<String, Value>, String> {
    let symbol = args.required("symbol")?.to_ascii_uppercase();
    if !symbol.contains('/') || symbol.starts_with('/') || symbol.ends_with('/') {
        return Err(format!(
            "crypto symbols are pairs with a slash, like BTC/USD (got {symbol})"
        ));
    }
    let mut body = common(args, CRYPTO_TYPES, CRYPTO_TIFS, "gtc")?;
    body.insert("symbol".into(), Value::String(symbol));
    Ok(body)
}

fn build_option(args: &Args) -> Result<Map<String, Value>, String> {
    let qty = args
        .decimal("qty")?
        .ok_or("argument `qty` is required (a whole number of contracts)")?;
    if !qty.is_whole() {
        return Err(format!(
            "option qty must be a whole number of contracts (got {qty})"
        ));
    }
    let order_type = args
        .choice("type", OPTION_TYPES, Some("market"))?
        .unwrap_or_default();
    let tif = args
        .choice("time_in_force", OPTION_TIFS, Some("day"))?
        .unwrap_or_default();
    let legs = args.array("legs")?;
    // A multi-leg limit price is net: positive a debit, negative a credit.
    let limit_price = if legs.is_some() {
        args.signed_decimal("limit_price")?
    } else {
        args.decimal("limit_price")?
    };
    let stop_price = args.decimal("stop_price")?;
    price_rules(&order_type, &limit_price, &stop_price)?;
    let class = args.choice("order_class", &["simple", "mleg"], None)?;
    let mut body = Map::new();
    put(&mut body, "qty", Some(qty.0));
    put(&mut body, "type", Some(order_type));
    put(&mut body, "time_in_force", Some(tif));
    put(&mut body, "limit_price", dec(&limit_price));
    put(&mut body, "stop_price", dec(&stop_price));
    match legs {
        None => {
            if class.as_deref() == Some("mleg") {
                return Err("order_class=mleg needs legs (2 to 4)".into());
            }
            let symbol = args
                .string("symbol")?
                .ok_or("a single-leg option order needs symbol and side")?
                .to_ascii_uppercase();
            let side = args
                .choice("side", SIDES, None)?
                .ok_or("a single-leg option order needs symbol and side")?;
            if !is_occ(&symbol) {
                return Err(format!(
                    "{symbol} is not an OCC option symbol like AAPL250117C00150000"
                ));
            }
            body.insert("symbol".into(), Value::String(symbol));
            body.insert("side".into(), Value::String(side));
            put(
                &mut body,
                "position_intent",
                args.choice("position_intent", INTENTS, None)?,
            );
        }
        Some(legs) => {
            if class.as_deref() == Some("simple") {
                return Err(
                    "legs make a multi-leg order: use order_class=mleg or leave it out".into(),
                );
            }
            if args.string("symbol")?.is_some()
                || args.string("side")?.is_some()
                || args.string("position_intent")?.is_some()
            {
                return Err("a multi-leg order takes symbol, side and position_intent inside each leg, not at the top".into());
            }
            if !(2..=4).contains(&legs.len()) {
                return Err(format!(
                    "a multi-leg order needs 2 to 4 legs (got {})",
                    legs.len()
                ));
            }
            let mut seen = std::collections::BTreeSet::new();
            let mut out = Vec::new();
            for (i, leg) in legs.iter().enumerate() {
                let Value::Object(leg) = leg else {
                    return Err(format!("legs[{i}] must be an object"));
                };
                let leg = Args(leg.clone());
                leg.only(&["symbol", "ratio_qty", "side", "position_intent"])
                    .map_err(|e| format!("legs[{i}]: {e}"))?;
                let symbol = leg
                    .required("symbol")
                    .map_err(|e| format!("legs[{i}]: {e}"))?
                    .to_ascii_uppercase();
                if !is_occ(&symbol) {
                    return Err(format!(
                        "legs[{i}]: {symbol} is not an OCC option symbol like AAPL250117C00150000"
                    ));
                }
                if !seen.insert(symbol.clone()) {
                    return Err(format!(
                        "legs[{i}]: {symbol} appears in two legs; each leg needs its own contract"
                    ));
                }
                let ratio = leg
                    .integer("ratio_qty", 1, 1_000_000)
                    .map_err(|_| format!("legs[{i}]: ratio_qty must be a positive whole number"))?
                    .ok_or(format!("legs[{i}]: ratio_qty is required"))?;
                let side = leg
                    .choice("side", SIDES, None)
                    .map_err(|e| format!("legs[{i}]: {e}"))?
                    .ok_or(format!("legs[{i}]: side is required"))?;
                let mut l = Map::new();
                l.insert("symbol".into(), Value::String(symbol));
                l.insert("ratio_qty".into(), Value::String(ratio.to_string()));
                l.insert("side".into(), Value::String(side));
                put(
                    &mut l,
                    "position_intent",
                    leg.choice("position_intent", INTENTS, None)
                        .map_err(|e| format!("legs[{i}]: {e}"))?,
                );
                out.push(Value::Object(l));
            }
            body.insert("order_class".into(), Value::String("mleg".into()));
            body.insert("legs".into(), Value::Array(out));
        }
    }
    Ok(body)
}

async fn place(ctx: Ctx<'_>, args: JsonObject, kind: Kind) -> CallToolResult {
    let tool = kind.tool();
    let args = Args(args);
    let refuse = |why: String| {
        envelope::error_text(format!(
            "{tool} was not called: {why}. Nothing was sent to Alpaca."
        ))
    };
    let mut body = match build(&args, kind) {
        Ok(b) => b,
        Err(rule) => return refuse(rule),
    };
    let (client_order_id, cid_given) = match args.string("client_order_id") {
        Ok(Some(id)) if id.len() <= 128 => (id, true),
        Ok(Some(_)) => return refuse("client_order_id is longer than 128 characters".into()),
        Ok(None) => (uuid::Uuid::new_v4().to_string(), false),
        Err(e) => return refuse(e),
    };
    body.insert("client_order_id".into(), Value::String(client_order_id));
    // The body must fit Alpaca's order schema, and its arguments the checks every request
    // makes (the symbol alphabet among them), before anything else happens.
    let request = match serde_json::from_value::<PostOrder>(Value::Object(body)) {
        Err(e) => return refuse(format!("the order did not fit Alpaca's order schema ({e})")),
        Ok(order) => match order.to_request() {
            Ok(r) => r,
            Err(e) => return refuse(e.to_string()),
        },
    };
    guarded::submit(ctx, tool, Guard::PlaceOrder, Some(kind), request, cid_given).await
}

fn confirm_schema() -> Value {
    json!({"properties": {"confirmation_id": {"type": "string"}}, "required": ["confirmation_id"]})
}

async fn confirm(ctx: Ctx<'_>, args: JsonObject) -> CallToolResult {
    match Args(args).required("confirmation_id") {
        Ok(id) => guarded::confirm(ctx, id).await,
        Err(e) => envelope::error_text(format!("confirm_order: {e}. Nothing was sent to Alpaca.")),
    }
}

async fn cancel_confirmation(ctx: Ctx<'_>, args: JsonObject) -> CallToolResult {
    match Args(args).required("confirmation_id") {
        Ok(id) => guarded::drop_confirmation(&ctx, id).await,
        Err(e) => envelope::error_text(format!("cancel_confirmation: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn occ_symbols() {
        assert!(is_occ("AAPL250117C00150000"));
        assert!(is_occ("SPY251219P00400000"));
        assert!(is_occ("F250117C00010000"));
        assert!(!is_occ("AAPL"));
        assert!(!is_occ("AAPL251317C00150000"), "month 13");
        assert!(!is_occ("AAPL250117X00150000"));
        assert!(!is_occ("aapl250117C00150000"));
        assert!(!is_occ("TOOLONGX250117C00150000"));
    }

    #[test]
    fn descriptions_read_like_the_order() {
        let args = Args(serde_json::from_value(json!({"symbol": "nvda", "side": "buy", "qty": 10, "type": "limit", "limit_price": 120.5})).unwrap());
        let body = build(&args, Kind::Stock).unwrap();
        assert_eq!(
            guarded::describe_order(&body),
            "buy 10 NVDA limit day, limit 120.5"
        );
    }
}
