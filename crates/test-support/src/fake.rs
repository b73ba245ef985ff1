//! The fake Alpaca, the tools configured against it, rmcp's client connected to our server
//! over an in-process pipe, and what the fake received.

use std::sync::Arc;
use std::time::Duration;

use alpaca_mcp::Credentials;
use alpaca_mcp::{AlpacaServer, AlpacaTools, Config};
use alpaca_mock::{MockConfig, MockServer};
use rmcp::ServiceExt;
use serde_json::Value;

use crate::Client;

/// A config pointing both APIs at `mock`.
pub fn config_for(mock: &MockServer) -> Config {
    let mut c = Config::from_lookup(|_| None).expect("default config");
    let url = alpaca_mcp::config::parse_url("mock", &mock.url()).expect("mock url");
    c.trading_url = url.clone();
    c.data_url = url;
    c.credentials = Some(Credentials {
        key_id: "test-key".into(),
        secret_key: "test-secret".into(),
    });
    c.toolsets = Some(
        alpaca_mcp::TOOLSETS
            .iter()
            .filter(|t| t.compiled)
            .map(|t| t.name.to_string())
            .collect(),
    );
    c.request_timeout = Duration::from_secs(5);
    c
}

/// A fake Alpaca with default settings.
pub async fn mock() -> MockServer {
    MockServer::start(MockConfig::default())
        .await
        .expect("mock starts")
}

/// rmcp's client connected to our server for `config`.
pub async fn connect(config: &Config) -> Client {
    connect_tools(AlpacaTools::new(config).expect("tools build")).await
}

/// rmcp's client connected to our server for already-built tools (e.g. with a pinned clock).
pub async fn connect_tools(tools: AlpacaTools) -> Client {
    connect_shared(Arc::new(tools)).await
}

/// One more MCP session on shared tools (as each HTTP session is).
pub async fn connect_shared(tools: Arc<AlpacaTools>) -> Client {
    ().serve(serve_in_process(tools))
        .await
        .expect("client initializes")
}

/// Our server for `tools` over an in-process pipe; the client's end.
fn serve_in_process(tools: Arc<AlpacaTools>) -> tokio::io::DuplexStream {
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(running) = AlpacaServer::new(tools).serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    client_io
}

/// The query of every request the fake saw on `path`.
pub fn queries(mock: &MockServer, path: &str) -> Vec<std::collections::HashMap<String, String>> {
    mock.requests()
        .into_iter()
        .filter(|r| r.path == path)
        .map(|r| {
            url::form_urlencoded::parse(r.query.unwrap_or_default().as_bytes())
                .into_owned()
                .collect()
        })
        .collect()
}

/// The POST bodies the fake received on `path`.
pub fn posted(mock: &MockServer, path: &str) -> Vec<Value> {
    mock.requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == path)
        .map(|r| r.body.unwrap_or(Value::Null))
        .collect()
}

/// rmcp's client, introducing itself as `name` (`clientInfo.name`), connected to our server
/// for `config`: what a named client (Codex, fast-agent, ...) gets.
pub async fn connect_as(
    config: &Config,
    name: &str,
) -> rmcp::service::RunningService<rmcp::RoleClient, rmcp::model::ClientConfig> {
    let tools = Arc::new(AlpacaTools::new(config).expect("tools build"));
    let info = rmcp::model::ClientConfig::new(
        rmcp::model::ClientCapabilities::default(),
        rmcp::model::Implementation::new(name, "0"),
    );
    info.serve(serve_in_process(tools))
        .await
        .expect("client initializes")
}
