#![recursion_limit = "256"]
//! Helpers the workspace's integration tests share, so each exists once:
//!
//! - [`fake`]: the fake Alpaca, a [`Config`](alpaca_mcp::Config) pointing at it, rmcp's client
//!   connected to our server in-process, and what the fake received;
//! - [`mcp`]: calling a tool and reading its result;
//! - [`bin`]: spawning a server binary over stdio or HTTP (the binary's path is the caller's,
//!   from `env!("CARGO_BIN_EXE_...")`).
//!
//! `use support::*;` (with the dependency renamed `support`) brings in [`fake`] and [`mcp`].

pub mod bin;
pub mod fake;
pub mod mcp;
pub mod postgres;

pub use fake::*;
pub use mcp::*;
