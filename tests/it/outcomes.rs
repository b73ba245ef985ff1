//! Outcomes are reported as they are: a 2xx whose body is not JSON is an error for a read; for
//! an order it triggers the look-up by client_order_id, whose own answer must be that order to
//! count as "placed" (non-JSON or `[]` is "unknown"); an order answered with a body too large
//! to read is looked up, not reported as failed. Every test counts the POSTs the fake got.

use alpaca_mock::{Fault, FaultKind, MockServer};
use serde_json::json;
use support::*;

fn orders_posted(mock: &MockServer) -> usize {
    posted(mock, "/v2/orders").len()
}

fn body_200(body: &str) -> FaultKind {
    FaultKind::Status {
        status: 200,
        body: Some(body.to_string()),
        headers: vec![("Content-Type".into(), "application/json".into())],
    }
}

fn summary(r: &rmcp::model::CallToolResult) -> String {
    support::envelope(r)["summary"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn place(client: &Client, cid: &str) -> rmcp::model::CallToolResult {
    call(
        client,
        "place_stock_order",
        json!({"symbol": "AAPL", "side": "buy", "qty": 1, "client_order_id": cid}),
    )
    .await
}

#[tokio::test]
async fn a_read_answered_with_html_or_truncated_json_is_an_error() {
    let mock = mock().await;
    let client = connect(&config_for(&mock)).await;
    for body in [
        "<html><body>upstream hiccup</body></html>",
        r#"{"is_open": tr"#,
    ] {
        mock.inject(Fault::new("/v2/account", body_200(body)).once());
        let r = call(&client, "get_account_info", json!({})).await;
        assert_eq!(r.is_error, Some(true), "{body}: {}", text(&r));
        assert!(text(&r).contains("not JSON"), "{}", text(&r));
    }
    // A cached tool does not keep such an answer either: the next call asks again.
    mock.clear_requests();
    mock.inject(Fault::new("/v2/assets/AAPL", FaultKind::NotJson).once());
    let r = call(&client, "get_asset", json!({"symbol_or_asset_id": "AAPL"})).await;
    assert_eq!(r.is_error, Some(true));
    let r = call(&client, "get_asset", json!({"symbol_or_asset_id": "AAPL"})).await;
    assert_eq!(data(&r)["symbol"], "AAPL");
    assert_eq!(mock.requests().len(), 2);
}

#[tokio::test]
async fn an_order_answered_with_garbage_is_looked_up_and_reported_as_placed() {
    let mock = mock().await;
    let client = connect(&config_for(&mock)).await;
    for (i, body) in [
        "<html>502</html>",
        r#"{"id": "x", "stat"#,
        "[]",
        r#"{"ok": true}"#,
    ]
    .iter()
    .enumerate()
    {
        mock.clear_requests();
        mock.inject(
            Fault::new("/v2/orders", body_200(body))
                .method("POST")
                .record_anyway()
                .once(),
        );
        let cid = format!("garbage-{i}");
        let r = place(&client, &cid).await;
        assert_eq!(r.is_error, Some(false), "{body}: {}", text(&r));
        let s = summary(&r);
        assert!(s.contains("Alpaca accepted the order"), "{s}");
        assert!(s.contains("looking the order up"), "{s}");
        assert_eq!(data(&r)["client_order_id"], cid.as_str());
        assert_eq!(orders_posted(&mock), 1, "{body}: never twice");
    }
}

#[tokio::test]
async fn an_order_that_did_not_arrive_is_reported_not_placed() {
    let mock = mock().await;
    let client = connect(&config_for(&mock)).await;
    mock.clear_requests();
    // Answered with garbage and not recorded: the look-up finds nothing.
    mock.inject(
        Fault::new("/v2/orders", FaultKind::NotJson)
            .method("POST")
            .once(),
    );
    let r = place(&client, "never-arrived").await;
    assert_eq!(r.is_error, Some(true));
    let t = text(&r);
    assert!(
        t.contains("NOT PLACED") && t.contains("never-arrived"),
        "{t}"
    );
    assert_eq!(orders_posted(&mock), 1);
}

#[tokio::test]
async fn a_look_up_that_answers_garbage_or_an_empty_list_is_unknown() {
    let mock = mock().await;
    let client = connect(&config_for(&mock)).await;
    for (i, lookup) in ["<html>oops</html>", "[]", "{}"].iter().enumerate() {
        mock.clear_requests();
        mock.inject(
            Fault::new("/v2/orders", FaultKind::NotJson)
                .method("POST")
                .record_anyway()
                .once(),
        );
        mock.inject(Fault::new("/v2/orders:by_client_order_id", body_200(lookup)).once());
        let cid = format!("unknown-{i}");
        let r = place(&client, &cid).await;
        assert_eq!(r.is_error, Some(true), "{lookup}: {}", text(&r));
        let t = text(&r);
        assert!(t.contains("OUTCOME UNKNOWN"), "{lookup}: {t}");
        assert!(!t.contains("accepted"), "never confirmed: {t}");
        assert!(t.contains(&format!("client_order_id={cid}")), "{t}");
        assert_eq!(orders_posted(&mock), 1, "never resent");
    }
}

#[tokio::test]
async fn an_order_answered_with_a_body_too_large_to_read_is_looked_up() {
    let mock = mock().await;
    let client = connect(&config_for(&mock)).await;
    mock.clear_requests();
    let huge = format!("{{\"pad\": \"{}\"}}", " ".repeat(33 << 20));
    mock.inject(
        Fault::new("/v2/orders", body_200(&huge))
            .method("POST")
            .record_anyway()
            .once(),
    );
    let r = place(&client, "too-large").await;
    assert_eq!(r.is_error, Some(false), "{}", text(&r));
    let s = summary(&r);
    assert!(
        s.contains("looking the order up") && s.contains("too large"),
        "{s}"
    );
    assert_eq!(orders_posted(&mock), 1);
}

#[tokio::test]
async fn a_replace_answered_with_garbage_is_looked_up_by_its_client_order_id() {
    let mock = mock().await;
    let client = connect(&config_for(&mock)).await;
    let id = mock
        .state()
        .place_order(json!({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit", "time_in_force": "day", "limit_price": "100"}))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    mock.clear_requests();
    mock.inject(
        Fault::new("/v2/orders/", FaultKind::NotJson)
            .method("PATCH")
            .record_anyway()
            .once(),
    );
    let r = call(
        &client,
        "replace_order_by_id",
        json!({"order_id": id, "qty": "2"}),
    )
    .await;
    assert_eq!(r.is_error, Some(false), "{}", text(&r));
    assert!(
        summary(&r).contains("looking the order up"),
        "{}",
        summary(&r)
    );
    assert_eq!(data(&r)["qty"], "2");
    let patches = mock
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH")
        .count();
    assert_eq!(patches, 1);
}

#[tokio::test]
async fn a_cancel_answered_with_garbage_is_unknown_and_names_what_to_check() {
    let mock = mock().await;
    let client = connect(&config_for(&mock)).await;
    mock.clear_requests();
    mock.inject(
        Fault::new("/v2/orders", body_200("<html>x</html>"))
            .method("DELETE")
            .once(),
    );
    let r = call(&client, "cancel_all_orders", json!({})).await;
    assert_eq!(r.is_error, Some(true));
    let t = text(&r);
    assert!(
        t.contains("OUTCOME UNKNOWN") && t.contains("get_orders"),
        "{t}"
    );
    let deletes = mock
        .requests()
        .iter()
        .filter(|r| r.method == "DELETE")
        .count();
    assert_eq!(deletes, 1);
}
