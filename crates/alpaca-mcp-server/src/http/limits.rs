//! Limits, as layers: a request body's size (413) and the time it has to arrive (408, the
//! connection closed), and the number of MCP sessions (503 for an `initialize` beyond it).
//! The header read timeout and the per-peer connection cap sit in the accept loop
//! (`listener`), below HTTP.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::reply::{closing, plain};

/// The header of an MCP session's id.
pub const SESSION_HEADER: &str = "mcp-session-id";

/// How large a request body may be and how long it may take.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    /// Largest body, in bytes.
    pub max_bytes: usize,
    /// Time a client has to send it.
    pub timeout: Duration,
}

/// The body layer, for POST: a body over the limit (declared or sent) gets 413, one that does
/// not arrive in time 408; otherwise the request goes on with its body read into memory.
pub async fn read_body(
    State(limits): State<Arc<BodyLimits>>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let too_large = || {
        plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "Payload Too Large: request bodies are limited to {} bytes (--max-body-bytes)",
                limits.max_bytes
            ),
        )
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_bytes as u64) {
        return too_large();
    }
    let (parts, body) = request.into_parts();
    // The body within its time: a client that declares a body and sends it slowly (or never)
    // gets 408 and the connection is closed.
    let bytes: Bytes =
        match tokio::time::timeout(limits.timeout, axum::body::to_bytes(body, limits.max_bytes))
            .await
        {
            Ok(Ok(b)) => b,
            Ok(Err(_)) => return too_large(),
            Err(_) => {
                return closing(
                    StatusCode::REQUEST_TIMEOUT,
                    format!(
                        "Request Timeout: the body did not arrive within {} s",
                        limits.timeout.as_secs()
                    ),
                );
            }
        };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// How many MCP sessions may be open at once.
#[derive(Debug, Clone, Copy)]
pub struct SessionLimit {
    /// Most open sessions.
    pub max: usize,
    /// After how long an idle session closes (`None`: never), for the refusal's advice.
    pub idle_timeout: Option<Duration>,
}

impl SessionLimit {
    /// The 503 for a new session when `open` sessions are open and that is the limit;
    /// `None` when one more fits.
    pub fn refuse(&self, open: usize) -> Option<Response> {
        if open < self.max {
            return None;
        }
        tracing::warn!(
            open,
            max = self.max,
            "refused a new MCP session: the session limit is reached (503)"
        );
        let idle = self.idle_timeout.map_or(String::new(), |d| {
            format!(", or for idle ones to expire after {} s", d.as_secs())
        });
        let mut r = plain(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "Service Unavailable: this server already has its maximum of {} MCP sessions \
                 (--max-sessions); wait for a client to disconnect{idle}",
                self.max
            ),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
        Some(r)
    }
}

/// Whether a request opens a session: no session header, and its JSON-RPC body is (or, in a
/// batch, holds) an `initialize` request.
pub fn opens_session(request: &Request<Bytes>) -> bool {
    !request.headers().contains_key(SESSION_HEADER) && is_initialize(request.body())
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
