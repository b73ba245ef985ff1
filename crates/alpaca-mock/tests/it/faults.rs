//! Each kind of fault, as a reqwest client sees it.

use crate::common;

use std::time::{Duration, Instant};

use alpaca_mock::{Fault, FaultKind};
use common::Harness;
use serde_json::json;

fn order(coid: &str) -> serde_json::Value {
    json!({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market", "time_in_force": "day", "client_order_id": coid})
}

#[tokio::test]
async fn delay() {
    let h = Harness::default().await;
    h.mock
        .inject(Fault::new("/v2/account", FaultKind::Delay(Duration::from_millis(300))).once());
    let t = Instant::now();
    assert_eq!(h.get("/v2/account", &[]).await.status, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
    let t = Instant::now();
    assert_eq!(h.get("/v2/account", &[]).await.status, 200);
    assert!(t.elapsed() < Duration::from_millis(300), "only once");
}

#[tokio::test]
async fn status_with_retry_after() {
    let h = Harness::default().await;
    h.mock.inject(
        Fault::new("/v2/stocks", FaultKind::rate_limited(7))
            .method("GET")
            .times(2),
    );
    for _ in 0..2 {
        let r = h.get("/v2/stocks/AAPL/trades/latest", &[]).await;
        assert_eq!(r.status, 429);
        assert_eq!(r.headers.get("retry-after").unwrap(), "7");
        assert_eq!(r.json()["code"], 42900000);
    }
    assert_eq!(
        h.get("/v2/stocks/AAPL/trades/latest", &[]).await.status,
        200
    );

    h.mock.inject(Fault::new(
        "/v2/clock",
        FaultKind::Status {
            status: 503,
            body: Some("maintenance".into()),
            headers: vec![("X-Why".into(), "test".into())],
        },
    ));
    let r = h.get("/v2/clock", &[]).await;
    assert_eq!((r.status, r.text().as_str()), (503, "maintenance"));
    assert_eq!(r.headers.get("x-why").unwrap(), "test");
    h.mock.clear_faults();
    assert_eq!(h.get("/v2/clock", &[]).await.status, 200);
}

#[tokio::test]
async fn dropped_connection() {
    let h = Harness::default().await;
    h.mock
        .inject(Fault::new("/v2/positions", FaultKind::Drop).once());
    let err = h
        .http
        .get(h.url("/v2/positions", &[]))
        .send()
        .await
        .expect_err("connection dropped");
    assert!(!err.is_status() && !err.is_timeout(), "{err:?}");
    // The server keeps serving.
    assert_eq!(h.get("/v2/positions", &[]).await.status, 200);
}

#[tokio::test]
async fn not_json_body() {
    let h = Harness::default().await;
    h.mock
        .inject(Fault::new("/v2/account", FaultKind::NotJson).once());
    let r = h.http.get(h.url("/v2/account", &[])).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.json::<serde_json::Value>().await.is_err());
}

#[tokio::test]
async fn order_recorded_although_the_answer_is_lost() {
    let h = Harness::default().await;
    h.mock.inject(
        Fault::new("/v2/orders", FaultKind::Drop)
            .method("POST")
            .once()
            .record_anyway(),
    );
    let err = h
        .http
        .post(h.url("/v2/orders", &[]))
        .json(&order("lost-1"))
        .send()
        .await;
    assert!(err.is_err());
    let found = h
        .get(
            "/v2/orders:by_client_order_id",
            &[("client_order_id", "lost-1")],
        )
        .await;
    assert_eq!(found.status, 200);
    assert_eq!(found.json()["status"], "filled");
    // A retry with the same client_order_id is refused as a duplicate.
    assert_eq!(h.post("/v2/orders", &order("lost-1")).await.status, 422);

    // Timed out: the order exists before the (late) answer.
    h.mock.inject(
        Fault::new("/v2/orders", FaultKind::Delay(Duration::from_secs(5)))
            .method("POST")
            .once()
            .record_anyway(),
    );
    let slow = h
        .http
        .post(h.url("/v2/orders", &[]))
        .json(&order("slow-1"))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(slow.expect_err("timed out").is_timeout());
    assert_eq!(
        h.get(
            "/v2/orders:by_client_order_id",
            &[("client_order_id", "slow-1")]
        )
        .await
        .status,
        200
    );

    // Without the flag a dropped order is not placed.
    h.mock.inject(
        Fault::new("/v2/orders", FaultKind::Drop)
            .method("POST")
            .once(),
    );
    assert!(
        h.http
            .post(h.url("/v2/orders", &[]))
            .json(&order("gone-1"))
            .send()
            .await
            .is_err()
    );
    assert_eq!(
        h.get(
            "/v2/orders:by_client_order_id",
            &[("client_order_id", "gone-1")]
        )
        .await
        .status,
        404
    );
}

#[tokio::test]
async fn method_filter() {
    let h = Harness::default().await;
    h.mock
        .inject(Fault::new("/v2/orders", FaultKind::status(500)).method("post"));
    assert_eq!(h.get("/v2/orders", &[]).await.status, 200);
    assert_eq!(h.post("/v2/orders", &order("x")).await.status, 500);
    assert_eq!(
        h.post("/v2/orders", &order("y")).await.status,
        500,
        "always"
    );
}
