//! `alpaca-mcp-server doctor`: checks a user's setup in one go and says what to fix.

use std::process::ExitCode;

use alpaca_mcp::runtime::{ApiRequest, Error, Method, Transport};
use alpaca_mcp::{Client, Config};

use crate::cli::Settings;

fn request(api: &'static str, path: &str, query: Vec<(&'static str, String)>) -> ApiRequest {
    ApiRequest {
        api,
        operation_id: "doctor",
        method: Method::Get,
        path: path.into(),
        query,
        body: None,
    }
}

pub async fn run(mut config: Config, _settings: &Settings) -> anyhow::Result<ExitCode> {
    let _sandbox = if config.sandbox {
        Some(crate::sandbox::start(&mut config).await?)
    } else {
        None
    };
    let mut problems = 0;
    println!(
        "alpaca-mcp-server doctor ({} trading at {}, market data at {})",
        config.mode(),
        config.trading_url,
        config.data_url
    );
    match &config.credentials {
        Some(_) => println!("ok    API keys are set"),
        None => {
            println!(
                "FIX   API keys are missing: set ALPACA_API_KEY and ALPACA_SECRET_KEY, or use --sandbox"
            );
            return Ok(ExitCode::from(1));
        }
    }
    let client = Client::new(config.transport_config())?;
    let transport = client.transport().clone();
    match transport
        .send(request("trading", "/v2/account", vec![]))
        .await
    {
        Ok(r) => {
            let v = r.json().unwrap_or_default();
            println!(
                "ok    keys accepted by the {} trading API (account {}, status {})",
                config.mode(),
                v.get("account_number")
                    .and_then(|x| x.as_str())
                    .unwrap_or("?"),
                v.get("status").and_then(|x| x.as_str()).unwrap_or("?")
            );
        }
        Err(Error::Api {
            status: 401 | 403, ..
        }) => {
            problems += 1;
            let other = if config.paper {
                alpaca_mcp::config::LIVE_TRADING_URL
            } else {
                alpaca_mcp::config::PAPER_TRADING_URL
            };
            let mut flipped = config.clone();
            flipped.trading_url = alpaca_mcp::config::parse_url("doctor", other)?;
            let works_there = match Transport::new(flipped.transport_config()) {
                Ok(t) => t
                    .send(request("trading", "/v2/account", vec![]))
                    .await
                    .is_ok(),
                Err(_) => false,
            };
            if works_there {
                println!(
                    "FIX   these are {} keys: set ALPACA_PAPER_TRADE={}",
                    if config.paper { "live" } else { "paper" },
                    if config.paper { "false" } else { "true" }
                );
            } else {
                println!(
                    "FIX   the trading API rejected the keys: check ALPACA_API_KEY and ALPACA_SECRET_KEY"
                );
            }
        }
        Err(e) => {
            problems += 1;
            println!("FIX   cannot reach the trading API: {e}");
        }
    }
    for feed in ["iex", "sip"] {
        let r = transport
            .send(request(
                "market-data",
                "/v2/stocks/quotes/latest",
                vec![("symbols", "SPY".into()), ("feed", feed.into())],
            ))
            .await;
        match r {
            Ok(_) => println!("ok    market data feed `{feed}` answers"),
            Err(Error::Api { status: 403, .. }) if feed == "sip" => {
                println!(
                    "note  market data feed `sip` needs a paid plan; use feed=iex (the tools fall back to it)"
                )
            }
            Err(e) => {
                problems += 1;
                println!("FIX   market data feed `{feed}`: {e}");
            }
        }
    }
    if problems == 0 {
        println!("all good");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{problems} problem(s) to fix");
        Ok(ExitCode::from(1))
    }
}
