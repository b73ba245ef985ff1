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

/// The tools a client lists, by name, sorted.
pub async fn tool_names(client: &Client) -> Vec<String> {
    let mut v: Vec<String> = client
        .list_all_tools()
        .await
        .expect("tools/list")
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    v.sort();
    v
}

/// The names of the tools the server exposes for `toolsets` (`None`: the defaults), read-only
/// ones only if `read_only`, without order confirmation; sorted.
pub fn expected_tool_names(toolsets: Option<Vec<String>>, read_only: bool) -> Vec<String> {
    let mut v: Vec<String> = alpaca_mcp::registry::enabled(&alpaca_mcp::registry::ToolFilter {
        toolsets,
        read_only,
        without_confirmation_tools: true,
    })
    .expect("the toolsets are compiled")
    .iter()
    .map(|t| t.name().to_string())
    .collect();
    v.sort();
    v
}
