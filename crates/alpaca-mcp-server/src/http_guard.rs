//! Security of the streamable HTTP transport, in front of rmcp's service: `Host` and `Origin`
//! allowlists (DNS rebinding), bearer tokens with scopes, a request body limit and a limit on
//! concurrent sessions. rmcp's own Host/Origin checks are turned off so that these are the only
//! ones (and a foreign Host gets 421 rather than rmcp's 403).
//!
//! Status codes, in the order the checks run: a malformed or missing `Host` 400, a foreign
//! `Host` 421, a foreign `Origin` 403, a missing or wrong token 401 (with `WWW-Authenticate:
//! Bearer`), a body over the limit 413, an `initialize` beyond the session limit 503.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use alpaca_mcp::AlpacaServer;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::StreamableHttpService;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;

use crate::SetupError;
use crate::cli::Settings;

/// Default largest request body (1 MiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// Default most concurrent sessions.
pub const DEFAULT_MAX_SESSIONS: usize = 64;
/// Default idle time after which a session is closed (30 minutes).
pub const DEFAULT_SESSION_IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Default time a client has to send a request's headers (and the longest idle keep-alive).
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time a client has to send a request's body.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Default most connections one peer address holds at once.
pub const DEFAULT_MAX_CONNECTIONS_PER_PEER: usize = 64;

const TOKEN_ENV: &str = "ALPACA_MCP_HTTP_TOKEN";
const SESSION_HEADER: &str = "mcp-session-id";

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Read-only tools only (as with `--read-only`).
    Read,
    /// Every tool the server exposes.
    ReadTrade,
}

impl Scope {
    fn name(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::ReadTrade => "read,trade",
        }
    }
}

/// One accepted token. The value is never logged or printed (`Debug` hides it).
struct Token {
    value: Vec<u8>,
    scope: Scope,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Token(<redacted>, {})", self.scope.name())
    }
}

/// An allowed `Host`: a name (lowercase, IPv6 without brackets) and optionally one port.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HostRule {
    host: String,
    port: Option<u16>,
}

/// An allowed `Origin`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum OriginRule {
    /// The literal `null` origin.
    Null,
    Tuple {
        scheme: String,
        host: String,
        /// `None` is `:*` (any port).
        port: Option<u16>,
    },
}

/// The HTTP transport's security settings, resolved from flags, the environment and
/// `--env-file`.
#[derive(Debug)]
pub struct HttpSecurity {
    tokens: Vec<Token>,
    /// `None`: any host (`*`).
    allowed_hosts: Option<Vec<HostRule>>,
    /// `None`: any origin (`*`).
    allowed_origins: Option<Vec<OriginRule>>,
    pub max_body_bytes: usize,
    pub max_sessions: usize,
    /// `None`: sessions never expire.
    pub session_idle_timeout: Option<Duration>,
    /// Time a client has to send a request's headers.
    pub header_timeout: Duration,
    /// Time a client has to send a request's body.
    pub body_timeout: Duration,
    /// Connections one peer address may hold at once.
    pub max_connections_per_peer: usize,
    /// Refused authentications, summarized in the log instead of one line each.
    auth_failures: AuthFailures,
}

/// Counts refused authentications and logs them at most once a minute, so a flood of bad
/// tokens cannot flood the log.
#[derive(Debug, Default)]
struct AuthFailures {
    state: std::sync::Mutex<(u64, Option<std::time::Instant>)>,
}

impl AuthFailures {
    const INTERVAL: Duration = Duration::from_secs(60);

    fn record(&self, reason: Denied) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (count, since) = &mut *s;
        match since {
            Some(t) if t.elapsed() < Self::INTERVAL => *count += 1,
            _ => {
                if *count > 0 {
                    tracing::info!(
                        refused = *count,
                        "refused requests without a valid bearer token (401) in the last minute"
                    );
                }
                tracing::info!(reason = ?reason, "refused a request without a valid bearer token (401); further ones are counted and summarized once a minute");
                *count = 0;
                *since = Some(std::time::Instant::now());
            }
        }
    }
}

impl HttpSecurity {
    /// Reads the settings: each flag, else its environment variable (clap), else the same
    /// variable in `--env-file`, else the default.
    pub fn from_settings(settings: &Settings) -> Result<Self, SetupError> {
        let file: HashMap<String, String> = match &settings.env_file {
            Some(path) => crate::cli::read_env_file(path).map_err(|e| SetupError(e.to_string()))?,
            None => HashMap::new(),
        };
        let from_file = |name: &str| file.get(name).filter(|v| !v.trim().is_empty()).cloned();
        let h = &settings.http;

        let mut tokens = Vec::new();
        let env_token = std::env::var(TOKEN_ENV)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .or_else(|| from_file(TOKEN_ENV));
        if let Some(value) = env_token {
            let value = value.trim();
            if value.chars().any(char::is_whitespace) {
                return Err(SetupError(format!(
                    "{TOKEN_ENV} must be a single token without spaces (put scoped tokens in \
                     --http-token-file)"
                )));
            }
            tokens.push(Token {
                value: value.as_bytes().to_vec(),
                scope: Scope::ReadTrade,
            });
        }
        let token_file = h
            .http_token_file
            .clone()
            .or_else(|| from_file("ALPACA_MCP_HTTP_TOKEN_FILE").map(Into::into));
        if let Some(path) = token_file {
            tokens.extend(read_token_file(&path)?);
        }
        for (i, a) in tokens.iter().enumerate() {
            if tokens[..i].iter().any(|b| b.value == a.value) {
                return Err(SetupError(
                    "the same HTTP token is configured twice (in --http-token-file or also in \
                     ALPACA_MCP_HTTP_TOKEN); give each token one line"
                        .into(),
                ));
            }
        }
        if tokens.iter().any(|t| t.value.len() < 16) {
            tracing::warn!(
                "an HTTP bearer token is shorter than 16 characters; use a long random one \
                 (e.g. `openssl rand -hex 32`)"
            );
        }

        let hosts = h
            .allowed_hosts
            .clone()
            .or_else(|| from_file("ALPACA_MCP_ALLOWED_HOSTS"));
        let allowed_hosts = match hosts {
            None => {
                let mut rules = default_hosts();
                // A specific bound address is also a fine Host: an IP literal cannot be rebound.
                if let Ok(ip) = settings.host.parse::<std::net::IpAddr>()
                    && !ip.is_unspecified()
                    && !ip.is_loopback()
                {
                    rules.push(HostRule {
                        host: normalize_host(&ip.to_string()),
                        port: None,
                    });
                }
                Some(rules)
            }
            Some(list) => parse_host_list(&list)?,
        };
        let origins = h
            .allowed_origins
            .clone()
            .or_else(|| from_file("ALPACA_MCP_ALLOWED_ORIGINS"));
        let allowed_origins = match origins {
            None => Some(default_origins()),
            Some(list) => parse_origin_list(&list)?,
        };

        let number = |flag: Option<u64>, name: &str| -> Result<Option<u64>, SetupError> {
            match flag {
                Some(n) => Ok(Some(n)),
                None => from_file(name)
                    .map(|v| {
                        v.trim().parse::<u64>().map_err(|_| {
                            SetupError(format!("{name}: expected a whole number, got `{v}`"))
                        })
                    })
                    .transpose(),
            }
        };
        let max_body_bytes = number(
            h.max_body_bytes.map(|n| n as u64),
            "ALPACA_MCP_MAX_BODY_BYTES",
        )?
        .map_or(DEFAULT_MAX_BODY_BYTES, |n| n as usize);
        if max_body_bytes == 0 {
            return Err(SetupError(
                "--max-body-bytes (ALPACA_MCP_MAX_BODY_BYTES) must be at least 1".into(),
            ));
        }
        let max_sessions = number(h.max_sessions.map(|n| n as u64), "ALPACA_MCP_MAX_SESSIONS")?
            .map_or(DEFAULT_MAX_SESSIONS, |n| n as usize);
        if max_sessions == 0 {
            return Err(SetupError(
                "--max-sessions (ALPACA_MCP_MAX_SESSIONS) must be at least 1".into(),
            ));
        }
        let session_idle_timeout =
            match number(h.session_idle_timeout, "ALPACA_MCP_SESSION_IDLE_TIMEOUT")? {
                None => Some(DEFAULT_SESSION_IDLE_TIMEOUT),
                Some(0) => None,
                Some(secs) => Some(Duration::from_secs(secs)),
            };
        let secs =
            |flag: Option<u64>, name: &str, default: Duration| -> Result<Duration, SetupError> {
                match number(flag, name)? {
                    None => Ok(default),
                    Some(0) => Err(SetupError(format!("{name} must be at least 1 second"))),
                    Some(n) => Ok(Duration::from_secs(n)),
                }
            };
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
        if max_connections_per_peer == 0 {
            return Err(SetupError(
                "--max-connections-per-peer (ALPACA_MCP_MAX_CONNECTIONS_PER_PEER) must be at least 1".into(),
            ));
        }
        Ok(HttpSecurity {
            tokens,
            allowed_hosts,
            allowed_origins,
            max_body_bytes,
            max_sessions,
            session_idle_timeout,
            header_timeout,
            body_timeout,
            max_connections_per_peer,
            auth_failures: AuthFailures::default(),
        })
    }

    /// Whether any token is configured (then every request needs one).
    pub fn auth_required(&self) -> bool {
        !self.tokens.is_empty()
    }

    /// Whether some token has only the `read` scope.
    pub fn has_read_tokens(&self) -> bool {
        self.tokens.iter().any(|t| t.scope == Scope::Read)
    }

    /// A one-line description for the startup log (no token values).
    pub fn describe(&self) -> String {
        let auth = if self.auth_required() {
            let read = self
                .tokens
                .iter()
                .filter(|t| t.scope == Scope::Read)
                .count();
            format!(
                "bearer tokens: {} ({read} read, {} read,trade)",
                self.tokens.len(),
                self.tokens.len() - read
            )
        } else {
            "no bearer token (loopback only)".into()
        };
        let hosts = match &self.allowed_hosts {
            None => "any".to_string(),
            Some(rules) => rules
                .iter()
                .map(|r| match r.port {
                    Some(p) if r.host.contains(':') => format!("[{}]:{p}", r.host),
                    Some(p) => format!("{}:{p}", r.host),
                    None if r.host.contains(':') => format!("[{}]", r.host),
                    None => r.host.clone(),
                })
                .collect::<Vec<_>>()
                .join(","),
        };
        let idle = self
            .session_idle_timeout
            .map_or("never".into(), |d| format!("{}s", d.as_secs()));
        format!(
            "{auth}; allowed hosts: {hosts}; max body {} bytes; max sessions {}; idle sessions close after {idle}",
            self.max_body_bytes, self.max_sessions
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
        if public && !self.auth_required() {
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

    /// The scope of a request's bearer token; `Err` with the 401 to answer otherwise. Without
    /// configured tokens every request has the server's own mode.
    fn authorize(&self, headers: &HeaderMap) -> Result<Scope, Denied> {
        if !self.auth_required() {
            return Ok(Scope::ReadTrade);
        }
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, rest) = v.trim().split_once(' ')?;
                scheme
                    .eq_ignore_ascii_case("bearer")
                    .then(|| rest.trim())
                    .filter(|t| !t.is_empty())
            });
        let Some(presented) = presented else {
            return Err(Denied::Missing);
        };
        // Every token is compared, in constant time, whatever matches.
        let mut found = None;
        for t in &self.tokens {
            if constant_time_eq(presented.as_bytes(), &t.value) {
                found = Some(t.scope);
            }
        }
        found.ok_or(Denied::Invalid)
    }

    fn host_allowed(&self, host: &str, port: Option<u16>) -> bool {
        let Some(rules) = &self.allowed_hosts else {
            return true;
        };
        let host = normalize_host(host);
        rules
            .iter()
            .any(|r| r.host == host && r.port.is_none_or(|p| Some(p) == port))
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        let Some(rules) = &self.allowed_origins else {
            return true;
        };
        let Some(origin) = parse_origin(origin) else {
            return false;
        };
        rules.iter().any(|rule| match (rule, &origin) {
            (OriginRule::Null, OriginRule::Null) => true,
            (
                OriginRule::Tuple { scheme, host, port },
                OriginRule::Tuple {
                    scheme: s,
                    host: h,
                    port: p,
                },
            ) => scheme == s && host == h && port.is_none_or(|want| Some(want) == *p),
            _ => false,
        })
    }
}

/// Compares two byte strings in time that depends only on their lengths, not on where they
/// differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() ^ b.len()) as u64;
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= u64::from(x ^ y);
    }
    std::hint::black_box(diff) == 0
}

fn read_token_file(path: &Path) -> Result<Vec<Token>, SetupError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| SetupError(format!("--http-token-file {}: {e}", path.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                file = %path.display(),
                "the HTTP token file is readable by other users; consider `chmod 600`"
            );
        }
    }
    let tokens = parse_tokens(&text)
        .map_err(|e| SetupError(format!("--http-token-file {}: {e}", path.display())))?;
    if tokens.is_empty() {
        return Err(SetupError(format!(
            "--http-token-file {}: no tokens in it (one per line: `TOKEN` or `TOKEN read` or \
             `TOKEN read,trade`)",
            path.display()
        )));
    }
    Ok(tokens)
}

/// Parses a token file: one token per line, optionally followed by whitespace and its scopes
/// (`read` or `read,trade`; a bare token is `read,trade`); blank lines and lines starting with
/// `#` are skipped. Errors name the line, never the token.
fn parse_tokens(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.split_whitespace();
        let value = parts.next().unwrap_or_default();
        let scopes: Vec<&str> = parts.collect();
        // Nothing from a token file line is ever echoed: a line written the wrong way round
        // would otherwise print its token as an "unknown scope".
        if parse_scope(value).is_ok() {
            return Err(format!(
                "line {}: the token comes first, then its scopes (`TOKEN read` or `TOKEN read,trade`)",
                n + 1
            ));
        }
        let scope = match scopes.as_slice() {
            [] => Scope::ReadTrade,
            [s] => parse_scope(s).map_err(|e| format!("line {}: {e}", n + 1))?,
            _ => {
                return Err(format!(
                    "line {}: expected `TOKEN` or `TOKEN SCOPES` with SCOPES `read` or \
                     `read,trade` (no spaces inside SCOPES)",
                    n + 1
                ));
            }
        };
        tokens.push(Token {
            value: value.as_bytes().to_vec(),
            scope,
        });
    }
    Ok(tokens)
}

fn parse_scope(s: &str) -> Result<Scope, String> {
    let mut read = false;
    let mut trade = false;
    for part in s.split(',').map(str::trim) {
        match part.to_ascii_lowercase().as_str() {
            "read" => read = true,
            "trade" => trade = true,
            _ => {
                return Err(
                    "unknown scope (the scopes are `read` and `read,trade`; the text is not repeated here in case it is a token)".into(),
                );
            }
        }
    }
    match (read, trade) {
        (true, false) => Ok(Scope::Read),
        (true, true) => Ok(Scope::ReadTrade),
        _ => Err("`trade` needs `read` too: write `read,trade`".into()),
    }
}

fn normalize_host(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

fn default_hosts() -> Vec<HostRule> {
    ["localhost", "127.0.0.1", "::1"]
        .into_iter()
        .map(|h| HostRule {
            host: h.into(),
            port: None,
        })
        .collect()
}

fn default_origins() -> Vec<OriginRule> {
    let mut v = Vec::new();
    for scheme in ["http", "https"] {
        for host in ["localhost", "127.0.0.1", "::1"] {
            v.push(OriginRule::Tuple {
                scheme: scheme.into(),
                host: host.into(),
                port: None,
            });
        }
    }
    v
}

fn split(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// `*` (any), or `host` / `host:port` / `[v6]` / `[v6]:port` entries.
fn parse_host_list(list: &str) -> Result<Option<Vec<HostRule>>, SetupError> {
    let mut rules = Vec::new();
    for entry in split(list) {
        if entry == "*" {
            return Ok(None);
        }
        let rule = if let Ok(a) = entry.parse::<axum::http::uri::Authority>() {
            HostRule {
                host: normalize_host(a.host()),
                port: a.port_u16(),
            }
        } else if entry.parse::<std::net::Ipv6Addr>().is_ok() {
            HostRule {
                host: normalize_host(entry),
                port: None,
            }
        } else {
            return Err(SetupError(format!(
                "--allowed-hosts: `{entry}` is not a host name or host:port"
            )));
        };
        if entry.contains('/') || entry.contains('@') {
            return Err(SetupError(format!(
                "--allowed-hosts: `{entry}` is not a host name or host:port (no scheme or path)"
            )));
        }
        rules.push(rule);
    }
    if rules.is_empty() {
        return Err(SetupError(
            "--allowed-hosts is empty; list host names, or `*` to accept any".into(),
        ));
    }
    Ok(Some(rules))
}

/// `*` (any), `null`, or `scheme://host`, `scheme://host:port`, `scheme://host:*` entries (no
/// port: the scheme's default port).
fn parse_origin_list(list: &str) -> Result<Option<Vec<OriginRule>>, SetupError> {
    let mut rules = Vec::new();
    for entry in split(list) {
        if entry == "*" {
            return Ok(None);
        }
        let bad = || {
            SetupError(format!(
                "--allowed-origins: `{entry}` is not an origin like https://app.example.com, \
                 http://localhost:3000 or http://localhost:*"
            ))
        };
        let rule = match entry.strip_suffix(":*") {
            Some(base) => match parse_origin(base) {
                Some(OriginRule::Tuple { scheme, host, .. }) if !has_explicit_port(base) => {
                    OriginRule::Tuple {
                        scheme,
                        host,
                        port: None,
                    }
                }
                _ => return Err(bad()),
            },
            None => parse_origin(entry).ok_or_else(bad)?,
        };
        rules.push(rule);
    }
    if rules.is_empty() {
        return Err(SetupError(
            "--allowed-origins is empty; list origins, or `*` to accept any".into(),
        ));
    }
    Ok(Some(rules))
}

fn has_explicit_port(origin: &str) -> bool {
    origin
        .parse::<axum::http::Uri>()
        .ok()
        .and_then(|u| u.port_u16())
        .is_some()
}

/// An `Origin` header value as (scheme, host, port with the scheme's default filled in).
fn parse_origin(value: &str) -> Option<OriginRule> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("null") {
        return Some(OriginRule::Null);
    }
    let uri: axum::http::Uri = value.parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let authority = uri.authority()?;
    if authority.as_str().contains('@') || uri.path().len() > 1 || uri.query().is_some() {
        return None;
    }
    let port = authority.port_u16().or(match scheme.as_str() {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    });
    Some(OriginRule::Tuple {
        scheme,
        host: normalize_host(authority.host()),
        port,
    })
}

fn plain(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message.into(),
    )
        .into_response()
}

/// Why a request has no scope: 401 with `WWW-Authenticate: Bearer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Denied {
    /// No `Authorization: Bearer` header.
    Missing,
    /// A token that is not configured.
    Invalid,
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        let (challenge, message) = match self {
            Denied::Missing => (
                "Bearer realm=\"alpaca-mcp\"",
                "Unauthorized: this server requires `Authorization: Bearer <token>` (a token \
                 from its ALPACA_MCP_HTTP_TOKEN or --http-token-file)",
            ),
            Denied::Invalid => (
                "Bearer realm=\"alpaca-mcp\", error=\"invalid_token\"",
                "Unauthorized: the bearer token is not valid for this server",
            ),
        };
        let mut r = plain(StatusCode::UNAUTHORIZED, message);
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
        r
    }
}

type Service = StreamableHttpService<AlpacaServer, LocalSessionManager>;

/// One rmcp service with its own session manager: sessions made through it stay in it, so a
/// session opened with a `read` token cannot be used through the other one (404).
pub struct Endpoint {
    service: Service,
    sessions: Arc<LocalSessionManager>,
}

impl Endpoint {
    pub fn new(service: Service, sessions: Arc<LocalSessionManager>) -> Self {
        Endpoint { service, sessions }
    }
}

/// The checks, in front of the endpoints.
pub struct Guard {
    security: HttpSecurity,
    /// Serves `read,trade` tokens (and everyone when no token is configured).
    full: Endpoint,
    /// Serves `read` tokens with read-only tools; `None` when `full` is read-only already or
    /// there are no `read` tokens.
    read: Option<Endpoint>,
    /// Serializes `initialize` requests so the session limit is exact.
    initialize: tokio::sync::Mutex<()>,
}

impl Guard {
    pub fn new(security: HttpSecurity, full: Endpoint, read: Option<Endpoint>) -> Self {
        Guard {
            security,
            full,
            read,
            initialize: tokio::sync::Mutex::new(()),
        }
    }

    async fn session_count(&self) -> usize {
        let mut n = self.full.sessions.sessions.read().await.len();
        if let Some(read) = &self.read {
            n += read.sessions.sessions.read().await.len();
        }
        n
    }
}

/// The axum handler for `/mcp`.
pub async fn handle(State(guard): State<Arc<Guard>>, request: Request) -> Response {
    let security = &guard.security;
    let (parts, body) = request.into_parts();

    // Host (DNS rebinding): 421, the request was not meant for this server. Two Host headers,
    // or one with a port that is not a port, is a malformed request (RFC 9110): 400.
    if parts.headers.get_all(header::HOST).iter().count() > 1 {
        return plain(
            StatusCode::BAD_REQUEST,
            "Bad Request: more than one Host header",
        );
    }
    let authority = match parts.headers.get(header::HOST) {
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.parse::<axum::http::uri::Authority>().ok())
            .filter(well_formed_port),
        None => parts.uri.authority().cloned(),
    };
    let Some(authority) = authority else {
        return plain(
            StatusCode::BAD_REQUEST,
            "Bad Request: missing or malformed Host header",
        );
    };
    if !security.host_allowed(authority.host(), authority.port_u16()) {
        tracing::warn!(
            host = authority.as_str(),
            "refused a request for a Host that is not allowed (421); if this server is reached \
             by that name, add it with --allowed-hosts"
        );
        return plain(
            StatusCode::MISDIRECTED_REQUEST,
            "Misdirected Request: this Host is not allowed. If this server is reached by this \
             name (e.g. behind a reverse proxy), start it with --allowed-hosts NAME \
             (ALPACA_MCP_ALLOWED_HOSTS).",
        );
    }

    // Origin (browsers): 403. Requests without Origin (non-browser clients) pass.
    if let Some(origin) = parts.headers.get(header::ORIGIN) {
        let allowed = origin.to_str().is_ok_and(|o| security.origin_allowed(o));
        if !allowed {
            tracing::warn!(origin = ?origin, "refused a request from an Origin that is not allowed (403)");
            return plain(
                StatusCode::FORBIDDEN,
                "Forbidden: this Origin is not allowed (allow it with --allowed-origins / \
                 ALPACA_MCP_ALLOWED_ORIGINS)",
            );
        }
    }

    // Bearer token: 401.
    let scope = match security.authorize(&parts.headers) {
        Ok(scope) => scope,
        Err(denied) => {
            security.auth_failures.record(denied);
            return denied.into_response();
        }
    };
    let endpoint = match (scope, &guard.read) {
        (Scope::Read, Some(read)) => read,
        _ => &guard.full,
    };

    // Ending a session that does not exist (or belongs to the other endpoint): 404, as for
    // any other request on an unknown session.
    if parts.method == Method::DELETE
        && let Some(id) = parts.headers.get(SESSION_HEADER)
    {
        let known = match id.to_str() {
            Ok(id) => endpoint.sessions.sessions.read().await.contains_key(id),
            Err(_) => false,
        };
        if !known {
            return plain(StatusCode::NOT_FOUND, "Not Found: no such MCP session");
        }
    }

    if parts.method != Method::POST {
        return forward(endpoint, Request::from_parts(parts, body)).await;
    }

    // Body size: 413.
    let too_large = || {
        plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "Payload Too Large: request bodies are limited to {} bytes (--max-body-bytes)",
                security.max_body_bytes
            ),
        )
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > security.max_body_bytes as u64) {
        return too_large();
    }
    // The body within its time: a client that declares a body and sends it slowly (or never)
    // gets 408 and the connection is closed.
    let bytes: Bytes = match tokio::time::timeout(
        security.body_timeout,
        axum::body::to_bytes(body, security.max_body_bytes),
    )
    .await
    {
        Ok(Ok(b)) => b,
        Ok(Err(_)) => return too_large(),
        Err(_) => {
            let mut r = plain(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "Request Timeout: the body did not arrive within {} s",
                    security.body_timeout.as_secs()
                ),
            );
            r.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return r;
        }
    };

    // Session limit: 503 for an initialize (a new session) beyond it.
    let new_session = !parts.headers.contains_key(SESSION_HEADER) && is_initialize(&bytes);
    let request = Request::from_parts(parts, Body::from(bytes));
    if !new_session {
        return forward(endpoint, request).await;
    }
    let _serial = guard.initialize.lock().await;
    let open = guard.session_count().await;
    if open >= security.max_sessions {
        tracing::warn!(
            open,
            max = security.max_sessions,
            "refused a new MCP session: the session limit is reached (503)"
        );
        let idle = security.session_idle_timeout.map_or(String::new(), |d| {
            format!(", or for idle ones to expire after {} s", d.as_secs())
        });
        let mut r = plain(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "Service Unavailable: this server already has its maximum of {} MCP sessions \
                 (--max-sessions); wait for a client to disconnect{idle}",
                security.max_sessions
            ),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
        return r;
    }
    forward(endpoint, request).await
}

/// A Host whose port, if it has one, is a number from 0 to 65535.
fn well_formed_port(a: &axum::http::uri::Authority) -> bool {
    let s = a.as_str();
    // What follows the host: after `]` for an IPv6 literal, else from the first `:`.
    let after = if s.starts_with('[') {
        s.find(']').map_or("", |i| &s[i + 1..])
    } else {
        s.find(':').map_or("", |i| &s[i..])
    };
    match after.strip_prefix(':') {
        None => after.is_empty(),
        Some(p) => {
            !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok()
        }
    }
}

async fn forward(endpoint: &Endpoint, request: Request) -> Response {
    endpoint.service.handle(request).await.map(Body::new)
}

/// Whether a JSON-RPC body is (or, in a batch, holds) an `initialize` request.
fn is_initialize(body: &[u8]) -> bool {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return false;
    };
    let one =
        |v: &serde_json::Value| v.get("method").and_then(|m| m.as_str()) == Some("initialize");
    match &value {
        serde_json::Value::Array(items) => items.iter().any(one),
        v => one(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn security(hosts: Option<&str>, origins: Option<&str>) -> HttpSecurity {
        HttpSecurity {
            tokens: parse_tokens("# comment\n\nalpha-token-0123456789 read\nbravo-token-0123456789\ncharlie-token-012345 read,trade\n").unwrap(),
            allowed_hosts: hosts.map_or(Some(default_hosts()), |h| parse_host_list(h).unwrap()),
            allowed_origins: origins
                .map_or(Some(default_origins()), |o| parse_origin_list(o).unwrap()),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_sessions: DEFAULT_MAX_SESSIONS,
            session_idle_timeout: Some(DEFAULT_SESSION_IDLE_TIMEOUT),
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            max_connections_per_peer: DEFAULT_MAX_CONNECTIONS_PER_PEER,
            auth_failures: AuthFailures::default(),
        }
    }

    fn bearer(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        h
    }

    #[test]
    fn host_ports_must_be_ports() {
        let ok = |h: &str| {
            h.parse::<axum::http::uri::Authority>()
                .ok()
                .filter(well_formed_port)
                .is_some()
        };
        for good in [
            "localhost",
            "localhost:8000",
            "127.0.0.1:1",
            "[::1]",
            "[::1]:8000",
        ] {
            assert!(ok(good), "{good}");
        }
        for bad in [
            "localhost:",
            "localhost:99999",
            "localhost:80a",
            "localhost:8000:1",
            "[::1]:x",
        ] {
            assert!(!ok(bad), "{bad}");
        }
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn token_file_scopes() {
        let s = security(None, None);
        assert_eq!(s.tokens.len(), 3);
        assert_eq!(
            s.authorize(&bearer("alpha-token-0123456789")).unwrap(),
            Scope::Read
        );
        assert_eq!(
            s.authorize(&bearer("bravo-token-0123456789")).unwrap(),
            Scope::ReadTrade
        );
        assert_eq!(
            s.authorize(&bearer("charlie-token-012345")).unwrap(),
            Scope::ReadTrade
        );
        let denied = s.authorize(&bearer("alpha-token-012345678")).unwrap_err();
        assert_eq!(denied, Denied::Invalid);
        assert_eq!(denied.into_response().status(), StatusCode::UNAUTHORIZED);
        let none = s.authorize(&HeaderMap::new()).unwrap_err();
        assert_eq!(none, Denied::Missing);
        let none = none.into_response();
        assert!(
            none.headers()[header::WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
    }

    #[test]
    fn token_file_errors_name_the_line_not_the_token() {
        let e = parse_tokens("ok-token\nsecret-value write\n")
            .map(|_| ())
            .unwrap_err();
        assert!(e.contains("line 2") && e.contains("unknown scope"), "{e}");
        assert!(!e.contains("secret-value"), "{e}");
        // The scope is not echoed either: it may be a token on a line written backwards.
        let e = parse_tokens("ok-token read,trade\nread secret-value\n")
            .map(|_| ())
            .unwrap_err();
        assert!(
            e.contains("line 2") && e.contains("token comes first"),
            "{e}"
        );
        assert!(!e.contains("secret-value"), "{e}");
        let e = parse_tokens("ok-token secret-value")
            .map(|_| ())
            .unwrap_err();
        assert!(!e.contains("secret-value"), "{e}");
        let e = parse_tokens("secret-value trade").map(|_| ()).unwrap_err();
        assert!(
            e.contains("read,trade") && !e.contains("secret-value"),
            "{e}"
        );
        let e = parse_tokens("secret-value read trade")
            .map(|_| ())
            .unwrap_err();
        assert!(!e.contains("secret-value"), "{e}");
        assert!(format!("{:?}", parse_tokens("secret-value").unwrap()).contains("redacted"));
    }

    #[test]
    fn hosts() {
        let s = security(None, None);
        assert!(s.host_allowed("localhost", Some(8000)));
        assert!(s.host_allowed("127.0.0.1", None));
        assert!(s.host_allowed("[::1]", Some(1)));
        assert!(s.host_allowed("LOCALHOST", Some(1)));
        assert!(!s.host_allowed("evil.example", Some(8000)));
        assert!(!s.host_allowed("localhost.evil.example", None));
        let s = security(Some("mcp.example.com, other.example:8443, ::1"), None);
        assert!(s.host_allowed("mcp.example.com", Some(443)));
        assert!(s.host_allowed("other.example", Some(8443)));
        assert!(!s.host_allowed("other.example", Some(80)));
        assert!(s.host_allowed("[::1]", None));
        assert!(!s.host_allowed("localhost", None));
        assert!(security(Some("*"), None).host_allowed("anything", None));
        assert!(parse_host_list("https://x.example").is_err());
    }

    #[test]
    fn origins() {
        let s = security(None, None);
        assert!(s.origin_allowed("http://localhost:5173"));
        assert!(s.origin_allowed("https://127.0.0.1"));
        assert!(s.origin_allowed("http://[::1]:3000"));
        assert!(!s.origin_allowed("http://evil.example"));
        assert!(!s.origin_allowed("http://localhost.evil.example"));
        assert!(!s.origin_allowed("null"));
        assert!(!s.origin_allowed("garbage"));
        let s = security(
            None,
            Some("https://app.example.com, http://dev.example:*, null"),
        );
        assert!(s.origin_allowed("https://app.example.com"));
        assert!(s.origin_allowed("https://app.example.com:443"));
        assert!(!s.origin_allowed("https://app.example.com:8443"));
        assert!(!s.origin_allowed("http://app.example.com"));
        assert!(s.origin_allowed("http://dev.example:1234"));
        assert!(s.origin_allowed("null"));
        assert!(!s.origin_allowed("http://localhost:3000"));
        assert!(parse_origin_list("app.example.com").is_err());
        assert!(parse_origin_list("http://x.example:80:*").is_err());
    }

    #[test]
    fn initialize_detection() {
        assert!(is_initialize(
            br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#
        ));
        assert!(is_initialize(
            br#"[{"jsonrpc":"2.0","id":1,"method":"initialize"}]"#
        ));
        assert!(!is_initialize(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#
        ));
        assert!(!is_initialize(b"not json"));
    }
}
