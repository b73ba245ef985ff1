//! Keys are required; every request is recorded.

use crate::common;

use common::Harness;
use serde_json::json;

#[tokio::test]
async fn requests_without_keys_are_401() {
    let h = Harness::default().await;
    let bare = reqwest::Client::new();
    for path in [
        "/v2/account",
        "/v2/stocks/bars?symbols=AAPL&timeframe=1Min",
        "/v1beta1/news",
    ] {
        let r = bare
            .get(format!("{}{path}", h.mock.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401);
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(
            v,
            json!({"code": 40110000, "message": "request is not authorized"})
        );
    }
    // Only one of the two headers is not enough.
    let r = bare
        .get(format!("{}/v2/account", h.mock.url()))
        .header("APCA-API-KEY-ID", "k")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // An OAuth token is accepted.
    let r = bare
        .get(format!("{}/v2/account", h.mock.url()))
        .bearer_auth("token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test]
async fn request_log_records_and_clears() {
    let h = Harness::default().await;
    h.get("/v2/account", &[]).await;
    h.post("/v2/watchlists", &json!({"name": "w", "symbols": ["AAPL"]}))
        .await;
    h.get(
        "/v2/stocks/bars",
        &[("symbols", "AAPL"), ("timeframe", "1Min")],
    )
    .await;
    let log = h.mock.requests();
    assert_eq!(log.len(), 3);
    assert_eq!(
        (log[0].method.as_str(), log[0].path.as_str()),
        ("GET", "/v2/account")
    );
    assert_eq!(log[1].body, Some(json!({"name": "w", "symbols": ["AAPL"]})));
    assert_eq!(log[2].query.as_deref(), Some("symbols=AAPL&timeframe=1Min"));
    assert_eq!(log[0].header("apca-api-key-id"), Some("test-key"));
    assert_eq!(log[0].header("APCA-API-SECRET-KEY"), Some("<redacted>"));
    h.mock.clear_requests();
    assert!(h.mock.requests().is_empty());
    h.get("/v2/clock", &[]).await;
    assert_eq!(h.mock.requests().len(), 1);
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let h = Harness::default().await;
    let url = h.mock.url();
    assert_eq!(h.get("/v2/clock", &[]).await.status, 200);
    h.mock.shutdown().await;
    assert!(
        common::client()
            .get(format!("{url}/v2/clock"))
            .send()
            .await
            .is_err()
    );
}
