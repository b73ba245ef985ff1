//! Alpaca Connect, the OAuth 2.0 authorization-code flow by which a user lets an app act on
//! their Alpaca account: an authorize page (`GET /oauth/authorize`) with a test login (any
//! name: each name is its own fake account, paper or live as picked), the code exchange
//! (`POST /oauth/token`), and revocation (`POST /oauth/revoke`). A token issued here
//! authenticates API requests as `Authorization: Bearer` for its account only; a revoked one
//! is answered 401.
//!
//! Alpaca serves the page at `app.alpaca.markets` and the token endpoint at
//! `api.alpaca.markets`; the fake serves both on its one address. A token is for the paper or
//! the live account, as picked: the fake's main address is the paper trading host, and
//! [`crate::MockServer::open_live_host`] opens the live one; a token used on the other host is
//! answered 401, as a paper token is at Alpaca's live host. A user's live account is another
//! book than their paper one (named `NAME@live`).

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::state::{MockState, lock};

/// What a Connect sign-in granted.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    /// The fake account it acts on.
    pub(crate) account: String,
    /// Whether the user picked the live account.
    pub(crate) live: bool,
    pub(crate) revoked: bool,
}

/// An authorization code not yet exchanged.
#[derive(Debug, Clone)]
struct Code {
    grant: Grant,
    client_id: String,
    redirect_uri: String,
}

/// Codes and tokens issued so far.
#[derive(Debug, Default)]
pub(crate) struct Grants {
    codes: HashMap<String, Code>,
    tokens: HashMap<String, Grant>,
    issued: u64,
}

/// How a bearer token stands.
pub(crate) enum TokenIs {
    /// Issued here for this account, paper (`false`) or live (`true`).
    For(String, bool),
    /// Issued here, then revoked.
    Revoked,
    /// Not issued here.
    Unknown,
}

impl MockState {
    /// A token for `account`, as if its user had signed in through Connect (the page and
    /// the exchange skipped).
    pub fn issue_token(&self, account: &str, live: bool) -> String {
        let grant = Grant {
            account: account.to_string(),
            live,
            revoked: false,
        };
        let mut g = lock(&self.inner.connect);
        let token = next_secret(&mut g, "token");
        g.tokens.insert(token.clone(), grant);
        token
    }

    /// Makes an issued token answer for `account` from now on (a fault: Alpaca answering one
    /// user's token with another's account); `false` when it was never issued.
    pub fn reassign_token(&self, token: &str, account: &str) -> bool {
        match lock(&self.inner.connect).tokens.get_mut(token) {
            Some(grant) => {
                grant.account = account.to_string();
                true
            }
            None => false,
        }
    }

    /// Revokes a token, as the user does in Alpaca's dashboard; `false` when it was never
    /// issued.
    pub fn revoke_token(&self, token: &str) -> bool {
        match lock(&self.inner.connect).tokens.get_mut(token) {
            Some(grant) => {
                grant.revoked = true;
                true
            }
            None => false,
        }
    }

    /// Revokes every token of `account` (its paper or its live one), as its user does by
    /// removing the app in Alpaca's dashboard; how many.
    pub fn revoke_account(&self, account: &str, live: bool) -> usize {
        let mut g = lock(&self.inner.connect);
        let mut n = 0;
        for grant in g.tokens.values_mut() {
            if grant.account == account && grant.live == live && !grant.revoked {
                grant.revoked = true;
                n += 1;
            }
        }
        n
    }

    /// The account of a Connect token, and whether it is live (`None` when not issued or
    /// revoked).
    pub fn token_account(&self, token: &str) -> Option<(String, bool)> {
        lock(&self.inner.connect)
            .tokens
            .get(token)
            .filter(|g| !g.revoked)
            .map(|g| (g.account.clone(), g.live))
    }

    /// Every token issued so far (revoked ones too), sorted.
    pub fn issued_tokens(&self) -> Vec<String> {
        let mut all: Vec<String> = lock(&self.inner.connect).tokens.keys().cloned().collect();
        all.sort();
        all
    }

    pub(crate) fn token_is(&self, token: &str) -> TokenIs {
        match lock(&self.inner.connect).tokens.get(token) {
            Some(g) if g.revoked => TokenIs::Revoked,
            Some(g) => TokenIs::For(g.account.clone(), g.live),
            None => TokenIs::Unknown,
        }
    }
}

/// A fresh random value: 128 bits from the operating system, so two fakes (two sandbox
/// replicas, two test servers) never issue the same token or code.
fn next_secret(g: &mut Grants, kind: &str) -> String {
    g.issued += 1;
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No random source: the count and the wall clock, still unique to this fake's run.
        let nanos = crate::time::Timestamp::now_utc().unix_nanos();
        let n = crate::hashing::hash_parts(&[kind.as_bytes(), &g.issued.to_le_bytes()]);
        bytes[..8].copy_from_slice(&n.to_le_bytes());
        bytes[8..].copy_from_slice(&nanos.to_le_bytes());
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("fake-{kind}-{hex}")
}

/// The authorize request's query (and the page's form, which carries it on).
#[derive(Debug, Deserialize)]
pub(crate) struct AuthorizeQuery {
    #[serde(default)]
    response_type: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    redirect_uri: String,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// `GET /oauth/authorize`: the sign-in page.
pub(crate) async fn authorize_page(Query(q): Query<AuthorizeQuery>) -> Response {
    if q.response_type != "code" || q.client_id.is_empty() || q.redirect_uri.is_empty() {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "response_type=code, client_id and redirect_uri are required",
        );
    }
    let hidden = |name: &str, value: &str| {
        format!(
            r#"<input type="hidden" name="{name}" value="{}">"#,
            escape(value)
        )
    };
    let page = format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>Alpaca (fake): sign in</title></head>
<body><h1>Fake Alpaca: connect an app</h1>
<p>The app <code>{client}</code> asks to use your account ({scope}). Any name signs in; each name is its own fake account.</p>
<form method="post" action="/oauth/authorize">
{h1}{h2}{h3}{h4}
<label>Name <input name="username" id="username" autocomplete="off"></label>
<label><input type="radio" name="env" value="paper" checked> Paper</label>
<label><input type="radio" name="env" value="live"> Live</label>
<button name="decision" value="allow" id="allow">Allow</button>
<button name="decision" value="deny" id="deny">Deny</button>
</form></body></html>"#,
        client = escape(&q.client_id),
        scope = escape(q.scope.as_deref().unwrap_or("account:write trading data")),
        h1 = hidden("client_id", &q.client_id),
        h2 = hidden("redirect_uri", &q.redirect_uri),
        h3 = hidden("state", q.state.as_deref().unwrap_or("")),
        h4 = hidden("scope", q.scope.as_deref().unwrap_or("")),
    );
    Html(page).into_response()
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub(crate) struct SignIn {
    client_id: String,
    redirect_uri: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    env: String,
    #[serde(default)]
    decision: String,
}

/// `POST /oauth/authorize`: back to the app with a code, or with `access_denied`.
pub(crate) async fn authorize_submit(
    State(s): State<MockState>,
    Form(f): Form<SignIn>,
) -> Response {
    let Ok(mut back) = url::Url::parse(&f.redirect_uri) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "redirect_uri is not a URL",
        );
    };
    {
        let mut pairs = back.query_pairs_mut();
        if f.decision != "allow" {
            pairs.append_pair("error", "access_denied");
        } else if f.username.trim().is_empty() {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "a name is needed",
            );
        } else {
            let mut g = lock(&s.inner.connect);
            let code = next_secret(&mut g, "code");
            g.codes.insert(
                code.clone(),
                Code {
                    grant: Grant {
                        account: f.username.trim().to_string(),
                        live: f.env == "live",
                        revoked: false,
                    },
                    client_id: f.client_id.clone(),
                    redirect_uri: f.redirect_uri.clone(),
                },
            );
            pairs.append_pair("code", &code);
        }
        if !f.state.is_empty() {
            pairs.append_pair("state", &f.state);
        }
    }
    (StatusCode::FOUND, [(header::LOCATION, back.to_string())]).into_response()
}

/// The token request.
#[derive(Debug, Deserialize)]
pub(crate) struct TokenRequest {
    #[serde(default)]
    grant_type: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
    #[serde(default)]
    redirect_uri: String,
}

/// `POST /oauth/token`: a code for a token, once. When the mock is configured with a
/// Connect client, only its id and secret are accepted.
pub(crate) async fn token(State(s): State<MockState>, Form(t): Form<TokenRequest>) -> Response {
    if t.grant_type != "authorization_code" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only authorization_code",
        );
    }
    if let Some((id, secret)) = &s.config().connect_client
        && (&t.client_id != id || &t.client_secret != secret)
    {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client or wrong secret",
        );
    }
    let mut g = lock(&s.inner.connect);
    let Some(code) = g.codes.get(&t.code) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "unknown or used code",
        );
    };
    if code.client_id != t.client_id || code.redirect_uri != t.redirect_uri {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the code was issued to another client or redirect_uri",
        );
    }
    let grant = code.grant.clone();
    g.codes.remove(&t.code);
    let token = next_secret(&mut g, "token");
    g.tokens.insert(token.clone(), grant);
    axum::Json(json!({
        "access_token": token,
        "token_type": "bearer",
        "scope": "account:write trading data",
    }))
    .into_response()
}

/// The revocation request.
#[derive(Debug, Deserialize)]
pub(crate) struct Revoke {
    #[serde(default)]
    token: String,
}

/// `POST /oauth/revoke`: ends a token (200 whether or not it was known, as RFC 7009 has it).
pub(crate) async fn revoke(State(s): State<MockState>, Form(r): Form<Revoke>) -> StatusCode {
    s.revoke_token(&r.token);
    StatusCode::OK
}
