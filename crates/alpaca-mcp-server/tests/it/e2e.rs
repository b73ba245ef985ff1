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

/// The sandbox as a user starts it (no `--sandbox-now`, so the harness's frozen clock removed).
async fn sandbox_on_the_real_clock() -> Client {
    use rmcp::ServiceExt;
    use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
    let cmd = command(&["--sandbox"]).configure(|c| {
        c.env_remove(support::bin::SANDBOX_NOW.0);
        c.stderr(std::process::Stdio::null());
    });
    ().serve(TokioChildProcess::new(cmd).expect("spawn"))
        .await
        .expect("initialize over stdio")
}

#[tokio::test]
async fn the_sandbox_lives_in_the_present_and_this_weeks_bars_are_this_weeks() {
    let client = sandbox_on_the_real_clock().await;
    let now = alpaca_mock::Timestamp::now_utc();
    let (week_ago, tomorrow) = (
        now.add_secs(-8 * 86_400).rfc3339(),
        now.add_secs(86_400).rfc3339(),
    );
    // "AAPL's bars this week": the tool's default lookback of days, at the wall clock.
    let r = call(
        &client,
        "get_stock_bars",
        json!({"symbols": "AAPL", "timeframe": "1Day", "days": 7}),
    )
    .await;
    let d = data(&r);
    let bars = d["bars"]["AAPL"].as_array().expect("AAPL's bars");
    // Seven days hold five weekdays, each a daily bar (today's once New York's midnight passed).
    assert!(bars.len() >= 4, "{bars:?}");
    for b in bars {
        let t = b["t"].as_str().unwrap();
        assert!(
            week_ago.as_str() < t && t < tomorrow.as_str(),
            "{t} is not this week"
        );
    }
    // The clock and the calendar agree with it.
    let clock = data(&call(&client, "get_clock", json!({})).await);
    let ts = clock["timestamp"].as_str().unwrap();
    let at = alpaca_mock::Timestamp::parse(ts).expect("an instant");
    assert!(
        (at.unix_secs() - now.unix_secs()).abs() < 120,
        "the fake's clock says {ts}, the wall clock {}",
        now.rfc3339()
    );
    let today = &now.rfc3339()[..10];
    let cal = data(
        &call(
            &client,
            "get_calendar",
            json!({"start": &week_ago[..10], "end": &tomorrow[..10]}),
        )
        .await,
    );
    let dates: Vec<&str> = cal
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["date"].as_str().unwrap())
        .collect();
    assert!(dates.len() >= 5, "{dates:?}");
    assert!(
        dates
            .iter()
            .all(|d| *d >= &week_ago[..10] && *d <= &tomorrow[..10]),
        "{dates:?} around {today}"
    );
    client.cancel().await.ok();
}

#[tokio::test]
async fn sandbox_now_freezes_the_fake_at_a_date_or_an_instant() {
    for (given, clock) in [
        ("2025-01-15", "2025-01-15T10:30:00.000-05:00"),
        ("2024-07-02T18:00:00Z", "2024-07-02T14:00:00.000-04:00"),
    ] {
        let client = stdio_client(&["--sandbox", "--sandbox-now", given]).await;
        let c = data(&call(&client, "get_clock", json!({})).await);
        assert_eq!(c["timestamp"], clock, "{given}");
        assert_eq!(c["is_open"], true, "{given}");
        // Relative ranges follow the frozen clock: the default five days end there.
        let r = call(&client, "get_stock_bars", json!({"symbols": "AAPL"})).await;
        let start = support::envelope(&r)["meta"]["start"].clone();
        assert!(start.as_str().unwrap() < clock, "{start}");
        client.cancel().await.ok();
    }
}

/// `--tool-mode discover` through the binary: over stdio a short list whose `run_tool` works,
/// and over HTTP a `read` token's session, where `run_tool` reaches no writing tool.
#[tokio::test]
async fn discover_mode_over_stdio_and_over_http_with_a_read_token() {
    let client = stdio_client(&["--sandbox", "--tool-mode", "discover"]).await;
    let names = tool_names(&client).await;
    assert_eq!(names.len(), 10, "{names:?}");
    assert!(names.contains(&"find_tools".into()) && names.contains(&"run_tool".into()));
    let news = call(&client, "find_tools", json!({"query": "latest headlines"})).await;
    assert!(text(&news).contains("\"get_news\""), "{}", text(&news));
    let r = call(
        &client,
        "run_tool",
        json!({"name": "get_news", "arguments": {"symbols": "AAPL", "limit": 2}}),
    )
    .await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    client.cancel().await.ok();

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens");
    std::fs::write(&file, "a-read-token-of-some-length-0001 read\n").unwrap();
    let (mut child, url, _log) = server_with_log(
        &[
            "--tool-mode",
            "discover",
            "--http-token-file",
            file.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    let config =
        rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(
            url.clone(),
        )
        .auth_header("a-read-token-of-some-length-0001");
    let transport = rmcp::transport::StreamableHttpClientTransport::from_config(config);
    use rmcp::ServiceExt;
    let reader = ().serve(transport).await.expect("initialize with the read token");
    let listed = tool_names(&reader).await;
    // The read-only core: the writing tools of the core are not there.
    assert!(!listed.contains(&"place_stock_order".into()), "{listed:?}");
    let order = json!({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market", "time_in_force": "day"});
    let r = call(
        &reader,
        "run_tool",
        json!({"name": "place_stock_order", "arguments": order}),
    )
    .await;
    assert_eq!(r.is_error, Some(true));
    assert!(text(&r).contains("no enabled tool"), "{}", text(&r));
    let orders = data(&call(&reader, "run_tool", json!({"name": "get_orders"})).await);
    // The demo account's two resting orders, and no new one.
    assert_eq!(orders.as_array().map(Vec::len), Some(2), "{orders}");
    reader.cancel().await.ok();
    child.kill().await.ok();
}
