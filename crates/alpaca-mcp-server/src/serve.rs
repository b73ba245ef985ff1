//! Serving: the sandbox's fake Alpaca, then stdio or streamable HTTP.

use std::process::ExitCode;
use std::sync::Arc;

use alpaca_mcp::runtime::Credentials;
use alpaca_mcp::{AlpacaServer, AlpacaTools, Config};
use alpaca_mock::{MockConfig, MockServer};
use rmcp::ServiceExt;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use crate::SetupError;
use crate::cli::{Settings, Transport};

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
    eprintln!(
        "alpaca-mcp-server: SANDBOX mode: every tool talks to a built-in fake Alpaca at {} (no keys needed, nothing real, nothing leaves this machine)",
        mock.url()
    );
    Ok(mock)
}

pub async fn run(mut config: Config, settings: &Settings) -> anyhow::Result<ExitCode> {
    let _mock = if config.sandbox {
        Some(start_sandbox(&mut config).await?)
    } else {
        None
    };
    let tools = Arc::new(AlpacaTools::new(&config).map_err(|e| SetupError(e.to_string()))?);
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
        Transport::Http => serve_http(tools, settings).await?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn serve_http(tools: Arc<AlpacaTools>, settings: &Settings) -> anyhow::Result<()> {
    let addr = format!("{}:{}", settings.host, settings.port);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| SetupError(format!("cannot listen on {addr}: {e}")))?;
    let local = listener.local_addr()?;
    let ct = CancellationToken::new();
    let service = StreamableHttpService::new(
        move || Ok(AlpacaServer::new(tools.clone())),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default().with_cancellation_token(ct.child_token()),
    );
    let router = axum::Router::new().nest_service("/mcp", service);
    // The address goes to stderr so scripts (and tests) can find an ephemeral port.
    eprintln!("alpaca-mcp-server: listening on http://{local}/mcp");
    let shutdown = ct.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        shutdown.cancel();
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { ct.cancelled_owned().await })
        .await?;
    Ok(())
}
