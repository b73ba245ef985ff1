//! Every path that changes orders or positions goes through the same guards: replacing,
//! closing, cancelling and exercising are checked against the symbol lists, the value cap and
//! the orders-a-minute limit like placing is, and `--confirm-orders` holds them all. Crypto is
//! valued in USD through the quote currency; an order whose value cannot be bounded is refused
//! under a cap. Every test counts what the fake received.

use std::sync::Arc;
use std::time::Duration;

use alpaca_mcp::safety::SafetyConfig;
use alpaca_mcp::{AlpacaTools, Config};
use alpaca_mock::{Fault, FaultKind, MockServer};
use serde_json::{Value, json};
use support::*;

fn tools(mock: &MockServer, safety: SafetyConfig) -> Arc<AlpacaTools> {
    let mut config: Config = config_for(mock);
    config.safety = safety;
    Arc::new(AlpacaTools::new(&config).expect("tools"))
}

fn capped(cap: f64) -> SafetyConfig {
    SafetyConfig {
        max_order_notional: Some(cap),
        ..SafetyConfig::default()
    }
}

fn confirming() -> SafetyConfig {
    SafetyConfig {
        confirm_orders: true,
        confirm_ttl: Duration::from_secs(60),
        ..SafetyConfig::default()
    }
}

fn count(mock: &MockServer, method: &str, prefix: &str) -> usize {
    mock.requests()
        .iter()
        .filter(|r| r.method == method && r.path.starts_with(prefix))
        .count()
}

/// A resting limit buy (far below the market, so it stays open): its id.
fn resting_order(mock: &MockServer, symbol: &str, qty: &str, limit: &str) -> String {
    let o = mock
        .state()
        .place_order(json!({"symbol": symbol, "qty": qty, "side": "buy", "type": "limit", "time_in_force": "day", "limit_price": limit}))
        .expect("order placed");
    o["id"].as_str().unwrap().to_string()
}

/// A filled market buy, so the account holds `symbol`.
fn hold_position(mock: &MockServer, symbol: &str, qty: &str) {
    mock.state()
        .place_order(json!({"symbol": symbol, "qty": qty, "side": "buy", "type": "market", "time_in_force": "day"}))
        .expect("position opened");
}

fn refused(r: &rmcp::model::CallToolResult, needle: &str) {
    assert_eq!(r.is_error, Some(true), "{}", text(r));
    let t = text(r);
    assert!(t.contains("Nothing was sent"), "{t}");
    assert!(t.contains(needle), "expected {needle:?} in: {t}");
}

#[tokio::test]
async fn a_replace_is_valued_like_the_order_it_creates() {
    let mock = mock().await;
    let client = connect_shared(tools(&mock, capped(1000.0))).await;
    let id = resting_order(&mock, "AAPL", "1", "100");
    mock.clear_requests();
    for patch in [json!({"qty": "100000"}), json!({"limit_price": "99999"})] {
        let mut args = patch.as_object().unwrap().clone();
        args.insert("order_id".into(), json!(id));
        let r = call(&client, "replace_order_by_id", Value::Object(args)).await;
        refused(&r, "ALPACA_MAX_ORDER_NOTIONAL");
    }
    assert_eq!(count(&mock, "PATCH", "/v2/orders"), 0);
    // Within the cap: 2 x the latest quote (about 190) goes through, once, with a
    // client_order_id so a lost answer can be looked up.
    let r = call(
        &client,
        "replace_order_by_id",
        json!({"order_id": id, "qty": "2"}),
    )
    .await;
    let d = data(&r);
    assert_eq!(d["qty"], "2");
    let patches: Vec<Value> = mock
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .map(|r| r.body.unwrap())
        .collect();
    assert_eq!(patches.len(), 1);
    assert!(
        patches[0]["client_order_id"]
            .as_str()
            .is_some_and(|c| !c.is_empty())
    );
}

#[tokio::test]
async fn replaces_count_against_the_orders_a_minute_limit() {
    let mock = mock().await;
    let client = connect_shared(tools(
        &mock,
        SafetyConfig {
            max_orders_per_minute: Some(2),
            ..SafetyConfig::default()
        },
    ))
    .await;
    let id = resting_order(&mock, "AAPL", "1", "100");
    mock.clear_requests();
    let r = call(
        &client,
        "place_stock_order",
        json!({"symbol": "MSFT", "side": "buy", "qty": 1, "type": "limit", "limit_price": "10"}),
    )
    .await;
    data(&r);
    let r = call(
        &client,
        "replace_order_by_id",
        json!({"order_id": id, "qty": "3"}),
    )
    .await;
    let replacement = data(&r)["id"].as_str().unwrap().to_string();
    let r = call(
        &client,
        "replace_order_by_id",
        json!({"order_id": replacement, "qty": "4"}),
    )
    .await;
    refused(&r, "ALPACA_MAX_ORDERS_PER_MINUTE=2");
    assert_eq!(count(&mock, "PATCH", "/v2/orders"), 1);
    assert_eq!(count(&mock, "POST", "/v2/orders"), 1);
}

#[tokio::test]
async fn crypto_is_valued_in_usd_through_its_quote_currency() {
    let mock = mock().await;
    let client = connect_shared(tools(&mock, capped(1000.0))).await;
    mock.clear_requests();
    // 100 ETH at 0.05 BTC is 5 BTC, about 300,000 USD.
    let r = call(
        &client,
        "place_crypto_order",
        json!({"symbol": "ETH/BTC", "side": "buy", "qty": "100", "type": "limit", "limit_price": "0.05"}),
    )
    .await;
    refused(&r, "ALPACA_MAX_ORDER_NOTIONAL");
    // 900 ETH of BTC/ETH is about 2.7 million USD.
    let r = call(
        &client,
        "place_crypto_order",
        json!({"symbol": "BTC/ETH", "side": "buy", "notional": "900"}),
    )
    .await;
    refused(&r, "ALPACA_MAX_ORDER_NOTIONAL");
    // When the quote currency has no USD price, the order is refused (fail closed).
    mock.inject(
        Fault::new(
            "/v1beta3/crypto/us/latest/quotes",
            FaultKind::Status {
                status: 200,
                body: Some(r#"{"quotes": {}}"#.into()),
                headers: vec![],
            },
        )
        .times(4),
    );
    let r = call(
        &client,
        "place_crypto_order",
        json!({"symbol": "ETH/BTC", "side": "buy", "qty": "0.001", "type": "limit", "limit_price": "0.05"}),
    )
    .await;
    refused(&r, "no BTC/USD quote");
    mock.clear_faults();
    assert_eq!(count(&mock, "POST", "/v2/orders"), 0);
    // A small USD order passes.
    let r = call(
        &client,
        "place_crypto_order",
        json!({"symbol": "BTC/USD", "side": "buy", "notional": "500"}),
    )
    .await;
    data(&r);
    assert_eq!(count(&mock, "POST", "/v2/orders"), 1);
}

#[tokio::test]
async fn an_order_whose_value_cannot_be_bounded_is_refused_under_a_cap() {
    let mock = mock().await;
    let client = connect_shared(tools(&mock, capped(1000.0))).await;
    mock.clear_requests();
    let no_quotes = || {
        Fault::new(
            "/v2/stocks/quotes/latest",
            FaultKind::Status {
                status: 200,
                body: Some(r#"{"quotes": {}}"#.into()),
                headers: vec![],
            },
        )
    };
    mock.inject(no_quotes());
    for args in [
        json!({"symbol": "AAPL", "side": "buy", "qty": 1, "type": "stop", "stop_price": "10"}),
        json!({"symbol": "AAPL", "side": "buy", "qty": 1}),
        json!({"symbol": "AAPL", "side": "buy", "qty": 1, "type": "trailing_stop", "trail_percent": "5"}),
    ] {
        let r = call(&client, "place_stock_order", args.clone()).await;
        refused(&r, "give a limit price");
    }
    assert_eq!(count(&mock, "POST", "/v2/orders"), 0);
    // A limit price bounds it.
    let r = call(
        &client,
        "place_stock_order",
        json!({"symbol": "AAPL", "side": "buy", "qty": 1, "type": "stop_limit", "stop_price": "10", "limit_price": "11"}),
    )
    .await;
    data(&r);
    assert_eq!(count(&mock, "POST", "/v2/orders"), 1);
}

#[tokio::test]
async fn confirm_orders_holds_every_tool_that_changes_exposure() {
    let mock = mock().await;
    let tools = tools(&mock, confirming());
    let client = connect_shared(tools).await;
    hold_position(&mock, "AAPL", "5");
    hold_position(&mock, "AAPL250117C00190000", "2");
    let id = resting_order(&mock, "MSFT", "1", "100");
    let other = resting_order(&mock, "MSFT", "1", "90");
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "close_position",
            json!({"symbol_or_asset_id": "AAPL", "qty": 1}),
            "DELETE",
            "/v2/positions/AAPL",
        ),
        (
            "replace_order_by_id",
            json!({"order_id": id, "qty": "2"}),
            "PATCH",
            "/v2/orders/",
        ),
        (
            "cancel_order_by_id",
            json!({"order_id": other}),
            "DELETE",
            "/v2/orders/",
        ),
        (
            "do_not_exercise_options_position",
            json!({"symbol_or_contract_id": "AAPL250117C00190000"}),
            "POST",
            "/v2/positions/AAPL250117C00190000/do-not-exercise",
        ),
        (
            "exercise_options_position",
            json!({"symbol_or_contract_id": "AAPL250117C00190000"}),
            "POST",
            "/v2/positions/AAPL250117C00190000/exercise",
        ),
        ("cancel_all_orders", json!({}), "DELETE", "/v2/orders"),
        (
            "close_all_positions",
            json!({"cancel_orders": true}),
            "DELETE",
            "/v2/positions",
        ),
    ];
    for (tool, args, method, path) in cases {
        mock.clear_requests();
        let r = call(&client, tool, args.clone()).await;
        let d = data(&r);
        let conf = d["confirmation_id"]
            .as_str()
            .unwrap_or_else(|| panic!("{tool} not held: {d}"))
            .to_string();
        let summary = support::envelope(&r)["summary"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            summary.starts_with("NOT SENT YET. Paper account:"),
            "{tool}: {summary}"
        );
        assert_eq!(
            count(&mock, method, path),
            0,
            "{tool}: nothing sent before confirming"
        );
        let r = call(&client, "confirm_order", json!({"confirmation_id": conf})).await;
        assert_eq!(r.is_error, Some(false), "{tool}: {}", text(&r));
        assert_eq!(
            count(&mock, method, path),
            1,
            "{tool}: sent exactly once on confirming"
        );
        let again = call(&client, "confirm_order", json!({"confirmation_id": conf})).await;
        assert!(text(&again).contains("already used"), "{}", text(&again));
        assert_eq!(count(&mock, method, path), 1, "{tool}: never twice");
    }
}

#[tokio::test]
async fn closing_by_asset_id_cannot_side_step_the_denied_symbols() {
    let mock = mock().await;
    hold_position(&mock, "AAPL", "5");
    hold_position(&mock, "MSFT", "1");
    let asset_id = mock
        .state()
        .positions()
        .iter()
        .find(|p| p["symbol"] == "AAPL")
        .unwrap()["asset_id"]
        .as_str()
        .unwrap()
        .to_string();
    let client = connect_shared(tools(
        &mock,
        SafetyConfig {
            denied_symbols: vec!["AAPL".into()],
            ..SafetyConfig::default()
        },
    ))
    .await;
    mock.clear_requests();
    for args in [
        json!({"symbol_or_asset_id": asset_id}),
        json!({"symbol_or_asset_id": "aapl"}),
    ] {
        let r = call(&client, "close_position", args).await;
        refused(&r, "ALPACA_DENIED_SYMBOLS");
    }
    let r = call(&client, "close_all_positions", json!({})).await;
    refused(&r, "ALPACA_DENIED_SYMBOLS");
    assert_eq!(count(&mock, "DELETE", "/v2/positions"), 0);
    let r = call(
        &client,
        "close_position",
        json!({"symbol_or_asset_id": "MSFT"}),
    )
    .await;
    data(&r);
    assert_eq!(count(&mock, "DELETE", "/v2/positions/MSFT"), 1);
}

#[tokio::test]
async fn closing_and_exercising_are_valued_under_the_cap() {
    let mock = mock().await;
    hold_position(&mock, "AAPL", "20");
    hold_position(&mock, "AAPL250117C00190000", "1");
    let client = connect_shared(tools(&mock, capped(1000.0))).await;
    mock.clear_requests();
    // 20 shares at about 190: over 1000; 2 of them: under.
    let r = call(
        &client,
        "close_position",
        json!({"symbol_or_asset_id": "AAPL"}),
    )
    .await;
    refused(&r, "ALPACA_MAX_ORDER_NOTIONAL");
    let r = call(
        &client,
        "close_position",
        json!({"symbol_or_asset_id": "AAPL", "percentage": 50}),
    )
    .await;
    refused(&r, "ALPACA_MAX_ORDER_NOTIONAL");
    let r = call(&client, "close_all_positions", json!({})).await;
    refused(&r, "ALPACA_MAX_ORDER_NOTIONAL");
    // Exercising one 190 call buys 100 shares at 190: 19,000.
    let r = call(
        &client,
        "exercise_options_position",
        json!({"symbol_or_contract_id": "AAPL250117C00190000"}),
    )
    .await;
    refused(&r, "19000");
    assert_eq!(count(&mock, "DELETE", "/v2/positions"), 0);
    assert_eq!(count(&mock, "POST", "/v2/positions"), 0);
    let r = call(
        &client,
        "close_position",
        json!({"symbol_or_asset_id": "AAPL", "qty": 2}),
    )
    .await;
    data(&r);
    assert_eq!(count(&mock, "DELETE", "/v2/positions/AAPL"), 1);
}

#[tokio::test]
async fn with_no_guard_configured_nothing_extra_is_read() {
    let mock = mock().await;
    hold_position(&mock, "AAPL", "5");
    let client = connect_shared(tools(&mock, SafetyConfig::default())).await;
    let id = resting_order(&mock, "MSFT", "1", "100");
    mock.clear_requests();
    data(
        &call(
            &client,
            "replace_order_by_id",
            json!({"order_id": id, "qty": "2"}),
        )
        .await,
    );
    data(
        &call(
            &client,
            "close_position",
            json!({"symbol_or_asset_id": "AAPL", "qty": 1}),
        )
        .await,
    );
    let seen: Vec<String> = mock
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        seen,
        vec![
            format!("PATCH /v2/orders/{id}"),
            "DELETE /v2/positions/AAPL".to_string()
        ]
    );
}
