//! What real clients expect of the server, as the client survey found it (issue "Every client
//! a trader uses"): each test here is one thing a client tripped on.

use reqwest::StatusCode;
use serde_json::json;

use super::common;

/// Ending a session answers 200, which the Python SDK's client expects (it logged "Session
/// termination failed: 202" on every close); the session is gone after it.
#[tokio::test]
async fn ending_a_session_answers_200_and_the_session_is_gone() {
    let (_child, url) = common::http_server(&["--sandbox"]).await;
    let http = reqwest::Client::new();
    let init = http
        .post(&url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(
            json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                "protocolVersion": "2025-11-25", "capabilities": {},
                "clientInfo": {"name": "clients-test", "version": "1"}}})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    let session = init.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    init.text().await.unwrap();
    let end = http
        .delete(&url)
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await
        .unwrap();
    assert_eq!(end.status(), StatusCode::OK);
    let after = http
        .post(&url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-11-25")
        .body(json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::NOT_FOUND);
}

/// A token-protected server tells OAuth-capable clients (Claude Code reported "Dynamic Client
/// Registration rejected (HTTP 404)", Gemini "OAuth not authenticated") and their users what
/// to do: the 401's challenge and body, and every place such a client looks for OAuth.
#[tokio::test]
async fn a_token_protected_server_says_to_add_the_header_not_to_sign_in() {
    let (_child, url, _log) = common::server_with_log(
        &[],
        &[("ALPACA_MCP_HTTP_TOKEN", "a-test-token-of-some-length-1234")],
    )
    .await;
    let http = reqwest::Client::new();
    let r = http
        .post(&url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(json!({"jsonrpc": "2.0", "id": 0, "method": "ping"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let challenge = r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        challenge.starts_with("Bearer realm=\"alpaca-mcp\""),
        "{challenge}"
    );
    assert!(
        challenge
            .contains("error_description=\"this server takes a bearer token, not an OAuth sign-in"),
        "{challenge}"
    );
    assert!(!challenge.contains("resource_metadata"), "{challenge}");
    let body = r.text().await.unwrap();
    assert!(body.contains("Authorization: Bearer <token>"), "{body}");
    let base = url.trim_end_matches("/mcp");
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
        "/register",
    ] {
        let r = if path == "/register" {
            http.post(format!("{base}{path}"))
                .json(&json!({"redirect_uris": ["http://127.0.0.1:9/cb"]}))
                .send()
                .await
                .unwrap()
        } else {
            http.get(format!("{base}{path}")).send().await.unwrap()
        };
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert!(
            v["error_description"]
                .as_str()
                .unwrap()
                .contains("Authorization: Bearer <token>"),
            "{path}: {v}"
        );
    }
    // With the header, it works.
    let r = http
        .post(&url)
        .header("authorization", "Bearer a-test-token-of-some-length-1234")
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(
            json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                "protocolVersion": "2025-11-25", "capabilities": {},
                "clientInfo": {"name": "clients-test", "version": "1"}}})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

/// The TypeScript SDK 1.23.0, the one Gemini CLI 0.61 bundles, negotiates 2025-06-18 and parses
/// every SSE event's data as JSON: a priming event (empty data, a 2025-11-25 feature) made it
/// throw "Unexpected end of JSON input" and drop the server. It lists the tools and calls one,
/// with and without a token, and sees no error.
#[tokio::test]
#[ignore = "needs node and @modelcontextprotocol/sdk@1.23.0: ALPACA_MCP_TEST_TS_SDK_1_23 (see .ci/run)"]
async fn geminis_typescript_sdk_uses_the_server_over_http() {
    let Some(modules) = std::env::var_os("ALPACA_MCP_TEST_TS_SDK_1_23") else {
        println!("skipping: ALPACA_MCP_TEST_TS_SDK_1_23 is not set");
        return;
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/ts_sdk.mjs");
    let token = "a-test-token-of-some-length-5678";
    for with_token in [false, true] {
        let env: Vec<(&str, &str)> = if with_token {
            vec![("ALPACA_MCP_HTTP_TOKEN", token)]
        } else {
            vec![]
        };
        let (_child, url, _log) = common::server_with_log(&[], &env).await;
        let mut cmd = tokio::process::Command::new("node");
        cmd.arg(script).arg(&modules).arg(&url);
        if with_token {
            cmd.arg(token);
        }
        let out = tokio::time::timeout(std::time::Duration::from_secs(60), cmd.output())
            .await
            .expect("the SDK client finishes")
            .expect("node runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let seen: serde_json::Value = stdout
            .lines()
            .rev()
            .find_map(|l| serde_json::from_str(l).ok())
            .unwrap_or_else(|| {
                panic!(
                    "no JSON from the SDK client: {stdout} {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            });
        assert_eq!(seen["errors"], json!([]), "token {with_token}: {seen}");
        assert!(seen["tools"].as_u64().unwrap() > 50, "{seen}");
        assert_eq!(seen["clock_is_error"], false, "{seen}");
        assert!(
            seen["clock_text"].as_str().unwrap().contains("is_open"),
            "{seen}"
        );
        println!("TypeScript SDK 1.23.0, token {with_token}: {seen}");
    }
}
