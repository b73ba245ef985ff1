//! `/v1/corporate-actions`: quarterly cash dividends and a few forward splits.

use axum::extract::{RawQuery, State};
use serde_json::{Map, Value, json};

use crate::assets::{cusip, ok};
use crate::errors::ApiResult;
use crate::ids::stable_uuid;
use crate::query::{Api, Query};
use crate::state::MockState;
use crate::time::Date;

const TYPES: &[&str] = &[
    "reverse_split",
    "forward_split",
    "unit_split",
    "cash_dividend",
    "stock_dividend",
    "spin_off",
    "cash_merger",
    "stock_merger",
    "stock_and_cash_merger",
    "redemption",
    "name_change",
    "worthless_removal",
    "rights_distribution",
    "partial_call",
    "reorganization",
    "capital_gains_distribution",
];
const DEFAULT_SYMBOLS: &[&str] = &[
    "AAPL", "MSFT", "SPY", "QQQ", "NVDA", "TSLA", "AMZN", "GOOGL",
];
const SPLITS: &[(&str, &str, f64, f64)] = &[
    ("NVDA", "2024-06-10", 10.0, 1.0),
    ("TSLA", "2022-08-25", 3.0, 1.0),
    ("AMZN", "2022-06-06", 20.0, 1.0),
    ("GOOGL", "2022-07-18", 20.0, 1.0),
];

fn isin(sym: &str) -> String {
    format!(
        "US{}{}",
        cusip(sym),
        crate::hashing::hash_parts(&[b"isin", sym.as_bytes()]) % 10
    )
}

/// (type, sort date, item) for one symbol over [start, end].
fn items(sym: &str, start: Date, end: Date) -> Vec<(&'static str, Date, Value)> {
    let mut out = Vec::new();
    let rate = 0.1 + (crate::hashing::hash_parts(&[b"div", sym.as_bytes()]) % 150) as f64 / 100.0;
    let mut y = start.year;
    while y <= end.year {
        for month in [2u32, 5, 8, 11] {
            let Some(mut ex) = Date::new(y, month, 10) else {
                continue;
            };
            while !ex.is_weekday() {
                ex = ex.add_days(1);
            }
            if ex < start || ex > end {
                continue;
            }
            out.push((
                "cash_dividends",
                ex,
                json!({
                    "id": stable_uuid(&format!("cash_dividend:{sym}:{ex}")),
                    "symbol": sym,
                    "cusip": cusip(sym),
                    "isin": isin(sym),
                    "currency": "USD",
                    "rate": rate,
                    "special": false,
                    "foreign": false,
                    "process_date": ex.to_string(),
                    "ex_date": ex.to_string(),
                    "record_date": ex.to_string(),
                    "payable_date": ex.add_days(14).to_string(),
                }),
            ));
        }
        y += 1;
    }
    for (s, d, new, old) in SPLITS {
        let Some(d) = Date::parse(d) else { continue };
        if *s == sym && d >= start && d <= end {
            out.push((
                "forward_splits",
                d,
                json!({
                    "id": stable_uuid(&format!("forward_split:{sym}:{d}")),
                    "symbol": sym,
                    "cusip": cusip(sym),
                    "isin": isin(sym),
                    "new_rate": new,
                    "old_rate": old,
                    "process_date": d.to_string(),
                    "ex_date": d.to_string(),
                    "record_date": d.add_days(-4).to_string(),
                    "payable_date": d.add_days(-3).to_string(),
                }),
            ));
        }
    }
    out
}

/// `GET /v1/corporate-actions`
pub(crate) async fn list(State(s): State<MockState>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Data);
    let types = q.list("types");
    if let Some(bad) = types.iter().find(|t| !TYPES.contains(&t.as_str())) {
        return Err(q.invalid(format!("invalid type: {bad}")));
    }
    q.one_of("region", &["us", "non_us", "all"])?;
    q.one_of("data_quality", &["complete", "all"])?;
    let today = s.now().date_eastern();
    let start = q.date("start")?.unwrap_or(today.add_days(-90));
    let end = q
        .date("end")?
        .unwrap_or(today.add_days(90))
        .min(start.add_days(3660));
    if end < start {
        return Err(q.invalid("end must not be before start"));
    }
    let limit = q.int("limit", 1, 1000)?.unwrap_or(100) as usize;
    let desc = q.one_of("sort", &["asc", "desc"])?.as_deref() == Some("desc");
    let ids = q.list("ids");
    let cusips = q.list("cusips");
    let mut symbols: Vec<String> = q
        .list("symbols")
        .into_iter()
        .map(|x| x.to_ascii_uppercase())
        .collect();
    if symbols.is_empty() {
        symbols = DEFAULT_SYMBOLS.iter().map(|x| x.to_string()).collect();
    }
    symbols.truncate(1000);
    let mut all: Vec<(&str, Date, Value)> = symbols
        .iter()
        .flat_map(|sym| items(sym, start, end))
        .filter(|(kind, _, _)| {
            types.is_empty()
                || types.iter().any(|t| {
                    format!("{t}s") == *kind || (t == "forward_split" && *kind == "forward_splits")
                })
        })
        .filter(|(_, _, v)| ids.is_empty() || ids.iter().any(|i| v["id"] == i.as_str()))
        .filter(|(_, _, v)| cusips.is_empty() || cusips.iter().any(|c| v["cusip"] == c.as_str()))
        .collect();
    all.sort_by(|a, b| {
        a.1.cmp(&b.1)
            .then_with(|| a.2["id"].as_str().cmp(&b.2["id"].as_str()))
    });
    if desc {
        all.reverse();
    }
    let offset: usize = match q.get("page_token") {
        None => 0,
        Some(t) => t.parse().map_err(|_| q.invalid("invalid page_token"))?,
    };
    let mut groups: Map<String, Value> = Map::new();
    for (kind, _, v) in all.iter().skip(offset).take(limit) {
        if let Value::Array(a) = groups.entry(kind.to_string()).or_insert_with(|| json!([])) {
            a.push(v.clone());
        }
    }
    let next = (offset + limit < all.len()).then(|| (offset + limit).to_string());
    Ok(ok(
        json!({ "corporate_actions": groups, "next_page_token": next }),
    ))
}
