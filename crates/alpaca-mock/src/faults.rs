//! Fault injection: make chosen requests slow, fail, vanish or answer garbage.
//!
//! A [`Fault`] matches on method (optional) and path prefix. While it has uses
//! left (`times`, or forever when `None`), the first matching fault (in the order
//! they were injected) applies to each matching request. With `record_anyway`,
//! the real handler runs first, so its effects stay (an order is placed), and
//! only then is the fault applied to the answer.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The faults to apply, in the order added (shared by the state and the middleware).
pub(crate) type Faults = std::sync::Arc<std::sync::Mutex<Vec<Fault>>>;

/// What a fault does.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// Wait this long, then answer normally.
    Delay(Duration),
    /// Answer this status (with an optional body and extra headers, e.g.
    /// `Retry-After`) instead of the real answer. Without a body, the body is
    /// Alpaca's error shape.
    Status {
        /// HTTP status code.
        status: u16,
        /// Raw body; `None` for `{"code": status*100000, "message": ...}`.
        body: Option<String>,
        /// Extra response headers.
        headers: Vec<(String, String)>,
    },
    /// Close the connection without answering. Only works when served by
    /// [`crate::MockServer`]; an embedded [`crate::router`] answers an empty 502.
    Drop,
    /// Answer 200 with `Content-Type: application/json` and a body that is not JSON.
    NotJson,
    /// Answer normally, with these headers added (`X-RateLimit-Remaining`, say).
    WithHeaders(Vec<(String, String)>),
    /// Answer with a redirect: `status` (301, 302, 307, 308, ...) and `Location: location`.
    Redirect {
        /// HTTP status code.
        status: u16,
        /// The `Location` header's value.
        location: String,
    },
}

impl FaultKind {
    /// A bare status with Alpaca's error body.
    pub fn status(status: u16) -> FaultKind {
        FaultKind::Status {
            status,
            body: None,
            headers: Vec::new(),
        }
    }

    /// A redirect with `status` to `location`.
    pub fn redirect(status: u16, location: impl Into<String>) -> FaultKind {
        FaultKind::Redirect {
            status,
            location: location.into(),
        }
    }

    /// 429 with `Retry-After: secs`.
    pub fn rate_limited(retry_after_secs: u64) -> FaultKind {
        FaultKind::Status {
            status: 429,
            body: None,
            headers: vec![("Retry-After".into(), retry_after_secs.to_string())],
        }
    }
}

/// One injected fault.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// Method to match (case-insensitive); `None` matches any.
    pub method: Option<String>,
    /// Path prefix to match, e.g. `/v2/orders`.
    pub path_prefix: String,
    /// How many more requests it applies to; `None` for all of them.
    pub times: Option<u32>,
    /// What it does.
    pub kind: FaultKind,
    /// Run the real handler first (its effects stay), then apply the fault.
    pub record_anyway: bool,
}

impl Fault {
    /// A fault on every request whose path starts with `path_prefix`.
    pub fn new(path_prefix: impl Into<String>, kind: FaultKind) -> Fault {
        Fault {
            method: None,
            path_prefix: path_prefix.into(),
            times: None,
            kind,
            record_anyway: false,
        }
    }

    /// Only for requests with this method.
    pub fn method(mut self, method: impl Into<String>) -> Fault {
        self.method = Some(method.into());
        self
    }

    /// Only for the next `n` matching requests.
    pub fn times(mut self, n: u32) -> Fault {
        self.times = Some(n);
        self
    }

    /// Only for the next matching request.
    pub fn once(self) -> Fault {
        self.times(1)
    }

    /// Let the real handler run first (e.g. the order is recorded), then apply
    /// the fault to the answer.
    pub fn record_anyway(mut self) -> Fault {
        self.record_anyway = true;
        self
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && path.starts_with(&self.path_prefix)
            && self.times != Some(0)
    }
}

/// Lets a handler close the connection it arrived on.
#[derive(Clone, Default)]
pub(crate) struct ConnKill(pub(crate) Arc<tokio::sync::Notify>);

impl ConnKill {
    pub(crate) fn kill(&self) {
        self.0.notify_one();
    }
}

/// Takes one use of the first fault matching the request.
fn take(faults: &Faults, method: &str, path: &str) -> Option<Fault> {
    let mut faults = faults.lock().unwrap_or_else(|e| e.into_inner());
    let i = faults.iter().position(|f| f.matches(method, path))?;
    let f = faults[i].clone();
    if let Some(n) = faults[i].times.as_mut() {
        *n -= 1;
        if *n == 0 {
            faults.remove(i);
        }
    }
    Some(f)
}

fn status_response(status: u16, body: Option<String>, headers: &[(String, String)]) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = match body {
        Some(b) => (code, b).into_response(),
        None => (
            code,
            axum::Json(serde_json::json!({
                "code": u64::from(status) * 100_000,
                "message": code.canonical_reason().unwrap_or("injected fault").to_ascii_lowercase(),
            })),
        )
            .into_response(),
    };
    add_headers(&mut resp, headers);
    resp
}

/// Adds `headers` to an answer (a name or value that is not valid HTTP is skipped).
fn add_headers(resp: &mut Response, headers: &[(String, String)]) {
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (
            HeaderName::try_from(k.as_str()),
            HeaderValue::try_from(v.as_str()),
        ) {
            resp.headers_mut().insert(k, v);
        }
    }
}

/// The middleware that applies faults.
pub(crate) async fn apply(State(faults): State<Faults>, req: Request, next: Next) -> Response {
    let Some(fault) = take(&faults, req.method().as_str(), req.uri().path()) else {
        return next.run(req).await;
    };
    let kill = req.extensions().get::<ConnKill>().cloned();
    match fault.kind {
        FaultKind::Delay(d) => {
            if fault.record_anyway {
                let resp = next.run(req).await;
                tokio::time::sleep(d).await;
                resp
            } else {
                tokio::time::sleep(d).await;
                next.run(req).await
            }
        }
        FaultKind::Drop => {
            if fault.record_anyway {
                let _ = next.run(req).await;
            }
            match kill {
                Some(k) => {
                    k.kill();
                    std::future::pending::<()>().await;
                    StatusCode::BAD_GATEWAY.into_response()
                }
                None => (StatusCode::BAD_GATEWAY, Body::empty()).into_response(),
            }
        }
        FaultKind::Status {
            status,
            body,
            headers,
        } => {
            if fault.record_anyway {
                let _ = next.run(req).await;
            }
            status_response(status, body, &headers)
        }
        FaultKind::WithHeaders(headers) => {
            let mut resp = next.run(req).await;
            add_headers(&mut resp, &headers);
            resp
        }
        FaultKind::Redirect { status, location } => {
            if fault.record_anyway {
                let _ = next.run(req).await;
            }
            status_response(
                status,
                Some(String::new()),
                &[("Location".to_string(), location)],
            )
        }
        FaultKind::NotJson => {
            if fault.record_anyway {
                let _ = next.run(req).await;
            }
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                "<html><body>upstream hiccup</body></html>",
            )
                .into_response()
        }
    }
}
