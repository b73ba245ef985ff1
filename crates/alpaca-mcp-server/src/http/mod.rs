//! Security of the streamable HTTP transport, as layers in front of rmcp's service. Each check
//! is an axum middleware (a tower layer) with its own state, so a new check (OAuth, say) is
//! one more layer:
//!
//! | Layer | Module | Refuses with |
//! |---|---|---|
//! | `Host` allowlist (DNS rebinding) | [`origin`] | 400 two or malformed, 421 not allowed |
//! | `Origin` allowlist (browsers) | [`origin`] | 403 |
//! | bearer token (static or OAuth) and its scope | [`auth`] | 401 with `WWW-Authenticate: Bearer` |
//! | body size and time | [`limits`] | 413, 408 |
//!
//! then the endpoint ([`router`]): a `read` token's requests go to a read-only service (and a
//! call of a trading tool by name gets 403 `insufficient_scope`), `DELETE` of an unknown
//! session gets 404, and an `initialize` beyond the session limit 503. With `--auth owner`
//! the authorization server's routes ([`crate::oauth::router`]) sit beside `/mcp`, behind the
//! `Host` and body layers only: they answer anyone, and carry no ambient credentials.
//! rmcp's own Host/Origin checks are turned off so that these are the only ones (and a foreign
//! Host gets 421 rather than rmcp's 403). Settings are resolved once, in [`settings`].

pub mod auth;
pub mod in_flight;
pub mod limits;
pub mod origin;
mod reply;
pub mod settings;
pub mod sse;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;

use alpaca_mcp::{AlpacaServer, AlpacaTools};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;
use tower::ServiceBuilder;

pub use settings::HttpSecurity;

use auth::{Gate, Scope};
use limits::{SESSION_HEADER, SessionLimit};
use reply::plain;

/// rmcp's streamable HTTP service for the tools.
pub type Service = StreamableHttpService<AlpacaServer, LocalSessionManager>;

/// One rmcp service with its own session manager: sessions made through it stay in it, so a
/// session opened with a `read` token cannot be used through the other one (404).
pub struct Endpoint {
    service: Service,
    sessions: Arc<LocalSessionManager>,
}

impl Endpoint {
    /// The service and the session manager it was built with.
    pub fn new(service: Service, sessions: Arc<LocalSessionManager>) -> Self {
        Endpoint { service, sessions }
    }

    /// rmcp's streamable HTTP service for `tools`, with its own sessions (idle ones closed
    /// after the configured time), stopped by `ct`. rmcp's own Host and Origin checks are off:
    /// the layers check them (421 / 403), so there is one set of rules; its body limit matches
    /// the layers'.
    pub fn for_tools(
        tools: Arc<AlpacaTools>,
        security: &HttpSecurity,
        ct: &CancellationToken,
    ) -> Self {
        Self::with_options(
            tools,
            security.sessions.idle_timeout,
            security.body.max_bytes,
            ct,
        )
    }

    /// [`Endpoint::for_tools`] with the two settings it takes from [`HttpSecurity`].
    pub fn with_options(
        tools: Arc<AlpacaTools>,
        idle_timeout: Option<std::time::Duration>,
        max_body_bytes: usize,
        ct: &CancellationToken,
    ) -> Self {
        let mut sessions = LocalSessionManager::default();
        sessions.session_config.keep_alive = idle_timeout;
        let sessions = Arc::new(sessions);
        let service = StreamableHttpService::new(
            move || Ok(AlpacaServer::new(tools.clone())),
            sessions.clone(),
            StreamableHttpServerConfig::default()
                .disable_allowed_hosts()
                .disable_allowed_origins()
                .with_max_request_body_bytes(max_body_bytes)
                .with_cancellation_token(ct.child_token()),
        );
        Endpoint::new(service, sessions)
    }
}

/// The address of the peer of a connection, set by the accept loop on every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// Builds the endpoint of a grant narrowed to some toolsets: `(read_only, toolsets)`.
pub type Narrower = Box<dyn Fn(bool, &[String]) -> Result<Endpoint, String> + Send + Sync>;

/// Endpoints of narrowed grants by `(read_only, toolsets)`.
type NarrowedEndpoints = std::collections::HashMap<(bool, Vec<String>), Arc<Endpoint>>;

/// The endpoints behind the layers.
struct Endpoints {
    /// Builds endpoints for OAuth grants narrowed to toolsets (`None`: no narrowing here).
    narrower: Option<Narrower>,
    /// Those built so far, by `(read_only, toolsets)`.
    narrowed: tokio::sync::Mutex<NarrowedEndpoints>,
    /// Tools a `read` token may not call (every compiled tool that is not read-only).
    trade_tools: HashSet<&'static str>,
    /// Serves `read,trade` tokens (and everyone when no token is configured).
    full: Endpoint,
    /// Serves `read` tokens with read-only tools; `None` when `full` is read-only already or
    /// there are no `read` tokens.
    read: Option<Endpoint>,
    /// The `resource_metadata` of challenges, in OAuth mode.
    resource_metadata: Option<String>,
    sessions: SessionLimit,
    /// Serializes `initialize` requests so the session limit is exact.
    initialize: tokio::sync::Mutex<()>,
    /// Who opened each session (the principal of its token): a session is used by its own
    /// user only, so one signed-in user never reaches another's session by its id.
    owners: std::sync::Mutex<std::collections::HashMap<String, String>>,
    /// Request ids in flight per session: the same id twice at once never runs twice.
    in_flight: Arc<in_flight::InFlight>,
}

impl Endpoints {
    async fn session_count(&self) -> usize {
        let mut n = self.full.sessions.sessions.read().await.len();
        if let Some(read) = &self.read {
            n += read.sessions.sessions.read().await.len();
        }
        for e in self.narrowed.lock().await.values() {
            n += e.sessions.sessions.read().await.len();
        }
        n
    }

    /// The ids of every open session, on every endpoint.
    async fn session_ids(&self) -> HashSet<String> {
        let mut managers = vec![self.full.sessions.clone()];
        if let Some(read) = &self.read {
            managers.push(read.sessions.clone());
        }
        managers.extend(
            self.narrowed
                .lock()
                .await
                .values()
                .map(|e| e.sessions.clone()),
        );
        let mut ids = HashSet::new();
        for m in managers {
            ids.extend(m.sessions.read().await.keys().map(|k| k.to_string()));
        }
        ids
    }

    /// The endpoint of a grant narrowed to `toolsets`, built on first use.
    async fn narrowed(
        &self,
        read_only: bool,
        toolsets: &[String],
    ) -> Result<Arc<Endpoint>, Response> {
        let Some(build) = &self.narrower else {
            return Err(plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal Server Error: this server cannot narrow a grant to toolsets",
            ));
        };
        let key = (read_only, toolsets.to_vec());
        let mut map = self.narrowed.lock().await;
        if let Some(e) = map.get(&key) {
            return Ok(e.clone());
        }
        let endpoint = Arc::new(build(read_only, toolsets).map_err(|e| {
            tracing::error!(error = %e, "cannot build the tools of a narrowed grant");
            plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal Server Error: the grant's toolsets are not available on this server",
            )
        })?);
        map.insert(key, endpoint.clone());
        Ok(endpoint)
    }
}

/// The security layers around `inner`'s routes, outermost (first to run) first.
pub fn layers(inner: Router, security: &HttpSecurity) -> Router {
    let gate = Arc::new(Gate {
        tokens: security.tokens.clone(),
        oauth: security.oauth.clone(),
    });
    inner.route_layer(
        ServiceBuilder::new()
            .layer(from_fn_with_state(
                security.hosts.clone(),
                origin::check_host,
            ))
            .layer(from_fn_with_state(
                security.origins.clone(),
                origin::check_origin,
            ))
            .layer(from_fn_with_state(gate, auth::require_token))
            .layer(from_fn_with_state(
                Arc::new(security.body),
                limits::read_body,
            )),
    )
}

/// The layers of routes open to anyone (the authorization server's): `Host` and body only.
pub fn open_layers(inner: Router, security: &HttpSecurity) -> Router {
    inner.route_layer(
        ServiceBuilder::new()
            .layer(from_fn_with_state(
                security.hosts.clone(),
                origin::check_host,
            ))
            .layer(from_fn_with_state(
                Arc::new(security.body),
                limits::read_body,
            )),
    )
}

/// `/mcp` behind the layers: `full` for `read,trade` tokens (or everyone without tokens),
/// `read` for `read` tokens; and the authorization server's routes in OAuth mode.
pub fn router(security: &HttpSecurity, full: Endpoint, read: Option<Endpoint>) -> Router {
    router_with(security, full, read, None)
}

/// [`router`], with `narrower` building the endpoints of OAuth grants narrowed to toolsets.
pub fn router_with(
    security: &HttpSecurity,
    full: Endpoint,
    read: Option<Endpoint>,
    narrower: Option<Narrower>,
) -> Router {
    let trade_tools =
        alpaca_mcp::registry::enabled(&alpaca_mcp::registry::ToolFilter::every_compiled())
            .map(|tools| {
                tools
                    .iter()
                    .filter(|t| !t.annotations().read_only)
                    .map(|t| t.name())
                    .collect()
            })
            .unwrap_or_default();
    let endpoints = Arc::new(Endpoints {
        narrower,
        narrowed: tokio::sync::Mutex::new(std::collections::HashMap::new()),
        trade_tools,
        resource_metadata: security.oauth.as_ref().map(|o| o.resource_metadata_url()),
        full,
        read,
        sessions: security.sessions,
        initialize: tokio::sync::Mutex::new(()),
        owners: std::sync::Mutex::new(std::collections::HashMap::new()),
        in_flight: Arc::default(),
    });
    let inner = Router::new()
        .route("/mcp", axum::routing::any(serve_mcp))
        .with_state(endpoints);
    let app = layers(inner, security);
    match &security.oauth {
        Some(oauth) => app.merge(open_layers(crate::oauth::router(oauth.clone()), security)),
        None => app.merge(open_layers(auth::no_oauth_router(), security)),
    }
}

/// The name of a tool in `trade` that a JSON-RPC message (or batch) calls, if any.
fn calls_trade_tool(body: &[u8], trade: &HashSet<&'static str>) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let messages: Vec<&serde_json::Value> = match &value {
        serde_json::Value::Array(batch) => batch.iter().collect(),
        one => vec![one],
    };
    messages.into_iter().find_map(|m| {
        if m.get("method")?.as_str()? != "tools/call" {
            return None;
        }
        let name = m.get("params")?.get("name")?.as_str()?;
        trade.contains(name).then(|| name.to_string())
    })
}

/// The endpoint for a request that passed the layers.
async fn serve_mcp(State(endpoints): State<Arc<Endpoints>>, request: Request) -> Response {
    // Set by the token layer; a request without it never reaches a service.
    let Some(scope) = request.extensions().get::<Scope>().copied() else {
        return plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Server Error: the request has no token scope",
        );
    };
    // An OAuth grant narrowed to toolsets has its own endpoint (and sessions).
    let narrowed = match request
        .extensions()
        .get::<crate::oauth::Access>()
        .and_then(|a| a.toolsets.clone())
    {
        Some(toolsets) => match endpoints.narrowed(scope == Scope::Read, &toolsets).await {
            Ok(e) => Some(e),
            Err(refusal) => return refusal,
        },
        None => None,
    };
    let endpoint = match (&narrowed, scope, &endpoints.read) {
        (Some(e), _, _) => e,
        (None, Scope::Read, Some(read)) => read,
        _ => &endpoints.full,
    };

    let principal = request
        .extensions()
        .get::<alpaca_mcp::input::Principal>()
        .map(|p| p.0.clone())
        .unwrap_or_default();
    // A session opened by another user is, for this one, a session that does not exist.
    if let Some(id) = request.headers().get(SESSION_HEADER)
        && endpoints
            .owners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id.to_str().unwrap_or_default())
            .is_some_and(|owner| *owner != principal)
    {
        return plain(StatusCode::NOT_FOUND, "Not Found: no such MCP session");
    }

    // Ending a session that does not exist (or belongs to the other endpoint): 404, as for
    // any other request on an unknown session.
    if request.method() == Method::DELETE
        && let Some(id) = request.headers().get(SESSION_HEADER)
    {
        let known = match id.to_str() {
            Ok(id) => endpoint.sessions.sessions.read().await.contains_key(id),
            Err(_) => false,
        };
        if !known {
            return plain(StatusCode::NOT_FOUND, "Not Found: no such MCP session");
        }
        // The session ends; say so with 200, as the SDKs' clients expect (the Python SDK
        // logs "Session termination failed: 202" for rmcp's 202 Accepted).
        let mut response = forward(endpoint, request).await;
        if response.status() == StatusCode::ACCEPTED {
            *response.status_mut() = StatusCode::OK;
        }
        return response;
    }
    // Only a POST without a session opens one, and only a POST calls tools; everything else
    // goes straight on.
    let session = request
        .headers()
        .get(SESSION_HEADER)
        .map(|v| v.to_str().unwrap_or_default().to_string());
    let in_session = session.is_some();
    if request.method() != Method::POST {
        return forward(endpoint, request).await;
    }

    // The body layer has read the body into memory (within its limit): collecting it again
    // takes what is there, never a wait.
    let (mut parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return plain(StatusCode::BAD_REQUEST, "Bad Request: unreadable body");
    };
    // Request ids: one JSON-RPC does not allow is refused; in a session, one in flight there
    // already is refused, and the rest are held until answered.
    let held = match endpoints.in_flight.hold(session.as_deref(), &bytes) {
        Ok(h) => h,
        Err(refused) => return refused.into_response(),
    };
    if let Some(h) = &held {
        // rmcp keeps the request's parts for the handler: the ids stay held while it runs.
        parts.extensions.insert(h.clone());
    }
    // A `read` token calling a trading tool by name: 403 naming the scope it lacks.
    if scope == Scope::Read
        && let Some(name) = calls_trade_tool(&bytes, &endpoints.trade_tools)
    {
        return auth::insufficient_scope(
            endpoints.resource_metadata.as_deref(),
            &format!("the tool `{name}`"),
        );
    }
    let request = Request::from_parts(parts, bytes);
    if in_session || !limits::opens_session(&request) {
        let response = forward(endpoint, request.map(Body::from)).await;
        return in_flight::until_sent(response, held);
    }
    // Session limit: 503 for an initialize (a new session) beyond it.
    let _serial = endpoints.initialize.lock().await;
    if let Some(refusal) = endpoints.sessions.refuse(endpoints.session_count().await) {
        return refusal;
    }
    let response = forward(endpoint, request.map(Body::from)).await;
    if let Some(id) = response
        .headers()
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        // Sessions that ended (closed, or idle too long) are forgotten as new ones open.
        let full = endpoints.owners.lock().map_or(0, |o| o.len()) >= endpoints.sessions.max;
        let live = if full {
            Some(endpoints.session_ids().await)
        } else {
            None
        };
        let mut owners = endpoints.owners.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(live) = live {
            owners.retain(|id, _| live.contains(id));
        }
        owners.insert(id.to_string(), principal);
    }
    response
}

async fn forward(endpoint: &Endpoint, request: Request) -> Response {
    // The revision the client negotiated: its header on every request after `initialize`,
    // or (on `initialize`) the one it asks for, which this server speaks (it speaks every
    // revision from 2025-03-26 on).
    let version = request
        .headers()
        .get("mcp-protocol-version")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let version = version.or_else(|| initialize_version(&bytes));
    let request = Request::from_parts(parts, Body::from(bytes));
    let response = endpoint.service.handle(request).await.map(Body::new);
    sse::for_revision(response, sse::primes(version.as_deref()))
}

/// The protocol version a body names: what an `initialize` asks for, or a 2026-07-28
/// request's own `_meta` version.
fn initialize_version(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let asked = match v.get("method")?.as_str()? {
        "initialize" => v.pointer("/params/protocolVersion"),
        _ => v.pointer("/params/_meta/io.modelcontextprotocol~1protocolVersion"),
    };
    asked?.as_str().map(str::to_string)
}
