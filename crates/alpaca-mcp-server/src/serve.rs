//! Serving: the sandbox's fake Alpaca, then stdio or streamable HTTP.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use alpaca_mcp::handwritten::Clock;

use alpaca_mcp::runtime::{ApiRequest, Credentials, Method, Transport as ApiTransport};
use alpaca_mcp::{AlpacaServer, AlpacaTools, Config};
use alpaca_mock::{MockConfig, MockServer};
use rmcp::ServiceExt;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::SetupError;
use crate::cli::{Settings, Transport};

// Declared here rather than in main.rs; the file sits next to this one.
#[path = "http_guard.rs"]
mod http_guard;

use http_guard::{Endpoint, Guard, HttpSecurity};

/// Points `config` at an in-process fake Alpaca, which lives as long as the returned handle.
pub async fn start_sandbox(config: &mut Config) -> anyhow::Result<MockServer> {
    let mock = MockServer::start(MockConfig::default()).await?;
    let url = alpaca_mcp::config::parse_url("sandbox", &mock.url())?;
    config.trading_url = url.clone();
    config.data_url = url;
    config.credentials = Some(Credentials {
        key_id: "sandbox".into(),
        secret_key: "sandbox".into(),
    });
    config.sandbox = true;
    config.paper = true;
    // Alpaca's request limit does not apply to the built-in fake: no client-side pacing.
    config.rate_limit_per_minute = 0;
    let transport = ApiTransport::new(config.transport_config())?;
    seed_demo_account(&mock, &transport)
        .await
        .map_err(|e| anyhow::anyhow!("cannot set up the sandbox's demo account: {e:#}"))?;
    eprintln!(
        "alpaca-mcp-server: SANDBOX mode: every tool talks to a built-in fake Alpaca at {} (no keys needed, nothing real, nothing leaves this machine); the demo account holds AAPL, MSFT, NVDA, BTC/USD and an AAPL call, with open orders in TSLA and NVDA",
        mock.url()
    );
    Ok(mock)
}

/// Gives the fake a small demo account, so that positions, open orders and watchlists show
/// something and every tool has something to act on: market buys of AAPL 10, MSFT 5, NVDA 3,
/// BTC/USD 0.01 and one at-the-money AAPL call of the nearest expiration (all filled at
/// once), a resting limit buy of 2 TSLA at half its price, a resting good-til-canceled limit
/// sell of 1 NVDA at one and a half times its price, and a watchlist `Demo`. The fake's clock
/// is frozen during a regular session, so this is the same on every start.
async fn seed_demo_account(mock: &MockServer, transport: &ApiTransport) -> anyhow::Result<()> {
    let state = mock.state();
    let place = |order: Value| {
        let what = order.to_string();
        state
            .place_order(order)
            .map_err(|e| anyhow::anyhow!("{what}: {e}"))
    };
    for (symbol, qty) in [("AAPL", "10"), ("MSFT", "5"), ("NVDA", "3")] {
        place(json!({
            "symbol": symbol, "qty": qty, "side": "buy", "type": "market", "time_in_force": "day",
        }))?;
    }
    place(json!({
        "symbol": "BTC/USD", "qty": "0.01", "side": "buy", "type": "market", "time_in_force": "gtc",
    }))?;

    // A contract from the fake's own chain: the call of the nearest expiration whose strike
    // is closest to the underlying's price.
    let contracts = transport
        .send(ApiRequest {
            api: "trading",
            operation_id: "sandbox-demo",
            method: Method::Get,
            path: "/v2/options/contracts".into(),
            query: vec![
                ("underlying_symbols", "AAPL".into()),
                ("type", "call".into()),
            ],
            body: None,
        })
        .await?
        .json()?;
    let underlying = state.last_price("AAPL");
    let distance = |c: &Value| {
        c["strike_price"]
            .as_str()
            .and_then(|s| s.parse::<f64>().ok())
            .map_or(f64::INFINITY, |k| (k - underlying).abs())
    };
    let mut best: Option<(&str, f64)> = None;
    for c in contracts["option_contracts"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(symbol) = c["symbol"].as_str()
            && best.is_none_or(|(_, d)| distance(c) < d)
        {
            best = Some((symbol, distance(c)));
        }
    }
    let (contract, _) = best.ok_or_else(|| anyhow::anyhow!("the fake lists no AAPL calls"))?;
    place(json!({
        "symbol": contract, "qty": "1", "side": "buy", "type": "market", "time_in_force": "day",
        "position_intent": "buy_to_open",
    }))?;

    let tsla = (state.last_price("TSLA") * 0.5).floor().max(1.0);
    place(json!({
        "symbol": "TSLA", "qty": "2", "side": "buy", "type": "limit",
        "limit_price": format!("{tsla:.2}"), "time_in_force": "day",
    }))?;
    let nvda = (state.last_price("NVDA") * 1.5).ceil();
    place(json!({
        "symbol": "NVDA", "qty": "1", "side": "sell", "type": "limit",
        "limit_price": format!("{nvda:.2}"), "time_in_force": "gtc",
    }))?;

    transport
        .send(ApiRequest {
            api: "trading",
            operation_id: "sandbox-demo",
            method: Method::Post,
            path: "/v2/watchlists".into(),
            query: vec![],
            body: Some(json!({
                "name": "Demo", "symbols": ["AAPL", "MSFT", "NVDA", "TSLA", "BTC/USD"],
            })),
        })
        .await?;
    Ok(())
}

pub async fn run(mut config: Config, settings: &Settings) -> anyhow::Result<ExitCode> {
    // HTTP security settings are checked before anything starts (setup errors exit 2).
    let http = match settings.transport {
        Transport::Http => {
            let security = HttpSecurity::from_settings(settings)?;
            let addrs = security
                .bind_addresses(&settings.host, settings.port)
                .await?;
            Some((security, addrs))
        }
        Transport::Stdio => None,
    };
    let _mock = if config.sandbox {
        Some(start_sandbox(&mut config).await?)
    } else {
        None
    };
    let tools = Arc::new(build_tools(&config, _mock.as_ref())?);
    if !config.paper {
        tracing::warn!("LIVE trading: orders placed through this server use real money");
    }
    tracing::info!(
        mode = config.mode(),
        tools = tools.tools().len(),
        transport = ?settings.transport,
        "alpaca-mcp-server starting"
    );
    match settings.transport {
        Transport::Stdio => {
            let service = AlpacaServer::new(tools)
                .serve(rmcp::transport::stdio())
                .await?;
            service.waiting().await?;
        }
        Transport::Http => {
            let (security, addrs) = http.expect("checked above for the HTTP transport");
            serve_http(&config, _mock.as_ref(), tools, security, &addrs).await?
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn build_tools(config: &Config, mock: Option<&MockServer>) -> anyhow::Result<AlpacaTools> {
    let mut tools = AlpacaTools::new(config).map_err(|e| SetupError(e.to_string()))?;
    if let Some(mock) = mock {
        // Relative time ranges follow the fake's clock, so "the last 5 days" has data.
        let now = mock.state().now().unix_secs().max(0) as u64;
        tools.set_clock(Clock::fixed(UNIX_EPOCH + Duration::from_secs(now)));
    }
    Ok(tools)
}

/// Serves streamable HTTP at `/mcp` behind [`http_guard`]: `read,trade` tokens (or everyone,
/// without tokens) reach `tools`; `read` tokens reach a second service whose tools are built
/// with `read_only = true`, so their sessions list and call only read-only tools.
async fn serve_http(
    config: &Config,
    mock: Option<&MockServer>,
    tools: Arc<AlpacaTools>,
    security: HttpSecurity,
    addrs: &[std::net::SocketAddr],
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addrs).await.map_err(|e| {
        let addrs: Vec<String> = addrs.iter().map(ToString::to_string).collect();
        SetupError(format!("cannot listen on {}: {e}", addrs.join(" or ")))
    })?;
    let local = listener.local_addr()?;
    let ct = CancellationToken::new();
    let endpoint = |tools: Arc<AlpacaTools>| {
        let mut sessions = LocalSessionManager::default();
        sessions.session_config.keep_alive = security.session_idle_timeout;
        let sessions = Arc::new(sessions);
        let service = StreamableHttpService::new(
            move || Ok(AlpacaServer::new(tools.clone())),
            sessions.clone(),
            // Host and Origin are checked by the guard (421 / 403); rmcp's checks are off so
            // there is one set of rules. The guard limits the body too; rmcp's limit matches.
            StreamableHttpServerConfig::default()
                .disable_allowed_hosts()
                .disable_allowed_origins()
                .with_max_request_body_bytes(security.max_body_bytes)
                .with_cancellation_token(ct.child_token()),
        );
        Endpoint::new(service, sessions)
    };
    let read = if security.has_read_tokens() && !config.read_only {
        let mut read_config = config.clone();
        read_config.read_only = true;
        Some(endpoint(Arc::new(build_tools(&read_config, mock)?)))
    } else {
        None
    };
    let full = endpoint(tools);
    tracing::info!("HTTP transport security: {}", security.describe());
    let guard = Arc::new(Guard::new(security, full, read));
    let router = axum::Router::new()
        .route("/mcp", axum::routing::any(http_guard::handle))
        .with_state(guard);
    // The address goes to stderr so scripts (and tests) can find an ephemeral port.
    eprintln!("alpaca-mcp-server: listening on http://{local}/mcp");
    let shutdown = ct.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        shutdown.cancel();
    });
    // Without TCP_NODELAY every answer on a kept-alive connection waits ~40 ms for the
    // client's delayed ACK (Nagle), capping throughput at ~25 calls/s per connection.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { ct.cancelled_owned().await })
        .await?;
    Ok(())
}
