//! The sandbox: an in-process fake Alpaca (`alpaca-mock`) with a demo account, for `--sandbox`.
//! Compiled with the `sandbox` feature (on by default); without it `--sandbox` is a setup error.

use alpaca_mcp::Config;
use alpaca_mcp::Credentials;
use alpaca_mcp::runtime::{ApiRequest, Method, Transport as ApiTransport};
use alpaca_mock::{MockConfig, MockServer};
use serde_json::{Value, json};

/// A running fake Alpaca; it stops when dropped.
pub struct Sandbox(MockServer);

/// The fake's Connect app, which `--sandbox --auth alpaca` signs users in through.
const CONNECT_CLIENT: (&str, &str) = ("sandbox-connect-app", "sandbox-connect-secret");

impl Sandbox {
    /// The fake's (frozen) clock, in Unix seconds.
    pub fn now_unix(&self) -> u64 {
        self.0.state().now().unix_secs().max(0) as u64
    }

    /// The fake's Connect app and hosts (its paper host is its main address).
    pub fn connect(&self) -> alpaca_mcp_server::http::settings::SandboxConnect {
        let parse = |u: &str| url::Url::parse(u).expect("the fake's own URL");
        alpaca_mcp_server::http::settings::SandboxConnect {
            client_id: CONNECT_CLIENT.0.into(),
            client_secret: CONNECT_CLIENT.1.into(),
            url: parse(&self.0.url()),
            live_url: parse(&self.0.live_url().expect("the live host opens at start")),
        }
    }
}

pub async fn start(config: &mut Config) -> anyhow::Result<Sandbox> {
    start_sandbox(config).await.map(Sandbox)
}

/// Points `config` at an in-process fake Alpaca, which lives as long as the returned handle.
async fn start_sandbox(config: &mut Config) -> anyhow::Result<MockServer> {
    let mut mock = MockServer::start(MockConfig {
        connect_client: Some((CONNECT_CLIENT.0.into(), CONNECT_CLIENT.1.into())),
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
