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
fn app(flags: &[&str], vars: &[(&str, &str)]) -> (Router, Arc<AtomicUsize>) {
    let cli = Cli::parse_from(std::iter::once("alpaca-mcp-server").chain(flags.iter().copied()));
    let security =
        HttpSecurity::from_settings(&cli.settings, &Lookup::from_pairs(vars.iter().copied()))
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
    let (app, reached) = app(&[], &[("ALPACA_MCP_HTTP_TOKEN", TOKEN)]);
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
    );
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
    let (app, reached) = app(&[], &[]);
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
    let (app, reached) = app(&[], &[("ALPACA_MCP_MAX_BODY_BYTES", "100")]);
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

    let (app, _) = app_with_flag_over_lookup();
    let (status, _) = send(&app, request(&[host], Body::from(vec![b'x'; 150]))).await;
    assert_eq!(status, StatusCode::OK);
}

fn app_with_flag_over_lookup() -> (Router, Arc<AtomicUsize>) {
    app(
        &["--max-body-bytes", "200"],
        &[("ALPACA_MCP_MAX_BODY_BYTES", "100")],
    )
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
    let (app, reached) = app(&["--body-timeout", "3"], &[]);
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
