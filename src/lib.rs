//! MCP tools and a typed client for Alpaca's Trading API and Market Data API, generated at
//! build time from the OpenAPI documents in `specs/` and the tool manifest
//! `specs/toolsets.toml`.
//!
//! - [`Client`]: one typed `async fn` per operation, usable without MCP.
//! - [`TOOLSETS`]: every toolset with its generated tools; each toolset is a Cargo feature.
//! - [`registry`]: the enabled tools for a run (toolsets, read-only), as MCP tools.
#![deny(missing_docs)]

pub mod config;
pub mod envelope;
pub mod registry;
pub mod runtime;
pub mod server;

pub use config::{Config, ConfigError};
pub use server::{AlpacaServer, AlpacaTools};

#[allow(
    clippy::all,
    clippy::pedantic,
    unused_imports,
    dead_code,
    missing_docs,
    rustdoc::all
)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/alpaca_generated.rs"));
}

pub use generated::{Client, GLOSSARY, HANDWRITTEN, TOOLSETS};

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
}
