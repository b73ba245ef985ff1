//! `alpaca-mcp-server doctor`: checks a user's setup in one go and says what to fix.

use std::process::ExitCode;

use alpaca_mcp::runtime::{ApiRequest, Error, Method, Transport};
use alpaca_mcp::{Client, Config};

use alpaca_mcp::settings::Lookup;

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

/// Where the newest release is read from (GitHub's API for the repository's latest release);
/// `ALPACA_MCP_RELEASES_URL` replaces it (tests point it at a local server).
const RELEASES_URL: &str = "https://api.github.com/repos/alpaca-mcp/alpaca-mcp/releases/latest";

pub async fn run(
    mut config: Config,
    settings: &Settings,
    check_update: bool,
    lookup: &Lookup,
) -> anyhow::Result<ExitCode> {
    let _sandbox = if config.sandbox {
        Some(crate::sandbox::start(&mut config, settings, lookup).await?)
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
    // The one network call to anything but Alpaca, and only when asked for.
    if check_update {
        let url = lookup
            .get("ALPACA_MCP_RELEASES_URL")
            .unwrap_or_else(|| RELEASES_URL.to_string());
        match newest_release(&url).await {
            Ok((tag, page)) => match newer(&tag, env!("CARGO_PKG_VERSION")) {
                true => println!(
                    "note  a newer release exists: {tag} (this is {}): {page}",
                    env!("CARGO_PKG_VERSION")
                ),
                false => println!(
                    "ok    this is the newest release ({})",
                    env!("CARGO_PKG_VERSION")
                ),
            },
            Err(e) => println!("note  cannot check for a newer release: {e}"),
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

/// The tag and page of the newest release at `url` (GitHub's release JSON).
async fn newest_release(url: &str) -> Result<(String, String), String> {
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .user_agent(concat!("alpaca-mcp-server/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())?;
    let r = http
        .get(url)
        .header("accept", "application/vnd.github+json")
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    if !r.status().is_success() {
        return Err(format!(
            "the release list answered HTTP {}",
            r.status().as_u16()
        ));
    }
    let v: serde_json::Value = r.json().await.map_err(|e| e.without_url().to_string())?;
    let tag = v["tag_name"]
        .as_str()
        .ok_or("the release list has no tag_name")?
        .to_string();
    let page = v["html_url"].as_str().unwrap_or(url).to_string();
    Ok((tag, page))
}

/// Whether release `tag` (`v1.2.3`) is newer than `current` (`1.2.3`), comparing the numeric
/// parts; a tag that is not a version is never newer.
fn newer(tag: &str, current: &str) -> bool {
    let parts = |v: &str| -> Option<Vec<u64>> {
        let core = v.trim_start_matches('v').split(['-', '+']).next()?;
        core.split('.').map(|p| p.parse().ok()).collect()
    };
    match (parts(tag), parts(current)) {
        (Some(t), Some(c)) => t > c,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::newer;

    #[test]
    fn release_tags_compare_by_number() {
        assert!(newer("v0.2.0", "0.1.0"));
        assert!(newer("v0.10.0", "0.9.3"));
        assert!(newer("1.0.0", "0.99.99"));
        assert!(!newer("v0.1.0", "0.1.0"));
        assert!(!newer("v0.0.9", "0.1.0"));
        assert!(!newer("nightly", "0.1.0"));
    }
}
