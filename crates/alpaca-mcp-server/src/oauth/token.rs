//! `/token` (authorization code with PKCE, refresh with rotation) and `/revoke` (RFC 7009).
//!
//! A code is redeemed once: the store marks it used before anything else is checked, so a
//! wrong verifier spends it too, and a second use ends the grant it started. A refresh token
//! is spent when used; presenting a spent one again means a copy exists, and the whole grant
//! ends. Every token is for this server's MCP endpoint only (RFC 8707): a `resource` naming
//! anything else is refused.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use serde_json::json;

use super::secret::{digest, pkce_matches, random_id, random_token, same};
use super::store::{Client, CodeUse, Grant, Issued, Refresh};
use super::{OAuth, json_reply, now, oauth_error};

type Form = HashMap<String, String>;

/// The client's id and secret, from the form or HTTP Basic (RFC 6749 §2.3.1).
fn credentials(headers: &HeaderMap, form: &Form) -> (Option<String>, Option<String>) {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        })
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            let (id, secret) = s.split_once(':')?;
            Some((percent_decode(id), percent_decode(secret)))
        });
    match basic {
        Some((id, secret)) => (Some(id), Some(secret)),
        None => (
            form.get("client_id").cloned(),
            form.get("client_secret").cloned(),
        ),
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn invalid_client(description: &str) -> Response {
    let mut r = oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", description);
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        axum::http::HeaderValue::from_static("Basic realm=\"alpaca-mcp\""),
    );
    r
}

/// The form's parameters, each given once: a repeated one is refused (RFC 6749 3.1, "request
/// and response parameters MUST NOT be included more than once"), never resolved by picking
/// one of its values.
fn once_each(pairs: Vec<(String, String)>) -> Result<Form, String> {
    let mut form = Form::new();
    for (k, v) in pairs {
        if form.contains_key(&k) {
            return Err(format!(
                "the parameter {k} is given more than once; give each parameter once"
            ));
        }
        form.insert(k, v);
    }
    Ok(form)
}

/// A token or revocation request's form (each parameter once) and its authenticated client.
async fn request(
    oauth: &OAuth,
    headers: &HeaderMap,
    peer: Option<&axum::Extension<crate::http::PeerAddr>>,
    pairs: Vec<(String, String)>,
) -> Result<(Form, Client), Response> {
    let form = once_each(pairs).map_err(|why| bad("invalid_request", &why))?;
    let ip = super::client_ip(headers, peer.map(|p| &p.0), &oauth.settings.trusted_proxies);
    let client = authenticate(oauth, headers, &form, ip).await?;
    Ok((form, client))
}

/// The authenticated client of a token or revocation request.
async fn authenticate(
    oauth: &OAuth,
    headers: &HeaderMap,
    form: &Form,
    ip: std::net::IpAddr,
) -> Result<Client, Response> {
    let (id, secret) = credentials(headers, form);
    let Some(id) = id.filter(|i| !i.is_empty()) else {
        return Err(invalid_client("client_id is missing"));
    };
    let client = oauth
        .find_client(&id, ip)
        .await
        .map_err(|_| invalid_client("unknown client"))?;
    if let Some(expected) = &client.secret_digest {
        let ok = secret
            .as_deref()
            .is_some_and(|s| same(&digest(s), expected));
        if !ok {
            return Err(invalid_client("the client secret is missing or wrong"));
        }
    }
    Ok(client)
}

fn bad(error: &str, description: &str) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, error, description)
}

fn unavailable(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "the OAuth state store failed");
    oauth_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        "the server cannot issue tokens now",
    )
}

/// A fresh token pair for a grant.
fn issue(oauth: &OAuth) -> (String, String, Issued) {
    let access = random_token("amcp_at_");
    let refresh = random_token("amcp_rt_");
    let now = now();
    let issued = Issued {
        access_digest: digest(&access),
        access_expires: now + oauth.settings.access_ttl.as_secs() as i64,
        refresh_digest: digest(&refresh),
        refresh_expires: now + oauth.settings.grant_idle.as_secs() as i64,
    };
    (access, refresh, issued)
}

fn token_reply(oauth: &OAuth, access: &str, refresh: &str, scope: &str) -> Response {
    json_reply(
        StatusCode::OK,
        json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": oauth.settings.access_ttl.as_secs(),
            "refresh_token": refresh,
            "scope": scope,
        }),
    )
}

/// `POST /token`.
pub(crate) async fn token(
    State(oauth): State<Arc<OAuth>>,
    headers: HeaderMap,
    peer: Option<axum::Extension<crate::http::PeerAddr>>,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Response {
    let (form, client) = match request(&oauth, &headers, peer.as_ref(), pairs).await {
        Ok(r) => r,
        Err(refusal) => return refusal,
    };
    if let Some(resource) = form.get("resource")
        && !oauth.is_our_resource(resource)
    {
        return bad(
            "invalid_target",
            "resource must be this server's MCP endpoint; tokens here are for nothing else",
        );
    }
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => code_grant(&oauth, &client, &form).await,
        Some("refresh_token") => refresh_grant(&oauth, &client, &form).await,
        Some(other) => bad(
            "unsupported_grant_type",
            &format!("grant_type {other:?} is not supported (authorization_code, refresh_token)"),
        ),
        None => bad("invalid_request", "grant_type is missing"),
    }
}

async fn code_grant(oauth: &OAuth, client: &Client, form: &Form) -> Response {
    let Some(code) = form.get("code").filter(|c| !c.is_empty()) else {
        return bad("invalid_request", "code is missing");
    };
    let code_digest = digest(code);
    let record = match oauth.store.redeem_code(&code_digest, now()).await {
        Ok(CodeUse::Fresh(record)) => record,
        Ok(CodeUse::Replayed { grant }) => {
            // A code used twice: whatever it started is no longer trusted.
            if let Some(grant) = grant {
                let _ = oauth.store.revoke_grant(&grant).await;
                tracing::warn!(%grant, "an authorization code was used twice; its grant is revoked");
            }
            return bad(
                "invalid_grant",
                "this authorization code has already been used",
            );
        }
        Ok(CodeUse::Expired) => return bad("invalid_grant", "this authorization code has expired"),
        Ok(CodeUse::Unknown) => return bad("invalid_grant", "unknown authorization code"),
        Err(e) => return unavailable(e),
    };
    if record.client_id != client.id {
        return bad(
            "invalid_grant",
            "this authorization code was issued to another client",
        );
    }
    match form.get("redirect_uri") {
        // The very URI the authorization request named (a loopback port included).
        Some(uri) if uri == &record.redirect_uri => {}
        Some(_) => {
            return bad(
                "invalid_grant",
                "redirect_uri differs from the authorization request's",
            );
        }
        None => return bad("invalid_request", "redirect_uri is missing"),
    }
    let Some(verifier) = form.get("code_verifier") else {
        return bad(
            "invalid_request",
            "code_verifier is missing (PKCE is required)",
        );
    };
    if !pkce_matches(verifier, &record.challenge) {
        return bad(
            "invalid_grant",
            "code_verifier does not match the code_challenge",
        );
    }
    let (access, refresh, issued) = issue(oauth);
    let now = now();
    let grant = Grant {
        id: random_id(),
        client_id: client.id.clone(),
        scope: record.scope.clone(),
        resource: record.resource.clone(),
        toolsets: record.toolsets.clone(),
        created_at: now,
        last_used: now,
        // The store takes the code's Alpaca sign-in (`--auth alpaca`) into the grant.
        upstream: None,
    };
    if let Err(e) = oauth.store.start_grant(&code_digest, &grant, &issued).await {
        return unavailable(e);
    }
    tracing::info!(grant = %grant.id, client = %client.id, scope = %grant.scope, "issued OAuth tokens");
    token_reply(oauth, &access, &refresh, &record.scope)
}

async fn refresh_grant(oauth: &OAuth, client: &Client, form: &Form) -> Response {
    let Some(refresh) = form.get("refresh_token").filter(|c| !c.is_empty()) else {
        return bad("invalid_request", "refresh_token is missing");
    };
    let (access, new_refresh, issued) = issue(oauth);
    let idle = oauth.settings.grant_idle.as_secs() as i64;
    match oauth
        .store
        .refresh(&digest(refresh), &client.id, now(), idle, &issued)
        .await
    {
        Ok(Refresh::Rotated(grant)) => {
            if !oauth.is_our_resource(&grant.resource) {
                let _ = oauth.store.revoke_grant(&grant.id).await;
                return bad(
                    "invalid_grant",
                    "this refresh token is for another resource",
                );
            }
            token_reply(oauth, &access, &new_refresh, &grant.scope)
        }
        Ok(Refresh::Replayed { grant }) => {
            tracing::warn!(%grant, "a rotated refresh token was used again; the grant is revoked");
            bad(
                "invalid_grant",
                "this refresh token was already used; the grant is revoked, authorize again",
            )
        }
        Ok(Refresh::Invalid) => bad(
            "invalid_grant",
            "the refresh token is not valid (expired, revoked or unknown)",
        ),
        Err(e) => unavailable(e),
    }
}

/// `POST /revoke` (RFC 7009): 200 whether or not the token was known.
pub(crate) async fn revoke(
    State(oauth): State<Arc<OAuth>>,
    headers: HeaderMap,
    peer: Option<axum::Extension<crate::http::PeerAddr>>,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Response {
    let (form, client) = match request(&oauth, &headers, peer.as_ref(), pairs).await {
        Ok(r) => r,
        Err(refusal) => return refusal,
    };
    let Some(token) = form.get("token").filter(|t| !t.is_empty()) else {
        return bad("invalid_request", "token is missing");
    };
    // Only a token issued to this client (RFC 7009 2.1). Another client's token is, for this
    // one, an invalid token: answered as one (200, nothing revoked), so the answer says
    // nothing of whether it exists.
    match oauth.store.revoke_token(&digest(token), &client.id).await {
        Ok(true) => tracing::info!("revoked an OAuth token at the client's request"),
        Ok(false) => {}
        Err(e) => return unavailable(e),
    }
    json_reply(StatusCode::OK, json!({}))
}
