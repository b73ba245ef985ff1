//! Requests go only where they were configured to go: a redirect from Alpaca's host is never
//! followed (neither the key headers nor an order's body reach the host it names), and a
//! request that cannot be sent is refused before sending, without a retry and without being
//! reported as "may have reached Alpaca". Every test counts what each fake received.

use alpaca_mock::{Fault, FaultKind, MockServer};
use serde_json::json;
use support::*;

fn count(mock: &MockServer, method: &str, path: &str) -> usize {
    mock.requests()
        .iter()
        .filter(|r| r.method == method && r.path == path)
        .count()
}

#[tokio::test]
async fn a_301_or_302_on_a_read_is_an_error_naming_the_host_and_nothing_reaches_it() {
    let alpaca = mock().await;
    let elsewhere = mock().await;
    let client = connect(&config_for(&alpaca)).await;
    let other_host = elsewhere.addr().to_string();
    for status in [301, 302, 303] {
        alpaca.clear_requests();
        alpaca.inject(
            Fault::new(
                "/v2/account",
                FaultKind::redirect(status, format!("{}/v2/account", elsewhere.url())),
            )
            .once(),
        );
        let r = call(&client, "get_account_info", json!({})).await;
        assert_eq!(r.is_error, Some(true), "{status}: {}", text(&r));
        let t = text(&r);
        assert!(t.contains(&format!("HTTP {status}")), "{t}");
        assert!(t.contains(&other_host), "names the Location host: {t}");
        assert!(t.contains("not followed"), "{t}");
        assert_eq!(count(&alpaca, "GET", "/v2/account"), 1, "not retried");
    }
    assert!(
        elsewhere.requests().is_empty(),
        "the other host saw nothing, so no key header reached it: {:?}",
        elsewhere.requests()
    );
}

#[tokio::test]
async fn a_307_or_308_on_an_order_is_not_resent_and_says_the_order_may_exist() {
    let alpaca = mock().await;
    let elsewhere = mock().await;
    let client = connect(&config_for(&alpaca)).await;
    for status in [307, 308] {
        alpaca.clear_requests();
        // The first host records the order and then redirects: the worst case.
        alpaca.inject(
            Fault::new(
                "/v2/orders",
                FaultKind::redirect(status, format!("{}/v2/orders", elsewhere.url())),
            )
            .method("POST")
            .record_anyway()
            .once(),
        );
        let r = call(
            &client,
            "place_stock_order",
            json!({"symbol": "AAPL", "side": "buy", "qty": 1, "client_order_id": format!("redir-{status}")}),
        )
        .await;
        assert_eq!(r.is_error, Some(true), "{}", text(&r));
        let t = text(&r);
        assert!(t.contains("OUTCOME UNKNOWN"), "{t}");
        assert!(t.contains(&format!("HTTP {status}")), "{t}");
        assert!(t.contains(&elsewhere.addr().to_string()), "{t}");
        assert!(
            t.contains(&format!("client_order_id=redir-{status}")),
            "the id to check: {t}"
        );
        assert_eq!(count(&alpaca, "POST", "/v2/orders"), 1, "sent once");
    }
    assert!(
        elsewhere.requests().is_empty(),
        "neither the body nor the keys went to the other host: {:?}",
        elsewhere.requests()
    );
}

#[tokio::test]
async fn a_redirect_loop_makes_exactly_one_request() {
    let alpaca = mock().await;
    let client = connect(&config_for(&alpaca)).await;
    alpaca.clear_requests();
    alpaca.inject(Fault::new(
        "/v2/clock",
        FaultKind::redirect(302, "/v2/clock"),
    ));
    let r = call(&client, "get_clock", json!({})).await;
    assert_eq!(r.is_error, Some(true));
    assert!(text(&r).contains("HTTP 302"), "{}", text(&r));
    assert_eq!(count(&alpaca, "GET", "/v2/clock"), 1);
}

#[tokio::test]
async fn a_url_over_the_limit_is_refused_before_sending_and_not_called_sent() {
    let alpaca = mock().await;
    let client = connect(&config_for(&alpaca)).await;
    alpaca.clear_requests();
    // 4,000 well-formed symbols: every argument is valid, the URL alone is too long.
    let symbols: Vec<String> = (0..4000).map(|i| format!("S{i:04}")).collect();
    let r = call(
        &client,
        "get_stock_snapshot",
        json!({"symbols": symbols.join(",")}),
    )
    .await;
    assert_eq!(r.is_error, Some(true), "{}", text(&r));
    let t = text(&r);
    assert!(t.contains("not sent") && t.contains("byte limit"), "{t}");
    assert!(!t.contains("may have"), "{t}");
    assert!(alpaca.requests().is_empty(), "{:?}", alpaca.requests());
}
