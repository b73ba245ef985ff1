//! Dynamic Client Registration (RFC 7591) and the redirect URI rules every client follows:
//! https anywhere, http only on a loopback host (RFC 8252 §7.3, where any port matches), or a
//! private-use scheme named as a reverse domain (`com.example.app:/cb`, RFC 8252 §7.1) or one
//! of the known clients' own (`cursor://…`); no fragments; exact matching otherwise.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::store::{Client, ClientKind};
use super::{OAuth, json_reply, now, oauth_error, secret};
use crate::http::PeerAddr;

/// Most redirect URIs one client registers.
const MAX_REDIRECT_URIS: usize = 10;
/// Longest redirect URI or client name accepted.
const MAX_URI_CHARS: usize = 2000;
const MAX_NAME_CHARS: usize = 200;

/// Schemes a redirect may never use.
const FORBIDDEN_SCHEMES: &[&str] = &[
    "javascript",
    "data",
    "file",
    "vbscript",
    "blob",
    "about",
    "ftp",
    "ws",
    "wss",
];

/// App schemes in use by MCP clients that are not reverse domain names, allowed by name.
const KNOWN_APP_SCHEMES: &[&str] = &["cursor", "vscode", "vscode-insiders", "windsurf", "zed"];

/// Whether `scheme` is a private-use scheme an app may claim (RFC 8252 7.1): a reverse
/// domain name (`com.example.app`: two or more dot-separated labels of letters, digits and
/// `-`), or one of the known clients' own. Operating system schemes (`ms-msdt`,
/// `search-ms`, `view-source`, ...) are neither.
fn private_use_scheme(scheme: &str) -> bool {
    if KNOWN_APP_SCHEMES.contains(&scheme) {
        return true;
    }
    let labels: Vec<&str> = scheme.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
        && labels[0].chars().all(|c| c.is_ascii_alphabetic())
}

/// A client's name as shown to the owner: control characters (terminal escapes in
/// `auth list`, line breaks in logs) become spaces, characters that change how text reads
/// without showing themselves (bidi controls, zero-width characters, line and paragraph
/// separators) are shown as their code point (`[U+202E]`), surrounding space is trimmed, and
/// at most 200 characters are kept; `None` when nothing is left.
pub fn display_name(name: &str) -> Option<String> {
    let clean: String = name
        .chars()
        .take(MAX_NAME_CHARS)
        .map(|c| {
            if c.is_control() {
                " ".to_string()
            } else if alpaca_mcp::compact::is_invisible(c) {
                format!("[U+{:04X}]", c as u32)
            } else {
                c.to_string()
            }
        })
        .collect();
    let clean = clean.trim();
    (!clean.is_empty()).then(|| clean.to_string())
}

/// Checks one redirect URI as a client registers it; the error says what is wrong.
pub fn check_redirect_uri(uri: &str) -> Result<url::Url, String> {
    if uri.chars().count() > MAX_URI_CHARS {
        return Err(format!(
            "a redirect URI is longer than {MAX_URI_CHARS} characters"
        ));
    }
    let url = url::Url::parse(uri)
        .map_err(|e| format!("redirect URI {uri:?} is not an absolute URL ({e})"))?;
    if url.fragment().is_some() {
        return Err(format!(
            "redirect URI {uri:?} has a fragment (RFC 6749 §3.1.2)"
        ));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if url.host_str().is_some_and(super::is_loopback_host) => Ok(url),
        "http" => Err(format!(
            "redirect URI {uri:?}: http is allowed only on a loopback host (127.0.0.1, [::1], localhost); use https"
        )),
        s if FORBIDDEN_SCHEMES.contains(&s) => Err(format!(
            "redirect URI {uri:?}: the {s}: scheme is not allowed"
        )),
        s if private_use_scheme(s) => Ok(url),
        s => Err(format!(
            "redirect URI {uri:?}: the {s}: scheme is not an app's own; use https, http on a loopback host, or a scheme named after a domain you control in reverse order (RFC 8252 7.1), such as com.example.app:/callback"
        )),
    }
}

/// Whether `requested` matches `registered`: exactly, or for an http loopback redirect, with
/// any port (RFC 8252 §7.3).
pub fn redirect_matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    let (Ok(a), Ok(b)) = (url::Url::parse(registered), url::Url::parse(requested)) else {
        return false;
    };
    a.scheme() == "http"
        && b.scheme() == "http"
        && a.host_str().is_some_and(super::is_loopback_host)
        && a.host_str() == b.host_str()
        && a.path() == b.path()
        && a.query() == b.query()
        && a.fragment().is_none()
        && b.fragment().is_none()
        && b.username().is_empty()
        && b.password().is_none()
}

#[derive(Deserialize)]
pub(crate) struct Registration {
    #[serde(default)]
    redirect_uris: Vec<String>,
    client_name: Option<String>,
    token_endpoint_auth_method: Option<String>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
}

fn invalid(field: &str, description: String) -> Response {
    let error = if field == "redirect_uris" {
        "invalid_redirect_uri"
    } else {
        "invalid_client_metadata"
    };
    oauth_error(StatusCode::BAD_REQUEST, error, &description)
}

/// `POST /register`.
pub(crate) async fn register(
    State(oauth): State<Arc<OAuth>>,
    headers: HeaderMap,
    peer: Option<axum::Extension<PeerAddr>>,
    body: axum::body::Bytes,
) -> Response {
    let ip = super::client_ip(
        &headers,
        peer.as_ref().map(|p| &p.0),
        &oauth.settings.trusted_proxies,
    );
    // Counted as it is taken, in one step: concurrent registrations never pass the bound.
    if oauth
        .registrations
        .take(&*oauth.store, &ip.to_string())
        .await
        .is_none()
    {
        return oauth_error(
            StatusCode::TOO_MANY_REQUESTS,
            "temporarily_unavailable",
            "too many client registrations from this address; try again later",
        );
    }
    let r: Registration = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_client_metadata",
                &format!("the registration must be a JSON object of client metadata ({e})"),
            );
        }
    };
    if r.redirect_uris.is_empty() {
        return invalid(
            "redirect_uris",
            "redirect_uris is required: at least one redirect URI".into(),
        );
    }
    if r.redirect_uris.len() > MAX_REDIRECT_URIS {
        return invalid(
            "redirect_uris",
            format!("at most {MAX_REDIRECT_URIS} redirect URIs"),
        );
    }
    for uri in &r.redirect_uris {
        if let Err(e) = check_redirect_uri(uri) {
            return invalid("redirect_uris", e);
        }
    }
    if let Some(name) = &r.client_name
        && name.chars().count() > MAX_NAME_CHARS
    {
        return invalid(
            "client_name",
            format!("client_name is longer than {MAX_NAME_CHARS} characters"),
        );
    }
    let method = r.token_endpoint_auth_method.as_deref().unwrap_or("none");
    let confidential = match method {
        "none" => false,
        "client_secret_post" | "client_secret_basic" => true,
        other => {
            return invalid(
                "token_endpoint_auth_method",
                format!(
                    "token_endpoint_auth_method {other:?} is not supported (none, client_secret_post or client_secret_basic)"
                ),
            );
        }
    };
    let grant_types = r
        .grant_types
        .unwrap_or_else(|| vec!["authorization_code".into(), "refresh_token".into()]);
    if let Some(g) = grant_types
        .iter()
        .find(|g| !matches!(g.as_str(), "authorization_code" | "refresh_token"))
    {
        return invalid(
            "grant_types",
            format!("grant type {g:?} is not supported (authorization_code, refresh_token)"),
        );
    }
    if let Some(types) = &r.response_types
        && types.iter().any(|t| t != "code")
    {
        return invalid(
            "response_types",
            "only the `code` response type is supported".into(),
        );
    }

    let secret = confidential.then(|| secret::random_token("amcp_cs_"));
    let client = Client {
        id: format!("amcp_client_{}", secret::random_id()),
        name: r.client_name.as_deref().and_then(display_name),
        redirect_uris: r.redirect_uris.clone(),
        secret_digest: secret.as_deref().map(secret::digest),
        kind: ClientKind::Registered,
        created_at: now(),
    };
    if let Err(e) = oauth.store.put_client(&client).await {
        tracing::error!(error = %e, "cannot store a registered OAuth client");
        return oauth_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the server cannot store the registration now",
        );
    }
    tracing::info!(client = %client.id, name = ?client.name, "registered an OAuth client");
    let mut body = json!({
        "client_id": client.id,
        "client_id_issued_at": client.created_at,
        "redirect_uris": client.redirect_uris,
        "token_endpoint_auth_method": method,
        "grant_types": grant_types,
        "response_types": ["code"],
    });
    if let Some(name) = &client.name {
        body["client_name"] = json!(name);
    }
    if let Some(secret) = secret {
        body["client_secret"] = json!(secret);
        body["client_secret_expires_at"] = json!(0);
    }
    json_reply(StatusCode::CREATED, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_names_lose_control_characters() {
        assert_eq!(
            display_name("Evil\u{1b}[2J\r\nClient").as_deref(),
            Some("Evil [2J  Client")
        );
        assert_eq!(display_name(" \u{7} "), None);
        // Bidi controls, zero-width characters and separators are shown, not obeyed.
        assert_eq!(
            display_name("Safe\u{202e}lC\u{200b}x\u{2029}y").as_deref(),
            Some("Safe[U+202E]lC[U+200B]x[U+2029]y")
        );
        assert_eq!(display_name(&"x".repeat(500)).unwrap().len(), 200);
    }

    #[test]
    fn redirect_uris_follow_rfc_8252() {
        assert!(check_redirect_uri("https://claude.ai/api/mcp/auth_callback").is_ok());
        assert!(check_redirect_uri("http://127.0.0.1:33418/callback").is_ok());
        assert!(check_redirect_uri("http://localhost/cb").is_ok());
        assert!(check_redirect_uri("http://[::1]:9/cb").is_ok());
        assert!(check_redirect_uri("cursor://anysphere.cursor-retrieval/oauth/callback").is_ok());
        assert!(
            check_redirect_uri("http://example.com/cb")
                .unwrap_err()
                .contains("loopback")
        );
        assert!(
            check_redirect_uri("https://example.com/cb#x")
                .unwrap_err()
                .contains("fragment")
        );
        assert!(check_redirect_uri("javascript:alert(1)").is_err());
        assert!(check_redirect_uri("com.example.app:/oauth2redirect").is_ok());
        for os in [
            "ms-msdt:/id",
            "search-ms:query=x",
            "view-source:https://x.example",
            "evilapp://claude.ai/cb",
            "mailto:a@b.example",
            "tel:123",
            "a.:x",
        ] {
            assert!(
                check_redirect_uri(os)
                    .unwrap_err()
                    .contains("not an app's own"),
                "{os}"
            );
        }
        assert!(check_redirect_uri("/relative").is_err());
    }

    #[test]
    fn redirect_matching_is_exact_but_for_loopback_ports() {
        let reg = "http://127.0.0.1/callback";
        assert!(redirect_matches(reg, "http://127.0.0.1:50000/callback"));
        assert!(redirect_matches(
            "http://127.0.0.1:1/callback",
            "http://127.0.0.1:2/callback"
        ));
        assert!(!redirect_matches(reg, "http://127.0.0.1:50000/other"));
        assert!(!redirect_matches(reg, "http://localhost:50000/callback"));
        assert!(!redirect_matches(reg, "http://127.0.0.1:5/callback?x=1"));
        let https = "https://claude.ai/api/mcp/auth_callback";
        assert!(redirect_matches(https, https));
        assert!(!redirect_matches(
            https,
            "https://claude.ai:444/api/mcp/auth_callback"
        ));
        assert!(!redirect_matches(
            https,
            "https://claude.ai/api/mcp/auth_callback/"
        ));
        assert!(!redirect_matches(
            https,
            "https://evil.example/api/mcp/auth_callback"
        ));
    }
}
