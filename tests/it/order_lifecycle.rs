//! An order's life through the generated tools and the fake (orders are placed in the fake
//! directly until the order tools exist): list, look up, replace, cancel; a fill makes a
//! position that close_position closes.

use serde_json::json;
use support::*;

#[tokio::test]
async fn order_lifecycle_through_mcp() {
    let mock = mock().await;
    let client = connect(&config_for(&mock)).await;

    let orders = data(&call(&client, "get_orders", json!({"status": "open"})).await);
    assert_eq!(orders, json!([]));

    let placed = mock
        .state()
        .place_order(json!({"symbol": "AAPL", "qty": "5", "side": "buy", "type": "limit", "limit_price": "1.00", "time_in_force": "day"}))
        .expect("the fake takes the order");
    let id = placed["id"].as_str().unwrap().to_string();

    let got = data(&call(&client, "get_order_by_id", json!({"order_id": id})).await);
    assert_eq!(got["id"], id.as_str());
    assert_eq!(got["status"], "new");
    assert_eq!(got["limit_price"], "1");

    let open = data(&call(&client, "get_orders", json!({"status": "open"})).await);
    assert_eq!(open.as_array().unwrap().len(), 1);

    let replaced = data(
        &call(
            &client,
            "replace_order_by_id",
            json!({"order_id": id, "limit_price": "2.5", "qty": "3"}),
        )
        .await,
    );
    let new_id = replaced["id"].as_str().unwrap().to_string();
    assert_ne!(new_id, id);
    assert_eq!(replaced["qty"], "3");
    let old = data(&call(&client, "get_order_by_id", json!({"order_id": id})).await);
    assert_eq!(old["status"], "replaced");

    let cancelled = call(&client, "cancel_order_by_id", json!({"order_id": new_id})).await;
    assert_eq!(cancelled.is_error, Some(false), "{}", text(&cancelled));
    let after = data(&call(&client, "get_order_by_id", json!({"order_id": new_id})).await);
    assert_eq!(after["status"], "canceled");

    // A market order fills at once and opens a position.
    mock.state().place_order(json!({"symbol": "MSFT", "qty": "4", "side": "buy", "type": "market", "time_in_force": "day"})).unwrap();
    let positions = data(&call(&client, "get_all_positions", json!({})).await);
    let msft = positions
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["symbol"] == "MSFT")
        .expect("MSFT position");
    assert_eq!(msft["qty"], "4");
    let one = data(
        &call(
            &client,
            "get_open_position",
            json!({"symbol_or_asset_id": "MSFT"}),
        )
        .await,
    );
    assert_eq!(one["qty"], "4");

    let closing = call(
        &client,
        "close_position",
        json!({"symbol_or_asset_id": "MSFT", "qty": 1}),
    )
    .await;
    assert_eq!(closing.is_error, Some(false), "{}", text(&closing));
    let one = data(
        &call(
            &client,
            "get_open_position",
            json!({"symbol_or_asset_id": "MSFT"}),
        )
        .await,
    );
    assert_eq!(one["qty"], "3");
    data(
        &call(
            &client,
            "close_position",
            json!({"symbol_or_asset_id": "MSFT"}),
        )
        .await,
    );
    let gone = call(
        &client,
        "get_open_position",
        json!({"symbol_or_asset_id": "MSFT"}),
    )
    .await;
    assert_eq!(gone.is_error, Some(true), "the position is closed");
    assert!(text(&gone).contains("HTTP 404"), "{}", text(&gone));
}
