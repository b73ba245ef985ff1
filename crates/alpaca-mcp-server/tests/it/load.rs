//! Load over the streamable HTTP transport: many MCP sessions calling at once against the
//! sandbox. The small run (5 sessions x 20 calls) is a test that asserts zero errors; the big
//! one (50 x 200) is a benchmark that prints throughput, latency and peak memory:
//! `cargo test -p alpaca-mcp-server --release --test it load:: -- --ignored --nocapture`.

use crate::common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

struct Outcome {
    calls: usize,
    errors: usize,
    latencies: Vec<Duration>,
    elapsed: Duration,
    peak_rss_kib: Option<u64>,
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

async fn run(sessions: usize, calls_per_session: usize) -> Outcome {
    let (child, url) = http_server(&["--sandbox"]).await;
    let pid = child.id();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for s in 0..sessions {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let client = http_client(&url).await;
            let mut lat = Vec::with_capacity(calls_per_session);
            let mut errors = 0;
            for i in 0..calls_per_session {
                let symbol = ["AAPL", "MSFT", "NVDA", "TSLA", "SPY"][(s + i) % 5];
                let t = Instant::now();
                let r = client
                    .call_tool(
                        rmcp::model::CallToolRequestParams::new("get_stock_latest_quote")
                            .with_arguments(
                                json!({"symbols": symbol})
                                    .as_object()
                                    .cloned()
                                    .unwrap_or_default(),
                            ),
                    )
                    .await;
                lat.push(t.elapsed());
                if !matches!(r, Ok(ref r) if r.is_error == Some(false)) {
                    errors += 1;
                }
            }
            client.cancel().await.ok();
            (lat, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await.expect("session task");
        latencies.extend(lat);
        errors += e;
    }
    let elapsed = started.elapsed();
    let peak_rss_kib = pid.and_then(peak_rss_kib);
    drop(child);
    latencies.sort();
    Outcome {
        calls: sessions * calls_per_session,
        errors,
        latencies,
        elapsed,
        peak_rss_kib,
    }
}

fn report(name: &str, o: &Outcome) {
    let pct =
        |p: f64| o.latencies[((o.latencies.len() as f64 * p) as usize).min(o.latencies.len() - 1)];
    println!(
        "{name}: {} calls in {:.2?} = {:.0} calls/s; p50 {:.2?}, p99 {:.2?}; errors {}; server peak RSS {} KiB",
        o.calls,
        o.elapsed,
        o.calls as f64 / o.elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.99),
        o.errors,
        o.peak_rss_kib.map_or("?".into(), |k| k.to_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_sessions_of_twenty_calls_have_no_errors() {
    let o = run(5, 20).await;
    report("load 5x20", &o);
    assert_eq!(o.errors, 0);
    assert_eq!(o.latencies.len(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --release --ignored --nocapture"]
async fn fifty_sessions_of_two_hundred_calls() {
    let o = run(50, 200).await;
    report("load 50x200", &o);
    assert_eq!(o.errors, 0);
}
