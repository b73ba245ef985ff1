//! What a downloaded binary says about itself: `--version` (version, commit, compiled
//! toolsets), and `doctor --check-update`, the only request to anything but Alpaca, made only
//! when asked (a local server stands in for GitHub's release API and counts what it gets).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::common::command;

#[tokio::test]
async fn version_names_the_commit_and_the_compiled_toolsets() {
    let out = command(&["--version"]).output().await.unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with(&format!(
            "alpaca-mcp-server {} (commit ",
            env!("CARGO_PKG_VERSION")
        )),
        "{text}"
    );
    let commit = text
        .split("commit ")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap();
    assert!(
        commit == "unknown"
            || (commit.len() == 12 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{commit}"
    );
    for t in alpaca_mcp::TOOLSETS {
        assert_eq!(
            text.contains(&format!(" {}", t.name)),
            t.compiled,
            "{}: {text}",
            t.name
        );
    }
}

/// A stand-in for the release API answering `tag`, and the count of requests it got.
async fn releases(tag: &'static str) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().route(
        "/latest",
        axum::routing::get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async move {
                axum::Json(serde_json::json!({
                    "tag_name": tag,
                    "html_url": format!("https://github.example/releases/{tag}"),
                }))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/latest", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, hits)
}

#[tokio::test]
async fn doctor_checks_for_a_newer_release_only_when_asked() {
    let (url, hits) = releases("v99.0.0").await;
    let env = [("ALPACA_MCP_RELEASES_URL", url.as_str())];
    let plain = command(&["--sandbox", "doctor"])
        .envs(env)
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&plain.stdout);
    assert!(plain.status.success(), "{text}");
    assert!(!text.contains("release"), "{text}");
    assert_eq!(hits.load(Ordering::SeqCst), 0, "doctor alone asks nothing");

    let asked = command(&["--sandbox", "doctor", "--check-update"])
        .envs(env)
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&asked.stdout);
    assert!(asked.status.success(), "{text}");
    assert!(text.contains("a newer release exists: v99.0.0"), "{text}");
    assert!(
        text.contains("https://github.example/releases/v99.0.0"),
        "{text}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    let (url, _) = releases(concat!("v", env!("CARGO_PKG_VERSION"))).await;
    let same = command(&["--sandbox", "doctor", "--check-update"])
        .env("ALPACA_MCP_RELEASES_URL", &url)
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&same.stdout);
    assert!(text.contains("this is the newest release"), "{text}");

    // Unreachable: said, and the setup check still passes.
    let down = command(&["--sandbox", "doctor", "--check-update"])
        .env("ALPACA_MCP_RELEASES_URL", "http://127.0.0.1:9/latest")
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&down.stdout);
    assert!(down.status.success(), "{text}");
    assert!(text.contains("cannot check for a newer release"), "{text}");
}
