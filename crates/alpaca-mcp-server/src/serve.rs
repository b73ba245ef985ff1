//! Serving: the sandbox's fake Alpaca (see `sandbox.rs`), then stdio or streamable HTTP.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use alpaca_mcp::settings::Lookup;
use alpaca_mcp::{AlpacaServer, AlpacaTools, Clock, Config};
use alpaca_mcp_server::http::{self, Endpoint, HttpSecurity};
use tokio_util::sync::CancellationToken;

use crate::SetupError;
use crate::cli::{Settings, Transport};
use crate::sandbox::Sandbox;

pub async fn run(
    mut config: Config,
    settings: &Settings,
    lookup: &Lookup,
) -> anyhow::Result<ExitCode> {
    // HTTP security settings are checked before anything starts (setup errors exit 2).
    let http = match settings.transport {
        Transport::Http => {
            let security = HttpSecurity::from_settings(settings, lookup, config.paper)?;
            let addrs = security
                .bind_addresses(&settings.host, settings.port)
                .await?;
            Some((security, addrs))
        }
        Transport::Stdio => None,
    };
    let sandbox = if config.sandbox {
        Some(crate::sandbox::start(&mut config).await?)
    } else {
        None
    };
    let tools = Arc::new(build_tools(&config, sandbox.as_ref())?);
    if !config.paper {
        tracing::warn!(
            "LIVE trading: orders placed through this server use real money. Active guards: {}",
            config.safety.describe()
        );
    }
    tracing::info!(
        mode = %config.mode(),
        tools = tools.tools().len(),
        transport = ?settings.transport,
        "alpaca-mcp-server starting"
    );
    match settings.transport {
        Transport::Stdio => {
            // Session after session on one connection: a client that opened a 2026-07-28
            // session and falls back to `initialize` gets a fresh one.
            alpaca_mcp::stdio::serve(alpaca_mcp::stdio(), || AlpacaServer::new(tools.clone()))
                .await?;
        }
        Transport::Http => {
            let (security, addrs) = http.expect("checked above for the HTTP transport");
            serve_http(&config, sandbox.as_ref(), tools, security, &addrs).await?
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn build_tools(config: &Config, sandbox: Option<&Sandbox>) -> anyhow::Result<AlpacaTools> {
    let mut tools = AlpacaTools::new(config).map_err(|e| SetupError(e.to_string()))?;
    if let Some(sandbox) = sandbox {
        // Relative time ranges follow the fake's clock, so "the last 5 days" has data.
        tools.set_clock(Clock::fixed(
            UNIX_EPOCH + Duration::from_secs(sandbox.now_unix()),
        ));
    }
    Ok(tools)
}

/// Serves streamable HTTP at `/mcp` behind the [`http`] layers: `read,trade` tokens (or everyone,
/// without tokens) reach `tools`; `read` tokens reach a second service whose tools are built
/// with `read_only = true`, so their sessions list and call only read-only tools.
async fn serve_http(
    config: &Config,
    sandbox: Option<&Sandbox>,
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
    let endpoint = |tools: Arc<AlpacaTools>| Endpoint::for_tools(tools, &security, &ct);
    let read = if (security.tokens.has_read() || security.oauth.is_some()) && !config.read_only {
        let mut read_config = config.clone();
        read_config.read_only = true;
        Some(endpoint(Arc::new(build_tools(&read_config, sandbox)?)))
    } else {
        None
    };
    let full = endpoint(tools);
    tracing::info!("HTTP transport security: {}", security.describe());
    let limits = crate::listener::ConnLimits {
        header_timeout: security.header_timeout,
        max_per_peer: security.max_connections_per_peer,
    };
    let router = http::router(&security, full, read);
    // The address goes to stderr so scripts (and tests) can find an ephemeral port.
    eprintln!("alpaca-mcp-server: listening on http://{local}/mcp");
    let shutdown = ct.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        shutdown.cancel();
    });
    crate::listener::serve(listener, router, limits, ct).await;
    Ok(())
}
