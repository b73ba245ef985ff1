//! Command line. Flags win over settings read through `alpaca_mcp::settings::Lookup` (the
//! process environment, then `--env-file`).

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
    /// Serve every tool against a built-in fake Alpaca: no keys, nothing real (also
    /// ALPACA_MCP_SANDBOX=true).
    #[arg(long, global = true)]
    pub sandbox: bool,
    /// Expose only read-only tools (also ALPACA_READ_ONLY=true).
    #[arg(long, global = true)]
    pub read_only: bool,
    /// Hold every order for confirm_order before sending (also ALPACA_CONFIRM_ORDERS=true).
    #[arg(long, global = true)]
    pub confirm_orders: bool,
    /// Read KEY=VALUE settings from this file (the process environment wins over it).
    #[arg(long, global = true)]
    pub env_file: Option<PathBuf>,
    #[command(flatten)]
    pub http: HttpSettings,
}

/// Security of the HTTP transport (see the README's "HTTP transport security"). Each is also
/// read from its environment variable, then from `--env-file`; defaults are applied in
/// [`crate::http::settings`].
#[derive(Debug, Args, Clone, Default)]
pub struct HttpSettings {
    /// File of bearer tokens for the HTTP transport, one per line: `TOKEN [read|read,trade]`
    /// (`#` comments; a bare token is `read,trade`). ALPACA_MCP_HTTP_TOKEN adds one
    /// `read,trade` token.
    /// [env: ALPACA_MCP_HTTP_TOKEN_FILE]
    #[arg(long, global = true, value_name = "FILE")]
    pub http_token_file: Option<PathBuf>,
    /// Host names (optionally `host:port`) accepted in the HTTP `Host` header, comma-separated;
    /// replaces the default localhost, 127.0.0.1, `[::1]`. `*` accepts any (not recommended).
    /// [env: ALPACA_MCP_ALLOWED_HOSTS]
    #[arg(long, global = true, value_name = "HOSTS")]
    pub allowed_hosts: Option<String>,
    /// Browser origins (`scheme://host[:port|:*]`) allowed to call the HTTP transport,
    /// comma-separated; replaces the default http(s)://localhost, 127.0.0.1, `[::1]` on any port.
    /// Requests without `Origin` are always allowed.
    /// [env: ALPACA_MCP_ALLOWED_ORIGINS]
    #[arg(long, global = true, value_name = "ORIGINS")]
    pub allowed_origins: Option<String>,
    /// Largest HTTP request body accepted, in bytes [default: 1048576].
    /// [env: ALPACA_MCP_MAX_BODY_BYTES]
    #[arg(long, global = true, value_name = "BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Most concurrent MCP sessions over HTTP; more initializes get 503 [default: 64].
    /// [env: ALPACA_MCP_MAX_SESSIONS]
    #[arg(long, global = true, value_name = "N")]
    pub max_sessions: Option<usize>,
    /// Seconds after which an idle HTTP session is closed; 0 never [default: 1800].
    /// [env: ALPACA_MCP_SESSION_IDLE_TIMEOUT]
    #[arg(long, global = true, value_name = "SECONDS")]
    pub session_idle_timeout: Option<u64>,
    /// Seconds a client has to send a request's headers, and the longest a kept-alive
    /// connection may stay idle [default: 10].
    /// [env: ALPACA_MCP_HEADER_TIMEOUT]
    #[arg(long, global = true, value_name = "SECONDS")]
    pub header_timeout: Option<u64>,
    /// Seconds a client has to send a request's body [default: 10].
    /// [env: ALPACA_MCP_BODY_TIMEOUT]
    #[arg(long, global = true, value_name = "SECONDS")]
    pub body_timeout: Option<u64>,
    /// HTTP connections one client address may hold at once; more are answered 503 [default:
    /// 64]. Behind a reverse proxy every connection comes from the proxy: raise it there.
    /// [env: ALPACA_MCP_MAX_CONNECTIONS_PER_PEER]
    #[arg(long, global = true, value_name = "N")]
    pub max_connections_per_peer: Option<usize>,
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
