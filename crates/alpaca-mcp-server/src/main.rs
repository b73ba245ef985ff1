//! `alpaca-mcp-server`: serves Alpaca's APIs as MCP tools over stdio or streamable HTTP.

mod auth_cmd;
mod doctor;
mod listener;
#[cfg(not(feature = "sandbox"))]
mod no_sandbox;
#[cfg(feature = "sandbox")]
mod sandbox;
#[cfg(not(feature = "sandbox"))]
use no_sandbox as sandbox;
mod serve;
mod tools_cmd;

use std::process::ExitCode;

use alpaca_mcp::config::parse_bool;
use alpaca_mcp::settings::Lookup;
use alpaca_mcp::{Config, ConfigError};
use alpaca_mcp_server::cli::{Cli, Command};
use alpaca_mcp_server::{SetupError, cli};
use clap::Parser;

/// The log filter: `ALPACA_MCP_LOG` as `level` or `target=level` entries separated by commas
/// (`warn,alpaca_mcp=debug`), else warnings, and what this server and its tools say at info.
/// A value that does not parse is reported and the default used.
fn log_filter(value: Option<String>) -> tracing_subscriber::filter::Targets {
    const DEFAULT: &str = "warn,alpaca_mcp=info,alpaca_mcp_server=info";
    let default = || DEFAULT.parse().expect("the default log filter parses");
    match value.filter(|v| !v.trim().is_empty()) {
        None => default(),
        Some(v) => v.trim().parse().unwrap_or_else(|e| {
            eprintln!(
                "alpaca-mcp-server: ALPACA_MCP_LOG={v:?} is not a log filter ({e}); expected a level or target=level entries separated by commas, e.g. warn,alpaca_mcp=debug; using {DEFAULT}"
            );
            default()
        }),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(false),
        )
        .with(log_filter(std::env::var("ALPACA_MCP_LOG").ok()))
        .init();
    let setup = lookup(&cli).and_then(|lookup| Ok((config(&cli, &lookup)?, lookup)));
    let (config, lookup) = match setup {
        Ok(c) => c,
        Err(SetupError(msg)) => {
            eprintln!("alpaca-mcp-server: {msg}");
            return ExitCode::from(2);
        }
    };
    // Every command runs on one thread, HTTP included. Alpaca allows an account 200 requests
    // a minute, and one thread answers thousands of calls a second; worker threads would only
    // add cross-thread wake-ups to every call (measured: 0.17 against 0.12 ms of CPU a
    // sequential HTTP call, 4,200 against 5,300 calls/s at 32 clients on two cores) and memory.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("alpaca-mcp-server: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve::run(config, &cli.settings, &lookup).await,
            Command::Tools { json, markdown } => tools_cmd::run(config, json, markdown),
            Command::Doctor { check_update } => {
                doctor::run(config, &cli.settings, check_update, &lookup).await
            }
            Command::Auth { action } => auth_cmd::run(action, &cli.settings, &lookup).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            if let Some(SetupError(msg)) = e.downcast_ref::<SetupError>() {
                eprintln!("alpaca-mcp-server: {msg}");
                return ExitCode::from(2);
            }
            eprintln!("alpaca-mcp-server: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// The one lookup of settings (the process environment over `--env-file`, read once).
fn lookup(cli: &Cli) -> Result<Lookup, SetupError> {
    Lookup::new(cli.settings.env_file.as_deref()).map_err(|e| SetupError(e.to_string()))
}

/// Flags over the lookup.
fn config(cli: &Cli, lookup: &Lookup) -> Result<Config, SetupError> {
    let s = &cli.settings;
    let mut config = Config::from_settings(lookup).map_err(|e| SetupError(e.to_string()))?;
    if let Some(t) = &s.toolsets {
        config.toolsets = Some(alpaca_mcp::config::split_list(t));
    }
    if s.read_only {
        config.read_only = true;
    }
    if s.confirm_orders {
        config.safety.confirm_orders = true;
    }
    if let Some(mode) = &s.tool_mode {
        config.tool_mode = alpaca_mcp::discover::ToolMode::parse(mode)
            .ok_or_else(|| SetupError(format!("--tool-mode {mode:?}: expected all or discover")))?;
    }
    // The flag, or ALPACA_MCP_SANDBOX (a boolean like every other; the MCP bundle sets it).
    let sandbox_env = match lookup.get("ALPACA_MCP_SANDBOX") {
        Some(v) => parse_bool("ALPACA_MCP_SANDBOX", &v).map_err(|e| SetupError(e.to_string()))?,
        None => false,
    };
    if s.sandbox || sandbox_env {
        config.sandbox = true;
        config.paper = true;
        // Each process runs its own fake Alpaca: replicas sharing one state would share
        // sign-ins that only one of their fakes knows.
        if alpaca_mcp_server::http::settings::state_url(s, lookup)?.is_some() {
            return Err(SetupError(
                "--sandbox with a PostgreSQL state (--state, ALPACA_MCP_STATE or ALPACA_MCP_STATE_FILE): \
                 each sandbox process runs its own fake Alpaca, so replicas sharing that state would \
                 mix up their users' sign-ins; run one sandbox process with --state-dir (or none), \
                 or real Alpaca behind the shared state"
                    .into(),
            ));
        }
    }
    // Validate toolset names now, so a typo is a setup error with the valid names.
    alpaca_mcp::registry::enabled_tools(&alpaca_mcp::registry::ToolFilter::for_config(&config))
        .map_err(|e| SetupError(e.to_string()))?;
    // With `--auth alpaca` each user brings their own account; keys are optional (static
    // tokens act on theirs).
    let users_sign_in = alpaca_mcp_server::http::settings::auth_mode(s, lookup)?
        == alpaca_mcp_server::cli::AuthMode::Alpaca;
    let needs_keys = !config.sandbox
        && !users_sign_in
        && !matches!(
            cli.command,
            Some(Command::Tools { .. } | Command::Auth { .. })
        );
    if needs_keys {
        config
            .require_keys()
            .map_err(|e: ConfigError| SetupError(e.to_string()))?;
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::log_filter;
    use tracing::Level;

    #[test]
    fn the_log_filter_reads_levels_and_targets_and_falls_back_on_nonsense() {
        let default = log_filter(None);
        assert!(default.would_enable("alpaca_mcp::server", &Level::INFO));
        assert!(!default.would_enable("alpaca_mcp::server", &Level::DEBUG));
        assert!(!default.would_enable("hyper::proto", &Level::INFO));
        assert!(default.would_enable("hyper::proto", &Level::WARN));

        let set = log_filter(Some("error,alpaca_mcp=debug".into()));
        assert!(set.would_enable("alpaca_mcp::runtime", &Level::DEBUG));
        assert!(!set.would_enable("hyper::proto", &Level::WARN));
        assert!(log_filter(Some(" trace ".into())).would_enable("rmcp", &Level::TRACE));

        let bad = log_filter(Some("alpaca_mcp=loud".into()));
        assert!(bad.would_enable("alpaca_mcp_server::serve", &Level::INFO));
        assert!(!bad.would_enable("alpaca_mcp", &Level::DEBUG));
    }
}
