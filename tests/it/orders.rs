//! The order tools: every rule checked before sending (and the fake sees nothing), every valid
//! shape reaching the fake with exactly the expected body, and no order ever sent twice.

use std::time::Duration;

use alpaca_mock::{Fault, FaultKind};
use serde_json::{Value, json};
use support::*;

async fn setup() -> (alpaca_mock::MockServer, Client) {
    let mock = mock().await;
    let client = connect(&config_for(&mock)).await;
    mock.clear_requests();
    (mock, client)
}

/// Each invalid order fails naming its rule, and no request reaches the fake.
#[tokio::test]
async fn every_rule_is_checked_before_sending() {
    let (mock, client) = setup().await;
    let cases: &[(&str, Value, &str)] = &[
        (
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "hold", "qty": 1}),
            "argument `side` is \"hold\"; expected one of: buy, sell",
        ),
        (
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "buy", "qty": 1, "type": "iceberg"}),
            "argument `type`",
        ),
        (
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "buy", "qty": 1, "time_in_force": "forever"}),
            "argument `time_in_force`",
        ),
        (
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "buy", "qty": 1, "order_class": "fancy"}),
            "argument `order_class`",
        ),
        (
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "buy"}),
            "exactly one of qty and notional",
        ),
        (
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "buy", "qty": 1, "notional": 100}),
            "exactly one of qty and notional",
        ),
        (
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "buy", "notional": 100, "type": "limit", "limit_price": 1}),
            "notional works only with type=market",
        ),
        (
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "buy", "qty": 1, "type": "limit"}),
            "type=limit needs limit_price",
        ),
        (
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "buy", "qty": 1, "type": "stop_limit", "stop_price": 5}),
            "type=stop_limit needs limit_price",
        ),
        (
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "buy", "qty": 1, "type": "stop"}),
            "type=stop needs stop_price",
        ),
        (
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "buy", "qty": 1, "type": "stop_limit", "limit_price": 5}),
            "type=stop_limit needs stop_price",
        ),
        (
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "buy", "qty": 1, "limit_price": 5}),
            "limit_price is only for limit and stop_limit",
        ),
        (
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "sell", "qty": 1, "type": "trailing_stop"}),
            "exactly one of trail_price and trail_percent",
        ),
        (
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "sell", "qty": 1, "type": "trailing_stop", "trail_price": 1, "trail_percent": 2}),
            "exactly one of trail_price and trail_percent",
        ),
        (
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "sell", "qty": 1, "trail_percent": 2}),
            "only for trailing_stop",
        ),
        (
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "buy", "qty": 1, "extended_hours": true}),
            "extended_hours works only for type=limit",
        ),
        (
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "buy", "qty": 1, "type": "limit", "limit_price": 1, "time_in_force": "ioc", "extended_hours": true}),
            "time_in_force day or gtc",
        ),
        (
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "buy", "qty": 1, "take_profit_limit_price": 300}),
            "order_class=bracket needs both",
        ),
        (
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "buy", "qty": 1, "order_class": "simple", "take_profit_limit_price": 300, "stop_loss_stop_price": 100}),
            "not order_class=simple",
        ),
        (
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "buy", "qty": 1, "take_profit_limit_price": 300, "stop_loss_limit_price": 99}),
            "stop_loss_limit_price needs stop_loss_stop_price",
        ),
        (
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "buy", "qty": 1, "order_class": "oto", "take_profit_limit_price": 300, "stop_loss_stop_price": 100}),
            "oto needs exactly one",
        ),
        (
            "place_stock_order",
            json!({"symbol": "BTC/USD", "side": "buy", "qty": 1}),
            "use place_crypto_order",
        ),
        (
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "buy", "qty": "-3"}),
            "argument `qty`",
        ),
        (
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "buy", "qty": "1e3"}),
            "argument `qty`",
        ),
        (
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "buy", "qty": 0}),
            "greater than zero",
        ),
        (
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "buy", "qty": 1, "leverage": 10}),
            "unknown argument `leverage`",
        ),
        (
            "place_crypto_order",
            json!({"symbol": "BTCUSD", "side": "buy", "qty": 1}),
            "pairs with a slash",
        ),
        (
            "place_crypto_order",
            json!({"symbol": "BTC/USD", "side": "buy", "qty": 1, "type": "stop", "stop_price": 1}),
            "argument `type`",
        ),
        (
            "place_crypto_order",
            json!({"symbol": "BTC/USD", "side": "buy", "qty": 1, "time_in_force": "day"}),
            "argument `time_in_force`",
        ),
        (
            "place_crypto_order",
            json!({"symbol": "BTC/USD", "side": "buy", "notional": 10, "type": "limit", "limit_price": 1}),
            "notional works only with type=market",
        ),
        (
            "place_option_order",
            json!({"qty": 1, "symbol": "AAPL", "side": "buy"}),
            "not an OCC option symbol",
        ),
        (
            "place_option_order",
            json!({"qty": 1.5, "symbol": "AAPL250117C00150000", "side": "buy"}),
            "whole number of contracts",
        ),
        (
            "place_option_order",
            json!({"qty": 1, "symbol": "AAPL250117C00150000"}),
            "needs symbol and side",
        ),
        (
            "place_option_order",
            json!({"qty": 1, "legs": [{"symbol": "AAPL250117C00150000", "ratio_qty": 1, "side": "buy"}]}),
            "2 to 4 legs",
        ),
        (
            "place_option_order",
            json!({"qty": 1, "legs": [{"symbol": "AAPL250117C00150000", "ratio_qty": 1, "side": "buy"}, {"symbol": "AAPL250117C00150000", "ratio_qty": 1, "side": "sell"}]}),
            "appears in two legs",
        ),
        (
            "place_option_order",
            json!({"qty": 1, "legs": [{"symbol": "AAPL250117C00150000", "ratio_qty": 0, "side": "buy"}, {"symbol": "AAPL250117C00160000", "ratio_qty": 1, "side": "sell"}]}),
            "ratio_qty must be a positive whole number",
        ),
        (
            "place_option_order",
            json!({"qty": 1, "legs": [{"symbol": "AAPL", "ratio_qty": 1, "side": "buy"}, {"symbol": "AAPL250117C00160000", "ratio_qty": 1, "side": "sell"}]}),
            "legs[0]: AAPL is not an OCC option symbol",
        ),
        (
            "place_option_order",
            json!({"qty": 1, "order_class": "mleg"}),
            "mleg needs legs",
        ),
        (
            "place_option_order",
            json!({"qty": 1, "symbol": "AAPL250117C00150000", "side": "buy", "legs": [{"symbol": "AAPL250117C00150000", "ratio_qty": 1, "side": "buy"}, {"symbol": "AAPL250117C00160000", "ratio_qty": 1, "side": "sell"}]}),
            "inside each leg",
        ),
    ];
    for (tool, args, rule) in cases {
        let r = call(&client, tool, args.clone()).await;
        assert_eq!(r.is_error, Some(true), "{tool} {args} was accepted");
        let t = text(&r);
        assert!(t.contains(rule), "{tool} {args}: expected {rule:?} in {t}");
        assert!(t.contains("Nothing was sent"), "{t}");
    }
    assert!(
        mock.requests().is_empty(),
        "the fake saw: {:?}",
        mock.requests()
    );
}

/// A valid order reaches the fake with exactly this body (client_order_id aside) and comes back.
async fn places(
    mock: &alpaca_mock::MockServer,
    client: &Client,
    tool: &str,
    args: Value,
    expected: Value,
) -> Value {
    mock.clear_requests();
    let r = call(client, tool, args.clone()).await;
    let order = data(&r);
    let bodies = posted(mock, "/v2/orders");
    assert_eq!(bodies.len(), 1, "{tool} {args}: one POST");
    let mut body = bodies[0].clone();
    let coid = body
        .as_object_mut()
        .unwrap()
        .remove("client_order_id")
        .expect("client_order_id is always sent");
    assert_eq!(body, expected, "{tool} {args}");
    assert_eq!(order["client_order_id"], coid);
    let summary = support::envelope(&r)["summary"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(summary.starts_with("Paper account"), "{summary}");
    assert!(
        summary.contains(&format!("`{}`", order["status"].as_str().unwrap())),
        "{summary}"
    );
    order
}

#[tokio::test]
async fn every_valid_shape_reaches_the_fake_as_expected() {
    let (mock, client) = setup().await;
    let cases = [
        (
            "place_stock_order",
            json!({"symbol": "aapl", "side": "buy", "qty": 10}),
            json!({"symbol": "AAPL", "side": "buy", "type": "market", "time_in_force": "day", "qty": "10"}),
        ),
        (
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "buy", "notional": 250.5}),
            json!({"symbol": "AAPL", "side": "buy", "type": "market", "time_in_force": "day", "notional": "250.5"}),
        ),
        (
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "buy", "qty": "2", "type": "limit", "limit_price": 0.1, "time_in_force": "gtc", "extended_hours": true}),
            json!({"symbol": "AAPL", "side": "buy", "type": "limit", "time_in_force": "gtc", "qty": "2", "limit_price": "0.1", "extended_hours": true}),
        ),
        (
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "sell", "qty": 1, "type": "stop", "stop_price": "150.00"}),
            json!({"symbol": "AAPL", "side": "sell", "type": "stop", "time_in_force": "day", "qty": "1", "stop_price": "150"}),
        ),
        (
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "sell", "qty": 1, "type": "stop_limit", "stop_price": 150, "limit_price": 149.5}),
            json!({"symbol": "AAPL", "side": "sell", "type": "stop_limit", "time_in_force": "day", "qty": "1", "stop_price": "150", "limit_price": "149.5"}),
        ),
        (
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "sell", "qty": 1, "type": "trailing_stop", "trail_price": 2}),
            json!({"symbol": "AAPL", "side": "sell", "type": "trailing_stop", "time_in_force": "day", "qty": "1", "trail_price": "2"}),
        ),
        (
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "sell", "qty": 1, "type": "trailing_stop", "trail_percent": 1.5}),
            json!({"symbol": "AAPL", "side": "sell", "type": "trailing_stop", "time_in_force": "day", "qty": "1", "trail_percent": "1.5"}),
        ),
        (
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "buy", "qty": 1, "type": "limit", "limit_price": 100, "take_profit_limit_price": 300, "stop_loss_stop_price": 90, "stop_loss_limit_price": 89}),
            json!({"symbol": "AAPL", "side": "buy", "type": "limit", "time_in_force": "day", "qty": "1", "limit_price": "100", "order_class": "bracket", "take_profit": {"limit_price": "300"}, "stop_loss": {"stop_price": "90", "limit_price": "89"}}),
        ),
        (
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "sell", "qty": 1, "type": "limit", "limit_price": 300, "order_class": "oco", "take_profit_limit_price": 300, "stop_loss_stop_price": 90}),
            json!({"symbol": "AAPL", "side": "sell", "type": "limit", "time_in_force": "day", "qty": "1", "limit_price": "300", "order_class": "oco", "take_profit": {"limit_price": "300"}, "stop_loss": {"stop_price": "90"}}),
        ),
        (
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "buy", "qty": 1, "type": "limit", "limit_price": 100, "order_class": "oto", "stop_loss_stop_price": 90}),
            json!({"symbol": "AAPL", "side": "buy", "type": "limit", "time_in_force": "day", "qty": "1", "limit_price": "100", "order_class": "oto", "stop_loss": {"stop_price": "90"}}),
        ),
        (
            "place_crypto_order",
            json!({"symbol": "btc/usd", "side": "buy", "qty": "0.01"}),
            json!({"symbol": "BTC/USD", "side": "buy", "type": "market", "time_in_force": "gtc", "qty": "0.01"}),
        ),
        (
            "place_crypto_order",
            json!({"symbol": "ETH/USD", "side": "buy", "qty": 0.5, "type": "limit", "limit_price": 10, "time_in_force": "ioc"}),
            json!({"symbol": "ETH/USD", "side": "buy", "type": "limit", "time_in_force": "ioc", "qty": "0.5", "limit_price": "10"}),
        ),
        (
            "place_crypto_order",
            json!({"symbol": "BTC/USD", "side": "buy", "qty": 0.01, "type": "stop_limit", "stop_price": 200000, "limit_price": 200100}),
            json!({"symbol": "BTC/USD", "side": "buy", "type": "stop_limit", "time_in_force": "gtc", "qty": "0.01", "stop_price": "200000", "limit_price": "200100"}),
        ),
        (
            "place_option_order",
            json!({"qty": 1, "symbol": "AAPL250117C00150000", "side": "buy", "position_intent": "buy_to_open", "type": "limit", "limit_price": 2.5}),
            json!({"qty": "1", "type": "limit", "time_in_force": "day", "limit_price": "2.5", "symbol": "AAPL250117C00150000", "side": "buy", "position_intent": "buy_to_open"}),
        ),
        (
            "place_option_order",
            json!({"qty": 2, "type": "limit", "limit_price": "1.20", "legs": [
                {"symbol": "AAPL250117C00150000", "ratio_qty": 1, "side": "buy", "position_intent": "buy_to_open"},
                {"symbol": "AAPL250117C00160000", "ratio_qty": 1, "side": "sell", "position_intent": "sell_to_open"}]}),
            json!({"qty": "2", "type": "limit", "time_in_force": "day", "limit_price": "1.2", "order_class": "mleg", "legs": [
                {"symbol": "AAPL250117C00150000", "ratio_qty": "1", "side": "buy", "position_intent": "buy_to_open"},
                {"symbol": "AAPL250117C00160000", "ratio_qty": "1", "side": "sell", "position_intent": "sell_to_open"}]}),
        ),
        (
            "place_option_order",
            json!({"qty": 1, "legs": "[{\"symbol\":\"SPY250117P00400000\",\"ratio_qty\":1,\"side\":\"buy\"},{\"symbol\":\"SPY250117P00390000\",\"ratio_qty\":1,\"side\":\"sell\"},{\"symbol\":\"SPY250117C00500000\",\"ratio_qty\":1,\"side\":\"sell\"},{\"symbol\":\"SPY250117C00510000\",\"ratio_qty\":1,\"side\":\"buy\"}]"}),
            json!({"qty": "1", "type": "market", "time_in_force": "day", "order_class": "mleg", "legs": [
                {"symbol": "SPY250117P00400000", "ratio_qty": "1", "side": "buy"},
                {"symbol": "SPY250117P00390000", "ratio_qty": "1", "side": "sell"},
                {"symbol": "SPY250117C00500000", "ratio_qty": "1", "side": "sell"},
                {"symbol": "SPY250117C00510000", "ratio_qty": "1", "side": "buy"}]}),
        ),
    ];
    for (tool, args, expected) in cases {
        places(&mock, &client, tool, args, expected).await;
    }
    // A client_order_id given by the caller is kept.
    let order = places(&mock, &client, "place_stock_order", json!({"symbol": "MSFT", "side": "buy", "qty": 1, "client_order_id": "mine-1"}),
        json!({"symbol": "MSFT", "side": "buy", "type": "market", "time_in_force": "day", "qty": "1"})).await;
    assert_eq!(order["client_order_id"], "mine-1");
}

#[tokio::test]
async fn a_lost_response_is_looked_up_never_resent() {
    let mock = mock().await;
    let mut config = config_for(&mock);
    config.request_timeout = Duration::from_millis(400);
    let client = connect(&config).await;
    let buy = json!({"symbol": "AAPL", "side": "buy", "qty": 1});

    // Timeout after the fake recorded the order: found by its client_order_id.
    for kind in [FaultKind::Delay(Duration::from_secs(3)), FaultKind::Drop] {
        mock.clear_faults();
        mock.clear_requests();
        mock.inject(
            Fault::new("/v2/orders", kind.clone())
                .method("POST")
                .once()
                .record_anyway(),
        );
        let r = call(&client, "place_stock_order", buy.clone()).await;
        let order = data(&r);
        let summary = support::envelope(&r)["summary"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            summary.contains("confirmed by looking the order up"),
            "{kind:?}: {summary}"
        );
        assert_eq!(
            posted(&mock, "/v2/orders").len(),
            1,
            "{kind:?}: exactly one POST"
        );
        assert!(mock.state().order(order["id"].as_str().unwrap()).is_some());
    }

    // Dropped before the fake took it: reported as not placed.
    mock.clear_faults();
    mock.clear_requests();
    mock.inject(
        Fault::new("/v2/orders", FaultKind::Drop)
            .method("POST")
            .once(),
    );
    let before = mock.state().orders().len();
    let r = call(&client, "place_stock_order", buy.clone()).await;
    assert_eq!(r.is_error, Some(true));
    let t = text(&r);
    assert!(t.contains("NOT PLACED"), "{t}");
    assert_eq!(posted(&mock, "/v2/orders").len(), 1, "not retried");
    assert_eq!(mock.state().orders().len(), before);

    // The look-up fails too: outcome unknown, with the id to check.
    mock.clear_faults();
    mock.inject(
        Fault::new("/v2/orders", FaultKind::Drop)
            .method("POST")
            .once()
            .record_anyway(),
    );
    mock.inject(Fault::new("/v2/orders:by_client_order_id", FaultKind::status(500)).once());
    let r = call(
        &client,
        "place_stock_order",
        json!({"symbol": "AAPL", "side": "buy", "qty": 1, "client_order_id": "check-me"}),
    )
    .await;
    let t = text(&r);
    assert_eq!(r.is_error, Some(true));
    assert!(
        t.contains("OUTCOME UNKNOWN") && t.contains("check-me"),
        "{t}"
    );

    // A plain API refusal is reported as such, without a look-up.
    mock.clear_faults();
    mock.clear_requests();
    mock.inject(
        Fault::new("/v2/orders", FaultKind::status(403))
            .method("POST")
            .once(),
    );
    let r = call(&client, "place_stock_order", buy).await;
    assert!(text(&r).contains("HTTP 403"), "{}", text(&r));
    assert!(
        mock.requests()
            .iter()
            .all(|r| !r.path.contains("by_client_order_id"))
    );
}

#[tokio::test]
async fn lifecycle_through_mcp_with_the_order_tools() {
    let (mock, client) = setup().await;
    let placed = data(
        &call(
            &client,
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "buy", "qty": 5, "type": "limit", "limit_price": 1}),
        )
        .await,
    );
    let id = placed["id"].as_str().unwrap().to_string();
    assert_eq!(
        data(&call(&client, "get_order_by_id", json!({"order_id": id})).await)["status"],
        "new"
    );
    let replaced = data(
        &call(
            &client,
            "replace_order_by_id",
            json!({"order_id": id, "limit_price": "1.5"}),
        )
        .await,
    );
    let new_id = replaced["id"].as_str().unwrap().to_string();
    data(&call(&client, "cancel_order_by_id", json!({"order_id": new_id})).await);
    assert_eq!(
        data(&call(&client, "get_order_by_id", json!({"order_id": new_id})).await)["status"],
        "canceled"
    );

    let bought = data(
        &call(
            &client,
            "place_stock_order",
            json!({"symbol": "NVDA", "side": "buy", "qty": 3}),
        )
        .await,
    );
    assert_eq!(bought["status"], "filled");
    let positions = data(&call(&client, "get_all_positions", json!({})).await);
    assert!(
        positions
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["symbol"] == "NVDA" && p["qty"] == "3"),
        "{positions}"
    );
    data(
        &call(
            &client,
            "close_position",
            json!({"symbol_or_asset_id": "NVDA"}),
        )
        .await,
    );
    let positions = data(&call(&client, "get_all_positions", json!({})).await);
    assert!(
        !positions
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["symbol"] == "NVDA"),
        "{positions}"
    );
    drop(mock);
}
