//! The third outside probe's findings in the server, provoked against the built binary with
//! real parallel clients, each counting what reached the fake (or what was checked): a
//! repeated request id placing two orders (HTTP and stdio), ids JSON-RPC does not allow, the
//! racy passphrase limit, spoofed `X-Forwarded-For`, strangers exhausting the owner's budget,
//! an open redirect through self-registration, a flood of consent forms, unbounded metadata
//! fetches, `/revoke` of another client's token, repeated `/token` parameters, invisible
//! characters on the consent page, and a log line per refused consent answer.

use std::process::Stdio;
use std::time::Duration;

use alpaca_mock::{Fault, FaultKind, MockConfig, MockServer};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::common::{self, BIN};
use super::oauth::{
    PASSPHRASE, REDIRECT, answer, approved_code, authorize, free_port, hidden, http, owner_server,
    owner_server_logged, pkce, query_of, register, standard, token,
};

/// Hundreds of parallel clients from loopback, as the probe ran them: the per-peer
/// connection cap raised as it is behind a proxy (deploy/debian/env).
const MANY: &[(&str, &str)] = &[("ALPACA_MCP_MAX_CONNECTIONS_PER_PEER", "4000")];

fn order_posts(mock: &MockServer) -> usize {
    mock.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/v2/orders")
        .count()
}

/// The binary over HTTP against `mock`, whose order endpoint answers after 2 s.
async fn slow_orders_server(mock: &MockServer) -> (tokio::process::Child, String) {
    mock.inject(Fault::new("/v2/orders", FaultKind::Delay(Duration::from_secs(2))).method("POST"));
    let url = mock.url();
    let env = [
        ("ALPACA_API_KEY", "test-key"),
        ("ALPACA_SECRET_KEY", "test-secret"),
        ("TRADING_API_URL", url.as_str()),
        ("DATA_API_URL", url.as_str()),
    ];
    let (child, url, _) = support::bin::spawn_http(BIN, &[], &env).await;
    (child, url)
}

fn place(id: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
        "name": "place_stock_order", "arguments": {"symbol": "AAPL", "side": "buy", "qty": 1}}})
}

async fn post(url: &str, session: Option<&str>, body: &Value) -> reqwest::Response {
    let mut r = http()
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", "2025-11-25")
        .body(body.to_string());
    if let Some(s) = session {
        r = r.header("mcp-session-id", s);
    }
    r.send().await.unwrap()
}

// Bug 2, over streamable HTTP.

#[tokio::test]
async fn the_same_request_id_twice_at_once_in_an_http_session_places_one_order() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let (_child, url) = slow_orders_server(&mock).await;
    let init = post(
        &url,
        None,
        &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "probe3", "version": "1"}}}),
    )
    .await;
    let session = init.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    init.text().await.unwrap();
    let r = post(
        &url,
        Some(&session),
        &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    assert!(r.status().is_success());
    mock.clear_requests();
    let (seven, seven_again) = (place(json!(7)), place(json!(7.0)));
    let (first, second) = tokio::join!(post(&url, Some(&session), &seven), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        post(&url, Some(&session), &seven_again).await
    });
    assert_eq!(second.status(), StatusCode::BAD_REQUEST);
    let refusal: Value = second.json().await.unwrap();
    assert_eq!(refusal["error"]["code"], -32600, "{refusal}");
    assert!(
        refusal["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already in use"),
        "{refusal}"
    );
    // The first caller gets its own answer.
    assert!(first.status().is_success());
    let body = first.text().await.unwrap();
    assert!(
        body.contains("\"id\":7") && body.contains("\"result\""),
        "{body}"
    );
    assert_eq!(order_posts(&mock), 1, "one order at the fake");
    // Once answered, the id may be used again; ids JSON-RPC does not allow are refused.
    for bad in [
        json!(1.5),
        json!(null),
        json!(true),
        json!([1]),
        json!(9_007_199_254_740_993u64),
    ] {
        let r = post(&url, Some(&session), &place(bad.clone())).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], -32600, "{bad}: {v}");
    }
    assert_eq!(order_posts(&mock), 1, "no order for a bad id");
}

// Bug 2, on stdio.

#[tokio::test]
async fn on_stdio_500_and_500_0_are_one_id_and_bad_ids_are_refused() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    mock.inject(Fault::new("/v2/orders", FaultKind::Delay(Duration::from_secs(2))).method("POST"));
    let url = mock.url();
    let mut cmd = common::command(&[]);
    cmd.envs([
        ("ALPACA_API_KEY", "test-key"),
        ("ALPACA_SECRET_KEY", "test-secret"),
        ("TRADING_API_URL", url.as_str()),
        ("DATA_API_URL", url.as_str()),
    ]);
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = async || -> Value {
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("an answer")
            .unwrap()
            .unwrap();
        serde_json::from_str(&line).unwrap()
    };
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "p", "version": "1"}}});
    stdin
        .write_all(format!("{init}\n").as_bytes())
        .await
        .unwrap();
    assert!(next().await["result"].is_object());
    stdin
        .write_all(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n")
        .await
        .unwrap();
    mock.clear_requests();
    let call = |id: &str| {
        format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"tools/call\",\"params\":{{\"name\":\"place_stock_order\",\"arguments\":{{\"symbol\":\"AAPL\",\"side\":\"buy\",\"qty\":1}}}}}}\n"
        )
    };
    stdin.write_all(call("500").as_bytes()).await.unwrap();
    stdin.write_all(call("500.0").as_bytes()).await.unwrap();
    stdin.write_all(call("5e2").as_bytes()).await.unwrap();
    for bad in ["1.5", "null", "true", "[1]", "9007199254740993"] {
        stdin.write_all(call(bad).as_bytes()).await.unwrap();
    }
    let mut refused = 0;
    let mut answered = Vec::new();
    for _ in 0..8 {
        let v = next().await;
        if v["error"]["code"] == -32600 {
            refused += 1;
        } else {
            answered.push(v);
        }
    }
    assert_eq!(refused, 7, "two duplicates and five bad ids: {answered:?}");
    assert_eq!(answered.len(), 1);
    assert_eq!(answered[0]["id"], 500);
    assert_eq!(answered[0]["result"]["isError"], false, "{}", answered[0]);
    assert_eq!(order_posts(&mock), 1);
}

// Bug 3, and the XFF weakness.

async fn wrong_guesses(
    base: &str,
    page: &str,
    cookie: &str,
    n: usize,
    forwarded: impl Fn(usize) -> Option<String>,
) -> (usize, usize) {
    let wrong = [
        ("passphrase", "not the passphrase"),
        ("access", "read"),
        ("decision", "approve"),
    ];
    let form: Vec<(String, String)> = [
        ("request".to_string(), hidden(page, "request")),
        ("csrf".to_string(), hidden(page, "csrf")),
    ]
    .into_iter()
    .chain(wrong.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    .collect();
    let tasks = (0..n).map(|i| {
        let mut req = http()
            .post(format!("{base}/authorize"))
            .header("cookie", cookie)
            .form(&form);
        if let Some(f) = forwarded(i) {
            req = req.header("x-forwarded-for", f);
        }
        async move { req.send().await.unwrap().status() }
    });
    let statuses = futures_util::future::join_all(tasks).await;
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::FORBIDDEN)
        .count();
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(checked + limited, n, "{statuses:?}");
    (checked, limited)
}

async fn consent_page(base: &str) -> (String, String) {
    let client = register(base).await;
    let (_, challenge) = pkce();
    let (status, cookie, page, _) = authorize(base, &standard(&client, &challenge)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    (page, cookie.unwrap())
}

#[tokio::test]
async fn concurrent_wrong_passphrases_are_counted_before_they_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let (_child, base) = owner_server(dir.path(), free_port(), &[]).await;
    let (page, cookie) = consent_page(&base).await;
    // 60 at once from one address: five are checked, the rest wait.
    let (checked, limited) = wrong_guesses(&base, &page, &cookie, 60, |_| None).await;
    assert_eq!((checked, limited), (5, 55));
    // And the right one now waits too.
    let r = answer(
        &base,
        &page,
        Some(&cookie),
        &[
            ("passphrase", PASSPHRASE),
            ("access", "read"),
            ("decision", "approve"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // Rotating X-Forwarded-For from an untrusted peer changes nothing: still one address.
    let (checked, _) = wrong_guesses(&base, &page, &cookie, 10, |i| {
        Some(format!("198.51.100.{i}"))
    })
    .await;
    assert_eq!(checked, 0);
}

#[tokio::test]
async fn strangers_use_up_the_total_but_not_the_owners_own_device() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let (_child, _log) = owner_server_logged(
        dir.path(),
        port,
        &base,
        &["--sandbox", "--trusted-proxy", "127.0.0.1"],
        MANY,
    )
    .await;
    // The owner signs in once from this browser: it is remembered.
    let client = register(&base).await;
    let (_, challenge) = pkce();
    let (_, cookie, page, _) = authorize(&base, &standard(&client, &challenge)).await;
    let r = answer(
        &base,
        &page,
        cookie.as_deref(),
        &[
            ("passphrase", PASSPHRASE),
            ("access", "read"),
            ("decision", "approve"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let device = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_string())
        .find(|c| c.starts_with("amcp_device="))
        .expect("a device cookie");
    assert!(
        r.headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().contains("HttpOnly")),
    );
    // 300 strangers from 300 addresses (behind the trusted proxy) at once: 50 checks in all.
    let (page, cookie) = consent_page(&base).await;
    let (checked, _) = wrong_guesses(&base, &page, &cookie, 300, |i| {
        Some(format!("198.51.{}.{}", i / 200, i % 200 + 1))
    })
    .await;
    assert_eq!(checked, 50, "the total holds under concurrency");
    // A new stranger waits; the owner's browser signs in.
    let (checked, _) =
        wrong_guesses(&base, &page, &cookie, 1, |_| Some("203.0.113.77".into())).await;
    assert_eq!(checked, 0);
    let (page, form_cookie) = consent_page(&base).await;
    let both = format!("{form_cookie}; {device}");
    let r = answer(
        &base,
        &page,
        Some(&both),
        &[
            ("passphrase", PASSPHRASE),
            ("access", "read"),
            ("decision", "approve"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(query_of(r.headers()["location"].to_str().unwrap()).contains_key("code"));
}

// Bug 4.

#[tokio::test]
async fn no_redirect_to_a_strangers_uri_before_the_owner_answers_and_os_schemes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_child, base) = owner_server(dir.path(), free_port(), &[]).await;
    for scheme in [
        "ms-msdt:/id=1",
        "search-ms:query=x",
        "view-source:https://a.example/",
    ] {
        let r = http()
            .post(format!("{base}/register"))
            .json(&json!({"redirect_uris": [scheme]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{scheme}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"], "invalid_redirect_uri", "{scheme}: {v}");
    }
    let base_url = base.clone();
    let register_with = |uri: &'static str| {
        let base = base_url.clone();
        async move {
            let r = http()
                .post(format!("{base}/register"))
                .json(&json!({"redirect_uris": [uri], "client_name": "Claude"}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::CREATED, "{uri}");
            r.json::<Value>().await.unwrap()["client_id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let phish = register_with("https://evil.example/phish").await;
    let (_, challenge) = pkce();
    let mut params = standard(&phish, &challenge);
    params.retain(|(k, _)| *k != "redirect_uri" && *k != "response_type");
    params.push(("redirect_uri", "https://evil.example/phish"));
    params.push(("response_type", "token"));
    let (status, _, page, location) = authorize(&base, &params).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(location.is_none(), "no redirect: {location:?}");
    assert!(page.contains("unsupported_response_type"), "{page}");
    // An app scheme is said to be an app's, never the host it pretends.
    let app = register_with("com.evil.app://claude.ai/cb").await;
    let mut params = standard(&app, &challenge);
    params.retain(|(k, _)| *k != "redirect_uri");
    params.push(("redirect_uri", "com.evil.app://claude.ai/cb"));
    let (status, _, page, _) = authorize(&base, &params).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(!page.contains("<strong>claude.ai</strong>"), "{page}");
    assert!(
        page.contains("opens <strong>com.evil.app:</strong> links"),
        "{page}"
    );
}

// Bug 5.

#[tokio::test]
async fn a_flood_of_anonymous_authorizations_never_keeps_the_owner_from_signing_in() {
    let dir = tempfile::tempdir().unwrap();
    let (_child, base) = owner_server(dir.path(), free_port(), MANY).await;
    let client = register(&base).await;
    let (_, challenge) = pkce();
    let params = standard(&client, &challenge);
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let wave = (0..100).map(|_| {
            let params = params.clone();
            let base = base.clone();
            async move {
                http()
                    .get(format!("{base}/authorize"))
                    .query(&params)
                    .send()
                    .await
                    .unwrap()
                    .status()
            }
        });
        statuses.extend(futures_util::future::join_all(wave).await);
    }
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "every form is shown (the oldest pushed out): {:?}",
        statuses.iter().filter(|s| **s != StatusCode::OK).count()
    );
    // The owner, right after: a whole sign-in to a code and a token.
    let (client, code, verifier) = approved_code(&base, "read").await;
    let (status, body) = token(
        &base,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &client),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

// Weaknesses: /revoke and repeated parameters.

#[tokio::test]
async fn revoke_takes_only_the_clients_own_tokens_and_repeated_parameters_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_child, base) = owner_server(dir.path(), free_port(), &[]).await;
    let (client, code, verifier) = approved_code(&base, "read").await;
    let (status, tokens) = token(
        &base,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &client),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
            ("resource", &format!("{base}/mcp")),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let other = register(&base).await;
    let (status, _) = super::oauth::post_form(
        &base,
        "revoke",
        &[("client_id", &other), ("token", &access)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        super::oauth::mcp_status(&base, &access).await.0,
        StatusCode::OK,
        "another client cannot revoke it"
    );
    let (status, _) = super::oauth::post_form(
        &base,
        "revoke",
        &[("client_id", &client), ("token", &access)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        super::oauth::mcp_status(&base, &access).await.0,
        StatusCode::UNAUTHORIZED,
        "its own client can"
    );
    // `resource` twice (or any parameter): refused, whichever value is ours.
    let (client, code, verifier) = approved_code(&base, "read").await;
    let ours = format!("{base}/mcp");
    let (status, body) = token(
        &base,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &client),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
            ("resource", &ours),
            ("resource", "https://elsewhere.example/mcp"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_request");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("resource")
    );
}

// Weaknesses: invisible characters, and the log.

#[tokio::test]
async fn invisible_characters_show_and_refused_answers_are_summarized_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let (_child, log) = owner_server_logged(dir.path(), port, &base, &["--sandbox"], MANY).await;
    let r = http()
        .post(format!("{base}/register"))
        .json(&json!({"redirect_uris": [REDIRECT], "client_name": "Safe\u{202e}ti\u{200b}lC\u{2029}x"}))
        .send()
        .await
        .unwrap();
    let client = r.json::<Value>().await.unwrap()["client_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, challenge) = pkce();
    let (_, cookie, page, _) = authorize(&base, &standard(&client, &challenge)).await;
    for c in ['\u{202e}', '\u{200b}', '\u{2029}'] {
        assert!(!page.contains(c), "{c:?} reached the page raw");
    }
    assert!(page.contains("Safe[U+202E]ti[U+200B]lC[U+2029]x"), "{page}");
    // 300 forged answers: a line or two, not 300.
    let before = log.lock().unwrap().lines().count();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let wave = (0..50).map(|_| {
            let base = base.clone();
            async move {
                http()
                    .post(format!("{base}/authorize"))
                    .form(&[("request", "x"), ("csrf", "y"), ("decision", "approve")])
                    .send()
                    .await
                    .unwrap()
                    .status()
            }
        });
        statuses.extend(futures_util::future::join_all(wave).await);
    }
    assert!(statuses.iter().all(|s| *s == StatusCode::FORBIDDEN));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = log.lock().unwrap().lines().count();
    assert!(
        after - before <= 2,
        "{} log lines for 300 refusals",
        after - before
    );
    drop(cookie);
}

// Weakness: client metadata fetches were not counted.

#[tokio::test]
async fn metadata_document_fetches_are_counted_with_registrations() {
    let dir = tempfile::tempdir().unwrap();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let doc_port = listener.local_addr().unwrap().port();
    let counter = hits.clone();
    // Any path is a document naming itself (a stranger makes up as many client ids as it likes).
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let id = format!("http://127.0.0.1:{doc_port}{}", uri.path());
            axum::Json(json!({"client_id": id, "redirect_uris": [REDIRECT]}))
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _child = super::oauth::owner_server_with(
        dir.path(),
        port,
        &base,
        &["--sandbox", "--oauth-allow-local-client-metadata"],
        &[],
    )
    .await;
    let (_, challenge) = pkce();
    let mut shown = 0;
    for i in 0..30 {
        let id = format!("http://127.0.0.1:{doc_port}/client-{i}.json");
        let mut params = standard(&id, &challenge);
        params.retain(|(k, _)| *k != "client_id");
        params.push(("client_id", &id));
        let (status, _, page, _) = authorize(&base, &params).await;
        if status == StatusCode::OK {
            shown += 1;
        } else {
            assert!(
                page.contains("too many client registrations or client metadata fetches"),
                "{page}"
            );
        }
    }
    assert_eq!(shown, 20, "twenty an hour from one address");
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        20,
        "nothing fetched past the limit"
    );
    // The unauthenticated /token is counted the same way: no fetch for a new id.
    let id = format!("http://127.0.0.1:{doc_port}/via-token.json");
    let (status, _) = token(
        &base,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &id),
            ("code", "x"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 20);
}
