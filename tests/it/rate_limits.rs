//! Rate limiting that matches Alpaca's: the Trading and Market Data APIs have separate
//! budgets, orders go ahead of queued reads, and the bucket follows Alpaca's own
//! `X-RateLimit-*` headers (a paid plan's limit, none remaining until the reset).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alpaca_mcp::runtime::RateLimit;
use alpaca_mcp::{AlpacaTools, Config};
use alpaca_mock::{Fault, FaultKind, MockServer};
use serde_json::{Value, json};
use support::*;

/// Makes the fake add `headers` to its answers under `prefix` (`times` of them, or all).
fn with_headers(mock: &MockServer, prefix: &str, headers: &[(&str, String)], times: Option<u32>) {
    let kind = FaultKind::WithHeaders(
        headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    );
    let fault = Fault::new(prefix, kind);
    mock.inject(match times {
        Some(n) => fault.times(n),
        None => fault,
    });
}

/// Both APIs paced at one request a second after a burst of one.
fn slow(mock: &MockServer) -> Arc<AlpacaTools> {
    let mut config: Config = config_for(mock);
    config.set_rate_limits(61, 1);
    Arc::new(AlpacaTools::new(&config).unwrap())
}

/// Runs `reads` copies of a read, then one order, all at once; returns the order in which they
/// finished ("order" among the read names).
async fn race(
    tools: Arc<AlpacaTools>,
    read: &'static str,
    args: Value,
    reads: usize,
) -> Vec<String> {
    let done = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 0..reads {
        let (tools, done, args) = (tools.clone(), done.clone(), args.clone());
        tasks.push(tokio::spawn(async move {
            let r = tools.call(read, args.as_object().cloned()).await.unwrap();
            assert_eq!(r.is_error, Some(false), "{}", text(&r));
            done.lock().unwrap().push(format!("read{i}"));
        }));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (t, d) = (tools.clone(), done.clone());
    tasks.push(tokio::spawn(async move {
        let r = t
            .call(
                "place_stock_order",
                json!({"symbol": "AAPL", "side": "buy", "qty": 1})
                    .as_object()
                    .cloned(),
            )
            .await
            .unwrap();
        assert_eq!(r.is_error, Some(false), "{}", text(&r));
        d.lock().unwrap().push("order".to_string());
    }));
    for t in tasks {
        t.await.unwrap();
    }
    Arc::try_unwrap(done).unwrap().into_inner().unwrap()
}

#[tokio::test]
async fn an_order_never_waits_behind_queued_market_data_reads() {
    let mock = mock().await;
    let order = race(
        slow(&mock),
        "get_stock_latest_quote",
        json!({"symbols": "AAPL"}),
        5,
    )
    .await;
    let at = order.iter().position(|n| n == "order").unwrap();
    assert!(
        at <= 1,
        "the order finished after {at} of the reads: {order:?}"
    );
    assert_eq!(posted(&mock, "/v2/orders").len(), 1);
}

#[tokio::test]
async fn an_order_goes_ahead_of_queued_trading_reads() {
    let mock = mock().await;
    let order = race(slow(&mock), "get_clock", json!({}), 5).await;
    let at = order.iter().position(|n| n == "order").unwrap();
    assert!(
        at <= 1,
        "the order finished after {at} of the reads: {order:?}"
    );
}

#[tokio::test]
async fn no_request_goes_out_before_alpacas_reset_when_none_remain() {
    let mock = mock().await;
    let tools = slow(&mock);
    let reset = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 2;
    with_headers(
        &mock,
        "/v2/clock",
        &[
            ("X-RateLimit-Limit", "200".into()),
            ("X-RateLimit-Remaining", "0".into()),
            ("X-RateLimit-Reset", reset.to_string()),
        ],
        Some(1),
    );
    let r = tools.call("get_clock", None).await.unwrap();
    assert_eq!(r.is_error, Some(false));
    let started = Instant::now();
    let r = tools.call("get_clock", None).await.unwrap();
    assert_eq!(r.is_error, Some(false));
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited {:?}",
        started.elapsed()
    );
    // The market data budget is not affected.
    let started = Instant::now();
    data(
        &tools
            .call(
                "get_stock_latest_quote",
                json!({"symbols": "AAPL"}).as_object().cloned(),
            )
            .await
            .unwrap(),
    );
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "waited {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_paid_plans_limit_is_taken_from_alpacas_headers() {
    let mock = mock().await;
    let mut config: Config = config_for(&mock);
    // Not set by the operator: Alpaca's X-RateLimit-Limit is followed, up or down.
    config.data_rate_limit = RateLimit {
        per_minute: 61,
        burst: 1,
        fixed: false,
    };
    let tools = Arc::new(AlpacaTools::new(&config).unwrap());
    with_headers(
        &mock,
        "/v2/stocks",
        &[
            ("X-RateLimit-Limit", "10000".into()),
            ("X-RateLimit-Remaining", "9999".into()),
        ],
        None,
    );
    let started = Instant::now();
    for _ in 0..8 {
        data(
            &tools
                .call(
                    "get_stock_latest_quote",
                    json!({"symbols": "AAPL"}).as_object().cloned(),
                )
                .await
                .unwrap(),
        );
    }
    // At 61 a minute eight calls take seven seconds; at 10,000 they do not wait.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
}
