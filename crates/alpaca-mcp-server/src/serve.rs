//! Serving: the sandbox's fake Alpaca (see `sandbox.rs`), then stdio or streamable HTTP.

use alpaca_mcp::ledger::{Ledger, MemoryLedger};
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
    // The sandbox's fake Alpaca first: with `--auth alpaca` its Connect pages are where
    // users sign in. Then the HTTP security settings are checked, before anything serves
    // (setup errors exit 2).
    let sandbox = if config.sandbox {
        Some(crate::sandbox::start(&mut config, settings, lookup).await?)
    } else {
        None
    };
    let http = match settings.transport {
        Transport::Http => {
            let connect = sandbox.as_ref().map(Sandbox::connect);
            let security = HttpSecurity::from_settings(
                settings,
                lookup,
                config.paper,
                toolsets(&config),
                connect.as_ref(),
            )
            .await?;
            let addrs = security
                .bind_addresses(&settings.host, settings.port)
                .await?;
            Some((security, addrs))
        }
        Transport::Stdio => None,
    };
    // One ledger for every set of tools this process builds (so a caller's order window is
    // one, whichever grant's tools place the order), shared with the other replicas when the
    // state is in PostgreSQL.
    let ledger: Arc<dyn Ledger> = http
        .as_ref()
        .and_then(|(security, _)| security.ledger.clone())
        .unwrap_or_else(|| Arc::new(MemoryLedger::default()));
    let tools = Arc::new(build_tools(&config, sandbox.as_ref(), &ledger)?);
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
            serve_http(&config, sandbox.as_ref(), tools, security, &addrs, ledger).await?
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The toolsets `config` enables, in manifest order (what a grant may be narrowed from).
fn toolsets(config: &Config) -> Vec<String> {
    let filter = alpaca_mcp::registry::ToolFilter::for_config(config);
    alpaca_mcp::registry::enabled_toolsets(&filter)
        .unwrap_or_default()
        .into_iter()
        .map(String::from)
        .collect()
}

fn build_tools(
    config: &Config,
    sandbox: Option<&Sandbox>,
    ledger: &Arc<dyn Ledger>,
) -> anyhow::Result<AlpacaTools> {
    tools_at(config, sandbox.and_then(Sandbox::now_unix), ledger)
}

/// The tools for `config`; with the sandbox's clock frozen (`sandbox_now`), relative time
/// ranges follow it, so "the last 5 days" are the fake's last 5 days.
fn tools_at(
    config: &Config,
    sandbox_now: Option<u64>,
    ledger: &Arc<dyn Ledger>,
) -> anyhow::Result<AlpacaTools> {
    let mut tools = AlpacaTools::new(config)
        .map_err(|e| SetupError(e.to_string()))?
        .with_ledger(ledger.clone());
    if let Some(now) = sandbox_now {
        tools.set_clock(Clock::fixed(UNIX_EPOCH + Duration::from_secs(now)));
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
    ledger: Arc<dyn Ledger>,
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
        Some(endpoint(Arc::new(build_tools(
            &read_config,
            sandbox,
            &ledger,
        )?)))
    } else {
        None
    };
    let full = endpoint(tools);
    tracing::info!("HTTP transport security: {}", security.describe());
    let limits = crate::listener::ConnLimits {
        header_timeout: security.header_timeout,
        max_per_peer: security.max_connections_per_peer,
    };
    // OAuth grants the owner narrowed to some toolsets get tools built for them on first use.
    let narrower: Option<http::Narrower> = security.oauth.as_ref().map(|_| {
        let config = config.clone();
        let sandbox_now = sandbox.and_then(Sandbox::now_unix);
        let options = (security.sessions.idle_timeout, security.body.max_bytes);
        let ct = ct.clone();
        Box::new(move |read_only: bool, toolsets: &[String]| {
            let mut narrowed = config.clone();
            narrowed.read_only |= read_only;
            narrowed.toolsets = Some(toolsets.to_vec());
            let tools = tools_at(&narrowed, sandbox_now, &ledger).map_err(|e| e.to_string())?;
            Ok(Endpoint::with_options(
                Arc::new(tools),
                options.0,
                options.1,
                &ct,
            ))
        }) as http::Narrower
    });
    let router = http::router_with(&security, full, read, narrower);
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
