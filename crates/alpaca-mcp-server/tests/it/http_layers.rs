//! The HTTP security layers in-process (`tower::ServiceExt::oneshot`), around an inner route
//! that counts what reaches it and says which token scope it saw: each refusal, its status,
//! that the inner service was never reached, and the order the checks run in. Settings go
//! through the binary's own parsing (`Cli`) and one `Lookup`, as `serve` does.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use alpaca_mcp::settings::Lookup;
use alpaca_mcp_server::cli::Cli;
use alpaca_mcp_server::http::auth::Scope;
use alpaca_mcp_server::http::{HttpSecurity, layers};
use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::Response;
use clap::Parser;
use tower::ServiceExt;

const TOKEN: &str = "layer-test-token-0123456789";

/// The layers for these flags and variables, around a counting inner route.
async fn app(flags: &[&str], vars: &[(&str, &str)]) -> (Router, Arc<AtomicUsize>) {
    let cli = Cli::parse_from(std::iter::once("alpaca-mcp-server").chain(flags.iter().copied()));
    let security = HttpSecurity::from_settings(
        &cli.settings,
        &Lookup::from_pairs(vars.iter().copied()),
        true,
        Vec::new(),
        None,
    )
    .await
    .unwrap_or_else(|e| panic!("settings: {e}"));
    let reached = Arc::new(AtomicUsize::new(0));
    let count = reached.clone();
    let inner = Router::new().route(
        "/mcp",
        axum::routing::any(move |request: Request| {
            let count = count.clone();
            async move {
                count.fetch_add(1, Ordering::SeqCst);
                let scope = request
                    .extensions()
                    .get::<Scope>()
                    .map_or("none", |s| s.name());
                let body = axum::body::to_bytes(request.into_body(), usize::MAX)
                    .await
                    .unwrap();
                format!("{scope} {}", body.len())
            }
        }),
    );
    (layers(inner, &security), reached)
}

fn request(headers: &[(&str, &str)], body: Body) -> Request {
    let mut r = Request::builder().method("POST").uri("/mcp");
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.body(body).unwrap()
}

async fn send(app: &Router, request: Request) -> (StatusCode, Response) {
    let response = app.clone().oneshot(request).await.unwrap();
    (response.status(), response)
}

async fn text(response: Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn host_checks_refuse_before_anything_else() {
    let (app, reached) = app(&[], &[("ALPACA_MCP_HTTP_TOKEN", TOKEN)]).await;
    let two = Request::builder()
        .method("POST")
        .uri("/mcp")
        .header("host", "localhost")
        .header("host", "localhost")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, two).await.0, StatusCode::BAD_REQUEST);
    let (status, _) = send(&app, request(&[("host", "localhost:99999")], Body::empty())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A foreign Host with no token and a foreign Origin: the Host answer comes first.
    let (status, r) = send(
        &app,
        request(
            &[("host", "evil.example"), ("origin", "http://evil.example")],
            Body::empty(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::MISDIRECTED_REQUEST);
    assert!(text(r).await.contains("--allowed-hosts"));
    // Then the Origin, before the token.
    let (status, _) = send(
        &app,
        request(
            &[
                ("host", "localhost:8000"),
                ("origin", "http://evil.example"),
            ],
            Body::empty(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(reached.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn tokens_are_required_and_their_scope_reaches_the_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens");
    std::fs::write(&file, "reader-token-0123456789 read\n").unwrap();
    let file = file.to_str().unwrap();
    let (app, reached) = app(
        &["--http-token-file", file],
        &[("ALPACA_MCP_HTTP_TOKEN", TOKEN)],
    )
    .await;
    let host = ("host", "127.0.0.1:8000");

    let (status, r) = send(&app, request(&[host], Body::empty())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let challenge = r.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .to_string();
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    let wrong = format!("Bearer {TOKEN}x");
    let (status, r) = send(
        &app,
        request(&[host, ("authorization", &wrong)], Body::empty()),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        r.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    assert!(!text(r).await.contains(TOKEN));
    assert_eq!(reached.load(Ordering::SeqCst), 0);

    let full = format!("Bearer {TOKEN}");
    let (status, r) = send(
        &app,
        request(&[host, ("authorization", &full)], Body::from("{}")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text(r).await, "read,trade 2");
    let (status, r) = send(
        &app,
        request(
            &[host, ("authorization", "bearer reader-token-0123456789")],
            Body::empty(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text(r).await, "read 0");
    assert_eq!(reached.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn without_tokens_requests_pass_with_the_servers_own_scope() {
    let (app, reached) = app(&[], &[]).await;
    let (status, r) = send(
        &app,
        request(
            &[("host", "localhost"), ("origin", "http://localhost:5173")],
            Body::empty(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text(r).await, "read,trade 0");
    assert_eq!(reached.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_declared_or_streamed() {
    // The limit from the lookup (as from --env-file); the flag wins over it.
    let (app, reached) = app(&[], &[("ALPACA_MCP_MAX_BODY_BYTES", "100")]).await;
    let host = ("host", "localhost");
    let (status, _) = send(
        &app,
        request(
            &[host, ("content-length", "101")],
            Body::from(vec![b'x'; 101]),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let chunks = futures_chunks(vec![vec![b'x'; 60], vec![b'x'; 60]]);
    let (status, r) = send(&app, request(&[host], chunks)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(text(r).await.contains("100 bytes"));
    assert_eq!(reached.load(Ordering::SeqCst), 0);
    let (status, r) = send(&app, request(&[host], Body::from(vec![b'x'; 100]))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text(r).await, "read,trade 100");

    let (app, _) = app_with_flag_over_lookup().await;
    let (status, _) = send(&app, request(&[host], Body::from(vec![b'x'; 150]))).await;
    assert_eq!(status, StatusCode::OK);
}

async fn app_with_flag_over_lookup() -> (Router, Arc<AtomicUsize>) {
    app(
        &["--max-body-bytes", "200"],
        &[("ALPACA_MCP_MAX_BODY_BYTES", "100")],
    )
    .await
}

/// A body sent in chunks, without a declared length.
fn futures_chunks(chunks: Vec<Vec<u8>>) -> Body {
    Body::from_stream(futures_util::stream::iter(
        chunks.into_iter().map(Ok::<_, std::io::Error>),
    ))
}

/// A body whose chunks come from `rx` (none, while its sender is held).
fn tokio_stream_from(
    rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) })
}

#[tokio::test(start_paused = true)]
async fn a_body_that_does_not_arrive_in_time_is_408_and_closes() {
    let (app, reached) = app(&["--body-timeout", "3"], &[]).await;
    let (_tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let never = Body::from_stream(tokio_stream_from(rx));
    let started = tokio::time::Instant::now();
    let (status, r) = send(
        &app,
        request(&[("host", "localhost"), ("content-length", "10")], never),
    )
    .await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(r.headers()[header::CONNECTION], "close");
    assert_eq!(started.elapsed().as_secs(), 3);
    assert_eq!(reached.load(Ordering::SeqCst), 0);
}

// The real stack in-process: the layers in front of rmcp's service for the fake's tools, as
// `serve` builds it, driven with `oneshot` (no binary, no socket).

use alpaca_mcp::AlpacaTools;
use alpaca_mcp_server::http::{self, Endpoint};
use tokio_util::sync::CancellationToken;

struct RealApp {
    router: Router,
    ct: CancellationToken,
    _mock: alpaca_mock::MockServer,
}

impl Drop for RealApp {
    fn drop(&mut self) {
        self.ct.cancel();
    }
}

async fn real_app(flags: &[&str], vars: &[(&str, &str)]) -> RealApp {
    let cli = Cli::parse_from(std::iter::once("alpaca-mcp-server").chain(flags.iter().copied()));
    let security = HttpSecurity::from_settings(
        &cli.settings,
        &Lookup::from_pairs(vars.iter().copied()),
        true,
        Vec::new(),
        None,
    )
    .await
    .unwrap_or_else(|e| panic!("settings: {e}"));
    let mock = crate::common::mock().await;
    let tools = Arc::new(AlpacaTools::new(&crate::common::config_for(&mock)).unwrap());
    let ct = CancellationToken::new();
    let full = Endpoint::for_tools(tools, &security, &ct);
    RealApp {
        router: http::router(&security, full, None),
        ct,
        _mock: mock,
    }
}

fn initialize_body() -> String {
    serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "http-layers-test", "version": "0"}
        }
    })
    .to_string()
}

/// A POST of `body` to `/mcp` as a streamable HTTP client sends it (Host 127.0.0.1:8000
/// unless `headers` name another).
async fn post(app: &RealApp, body: String, headers: &[(&str, &str)]) -> Response {
    let mut r = Request::builder()
        .method("POST")
        .uri("/mcp")
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        r = r.header("host", "127.0.0.1:8000");
    }
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    app.router
        .clone()
        .oneshot(r.body(Body::from(body)).unwrap())
        .await
        .unwrap()
}

async fn initialize(app: &RealApp, headers: &[(&str, &str)]) -> Response {
    post(app, initialize_body(), headers).await
}

#[tokio::test]
async fn foreign_origin_is_403_and_foreign_host_is_421() {
    let app = real_app(&[], &[]).await;
    let port = "8000";

    let evil = initialize(&app, &[("origin", "http://evil.example")]).await;
    assert_eq!(evil.status(), StatusCode::FORBIDDEN);
    assert!(evil.headers().get("mcp-session-id").is_none());
    let tool = post(
        &app,
        serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
               "params": {"name": "cancel_all_orders", "arguments": {}}})
        .to_string(),
        &[("origin", "http://evil.example")],
    )
    .await;
    assert_eq!(tool.status(), 403);

    let rebound = initialize(&app, &[("host", &format!("evil.example:{port}"))]).await;
    assert_eq!(rebound.status(), 421);
    let body = text(rebound).await;
    assert!(body.contains("--allowed-hosts"), "{body}");

    // Localhost origins and no origin at all are fine.
    for origin in [
        Some("http://localhost:5173"),
        Some("http://127.0.0.1:3000"),
        None,
    ] {
        let headers: Vec<(&str, &str)> = origin.iter().map(|o| ("origin", *o)).collect();
        let ok = initialize(&app, &headers).await;
        assert_eq!(ok.status(), 200, "{origin:?}");
    }
    let localhost = initialize(&app, &[("host", &format!("localhost:{port}"))]).await;
    assert_eq!(localhost.status(), 200);
}

#[tokio::test]
async fn allowed_hosts_and_origins_are_configurable() {
    let app = real_app(
        &[
            "--allowed-hosts",
            "mcp.example.com",
            "--allowed-origins",
            "https://app.example.com",
        ],
        &[],
    )
    .await;
    let ok = initialize(&app, &[("host", "mcp.example.com")]).await;
    assert_eq!(ok.status(), 200);
    let with_origin = initialize(
        &app,
        &[
            ("host", "mcp.example.com"),
            ("origin", "https://app.example.com"),
        ],
    )
    .await;
    assert_eq!(with_origin.status(), 200);
    let other_origin = initialize(
        &app,
        &[
            ("host", "mcp.example.com"),
            ("origin", "http://localhost:3000"),
        ],
    )
    .await;
    assert_eq!(other_origin.status(), 403);
    // The list replaces the localhost defaults.
    assert_eq!(initialize(&app, &[]).await.status(), 421);
}

#[tokio::test]
async fn allowed_hosts_from_the_environment() {
    let app = real_app(&[], &[("ALPACA_MCP_ALLOWED_HOSTS", "mcp.example.com")]).await;
    assert_eq!(
        initialize(&app, &[("host", "mcp.example.com")])
            .await
            .status(),
        200
    );
    assert_eq!(initialize(&app, &[]).await.status(), 421);
}

#[tokio::test]
async fn oversized_body_is_413() {
    let app = real_app(&["--max-body-bytes", "2048"], &[]).await;
    let padding = "x".repeat(4096);
    let big = serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": padding, "version": "0"}
        }
    })
    .to_string();
    let r = post(&app, big, &[]).await;
    assert_eq!(r.status(), 413);
    assert!(r.headers().get("mcp-session-id").is_none());
    assert_eq!(initialize(&app, &[]).await.status(), 200);
}

#[tokio::test]
async fn default_body_limit_is_one_mebibyte() {
    let app = real_app(&[], &[]).await;
    // Declared by Content-Length: refused before the body is read.
    let r = post(&app, "x".repeat(1024 * 1024 + 1), &[]).await;
    assert_eq!(r.status(), 413);
}
