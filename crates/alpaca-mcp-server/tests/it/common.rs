//! The server's test helpers: the workspace's test-support crate, with this package's binary.

#![allow(dead_code, unused_imports)]

pub use support::bin::http_client;
pub use support::*;

/// The server binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_alpaca-mcp-server");

/// A command for the binary with a clean Alpaca environment.
pub fn command(args: &[&str]) -> tokio::process::Command {
    support::bin::command(BIN, args)
}

/// Spawns the binary over stdio and connects rmcp's client.
pub async fn stdio_client(args: &[&str]) -> Client {
    support::bin::stdio_client(BIN, args).await
}

/// The binary over HTTP on an ephemeral port: the child and its URL.
pub async fn http_server(args: &[&str]) -> (tokio::process::Child, String) {
    support::bin::http_server(BIN, args).await
}

/// The binary over HTTP against the sandbox, with its stderr kept.
pub async fn server_with_log(
    args: &[&str],
    env: &[(&str, &str)],
) -> (
    tokio::process::Child,
    String,
    std::sync::Arc<std::sync::Mutex<String>>,
) {
    support::bin::server_with_log(BIN, args, env).await
}
