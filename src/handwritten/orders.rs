//! Order placement: `place_stock_order`, `place_crypto_order`, `place_option_order`.
//!
//! Every rule is checked before anything is sent, each failure naming the rule. An order is
//! never sent twice: a `client_order_id` is generated when absent, and when the response is
//! lost (timeout, dropped connection) the tool does not retry; it looks the order up by that
//! id and reports placed, not placed, or unknown.

use rmcp::model::{CallToolResult, ElicitRequestParams, ElicitationAction, ElicitationSchema};
use rmcp::service::ElicitationMode;
use rmcp::{Peer, RoleServer};
use serde_json::{Map, Value, json};

use super::args::Args;
use super::decimal::Decimal;
use super::{Ctx, HandTool};
use std::time::{Duration, Instant};

use crate::envelope;
use crate::runtime::{ApiRequest, Error, JsonObject, Method, Risk};
use crate::safety::Pending;
use crate::trading::params::{GetOrderByClientOrderId, PostOrder};

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

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Stock,
    Crypto,
    Option,
}

impl Kind {
    fn tool(self) -> &'static str {
        match self {
            Kind::Stock => "place_stock_order",
            Kind::Crypto => "place_crypto_order",
            Kind::Option => "place_option_order",
        }
    }
}

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

/// One line saying what the order is.
fn describe(body: &Map<String, Value>) -> String {
    let s = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or("");
    let amount = match body.get("notional").and_then(Value::as_str) {
        Some(n) => format!("${n} of"),
        None => s("qty").to_string(),
    };
    let what = if body.contains_key("legs") {
        format!(
            "{}-leg option order",
            body["legs"].as_array().map_or(0, Vec::len)
        )
    } else {
        format!("{} {amount} {}", s("side"), s("symbol"))
    };
    let mut text = format!("{what} {} {}", s("type"), s("time_in_force"));
    for (k, label) in [
        ("limit_price", "limit"),
        ("stop_price", "stop"),
        ("trail_price", "trail"),
        ("trail_percent", "trail %"),
    ] {
        if let Some(v) = body.get(k).and_then(Value::as_str) {
            text.push_str(&format!(", {label} {v}"));
        }
    }
    if let Some(c) = body.get("order_class").and_then(Value::as_str) {
        text.push_str(&format!(", class {c}"));
    }
    text
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
    let client_order_id = match args.string("client_order_id") {
        Ok(Some(id)) if id.len() <= 128 => id,
        Ok(Some(_)) => return refuse("client_order_id is longer than 128 characters".into()),
        Ok(None) => uuid::Uuid::new_v4().to_string(),
        Err(e) => return refuse(e),
    };
    body.insert("client_order_id".into(), Value::String(client_order_id));
    // The body must fit Alpaca's order schema, and its arguments the checks every request
    // makes (the symbol alphabet among them), before anything else happens.
    match serde_json::from_value::<PostOrder>(Value::Object(body.clone())) {
        Err(e) => return refuse(format!("the order did not fit Alpaca's order schema ({e})")),
        Ok(order) => {
            if let Err(e) = order.to_request() {
                return refuse(e.to_string());
            }
        }
    }
    let value = match guard(&ctx, kind, &body).await {
        Ok(v) => v,
        Err(why) => return refuse(why),
    };
    let what = describe(&body);
    if ctx.safety.config.confirm_orders {
        let ttl = ctx.safety.config.confirm_ttl;
        let id = ctx.safety.hold(Pending {
            session: ctx.session,
            tool,
            body: body.clone(),
            what: what.clone(),
            expires: Instant::now() + ttl,
        });
        let cost = match value {
            Some(v) => format!(
                "Estimated value about {v:.2} from the latest quote and the order's prices."
            ),
            None => "No quote was available, so there is no cost estimate.".to_string(),
        };
        let account = if ctx.mode == "live" {
            "LIVE (real money)"
        } else {
            "Paper"
        };
        let question = format!("Place this order? {account} account: {what}. {cost}");
        let asked = match ctx.peer {
            Some(peer) => ask_user(peer, question, ttl).await,
            None => Asked::CannotAsk(None),
        };
        match asked {
            Asked::Approved => {
                return match ctx.safety.take(&id, ctx.session) {
                    Ok(pending) => send_held(&ctx, pending, tool).await,
                    Err(e) => {
                        envelope::error_text(format!("{tool}: {e}. Nothing was sent to Alpaca."))
                    }
                };
            }
            Asked::Refused(action) => {
                let _ = ctx.safety.take(&id, ctx.session);
                return envelope::with_summary(
                    json!({"placed": false, "user_answer": action, "order": body}),
                    Risk::ApiData,
                    ctx.mode,
                    format!(
                        "NOT PLACED: the user was asked and answered {action}. Nothing was sent to Alpaca ({what})."
                    ),
                );
            }
            Asked::CannotAsk(why) => {
                let mut data = json!({
                    "confirmation_id": id,
                    "expires_in_seconds": ttl.as_secs(),
                    "order": body,
                    "estimated_value": value,
                });
                let mut summary = format!(
                    "NOT SENT YET. {account} account: {what}. {cost} To send exactly this order call confirm_order with confirmation_id {id} within {} seconds; to drop it call cancel_confirmation. Ask the user before confirming.",
                    ttl.as_secs()
                );
                if let Some(why) = why {
                    summary.push_str(&format!(" (Asking the user directly failed: {why}.)"));
                    data["asking_failed"] = Value::String(why);
                }
                return envelope::with_summary(data, Risk::ApiData, ctx.mode, summary);
            }
        }
    }
    send(&ctx, tool, body, &what).await
}

/// What came of asking the user to approve a held order.
enum Asked {
    /// The user approved: send it.
    Approved,
    /// The user declined, cancelled or said no (the answer, for the result).
    Refused(&'static str),
    /// The client cannot ask (no elicitation support), or asking failed (why): the order stays
    /// held for `confirm_order`.
    CannotAsk(Option<String>),
}

/// Puts a held order to the user through MCP elicitation, when the client supports it; the
/// question expires with the confirmation.
async fn ask_user(peer: &Peer<RoleServer>, question: String, ttl: Duration) -> Asked {
    if !peer
        .supported_elicitation_modes()
        .contains(&ElicitationMode::Form)
    {
        return Asked::CannotAsk(None);
    }
    let schema = json!({
        "type": "object",
        "properties": {"confirm": {
            "type": "boolean",
            "title": "Place this order",
            "description": "Yes sends exactly this order to Alpaca; no drops it."
        }},
        "required": ["confirm"]
    });
    let Ok(requested_schema) =
        ElicitationSchema::from_json_schema(schema.as_object().cloned().unwrap_or_default())
    else {
        return Asked::CannotAsk(Some("the question could not be built".into()));
    };
    let params = ElicitRequestParams::FormElicitationParams {
        meta: None,
        message: question,
        requested_schema,
    };
    match peer
        .create_elicitation_with_timeout(params, Some(ttl))
        .await
    {
        Ok(answer) => match answer.action {
            ElicitationAction::Accept
                if answer.content.as_ref().and_then(|c| c.get("confirm"))
                    == Some(&Value::Bool(true)) =>
            {
                Asked::Approved
            }
            ElicitationAction::Accept => Asked::Refused("no"),
            ElicitationAction::Decline => Asked::Refused("decline"),
            // Cancel, and any answer a later protocol adds: not a yes.
            _ => Asked::Refused("cancel"),
        },
        // Unanswered until the confirmation expired: it can no longer be confirmed either.
        Err(rmcp::service::ServiceError::Timeout { .. }) => Asked::Refused("nothing in time"),
        Err(e) => Asked::CannotAsk(Some(e.to_string())),
    }
}

/// Sends a checked order once; a lost response is looked up, never resent.
async fn send(ctx: &Ctx<'_>, tool: &str, body: Map<String, Value>, what: &str) -> CallToolResult {
    if let Err(why) = ctx.safety.take_order_slot() {
        return envelope::error_text(format!(
            "{tool} was not called: {why}. Nothing was sent to Alpaca."
        ));
    }
    let client_order_id = body
        .get("client_order_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let params: PostOrder = match serde_json::from_value(Value::Object(body)) {
        Ok(p) => p,
        Err(e) => {
            return envelope::error_text(format!(
                "{tool}: the order did not fit Alpaca's order schema ({e}). Nothing was sent."
            ));
        }
    };
    let request = match params.to_request() {
        Ok(r) => r,
        Err(e) => {
            return envelope::error_text(format!(
                "{tool} was not called: {e}. Nothing was sent to Alpaca."
            ));
        }
    };
    match ctx.client.transport().send(request).await {
        Ok(response) => {
            let order = response.json().unwrap_or(Value::Null);
            placed(ctx.mode, what, &client_order_id, order, None)
        }
        Err(e @ (Error::Timeout | Error::Connection { sent: true, .. })) => {
            lost_response(ctx, tool, what, &client_order_id, &e).await
        }
        Err(e @ Error::Redirect { .. }) => envelope::error_text(format!(
            "{tool}: OUTCOME UNKNOWN. {e}. The order ({what}) may or may not have been placed at the configured host before it redirected: check with get_order_by_client_id client_order_id={client_order_id} before placing it again, and check TRADING_API_URL."
        )),
        Err(e) => envelope::api_error(tool, &e, true),
    }
}

/// The symbol guards, and the value guard (which needs the order's value: its notional, or its
/// quantity times the higher of its own prices and the latest quote). Returns the value.
async fn guard(
    ctx: &Ctx<'_>,
    kind: Kind,
    body: &Map<String, Value>,
) -> Result<Option<f64>, String> {
    let legs: Vec<(String, f64)> = match body.get("legs").and_then(Value::as_array) {
        Some(legs) => legs
            .iter()
            .map(|l| {
                let sym = l["symbol"].as_str().unwrap_or_default().to_string();
                (
                    sym,
                    l["ratio_qty"]
                        .as_str()
                        .and_then(|r| r.parse().ok())
                        .unwrap_or(1.0),
                )
            })
            .collect(),
        None => vec![(
            body.get("symbol")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            1.0,
        )],
    };
    for (symbol, _) in &legs {
        let underlying = (kind == Kind::Option).then(|| occ_root(symbol));
        ctx.safety.check_symbol(symbol, underlying)?;
    }
    let config = &ctx.safety.config;
    if config.max_order_notional.is_none() && !config.confirm_orders {
        return Ok(None);
    }
    let num = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .and_then(|v| v.parse::<f64>().ok())
    };
    if let Some(n) = num("notional") {
        ctx.safety.check_notional(Some(n), &legs[0].0)?;
        return Ok(Some(n));
    }
    let qty = num("qty").unwrap_or(0.0);
    let multiplier = if kind == Kind::Option { 100.0 } else { 1.0 };
    // A single leg's own prices count too: a high limit price cannot slip past the cap.
    let own = if legs.len() == 1 {
        [num("limit_price"), num("stop_price")]
            .into_iter()
            .flatten()
            .map(f64::abs)
            .reduce(f64::max)
    } else {
        None
    };
    let mut value = Some(0.0);
    for (symbol, ratio) in &legs {
        let price = match (latest_price(ctx, kind, symbol).await, own) {
            (Some(q), Some(o)) => Some(q.max(o)),
            (q, o) => q.or(o),
        };
        value = value
            .zip(price)
            .map(|(v, p)| v + p * qty * ratio * multiplier);
    }
    ctx.safety.check_notional(value, &legs[0].0)?;
    Ok(value)
}

/// The root of an OCC symbol (`AAPL` of `AAPL250117C00150000`).
fn occ_root(symbol: &str) -> &str {
    &symbol[..symbol.len().saturating_sub(15)]
}

/// The latest ask (or bid, if no ask) for a symbol, when Alpaca has one.
async fn latest_price(ctx: &Ctx<'_>, kind: Kind, symbol: &str) -> Option<f64> {
    let path = match kind {
        Kind::Stock => "/v2/stocks/quotes/latest",
        Kind::Crypto => "/v1beta3/crypto/us/latest/quotes",
        Kind::Option => "/v1beta1/options/quotes/latest",
    };
    let request = |feed: Option<&str>| {
        let mut query = vec![("symbols", symbol.to_string())];
        if let Some(f) = feed {
            query.push(("feed", f.to_string()));
        }
        ApiRequest {
            api: "market-data",
            operation_id: "latestQuoteForGuard",
            method: Method::Get,
            path: path.into(),
            query,
            body: None,
        }
    };
    let transport = ctx.client.transport();
    let response = match transport.send(request(None)).await {
        Err(Error::Api { status: 403, .. }) if kind == Kind::Stock => {
            transport.send(request(Some("iex"))).await
        }
        other => other,
    }
    .ok()?;
    let v = response.json().ok()?;
    let q = v.get("quotes")?.get(symbol)?;
    let price = |k: &str| q.get(k).and_then(Value::as_f64).filter(|p| *p > 0.0);
    price("ap").or(price("bp"))
}

fn confirm_schema() -> Value {
    json!({"properties": {"confirmation_id": {"type": "string"}}, "required": ["confirmation_id"]})
}

fn confirmation_id(args: JsonObject) -> Result<String, String> {
    Args(args).required("confirmation_id")
}

async fn confirm(ctx: Ctx<'_>, args: JsonObject) -> CallToolResult {
    let pending = match confirmation_id(args).and_then(|id| ctx.safety.take(&id, ctx.session)) {
        Ok(p) => p,
        Err(e) => {
            return envelope::error_text(format!(
                "confirm_order: {e}. Nothing was sent to Alpaca."
            ));
        }
    };
    send_held(&ctx, pending, "confirm_order").await
}

/// Sends an order that was held for confirmation, after the guards once more: prices and
/// limits may have moved since it was held.
async fn send_held(ctx: &Ctx<'_>, pending: Pending, tool: &str) -> CallToolResult {
    let kind = match pending.tool {
        "place_crypto_order" => Kind::Crypto,
        "place_option_order" => Kind::Option,
        _ => Kind::Stock,
    };
    if let Err(why) = guard(ctx, kind, &pending.body).await {
        return envelope::error_text(format!("{tool}: {why}. Nothing was sent to Alpaca."));
    }
    send(ctx, pending.tool, pending.body, &pending.what).await
}

async fn cancel_confirmation(ctx: Ctx<'_>, args: JsonObject) -> CallToolResult {
    let id = match confirmation_id(args) {
        Ok(id) => id,
        Err(e) => return envelope::error_text(format!("cancel_confirmation: {e}")),
    };
    match ctx.safety.take(&id, ctx.session) {
        Ok(p) => envelope::with_summary(
            json!({"confirmation_id": id, "cancelled": true}),
            Risk::ApiData,
            ctx.mode,
            format!("Dropped the pending order ({}); nothing was sent.", p.what),
        ),
        Err(e) => envelope::error_text(format!("cancel_confirmation: {e}")),
    }
}

fn placed(
    mode: &'static str,
    what: &str,
    client_order_id: &str,
    order: Value,
    note: Option<&str>,
) -> CallToolResult {
    let status = order
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let id = order.get("id").and_then(Value::as_str).unwrap_or("?");
    let mut summary = format!(
        "{} account: Alpaca accepted the order ({what}); its status is `{status}` as Alpaca reports it. Order id {id}, client_order_id {client_order_id}.",
        if mode == "live" {
            "LIVE (real money)"
        } else {
            "Paper"
        }
    );
    if let Some(note) = note {
        summary.push(' ');
        summary.push_str(note);
    }
    envelope::with_summary(order, Risk::ApiData, mode, summary)
}

/// The request went out but its answer was lost: look the order up instead of sending again.
async fn lost_response(
    ctx: &Ctx<'_>,
    tool: &str,
    what: &str,
    client_order_id: &str,
    error: &Error,
) -> CallToolResult {
    let lookup = GetOrderByClientOrderId {
        client_order_id: client_order_id.to_string(),
    };
    let request = lookup.to_request();
    match async { ctx.client.transport().send(request?).await }.await {
        Ok(response) => placed(
            ctx.mode,
            what,
            client_order_id,
            response.json().unwrap_or(Value::Null),
            Some(
                "The response was lost in transit, so this was confirmed by looking the order up by its client_order_id; it was not sent twice.",
            ),
        ),
        Err(Error::Api { status: 404, .. }) => envelope::error_text(format!(
            "{tool}: NOT PLACED. The request failed in transit ({error}) and Alpaca has no order with client_order_id {client_order_id}. Nothing was retried; it is safe to place it again (reuse client_order_id {client_order_id} so a late arrival cannot double it)."
        )),
        Err(lookup_error) => envelope::error_text(format!(
            "{tool}: OUTCOME UNKNOWN. The request failed in transit ({error}) and looking it up failed too ({lookup_error}). The order ({what}) may or may not exist: check with get_order_by_client_id client_order_id={client_order_id} before placing it again."
        )),
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
        assert_eq!(describe(&body), "buy 10 NVDA limit day, limit 120.5");
    }
}
