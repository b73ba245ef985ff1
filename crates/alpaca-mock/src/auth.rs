//! Key checks: Alpaca answers 401 without `APCA-API-KEY-ID` and
//! `APCA-API-SECRET-KEY` (or an OAuth bearer token). A Connect token
//! ([`crate::connect`]) serves its own account, a revoked one is 401; keys (and, when no
//! keys are configured, any other bearer token) serve the primary account.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::connect::TokenIs;
use crate::errors::ApiError;
use crate::state::{ACCOUNT, MockState, PRIMARY};

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Whether the request carries acceptable keys (or, with none configured, any bearer
/// token) for the primary account.
fn authorized(s: &MockState, req: &Request) -> bool {
    let id = header(req, "apca-api-key-id");
    let secret = header(req, "apca-api-secret-key");
    match (&s.config().keys, id, secret) {
        (Some((want_id, want_secret)), Some(id), Some(secret)) => {
            id == want_id && secret == want_secret
        }
        (None, Some(_), Some(_)) => true,
        (None, _, _) => bearer(req).is_some(),
        _ => false,
    }
}

fn bearer(req: &Request) -> Option<&str> {
    header(req, "authorization")
        .and_then(|a| a.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Marks requests that reached the fake's live trading host
/// ([`crate::MockServer::open_live_host`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct LiveHost;

/// The middleware that rejects unauthenticated requests and serves the others as their
/// account. The Connect endpoints themselves need no credentials.
pub(crate) async fn require_keys(State(s): State<MockState>, req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("/oauth/") {
        return next.run(req).await;
    }
    let live_host = req.extensions().get::<LiveHost>().is_some();
    let account = match bearer(&req).map(|t| s.token_is(t)) {
        // A token reaches only the host of the account it was issued for.
        Some(TokenIs::For(_, live)) if live != live_host => {
            return ApiError::unauthorized().into_response();
        }
        Some(TokenIs::For(account, true)) => format!("{account}@live"),
        Some(TokenIs::For(account, false)) => account,
        Some(TokenIs::Revoked) => return ApiError::unauthorized().into_response(),
        _ if authorized(&s, &req) => PRIMARY.to_string(),
        _ => return ApiError::unauthorized().into_response(),
    };
    ACCOUNT.scope(account, next.run(req)).await
}
