//! The third outside probe's findings in the library, each provoked as the probe did and
//! counted at the fake: a cap bypass on replace, non-positive and non-finite values passing
//! the cap, symbols that read as other paths, a confirmed retry whose `client_order_id`
//! differs, and results over the budget from a hostile upstream. (The server's own findings,
//! over HTTP and stdio, are in the server crate's `probe3` tests.)

use std::sync::Arc;
use std::time::Duration;

use alpaca_mcp::output::Format;
use alpaca_mcp::safety::{SafetyConfig, StateKey};
use alpaca_mcp::{AlpacaServer, AlpacaTools, Config};
use alpaca_mock::{Fault, FaultKind, MockServer};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ClientCapabilities, ClientConfig,
    ElicitResult, ElicitationAction, Implementation, InputResponses, ProtocolVersion,
};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt, RunningService};
use rmcp::{ClientHandler, RoleClient};
use serde_json::{Value, json};
use support::*;

fn tools(mock: &MockServer, safety: SafetyConfig) -> Arc<AlpacaTools> {
    let mut config: Config = config_for(mock);
    config.safety = safety;
    Arc::new(AlpacaTools::new(&config).expect("tools"))
}

fn capped(cap: f64) -> SafetyConfig {
    SafetyConfig {
        max_order_notional: Some(cap),
        ..SafetyConfig::default()
    }
}

fn count(mock: &MockServer, method: &str, prefix: &str) -> usize {
    mock.requests()
        .iter()
        .filter(|r| r.method == method && r.path.starts_with(prefix))
        .count()
}

fn refused(r: &CallToolResult, needle: &str) {
    assert_eq!(r.is_error, Some(true), "{}", text(r));
    let t = text(r);
    assert!(t.contains("Nothing was sent"), "{t}");
    assert!(t.contains(needle), "expected {needle:?} in: {t}");
}

/// A 200 answer with this JSON body, for GETs under `path`, in place of the fake's own.
fn answer_with(mock: &MockServer, path: &str, body: &Value) {
    mock.inject(
        Fault::new(
            path,
            FaultKind::Status {
                status: 200,
                body: Some(body.to_string()),
                headers: vec![("content-type".into(), "application/json".into())],
            },
        )
        .method("GET"),
    );
}

// Bug 1: the value cap on replace_order_by_id.

#[tokio::test]
async fn a_replace_with_qty_and_notional_is_refused_and_a_new_qty_is_valued_as_held() {
    let mock = mock().await;
    let client = connect_shared(tools(&mock, capped(1000.0))).await;
    let id = mock
        .state()
        .place_order(json!({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit", "time_in_force": "day", "limit_price": "150"}))
        .expect("order placed")["id"]
        .as_str()
        .unwrap()
        .to_string();
    mock.clear_requests();
    // The probe's bypass: qty 60 (about 11,800) with a notional of 1.
    let r = call(
        &client,
        "replace_order_by_id",
        json!({"order_id": id, "qty": "60", "notional": "1"}),
    )
    .await;
    refused(&r, "not both");
    // The same refusal without any cap: it is an argument rule, not a valuation.
    let uncapped = connect_shared(tools(&mock, SafetyConfig::default())).await;
    let r = call(
        &uncapped,
        "replace_order_by_id",
        json!({"order_id": id, "qty": "60", "notional": "1"}),
    )
    .await;
    refused(&r, "not both");
    assert_eq!(count(&mock, "PATCH", "/v2/orders"), 0);

    // An open notional order (as Alpaca holds one: qty null) patched with a qty is valued
    // by the qty it will have, not by its old notional.
    let notional_id = "6f1f4bb5-0a7d-4e29-9d3c-6b9f3f0e8a11";
    answer_with(
        &mock,
        &format!("/v2/orders/{notional_id}"),
        &json!({
            "id": notional_id, "symbol": "AAPL", "asset_class": "us_equity",
            "notional": "1", "qty": null, "side": "buy", "type": "market",
            "order_type": "market", "time_in_force": "day", "status": "new"
        }),
    );
    let r = call(
        &client,
        "replace_order_by_id",
        json!({"order_id": notional_id, "qty": "60"}),
    )
    .await;
    refused(&r, "ALPACA_MAX_ORDER_NOTIONAL");
    assert_eq!(count(&mock, "PATCH", "/v2/orders"), 0);
}

// Weakness: non-positive quantities on close_position.

#[tokio::test]
async fn close_position_refuses_quantities_and_percentages_that_are_not_positive() {
    let mock = mock().await;
    mock.state()
        .place_order(json!({"symbol": "AAPL", "qty": "10", "side": "buy", "type": "market", "time_in_force": "day"}))
        .expect("position opened");
    for safety in [capped(1000.0), SafetyConfig::default()] {
        let client = connect_shared(tools(&mock, safety)).await;
        mock.clear_requests();
        for (args, needle) in [
            (
                json!({"qty": -5}),
                "argument `qty` is -5; it must be more than 0",
            ),
            (
                json!({"qty": 0}),
                "argument `qty` is 0; it must be more than 0",
            ),
            (
                json!({"percentage": -10}),
                "argument `percentage` is -10; it must be more than 0",
            ),
            (
                json!({"percentage": 0}),
                "argument `percentage` is 0; it must be more than 0",
            ),
            (
                json!({"percentage": 101}),
                "argument `percentage` is 101; the maximum is 100",
            ),
        ] {
            let mut args = args.as_object().unwrap().clone();
            args.insert("symbol_or_asset_id".into(), json!("AAPL"));
            let r = call(&client, "close_position", Value::Object(args)).await;
            assert_eq!(r.is_error, Some(true), "{}", text(&r));
            assert!(text(&r).contains(needle), "{needle:?} in {}", text(&r));
        }
        assert!(
            mock.requests().is_empty(),
            "nothing reached the fake: {:?}",
            mock.requests()
        );
    }
}

// Weakness: NaN from the upstream.

#[tokio::test]
async fn values_alpaca_sends_that_are_not_finite_numbers_fail_closed_under_the_cap() {
    let mock = mock().await;
    let client = connect_shared(tools(&mock, capped(1000.0))).await;
    let nan = json!({
        "symbol": "AAPL", "asset_class": "us_equity", "qty": "NaN",
        "market_value": "NaN", "current_price": "NaN", "side": "long"
    });
    answer_with(&mock, "/v2/positions", &json!([nan]));
    mock.clear_requests();
    let r = call(&client, "close_all_positions", json!({})).await;
    refused(&r, "no market value for AAPL");
    mock.clear_faults();
    answer_with(&mock, "/v2/positions/AAPL", &nan);
    let r = call(
        &client,
        "close_position",
        json!({"symbol_or_asset_id": "AAPL", "percentage": 50}),
    )
    .await;
    refused(&r, "ALPACA_MAX_ORDER_NOTIONAL");
    assert_eq!(count(&mock, "DELETE", "/v2/positions"), 0);
}

// Weakness: symbols in paths.

#[tokio::test]
async fn a_symbol_with_an_empty_dot_or_dot_dot_part_never_reaches_a_path() {
    let mock = mock().await;
    let client = connect_shared(tools(&mock, SafetyConfig::default())).await;
    mock.clear_requests();
    for bad in ["A/..", "A/.", "A//B", "A/", "BTC/USD/X", "../x", "A/../B"] {
        for tool in ["close_position", "get_open_position"] {
            let r = call(&client, tool, json!({"symbol_or_asset_id": bad})).await;
            assert_eq!(r.is_error, Some(true), "{tool} {bad}: {}", text(&r));
            assert!(
                text(&r).contains("argument `symbol_or_asset_id`"),
                "{tool} {bad}: {}",
                text(&r)
            );
        }
    }
    assert!(mock.requests().is_empty(), "{:?}", mock.requests());
    // Ordinary symbols still go through: a pair, a class share, a contract.
    for good in ["BTC/USD", "BRK.B", "AAPL250117C00150000"] {
        let r = call(
            &client,
            "get_open_position",
            json!({"symbol_or_asset_id": good}),
        )
        .await;
        assert!(
            !text(&r).contains("argument `symbol_or_asset_id`"),
            "{good}: {}",
            text(&r)
        );
    }
    assert_eq!(count(&mock, "GET", "/v2/positions/"), 3);
}

// Weakness: a confirmed retry whose client_order_id differs.

#[derive(Clone)]
struct Asker;

impl ClientHandler for Asker {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::builder().enable_elicitation().build(),
            Implementation::new("probe3", "1"),
        )
    }
}

async fn round_client(tools: Arc<AlpacaTools>) -> RunningService<RoleClient, Asker> {
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(running) = rmcp::ServiceExt::serve(AlpacaServer::new(tools), server_io).await {
            let _ = running.waiting().await;
        }
    });
    Asker
        .serve_with_lifecycle(
            client_io,
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .expect("client")
}

fn order(cid: Option<&str>) -> CallToolRequestParams {
    let mut args = json!({"symbol": "AAPL", "side": "buy", "qty": 2});
    if let Some(c) = cid {
        args["client_order_id"] = json!(c);
    }
    CallToolRequestParams::new("place_stock_order")
        .with_arguments(args.as_object().cloned().unwrap())
}

async fn state_for(client: &RunningService<RoleClient, Asker>, p: CallToolRequestParams) -> String {
    match client.call_tool_once(p).await.expect("call") {
        CallToolResponse::InputRequired(asked) => asked.request_state.expect("state"),
        other => panic!("expected input_required, got {other:?}"),
    }
}

async fn retry(
    client: &RunningService<RoleClient, Asker>,
    p: CallToolRequestParams,
    state: &str,
) -> CallToolResult {
    let mut responses = InputResponses::new();
    let yes = ElicitResult::new(ElicitationAction::Accept).with_content(json!({"confirm": true}));
    responses.insert("confirm".into(), serde_json::to_value(yes).unwrap());
    match client
        .call_tool_once(
            p.with_request_state(state.to_string())
                .with_input_responses(responses),
        )
        .await
        .expect("call")
    {
        CallToolResponse::Complete(r) => r,
        other => panic!("expected a result, got {other:?}"),
    }
}

#[tokio::test]
async fn a_confirmed_retry_whose_client_order_id_differs_is_refused() {
    let mock = mock().await;
    let mut config = config_for(&mock);
    config.safety = SafetyConfig {
        confirm_orders: true,
        confirm_ttl: Duration::from_secs(60),
        state_key: Some(
            StateKey::new(b"a test key that is long enough to seal!".to_vec()).unwrap(),
        ),
        ..SafetyConfig::default()
    };
    let client = round_client(Arc::new(AlpacaTools::new(&config).unwrap())).await;
    mock.clear_requests();
    let differs = "not the ones the user was asked about";
    // Asked without one, retried with one: the probe saw it silently replaced.
    let state = state_for(&client, order(None)).await;
    let r = retry(&client, order(Some("mine-1")), &state).await;
    assert!(text(&r).contains(differs), "{}", text(&r));
    // Asked with one, retried with another, or without it.
    let state = state_for(&client, order(Some("mine-2"))).await;
    let r = retry(&client, order(Some("mine-3")), &state).await;
    assert!(text(&r).contains(differs), "{}", text(&r));
    let r = retry(&client, order(None), &state).await;
    assert!(text(&r).contains(differs), "{}", text(&r));
    assert!(posted(&mock, "/v2/orders").is_empty());
    // The same one on both: placed once, with it.
    let r = retry(&client, order(Some("mine-2")), &state).await;
    assert_eq!(r.is_error, Some(false), "{}", text(&r));
    let posts = posted(&mock, "/v2/orders");
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0]["client_order_id"], "mine-2");
    // Neither gave one: the one made up for the question is the one placed.
    let state = state_for(&client, order(None)).await;
    let r = retry(&client, order(None), &state).await;
    assert_eq!(r.is_error, Some(false), "{}", text(&r));
    assert_eq!(posted(&mock, "/v2/orders").len(), 2);
}

// Bug 6: every result within the budget.

fn longest(r: &CallToolResult) -> usize {
    let structured = r
        .structured_content
        .as_ref()
        .map_or(0, |v| v.to_string().len());
    text(r).len().max(structured)
}

#[tokio::test]
async fn every_result_stays_within_the_budget_whatever_alpaca_sends() {
    let mock = mock().await;
    let budget = 2_000;
    let huge_symbol = "S".repeat(200_000);
    let cases: Vec<(&str, &str, Value, Value)> = vec![
        (
            "get_account_info",
            "/v2/account",
            json!({"id": "acct-1", "status": "ACTIVE", "note": "x".repeat(500_000)}),
            json!({}),
        ),
        (
            "get_clock",
            "/v2/clock",
            Value::String("c".repeat(900_000)),
            json!({}),
        ),
        (
            "get_clock",
            "/v2/clock",
            Value::Array((0..300_000).map(|i| json!(i)).collect()),
            json!({}),
        ),
        (
            "get_orders",
            "/v2/orders",
            json!([{"id": "o-1", "symbol": huge_symbol, "qty": "1", "status": "new"},
                   {"id": "o-2", "symbol": "AAPL", "qty": "1", "status": "new"}]),
            json!({}),
        ),
        (
            "get_order_by_id",
            "/v2/orders/",
            json!({"id": "o-1", "symbol": huge_symbol, "qty": "1", "status": "new"}),
            json!({"order_id": "6f1f4bb5-0a7d-4e29-9d3c-6b9f3f0e8a11"}),
        ),
        (
            "get_account_info",
            "/v2/account",
            json!({"id": "acct-1", &"k".repeat(100_000): "v"}),
            json!({}),
        ),
    ];
    for format in [Format::Compact, Format::Json, Format::Both] {
        let mut config = config_for(&mock);
        config.output.format = format;
        config.output.max_chars = budget;
        config.cache.enabled = false;
        let client = connect(&config).await;
        for (tool, path, body, args) in &cases {
            mock.clear_faults();
            answer_with(&mock, path, body);
            mock.clear_requests();
            let r = call(&client, tool, args.clone()).await;
            assert_eq!(r.is_error, Some(false), "{tool}: {}", text(&r));
            assert!(
                longest(&r) <= budget,
                "{format:?} {tool} {path}: {} characters",
                longest(&r)
            );
            let t = text(&r);
            let back = if t.starts_with('{') {
                serde_json::from_str::<serde_json::Map<String, Value>>(&t).expect("JSON")
            } else {
                alpaca_mcp::compact::parse(&t).expect("compact text reads back")
            };
            let b = &back["meta"]["budget"];
            assert!(
                b["values_cut"].is_string() || b["data_left_out"] == true,
                "{format:?} {tool}: says what was cut: {t}"
            );
            assert_eq!(
                mock.requests().len(),
                1,
                "{tool}: one request, as for any call"
            );
        }
    }
}
