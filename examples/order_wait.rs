//! How long an order waits for the client-side rate limiter while hundreds of reads are queued
//! behind it: 300 market-data calls (the Market Data API has its own budget), then 300 trading
//! reads (same budget; writes go first). Run against the fake Alpaca with the default limits
//! (200 a minute per API, bursts of 50), so most of the reads are still waiting when the
//! orders go out.
//!
//! `cargo run --release --example order_wait` prints a table, then one JSON line (read by
//! `cargo xtask bench`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use alpaca_mcp::Credentials;
use alpaca_mcp::{AlpacaTools, Config};
use alpaca_mock::{MockConfig, MockServer};
use serde_json::{Value, json};

const QUEUED: usize = 300;
const ORDERS: usize = 9;

/// Queues `QUEUED` calls of `read`, then places `ORDERS` orders one after another; returns each
/// order's latency in milliseconds and how many reads were still waiting after the last.
async fn scenario(
    read: &'static str,
    args: Value,
) -> Result<(Vec<f64>, usize), Box<dyn std::error::Error>> {
    let mock = MockServer::start(MockConfig::default()).await?;
    let mut config = Config::from_lookup(|key| match key {
        "ALPACA_TOOLSETS" => Some("account,trading,assets,stock-data".into()),
        _ => None,
    })?;
    let url = alpaca_mcp::config::parse_url("mock", &mock.url())?;
    config.trading_url = url.clone();
    config.data_url = url;
    config.credentials = Some(Credentials {
        key_id: "bench".into(),
        secret_key: "bench".into(),
    });
    let tools = Arc::new(AlpacaTools::new(&config)?);
    let mut reads = Vec::new();
    for _ in 0..QUEUED {
        let (tools, args) = (tools.clone(), args.clone());
        reads.push(tokio::spawn(async move {
            tools.call(read, args.as_object().cloned()).await;
        }));
    }
    // Let the burst go out and the rest queue up.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut waits = Vec::new();
    for i in 0..ORDERS {
        let args = json!({"symbol": "AAPL", "side": "buy", "qty": 1, "type": "limit", "limit_price": "1", "client_order_id": format!("wait-{read}-{i}")});
        let started = Instant::now();
        let r = tools
            .call("place_stock_order", args.as_object().cloned())
            .await
            .ok_or("place_stock_order is not enabled")?;
        waits.push(started.elapsed().as_secs_f64() * 1000.0);
        if r.is_error == Some(true) {
            return Err(format!("the order failed: {:?}", r.content).into());
        }
        // A busy trader's pace: four orders a second.
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let waiting = reads.iter().filter(|t| !t.is_finished()).count();
    for t in reads {
        t.abort();
    }
    mock.shutdown().await;
    Ok((waits, waiting))
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (data, data_waiting) =
        scenario("get_stock_latest_quote", json!({"symbols": "AAPL"})).await?;
    let (trading, trading_waiting) = scenario("get_clock", json!({})).await?;
    let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    println!("order latency with {QUEUED} reads queued ({ORDERS} orders each):");
    println!(
        "  behind market-data reads: median {:.2} ms, max {:.2} ms ({data_waiting} reads still queued)",
        median(&data),
        max(&data)
    );
    println!(
        "  behind trading reads:     median {:.2} ms, max {:.2} ms ({trading_waiting} reads still queued)",
        median(&trading),
        max(&trading)
    );
    println!(
        "{}",
        json!({
            "queued": QUEUED, "orders": ORDERS,
            "data_ms": data, "data_still_queued": data_waiting,
            "trading_ms": trading, "trading_still_queued": trading_waiting,
        })
    );
    Ok(())
}
