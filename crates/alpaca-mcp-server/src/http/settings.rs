//! The HTTP transport's security settings, resolved once: each flag, else its variable through
//! the server's one [`Lookup`] (the process environment, then `--env-file`), else the default.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use alpaca_mcp::settings::Lookup;

use super::auth::{TOKEN_ENV, Tokens};
use super::limits::{BodyLimits, SessionLimit};
use super::origin::{Hosts, Origins};
use crate::SetupError;
use crate::cli::Settings;

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
    /// Resolves the settings: each flag, else `lookup`, else the default.
    pub fn from_settings(settings: &Settings, lookup: &Lookup) -> Result<Self, SetupError> {
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
        let hosts = Hosts::new(hosts.as_deref(), &settings.host)?;
        let origins = h
            .allowed_origins
            .clone()
            .or_else(|| lookup.get("ALPACA_MCP_ALLOWED_ORIGINS"));
        let origins = Origins::new(origins.as_deref())?;

        let number = |flag: Option<u64>, name: &str| -> Result<Option<u64>, SetupError> {
            match flag {
                Some(n) => Ok(Some(n)),
                None => lookup
                    .get(name)
                    .map(|v| {
                        v.trim().parse::<u64>().map_err(|_| {
                            SetupError(format!("{name}: expected a whole number, got `{v}`"))
                        })
                    })
                    .transpose(),
            }
        };
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
        let max_connections_per_peer = at_least_one(
            max_connections_per_peer,
            "--max-connections-per-peer (ALPACA_MCP_MAX_CONNECTIONS_PER_PEER)",
        )?;
        Ok(HttpSecurity {
            tokens: Arc::new(tokens),
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
        format!(
            "{}; allowed hosts: {}; max body {} bytes; max sessions {}; idle sessions close after {idle}",
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
        if public && !self.tokens.required() {
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
