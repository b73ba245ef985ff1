//! Orders, positions, watchlists and the account behave like a user expects.

use crate::common;

use alpaca_mock::{MockConfig, Timestamp};
use common::Harness;
use serde_json::{Value, json};

fn num(v: &Value) -> f64 {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a decimal string: {v}"))
}

fn market(symbol: &str, qty: &str, side: &str) -> Value {
    json!({"symbol": symbol, "qty": qty, "side": side, "type": "market", "time_in_force": "day"})
}

#[tokio::test]
async fn market_order_fills_and_opens_a_position() {
    let h = Harness::default().await;
    h.mock.state().set_price("AAPL", 200.0);
    let r = h.post("/v2/orders", &market("AAPL", "10", "buy")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let order = r.json();
    assert_eq!(order["status"], "filled");
    assert_eq!(order["filled_avg_price"], "200");
    assert_eq!(order["filled_qty"], "10");

    let pos = h.get("/v2/positions/AAPL", &[]).await.json();
    assert_eq!(pos["qty"], "10");
    assert_eq!(pos["avg_entry_price"], "200");
    assert_eq!(pos["market_value"], "2000");
    assert_eq!(pos["side"], "long");

    let account = h.get("/v2/account", &[]).await.json();
    assert_eq!(num(&account["cash"]), 98_000.0);
    assert_eq!(num(&account["equity"]), 100_000.0);
    assert_eq!(num(&account["long_market_value"]), 2_000.0);

    // The price moves; the position is revalued.
    h.mock.state().set_price("AAPL", 210.0);
    let pos = h.get("/v2/positions/AAPL", &[]).await.json();
    assert_eq!(pos["market_value"], "2100");
    assert_eq!(pos["unrealized_pl"], "100");
    let account = h.get("/v2/account", &[]).await.json();
    assert_eq!(num(&account["equity"]), 100_100.0);

    // Buying more averages the entry price.
    h.post("/v2/orders", &market("AAPL", "10", "buy")).await;
    let pos = h.get("/v2/positions/AAPL", &[]).await.json();
    assert_eq!(pos["qty"], "20");
    assert_eq!(pos["avg_entry_price"], "205");

    // The fill shows up as an activity.
    let acts = h
        .get("/v2/account/activities", &[("activity_types", "FILL")])
        .await
        .json();
    assert_eq!(acts.as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn fills_use_the_fake_last_price_deterministically() {
    let a = Harness::default().await;
    let b = Harness::default().await;
    let oa = a
        .post("/v2/orders", &market("MSFT", "1", "buy"))
        .await
        .json();
    let ob = b
        .post("/v2/orders", &market("MSFT", "1", "buy"))
        .await
        .json();
    assert_eq!(oa["filled_avg_price"], ob["filled_avg_price"]);
    assert_eq!(oa["id"], ob["id"], "ids are reproducible too");
    let last = a.mock.state().last_price("MSFT");
    assert_eq!(num(&oa["filled_avg_price"]), last);
    // The latest trade of the market data API is the same price.
    let trade = a.get("/v2/stocks/MSFT/trades/latest", &[]).await.json();
    assert_eq!(trade["trade"]["p"].as_f64(), Some(last));
}

#[tokio::test]
async fn limit_order_rests_and_can_be_cancelled() {
    let h = Harness::default().await;
    let body = json!({"symbol": "TSLA", "qty": "3", "side": "buy", "type": "limit", "limit_price": "100", "time_in_force": "gtc"});
    let order = h.post("/v2/orders", &body).await.json();
    assert_eq!(order["status"], "new");
    assert_eq!(order["filled_qty"], "0");
    let id = order["id"].as_str().unwrap().to_string();

    let open = h.get("/v2/orders", &[("status", "open")]).await.json();
    assert_eq!(open.as_array().unwrap().len(), 1);
    assert!(h.get("/v2/positions/TSLA", &[]).await.status == 404);
    // Buying power is reserved for the resting order.
    let account = h.get("/v2/account", &[]).await.json();
    assert_eq!(num(&account["buying_power"]), 100_000.0 - 300.0);

    let r = h
        .send("DELETE", &format!("/v2/orders/{id}"), &[], None)
        .await;
    assert_eq!(r.status, 204);
    let order = h.get(&format!("/v2/orders/{id}"), &[]).await.json();
    assert_eq!(order["status"], "canceled");
    assert!(order["canceled_at"].is_string());
    // Cancelling twice is refused.
    assert_eq!(
        h.send("DELETE", &format!("/v2/orders/{id}"), &[], None)
            .await
            .status,
        422
    );
    let open = h.get("/v2/orders", &[]).await.json();
    assert_eq!(open, json!([]));
    let closed = h.get("/v2/orders", &[("status", "closed")]).await.json();
    assert_eq!(closed.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn resting_orders_can_be_filled_by_tests() {
    let h = Harness::default().await;
    let body = json!({"symbol": "NVDA", "qty": "4", "side": "buy", "type": "limit", "limit_price": "110", "time_in_force": "day"});
    let order = h.mock.state().place_order(body).unwrap();
    let filled = h
        .mock
        .state()
        .fill_order(order["id"].as_str().unwrap(), None)
        .unwrap();
    assert_eq!(filled["status"], "filled");
    assert_eq!(filled["filled_avg_price"], "110");
    assert_eq!(h.mock.state().positions()[0]["qty"], "4");
}

#[tokio::test]
async fn replace_creates_a_new_order() {
    let h = Harness::default().await;
    let body = json!({"symbol": "SPY", "qty": "1", "side": "buy", "type": "limit", "limit_price": "400", "time_in_force": "day", "client_order_id": "first"});
    let old = h.post("/v2/orders", &body).await.json();
    let old_id = old["id"].as_str().unwrap();
    let r = h
        .send(
            "PATCH",
            &format!("/v2/orders/{old_id}"),
            &[],
            Some(&json!({"limit_price": "405", "qty": "2"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let new = r.json();
    assert_ne!(new["id"], old["id"]);
    assert_eq!(new["replaces"], old["id"]);
    assert_eq!(new["limit_price"], "405");
    assert_eq!(new["qty"], "2");
    assert_eq!(new["status"], "new");
    let old_now = h.get(&format!("/v2/orders/{old_id}"), &[]).await.json();
    assert_eq!(old_now["status"], "replaced");
    assert_eq!(old_now["replaced_by"], new["id"]);
    let open = h.get("/v2/orders", &[]).await.json();
    assert_eq!(open.as_array().unwrap().len(), 1);
    // A replaced order cannot be replaced again.
    let again = h
        .send(
            "PATCH",
            &format!("/v2/orders/{old_id}"),
            &[],
            Some(&json!({"qty": "3"})),
        )
        .await;
    assert_eq!(again.status, 422);
}

#[tokio::test]
async fn client_order_id_must_be_unique() {
    let h = Harness::default().await;
    let mut body = market("AAPL", "1", "buy");
    body["client_order_id"] = json!("my-order-1");
    assert_eq!(h.post("/v2/orders", &body).await.status, 200);
    let r = h.post("/v2/orders", &body).await;
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["code"], 40010001);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("client_order_id")
    );
    let found = h
        .get(
            "/v2/orders:by_client_order_id",
            &[("client_order_id", "my-order-1")],
        )
        .await;
    assert_eq!(found.status, 200);
    assert_eq!(found.json()["client_order_id"], "my-order-1");
}

#[tokio::test]
async fn bad_orders_get_alpaca_errors() {
    let h = Harness::default().await;
    let cases = [
        json!({"symbol": "AAPL", "side": "buy", "type": "market", "time_in_force": "day"}),
        json!({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit", "time_in_force": "day"}),
        json!({"symbol": "AAPL", "qty": "-1", "side": "buy", "type": "market", "time_in_force": "day"}),
        json!({"symbol": "AAPL", "qty": "1e400", "side": "buy", "type": "market", "time_in_force": "day"}),
        json!({"symbol": "NOPE", "qty": "1", "side": "buy", "type": "market", "time_in_force": "day"}),
        json!({"symbol": "AAPL", "qty": 1, "side": "sideways", "type": "market", "time_in_force": "day"}),
        json!({"qty": "1", "side": "buy", "type": "market", "time_in_force": "day"}),
    ];
    for body in cases {
        let r = h.post("/v2/orders", &body).await;
        assert_eq!(r.status, 422, "{body} -> {}", r.text());
        assert_eq!(r.json()["code"], 40010001);
    }
    let too_big = h
        .post("/v2/orders", &market("AAPL", "1000000", "buy"))
        .await;
    assert_eq!(too_big.status, 403);
    assert_eq!(too_big.json()["message"], "insufficient buying power");
    // Not an object, or not JSON at all.
    assert_eq!(h.post("/v2/orders", &json!([1, 2, 3])).await.status, 400);
    let r = h
        .http
        .post(h.url("/v2/orders", &[]))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], 40010000);
}

#[tokio::test]
async fn unknown_order_is_404() {
    let h = Harness::default().await;
    for path in [
        "/v2/orders/00000000-0000-4000-8000-000000000000",
        "/v2/orders/not-a-uuid",
    ] {
        let r = h.get(path, &[]).await;
        assert_eq!(r.status, 404);
        assert_eq!(r.json()["code"], 40410000);
    }
    let r = h
        .get(
            "/v2/orders:by_client_order_id",
            &[("client_order_id", "nope")],
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(h.get("/v2/nothing/here", &[]).await.status, 404);
}

#[tokio::test]
async fn cancel_all_answers_multi_status() {
    let h = Harness::default().await;
    for px in ["100", "101"] {
        h.post("/v2/orders", &json!({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit", "limit_price": px, "time_in_force": "day"}))
            .await;
    }
    h.post("/v2/orders", &market("MSFT", "1", "buy")).await;
    let r = h.send("DELETE", "/v2/orders", &[], None).await;
    assert_eq!(r.status, 207);
    let items = r.json();
    assert_eq!(items.as_array().unwrap().len(), 2);
    assert!(items.as_array().unwrap().iter().all(|i| i["status"] == 200));
    assert_eq!(h.get("/v2/orders", &[]).await.json(), json!([]));
}

#[tokio::test]
async fn order_listing_filters() {
    let h = Harness::default().await;
    for (sym, side) in [
        ("AAPL", "buy"),
        ("MSFT", "buy"),
        ("AAPL", "sell"),
        ("TSLA", "buy"),
    ] {
        let r = h.post("/v2/orders", &market(sym, "1", side)).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let all = h.get("/v2/orders", &[("status", "all")]).await.json();
    assert_eq!(all.as_array().unwrap().len(), 4);
    assert_eq!(all[0]["symbol"], "TSLA", "newest first by default");
    let asc = h
        .get(
            "/v2/orders",
            &[("status", "all"), ("direction", "asc"), ("limit", "2")],
        )
        .await
        .json();
    assert_eq!(asc.as_array().unwrap().len(), 2);
    assert_eq!(asc[0]["symbol"], "AAPL");
    let aapl = h
        .get(
            "/v2/orders",
            &[("status", "closed"), ("symbols", "AAPL,TSLA")],
        )
        .await
        .json();
    assert_eq!(aapl.as_array().unwrap().len(), 3);
    assert_eq!(
        h.get("/v2/orders", &[("status", "bogus")]).await.status,
        422
    );
}

#[tokio::test]
async fn positions_close_in_part_and_in_full() {
    let h = Harness::default().await;
    h.mock.state().set_price("AMD", 150.0);
    h.post("/v2/orders", &market("AMD", "10", "buy")).await;

    let r = h
        .send("DELETE", "/v2/positions/AMD", &[("qty", "4")], None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let order = r.json();
    assert_eq!(order["side"], "sell");
    assert_eq!(order["qty"], "4");
    assert_eq!(order["status"], "filled");
    assert_eq!(h.get("/v2/positions/AMD", &[]).await.json()["qty"], "6");

    let r = h
        .send("DELETE", "/v2/positions/AMD", &[("percentage", "50")], None)
        .await;
    assert_eq!(r.json()["qty"], "3");
    assert_eq!(h.get("/v2/positions/AMD", &[]).await.json()["qty"], "3");

    assert_eq!(
        h.send("DELETE", "/v2/positions/AMD", &[("qty", "99")], None)
            .await
            .status,
        403
    );

    let r = h.send("DELETE", "/v2/positions/AMD", &[], None).await;
    assert_eq!(r.json()["qty"], "3");
    assert_eq!(h.get("/v2/positions/AMD", &[]).await.status, 404);
    assert_eq!(h.get("/v2/positions", &[]).await.json(), json!([]));
    let account = h.get("/v2/account", &[]).await.json();
    assert_eq!(num(&account["cash"]), 100_000.0);
}

#[tokio::test]
async fn close_all_positions() {
    let h = Harness::default().await;
    h.post("/v2/orders", &market("AAPL", "2", "buy")).await;
    h.post("/v2/orders", &json!({"symbol": "BTC/USD", "qty": "0.5", "side": "buy", "type": "market", "time_in_force": "gtc"}))
        .await;
    let btc = h.get("/v2/positions/BTCUSD", &[]).await;
    assert_eq!(btc.status, 200);
    assert_eq!(btc.json()["symbol"], "BTC/USD");
    let r = h.send("DELETE", "/v2/positions", &[], None).await;
    assert_eq!(r.status, 207);
    let items = r.json();
    assert_eq!(items.as_array().unwrap().len(), 2);
    assert!(
        items
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["status"] == 200 && i["body"]["status"] == "filled")
    );
    assert_eq!(h.get("/v2/positions", &[]).await.json(), json!([]));
}

#[tokio::test]
async fn watchlists_by_id() {
    let h = Harness::default().await;
    let r = h
        .post(
            "/v2/watchlists",
            &json!({"name": "tech", "symbols": ["AAPL", "MSFT"]}),
        )
        .await;
    assert_eq!(r.status, 200);
    let w = r.json();
    let id = w["id"].as_str().unwrap().to_string();
    assert_eq!(w["assets"].as_array().unwrap().len(), 2);
    assert_eq!(
        h.post("/v2/watchlists", &json!({"name": "tech"}))
            .await
            .status,
        422,
        "names are unique"
    );
    assert_eq!(
        h.post("/v2/watchlists", &json!({"symbols": ["AAPL"]}))
            .await
            .status,
        422,
        "name is required"
    );

    let path = format!("/v2/watchlists/{id}");
    let w = h.post(&path, &json!({"symbol": "NVDA"})).await.json();
    let syms: Vec<&str> = w["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["symbol"].as_str().unwrap())
        .collect();
    assert_eq!(syms, ["AAPL", "MSFT", "NVDA"]);
    assert_eq!(h.post(&path, &json!({"symbol": "NOPE"})).await.status, 422);

    let w = h
        .send("DELETE", &format!("{path}/MSFT"), &[], None)
        .await
        .json();
    assert_eq!(w["assets"].as_array().unwrap().len(), 2);

    let w = h
        .send(
            "PUT",
            &path,
            &[],
            Some(&json!({"name": "chips", "symbols": ["AMD"]})),
        )
        .await
        .json();
    assert_eq!(w["name"], "chips");
    assert_eq!(w["assets"][0]["symbol"], "AMD");
    assert_eq!(h.get(&path, &[]).await.json()["name"], "chips");

    let list = h.get("/v2/watchlists", &[]).await.json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(list[0].get("assets").is_none());

    assert_eq!(h.send("DELETE", &path, &[], None).await.status, 204);
    assert_eq!(h.get(&path, &[]).await.status, 404);
    assert_eq!(h.send("DELETE", &path, &[], None).await.status, 404);
}

#[tokio::test]
async fn watchlists_by_name() {
    let h = Harness::default().await;
    h.post("/v2/watchlists", &json!({"name": "crypto picks"}))
        .await;
    let q = [("name", "crypto picks")];
    let w = h
        .send(
            "POST",
            "/v2/watchlists:by_name",
            &q,
            Some(&json!({"symbol": "ETH/USD"})),
        )
        .await
        .json();
    assert_eq!(w["assets"][0]["symbol"], "ETH/USD");
    let w = h.get("/v2/watchlists:by_name", &q).await.json();
    assert_eq!(w["name"], "crypto picks");
    let w = h
        .send(
            "PUT",
            "/v2/watchlists:by_name",
            &q,
            Some(&json!({"symbols": ["BTC/USD", "SOL/USD"]})),
        )
        .await
        .json();
    assert_eq!(w["assets"].as_array().unwrap().len(), 2);
    assert_eq!(
        h.send("DELETE", "/v2/watchlists:by_name", &q, None)
            .await
            .status,
        204
    );
    assert_eq!(h.get("/v2/watchlists:by_name", &q).await.status, 404);
    assert_eq!(h.get("/v2/watchlists:by_name", &[]).await.status, 422);
}

#[tokio::test]
async fn clock_and_calendar_follow_the_injected_now() {
    let h = Harness::default().await;
    let clock = h.get("/v2/clock", &[]).await.json();
    assert_eq!(clock["is_open"], true);
    assert_eq!(clock["timestamp"], "2025-01-15T10:30:00.000-05:00");

    h.mock
        .state()
        .set_now(Timestamp::parse("2025-01-18T12:00:00Z").unwrap()); // Saturday
    let clock = h.get("/v2/clock", &[]).await.json();
    assert_eq!(clock["is_open"], false);
    assert_eq!(clock["next_open"], "2025-01-20T09:30:00.000-05:00");

    h.mock
        .state()
        .advance(std::time::Duration::from_secs(2 * 86_400 + 3 * 3600)); // Monday 10:00 ET
    assert_eq!(h.get("/v2/clock", &[]).await.json()["is_open"], true);

    let cal = h
        .get(
            "/v2/calendar",
            &[("start", "2025-01-10"), ("end", "2025-01-20")],
        )
        .await
        .json();
    let days: Vec<&str> = cal
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["date"].as_str().unwrap())
        .collect();
    assert_eq!(
        days,
        [
            "2025-01-10",
            "2025-01-13",
            "2025-01-14",
            "2025-01-15",
            "2025-01-16",
            "2025-01-17",
            "2025-01-20"
        ]
    );
    assert_eq!(cal[0]["open"], "09:30");
    assert_eq!(cal[0]["close"], "16:00");

    let v3 = h.get("/v3/clock", &[("markets", "NYSE")]).await.json();
    assert_eq!(v3["clocks"][0]["phase"], "core");
}

#[tokio::test]
async fn assets_and_option_contracts() {
    let h = Harness::default().await;
    let crypto = h
        .get("/v2/assets", &[("asset_class", "crypto")])
        .await
        .json();
    assert!(
        crypto
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["symbol"] == "BTC/USD")
    );
    assert!(
        crypto
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["class"] == "crypto")
    );
    let aapl = h.get("/v2/assets/AAPL", &[]).await.json();
    let by_id = h
        .get(&format!("/v2/assets/{}", aapl["id"].as_str().unwrap()), &[])
        .await
        .json();
    assert_eq!(by_id["symbol"], "AAPL");
    assert_eq!(h.get("/v2/assets/NOPE", &[]).await.status, 404);

    let contracts = h
        .get(
            "/v2/options/contracts",
            &[("underlying_symbols", "SPY"), ("type", "put")],
        )
        .await
        .json();
    let list = contracts["option_contracts"].as_array().unwrap();
    assert!(!list.is_empty());
    let c = &list[0];
    assert_eq!(c["underlying_symbol"], "SPY");
    let sym = c["symbol"].as_str().unwrap();
    assert!(
        sym.starts_with("SPY") && sym.len() == 18 && &sym[9..10] == "P",
        "{sym}"
    );
    let one = h
        .get(&format!("/v2/options/contracts/{sym}"), &[])
        .await
        .json();
    assert_eq!(one["id"], c["id"]);

    // Options trade and fill at the option model's price, 100 shares a contract.
    let o = h.post("/v2/orders", &json!({"symbol": sym, "qty": "2", "side": "buy", "type": "market", "time_in_force": "day"})).await.json();
    assert_eq!(o["asset_class"], "us_option");
    let pos = h.get(&format!("/v2/positions/{sym}"), &[]).await.json();
    let px = num(&pos["avg_entry_price"]);
    assert_eq!(
        num(&pos["cost_basis"]),
        (px * 200.0 * 100.0).round() / 100.0
    );
}

#[tokio::test]
async fn config_can_pin_keys_and_cash() {
    let h = Harness::start(MockConfig {
        keys: Some(("test-key".into(), "test-secret".into())),
        starting_cash: 5_000.0,
        ..MockConfig::default()
    })
    .await;
    assert_eq!(
        num(&h.get("/v2/account", &[]).await.json()["cash"]),
        5_000.0
    );
    let other = reqwest::Client::new()
        .get(h.url("/v2/account", &[]))
        .header("APCA-API-KEY-ID", "test-key")
        .header("APCA-API-SECRET-KEY", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status().as_u16(), 401);
}

#[tokio::test]
async fn account_configuration_round_trips() {
    let h = Harness::default().await;
    let r = h
        .send(
            "PATCH",
            "/v2/account/configurations",
            &[],
            Some(&json!({"no_shorting": true, "trade_confirm_email": "none"})),
        )
        .await;
    assert_eq!(r.status, 200);
    let cfg = h.get("/v2/account/configurations", &[]).await.json();
    assert_eq!(cfg["no_shorting"], true);
    assert_eq!(cfg["trade_confirm_email"], "none");
    let bad = h
        .send(
            "PATCH",
            "/v2/account/configurations",
            &[],
            Some(&json!({"no_shorting": "yes"})),
        )
        .await;
    assert_eq!(bad.status, 422);
    // With no_shorting, selling what is not held is refused.
    assert_eq!(
        h.post("/v2/orders", &market("AAPL", "1", "sell"))
            .await
            .status,
        403
    );
}

#[tokio::test]
async fn the_asset_list_is_as_long_as_alpacas() {
    let h = Harness::default().await;
    let all = h.get("/v2/assets", &[]).await.json();
    let all = all.as_array().unwrap();
    let active_equities = all
        .iter()
        .filter(|a| a["class"] == "us_equity" && a["status"] == "active")
        .count();
    assert!(
        (9_500..12_500).contains(&active_equities),
        "{active_equities}"
    );
    let crypto = all.iter().filter(|a| a["class"] == "crypto").count();
    assert!(crypto > 50, "{crypto}");
    let optionable = all
        .iter()
        .filter(|a| {
            a["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x == "has_options")
        })
        .count();
    assert!(optionable > 3_000, "{optionable}");
    let symbols: std::collections::HashSet<&str> =
        all.iter().map(|a| a["symbol"].as_str().unwrap()).collect();
    assert_eq!(symbols.len(), all.len(), "every symbol once");
    // A listed symbol is found on its own, by symbol and by id.
    let some = all
        .iter()
        .rev()
        .find(|a| a["class"] == "us_equity")
        .unwrap();
    let one = h
        .get(
            &format!("/v2/assets/{}", some["symbol"].as_str().unwrap()),
            &[],
        )
        .await
        .json();
    assert_eq!(one["id"], some["id"]);
    let by_id = h
        .get(&format!("/v2/assets/{}", some["id"].as_str().unwrap()), &[])
        .await
        .json();
    assert_eq!(by_id["symbol"], some["symbol"]);
}
