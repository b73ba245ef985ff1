//! The HTTP transport's security settings, resolved once: each flag, else its variable through
//! the server's one [`Lookup`] (the process environment, then `--env-file`), else the default.

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use alpaca_mcp::settings::Lookup;

use super::auth::{TOKEN_ENV, Tokens};
use super::limits::{BodyLimits, SessionLimit};
use super::origin::{Hosts, Origins};
use crate::SetupError;
use crate::cli::AuthMode;
use crate::cli::Settings;
use crate::oauth::{self, OAuth, OAuthSettings, OwnerSecret, seal};

/// Default largest request body (1 MiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// Default most concurrent sessions.
pub const DEFAULT_MAX_SESSIONS: usize = 64;
/// Default idle time after which a session is closed.
pub const DEFAULT_SESSION_IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Default time a client has to send a request's headers.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time a client has to send a request's body.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Default most connections one peer address holds at once.
pub const DEFAULT_MAX_CONNECTIONS_PER_PEER: usize = 64;

/// What each layer checks, and the limits of the accept loop.
#[derive(Debug)]
pub struct HttpSecurity {
    /// Bearer tokens ([`super::auth`]).
    pub tokens: Arc<Tokens>,
    /// How clients authenticate.
    pub auth: AuthMode,
    /// The authorization server, with `--auth owner`.
    pub oauth: Option<Arc<OAuth>>,
    /// The safety ledger replicas share (`--state postgres://...`); `None`: in memory.
    pub ledger: Option<Arc<dyn alpaca_mcp::ledger::Ledger>>,
    /// `--public-url`.
    pub public_url: Option<url::Url>,
    /// `--allow-public-without-auth`.
    pub allow_public_without_auth: bool,
    /// Allowed `Host` values ([`super::origin`]).
    pub hosts: Arc<Hosts>,
    /// Allowed `Origin` values ([`super::origin`]).
    pub origins: Arc<Origins>,
    /// Request bodies ([`super::limits`]).
    pub body: BodyLimits,
    /// Open sessions ([`super::limits`]).
    pub sessions: SessionLimit,
    /// Time a client has to send a request's headers (the accept loop).
    pub header_timeout: Duration,
    /// Connections one peer address may hold at once (the accept loop).
    pub max_connections_per_peer: usize,
}

impl HttpSecurity {
    /// Resolves the settings: each flag, else `lookup`, else the default. `paper` is the
    /// account mode the consent page shows, `toolsets` the server's (a grant may narrow them).
    pub async fn from_settings(
        settings: &Settings,
        lookup: &Lookup,
        paper: bool,
        toolsets: Vec<String>,
        sandbox: Option<&SandboxConnect>,
    ) -> Result<Self, SetupError> {
        let h = &settings.http;
        let tokens = Tokens::new(
            lookup.get(TOKEN_ENV).as_deref(),
            h.http_token_file
                .clone()
                .or_else(|| lookup.get("ALPACA_MCP_HTTP_TOKEN_FILE").map(Into::into))
                .as_deref(),
        )?;
        let hosts = h
            .allowed_hosts
            .clone()
            .or_else(|| lookup.get("ALPACA_MCP_ALLOWED_HOSTS"));
        let explicit_hosts = hosts.is_some();
        let mut hosts = Hosts::new(hosts.as_deref(), &settings.host)?;
        let origins = h
            .allowed_origins
            .clone()
            .or_else(|| lookup.get("ALPACA_MCP_ALLOWED_ORIGINS"));
        let explicit_origins = origins.is_some();
        let mut origins = Origins::new(origins.as_deref())?;

        let auth = auth_mode(settings, lookup)?;
        let public_url = h
            .public_url
            .clone()
            .or_else(|| lookup.get("ALPACA_MCP_PUBLIC_URL"))
            .map(|v| oauth::parse_public_url(&v).map_err(SetupError))
            .transpose()?;
        // The public host and origin are this server's own: allowed unless lists were given.
        if let Some(url) = &public_url {
            if !explicit_hosts && let Some(host) = url.host_str() {
                hosts.add(host);
            }
            if !explicit_origins {
                origins.add(url.origin().ascii_serialization().as_str());
            }
        }
        if auth == AuthMode::None && tokens.required() {
            return Err(SetupError(
                "--auth none, but bearer tokens are configured (ALPACA_MCP_HTTP_TOKEN or \
                 --http-token-file): drop one or the other"
                    .into(),
            ));
        }

        let number = |flag: Option<u64>, name: &str| whole_number(lookup, flag, name);
        let at_least_one = |n: usize, what: &str| {
            if n == 0 {
                Err(SetupError(format!("{what} must be at least 1")))
            } else {
                Ok(n)
            }
        };
        let max_body_bytes = number(
            h.max_body_bytes.map(|n| n as u64),
            "ALPACA_MCP_MAX_BODY_BYTES",
        )?
        .map_or(DEFAULT_MAX_BODY_BYTES, |n| n as usize);
        let max_body_bytes = at_least_one(
            max_body_bytes,
            "--max-body-bytes (ALPACA_MCP_MAX_BODY_BYTES)",
        )?;
        let max_sessions = number(h.max_sessions.map(|n| n as u64), "ALPACA_MCP_MAX_SESSIONS")?
            .map_or(DEFAULT_MAX_SESSIONS, |n| n as usize);
        let max_sessions = at_least_one(max_sessions, "--max-sessions (ALPACA_MCP_MAX_SESSIONS)")?;
        let idle_timeout = match number(h.session_idle_timeout, "ALPACA_MCP_SESSION_IDLE_TIMEOUT")?
        {
            None => Some(DEFAULT_SESSION_IDLE_TIMEOUT),
            Some(0) => None,
            Some(secs) => Some(Duration::from_secs(secs)),
        };
        let secs =
            |flag: Option<u64>, name: &str, default: Duration| seconds(lookup, flag, name, default);
        let header_timeout = secs(
            h.header_timeout,
            "ALPACA_MCP_HEADER_TIMEOUT",
            DEFAULT_HEADER_TIMEOUT,
        )?;
        let body_timeout = secs(
            h.body_timeout,
            "ALPACA_MCP_BODY_TIMEOUT",
            DEFAULT_BODY_TIMEOUT,
        )?;
        let max_connections_per_peer = number(
            h.max_connections_per_peer.map(|n| n as u64),
            "ALPACA_MCP_MAX_CONNECTIONS_PER_PEER",
        )?
        .map_or(DEFAULT_MAX_CONNECTIONS_PER_PEER, |n| n as usize);
        let max_connections_per_peer = at_least_one(
            max_connections_per_peer,
            "--max-connections-per-peer (ALPACA_MCP_MAX_CONNECTIONS_PER_PEER)",
        )?;
        // The state: OAuth's store, and with PostgreSQL the safety ledger replicas share.
        let oauth_mode = matches!(auth, AuthMode::Owner | AuthMode::Alpaca);
        let state = if oauth_mode || state_url(settings, lookup)?.is_some() {
            Some(open_state(settings, lookup).await?)
        } else {
            None
        };
        let ledger = state.as_ref().and_then(|s| s.ledger.clone());
        let oauth = match (auth, state) {
            (AuthMode::Owner, Some(state)) => Some(Arc::new(owner_mode(
                settings,
                lookup,
                public_url.clone(),
                paper,
                toolsets,
                state.store,
            )?)),
            (AuthMode::Alpaca, Some(state)) => Some(Arc::new(alpaca_mode(
                settings,
                lookup,
                public_url.clone(),
                toolsets,
                sandbox,
                state.store,
            )?)),
            _ => None,
        };
        Ok(HttpSecurity {
            tokens: Arc::new(tokens),
            auth,
            oauth,
            ledger,
            public_url,
            allow_public_without_auth: h.allow_public_without_auth,
            hosts: Arc::new(hosts),
            origins: Arc::new(origins),
            body: BodyLimits {
                max_bytes: max_body_bytes,
                timeout: body_timeout,
            },
            sessions: SessionLimit {
                max: max_sessions,
                idle_timeout,
            },
            header_timeout,
            max_connections_per_peer,
        })
    }

    /// A one-line description for the startup log (no token values).
    pub fn describe(&self) -> String {
        let idle = self
            .sessions
            .idle_timeout
            .map_or("never".into(), |d| format!("{}s", d.as_secs()));
        let oauth = match &self.oauth {
            Some(o) if o.connect().is_some() => {
                format!("OAuth (users sign in with Alpaca) at {}, ", o.issuer())
            }
            Some(o) => format!("OAuth (owner) at {}, ", o.issuer()),
            None => String::new(),
        };
        format!(
            "{oauth}{}; allowed hosts: {}; max body {} bytes; max sessions {}; idle sessions close after {idle}",
            self.tokens.describe(),
            self.hosts.describe(),
            self.body.max_bytes,
            self.sessions.max
        )
    }

    /// Resolves `--host`/`--port` and refuses a non-loopback address without a token.
    pub async fn bind_addresses(
        &self,
        host: &str,
        port: u16,
    ) -> Result<Vec<SocketAddr>, SetupError> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| SetupError(format!("cannot resolve --host {host}: {e}")))?
            .collect();
        if addrs.is_empty() {
            return Err(SetupError(format!("--host {host} resolves to no address")));
        }
        let public = addrs.iter().any(|a| !a.ip().is_loopback());
        let public_url = self
            .public_url
            .as_ref()
            .is_some_and(|u| !oauth::is_loopback_host(u.host_str().unwrap_or_default()));
        let authenticated = self.tokens.required() || self.oauth.is_some();
        if self.auth == AuthMode::None && (public || public_url) {
            if !self.allow_public_without_auth {
                return Err(SetupError(
                    "refusing --auth none on a non-loopback address or public URL: anyone who \
                     can reach it could use your Alpaca account. Use --auth owner (OAuth, for \
                     Claude and ChatGPT) or bearer tokens; --allow-public-without-auth forces it"
                        .into(),
                ));
            }
            tracing::warn!(
                "serving without authentication on a public address (--allow-public-without-auth)"
            );
        } else if public && !authenticated {
            return Err(SetupError(format!(
                "refusing to serve HTTP on {host}, which is not a loopback address, without a \
                 bearer token: anyone who can reach it could use your Alpaca account. Set \
                 {TOKEN_ENV}=<a long random secret> (e.g. from `openssl rand -hex 32`) or pass \
                 --http-token-file FILE (one token per line, optionally followed by `read` or \
                 `read,trade`), and have clients send `Authorization: Bearer <token>`; or bind \
                 --host 127.0.0.1 and put a TLS reverse proxy in front (see the README's \"HTTP \
                 transport security\")"
            )));
        }
        if public {
            tracing::warn!(
                "serving plain HTTP on a non-loopback address: put a TLS reverse proxy in front so \
                 the bearer token is not sent in the clear"
            );
        }
        Ok(addrs)
    }
}

/// The default state directory: the user's data directory's `alpaca-mcp`.
/// How HTTP clients authenticate: `--auth`, else `ALPACA_MCP_AUTH` (the flag's values,
/// clap's own parser, case-insensitive), else static tokens.
pub fn auth_mode(settings: &Settings, lookup: &Lookup) -> Result<AuthMode, SetupError> {
    match (settings.http.auth, lookup.get("ALPACA_MCP_AUTH")) {
        (Some(mode), _) => Ok(mode),
        (None, None) => Ok(AuthMode::Token),
        (None, Some(v)) => <AuthMode as clap::ValueEnum>::from_str(v.trim(), true).map_err(|_| {
            SetupError(format!(
                "ALPACA_MCP_AUTH: expected token, owner, alpaca or none, got `{v}`"
            ))
        }),
    }
}

pub fn default_state_dir() -> Option<std::path::PathBuf> {
    dirs::data_dir().map(|d| d.join("alpaca-mcp"))
}

/// The database of the OAuth state, `--state` (else the file ALPACA_MCP_STATE_FILE names,
/// else ALPACA_MCP_STATE): a PostgreSQL URL,
/// shared by replicas. `None`: the embedded SQLite file in [`state_dir`].
pub fn state_url(settings: &Settings, lookup: &Lookup) -> Result<Option<String>, SetupError> {
    let from_file = match lookup.get("ALPACA_MCP_STATE_FILE") {
        Some(path) if settings.http.state.is_none() => Some(
            std::fs::read_to_string(path.trim())
                .map(|t| t.trim().to_string())
                .map_err(|e| SetupError(format!("ALPACA_MCP_STATE_FILE {path}: {e}")))?,
        ),
        _ => None,
    };
    let Some(url) = settings
        .http
        .state
        .clone()
        .or(from_file)
        .or_else(|| lookup.get("ALPACA_MCP_STATE"))
        .filter(|v| !v.trim().is_empty())
    else {
        return Ok(None);
    };
    if !oauth::postgres::is_postgres_url(&url) {
        return Err(SetupError(
            "--state (ALPACA_MCP_STATE) must be a PostgreSQL URL, postgres://USER@HOST:PORT/DB; \
             for the embedded SQLite file, pass --state-dir DIR instead"
                .into(),
        ));
    }
    if settings.http.state_dir.is_some() {
        return Err(SetupError(
            "--state and --state-dir both given: the state is either in PostgreSQL or in a \
             directory, not both"
                .into(),
        ));
    }
    if settings.http.state.is_some()
        && tokio_postgres::Config::from_str(url.trim())
            .ok()
            .is_some_and(|c| c.get_password().is_some())
    {
        tracing::warn!(
            "--state holds a password, which other local users can read in the process list; put the URL in ALPACA_MCP_STATE instead"
        );
    }
    Ok(Some(url))
}

/// The opened state.
pub struct OpenedState {
    /// The OAuth store.
    pub store: Arc<dyn oauth::Store>,
    /// The safety ledger in the same database, when replicas share one (PostgreSQL).
    pub ledger: Option<Arc<dyn alpaca_mcp::ledger::Ledger>>,
}

/// Opens the state: PostgreSQL when [`state_url`] names one (with the ledger), else the
/// SQLite file in [`state_dir`] (created if needed).
pub async fn open_state(settings: &Settings, lookup: &Lookup) -> Result<OpenedState, SetupError> {
    match state_url(settings, lookup)? {
        Some(url) => {
            let store = Arc::new(
                oauth::postgres::Postgres::connect(&url)
                    .await
                    .map_err(|e| SetupError(e.to_string()))?,
            );
            tracing::info!(database = %store.shown(), "state in PostgreSQL (OAuth and the safety ledger)");
            let ledger = Arc::new(oauth::postgres::PgLedger::new(store.clone()));
            Ok(OpenedState {
                store,
                ledger: Some(ledger),
            })
        }
        None => {
            let dir = state_dir(settings, lookup)?;
            let store = oauth::sqlite::Sqlite::open(&dir).map_err(|e| SetupError(e.to_string()))?;
            Ok(OpenedState {
                store: Arc::new(store),
                ledger: None,
            })
        }
    }
}

/// [`open_state`]'s store.
pub async fn open_store(
    settings: &Settings,
    lookup: &Lookup,
) -> Result<Arc<dyn oauth::Store>, SetupError> {
    Ok(open_state(settings, lookup).await?.store)
}

/// `--state-dir`, else ALPACA_MCP_STATE_DIR, else [`default_state_dir`].
pub fn state_dir(settings: &Settings, lookup: &Lookup) -> Result<std::path::PathBuf, SetupError> {
    settings
        .http
        .state_dir
        .clone()
        .or_else(|| lookup.get("ALPACA_MCP_STATE_DIR").map(Into::into))
        .or_else(default_state_dir)
        .ok_or_else(|| {
            SetupError("no data directory is known for this user: pass --state-dir DIR".into())
        })
}

/// The owner passphrase: `--owner-secret-file` (or its variable), else ALPACA_MCP_OWNER_SECRET.
fn owner_secret(settings: &Settings, lookup: &Lookup) -> Result<OwnerSecret, SetupError> {
    let file = settings
        .http
        .owner_secret_file
        .clone()
        .or_else(|| lookup.get("ALPACA_MCP_OWNER_SECRET_FILE").map(Into::into));
    if let Some(path) = file {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| SetupError(format!("--owner-secret-file {}: {e}", path.display())))?;
        let first = text.lines().next().unwrap_or_default();
        return OwnerSecret::new(first, &format!("--owner-secret-file {}", path.display()));
    }
    match lookup.get("ALPACA_MCP_OWNER_SECRET") {
        Some(v) => OwnerSecret::new(&v, "ALPACA_MCP_OWNER_SECRET"),
        None => Err(SetupError(
            "--auth owner needs the owner passphrase, which approves each client on the consent \
             page: set ALPACA_MCP_OWNER_SECRET or --owner-secret-file FILE (at least 12 \
             characters; `alpaca-mcp-server auth hash-passphrase` makes a hash to store instead)"
                .into(),
        )),
    }
}

/// `flag`, else the variable `name` through `lookup`, as a whole number.
fn whole_number(lookup: &Lookup, flag: Option<u64>, name: &str) -> Result<Option<u64>, SetupError> {
    match flag {
        Some(n) => Ok(Some(n)),
        None => lookup
            .get(name)
            .map(|v| {
                v.trim()
                    .parse::<u64>()
                    .map_err(|_| SetupError(format!("{name}: expected a whole number, got `{v}`")))
            })
            .transpose(),
    }
}

/// [`whole_number`] as seconds, at least one, else `default`.
fn seconds(
    lookup: &Lookup,
    flag: Option<u64>,
    name: &str,
    default: Duration,
) -> Result<Duration, SetupError> {
    match whole_number(lookup, flag, name)? {
        None => Ok(default),
        Some(0) => Err(SetupError(format!("{name} must be at least 1 second"))),
        Some(n) => Ok(Duration::from_secs(n)),
    }
}

/// How long an OAuth grant may go unused: `--oauth-grant-idle-days` (or its variable), else
/// 30 days. The server and `auth list` read it the same way.
pub fn grant_idle(settings: &Settings, lookup: &Lookup) -> Result<Duration, SetupError> {
    match whole_number(
        lookup,
        settings.http.oauth_grant_idle_days,
        "ALPACA_MCP_OAUTH_GRANT_IDLE_DAYS",
    )? {
        None => Ok(oauth::DEFAULT_GRANT_IDLE),
        Some(0) => Err(SetupError(
            "ALPACA_MCP_OAUTH_GRANT_IDLE_DAYS must be at least 1".into(),
        )),
        Some(days) => Ok(Duration::from_secs(days * 24 * 3600)),
    }
}

/// The sandbox's fake Alpaca Connect, for `--sandbox --auth alpaca`: its app's id and
/// secret, and its pages and hosts.
#[derive(Debug, Clone)]
pub struct SandboxConnect {
    pub client_id: String,
    pub client_secret: String,
    /// The fake's address: its authorize page, token endpoint and paper trading host.
    pub url: url::Url,
    /// The fake's live trading host.
    pub live_url: url::Url,
}

/// `--auth alpaca`: the operator's Alpaca app and the token keys, from the environment (or,
/// in the sandbox, the fake's).
fn alpaca_mode(
    settings: &Settings,
    lookup: &Lookup,
    public_url: Option<url::Url>,
    toolsets: Vec<String>,
    sandbox: Option<&SandboxConnect>,
    store: Arc<dyn oauth::Store>,
) -> Result<OAuth, SetupError> {
    let public_url = public_url.ok_or_else(|| needs_public_url("alpaca"))?;
    let url = |name: &str, default: &str| -> Result<url::Url, SetupError> {
        let value = lookup.get(name).unwrap_or_else(|| default.to_string());
        let parsed = url::Url::parse(value.trim())
            .map_err(|e| SetupError(format!("{name}: `{value}` is not a URL ({e})")))?;
        let local = oauth::is_loopback_host(parsed.host_str().unwrap_or_default());
        if parsed.scheme() != "https" && !(parsed.scheme() == "http" && local) {
            return Err(SetupError(format!(
                "{name}: `{value}` must be https (http only on loopback, for a local fake)"
            )));
        }
        Ok(parsed)
    };
    let (client_id, client_secret, defaults) = match sandbox {
        Some(s) => (
            s.client_id.clone(),
            s.client_secret.clone(),
            [
                s.url
                    .join("/oauth/authorize")
                    .map_err(|e| SetupError(e.to_string()))?
                    .to_string(),
                s.url
                    .join("/oauth/token")
                    .map_err(|e| SetupError(e.to_string()))?
                    .to_string(),
                s.url.to_string(),
                s.live_url.to_string(),
            ],
        ),
        None => {
            let id = lookup
                .get("ALPACA_CONNECT_CLIENT_ID")
                .filter(|v| !v.trim().is_empty());
            let secret = match lookup.get("ALPACA_CONNECT_CLIENT_SECRET_FILE") {
                Some(path) => std::fs::read_to_string(path.trim())
                    .map_err(|e| {
                        SetupError(format!("ALPACA_CONNECT_CLIENT_SECRET_FILE {path}: {e}"))
                    })?
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
                None => lookup
                    .get("ALPACA_CONNECT_CLIENT_SECRET")
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
            };
            let (Some(id), false) = (id, secret.is_empty()) else {
                return Err(SetupError(
                    "--auth alpaca needs the operator's Alpaca OAuth app: set ALPACA_CONNECT_CLIENT_ID \
                     and ALPACA_CONNECT_CLIENT_SECRET (or ALPACA_CONNECT_CLIENT_SECRET_FILE), from the \
                     app registered in Alpaca's dashboard (OAuth Apps) with the redirect URI \
                     PUBLIC_URL/callback"
                        .into(),
                ));
            };
            (
                id.trim().to_string(),
                secret,
                [
                    oauth::connect::ALPACA_AUTHORIZE_URL.to_string(),
                    oauth::connect::ALPACA_TOKEN_URL.to_string(),
                    alpaca_mcp::config::PAPER_TRADING_URL.to_string(),
                    alpaca_mcp::config::LIVE_TRADING_URL.to_string(),
                ],
            )
        }
    };
    // The sandbox shows the choice; a real deployment connects paper accounts unless told.
    let accounts = lookup.get("ALPACA_CONNECT_ACCOUNTS").unwrap_or_else(|| {
        if sandbox.is_some() {
            "paper,live".into()
        } else {
            "paper".into()
        }
    });
    let (mut paper, mut live) = (false, false);
    for a in accounts.split(',').map(str::trim).filter(|a| !a.is_empty()) {
        match a.to_ascii_lowercase().as_str() {
            "paper" => paper = true,
            "live" => live = true,
            _ => {
                return Err(SetupError(format!(
                    "ALPACA_CONNECT_ACCOUNTS: expected `paper`, `live` or `paper,live`, got `{accounts}`"
                )));
            }
        }
    }
    if !paper && !live {
        return Err(SetupError(
            "ALPACA_CONNECT_ACCOUNTS: expected `paper`, `live` or `paper,live`".into(),
        ));
    }
    let keys = match (token_keys(lookup)?, sandbox) {
        (Some(keys), _) => keys,
        // The sandbox's users and their fake tokens end with the process anyway.
        (None, Some(_)) => seal::Keys::ephemeral(),
        (None, None) => {
            return Err(no_token_key(
                "--auth alpaca stores each user's Alpaca token encrypted",
            ));
        }
    };
    let connect = oauth::connect::ConnectSettings {
        client_id,
        client_secret,
        authorize_url: url("ALPACA_CONNECT_AUTHORIZE_URL", &defaults[0])?,
        token_url: url("ALPACA_CONNECT_TOKEN_URL", &defaults[1])?,
        paper_url: paper
            .then(|| url("ALPACA_CONNECT_PAPER_URL", &defaults[2]))
            .transpose()?,
        live_url: live
            .then(|| url("ALPACA_CONNECT_LIVE_URL", &defaults[3]))
            .transpose()?,
        keys,
    };
    let mode = if live && !paper { "LIVE" } else { "paper" };
    let o = oauth_settings(settings, lookup, public_url, mode, toolsets)?;
    Ok(OAuth::for_alpaca(o, store, connect))
}

/// The key ring of stored Alpaca tokens: `ALPACA_MCP_TOKEN_KEY_FILE` (one key per line, the
/// first sealing), else `ALPACA_MCP_TOKEN_KEY`; `None` when neither is set.
pub fn token_keys(lookup: &Lookup) -> Result<Option<seal::Keys>, SetupError> {
    match (lookup.get(seal::KEY_FILE_ENV), lookup.get(seal::KEY_ENV)) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path.trim())
                .map_err(|e| SetupError(format!("{} {path}: {e}", seal::KEY_FILE_ENV)))?;
            seal::Keys::parse(&text, &format!("{} {path}", seal::KEY_FILE_ENV)).map(Some)
        }
        (None, Some(keys)) => seal::Keys::parse(&keys, seal::KEY_ENV).map(Some),
        (None, None) => Ok(None),
    }
}

/// The setup error for a missing token key: `why` it is needed, and how to make one.
pub fn no_token_key(why: &str) -> SetupError {
    SetupError(format!(
        "{why} and needs the key: set {} to a file holding one (`openssl rand -hex 32 > FILE; \
         chmod 600 FILE`), or {}",
        seal::KEY_FILE_ENV,
        seal::KEY_ENV
    ))
}

fn needs_public_url(mode: &str) -> SetupError {
    SetupError(format!(
        "--auth {mode} needs --public-url (ALPACA_MCP_PUBLIC_URL): the https origin clients \
         reach this server at, e.g. https://mcp.example.com (http://127.0.0.1:PORT for local \
         use)"
    ))
}

fn owner_mode(
    settings: &Settings,
    lookup: &Lookup,
    public_url: Option<url::Url>,
    paper: bool,
    toolsets: Vec<String>,
    store: Arc<dyn oauth::Store>,
) -> Result<OAuth, SetupError> {
    let public_url = public_url.ok_or_else(|| needs_public_url("owner"))?;
    let owner = owner_secret(settings, lookup)?;
    let o = oauth_settings(
        settings,
        lookup,
        public_url,
        if paper { "paper" } else { "LIVE" },
        toolsets,
    )?;
    Ok(OAuth::new(o, store, owner))
}

/// The authorization server's settings shared by both OAuth modes.
fn oauth_settings(
    settings: &Settings,
    lookup: &Lookup,
    public_url: url::Url,
    mode: &str,
    toolsets: Vec<String>,
) -> Result<OAuthSettings, SetupError> {
    let h = &settings.http;
    let mut o = OAuthSettings::new(public_url, mode);
    o.toolsets = toolsets;
    o.access_ttl = seconds(
        lookup,
        h.oauth_access_ttl,
        "ALPACA_MCP_OAUTH_ACCESS_TTL",
        oauth::DEFAULT_ACCESS_TTL,
    )?;
    o.grant_idle = grant_idle(settings, lookup)?;
    // Codes live a minute; tests shorten it (0 makes every code expired on arrival).
    if let Some(secs) = whole_number(lookup, None, "ALPACA_MCP_OAUTH_CODE_TTL")? {
        o.code_ttl = Duration::from_secs(secs);
    }
    o.allow_local_client_metadata = h.oauth_allow_local_client_metadata;
    // The flag wins over the variable, as every other setting's does.
    let (what, list) = if h.trusted_proxies.is_empty() {
        (
            "ALPACA_MCP_TRUSTED_PROXIES",
            lookup.get("ALPACA_MCP_TRUSTED_PROXIES").unwrap_or_default(),
        )
    } else {
        ("--trusted-proxy", h.trusted_proxies.join(","))
    };
    for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let net = item
            .parse::<ipnet::IpNet>()
            .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
            .map_err(|_| {
                SetupError(format!(
                    "{what}: `{item}` is not an IP address or network (e.g. 127.0.0.1 or 10.0.0.0/8)"
                ))
            })?;
        o.trusted_proxies.push(net);
    }
    Ok(o)
}
