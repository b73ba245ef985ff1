//! `--auth alpaca`: each user signs in with their own Alpaca account through Alpaca's OAuth
//! (Alpaca Connect), and the MCP client gets this server's own tokens for it.
//!
//! 1. The client sends the user to our `/authorize`. The consent page names the client and
//!    what it asks (read, or read and trade; paper or live where the operator allows live),
//!    as in owner mode but without a passphrase: the person signing in at Alpaca next is the
//!    account holder. This page is what stops a client registered by anyone from riding on
//!    the operator's Alpaca app unseen.
//! 2. Their answer sends the browser to Alpaca's authorize page with the operator's client
//!    id, the scopes the answer needs, and a `state` that is the whole request, sealed
//!    ([`super::seal`]) and bound to a cookie of this browser: the callback needs no memory
//!    of this process, so it may land on any replica.
//! 3. Alpaca's callback (`/callback`) is exchanged at Alpaca's token endpoint with the
//!    operator's client secret. The token is tried on the chosen account's trading host
//!    (`GET /v2/account`): that says it reaches that account, and names the account. It is
//!    stored sealed, bound to its row; the client gets a code of ours, then our tokens at
//!    `/token` as in owner mode.
//! 4. Each MCP request with one of our tokens runs as that user (`user_of`): their Alpaca
//!    token as `Authorization: Bearer`, their account's trading host, pacing and counters
//!    of their own. When Alpaca answers 401 to it, the grant ends at once and the client is
//!    answered 401 with the resource metadata, so it signs in again.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use alpaca_mcp::Mode;
use alpaca_mcp::runtime::Auth;
use alpaca_mcp::runtime::caller::{AccountCheck, Caller};
use alpaca_mcp::user::User;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::seal::Keys;
use super::secret::{digest, random_id, random_token, same};
use super::store::{Code, Upstream};
use super::{GrantEnd, OAuth, now};

/// Alpaca's authorize page.
pub const ALPACA_AUTHORIZE_URL: &str = "https://app.alpaca.markets/oauth/authorize";
/// Alpaca's token endpoint.
pub const ALPACA_TOKEN_URL: &str = "https://api.alpaca.markets/oauth/token";
/// How long a sign-in at Alpaca may take.
pub const SIGN_IN_TTL: Duration = Duration::from_secs(600);
/// The cookie that binds a sign-in to the browser that started it.
const COOKIE: &str = "amcp_connect";
/// What sealed sign-in state is bound to.
const STATE_BINDING: &str = "alpaca-mcp connect state v1";

/// The operator's Alpaca OAuth app, and where users' accounts are reached.
pub struct ConnectSettings {
    /// The app's client id (not a secret).
    pub client_id: String,
    /// The app's client secret (never printed).
    pub client_secret: String,
    /// Alpaca's authorize page.
    pub authorize_url: url::Url,
    /// Alpaca's token endpoint.
    pub token_url: url::Url,
    /// The paper trading host, when paper accounts may sign in.
    pub paper_url: Option<url::Url>,
    /// The live trading host, when live accounts may sign in.
    pub live_url: Option<url::Url>,
    /// Seals stored Alpaca tokens and the sign-in state.
    pub keys: Keys,
}

impl std::fmt::Debug for ConnectSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectSettings")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("authorize_url", &self.authorize_url.as_str())
            .field("token_url", &self.token_url.as_str())
            .field("paper_url", &self.paper_url.as_ref().map(url::Url::as_str))
            .field("live_url", &self.live_url.as_ref().map(url::Url::as_str))
            .field("keys", &self.keys)
            .finish()
    }
}

impl ConnectSettings {
    /// The modes users may pick, paper first.
    pub fn modes(&self) -> Vec<Mode> {
        let mut modes = Vec::new();
        if self.paper_url.is_some() {
            modes.push(Mode::Paper);
        }
        if self.live_url.is_some() {
            modes.push(Mode::Live);
        }
        modes
    }

    /// The trading host of `mode`'s accounts, if they may sign in.
    pub fn trading_url(&self, mode: Mode) -> Option<&url::Url> {
        match mode {
            Mode::Paper => self.paper_url.as_ref(),
            Mode::Live => self.live_url.as_ref(),
        }
    }
}

/// A mode as stored and shown (`paper`, `live`).
pub fn parse_mode(s: &str) -> Option<Mode> {
    match s {
        "paper" => Some(Mode::Paper),
        "live" => Some(Mode::Live),
        _ => None,
    }
}

/// A sign-in in progress, carried sealed through Alpaca in `state`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SignIn {
    pub client_id: String,
    pub redirect_uri: String,
    /// The client's own `state`, returned to it.
    pub client_state: Option<String>,
    pub challenge: String,
    pub scope: String,
    pub resource: String,
    pub toolsets: Option<String>,
    /// `paper` or `live`.
    pub mode: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// Digest of the browser cookie's value.
    pub browser: String,
}

/// The scopes asked of Alpaca for one of ours: reading needs `data` (market data; account
/// reads need no scope), trading also `trading` and `account:write` (watchlists).
fn alpaca_scope(scope: &str) -> &'static str {
    if super::has_scope(scope, super::SCOPE_TRADE) {
        "account:write trading data"
    } else {
        "data"
    }
}

/// Sends the browser to Alpaca's authorize page for `sign_in` (its `browser` is filled in
/// here, with the cookie that carries it).
pub(crate) fn begin(oauth: &OAuth, connect: &ConnectSettings, mut sign_in: SignIn) -> Response {
    let browser = random_token("");
    sign_in.browser = digest(&browser);
    sign_in.expires_at = now() + SIGN_IN_TTL.as_secs() as i64;
    let state = connect.keys.seal(
        &serde_json::to_vec(&sign_in).unwrap_or_default(),
        STATE_BINDING,
    );
    let callback = callback_url(oauth);
    let mut r = super::consent::redirect_to(
        connect.authorize_url.as_str(),
        &[
            ("response_type", "code"),
            ("client_id", &connect.client_id),
            ("redirect_uri", &callback),
            ("state", &state),
            ("scope", alpaca_scope(&sign_in.scope)),
        ],
    );
    // Lax, not Strict: the callback is a top-level navigation from Alpaca's site.
    let secure = if oauth.settings.public_url.scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{COOKIE}={browser}; Path=/callback; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        SIGN_IN_TTL.as_secs()
    )) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// Where Alpaca returns users: this server's `/callback` (the redirect URI registered with
/// the operator's Alpaca app).
pub fn callback_url(oauth: &OAuth) -> String {
    format!("{}/callback", oauth.issuer())
}

/// `GET /callback`: Alpaca's answer.
pub(crate) async fn callback(
    State(oauth): State<Arc<OAuth>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(connect) = oauth.connect.as_ref() else {
        return super::consent::error_page(StatusCode::NOT_FOUND, "no sign-in is in progress");
    };
    let sign_in = q
        .get("state")
        .and_then(|s| connect.keys.open(s, STATE_BINDING).ok())
        .and_then(|b| serde_json::from_slice::<SignIn>(&b).ok());
    let Some(sign_in) = sign_in else {
        return super::consent::error_page(
            StatusCode::BAD_REQUEST,
            "this sign-in did not start here (its state is missing or altered); start the connection again from your client",
        );
    };
    let browser_ok = super::consent::cookie_value(&headers, COOKIE)
        .is_some_and(|c| same(&digest(c), &sign_in.browser));
    if sign_in.expires_at <= now() || !browser_ok {
        return super::consent::error_page(
            StatusCode::FORBIDDEN,
            "this sign-in has expired or was started in another browser; start the connection again from your client",
        );
    }
    let back = |params: &[(&str, &str)]| {
        let issuer = oauth.issuer();
        let mut all = params.to_vec();
        all.push(("iss", issuer.as_str()));
        if let Some(s) = sign_in.client_state.as_deref() {
            all.push(("state", s));
        }
        super::consent::redirect_to(&sign_in.redirect_uri, &all)
    };
    if let Some(error) = q.get("error") {
        tracing::info!(client = %sign_in.client_id, %error, "a user did not authorize at Alpaca");
        return back(&[
            ("error", "access_denied"),
            (
                "error_description",
                "the sign-in at Alpaca was not completed",
            ),
        ]);
    }
    let Some(code) = q.get("code").filter(|c| !c.is_empty()) else {
        return back(&[
            ("error", "access_denied"),
            ("error_description", "Alpaca returned no authorization code"),
        ]);
    };
    let mode = parse_mode(&sign_in.mode).unwrap_or(Mode::Paper);
    let Some(host) = connect.trading_url(mode) else {
        return back(&[("error", "access_denied")]);
    };
    let token = match exchange(&oauth, connect, code).await {
        Ok(t) => t,
        Err(why) => {
            tracing::warn!(client = %sign_in.client_id, %why, "Alpaca's code exchange failed");
            return back(&[
                ("error", "server_error"),
                (
                    "error_description",
                    "the server could not complete the sign-in with Alpaca",
                ),
            ]);
        }
    };
    let account = match account_of(host, &token).await {
        Ok(id) => id,
        Err(Probe::NotThisAccount(why)) => {
            tracing::info!(client = %sign_in.client_id, mode = %mode, %why, "an Alpaca sign-in does not reach the chosen account");
            let description = format!(
                "the Alpaca sign-in does not include a {mode} account: connect again and pick your {mode} account on Alpaca's page"
            );
            return back(&[
                ("error", "access_denied"),
                ("error_description", &description),
            ]);
        }
        Err(Probe::Broken(why)) => {
            tracing::warn!(client = %sign_in.client_id, mode = %mode, %why, "the account check of an Alpaca sign-in failed");
            return back(&[
                ("error", "server_error"),
                (
                    "error_description",
                    "the server could not check the account at Alpaca; try connecting again later",
                ),
            ]);
        }
    };
    let id = random_id();
    let upstream = Upstream {
        sealed: connect.keys.seal(token.as_bytes(), &id),
        id,
        mode: mode.as_str().to_string(),
        account,
    };
    let ours = random_token("amcp_code_");
    let record = Code {
        digest: digest(&ours),
        client_id: sign_in.client_id.clone(),
        redirect_uri: sign_in.redirect_uri.clone(),
        challenge: sign_in.challenge.clone(),
        scope: sign_in.scope.clone(),
        resource: sign_in.resource.clone(),
        toolsets: sign_in.toolsets.clone(),
        expires_at: now() + oauth.settings.code_ttl.as_secs() as i64,
        upstream: Some(upstream.id.clone()),
    };
    let stored = match oauth.store.put_upstream(&upstream, now()).await {
        Ok(()) => oauth.store.put_code(&record).await,
        Err(e) => Err(e),
    };
    if let Err(e) = stored {
        tracing::error!(error = %e, "cannot store an Alpaca sign-in");
        return back(&[
            ("error", "server_error"),
            (
                "error_description",
                "the server cannot store the sign-in now",
            ),
        ]);
    }
    tracing::info!(client = %sign_in.client_id, mode = %mode, account = %upstream.account, scope = %sign_in.scope, "a user signed in with Alpaca");
    back(&[("code", ours.as_str())])
}

/// The HTTP client for Alpaca's token endpoint and the account check: no redirects (a
/// token never follows one to another host), short timeouts.
fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(20))
        .build()
        .map_err(|e| e.to_string())
}

/// Alpaca's access token for `code` (the operator's client secret goes in the form, as
/// Alpaca documents it).
async fn exchange(oauth: &OAuth, connect: &ConnectSettings, code: &str) -> Result<String, String> {
    let r = client()?
        .post(connect.token_url.clone())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("client_id", connect.client_id.as_str()),
            ("client_secret", connect.client_secret.as_str()),
            ("redirect_uri", callback_url(oauth).as_str()),
        ])
        .send()
        .await
        .map_err(|e| format!("cannot reach Alpaca's token endpoint: {}", e.without_url()))?;
    string_field(r, "Alpaca's token endpoint", "access_token").await
}

/// The most of an answer from Alpaca read here (a token or an account is a few hundred bytes).
const MAX_ANSWER: usize = 64 * 1024;

/// The non-empty string `field` of a successful JSON answer from `who`, read up to
/// [`MAX_ANSWER`] bytes.
async fn string_field(mut r: reqwest::Response, who: &str, field: &str) -> Result<String, String> {
    let status = r.status();
    if !status.is_success() {
        return Err(format!("{who} answered {status}"));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = r
        .chunk()
        .await
        .map_err(|e| format!("{who}'s answer broke off: {}", e.without_url()))?
    {
        if bytes.len() + chunk.len() > MAX_ANSWER {
            return Err(format!("{who}'s answer is over {MAX_ANSWER} bytes"));
        }
        bytes.extend_from_slice(&chunk);
    }
    let body: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|_| format!("{who} sent no JSON"))?;
    body.get(field)
        .and_then(|v| v.as_str())
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .ok_or_else(|| format!("{who}'s answer has no {field}"))
}

/// Why the account check failed.
enum Probe {
    /// Alpaca refused the token on this host (401, 403 or 404): the sign-in does not include
    /// an account of the chosen mode.
    NotThisAccount(String),
    /// Anything else (unreachable, a redirect, an error status, an answer without an id):
    /// nothing is known about the account.
    Broken(String),
}

/// The id of the account `token` reaches at `host` (`GET /v2/account`).
async fn account_of(host: &url::Url, token: &str) -> Result<String, Probe> {
    let mut url = host.clone();
    let path = format!("{}/v2/account", host.path().trim_end_matches('/'));
    url.set_path(&path);
    let r = client()
        .map_err(Probe::Broken)?
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| {
            Probe::Broken(format!(
                "cannot reach the trading host: {}",
                e.without_url()
            ))
        })?;
    if matches!(r.status().as_u16(), 401 | 403 | 404) {
        return Err(Probe::NotThisAccount(format!(
            "the trading host answered {}",
            r.status()
        )));
    }
    string_field(r, "the trading host", "id")
        .await
        .map_err(Probe::Broken)
}

/// The account an answer of Alpaca's names: the `id` of the trading host's `GET /v2/account`
/// (what the sign-in recorded). Other answers (orders, positions, activities) name none.
fn account_named(request: &alpaca_mcp::runtime::ApiRequest, body: &[u8]) -> Option<String> {
    if request.api != "trading" || request.path.trim_end_matches('/') != "/v2/account" {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("id")?.as_str().map(str::to_string)
}

/// The user an access token's grant acts as: their Alpaca token (opened here), their
/// account's host and mode, pacing of their own (by account, so two clients of one user
/// share it), and a hook that ends the grant when Alpaca refuses the token.
pub(crate) fn user_of(oauth: &Arc<OAuth>, grant: &str, upstream: &Upstream) -> Option<User> {
    let connect = oauth.connect.as_ref()?;
    let mode = parse_mode(&upstream.mode)?;
    let host = connect.trading_url(mode)?.clone();
    let token = match connect.keys.open(&upstream.sealed, &upstream.id) {
        Ok(t) => String::from_utf8(t).ok()?,
        Err(why) => {
            tracing::error!(%grant, %why, "cannot open a stored Alpaca token (was its key removed from ALPACA_MCP_TOKEN_KEY_FILE?)");
            return None;
        }
    };
    let end = |why: GrantEnd| {
        let (oauth, grant) = (oauth.clone(), grant.to_string());
        Arc::new(move || oauth.end_grant(&grant, why)) as Arc<dyn Fn() + Send + Sync>
    };
    let caller = Caller::new(
        format!("alpaca {} {}", upstream.mode, upstream.account),
        Auth::Bearer(token),
    )
    .with_base_url("trading", host)
    .on_unauthorized(end(GrantEnd::Refused))
    .checking_account(AccountCheck {
        account: upstream.account.clone(),
        names: account_named,
        on_mismatch: end(GrantEnd::OtherAccount),
    });
    Some(User { caller, mode })
}
