//! The HTTP transport: one pooled client, a base URL per API, credentials, timeouts.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use super::{ApiRequest, ApiResponse, Error, Method};

/// API credentials, sent as headers on every request.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Key id.
    pub key_id: String,
    /// Secret key.
    pub secret_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials { key_id: <redacted>, secret_key: <redacted> }")
    }
}

/// How to build a [`Transport`].
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// Base URL per API (manifest spec key -> URL).
    pub base_urls: BTreeMap<String, Url>,
    /// Credentials; `None` sends no key headers.
    pub credentials: Option<Credentials>,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout.
    pub request_timeout: Duration,
    /// Largest response body accepted, in bytes.
    pub max_body_bytes: usize,
    /// User-Agent header.
    pub user_agent: String,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            base_urls: BTreeMap::new(),
            credentials: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            max_body_bytes: 32 * 1024 * 1024,
            user_agent: concat!("alpaca-mcp/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

const KEY_ID_HEADER: &str = "APCA-API-KEY-ID";
const SECRET_HEADER: &str = "APCA-API-SECRET-KEY";

struct Inner {
    http: reqwest::Client,
    base_urls: BTreeMap<String, Url>,
    credentials: Option<Credentials>,
    max_body_bytes: usize,
}

/// Sends [`ApiRequest`]s. Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct Transport {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("base_urls", &self.inner.base_urls)
            .field("credentials", &self.inner.credentials)
            .finish()
    }
}

impl Transport {
    /// Builds a transport.
    pub fn new(config: TransportConfig) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(config.user_agent)
            .build()
            .map_err(|e| Error::InvalidRequest(format!("HTTP client: {e}")))?;
        Ok(Transport {
            inner: Arc::new(Inner {
                http,
                base_urls: config.base_urls,
                credentials: config.credentials,
                max_body_bytes: config.max_body_bytes,
            }),
        })
    }

    /// The base URL of `api`, if configured.
    pub fn base_url(&self, api: &str) -> Option<&Url> {
        self.inner.base_urls.get(api)
    }

    /// The full URL a request goes to.
    pub fn url_for(&self, request: &ApiRequest) -> Result<Url, Error> {
        let base = self.base_url(request.api).ok_or_else(|| {
            Error::InvalidRequest(format!("no base URL for API `{}`", request.api))
        })?;
        let dot_segment = |s: &str| {
            matches!(
                s.to_ascii_lowercase().replace("%2e", ".").as_str(),
                "." | ".."
            )
        };
        if request.path.split('/').any(dot_segment) {
            return Err(Error::InvalidRequest(format!(
                "path `{}` has a dot segment",
                request.path
            )));
        }
        let mut url = base.clone();
        let joined = format!("{}{}", base.path().trim_end_matches('/'), request.path);
        url.set_path(&joined);
        if !request.query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(request.query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        Ok(url)
    }

    /// Sends a request; a non-success status is an [`Error::Api`].
    pub async fn send(&self, request: ApiRequest) -> Result<ApiResponse, Error> {
        let url = self.url_for(&request)?;
        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Put => reqwest::Method::PUT,
            Method::Post => reqwest::Method::POST,
            Method::Delete => reqwest::Method::DELETE,
            Method::Patch => reqwest::Method::PATCH,
            Method::Head => reqwest::Method::HEAD,
            Method::Options => reqwest::Method::OPTIONS,
            Method::Trace => reqwest::Method::TRACE,
        };
        let mut builder = self
            .inner
            .http
            .request(method, url)
            .header("Accept", "application/json");
        if let Some(c) = &self.inner.credentials {
            builder = builder
                .header(KEY_ID_HEADER, &c.key_id)
                .header(SECRET_HEADER, &c.secret_key);
        }
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        let mut response = builder.send().await.map_err(classify)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let mut body = bytes::BytesMut::new();
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            if body.len() + chunk.len() > self.inner.max_body_bytes {
                return Err(Error::Decode {
                    detail: format!(
                        "the response body is larger than {} bytes",
                        self.inner.max_body_bytes
                    ),
                    body: String::new(),
                });
            }
            body.extend_from_slice(&chunk);
        }
        let body = body.freeze();
        if (200..300).contains(&status) {
            return Ok(ApiResponse { status, body });
        }
        let (code, message) = error_fields(&body);
        Err(Error::Api {
            status,
            code,
            message,
            retry_after,
        })
    }
}

/// Alpaca's error body: `{"code": 40010001, "message": "..."}` (market data sends only a message).
fn error_fields(body: &[u8]) -> (Option<i64>, String) {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        let code = v.get("code").and_then(serde_json::Value::as_i64);
        if let Some(m) = v.get("message").and_then(serde_json::Value::as_str) {
            return (code, m.to_string());
        }
    }
    let text = String::from_utf8_lossy(body);
    let mut message: String = text.trim().chars().take(300).collect();
    if message.is_empty() {
        message = "(empty body)".into();
    }
    (None, message)
}

fn classify(e: reqwest::Error) -> Error {
    if e.is_timeout() {
        Error::Timeout
    } else if e.is_connect() {
        Error::Connection {
            detail: "connection refused or unreachable".into(),
            sent: false,
        }
    } else {
        let detail = std::error::Error::source(&e)
            .map(|s| s.to_string())
            .unwrap_or_else(|| e.to_string());
        Error::Connection { detail, sent: true }
    }
}
