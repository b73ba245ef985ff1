//! Calling tools through rmcp's client and reading their results.

use rmcp::RoleClient;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use serde_json::Value;

/// rmcp's client, connected.
pub type Client = RunningService<RoleClient, ()>;

/// Calls a tool with JSON arguments (an object, or anything else for none).
pub async fn call(client: &Client, name: &str, args: Value) -> CallToolResult {
    let mut params = CallToolRequestParams::new(name.to_string());
    if let Value::Object(map) = args {
        params = params.with_arguments(map);
    }
    client
        .call_tool(params)
        .await
        .unwrap_or_else(|e| panic!("{name}: protocol error {e}"))
}

/// The names of the tools `client` is listed, in order.
pub async fn tool_names(client: &Client) -> Vec<String> {
    client
        .list_all_tools()
        .await
        .expect("tools/list")
        .iter()
        .map(|t| t.name.to_string())
        .collect()
}

/// The text of a result's first content block.
pub fn text(result: &CallToolResult) -> String {
    result
        .content
        .first()
        .and_then(|c| c.as_text())
        .map(|t| t.text.clone())
        .unwrap_or_default()
}

/// A success's envelope (`notice`, `mode`, `meta`, `data`, ...), read from its text: JSON, or
/// compact text read back with [`alpaca_mcp::compact::parse`]. When `structuredContent` is
/// there too, the text must say exactly the same, so every test that reads a result checks
/// that the compact text loses nothing.
pub fn envelope(result: &CallToolResult) -> serde_json::Map<String, Value> {
    assert_eq!(
        result.is_error,
        Some(false),
        "expected success, got: {}",
        text(result)
    );
    let text = text(result);
    let from_text = if text.starts_with('{') {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("JSON text: {e}\n{text}"))
    } else {
        alpaca_mcp::compact::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    };
    if let Some(structured) = &result.structured_content {
        assert_eq!(
            &Value::Object(from_text.clone()),
            structured,
            "the text and structuredContent differ:\n{text}"
        );
    }
    from_text
}

/// The `data` of a success envelope.
pub fn data(result: &CallToolResult) -> Value {
    envelope(result)
        .remove("data")
        .expect("an envelope has data")
}
