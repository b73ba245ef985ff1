//! Key checks: Alpaca answers 401 without `APCA-API-KEY-ID` and
//! `APCA-API-SECRET-KEY` (or an OAuth bearer token).

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::errors::ApiError;
use crate::state::MockState;

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Whether the request carries acceptable credentials.
fn authorized(s: &MockState, req: &Request) -> bool {
    let id = header(req, "apca-api-key-id");
    let secret = header(req, "apca-api-secret-key");
    match (&s.config().keys, id, secret) {
        (Some((want_id, want_secret)), Some(id), Some(secret)) => {
            id == want_id && secret == want_secret
        }
        (None, Some(_), Some(_)) => true,
        (None, _, _) => header(req, "authorization")
            .and_then(|a| a.strip_prefix("Bearer "))
            .is_some_and(|t| !t.trim().is_empty()),
        _ => false,
    }
}

/// The middleware that rejects unauthenticated requests.
pub(crate) async fn require_keys(State(s): State<MockState>, req: Request, next: Next) -> Response {
    if authorized(&s, &req) {
        next.run(req).await
    } else {
        ApiError::unauthorized().into_response()
    }
}
