//! The `Host` and `Origin` checks (DNS rebinding and browsers), each a layer.
//!
//! - [`check_host`]: two `Host` headers, or one whose port is not a port, is a malformed
//!   request (400); a `Host` that is not allowed gets 421 (the request was not meant for this
//!   server).
//! - [`check_origin`]: a browser request from an `Origin` that is not allowed gets 403;
//!   requests without `Origin` (non-browser clients) pass.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::reply::plain;
use crate::SetupError;

/// An allowed `Host`: a name (lowercase, IPv6 without brackets) and optionally one port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRule {
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

/// The `Host` values accepted; `None` is any (`*`).
#[derive(Debug, Clone)]
pub struct Hosts(Option<Vec<HostRule>>);

/// The `Origin` values accepted; `None` is any (`*`).
#[derive(Debug, Clone)]
pub struct Origins(Option<Vec<OriginRule>>);

impl Hosts {
    /// `--allowed-hosts` when given, else localhost, 127.0.0.1 and `[::1]`, plus the bound
    /// address `bind` when it is a specific, non-loopback IP (an IP literal cannot be rebound).
    pub fn new(list: Option<&str>, bind: &str) -> Result<Hosts, SetupError> {
        match list {
            Some(list) => Ok(Hosts(parse_host_list(list)?)),
            None => {
                let mut rules = default_hosts();
                if let Ok(ip) = bind.parse::<std::net::IpAddr>()
                    && !ip.is_unspecified()
                    && !ip.is_loopback()
                {
                    rules.push(HostRule {
                        host: normalize_host(&ip.to_string()),
                        port: None,
                    });
                }
                Ok(Hosts(Some(rules)))
            }
        }
    }

    /// Also allows `host` on any port (the host of `--public-url`), unless any host is.
    pub fn add(&mut self, host: &str) {
        if let Some(rules) = &mut self.0 {
            let host = normalize_host(host);
            if !rules.iter().any(|r| r.host == host && r.port.is_none()) {
                rules.push(HostRule { host, port: None });
            }
        }
    }

    /// Whether `host` (with `port`) is allowed.
    pub fn allows(&self, host: &str, port: Option<u16>) -> bool {
        let Some(rules) = &self.0 else {
            return true;
        };
        let host = normalize_host(host);
        rules
            .iter()
            .any(|r| r.host == host && r.port.is_none_or(|p| Some(p) == port))
    }

    /// For the startup log.
    pub fn describe(&self) -> String {
        match &self.0 {
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
        }
    }
}

impl Origins {
    /// `--allowed-origins` when given, else http(s) on localhost, 127.0.0.1 and `[::1]`, any port.
    pub fn new(list: Option<&str>) -> Result<Origins, SetupError> {
        match list {
            Some(list) => Ok(Origins(parse_origin_list(list)?)),
            None => Ok(Origins(Some(default_origins()))),
        }
    }

    /// Also allows the origin `scheme://host[:port]` (that of `--public-url`).
    pub fn add(&mut self, origin: &str) {
        if let (Some(rules), Some(rule)) = (&mut self.0, parse_origin(origin))
            && !rules.contains(&rule)
        {
            rules.push(rule);
        }
    }

    /// Whether the `Origin` header value `origin` is allowed.
    pub fn allows(&self, origin: &str) -> bool {
        let Some(rules) = &self.0 else {
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

/// The `Host` layer: 400 for two or a malformed one, 421 for one that is not allowed.
pub async fn check_host(State(hosts): State<Arc<Hosts>>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    if headers.get_all(header::HOST).iter().count() > 1 {
        return plain(
            StatusCode::BAD_REQUEST,
            "Bad Request: more than one Host header",
        );
    }
    let authority = match headers.get(header::HOST) {
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.parse::<axum::http::uri::Authority>().ok())
            .filter(well_formed_port),
        None => request.uri().authority().cloned(),
    };
    let Some(authority) = authority else {
        return plain(
            StatusCode::BAD_REQUEST,
            "Bad Request: missing or malformed Host header",
        );
    };
    if !hosts.allows(authority.host(), authority.port_u16()) {
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
    next.run(request).await
}

/// The `Origin` layer: 403 for a browser origin that is not allowed.
pub async fn check_origin(
    State(origins): State<Arc<Origins>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(origin) = request.headers().get(header::ORIGIN) {
        let allowed = origin.to_str().is_ok_and(|o| origins.allows(o));
        if !allowed {
            tracing::warn!(origin = ?origin, "refused a request from an Origin that is not allowed (403)");
            return plain(
                StatusCode::FORBIDDEN,
                "Forbidden: this Origin is not allowed (allow it with --allowed-origins / \
                 ALPACA_MCP_ALLOWED_ORIGINS)",
            );
        }
    }
    next.run(request).await
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn hosts() {
        let s = Hosts::new(None, "127.0.0.1").unwrap();
        assert!(s.allows("localhost", Some(8000)));
        assert!(s.allows("127.0.0.1", None));
        assert!(s.allows("[::1]", Some(1)));
        assert!(s.allows("LOCALHOST", Some(1)));
        assert!(!s.allows("evil.example", Some(8000)));
        assert!(!s.allows("localhost.evil.example", None));
        let s = Hosts::new(
            Some("mcp.example.com, other.example:8443, ::1"),
            "127.0.0.1",
        )
        .unwrap();
        assert!(s.allows("mcp.example.com", Some(443)));
        assert!(s.allows("other.example", Some(8443)));
        assert!(!s.allows("other.example", Some(80)));
        assert!(s.allows("[::1]", None));
        assert!(!s.allows("localhost", None));
        assert!(
            Hosts::new(Some("*"), "127.0.0.1")
                .unwrap()
                .allows("anything", None)
        );
        assert!(parse_host_list("https://x.example").is_err());
    }

    #[test]
    fn origins() {
        let s = Origins::new(None).unwrap();
        assert!(s.allows("http://localhost:5173"));
        assert!(s.allows("https://127.0.0.1"));
        assert!(s.allows("http://[::1]:3000"));
        assert!(!s.allows("http://evil.example"));
        assert!(!s.allows("http://localhost.evil.example"));
        assert!(!s.allows("null"));
        assert!(!s.allows("garbage"));
        let s = Origins::new(Some("https://app.example.com, http://dev.example:*, null")).unwrap();
        assert!(s.allows("https://app.example.com"));
        assert!(s.allows("https://app.example.com:443"));
        assert!(!s.allows("https://app.example.com:8443"));
        assert!(!s.allows("http://app.example.com"));
        assert!(s.allows("http://dev.example:1234"));
        assert!(s.allows("null"));
        assert!(!s.allows("http://localhost:3000"));
        assert!(parse_origin_list("app.example.com").is_err());
        assert!(parse_origin_list("http://x.example:80:*").is_err());
    }

    #[test]
    fn a_specific_bound_address_is_a_fine_host() {
        let s = Hosts::new(None, "10.1.2.3").unwrap();
        assert!(s.allows("10.1.2.3", Some(8000)));
        assert!(!Hosts::new(None, "0.0.0.0").unwrap().allows("0.0.0.0", None));
    }
}
