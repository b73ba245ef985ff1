//! `/v1beta1/screener/...`: top movers and most active stocks from a fixed
//! universe, priced by the model.

use axum::extract::{Path, RawQuery, State};
use serde_json::{Value, json};

use super::items;
use super::model;
use crate::assets::ok;
use crate::errors::{ApiError, ApiResult};
use crate::numbers::round_to;
use crate::query::{Api, Query};
use crate::state::MockState;
use crate::time::Timestamp;

const STOCK_UNIVERSE: &[&str] = &[
    "AAPL", "AMD", "AMZN", "BA", "BAC", "COIN", "CSCO", "CVX", "DIS", "F", "GM", "GME", "GOOGL",
    "HOOD", "INTC", "IWM", "JPM", "KO", "LCID", "META", "MRK", "MSFT", "NFLX", "NKE", "NVDA",
    "ORCL", "PEP", "PFE", "PLTR", "QQQ", "RIVN", "SBUX", "SNAP", "SOFI", "SPY", "T", "TSLA",
    "UBER", "VZ", "WMT", "XOM",
];
const CRYPTO_UNIVERSE: &[&str] = &[
    "AAVE/USD", "AVAX/USD", "BCH/USD", "BTC/USD", "DOGE/USD", "DOT/USD", "ETH/USD", "LINK/USD",
    "LTC/USD", "SHIB/USD", "SOL/USD", "UNI/USD", "XRP/USD",
];

fn change(seed: u64, sym: &str, now: Timestamp) -> (f64, f64, f64) {
    let price = items::latest_trade_price(seed, sym, now);
    let (_, prev_day) = items::daily_bars(sym, now);
    let prev_close = model::any_price(seed, sym, prev_day.add_secs(86_399).min(now));
    let ch = price - prev_close;
    (
        price,
        round_to(ch, 4),
        round_to(ch / prev_close.max(1e-9) * 100.0, 4),
    )
}

/// `GET /v1beta1/screener/{market_type}/movers`
pub(crate) async fn movers(
    State(s): State<MockState>,
    Path(market): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Data);
    let universe = match market.as_str() {
        "stocks" => STOCK_UNIVERSE,
        "crypto" => CRYPTO_UNIVERSE,
        _ => {
            return Err(ApiError::not_found(format!(
                "unknown market type: {market}"
            )));
        }
    };
    let top = q.int("top", 1, 50)?.unwrap_or(10) as usize;
    let now = s.now();
    let mut rows: Vec<(String, f64, f64, f64)> = universe
        .iter()
        .map(|sym| {
            let (p, ch, pct) = change(s.seed(), sym, now);
            (sym.to_string(), p, ch, pct)
        })
        .collect();
    rows.sort_by(|a, b| b.3.total_cmp(&a.3).then(a.0.cmp(&b.0)));
    let row = |r: &(String, f64, f64, f64)| json!({ "symbol": r.0, "price": r.1, "change": r.2, "percent_change": r.3 });
    let gainers: Vec<Value> = rows
        .iter()
        .filter(|r| r.3 > 0.0)
        .take(top)
        .map(row)
        .collect();
    let losers: Vec<Value> = rows
        .iter()
        .rev()
        .filter(|r| r.3 < 0.0)
        .take(top)
        .map(row)
        .collect();
    Ok(ok(json!({
        "gainers": gainers,
        "losers": losers,
        "market_type": market,
        "last_updated": now.rfc3339_nanos(),
    })))
}

/// `GET /v1beta1/screener/stocks/most-actives`
pub(crate) async fn most_actives(State(s): State<MockState>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Data);
    let by = q
        .one_of("by", &["volume", "trades"])?
        .unwrap_or_else(|| "volume".into());
    let top = q.int("top", 1, 100)?.unwrap_or(10) as usize;
    let now = s.now();
    let mut rows: Vec<(String, u64, u64)> = STOCK_UNIVERSE
        .iter()
        .map(|sym| {
            let (today, _) = items::daily_bars(sym, now);
            let bar = items::bar(s.seed(), sym, today, 86_400, now, 1.0);
            (
                sym.to_string(),
                bar["v"].as_u64().unwrap_or(0),
                bar["n"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    if by == "trades" {
        rows.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
    } else {
        rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    }
    let list: Vec<Value> = rows
        .iter()
        .take(top)
        .map(|r| json!({ "symbol": r.0, "volume": r.1, "trade_count": r.2 }))
        .collect();
    Ok(ok(
        json!({ "most_actives": list, "last_updated": now.rfc3339_nanos() }),
    ))
}
