//! MCP resources and prompts through rmcp's client, against the fake Alpaca.

use rmcp::ServiceError;
use rmcp::model::{ErrorCode, GetPromptRequestParams, ReadResourceRequestParams, ResourceContents};
use serde_json::{Value, json};
use support::*;

/// Reads a resource and returns its envelope.
async fn read(client: &Client, uri: &str) -> Value {
    let result = client
        .read_resource(ReadResourceRequestParams::new(uri))
        .await
        .unwrap_or_else(|e| panic!("{uri}: {e}"));
    assert_eq!(result.contents.len(), 1, "{uri}");
    let ResourceContents::TextResourceContents {
        uri: got,
        mime_type,
        text,
        ..
    } = &result.contents[0]
    else {
        panic!("{uri}: not text");
    };
    assert_eq!(got, uri);
    assert_eq!(mime_type.as_deref(), Some("application/json"));
    let envelope: Value = serde_json::from_str(text).expect("JSON text");
    assert!(
        envelope["notice"]
            .as_str()
            .unwrap()
            .contains("Untrusted data"),
        "{envelope}"
    );
    envelope
}

/// Reads a resource that must fail; returns the MCP error.
async fn read_err(client: &Client, uri: &str) -> rmcp::ErrorData {
    match client
        .read_resource(ReadResourceRequestParams::new(uri))
        .await
    {
        Err(ServiceError::McpError(e)) => e,
        other => panic!("{uri}: expected an MCP error, got {other:?}"),
    }
}

fn not_found(e: &rmcp::ErrorData) -> bool {
    // RESOURCE_NOT_FOUND before protocol 2026-07-28, INVALID_PARAMS from it on.
    e.code == ErrorCode::RESOURCE_NOT_FOUND || e.code == ErrorCode::INVALID_PARAMS
}

#[tokio::test]
async fn lists_resources_and_the_position_template() {
    let mock = mock().await;
    let client = connect(&config_for(&mock)).await;
    let info = client.peer_info().expect("server info");
    assert!(info.capabilities.resources.is_some());
    assert!(info.capabilities.prompts.is_some());

    let mut uris: Vec<String> = client
        .list_all_resources()
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            assert_eq!(r.mime_type.as_deref(), Some("application/json"));
            assert!(r.description.is_some());
            r.uri
        })
        .collect();
    uris.sort();
    assert_eq!(
        uris,
        [
            "alpaca://account",
            "alpaca://clock",
            "alpaca://orders/open",
            "alpaca://positions"
        ]
    );
    let templates = client.list_all_resource_templates().await.unwrap();
    assert_eq!(templates.len(), 1);
    assert_eq!(templates[0].uri_template, "alpaca://positions/{symbol}");
}

#[tokio::test]
async fn account_resource() {
    let mock = mock().await;
    let client = connect(&config_for(&mock)).await;
    let envelope = read(&client, "alpaca://account").await;
    let data = &envelope["data"];
    assert_eq!(data, &mock.state().account(), "the API's JSON, unchanged");
    assert!(data["buying_power"].is_string());
}

#[tokio::test]
async fn positions_resource() {
    let mock = mock().await;
    let client = connect(&config_for(&mock)).await;
    assert_eq!(read(&client, "alpaca://positions").await["data"], json!([]));
    mock.state()
        .place_order(json!({"symbol": "MSFT", "qty": "4", "side": "buy", "type": "market", "time_in_force": "day"}))
        .unwrap();
    let data = read(&client, "alpaca://positions").await["data"].clone();
    let positions = data.as_array().unwrap();
    assert_eq!(positions.len(), 1);
    assert_eq!(positions[0]["symbol"], "MSFT");
    assert_eq!(positions[0]["qty"], "4");
}

#[tokio::test]
async fn position_template_resource() {
    let mock = mock().await;
    let client = connect(&config_for(&mock)).await;
    mock.state()
        .place_order(json!({"symbol": "AAPL", "qty": "3", "side": "buy", "type": "market", "time_in_force": "day"}))
        .unwrap();
    let data = read(&client, "alpaca://positions/AAPL").await["data"].clone();
    assert_eq!(data["symbol"], "AAPL");
    assert_eq!(data["qty"], "3");

    // Nothing held: resource not found, with a message that says so.
    let e = read_err(&client, "alpaca://positions/NVDA").await;
    assert!(not_found(&e), "{e:?}");
    assert!(
        e.message.contains("alpaca://positions/NVDA"),
        "{}",
        e.message
    );
    assert!(e.message.contains("no open position"), "{}", e.message);

    let e = read_err(&client, "alpaca://positions/").await;
    assert!(not_found(&e), "{e:?}");
}

#[tokio::test]
async fn open_orders_resource() {
    let mock = mock().await;
    let client = connect(&config_for(&mock)).await;
    assert_eq!(
        read(&client, "alpaca://orders/open").await["data"],
        json!([])
    );
    let placed = mock
        .state()
        .place_order(json!({"symbol": "AAPL", "qty": "5", "side": "buy", "type": "limit", "limit_price": "1.00", "time_in_force": "day"}))
        .unwrap();
    let data = read(&client, "alpaca://orders/open").await["data"].clone();
    let orders = data.as_array().unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0]["id"], placed["id"]);
    assert_eq!(orders[0]["status"], "new");
    let request = mock
        .requests()
        .into_iter()
        .rfind(|r| r.path == "/v2/orders")
        .expect("the resource read /v2/orders");
    let query = request.query.unwrap_or_default();
    assert!(query.contains("status=open"), "{query}");
}

#[tokio::test]
async fn clock_resource() {
    let mock = mock().await;
    let client = connect(&config_for(&mock)).await;
    let data = read(&client, "alpaca://clock").await["data"].clone();
    assert!(data["is_open"].is_boolean(), "{data}");
    assert!(data["next_open"].is_string(), "{data}");
}

#[tokio::test]
async fn api_errors_and_unknown_uris_are_mcp_errors() {
    let mock = mock().await;
    let client = connect(&config_for(&mock)).await;
    let e = read_err(&client, "alpaca://nothing").await;
    assert!(not_found(&e), "{e:?}");
    assert!(e.message.contains("alpaca://account"), "{}", e.message);

    mock.inject(alpaca_mock::Fault::new(
        "/v2/account",
        alpaca_mock::FaultKind::status(500),
    ));
    let e = read_err(&client, "alpaca://account").await;
    assert_eq!(e.code, ErrorCode::INTERNAL_ERROR, "{e:?}");
    assert!(e.message.contains("HTTP 500"), "{}", e.message);
    assert!(e.message.contains("Hint:"), "{}", e.message);
}

#[tokio::test]
async fn resources_follow_the_enabled_toolsets() {
    let mock = mock().await;

    // Only market data: no resources at all, and the capability is not declared.
    let mut config = config_for(&mock);
    config.toolsets = Some(vec!["stock-data".into()]);
    let client = connect(&config).await;
    assert!(client.peer_info().unwrap().capabilities.resources.is_none());
    assert!(client.list_all_resources().await.unwrap().is_empty());
    assert!(
        client
            .list_all_resource_templates()
            .await
            .unwrap()
            .is_empty()
    );
    let e = read_err(&client, "alpaca://account").await;
    assert!(not_found(&e), "{e:?}");
    assert!(
        e.message.contains("`account` is not enabled"),
        "{}",
        e.message
    );
    assert!(
        !mock.requests().iter().any(|r| r.path == "/v2/account"),
        "nothing sent"
    );

    // assets alone: the clock.
    config.toolsets = Some(vec!["assets".into()]);
    let client = connect(&config).await;
    let uris: Vec<String> = client
        .list_all_resources()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.uri)
        .collect();
    assert_eq!(uris, ["alpaca://clock"]);

    // Read-only keeps them all: they read through read-only tools.
    let mut config = config_for(&mock);
    config.read_only = true;
    let client = connect(&config).await;
    assert_eq!(client.list_all_resources().await.unwrap().len(), 4);
    assert_eq!(client.list_all_resource_templates().await.unwrap().len(), 1);
}

#[tokio::test]
async fn lists_and_gets_both_prompts() {
    let mock = mock().await;
    let client = connect(&config_for(&mock)).await;
    let prompts = client.list_all_prompts().await.unwrap();
    let names: Vec<&str> = prompts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["portfolio_review", "pre_trade_checklist"]);
    let checklist = &prompts[1];
    let args = checklist.arguments.as_ref().unwrap();
    assert_eq!(args.len(), 1);
    assert_eq!(args[0].name, "symbol");
    assert_eq!(args[0].required, Some(true));

    let review = client
        .get_prompt(GetPromptRequestParams::new("portfolio_review"))
        .await
        .unwrap();
    let text = prompt_text(&review);
    for tool in alpaca_mcp::prompts::PORTFOLIO_REVIEW_TOOLS {
        assert!(text.contains(tool), "{tool} not named: {text}");
    }
    assert!(!text.contains("Not enabled"), "{text}");

    let mut arguments = serde_json::Map::new();
    arguments.insert("symbol".into(), json!("nvda"));
    let checklist = client
        .get_prompt(GetPromptRequestParams::new("pre_trade_checklist").with_arguments(arguments))
        .await
        .unwrap();
    let text = prompt_text(&checklist);
    assert!(text.contains("NVDA"), "{text}");
    for tool in alpaca_mcp::prompts::PRE_TRADE_CHECKLIST_TOOLS {
        assert!(text.contains(tool), "{tool} not named: {text}");
    }

    // symbol is required.
    let e = client
        .get_prompt(GetPromptRequestParams::new("pre_trade_checklist"))
        .await
        .unwrap_err();
    let ServiceError::McpError(e) = e else {
        panic!("{e:?}")
    };
    assert_eq!(e.code, ErrorCode::INVALID_PARAMS);
    assert!(e.message.contains("symbol"), "{}", e.message);
}

#[tokio::test]
async fn prompts_name_the_tools_a_server_lacks() {
    let mock = mock().await;
    let mut config = config_for(&mock);
    config.toolsets = Some(vec!["stock-data".into()]);
    let client = connect(&config).await;
    let review = client
        .get_prompt(GetPromptRequestParams::new("portfolio_review"))
        .await
        .unwrap();
    let text = prompt_text(&review);
    assert!(
        text.contains("Not enabled on this server: get_account_info, get_all_positions, get_orders, get_clock."),
        "{text}"
    );
}

fn prompt_text(result: &rmcp::model::GetPromptResult) -> String {
    assert_eq!(result.messages.len(), 1);
    let message = &result.messages[0];
    assert_eq!(message.role, rmcp::model::Role::User);
    message
        .content
        .as_text()
        .expect("text message")
        .text
        .clone()
}
