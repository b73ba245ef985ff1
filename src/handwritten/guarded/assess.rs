//! Judging a call: what it trades, what it is worth (from the order, the position or the
//! latest quotes), and whether the symbol guards and the value cap let it through. Whatever
//! is needed is read first; when it cannot be read, nothing is sent.

use serde_json::{Map, Value};

use crate::handwritten::Ctx;
use crate::runtime::{ApiRequest, Error, Method};
use crate::safety::Kind;

use super::guard::Guard;

/// What a call would do, as the guards judge it.
pub(super) struct Assessment {
    /// Symbols traded, each with its underlying (options).
    pub(super) symbols: Vec<(String, Option<String>)>,
    /// The value the cap judges: `None` when the call creates no exposure (a cancel).
    pub(super) value: Option<Value_>,
    /// Slots of the orders-per-minute limit it takes.
    pub(super) slots: u32,
    /// One line saying what it does.
    pub(super) what: String,
}

/// An order's value in USD, or why it cannot be bounded.
pub(super) enum Value_ {
    Usd(f64),
    Unbounded(String),
}

impl Assessment {
    pub(super) fn plain(what: String) -> Assessment {
        Assessment {
            symbols: vec![],
            value: None,
            slots: 0,
            what,
        }
    }

    pub(super) fn usd(&self) -> Option<f64> {
        match self.value {
            Some(Value_::Usd(v)) => Some(v),
            _ => None,
        }
    }
}

/// Whether any check needs to read something from Alpaca first.
pub(super) fn checks_active(ctx: &Ctx<'_>) -> bool {
    let c = &ctx.safety.config;
    c.confirm_orders
        || c.max_order_notional.is_some()
        || c.allowed_symbols.is_some()
        || !c.denied_symbols.is_empty()
        || c.max_orders_per_minute.is_some()
}

/// The symbol guards and the value cap (the per-minute limit is taken when sending).
pub(super) fn enforce(ctx: &Ctx<'_>, a: &Assessment) -> Result<(), String> {
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
pub(super) async fn assess(
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
            let given = |k: &str| patch.get(k).is_some_and(|v| !v.is_null());
            if given("qty") && given("notional") {
                return Err("give qty or notional for the replacement, not both".into());
            }
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
            // What Alpaca will hold after the replace: a new quantity replaces a notional and
            // the other way round, so the order is valued by the amount it will have.
            if given("notional") {
                effective.remove("qty");
            }
            if given("qty") {
                effective.remove("notional");
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

pub(super) fn decode_segment(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}

pub(super) fn body_of(request: &ApiRequest) -> Map<String, Value> {
    match &request.body {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    }
}

pub(super) fn query_of<'r>(request: &'r ApiRequest, key: &str) -> Option<&'r str> {
    request
        .query
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.as_str())
}

/// A JSON number or numeric string, when it is a finite number (`NaN`, `inf` and overflowing
/// strings from a hostile or broken upstream are no value at all, so a check fails closed).
pub(super) fn num(v: &Value, key: &str) -> Option<f64> {
    match v.get(key)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|x: &f64| x.is_finite())
}

/// GETs a path and returns its JSON (non-JSON is an error).
pub(super) async fn read(
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
pub(super) fn order_symbols(
    kind: Kind,
    body: &Map<String, Value>,
) -> Vec<(String, Option<String>)> {
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
pub(super) async fn order_value(ctx: &Ctx<'_>, kind: Kind, body: &Map<String, Value>) -> Value_ {
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
    let Some(qty) = num(&b, "qty").map(f64::abs) else {
        return Value_::Unbounded(format!(
            "the order for {symbol} has neither a notional nor a quantity that can be read"
        ));
    };
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
pub(super) async fn usd_rate(ctx: &Ctx<'_>, pair: &str) -> Result<f64, String> {
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
pub(super) fn occ_strike(symbol: &str) -> Option<f64> {
    let digits = symbol.get(symbol.len().checked_sub(8)?..)?;
    digits.parse::<u64>().ok().map(|n| n as f64 / 1000.0)
}

/// The latest ask (or bid, if no ask) for a symbol, when Alpaca has one.
pub(super) async fn latest_price(ctx: &Ctx<'_>, kind: Kind, symbol: &str) -> Option<f64> {
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
    let price = |k: &str| {
        q.get(k)
            .and_then(Value::as_f64)
            .filter(|p| p.is_finite() && *p > 0.0)
    };
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
pub(super) const REPLACE_FIELDS: &[&str] = &[
    "qty",
    "limit_price",
    "stop_price",
    "trail",
    "time_in_force",
    "notional",
];

pub(super) fn describe_patch(patch: &Map<String, Value>) -> String {
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

/// How results name the account a call went to.
pub(super) fn account(ctx: &Ctx<'_>) -> &'static str {
    if ctx.mode == crate::config::Mode::Live {
        "LIVE (real money)"
    } else {
        "Paper"
    }
}
