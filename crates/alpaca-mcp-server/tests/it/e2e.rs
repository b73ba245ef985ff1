//! End to end through a real MCP client (rmcp's), over stdio and streamable HTTP, against
//! the sandbox's fake Alpaca.

use crate::common;

use alpaca_mcp::registry::{ToolFilter, enabled};
use common::*;
use serde_json::json;

fn expected_default_tools() -> Vec<String> {
    let mut v: Vec<String> = enabled(&ToolFilter {
        without_confirmation_tools: true,
        ..ToolFilter::default()
    })
    .unwrap()
    .iter()
    .map(|t| t.name().to_string())
    .collect();
    v.sort();
    v
}

async fn check_session(client: &Client) {
    let info = client.peer_info().expect("server info");
    let instructions = info.instructions.clone().unwrap_or_default();
    assert!(instructions.contains("SANDBOX"), "{instructions}");
    assert!(instructions.contains("stock-data"), "{instructions}");

    let tools = client.list_all_tools().await.expect("tools/list");
    let mut names: Vec<String> = tools.iter().map(|t| t.name.to_string()).collect();
    names.sort();
    assert_eq!(names, expected_default_tools());
    for t in &tools {
        // Left out on purpose: it would repeat in every tool of every conversation's list.
        assert!(t.output_schema.is_none(), "{} has no outputSchema", t.name);
        assert!(t.annotations.is_some(), "{} has annotations", t.name);
    }

    let clock = call(client, "get_clock", json!({})).await;
    let d = data(&clock);
    assert!(d.get("is_open").is_some(), "{d}");
    let s = &serde_json::Value::Object(envelope(&clock));
    assert_eq!(s["mode"], "paper");
    assert!(s["notice"].as_str().unwrap().contains("Untrusted"));

    let bad = call(
        client,
        "get_stock_latest_quote",
        json!({"symbols": "AAPL", "bogus": 1}),
    )
    .await;
    assert_eq!(bad.is_error, Some(true));
    let t = text(&bad);
    assert!(
        t.contains("unknown argument `bogus`") && t.contains("Nothing was sent"),
        "{t}"
    );

    let missing = call(client, "get_stock_latest_quote", json!({})).await;
    assert!(
        text(&missing).contains("missing argument `symbols`"),
        "{}",
        text(&missing)
    );

    let unknown = client
        .call_tool(rmcp::model::CallToolRequestParams::new("no_such_tool"))
        .await
        .expect_err("unknown tool is a protocol error");
    assert!(unknown.to_string().contains("unknown tool"), "{unknown}");
}

#[tokio::test]
async fn stdio_session_against_the_sandbox() {
    let client = stdio_client(&["--sandbox"]).await;
    check_session(&client).await;
    client.cancel().await.ok();
}

#[tokio::test]
async fn http_session_against_the_sandbox() {
    let (mut child, url) = http_server(&["--sandbox"]).await;
    let client = http_client(&url).await;
    check_session(&client).await;
    client.cancel().await.ok();
    child.kill().await.ok();
}

#[tokio::test]
async fn json_string_arrays_are_accepted() {
    let client = stdio_client(&["--sandbox", "--toolsets", "watchlists"]).await;
    let created = call(
        &client,
        "create_watchlist",
        json!({"name": "tech", "symbols": "[\"AAPL\", \"MSFT\"]"}),
    )
    .await;
    let d = data(&created);
    let syms: Vec<&str> = d["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["symbol"].as_str().unwrap())
        .collect();
    assert_eq!(syms, ["AAPL", "MSFT"]);
    let split = call(
        &client,
        "create_watchlist",
        json!({"name": "split", "symbols": "NVDA, TSLA"}),
    )
    .await;
    let d = data(&split);
    let syms: Vec<&str> = d["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["symbol"].as_str().unwrap())
        .collect();
    assert_eq!(syms, ["NVDA", "TSLA"], "a comma-separated string is a list");
    let bad = call(
        &client,
        "create_watchlist",
        json!({"name": "x", "symbols": 5}),
    )
    .await;
    assert_eq!(bad.is_error, Some(true));
    assert!(text(&bad).contains("argument `symbols`"), "{}", text(&bad));
    client.cancel().await.ok();
}
