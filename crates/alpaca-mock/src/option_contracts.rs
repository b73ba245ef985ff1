//! Option contracts: generated chains (weekly expirations, strikes around the
//! underlying's price) and `/v2/options/contracts`.

use axum::extract::{Path, RawQuery, State};
use serde_json::{Value, json};

use crate::assets::{self, ok};
use crate::errors::{ApiError, ApiResult};
use crate::ids::stable_uuid;
use crate::market::model::{self, Occ};
use crate::numbers::{dec, price};
use crate::query::{Api, Query};
use crate::state::MockState;
use crate::time::{Date, Timestamp};

/// Underlyings whose chains are as deep as a liquid index ETF's: daily expirations for two
/// weeks, weeklies to two months, monthlies to a year, and 60 strikes a dollar apart on each
/// side (thousands of contracts, as SPY has).
const LIQUID: &[&str] = &["SPY", "QQQ", "IWM"];

/// The strike spacing for an underlying price.
fn strike_step(p: f64) -> f64 {
    match p {
        x if x >= 200.0 => 5.0,
        x if x >= 50.0 => 2.5,
        x if x >= 10.0 => 1.0,
        _ => 0.5,
    }
}

/// A chain's expiration dates from `today`: for a liquid underlying every weekday for two
/// weeks, then Fridays to eight weeks, then third Fridays to a year; otherwise six weekly
/// Fridays, then third Fridays to six months.
fn expirations(today: Date, liquid: bool) -> Vec<Date> {
    let (dailies, weeks, months) = if liquid { (10, 8, 12) } else { (0, 6, 6) };
    let mut out = Vec::new();
    let mut d = today;
    while out.len() < dailies {
        if d.weekday() < 5 {
            out.push(d);
        }
        d = d.add_days(1);
    }
    let mut d = today;
    for _ in 0..weeks {
        while d.weekday() != 4 {
            d = d.add_days(1);
        }
        if !out.contains(&d) {
            out.push(d);
        }
        d = d.add_days(1);
    }
    let last = today.add_days(months * 31);
    let mut d = today;
    while d <= last {
        // The third Friday: a Friday on the 15th to the 21st.
        if d.weekday() == 4 && (15..=21).contains(&d.day) && !out.contains(&d) {
            out.push(d);
        }
        d = d.add_days(1);
    }
    out.sort();
    out
}

/// The generated chain of `underlying` as of `now`, sorted by symbol.
pub(crate) fn chain(seed: u64, underlying: &str, now: Timestamp) -> Vec<Occ> {
    let root = underlying.to_ascii_uppercase();
    if root.is_empty() || root.len() > 6 || !root.bytes().all(|b| b.is_ascii_uppercase()) {
        return Vec::new();
    }
    let liquid = LIQUID.contains(&root.as_str());
    // Strikes stay put for a day: centre them on the previous close.
    let anchor = now.date_eastern().at_eastern(0);
    let p = model::price_at(seed, &root, anchor);
    let (step, each_side) = if liquid {
        (1.0, 60)
    } else {
        (strike_step(p), 10)
    };
    let atm = (p / step).round() * step;
    let mut out = Vec::new();
    for d in expirations(now.date_eastern(), liquid) {
        for i in -each_side..=each_side {
            let strike = atm + i as f64 * step;
            if strike <= 0.0 {
                continue;
            }
            for call in [true, false] {
                out.push(Occ {
                    root: root.clone(),
                    expiration: d,
                    call,
                    strike,
                });
            }
        }
    }
    out.sort_by_key(Occ::symbol);
    out
}

/// Underlyings whose contracts the trading API lists.
pub(crate) fn optionable() -> impl Iterator<Item = &'static str> {
    assets::ASSETS
        .iter()
        .filter(|a| a.has_options)
        .map(|a| a.symbol)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

pub(crate) fn contract_json(seed: u64, occ: &Occ, now: Timestamp, deliverables: bool) -> Value {
    let symbol = occ.symbol();
    let prev_close_at = now.date_eastern().prev_weekday().at_eastern(16 * 3600);
    let close = model::option_price(seed, occ, prev_close_at);
    let oi = crate::hashing::hash_parts(&[b"oi", symbol.as_bytes()]) % 20_000;
    let underlying_id = stable_uuid(&occ.root);
    let mut v = json!({
        "id": stable_uuid(&symbol),
        "symbol": symbol,
        "name": format!(
            "{} {} {} {} {} {}",
            occ.root,
            MONTHS[(occ.expiration.month - 1) as usize],
            occ.expiration.day,
            occ.expiration.year,
            dec(occ.strike, 3),
            if occ.call { "Call" } else { "Put" }
        ),
        "status": "active",
        "tradable": true,
        "expiration_date": occ.expiration.to_string(),
        "root_symbol": occ.root,
        "underlying_symbol": occ.root,
        "underlying_asset_id": underlying_id,
        "type": if occ.call { "call" } else { "put" },
        "style": "american",
        "strike_price": dec(occ.strike, 3),
        "multiplier": "100",
        "size": "100",
        "open_interest": oi.to_string(),
        "open_interest_date": prev_close_at.date_eastern().to_string(),
        "close_price": price(close),
        "close_price_date": prev_close_at.date_eastern().to_string(),
        "ppind": true,
    });
    if deliverables {
        v["deliverables"] = json!([{
            "type": "equity",
            "symbol": occ.root,
            "asset_id": underlying_id,
            "amount": "100",
            "allocation_percentage": "100",
            "settlement_type": "T+1",
            "settlement_method": "CCC",
            "delayed_settlement": false,
        }]);
    }
    v
}

/// `GET /v2/options/contracts`
pub(crate) async fn list(State(s): State<MockState>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Trading);
    let now = s.now();
    let underlyings: Vec<String> = {
        let l: Vec<String> = q
            .list("underlying_symbols")
            .into_iter()
            .map(|x| x.to_ascii_uppercase())
            .collect();
        if l.is_empty() {
            optionable().map(str::to_string).collect()
        } else {
            l
        }
    };
    let status = q.one_of("status", &["active", "inactive"])?;
    let exp = q.date("expiration_date")?;
    let exp_gte = q.date("expiration_date_gte")?;
    // Alpaca's default upper bound: the coming weekend.
    let exp_lte = q.date("expiration_date_lte")?.or_else(|| {
        (exp.is_none() && exp_gte.is_none()).then(|| {
            let mut d = now.date_eastern();
            while d.weekday() != 6 {
                d = d.add_days(1);
            }
            d
        })
    });
    let root = q.get("root_symbol").map(str::to_ascii_uppercase);
    let kind = q.one_of("type", &["call", "put"])?;
    q.one_of("style", &["american", "european"])?;
    let k_gte = q.number("strike_price_gte")?;
    let k_lte = q.number("strike_price_lte")?;
    let limit = q.int("limit", 1, 10_000)?.unwrap_or(100) as usize;
    let deliverables = q.bool("show_deliverables")?.unwrap_or(false);
    q.bool("ppind")?;
    let offset: usize = match q.get("page_token") {
        Some(t) => t.parse().map_err(|_| q.invalid("invalid page_token"))?,
        None => 0,
    };
    let mut all: Vec<Occ> = Vec::new();
    if status.as_deref() != Some("inactive") {
        for u in underlyings
            .iter()
            .filter(|u| optionable().any(|o| o == u.as_str()))
        {
            all.extend(chain(s.seed(), u, now));
        }
    }
    let matching: Vec<Occ> = all
        .into_iter()
        .filter(|o| exp.is_none_or(|d| o.expiration == d))
        .filter(|o| exp_gte.is_none_or(|d| o.expiration >= d))
        .filter(|o| exp_lte.is_none_or(|d| o.expiration <= d))
        .filter(|o| root.as_deref().is_none_or(|r| r == o.root))
        .filter(|o| kind.as_deref().is_none_or(|k| (k == "call") == o.call))
        .filter(|o| k_gte.is_none_or(|k| o.strike >= k))
        .filter(|o| k_lte.is_none_or(|k| o.strike <= k))
        .collect();
    let page: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|o| contract_json(s.seed(), o, now, deliverables))
        .collect();
    let next = (offset + limit < matching.len()).then(|| (offset + limit).to_string());
    Ok(ok(
        json!({ "option_contracts": page, "next_page_token": next }),
    ))
}

/// `GET /v2/options/contracts/{symbol_or_id}`
pub(crate) async fn get(State(s): State<MockState>, Path(id): Path<String>) -> ApiResult {
    let now = s.now();
    let by_symbol = Occ::parse(&id).filter(|o| optionable().any(|u| u == o.root));
    let found = by_symbol.or_else(|| {
        optionable()
            .flat_map(|u| chain(s.seed(), u, now))
            .find(|o| stable_uuid(&o.symbol()) == id)
    });
    found
        .map(|o| ok(contract_json(s.seed(), &o, now, true)))
        .ok_or_else(|| ApiError::not_found(format!("option contract not found for {id}")))
}
