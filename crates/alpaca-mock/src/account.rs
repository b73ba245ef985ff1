//! The account: balances, configuration, activities and portfolio history.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use serde_json::{Value, json};

use crate::assets::ok;
use crate::errors::{ApiError, ApiResult, json_object};
use crate::numbers::{money, round_to};
use crate::query::{Api, Query};
use crate::state::MockState;
use crate::time::{Date, Timestamp};

/// Long and short market value of all positions.
fn market_values(s: &MockState) -> (f64, f64, f64) {
    let book = s.book();
    let mut long = 0.0;
    let mut short = 0.0;
    for p in book.positions.values() {
        let mv = p.qty * s.price_in(&book, &p.symbol) * p.multiplier;
        if mv >= 0.0 {
            long += mv;
        } else {
            short += mv;
        }
    }
    let reserved = crate::orders::reserved_for_buys(s, &book);
    (long, short, book.cash - reserved)
}

pub(crate) fn account_json(s: &MockState) -> Value {
    let cash = s.cash();
    let (long, short, free_cash) = market_values(s);
    let equity = cash + long + short;
    let bp = free_cash.max(0.0);
    let initial_margin = long * 0.5 + short.abs() * 0.5;
    let maintenance = long * 0.3 + short.abs() * 0.3;
    let created = s
        .config()
        .now
        .unwrap_or_else(|| s.now())
        .add_secs(-86_400 * 30);
    json!({
        "id": crate::ids::account_id(),
        "account_number": crate::ids::account_number(),
        "status": "ACTIVE",
        "crypto_status": "ACTIVE",
        "currency": "USD",
        "cash": money(cash),
        "portfolio_value": money(equity),
        "equity": money(equity),
        "last_equity": money(s.config().starting_cash),
        "long_market_value": money(long),
        "short_market_value": money(short),
        "buying_power": money(bp),
        "regt_buying_power": money(bp),
        "daytrading_buying_power": "0",
        "effective_buying_power": money(bp),
        "non_marginable_buying_power": money(bp),
        "options_buying_power": money(bp),
        "initial_margin": money(initial_margin),
        "maintenance_margin": money(maintenance),
        "last_maintenance_margin": "0",
        "sma": "0",
        "multiplier": "1",
        "daytrade_count": 0,
        "balance_asof": s.now().add_secs(-86_400).date_eastern().to_string(),
        "pattern_day_trader": false,
        "trading_blocked": false,
        "transfers_blocked": false,
        "account_blocked": false,
        "trade_suspended_by_user": false,
        "shorting_enabled": true,
        "options_approved_level": 3,
        "options_trading_level": 3,
        "accrued_fees": "0",
        "pending_transfer_in": "0",
        "pending_transfer_out": "0",
        "pending_reg_taf_fees": "0",
        "intraday_adjustments": "0",
        "created_at": created.rfc3339_micros(),
    })
}

/// `GET /v2/account`
pub(crate) async fn get(State(s): State<MockState>) -> ApiResult {
    Ok(ok(account_json(&s)))
}

/// `GET /v2/account/configurations`
pub(crate) async fn get_config(State(s): State<MockState>) -> ApiResult {
    Ok(ok(s.book().account_config.clone()))
}

/// `PATCH /v2/account/configurations`
pub(crate) async fn patch_config(State(s): State<MockState>, body: Bytes) -> ApiResult {
    let m = json_object(&body)?;
    let mut book = s.book();
    let mut next = book.account_config.clone();
    for (k, v) in m {
        let valid = match k.as_str() {
            "suspend_trade"
            | "no_shorting"
            | "fractional_trading"
            | "ptp_no_exception_entry"
            | "disable_overnight_trading" => v.is_boolean(),
            "max_margin_multiplier" => v.as_str().is_some_and(|s| ["1", "2", "4"].contains(&s)),
            "max_options_trading_level" => v.as_u64().is_some_and(|n| n <= 3),
            "trade_confirm_email" => v.as_str().is_some_and(|s| ["all", "none"].contains(&s)),
            "dtbp_check" | "pdt_check" => v
                .as_str()
                .is_some_and(|s| ["both", "entry", "exit"].contains(&s)),
            _ => {
                return Err(ApiError::unprocessable(format!(
                    "unknown configuration: {k}"
                )));
            }
        };
        if !valid {
            return Err(ApiError::unprocessable(format!("invalid value for {k}")));
        }
        next[k] = v;
    }
    book.account_config = next.clone();
    Ok(ok(next))
}

fn activities(s: &MockState, q: &Query, only: Option<&str>) -> Result<Vec<Value>, ApiError> {
    let types: Vec<String> = match only {
        Some(t) => vec![t.to_ascii_uppercase()],
        None => q
            .list("activity_types")
            .into_iter()
            .map(|t| t.to_ascii_uppercase())
            .collect(),
    };
    let category = q.one_of("category", &["trade_activity", "non_trade_activity"])?;
    let direction = q
        .one_of("direction", &["asc", "desc"])?
        .unwrap_or_else(|| "desc".into());
    let page_size = q.int("page_size", 1, 100)?.unwrap_or(100) as usize;
    let order_id = q.get("order_id");
    let after = q.time("after")?;
    let until = q.time("until")?;
    let date = q.date("date")?;
    let page_token = q.get("page_token");
    let book = s.book();
    let when = |a: &Value| -> Option<Timestamp> {
        a.get("transaction_time")
            .or_else(|| a.get("date"))
            .and_then(Value::as_str)
            .and_then(Timestamp::parse)
    };
    let mut out: Vec<Value> = book
        .activities
        .iter()
        .filter(|a| {
            let t = a["activity_type"].as_str().unwrap_or_default();
            types.is_empty() || types.iter().any(|w| w == t)
        })
        .filter(|a| match category.as_deref() {
            Some("trade_activity") => a["activity_type"] == "FILL",
            Some(_) => a["activity_type"] != "FILL",
            None => true,
        })
        .filter(|a| order_id.is_none_or(|id| a["order_id"] == id))
        .filter(|a| after.is_none_or(|t| when(a).is_some_and(|w| w > t)))
        .filter(|a| until.is_none_or(|t| when(a).is_some_and(|w| w < t)))
        .filter(|a| date.is_none_or(|d| when(a).is_some_and(|w| w.date_utc() == d)))
        .cloned()
        .collect();
    if direction == "desc" {
        out.reverse();
    }
    if let Some(tok) = page_token
        && let Some(i) = out.iter().position(|a| a["id"] == tok)
    {
        out.drain(..=i);
    }
    out.truncate(page_size);
    Ok(out)
}

/// `GET /v2/account/activities`
pub(crate) async fn list_activities(
    State(s): State<MockState>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Trading);
    Ok(ok(Value::Array(activities(&s, &q, None)?)))
}

const ACTIVITY_TYPES: &[&str] = &[
    "FILL", "TRANS", "MISC", "ACATC", "ACATS", "CFEE", "CGD", "CSD", "CSW", "DIV", "DIVCGL",
    "DIVCGS", "DIVFEE", "DIVFT", "DIVNRA", "DIVROC", "DIVTW", "DIVTXEX", "FEE", "INT", "INTNRA",
    "INTTW", "JNL", "JNLC", "JNLS", "MA", "NC", "OPASN", "OPCA", "OPCSH", "OPEXC", "OPEXP",
    "OPTRD", "PTC", "PTR", "REO", "REORG", "SPIN", "SPLIT", "FOPT", "OCT",
];

/// `GET /v2/account/activities/{activity_type}`
pub(crate) async fn list_activities_by_type(
    State(s): State<MockState>,
    Path(kind): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Trading);
    let upper = kind.to_ascii_uppercase();
    if !ACTIVITY_TYPES.contains(&upper.as_str()) {
        return Err(ApiError::unprocessable(format!(
            "invalid activity type: {kind}"
        )));
    }
    Ok(ok(Value::Array(activities(&s, &q, Some(&upper))?)))
}

/// Parses a period like `1D`, `2W`, `1M`, `1A` into days.
fn period_days(p: &str) -> Option<i64> {
    if !p.is_ascii() {
        return None;
    }
    let (n, unit) = p.split_at(p.len().checked_sub(1)?);
    let n: i64 = n.parse().ok().filter(|n| *n > 0 && *n < 1000)?;
    Some(match unit {
        "D" => n,
        "W" => n * 7,
        "M" => n * 30,
        "A" => n * 365,
        _ => return None,
    })
}

/// `GET /v2/account/portfolio/history`: daily or intraday equity, ending at the
/// current equity; earlier points follow the price model for today's positions.
pub(crate) async fn portfolio_history(
    State(s): State<MockState>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Trading);
    let timeframe = q
        .one_of("timeframe", &["1Min", "5Min", "15Min", "1H", "1D"])?
        .unwrap_or_else(|| "1D".into());
    q.one_of(
        "intraday_reporting",
        &["market_hours", "extended_hours", "continuous"],
    )?;
    let pnl_reset = q.one_of("pnl_reset", &["no_reset", "per_day"])?;
    let period = match q.get("period") {
        Some(p) => Some(period_days(p).ok_or_else(|| q.invalid(format!("invalid period: {p}")))?),
        None => None,
    };
    let now = s.now();
    let end = q.time("end")?.unwrap_or(now).min(now);
    let step: i64 = match timeframe.as_str() {
        "1Min" => 60,
        "5Min" => 300,
        "15Min" => 900,
        "1H" => 3600,
        _ => 86_400,
    };
    let intraday = step < 86_400;
    let start = match q.time("start")? {
        Some(t) => t,
        None => end.add_secs(-86_400 * period.unwrap_or(if intraday { 1 } else { 30 })),
    };
    if start > end {
        return Err(q.invalid("start must be before end"));
    }
    // Points: intraday ones inside regular sessions, daily ones on weekdays.
    let mut stamps: Vec<Timestamp> = Vec::new();
    if intraday {
        let mut t = Timestamp::from_unix_secs(start.unix_secs().div_euclid(step) * step);
        while t <= end && stamps.len() < 2000 {
            let d = t.date_eastern();
            let sod = t.eastern_secs_of_day();
            if d.is_weekday() && (9 * 3600 + 1800..16 * 3600).contains(&sod) {
                stamps.push(t);
            }
            t = t.add_secs(step);
        }
    } else {
        let mut d: Date = start.date_eastern();
        while d <= end.date_eastern() && stamps.len() < 2000 {
            if d.is_weekday() {
                stamps.push(d.at_eastern(0));
            }
            d = d.add_days(1);
        }
    }
    let book = s.book();
    let positions: Vec<(String, f64, f64)> = book
        .positions
        .values()
        .map(|p| (p.symbol.clone(), p.qty, p.multiplier))
        .collect();
    let cash = book.cash;
    drop(book);
    let base = s.config().starting_cash;
    let mut equity = Vec::new();
    let mut pl = Vec::new();
    let mut plpc = Vec::new();
    let mut prev_close = base;
    for t in &stamps {
        let at = if intraday {
            *t
        } else {
            t.add_secs(16 * 3600).min(now)
        };
        let value: f64 = cash
            + positions
                .iter()
                .map(|(sym, qty, mult)| {
                    qty * crate::market::model::any_price(s.seed(), sym, at) * mult
                })
                .sum::<f64>();
        let reference = if pnl_reset.as_deref() == Some("no_reset") || intraday {
            base
        } else {
            prev_close
        };
        equity.push(json!(round_to(value, 2)));
        pl.push(json!(round_to(value - reference, 2)));
        plpc.push(json!(round_to(
            (value - reference) / reference.max(1e-9),
            6
        )));
        prev_close = value;
    }
    Ok(ok(json!({
        "timestamp": stamps.iter().map(|t| t.unix_secs()).collect::<Vec<_>>(),
        "equity": equity,
        "profit_loss": pl,
        "profit_loss_pct": plpc,
        "base_value": round_to(base, 2),
        "base_value_asof": start.date_eastern().to_string(),
        "timeframe": timeframe,
        "cashflow": {},
    })))
}

impl MockState {
    /// The account object, as `GET /v2/account` prints it.
    pub fn account(&self) -> Value {
        account_json(self)
    }
}
