//! `--auth alpaca`: users sign in with their own Alpaca accounts through the fake's Alpaca
//! Connect, end to end against the built binary over real HTTP, with the fake outside the
//! server so the test sees what reached it. A small client walks the sign-in: register, our
//! consent page, the fake's sign-in page, our callback, our token endpoint; then rmcp's
//! client calls tools with our tokens.

use std::collections::HashMap;
use std::path::Path;

use alpaca_mock::{Fault, FaultKind, MockConfig, MockServer};
use base64::Engine;
use reqwest::StatusCode;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ServiceExt, model::CallToolRequestParams};
use serde_json::{Value, json};
use sha2::Digest;

use super::common::{BIN, Client};
use super::oauth::free_port;

const REDIRECT: &str = "http://127.0.0.1:9/callback";
pub(super) const APP: (&str, &str) = ("operator-app", "operator-secret");
pub(super) const KEY: &str = "5f0c6a1d2e3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5";

/// The fake, with the operator's Connect app and its live host open.
pub(super) async fn fake() -> MockServer {
    let mut mock = MockServer::start(MockConfig {
        connect_client: Some((APP.0.into(), APP.1.into())),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    mock.open_live_host().await.unwrap();
    mock
}

/// The variables of `--auth alpaca` against `mock`: its hosts, the operator's app, paper and
/// live accounts allowed, the token key.
pub(super) fn connect_env(mock: &MockServer) -> Vec<(&'static str, String)> {
    let url = mock.url();
    let live = mock.live_url().unwrap();
    vec![
        ("TRADING_API_URL", url.clone()),
        ("DATA_API_URL", url.clone()),
        ("ALPACA_CONNECT_CLIENT_ID", APP.0.into()),
        ("ALPACA_CONNECT_CLIENT_SECRET", APP.1.into()),
        (
            "ALPACA_CONNECT_AUTHORIZE_URL",
            format!("{url}/oauth/authorize"),
        ),
        ("ALPACA_CONNECT_TOKEN_URL", format!("{url}/oauth/token")),
        ("ALPACA_CONNECT_PAPER_URL", url),
        ("ALPACA_CONNECT_LIVE_URL", live),
        ("ALPACA_CONNECT_ACCOUNTS", "paper,live".into()),
        ("ALPACA_MCP_TOKEN_KEY", KEY.into()),
    ]
}

/// The server in `--auth alpaca` mode against `mock`, paper and live accounts allowed; the
/// child, its base URL and its log.
async fn server(
    mock: &MockServer,
    dir: &Path,
    extra_env: &[(&str, &str)],
) -> (
    tokio::process::Child,
    String,
    std::sync::Arc<std::sync::Mutex<String>>,
) {
    server_on(free_port(), mock, dir, extra_env).await
}

/// [`server`] on `port` (a restarted server keeps its public URL, which tokens are bound to).
async fn server_on(
    port: u16,
    mock: &MockServer,
    dir: &Path,
    extra_env: &[(&str, &str)],
) -> (
    tokio::process::Child,
    String,
    std::sync::Arc<std::sync::Mutex<String>>,
) {
    let base = format!("http://127.0.0.1:{port}");
    let port_s = port.to_string();
    let owned = connect_env(mock);
    let mut env: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.extend_from_slice(extra_env);
    let args = [
        "--port",
        &port_s,
        "--auth",
        "alpaca",
        "--public-url",
        &base,
        "--state-dir",
        dir.to_str().unwrap(),
    ];
    let (child, _, log) = support::bin::spawn_http(BIN, &args, &env).await;
    (child, base, log)
}

/// An `initialize` POSTed to `/mcp` with `token`: the raw answer (a 401 once a grant ended).
async fn initialize_with(base: &str, token: &str) -> reqwest::Response {
    http()
        .post(format!("{base}/mcp"))
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "t", "version": "0"}}})
            .to_string(),
        )
        .send()
        .await
        .unwrap()
}

fn http() -> reqwest::Client {
    http_for(&Via::one(""))
}

/// [`http`] as `via` says: telling a proxy in front that requests come from `via.from`, and
/// trusting only `via.ca` when it is given.
pub(super) fn http_for(via: &Via<'_>) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(ip) = via.from {
        headers.insert("x-forwarded-for", ip.parse().unwrap());
    }
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers);
    if let Some(ca) = via.ca {
        b = b.tls_certs_only([ca.clone()]);
    }
    b.build().unwrap()
}

fn pkce() -> (String, String) {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).unwrap();
    let verifier: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[start..start + html[start..].find('"').unwrap()].replace("&amp;", "&")
}

/// The consent form's fields as a browser sends them: its hidden values, the toolset boxes
/// (all checked), and `fields`.
fn consent_form(html: &str, fields: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut form = vec![
        ("request".to_string(), hidden(html, "request")),
        ("csrf".to_string(), hidden(html, "csrf")),
    ];
    for rest in html
        .split("<input type=\"checkbox\" name=\"toolset\" value=\"")
        .skip(1)
    {
        form.push((
            "toolset".into(),
            rest.split('"').next().unwrap().to_string(),
        ));
    }
    form.extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    form
}

fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_string()
}

fn cookie(r: &reqwest::Response) -> String {
    r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

fn query_of(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Where each step of a sign-in goes: the server's public URL, and the origin each request
/// is sent to (the same server, or one replica per step).
#[derive(Clone, Copy)]
pub(super) struct Via<'a> {
    pub public: &'a str,
    /// `/register`, `GET /authorize`, `POST /authorize`, `/callback`, `/token`.
    pub steps: [&'a str; 5],
    /// The client address a proxy in front is told (`X-Forwarded-For`), if any.
    pub from: Option<&'a str>,
    /// The one certificate authority to trust (a TLS proxy's own), if any.
    pub ca: Option<&'a reqwest::Certificate>,
}

impl<'a> Via<'a> {
    /// Every step at `base`.
    pub fn one(base: &'a str) -> Via<'a> {
        Via {
            public: base,
            steps: [base; 5],
            from: None,
            ca: None,
        }
    }

    /// `url` (at the public URL) sent to step `i`'s origin.
    fn at(&self, i: usize, url: &str) -> String {
        match url.strip_prefix(self.public) {
            Some(rest) => format!("{}{rest}", self.steps[i]),
            None => url.to_string(),
        }
    }
}

/// How a sign-in goes at the fake's Alpaca page.
pub(super) struct AtAlpaca<'a> {
    /// The name to sign in as (each name is its own account).
    name: &'a str,
    /// The account picked there: `paper` or `live`.
    env: &'a str,
    /// `allow` or `deny`.
    decision: &'a str,
}

/// Walks a sign-in up to our callback's answer: registers a client, answers our consent page
/// with `account` (`paper`/`live`) and `access` (`read`/`trade`), signs in at the fake as
/// `alpaca` says, and follows the fake's redirect to our callback. The callback's answer and
/// the client id and PKCE verifier.
async fn sign_in_to_callback(
    base: &str,
    account: &str,
    access: &str,
    alpaca: AtAlpaca<'_>,
) -> (reqwest::Response, String, String) {
    sign_in_to_callback_via(Via::one(base), account, access, alpaca).await
}

/// [`sign_in_to_callback`], each step sent where `via` says.
pub(super) async fn sign_in_to_callback_via(
    via: Via<'_>,
    account: &str,
    access: &str,
    alpaca: AtAlpaca<'_>,
) -> (reqwest::Response, String, String) {
    let base = via.public;
    let http = http_for(&via);
    let r = http
        .post(format!("{}/register", via.steps[0]))
        .json(&json!({"redirect_uris": [REDIRECT], "client_name": "connect test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let client = r.json::<Value>().await.unwrap()["client_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (verifier, challenge) = pkce();
    let page = http
        .get(format!("{}/authorize", via.steps[1]))
        .query(&[
            ("response_type", "code"),
            ("client_id", client.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("state", "client-state"),
            ("scope", "read trade"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let consent_cookie = cookie(&page);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Continue to Alpaca") && !html.contains("passphrase"),
        "{html}"
    );
    if account == "live" {
        assert!(
            html.contains("name=\"account\" value=\"live\""),
            "live is offered"
        );
    }
    let to_alpaca = http
        .post(format!("{}/authorize", via.steps[2]))
        .header("cookie", &consent_cookie)
        .form(&consent_form(
            &html,
            &[
                ("account", account),
                ("access", access),
                ("decision", "approve"),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(to_alpaca.status(), StatusCode::SEE_OTHER);
    let browser = cookie(&to_alpaca);
    let alpaca_page = location(&to_alpaca);
    let q = query_of(&alpaca_page);
    assert_eq!(q["client_id"], APP.0);
    assert_eq!(q["redirect_uri"], format!("{base}/callback"));
    let wanted = if access == "trade" {
        "account:write trading data"
    } else {
        "data"
    };
    assert_eq!(q["scope"], wanted);
    let page = http.get(&alpaca_page).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    let form_action = format!(
        "{}/oauth/authorize",
        alpaca_page.split("/oauth/").next().unwrap()
    );
    let back = http
        .post(form_action)
        .form(&[
            ("client_id", hidden(&html, "client_id")),
            ("redirect_uri", hidden(&html, "redirect_uri")),
            ("state", hidden(&html, "state")),
            ("username", alpaca.name.to_string()),
            ("env", alpaca.env.to_string()),
            ("decision", alpaca.decision.to_string()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), StatusCode::FOUND);
    let callback = location(&back);
    assert!(
        callback.starts_with(&format!("{base}/callback?")),
        "{callback}"
    );
    let answer = http
        .get(via.at(3, &callback))
        .header("cookie", &browser)
        .send()
        .await
        .unwrap();
    (answer, client, verifier)
}

/// A whole sign-in: our access token for `name`'s `env` account with `access`.
async fn sign_in(base: &str, name: &str, env: &str, access: &str) -> String {
    sign_in_via(Via::one(base), name, env, access).await
}

/// [`sign_in`], each step sent where `via` says.
pub(super) async fn sign_in_via(via: Via<'_>, name: &str, env: &str, access: &str) -> String {
    let base = via.public;
    let (answer, client, verifier) = sign_in_to_callback_via(
        via,
        env,
        access,
        AtAlpaca {
            name,
            env,
            decision: "allow",
        },
    )
    .await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let q = query_of(&location(&answer));
    assert_eq!(q["state"], "client-state");
    assert_eq!(q["iss"], base);
    let code = q.get("code").unwrap_or_else(|| panic!("a code: {q:?}"));
    let r = http_for(&via)
        .post(format!("{}/token", via.steps[4]))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", client.as_str()),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    v["access_token"].as_str().unwrap().to_string()
}

pub(super) async fn client(base: &str, token: &str) -> Client {
    connected(StreamableHttpClientTransport::from_config(mcp_config(
        base, token,
    )))
    .await
}

/// [`client`] over `http` (one that trusts a TLS proxy's authority, say) in place of rmcp's
/// own HTTP client.
pub(super) async fn client_over(http: reqwest::Client, base: &str, token: &str) -> Client {
    connected(StreamableHttpClientTransport::with_client(
        http,
        mcp_config(base, token),
    ))
    .await
}

fn mcp_config(base: &str, token: &str) -> StreamableHttpClientTransportConfig {
    StreamableHttpClientTransportConfig::with_uri(format!("{base}/mcp")).auth_header(token)
}

async fn connected(transport: StreamableHttpClientTransport<reqwest::Client>) -> Client {
    ().serve(transport)
        .await
        .expect("initialize with our token")
}

pub(super) async fn call(client: &Client, name: &str, args: Value) -> rmcp::model::CallToolResult {
    client
        .call_tool(
            CallToolRequestParams::new(name.to_string())
                .with_arguments(args.as_object().cloned().unwrap_or_default()),
        )
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

pub(super) fn text(r: &rmcp::model::CallToolResult) -> String {
    support::mcp::text(r)
}

fn instructions(client: &Client) -> String {
    client
        .peer_info()
        .and_then(|i| i.instructions.clone())
        .unwrap_or_default()
}

/// A market buy of `qty` `symbol` through `place_stock_order`; the order's id and
/// client_order_id, and the result's `mode`.
async fn buy(client: &Client, symbol: &str, qty: &str) -> (String, String, String) {
    let r = call(
        client,
        "place_stock_order",
        json!({"symbol": symbol, "qty": qty, "side": "buy", "type": "market", "time_in_force": "day"}),
    )
    .await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    let env = support::mcp::envelope(&r);
    let data = support::mcp::data(&r);
    (
        data["id"].as_str().unwrap().to_string(),
        data["client_order_id"].as_str().unwrap().to_string(),
        env["mode"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test]
async fn each_user_trades_their_own_account_and_never_sees_another_users() {
    let mock = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base, log) = server(&mock, dir.path(), &[]).await;
    let alice_token = sign_in(&base, "alice", "paper", "trade").await;
    let bob_token = sign_in(&base, "bob", "live", "trade").await;
    let alice = client(&base, &alice_token).await;
    let bob = client(&base, &bob_token).await;

    // Each is told which account they act on.
    assert!(
        instructions(&alice).contains("PAPER trading"),
        "{}",
        instructions(&alice)
    );
    assert!(
        instructions(&bob).contains("LIVE trading"),
        "{}",
        instructions(&bob)
    );

    let (a_order, a_client_order, a_mode) = buy(&alice, "AMD", "3").await;
    let (b_order, _, b_mode) = buy(&bob, "MSFT", "1").await;
    assert_eq!((a_mode.as_str(), b_mode.as_str()), ("paper", "live"));
    let r = call(
        &alice,
        "create_watchlist",
        json!({"name": "alice-secret-list", "symbols": ["AMD"]}),
    )
    .await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    let a_list = support::mcp::data(&r)["id"].as_str().unwrap().to_string();
    let a_account = support::mcp::data(&call(&alice, "get_account_info", json!({})).await)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b_account = support::mcp::data(&call(&bob, "get_account_info", json!({})).await)["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(a_account, b_account);

    // What reached the fake: each order in its own user's account (bob's live one), none in
    // the primary account, which no one here has keys for.
    let in_book = |name: &str| mock.state().as_account(name, |s| s.orders().len());
    assert_eq!(
        (in_book("alice"), in_book("bob@live"), in_book("primary")),
        (1, 1, 0)
    );

    // Every tool that reads account data, as bob, holds nothing of alice's; the arguments of
    // those that take ids are alice's own ids.
    let alice_marks = [
        a_order.as_str(),
        a_client_order.as_str(),
        a_list.as_str(),
        "alice-secret-list",
        a_account.as_str(),
        "AMD",
    ];
    let args_for = |tool: &str| -> Value {
        match tool {
            "get_order_by_id" => json!({"order_id": a_order}),
            "get_order_by_client_id" => json!({"client_order_id": a_client_order}),
            "get_watchlist_by_id" => json!({"watchlist_id": a_list}),
            "get_open_position" => json!({"symbol_or_asset_id": "AMD"}),
            "get_account_activities_by_type" => json!({"activity_type": "FILL"}),
            "get_orders" => json!({"status": "all"}),
            _ => json!({}),
        }
    };
    let account_tools: Vec<String> =
        alpaca_mcp::registry::enabled(&alpaca_mcp::registry::ToolFilter::every_compiled())
            .unwrap()
            .iter()
            .filter(|t| {
                t.annotations().read_only
                    && ["account", "trading", "watchlists"].contains(&t.toolset())
            })
            .map(|t| t.name().to_string())
            .collect();
    assert!(account_tools.len() >= 12, "{account_tools:?}");
    let mut seen_by_alice = 0;
    for tool in &account_tools {
        let args = args_for(tool);
        let asked = args.to_string();
        let bob_got = call(&bob, tool, args.clone()).await;
        let as_bob = text(&bob_got);
        // An id or symbol of alice's asked for by name is not found for bob (an error may
        // repeat what was asked; nothing else of hers is in it).
        if [
            "get_order_by_id",
            "get_order_by_client_id",
            "get_watchlist_by_id",
            "get_open_position",
        ]
        .contains(&tool.as_str())
        {
            assert_eq!(bob_got.is_error, Some(true), "bob's {tool}: {as_bob}");
        }
        for mark in alice_marks.iter().filter(|m| !asked.contains(*m)) {
            assert!(
                !as_bob.contains(mark),
                "bob's {tool} shows alice's {mark}: {as_bob}"
            );
        }
        // The same call as alice does show her data where the tool lists it, so a mark
        // missing from bob's answer means something.
        let as_alice = text(&call(&alice, tool, args).await);
        if alice_marks.iter().any(|m| as_alice.contains(m)) {
            seen_by_alice += 1;
        }
    }
    assert!(
        seen_by_alice >= 8,
        "alice's own calls show her data ({seen_by_alice})"
    );

    // Resources and prompts, as bob.
    let resources = bob.list_all_resources().await.unwrap();
    assert!(resources.len() >= 3);
    let mut uris: Vec<String> = resources.iter().map(|r| r.uri.clone()).collect();
    uris.push("alpaca://positions/AMD".into());
    for uri in uris {
        let read = bob
            .read_resource(rmcp::model::ReadResourceRequestParams::new(uri.clone()))
            .await;
        let shown = format!("{read:?}");
        for mark in alice_marks.iter().filter(|m| !uri.contains(*m)) {
            assert!(!shown.contains(mark), "bob's {uri} shows alice's {mark}");
        }
    }
    for prompt in bob.list_all_prompts().await.unwrap() {
        let mut args = serde_json::Map::new();
        args.insert("symbol".into(), json!("AMD"));
        let got = bob
            .get_prompt(
                rmcp::model::GetPromptRequestParams::new(prompt.name.clone()).with_arguments(args),
            )
            .await;
        let shown = format!("{got:?}");
        for mark in &alice_marks[..5] {
            assert!(
                !shown.contains(mark),
                "bob's prompt {} shows alice's {mark}",
                prompt.name
            );
        }
    }

    // Bob cannot use alice's session by its id.
    let alice_session = {
        let r = http()
            .post(format!("{base}/mcp"))
            .bearer_auth(&alice_token)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(
                json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-11-25", "capabilities": {},
                "clientInfo": {"name": "t", "version": "0"}}})
                .to_string(),
            )
            .send()
            .await
            .unwrap();
        r.headers()["mcp-session-id"].to_str().unwrap().to_string()
    };
    let hijack = http()
        .post(format!("{base}/mcp"))
        .bearer_auth(&bob_token)
        .header("mcp-session-id", &alice_session)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(hijack.status(), StatusCode::NOT_FOUND);

    // The Alpaca tokens are nowhere in the state file (sealed) or the log.
    let _ = alice.cancel().await;
    let _ = bob.cancel().await;
    child.kill().await.unwrap();
    let mut stored = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        stored.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    let stored = String::from_utf8_lossy(&stored);
    let log = log.lock().unwrap().clone();
    assert!(log.contains("a user signed in with Alpaca"), "{log}");
    for place in [&*stored, log.as_str()] {
        assert!(
            !place.contains("fake-token-"),
            "an Alpaca token in the clear"
        );
        assert!(!place.contains(&alice_token) && !place.contains(&bob_token));
    }
    let _ = b_order;
}

#[tokio::test]
async fn a_token_revoked_at_alpaca_ends_that_users_grant_only() {
    let mock = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let (_child, base, _log) = server(&mock, dir.path(), &[]).await;
    let alice_token = sign_in(&base, "alice", "paper", "read").await;
    let bob_token = sign_in(&base, "bob", "paper", "read").await;
    let alice = client(&base, &alice_token).await;
    let bob = client(&base, &bob_token).await;
    assert_ne!(
        call(&alice, "get_account_info", json!({})).await.is_error,
        Some(true)
    );

    // Alice removes the app in Alpaca's dashboard.
    assert_eq!(mock.state().revoke_account("alice", false), 1);
    let r = call(&alice, "get_account_info", json!({})).await;
    assert_eq!(r.is_error, Some(true));
    assert!(
        text(&r).contains("sign in with Alpaca again"),
        "{}",
        text(&r)
    );
    // Her grant has ended: the next request is 401, pointing at the resource metadata.
    let next = initialize_with(&base, &alice_token).await;
    assert_eq!(next.status(), StatusCode::UNAUTHORIZED);
    let challenge = next.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains("invalid_token")
            && challenge.contains(&format!(
                "resource_metadata=\"{base}/.well-known/oauth-protected-resource/mcp\""
            )),
        "{challenge}"
    );
    // Bob is untouched.
    assert_ne!(
        call(&bob, "get_account_info", json!({})).await.is_error,
        Some(true)
    );
}

#[tokio::test]
async fn an_answer_for_another_account_is_withheld_and_ends_that_grant() {
    let mock = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let (_child, base, log) = server(&mock, dir.path(), &[]).await;
    let alice_token = sign_in(&base, "alice", "paper", "read").await;
    let bob_token = sign_in(&base, "bob", "paper", "read").await;
    let alice = client(&base, &alice_token).await;
    let bob = client(&base, &bob_token).await;
    let own = support::data(&call(&alice, "get_account_info", json!({})).await);
    let bobs = support::data(&call(&bob, "get_account_info", json!({})).await);
    assert_ne!(own["id"], bobs["id"]);

    // Alpaca (the fake) starts answering Alice's token with Bob's account.
    let state = mock.state();
    let hers: Vec<String> = state
        .issued_tokens()
        .into_iter()
        .filter(|t| state.token_account(t) == Some(("alice".into(), false)))
        .collect();
    assert_eq!(hers.len(), 1);
    assert!(state.reassign_token(&hers[0], "bob"));
    mock.clear_requests();
    let r = call(&alice, "get_account_info", json!({})).await;
    assert_eq!(r.is_error, Some(true));
    let t = text(&r);
    assert!(
        t.contains("another account") && t.contains("sign in with Alpaca again"),
        "{t}"
    );
    for field in ["id", "account_number", "cash", "equity"] {
        let v = bobs[field].as_str().unwrap();
        assert!(!t.contains(v), "Bob's {field} reached Alice: {t}");
    }
    assert_eq!(mock.requests().len(), 1, "asked once, not retried");
    assert!(
        log.lock()
            .unwrap()
            .contains("another account than the one they signed in with"),
        "{}",
        log.lock().unwrap()
    );
    // Her grant has ended: her token is refused here, and nothing more goes out with it.
    let next = initialize_with(&base, &alice_token).await;
    assert_eq!(next.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(mock.requests().len(), 1, "{:?}", mock.requests());
    // Bob is untouched.
    assert_eq!(
        support::data(&call(&bob, "get_account_info", json!({})).await)["id"],
        bobs["id"]
    );
}

#[tokio::test]
async fn a_sign_in_holds_only_as_it_was_started() {
    let mock = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let (_child, base, _log) = server(&mock, dir.path(), &[]).await;

    // Live chosen here, paper picked at Alpaca: the token does not reach a live account.
    let (answer, _, _) = sign_in_to_callback(
        &base,
        "live",
        "read",
        AtAlpaca {
            name: "carol",
            env: "paper",
            decision: "allow",
        },
    )
    .await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let q = query_of(&location(&answer));
    assert_eq!(q["error"], "access_denied");
    assert!(q["error_description"].contains("live account"), "{q:?}");
    assert!(!q.contains_key("code"));

    // Denied at Alpaca: the client hears access_denied.
    let (answer, _, _) = sign_in_to_callback(
        &base,
        "paper",
        "read",
        AtAlpaca {
            name: "carol",
            env: "paper",
            decision: "deny",
        },
    )
    .await;
    let q = query_of(&location(&answer));
    assert_eq!(
        (q["error"].as_str(), q["state"].as_str()),
        ("access_denied", "client-state")
    );

    // A callback with an altered state, or from another browser, is refused.
    let r = http()
        .get(format!("{base}/callback?code=x&state=v1.abcd.AAAA"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let http = http();
    let r = http
        .post(format!("{base}/register"))
        .json(&json!({"redirect_uris": [REDIRECT]}))
        .send()
        .await
        .unwrap();
    let client_id = r.json::<Value>().await.unwrap()["client_id"]
        .as_str()
        .unwrap()
        .to_string();
    let challenge = pkce().1;
    let page = http
        .get(format!("{base}/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    let consent_cookie = cookie(&page);
    let html = page.text().await.unwrap();
    let to_alpaca = http
        .post(format!("{base}/authorize"))
        .header("cookie", &consent_cookie)
        .form(&consent_form(&html, &[("decision", "approve")]))
        .send()
        .await
        .unwrap();
    let state = query_of(&location(&to_alpaca))["state"].clone();
    let without_cookie = http
        .get(format!("{base}/callback"))
        .query(&[("code", "x"), ("state", state.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(without_cookie.status(), StatusCode::FORBIDDEN);
    // Nothing reached Alpaca's token endpoint for the forged callbacks.
    let exchanges = mock
        .requests()
        .iter()
        .filter(|r| r.path == "/oauth/token")
        .count();
    assert_eq!(
        exchanges, 1,
        "only carol's real paper sign-in was exchanged"
    );
}

#[tokio::test]
async fn alpaca_mode_refuses_setups_without_its_app_or_key() {
    let mock = fake().await;
    for (unset, expect) in [
        ("ALPACA_CONNECT_CLIENT_ID", "ALPACA_CONNECT_CLIENT_ID"),
        ("ALPACA_MCP_TOKEN_KEY", "ALPACA_MCP_TOKEN_KEY_FILE"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let base = "http://127.0.0.1:9";
        let url = mock.url();
        let mut env: Vec<(&str, &str)> = vec![
            ("ALPACA_CONNECT_CLIENT_ID", APP.0),
            ("ALPACA_CONNECT_CLIENT_SECRET", APP.1),
            ("ALPACA_MCP_TOKEN_KEY", KEY),
            ("TRADING_API_URL", &url),
        ];
        env.retain(|(k, _)| *k != unset);
        let out = super::common::command(&[
            "--transport",
            "http",
            "--port",
            "0",
            "--auth",
            "alpaca",
            "--public-url",
            base,
            "--state-dir",
            dir.path().to_str().unwrap(),
        ])
        .envs(env)
        .output()
        .await
        .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expect), "{err}");
        assert!(!err.contains(APP.1) && !err.contains(KEY), "{err}");
    }
}

#[tokio::test]
async fn rotating_the_token_key_keeps_every_sign_in() {
    const NEW: &str = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf";
    let mock = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let port = free_port();
    let (mut child, base, _) = server_on(port, &mock, &state, &[]).await;
    let token = sign_in(&base, "alice", "paper", "read").await;
    child.kill().await.unwrap();
    let _ = child.wait().await;

    let auth = |args: &[&str], key_file: &Path| {
        let mut all = vec!["auth"];
        all.extend_from_slice(args);
        all.extend(["--state-dir", state.to_str().unwrap()]);
        let mut cmd = super::common::command(&all);
        cmd.env("ALPACA_MCP_TOKEN_KEY_FILE", key_file);
        cmd
    };
    let listed = auth(&["list", "--json"], Path::new("/nonexistent"))
        .output()
        .await
        .unwrap();
    let rows: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(rows[0]["account_mode"], "paper", "{rows}");
    assert!(
        rows[0]["alpaca_account"]
            .as_str()
            .is_some_and(|a| a.len() == 36)
    );

    // The new key first, the old one kept below it: rekey seals everything with the new one.
    let both = dir.path().join("keys");
    std::fs::write(&both, format!("{NEW}\n{KEY}\n")).unwrap();
    let out = auth(&["rekey"], &both).output().await.unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("Sealed 1 Alpaca token(s) again"), "{said}");
    // The old key can go: the server with the new key only still acts for alice.
    let new_only = dir.path().join("new");
    std::fs::write(&new_only, format!("{NEW}\n")).unwrap();
    let new_only_s = new_only.to_str().unwrap().to_string();
    let (_child, _, _) = server_on(
        port,
        &mock,
        &state,
        &[("ALPACA_MCP_TOKEN_KEY_FILE", new_only_s.as_str())],
    )
    .await;
    let alice = client(&base, &token).await;
    let r = call(&alice, "get_account_info", json!({})).await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    // A ring without the key it was sealed with cannot open it, and says so.
    let other = dir.path().join("other");
    std::fs::write(&other, format!("{KEY}\n")).unwrap();
    let out = auth(&["rekey"], &other).output().await.unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("must sign in again"));
}

#[tokio::test]
async fn odd_answers_from_alpaca_end_the_sign_in_and_the_token_follows_no_redirect() {
    let mock = fake().await;
    // Another host: where a redirect would take the code or the token.
    let elsewhere = MockServer::start(MockConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base, log) = server(&mock, dir.path(), &[]).await;
    let answer = |body: &str| FaultKind::Status {
        status: 200,
        body: Some(body.to_string()),
        headers: vec![("content-type".into(), "application/json".into())],
    };
    let at_token = |kind| Fault::new("/oauth/token", kind).once();
    let at_account = |kind| Fault::new("/v2/account", kind).method("GET").once();
    let cases = [
        (
            "the token endpoint redirects to another host",
            at_token(FaultKind::redirect(
                307,
                format!("{}/oauth/token", elsewhere.url()),
            )),
            false,
            "server_error",
        ),
        (
            "the token endpoint answers 500",
            at_token(FaultKind::status(500)),
            false,
            "server_error",
        ),
        (
            "the token endpoint issues a token but answers something that is not JSON",
            at_token(FaultKind::NotJson).record_anyway(),
            false,
            "server_error",
        ),
        (
            "the token endpoint answers a blank access_token",
            at_token(answer(r#"{"access_token": "", "token_type": "bearer"}"#)),
            false,
            "server_error",
        ),
        (
            "the token endpoint answers a token that is not a string",
            at_token(answer(r#"{"access_token": 12345, "token_type": "bearer"}"#)),
            false,
            "server_error",
        ),
        (
            "the token endpoint answers more than any token is",
            at_token(answer(&format!(
                r#"{{"access_token": "{}", "token_type": "bearer"}}"#,
                "x".repeat(100_000)
            ))),
            false,
            "server_error",
        ),
        (
            "the account check redirects to another host",
            at_account(FaultKind::redirect(
                302,
                format!("{}/v2/account", elsewhere.url()),
            )),
            true,
            "server_error",
        ),
        (
            "the account answer has no id",
            at_account(answer(
                r#"{"account_number": "PA0000", "status": "ACTIVE"}"#,
            )),
            true,
            "server_error",
        ),
        (
            "the account check answers 503",
            at_account(FaultKind::status(503)),
            true,
            "server_error",
        ),
        (
            "the account check answers 403",
            at_account(FaultKind::status(403)),
            true,
            "access_denied",
        ),
    ];
    for (what, fault, reaches_account, error) in cases {
        mock.clear_requests();
        mock.inject(fault);
        let (answer, _, _) = sign_in_to_callback(
            &base,
            "paper",
            "trade",
            AtAlpaca {
                name: "dave",
                env: "paper",
                decision: "allow",
            },
        )
        .await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{what}");
        let q = query_of(&location(&answer));
        assert_eq!(
            q.get("error").map(String::as_str),
            Some(error),
            "{what}: {q:?}"
        );
        assert_eq!(q["state"], "client-state", "{what}");
        assert!(!q.contains_key("code"), "{what}: no code is issued");
        let seen = mock.requests();
        let count = |path: &str| seen.iter().filter(|r| r.path == path).count();
        assert_eq!(count("/oauth/token"), 1, "{what}: one exchange, no retry");
        assert_eq!(
            count("/v2/account"),
            usize::from(reaches_account),
            "{what}: the account is checked once, only with a token in hand"
        );
    }
    assert!(
        elsewhere.requests().is_empty(),
        "nothing followed a redirect: {:?}",
        elsewhere.requests()
    );
    // Tokens were issued for the non-JSON answer and the four account checks.
    let failed_tokens = mock.state().issued_tokens();
    assert_eq!(failed_tokens.len(), 5, "{failed_tokens:?}");

    // Nothing was kept of the failed sign-ins, and a good one still works.
    mock.clear_requests();
    let token = sign_in(&base, "dave", "paper", "trade").await;
    let dave = client(&base, &token).await;
    let account = call(&dave, "get_account_info", json!({})).await;
    assert_ne!(account.is_error, Some(true), "{}", text(&account));
    let _ = dave.cancel().await;
    child.kill().await.unwrap();
    let _ = child.wait().await;
    let listed = super::common::command(&[
        "auth",
        "list",
        "--json",
        "--state-dir",
        dir.path().to_str().unwrap(),
    ])
    .env("ALPACA_MCP_TOKEN_KEY", KEY)
    .output()
    .await
    .unwrap();
    let rows: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(rows.as_array().map(Vec::len), Some(1), "{rows}");
    let mut stored = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        stored.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    let stored = String::from_utf8_lossy(&stored);
    let log = log.lock().unwrap().clone();
    let all_tokens = mock.state().issued_tokens();
    assert_eq!(all_tokens.len(), 6);
    for t in &all_tokens {
        assert!(
            !stored.contains(t.as_str()) && !log.contains(t.as_str()),
            "an Alpaca token in the clear"
        );
    }
    assert!(
        log.contains("the account check of an Alpaca sign-in failed"),
        "{log}"
    );
}
