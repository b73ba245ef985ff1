//! How many calls to Alpaca the response cache saves over a scripted session of a model's
//! typical requests: a few assets, an option chain, the calendar, the account and quotes, asked
//! again on later turns, as a conversation does. Run against the fake Alpaca, once with the
//! cache and once with `ALPACA_CACHE=off`; the fake's request log counts what reached "Alpaca".
//!
//! `cargo run --release --example cache_session` prints a table, then one JSON line (read by
//! `cargo xtask bench`).

use alpaca_mcp::Credentials;
use alpaca_mcp::{AlpacaTools, Config};
use alpaca_mock::{MockConfig, MockServer};
use serde_json::{Value, json};

/// One turn of the session: what a model asks while planning a trade.
fn turn() -> Vec<(&'static str, Value)> {
    vec![
        ("get_account_info", json!({})),
        ("get_asset", json!({"symbol_or_asset_id": "AAPL"})),
        ("get_asset", json!({"symbol_or_asset_id": "MSFT"})),
        ("get_asset", json!({"symbol_or_asset_id": "NVDA"})),
        ("get_stock_latest_quote", json!({"symbols": "AAPL"})),
        (
            "get_option_contracts",
            json!({"underlying_symbols": "AAPL", "type": "call", "limit": 20}),
        ),
        (
            "get_option_chain",
            json!({"underlying_symbol": "AAPL", "type": "call", "limit": 20}),
        ),
        (
            "get_calendar",
            json!({"start": "2025-01-13", "end": "2025-01-24"}),
        ),
        ("get_clock", json!({})),
        ("get_all_positions", json!({})),
    ]
}

/// Turns in the session (the first asks everything for the first time).
const TURNS: usize = 5;

/// Runs the session; returns (tool calls, requests that reached the fake).
async fn session(cache: bool) -> Result<(usize, usize), Box<dyn std::error::Error>> {
    let mock = MockServer::start(MockConfig::default()).await?;
    let mut config = Config::from_lookup(|key| match key {
        "ALPACA_CACHE" if !cache => Some("off".into()),
        "ALPACA_TOOLSETS" => Some("account,trading,assets,stock-data,options-data".into()),
        _ => None,
    })?;
    let url = alpaca_mcp::config::parse_url("mock", &mock.url())?;
    config.trading_url = url.clone();
    config.data_url = url;
    config.set_rate_limits(0, 0);
    config.credentials = Some(Credentials {
        key_id: "bench".into(),
        secret_key: "bench".into(),
    });
    let tools = AlpacaTools::new(&config)?;
    mock.clear_requests();
    let mut calls = 0;
    for _ in 0..TURNS {
        for (name, args) in turn() {
            let result = tools
                .call(name, args.as_object().cloned())
                .await
                .ok_or_else(|| format!("{name} is not enabled"))?;
            if result.is_error == Some(true) {
                return Err(format!("{name} failed: {:?}", result.content).into());
            }
            calls += 1;
        }
    }
    let upstream = mock.requests().len();
    mock.shutdown().await;
    Ok((calls, upstream))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (calls, with_cache) = session(true).await?;
    let (_, without_cache) = session(false).await?;
    let saved = without_cache - with_cache;
    println!("scripted session: {calls} tool calls over {TURNS} turns");
    println!("  requests to Alpaca, cache on:   {with_cache}");
    println!("  requests to Alpaca, cache off:  {without_cache}");
    println!(
        "  saved by the cache:             {saved} ({:.0}%)",
        100.0 * saved as f64 / without_cache as f64
    );
    println!(
        "{}",
        json!({"tool_calls": calls, "turns": TURNS, "with_cache": with_cache, "without_cache": without_cache})
    );
    Ok(())
}
