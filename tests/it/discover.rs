//! Tools on demand (`ALPACA_TOOL_MODE=discover`): a short `tools/list`, `find_tools` ranking
//! the right tool for everyday requests, and `run_tool` reaching nothing a direct call could
//! not (counted at the fake).

use alpaca_mcp::discover::ToolMode;
use serde_json::{Value, json};
use support::*;

fn discover_config(mock: &alpaca_mock::MockServer) -> alpaca_mcp::Config {
    let mut config = config_for(mock);
    config.toolsets = None; // the default toolsets, as a user starts it
    config.tool_mode = ToolMode::Discover;
    config
}

async fn find(client: &Client, query: &str, limit: u64) -> Vec<Value> {
    let r = call(
        client,
        "find_tools",
        json!({"query": query, "limit": limit}),
    )
    .await;
    assert_ne!(r.is_error, Some(true), "{query}: {}", text(&r));
    let v: Value = serde_json::from_str(&text(&r)).expect("find_tools answers JSON");
    v["tools"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn the_list_is_the_core_and_the_two_meta_tools_and_costs_a_fraction() {
    let mock = mock().await;
    let all = connect(&{
        let mut c = config_for(&mock);
        c.toolsets = None;
        c
    })
    .await;
    let discover = connect(&discover_config(&mock)).await;
    let size = |tools: &[rmcp::model::Tool]| serde_json::to_string(tools).unwrap().len();
    let every = all.list_all_tools().await.unwrap();
    let listed = discover.list_all_tools().await.unwrap();
    let names: Vec<&str> = listed.iter().map(|t| t.name.as_ref()).collect();
    let mut core: Vec<&str> = alpaca_mcp::discover::DEFAULT_CORE.to_vec();
    core.extend(["find_tools", "run_tool"]);
    // The default core is of the default toolsets: every one of its tools is listed.
    assert_eq!(names, core);
    println!(
        "tools/list: all {} tools {} characters, discover {} tools {} characters ({:.2})",
        every.len(),
        size(&every),
        listed.len(),
        size(&listed),
        size(&listed) as f64 / size(&every) as f64
    );
    assert!(size(&listed) * 4 < size(&every));
    // The instructions say how to reach the rest.
    let info = discover.peer_info().unwrap();
    assert!(
        info.instructions
            .as_deref()
            .unwrap_or("")
            .contains("call find_tools"),
        "{info:?}"
    );
}

#[tokio::test]
async fn everyday_requests_find_the_right_tool_among_the_first_three() {
    let mock = mock().await;
    let client = connect(&discover_config(&mock)).await;
    let list = include_str!("discover_queries.txt");
    let mut misses = Vec::new();
    let mut n = 0;
    for line in list
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let (query, want) = line.split_once(" => ").expect("query => tool");
        let wanted: Vec<&str> = want.split('|').collect();
        let found = find(&client, query, 3).await;
        let names: Vec<&str> = found.iter().map(|t| t["name"].as_str().unwrap()).collect();
        n += 1;
        if !names.iter().any(|n| wanted.contains(n)) {
            misses.push(format!("{query:?}: wanted {want}, got {names:?}"));
        }
    }
    assert!(n >= 20, "the list holds {n} requests");
    assert!(
        misses.is_empty(),
        "{} of {n} missed:\n{}",
        misses.len(),
        misses.join("\n")
    );
    // Finding reads nothing from Alpaca.
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn found_tools_carry_their_schemas_and_annotations() {
    let mock = mock().await;
    let client = connect(&discover_config(&mock)).await;
    let found = find(&client, "close all positions", 5).await;
    let close_all = found
        .iter()
        .find(|t| t["name"] == "close_all_positions")
        .expect("close_all_positions is found");
    assert_eq!(
        close_all["annotations"]["destructiveHint"], true,
        "{close_all}"
    );
    assert_eq!(
        close_all["annotations"]["readOnlyHint"], false,
        "{close_all}"
    );
    assert!(close_all["inputSchema"]["properties"]["cancel_orders"].is_object());
    let news = find(&client, "news", 1).await;
    assert_eq!(news[0]["name"], "get_news");
    assert_eq!(news[0]["annotations"]["readOnlyHint"], true);
    // Nonsense finds nothing and says what to try; bad arguments are refused by name.
    let none = call(&client, "find_tools", json!({"query": "zzqx vvkw"})).await;
    assert!(text(&none).contains("nothing matched"), "{}", text(&none));
    for (args, says) in [
        (json!({}), "argument `query` is required"),
        (json!({"query": "news", "limit": 50}), "argument `limit`"),
        (
            json!({"query": "news", "verbose": true}),
            "unknown argument `verbose`",
        ),
    ] {
        let r = call(&client, "find_tools", args.clone()).await;
        assert_eq!(r.is_error, Some(true), "{args}");
        assert!(text(&r).contains(says), "{args}: {}", text(&r));
    }
}

#[tokio::test]
async fn run_tool_answers_as_the_direct_call_does() {
    let mock = mock().await;
    let client = connect(&discover_config(&mock)).await;
    let direct = call(&client, "get_clock", json!({})).await;
    let run = call(
        &client,
        "run_tool",
        json!({"name": "get_clock", "arguments": {}}),
    )
    .await;
    assert_eq!(text(&run), text(&direct));
    // Arguments as a JSON string of an object are read as that object.
    let bars = json!({"symbols": "AAPL", "start": "2025-01-13", "end": "2025-01-14"});
    let a = call(
        &client,
        "run_tool",
        json!({"name": "get_stock_bars", "arguments": bars}),
    )
    .await;
    let b = call(
        &client,
        "run_tool",
        json!({"name": "get_stock_bars", "arguments": bars.to_string()}),
    )
    .await;
    assert_eq!(text(&a), text(&b));
    assert_eq!(data(&a)["bars"]["AAPL"].as_array().map(Vec::len), Some(2));
    // The tool's own checks apply, naming the tool and the argument.
    mock.clear_requests();
    let bad = call(
        &client,
        "run_tool",
        json!({"name": "place_stock_order", "arguments": {"symbol": "AAPL", "side": "buy", "type": "market", "time_in_force": "day", "qty": "-5"}}),
    )
    .await;
    assert_eq!(bad.is_error, Some(true));
    assert!(text(&bad).contains("qty"), "{}", text(&bad));
    for (args, says) in [
        (
            json!({"name": "no_such_tool"}),
            "no enabled tool is named `no_such_tool`",
        ),
        (
            json!({"name": "run_tool", "arguments": {"name": "get_clock"}}),
            "no enabled tool is named `run_tool`",
        ),
        (
            json!({"name": "find_tools", "arguments": {"query": "x"}}),
            "no enabled tool is named `find_tools`",
        ),
        (json!({"arguments": {}}), "argument `name` is required"),
        (
            json!({"name": "get_clock", "arguments": [1]}),
            "must be an object",
        ),
    ] {
        let r = call(&client, "run_tool", args.clone()).await;
        assert_eq!(r.is_error, Some(true), "{args}");
        assert!(text(&r).contains(says), "{args}: {}", text(&r));
    }
    assert!(mock.requests().is_empty(), "{:?}", mock.requests());
}

/// Nothing that `all` refuses becomes reachable through `run_tool`: read-only, narrowed
/// toolsets, and held orders, each counted at the fake.
#[tokio::test]
async fn run_tool_reaches_nothing_a_direct_call_could_not() {
    let mock = mock().await;
    let order = json!({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market", "time_in_force": "day"});
    let orders_posted = |mock: &alpaca_mock::MockServer| {
        mock.requests()
            .iter()
            .filter(|r| r.method == "POST" || r.method == "DELETE" || r.method == "PATCH")
            .count()
    };

    // Read-only (as a `read` token or OAuth grant gets): the writing tools are not there.
    let mut ro = discover_config(&mock);
    ro.read_only = true;
    let client = connect(&ro).await;
    for (tool, args) in [
        ("place_stock_order", order.clone()),
        ("cancel_all_orders", json!({})),
        ("close_all_positions", json!({"cancel_orders": true})),
    ] {
        let r = call(
            &client,
            "run_tool",
            json!({"name": tool, "arguments": args}),
        )
        .await;
        assert_eq!(r.is_error, Some(true), "{tool}");
        assert!(text(&r).contains("no enabled tool"), "{tool}: {}", text(&r));
        assert!(
            find(&client, tool, 10)
                .await
                .iter()
                .all(|t| t["name"] != tool),
            "{tool} is found read-only"
        );
    }
    // Toolsets narrowed to market data (as a grant narrows them): orders are out of reach.
    let mut narrow = discover_config(&mock);
    narrow.toolsets = Some(vec!["stock-data".into()]);
    let client = connect(&narrow).await;
    let r = call(&client, "run_tool", json!({"name": "get_orders"})).await;
    assert!(text(&r).contains("no enabled tool"), "{}", text(&r));
    let r = call(
        &client,
        "run_tool",
        json!({"name": "place_stock_order", "arguments": order}),
    )
    .await;
    assert!(text(&r).contains("no enabled tool"), "{}", text(&r));
    // Every order held for confirmation: run_tool holds it too, and sends nothing.
    let mut held = discover_config(&mock);
    held.safety.confirm_orders = true;
    let client = connect(&held).await;
    mock.clear_requests();
    let r = call(
        &client,
        "run_tool",
        json!({"name": "place_stock_order", "arguments": order}),
    )
    .await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    assert!(text(&r).contains("confirmation_id"), "{}", text(&r));
    assert_eq!(orders_posted(&mock), 0, "{:?}", mock.requests());
    assert!(mock.requests().iter().all(|r| r.method == "GET"));
    // Direct calls of tools that are not listed go the same way as run_tool (no hidden door).
    let r = call(&client, "get_clock", json!({})).await;
    assert_ne!(r.is_error, Some(true));
}

#[tokio::test]
async fn a_core_can_be_chosen_and_a_name_that_is_no_tool_is_refused() {
    let mock = mock().await;
    let mut config = discover_config(&mock);
    config.core_tools = Some(vec!["get_clock".into(), "get_news".into()]);
    let client = connect(&config).await;
    let names = tool_names(&client).await;
    assert_eq!(names, ["get_clock", "get_news", "find_tools", "run_tool"]);
    config.core_tools = Some(vec!["get_clokc".into()]);
    let err = alpaca_mcp::AlpacaTools::new(&config)
        .err()
        .expect("refused");
    assert!(err.to_string().contains("`get_clokc`"), "{err}");
    let bad = alpaca_mcp::Config::from_lookup(|k| (k == "ALPACA_TOOL_MODE").then(|| "some".into()));
    assert!(bad.unwrap_err().to_string().contains("all or discover"));
}
