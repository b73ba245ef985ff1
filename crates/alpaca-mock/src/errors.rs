//! Alpaca-shaped error responses.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An error the mock answers with: an HTTP status and a JSON body shaped like
/// Alpaca's (`{"code": 40010001, "message": "..."}` in most places).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{status}: {body}")]
pub struct ApiError {
    /// HTTP status code.
    pub status: u16,
    /// JSON body.
    pub body: Value,
}

impl ApiError {
    /// An error with Alpaca's numeric `code` and a message.
    pub fn new(status: u16, code: u64, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: json!({ "code": code, "message": message.into() }),
        }
    }

    /// An error whose body is only `{"message": ...}`.
    pub fn message_only(status: u16, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: json!({ "message": message.into() }),
        }
    }

    /// 400 for a request body that is not valid JSON.
    pub fn malformed(message: impl Into<String>) -> Self {
        ApiError::new(400, 40010000, message)
    }

    /// 422 for a missing or invalid field on the trading API.
    pub fn unprocessable(message: impl Into<String>) -> Self {
        ApiError::new(422, 40010001, message)
    }

    /// 400 for a missing or invalid parameter on the market data API.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(400, 40010001, message)
    }

    /// 404 for an unknown resource.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(404, 40410000, message)
    }

    /// 403, e.g. insufficient buying power.
    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(403, 40310000, message)
    }

    /// 401 as Alpaca answers a request without valid keys.
    pub fn unauthorized() -> Self {
        ApiError::new(401, 40110000, "request is not authorized")
    }

    /// The body's `message`, if any.
    pub fn message(&self) -> &str {
        self.body
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, axum::Json(self.body)).into_response()
    }
}

/// The result type of every handler.
pub type ApiResult<T = Response> = Result<T, ApiError>;

/// Parses a request body as a JSON object; an empty body is an empty object.
pub(crate) fn json_object(bytes: &[u8]) -> Result<serde_json::Map<String, Value>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::malformed("request body must be a JSON object")),
        Err(_) => Err(ApiError::malformed("request body format is invalid")),
    }
}
