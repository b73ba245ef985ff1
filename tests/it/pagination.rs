//! Generated list tools follow their pages: `next_page_token` lists (news, over the fake) and
//! cursor lists (account activities, whose next `page_token` is the last item's id), bounded
//! by `limit` (items in all) and the server's page cap, each page within Alpaca's own page bound, and a
//! failing later page returns what was read with the token to continue from.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use support::*;

fn meta(r: &rmcp::model::CallToolResult) -> Value {
    support::envelope(r)["meta"].clone()
}

fn ids(items: &Value) -> Vec<String> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].to_string())
        .collect()
}

#[tokio::test]
async fn news_pages_are_read_within_alpacas_bound_up_to_limit() {
    let mock = mock().await;
    // 120 news items are more than the default result budget holds.
    let mut config = config_for(&mock);
    config.output.max_chars = 1_000_000;
    let client = connect(&config).await;

    // What one page of 50 (Alpaca's largest) and the next 70 hold, read directly.
    let first_r = call(&client, "get_news", json!({"limit": 50})).await;
    let first = data(&first_r);
    let token = meta(&first_r)["next_page_token"]
        .as_str()
        .or(first["next_page_token"].as_str())
        .expect("more news")
        .to_string();
    mock.clear_requests();

    let r = call(&client, "get_news", json!({"limit": 120})).await;
    let d = data(&r);
    let got = ids(&d["news"]);
    assert_eq!(got.len(), 120);
    assert_eq!(got[..50], ids(&first["news"])[..], "page one comes first");
    let distinct: std::collections::HashSet<_> = got.iter().collect();
    assert_eq!(distinct.len(), 120, "no item twice");
    let sent = queries(&mock, "/v1beta1/news");
    let limits: Vec<_> = sent.iter().map(|q| q["limit"].clone()).collect();
    assert_eq!(limits, ["50", "50", "20"], "each page within Alpaca's 50");
    assert_eq!(sent[0].get("page_token"), None);
    assert_eq!(sent[1]["page_token"], token);
    let m = meta(&r);
    assert_eq!(
        (m["pages"].as_u64(), m["items"].as_u64()),
        (Some(3), Some(120))
    );
    assert_eq!(m["more_available"], true);
    // The token that continues is said once, in meta.
    assert!(
        m["next_page_token"].is_string() && d.get("next_page_token").is_none(),
        "{d}"
    );

    // The server's page cap bounds the walk; the token continues exactly where it stopped.
    let mut capped = config_for(&mock);
    capped.max_pages = 2;
    let capped = connect(&capped).await;
    mock.clear_requests();
    let r = call(&capped, "get_news", json!({"limit": 120})).await;
    assert_eq!(queries(&mock, "/v1beta1/news").len(), 2);
    let d = data(&r);
    assert_eq!(ids(&d["news"]), got[..100]);
    let next = meta(&r)["next_page_token"].as_str().unwrap().to_string();
    let s = &serde_json::Value::Object(support::envelope(&r));
    let said = s["summary"].as_str().unwrap();
    assert!(
        said.contains("page_token = meta.next_page_token") && !said.contains(&next),
        "{s}"
    );
    let rest = data(
        &call(
            &client,
            "get_news",
            json!({"limit": 20, "page_token": next}),
        )
        .await,
    );
    assert_eq!(ids(&rest["news"]), got[100..]);
}

#[tokio::test]
async fn without_limit_one_page_of_alpacas_default_size_is_read() {
    let mock = mock().await;
    let client = connect(&config_for(&mock)).await;
    mock.clear_requests();
    let r = call(&client, "get_news", json!({})).await;
    let sent = queries(&mock, "/v1beta1/news");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].get("limit"), None, "Alpaca's default page size");
    let m = meta(&r);
    assert_eq!(m["pages"], 1);
    assert_eq!(m["more_available"], true);
    assert_eq!(data(&r)["news"].as_array().unwrap().len(), 10);
}

#[tokio::test]
async fn a_limit_above_alpacas_page_bound_passes_validation_and_bad_ones_do_not() {
    let mock = mock().await;
    let client = connect(&config_for(&mock)).await;
    mock.clear_requests();
    for (args, needle) in [
        (json!({"limit": 0}), "limit"),
        // The page cap is the operator's (ALPACA_MAX_PAGES), not an argument.
        (json!({"max_pages": 2}), "unknown argument `max_pages`"),
        (json!({"limit": "many"}), "limit"),
    ] {
        let r = call(&client, "get_news", args.clone()).await;
        assert_eq!(r.is_error, Some(true), "{args}");
        assert!(text(&r).contains(needle), "{args}: {}", text(&r));
    }
    assert!(mock.requests().is_empty(), "nothing reached the fake");
}

type Seen = Arc<Mutex<Vec<HashMap<String, String>>>>;

/// A fake activities endpoint: `n` activities, newest first (ids `a250`, `a249`, ...), paged by
/// `page_size` (default and most 100) after the activity whose id is `page_token`, failing with
/// 422 for the token `fail_after`; the queries it saw are recorded.
async fn activities(n: usize, fail_after: Option<&'static str>) -> (String, Seen) {
    use axum::extract::{Query, State};
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    #[derive(Clone)]
    struct Fake {
        n: usize,
        fail_after: Option<&'static str>,
        seen: Seen,
    }
    async fn list(State(f): State<Fake>, Query(q): Query<HashMap<String, String>>) -> Response {
        f.seen.lock().unwrap().push(q.clone());
        if f.fail_after.is_some() && q.get("page_token").map(String::as_str) == f.fail_after {
            let body = json!({"code": 42210000, "message": "page refused"});
            return (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response();
        }
        let all: Vec<Value> = (0..f.n)
            .map(|i| json!({"id": format!("a{:03}", f.n - i), "activity_type": "FILL"}))
            .collect();
        let size: usize = q
            .get("page_size")
            .and_then(|s| s.parse().ok())
            .unwrap_or(100);
        let from = match q.get("page_token") {
            Some(t) => all
                .iter()
                .position(|a| a["id"] == **t)
                .map_or(f.n, |i| i + 1),
            None => 0,
        };
        let page: Vec<Value> = all.into_iter().skip(from).take(size.min(100)).collect();
        axum::Json(Value::Array(page)).into_response()
    }
    let seen: Seen = Arc::default();
    let app = axum::Router::new()
        .route("/v2/account/activities", axum::routing::get(list))
        .with_state(Fake {
            n,
            fail_after,
            seen: seen.clone(),
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    (url, seen)
}

async fn activities_client(n: usize, fail_after: Option<&'static str>) -> (Client, Seen) {
    let mock = mock().await;
    let (url, seen) = activities(n, fail_after).await;
    let mut config = config_for(&mock);
    config.trading_url = alpaca_mcp::config::parse_url("activities", &url).unwrap();
    let client = connect(&config).await;
    seen.lock().unwrap().clear();
    (client, seen)
}

fn sent(seen: &Seen, key: &str) -> Vec<Option<String>> {
    seen.lock()
        .unwrap()
        .iter()
        .map(|q| q.get(key).cloned())
        .collect()
}

#[tokio::test]
async fn activities_follow_the_last_id_until_limit() {
    let (client, seen) = activities_client(250, None).await;
    let r = call(&client, "get_account_activities", json!({"limit": 230})).await;
    let d = data(&r);
    let got: Vec<&str> = d
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    let want: Vec<String> = (21..=250).rev().map(|i| format!("a{i:03}")).collect();
    assert_eq!(got, want);
    assert_eq!(
        sent(&seen, "page_size"),
        [Some("100".into()), Some("100".into()), Some("30".into())]
    );
    assert_eq!(
        sent(&seen, "page_token"),
        [None, Some("a151".into()), Some("a051".into())]
    );
    assert!(
        sent(&seen, "limit").iter().all(Option::is_none),
        "limit is ours, not Alpaca's"
    );
    let m = meta(&r);
    assert_eq!(m["more_available"], true);
    assert_eq!(m["next_page_token"], "a021");
}

#[tokio::test]
async fn activities_stop_at_a_short_page_and_honour_page_size() {
    let (client, seen) = activities_client(130, None).await;
    let r = call(
        &client,
        "get_account_activities",
        json!({"limit": 1000, "page_size": 50}),
    )
    .await;
    assert_eq!(data(&r).as_array().unwrap().len(), 130);
    assert_eq!(sent(&seen, "page_size"), vec![Some("50".to_string()); 3]);
    let m = meta(&r);
    assert_eq!(
        (m["pages"].as_u64(), m["more_available"].as_bool()),
        (Some(3), Some(false))
    );
    assert_eq!(m["next_page_token"], Value::Null);

    // Without limit: one page, as Alpaca would answer it.
    seen.lock().unwrap().clear();
    let r = call(&client, "get_account_activities", json!({})).await;
    assert_eq!(data(&r).as_array().unwrap().len(), 100);
    assert_eq!(sent(&seen, "page_size"), [None]);
    assert_eq!(meta(&r)["next_page_token"], "a031");
}

#[tokio::test]
async fn a_failing_later_page_returns_what_was_read_and_where_to_continue() {
    let (client, seen) = activities_client(250, Some("a151")).await;
    let r = call(&client, "get_account_activities", json!({"limit": 250})).await;
    let d = data(&r);
    assert_eq!(d.as_array().unwrap().len(), 100);
    assert_eq!(seen.lock().unwrap().len(), 2, "a 4xx page is not retried");
    let s = &serde_json::Value::Object(support::envelope(&r));
    let summary = s["summary"].as_str().unwrap();
    assert!(summary.contains("Page 2 could not be read"), "{summary}");
    assert!(summary.contains("page refused"), "{summary}");
    assert!(
        summary.contains("page_token = meta.next_page_token"),
        "{summary}"
    );
    assert_eq!(s["meta"]["next_page_token"], "a151");
    assert_eq!(s["meta"]["more_available"], true);

    // Arguments the schema refuses (page_size above 100) are an error before any page is read.
    let (client, _) = activities_client(250, None).await;
    let r = call(
        &client,
        "get_account_activities",
        json!({"limit": 10, "page_size": 1000}),
    )
    .await;
    assert_eq!(
        r.is_error,
        Some(true),
        "page_size is still checked: {}",
        text(&r)
    );
}
