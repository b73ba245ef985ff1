//! Security of the streamable HTTP transport: bearer tokens and their scopes, the refusal to
//! serve a non-loopback address without one, Host/Origin allowlists, the body limit, the
//! session limit and idle expiry. Each test spawns the built binary against the sandbox.

use crate::common;

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use common::*;
use rmcp::ServiceExt;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::json;

const TRADE: &str = "trade-token-4f1c9e2a7b3d5e6f";
const READ: &str = "read-token-9a8b7c6d5e4f3a2b";
const ENV_TOKEN: &str = "env-token-0a1b2c3d4e5f6a7b";

/// A token file with a comment, a `read` token and a `read,trade` one.
fn token_file() -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().expect("temp file");
    writeln!(
        f,
        "# tokens for the tests\n\n{READ} read\n{TRADE} read,trade\n# the end"
    )
    .unwrap();
    f
}

/// Like `common::http_server`, with extra environment variables.
async fn server(args: &[&str], env: &[(&str, &str)]) -> (tokio::process::Child, String) {
    let (child, url, _) = server_with_log(args, env).await;
    (child, url)
}

/// rmcp's client sending `Authorization: Bearer <token>`.
async fn client_with_token(url: &str, token: &str) -> Client {
    let config = StreamableHttpClientTransportConfig::with_uri(url.to_string()).auth_header(token);
    let transport = StreamableHttpClientTransport::from_config(config);
    ().serve(transport)
        .await
        .expect("initialize over HTTP with a token")
}

fn initialize_body() -> String {
    json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "http-security-test", "version": "0"}
        }
    })
    .to_string()
}

/// A raw POST of `body` with the headers streamable HTTP wants, plus `headers`.
async fn post(url: &str, body: String, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.expect("HTTP request")
}

async fn initialize(url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    post(url, initialize_body(), headers).await
}

fn port_of(url: &str) -> &str {
    url.rsplit(':').next().unwrap().trim_end_matches("/mcp")
}

#[tokio::test]
async fn non_loopback_without_a_token_is_a_setup_error() {
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        command(&[
            "--sandbox",
            "--transport",
            "http",
            "--host",
            "0.0.0.0",
            "--port",
            "0",
        ])
        .stdin(Stdio::null())
        .output(),
    )
    .await
    .expect("exits at once")
    .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("refusing to serve HTTP on 0.0.0.0"), "{err}");
    assert!(
        err.contains("ALPACA_MCP_HTTP_TOKEN") && err.contains("--http-token-file"),
        "{err}"
    );
    assert!(!err.contains("listening on"), "{err}");
}

#[tokio::test]
async fn non_loopback_with_a_token_file_starts_and_needs_the_token() {
    let tokens = token_file();
    let (_child, url) = server(
        &[
            "--host",
            "0.0.0.0",
            "--http-token-file",
            tokens.path().to_str().unwrap(),
        ],
        &[],
    )
    .await;
    let url = format!("http://127.0.0.1:{}/mcp", port_of(&url));
    assert_eq!(initialize(&url, &[]).await.status(), 401);
    let client = client_with_token(&url, TRADE).await;
    assert!(!client.list_all_tools().await.unwrap().is_empty());
    client.cancel().await.ok();
}

#[tokio::test]
async fn missing_or_wrong_token_is_401_and_the_right_one_works() {
    let tokens = token_file();
    let (_child, url) = server(
        &["--http-token-file", tokens.path().to_str().unwrap()],
        &[("ALPACA_MCP_HTTP_TOKEN", ENV_TOKEN)],
    )
    .await;

    let none = initialize(&url, &[]).await;
    assert_eq!(none.status(), 401);
    let challenge = none.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    assert!(none.headers().get("mcp-session-id").is_none());

    for bad in [
        format!("Bearer {TRADE}x"),
        format!("Bearer {}", &TRADE[..TRADE.len() - 1]),
        "Bearer ".to_string(),
        format!("Basic {TRADE}"),
    ] {
        let r = initialize(&url, &[("authorization", &bad)]).await;
        assert_eq!(r.status(), 401, "{bad}");
        assert!(
            r.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
    }
    // No tool is reached without a token.
    let call = post(
        &url,
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
               "params": {"name": "cancel_all_orders", "arguments": {}}})
        .to_string(),
        &[],
    )
    .await;
    assert_eq!(call.status(), 401);

    // The file's token and the environment's (read,trade) both work, on loopback too.
    for token in [TRADE, ENV_TOKEN] {
        let client = client_with_token(&url, token).await;
        let clock = call_tool(&client, "get_clock").await;
        assert!(data(&clock).get("is_open").is_some());
        let names = tool_names(&client).await;
        assert!(names.contains(&"place_stock_order".to_string()));
        client.cancel().await.ok();
    }
}

async fn call_tool(client: &Client, name: &str) -> rmcp::model::CallToolResult {
    call(client, name, json!({})).await
}

#[tokio::test]
async fn a_read_token_gets_a_read_only_session() {
    let tokens = token_file();
    let (_child, url) = server(&["--http-token-file", tokens.path().to_str().unwrap()], &[]).await;

    let reader = client_with_token(&url, READ).await;
    let names = tool_names(&reader).await;
    assert_eq!(names, expected_tool_names(None, true));
    assert!(!names.contains(&"place_stock_order".to_string()));
    for tool in reader.list_all_tools().await.unwrap() {
        let read_only = tool.annotations.as_ref().and_then(|a| a.read_only_hint);
        assert_eq!(read_only, Some(true), "{} is read-only", tool.name);
    }
    for name in ["place_stock_order", "cancel_all_orders"] {
        let err = reader
            .call_tool(
                rmcp::model::CallToolRequestParams::new(name).with_arguments(
                    json!({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market",
                           "time_in_force": "day"})
                    .as_object()
                    .cloned()
                    .unwrap(),
                ),
            )
            .await
            .expect_err("a read token cannot call a trading tool");
        // Refused at the HTTP layer with 403 `insufficient_scope` (which rmcp's client
        // reports as such), before any tool runs.
        assert!(
            err.to_string().contains("Insufficient scope"),
            "{name}: {err}"
        );
    }
    // Reading works.
    assert!(data(&call_tool(&reader, "get_account_info").await).is_object());

    let trader = client_with_token(&url, TRADE).await;
    let all = tool_names(&trader).await;
    assert!(all.contains(&"place_stock_order".to_string()));
    assert!(all.contains(&"cancel_all_orders".to_string()));
    assert!(all.len() > names.len());

    // A session opened with the trade token cannot be used with the read token.
    let opened = initialize(&url, &[("authorization", &format!("Bearer {TRADE}"))]).await;
    assert_eq!(opened.status(), 200);
    let session = opened.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    drop(opened);
    let reused = post(
        &url,
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}).to_string(),
        &[
            ("authorization", &format!("Bearer {READ}")),
            ("mcp-session-id", &session),
            ("mcp-protocol-version", "2025-06-18"),
        ],
    )
    .await;
    assert_eq!(reused.status(), 404);

    reader.cancel().await.ok();
    trader.cancel().await.ok();
}

#[tokio::test]
async fn sessions_beyond_the_limit_get_503() {
    let (_child, url) = server(&["--max-sessions", "2"], &[]).await;
    let a = http_client(&url).await;
    let b = http_client(&url).await;
    let third = initialize(&url, &[]).await;
    assert_eq!(third.status(), 503);
    let body = third.text().await.unwrap();
    assert!(body.contains("--max-sessions"), "{body}");
    // Requests in the open sessions still work.
    assert!(data(&call_tool(&a, "get_clock").await).is_object());
    assert!(data(&call_tool(&b, "get_clock").await).is_object());
    a.cancel().await.ok();
    b.cancel().await.ok();
}

#[tokio::test]
async fn idle_sessions_expire() {
    let (_child, url) = server(&["--max-sessions", "1", "--session-idle-timeout", "1"], &[]).await;
    let first = initialize(&url, &[]).await;
    assert_eq!(first.status(), 200);
    let session = first.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    drop(first);
    assert_eq!(initialize(&url, &[]).await.status(), 503);
    // After the idle timeout the session is gone and its slot is free.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let r = initialize(&url, &[]).await;
        if r.status() == 200 {
            break;
        }
        assert_eq!(r.status(), 503);
        assert!(
            tokio::time::Instant::now() < deadline,
            "the idle session never expired"
        );
    }
    let old = post(
        &url,
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}).to_string(),
        &[
            ("mcp-session-id", &session),
            ("mcp-protocol-version", "2025-06-18"),
        ],
    )
    .await;
    assert_eq!(old.status(), 404);
}

#[tokio::test]
async fn bad_token_files_are_setup_errors() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    writeln!(f, "{TRADE} read,write").unwrap();
    let out = command(&[
        "--sandbox",
        "--transport",
        "http",
        "--port",
        "0",
        "--http-token-file",
        f.path().to_str().unwrap(),
    ])
    .stdin(Stdio::null())
    .output()
    .await
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("line 1") && err.contains("unknown scope"),
        "{err}"
    );
    assert!(!err.contains(TRADE), "the token is never printed: {err}");
}

#[tokio::test]
async fn tokens_never_appear_in_logs_errors_or_answers() {
    let assert_clean = |what: &str, text: &str| {
        for token in [TRADE, READ, ENV_TOKEN] {
            assert!(!text.contains(token), "{what} shows a token: {text}");
        }
    };

    // Token files the server refuses (exit 2) without echoing their lines: one written the wrong
    // way round (its token where the scopes go) and one with a token where a scope should be.
    for (text, says) in [
        (format!("read,trade {TRADE}\n{READ} raed"), "line 1"),
        (format!("{TRADE} {READ}"), "unknown scope"),
    ] {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "{text}").unwrap();
        let path = file.path().to_str().unwrap();
        let args = [
            "--sandbox",
            "--transport",
            "http",
            "--http-token-file",
            path,
        ];
        let out = command(&args).output().await.unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(says), "{err}");
        assert_clean("a token file error", &err);
    }

    // A running server logging everything, through every token path.
    let tokens = token_file();
    let (mut child, url, log) = server_with_log(
        &["--http-token-file", tokens.path().to_str().unwrap()],
        &[
            ("ALPACA_MCP_HTTP_TOKEN", ENV_TOKEN),
            ("ALPACA_MCP_LOG", "trace"),
        ],
    )
    .await;
    for bad in [
        format!("Bearer {TRADE}x"),
        format!("Bearer {}", &READ[1..]),
        format!("Basic {ENV_TOKEN}"),
        TRADE.to_string(),
    ] {
        let r = initialize(&url, &[("authorization", &bad)]).await;
        assert_eq!(r.status(), 401);
        let headers = format!("{:?}", r.headers());
        assert_clean("a 401's headers", &headers);
        assert_clean("a 401's body", &r.text().await.unwrap());
    }
    let reader = client_with_token(&url, READ).await;
    let refused = reader
        .call_tool(rmcp::model::CallToolRequestParams::new("cancel_all_orders"))
        .await;
    assert_clean("a refused call", &format!("{refused:?}"));
    reader.cancel().await.ok();
    for token in [TRADE, ENV_TOKEN] {
        let client = client_with_token(&url, token).await;
        let r = call_tool(&client, "get_clock").await;
        assert_clean("a tool result", &format!("{r:?}"));
        let bad = call_tool(&client, "get_asset").await;
        assert_clean("a tool error", &format!("{bad:?}"));
        client.cancel().await.ok();
    }
    child.kill().await.ok();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = log.lock().unwrap().clone();
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "logging at trace: {log}"
    );
    assert_clean("the server's log", &log);
}
