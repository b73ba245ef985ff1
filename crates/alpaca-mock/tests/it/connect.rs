//! Alpaca Connect in the fake: the sign-in page, the code exchange (once, for the client and
//! redirect it was issued to), tokens that each serve their own account and nobody else's,
//! and revocation (401 for that token only).

use alpaca_mock::{MockConfig, MockServer};
use serde_json::{Value, json};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs `name` in through the page and the exchange; the token.
async fn sign_in(mock: &MockServer, name: &str, env: &str) -> String {
    let http = client();
    let base = mock.url();
    let page = http
        .get(format!("{base}/oauth/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", "app-1"),
            ("redirect_uri", "http://127.0.0.1:9/callback"),
            ("state", "s-1"),
            ("scope", "account:write trading data"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains(r#"name="username""#) && html.contains("app-1"),
        "{html}"
    );
    let back = http
        .post(format!("{base}/oauth/authorize"))
        .form(&[
            ("client_id", "app-1"),
            ("redirect_uri", "http://127.0.0.1:9/callback"),
            ("state", "s-1"),
            ("username", name),
            ("env", env),
            ("decision", "allow"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), 302);
    let location = url::Url::parse(back.headers()["location"].to_str().unwrap()).unwrap();
    let q: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "s-1");
    let code = q["code"].clone();
    let exchange = |redirect: &'static str| {
        http.post(format!("{base}/oauth/token")).form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("client_id", "app-1"),
            ("client_secret", "secret-1"),
            ("redirect_uri", redirect),
        ])
    };
    // The code is bound to its redirect.
    let wrong = exchange("http://127.0.0.1:9/elsewhere")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 400);
    let ok: Value = exchange("http://127.0.0.1:9/callback")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let again = exchange("http://127.0.0.1:9/callback")
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400, "a code is used once");
    assert_eq!(ok["token_type"], "bearer");
    ok["access_token"].as_str().unwrap().to_string()
}

/// The trading host of a token's account: the live one for a live account.
fn host_of(mock: &MockServer, token: &str) -> String {
    match mock.state().token_account(token) {
        Some((_, true)) => mock.live_url().expect("the live host is open"),
        _ => mock.url(),
    }
}

async fn get(mock: &MockServer, token: &str, path: &str) -> (u16, Value) {
    let r = client()
        .get(format!("{}{path}", host_of(mock, token)))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn post(mock: &MockServer, token: &str, path: &str, body: Value) -> Value {
    let r = client()
        .post(format!("{}{path}", host_of(mock, token)))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    r.json().await.unwrap()
}

#[tokio::test]
async fn each_signed_in_user_has_an_account_of_their_own() {
    let mut mock = MockServer::start(MockConfig::default()).await.unwrap();
    let live = mock.open_live_host().await.unwrap();
    let alice = sign_in(&mock, "alice", "paper").await;
    let bob = sign_in(&mock, "bob", "live").await;
    assert_ne!(alice, bob);
    assert_eq!(mock.state().token_account(&bob), Some(("bob".into(), true)));
    // Each token works on its own account's host only.
    for (base, token) in [(mock.url(), &bob), (live.clone(), &alice)] {
        let r = client()
            .get(format!("{base}/v2/account"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{base}");
    }

    let order = json!({"symbol": "AAPL", "qty": "3", "side": "buy", "type": "market", "time_in_force": "day"});
    let a1 = post(&mock, &alice, "/v2/orders", order.clone()).await;
    post(
        &mock,
        &alice,
        "/v2/watchlists",
        json!({"name": "alice-list", "symbols": ["NVDA"]}),
    )
    .await;
    let b1 = post(&mock, &bob, "/v2/orders", json!({"symbol": "MSFT", "qty": "1", "side": "buy", "type": "market", "time_in_force": "day"})).await;
    assert_ne!(a1["id"], b1["id"], "ids never repeat across accounts");

    let (_, a_orders) = get(&mock, &alice, "/v2/orders?status=all").await;
    let (_, b_orders) = get(&mock, &bob, "/v2/orders?status=all").await;
    let symbols = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|o| o["symbol"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(symbols(&a_orders), ["AAPL"]);
    assert_eq!(symbols(&b_orders), ["MSFT"]);
    let (_, a_pos) = get(&mock, &alice, "/v2/positions").await;
    let (_, b_pos) = get(&mock, &bob, "/v2/positions").await;
    assert_eq!(symbols(&a_pos), ["AAPL"]);
    assert_eq!(symbols(&b_pos), ["MSFT"]);
    let (_, b_lists) = get(&mock, &bob, "/v2/watchlists").await;
    assert_eq!(b_lists, json!([]), "bob sees none of alice's watchlists");
    let (status, _) = get(
        &mock,
        &bob,
        &format!("/v2/orders/{}", a1["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(status, 404, "nor her order by its id");
    // The key-authenticated (primary) account saw nothing of either.
    assert!(mock.state().orders().is_empty());
    let in_alice = mock.state().as_account("alice", |s| s.orders().len());
    assert_eq!(in_alice, 1);
    assert_eq!(mock.state().accounts(), ["alice", "bob@live", "primary"]);
}

#[tokio::test]
async fn a_revoked_token_is_401_and_nobody_else_is_affected() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let alice = sign_in(&mock, "alice", "paper").await;
    let bob = mock.state().issue_token("bob", false);
    assert_eq!(get(&mock, &alice, "/v2/account").await.0, 200);
    let r = client()
        .post(format!("{}/oauth/revoke", mock.url()))
        .form(&[("token", alice.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (status, body) = get(&mock, &alice, "/v2/account").await;
    assert_eq!(status, 401);
    assert_eq!(body["code"], 40110000);
    assert_eq!(get(&mock, &bob, "/v2/account").await.0, 200);
    assert_eq!(mock.state().token_account(&alice), None);
}

#[tokio::test]
async fn a_configured_client_must_present_its_secret_and_a_denial_gives_no_code() {
    let mock = MockServer::start(MockConfig {
        connect_client: Some(("app-1".into(), "right".into())),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let r = client()
        .post(format!("{}/oauth/token", mock.url()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "anything"),
            ("client_id", "app-1"),
            ("client_secret", "wrong"),
            ("redirect_uri", "http://127.0.0.1:9/callback"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let denied = client()
        .post(format!("{}/oauth/authorize", mock.url()))
        .form(&[
            ("client_id", "app-1"),
            ("redirect_uri", "http://127.0.0.1:9/callback"),
            ("state", "s"),
            ("username", "carol"),
            ("decision", "deny"),
        ])
        .send()
        .await
        .unwrap();
    let location = denied.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.contains("error=access_denied") && !location.contains("code="),
        "{location}"
    );
    assert!(!mock.state().accounts().contains(&"carol".to_string()));
}

#[tokio::test]
async fn two_fakes_never_issue_the_same_token_and_a_reassigned_token_answers_for_its_new_account() {
    // Same seed, same requests: still different tokens (they are random, not counted), so
    // fakes side by side (sandbox replicas, test servers) never share one.
    let a = MockServer::start(MockConfig::default()).await.unwrap();
    let b = MockServer::start(MockConfig::default()).await.unwrap();
    let (ta, tb) = (
        a.state().issue_token("alice", false),
        b.state().issue_token("alice", false),
    );
    assert_ne!(ta, tb);
    assert!(ta.len() >= 32 + "fake-token-".len(), "{ta}");
    assert_eq!(b.state().token_account(&ta), None);
    let alice = get(&a, &ta, "/v2/account").await.1;

    // The fault the server's account check is tested with: the token now answers as bob.
    a.state().issue_token("bob", false);
    assert!(a.state().reassign_token(&ta, "bob"));
    assert!(!a.state().reassign_token("fake-token-unknown", "bob"));
    let now = get(&a, &ta, "/v2/account").await.1;
    assert_ne!(now["id"], alice["id"]);
    assert_eq!(a.state().token_account(&ta), Some(("bob".into(), false)));
}
