//! Alpaca's tools inside your own MCP server.
//!
//! Build the tools for a [`Config`] (credentials, hosts, toolsets, read-only) and hand them to
//! your server as rmcp routes; they merge with your own `#[tool_router]` routes with `+`:
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use alpaca_mcp::{AlpacaTools, Config};
//! use rmcp::handler::server::router::tool::ToolRouter;
//!
//! struct Host;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::from_env()?;
//! let alpaca = Arc::new(AlpacaTools::new(&config)?);
//! let router: ToolRouter<Host> = ToolRouter::new() /* + Host::tool_router() */ + alpaca.tool_router();
//! # let _ = router;
//! # Ok(())
//! # }
//! ```
//!
//! Each route calls [`AlpacaTools::call`], so results are the same envelope the stand-alone
//! server returns, and toolsets, read-only mode and argument checking behave the same. For
//! the whole server rather than routes, serve [`AlpacaServer`](crate::AlpacaServer); for
//! Alpaca's MCP resources and prompts in your own handler, see [`crate::resources`] and
//! [`crate::prompts`]. Which toolsets exist at all is chosen with Cargo features, as for the
//! binary (`default-features = false, features = ["stock-data", "options-data"]`).

use std::sync::Arc;

use rmcp::ErrorData;
use rmcp::handler::server::router::tool::{ToolRoute, ToolRouter};
use rmcp::handler::server::tool::ToolCallContext;

use crate::config::Config;
use crate::engine::{AlpacaTools, BuildError, next_session};

impl AlpacaTools {
    /// One rmcp route per enabled tool, for a host server whose handler state is `S`.
    ///
    /// The routes ignore the host's state: they call these tools. Merge them with the host's
    /// own router with `+` (on a name clash the right-hand route wins).
    ///
    /// Each router is one MCP session for order confirmations: build one per host session
    /// (as rmcp's `#[tool_router]` handlers usually are).
    pub fn tool_router<S: Send + Sync + 'static>(self: Arc<Self>) -> ToolRouter<S> {
        let session = next_session();
        let mut router = ToolRouter::new();
        for tool in self.tools() {
            let tools = Arc::clone(&self);
            router.add_route(ToolRoute::new_dyn(
                tool.clone(),
                move |ctx: ToolCallContext<'_, S>| {
                    let tools = Arc::clone(&tools);
                    Box::pin(async move {
                        let name = ctx.name;
                        let answer = tools
                            .call_for_request(
                                session,
                                &ctx.request_context,
                                &name,
                                ctx.arguments,
                                ctx.request_state,
                                ctx.input_responses,
                            )
                            .await;
                        match answer {
                            Some(response) => Ok(response),
                            // Only enabled tools get a route, so this does not happen.
                            None => Err(ErrorData::invalid_params(
                                format!("unknown tool `{name}`"),
                                None,
                            )),
                        }
                    })
                },
            ));
        }
        router
    }
}

/// The tools for `config` as rmcp routes: [`AlpacaTools::new`] then
/// [`AlpacaTools::tool_router`].
pub fn tool_router<S: Send + Sync + 'static>(config: &Config) -> Result<ToolRouter<S>, BuildError> {
    Ok(Arc::new(AlpacaTools::new(config)?).tool_router())
}
