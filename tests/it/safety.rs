//! Order confirmation and guards, through rmcp's client against the fake.

use std::sync::Arc;
use std::time::Duration;

use alpaca_mcp::safety::SafetyConfig;
use alpaca_mcp::{AlpacaTools, Config};
use serde_json::json;
use support::*;

fn with_safety(mut config: Config, safety: SafetyConfig) -> Arc<AlpacaTools> {
    config.safety = safety;
    Arc::new(AlpacaTools::new(&config).expect("tools"))
}

#[tokio::test]
async fn confirmation_holds_the_order_until_confirmed_once_in_the_same_session() {
    let mock = mock().await;
    let tools = with_safety(
        config_for(&mock),
        SafetyConfig {
            confirm_orders: true,
            confirm_ttl: Duration::from_secs(60),
            ..SafetyConfig::default()
        },
    );
    let a = connect_shared(tools.clone()).await;
    let b = connect_shared(tools.clone()).await;
    let names = tool_names(&a).await;
    assert!(
        names.contains(&"confirm_order".to_string())
            && names.contains(&"cancel_confirmation".to_string())
    );
    mock.clear_requests();

    let held = call(
        &a,
        "place_stock_order",
        json!({"symbol": "AAPL", "side": "buy", "qty": 2}),
    )
    .await;
    let d = data(&held);
    let id = d["confirmation_id"].as_str().unwrap().to_string();
    let summary = support::envelope(&held)["summary"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        summary.starts_with("NOT SENT YET. Paper account: buy 2 AAPL market day"),
        "{summary}"
    );
    assert!(
        summary.contains("Estimated value about") && summary.contains("confirm_order"),
        "{summary}"
    );
    assert!(d["estimated_value"].as_f64().unwrap() > 0.0);
    assert!(
        posted(&mock, "/v2/orders").is_empty(),
        "nothing is sent before confirmation"
    );

    let other = call(&b, "confirm_order", json!({"confirmation_id": id})).await;
    assert!(text(&other).contains("another session"), "{}", text(&other));
    assert!(posted(&mock, "/v2/orders").is_empty());

    let sent = call(&a, "confirm_order", json!({"confirmation_id": id})).await;
    let order = data(&sent);
    assert_eq!(order["symbol"], "AAPL");
    let bodies = posted(&mock, "/v2/orders");
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0]["qty"], "2");
    assert_eq!(
        bodies[0]["client_order_id"], d["order"]["client_order_id"],
        "exactly the held order"
    );

    let again = call(&a, "confirm_order", json!({"confirmation_id": id})).await;
    assert!(text(&again).contains("already used"), "{}", text(&again));
    assert_eq!(posted(&mock, "/v2/orders").len(), 1, "single use");

    let held = data(
        &call(
            &a,
            "place_crypto_order",
            json!({"symbol": "BTC/USD", "side": "buy", "notional": 50}),
        )
        .await,
    );
    let id = held["confirmation_id"].as_str().unwrap();
    data(&call(&a, "cancel_confirmation", json!({"confirmation_id": id})).await);
    let gone = call(&a, "confirm_order", json!({"confirmation_id": id})).await;
    assert_eq!(gone.is_error, Some(true));
    assert_eq!(
        posted(&mock, "/v2/orders").len(),
        1,
        "a cancelled confirmation sends nothing"
    );
}

#[tokio::test]
async fn confirmations_expire() {
    let mock = mock().await;
    let tools = with_safety(
        config_for(&mock),
        SafetyConfig {
            confirm_orders: true,
            confirm_ttl: Duration::from_millis(150),
            ..SafetyConfig::default()
        },
    );
    let a = connect_shared(tools.clone()).await;
    let held = data(
        &call(
            &a,
            "place_stock_order",
            json!({"symbol": "MSFT", "side": "buy", "qty": 1}),
        )
        .await,
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let late = call(
        &a,
        "confirm_order",
        json!({"confirmation_id": held["confirmation_id"]}),
    )
    .await;
    assert!(text(&late).contains("expired"), "{}", text(&late));
    assert!(posted(&mock, "/v2/orders").is_empty());
}

#[tokio::test]
async fn guards_refuse_before_sending() {
    let mock = mock().await;
    let tools = with_safety(
        config_for(&mock),
        SafetyConfig {
            max_order_notional: Some(1000.0),
            denied_symbols: vec!["GME".into()],
            max_orders_per_minute: Some(2),
            ..SafetyConfig::default()
        },
    );
    let c = connect_shared(tools.clone()).await;
    mock.clear_requests();
    let refused = [
        (
            json!({"symbol": "AAPL", "side": "buy", "qty": 10}),
            "over ALPACA_MAX_ORDER_NOTIONAL=1000",
        ),
        // The quote is far lower, but the order's own limit price counts: no slipping past.
        (
            json!({"symbol": "AAPL", "side": "buy", "qty": 1, "type": "limit", "limit_price": 5000}),
            "about 5000.00",
        ),
        (
            json!({"symbol": "AAPL", "side": "buy", "notional": 1500}),
            "about 1500.00",
        ),
        (
            json!({"symbol": "GME", "side": "buy", "qty": 1}),
            "ALPACA_DENIED_SYMBOLS",
        ),
    ];
    for (args, why) in refused {
        let r = call(&c, "place_stock_order", args.clone()).await;
        assert_eq!(r.is_error, Some(true), "{args}");
        assert!(
            text(&r).contains(why) && text(&r).contains("Nothing was sent"),
            "{args}: {}",
            text(&r)
        );
    }
    let r = call(&c, "place_option_order", json!({"qty": 1, "symbol": "GME250117C00020000", "side": "buy", "type": "limit", "limit_price": 1})).await;
    assert!(
        text(&r).contains("GME is in ALPACA_DENIED_SYMBOLS"),
        "underlying checked: {}",
        text(&r)
    );
    assert!(posted(&mock, "/v2/orders").is_empty());

    data(
        &call(
            &c,
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "buy", "notional": 500}),
        )
        .await,
    );
    data(
        &call(
            &c,
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "buy", "qty": 1}),
        )
        .await,
    );
    let third = call(
        &c,
        "place_stock_order",
        json!({"symbol": "AAPL", "side": "buy", "qty": 1}),
    )
    .await;
    assert!(
        text(&third).contains("ALPACA_MAX_ORDERS_PER_MINUTE=2 reached"),
        "{}",
        text(&third)
    );
    assert_eq!(posted(&mock, "/v2/orders").len(), 2);
}

#[tokio::test]
async fn allowed_symbols_limit_what_can_be_traded() {
    let mock = mock().await;
    let tools = with_safety(
        config_for(&mock),
        SafetyConfig {
            allowed_symbols: Some(vec!["AAPL".into()]),
            ..SafetyConfig::default()
        },
    );
    let c = connect_shared(tools.clone()).await;
    let r = call(
        &c,
        "place_stock_order",
        json!({"symbol": "MSFT", "side": "buy", "qty": 1}),
    )
    .await;
    assert!(
        text(&r).contains("not in ALPACA_ALLOWED_SYMBOLS"),
        "{}",
        text(&r)
    );
    data(
        &call(
            &c,
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "buy", "qty": 1}),
        )
        .await,
    );
}

#[tokio::test]
async fn read_only_mode_shows_and_runs_no_writes() {
    let mock = mock().await;
    let mut config = config_for(&mock);
    config.read_only = true;
    let c = connect(&config).await;
    let tools = c.list_all_tools().await.unwrap();
    assert!(
        tools
            .iter()
            .all(|t| t.annotations.as_ref().and_then(|a| a.read_only_hint) == Some(true))
    );
    for name in [
        "place_stock_order",
        "cancel_all_orders",
        "close_position",
        "create_watchlist",
        "update_account_config",
        "exercise_options_position",
        "create_locate",
    ] {
        assert!(!tools.iter().any(|t| t.name == name), "{name} listed");
        let err = c
            .call_tool(rmcp::model::CallToolRequestParams::new(name))
            .await
            .expect_err("unknown tool");
        assert!(err.to_string().contains("unknown tool"), "{name}: {err}");
    }
    assert!(tools.iter().any(|t| t.name == "get_account_info"));
}
