//! `alpaca-mock`: serve the fake Alpaca APIs on a local port.

use std::net::{IpAddr, SocketAddr};

use alpaca_mock::{MockConfig, MockServer, Timestamp};
use anyhow::{Context, bail};
use clap::Parser;

/// A fake of Alpaca's Trading and Market Data APIs, on one port.
#[derive(Debug, Parser)]
#[command(name = "alpaca-mock", version)]
struct Args {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Allow recent SIP data (otherwise `feed=sip` on recent data is a 403).
    #[arg(long)]
    sip: bool,
    /// Accept only this key id (with --secret-key).
    #[arg(long, env = "ALPACA_MOCK_KEY_ID", requires = "secret_key")]
    key_id: Option<String>,
    /// Accept only this secret key (with --key-id).
    #[arg(
        long,
        env = "ALPACA_MOCK_SECRET_KEY",
        requires = "key_id",
        hide_env_values = true
    )]
    secret_key: Option<String>,
    /// The mock's "now": an RFC 3339 instant to freeze at, or `system` for the
    /// wall clock.
    #[arg(long, default_value = "system")]
    now: String,
    /// Cash the account starts with.
    #[arg(long, default_value_t = 100_000.0)]
    cash: f64,
    /// Seed for generated prices and ids.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let now = match args.now.as_str() {
        "system" => None,
        s => Some(
            Timestamp::parse(s).with_context(|| format!("--now: not an RFC 3339 instant: {s}"))?,
        ),
    };
    if !args.cash.is_finite() || args.cash < 0.0 {
        bail!("--cash must be a non-negative number");
    }
    let config = MockConfig {
        sip_entitled: args.sip,
        keys: args.key_id.zip(args.secret_key),
        now,
        starting_cash: args.cash,
        seed: args.seed,
        connect_client: None,
    };
    let mock = MockServer::start_on(SocketAddr::new(args.host, args.port), config)
        .await
        .context("binding the listener")?;
    println!("alpaca-mock listening on {}", mock.url());
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    mock.shutdown().await;
    Ok(())
}
