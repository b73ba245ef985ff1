//! Embedding: Alpaca's tools as rmcp routes merged into a host server's own router, served
//! in-process and called through rmcp's client; and the typed client without MCP.

use std::sync::Arc;

use alpaca_mcp::AlpacaTools;
use rmcp::handler::server::router::tool::{ToolRoute, ToolRouter};
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::json;
use support::*;

/// A host server with one tool of its own.
#[derive(Clone)]
struct Host {
    router: Arc<ToolRouter<Host>>,
}

fn host_router() -> ToolRouter<Host> {
    let schema = json!({"type": "object", "properties": {"text": {"type": "string"}}});
    let tool = Tool::new(
        "echo",
        "Echoes its text.",
        Arc::new(schema.as_object().unwrap().clone()),
    );
    ToolRouter::new().with_route(ToolRoute::new_dyn(
        tool,
        |ctx: ToolCallContext<'_, Host>| {
            Box::pin(async move {
                let text = ctx
                    .arguments
                    .as_ref()
                    .and_then(|a| a.get("text"))
                    .and_then(|t| t.as_str())
                    .unwrap_or_default()
                    .to_string();
                Ok(CallToolResult::success(vec![ContentBlock::text(text)]).into())
            })
        },
    ))
}

impl ServerHandler for Host {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.router.list_all()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.router
            .call(ToolCallContext::new(self, request, context))
            .await
    }
}

#[tokio::test]
async fn alpaca_routes_merge_with_the_host_router() {
    let mock = mock().await;
    let mut config = config_for(&mock);
    config.toolsets = Some(vec!["stock-data".into(), "options-data".into()]);
    let alpaca = Arc::new(AlpacaTools::new(&config).unwrap());
    let ours: Vec<String> = alpaca.tools().iter().map(|t| t.name.to_string()).collect();
    let router = host_router() + alpaca.tool_router();

    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    let host = Host {
        router: Arc::new(router),
    };
    tokio::spawn(async move {
        if let Ok(running) = host.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let client = ().serve(client_io).await.unwrap();

    let listed = client.list_all_tools().await.unwrap();
    let mut names: Vec<String> = listed.iter().map(|t| t.name.to_string()).collect();
    names.sort();
    let mut expected = ours.clone();
    expected.push("echo".into());
    expected.sort();
    assert_eq!(names, expected);
    assert!(names.contains(&"get_stock_latest_quote".to_string()));
    assert!(names.contains(&"get_option_chain".to_string()));
    assert!(!names.contains(&"get_account_info".to_string()));
    // The Alpaca tools keep their schemas and annotations (and, as served, no outputSchema).
    let quote = listed
        .iter()
        .find(|t| t.name == "get_stock_latest_quote")
        .unwrap();
    assert!(quote.output_schema.is_none());
    assert_eq!(
        quote.annotations.as_ref().unwrap().read_only_hint,
        Some(true)
    );

    let echoed = call(&client, "echo", json!({"text": "hi"})).await;
    assert_eq!(text(&echoed), "hi");

    let quote = data(
        &call(
            &client,
            "get_stock_latest_quote",
            json!({"symbols": "AAPL"}),
        )
        .await,
    );
    assert!(quote["quotes"]["AAPL"]["ap"].is_number(), "{quote}");

    // Argument checking is ours, as in the stand-alone server.
    let bad = call(&client, "get_stock_latest_quote", json!({"nope": 1})).await;
    assert_eq!(bad.is_error, Some(true));
    assert!(text(&bad).contains("Nothing was sent"), "{}", text(&bad));
}

#[tokio::test]
async fn tool_router_from_a_config() {
    let mock = mock().await;
    let mut config = config_for(&mock);
    config.toolsets = Some(vec!["news".into()]);
    config.read_only = true;
    let router: ToolRouter<Host> = alpaca_mcp::embed::tool_router(&config).unwrap();
    let names: Vec<String> = router
        .list_all()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    assert_eq!(names, ["get_news"]);

    config.toolsets = Some(vec!["no-such-toolset".into()]);
    let err = alpaca_mcp::embed::tool_router::<Host>(&config).unwrap_err();
    assert!(err.to_string().contains("unknown toolset"), "{err}");
}

#[cfg(feature = "account")]
#[tokio::test]
async fn typed_client_without_mcp() {
    let mock = mock().await;
    let client = alpaca_mcp::Client::from_config(&config_for(&mock)).unwrap();
    let account = client.get_account().await.unwrap();
    assert_eq!(
        account.buying_power.as_deref(),
        mock.state().account()["buying_power"].as_str()
    );
}
