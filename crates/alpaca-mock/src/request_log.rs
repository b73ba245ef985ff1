//! The request log: every request the mock receives, for tests to inspect.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use std::sync::{Arc, Mutex};

use crate::errors::ApiError;

/// The requests received, oldest first (shared by the state and the middleware).
pub(crate) type Log = Arc<Mutex<Vec<RecordedRequest>>>;

/// Largest request body the mock reads.
const MAX_BODY: usize = 4 * 1024 * 1024;

/// Headers whose values are replaced by `<redacted>` in the log.
const SECRET_HEADERS: &[&str] = &["apca-api-secret-key", "authorization", "cookie"];

/// One received request.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// HTTP method, e.g. `POST`.
    pub method: String,
    /// Path without the query, e.g. `/v2/orders`.
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// Header names (lower case) and values; secrets are `<redacted>`.
    pub headers: Vec<(String, String)>,
    /// The body parsed as JSON, when it was JSON.
    pub body: Option<Value>,
}

impl RecordedRequest {
    /// The first value of a header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The middleware that records requests.
pub(crate) async fn record(State(log): State<Log>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return ApiError::new(413, 41300000, "request body too large").into_response(),
    };
    let headers = parts
        .headers
        .iter()
        .map(|(k, v)| {
            let name = k.as_str().to_ascii_lowercase();
            let value = if SECRET_HEADERS.contains(&name.as_str()) {
                "<redacted>".to_string()
            } else {
                String::from_utf8_lossy(v.as_bytes()).into_owned()
            };
            (name, value)
        })
        .collect();
    let recorded = RecordedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers,
        body: serde_json::from_slice(&bytes).ok(),
    };
    log.lock().unwrap_or_else(|e| e.into_inner()).push(recorded);
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}
