//! The plain-text answers the layers refuse requests with.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A plain-text answer.
pub fn plain(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message.into(),
    )
        .into_response()
}

/// A plain-text answer that closes the connection.
pub fn closing(status: StatusCode, message: impl Into<String>) -> Response {
    let mut r = plain(status, message);
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}
