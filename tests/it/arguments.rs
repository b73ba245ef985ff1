//! Arguments at the edges: blank and malformed ids never reach a collection endpoint, the
//! formats the spec states and the symbol alphabet are enforced (no spelling of a denied
//! symbol gets through), and what Alpaca accepts gets through (enum values in any case, arrays
//! for comma-separated lists, bare dates where a date-time is specified). Every test counts or
//! reads what the fake received.

use alpaca_mcp::safety::SafetyConfig;
use alpaca_mcp::{AlpacaTools, Config};
use alpaca_mock::MockServer;
use serde_json::{Value, json};
use support::*;

const ORDER_ID: &str = "61e69015-8549-4bfd-b9c3-01e75843f47d";

/// Everything but the fake's own clock reads (none here): what reached Alpaca.
fn sent(mock: &MockServer) -> Vec<String> {
    mock.requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

#[tokio::test]
async fn blank_or_hidden_path_arguments_never_reach_a_collection_endpoint() {
    let mock = mock().await;
    let client = connect(&config_for(&mock)).await;
    let cases: Vec<(&str, &str, Value)> = vec![
        ("cancel_order_by_id", "order_id", json!({})),
        ("replace_order_by_id", "order_id", json!({"qty": "1"})),
        ("close_position", "symbol_or_asset_id", json!({})),
        ("delete_watchlist_by_id", "watchlist_id", json!({})),
        (
            "exercise_options_position",
            "symbol_or_contract_id",
            json!({}),
        ),
        (
            "do_not_exercise_options_position",
            "symbol_or_contract_id",
            json!({}),
        ),
        ("get_order_by_id", "order_id", json!({})),
    ];
    for (tool, arg, rest) in cases {
        for bad in ["", "   ", "\t", "AAPL\u{0}", "ab\ncd", "AAPL\u{200b}"] {
            mock.clear_requests();
            let mut args = rest.as_object().unwrap().clone();
            args.insert(arg.into(), json!(bad));
            let r = call(&client, tool, Value::Object(args)).await;
            assert_eq!(r.is_error, Some(true), "{tool} {bad:?}: {}", text(&r));
            let t = text(&r);
            assert!(
                t.contains(&format!("argument `{arg}`")),
                "{tool} {bad:?}: {t}"
            );
            assert!(t.contains("Nothing was sent"), "{tool} {bad:?}: {t}");
            assert!(
                sent(&mock).is_empty(),
                "{tool} {bad:?} sent {:?}",
                sent(&mock)
            );
        }
    }
}

#[tokio::test]
async fn formats_the_spec_states_are_enforced_locally() {
    let mock = mock().await;
    let client = connect(&config_for(&mock)).await;
    mock.clear_requests();
    for (tool, args, arg) in [
        (
            "cancel_order_by_id",
            json!({"order_id": "not-a-uuid"}),
            "order_id",
        ),
        ("get_order_by_id", json!({"order_id": "123"}), "order_id"),
        (
            "get_watchlist_by_id",
            json!({"watchlist_id": "my-list"}),
            "watchlist_id",
        ),
        ("get_calendar", json!({"start": "next tuesday"}), "start"),
        (
            "get_account_activities",
            json!({"after": "2025-02-30"}),
            "after",
        ),
    ] {
        let r = call(&client, tool, args.clone()).await;
        assert_eq!(r.is_error, Some(true), "{tool} {args}");
        let t = text(&r);
        assert!(t.contains(&format!("argument `{arg}`")), "{tool}: {t}");
        assert!(t.contains("expected"), "{tool}: {t}");
    }
    assert!(sent(&mock).is_empty(), "{:?}", sent(&mock));
    // A well-formed id goes through (the fake then answers 404 for an unknown order).
    let r = call(&client, "get_order_by_id", json!({"order_id": ORDER_ID})).await;
    assert!(text(&r).contains("404"), "{}", text(&r));
    assert_eq!(sent(&mock), vec![format!("GET /v2/orders/{ORDER_ID}")]);
}

#[tokio::test]
async fn symbols_outside_the_alphabet_never_reach_alpaca() {
    let mock = mock().await;
    let client = connect(&config_for(&mock)).await;
    mock.clear_requests();
    for bad in [
        "AAPL\u{0}",
        "AAPL\u{200b}",
        "ＡＡＰＬ",
        "AA PL",
        "AAPL;DROP",
        "-AAPL",
    ] {
        for (tool, args) in [
            ("get_stock_latest_quote", json!({"symbols": bad})),
            ("get_stock_latest_quote", json!({"symbols": ["MSFT", bad]})),
            ("get_stock_bars", json!({"symbols": bad})),
            ("get_asset", json!({"symbol_or_asset_id": bad})),
            ("get_open_position", json!({"symbol_or_asset_id": bad})),
            (
                "place_stock_order",
                json!({"symbol": bad, "side": "buy", "qty": 1}),
            ),
            ("get_option_chain", json!({"underlying_symbol": bad})),
        ] {
            let r = call(&client, tool, args.clone()).await;
            assert_eq!(r.is_error, Some(true), "{tool} {args}: {}", text(&r));
            assert!(
                text(&r).contains("Nothing was sent"),
                "{tool}: {}",
                text(&r)
            );
        }
    }
    assert!(sent(&mock).is_empty(), "{:?}", sent(&mock));
}

#[tokio::test]
async fn no_spelling_of_a_denied_symbol_gets_through() {
    let mock = mock().await;
    let mut config: Config = config_for(&mock);
    config.safety = SafetyConfig {
        denied_symbols: vec!["AAPL".into(), "BTC/USD".into()],
        ..SafetyConfig::default()
    };
    let client = connect_tools(AlpacaTools::new(&config).unwrap()).await;
    mock.clear_requests();
    for (tool, symbol) in [
        ("place_stock_order", "aapl"),
        ("place_stock_order", "AAPL\u{0}"),
        ("place_stock_order", "AAPL\u{200b}"),
        ("place_stock_order", "ＡＡＰＬ"),
        ("place_crypto_order", "btc/usd"),
        ("place_crypto_order", "BTCUSD"),
    ] {
        let r = call(
            &client,
            tool,
            json!({"symbol": symbol, "side": "buy", "qty": 1}),
        )
        .await;
        assert_eq!(r.is_error, Some(true), "{symbol:?}: {}", text(&r));
        assert!(text(&r).contains("Nothing was sent"), "{}", text(&r));
    }
    assert!(posted(&mock, "/v2/orders").is_empty(), "{:?}", sent(&mock));
    let r = call(
        &client,
        "place_stock_order",
        json!({"symbol": "msft", "side": "buy", "qty": 1}),
    )
    .await;
    assert_eq!(data(&r)["symbol"], "MSFT");
    assert_eq!(posted(&mock, "/v2/orders").len(), 1);
}

#[tokio::test]
async fn enum_values_in_any_case_are_sent_in_the_wire_form() {
    let mock = mock().await;
    let client = connect(&config_for(&mock)).await;
    let path = "/v2/corporate_actions/announcements";
    // Different ranges, so the response cache does not answer the later calls.
    for (given, wire, until) in [
        (json!("dividend"), "dividend", "2024-07-15"),
        (json!("Dividend"), "dividend", "2024-07-16"),
        (json!(["Split", "DIVIDEND"]), "split,dividend", "2024-07-17"),
    ] {
        mock.clear_requests();
        let r = call(
            &client,
            "get_corporate_action_announcements",
            json!({"ca_types": given, "since": "2024-05-01", "until": until}),
        )
        .await;
        assert!(data(&r).is_array(), "{given}: {}", text(&r));
        let q = queries(&mock, path);
        assert_eq!(q.len(), 1);
        assert_eq!(q[0]["ca_types"], wire, "{given}");
    }
    // A generated enum argument in another case: sent as the spec spells it.
    mock.clear_requests();
    let r = call(
        &client,
        "get_orders",
        json!({"status": "ALL", "direction": "Desc"}),
    )
    .await;
    data(&r);
    let q = queries(&mock, "/v2/orders");
    assert_eq!(
        (q[0]["status"].as_str(), q[0]["direction"].as_str()),
        ("all", "desc")
    );
}

#[tokio::test]
async fn arrays_are_accepted_wherever_a_comma_separated_list_is() {
    let mock = mock().await;
    let client = connect(&config_for(&mock)).await;
    for (tool, path) in [
        ("get_stock_latest_quote", "/v2/stocks/quotes/latest"),
        ("get_stock_bars", "/v2/stocks/bars"),
        ("get_stock_quotes", "/v2/stocks/quotes"),
        ("get_stock_snapshot", "/v2/stocks/snapshots"),
        ("get_news", "/v1beta1/news"),
    ] {
        mock.clear_requests();
        let r = call(&client, tool, json!({"symbols": ["AAPL", "MSFT"]})).await;
        data(&r);
        let q = queries(&mock, path);
        assert!(!q.is_empty(), "{tool}: {:?}", sent(&mock));
        assert_eq!(q[0]["symbols"], "AAPL,MSFT", "{tool}");
    }
    mock.clear_requests();
    let r = call(
        &client,
        "get_crypto_bars",
        json!({"symbols": ["BTC/USD", "ETH/USD"]}),
    )
    .await;
    data(&r);
    assert_eq!(
        queries(&mock, "/v1beta3/crypto/us/bars")[0]["symbols"],
        "BTC/USD,ETH/USD"
    );
    // And a list written with spaces and a trailing comma is tidied.
    mock.clear_requests();
    let r = call(
        &client,
        "get_stock_latest_quote",
        json!({"symbols": " AAPL, MSFT ,"}),
    )
    .await;
    data(&r);
    assert_eq!(
        queries(&mock, "/v2/stocks/quotes/latest")[0]["symbols"],
        "AAPL,MSFT"
    );
}

#[tokio::test]
async fn a_bare_date_is_sent_as_the_date_time_the_spec_states() {
    let mock = mock().await;
    let client = connect(&config_for(&mock)).await;
    mock.clear_requests();
    let r = call(
        &client,
        "get_calendar",
        json!({"start": "2025-01-01", "end": "2025-01-31"}),
    )
    .await;
    assert!(data(&r).is_array(), "{}", text(&r));
    let q = queries(&mock, "/v2/calendar");
    assert_eq!(q[0]["start"], "2025-01-01T00:00:00Z");
    assert_eq!(q[0]["end"], "2025-01-31T23:59:59.999999999Z");
    // An exclusive lower bound keeps its whole day too; RFC 3339 times go as given.
    mock.clear_requests();
    let r = call(
        &client,
        "get_account_activities",
        json!({"after": "2025-03-01", "until": "2025-03-05T10:00:00-05:00"}),
    )
    .await;
    data(&r);
    let q = queries(&mock, "/v2/account/activities");
    assert_eq!(q[0]["after"], "2025-02-28T23:59:59.999999999Z");
    assert_eq!(q[0]["until"], "2025-03-05T10:00:00-05:00");
}

#[tokio::test]
async fn the_crypto_venue_defaults_to_us_and_is_otherwise_checked() {
    let mock = mock().await;
    let config = config_for(&mock);
    let tools = AlpacaTools::new(&config).unwrap();
    let listed = tools
        .tools()
        .iter()
        .find(|t| t.name == "get_crypto_latest_quote")
        .expect("listed");
    let schema = Value::Object((*listed.input_schema).clone());
    assert_eq!(schema["properties"]["loc"]["default"], "us", "{schema}");
    let required = schema["required"].as_array().cloned().unwrap_or_default();
    assert!(!required.contains(&json!("loc")), "{schema}");

    let client = connect(&config).await;
    let r = call(
        &client,
        "get_crypto_latest_quote",
        json!({"symbols": "BTC/USD"}),
    )
    .await;
    assert!(data(&r)["quotes"]["BTC/USD"].is_object(), "{}", text(&r));
    assert_eq!(sent(&mock), ["GET /v1beta3/crypto/us/latest/quotes"]);

    mock.clear_requests();
    let r = call(
        &client,
        "get_crypto_latest_quote",
        json!({"symbols": "BTC/USD", "loc": "eu-1"}),
    )
    .await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    assert_eq!(sent(&mock), ["GET /v1beta3/crypto/eu-1/latest/quotes"]);

    mock.clear_requests();
    let r = call(
        &client,
        "get_crypto_latest_quote",
        json!({"symbols": "BTC/USD", "loc": "mars"}),
    )
    .await;
    assert_eq!(r.is_error, Some(true));
    assert!(text(&r).contains("loc"), "{}", text(&r));
    assert!(sent(&mock).is_empty(), "{:?}", sent(&mock));
}
