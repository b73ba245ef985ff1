//! Command line, and how flags, the environment and `--env-file` combine (flags win, then the
//! process environment, then the env file).

use std::collections::HashMap;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// An MCP server for Alpaca's Trading and Market Data APIs.
#[derive(Debug, Parser)]
#[command(name = "alpaca-mcp-server", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Settings shared by every command.
#[derive(Debug, Args, Clone)]
pub struct Settings {
    /// Transport to serve on.
    #[arg(long, value_enum, default_value_t = Transport::Stdio, global = true)]
    pub transport: Transport,
    /// Address to bind the HTTP transport to.
    #[arg(long, default_value = "127.0.0.1", global = true)]
    pub host: String,
    /// Port of the HTTP transport.
    #[arg(long, default_value_t = 8000, global = true)]
    pub port: u16,
    /// Toolsets to enable, comma-separated (overrides ALPACA_TOOLSETS).
    #[arg(long, global = true)]
    pub toolsets: Option<String>,
    /// Serve every tool against a built-in fake Alpaca: no keys, nothing real.
    #[arg(long, global = true)]
    pub sandbox: bool,
    /// Expose only read-only tools (also ALPACA_READ_ONLY=true).
    #[arg(long, global = true)]
    pub read_only: bool,
    /// Read KEY=VALUE settings from this file (the process environment wins over it).
    #[arg(long, global = true)]
    pub env_file: Option<PathBuf>,
}

/// Transports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Transport {
    /// JSON-RPC over standard input and output.
    Stdio,
    /// Streamable HTTP at /mcp.
    Http,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve MCP (the default).
    Serve,
    /// Print the tools this build and these settings expose.
    Tools {
        /// As JSON.
        #[arg(long, conflicts_with = "markdown")]
        json: bool,
        /// As a Markdown table.
        #[arg(long)]
        markdown: bool,
    },
    /// Check the setup: keys, paper or live, market data feeds.
    Doctor,
}

/// Reads a `KEY=VALUE` file (blank lines and `#` comments skipped, optional `export `, quotes
/// around values removed).
pub fn read_env_file(path: &std::path::Path) -> anyhow::Result<HashMap<String, String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("--env-file {}: {e}", path.display()))?;
    let mut map = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((k, v)) = line.split_once('=') else {
            anyhow::bail!(
                "--env-file {} line {}: expected KEY=VALUE",
                path.display(),
                n + 1
            );
        };
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .or_else(|| v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
            .unwrap_or(v);
        map.insert(k.trim().to_string(), v.to_string());
    }
    Ok(map)
}
