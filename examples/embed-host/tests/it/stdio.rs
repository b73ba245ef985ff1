//! Spawns the example host over stdio against the fake Alpaca, lists its tools and calls the
//! host's tool and one of Alpaca's.

use std::process::Stdio;

use alpaca_mcp::{AlpacaTools, Config, TOOLSETS};
use alpaca_mock::{MockConfig, MockServer};
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use serde_json::json;

#[tokio::test]
async fn host_serves_its_tool_and_alpacas_market_data_tools() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_embed-host")).configure(|c| {
        for (k, _) in std::env::vars() {
            if k.starts_with("ALPACA_") {
                c.env_remove(k);
            }
        }
        c.env("ALPACA_API_KEY", "test-key")
            .env("ALPACA_SECRET_KEY", "test-secret")
            .env("TRADING_API_URL", mock.url())
            .env("DATA_API_URL", mock.url())
            .stderr(Stdio::inherit());
    });
    let client = ().serve(TokioChildProcess::new(cmd).unwrap()).await.unwrap();

    let mut names: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    names.sort();

    // Expected: the host's tool, and what the same build offers for the two toolsets.
    let mut config = Config::from_lookup(|_| None).unwrap();
    config.toolsets = Some(vec!["stock-data".into(), "options-data".into()]);
    let ours = AlpacaTools::new(&config).unwrap();
    let mut expected: Vec<String> = ours.tools().iter().map(|t| t.name.to_string()).collect();
    expected.push("portfolio_note".into());
    expected.sort();
    assert_eq!(names, expected);
    assert!(names.iter().any(|n| n == "get_stock_latest_quote"));
    assert!(names.iter().any(|n| n == "get_option_chain"));
    for toolset in TOOLSETS
        .iter()
        .filter(|t| !["stock-data", "options-data"].contains(&t.name))
    {
        for tool in toolset.tools {
            assert!(
                !names.iter().any(|n| n == tool.name),
                "{} ({}) should not be served",
                tool.name,
                toolset.name
            );
        }
    }

    let note = client
        .call_tool(
            CallToolRequestParams::new("portfolio_note")
                .with_arguments(json!({"text": "trim NVDA"}).as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    assert_ne!(note.is_error, Some(true));
    assert_eq!(note.content[0].as_text().unwrap().text, "noted: trim NVDA");

    let quote = client
        .call_tool(
            CallToolRequestParams::new("get_stock_latest_quote")
                .with_arguments(json!({"symbols": "AAPL"}).as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    assert_eq!(quote.is_error, Some(false), "{quote:?}");
    // Rows come back as compact text (no structuredContent beside a table).
    let text = &quote.content[0].as_text().unwrap().text;
    let envelope = alpaca_mcp::compact::parse(text).unwrap();
    let data = &envelope["data"];
    assert!(data["quotes"]["AAPL"].is_object(), "{data}");
    assert!(
        mock.requests()
            .iter()
            .any(|r| r.path == "/v2/stocks/quotes/latest"),
        "the call reached the fake Alpaca"
    );

    client.cancel().await.unwrap();
}
