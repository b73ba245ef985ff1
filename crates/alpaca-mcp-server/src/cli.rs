//! Command line. Flags win over settings read through `alpaca_mcp::settings::Lookup` (the
//! process environment, then `--env-file`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// An MCP server for Alpaca's Trading and Market Data APIs.
#[derive(Debug, Parser)]
#[command(name = "alpaca-mcp-server", version = version(), about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// `--version`: the version, the git commit built from, and the toolsets compiled in.
pub fn version() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| {
        let toolsets: Vec<&str> = alpaca_mcp::TOOLSETS
            .iter()
            .filter(|t| t.compiled)
            .map(|t| t.name)
            .collect();
        format!(
            "{} (commit {}; toolsets: {})",
            env!("CARGO_PKG_VERSION"),
            env!("ALPACA_MCP_GIT_COMMIT"),
            toolsets.join(", ")
        )
    })
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
    /// Freeze the sandbox's clock at this instant (RFC 3339, or a date for 10:30 New York
    /// that day) instead of following the real one (also ALPACA_MCP_SANDBOX_NOW); for tests
    /// and demos that must answer the same on every run.
    #[arg(long, global = true, value_name = "INSTANT")]
    pub sandbox_now: Option<String>,
    /// Expose only read-only tools (also ALPACA_READ_ONLY=true).
    #[arg(long, global = true)]
    pub read_only: bool,
    /// `all` tools in tools/list, or `discover`: a core and find_tools/run_tool for the rest
    /// (also ALPACA_TOOL_MODE).
    #[arg(long, global = true, value_name = "MODE")]
    pub tool_mode: Option<String>,
    /// Hold every order for confirm_order before sending (also ALPACA_CONFIRM_ORDERS=true).
    #[arg(long, global = true)]
    pub confirm_orders: bool,
    /// Read KEY=VALUE settings from this file (the process environment wins over it).
    #[arg(long, global = true)]
    pub env_file: Option<PathBuf>,
    #[command(flatten)]
    pub http: HttpSettings,
}

/// How HTTP clients authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum AuthMode {
    /// Static bearer tokens (ALPACA_MCP_HTTP_TOKEN, --http-token-file); none configured is
    /// no authentication, accepted on loopback only.
    #[default]
    Token,
    /// This server is its own OAuth 2.1 authorization server: clients register, the owner
    /// approves each on a consent page with the owner passphrase. Static tokens still work.
    Owner,
    /// Each user signs in with their own Alpaca account (Alpaca Connect, the operator's OAuth
    /// app in ALPACA_CONNECT_CLIENT_ID and ALPACA_CONNECT_CLIENT_SECRET); clients register and
    /// get this server's tokens, and every call acts on the signed-in user's account.
    Alpaca,
    /// No authentication (loopback only, unless --allow-public-without-auth).
    None,
}

/// Security of the HTTP transport (see the README's "HTTP transport security"). Each is also
/// read from its environment variable, then from `--env-file`; defaults are applied in
/// [`crate::http::settings`].
#[derive(Debug, Args, Clone, Default)]
pub struct HttpSettings {
    /// How HTTP clients authenticate [default: token].
    /// [env: ALPACA_MCP_AUTH]
    #[arg(long, global = true, value_enum, value_name = "MODE")]
    pub auth: Option<AuthMode>,
    /// The server's public origin (`https://mcp.example.com`; http only on loopback), where
    /// OAuth clients reach it; required with --auth owner.
    /// [env: ALPACA_MCP_PUBLIC_URL]
    #[arg(long, global = true, value_name = "URL")]
    pub public_url: Option<String>,
    /// Directory of the OAuth state (clients, grants, token digests) [default: the user's
    /// data directory, alpaca-mcp].
    /// [env: ALPACA_MCP_STATE_DIR]
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// The OAuth state in PostgreSQL instead (postgres://USER:PASSWORD@HOST:PORT/DB, with
    /// `?sslmode=require` for TLS), shared by replicas; prefer the variable, which keeps the
    /// password out of the process list (or ALPACA_MCP_STATE_FILE, a file holding the URL).
    /// [env: ALPACA_MCP_STATE]
    #[arg(long, global = true, value_name = "URL")]
    pub state: Option<String>,
    /// File holding the owner passphrase (or its argon2 hash from `auth hash-passphrase`);
    /// else ALPACA_MCP_OWNER_SECRET.
    /// [env: ALPACA_MCP_OWNER_SECRET_FILE]
    #[arg(long, global = true, value_name = "FILE")]
    pub owner_secret_file: Option<PathBuf>,
    /// Seconds an OAuth access token lasts [default: 3600].
    /// [env: ALPACA_MCP_OAUTH_ACCESS_TTL]
    #[arg(long, global = true, value_name = "SECONDS")]
    pub oauth_access_ttl: Option<u64>,
    /// Days an OAuth grant may go unused before it ends [default: 30].
    /// [env: ALPACA_MCP_OAUTH_GRANT_IDLE_DAYS]
    #[arg(long, global = true, value_name = "DAYS")]
    pub oauth_grant_idle_days: Option<u64>,
    /// Fetch OAuth client metadata documents over http and from loopback or private
    /// addresses too. For local testing only: it lets a client id make this server fetch
    /// from your network.
    #[arg(long, global = true)]
    pub oauth_allow_local_client_metadata: bool,
    /// A reverse proxy (an address or a network, e.g. 127.0.0.1 or 10.0.0.0/8) whose
    /// `X-Forwarded-For` is believed, so the per-address limits count its clients; repeat it
    /// for several. None by default (loopback included): without it, the limits count the
    /// connecting address. [env: ALPACA_MCP_TRUSTED_PROXIES, comma-separated]
    #[arg(long = "trusted-proxy", global = true, value_name = "ADDR_OR_NET")]
    pub trusted_proxies: Vec<String>,
    /// Serve without authentication on a non-loopback address or public URL anyway (with
    /// --auth none). Anyone who reaches it can use the Alpaca account.
    #[arg(long, global = true)]
    pub allow_public_without_auth: bool,
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
    Doctor {
        /// Also ask GitHub whether a newer release exists (the only time the server does).
        #[arg(long)]
        check_update: bool,
    },
    /// OAuth clients connected in `--auth owner` or `--auth alpaca` mode: list them, revoke
    /// them, seal stored Alpaca tokens with a new key.
    Auth {
        #[command(subcommand)]
        action: AuthCommand,
    },
}

/// `auth` commands (on the state in --state-dir).
#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Connected clients: grant id, client name, redirect host, scopes, last use.
    List {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke one grant by id, or every grant; takes effect on the client's next request.
    Revoke {
        /// The grant id (from `auth list`).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// Revoke every grant.
        #[arg(long)]
        all: bool,
    },
    /// Read a passphrase on standard input and print its argon2 hash, to put in
    /// ALPACA_MCP_OWNER_SECRET or --owner-secret-file instead of the passphrase.
    HashPassphrase,
    /// Seal every stored Alpaca token (`--auth alpaca`) again with the first key of
    /// ALPACA_MCP_TOKEN_KEY_FILE, after a new key was put first; then the old keys can go.
    Rekey,
}
