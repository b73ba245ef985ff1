//! API keys never appear in logs, errors, tool results or `Debug` output.
//!
//! One test (the tracing subscriber is process-wide): distinctive keys, every error path the
//! server has (401, 404, 422, 429, 500, 503, a dropped connection, a timeout, a refused
//! connection, invalid arguments, bodies that do not decode or are too large), everything
//! logged at TRACE by every crate (reqwest and hyper included, `log` records too), and the
//! `Debug` output of the config, the tools' client and the transport. None of it may contain
//! either key.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use alpaca_mcp::Credentials;
use alpaca_mcp::{AlpacaTools, Config};
use alpaca_mock::{Fault, FaultKind, MockConfig, MockServer};
use serde_json::{Value, json};
use support::*;

const KEY_ID: &str = "KEYID-SECRET-CANARY-123";
const SECRET: &str = "SECRET-CANARY-456";

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

/// The canary keys, pointed at `mock`, with a short timeout and fast retries.
fn canary_config(mock: &MockServer) -> Config {
    let mut config = config_for(mock);
    config.credentials = Some(Credentials {
        key_id: KEY_ID.into(),
        secret_key: SECRET.into(),
    });
    config.request_timeout = Duration::from_millis(400);
    config.retry_base = Duration::from_millis(10);
    config
}

/// Everything a call produced that a user or a log could see.
fn everything(r: &rmcp::model::CallToolResult) -> String {
    format!("{r:?} {}", serde_json::to_string(r).unwrap_or_default())
}

fn assert_clean(what: &str, s: &str) {
    assert!(!s.contains(KEY_ID), "{what} leaks the key id: {s}");
    assert!(!s.contains(SECRET), "{what} leaks the secret key: {s}");
    assert!(!s.contains("CANARY"), "{what} leaks part of a key: {s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_never_appear_in_logs_errors_results_or_debug_output() {
    let logs = Buffer::default();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(logs.clone())
        .with_ansi(false)
        .init();

    let mut seen = Vec::<(String, String)>::new();
    let mut record = |what: &str, s: String| seen.push((what.to_string(), s));

    // 401: a fake that only accepts other keys.
    let pinned = MockServer::start(MockConfig {
        keys: Some(("other-key".into(), "other-secret".into())),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let tools = AlpacaTools::new(&canary_config(&pinned)).unwrap();
    let r = tools.call("get_account_info", None).await.unwrap();
    assert_eq!(r.is_error, Some(true));
    assert!(text(&r).contains("HTTP 401"), "{}", text(&r));
    record("401", everything(&r));
    let e = tools.client().get_account().await.unwrap_err();
    record("401 (typed)", format!("{e} {e:?}"));

    // The same fake accepting the canary keys: every other path.
    let mock = MockServer::start(MockConfig {
        keys: Some((KEY_ID.into(), SECRET.into())),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let config = canary_config(&mock);
    let tools = AlpacaTools::new(&config).unwrap();
    let call = |name: &'static str, args: Value| {
        let tools = &tools;
        async move {
            tools
                .call(name, args.as_object().cloned())
                .await
                .unwrap_or_else(|| panic!("{name} is enabled"))
        }
    };

    let ok = call("get_account_info", json!({})).await;
    data(&ok);
    record("success", everything(&ok));

    let r = call(
        "get_order_by_id",
        json!({"order_id": "00000000-0000-4000-8000-000000000000"}),
    )
    .await;
    assert!(text(&r).contains("HTTP 404"), "{}", text(&r));
    record("404", everything(&r));

    let statuses = [
        (
            FaultKind::Status {
                status: 422,
                body: Some(r#"{"code":40010001,"message":"symbols is invalid"}"#.into()),
                headers: vec![],
            },
            "HTTP 422",
        ),
        (FaultKind::rate_limited(1), "HTTP 429"),
        (FaultKind::rate_limited(120), "HTTP 429"),
        (FaultKind::status(500), "HTTP 500"),
        (FaultKind::status(503), "HTTP 503"),
        (FaultKind::Drop, "may have reached"),
        (FaultKind::Delay(Duration::from_secs(2)), "timed out"),
    ];
    for (kind, expected) in statuses {
        mock.clear_faults();
        mock.inject(Fault::new("/v2/stocks/snapshots", kind.clone()).times(3));
        let r = call("get_stock_snapshot", json!({"symbols": "AAPL"})).await;
        assert_eq!(r.is_error, Some(true), "{kind:?}");
        assert!(text(&r).contains(expected), "{kind:?}: {}", text(&r));
        record(expected, everything(&r));

        // The same failure on a write (not retried) and in a hand-written tool.
        mock.clear_faults();
        mock.inject(Fault::new("/v2/orders", kind.clone()).method("POST").once());
        let r = call(
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "buy", "qty": 1}),
        )
        .await;
        record("order", everything(&r));
        mock.clear_faults();
        mock.inject(Fault::new("/v2/watchlists", kind).method("POST").once());
        let r = call("create_watchlist", json!({"name": "canary-check"})).await;
        record("watchlist", everything(&r));
    }
    mock.clear_faults();

    // Bodies that are not JSON: passed through by generated tools, a decode error in the
    // typed client and in hand-written tools.
    mock.inject(Fault::new("/v2/account", FaultKind::NotJson).times(2));
    let r = call("get_account_info", json!({})).await;
    record("not json", everything(&r));
    let e = tools.client().get_account().await.unwrap_err();
    assert!(e.to_string().contains("expected shape"), "{e}");
    record("decode (typed)", format!("{e} {e:?}"));
    mock.inject(Fault::new("/v2/stocks/bars", FaultKind::NotJson).times(3));
    let r = call("get_stock_bars", json!({"symbols": "AAPL", "limit": 3})).await;
    record("history decode", everything(&r));
    mock.clear_faults();

    // Invalid arguments.
    for (name, args) in [
        ("get_stock_bars", json!({"symbols": 5})),
        (
            "get_stock_bars",
            json!({"symbols": "AAPL", "bogus": KEY_ID.len()}),
        ),
        ("place_stock_order", json!({"symbol": "AAPL"})),
        ("get_order_by_id", json!({})),
    ] {
        let r = call(name, args).await;
        assert_eq!(r.is_error, Some(true));
        record("invalid args", everything(&r));
    }

    // A refused connection.
    let mut refused = config.clone();
    refused.trading_url = alpaca_mcp::config::parse_url("x", "http://127.0.0.1:9").unwrap();
    refused.data_url = refused.trading_url.clone();
    let refused_tools = AlpacaTools::new(&refused).unwrap();
    for name in ["get_clock", "get_account_info"] {
        let r = refused_tools.call(name, None).await.unwrap();
        assert!(text(&r).contains("was not sent"), "{}", text(&r));
        record("refused", everything(&r));
    }
    let r = refused_tools
        .call(
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "buy", "qty": 1})
                .as_object()
                .cloned(),
        )
        .await
        .unwrap();
    record("refused order", everything(&r));

    // The same through rmcp's client over MCP (the protocol messages are logged at TRACE too).
    let client = connect(&config).await;
    let r = support::call(&client, "get_account_info", json!({})).await;
    data(&r);
    record("mcp", everything(&r));
    record("mcp client", format!("{client:?}"));

    // Debug output.
    record("config", format!("{config:?} {config:#?}"));
    record("client", format!("{:?}", tools.client()));
    record("transport", format!("{:?}", tools.client().transport()));
    record(
        "transport config",
        format!("{:?}", config.transport_config()),
    );

    // The fake did receive the keys, so the checks above are not vacuous.
    assert!(
        mock.requests()
            .iter()
            .any(|r| r.header("apca-api-key-id") == Some(KEY_ID)),
        "the keys were sent"
    );

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("retrying an idempotent request"),
        "the TRACE capture works"
    );
    assert!(
        logs.contains("reqwest") && logs.contains("hyper"),
        "reqwest and hyper logged too: {logs}"
    );
    for (what, s) in &seen {
        assert_clean(what, s);
    }
    assert_clean("the logs", &logs);
}
