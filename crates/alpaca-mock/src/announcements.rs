//! Corporate action announcements on the trading API
//! (`/v2/corporate_actions/announcements`): quarterly dividends and a few splits
//! generated for the fixed assets.

use axum::extract::{Path, RawQuery};
use serde_json::{Value, json};

use crate::assets::{cusip, ok};
use crate::errors::{ApiError, ApiResult};
use crate::ids::stable_uuid;
use crate::query::{Api, Query};
use crate::time::Date;

/// (symbol, quarterly cash dividend per share).
const DIVIDENDS: &[(&str, f64)] = &[
    ("AAPL", 0.25),
    ("MSFT", 0.83),
    ("SPY", 1.74),
    ("QQQ", 0.68),
    ("IWM", 0.72),
    ("GOOGL", 0.20),
    ("META", 0.50),
    ("NVDA", 0.01),
];

/// (symbol, date, new rate, old rate).
const SPLITS: &[(&str, &str, u32, u32)] = &[
    ("NVDA", "2024-06-10", 10, 1),
    ("TSLA", "2022-08-25", 3, 1),
    ("AMZN", "2022-06-06", 20, 1),
    ("GOOGL", "2022-07-18", 20, 1),
];

fn second_friday(year: i32, month: u32) -> Option<Date> {
    let mut d = Date::new(year, month, 1)?;
    while d.weekday() != 4 {
        d = d.add_days(1);
    }
    Some(d.add_days(7))
}

/// Every announcement with an ex-date in `years`.
fn generate(years: std::ops::RangeInclusive<i32>) -> Vec<Value> {
    let mut out = Vec::new();
    for year in years {
        for (sym, cash) in DIVIDENDS {
            for month in [2u32, 5, 8, 11] {
                let Some(ex) = second_friday(year, month) else {
                    continue;
                };
                let key = format!("Dividend:{sym}:{ex}");
                out.push(json!({
                    "id": stable_uuid(&key),
                    "corporate_action_id": format!("{}_DIV_{}", cusip(sym), ex.to_string().replace('-', "")),
                    "ca_type": "Dividend",
                    "ca_sub_type": "cash",
                    "initiating_symbol": sym,
                    "initiating_original_cusip": cusip(sym),
                    "target_symbol": sym,
                    "target_original_cusip": cusip(sym),
                    "declaration_date": ex.add_days(-14).to_string(),
                    "ex_date": ex.to_string(),
                    "record_date": ex.to_string(),
                    "payable_date": ex.add_days(7).next_weekday().to_string(),
                    "cash": crate::numbers::dec(*cash, 4),
                    "old_rate": "1",
                    "new_rate": "1",
                }));
            }
        }
        for (sym, date, new, old) in SPLITS {
            let Some(ex) = Date::parse(date).filter(|d| d.year == year) else {
                continue;
            };
            let key = format!("Split:{sym}:{ex}");
            out.push(json!({
                "id": stable_uuid(&key),
                "corporate_action_id": format!("{}_SPLIT_{}", cusip(sym), ex.to_string().replace('-', "")),
                "ca_type": "Split",
                "ca_sub_type": "stock_split",
                "initiating_symbol": sym,
                "initiating_original_cusip": cusip(sym),
                "target_symbol": sym,
                "target_original_cusip": cusip(sym),
                "declaration_date": ex.add_days(-30).to_string(),
                "ex_date": ex.to_string(),
                "record_date": ex.add_days(-4).to_string(),
                "payable_date": ex.add_days(-3).to_string(),
                "cash": "0",
                "old_rate": old.to_string(),
                "new_rate": new.to_string(),
            }));
        }
    }
    out
}

const CA_TYPES: &[&str] = &["Spinoff", "Merger", "Split", "Reorg", "Dividend"];

/// `GET /v2/corporate_actions/announcements`
pub(crate) async fn list(RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Trading);
    let types = q.required_list("ca_types")?;
    // The live API takes the types in lowercase (Alpaca's SDK sends `dividend`), the spec lists
    // them capitalized: either is accepted, and answers use the spec's spelling.
    if let Some(bad) = types
        .iter()
        .find(|t| !CA_TYPES.iter().any(|c| c.eq_ignore_ascii_case(t)))
    {
        return Err(q.invalid(format!("invalid ca_types: {bad}")));
    }
    q.required("since")?;
    q.required("until")?;
    let since = q
        .date("since")?
        .ok_or_else(|| q.invalid("since is required"))?;
    let until = q
        .date("until")?
        .ok_or_else(|| q.invalid("until is required"))?;
    if until < since {
        return Err(q.invalid("until must not be before since"));
    }
    if until.days_since_epoch() - since.days_since_epoch() > 90 {
        return Err(q.invalid("date range must not exceed 90 days"));
    }
    let date_type = q
        .one_of(
            "date_type",
            &["declaration_date", "ex_date", "record_date", "payable_date"],
        )?
        .unwrap_or_else(|| "ex_date".into());
    let symbol = q.get("symbol").map(str::to_ascii_uppercase);
    let cusip_filter = q.get("cusip");
    let out: Vec<Value> = generate(since.year - 1..=until.year + 1)
        .into_iter()
        .filter(|a| {
            types.iter().any(|t| {
                a["ca_type"]
                    .as_str()
                    .is_some_and(|c| c.eq_ignore_ascii_case(t))
            })
        })
        .filter(|a| {
            a[date_type.as_str()]
                .as_str()
                .and_then(Date::parse)
                .is_some_and(|d| d >= since && d <= until)
        })
        .filter(|a| {
            symbol
                .as_deref()
                .is_none_or(|s| a["initiating_symbol"] == s || a["target_symbol"] == s)
        })
        .filter(|a| {
            cusip_filter.is_none_or(|c| {
                a["initiating_original_cusip"] == c || a["target_original_cusip"] == c
            })
        })
        .collect();
    Ok(ok(Value::Array(out)))
}

/// `GET /v2/corporate_actions/announcements/{id}`
pub(crate) async fn get(Path(id): Path<String>) -> ApiResult {
    generate(2015..=2035)
        .into_iter()
        .find(|a| a["id"] == id.as_str())
        .map(ok)
        .ok_or_else(|| ApiError::not_found(format!("announcement not found: {id}")))
}

/// The id of a generated announcement (for tests and examples).
pub(crate) fn example_id() -> String {
    stable_uuid("Split:NVDA:2024-06-10")
}
