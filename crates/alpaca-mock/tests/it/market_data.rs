//! Market data is deterministic, paginates, and honours feeds and parameters.

use crate::common;

use alpaca_mock::MockConfig;
use common::Harness;
use serde_json::Value;

const DAY: [(&str, &str); 2] = [
    ("start", "2025-01-14T14:30:00Z"),
    ("end", "2025-01-14T21:00:00Z"),
];

#[tokio::test]
async fn same_request_same_body_different_symbols_differ() {
    let h = Harness::default().await;
    let q = [
        ("symbols", "AAPL,MSFT"),
        ("timeframe", "5Min"),
        DAY[0],
        DAY[1],
    ];
    let a = h.get("/v2/stocks/bars", &q).await;
    let b = h.get("/v2/stocks/bars", &q).await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.bytes, b.bytes);
    // Another mock answers the same bytes too.
    let other = Harness::default().await;
    assert_eq!(other.get("/v2/stocks/bars", &q).await.bytes, a.bytes);

    let v = a.json();
    let aapl = &v["bars"]["AAPL"];
    let msft = &v["bars"]["MSFT"];
    assert_eq!(
        aapl.as_array().unwrap().len(),
        78,
        "a full session of 5-minute bars"
    );
    assert_ne!(aapl[0]["c"], msft[0]["c"]);
    assert_eq!(aapl[0]["t"], "2025-01-14T14:30:00Z");
    for bar in aapl.as_array().unwrap() {
        let (o, hi, lo, c) = (
            bar["o"].as_f64().unwrap(),
            bar["h"].as_f64().unwrap(),
            bar["l"].as_f64().unwrap(),
            bar["c"].as_f64().unwrap(),
        );
        assert!(lo <= o.min(c) && hi >= o.max(c), "{bar}");
    }
    // The single-symbol endpoint agrees with the multi-symbol one.
    let single = h
        .get(
            "/v2/stocks/AAPL/bars",
            &[("timeframe", "5Min"), DAY[0], DAY[1]],
        )
        .await
        .json();
    assert_eq!(&single["bars"], aapl);
    assert_eq!(single["symbol"], "AAPL");
}

#[tokio::test]
async fn pagination_walks_every_page() {
    let h = Harness::default().await;
    let mut token: Option<String> = None;
    let mut pages = 0;
    let mut seen: Vec<(String, String)> = Vec::new();
    loop {
        let mut q = vec![
            ("symbols", "AAPL,TSLA"),
            ("timeframe", "15Min"),
            ("limit", "7"),
            DAY[0],
            DAY[1],
        ];
        if let Some(t) = &token {
            q.push(("page_token", t.as_str()));
        }
        let v = h.get("/v2/stocks/bars", &q).await.json();
        let mut n = 0;
        for (sym, bars) in v["bars"].as_object().unwrap() {
            for b in bars.as_array().unwrap() {
                seen.push((sym.clone(), b["t"].as_str().unwrap().to_string()));
                n += 1;
            }
        }
        assert!(n <= 7);
        pages += 1;
        match v["next_page_token"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
        assert!(pages < 100);
    }
    // 26 fifteen-minute bars per symbol.
    assert_eq!(seen.len(), 52);
    assert_eq!(pages, 8);
    let mut dedup = seen.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), 52, "no item twice");

    // Descending order walks back in time.
    let v = h
        .get(
            "/v2/stocks/AAPL/trades",
            &[DAY[0], DAY[1], ("limit", "3"), ("sort", "desc")],
        )
        .await
        .json();
    let ts: Vec<&str> = v["trades"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["t"].as_str().unwrap())
        .collect();
    assert!(ts[0] > ts[1] && ts[1] > ts[2]);
    assert!(v["next_page_token"].is_string());
}

#[tokio::test]
async fn sip_needs_entitlement_for_recent_data() {
    let free = Harness::default().await;
    let r = free
        .get(
            "/v2/stocks/bars",
            &[("symbols", "AAPL"), ("timeframe", "1Min"), ("feed", "sip")],
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json()["message"],
        "subscription does not permit querying recent SIP data"
    );
    assert_eq!(
        free.get("/v2/stocks/AAPL/trades/latest", &[("feed", "sip")])
            .await
            .status,
        403
    );
    // Older SIP data is fine, and so is IEX; without a feed the default is IEX.
    let old = free
        .get(
            "/v2/stocks/bars",
            &[
                ("symbols", "AAPL"),
                ("timeframe", "1Min"),
                ("feed", "sip"),
                DAY[0],
                DAY[1],
            ],
        )
        .await;
    assert_eq!(old.status, 200);
    let latest = free.get("/v2/stocks/AAPL/trades/latest", &[]).await.json();
    assert_eq!(latest["trade"]["x"], "V");

    let paid = Harness::start(MockConfig {
        sip_entitled: true,
        ..MockConfig::default()
    })
    .await;
    let r = paid
        .get(
            "/v2/stocks/bars",
            &[("symbols", "AAPL"), ("timeframe", "1Min"), ("feed", "sip")],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json()["bars"]["AAPL"].as_array().unwrap().len(),
        60,
        "09:30 to 10:30"
    );
    // Entitlement can change at run time.
    free.mock.state().set_sip_entitled(true);
    assert_eq!(
        free.get("/v2/stocks/AAPL/trades/latest", &[("feed", "sip")])
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn bad_parameters_are_400() {
    let h = Harness::default().await;
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("/v2/stocks/bars", vec![("timeframe", "1Min")]),
        ("/v2/stocks/bars", vec![("symbols", "AAPL")]),
        (
            "/v2/stocks/bars",
            vec![("symbols", "AAPL"), ("timeframe", "7Fortnight")],
        ),
        (
            "/v2/stocks/bars",
            vec![("symbols", "AAPL"), ("timeframe", "1Min"), ("limit", "0")],
        ),
        (
            "/v2/stocks/bars",
            vec![
                ("symbols", "AAPL"),
                ("timeframe", "1Min"),
                ("start", "yesterday"),
            ],
        ),
        (
            "/v2/stocks/bars",
            vec![
                ("symbols", "AAPL"),
                ("timeframe", "1Min"),
                ("feed", "nasdaq"),
            ],
        ),
        (
            "/v2/stocks/bars",
            vec![
                ("symbols", "AAPL"),
                ("timeframe", "1Min"),
                ("page_token", "zz"),
            ],
        ),
        (
            "/v2/stocks/bars",
            vec![
                ("symbols", "AAPL"),
                ("timeframe", "1Min"),
                ("sort", "sideways"),
            ],
        ),
        (
            "/v1beta3/crypto/us/bars",
            vec![("symbols", "BTCUSD"), ("timeframe", "1Min")],
        ),
        ("/v1beta1/options/trades", vec![("symbols", "AAPL")]),
        (
            "/v1beta1/forex/latest/rates",
            vec![("currency_pairs", "EURO")],
        ),
        (
            "/v1beta1/fixed_income/latest/prices",
            vec![("isins", "nope")],
        ),
        ("/v1beta1/news", vec![("limit", "51")]),
    ];
    for (path, q) in cases {
        let r = h.get(path, &q).await;
        assert_eq!(r.status, 400, "{path} {q:?} -> {}", r.text());
        assert!(r.json()["message"].is_string());
    }
}

#[tokio::test]
async fn any_symbol_has_data() {
    let h = Harness::default().await;
    let v = h
        .get("/v2/stocks/snapshots", &[("symbols", "ZZZQ,AAPL")])
        .await
        .json();
    assert!(v["ZZZQ"]["latestTrade"]["p"].as_f64().unwrap() > 0.0);
    let c = h
        .get(
            "/v1beta3/crypto/us/latest/orderbooks",
            &[("symbols", "PEPE/USD")],
        )
        .await
        .json();
    let book = &c["orderbooks"]["PEPE/USD"];
    assert_eq!(book["b"].as_array().unwrap().len(), 20);
    assert!(book["b"][0]["p"].as_f64() < book["a"][0]["p"].as_f64());
    let chain = h
        .get("/v1beta1/options/snapshots/QQQ", &[("limit", "3")])
        .await
        .json();
    let snaps = chain["snapshots"].as_object().unwrap();
    assert_eq!(snaps.len(), 3);
    assert!(snaps.values().all(|s| s["greeks"]["delta"].is_number()));
    assert!(chain["next_page_token"].is_string());
}

#[tokio::test]
async fn crypto_trades_around_the_clock() {
    let h = Harness::default().await;
    // A Saturday: no stock bars, crypto bars every minute.
    let sat = [
        ("start", "2025-01-11T10:00:00Z"),
        ("end", "2025-01-11T10:59:00Z"),
    ];
    let s = h
        .get(
            "/v2/stocks/bars",
            &[("symbols", "AAPL"), ("timeframe", "1Min"), sat[0], sat[1]],
        )
        .await
        .json();
    assert_eq!(s["bars"].as_object().unwrap().len(), 0);
    let c = h
        .get(
            "/v1beta3/crypto/us/bars",
            &[
                ("symbols", "BTC/USD"),
                ("timeframe", "1Min"),
                sat[0],
                sat[1],
            ],
        )
        .await
        .json();
    let bars: &Vec<Value> = c["bars"]["BTC/USD"].as_array().unwrap();
    assert_eq!(bars.len(), 60);
    assert!(bars[0]["v"].is_f64());
}

/// Counts a chain's contracts by following its pages of 1,000.
async fn chain_size(h: &Harness, underlying: &str) -> (usize, std::collections::BTreeSet<String>) {
    let mut n = 0;
    let mut expirations = std::collections::BTreeSet::new();
    let mut token: Option<String> = None;
    loop {
        let mut q = vec![("limit", "1000".to_string())];
        if let Some(t) = &token {
            q.push(("page_token", t.clone()));
        }
        let q: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let page = h
            .get(&format!("/v1beta1/options/snapshots/{underlying}"), &q)
            .await
            .json();
        let snaps = page["snapshots"]
            .as_object()
            .unwrap_or_else(|| panic!("{page}"));
        for symbol in snaps.keys() {
            n += 1;
            // The OCC symbol's date: the six digits after the root.
            expirations.insert(symbol[underlying.len()..underlying.len() + 6].to_string());
        }
        match page["next_page_token"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => return (n, expirations),
        }
    }
}

#[tokio::test]
async fn volumes_are_realistic_a_liquid_chain_has_thousands_of_contracts_and_news_has_bodies() {
    let h = Harness::default().await;
    let (spy, spy_dates) = chain_size(&h, "SPY").await;
    eprintln!("SPY: {spy} contracts, {} expirations", spy_dates.len());
    assert!(spy > 5_000, "SPY: {spy} contracts");
    assert!(
        spy_dates.len() >= 25,
        "SPY: {} expirations",
        spy_dates.len()
    );
    let (aapl, aapl_dates) = chain_size(&h, "AAPL").await;
    eprintln!("AAPL: {aapl} contracts, {} expirations", aapl_dates.len());
    assert!((200..2_000).contains(&aapl), "AAPL: {aapl} contracts");
    assert!(
        aapl_dates.len() >= 10,
        "AAPL: {} expirations",
        aapl_dates.len()
    );

    let news = h
        .get(
            "/v1beta1/news",
            &[
                ("symbols", "AAPL"),
                ("limit", "10"),
                ("include_content", "true"),
            ],
        )
        .await
        .json();
    let bodies: Vec<usize> = news["news"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["content"].as_str().unwrap().len())
        .collect();
    assert!(
        bodies.iter().all(|b| (1_500..10_000).contains(b)),
        "{bodies:?}"
    );
    // Minute bars over weeks: every session of the two weeks (nine: 2025-01-09 was a market
    // holiday), on IEX most of its 390 minutes.
    let bars = h
        .get(
            "/v2/stocks/bars",
            &[
                ("symbols", "AAPL"),
                ("timeframe", "1Min"),
                ("start", "2025-01-06T00:00:00Z"),
                ("end", "2025-01-17T23:59:00Z"),
                ("limit", "10000"),
                ("feed", "iex"),
            ],
        )
        .await
        .json();
    let n = bars["bars"]["AAPL"]
        .as_array()
        .unwrap_or_else(|| panic!("{bars}"))
        .len();
    assert!(n > 2_000, "two weeks of minute bars: {n}");
}
