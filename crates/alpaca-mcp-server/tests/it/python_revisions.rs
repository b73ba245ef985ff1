//! The official MCP Python SDK's client (2.x, which speaks both revisions) against the server
//! over streamable HTTP, once per revision, with order confirmation on and the fake Alpaca
//! outside the server so what reached it can be counted: completions, the confirmation (an
//! elicitation request under 2025-11-25, an input-required result under 2026-07-28) and log
//! messages. Ignored by default (it needs Python with `mcp==2.3.0`): `.ci/run` runs it with
//! `ALPACA_MCP_TEST_PYTHON=<venv>/bin/python cargo test -p alpaca-mcp-server --test it python_revisions:: -- --ignored`.

use alpaca_mock::{Fault, FaultKind, MockConfig, MockServer};
use serde_json::Value;

use super::common::*;

fn python() -> String {
    std::env::var("ALPACA_MCP_TEST_PYTHON").unwrap_or_else(|_| {
        panic!("set ALPACA_MCP_TEST_PYTHON to a Python with the MCP SDK (pip install mcp==2.3.0)")
    })
}

async fn run_sdk(url: &str, mode: &str, answer: &str) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/revisions.py");
    let args = [script, "--url", url, "--mode", mode, "--answer", answer].map(String::from);
    support::bin::python_json(&python(), &args, std::time::Duration::from_secs(60)).await
}

fn order_posts(mock: &MockServer) -> usize {
    mock.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/v2/orders")
        .count()
}

async fn server_for(mock: &MockServer) -> (tokio::process::Child, String) {
    let url = mock.url();
    let env = [
        ("ALPACA_API_KEY", "test-key"),
        ("ALPACA_SECRET_KEY", "test-secret"),
        ("TRADING_API_URL", url.as_str()),
        ("DATA_API_URL", url.as_str()),
        ("ALPACA_CONFIRM_ORDERS", "true"),
    ];
    let (child, url, _) = support::bin::spawn_http(BIN, &[], &env).await;
    (child, url)
}

#[tokio::test]
#[ignore = "needs Python with the MCP SDK: ALPACA_MCP_TEST_PYTHON"]
async fn both_revisions_complete_confirm_once_and_hear_the_retry() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let (mut child, url) = server_for(&mock).await;
    for (mode, version) in [("legacy", "2025-11-25"), ("2026-07-28", "2026-07-28")] {
        for answer in ["yes", "no"] {
            mock.clear_requests();
            mock.inject(Fault::new("/v2/stocks/quotes/latest", FaultKind::rate_limited(0)).once());
            let seen = run_sdk(&url, mode, answer).await;
            let ctx = format!("{mode} {answer}: {seen}");
            assert_eq!(seen["protocol_version"], version, "{ctx}");
            // Completions: symbols starting `MS`, whatever case was typed.
            let values = seen["completion"].as_array().unwrap();
            assert!(!values.is_empty() && values.len() <= 100, "{ctx}");
            assert!(
                values.iter().all(|v| v.as_str().unwrap().starts_with("MS")),
                "{ctx}"
            );
            assert!(values.iter().any(|v| v == "MSFT"), "{ctx}");
            assert!(
                seen["completion_total"].as_u64().unwrap() >= values.len() as u64,
                "{ctx}"
            );
            // The confirmation: asked once, through the SDK's own callback either way.
            let asked = seen["asked"].as_array().unwrap();
            assert_eq!(asked.len(), 1, "{ctx}");
            assert!(
                asked[0]
                    .as_str()
                    .unwrap()
                    .starts_with("Place this order? Paper account: buy 2 AAPL"),
                "{ctx}"
            );
            let placed = if answer == "yes" { 1 } else { 0 };
            assert_eq!(order_posts(&mock), placed, "{ctx}");
            assert_eq!(seen["order_is_error"], false, "{ctx}");
            if answer == "no" {
                assert!(
                    seen["order_text"].as_str().unwrap().contains("NOT PLACED"),
                    "{ctx}"
                );
            }
            // The 429 then the retry: heard as a warning.
            assert_eq!(seen["quote_is_error"], false, "{ctx}");
            let logs = seen["logs"].as_array().unwrap();
            assert!(
                logs.iter().any(|l| l["level"] == "warning"
                    && l["data"]
                        .as_str()
                        .unwrap_or("")
                        .contains("got HTTP 429; retrying")),
                "{ctx}"
            );
            for l in logs {
                let text = l["data"].to_string();
                assert!(
                    !text.contains("test-secret") && !text.contains("test-key"),
                    "{ctx}"
                );
            }
        }
    }
    child.kill().await.ok();
}
