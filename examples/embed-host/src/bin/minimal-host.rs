use std::sync::Arc;

use alpaca_mcp::{AlpacaTools, Config};
use rmcp::handler::server::{router::tool::ToolRouter, wrapper::Parameters};
use rmcp::{ServerHandler, ServiceExt, tool, tool_handler, tool_router};

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct NoteArgs {
    text: String,
}

#[derive(Clone)]
struct Host {
    tool_router: ToolRouter<Host>,
}

#[tool_router]
impl Host {
    #[tool(description = "Records a note about the portfolio and returns it.")]
    fn portfolio_note(&self, Parameters(NoteArgs { text }): Parameters<NoteArgs>) -> String {
        format!("noted: {text}")
    }
}

// `router = self.tool_router`: serve the field, which holds Alpaca's routes too.
#[tool_handler(router = self.tool_router)]
impl ServerHandler for Host {}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // ALPACA_API_KEY, ALPACA_SECRET_KEY, ALPACA_PAPER_TRADE, ALPACA_TOOLSETS, ALPACA_READ_ONLY...
    let config = Config::from_env()?;
    config.require_keys()?;
    let alpaca = Arc::new(AlpacaTools::new(&config)?);
    let host = Host {
        tool_router: Host::tool_router() + alpaca.tool_router(),
    };
    host.serve(alpaca_mcp::stdio()).await?.waiting().await?;
    Ok(())
}
