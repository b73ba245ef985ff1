//! `--auth owner`: the server as its own OAuth authorization server, end to end against the
//! built binary (sandbox) over real HTTP. A small client written here walks the flow step by
//! step so each refusal can be provoked: no PKCE, `plain` PKCE, a wrong verifier, a reused or
//! expired code, a redirect URI that differs, a token for another resource, a rotated refresh
//! token used again, a client metadata URL on a private address, a consent POST without its
//! CSRF value, wrong passphrases; and that grants survive a restart in an owner-only file.
//! The Python SDK's own client runs the whole flow in `oauth_python`.

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Digest;

use super::common::BIN;

pub const PASSPHRASE: &str = "correct horse battery staple";
pub(crate) const REDIRECT: &str = "http://127.0.0.1:9/callback";

/// A port nobody listens on now (the public URL must name the port before the server starts).
/// Not one the kernel hands out: between this call and the server's bind, a parallel test's
/// outgoing connection could take an ephemeral port (from 32768 on Linux, 49152 elsewhere),
/// and the server then fails with "Address already in use" (seen in CI). So ports come from
/// 20000-32767, each handed out once per process, starting at a place of this process's own.
pub fn free_port() -> u16 {
    const LOW: u32 = 20_000;
    const SPAN: u32 = 32_768 - LOW;
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let start = std::process::id().wrapping_mul(7919) % SPAN;
    for _ in 0..SPAN {
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let port = (LOW + (start + n) % SPAN) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {LOW}-32767");
}

/// The sandbox server in owner mode on `port` with its state in `dir`; the child and the
/// base URL.
pub async fn owner_server(
    dir: &Path,
    port: u16,
    env: &[(&str, &str)],
) -> (tokio::process::Child, String) {
    let base = format!("http://127.0.0.1:{port}");
    let child = owner_server_with(dir, port, &base, &["--sandbox"], env).await;
    (child, base)
}

/// The server in owner mode on `port` for `public_url`, state in `dir`, with `extra` flags
/// and `env` (the owner passphrase is set).
pub async fn owner_server_with(
    dir: &Path,
    port: u16,
    public_url: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> tokio::process::Child {
    owner_server_logged(dir, port, public_url, extra, env)
        .await
        .0
}

/// As [`owner_server_with`], with the server's log as it grows.
pub async fn owner_server_logged(
    dir: &Path,
    port: u16,
    public_url: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (
    tokio::process::Child,
    std::sync::Arc<std::sync::Mutex<String>>,
) {
    let port = port.to_string();
    let mut args = vec![
        "--port",
        &port,
        "--auth",
        "owner",
        "--public-url",
        public_url,
        "--state-dir",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let mut all_env = vec![("ALPACA_MCP_OWNER_SECRET", PASSPHRASE)];
    all_env.extend_from_slice(env);
    let (child, _, log) = support::bin::spawn_http(BIN, &args, &all_env).await;
    (child, log)
}

pub(crate) fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A PKCE verifier and its S256 challenge.
pub(crate) fn pkce() -> (String, String) {
    let verifier = format!("{:0>64}", rand_hex());
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn rand_hex() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub(crate) async fn register(base: &str) -> String {
    let r = http()
        .post(format!("{base}/register"))
        .json(&json!({"redirect_uris": [REDIRECT], "client_name": "rust-test <b>client</b>"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["token_endpoint_auth_method"], "none");
    v["client_id"].as_str().unwrap().to_string()
}

/// The consent page for these authorization parameters: status, cookie, body.
pub(crate) async fn authorize(
    base: &str,
    params: &[(&str, &str)],
) -> (StatusCode, Option<String>, String, Option<String>) {
    let r = http()
        .get(format!("{base}/authorize"))
        .query(params)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let cookie = r
        .headers()
        .get("set-cookie")
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_string());
    let location = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    (status, cookie, r.text().await.unwrap(), location)
}

pub(crate) fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_string()
}

fn checked_toolsets(html: &str) -> Vec<String> {
    html.split("<input type=\"checkbox\" name=\"toolset\" value=\"")
        .skip(1)
        .filter_map(|rest| {
            let (value, after) = rest.split_once('"')?;
            after
                .trim_start()
                .starts_with("checked")
                .then(|| value.to_string())
        })
        .collect()
}

pub(crate) fn standard<'a>(client: &'a str, challenge: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", client),
        ("redirect_uri", REDIRECT),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("state", "st-1"),
    ]
}

/// Submits the consent form of `page` (with its cookie unless `cookie` is `None`).
pub(crate) async fn answer(
    base: &str,
    page: &str,
    cookie: Option<&str>,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![
        ("request".to_string(), hidden(page, "request")),
        ("csrf".to_string(), hidden(page, "csrf")),
    ];
    // The toolset boxes left checked, as a browser sends them (unless the test sends its own).
    if !fields.iter().any(|(k, _)| *k == "toolset") {
        form.extend(
            checked_toolsets(page)
                .into_iter()
                .map(|t| ("toolset".to_string(), t)),
        );
    }
    form.extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let mut req = http().post(format!("{base}/authorize")).form(&form);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    req.send().await.unwrap()
}

pub(crate) fn query_of(location: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Registers, approves with `access` and returns the client id, the code and its verifier.
pub(crate) async fn approved_code(base: &str, access: &str) -> (String, String, String) {
    let client = register(base).await;
    let (verifier, challenge) = pkce();
    let (status, cookie, page, _) = authorize(base, &standard(&client, &challenge)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let r = answer(
        base,
        &page,
        cookie.as_deref(),
        &[
            ("passphrase", PASSPHRASE),
            ("access", access),
            ("decision", "approve"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let q = query_of(r.headers()["location"].to_str().unwrap());
    assert_eq!(q["state"], "st-1");
    assert_eq!(q["iss"], base);
    (client, q["code"].clone(), verifier)
}

pub(crate) async fn token(base: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    post_form(base, "token", form).await
}

/// A form POSTed to `{base}/{path}`: the status and the JSON answer (`null` when none).
pub(crate) async fn post_form(
    base: &str,
    path: &str,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let r = http()
        .post(format!("{base}/{path}"))
        .form(form)
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn exchange(
    base: &str,
    client: &str,
    code: &str,
    verifier: &str,
) -> (StatusCode, Value) {
    token(
        base,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", client),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    )
    .await
}

/// `initialize` on /mcp with this bearer token: the status and `WWW-Authenticate`.
pub(crate) async fn mcp_status(base: &str, token: &str) -> (StatusCode, String) {
    let r = http()
        .post(format!("{base}/mcp"))
        .header("authorization", format!("Bearer {token}"))
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "t", "version": "0"}}})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    let challenge = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (r.status(), challenge)
}

#[tokio::test]
async fn metadata_and_the_401_point_clients_at_the_authorization_server() {
    let dir = tempfile::tempdir().unwrap();
    let (_child, base) = owner_server(dir.path(), free_port(), &[]).await;
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let prm: Value = http()
            .get(format!("{base}{path}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(prm["resource"], format!("{base}/mcp"));
        assert_eq!(prm["authorization_servers"], json!([base]));
        assert_eq!(prm["scopes_supported"], json!(["read", "trade"]));
    }
    let asm: Value = http()
        .get(format!("{base}/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(asm["issuer"], base);
    assert_eq!(asm["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(asm["client_id_metadata_document_supported"], true);
    let r = http()
        .post(format!("{base}/mcp"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains(&format!(
            "resource_metadata=\"{base}/.well-known/oauth-protected-resource/mcp\""
        )),
        "{challenge}"
    );
    let (status, challenge) = mcp_status(&base, "amcp_at_not-a-token").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge.contains("invalid_token"), "{challenge}");
}

#[tokio::test]
async fn pkce_is_required_s256_only_and_the_verifier_must_match() {
    let dir = tempfile::tempdir().unwrap();
    let (_child, base) = owner_server(dir.path(), free_port(), &[]).await;
    let client = register(&base).await;
    let (_, challenge) = pkce();

    // No challenge, or the plain method: an error page (never a redirect before the owner
    // has answered, see probe3), no consent form.
    let mut none = standard(&client, &challenge);
    none.retain(|(k, _)| !k.starts_with("code_challenge"));
    let mut plain = standard(&client, &challenge);
    plain.retain(|(k, _)| *k != "code_challenge_method");
    plain.push(("code_challenge_method", "plain"));
    for params in [none, plain] {
        let (status, cookie, page, location) = authorize(&base, &params).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(cookie.is_none());
        assert!(location.is_none());
        assert!(page.contains("invalid_request"), "{page}");
        assert!(page.contains("S256") || page.contains("PKCE"), "{page}");
    }

    // A wrong verifier is refused, and the code is spent by the attempt.
    let (client, code, verifier) = approved_code(&base, "read").await;
    let (wrong, _) = pkce();
    let (status, body) = exchange(&base, &client, &code, &wrong).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    let (status, body) = exchange(&base, &client, &code, &verifier).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // Missing verifier.
    let (client, code, _) = approved_code(&base, "read").await;
    let (status, body) = token(
        &base,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &client),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
}

#[tokio::test]
async fn a_code_works_once_and_its_reuse_revokes_the_grant() {
    let dir = tempfile::tempdir().unwrap();
    let (_child, base) = owner_server(dir.path(), free_port(), &[]).await;
    let (client, code, verifier) = approved_code(&base, "trade").await;
    let (status, tokens) = exchange(&base, &client, &code, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "read trade");
    assert_eq!(tokens["expires_in"], 3600);
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(mcp_status(&base, access).await.0, StatusCode::OK);

    let (status, body) = exchange(&base, &client, &code, &verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    // The replay ended the grant that the code started.
    assert_eq!(mcp_status(&base, access).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_child, base) = owner_server(
        dir.path(),
        free_port(),
        &[("ALPACA_MCP_OAUTH_CODE_TTL", "0")],
    )
    .await;
    let (client, code, verifier) = approved_code(&base, "read").await;
    let (status, body) = exchange(&base, &client, &code, &verifier).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{body}"
    );
}

#[tokio::test]
async fn redirect_uris_must_match_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (_child, base) = owner_server(dir.path(), free_port(), &[]).await;
    let client = register(&base).await;
    let (_, challenge) = pkce();
    // At the authorization endpoint: an error page, never a redirect to the stranger's URI.
    for uri in [
        "https://evil.example/callback",
        "http://127.0.0.1:9/callback/x",
        "http://localhost:9/callback",
    ] {
        let mut params = standard(&client, &challenge);
        params.retain(|(k, _)| *k != "redirect_uri");
        params.push(("redirect_uri", uri));
        let (status, _, body, location) = authorize(&base, &params).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(location.is_none());
        assert!(body.contains("redirect_uri"), "{body}");
    }
    // A loopback redirect on another port is the same redirect (RFC 8252).
    let mut other_port = standard(&client, &challenge);
    other_port.retain(|(k, _)| *k != "redirect_uri");
    other_port.push(("redirect_uri", "http://127.0.0.1:51234/callback"));
    assert_eq!(authorize(&base, &other_port).await.0, StatusCode::OK);
    // At the token endpoint: the code's redirect URI, exactly.
    let (client, code, verifier) = approved_code(&base, "read").await;
    let (status, body) = token(
        &base,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &client),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:10/callback"),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    // Registration refuses http redirects off loopback.
    let r = http()
        .post(format!("{base}/register"))
        .json(&json!({"redirect_uris": ["http://evil.example/cb"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_redirect_uri");
}

#[tokio::test]
async fn tokens_are_for_this_resource_only() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (child, base) = owner_server(dir.path(), port, &[]).await;
    let client = register(&base).await;
    let (_, challenge) = pkce();
    let mut params = standard(&client, &challenge);
    params.push(("resource", "https://other.example/mcp"));
    let (status, _, page, location) = authorize(&base, &params).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(location.is_none());
    assert!(page.contains("invalid_target"), "{page}");

    let (client, code, verifier) = approved_code(&base, "read").await;
    let (status, body) = token(
        &base,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &client),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
            ("resource", "https://other.example/mcp"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_target"))
    );

    // A token issued here, presented to the same state served under another public URL
    // (another resource), is refused there.
    let (client, code, verifier) = approved_code(&base, "read").await;
    let (status, tokens) = exchange(&base, &client, &code, &verifier).await;
    assert_eq!(status, StatusCode::OK);
    let access = tokens["access_token"].as_str().unwrap().to_string();
    assert_eq!(mcp_status(&base, &access).await.0, StatusCode::OK);
    drop(child);
    let other = free_port();
    let other_url = format!("http://localhost:{other}");
    let _child = owner_server_with(dir.path(), other, &other_url, &["--sandbox"], &[]).await;
    let r = http()
        .post(format!("http://127.0.0.1:{other}/mcp"))
        .header("host", format!("localhost:{other}"))
        .header("authorization", format!("Bearer {access}"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_grant() {
    let dir = tempfile::tempdir().unwrap();
    let (_child, base) = owner_server(dir.path(), free_port(), &[]).await;
    let (client, code, verifier) = approved_code(&base, "trade").await;
    let (_, first) = exchange(&base, &client, &code, &verifier).await;
    let refresh = |rt: String| {
        let base = base.clone();
        let client = client.clone();
        async move {
            token(
                &base,
                &[
                    ("grant_type", "refresh_token"),
                    ("client_id", &client),
                    ("refresh_token", &rt),
                ],
            )
            .await
        }
    };
    let rt1 = first["refresh_token"].as_str().unwrap().to_string();
    let (status, second) = refresh(rt1.clone()).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let rt2 = second["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt1, rt2);
    assert_eq!(second["scope"], "read trade");
    let at2 = second["access_token"].as_str().unwrap().to_string();
    assert_eq!(mcp_status(&base, &at2).await.0, StatusCode::OK);

    // The first refresh token again: someone has a copy; the whole grant ends.
    let (status, body) = refresh(rt1).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(mcp_status(&base, &at2).await.0, StatusCode::UNAUTHORIZED);
    let (status, _) = refresh(rt2).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn consent_needs_its_csrf_value_and_the_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let (_child, base) = owner_server(dir.path(), free_port(), &[]).await;
    let client = register(&base).await;
    let (_, challenge) = pkce();
    let (status, cookie, page, _) = authorize(&base, &standard(&client, &challenge)).await;
    assert_eq!(status, StatusCode::OK);
    // The page names the client (escaped), where it returns, and the account mode.
    assert!(
        page.contains("rust-test &lt;b&gt;client&lt;/b&gt;"),
        "{page}"
    );
    assert!(!page.contains("<b>client</b>"));
    assert!(page.contains("127.0.0.1"));
    assert!(page.contains("Paper account"));
    assert!(!page.contains("<script"));
    let cookie = cookie.unwrap();
    let approve = [
        ("passphrase", PASSPHRASE),
        ("access", "trade"),
        ("decision", "approve"),
    ];

    // Forged: without the cookie, with another CSRF value, or without the request id.
    let r = answer(&base, &page, None, &approve).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let forged_page = page.replace(&hidden(&page, "csrf"), "forged-value");
    let r = answer(&base, &forged_page, Some(&cookie), &approve).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = http()
        .post(format!("{base}/authorize"))
        .header("cookie", &cookie)
        .form(&[
            ("passphrase", PASSPHRASE),
            ("access", "trade"),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.headers().get("location").is_none());

    // A wrong passphrase: refused, no code; the form stays usable.
    let r = answer(
        &base,
        &page,
        Some(&cookie),
        &[
            ("passphrase", "wrong passphrase!"),
            ("access", "trade"),
            ("decision", "approve"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.headers().get("location").is_none());
    assert!(r.text().await.unwrap().contains("Wrong passphrase"));
    let r = answer(&base, &page, Some(&cookie), &approve).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(query_of(r.headers()["location"].to_str().unwrap()).contains_key("code"));
    // Answered once: the same form cannot approve again.
    let r = answer(&base, &page, Some(&cookie), &approve).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn wrong_passphrases_are_rate_limited_per_address_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let (_child, base) = owner_server(dir.path(), free_port(), &[]).await;
    let client = register(&base).await;
    let (_, challenge) = pkce();
    let (_, cookie, page, _) = authorize(&base, &standard(&client, &challenge)).await;
    let cookie = cookie.unwrap();
    let wrong = [
        ("passphrase", "not the passphrase"),
        ("access", "read"),
        ("decision", "approve"),
    ];
    for _ in 0..5 {
        assert_eq!(
            answer(&base, &page, Some(&cookie), &wrong).await.status(),
            StatusCode::FORBIDDEN
        );
    }
    // The sixth is not even checked: even the right passphrase waits now.
    let right = [
        ("passphrase", PASSPHRASE),
        ("access", "read"),
        ("decision", "approve"),
    ];
    assert_eq!(
        answer(&base, &page, Some(&cookie), &right).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // The count is in the state: a restarted server still makes this address wait.
    drop(_child);
    let (_child, base) = owner_server(dir.path(), free_port(), &[]).await;
    let client = register(&base).await;
    let (_, challenge) = pkce();
    let (_, cookie, page, _) = authorize(&base, &standard(&client, &challenge)).await;
    assert_eq!(
        answer(&base, &page, Some(&cookie.unwrap()), &right)
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn a_client_metadata_url_on_a_private_address_is_not_fetched() {
    let dir = tempfile::tempdir().unwrap();
    let (_child, base) = owner_server(dir.path(), free_port(), &[]).await;
    // Something listening on loopback that would answer, and counts whether it was asked.
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((_s, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let (_, challenge) = pkce();
    for id in [
        format!("https://127.0.0.1:{port}/client.json"),
        format!("https://localhost:{port}/client.json"),
        "https://169.254.169.254/latest/meta-data".to_string(),
        format!("https://[::ffff:127.0.0.1]:{port}/client.json"),
        format!("http://example.com:{port}/client.json"),
    ] {
        let mut params = standard(&id, &challenge);
        params.retain(|(k, _)| *k != "client_id");
        params.push(("client_id", &id));
        let (status, _, body, location) = authorize(&base, &params).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{id}: {body}");
        assert!(location.is_none());
        assert!(
            body.contains("private") || body.contains("https"),
            "{id}: {body}"
        );
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "nothing was fetched"
    );
}

#[tokio::test]
async fn a_client_metadata_document_is_used_when_local_fetches_are_allowed() {
    // With the local-testing flag, a document served here on loopback is fetched and used.
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let doc_port = listener.local_addr().unwrap().port();
    let id = format!("http://127.0.0.1:{doc_port}/client.json");
    let doc = json!({"client_id": id, "client_name": "Metadata Document Client", "redirect_uris": [REDIRECT]});
    let app = axum::Router::new().route(
        "/client.json",
        axum::routing::get(move || {
            let doc = doc.clone();
            async move { axum::Json(doc) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _child = owner_server_with(
        dir.path(),
        port,
        &base,
        &["--sandbox", "--oauth-allow-local-client-metadata"],
        &[],
    )
    .await;
    let (verifier, challenge) = pkce();
    let mut params = standard(&id, &challenge);
    params.retain(|(k, _)| *k != "client_id");
    params.push(("client_id", &id));
    let (status, cookie, page, _) = authorize(&base, &params).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Metadata Document Client"));
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
    let code = query_of(r.headers()["location"].to_str().unwrap())["code"].clone();
    let (status, tokens) = exchange(&base, &id, &code, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["scope"], "read");
}

#[tokio::test]
async fn grants_survive_a_restart_and_revocation_takes_effect_at_once() {
    let root = tempfile::tempdir().unwrap();
    // A state directory the server creates (owner-only).
    let state = root.path().join("state");
    let dir = &StateDir(state);
    let port = free_port();
    let (child, base) = owner_server(dir.0.as_path(), port, &[]).await;
    let (client, code, verifier) = approved_code(&base, "read").await;
    let (_, tokens) = exchange(&base, &client, &code, &verifier).await;
    let access = tokens["access_token"].as_str().unwrap().to_string();
    drop(child);
    tokio::time::sleep(Duration::from_millis(200)).await;

    let file = dir.0.as_path().join("oauth.sqlite3");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::metadata(dir.0.as_path())
                .unwrap()
                .permissions()
                .mode()
                & 0o077,
            0
        );
    }
    // No token is in the file, only digests.
    let bytes = std::fs::read(&file).unwrap();
    let raw = String::from_utf8_lossy(&bytes);
    assert!(!raw.contains(&access));

    let (_child, base) = owner_server(dir.0.as_path(), port, &[]).await;
    assert_eq!(mcp_status(&base, &access).await.0, StatusCode::OK);

    let list = super::common::command(&[
        "auth",
        "list",
        "--json",
        "--state-dir",
        dir.0.as_path().to_str().unwrap(),
    ])
    .output()
    .await
    .unwrap();
    assert!(
        list.status.success(),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    let grants: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(grants.as_array().unwrap().len(), 1, "{grants}");
    assert_eq!(grants[0]["client_name"], "rust-test <b>client</b>");
    assert_eq!(grants[0]["redirect_hosts"], json!(["127.0.0.1"]));
    assert_eq!(grants[0]["scope"], "read");
    let id = grants[0]["id"].as_str().unwrap();
    let out = super::common::command(&[
        "auth",
        "revoke",
        id,
        "--state-dir",
        dir.0.as_path().to_str().unwrap(),
    ])
    .output()
    .await
    .unwrap();
    assert!(out.status.success());
    let (status, challenge) = mcp_status(&base, &access).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge.contains("resource_metadata="), "{challenge}");
    let again = super::common::command(&[
        "auth",
        "revoke",
        id,
        "--state-dir",
        dir.0.as_path().to_str().unwrap(),
    ])
    .output()
    .await
    .unwrap();
    assert_eq!(again.status.code(), Some(2));
}

struct StateDir(std::path::PathBuf);

#[tokio::test]
async fn owner_mode_refuses_bad_setups() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().to_str().unwrap();
    let run = |args: Vec<&'static str>, env: Vec<(&'static str, &'static str)>| {
        let state = state.to_string();
        async move {
            let mut all = vec![
                "--sandbox",
                "--transport",
                "http",
                "--port",
                "0",
                "--state-dir",
            ];
            let mut owned: Vec<String> = all.drain(..).map(String::from).collect();
            owned.push(state);
            owned.extend(args.iter().map(|s| s.to_string()));
            let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
            let out = super::common::command(&refs)
                .envs(env)
                .output()
                .await
                .unwrap();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).to_string(),
            )
        }
    };
    let (code, err) = run(
        vec!["--auth", "owner"],
        vec![("ALPACA_MCP_OWNER_SECRET", PASSPHRASE)],
    )
    .await;
    assert_eq!(code, Some(2));
    assert!(err.contains("--public-url"), "{err}");
    let (code, err) = run(
        vec!["--auth", "owner", "--public-url", "http://mcp.example.com"],
        vec![("ALPACA_MCP_OWNER_SECRET", PASSPHRASE)],
    )
    .await;
    assert_eq!(code, Some(2));
    assert!(err.contains("https"), "{err}");
    let (code, err) = run(
        vec!["--auth", "owner", "--public-url", "https://mcp.example.com"],
        vec![],
    )
    .await;
    assert_eq!(code, Some(2));
    assert!(err.contains("ALPACA_MCP_OWNER_SECRET"), "{err}");
    let (code, err) = run(
        vec!["--auth", "owner", "--public-url", "https://mcp.example.com"],
        vec![("ALPACA_MCP_OWNER_SECRET", "short")],
    )
    .await;
    assert_eq!(code, Some(2));
    assert!(err.contains("12") && !err.contains("short"), "{err}");
    let (code, err) = run(
        vec!["--auth", "none", "--public-url", "https://mcp.example.com"],
        vec![],
    )
    .await;
    assert_eq!(code, Some(2));
    assert!(err.contains("--auth none"), "{err}");
    let (code, err) = run(vec!["--auth", "none", "--host", "0.0.0.0"], vec![]).await;
    assert_eq!(code, Some(2));
    assert!(err.contains("--auth none"), "{err}");
}

#[tokio::test]
async fn the_consent_page_says_live_when_the_account_is_live() {
    // Fake keys and an unreachable API: the consent page never calls Alpaca.
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _child = owner_server_with(
        dir.path(),
        port,
        &base,
        &[],
        &[
            ("ALPACA_API_KEY", "PKTESTFAKEFAKEFAKE00"),
            (
                "ALPACA_SECRET_KEY",
                "fake-secret-fake-secret-fake-secret-0000",
            ),
            ("ALPACA_PAPER_TRADE", "false"),
            ("TRADING_API_URL", "http://127.0.0.1:9"),
            ("DATA_API_URL", "http://127.0.0.1:9"),
        ],
    )
    .await;
    let client = register(&base).await;
    let (_, challenge) = pkce();
    let (status, _, page, _) = authorize(&base, &standard(&client, &challenge)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("LIVE account: orders use real money."),
        "{page}"
    );
    assert!(!page.contains("Paper account"));
}

#[tokio::test]
async fn the_owner_can_narrow_a_grant_to_some_toolsets() {
    use rmcp::ServiceExt;
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

    let dir = tempfile::tempdir().unwrap();
    let (_child, base) = owner_server(dir.path(), free_port(), &[]).await;
    let client = register(&base).await;
    let (verifier, challenge) = pkce();
    let (_, cookie, page, _) = authorize(&base, &standard(&client, &challenge)).await;
    let offered = checked_toolsets(&page);
    assert!(offered.len() > 2, "{offered:?}");
    assert!(offered.contains(&"account".to_string()) && offered.contains(&"trading".to_string()));

    // A toolset the server does not offer: the form again, saying so.
    let approve = [
        ("passphrase", PASSPHRASE),
        ("access", "trade"),
        ("decision", "approve"),
    ];
    let mut unknown = approve.to_vec();
    unknown.push(("toolset", "no-such-toolset"));
    let r = answer(&base, &page, cookie.as_deref(), &unknown).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let mut some = approve.to_vec();
    some.extend([("toolset", "account"), ("toolset", "stock-data")]);
    let r = answer(&base, &page, cookie.as_deref(), &some).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let code = query_of(r.headers()["location"].to_str().unwrap())["code"].clone();
    let (_, tokens) = exchange(&base, &client, &code, &verifier).await;
    let access = tokens["access_token"].as_str().unwrap();

    let config =
        StreamableHttpClientTransportConfig::with_uri(format!("{base}/mcp")).auth_header(access);
    let mcp = ().serve(StreamableHttpClientTransport::from_config(config)).await.unwrap();
    let names = super::common::tool_names(&mcp).await;
    assert_eq!(
        names,
        super::common::expected_tool_names(
            Some(vec!["account".into(), "stock-data".into()]),
            false
        )
    );
    assert!(names.contains(&"get_account_info".to_string()));
    assert!(!names.contains(&"place_stock_order".to_string()));
    mcp.cancel().await.ok();

    let list = super::common::command(&[
        "auth",
        "list",
        "--json",
        "--state-dir",
        dir.path().to_str().unwrap(),
    ])
    .output()
    .await
    .unwrap();
    let grants: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(grants[0]["toolsets"], "account,stock-data");
}

#[tokio::test]
async fn browser_based_clients_may_call_the_oauth_endpoints_cross_origin() {
    let dir = tempfile::tempdir().unwrap();
    let (_child, base) = owner_server(dir.path(), free_port(), &[]).await;
    for path in [
        "/register",
        "/token",
        "/revoke",
        "/.well-known/oauth-authorization-server",
    ] {
        let r = http()
            .request(reqwest::Method::OPTIONS, format!("{base}{path}"))
            .header("origin", "http://localhost:6274")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{path}");
        assert_eq!(r.headers()["access-control-allow-origin"], "*");
        assert!(
            r.headers()["access-control-allow-headers"]
                .to_str()
                .unwrap()
                .contains("content-type")
        );
    }
    let r = http()
        .get(format!("{base}/.well-known/oauth-protected-resource/mcp"))
        .header("origin", "https://inspector.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    // The MCP endpoint itself keeps its Origin allowlist.
    let r = http()
        .post(format!("{base}/mcp"))
        .header("origin", "https://inspector.example")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn static_tokens_keep_working_beside_oauth() {
    let dir = tempfile::tempdir().unwrap();
    let token = "static-token-beside-oauth-0123456789";
    let (_child, base) =
        owner_server(dir.path(), free_port(), &[("ALPACA_MCP_HTTP_TOKEN", token)]).await;
    assert_eq!(mcp_status(&base, token).await.0, StatusCode::OK);
    let (status, challenge) = mcp_status(&base, &format!("{token}x")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge.contains("resource_metadata="), "{challenge}");
}

#[tokio::test]
async fn a_client_name_cannot_carry_terminal_escapes_to_the_owner() {
    let dir = tempfile::tempdir().unwrap();
    let (_child, base) = owner_server(dir.path(), free_port(), &[]).await;
    let r = http()
        .post(format!("{base}/register"))
        .json(&json!({"redirect_uris": [REDIRECT], "client_name": "Claude\u{1b}[2J\u{1b}[31m\nfake line"}))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    let name = v["client_name"].as_str().unwrap();
    assert!(!name.chars().any(char::is_control), "{name:?}");
    assert!(name.starts_with("Claude"));
}

#[tokio::test]
async fn a_client_metadata_document_that_redirects_is_oversized_or_not_json_is_refused() {
    // Even with local fetches allowed: no redirect is followed, and the body is bounded.
    use std::sync::atomic::{AtomicUsize, Ordering};
    let target_hits = std::sync::Arc::new(AtomicUsize::new(0));
    let hits = target_hits.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let doc_port = listener.local_addr().unwrap().port();
    let url = |path: &str| format!("http://127.0.0.1:{doc_port}{path}");
    let target = url("/target.json");
    let app = axum::Router::new()
        .route(
            "/redirect.json",
            axum::routing::get(move || {
                let target = target.clone();
                async move { axum::response::Redirect::temporary(&target) }
            }),
        )
        .route(
            "/target.json",
            axum::routing::get(move || {
                hits.fetch_add(1, Ordering::SeqCst);
                async { "{}" }
            }),
        )
        .route(
            "/huge.json",
            axum::routing::get(|| async { "x".repeat(100 * 1024) }),
        )
        .route(
            "/html.json",
            axum::routing::get(|| async { "<html>not json</html>" }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _child = owner_server_with(
        dir.path(),
        port,
        &base,
        &["--sandbox", "--oauth-allow-local-client-metadata"],
        &[],
    )
    .await;
    let (_, challenge) = pkce();
    for (path, says) in [
        ("/redirect.json", "HTTP 307"),
        ("/huge.json", "larger than"),
        ("/html.json", "not valid client metadata"),
    ] {
        let id = url(path);
        let mut params = standard(&id, &challenge);
        params.retain(|(k, _)| *k != "client_id");
        params.push(("client_id", &id));
        let (status, _, body, location) = authorize(&base, &params).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert!(location.is_none());
        assert!(body.contains(says), "{path}: {body}");
    }
    assert_eq!(
        target_hits.load(Ordering::SeqCst),
        0,
        "the redirect was not followed"
    );
}
