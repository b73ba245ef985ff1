//! Spawning a server binary (its path from the test's `env!("CARGO_BIN_EXE_...")`): over stdio
//! with rmcp's client, or over HTTP on an ephemeral port, its stderr kept.

use std::process::Stdio;
use std::time::Duration;

use rmcp::ServiceExt;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use tokio::io::AsyncBufReadExt;

use crate::Client;

/// The instant tests freeze the sandbox's clock at (its variable), so that every run sees the
/// same session: 2025-01-15T15:30:00Z, a Wednesday, 10:30 in New York. A test of the real
/// clock removes the variable.
pub const SANDBOX_NOW: (&str, &str) = ("ALPACA_MCP_SANDBOX_NOW", "2025-01-15T15:30:00Z");

/// A command for the binary with a clean Alpaca environment (and the sandbox's clock frozen at
/// [`SANDBOX_NOW`]).
pub fn command(bin: &str, args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(bin);
    for (k, _) in std::env::vars() {
        if k.starts_with("ALPACA_") || k == "TRADING_API_URL" || k == "DATA_API_URL" {
            cmd.env_remove(k);
        }
    }
    cmd.env(SANDBOX_NOW.0, SANDBOX_NOW.1);
    cmd.args(args);
    cmd
}

/// Spawns the binary over stdio and connects.
pub async fn stdio_client(bin: &str, args: &[&str]) -> Client {
    let cmd = command(bin, args).configure(|c| {
        c.stderr(Stdio::null());
    });
    let transport = TokioChildProcess::new(cmd).expect("spawn");
    ().serve(transport).await.expect("initialize over stdio")
}

/// Spawns the binary with the HTTP transport on an ephemeral port; returns the child and URL.
pub async fn http_server(bin: &str, args: &[&str]) -> (tokio::process::Child, String) {
    let (child, url, _) = spawn_http(bin, args, &[]).await;
    (child, url)
}

/// Connects rmcp's streamable HTTP client.
pub async fn http_client(url: &str) -> Client {
    let transport = rmcp::transport::StreamableHttpClientTransport::from_uri(url.to_string());
    ().serve(transport).await.expect("initialize over HTTP")
}

/// The binary over HTTP against the sandbox on an ephemeral port, with extra `args` and `env`;
/// returns the child, the URL and everything the server writes to stderr, as it comes.
pub async fn server_with_log(
    bin: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> (
    tokio::process::Child,
    String,
    std::sync::Arc<std::sync::Mutex<String>>,
) {
    let mut all = vec!["--sandbox"];
    all.extend_from_slice(args);
    spawn_http(bin, &all, env).await
}

/// The binary with the HTTP transport on an ephemeral port (unless `args` name a `--port`),
/// `args` and `env` added; the child, its URL and its stderr so far (kept being read, so it
/// never blocks on a full pipe).
pub async fn spawn_http(
    bin: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> (
    tokio::process::Child,
    String,
    std::sync::Arc<std::sync::Mutex<String>>,
) {
    let mut all = vec!["--transport", "http"];
    if !args.contains(&"--port") {
        all.extend(["--port", "0"]);
    }
    all.extend_from_slice(args);
    let mut cmd = command(bin, &all);
    cmd.envs(env.iter().copied());
    spawn_listening(cmd).await
}

/// Spawns `cmd`, the binary as prepared by the caller (its own environment, another user),
/// which says `listening on URL` on stderr; the child, that URL and its stderr so far (kept
/// being read).
pub async fn spawn_listening(
    mut cmd: tokio::process::Command,
) -> (
    tokio::process::Child,
    String,
    std::sync::Arc<std::sync::Mutex<String>>,
) {
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

/// Runs `python` on `args` (a script and its arguments) and returns the last line of its
/// stdout that is a JSON object: what the script saw, for the test to judge. Panics with the
/// script's output when there is none or it takes longer than `limit`.
pub async fn python_json(python: &str, args: &[String], limit: Duration) -> serde_json::Value {
    let out = tokio::time::timeout(
        limit,
        tokio::process::Command::new(python).args(args).output(),
    )
    .await
    .expect("the Python script finished in time")
    .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| {
            panic!(
                "no result from the Python script: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    serde_json::from_str(line).expect("the script's last JSON line parses")
}
