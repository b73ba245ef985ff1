//! `/v1beta1/news`: one generated article every three hours per symbol.

use axum::extract::{RawQuery, State};
use serde_json::{Value, json};

use crate::assets::ok;
use crate::errors::ApiResult;
use crate::hashing::hash3;
use crate::query::{Api, Query};
use crate::state::MockState;
use crate::time::Timestamp;

const SLOT: i64 = 3 * 3600;
const DEFAULT_SYMBOLS: &[&str] = &["AAPL", "MSFT", "NVDA", "TSLA", "SPY", "BTCUSD"];
const HEADLINES: &[&str] = &[
    "{s} shares move as traders weigh quarterly outlook",
    "Analysts revisit price targets for {s}",
    "{s} draws heavy options activity ahead of earnings",
    "What the latest filing says about {s}",
    "{s} in focus after sector rotation",
    "Volume spikes in {s} during afternoon session",
];

fn article(seed: u64, symbol: &str, slot: i64, include_content: bool) -> Value {
    let h = hash3(seed, symbol, slot);
    let id = slot * 10 + (crate::hashing::hash_parts(&[symbol.as_bytes()]) % 10) as i64;
    let created = Timestamp::from_unix_secs(slot * SLOT + (h % SLOT as u64) as i64);
    let headline = HEADLINES[(h % HEADLINES.len() as u64) as usize].replace("{s}", symbol);
    let summary = format!("A generated summary about {symbol} for testing.");
    let content = if include_content {
        format!(
            "<p>{summary} This article was produced by the mock and carries no information.</p>"
        )
    } else {
        String::new()
    };
    json!({
        "id": id,
        "headline": headline,
        "author": "Mock Newsroom",
        "created_at": created.rfc3339(),
        "updated_at": created.add_secs(60).rfc3339(),
        "summary": summary,
        "content": content,
        "images": [
            { "size": "thumb", "url": format!("https://news.example/images/{id}/thumb.jpg") },
            { "size": "large", "url": format!("https://news.example/images/{id}/large.jpg") },
        ],
        "symbols": [symbol],
        "source": "mock",
        "url": format!("https://news.example/articles/{id}"),
    })
}

/// `GET /v1beta1/news`
pub(crate) async fn news(State(s): State<MockState>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Data);
    let now = s.now();
    let end = q.time("end")?.unwrap_or(now).min(now);
    let start = q
        .time("start")?
        .unwrap_or(end.add_secs(-3 * 86_400))
        .max(end.add_secs(-30 * 86_400));
    let desc = q.one_of("sort", &["asc", "desc"])?.as_deref() != Some("asc");
    let limit = q.int("limit", 1, 50)?.unwrap_or(10) as usize;
    let include_content = q.bool("include_content")?.unwrap_or(false);
    q.bool("exclude_contentless")?;
    let mut symbols: Vec<String> = q
        .list("symbols")
        .into_iter()
        .map(|x| x.to_ascii_uppercase().replace('/', ""))
        .collect();
    if symbols.is_empty() {
        symbols = DEFAULT_SYMBOLS.iter().map(|x| x.to_string()).collect();
    }
    symbols.truncate(50);
    let mut all: Vec<Value> = Vec::new();
    for slot in start.unix_secs().div_euclid(SLOT)..=end.unix_secs().div_euclid(SLOT) {
        for sym in &symbols {
            let a = article(s.seed(), sym, slot, include_content);
            let t = a["created_at"]
                .as_str()
                .and_then(Timestamp::parse)
                .unwrap_or(start);
            if t >= start && t <= end {
                all.push(a);
            }
        }
    }
    all.sort_by_key(|a| {
        (
            a["created_at"].as_str().map(str::to_string),
            a["id"].as_i64(),
        )
    });
    if desc {
        all.reverse();
    }
    let offset = match q.get("page_token") {
        None => 0,
        // The token is the next article's (numeric) id.
        Some(t) => t
            .parse::<i64>()
            .ok()
            .and_then(|id| all.iter().position(|a| a["id"].as_i64() == Some(id)))
            .ok_or_else(|| q.invalid("invalid page_token"))?,
    };
    let page: Vec<Value> = all.iter().skip(offset).take(limit).cloned().collect();
    let next = all.get(offset + limit).map(|a| a["id"].to_string());
    Ok(ok(json!({ "news": page, "next_page_token": next })))
}
