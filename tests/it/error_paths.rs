//! Alpaca's errors reach the model as tool errors (`isError`) with the status, Alpaca's own
//! code and message, and a hint; never as protocol errors.

use std::time::Duration;

use alpaca_mock::{Fault, FaultKind, MockConfig, MockServer};
use serde_json::json;
use support::*;

#[tokio::test]
async fn unauthorized_keys_get_a_key_hint() {
    let mock = MockServer::start(MockConfig {
        keys: Some(("right".into(), "keys".into())),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let client = connect(&config_for(&mock)).await;
    let r = call(&client, "get_account_info", json!({})).await;
    assert_eq!(r.is_error, Some(true));
    let t = text(&r);
    assert!(
        t.contains("HTTP 401") && t.contains("ALPACA_API_KEY"),
        "{t}"
    );
    assert!(!t.contains("test-secret"), "the secret never appears");
}

#[tokio::test]
async fn unknown_order_is_a_404_with_a_hint() {
    let mock = mock().await;
    let client = connect(&config_for(&mock)).await;
    let r = call(
        &client,
        "get_order_by_id",
        json!({"order_id": "00000000-0000-4000-8000-000000000000"}),
    )
    .await;
    assert_eq!(r.is_error, Some(true));
    let t = text(&r);
    assert!(t.contains("HTTP 404") && t.contains("not found"), "{t}");
}

#[tokio::test]
async fn injected_statuses_are_reported_with_their_hints() {
    let mock = mock().await;
    let client = connect(&config_for(&mock)).await;
    let cases = [
        (
            FaultKind::Status {
                status: 422,
                body: Some(r#"{"code":40010001,"message":"symbols is invalid"}"#.into()),
                headers: vec![],
            },
            vec![
                "HTTP 422 (code 40010001): symbols is invalid",
                "fix that field",
            ],
        ),
        (FaultKind::rate_limited(17), vec!["HTTP 429", "wait 17 s"]),
        (
            FaultKind::status(500),
            vec!["HTTP 500", "server-side problem"],
        ),
        (
            FaultKind::Status {
                status: 403,
                body: Some(
                    r#"{"message":"subscription does not permit querying recent SIP data"}"#.into(),
                ),
                headers: vec![],
            },
            vec!["HTTP 403", "feed=iex"],
        ),
    ];
    for (kind, expected) in cases {
        mock.clear_faults();
        mock.inject(Fault::new("/v2/stocks/snapshots", kind).once());
        let r = call(&client, "get_stock_snapshot", json!({"symbols": "AAPL"})).await;
        assert_eq!(r.is_error, Some(true));
        let t = text(&r);
        for e in expected {
            assert!(t.contains(e), "expected {e:?} in {t}");
        }
    }
}

#[tokio::test]
async fn a_timeout_says_whether_the_request_may_have_arrived() {
    let mock = mock().await;
    let mut config = config_for(&mock);
    config.request_timeout = Duration::from_millis(300);
    let client = connect(&config).await;
    mock.inject(Fault::new("/v2/clock", FaultKind::Delay(Duration::from_secs(3))).once());
    let r = call(&client, "get_clock", json!({})).await;
    assert_eq!(r.is_error, Some(true));
    let t = text(&r);
    assert!(
        t.contains("timed out") && t.contains("may have reached"),
        "{t}"
    );

    mock.inject(
        Fault::new("/v2/watchlists", FaultKind::Delay(Duration::from_secs(3)))
            .method("POST")
            .once(),
    );
    let r = call(&client, "create_watchlist", json!({"name": "slow"})).await;
    let t = text(&r);
    assert!(
        t.contains("may have been applied"),
        "a write that timed out warns before retrying: {t}"
    );
}

#[tokio::test]
async fn an_unreachable_api_is_a_connection_error_that_was_not_sent() {
    let mock = mock().await;
    let mut config = config_for(&mock);
    config.trading_url = alpaca_mcp::config::parse_url("x", "http://127.0.0.1:9").unwrap();
    let client = connect(&config).await;
    let r = call(&client, "get_clock", json!({})).await;
    assert_eq!(r.is_error, Some(true));
    assert!(text(&r).contains("was not sent"), "{}", text(&r));
}

#[tokio::test]
async fn invalid_arguments_never_reach_alpaca() {
    let mock = mock().await;
    let client = connect(&config_for(&mock)).await;
    mock.clear_requests();
    for args in [
        json!({"symbols": 5}),
        json!({"symbols": "AAPL", "limit": "many"}),
        json!({"symbols": "AAPL", "sort": "sideways"}),
        json!({"symbols": "AAPL", "extra": true}),
        json!({}),
    ] {
        let r = call(&client, "get_stock_bars", args.clone()).await;
        assert_eq!(r.is_error, Some(true), "{args}");
        assert!(text(&r).contains("Nothing was sent"), "{}", text(&r));
    }
    assert!(
        mock.requests().is_empty(),
        "no request reached the fake: {:?}",
        mock.requests()
    );
}

#[tokio::test]
async fn path_parameters_cannot_escape_their_segment() {
    let mock = mock().await;
    let client = connect(&config_for(&mock)).await;
    mock.clear_requests();
    // A symbol argument is refused outright: `.` cannot start a symbol.
    let r = call(
        &client,
        "get_asset",
        json!({"symbol_or_asset_id": "../v2/account"}),
    )
    .await;
    assert_eq!(r.is_error, Some(true));
    assert!(
        text(&r).contains("argument `symbol_or_asset_id`"),
        "{}",
        text(&r)
    );
    assert!(mock.requests().is_empty(), "{:?}", mock.requests());
    // A free-form path argument is encoded into its one segment.
    let r = call(
        &client,
        "get_account_activities_by_type",
        json!({"activity_type": "../v2/account"}),
    )
    .await;
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 1, "{}", text(&r));
    assert_eq!(reqs[0].path, "/v2/account/activities/..%2Fv2%2Faccount");
    let r = call(
        &client,
        "get_account_activities_by_type",
        json!({"activity_type": ".."}),
    )
    .await;
    assert!(text(&r).contains("dot segment"), "{}", text(&r));
    assert_eq!(
        mock.requests().len(),
        1,
        "a dot segment is refused before sending"
    );
}
