//! The historical data tools: ranges relative to an injected clock, timeframe spellings, the
//! SIP -> IEX fallback, and pagination over a fake with three pages.

use std::collections::HashMap;
use std::time::{Duration, UNIX_EPOCH};

use alpaca_mcp::AlpacaTools;
use alpaca_mcp::Clock;
use alpaca_mock::{Fault, FaultKind, MockServer};
use serde_json::{Value, json};
use support::*;

/// 2025-01-15T15:30:00Z.
const NOW: u64 = 1_736_955_000;

async fn pinned(mock: &MockServer) -> Client {
    // No result budget in the way: these tests count the requests a range makes.
    let mut config = config_for(mock);
    config.output.max_chars = 1_000_000;
    let mut tools = AlpacaTools::new(&config).unwrap();
    tools.set_clock(Clock::fixed(UNIX_EPOCH + Duration::from_secs(NOW)));
    let client = connect_tools(tools).await;
    mock.clear_requests();
    client
}

#[tokio::test]
async fn start_is_now_minus_the_lookback() {
    let mock = mock().await;
    let client = pinned(&mock).await;
    let cases = [
        (
            "get_stock_bars",
            json!({"symbols": "AAPL"}),
            "/v2/stocks/bars",
            "2025-01-10T15:30:00Z",
            Some("1Day"),
        ),
        (
            "get_stock_quotes",
            json!({"symbols": "AAPL"}),
            "/v2/stocks/quotes",
            "2025-01-15T15:10:00Z",
            None,
        ),
        (
            "get_stock_trades",
            json!({"symbols": "AAPL", "minutes": 5}),
            "/v2/stocks/trades",
            "2025-01-15T15:25:00Z",
            None,
        ),
        (
            "get_crypto_bars",
            json!({"symbols": "BTC/USD"}),
            "/v1beta3/crypto/us/bars",
            "2025-01-14T15:30:00Z",
            Some("1Hour"),
        ),
        (
            "get_crypto_quotes",
            json!({"symbols": "BTC/USD"}),
            "/v1beta3/crypto/us/quotes",
            "2025-01-15T15:15:00Z",
            None,
        ),
        (
            "get_crypto_trades",
            json!({"symbols": "BTC/USD", "days": 1, "hours": 2, "minutes": 3}),
            "/v1beta3/crypto/us/trades",
            "2025-01-14T13:27:00Z",
            None,
        ),
        (
            "get_stock_bars",
            json!({"symbols": "AAPL", "start": "2025-01-02", "end": "2025-01-03"}),
            "/v2/stocks/bars",
            // A bare date keeps its whole day in the range.
            "2025-01-02T00:00:00Z",
            Some("1Day"),
        ),
    ];
    for (tool, args, path, start, timeframe) in cases {
        mock.clear_requests();
        let r = call(&client, tool, args.clone()).await;
        data(&r);
        let q = queries(&mock, path);
        assert_eq!(
            q.len(),
            1,
            "{tool} {args}: one request to {path}, saw {:?}",
            mock.requests()
        );
        assert_eq!(q[0]["start"], start, "{tool} {args}");
        assert_eq!(
            q[0].get("timeframe").map(String::as_str),
            timeframe,
            "{tool} {args}"
        );
        assert_eq!(support::envelope(&r)["meta"]["start"], start);
    }
}

#[tokio::test]
async fn timeframe_spellings_reach_alpaca_in_its_form() {
    let mock = mock().await;
    let client = pinned(&mock).await;
    for (typed, sent) in [
        ("15 minutes", "15Min"),
        ("1h", "1Hour"),
        ("4hour", "4Hour"),
        ("1 day", "1Day"),
        ("1w", "1Week"),
        ("1M", "1Month"),
        ("5m", "5Min"),
    ] {
        mock.clear_requests();
        data(
            &call(
                &client,
                "get_stock_bars",
                json!({"symbols": "AAPL", "timeframe": typed, "limit": 5}),
            )
            .await,
        );
        assert_eq!(
            queries(&mock, "/v2/stocks/bars")[0]["timeframe"],
            sent,
            "{typed}"
        );
    }
    mock.clear_requests();
    let r = call(
        &client,
        "get_crypto_bars",
        json!({"symbols": "BTC/USD", "timeframe": "fortnight"}),
    )
    .await;
    assert_eq!(r.is_error, Some(true));
    let t = text(&r);
    assert!(
        t.contains("1Min..59Min") && t.contains("Nothing was sent"),
        "{t}"
    );
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn a_refused_sip_feed_falls_back_to_iex_once_unless_sip_was_asked_for() {
    let mock = mock().await;
    let client = pinned(&mock).await;
    let refusal = || FaultKind::Status {
        status: 403,
        body: Some(r#"{"message":"subscription does not permit querying recent SIP data"}"#.into()),
        headers: vec![],
    };
    mock.inject(Fault::new("/v2/stocks/bars", refusal()).once());
    let r = call(
        &client,
        "get_stock_bars",
        json!({"symbols": "AAPL", "limit": 3}),
    )
    .await;
    let d = data(&r);
    assert!(
        d["bars"]["AAPL"].as_array().is_some_and(|b| !b.is_empty()),
        "{d}"
    );
    let s = &serde_json::Value::Object(support::envelope(&r));
    assert_eq!(s["meta"]["feed"], "iex");
    assert!(s["summary"].as_str().unwrap().contains("IEX feed"));
    let q = queries(&mock, "/v2/stocks/bars");
    assert_eq!(q.len(), 2, "one retry");
    assert_eq!(q[0].get("feed"), None);
    assert_eq!(q[1]["feed"], "iex");

    mock.clear_requests();
    mock.inject(Fault::new("/v2/stocks/bars", refusal()).once());
    let r = call(
        &client,
        "get_stock_bars",
        json!({"symbols": "AAPL", "feed": "sip"}),
    )
    .await;
    assert_eq!(r.is_error, Some(true));
    assert!(text(&r).contains("feed=iex"), "{}", text(&r));
    assert_eq!(
        queries(&mock, "/v2/stocks/bars").len(),
        1,
        "no retry when sip was asked for"
    );
}

/// A fake bars endpoint with three pages of two bars each (`limit` honoured within a page).
async fn three_pages() -> String {
    use axum::extract::Query;
    async fn bars(Query(q): Query<HashMap<String, String>>) -> axum::Json<Value> {
        let page = match q.get("page_token").map(String::as_str) {
            None => 1,
            Some("p2") => 2,
            Some("p3") => 3,
            Some(_) => return axum::Json(json!({"bars": {}, "next_page_token": null})),
        };
        let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(1000);
        let items: Vec<Value> = (0..2)
            .take(limit)
            .map(|i| json!({"t": format!("p{page}-{i}"), "c": 1.0}))
            .collect();
        let next = if page < 3 {
            json!(format!("p{}", page + 1))
        } else {
            Value::Null
        };
        axum::Json(json!({"bars": {"AAPL": items}, "next_page_token": next}))
    }
    let app = axum::Router::new().route("/v2/stocks/bars", axum::routing::get(bars));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    url
}

#[tokio::test]
async fn pages_are_followed_up_to_limit_and_the_page_cap() {
    let mock = mock().await;
    let mut config = config_for(&mock);
    config.data_url = alpaca_mcp::config::parse_url("pages", &three_pages().await).unwrap();
    let client = connect(&config).await;
    let times = |d: &Value| -> Vec<String> {
        d["bars"]["AAPL"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["t"].as_str().unwrap().to_string())
            .collect()
    };

    let r = call(&client, "get_stock_bars", json!({"symbols": "AAPL"})).await;
    let d = data(&r);
    assert_eq!(times(&d), ["p1-0", "p1-1", "p2-0", "p2-1", "p3-0", "p3-1"]);
    let meta = &support::envelope(&r)["meta"];
    assert_eq!(
        (meta["pages"].as_u64(), meta["more_available"].as_bool()),
        (Some(3), Some(false))
    );
    // The token is said once, in meta, and only while there is more.
    assert!(d.get("next_page_token").is_none() && meta.get("next_page_token").is_none());

    let mut capped = config.clone();
    capped.max_pages = 2;
    let r = call(
        &connect(&capped).await,
        "get_stock_bars",
        json!({"symbols": "AAPL"}),
    )
    .await;
    let d = data(&r);
    assert_eq!(times(&d).len(), 4);
    let s = &serde_json::Value::Object(support::envelope(&r));
    assert_eq!(s["meta"]["more_available"], true);
    assert_eq!(s["meta"]["next_page_token"], "p3");
    assert!(d.get("next_page_token").is_none(), "{d}");
    let said = s["summary"].as_str().unwrap();
    assert!(
        said.contains("page_token = meta.next_page_token") && !said.contains("p3"),
        "{said}"
    );

    let r = call(
        &client,
        "get_stock_bars",
        json!({"symbols": "AAPL", "limit": 3}),
    )
    .await;
    let d = data(&r);
    assert_eq!(times(&d), ["p1-0", "p1-1", "p2-0"], "stops at limit");
    assert_eq!(support::envelope(&r)["meta"]["next_page_token"], "p3");

    let r = call(
        &client,
        "get_stock_bars",
        json!({"symbols": "AAPL", "page_token": "p3"}),
    )
    .await;
    assert_eq!(times(&data(&r)), ["p3-0", "p3-1"], "continues from a token");
}

#[tokio::test]
async fn a_range_without_rows_says_why() {
    let mock = mock().await;
    let client = pinned(&mock).await;
    let summary = |r: &rmcp::model::CallToolResult| {
        let e = support::envelope(r);
        assert_eq!(e["meta"]["items"], 0, "{e:?}");
        e["summary"].as_str().unwrap_or_default().to_string()
    };
    for (tool, args, why) in [
        (
            "get_stock_bars",
            json!({"symbols": "AAPL", "start": "2025-01-11", "end": "2025-01-12"}),
            "falls on a weekend, when US markets are closed",
        ),
        (
            "get_stock_bars",
            json!({"symbols": "AAPL", "start": "2025-01-16"}),
            "after now (2025-01-15T15:30:00Z), and there is no data from the future",
        ),
        (
            "get_stock_bars",
            json!({"symbols": "AAPL", "start": "2025-01-14T15:00:00Z", "end": "2025-01-14T20:00:00Z"}),
            "a daily bar is stamped at midnight New York time",
        ),
        (
            "get_stock_bars",
            json!({"symbols": "AAPL", "timeframe": "1Hour", "start": "2025-01-14T02:00:00Z", "end": "2025-01-14T07:00:00Z"}),
            "outside the regular session (09:30-16:00 New York time)",
        ),
        (
            "get_stock_trades",
            json!({"symbols": "AAPL", "start": "2025-01-12T15:00:00Z", "end": "2025-01-12T15:05:00Z"}),
            "falls on a weekend",
        ),
        (
            "get_crypto_bars",
            json!({"symbols": "BTC/USD", "start": "2025-02-01"}),
            "there is no data from the future",
        ),
    ] {
        let r = call(&client, tool, args.clone()).await;
        assert_ne!(r.is_error, Some(true), "{tool} {args}: {}", text(&r));
        let said = summary(&r);
        assert!(said.contains(why), "{tool} {args}: {said}");
    }
    // The fake was asked each time, and answered nothing: the note explains, it does not guess
    // instead of asking.
    assert_eq!(mock.requests().len(), 6);
    // A range with rows says nothing of the kind.
    let r = call(&client, "get_stock_bars", json!({"symbols": "AAPL"})).await;
    let e = support::envelope(&r);
    assert!(e["meta"]["items"].as_u64().unwrap() > 0, "{e:?}");
    assert!(e.get("summary").is_none(), "{e:?}");
}
