//! Shared helpers for the end-to-end tests: spawn the built binary and connect rmcp's client.

#![allow(dead_code)]

use std::process::Stdio;
use std::time::Duration;

use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};
use serde_json::Value;
use tokio::io::AsyncBufReadExt;

pub type Client = RunningService<RoleClient, ()>;

/// A command for the binary with a clean Alpaca environment.
pub fn command(args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_alpaca-mcp-server"));
    for (k, _) in std::env::vars() {
        if k.starts_with("ALPACA_") || k == "TRADING_API_URL" || k == "DATA_API_URL" {
            cmd.env_remove(k);
        }
    }
    cmd.args(args);
    cmd
}

/// Spawns the binary over stdio and connects.
pub async fn stdio_client(args: &[&str]) -> Client {
    let cmd = command(args).configure(|c| {
        c.stderr(Stdio::null());
    });
    let transport = TokioChildProcess::new(cmd).expect("spawn");
    ().serve(transport).await.expect("initialize over stdio")
}

/// Spawns the binary with the HTTP transport on an ephemeral port; returns the child and URL.
pub async fn http_server(args: &[&str]) -> (tokio::process::Child, String) {
    let (child, url, _) = spawn_http(args, &[]).await;
    (child, url)
}

/// Connects rmcp's streamable HTTP client.
pub async fn http_client(url: &str) -> Client {
    let transport = rmcp::transport::StreamableHttpClientTransport::from_uri(url.to_string());
    ().serve(transport).await.expect("initialize over HTTP")
}

/// Calls a tool with JSON arguments.
pub async fn call(client: &Client, name: &str, args: Value) -> CallToolResult {
    let mut params = CallToolRequestParams::new(name.to_string());
    if let Value::Object(map) = args {
        params = params.with_arguments(map);
    }
    client
        .call_tool(params)
        .await
        .unwrap_or_else(|e| panic!("{name}: protocol error {e}"))
}

/// The text of a result's first content block.
pub fn text(result: &CallToolResult) -> String {
    result
        .content
        .first()
        .and_then(|c| c.as_text())
        .map(|t| t.text.clone())
        .unwrap_or_default()
}

/// The `data` of a success envelope.
pub fn data(result: &CallToolResult) -> Value {
    assert_eq!(
        result.is_error,
        Some(false),
        "expected success, got: {}",
        text(result)
    );
    result
        .structured_content
        .as_ref()
        .expect("structured content")["data"]
        .clone()
}

/// The binary over HTTP against the sandbox on an ephemeral port, with extra `args` and `env`;
/// returns the child, the URL and everything the server writes to stderr, as it comes.
pub async fn server_with_log(
    args: &[&str],
    env: &[(&str, &str)],
) -> (
    tokio::process::Child,
    String,
    std::sync::Arc<std::sync::Mutex<String>>,
) {
    let mut all = vec!["--sandbox"];
    all.extend_from_slice(args);
    spawn_http(&all, env).await
}

/// The binary with the HTTP transport on an ephemeral port, `args` and `env` added; the child,
/// its URL and its stderr so far (kept being read, so it never blocks on a full pipe).
pub async fn spawn_http(
    args: &[&str],
    env: &[(&str, &str)],
) -> (
    tokio::process::Child,
    String,
    std::sync::Arc<std::sync::Mutex<String>>,
) {
    let mut all = vec!["--transport", "http", "--port", "0"];
    all.extend_from_slice(args);
    let mut cmd = command(&all);
    cmd.envs(env.iter().copied());
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let url = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(line)) = lines.next_line().await {
            let mut seen = log.lock().unwrap();
            seen.push_str(&line);
            seen.push('\n');
            if let Some(rest) = line.split("listening on ").nth(1) {
                return rest.trim().to_string();
            }
        }
        panic!(
            "the server exited before listening:\n{}",
            log.lock().unwrap()
        );
    })
    .await
    .expect("server starts listening");
    let sink = log.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            let mut seen = sink.lock().unwrap();
            seen.push_str(&line);
            seen.push('\n');
        }
    });
    (child, url, log)
}
