//! How models and clients write arguments, taken as they mean them: numbers and booleans
//! written as strings (`qty: "1"`, V2 takes them) are read exactly, every range and format
//! check still applies, and anything else is refused with the usual message. Each case counts
//! what reached the fake.

use serde_json::{Value, json};
use support::*;

fn deletes(mock: &alpaca_mock::MockServer) -> Vec<std::collections::HashMap<String, String>> {
    mock.requests()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| {
            url::form_urlencoded::parse(r.query.as_deref().unwrap_or("").as_bytes())
                .into_owned()
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn numbers_and_booleans_written_as_strings_are_read_exactly() {
    let mock = mock().await;
    mock.state()
        .place_order(json!({"symbol": "AAPL", "qty": "10", "side": "buy", "type": "market", "time_in_force": "day"}))
        .expect("position opened");
    let client = connect(&config_for(&mock)).await;
    mock.clear_requests();
    // A number as a string: read as that number, sent once.
    let r = call(
        &client,
        "close_position",
        json!({"symbol_or_asset_id": "AAPL", "qty": "1"}),
    )
    .await;
    assert_eq!(r.is_error, Some(false), "{}", text(&r));
    let sent = deletes(&mock);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["qty"], "1");
    // The bounds still hold on what was read; other strings keep today's message.
    mock.clear_requests();
    for (qty, says) in [
        (json!("-1"), "it must be more than 0"),
        (json!("0"), "it must be more than 0"),
        (json!("abc"), "must be number, not a string"),
        (json!(" 1"), "must be number, not a string"),
        (json!("1e"), "must be number, not a string"),
        (json!("0x10"), "must be number, not a string"),
        (json!(""), "must be number, not a string"),
    ] {
        let r = call(
            &client,
            "close_position",
            json!({"symbol_or_asset_id": "AAPL", "qty": qty}),
        )
        .await;
        assert_eq!(r.is_error, Some(true), "{qty}: {}", text(&r));
        assert!(text(&r).contains(says), "{qty}: {}", text(&r));
    }
    assert!(deletes(&mock).is_empty(), "nothing sent for a bad qty");
    // A boolean as "true"/"false" only.
    let r = call(
        &client,
        "close_all_positions",
        json!({"cancel_orders": "yes"}),
    )
    .await;
    assert!(
        text(&r).contains("must be boolean, not a string"),
        "{}",
        text(&r)
    );
    assert!(deletes(&mock).is_empty());
    let r = call(
        &client,
        "close_all_positions",
        json!({"cancel_orders": "true"}),
    )
    .await;
    assert_eq!(r.is_error, Some(false), "{}", text(&r));
    let sent: Vec<_> = deletes(&mock)
        .into_iter()
        .filter(|q| q.contains_key("cancel_orders"))
        .collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["cancel_orders"], "true");
}

#[tokio::test]
async fn an_integer_written_as_a_string_is_read_and_a_fraction_is_refused() {
    let mock = mock().await;
    let client = connect(&config_for(&mock)).await;
    mock.clear_requests();
    let r = call(
        &client,
        "get_orders",
        json!({"status": "all", "limit": "3"}),
    )
    .await;
    assert_eq!(r.is_error, Some(false), "{}", text(&r));
    let asked: Vec<Value> = mock
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path == "/v2/orders")
        .map(|r| json!(r.query))
        .collect();
    assert_eq!(asked.len(), 1);
    assert!(
        asked[0].as_str().unwrap_or_default().contains("limit=3"),
        "{asked:?}"
    );
    mock.clear_requests();
    let r = call(
        &client,
        "get_orders",
        json!({"status": "all", "limit": "2.5"}),
    )
    .await;
    assert_eq!(r.is_error, Some(true), "{}", text(&r));
    assert!(text(&r).contains("argument `limit`"), "{}", text(&r));
    assert!(mock.requests().is_empty());
}

/// A nullable argument is listed without `null` in its type (the Inspector's `--strict`
/// warned on `["string","null"]`), and an explicit `null` still reads as leaving it out.
#[tokio::test]
async fn a_nullable_argument_is_one_type_and_null_still_means_absent() {
    let mock = mock().await;
    let client = connect(&config_for(&mock)).await;
    let tools = client.list_all_tools().await.unwrap();
    let locate = tools
        .iter()
        .find(|t| t.name == "create_locate")
        .expect("create_locate is listed");
    let schema = serde_json::to_value(&locate.input_schema).unwrap();
    assert_eq!(
        schema["properties"]["limit_price"]["type"], "string",
        "{schema}"
    );
    for t in &tools {
        let s = serde_json::to_value(&t.input_schema).unwrap();
        for (name, p) in s["properties"].as_object().into_iter().flatten() {
            assert!(
                !p["type"]
                    .as_array()
                    .is_some_and(|a| a.contains(&json!("null"))),
                "{}.{name} lists null",
                t.name
            );
        }
    }
    mock.clear_requests();
    let r = call(
        &client,
        "create_locate",
        json!({"symbol": "AAPL", "qty": 100, "limit_price": null}),
    )
    .await;
    assert!(!text(&r).contains("argument `limit_price`"), "{}", text(&r));
    // The fake's answer (AAPL is easy to borrow) does not matter: the request went out once.
    let posts = posted(&mock, "/v1/locates");
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert!(
        posts[0].get("limit_price").is_none_or(Value::is_null),
        "{}",
        posts[0]
    );
}
