//! The response cache against the fake: fewer calls to Alpaca, writes that invalidate, stale
//! answers through a brief outage (for reference data only), and the memory bound.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alpaca_mcp::cache::CacheConfig;
use alpaca_mcp::{AlpacaTools, Config};
use alpaca_mock::{Fault, FaultKind, MockServer};
use serde_json::json;
use support::*;

fn hits(mock: &MockServer, method: &str, path: &str) -> usize {
    mock.requests()
        .iter()
        .filter(|r| r.method == method && r.path == path)
        .count()
}

fn cached(mock: &MockServer, cache: CacheConfig) -> Config {
    let mut c = config_for(mock);
    c.cache = cache;
    c
}

/// A clock for the cache that moves only when told: the tools, and a handle that moves it on.
fn with_manual_clock(config: &Config) -> (AlpacaTools, Arc<Mutex<Instant>>) {
    let tools = AlpacaTools::new(config).expect("tools");
    let now = Arc::new(Mutex::new(Instant::now()));
    let read = now.clone();
    tools
        .cache()
        .set_clock(Arc::new(move || *read.lock().unwrap()));
    (tools, now)
}

fn advance(clock: &Mutex<Instant>, by: Duration) {
    *clock.lock().unwrap() += by;
}

#[tokio::test]
async fn a_second_identical_lookup_within_its_ttl_reaches_alpaca_once() {
    let mock = mock().await;
    let (tools, clock) = with_manual_clock(&cached(
        &mock,
        CacheConfig {
            max_ttl: Some(Duration::from_millis(300)),
            ..CacheConfig::default()
        },
    ));
    let client = connect_tools(tools).await;
    mock.clear_requests();
    let first = data(&call(&client, "get_asset", json!({"symbol_or_asset_id": "AAPL"})).await);
    let second = data(&call(&client, "get_asset", json!({"symbol_or_asset_id": "AAPL"})).await);
    assert_eq!(first, second);
    assert_eq!(
        hits(&mock, "GET", "/v2/assets/AAPL"),
        1,
        "served from the cache"
    );
    advance(&clock, Duration::from_millis(400));
    data(&call(&client, "get_asset", json!({"symbol_or_asset_id": "AAPL"})).await);
    assert_eq!(
        hits(&mock, "GET", "/v2/assets/AAPL"),
        2,
        "after the TTL Alpaca is asked again"
    );

    // Account data is never cached.
    data(&call(&client, "get_account_info", json!({})).await);
    data(&call(&client, "get_account_info", json!({})).await);
    assert_eq!(hits(&mock, "GET", "/v2/account"), 2);
}

#[tokio::test]
async fn a_watchlist_update_invalidates_the_cached_watchlist() {
    let mock = mock().await;
    let client = connect(&cached(&mock, CacheConfig::default())).await;
    let list = data(
        &call(
            &client,
            "create_watchlist",
            json!({"name": "cache-test", "symbols": ["AAPL"]}),
        )
        .await,
    );
    let id = list["id"].as_str().unwrap().to_string();
    let path = format!("/v2/watchlists/{id}");
    mock.clear_requests();
    data(&call(&client, "get_watchlist_by_id", json!({"watchlist_id": id})).await);
    data(&call(&client, "get_watchlist_by_id", json!({"watchlist_id": id})).await);
    assert_eq!(hits(&mock, "GET", &path), 1);
    data(
        &call(
            &client,
            "update_watchlist_by_id",
            json!({"watchlist_id": id, "name": "cache-test", "symbols": ["MSFT"]}),
        )
        .await,
    );
    let after = data(&call(&client, "get_watchlist_by_id", json!({"watchlist_id": id})).await);
    assert_eq!(
        hits(&mock, "GET", &path),
        2,
        "the update dropped the cached copy"
    );
    assert_eq!(after["assets"][0]["symbol"], "MSFT");
}

#[tokio::test]
async fn an_outage_serves_stale_reference_data_but_never_account_data() {
    let mock = mock().await;
    let (tools, clock) = with_manual_clock(&cached(
        &mock,
        CacheConfig {
            max_ttl: Some(Duration::from_millis(50)),
            ..CacheConfig::default()
        },
    ));
    let client = connect_tools(tools).await;
    let fresh = data(&call(&client, "get_asset", json!({"symbol_or_asset_id": "MSFT"})).await);
    data(&call(&client, "get_account_info", json!({})).await);
    advance(&clock, Duration::from_millis(100));

    for kind in [FaultKind::status(503), FaultKind::Drop] {
        mock.clear_faults();
        mock.inject(Fault::new("/v2/", kind.clone()));
        let r = call(&client, "get_asset", json!({"symbol_or_asset_id": "MSFT"})).await;
        let s = &serde_json::Value::Object(support::envelope(&r));
        assert_eq!(r.is_error, Some(false), "{kind:?}");
        assert_eq!(s["stale"], true, "{kind:?}");
        assert!(s["stale_age_seconds"].as_u64().is_some());
        assert!(!s["stale_because"].as_str().unwrap().is_empty());
        assert_eq!(s["data"], fresh);

        let account = call(&client, "get_account_info", json!({})).await;
        assert_eq!(
            account.is_error,
            Some(true),
            "{kind:?}: account data is never served stale"
        );
    }

    // A 4xx is never hidden behind a stale answer.
    mock.clear_faults();
    mock.inject(Fault::new("/v2/assets", FaultKind::status(404)));
    let r = call(&client, "get_asset", json!({"symbol_or_asset_id": "MSFT"})).await;
    assert_eq!(r.is_error, Some(true));
}

#[tokio::test]
async fn the_memory_bound_holds_with_many_distinct_keys() {
    let mock = mock().await;
    let client = connect(&cached(
        &mock,
        CacheConfig {
            max_entries: 10,
            ..CacheConfig::default()
        },
    ))
    .await;
    let tools = alpaca_mcp::AlpacaTools::new(&cached(
        &mock,
        CacheConfig {
            max_entries: 10,
            ..CacheConfig::default()
        },
    ))
    .unwrap();
    for symbol in [
        "AAPL", "MSFT", "NVDA", "TSLA", "SPY", "GME", "AMD", "INTC", "META", "GOOGL", "AMZN",
        "NFLX", "QQQ", "IWM",
    ] {
        tools
            .call(
                "get_asset",
                json!({"symbol_or_asset_id": symbol}).as_object().cloned(),
            )
            .await;
        call(&client, "get_asset", json!({"symbol_or_asset_id": symbol})).await;
    }
    assert!(tools.cache().len() <= 10, "{}", tools.cache().len());
    assert!(
        tools.cache().len() >= 5,
        "entries are kept: {}",
        tools.cache().len()
    );
}

#[tokio::test]
async fn cache_off_means_every_call_reaches_alpaca() {
    let mock = mock().await;
    let client = connect(&cached(
        &mock,
        CacheConfig {
            enabled: false,
            ..CacheConfig::default()
        },
    ))
    .await;
    mock.clear_requests();
    for _ in 0..3 {
        data(&call(&client, "get_asset", json!({"symbol_or_asset_id": "AAPL"})).await);
    }
    assert_eq!(hits(&mock, "GET", "/v2/assets/AAPL"), 3);
}
