//! Garbage in, Alpaca-shaped errors out: no request makes the mock fail (5xx)
//! or drop the connection.

use crate::common;

use std::path::PathBuf;

use common::Harness;
use serde_json::Value;

const GARBAGE_QUERY: &[(&str, &str)] = &[
    ("symbols", "é,,AAPL,%%"),
    ("symbol", "€"),
    ("start", "2024-13-45T99:99:99Z"),
    ("end", "€"),
    ("limit", "99999999999999999999999"),
    ("timeframe", "😀"),
    ("qty", "1e999"),
    ("percentage", "-5"),
    ("period", "1é"),
    ("page_token", "ffff"),
    ("name", "é"),
    ("ca_types", "Nope"),
    ("since", "x"),
    ("until", "y"),
    ("isins", "é"),
    ("currency_pairs", "ééé"),
    ("client_order_id", "é"),
    ("client_request_id", "é"),
    ("tape", "Z"),
    ("feed", "é"),
    ("markets", "é"),
    ("time", "é"),
    ("top", "-1"),
    ("activity_types", "é"),
];

const BODIES: &[&str] = &[
    "{",
    "[]",
    "null",
    r#"{"qty": 1e308, "notional": "99999999999999999999", "symbol": "é", "side": "buy", "type": "market", "time_in_force": "day"}"#,
    r#"{"symbol": "AAPL", "qty": "0.000000001", "side": "sell", "type": "trailing_stop", "trail_percent": "1e-300", "time_in_force": "gtc", "legs": "x"}"#,
    r#"{"name": 5, "symbols": [1, 2], "symbol": ["AAPL"], "travel_rule_info": 3}"#,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_never_breaks_the_mock() {
    let h = Harness::default().await;
    // Something to act on.
    h.mock
        .state()
        .place_order(serde_json::json!({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market", "time_in_force": "day"}))
        .unwrap();
    let specs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../specs");
    let mut problems = Vec::new();
    for name in ["trading-api.json", "market-data-api.json"] {
        let doc: Value =
            serde_json::from_str(&std::fs::read_to_string(specs.join(name)).unwrap()).unwrap();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                    continue;
                }
                for param in [
                    "%C3%A9",
                    "AAPL",
                    "00000000-0000-4000-8000-000000000000",
                    "..",
                    "%00",
                ] {
                    let mut p = path.clone();
                    while let (Some(a), Some(b)) = (p.find('{'), p.find('}')) {
                        p.replace_range(a..=b, param);
                    }
                    for body in BODIES {
                        let url = h.url(&p, GARBAGE_QUERY);
                        let m = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes())
                            .unwrap();
                        let resp = h
                            .http
                            .request(m, url)
                            .header("content-type", "application/json")
                            .body(body.to_string())
                            .send()
                            .await;
                        match resp {
                            Ok(r) if r.status().is_server_error() => {
                                problems.push(format!("{method} {p} {body}: {}", r.status()))
                            }
                            Ok(_) => {}
                            Err(e) => problems.push(format!("{method} {p} {body}: {e}")),
                        }
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
