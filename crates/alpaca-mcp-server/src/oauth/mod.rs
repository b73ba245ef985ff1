//! The server as its own OAuth 2.1 authorization server (`--auth owner`), so that clients
//! which only speak OAuth (Claude's connectors, ChatGPT) can add it by URL: the owner approves
//! each client once on a consent page with their passphrase, and the client gets tokens for
//! this server's MCP endpoint only.
//!
//! | Endpoint | Module | Standard |
//! |---|---|---|
//! | `/.well-known/oauth-protected-resource[/mcp]` | here | RFC 9728 |
//! | `/.well-known/oauth-authorization-server` | here | RFC 8414 |
//! | `/register` | [`register`] | RFC 7591 (and Client ID Metadata Documents, [`cimd`]) |
//! | `/authorize` (consent page) | [`consent`] | OAuth 2.1 code flow, PKCE S256 only |
//! | `/token`, `/revoke` | [`token`] | OAuth 2.1, RFC 8707, RFC 7009 |
//!
//! The MCP endpoint checks access tokens through [`OAuth::verify`] (in the HTTP token layer).
//! Tokens are opaque random values stored only as SHA-256 digests ([`secret`]); state lives in
//! a [`Store`] ([`sqlite`] by default).

pub mod cimd;
pub mod connect;
pub mod consent;
pub mod migrations;
pub mod postgres;
pub mod register;
pub mod seal;
pub mod secret;
pub mod sqlite;
pub mod store;
#[cfg(test)]
mod store_suite;
pub mod token;

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

pub use secret::OwnerSecret;
pub use store::{Grant, Store, StoreError};

/// The scope that reads: account, positions, orders, market data.
pub const SCOPE_READ: &str = "read";
/// The scope that trades: placing, replacing and cancelling orders, closing positions.
pub const SCOPE_TRADE: &str = "trade";

/// Default access token lifetime (1 hour).
pub const DEFAULT_ACCESS_TTL: Duration = Duration::from_secs(3600);
/// Default authorization code lifetime (1 minute).
pub const DEFAULT_CODE_TTL: Duration = Duration::from_secs(60);
/// Default time a grant may go unused before it ends (30 days).
pub const DEFAULT_GRANT_IDLE: Duration = Duration::from_secs(30 * 24 * 3600);
/// A consent page's form stays valid this long.
pub const CONSENT_TTL: Duration = Duration::from_secs(600);

/// How the authorization server behaves.
#[derive(Debug, Clone)]
pub struct OAuthSettings {
    /// Where clients reach this server (`https://host`, or `http://` on loopback); the
    /// issuer. The MCP endpoint, the tokens' only audience, is `{public_url}/mcp`.
    pub public_url: url::Url,
    /// Access token lifetime.
    pub access_ttl: Duration,
    /// Authorization code lifetime.
    pub code_ttl: Duration,
    /// Grant idle lifetime.
    pub grant_idle: Duration,
    /// Let Client ID Metadata Documents be fetched over http and from loopback and private
    /// addresses (local testing only).
    pub allow_local_client_metadata: bool,
    /// `paper` or `LIVE`, shown on the consent page.
    pub account_mode: String,
    /// The server's toolsets; the owner may narrow a grant to some of them.
    pub toolsets: Vec<String>,
    /// Proxies whose `X-Forwarded-For` is believed (none by default, loopback included), so
    /// that the limits per address count clients rather than the proxy (`--trusted-proxy`,
    /// `ALPACA_MCP_TRUSTED_PROXIES`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl OAuthSettings {
    /// Settings for `public_url` with the default lifetimes.
    pub fn new(public_url: url::Url, account_mode: impl Into<String>) -> Self {
        OAuthSettings {
            public_url,
            access_ttl: DEFAULT_ACCESS_TTL,
            code_ttl: DEFAULT_CODE_TTL,
            grant_idle: DEFAULT_GRANT_IDLE,
            allow_local_client_metadata: false,
            account_mode: account_mode.into(),
            toolsets: Vec::new(),
            trusted_proxies: Vec::new(),
        }
    }
}

/// Checks `--public-url`: https, or http on a loopback host; no path, query or fragment.
pub fn parse_public_url(value: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(value.trim())
        .map_err(|e| format!("--public-url {value:?} is not a URL ({e})"))?;
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "--public-url {value:?}: give the server's origin only (https://host or \
             https://host:port), without a path; the MCP endpoint is its /mcp"
        ));
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_host(url.host_str().unwrap_or_default()) => {}
        _ => {
            return Err(format!(
                "--public-url {value:?} must be https (put a TLS reverse proxy in front); \
                 http is accepted only for a loopback host (127.0.0.1, [::1], localhost)"
            ));
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("--public-url {value:?} must not hold credentials"));
    }
    Ok(url)
}

/// Whether a URL host is loopback: `localhost`, 127.0.0.0/8 or `[::1]`.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Current Unix time in seconds.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The authorization server: settings, store, owner passphrase, and what lives only in
/// memory (failed passphrase attempts and registrations per address, so each replica counts
/// its own).
pub struct OAuth {
    settings: OAuthSettings,
    store: Arc<dyn Store>,
    /// The owner passphrase (`--auth owner`); `None` when users sign in with Alpaca.
    owner: Option<OwnerSecret>,
    /// The operator's Alpaca app (`--auth alpaca`).
    connect: Option<connect::ConnectSettings>,
    /// Grants ended because of Alpaca's answers (a refused token, another account), refused here at once (the store
    /// hears of it too, for every replica).
    refused: Mutex<std::collections::HashSet<String>>,
    /// Wrong owner passphrases from strangers, per address and in all.
    attempts: Limiter,
    /// Wrong owner passphrases from a device the owner signed in from before (its cookie),
    /// per device: strangers' guesses never use up the owner's own.
    device_attempts: Limiter,
    /// Registrations and client metadata fetches, per address and in all.
    registrations: Limiter,
    /// Passphrase checks (argon2, slow on purpose) running at once.
    verifying: tokio::sync::Semaphore,
    /// Refused consent answers, logged once a minute with a count.
    pub(crate) refused_consents: crate::summary::Summarized,
    last_purge: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for OAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuth")
            .field("issuer", &self.issuer())
            .field("owner", &self.owner)
            .field("connect", &self.connect)
            .finish_non_exhaustive()
    }
}

/// What a valid access token grants, as the MCP endpoint sees it.
#[derive(Debug, Clone)]
pub struct Access {
    /// The grant's id.
    pub grant: String,
    /// Whether it may trade (`trade` scope) or only read.
    pub trade: bool,
    /// Toolsets it is narrowed to, if any.
    pub toolsets: Option<Vec<String>>,
    /// The Alpaca user it acts as (`--auth alpaca`).
    pub user: Option<alpaca_mcp::user::User>,
}

/// Why a presented token does not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    /// Unknown, expired, revoked, or for another resource.
    Invalid,
    /// The store could not be read.
    Unavailable,
}

impl OAuth {
    /// The authorization server over `store`, its owner approving clients with `owner`.
    pub fn new(settings: OAuthSettings, store: Arc<dyn Store>, owner: OwnerSecret) -> Self {
        Self::build(settings, store, Some(owner), None)
    }

    /// The authorization server over `store` whose users sign in with their own Alpaca
    /// accounts through the operator's Alpaca app ([`connect`]).
    pub fn for_alpaca(
        settings: OAuthSettings,
        store: Arc<dyn Store>,
        connect: connect::ConnectSettings,
    ) -> Self {
        Self::build(settings, store, None, Some(connect))
    }

    fn build(
        settings: OAuthSettings,
        store: Arc<dyn Store>,
        owner: Option<OwnerSecret>,
        connect: Option<connect::ConnectSettings>,
    ) -> Self {
        OAuth {
            settings,
            store,
            owner,
            connect,
            refused: Mutex::new(std::collections::HashSet::new()),
            // Five wrong passphrases per address per 15 minutes, 50 in all.
            attempts: Limiter::new("passphrase", 5, 50, Duration::from_secs(15 * 60)),
            // Five per device the owner signed in from, with no total.
            device_attempts: Limiter::new("passphrase-device", 5, 0, Duration::from_secs(15 * 60)),
            // Twenty registrations (or metadata fetches) per address per hour, 200 in all.
            registrations: Limiter::new("registration", 20, 200, Duration::from_secs(3600)),
            verifying: tokio::sync::Semaphore::new(2),
            refused_consents: crate::summary::Summarized::new(
                "refused consent answers (a forged or expired form, a wrong or rate-limited passphrase)",
            ),
            last_purge: Mutex::new(None),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &OAuthSettings {
        &self.settings
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    /// The operator's Alpaca app, when users sign in with Alpaca.
    pub fn connect(&self) -> Option<&connect::ConnectSettings> {
        self.connect.as_ref()
    }

    /// Ends `grant` because of what Alpaca answered its user (`why`): at once here, and in
    /// the store (the grant's tokens stop working on every replica).
    pub fn end_grant(self: &Arc<Self>, grant: &str, why: GrantEnd) {
        let first = self
            .refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(grant.to_string());
        if !first {
            return;
        }
        match why {
            GrantEnd::Refused => {
                tracing::warn!(%grant, "Alpaca refused a user's token (revoked or expired at Alpaca); their grant is ended and their client must sign in again")
            }
            GrantEnd::OtherAccount => {
                tracing::error!(%grant, "Alpaca answered a user's request for another account than the one they signed in with; the answer was withheld, their grant is ended and their client must sign in again")
            }
        }
        let oauth = self.clone();
        let grant = grant.to_string();
        tokio::spawn(async move {
            if let Err(e) = oauth.store.revoke_grant(&grant).await {
                tracing::error!(error = %e, %grant, "cannot end a grant in the store");
            }
        });
    }

    /// The issuer identifier: the public URL without its trailing slash.
    pub fn issuer(&self) -> String {
        self.settings
            .public_url
            .as_str()
            .trim_end_matches('/')
            .to_string()
    }

    /// The protected resource (the MCP endpoint), the audience of every token.
    pub fn resource(&self) -> String {
        format!("{}/mcp", self.issuer())
    }

    /// The resource metadata URL named in `WWW-Authenticate`.
    pub fn resource_metadata_url(&self) -> String {
        format!("{}/.well-known/oauth-protected-resource/mcp", self.issuer())
    }

    /// Whether a `resource` parameter (RFC 8707) names this server's MCP endpoint.
    pub fn is_our_resource(&self, resource: &str) -> bool {
        let ours = self.resource();
        resource == ours || resource.strip_suffix('/') == Some(ours.as_str())
    }

    /// Checks an access token: it must be live and bound to this server's resource; in
    /// `--auth alpaca` mode its grant must hold an Alpaca sign-in that opens.
    pub async fn verify(self: &Arc<Self>, token: &str) -> Result<Access, Rejected> {
        let now = now();
        let grant = self
            .store
            .access(
                &secret::digest(token),
                now,
                self.settings.grant_idle.as_secs() as i64,
            )
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "cannot check an OAuth access token");
                Rejected::Unavailable
            })?
            .ok_or(Rejected::Invalid)?;
        // A token issued for another resource (another --public-url on the same state) is
        // not for us.
        if !self.is_our_resource(&grant.resource) {
            return Err(Rejected::Invalid);
        }
        if self
            .refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&grant.id)
        {
            return Err(Rejected::Invalid);
        }
        let user = match (&self.connect, &grant.upstream) {
            (None, _) => None,
            (Some(_), Some(upstream)) => {
                Some(connect::user_of(self, &grant.id, upstream).ok_or(Rejected::Invalid)?)
            }
            // A grant from owner mode on the same state has no Alpaca sign-in.
            (Some(_), None) => return Err(Rejected::Invalid),
        };
        if grant.last_used < now - 60 {
            let _ = self.store.touch(&grant.id, now).await;
        }
        self.purge_now_and_then(now).await;
        Ok(Access {
            trade: has_scope(&grant.scope, SCOPE_TRADE),
            toolsets: grant
                .toolsets
                .as_deref()
                .map(|t| t.split(',').map(str::to_string).collect()),
            grant: grant.id,
            user,
        })
    }

    /// At most hourly: expired codes and tokens, ended grants, clients never used.
    async fn purge_now_and_then(&self, now: i64) {
        {
            let mut last = self.last_purge.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|t| t.elapsed() < Duration::from_secs(3600)) {
                return;
            }
            *last = Some(Instant::now());
        }
        let idle = self.settings.grant_idle.as_secs() as i64;
        if let Err(e) = self.store.purge(now, idle, 24 * 3600).await {
            tracing::warn!(error = %e, "cannot purge expired OAuth state");
        }
    }
}

/// Whether a space-separated scope string holds `scope`.
pub fn has_scope(scopes: &str, scope: &str) -> bool {
    scopes.split_whitespace().any(|s| s == scope)
}

/// The authorization server's routes (none of them behind the token layer).
pub fn router(oauth: Arc<OAuth>) -> Router {
    Router::new()
        .route(
            "/.well-known/oauth-protected-resource",
            get(protected_resource).options(preflight),
        )
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(protected_resource).options(preflight),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(authorization_server).options(preflight),
        )
        .route(
            "/.well-known/openid-configuration",
            get(authorization_server).options(preflight),
        )
        .route("/register", post(register::register).options(preflight))
        .route("/authorize", get(consent::authorize).post(consent::decide))
        .route("/token", post(token::token).options(preflight))
        .route("/revoke", post(token::revoke).options(preflight))
        .route("/callback", get(connect::callback))
        .with_state(oauth)
}

/// JSON with `Cache-Control: no-store` and CORS open to any origin (browser-based clients
/// read metadata and call the token endpoint cross-origin; nothing here rides on cookies).
pub(crate) fn json_reply(status: StatusCode, body: serde_json::Value) -> Response {
    let mut r = (status, axum::Json(body)).into_response();
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    r
}

/// The CORS preflight of the endpoints browser-based clients call cross-origin (metadata,
/// registration, token, revocation): any origin, `POST`, the headers those requests carry.
async fn preflight() -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    let h = r.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, GET, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type, mcp-protocol-version"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    r
}

/// An OAuth error response (RFC 6749 §5.2).
pub(crate) fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json_reply(
        status,
        json!({ "error": error, "error_description": description }),
    )
}

/// RFC 9728 protected resource metadata.
async fn protected_resource(State(oauth): State<Arc<OAuth>>) -> Response {
    json_reply(
        StatusCode::OK,
        json!({
            "resource": oauth.resource(),
            "authorization_servers": [oauth.issuer()],
            "scopes_supported": [SCOPE_READ, SCOPE_TRADE],
            "bearer_methods_supported": ["header"],
            "resource_name": "Alpaca MCP server",
        }),
    )
}

/// RFC 8414 authorization server metadata.
async fn authorization_server(State(oauth): State<Arc<OAuth>>) -> Response {
    let issuer = oauth.issuer();
    json_reply(
        StatusCode::OK,
        json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "registration_endpoint": format!("{issuer}/register"),
            "revocation_endpoint": format!("{issuer}/revoke"),
            "scopes_supported": [SCOPE_READ, SCOPE_TRADE],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
            "revocation_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
            "code_challenge_methods_supported": ["S256"],
            "client_id_metadata_document_supported": true,
            "authorization_response_iss_parameter_supported": true,
        }),
    )
}

/// Counts events per address in a window, with a cap over all addresses (behind a reverse
/// proxy every request may come from one address). The events are in the store, so a limit
/// holds over every replica that shares it, and across restarts.
pub(crate) struct Limiter {
    /// What is counted, as the store names it.
    kind: &'static str,
    per_address: u64,
    total: u64,
    window: Duration,
}

impl Limiter {
    fn new(kind: &'static str, per_address: u64, total: u64, window: Duration) -> Self {
        Limiter {
            kind,
            per_address,
            total,
            window,
        }
    }

    fn since(&self, now: i64) -> i64 {
        now - self.window.as_secs() as i64
    }

    /// Takes one event for `key` if it is under the bounds, counted and recorded in one step
    /// in the store (so concurrent attempts, on any replica, never pass together): the time
    /// recorded (to forget it by), or `None` when over (or the store cannot answer).
    pub(crate) async fn take(&self, store: &dyn Store, key: &str) -> Option<i64> {
        let now = now();
        match store
            .take_event(
                self.kind,
                key,
                now,
                self.since(now),
                (self.per_address, self.total),
            )
            .await
        {
            Ok(true) => Some(now),
            Ok(false) => None,
            Err(e) => {
                tracing::error!(error = %e, kind = self.kind, "cannot count for a limit; refusing");
                None
            }
        }
    }

    /// Forgets an event taken at `at` (an attempt that turned out right).
    pub(crate) async fn forget(&self, store: &dyn Store, key: &str, at: i64) {
        if let Err(e) = store.forget_event(self.kind, key, at).await {
            tracing::error!(error = %e, kind = self.kind, "cannot forget an event for a limit");
        }
    }
}

/// The client address of a request: the accept loop's peer address, or, when that is a
/// trusted proxy (one in `trusted`, `--trusted-proxy`; none by default, loopback included),
/// the nearest address in `X-Forwarded-For` that is not one (each proxy appends the address
/// it heard from, so the chain is read from the right). A client that is not a trusted
/// proxy cannot choose the address it is counted under.
pub(crate) fn client_ip(
    headers: &axum::http::HeaderMap,
    peer: Option<&crate::http::PeerAddr>,
    trusted: &[ipnet::IpNet],
) -> IpAddr {
    let peer = peer.map_or(IpAddr::from([127, 0, 0, 1]), |p| p.0.ip());
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    // From the nearest hop back: the first address not of a trusted proxy is the client.
    let mut client = peer;
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>() else {
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod client_ip_tests {
    use super::client_ip;
    use crate::http::PeerAddr;

    fn ip(peer: &str, forwarded: &[&str], trusted: &[&str]) -> String {
        let mut headers = axum::http::HeaderMap::new();
        for f in forwarded {
            headers.append("x-forwarded-for", f.parse().unwrap());
        }
        let peer = PeerAddr(format!("{peer}:4000").parse().unwrap());
        let trusted: Vec<ipnet::IpNet> = trusted.iter().map(|t| t.parse().unwrap()).collect();
        client_ip(&headers, Some(&peer), &trusted).to_string()
    }

    #[test]
    fn the_client_is_the_nearest_address_no_trusted_proxy_added_and_none_by_default() {
        // Straight from a client: its own address, whatever it claims.
        assert_eq!(ip("203.0.113.9", &["198.51.100.1"], &[]), "203.0.113.9");
        // From loopback with no proxy configured: loopback, whatever it claims (a local
        // stranger cannot pick the address it is counted under).
        assert_eq!(ip("127.0.0.1", &["198.51.100.1"], &[]), "127.0.0.1");
        // Through a loopback proxy named as trusted: what it appended.
        assert_eq!(
            ip("127.0.0.1", &["198.51.100.1"], &["127.0.0.1/32"]),
            "198.51.100.1"
        );
        // Caddy (172.18.0.5) then HAProxy (172.18.0.6) on a trusted network: the client before
        // them, not a value the client put first.
        assert_eq!(
            ip(
                "172.18.0.6",
                &["10.9.9.9, 198.51.100.1", "172.18.0.5"],
                &["172.18.0.0/16"]
            ),
            "198.51.100.1"
        );
        // The same chain with the network untrusted: the proxy's own address.
        assert_eq!(
            ip("172.18.0.6", &["198.51.100.1, 172.18.0.5"], &[]),
            "172.18.0.6"
        );
        // Garbage stops the walk at the last good hop.
        assert_eq!(
            ip("127.0.0.1", &["nonsense, 127.0.0.2"], &["127.0.0.0/8"]),
            "127.0.0.2"
        );
    }
}

/// Why a grant is ended for what Alpaca answered.
#[derive(Debug, Clone, Copy)]
pub enum GrantEnd {
    /// Alpaca refused the user's token (401): revoked or expired there.
    Refused,
    /// An answer named another account than the one the user signed in with.
    OtherAccount,
}
