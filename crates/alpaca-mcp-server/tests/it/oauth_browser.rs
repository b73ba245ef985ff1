//! The consent page in a real browser and behind a real TLS proxy. Ignored by default (they
//! need Debian's Chromium and Caddy, and Playwright and the Python SDK): `.ci/run` installs
//! them and runs `cargo test -p alpaca-mcp-server --test it oauth_browser:: -- --ignored` with
//! `ALPACA_MCP_TEST_NODE_PATH` (a node_modules holding playwright-core) and
//! `ALPACA_MCP_TEST_PYTHON` set.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use super::oauth::{PASSPHRASE, free_port, owner_server, owner_server_with};

fn var(name: &str, what: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("set {name} to {what}; .ci/run does"))
}

#[tokio::test]
#[ignore = "needs Chromium and Playwright; .ci/run runs it"]
async fn chromium_completes_the_consent_without_javascript_and_a_wrong_passphrase_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_child, base) = owner_server(&dir.path().join("state"), free_port(), &[]).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oauth/consent.cjs");
    let chromium =
        std::env::var("ALPACA_MCP_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new("node")
            .env(
                "NODE_PATH",
                var(
                    "ALPACA_MCP_TEST_NODE_PATH",
                    "a node_modules directory with playwright-core",
                ),
            )
            .args([script, &base, PASSPHRASE, &chromium])
            .output(),
    )
    .await
    .expect("the browser finished in time")
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let seen: Value = serde_json::from_str(stdout.lines().last().unwrap_or("{}"))
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    assert!(seen.get("error").is_none(), "{seen}");
    assert_eq!(seen["page_status"], 200);
    assert!(
        seen["heading"]
            .as_str()
            .unwrap()
            .contains("Browser Test Client")
    );
    assert!(seen["mode"].as_str().unwrap().contains("Paper"));
    assert_eq!(seen["offered"], serde_json::json!(["read", "trade"]));
    // The wrong passphrase: 403, the same form again with the alert, no redirect.
    assert_eq!(seen["wrong_status"], 403);
    assert_eq!(seen["wrong_alert"], "Wrong passphrase.");
    assert_eq!(seen["after_wrong_url"], format!("{base}/authorize"));
    // The right one: back at the client with a code for "read trade".
    assert_eq!(seen["back_text"], "back at the client");
    assert_eq!(seen["state"], "browser-state");
    assert_eq!(seen["iss"], base);
    assert_eq!(seen["token_status"], 200);
    assert_eq!(seen["scope"], "read trade");
}

/// The README's Caddy recipe, with `tls internal` instead of a public certificate.
fn caddyfile(public_port: u16, upstream_port: u16, data: &Path) -> String {
    format!(
        "{{\n\tadmin off\n\tstorage file_system {{\n\t\troot {}\n\t}}\n\tskip_install_trust\n\thttp_port {}\n}}\n\n\
         localhost:{public_port} {{\n\ttls internal\n\treverse_proxy 127.0.0.1:{upstream_port}\n}}\n",
        data.display(),
        free_port()
    )
}

#[tokio::test]
#[ignore = "needs Caddy and the Python SDK; .ci/run runs it"]
async fn behind_caddy_with_tls_the_python_sdk_connects() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = free_port();
    let public = free_port();
    let public_url = format!("https://localhost:{public}");
    let _server = owner_server_with(
        &dir.path().join("state"),
        upstream,
        &public_url,
        &["--sandbox"],
        &[],
    )
    .await;
    let data = dir.path().join("caddy");
    let config = dir.path().join("Caddyfile");
    std::fs::write(&config, caddyfile(public, upstream, &data)).unwrap();
    let mut caddy = tokio::process::Command::new(
        std::env::var("ALPACA_MCP_TEST_CADDY").unwrap_or_else(|_| "caddy".into()),
    )
    .args([
        "run",
        "--adapter",
        "caddyfile",
        "--config",
        config.to_str().unwrap(),
    ])
    .env("HOME", dir.path())
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .kill_on_drop(true)
    .spawn()
    .expect("caddy runs");
    // Caddy makes its local CA and the site's certificate at start.
    let root = data.join("pki/authorities/local/root.crt");
    let ready = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if root.exists()
                && tokio::net::TcpStream::connect(("127.0.0.1", public))
                    .await
                    .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(ready.is_ok(), "caddy did not start");

    let storage = dir.path().join("tokens.json");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oauth/client.py");
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new(var("ALPACA_MCP_TEST_PYTHON", "a Python with the MCP SDK"))
            .args([
                script,
                "--url",
                &format!("{public_url}/mcp"),
                "--passphrase",
                PASSPHRASE,
                "--storage",
                storage.to_str().unwrap(),
                "--cafile",
                root.to_str().unwrap(),
                "--call",
                "get_account_info",
            ])
            .output(),
    )
    .await
    .expect("the SDK client finished in time")
    .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let run: Value = serde_json::from_str(
        stdout
            .lines()
            .rev()
            .find(|l| l.starts_with('{'))
            .unwrap_or("{}"),
    )
    .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    assert!(run.get("error").is_none(), "{run}");
    assert_eq!(run["visits"].as_array().unwrap().len(), 1, "{run}");
    assert_eq!(run["visits"][0]["resource"], format!("{public_url}/mcp"));
    let call = &run["calls"][0];
    assert_eq!(call["is_error"], false, "{run}");
    assert!(
        call["text"]
            .as_str()
            .unwrap()
            .contains("\"mode\":\"paper\"")
    );
    caddy.kill().await.ok();
}
