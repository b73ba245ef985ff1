//! The typed client reads what Alpaca actually sends: every body in `tests/fixtures/drifted/`
//! (numbers where the spec says decimal string, numeric strings where it says integer, enum
//! values the spec does not list or spells in another case) is served by the fake for each
//! operation that returns that kind of body, and decoded through `alpaca_mcp::Client`.

use alpaca_mcp::Client;
use alpaca_mcp::trading::{params, types};
use alpaca_mock::{Fault, FaultKind, MockServer};
use support::*;

const ID: &str = "7c2b8f3e-1d4a-4e5b-9c6d-2a1b3c4d5e6f";

fn body(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/drifted/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The fake answers the next `method` request under `path` with `status` and the corpus file.
fn serve(mock: &MockServer, method: &str, path: &str, status: u16, file: &str) {
    mock.inject(
        Fault::new(
            path,
            FaultKind::Status {
                status,
                body: Some(body(file)),
                headers: vec![("Content-Type".into(), "application/json".into())],
            },
        )
        .method(method)
        .once(),
    );
}

async fn client() -> (MockServer, Client) {
    let mock = mock().await;
    let client = Client::from_config(&config_for(&mock)).expect("client");
    (mock, client)
}

fn check_order(o: &types::Order) {
    assert_eq!(
        o.qty.as_deref(),
        Some("1"),
        "a number where a string is specified"
    );
    assert_eq!(o.filled_avg_price.as_deref(), Some("0"));
    assert_eq!(o.limit_price.as_deref(), Some("300"));
    assert_eq!(o.ratio_qty.as_deref(), Some("1"));
    assert_eq!(
        o.extended_hours,
        Some(false),
        "\"false\" where a boolean is specified"
    );
    assert_eq!(
        o.status.as_ref().map(|s| s.as_str()),
        Some("pending_review"),
        "an unlisted status is kept"
    );
    assert_eq!(
        o.status.as_ref().and_then(|s| s.unlisted()),
        Some("pending_review")
    );
    assert_eq!(o.side, Some(types::OrderSide::Buy));
}

#[tokio::test]
async fn orders_decode_with_numbers_and_unlisted_values() {
    let (mock, c) = client().await;
    serve(&mock, "GET", "/v2/orders", 200, "orders.json");
    let orders = c
        .get_all_orders(&params::GetAllOrders::default())
        .await
        .expect("list of orders");
    assert_eq!(orders.len(), 2);
    check_order(&orders[0]);
    assert_eq!(orders[1].qty.as_deref(), Some("2.5"));
    assert_eq!(orders[1].filled_avg_price.as_deref(), Some("187.42"));
    assert_eq!(
        orders[1].side,
        Some(types::OrderSide::Sell),
        "SELL read as sell"
    );

    serve(&mock, "GET", &format!("/v2/orders/{ID}"), 200, "order.json");
    let o = c
        .get_order_by_order_id(&params::GetOrderByOrderId {
            order_id: ID.into(),
            nested: None,
        })
        .await
        .expect("order by id");
    check_order(&o);

    serve(
        &mock,
        "GET",
        "/v2/orders:by_client_order_id",
        200,
        "order.json",
    );
    let o = c
        .get_order_by_client_order_id(&params::GetOrderByClientOrderId {
            client_order_id: "drift-order-1".into(),
        })
        .await
        .expect("order by client id");
    check_order(&o);

    serve(
        &mock,
        "PATCH",
        &format!("/v2/orders/{ID}"),
        200,
        "order.json",
    );
    let o = c
        .patch_order_by_order_id(&params::PatchOrderByOrderId {
            order_id: ID.into(),
            qty: Some("1".into()),
            ..Default::default()
        })
        .await
        .expect("replaced order");
    check_order(&o);

    serve(&mock, "POST", "/v2/orders", 200, "order.json");
    let o = c
        .post_order(
            &serde_json::from_value::<params::PostOrder>(serde_json::json!({
                "symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit",
                "time_in_force": "day", "limit_price": "300"
            }))
            .expect("order arguments"),
        )
        .await
        .expect("placed order");
    check_order(&o);

    serve(&mock, "DELETE", "/v2/orders", 207, "cancel_all.json");
    let cancelled = c.delete_all_orders().await.expect("cancel all");
    assert_eq!(cancelled.len(), 2);
    assert_eq!(
        cancelled[1].status,
        Some(500),
        "a numeric string where an integer is"
    );
}

#[tokio::test]
async fn positions_decode_with_numbers_and_other_cases() {
    let (mock, c) = client().await;
    serve(&mock, "GET", "/v2/positions", 200, "positions.json");
    let ps = c.get_all_open_positions().await.expect("positions");
    assert_eq!(ps.len(), 2);
    assert_eq!(ps[0].qty.as_deref(), Some("10"));
    assert_eq!(ps[0].avg_entry_price.as_deref(), Some("180.5"));
    assert_eq!(ps[0].unrealized_plpc.as_deref(), Some("0.0387811634"));
    assert_eq!(
        ps[0].side.as_ref().map(|s| s.as_str()),
        Some("long"),
        "LONG read as long"
    );
    assert_eq!(
        ps[1].asset_class,
        Some(types::AssetClass::Crypto),
        "CRYPTO read as crypto"
    );

    serve(&mock, "GET", "/v2/positions/AAPL", 200, "position.json");
    let p = c
        .get_open_position(&params::GetOpenPosition {
            symbol_or_asset_id: "AAPL".into(),
        })
        .await
        .expect("position");
    assert_eq!(p.market_value.as_deref(), Some("1875"));

    serve(&mock, "DELETE", "/v2/positions/AAPL", 200, "order.json");
    let o = c
        .delete_open_position(&params::DeleteOpenPosition {
            symbol_or_asset_id: "AAPL".into(),
            ..Default::default()
        })
        .await
        .expect("closing order");
    check_order(&o);

    serve(&mock, "DELETE", "/v2/positions", 207, "close_all.json");
    let closed = c
        .delete_all_open_positions(&params::DeleteAllOpenPositions::default())
        .await
        .expect("close all");
    assert_eq!(closed.len(), 2);
    assert_eq!(closed[1].status, Some(200));
}

#[tokio::test]
async fn the_account_decodes_with_numbers_and_numeric_strings() {
    let (mock, c) = client().await;
    serve(&mock, "GET", "/v2/account", 200, "account.json");
    let a = c.get_account().await.expect("account");
    assert_eq!(a.buying_power.as_deref(), Some("40000"));
    assert_eq!(a.cash.as_deref(), Some("20000.5"));
    assert_eq!(
        a.options_approved_level,
        Some(1),
        "\"1\" where an integer is specified"
    );
    assert_eq!(a.options_trading_level, Some(2));
    assert_eq!(a.trading_blocked, Some(false));
    assert_eq!(
        a.status,
        Some(types::AccountStatus::Active),
        "active read as ACTIVE"
    );

    serve(
        &mock,
        "GET",
        "/v2/account/configurations",
        200,
        "account_config.json",
    );
    let cfg = c.get_account_config().await.expect("config");
    assert_eq!(cfg.max_margin_multiplier.as_deref(), Some("2"));
    assert_eq!(cfg.max_options_trading_level, Some(2));
    assert_eq!(cfg.disable_overnight_trading, Some(false));

    serve(
        &mock,
        "PATCH",
        "/v2/account/configurations",
        200,
        "account_config.json",
    );
    let cfg = c
        .patch_account_config(&params::PatchAccountConfig::default())
        .await
        .expect("patched config");
    assert_eq!(cfg.max_options_trading_level, Some(2));
}

#[tokio::test]
async fn assets_decode_with_unlisted_attributes_and_exchanges() {
    let (mock, c) = client().await;
    serve(&mock, "GET", "/v2/assets", 200, "assets.json");
    let assets = c
        .get_v2_assets(&params::GetV2Assets::default())
        .await
        .expect("one unknown value must not fail the whole list");
    assert_eq!(assets.len(), 3);
    let attrs: Vec<&str> = assets[0]
        .attributes
        .iter()
        .flatten()
        .map(|a| a.as_str())
        .collect();
    assert_eq!(
        attrs,
        ["fractional_eh_enabled", "has_options", "tokenized_equity"]
    );
    assert_eq!(
        assets[1].exchange.as_ref().map(|e| e.as_str()),
        Some("OTCBB")
    );
    assert_eq!(assets[0].min_trade_increment.as_deref(), Some("0.01"));
    assert_eq!(
        assets[0].maintenance_margin_requirement,
        Some(30.0),
        "\"30\" where a number is"
    );
    assert_eq!(assets[2].min_order_size.as_deref(), Some("0.0001"));

    serve(&mock, "GET", "/v2/assets/AAPL", 200, "asset.json");
    let a = c
        .get_v2_assets_symbol_or_asset_id(&params::GetV2AssetsSymbolOrAssetId {
            symbol_or_asset_id: "AAPL".into(),
        })
        .await
        .expect("asset");
    assert_eq!(a.margin_requirement_long.as_deref(), Some("30"));
}

#[tokio::test]
async fn announcements_decode_with_lowercase_types() {
    let (mock, c) = client().await;
    serve(
        &mock,
        "GET",
        "/v2/corporate_actions/announcements",
        200,
        "announcements.json",
    );
    let list = c
        .get_v2_corporate_actions_announcements(&params::GetV2CorporateActionsAnnouncements {
            ca_types: vec![types::CorporateActionCaType::Dividend],
            since: "2025-05-01".into(),
            until: "2025-05-31".into(),
            ..Default::default()
        })
        .await
        .expect("announcements");
    assert_eq!(
        list[0].ca_type,
        Some(types::CorporateActionCaType::Dividend)
    );
    assert_eq!(list[1].ca_type, Some(types::CorporateActionCaType::Split));
    assert_eq!(list[0].cash.as_deref(), Some("0.26"));
    assert_eq!(list[1].new_rate.as_deref(), Some("4"));
    let id = "4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8";
    serve(
        &mock,
        "GET",
        &format!("/v2/corporate_actions/announcements/{id}"),
        200,
        "announcement.json",
    );
    let one = c
        .get_v2_corporate_actions_announcements_id(&params::GetV2CorporateActionsAnnouncementsId {
            id: id.into(),
        })
        .await
        .expect("announcement");
    assert_eq!(one.ca_sub_type.as_deref(), Some("cash"));
}
