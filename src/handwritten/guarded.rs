//! One path for every tool that changes orders or positions, generated or hand-written: the
//! manifest names each one's `guard`, and this module decides from it what is checked, what is
//! held for confirmation, how the call is sent, and how its outcome is reported.
//!
//! | guard | tools | symbols | value cap | orders a minute | held |
//! |---|---|---|---|---|---|
//! | `place_order` | `place_stock_order`, `place_crypto_order`, `place_option_order` | the order's (an option's underlying too) | its value | 1 | yes |
//! | `replace_order` | `replace_order_by_id` | the order's | the replacement's value | 1 | yes |
//! | `close_position` | `close_position` | the position's | the part closed | 1 | yes |
//! | `close_all_positions` | `close_all_positions` | every position's | all of them | 1 per position | yes |
//! | `exercise` | `exercise_options_position` | the contract's and its underlying | contracts x 100 x strike | 1 | yes |
//! | `cancel_order`, `cancel_all_orders`, `do_not_exercise` | the cancel tools, `do_not_exercise_options_position` | - | - | - | yes |
//! | `confirm` | `confirm_order` | the held call's guard, checked again | | | |
//!
//! An order's value is its notional, or its quantity times the higher of its limit price and
//! the latest quote (a stop alone does not bound it: a triggered stop fills at market). Crypto
//! is valued in USD through the quote currency's own USD price; options times 100. Under a
//! value cap, a call whose value cannot be bounded is refused, saying what would let it
//! through. Whatever is needed to judge a call (the order being replaced, the position being
//! closed) is read first; when it cannot be read, nothing is sent.
//!
//! Outcomes: an order (placed, or a replacement) whose answer is lost, not JSON, not an order
//! or too large is looked up by its `client_order_id` (one is always set) and reported as
//! placed, not placed or unknown from that look-up, never sent twice. Other calls whose answer
//! is lost report the outcome as unknown with the tool that shows it.

use std::time::{Duration, Instant};

use rmcp::model::{CallToolResult, ElicitRequestParams, ElicitationAction, ElicitationSchema};
use rmcp::service::ElicitationMode;
use rmcp::{Peer, RoleServer};
use serde_json::{Map, Value, json};

use super::Ctx;
use crate::Client;
use crate::envelope;
use crate::runtime::{ApiRequest, ApiResponse, Error, JsonObject, Method, Risk, ToolDef};
use crate::safety::{Kind, Pending};
use crate::trading::params::GetOrderByClientOrderId;

/// The safety mechanism of a tool, by the manifest's `guard` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// `place_*_order`.
    PlaceOrder,
    /// Replaces an open order.
    ReplaceOrder,
    /// Closes (part of) one position.
    ClosePosition,
    /// Closes every position.
    CloseAllPositions,
    /// Exercises an option position.
    Exercise,
    /// Cancels one order.
    CancelOrder,
    /// Cancels every open order.
    CancelAllOrders,
    /// Withdraws exercise at expiry.
    DoNotExercise,
    /// Sends a held call.
    Confirm,
    /// Drops a held call.
    DropConfirmation,
}

impl Guard {
    /// Every guard, by its manifest name.
    pub const ALL: &'static [(&'static str, Guard)] = &[
        ("place_order", Guard::PlaceOrder),
        ("replace_order", Guard::ReplaceOrder),
        ("close_position", Guard::ClosePosition),
        ("close_all_positions", Guard::CloseAllPositions),
        ("exercise", Guard::Exercise),
        ("cancel_order", Guard::CancelOrder),
        ("cancel_all_orders", Guard::CancelAllOrders),
        ("do_not_exercise", Guard::DoNotExercise),
        ("confirm", Guard::Confirm),
        ("drop_confirmation", Guard::DropConfirmation),
    ];

    /// The guard a manifest name stands for.
    pub fn parse(name: &str) -> Option<Guard> {
        Guard::ALL.iter().find(|(n, _)| *n == name).map(|(_, g)| *g)
    }

    /// Its manifest name.
    pub fn name(self) -> &'static str {
        Guard::ALL
            .iter()
            .find(|(_, g)| *g == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }

    /// Whether the call creates an order whose outcome is looked up by `client_order_id`.
    fn makes_order(self) -> bool {
        matches!(self, Guard::PlaceOrder | Guard::ReplaceOrder)
    }

    /// The tool that shows whether a call whose answer was lost took effect.
    fn check_with(self) -> &'static str {
        match self {
            Guard::ClosePosition | Guard::CloseAllPositions | Guard::Exercise => {
                "get_all_positions and get_orders"
            }
            Guard::DoNotExercise => "get_all_positions",
            _ => "get_orders",
        }
    }
}

/// What a call would do, as the guards judge it.
struct Assessment {
    /// Symbols traded, each with its underlying (options).
    symbols: Vec<(String, Option<String>)>,
    /// The value the cap judges: `None` when the call creates no exposure (a cancel).
    value: Option<Value_>,
    /// Slots of the orders-per-minute limit it takes.
    slots: u32,
    /// One line saying what it does.
    what: String,
}

/// An order's value in USD, or why it cannot be bounded.
enum Value_ {
    Usd(f64),
    Unbounded(String),
}

impl Assessment {
    fn plain(what: String) -> Assessment {
        Assessment {
            symbols: vec![],
            value: None,
            slots: 0,
            what,
        }
    }

    fn usd(&self) -> Option<f64> {
        match self.value {
            Some(Value_::Usd(v)) => Some(v),
            _ => None,
        }
    }
}

/// Whether any check needs to read something from Alpaca first.
fn checks_active(ctx: &Ctx<'_>) -> bool {
    let c = &ctx.safety.config;
    c.confirm_orders
        || c.max_order_notional.is_some()
        || c.allowed_symbols.is_some()
        || !c.denied_symbols.is_empty()
        || c.max_orders_per_minute.is_some()
}

/// Runs a generated tool that has a guard: its request (already checked and built), judged,
/// held or sent.
pub async fn run_generated(
    ctx: Ctx<'_>,
    def: &'static ToolDef<Client>,
    guard: Guard,
    args: JsonObject,
) -> CallToolResult {
    let mut request = match (def.request)(args) {
        Ok(r) => r,
        Err(e) => {
            return envelope::error_text(format!(
                "{} was not called: {e}. Nothing was sent to Alpaca.",
                def.name
            ));
        }
    };
    if guard == Guard::ReplaceOrder {
        // The replacement is an order: it gets a client_order_id, so a lost answer can be
        // looked up instead of resent.
        if let Some(Value::Object(body)) = request.body.as_mut()
            && !body.contains_key("client_order_id")
        {
            body.insert(
                "client_order_id".into(),
                Value::String(uuid::Uuid::new_v4().to_string()),
            );
        }
    }
    submit(ctx, def.name, guard, None, request).await
}

/// Judges a call, then holds it for confirmation or sends it.
pub async fn submit(
    ctx: Ctx<'_>,
    tool: &'static str,
    guard: Guard,
    kind: Option<Kind>,
    request: ApiRequest,
) -> CallToolResult {
    let refuse = |why: String| {
        envelope::error_text(format!(
            "{tool} was not called: {why}. Nothing was sent to Alpaca."
        ))
    };
    let assessment = match assess(&ctx, guard, kind, &request).await {
        Ok(a) => a,
        Err(why) => return refuse(why),
    };
    if let Err(why) = enforce(&ctx, &assessment) {
        return refuse(why);
    }
    if ctx.safety.config.confirm_orders {
        return hold(ctx, tool, guard, kind, request, assessment).await;
    }
    send(&ctx, tool, guard, request, &assessment).await
}

/// The symbol guards and the value cap (the per-minute limit is taken when sending).
fn enforce(ctx: &Ctx<'_>, a: &Assessment) -> Result<(), String> {
    for (symbol, underlying) in &a.symbols {
        ctx.safety.check_symbol(symbol, underlying.as_deref())?;
    }
    let Some(cap) = ctx.safety.config.max_order_notional else {
        return Ok(());
    };
    match &a.value {
        None => Ok(()),
        Some(Value_::Usd(v)) => ctx.safety.check_notional(Some(*v), ""),
        Some(Value_::Unbounded(why)) => Err(format!(
            "ALPACA_MAX_ORDER_NOTIONAL={cap} is set and this call's value cannot be bounded: {why}"
        )),
    }
}

/// What a call would do, reading whatever that needs (the order being replaced, the position
/// being closed, quotes). Reads nothing when no check is configured.
async fn assess(
    ctx: &Ctx<'_>,
    guard: Guard,
    kind: Option<Kind>,
    request: &ApiRequest,
) -> Result<Assessment, String> {
    let active = checks_active(ctx);
    // Every guarded path is `/v2/orders/{id}` or `/v2/positions/{id}[/...]`: the id is the
    // fourth segment, still percent-encoded.
    let segment = request.path.split('/').nth(3).unwrap_or_default();
    let id = || decode_segment(segment);
    match guard {
        Guard::PlaceOrder => {
            let body = body_of(request);
            let Some(kind) = kind else {
                return Err("a new order without the kind of instrument it is for".into());
            };
            let mut a = Assessment {
                symbols: order_symbols(kind, &body),
                value: None,
                slots: 1,
                what: describe_order(&body),
            };
            if ctx.safety.config.max_order_notional.is_some() || ctx.safety.config.confirm_orders {
                a.value = Some(order_value(ctx, kind, &body).await);
            }
            Ok(a)
        }
        Guard::ReplaceOrder => {
            let order_id = id();
            let patch = body_of(request);
            if !active {
                return Ok(Assessment {
                    slots: 1,
                    ..Assessment::plain(format!(
                        "replace order {order_id} ({})",
                        describe_patch(&patch)
                    ))
                });
            }
            // The PATCH's own path is the order's.
            let order = read(ctx, "trading", &request.path, vec![])
                .await
                .map_err(|e| format!("the order to replace could not be read to check it against the guards ({e})"))?;
            let Value::Object(mut effective) = order else {
                return Err("the order to replace could not be read to check it against the guards (Alpaca's answer was not an order)".into());
            };
            let kind = Kind::of_class(effective.get("asset_class").and_then(Value::as_str));
            let before = describe_order(&effective);
            for key in REPLACE_FIELDS {
                if let Some(v) = patch.get(*key) {
                    effective.insert(key.to_string(), v.clone());
                }
            }
            if patch.contains_key("notional") {
                effective.remove("qty");
            }
            // Alpaca's order JSON names the type `type` (and `order_type`).
            if !effective.contains_key("type")
                && let Some(t) = effective.get("order_type").cloned()
            {
                effective.insert("type".into(), t);
            }
            let value = if ctx.safety.config.max_order_notional.is_some()
                || ctx.safety.config.confirm_orders
            {
                Some(order_value(ctx, kind, &effective).await)
            } else {
                None
            };
            Ok(Assessment {
                symbols: order_symbols(kind, &effective),
                value,
                slots: 1,
                what: format!(
                    "replace order {order_id} ({before}) with {}",
                    describe_patch(&patch)
                ),
            })
        }
        Guard::ClosePosition | Guard::Exercise => {
            let target = id();
            let verb = if guard == Guard::Exercise {
                "exercise"
            } else {
                "close"
            };
            let amount = match (query_of(request, "qty"), query_of(request, "percentage")) {
                (Some(q), _) => format!("{q} of"),
                (None, Some(p)) => format!("{p}% of"),
                _ => "all of".to_string(),
            };
            if !active {
                return Ok(Assessment {
                    slots: 1,
                    ..Assessment::plain(format!("{verb} {amount} the {target} position"))
                });
            }
            let position = read(ctx, "trading", &format!("/v2/positions/{segment}"), vec![])
                .await
                .map_err(|e| format!("the {target} position could not be read to check it against the guards ({e})"))?;
            let symbol = position
                .get("symbol")
                .and_then(Value::as_str)
                .ok_or("the position Alpaca returned has no symbol, so it cannot be checked against the guards")?
                .to_string();
            let kind = Kind::of_class(position.get("asset_class").and_then(Value::as_str));
            let held = num(&position, "qty").map(f64::abs);
            let value = if guard == Guard::Exercise {
                match (held, occ_strike(&symbol)) {
                    (Some(q), Some(strike)) => Value_::Usd(q * 100.0 * strike),
                    _ => Value_::Unbounded(format!(
                        "the contracts held or the strike of {symbol} are unknown"
                    )),
                }
            } else {
                let closing = match (query_of(request, "qty"), query_of(request, "percentage")) {
                    (Some(q), _) => q.parse::<f64>().ok(),
                    (None, Some(p)) => p.parse::<f64>().ok().zip(held).map(|(p, h)| h * p / 100.0),
                    _ => held,
                };
                let price = match num(&position, "current_price") {
                    Some(p) if p > 0.0 => Some(p),
                    _ => latest_price(ctx, kind, &symbol).await,
                };
                let multiplier = if kind == Kind::Option { 100.0 } else { 1.0 };
                match (closing, price) {
                    (Some(q), Some(p)) => Value_::Usd(q * p * multiplier),
                    _ => match num(&position, "market_value") {
                        Some(mv) => Value_::Usd(mv.abs()),
                        None => Value_::Unbounded(format!("no price for {symbol} is available")),
                    },
                }
            };
            let underlying = (kind == Kind::Option).then(|| occ_root(&symbol).to_string());
            Ok(Assessment {
                symbols: vec![(symbol.clone(), underlying)],
                value: Some(value),
                slots: 1,
                what: format!("{verb} {amount} the {symbol} position"),
            })
        }
        Guard::CloseAllPositions => {
            let cancel = query_of(request, "cancel_orders").is_some_and(|v| v == "true");
            let also = if cancel {
                ", cancelling open orders first"
            } else {
                ""
            };
            if !active {
                return Ok(Assessment::plain(format!(
                    "close every open position{also}"
                )));
            }
            let positions = read(ctx, "trading", "/v2/positions", vec![])
                .await
                .map_err(|e| format!("the open positions could not be read to check them against the guards ({e})"))?;
            let Value::Array(positions) = positions else {
                return Err("the open positions could not be read to check them against the guards (Alpaca's answer was not a list)".into());
            };
            let mut symbols = Vec::new();
            let mut total = 0.0;
            let mut unknown = Vec::new();
            for p in &positions {
                let Some(symbol) = p.get("symbol").and_then(Value::as_str) else {
                    return Err("a position Alpaca returned has no symbol, so it cannot be checked against the guards".into());
                };
                let kind = Kind::of_class(p.get("asset_class").and_then(Value::as_str));
                let underlying = (kind == Kind::Option).then(|| occ_root(symbol).to_string());
                symbols.push((symbol.to_string(), underlying));
                match num(p, "market_value") {
                    Some(v) => total += v.abs(),
                    None => unknown.push(symbol.to_string()),
                }
            }
            let value = if unknown.is_empty() {
                Value_::Usd(total)
            } else {
                Value_::Unbounded(format!("no market value for {}", unknown.join(", ")))
            };
            let names: Vec<&str> = symbols.iter().map(|(s, _)| s.as_str()).collect();
            Ok(Assessment {
                what: format!(
                    "close all {} open positions ({}){also}",
                    names.len(),
                    if names.is_empty() {
                        "none".into()
                    } else {
                        names.join(", ")
                    }
                ),
                slots: symbols.len() as u32,
                symbols,
                value: Some(value),
            })
        }
        Guard::CancelOrder => Ok(Assessment::plain(format!("cancel order {}", id()))),
        Guard::CancelAllOrders => Ok(Assessment::plain("cancel every open order".into())),
        Guard::DoNotExercise => Ok(Assessment::plain(format!(
            "tell Alpaca not to exercise the {} position at expiry",
            id()
        ))),
        Guard::Confirm | Guard::DropConfirmation => Ok(Assessment::plain(String::new())),
    }
}

fn decode_segment(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}

fn body_of(request: &ApiRequest) -> Map<String, Value> {
    match &request.body {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    }
}

fn query_of<'r>(request: &'r ApiRequest, key: &str) -> Option<&'r str> {
    request
        .query
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.as_str())
}

/// A JSON number or numeric string.
fn num(v: &Value, key: &str) -> Option<f64> {
    match v.get(key)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// GETs a path and returns its JSON (non-JSON is an error).
async fn read(
    ctx: &Ctx<'_>,
    api: &'static str,
    path: &str,
    query: Vec<(&'static str, String)>,
) -> Result<Value, Error> {
    let response = ctx
        .client
        .transport()
        .send(ApiRequest {
            api,
            operation_id: "guardLookup",
            method: Method::Get,
            path: path.to_string(),
            query,
            body: None,
        })
        .await?;
    response.json()
}

/// The symbols of an order body (each leg's, for a multi-leg order), with underlyings.
fn order_symbols(kind: Kind, body: &Map<String, Value>) -> Vec<(String, Option<String>)> {
    let with_underlying = |s: &str| {
        let underlying = (kind == Kind::Option).then(|| occ_root(s).to_string());
        (s.to_string(), underlying)
    };
    match body.get("legs").and_then(Value::as_array) {
        Some(legs) if !legs.is_empty() => legs
            .iter()
            .filter_map(|l| l.get("symbol").and_then(Value::as_str))
            .map(with_underlying)
            .collect(),
        _ => body
            .get("symbol")
            .and_then(Value::as_str)
            .map(with_underlying)
            .into_iter()
            .collect(),
    }
}

/// An order's value in USD (see the module doc), or why it cannot be bounded.
async fn order_value(ctx: &Ctx<'_>, kind: Kind, body: &Map<String, Value>) -> Value_ {
    let b = Value::Object(body.clone());
    let symbol = body
        .get("symbol")
        .and_then(Value::as_str)
        .unwrap_or_default();
    // Crypto prices and notionals are in the pair's quote currency: valued in USD through that
    // currency's own USD price, or not at all (fail closed).
    let rate = if kind == Kind::Crypto {
        match usd_rate(ctx, symbol).await {
            Ok(r) => r,
            Err(why) => return Value_::Unbounded(why),
        }
    } else {
        1.0
    };
    if let Some(n) = num(&b, "notional") {
        return Value_::Usd(n.abs() * rate);
    }
    let qty = num(&b, "qty").unwrap_or(0.0).abs();
    let multiplier = if kind == Kind::Option { 100.0 } else { 1.0 };
    let order_type = body
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("market")
        .to_ascii_lowercase();
    let legs = body.get("legs").and_then(Value::as_array);
    if let Some(legs) = legs.filter(|l| !l.is_empty()) {
        // A multi-leg order: each leg at its latest quote.
        let mut total = 0.0;
        for leg in legs {
            let s = leg
                .get("symbol")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let ratio = num(leg, "ratio_qty").unwrap_or(1.0);
            match latest_price(ctx, Kind::Option, s).await {
                Some(p) => total += p * ratio * qty * multiplier,
                None => {
                    return Value_::Unbounded(format!(
                        "no quote for the leg {s} is available; place the legs when quotes are available, or raise the cap"
                    ));
                }
            }
        }
        return Value_::Usd(total);
    }
    // A limit price bounds what the order pays; a stop price does not (a triggered stop
    // fills at market), but the latest quote and the stop both count when there is a quote.
    let limit = matches!(order_type.as_str(), "limit" | "stop_limit")
        .then(|| num(&b, "limit_price"))
        .flatten()
        .map(f64::abs);
    let stop = num(&b, "stop_price").map(f64::abs);
    let quote = latest_price(ctx, kind, symbol).await;
    let unit = match (quote, limit) {
        (Some(q), l) => Some([Some(q), l, stop].into_iter().flatten().fold(q, f64::max)),
        (None, Some(l)) => Some(l),
        (None, None) => None,
    };
    match unit {
        Some(p) => Value_::Usd(p * qty * multiplier * rate),
        None => Value_::Unbounded(format!(
            "no quote for {symbol} is available and a {order_type} order fills at whatever the market pays; give a limit price (type limit or stop_limit), or raise the cap"
        )),
    }
}

/// The USD price of one unit of a crypto pair's quote currency (`BTC` of `ETH/BTC`).
async fn usd_rate(ctx: &Ctx<'_>, pair: &str) -> Result<f64, String> {
    let quote = pair
        .split_once('/')
        .map(|(_, q)| q.to_ascii_uppercase())
        .unwrap_or_else(|| "USD".into());
    if quote == "USD" {
        return Ok(1.0);
    }
    let rate_pair = format!("{quote}/USD");
    latest_price(ctx, Kind::Crypto, &rate_pair)
        .await
        .ok_or(format!(
            "{pair} is priced in {quote}, and no {rate_pair} quote is available to value it in USD"
        ))
}

/// The root of an OCC symbol (`AAPL` of `AAPL250117C00150000`).
pub(crate) fn occ_root(symbol: &str) -> &str {
    &symbol[..symbol.len().saturating_sub(15)]
}

/// The strike of an OCC symbol (its last eight digits / 1000).
fn occ_strike(symbol: &str) -> Option<f64> {
    let digits = symbol.get(symbol.len().checked_sub(8)?..)?;
    digits.parse::<u64>().ok().map(|n| n as f64 / 1000.0)
}

/// The latest ask (or bid, if no ask) for a symbol, when Alpaca has one.
async fn latest_price(ctx: &Ctx<'_>, kind: Kind, symbol: &str) -> Option<f64> {
    let path = match kind {
        Kind::Stock => "/v2/stocks/quotes/latest",
        Kind::Crypto => "/v1beta3/crypto/us/latest/quotes",
        Kind::Option => "/v1beta1/options/quotes/latest",
    };
    let query = |feed: Option<&str>| {
        let mut q = vec![("symbols", symbol.to_string())];
        if let Some(f) = feed {
            q.push(("feed", f.to_string()));
        }
        q
    };
    let v = match read(ctx, "market-data", path, query(None)).await {
        Err(Error::Api { status: 403, .. }) if kind == Kind::Stock => {
            read(ctx, "market-data", path, query(Some("iex"))).await
        }
        other => other,
    }
    .ok()?;
    let q = v.get("quotes")?.get(symbol)?;
    let price = |k: &str| q.get(k).and_then(Value::as_f64).filter(|p| *p > 0.0);
    price("ap").or(price("bp"))
}

/// One line saying what an order is.
pub(crate) fn describe_order(body: &Map<String, Value>) -> String {
    let s = |k: &str| match body.get(k) {
        Some(Value::String(v)) => v.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let amount = match body.get("notional").filter(|v| !v.is_null()) {
        Some(_) => format!("${} of", s("notional")),
        None => s("qty"),
    };
    let what = match body.get("legs").and_then(Value::as_array) {
        Some(legs) if !legs.is_empty() => format!("{}-leg option order", legs.len()),
        _ => format!("{} {amount} {}", s("side"), s("symbol")),
    };
    let mut text = format!("{what} {} {}", s("type"), s("time_in_force"));
    for (k, label) in [
        ("limit_price", "limit"),
        ("stop_price", "stop"),
        ("trail_price", "trail"),
        ("trail_percent", "trail %"),
    ] {
        let v = s(k);
        if !v.is_empty() {
            text.push_str(&format!(", {label} {v}"));
        }
    }
    let class = s("order_class");
    if !class.is_empty() && class != "simple" {
        text.push_str(&format!(", class {class}"));
    }
    text
}

/// The fields of an order a replace may change.
const REPLACE_FIELDS: &[&str] = &[
    "qty",
    "limit_price",
    "stop_price",
    "trail",
    "time_in_force",
    "notional",
];

fn describe_patch(patch: &Map<String, Value>) -> String {
    let parts: Vec<String> = REPLACE_FIELDS
        .iter()
        .filter_map(|k| {
            patch.get(*k).map(|v| match v {
                Value::String(s) => format!("{k} {s}"),
                other => format!("{k} {other}"),
            })
        })
        .collect();
    if parts.is_empty() {
        "no changes".into()
    } else {
        parts.join(", ")
    }
}

fn account(ctx: &Ctx<'_>) -> &'static str {
    if ctx.mode == crate::config::Mode::Live {
        "LIVE (real money)"
    } else {
        "Paper"
    }
}

/// Holds a call for confirmation: asks the user directly where the client supports
/// elicitation, else returns a `confirmation_id` for `confirm_order`.
async fn hold(
    ctx: Ctx<'_>,
    tool: &'static str,
    guard: Guard,
    kind: Option<Kind>,
    request: ApiRequest,
    a: Assessment,
) -> CallToolResult {
    let ttl = ctx.safety.config.confirm_ttl;
    let id = ctx.safety.hold(Pending {
        session: ctx.session,
        tool,
        guard: guard.name(),
        kind,
        request: request.clone(),
        what: a.what.clone(),
        expires: Instant::now() + ttl,
    });
    let cost = match &a.value {
        Some(Value_::Usd(v)) => format!(
            "Estimated value about {v:.2} USD from the latest quotes and the call's prices."
        ),
        Some(Value_::Unbounded(why)) => format!("No estimate of its value: {why}."),
        None => String::new(),
    };
    let account = account(&ctx);
    let question = format!(
        "{} {account} account: {}. {cost}",
        question_for(guard),
        a.what
    )
    .trim_end()
    .to_string();
    let asked = match ctx.peer {
        Some(peer) => ask_user(peer, question, ttl).await,
        None => Asked::CannotAsk(None),
    };
    match asked {
        Asked::Approved => match ctx.safety.take(&id, ctx.session) {
            Ok(pending) => send(&ctx, tool, guard, pending.request, &a).await,
            Err(e) => envelope::error_text(format!("{tool}: {e}. Nothing was sent to Alpaca.")),
        },
        Asked::Refused(action) => {
            let _ = ctx.safety.take(&id, ctx.session);
            envelope::with_summary(
                json!({"placed": false, "sent": false, "user_answer": action, "request": held_view(&request)}),
                Risk::ApiData,
                ctx.mode,
                format!(
                    "{}: the user was asked and answered {action}. Nothing was sent to Alpaca ({}).",
                    if guard.makes_order() {
                        "NOT PLACED"
                    } else {
                        "NOT SENT"
                    },
                    a.what
                ),
            )
        }
        Asked::CannotAsk(why) => {
            let mut data = json!({
                "confirmation_id": id,
                "expires_in_seconds": ttl.as_secs(),
                "tool": tool,
                "estimated_value": a.usd(),
            });
            if guard == Guard::PlaceOrder {
                data["order"] = request.body.clone().unwrap_or(Value::Null);
            } else {
                data["request"] = held_view(&request);
            }
            let mut summary = format!(
                "NOT SENT YET. {account} account: {}. {cost} To send exactly this call use confirm_order with confirmation_id {id} within {} seconds; to drop it call cancel_confirmation. Ask the user before confirming.",
                a.what,
                ttl.as_secs()
            );
            if let Some(why) = why {
                summary.push_str(&format!(" (Asking the user directly failed: {why}.)"));
                data["asking_failed"] = Value::String(why);
            }
            envelope::with_summary(data, Risk::ApiData, ctx.mode, summary)
        }
    }
}

fn question_for(guard: Guard) -> &'static str {
    match guard {
        Guard::PlaceOrder => "Place this order?",
        Guard::ReplaceOrder => "Replace this order?",
        Guard::ClosePosition | Guard::CloseAllPositions => "Close this?",
        Guard::Exercise => "Exercise this option?",
        Guard::CancelOrder | Guard::CancelAllOrders => "Cancel this?",
        _ => "Go ahead?",
    }
}

/// A held request as the model sees it: method, path, query and body.
fn held_view(request: &ApiRequest) -> Value {
    let query: Map<String, Value> = request
        .query
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.clone())))
        .collect();
    json!({
        "method": request.method.as_str(),
        "path": request.path,
        "query": query,
        "body": request.body,
    })
}

/// What came of asking the user to approve a held call.
enum Asked {
    Approved,
    /// The user declined, cancelled or said no (the answer, for the result).
    Refused(&'static str),
    /// The client cannot ask (no elicitation support), or asking failed (why).
    CannotAsk(Option<String>),
}

/// Puts a held call to the user through MCP elicitation, when the client supports it; the
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
            "title": "Go ahead",
            "description": "Yes sends exactly this to Alpaca; no drops it."
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

/// `confirm_order`: sends a held call once, after its guards once more (prices and limits may
/// have moved since it was held).
pub async fn confirm(ctx: Ctx<'_>, id: String) -> CallToolResult {
    let pending = match ctx.safety.take(&id, ctx.session) {
        Ok(p) => p,
        Err(e) => {
            return envelope::error_text(format!(
                "confirm_order: {e}. Nothing was sent to Alpaca."
            ));
        }
    };
    let Some(guard) = Guard::parse(pending.guard) else {
        return envelope::error_text(
            "confirm_order: the held call has no known guard. Nothing was sent to Alpaca.",
        );
    };
    let a = match assess(&ctx, guard, pending.kind, &pending.request).await {
        Ok(a) => a,
        Err(why) => {
            return envelope::error_text(format!(
                "confirm_order: {why}. Nothing was sent to Alpaca."
            ));
        }
    };
    if let Err(why) = enforce(&ctx, &a) {
        return envelope::error_text(format!("confirm_order: {why}. Nothing was sent to Alpaca."));
    }
    send(&ctx, pending.tool, guard, pending.request, &a).await
}

/// `cancel_confirmation`: drops a held call.
pub fn drop_confirmation(ctx: &Ctx<'_>, id: String) -> CallToolResult {
    match ctx.safety.take(&id, ctx.session) {
        Ok(p) => envelope::with_summary(
            json!({"confirmation_id": id, "cancelled": true}),
            Risk::ApiData,
            ctx.mode,
            format!("Dropped the held call ({}); nothing was sent.", p.what),
        ),
        Err(e) => envelope::error_text(format!("cancel_confirmation: {e}")),
    }
}

/// Sends a judged call once and reports its outcome as it is.
async fn send(
    ctx: &Ctx<'_>,
    tool: &str,
    guard: Guard,
    request: ApiRequest,
    a: &Assessment,
) -> CallToolResult {
    if let Err(why) = ctx.safety.take_order_slots(a.slots) {
        return envelope::error_text(format!(
            "{tool} was not called: {why}. Nothing was sent to Alpaca."
        ));
    }
    let client_order_id = request
        .body
        .as_ref()
        .and_then(|b| b.get("client_order_id"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let account = account(ctx);
    let outcome = ctx.client.transport().send(request).await;
    // What came back, when it is what the call returns (an order is a JSON object with an id).
    let answer: Result<Value, Error> = outcome.and_then(|r| answer(&r, guard));
    let order_id = client_order_id.as_deref().filter(|_| guard.makes_order());
    match answer {
        Ok(v) => done(
            ctx,
            tool,
            guard,
            &a.what,
            client_order_id.as_deref(),
            v,
            None,
        ),
        Err(e @ Error::Redirect { .. }) => envelope::error_text(match order_id {
            Some(cid) => format!(
                "{tool}: OUTCOME UNKNOWN. {e}. {account} account: the order ({}) may or may not have been placed at the configured host before it redirected: check with get_order_by_client_id client_order_id={cid} before trying again, and check TRADING_API_URL.",
                a.what
            ),
            None => format!(
                "{tool}: OUTCOME UNKNOWN. {e}. {account} account: the configured host may or may not have done it ({}): check with {} before trying again, and check TRADING_API_URL.",
                a.what,
                guard.check_with()
            ),
        }),
        Err(e) if lost(&e) => match order_id {
            Some(cid) => look_up(ctx, tool, guard, &a.what, cid, &e).await,
            None => envelope::error_text(format!(
                "{tool}: OUTCOME UNKNOWN. {}. {account} account: Alpaca may or may not have done it ({}); it was not sent again. Check with {} before trying again.",
                lost_reason(&e),
                a.what,
                guard.check_with()
            )),
        },
        Err(e) => envelope::api_error(tool, &e, true),
    }
}

/// The JSON of a 2xx answer, when it has the shape the call returns: an order for the calls
/// that make one, any JSON for the rest.
fn answer(response: &ApiResponse, guard: Guard) -> Result<Value, Error> {
    let v = response.json().map_err(|e| match e {
        Error::Decode { detail, .. } => Error::Decode {
            detail: format!(
                "HTTP {} with a body that is not JSON ({detail})",
                response.status
            ),
            body: String::new(),
        },
        e => e,
    })?;
    if guard.makes_order() && v.get("id").and_then(Value::as_str).is_none() {
        return Err(Error::Decode {
            detail: format!("HTTP {} with JSON that is not an order", response.status),
            body: String::new(),
        });
    }
    Ok(v)
}

/// Whether an error leaves the outcome unknown: the request went out and no usable answer
/// came back (a timeout, a dropped connection, a 2xx body that is not the JSON the call
/// returns or is too large to read).
fn lost(e: &Error) -> bool {
    match e {
        Error::Timeout | Error::Connection { sent: true, .. } | Error::Decode { .. } => true,
        Error::BodyTooLarge { status, .. } => (200..300).contains(status),
        _ => false,
    }
}

fn lost_reason(e: &Error) -> String {
    match e {
        Error::Decode { detail, .. } => format!("Alpaca answered {detail}"),
        e => format!("The request failed in transit ({e})"),
    }
}

/// Looks an order up by its `client_order_id` after its answer was lost.
async fn look_up(
    ctx: &Ctx<'_>,
    tool: &str,
    guard: Guard,
    what: &str,
    client_order_id: &str,
    error: &Error,
) -> CallToolResult {
    let account = account(ctx);
    let reason = lost_reason(error);
    let lookup = GetOrderByClientOrderId {
        client_order_id: client_order_id.to_string(),
    };
    let found = match lookup.to_request() {
        Ok(r) => ctx
            .client
            .transport()
            .send(r)
            .await
            .and_then(|r| answer(&r, Guard::PlaceOrder)),
        Err(e) => Err(e),
    };
    match found {
        Ok(order)
            if order.get("client_order_id").and_then(Value::as_str) == Some(client_order_id) =>
        {
            done(
                ctx,
                tool,
                guard,
                what,
                Some(client_order_id),
                order,
                Some(&format!(
                    "{reason}, so this was confirmed by looking the order up by its client_order_id; it was not sent twice."
                )),
            )
        }
        Err(Error::Api { status: 404, .. }) => envelope::error_text(format!(
            "{tool}: NOT PLACED. {reason}, and Alpaca has no order with client_order_id {client_order_id}. {account} account: nothing was retried; it is safe to try again (reuse client_order_id {client_order_id} so a late arrival cannot double it)."
        )),
        Ok(_) => envelope::error_text(format!(
            "{tool}: OUTCOME UNKNOWN. {reason}, and looking the order up by client_order_id {client_order_id} did not return that order. {account} account: the order ({what}) may or may not exist: check with get_order_by_client_id client_order_id={client_order_id} before trying again."
        )),
        Err(lookup_error) => envelope::error_text(format!(
            "{tool}: OUTCOME UNKNOWN. {reason}, and looking it up failed too ({lookup_error}). {account} account: the order ({what}) may or may not exist: check with get_order_by_client_id client_order_id={client_order_id} before trying again."
        )),
    }
}

/// The result of a call Alpaca accepted.
fn done(
    ctx: &Ctx<'_>,
    tool: &str,
    guard: Guard,
    what: &str,
    client_order_id: Option<&str>,
    data: Value,
    note: Option<&str>,
) -> CallToolResult {
    let account = account(ctx);
    let mut summary = if guard.makes_order() {
        let status = data
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("unknown");
        let id = data.get("id").and_then(Value::as_str).unwrap_or("?");
        format!(
            "{account} account: Alpaca accepted the order ({what}); its status is `{status}` as Alpaca reports it. Order id {id}, client_order_id {}.",
            client_order_id.unwrap_or("?")
        )
    } else {
        format!(
            "{account} account: Alpaca accepted the request to {what} ({tool}); check {} for the result.",
            guard.check_with()
        )
    };
    if let Some(note) = note {
        summary.push(' ');
        summary.push_str(note);
    }
    envelope::with_summary(data, Risk::ApiData, ctx.mode, summary)
}

/// The tools whose guard this server does not know, with the guard (the engine refuses to
/// build with one enabled: it must never run unguarded).
#[cfg(test)]
fn unknown_guards() -> Vec<(&'static str, &'static str)> {
    let generated = crate::TOOLSETS
        .iter()
        .flat_map(|t| t.tools)
        .filter_map(|d| d.guard.map(|g| (d.name, g)));
    let handwritten = crate::HANDWRITTEN
        .iter()
        .filter_map(|h| h.guard.map(|g| (h.name, g)));
    generated
        .chain(handwritten)
        .filter(|(_, g)| Guard::parse(g).is_none())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_manifest_guard_is_known_and_names_round_trip() {
        assert!(unknown_guards().is_empty(), "{:?}", unknown_guards());
        for (name, g) in Guard::ALL {
            assert_eq!(Guard::parse(name), Some(*g));
            assert_eq!(g.name(), *name);
        }
    }

    #[test]
    fn strikes_and_roots() {
        assert_eq!(occ_strike("AAPL250117C00150000"), Some(150.0));
        assert_eq!(occ_strike("SPY251219P00400500"), Some(400.5));
        assert_eq!(occ_root("AAPL250117C00150000"), "AAPL");
    }
}
