//! The typed client without MCP.
//!
//! `cargo run --example typed_client` runs against the fake Alpaca (no keys needed); with
//! `ALPACA_API_KEY` and `ALPACA_SECRET_KEY` set it reads your paper account instead.

use alpaca_mcp::Credentials;
use alpaca_mcp::trading::{params, types};
use alpaca_mcp::{Client, Config};
use alpaca_mock::{MockConfig, MockServer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = Config::from_env()?;
    // No keys: start the fake Alpaca (it lives as long as `_mock`) and point both APIs at it.
    let _mock = if config.credentials.is_none() {
        let mock = MockServer::start(MockConfig::default()).await?;
        mock.state().place_order(serde_json::json!({
            "symbol": "AAPL", "qty": "10", "side": "buy", "type": "market", "time_in_force": "day"
        }))?;
        let url = alpaca_mcp::config::parse_url("mock", &mock.url())?;
        config.trading_url = url.clone();
        config.data_url = url;
        config.credentials = Some(Credentials {
            key_id: "demo".into(),
            secret_key: "demo".into(),
        });
        println!("(no keys set: using the fake Alpaca at {})", mock.url());
        Some(mock)
    } else {
        None
    };

    let client = Client::from_config(&config)?;

    let account: types::Account = client.get_account().await?;
    println!(
        "account {}: equity {}, buying power {}",
        account.account_number.as_deref().unwrap_or("?"),
        account.equity.as_deref().unwrap_or("?"),
        account.buying_power.as_deref().unwrap_or("?"),
    );

    for p in client.get_all_open_positions().await? {
        println!(
            "  {:<6} qty {:>6}  market value {:>10}  unrealized P/L {}",
            p.symbol.as_deref().unwrap_or("?"),
            p.qty.as_deref().unwrap_or("?"),
            p.market_value.as_deref().unwrap_or("?"),
            p.unrealized_pl.as_deref().unwrap_or("?"),
        );
    }

    let open = client
        .get_all_orders(&params::GetAllOrders {
            status: Some(types::GetAllOrdersStatus::Open),
            limit: Some(10),
            ..Default::default()
        })
        .await?;
    println!("{} open orders", open.len());
    Ok(())
}
