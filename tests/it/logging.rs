//! Log messages through rmcp's client: a 2025-11-25 session hears a retry after a 429 and a
//! wait for the rate limit at its level (`logging/setLevel` honoured); a 2026-07-28 client
//! hears them only for a request whose `_meta` opts in, and has no `logging/setLevel`. No
//! message carries the API keys.

#![allow(deprecated)] // MCP logging is deprecated (SEP-2577), and still what clients use.

use std::sync::{Arc, Mutex};

use alpaca_mcp::{AlpacaServer, AlpacaTools, Config};
use alpaca_mock::{Fault, FaultKind, MockServer};
use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, Implementation, LoggingLevel,
    LoggingMessageNotificationParam, ProtocolVersion, RequestMetaObject, SetLevelRequestParams,
};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt, NotificationContext, RunningService};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::json;
use support::*;

#[derive(Clone, Default)]
struct Listener {
    heard: Arc<Mutex<Vec<(LoggingLevel, String)>>>,
}

impl ClientHandler for Listener {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("logging-test", "1"),
        )
    }

    async fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        assert_eq!(params.logger.as_deref(), Some("alpaca-mcp"));
        let text = params.data.as_str().unwrap_or_default().to_string();
        self.heard.lock().unwrap().push((params.level, text));
    }
}

async fn connect(
    tools: Arc<AlpacaTools>,
    modern: bool,
) -> (
    RunningService<RoleClient, Listener>,
    Arc<Mutex<Vec<(LoggingLevel, String)>>>,
) {
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(running) = AlpacaServer::new(tools).serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let listener = Listener::default();
    let heard = listener.heard.clone();
    let client = if modern {
        listener
            .serve_with_lifecycle(
                client_io,
                ClientLifecycleMode::Discover {
                    preferred_versions: vec![ProtocolVersion::V_2026_07_28],
                },
            )
            .await
    } else {
        listener.serve(client_io).await
    }
    .expect("client starts");
    (client, heard)
}

/// The fake answers the next quote read 429 (Retry-After 0), then normally.
fn one_429(mock: &MockServer) {
    mock.inject(Fault::new("/v2/stocks/quotes/latest", FaultKind::rate_limited(0)).once());
}

fn quote() -> CallToolRequestParams {
    CallToolRequestParams::new("get_stock_latest_quote")
        .with_arguments(json!({"symbols": "AAPL"}).as_object().cloned().unwrap())
}

/// Waits for notifications sent before the result to be handled.
async fn settle() {
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
}

fn tools(mock: &MockServer) -> Arc<AlpacaTools> {
    Arc::new(AlpacaTools::new(&config_for(mock)).unwrap())
}

#[tokio::test]
async fn a_session_hears_a_retry_at_its_level_and_set_level_is_honoured() {
    let mock = mock().await;
    let (client, heard) = connect(tools(&mock), false).await;
    assert!(
        client.peer_info().unwrap().capabilities.logging.is_some(),
        "the capability is declared to 2025-11-25 clients"
    );
    one_429(&mock);
    mock.clear_requests();
    let r = client.call_tool(quote()).await.unwrap();
    assert_eq!(r.is_error, Some(false), "{}", text(&r));
    assert_eq!(mock.requests().len(), 2, "one 429, one retry");
    settle().await;
    let got = heard.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, LoggingLevel::Warning);
    assert!(
        got[0]
            .1
            .contains("GET /v2/stocks/quotes/latest got HTTP 429; retrying in"),
        "{}",
        got[0].1
    );
    let keys = config_for(&mock).credentials.expect("the fake's keys");
    for secret in [&keys.key_id, &keys.secret_key] {
        assert!(
            !secret.is_empty() && !got[0].1.contains(secret.as_str()),
            "no key in a log line"
        );
    }

    // Above the level: nothing.
    client
        .peer()
        .set_level(SetLevelRequestParams::new(LoggingLevel::Error))
        .await
        .unwrap();
    one_429(&mock);
    let r = client.call_tool(quote()).await.unwrap();
    assert_eq!(r.is_error, Some(false));
    settle().await;
    assert_eq!(
        heard.lock().unwrap().len(),
        1,
        "an error level hides warnings"
    );
}

#[tokio::test]
async fn a_wait_for_the_rate_limit_is_info() {
    let mock = mock().await;
    let mut config: Config = config_for(&mock);
    config.set_rate_limits(61, 1);
    let (client, heard) = connect(Arc::new(AlpacaTools::new(&config).unwrap()), false).await;
    for _ in 0..2 {
        let r = client.call_tool(quote()).await.unwrap();
        assert_eq!(r.is_error, Some(false));
    }
    settle().await;
    let got = heard.lock().unwrap().clone();
    assert!(
        got.iter()
            .any(|(l, m)| *l == LoggingLevel::Info && m.contains("rate limit")),
        "{got:?}"
    );
}

#[tokio::test]
async fn a_2026_client_hears_only_what_a_request_opts_into_and_has_no_set_level() {
    let mock = mock().await;
    let (client, heard) = connect(tools(&mock), true).await;
    one_429(&mock);
    let r = client.call_tool(quote()).await.unwrap();
    assert_eq!(r.is_error, Some(false));
    settle().await;
    assert!(heard.lock().unwrap().is_empty(), "no opt-in, no messages");

    one_429(&mock);
    let mut meta = RequestMetaObject::default();
    meta.set_log_level(LoggingLevel::Warning);
    let mut params = quote();
    params.meta = Some(meta);
    let r = client.call_tool(params).await.unwrap();
    assert_eq!(r.is_error, Some(false));
    settle().await;
    let got = heard.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].1.contains("retrying"), "{}", got[0].1);

    let refused = client
        .peer()
        .set_level(SetLevelRequestParams::new(LoggingLevel::Debug))
        .await
        .expect_err("2026-07-28 has no logging/setLevel");
    assert!(
        format!("{refused:?}").contains("-32601") || format!("{refused}").contains("not found"),
        "{refused}"
    );
}
