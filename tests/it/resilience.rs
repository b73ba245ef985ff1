//! Alpaca's limits and faults: the client-side rate limiter, retries of idempotent requests
//! only (429 with `Retry-After`, 502/503/504, dropped connections), timeouts that are not
//! retried, bodies that are not JSON, and bodies too large to hold. Every test checks what the
//! fake actually received.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alpaca_mcp::{AlpacaServer, AlpacaTools, Config};
use alpaca_mock::{Fault, FaultKind, MockServer};
use rmcp::ServiceExt;
use serde_json::json;
use support::*;

/// A config against `mock` with fast retries.
fn fast(mock: &MockServer) -> Config {
    let mut config = config_for(mock);
    config.retry_base = Duration::from_millis(20);
    config
}

/// How many requests with `method` the fake received on `path`.
fn seen(mock: &MockServer, method: &str, path: &str) -> usize {
    mock.requests()
        .iter()
        .filter(|r| r.method == method && r.path == path)
        .count()
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out_then_retried() {
    let mock = mock().await;
    let client = connect(&fast(&mock)).await;
    mock.clear_requests();
    mock.inject(
        Fault::new("/v2/clock", FaultKind::rate_limited(1))
            .method("GET")
            .once(),
    );
    let started = Instant::now();
    let r = call(&client, "get_clock", json!({})).await;
    let elapsed = started.elapsed();
    assert!(data(&r)["is_open"].is_boolean(), "{}", text(&r));
    assert!(elapsed >= Duration::from_secs(1), "waited {elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "waited {elapsed:?}");
    assert_eq!(seen(&mock, "GET", "/v2/clock"), 2);
}

#[tokio::test]
async fn a_long_retry_after_is_returned_at_once_with_its_hint() {
    let mock = mock().await;
    let client = connect(&fast(&mock)).await;
    mock.clear_requests();
    mock.inject(Fault::new("/v2/clock", FaultKind::rate_limited(45)).once());
    let started = Instant::now();
    let r = call(&client, "get_clock", json!({})).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(r.is_error, Some(true));
    let t = text(&r);
    assert!(t.contains("HTTP 429") && t.contains("wait 45 s"), "{t}");
    assert_eq!(seen(&mock, "GET", "/v2/clock"), 1, "not retried");
}

#[tokio::test]
async fn a_get_that_fails_with_503_twice_succeeds_on_the_third_try() {
    let mock = mock().await;
    let client = connect(&fast(&mock)).await;
    mock.clear_requests();
    mock.inject(
        Fault::new("/v2/clock", FaultKind::status(503))
            .method("GET")
            .times(2),
    );
    let r = call(&client, "get_clock", json!({})).await;
    assert!(data(&r)["is_open"].is_boolean(), "{}", text(&r));
    assert_eq!(seen(&mock, "GET", "/v2/clock"), 3);
}

#[tokio::test]
async fn a_get_gives_up_after_three_tries() {
    let mock = mock().await;
    let client = connect(&fast(&mock)).await;
    mock.clear_requests();
    mock.inject(Fault::new("/v2/clock", FaultKind::status(502)).times(10));
    let r = call(&client, "get_clock", json!({})).await;
    assert_eq!(r.is_error, Some(true));
    assert!(text(&r).contains("HTTP 502"), "{}", text(&r));
    assert_eq!(seen(&mock, "GET", "/v2/clock"), 3, "3 tries in all");

    // A 500 is not a transient failure: returned at once.
    mock.clear_faults();
    mock.clear_requests();
    mock.inject(Fault::new("/v2/clock", FaultKind::status(500)).times(10));
    let r = call(&client, "get_clock", json!({})).await;
    assert!(text(&r).contains("HTTP 500"), "{}", text(&r));
    assert_eq!(seen(&mock, "GET", "/v2/clock"), 1);
}

#[tokio::test]
async fn a_dropped_connection_on_a_get_is_retried() {
    let mock = mock().await;
    let client = connect(&fast(&mock)).await;
    mock.clear_requests();
    mock.inject(
        Fault::new("/v2/clock", FaultKind::Drop)
            .method("GET")
            .once(),
    );
    let r = call(&client, "get_clock", json!({})).await;
    assert!(data(&r)["is_open"].is_boolean(), "{}", text(&r));
    assert_eq!(seen(&mock, "GET", "/v2/clock"), 2);
}

#[tokio::test]
async fn a_slow_response_past_the_timeout_is_a_timeout_and_is_not_retried() {
    let mock = mock().await;
    let mut config = fast(&mock);
    config.request_timeout = Duration::from_millis(300);
    let client = connect(&config).await;
    mock.clear_requests();
    mock.inject(Fault::new("/v2/clock", FaultKind::Delay(Duration::from_secs(2))).once());
    let started = Instant::now();
    let r = call(&client, "get_clock", json!({})).await;
    assert_eq!(r.is_error, Some(true));
    let t = text(&r);
    assert!(
        t.contains("timed out") && t.contains("may have reached"),
        "{t}"
    );
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert_eq!(
        seen(&mock, "GET", "/v2/clock"),
        1,
        "timeouts are not retried"
    );
}

#[tokio::test]
async fn a_post_that_fails_with_503_is_not_retried() {
    let mock = mock().await;
    let client = connect(&fast(&mock)).await;
    mock.clear_requests();
    mock.inject(
        Fault::new("/v2/watchlists", FaultKind::status(503))
            .method("POST")
            .times(5),
    );
    let r = call(&client, "create_watchlist", json!({"name": "never-twice"})).await;
    assert_eq!(r.is_error, Some(true));
    assert!(text(&r).contains("HTTP 503"), "{}", text(&r));
    assert_eq!(posted(&mock, "/v2/watchlists").len(), 1, "exactly one POST");

    // Not even a 429 that asks for a short wait, and not an order.
    mock.clear_faults();
    mock.clear_requests();
    mock.inject(
        Fault::new("/v2/orders", FaultKind::rate_limited(1))
            .method("POST")
            .times(5),
    );
    mock.inject(
        Fault::new("/v2/orders", FaultKind::status(503))
            .method("POST")
            .times(5),
    );
    let r = call(
        &client,
        "place_stock_order",
        json!({"symbol": "AAPL", "side": "buy", "qty": 1}),
    )
    .await;
    assert_eq!(r.is_error, Some(true));
    assert!(text(&r).contains("HTTP 429"), "{}", text(&r));
    assert_eq!(
        posted(&mock, "/v2/orders").len(),
        1,
        "exactly one order POST"
    );
}

#[tokio::test]
async fn a_delete_that_fails_with_503_is_not_retried() {
    let mock = mock().await;
    let client = connect(&fast(&mock)).await;
    let created = call(&client, "create_watchlist", json!({"name": "to-delete"})).await;
    let id = data(&created)["id"].as_str().unwrap().to_string();
    mock.clear_requests();
    mock.inject(
        Fault::new("/v2/watchlists", FaultKind::status(503))
            .method("DELETE")
            .times(5),
    );
    let r = call(
        &client,
        "delete_watchlist_by_id",
        json!({"watchlist_id": id}),
    )
    .await;
    assert_eq!(r.is_error, Some(true));
    assert!(text(&r).contains("HTTP 503"), "{}", text(&r));
    assert_eq!(
        seen(&mock, "DELETE", &format!("/v2/watchlists/{id}")),
        1,
        "exactly one DELETE"
    );
}

/// A `MakeWriter` appending to a shared buffer.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Buffer {
        self.clone()
    }
}

#[tokio::test]
async fn a_body_that_is_not_json_is_an_error_and_flagged() {
    let mock = mock().await;
    let tools = AlpacaTools::new(&fast(&mock)).unwrap();
    let logs = Buffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    // The test runs on a current-thread runtime, so a thread-local subscriber sees the call.
    let _guard = tracing::subscriber::set_default(subscriber);
    mock.clear_requests();
    mock.inject(Fault::new("/v2/clock", FaultKind::NotJson).once());
    let r = tools.call("get_clock", None).await.unwrap();
    assert_eq!(r.is_error, Some(true), "never passed off as data");
    assert!(text(&r).contains("not JSON"), "{}", text(&r));
    assert_eq!(seen(&mock, "GET", "/v2/clock"), 1, "a 200 is not retried");
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("response is not JSON") && logs.contains("get_clock"),
        "{logs}"
    );
}

/// A server that answers every request with `size` bytes of spaces, streamed in 1 MiB chunks;
/// with `length`, it announces the size in `Content-Length`.
async fn huge_body_server(size: usize, length: bool) -> String {
    use axum::body::Body;
    use axum::response::Response;
    let handler = move || async move {
        let chunk = bytes::Bytes::from(vec![b' '; 1 << 20]);
        let chunks = size / chunk.len();
        let stream = futures_util::stream::iter(
            (0..chunks).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
        );
        let mut builder = Response::builder().header("content-type", "application/json");
        if length {
            builder = builder.header("content-length", (chunks << 20).to_string());
        }
        builder.body(Body::from_stream(stream)).unwrap()
    };
    let app = axum::Router::new().fallback(handler);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_50_mb_body_is_refused_as_too_large() {
    let mock = mock().await;
    for length in [false, true] {
        let url = huge_body_server(50 << 20, length).await;
        let mut config = fast(&mock);
        config.trading_url = alpaca_mcp::config::parse_url("huge", &url).unwrap();
        let tools = AlpacaTools::new(&config).unwrap();
        let r = tools.call("get_clock", None).await.unwrap();
        assert_eq!(r.is_error, Some(true));
        let t = text(&r);
        assert!(t.contains("too large") && t.contains("32 MiB"), "{t}");
    }
}

/// Serves `tools` to a new rmcp client (one MCP session).
async fn session(tools: Arc<AlpacaTools>) -> Client {
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(running) = AlpacaServer::new(tools).serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    ().serve(client_io).await.expect("client initializes")
}

#[tokio::test]
async fn the_rate_limiter_paces_every_session_together() {
    let mock = mock().await;
    let mut config = fast(&mock);
    // 60 a minute with bursts of 2: 2 at once, then one every 60/58 s.
    config.set_rate_limits(60, 2);
    let tools = Arc::new(AlpacaTools::new(&config).unwrap());
    let a = session(tools.clone()).await;
    let b = session(tools).await;
    mock.clear_requests();
    let started = Instant::now();
    let calls = [&a, &b, &a, &b].map(|c| call(c, "get_clock", json!({})));
    let results = futures_util::future::join_all(calls).await;
    let elapsed = started.elapsed();
    for r in &results {
        assert!(data(r)["is_open"].is_boolean(), "{}", text(r));
    }
    assert_eq!(seen(&mock, "GET", "/v2/clock"), 4);
    assert!(
        elapsed >= Duration::from_secs(2),
        "4 requests with a burst of 2 at ~1/s take 2 s: {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");

    // Off: the same calls go out at once.
    let mut config = fast(&mock);
    config.set_rate_limits(0, 0);
    let client = connect(&config).await;
    let started = Instant::now();
    for _ in 0..6 {
        data(&call(&client, "get_clock", json!({})).await);
    }
    assert!(started.elapsed() < Duration::from_secs(1));
}
