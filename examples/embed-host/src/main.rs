//! A host MCP server that has a tool of its own (`portfolio_note`) and serves Alpaca's
//! stock-data and options-data tools next to it, over stdio.
//!
//! Configuration comes from the environment, as for `alpaca-mcp-server`: `ALPACA_API_KEY`,
//! `ALPACA_SECRET_KEY`, `ALPACA_PAPER_TRADE`, `TRADING_API_URL`, `DATA_API_URL`,
//! `ALPACA_TOOLSETS`, `ALPACA_READ_ONLY`. Without `ALPACA_TOOLSETS` it enables the two
//! toolsets it was built for.

use std::sync::Arc;

use alpaca_mcp::{AlpacaTools, Config};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ServerHandler, ServiceExt, tool, tool_handler, tool_router};

/// Arguments of `portfolio_note`.
#[derive(serde::Deserialize, schemars::JsonSchema)]
struct NoteArgs {
    /// The note, e.g. "trim NVDA above 150".
    text: String,
}

#[derive(Clone)]
struct Host {
    tool_router: ToolRouter<Host>,
    instructions: String,
}

#[tool_router]
impl Host {
    /// The host's own tool.
    #[tool(description = "Records a note about the portfolio and returns it.")]
    fn portfolio_note(&self, Parameters(NoteArgs { text }): Parameters<NoteArgs>) -> String {
        format!("noted: {text}")
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Host {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("embed-host", env!("CARGO_PKG_VERSION")))
            .with_instructions(self.instructions.clone())
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut config = Config::from_env()?;
    config.require_keys()?;
    if config.toolsets.is_none() {
        config.toolsets = Some(vec!["stock-data".into(), "options-data".into()]);
    }
    let alpaca = Arc::new(AlpacaTools::new(&config)?);
    let host = Host {
        instructions: alpaca.instructions().to_string(),
        // The host's routes plus Alpaca's: one router.
        tool_router: Host::tool_router() + alpaca.tool_router(),
    };
    host.serve(alpaca_mcp::stdio()).await?.waiting().await?;
    Ok(())
}
