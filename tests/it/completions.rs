//! `completion/complete` through rmcp's client against the fake: the checklist prompt's
//! `symbol` offers the account's own symbols first (positions, open orders, watchlists), then
//! active assets; the position template offers held positions; after the first request
//! nothing more reaches Alpaca while the user types.

use rmcp::ServiceError;
use rmcp::model::{ArgumentInfo, CompleteRequestParams, CompletionInfo, Reference};
use serde_json::json;
use support::*;

async fn complete(client: &Client, reference: Reference, arg: &str, value: &str) -> CompletionInfo {
    client
        .complete(CompleteRequestParams::new(
            reference,
            ArgumentInfo::new(arg, value),
        ))
        .await
        .unwrap_or_else(|e| panic!("complete {arg}={value:?}: {e}"))
        .completion
}

fn checklist() -> Reference {
    Reference::for_prompt(alpaca_mcp::prompts::PRE_TRADE_CHECKLIST)
}

fn positions() -> Reference {
    Reference::for_resource(alpaca_mcp::resources::POSITION_TEMPLATE)
}

/// The paths the fake was asked for, in order.
fn paths(mock: &alpaca_mock::MockServer) -> Vec<String> {
    mock.requests().into_iter().map(|r| r.path).collect()
}

#[tokio::test]
async fn symbols_complete_from_the_account_first_then_assets_without_a_request_per_keystroke() {
    let mock = mock().await;
    let client = connect(&config_for(&mock)).await;
    let caps = client
        .peer_info()
        .expect("server info")
        .capabilities
        .clone();
    assert!(caps.completions.is_some(), "completions are advertised");

    // A position (MSFT), an open order far from the market (NVDA) and a watchlist (AMD, AAPL).
    mock.state()
        .place_order(json!({"symbol": "MSFT", "qty": "4", "side": "buy", "type": "market", "time_in_force": "day"}))
        .unwrap();
    mock.state()
        .place_order(json!({"symbol": "NVDA", "qty": "1", "side": "buy", "type": "limit", "limit_price": "1.00", "time_in_force": "gtc"}))
        .unwrap();
    let r = call(
        &client,
        "create_watchlist",
        json!({"name": "ideas", "symbols": ["AMD", "AAPL"]}),
    )
    .await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));

    mock.clear_requests();
    let all = complete(&client, checklist(), "symbol", "").await;
    assert_eq!(
        all.values[..4],
        ["MSFT", "NVDA", "AMD", "AAPL"],
        "{:?}",
        &all.values[..8]
    );
    assert_eq!(all.values.len(), 100);
    assert_eq!(all.has_more, Some(true));
    let total = all.total.unwrap() as usize;
    assert!(total > 10_000, "every active asset counts: {total}");
    // No symbol twice: AAPL is in the watchlist and among the assets.
    let mut unique = all.values.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), all.values.len());
    let first = paths(&mock);
    for p in [
        "/v2/positions",
        "/v2/orders",
        "/v2/watchlists",
        "/v2/assets",
    ] {
        assert!(first.iter().any(|x| x == p), "{p} was read: {first:?}");
    }
    assert!(
        first.iter().any(|x| x.starts_with("/v2/watchlists/")),
        "the watchlist's symbols were read: {first:?}"
    );

    // Typing on: answered from what was read, in any case, nothing more sent.
    mock.clear_requests();
    let aa = complete(&client, checklist(), "symbol", "aa").await;
    assert_eq!(
        aa.values[0], "AAPL",
        "the watchlist's symbol first: {:?}",
        aa.values
    );
    assert!(
        aa.values
            .iter()
            .all(|v| v.to_ascii_uppercase().starts_with("AA"))
    );
    assert_eq!(aa.total.unwrap() as usize, aa.values.len());
    assert_eq!(aa.has_more, Some(false));
    let ms = complete(&client, checklist(), "symbol", "Ms").await;
    assert_eq!(ms.values[0], "MSFT");
    let none = complete(&client, checklist(), "symbol", "ZZZZZZ").await;
    assert!(none.values.is_empty());
    assert_eq!(none.total, Some(0));
    assert!(paths(&mock).is_empty(), "{:?}", paths(&mock));

    // The position template offers held positions only.
    let held = complete(&client, positions(), "symbol", "").await;
    assert_eq!(held.values, ["MSFT"]);
    let held = complete(&client, positions(), "symbol", "A").await;
    assert!(held.values.is_empty(), "{:?}", held.values);
    assert!(paths(&mock).is_empty(), "{:?}", paths(&mock));
}

#[tokio::test]
async fn what_cannot_be_completed_is_an_error_naming_what_can() {
    let mock = mock().await;
    let client = connect(&config_for(&mock)).await;
    for (reference, arg, needle) in [
        (
            Reference::for_prompt("portfolio_review"),
            "symbol",
            "pre_trade_checklist",
        ),
        (
            Reference::for_prompt("nope"),
            "symbol",
            "pre_trade_checklist",
        ),
        (checklist(), "qty", "takes `symbol`"),
        (
            Reference::for_resource("alpaca://orders/{id}"),
            "id",
            "not a resource template",
        ),
    ] {
        match client
            .complete(CompleteRequestParams::new(
                reference,
                ArgumentInfo::new(arg, "A"),
            ))
            .await
        {
            Err(ServiceError::McpError(e)) => {
                assert_eq!(e.code, rmcp::model::ErrorCode::INVALID_PARAMS);
                assert!(e.message.contains(needle), "{}", e.message);
            }
            other => panic!("expected an error, got {other:?}"),
        }
    }
    assert!(
        mock.requests().is_empty(),
        "nothing was read for a refused request"
    );
}
