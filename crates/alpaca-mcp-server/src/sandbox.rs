//! The sandbox: an in-process fake Alpaca (`alpaca-mock`) with a demo account, for `--sandbox`.
//! Compiled with the `sandbox` feature (on by default); without it `--sandbox` is a setup error.

use alpaca_mcp::Config;
use alpaca_mcp::Credentials;
use alpaca_mcp::runtime::{ApiRequest, Method, Transport as ApiTransport};
use alpaca_mcp::settings::Lookup;
use alpaca_mock::{Date, MockConfig, MockServer, Timestamp};
use serde_json::{Value, json};

use crate::SetupError;
use crate::cli::Settings;

/// A running fake Alpaca; it stops when dropped.
pub struct Sandbox {
    mock: MockServer,
    /// Whether its clock is frozen (`--sandbox-now`) rather than the real one.
    frozen: bool,
}

/// The variable behind `--sandbox-now`.
const NOW_VAR: &str = "ALPACA_MCP_SANDBOX_NOW";

/// The fake's Connect app, which `--sandbox --auth alpaca` signs users in through.
const CONNECT_CLIENT: (&str, &str) = ("sandbox-connect-app", "sandbox-connect-secret");

impl Sandbox {
    /// The fake's clock in Unix seconds when it is frozen (`--sandbox-now`), so that the
    /// tools' relative ranges ("the last 5 days") follow it; `None` when it is the real one.
    pub fn now_unix(&self) -> Option<u64> {
        self.frozen
            .then(|| self.mock.state().now().unix_secs().max(0) as u64)
    }

    /// The fake's Connect app and hosts (its paper host is its main address).
    pub fn connect(&self) -> alpaca_mcp_server::http::settings::SandboxConnect {
        let parse = |u: &str| url::Url::parse(u).expect("the fake's own URL");
        alpaca_mcp_server::http::settings::SandboxConnect {
            client_id: CONNECT_CLIENT.0.into(),
            client_secret: CONNECT_CLIENT.1.into(),
            url: parse(&self.mock.url()),
            live_url: parse(&self.mock.live_url().expect("the live host opens at start")),
        }
    }
}

/// Starts the fake, its clock the real one unless `--sandbox-now` (or its variable) freezes it.
pub async fn start(
    config: &mut Config,
    settings: &Settings,
    lookup: &Lookup,
) -> anyhow::Result<Sandbox> {
    let (name, raw) = match &settings.sandbox_now {
        Some(v) => ("--sandbox-now", Some(v.clone())),
        None => (
            NOW_VAR,
            lookup.get(NOW_VAR).filter(|v| !v.trim().is_empty()),
        ),
    };
    let now = raw.map(|v| frozen_at(name, &v)).transpose()?;
    let mock = start_sandbox(config, now).await?;
    Ok(Sandbox {
        mock,
        frozen: now.is_some(),
    })
}

/// The instant a `--sandbox-now` value names: RFC 3339, or a date for 10:30 New York that
/// day (a regular session, if the day is a weekday).
fn frozen_at(name: &str, value: &str) -> Result<Timestamp, SetupError> {
    let v = value.trim();
    let at = match Date::parse(v) {
        Some(d) if v.len() == 10 => Some(d.at_eastern(10 * 3600 + 30 * 60)),
        _ if v.len() > 10 => Timestamp::parse(v),
        _ => None,
    };
    at.filter(|t| t.unix_secs() > 0).ok_or_else(|| {
        SetupError(format!(
            "{name}: {value:?} is not an instant: give an RFC 3339 time such as 2025-01-15T15:30:00Z, or a date such as 2025-01-15"
        ))
    })
}

/// Points `config` at an in-process fake Alpaca, which lives as long as the returned handle;
/// its clock is frozen at `now`, or the real one.
async fn start_sandbox(config: &mut Config, now: Option<Timestamp>) -> anyhow::Result<MockServer> {
    let mut mock = MockServer::start(MockConfig {
        connect_client: Some((CONNECT_CLIENT.0.into(), CONNECT_CLIENT.1.into())),
        now,
        ..MockConfig::default()
    })
    .await?;
    mock.open_live_host().await?;
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
    config.set_rate_limits(0, 0);
    let transport = ApiTransport::new(config.transport_config())?;
    seed_demo_account(&mock, &transport)
        .await
        .map_err(|e| anyhow::anyhow!("cannot set up the sandbox's demo account: {e:#}"))?;
    let clock = match now {
        Some(t) => format!("its clock is frozen at {} ({NOW_VAR})", t.rfc3339()),
        None => "its clock is the real one, its market data made up for any date".into(),
    };
    eprintln!(
        "alpaca-mcp-server: SANDBOX mode: every tool talks to a built-in fake Alpaca at {} (no keys needed, nothing real, nothing leaves this machine); {clock}; the demo account holds AAPL, MSFT, NVDA, BTC/USD and an AAPL call, with open orders in TSLA and NVDA",
        mock.url()
    );
    Ok(mock)
}

/// Gives the fake a small demo account, so that positions, open orders and watchlists show
/// something and every tool has something to act on: market buys of AAPL 10, MSFT 5, NVDA 3,
/// BTC/USD 0.01 and one at-the-money AAPL call of the nearest expiration (all filled at
/// once), a resting limit buy of 2 TSLA at half its price, a resting good-til-canceled limit
/// sell of 1 NVDA at one and a half times its price, and a watchlist `Demo`. Market orders
/// fill at once whatever the hour, so the account looks the same at any time of day; with a
/// frozen clock (`--sandbox-now`) it is the same on every start.
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
