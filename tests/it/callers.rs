//! One engine, several users: a call made as a caller (`runtime::caller::as_caller`, with
//! their own Alpaca token) reaches that user's account at the fake and nobody else's, its
//! cached answers serve only that caller, and a write by one user refreshes what they see.
//! The fake's Connect tokens give each user a separate account.

use alpaca_mcp::AlpacaTools;
use alpaca_mcp::runtime::Auth;
use alpaca_mcp::runtime::caller::{Caller, as_caller};
use alpaca_mock::MockServer;
use rmcp::model::CallToolResult;
use serde_json::{Value, json};
use support::*;

async fn call_as(
    tools: &AlpacaTools,
    who: Option<(&str, &str)>,
    name: &str,
    args: Value,
) -> CallToolResult {
    let call = tools.call(name, args.as_object().cloned());
    match who {
        Some((id, token)) => {
            let caller = Caller::new(id, Auth::Bearer(token.to_string()));
            as_caller(caller, call).await
        }
        None => call.await,
    }
    .expect("an enabled tool")
}

fn symbols(r: &CallToolResult) -> Vec<String> {
    let d = data(r);
    let rows = d.as_array().cloned().unwrap_or_default();
    let mut v: Vec<String> = rows
        .iter()
        .filter_map(|o| o["symbol"].as_str().map(str::to_string))
        .collect();
    v.sort();
    v
}

fn tokens(mock: &MockServer) -> (String, String) {
    (
        mock.state().issue_token("alice", false),
        mock.state().issue_token("bob", false),
    )
}

#[tokio::test]
async fn each_callers_orders_and_positions_are_their_own() {
    let mock = mock().await;
    let tools = AlpacaTools::new(&config_for(&mock)).unwrap();
    let (a, b) = tokens(&mock);
    let alice = Some(("alice", a.as_str()));
    let bob = Some(("bob", b.as_str()));
    let placed = call_as(
        &tools,
        alice,
        "place_stock_order",
        json!({"symbol": "AAPL", "side": "buy", "qty": 1}),
    )
    .await;
    assert_eq!(placed.is_error, Some(false), "{}", text(&placed));
    let mine = call_as(&tools, alice, "get_orders", json!({"status": "all"})).await;
    let theirs = call_as(&tools, bob, "get_orders", json!({"status": "all"})).await;
    let owners = call_as(&tools, None, "get_orders", json!({"status": "all"})).await;
    assert_eq!(symbols(&mine), ["AAPL"]);
    assert!(
        symbols(&theirs).is_empty(),
        "bob sees none of alice's orders"
    );
    assert!(symbols(&owners).is_empty(), "nor does the key holder");
    let pos_b = call_as(&tools, bob, "get_all_positions", json!({})).await;
    assert!(symbols(&pos_b).is_empty());
    let pos_a = call_as(&tools, alice, "get_all_positions", json!({})).await;
    assert_eq!(symbols(&pos_a), ["AAPL"]);
    // At the fake, the order is in alice's book only.
    assert_eq!(mock.state().as_account("alice", |s| s.orders().len()), 1);
    assert_eq!(mock.state().as_account("bob", |s| s.orders().len()), 0);
    assert!(mock.state().orders().is_empty());
}

#[tokio::test]
async fn a_cached_answer_serves_only_its_caller_and_a_write_refreshes_it() {
    let mock = mock().await;
    let tools = AlpacaTools::new(&config_for(&mock)).unwrap();
    let (a, b) = tokens(&mock);
    let alice = Some(("alice", a.as_str()));
    let bob = Some(("bob", b.as_str()));
    let made = call_as(
        &tools,
        alice,
        "create_watchlist",
        json!({"name": "alice-list", "symbols": ["NVDA"]}),
    )
    .await;
    let id = data(&made)["id"].as_str().unwrap().to_string();
    let names = |r: &CallToolResult| -> Vec<String> {
        data(r)
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["name"].as_str().unwrap().to_string())
            .collect()
    };
    mock.clear_requests();
    // get_watchlists is cached: alice's answer fills the cache, bob's must not come from it.
    let seen_a = call_as(&tools, alice, "get_watchlists", json!({})).await;
    let seen_a_again = call_as(&tools, alice, "get_watchlists", json!({})).await;
    let seen_b = call_as(&tools, bob, "get_watchlists", json!({})).await;
    assert_eq!(names(&seen_a), ["alice-list"]);
    assert_eq!(names(&seen_a_again), ["alice-list"]);
    assert!(
        names(&seen_b).is_empty(),
        "bob is never served alice's cached list"
    );
    let reads = mock
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path == "/v2/watchlists")
        .count();
    assert_eq!(
        reads, 2,
        "alice's second read came from the cache; bob's reached Alpaca"
    );
    // Alice renames her list; her next read is fresh.
    let renamed = call_as(
        &tools,
        alice,
        "update_watchlist_by_id",
        json!({"watchlist_id": id, "name": "renamed", "symbols": ["NVDA"]}),
    )
    .await;
    assert_eq!(renamed.is_error, Some(false), "{}", text(&renamed));
    let after = call_as(&tools, alice, "get_watchlists", json!({})).await;
    assert_eq!(names(&after), ["renamed"]);
}

#[tokio::test]
async fn a_revoked_callers_calls_fail_and_others_go_on() {
    let mock = mock().await;
    let tools = AlpacaTools::new(&config_for(&mock)).unwrap();
    let (a, b) = tokens(&mock);
    assert!(mock.state().revoke_token(&a));
    let r = call_as(&tools, Some(("alice", &a)), "get_account_info", json!({})).await;
    assert_eq!(r.is_error, Some(true));
    assert!(text(&r).contains("401"), "{}", text(&r));
    let ok = call_as(&tools, Some(("bob", &b)), "get_account_info", json!({})).await;
    assert_eq!(ok.is_error, Some(false), "{}", text(&ok));
    assert!(!text(&r).contains(&a), "the token is never in a result");
}

#[tokio::test]
async fn the_order_limit_and_completions_are_per_caller() {
    let mock = mock().await;
    let mut config = config_for(&mock);
    config.safety.max_orders_per_minute = Some(1);
    let tools = AlpacaTools::new(&config).unwrap();
    let (a, b) = tokens(&mock);
    let alice = Some(("alice", a.as_str()));
    let bob = Some(("bob", b.as_str()));
    let order = |symbol: &str| json!({"symbol": symbol, "side": "buy", "qty": 1});
    mock.clear_requests();
    let first = call_as(&tools, alice, "place_stock_order", order("AAPL")).await;
    assert_eq!(first.is_error, Some(false), "{}", text(&first));
    let second = call_as(&tools, alice, "place_stock_order", order("AAPL")).await;
    assert!(
        text(&second).contains("ALPACA_MAX_ORDERS_PER_MINUTE=1"),
        "{}",
        text(&second)
    );
    let bobs = call_as(&tools, bob, "place_stock_order", order("MSFT")).await;
    assert_eq!(
        bobs.is_error,
        Some(false),
        "bob's minute is his own: {}",
        text(&bobs)
    );
    assert_eq!(posted(&mock, "/v2/orders").len(), 2);

    // Completions from each caller's own positions.
    let held = |id: &'static str, token: String| {
        let tools = &tools;
        async move {
            let caller = Caller::new(id, Auth::Bearer(token));
            as_caller(
                caller,
                tools.complete(alpaca_mcp::completion::Source::Positions, ""),
            )
            .await
        }
    };
    assert_eq!(held("alice", a.clone()).await.values, ["AAPL"]);
    assert_eq!(held("bob", b.clone()).await.values, ["MSFT"]);
    assert!(
        tools
            .complete(alpaca_mcp::completion::Source::Positions, "")
            .await
            .values
            .is_empty(),
        "the key holder's account holds nothing"
    );
}
