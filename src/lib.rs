//! MCP tools and a typed client for Alpaca's Trading API and Market Data API, generated at
//! build time from the OpenAPI documents in `specs/` and the tool manifest
//! `specs/toolsets.toml`.
//!
//! - [`Client`]: one typed `async fn` per operation, usable without MCP
//!   ([`Client::from_config`]).
//! - [`AlpacaTools`]: the enabled tools for a [`Config`]; [`AlpacaServer`] serves them as a
//!   whole MCP server, [`AlpacaTools::tool_router`] hands them to your own rmcp server
//!   ([`embed`]).
//! - [`resources`] and [`prompts`]: account, positions, open orders and clock as MCP
//!   resources; a portfolio review and a pre-trade checklist as MCP prompts.
//! - [`TOOLSETS`]: every toolset with its generated tools; each toolset is a Cargo feature.
//! - [`registry`]: the enabled tools for a run (toolsets, read-only), as MCP tools.
//!
//! Toolsets are Cargo features, for embedders as for the binary:
//! `alpaca-mcp = { git = "...", default-features = false, features = ["stock-data"] }`.
#![deny(missing_docs)]

pub mod cache;
pub mod compact;
pub mod completion;
pub mod config;
pub mod discover;
pub mod embed;
mod engine;
pub mod envelope;
mod handwritten;
pub mod input;
pub mod ledger;
pub mod logging;
pub mod output;
mod pagination;
pub mod prompts;
pub mod registry;
pub mod request_id;
pub mod resources;
pub mod safety;
pub mod server;
pub mod settings;
pub mod stdio;
pub mod user;

pub use config::{Config, ConfigError, Credentials, Mode};
pub use engine::{AlpacaTools, BuildError};
pub use handwritten::Clock;
/// The runtime the generated code calls (the `openapi-mcp-runtime` crate).
pub use openapi_mcp_runtime as runtime;
pub use server::AlpacaServer;
pub use stdio::stdio;

// The generated code passes clippy as it is; only the fields of the spec's data types go
// undocumented (their descriptions would be upstream prose, which this project does not copy).
#[allow(missing_docs)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/alpaca_generated.rs"));
}

pub use generated::{COMMA_LISTS, Client, GLOSSARY, HANDWRITTEN, TOOLSETS};

/// The Trading API: data types and per-operation arguments.
pub mod trading {
    pub use crate::generated::trading::{params, types};
}

/// The Market Data API: data types and per-operation arguments.
pub mod market_data {
    pub use crate::generated::market_data::{params, types};
}

impl Client {
    /// A client for the hosts and credentials in `config`.
    pub fn new(config: runtime::TransportConfig) -> Result<Self, runtime::Error> {
        Ok(Client::from_transport(runtime::Transport::new(config)?))
    }

    /// A client for a [`Config`]: its keys, hosts and timeouts (toolsets and read-only only
    /// concern MCP tools; the client has every operation this build compiled).
    ///
    /// ```
    /// # #[cfg(feature = "account")]
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let mock = alpaca_mock::MockServer::start(Default::default()).await?;
    /// # let vars = [
    /// #     ("ALPACA_API_KEY", "PK-test"), ("ALPACA_SECRET_KEY", "secret"),
    /// #     ("TRADING_API_URL", mock.url().as_str()), ("DATA_API_URL", mock.url().as_str()),
    /// # ].map(|(k, v)| (k.to_string(), v.to_string()));
    /// # let lookup = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    /// use alpaca_mcp::{Client, Config};
    ///
    /// // Config::from_env() in a program; here the fake Alpaca's address and test keys.
    /// let config = Config::from_lookup(lookup)?;
    /// let client = Client::from_config(&config)?;
    /// let account: alpaca_mcp::trading::types::Account = client.get_account().await?;
    /// println!("buying power: {:?}", account.buying_power);
    /// # assert!(account.buying_power.is_some());
    /// # Ok(())
    /// # }
    /// # #[cfg(not(feature = "account"))]
    /// # fn main() {}
    /// ```
    pub fn from_config(config: &Config) -> Result<Self, runtime::Error> {
        Client::new(config.transport_config())
    }
}
