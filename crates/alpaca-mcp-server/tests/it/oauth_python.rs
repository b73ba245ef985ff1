//! `--auth owner` with an OAuth client nobody here wrote: the official MCP Python SDK's
//! `OAuthClientProvider` runs discovery, registration, PKCE, the token exchange, refresh and
//! re-authorization against the sandbox over streamable HTTP; `tests/oauth/client.py` only
//! plays the owner at the consent page. Ignored by default (it needs Python with the `mcp`
//! package): `.ci/run` installs it in a virtual environment and runs
//! `ALPACA_MCP_TEST_PYTHON=<venv>/bin/python cargo test -p alpaca-mcp-server --test it oauth_python:: -- --ignored`.

use std::path::Path;

use serde_json::Value;

use super::oauth::{PASSPHRASE, free_port, owner_server};

const ORDER: &str = r#"place_stock_order={"symbol":"AAPL","qty":"1","side":"buy","type":"market","time_in_force":"day"}"#;

fn python() -> String {
    std::env::var("ALPACA_MCP_TEST_PYTHON").unwrap_or_else(|_| {
        panic!(
            "set ALPACA_MCP_TEST_PYTHON to a Python with the MCP SDK (pip install mcp==2.3.0); \
             .ci/run does"
        )
    })
}

/// One run of the SDK client; what it saw.
async fn sdk(url: &str, storage: &Path, extra: &[&str]) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oauth/client.py");
    let mut args = vec![
        script.to_string(),
        "--url".into(),
        format!("{url}/mcp"),
        "--passphrase".into(),
        PASSPHRASE.into(),
        "--storage".into(),
        storage.to_str().unwrap().into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    support::bin::python_json(&python(), &args, std::time::Duration::from_secs(120)).await
}

fn statuses(run: &Value, path: &str) -> Vec<u64> {
    run["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["path"] == path && e.get("status").is_some())
        .map(|e| e["status"].as_u64().unwrap())
        .collect()
}

fn grant_types(run: &Value) -> Vec<String> {
    run["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| {
            e.get("grant_type")
                .and_then(Value::as_str)
                .map(String::from)
        })
        .collect()
}

fn call<'a>(run: &'a Value, name: &str) -> Vec<&'a Value> {
    run["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == name)
        .collect()
}

fn tools(run: &Value) -> Vec<String> {
    run["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools: {run}"))
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
#[ignore = "needs Python with the MCP SDK; .ci/run runs it"]
async fn the_python_sdk_connects_reads_trades_and_reauthorizes_after_revocation() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let port = free_port();
    let (child, url) = owner_server(&state, port, &[]).await;
    let storage = dir.path().join("trader.json");

    // Discovery, registration, consent ("read and trade"), tokens, then tools.
    let run = sdk(
        &url,
        &storage,
        &[
            "--access",
            "trade",
            "--call",
            "get_account_info",
            "--call",
            ORDER,
        ],
    )
    .await;
    assert!(run.get("error").is_none(), "{run}");
    assert_eq!(run["visits"].as_array().unwrap().len(), 1, "{run}");
    let visit = &run["visits"][0];
    assert_eq!(visit["offered"], serde_json::json!(["read", "trade"]));
    assert_eq!(visit["resource"], format!("{url}/mcp"));
    assert_eq!(visit["live_warning"], false);
    assert_eq!(statuses(&run, "/mcp")[0], 401);
    assert_eq!(statuses(&run, "/register"), [201]);
    assert_eq!(grant_types(&run), ["authorization_code"]);
    let names = tools(&run);
    assert!(
        names.contains(&"place_stock_order".to_string()),
        "{names:?}"
    );
    let account = call(&run, "get_account_info");
    assert_eq!(account[0]["is_error"], false, "{run}");
    assert!(
        account[0]["text"]
            .as_str()
            .unwrap()
            .contains("\"mode\":\"paper\"")
    );
    let order = call(&run, "place_stock_order");
    assert_eq!(order[0]["is_error"], false, "{run}");
    assert!(order[0]["text"].as_str().unwrap().contains("AAPL"), "{run}");

    // Its stored tokens work on the next run without asking the owner.
    let again = sdk(&url, &storage, &["--call", "get_clock"]).await;
    assert_eq!(again["visits"].as_array().unwrap().len(), 0, "{again}");
    assert_eq!(call(&again, "get_clock")[0]["is_error"], false);

    // The owner revokes every grant: the next request gets 401 and the SDK authorizes again.
    let out = super::common::command(&[
        "auth",
        "revoke",
        "--all",
        "--state-dir",
        state.to_str().unwrap(),
    ])
    .output()
    .await
    .unwrap();
    assert!(out.status.success());
    let after = sdk(
        &url,
        &storage,
        &["--access", "trade", "--call", "get_clock"],
    )
    .await;
    assert!(after.get("error").is_none(), "{after}");
    assert_eq!(statuses(&after, "/mcp")[0], 401, "{after}");
    assert_eq!(after["visits"].as_array().unwrap().len(), 1, "{after}");
    assert_eq!(call(&after, "get_clock")[0]["is_error"], false);

    // The grant survives a restart: same state, no consent.
    drop(child);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (_child, url) = owner_server(&state, port, &[]).await;
    let restarted = sdk(&url, &storage, &["--call", "get_clock"]).await;
    assert_eq!(
        restarted["visits"].as_array().unwrap().len(),
        0,
        "{restarted}"
    );
    assert_eq!(
        call(&restarted, "get_clock")[0]["is_error"],
        false,
        "{restarted}"
    );
}

#[tokio::test]
#[ignore = "needs Python with the MCP SDK; .ci/run runs it"]
async fn a_read_grant_sees_no_order_tools_and_gets_403_insufficient_scope() {
    let dir = tempfile::tempdir().unwrap();
    let (_child, url) = owner_server(&dir.path().join("state"), free_port(), &[]).await;
    let storage = dir.path().join("reader.json");
    // The owner approves read only; when the SDK steps up for `trade`, the owner denies.
    let run = sdk(
        &url,
        &storage,
        &[
            "--access",
            "read",
            "--deny-after",
            "1",
            "--call",
            "get_account_info",
            "--call",
            ORDER,
        ],
    )
    .await;
    // Exactly the read-only tools, as a static `read` token sees.
    let names = tools(&run);
    assert_eq!(names, super::common::expected_tool_names(None, true));
    assert!(!names.contains(&"place_stock_order".to_string()));
    assert!(!names.contains(&"close_all_positions".to_string()));
    assert_eq!(
        call(&run, "get_account_info")[0]["is_error"],
        false,
        "{run}"
    );
    let order = call(&run, "place_stock_order");
    assert!(order[0].get("exception").is_some(), "{run}");
    let forbidden: Vec<&Value> = run["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["status"] == 403)
        .collect();
    assert_eq!(forbidden.len(), 1, "{run}");
    let challenge = forbidden[0]["www_authenticate"].as_str().unwrap();
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert!(challenge.contains("scope=\"read trade\""), "{challenge}");
    // The SDK asked to step up to `trade`, and the owner said no.
    let visits = run["visits"].as_array().unwrap();
    assert_eq!(visits.len(), 2, "{run}");
    assert!(visits[1]["scope"].as_str().unwrap().contains("trade"));
    assert_eq!(visits[1]["error"], "access_denied");
}

#[tokio::test]
#[ignore = "needs Python with the MCP SDK; .ci/run runs it"]
async fn an_expired_access_token_is_refreshed() {
    let dir = tempfile::tempdir().unwrap();
    let (_child, url) = owner_server(
        &dir.path().join("state"),
        free_port(),
        &[("ALPACA_MCP_OAUTH_ACCESS_TTL", "2")],
    )
    .await;
    let storage = dir.path().join("refresh.json");
    let run = sdk(&url, &storage, &["--call", "get_clock", "--sleep", "3"]).await;
    assert!(run.get("error").is_none(), "{run}");
    let clocks = call(&run, "get_clock");
    assert_eq!(clocks.len(), 2);
    assert!(clocks.iter().all(|c| c["is_error"] == false), "{run}");
    assert_eq!(
        grant_types(&run),
        ["authorization_code", "refresh_token"],
        "{run}"
    );
    assert_eq!(statuses(&run, "/token"), [200, 200]);
    assert_eq!(run["visits"].as_array().unwrap().len(), 1);
}
