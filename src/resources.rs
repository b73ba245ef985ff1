//! MCP resources: account, positions, open orders and the market clock as context a client
//! can attach.
//!
//! | URI | Reads through | Toolset |
//! |---|---|---|
//! | `alpaca://account` | `get_account_info` | `account` |
//! | `alpaca://positions` | `get_all_positions` | `trading` |
//! | `alpaca://positions/{symbol}` (template) | `get_open_position` | `trading` |
//! | `alpaca://orders/open` | `get_orders` (`status=open`, up to 500) | `trading` |
//! | `alpaca://clock` | `get_clock` | `assets` |
//!
//! A resource is offered only when the tool it reads through is enabled (its toolset is on
//! and read-only mode keeps it; all five are read-only tools), and a read is a call of that
//! tool through the engine's one path: the same argument checks, response cache and client
//! as the tool.
//!
//! # Contents
//!
//! One `application/json` text item: the same envelope as a tool result, without `mode`:
//!
//! ```json
//! {"notice": "Untrusted data from Alpaca's API. ...", "data": <the API's JSON, unchanged>}
//! ```
//!
//! The API's answer sits under `data` untouched, so the notice can never be confused with
//! Alpaca's fields.
//!
//! # Errors
//!
//! An unknown URI, a resource whose toolset is off and a 404 from Alpaca (e.g. no open position
//! in that symbol) are MCP "resource not found" errors; other API failures are internal errors
//! whose message carries Alpaca's status and message and a hint.

use rmcp::ErrorData;
use rmcp::model::{
    CallToolResult, ReadResourceResult, Resource, ResourceContents, ResourceTemplate,
};
use serde_json::{Value, json};

use crate::engine::{AlpacaTools, NoData};
use crate::envelope;
use crate::runtime::{Error, JsonObject, Risk, ToolError};

/// The MIME type of every resource's contents.
pub const MIME_TYPE: &str = "application/json";

/// The URI template of one open position.
pub const POSITION_TEMPLATE: &str = "alpaca://positions/{symbol}";

const POSITION_PREFIX: &str = "alpaca://positions/";

/// A fixed resource: its URI and the tool it reads through.
struct Fixed {
    uri: &'static str,
    name: &'static str,
    title: &'static str,
    description: &'static str,
    tool: &'static str,
    toolset: &'static str,
    args: fn() -> Value,
}

const FIXED: &[Fixed] = &[
    Fixed {
        uri: "alpaca://account",
        name: "account",
        title: "Alpaca account",
        description: "The account's status, cash, buying power, equity and restrictions (get_account_info).",
        tool: "get_account_info",
        toolset: "account",
        args: || json!({}),
    },
    Fixed {
        uri: "alpaca://positions",
        name: "positions",
        title: "Open positions",
        description: "Every open position with quantity, average entry price, market value and unrealized P/L (get_all_positions).",
        tool: "get_all_positions",
        toolset: "trading",
        args: || json!({}),
    },
    Fixed {
        uri: "alpaca://orders/open",
        name: "open-orders",
        title: "Open orders",
        description: "Orders not yet filled, cancelled or expired, newest first, up to 500 (get_orders with status=open).",
        tool: "get_orders",
        toolset: "trading",
        args: || json!({"status": "open", "limit": 500}),
    },
    Fixed {
        uri: "alpaca://clock",
        name: "clock",
        title: "US market clock",
        description: "The current time, whether the US stock market is open, and the next open and close (get_clock).",
        tool: "get_clock",
        toolset: "assets",
        args: || json!({}),
    },
];

const POSITION_TOOL: &str = "get_open_position";
const POSITION_TOOLSET: &str = "trading";

fn enabled(tools: &AlpacaTools, tool: &str) -> bool {
    tools.enabled_tools().iter().any(|t| t.name == tool)
}

/// The resources `tools` offers, each only when the tool it reads through is enabled.
pub fn list(tools: &AlpacaTools) -> Vec<Resource> {
    FIXED
        .iter()
        .filter(|r| enabled(tools, r.tool))
        .map(|r| {
            Resource::new(r.uri, r.name)
                .with_title(r.title)
                .with_description(r.description)
                .with_mime_type(MIME_TYPE)
        })
        .collect()
}

/// The resource templates `tools` offers: [`POSITION_TEMPLATE`] when `get_open_position` is
/// enabled.
pub fn templates(tools: &AlpacaTools) -> Vec<ResourceTemplate> {
    if !enabled(tools, POSITION_TOOL) {
        return vec![];
    }
    vec![
        ResourceTemplate::new(POSITION_TEMPLATE, "position")
            .with_title("Open position in one symbol")
            .with_description(
                "The open position in one symbol or asset id (get_open_position); not found when nothing is held.",
            )
            .with_mime_type(MIME_TYPE),
    ]
}

/// Whether `tools` offers at least one resource or template.
pub fn any(tools: &AlpacaTools) -> bool {
    !list(tools).is_empty() || !templates(tools).is_empty()
}

/// Reads the resource at `uri` through `tools`' client.
pub async fn read(tools: &AlpacaTools, uri: &str) -> Result<ReadResourceResult, ErrorData> {
    let (tool, args) = resolve(uri)?;
    if !enabled(tools, tool) {
        let toolset = FIXED
            .iter()
            .find(|r| r.tool == tool)
            .map_or(POSITION_TOOLSET, |r| r.toolset);
        return Err(ErrorData::resource_not_found(
            format!(
                "{uri} is not offered by this server: it reads through {tool}, whose toolset `{toolset}` is not enabled (see ALPACA_TOOLSETS)"
            ),
            Some(json!({"uri": uri})),
        ));
    }
    let Some(answer) = tools
        .run(crate::engine::Caller::default(), tool, Some(args))
        .await
    else {
        return Err(ErrorData::resource_not_found(
            format!("{uri}: {tool} is not enabled"),
            Some(json!({"uri": uri})),
        ));
    };
    let mut contents = serde_json::Map::new();
    contents.insert("notice".into(), json!(envelope::notice(Risk::ApiData)));
    let data = match answer.into_data() {
        Ok(data) => data,
        Err(NoData::Invalid(msg)) => {
            return Err(read_error(uri, tool, &ToolError::InvalidArguments(msg)));
        }
        Err(NoData::Failed(e)) => return Err(read_error(uri, tool, &e)),
        Err(NoData::Error(result)) => return Err(done_error(uri, *result)),
    };
    // A stale answer (Alpaca failed and the tool's cache had one) says so, as the tool's
    // result does.
    if let Some((age, error)) = &data.stale {
        envelope::mark_stale(&mut contents, *age, error);
    }
    // A body that is not JSON is passed on as text.
    contents.insert("data".into(), data.json.unwrap_or_else(Value::String));
    contents_result(uri, contents)
}

fn contents_result(
    uri: &str,
    contents: serde_json::Map<String, Value>,
) -> Result<ReadResourceResult, ErrorData> {
    let text = serde_json::to_string(&contents)
        .map_err(|e| ErrorData::internal_error(format!("{uri}: {e}"), None))?;
    Ok(ReadResourceResult::new(vec![
        ResourceContents::text(text, uri).with_mime_type(MIME_TYPE),
    ])
    // Live account data: not to be cached.
    .with_ttl_ms(0))
}

/// A hand-written tool's error result as the resource error: not found for an HTTP 404.
fn done_error(uri: &str, result: CallToolResult) -> ErrorData {
    let data = Some(json!({"uri": uri}));
    let text: Vec<String> = result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect();
    let text = text.join("\n");
    if text.contains("HTTP 404") {
        ErrorData::resource_not_found(format!("{uri}: resource not found: {text}"), data)
    } else {
        ErrorData::internal_error(format!("{uri}: {text}"), data)
    }
}

/// The tool and arguments a URI reads through.
fn resolve(uri: &str) -> Result<(&'static str, JsonObject), ErrorData> {
    let object = |v: Value| match v {
        Value::Object(m) => m,
        _ => JsonObject::new(),
    };
    if let Some(r) = FIXED.iter().find(|r| r.uri == uri) {
        return Ok((r.tool, object((r.args)())));
    }
    if let Some(rest) = uri.strip_prefix(POSITION_PREFIX) {
        // One path segment; a `%2F` inside it is decoded (and re-encoded on the way out).
        let symbol = Some(rest)
            .filter(|r| !r.contains(['/', '?', '#']))
            .and_then(crate::runtime::decode_strict)
            .filter(|s| !s.trim().is_empty() && !s.chars().any(char::is_control));
        let Some(symbol) = symbol else {
            return Err(ErrorData::resource_not_found(
                format!(
                    "{uri} is not a position URI: use {POSITION_TEMPLATE} with one symbol or asset id, e.g. alpaca://positions/AAPL"
                ),
                Some(json!({"uri": uri})),
            ));
        };
        return Ok((POSITION_TOOL, object(json!({"symbol_or_asset_id": symbol}))));
    }
    let known: Vec<&str> = FIXED
        .iter()
        .map(|r| r.uri)
        .chain([POSITION_TEMPLATE])
        .collect();
    Err(ErrorData::resource_not_found(
        format!(
            "unknown resource {uri}; Alpaca's resources are {}",
            known.join(", ")
        ),
        Some(json!({"uri": uri})),
    ))
}

fn read_error(uri: &str, tool: &str, error: &ToolError) -> ErrorData {
    let data = Some(json!({"uri": uri}));
    match error {
        ToolError::InvalidArguments(msg) => ErrorData::invalid_params(
            format!("{uri}: invalid resource URI for {tool}: {msg}"),
            data,
        ),
        ToolError::Api(e @ Error::Api { status: 404, .. }) if tool == POSITION_TOOL => {
            ErrorData::resource_not_found(
                format!(
                    "{uri}: resource not found: no open position in that symbol or asset id (Alpaca: {e})"
                ),
                data,
            )
        }
        ToolError::Api(e @ Error::Api { status: 404, .. }) => {
            ErrorData::resource_not_found(format!("{uri}: resource not found (Alpaca: {e})"), data)
        }
        ToolError::Api(e) => {
            let mut message =
                format!("{uri}: reading through {tool} failed: Alpaca API error: {e}");
            if let Some(hint) = envelope::hint(e, false) {
                message.push_str(". Hint: ");
                message.push_str(&hint);
            }
            ErrorData::internal_error(message, data)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Answer;

    #[test]
    fn uris_resolve_to_their_tools() {
        assert_eq!(resolve("alpaca://account").unwrap().0, "get_account_info");
        let (tool, args) = resolve("alpaca://orders/open").unwrap();
        assert_eq!(tool, "get_orders");
        assert_eq!(args["status"], "open");
        let (tool, args) = resolve("alpaca://positions/BTC%2FUSD").unwrap();
        assert_eq!(tool, "get_open_position");
        assert_eq!(args["symbol_or_asset_id"], "BTC/USD");
        for bad in [
            "alpaca://positions/",
            "alpaca://positions/A/B",
            "alpaca://positions/%zz",
            "alpaca://nope",
            "file:///etc/passwd",
        ] {
            assert!(resolve(bad).is_err(), "{bad}");
        }
    }

    /// A read is the tool's call: the same data, and Alpaca's 404 as "resource not found".
    #[cfg(all(feature = "trading", feature = "assets"))]
    #[tokio::test]
    async fn a_read_is_a_call_of_its_tool() {
        let mock = alpaca_mock::MockServer::start(Default::default())
            .await
            .unwrap();
        let url = crate::config::parse_url("mock", &mock.url()).unwrap();
        let mut config = crate::Config::from_lookup(|_| None).unwrap();
        config.trading_url = url.clone();
        config.data_url = url;
        config.toolsets = Some(vec!["trading".into(), "assets".into()]);
        config.credentials = Some(crate::Credentials {
            key_id: "k".into(),
            secret_key: "s".into(),
        });
        let tools = AlpacaTools::new(&config).unwrap();

        let read_data: Value = match &read(&tools, "alpaca://positions").await.unwrap().contents[0]
        {
            ResourceContents::TextResourceContents { text, .. } => {
                serde_json::from_str(text).unwrap()
            }
            other => panic!("{other:?}"),
        };
        let called = tools.call("get_all_positions", None).await.unwrap();
        let called = called.structured_content.unwrap();
        assert_eq!(read_data["data"], called["data"]);
        assert_eq!(read_data["notice"], called["notice"]);

        let e = read(&tools, "alpaca://positions/NVDA").await.unwrap_err();
        assert_eq!(e.code, rmcp::model::ErrorCode::RESOURCE_NOT_FOUND, "{e:?}");
        assert!(
            e.message.contains("position does not exist"),
            "{}",
            e.message
        );
    }

    /// A hand-written tool's result: its `data`, or its error text as the resource error.
    #[test]
    fn a_finished_result_becomes_data_or_a_resource_error() {
        let ok = envelope::envelope(json!({"a": 1}), Risk::ApiData, crate::config::Mode::Paper);
        let Ok(data) = Answer::Done(ok).into_data() else {
            panic!("a success carries data");
        };
        assert_eq!(data.json, Ok(json!({"a": 1})));
        let gone = envelope::error_text("x failed: Alpaca API error: HTTP 404: gone");
        let Err(NoData::Error(gone)) = Answer::Done(gone).into_data() else {
            panic!("an error result carries no data");
        };
        let e = done_error("alpaca://x", *gone);
        assert_eq!(e.code, rmcp::model::ErrorCode::RESOURCE_NOT_FOUND, "{e:?}");
        let down = envelope::error_text("x failed: Alpaca API error: HTTP 503: down");
        let e = done_error("alpaca://x", down);
        assert_eq!(e.code, rmcp::model::ErrorCode::INTERNAL_ERROR, "{e:?}");
        assert!(e.message.contains("HTTP 503"), "{}", e.message);
    }
}
