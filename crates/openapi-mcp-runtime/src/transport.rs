//! The HTTP transport: one pooled client, a base URL per API, credentials, timeouts, a
//! client-side rate limit (`rate_limit`) and retries of idempotent requests (`retry`, whose
//! module doc gives the policy).
//!
//! Secrets: the authentication headers are marked sensitive (so neither reqwest, hyper nor
//! `Debug` print them), [`Auth`] and [`Transport`] redact them in `Debug`, and no error built
//! here ever includes a header value.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderName, HeaderValue};
use url::Url;

mod rate_limit;
mod retry;

use super::{ApiRequest, ApiResponse, Error, Method};
pub use rate_limit::RateLimit;
use rate_limit::RateLimiter;
use retry::RetryPolicy;

/// How every request is authenticated; the values are secrets and never printed.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// Headers sent with every request (an API's key id and secret, say): name, value.
    Headers(Vec<(String, String)>),
    /// `Authorization: Bearer <token>`.
    Bearer(String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Headers(h) => {
                let names: Vec<&str> = h.iter().map(|(n, _)| n.as_str()).collect();
                write!(f, "Auth::Headers({names:?}, values <redacted>)")
            }
            Auth::Bearer(_) => f.write_str("Auth::Bearer(<redacted>)"),
        }
    }
}

impl Auth {
    /// The headers to send, each value marked sensitive. An error names the header whose
    /// value cannot be sent, never the value.
    fn header_values(&self) -> Result<Vec<(HeaderName, HeaderValue)>, Error> {
        let pairs: Vec<(String, &str)> = match self {
            Auth::Headers(h) => h.iter().map(|(n, v)| (n.clone(), v.as_str())).collect(),
            Auth::Bearer(t) => vec![("authorization".to_string(), t.as_str())],
        };
        pairs
            .into_iter()
            .map(|(name, value)| {
                let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                    Error::InvalidRequest(format!("`{name}` is not an HTTP header name"))
                })?;
                let text = match self {
                    Auth::Bearer(_) => format!("Bearer {value}"),
                    Auth::Headers(_) => value.to_string(),
                };
                let mut v = HeaderValue::from_str(&text).map_err(|_| {
                    Error::InvalidRequest(format!(
                        "the value for the {name} header has characters that cannot be sent in an HTTP header"
                    ))
                })?;
                v.set_sensitive(true);
                Ok((header, v))
            })
            .collect()
    }
}

/// How to build a [`Transport`].
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// Base URL per API (manifest spec key -> URL).
    pub base_urls: BTreeMap<String, Url>,
    /// How requests are authenticated; `None` sends no credentials.
    pub auth: Option<Auth>,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout.
    pub request_timeout: Duration,
    /// Largest response body accepted, in bytes.
    pub max_body_bytes: usize,
    /// User-Agent header.
    pub user_agent: String,
    /// Client-side pacing per API (manifest spec key -> limit), shared by every clone of the
    /// transport; an API not listed is not paced (the default here; the server's
    /// caller decides). See the `rate_limit` module for the rules.
    pub rate_limits: BTreeMap<String, RateLimit>,
    /// Tries in all for a request that may be retried (GET, HEAD, OPTIONS); 1 turns retries
    /// off. Writes are never retried.
    pub max_attempts: u32,
    /// Backoff before the first retry (doubled for each further one, capped at 5 s, jittered).
    pub retry_base: Duration,
    /// Longest `Retry-After` of a 429 that is waited out; a longer one is returned at once.
    pub max_retry_after: Duration,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            base_urls: BTreeMap::new(),
            auth: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            max_body_bytes: 32 * 1024 * 1024,
            user_agent: concat!("openapi-mcp-runtime/", env!("CARGO_PKG_VERSION")).to_string(),
            rate_limits: BTreeMap::new(),
            max_attempts: 3,
            retry_base: Duration::from_millis(250),
            max_retry_after: Duration::from_secs(10),
        }
    }
}

/// The longest URL sent. Proxies in front of HTTP APIs commonly refuse URLs over 8 to 16 KiB;
/// refusing here says why, and certainly sends nothing.
pub const MAX_URL_BYTES: usize = 16 * 1024;

struct Inner {
    http: reqwest::Client,
    base_urls: BTreeMap<String, Url>,
    auth: Option<Auth>,
    /// The authentication headers, built once and marked sensitive.
    auth_headers: Vec<(HeaderName, HeaderValue)>,
    max_body_bytes: usize,
    /// One limiter per paced API.
    limiters: BTreeMap<String, Arc<RateLimiter>>,
    /// Each paced API's limit, for the limiters of callers ([`crate::caller`]).
    rate_limits: BTreeMap<String, RateLimit>,
    /// A caller's own limiters, by API and caller id.
    caller_limiters:
        std::sync::Mutex<std::collections::HashMap<(String, String), Arc<RateLimiter>>>,
    retry: RetryPolicy,
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
            .field("auth", &self.inner.auth)
            .field(
                "rate_limits",
                &self
                    .inner
                    .limiters
                    .iter()
                    .map(|(k, l)| (k.as_str(), l.per_minute()))
                    .collect::<Vec<_>>(),
            )
            .field("retry", &self.inner.retry)
            .finish()
    }
}

impl Transport {
    /// Builds a transport.
    pub fn new(config: TransportConfig) -> Result<Self, Error> {
        let auth_headers = match &config.auth {
            Some(a) => a.header_values()?,
            None => Vec::new(),
        };
        let limiters = config
            .rate_limits
            .iter()
            .filter_map(|(api, limit)| RateLimiter::new(*limit).map(|l| (api.clone(), Arc::new(l))))
            .collect();
        let retry = RetryPolicy {
            max_attempts: config.max_attempts.max(1),
            base: config.retry_base,
            max_backoff: Duration::from_secs(5),
            max_retry_after: config.max_retry_after,
        };
        let http = reqwest::Client::builder()
            // Never follow a redirect: the key headers and an order's body would go to
            // whichever host the answer names. A 3xx is returned as [`Error::Redirect`].
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(config.user_agent)
            .build()
            .map_err(|e| Error::InvalidRequest(format!("HTTP client: {e}")))?;
        Ok(Transport {
            inner: Arc::new(Inner {
                http,
                base_urls: config.base_urls,
                auth: config.auth,
                auth_headers,
                max_body_bytes: config.max_body_bytes,
                limiters,
                rate_limits: config.rate_limits.clone(),
                caller_limiters: std::sync::Mutex::default(),
                retry,
            }),
        })
    }

    /// The base URL of `api`, if configured.
    pub fn base_url(&self, api: &str) -> Option<&Url> {
        self.inner.base_urls.get(api)
    }

    /// The full URL a request goes to.
    pub fn url_for(&self, request: &ApiRequest) -> Result<Url, Error> {
        let caller = crate::caller::current();
        let base = caller
            .as_ref()
            .and_then(|c| c.base_urls.get(request.api))
            .or_else(|| self.base_url(request.api))
            .ok_or_else(|| {
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
        // An empty segment (`/v2/orders/`, `/v2/positions//exercise`) would address a
        // different resource than the one meant: the collection, whose DELETE cancels or closes
        // everything. Generated requests refuse blank path arguments by name before this.
        if request.path.is_empty()
            || !request.path.starts_with('/')
            || request.path.ends_with('/')
            || request.path.contains("//")
        {
            return Err(Error::InvalidRequest(format!(
                "path `{}` has an empty segment (a blank path argument?)",
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
        if url.as_str().len() > MAX_URL_BYTES {
            return Err(Error::InvalidRequest(format!(
                "its URL would be {} bytes, over the {MAX_URL_BYTES}-byte limit; use fewer symbols or shorter arguments, or split the call",
                url.as_str().len()
            )));
        }
        Ok(url)
    }

    /// Sends a request; a non-success status is an [`Error::Api`]. Waits for the rate
    /// limiter first, and retries idempotent requests as the `retry` module doc says.
    pub async fn send(&self, request: ApiRequest) -> Result<ApiResponse, Error> {
        let url = self.url_for(&request)?;
        let mut attempt = 1;
        let caller = crate::caller::current();
        let limiter = match &caller {
            Some(c) => self.caller_limiter(request.api, &c.id),
            None => self.inner.limiters.get(request.api).cloned(),
        };
        let caller_headers = match &caller {
            Some(c) => Some(c.auth.header_values()?),
            None => None,
        };
        let auth_headers = caller_headers.as_ref().unwrap_or(&self.inner.auth_headers);
        // Placing, replacing and cancelling never wait behind queued reads.
        let write = !request.method.is_safe();
        loop {
            if let Some(limiter) = &limiter {
                limiter.acquire(write).await;
            }
            let sent = self
                .send_once(&request, url.clone(), auth_headers, limiter.as_deref())
                .await;
            let error = match sent {
                Ok(response) => return check_account(caller.as_ref(), &request, response),
                Err(e) => e,
            };
            // The caller's own credentials were refused: whoever serves them hears of it.
            if let (Error::Api { status: 401, .. }, Some(hook)) = (
                &error,
                caller.as_ref().and_then(|c| c.on_unauthorized.as_ref()),
            ) {
                hook();
            }
            let Some(wait) = self.inner.retry.delay(request.method, attempt, &error) else {
                return Err(error);
            };
            tracing::info!(
                operation = request.operation_id,
                attempt,
                wait_ms = wait.as_millis() as u64,
                error = %error,
                "retrying an idempotent request"
            );
            crate::events::emit(
                crate::events::Level::Warning,
                format!(
                    "{} {} got {}; retrying in {:.1} s (attempt {} of at most {})",
                    request.method.as_str(),
                    request.path,
                    error.brief(),
                    wait.as_secs_f64(),
                    attempt + 1,
                    self.inner.retry.max_attempts
                ),
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// The limiter of `caller` for `api` (made on first use with the API's limit), or
    /// `None` when the API is not paced.
    fn caller_limiter(&self, api: &str, caller: &str) -> Option<Arc<RateLimiter>> {
        let limit = *self.inner.rate_limits.get(api)?;
        let mut map = self
            .inner
            .caller_limiters
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(l) = map.get(&(api.to_string(), caller.to_string())) {
            return Some(l.clone());
        }
        let made = Arc::new(RateLimiter::new(limit)?);
        map.insert((api.to_string(), caller.to_string()), made.clone());
        Some(made)
    }

    /// Sends a request once, with `auth_headers`, letting `limiter` follow the answer's
    /// rate-limit headers.
    async fn send_once(
        &self,
        request: &ApiRequest,
        url: Url,
        auth_headers: &[(HeaderName, HeaderValue)],
        limiter: Option<&RateLimiter>,
    ) -> Result<ApiResponse, Error> {
        let sent_to = url.clone();
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
        for (name, value) in auth_headers {
            builder = builder.header(name.clone(), value.clone());
        }
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        let mut response = builder.send().await.map_err(classify)?;
        let status = response.status().as_u16();
        if let Some(limiter) = limiter {
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
            };
            let (limit, remaining, reset) = (
                header("x-ratelimit-limit"),
                header("x-ratelimit-remaining"),
                header("x-ratelimit-reset"),
            );
            if limit.is_some() || remaining.is_some() {
                let small = |v: Option<u64>| v.map(|n| u32::try_from(n).unwrap_or(u32::MAX));
                limiter.observe(small(limit), small(remaining), reset);
            }
        }
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let limit = self.inner.max_body_bytes;
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(too_large(status, limit));
        }
        let mut body = bytes::BytesMut::new();
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            if body.len() + chunk.len() > limit {
                return Err(too_large(status, limit));
            }
            body.extend_from_slice(&chunk);
        }
        let body = body.freeze();
        if (200..300).contains(&status) {
            return Ok(ApiResponse { status, body });
        }
        if (300..400).contains(&status) {
            return Err(Error::Redirect {
                status,
                location_host: location_host(location.as_deref(), &sent_to),
            });
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

/// The body was larger than the limit; reading stopped there, so memory stays bounded.
fn too_large(status: u16, limit: usize) -> Error {
    Error::BodyTooLarge { status, limit }
}

/// The usual JSON error body, `{"code": 40010001, "message": "..."}`; `code` is optional.
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

/// The host a `Location` header points at, resolved against the URL that was asked (a relative
/// `Location` is the same host). Only the host and port: never the path or query, which could
/// carry anything.
fn location_host(location: Option<&str>, asked: &Url) -> Option<String> {
    let target = asked.join(location?).ok()?;
    let host = target.host_str()?;
    Some(match target.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    })
}

fn classify(e: reqwest::Error) -> Error {
    if e.is_builder() {
        // The request could not be built (a header value with control characters, a URL
        // reqwest refuses): nothing went out.
        let detail = std::error::Error::source(&e)
            .map(|s| s.to_string())
            .unwrap_or_else(|| "it could not be built".to_string());
        Error::InvalidRequest(detail)
    } else if e.is_connect() {
        // Connecting failed (refused, unreachable, or timed out while connecting): the request
        // never left.
        Error::Connection {
            detail: if e.is_timeout() {
                "connecting timed out".into()
            } else {
                "connection refused or unreachable".into()
            },
            sent: false,
        }
    } else if e.is_timeout() {
        Error::Timeout
    } else {
        let detail = std::error::Error::source(&e)
            .map(|s| s.to_string())
            .unwrap_or_else(|| e.to_string());
        Error::Connection { detail, sent: true }
    }
}

/// A caller's answer, unless it names another account than theirs: then it is withheld and
/// their [`crate::caller::AccountCheck`] hook runs.
fn check_account(
    caller: Option<&crate::caller::Caller>,
    request: &ApiRequest,
    response: ApiResponse,
) -> Result<ApiResponse, Error> {
    let Some(check) = caller.and_then(|c| c.account.as_ref()) else {
        return Ok(response);
    };
    match (check.names)(request, &response.body) {
        Some(named) if named != check.account => {
            tracing::warn!(
                operation = request.operation_id,
                "an answer named another account than the caller's: withheld"
            );
            (check.on_mismatch)();
            Err(Error::OtherAccount)
        }
        _ => Ok(response),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(path: &str) -> ApiRequest {
        ApiRequest {
            api: "trading",
            operation_id: "op",
            method: Method::Delete,
            path: path.into(),
            query: vec![],
            body: None,
        }
    }

    #[test]
    fn each_caller_gets_limiters_of_their_own_with_the_apis_limit() {
        let mut rate_limits = BTreeMap::new();
        rate_limits.insert(
            "trading".to_string(),
            RateLimit {
                per_minute: 60,
                burst: 1,
                fixed: true,
            },
        );
        let t = Transport::new(TransportConfig {
            rate_limits,
            ..TransportConfig::default()
        })
        .unwrap();
        let alice = t.caller_limiter("trading", "alice").unwrap();
        let again = t.caller_limiter("trading", "alice").unwrap();
        let bob = t.caller_limiter("trading", "bob").unwrap();
        assert!(Arc::ptr_eq(&alice, &again), "one per caller and API");
        assert!(!Arc::ptr_eq(&alice, &bob), "never shared between callers");
        assert!(!Arc::ptr_eq(&alice, &t.inner.limiters["trading"]));
        assert_eq!(alice.per_minute(), 60);
        assert!(
            t.caller_limiter("market-data", "alice").is_none(),
            "unpaced API"
        );
    }

    #[test]
    fn an_empty_path_segment_is_never_sent() {
        let mut base_urls = BTreeMap::new();
        base_urls.insert(
            "trading".to_string(),
            Url::parse("http://127.0.0.1:9/").unwrap(),
        );
        let t = Transport::new(TransportConfig {
            base_urls,
            ..TransportConfig::default()
        })
        .unwrap();
        assert!(t.url_for(&request("/v2/orders/abc")).is_ok());
        for bad in ["/v2/orders/", "/v2/positions//exercise", "", "v2/orders"] {
            let e = t.url_for(&request(bad)).unwrap_err();
            assert!(matches!(e, Error::InvalidRequest(_)), "{bad}: {e}");
            assert!(!e.may_have_been_sent(), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_request_that_cannot_be_built_is_not_sent() {
        // A header value with a control character: reqwest refuses it when sending.
        let e = reqwest::Client::new()
            .get("http://127.0.0.1:9/")
            .header("x-test", "a\u{7}b")
            .send()
            .await
            .unwrap_err();
        let e = classify(e);
        assert!(matches!(e, Error::InvalidRequest(_)), "{e}");
        assert!(!e.may_have_been_sent());
        assert!(e.to_string().starts_with("the request was not sent"), "{e}");
    }

    #[test]
    fn location_hosts_are_reported_without_path_or_query() {
        let asked = Url::parse("https://api.example.test/v2/orders").unwrap();
        assert_eq!(
            location_host(Some("https://evil.example:8443/x?key=1"), &asked).as_deref(),
            Some("evil.example:8443")
        );
        assert_eq!(
            location_host(Some("/v2/other"), &asked).as_deref(),
            Some("api.example.test")
        );
        assert_eq!(location_host(None, &asked), None);
    }

    #[test]
    fn debug_never_shows_the_secrets() {
        for auth in [
            Auth::Headers(vec![
                ("X-Key-Id".into(), "KEY-CANARY".into()),
                ("X-Secret".into(), "SECRET-CANARY".into()),
            ]),
            Auth::Bearer("TOKEN-CANARY".into()),
        ] {
            let t = Transport::new(TransportConfig {
                auth: Some(auth),
                ..TransportConfig::default()
            })
            .unwrap();
            let debug = format!("{t:?} {:?}", t.inner.auth_headers);
            assert!(!debug.contains("CANARY"), "{debug}");
        }
    }

    #[test]
    fn a_secret_that_is_not_a_header_value_is_refused_without_echoing_it() {
        let err = Transport::new(TransportConfig {
            auth: Some(Auth::Headers(vec![(
                "X-Secret".into(),
                "bad\nSECRET".into(),
            )])),
            ..TransportConfig::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("X-Secret"), "{err}");
        assert!(
            !err.to_string().contains("SECRET\n") && !err.to_string().contains("bad"),
            "{err}"
        );
    }

    #[test]
    fn a_bearer_token_is_sent_as_authorization() {
        let h = Auth::Bearer("t0k".into()).header_values().unwrap();
        assert_eq!(h[0].0, "authorization");
        assert_eq!(h[0].1.to_str().unwrap(), "Bearer t0k");
        assert!(h[0].1.is_sensitive());
    }
}
