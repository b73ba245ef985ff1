//! Every tool `tools/list` offers, called with valid arguments against the sandbox's fake
//! Alpaca, over stdio and streamable HTTP, must succeed (`isError: false`).
//!
//! Arguments come from one table ([`args`]), keyed by tool name; ids come from earlier calls
//! ([`learn`]), so the calls run in [`PLAN`]'s order: reads first, then the calls that change
//! or remove what the reads found. A tool the table does not cover fails the test before
//! anything is called, so a new tool cannot slip through untested.

use crate::common;

use std::collections::BTreeMap;
use std::time::Instant;

use alpaca_mcp::TOOLSETS;
use common::*;
use serde_json::{Value, json};

/// The order calls run in. A tool may appear more than once (each call is one entry); tools
/// of toolsets that are not enabled are skipped. Reads that discover ids come before the
/// calls that use them; destructive calls come last.
const PLAN: &[&str] = &[
    // account
    "get_account_info",
    "get_account_config",
    "update_account_config",
    "get_account_activities",
    "get_account_activities_by_type",
    "get_portfolio_history",
    // trading: reads (the sandbox's demo account has positions and open orders)
    "get_orders",
    "get_order_by_id",
    "get_order_by_client_id",
    "get_all_positions",
    "get_open_position",
    // assets
    "get_all_assets",
    "get_asset",
    "get_calendar",
    "get_clock",
    "get_corporate_action_announcements",
    "get_corporate_action_announcement",
    "get_option_contracts",
    "get_option_contract",
    // trading: new orders (hand-written tools)
    "place_stock_order",
    "place_crypto_order",
    "place_option_order",
    // watchlists: one by id, one by name
    "get_watchlists",
    "create_watchlist",
    "create_watchlist",
    "get_watchlist_by_id",
    "update_watchlist_by_id",
    "add_asset_to_watchlist_by_id",
    "remove_asset_from_watchlist_by_id",
    "get_watchlist_by_name",
    "add_asset_to_watchlist_by_name",
    "update_watchlist_by_name",
    // stock data
    "get_most_active_stocks",
    "get_market_movers",
    "get_stock_bars",
    "get_stock_latest_bar",
    "get_stock_quotes",
    "get_stock_latest_quote",
    "get_stock_snapshot",
    "get_stock_trades",
    "get_stock_latest_trade",
    "get_stock_bars_single",
    "get_stock_latest_bar_single",
    "get_stock_quotes_single",
    "get_stock_latest_quote_single",
    "get_stock_snapshot_single",
    "get_stock_trades_single",
    "get_stock_latest_trade_single",
    "get_stock_auctions",
    "get_stock_auctions_single",
    // crypto data
    "get_crypto_bars",
    "get_crypto_latest_bar",
    "get_crypto_latest_orderbook",
    "get_crypto_latest_quote",
    "get_crypto_latest_trade",
    "get_crypto_quotes",
    "get_crypto_snapshot",
    "get_crypto_trades",
    // options data
    "get_option_bars",
    "get_option_exchange_codes",
    "get_option_latest_quote",
    "get_option_latest_trade",
    "get_option_snapshot",
    "get_option_chain",
    "get_option_trades",
    // other market data
    "get_corporate_actions",
    "get_news",
    "get_fixed_income_latest_quotes",
    "get_fixed_income_latest_prices",
    "get_forex_latest_rates",
    "get_forex_rates",
    "get_market_calendar",
    "get_market_clock",
    "get_option_condition_codes",
    "get_stock_condition_codes",
    "get_stock_exchange_codes",
    // locates
    "get_locate_quotes",
    "create_locate",
    "get_locates",
    "get_locate",
    // tokenization
    "mint_tokenized_asset",
    "get_tokenization_requests",
    "get_tokenization_request",
    "get_tokenization_request_by_client_id",
    // crypto funding
    "get_crypto_wallets",
    "get_crypto_transfer_fee_estimate",
    "get_crypto_transfers",
    "get_crypto_transfer",
    "search_vasps",
    "create_whitelisted_address",
    "get_whitelisted_addresses",
    "update_whitelisted_address_travel_rule",
    // destructive, after the reads that needed the state
    "do_not_exercise_options_position",
    "replace_order_by_id",
    "cancel_order_by_id",
    "close_position",
    "exercise_options_position",
    "delete_watchlist_by_id",
    "delete_watchlist_by_name",
    "delete_whitelisted_address",
    "cancel_all_orders",
    "close_all_positions",
];

/// A past hour of the fake's regular session (its clock is frozen on 2025-01-15).
const START: &str = "2025-01-14T14:30:00Z";
const END: &str = "2025-01-14T15:30:00Z";
const ISINS: &str = "US912797KJ59,US91282CJL54";

/// What earlier calls discovered. A dry run (the coverage check) answers placeholders.
#[derive(Default)]
struct Ids {
    dry: bool,
    map: BTreeMap<&'static str, String>,
}

/// An id a call needs that no earlier call discovered.
struct Missing(&'static str);

impl Ids {
    fn get(&self, key: &'static str) -> Result<String, Missing> {
        match self.map.get(key) {
            Some(v) => Ok(v.clone()),
            None if self.dry => Ok(format!("<{key}>")),
            None => Err(Missing(key)),
        }
    }

    fn set(&mut self, key: &'static str, value: Option<&str>) {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            self.map.insert(key, v.to_string());
        }
    }
}

/// The arguments of each tool: `Ok(None)` when the table does not know the tool.
fn args(tool: &str, ids: &Ids) -> Result<Option<Value>, Missing> {
    let window = |mut v: Value| {
        v["start"] = json!(START);
        v["end"] = json!(END);
        v["limit"] = json!(5);
        v
    };
    Ok(Some(match tool {
        // account
        "get_account_info" | "get_account_config" => json!({}),
        "update_account_config" => {
            json!({"trade_confirm_email": "none", "fractional_trading": true})
        }
        "get_account_activities" => {
            json!({"activity_types": ["FILL", "CSD"], "direction": "desc", "page_size": 10})
        }
        "get_account_activities_by_type" => json!({"activity_type": "FILL", "page_size": 10}),
        "get_portfolio_history" => json!({"period": "1W", "timeframe": "1D"}),

        // trading
        "get_orders" => json!({"status": "all", "limit": 100, "direction": "asc", "nested": true}),
        "get_order_by_id" => json!({"order_id": ids.get("open_order")?, "nested": true}),
        "get_order_by_client_id" => json!({"client_order_id": ids.get("client_order_id")?}),
        "get_all_positions" | "cancel_all_orders" => json!({}),
        "get_open_position" => json!({"symbol_or_asset_id": ids.get("stock_position")?}),
        "place_stock_order" => json!({"symbol": "AAPL", "side": "buy", "qty": "1"}),
        "place_crypto_order" => json!({"symbol": "BTC/USD", "side": "buy", "qty": "0.001"}),
        "place_option_order" => json!({
            "symbol": ids.get("contract")?, "side": "buy", "qty": "1", "position_intent": "buy_to_open",
        }),
        "do_not_exercise_options_position" | "exercise_options_position" => {
            json!({"symbol_or_contract_id": ids.get("option_position")?})
        }
        "replace_order_by_id" => {
            json!({"order_id": ids.get("open_order")?, "qty": "3", "time_in_force": "gtc"})
        }
        "cancel_order_by_id" => json!({"order_id": ids.get("replacement_order")?}),
        "close_position" => json!({"symbol_or_asset_id": ids.get("stock_position")?, "qty": 2}),
        "close_all_positions" => json!({"cancel_orders": true}),

        // watchlists
        "get_watchlists" => json!({}),
        "create_watchlist" => match ids.map.contains_key("watchlist_id") {
            false => json!({"name": "every-tool", "symbols": ["AAPL", "MSFT"]}),
            true => json!({"name": "every-tool-by-name", "symbols": ["NVDA"]}),
        },
        "get_watchlist_by_id" | "delete_watchlist_by_id" => {
            json!({"watchlist_id": ids.get("watchlist_id")?})
        }
        "update_watchlist_by_id" => json!({
            "watchlist_id": ids.get("watchlist_id")?, "name": "every-tool-2",
            "symbols": ["AAPL", "MSFT", "NVDA"],
        }),
        "add_asset_to_watchlist_by_id" => {
            json!({"watchlist_id": ids.get("watchlist_id")?, "symbol": "TSLA"})
        }
        "remove_asset_from_watchlist_by_id" => {
            json!({"watchlist_id": ids.get("watchlist_id")?, "symbol": "AAPL"})
        }
        "get_watchlist_by_name" | "delete_watchlist_by_name" => {
            json!({"name": ids.get("watchlist_name")?})
        }
        "add_asset_to_watchlist_by_name" => {
            json!({"name": ids.get("watchlist_name")?, "symbol": "TSLA"})
        }
        "update_watchlist_by_name" => json!({
            "name": ids.get("watchlist_name")?, "body_name": "every-tool-renamed",
            "symbols": ["MSFT", "SPY"],
        }),

        // assets
        "get_all_assets" => json!({"status": "active", "asset_class": "us_equity"}),
        "get_asset" => json!({"symbol_or_asset_id": "AAPL"}),
        "get_calendar" => json!({"start": "2025-01-01", "end": "2025-01-31"}),
        "get_clock" => json!({}),
        "get_corporate_action_announcements" => json!({
            "ca_types": ["Dividend", "Split"], "since": "2024-05-01", "until": "2024-07-15",
        }),
        "get_corporate_action_announcement" => json!({"id": ids.get("announcement")?}),
        "get_option_contracts" => {
            json!({"underlying_symbols": "AAPL", "type": "call", "limit": 5})
        }
        "get_option_contract" => json!({"symbol_or_id": ids.get("contract")?}),

        // stock data
        "get_most_active_stocks" => json!({"by": "trades", "top": 5}),
        "get_market_movers" => json!({"market_type": "stocks", "top": 5}),
        "get_stock_bars" => window(json!({"symbols": "AAPL,MSFT", "timeframe": "5Min"})),
        "get_stock_quotes" | "get_stock_trades" => window(json!({"symbols": "AAPL,MSFT"})),
        "get_stock_latest_bar"
        | "get_stock_latest_quote"
        | "get_stock_latest_trade"
        | "get_stock_snapshot" => json!({"symbols": "AAPL,MSFT"}),
        "get_stock_bars_single" => window(json!({"symbol": "AAPL", "timeframe": "5Min"})),
        "get_stock_quotes_single" | "get_stock_trades_single" => window(json!({"symbol": "AAPL"})),
        "get_stock_latest_bar_single"
        | "get_stock_latest_quote_single"
        | "get_stock_latest_trade_single"
        | "get_stock_snapshot_single" => json!({"symbol": "AAPL", "feed": "iex"}),
        "get_stock_auctions" => json!({
            "symbols": "AAPL,MSFT", "start": "2025-01-10", "end": "2025-01-14T23:00:00Z",
        }),
        "get_stock_auctions_single" => json!({
            "symbol": "AAPL", "start": "2025-01-10", "end": "2025-01-14T23:00:00Z",
        }),

        // crypto data
        "get_crypto_bars" => {
            window(json!({"loc": "us", "symbols": "BTC/USD,ETH/USD", "timeframe": "1Min"}))
        }
        "get_crypto_quotes" | "get_crypto_trades" => {
            window(json!({"loc": "us", "symbols": "BTC/USD,ETH/USD"}))
        }
        "get_crypto_latest_bar"
        | "get_crypto_latest_orderbook"
        | "get_crypto_latest_quote"
        | "get_crypto_latest_trade"
        | "get_crypto_snapshot" => json!({"loc": "us", "symbols": "BTC/USD,ETH/USD"}),

        // options data
        "get_option_bars" => window(json!({"symbols": ids.get("contract")?, "timeframe": "15Min"})),
        "get_option_trades" => window(json!({"symbols": ids.get("contract")?})),
        "get_option_latest_quote" | "get_option_latest_trade" | "get_option_snapshot" => {
            json!({"symbols": ids.get("contract")?})
        }
        "get_option_exchange_codes" | "get_stock_exchange_codes" => json!({}),
        "get_option_chain" => json!({"underlying_symbol": "AAPL", "limit": 4, "type": "put"}),

        // other market data
        "get_corporate_actions" => json!({
            "symbols": "AAPL,NVDA", "start": "2024-01-01", "end": "2024-12-31", "limit": 5,
        }),
        "get_news" => json!({"symbols": "AAPL,TSLA", "limit": 5}),
        "get_fixed_income_latest_quotes" | "get_fixed_income_latest_prices" => {
            json!({"isins": ISINS})
        }
        "get_forex_latest_rates" => json!({"currency_pairs": "USDJPY,EURUSD"}),
        "get_forex_rates" => {
            window(json!({"currency_pairs": "USDJPY,EURUSD", "timeframe": "1Min"}))
        }
        "get_market_calendar" => {
            json!({"market": "NYSE", "start": "2025-01-13", "end": "2025-01-17"})
        }
        "get_market_clock" => json!({"markets": "NYSE,LSE,HKEX"}),
        "get_option_condition_codes" => json!({"ticktype": "trade"}),
        "get_stock_condition_codes" => json!({"ticktype": "trade", "tape": "A"}),

        // locates (the fake lends GME)
        "get_locate_quotes" => json!({"symbols": "GME"}),
        "create_locate" => json!({"symbol": "GME", "qty": 100, "all_or_none": false}),
        "get_locates" => json!({"symbol": "GME"}),
        "get_locate" => json!({"locate_id": ids.get("locate")?}),

        // tokenization
        "mint_tokenized_asset" => json!({
            "underlying_symbol": "AAPL", "qty": "1", "issuer": "xstocks", "network": "solana",
            "wallet_address": "So11111111111111111111111111111111111111112",
        }),
        "get_tokenization_requests" => json!({"type": "mint"}),
        "get_tokenization_request" => {
            json!({"tokenization_request_id": ids.get("tokenization_request")?})
        }
        "get_tokenization_request_by_client_id" => {
            json!({"client_request_id": ids.get("tokenization_client_request")?})
        }

        // crypto funding
        "get_crypto_wallets" => json!({"asset": "ETH"}),
        "get_crypto_transfer_fee_estimate" => json!({"asset": "ETH", "amount": "1.5"}),
        "get_crypto_transfers" | "get_whitelisted_addresses" => json!({}),
        "get_crypto_transfer" => json!({"transfer_id": ids.get("transfer")?}),
        "search_vasps" => json!({"q": "Example"}),
        "create_whitelisted_address" => json!({
            "address": "0x00000000000000000000000000000000000000cc", "asset": "USDC", "chain": "ETH",
            "travel_rule_info": {"beneficiary_is_self_hosted": true},
        }),
        "update_whitelisted_address_travel_rule" => json!({
            "whitelisted_address_id": ids.get("whitelist")?,
            "travel_rule_info": {"beneficiary_given_name": "Ada", "beneficiary_family_name": "Lovelace"},
        }),
        "delete_whitelisted_address" => json!({"whitelisted_address_id": ids.get("whitelist")?}),

        _ => return Ok(None),
    }))
}

/// Records what a successful call discovered, for the calls after it.
fn learn(tool: &str, data: &Value, ids: &mut Ids) {
    let str_at = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
    let items = |v: &Value| v.as_array().cloned().unwrap_or_default();
    match tool {
        "get_orders" => {
            let orders = items(data);
            let open = orders
                .iter()
                .find(|o| o["status"] == "new" && o["side"] == "buy" && o["type"] == "limit");
            ids.set("open_order", open.and_then(|o| o["id"].as_str()));
            let coid = orders.first().and_then(|o| str_at(o, "client_order_id"));
            ids.set("client_order_id", coid.as_deref());
        }
        "get_all_positions" => {
            let positions = items(data);
            let of_class = |class: &str| {
                positions
                    .iter()
                    .find(|p| p["asset_class"] == class)
                    .and_then(|p| str_at(p, "symbol"))
            };
            ids.set("stock_position", of_class("us_equity").as_deref());
            ids.set("option_position", of_class("us_option").as_deref());
        }
        // The first list is used by id, the second by name.
        "create_watchlist" if ids.map.contains_key("watchlist_id") => {
            ids.set("watchlist_name", str_at(data, "name").as_deref());
        }
        "create_watchlist" => ids.set("watchlist_id", str_at(data, "id").as_deref()),
        "update_watchlist_by_name" => ids.set("watchlist_name", str_at(data, "name").as_deref()),
        "get_corporate_action_announcements" => {
            let first = items(data).first().and_then(|a| str_at(a, "id"));
            ids.set("announcement", first.as_deref());
        }
        "get_option_contracts" => {
            let first = data["option_contracts"]
                .as_array()
                .and_then(|c| c.first())
                .and_then(|c| str_at(c, "symbol"));
            ids.set("contract", first.as_deref());
        }
        "replace_order_by_id" => ids.set("replacement_order", str_at(data, "id").as_deref()),
        "create_locate" => ids.set("locate", str_at(data, "id").as_deref()),
        "mint_tokenized_asset" => ids.set(
            "tokenization_request",
            str_at(data, "tokenization_request_id").as_deref(),
        ),
        "get_tokenization_request" => ids.set(
            "tokenization_client_request",
            str_at(data, "client_request_id").as_deref(),
        ),
        "get_crypto_transfers" => {
            // One transfer object, or a list of them.
            let id =
                str_at(data, "id").or_else(|| items(data).first().and_then(|t| str_at(t, "id")));
            ids.set("transfer", id.as_deref());
        }
        "create_whitelisted_address" => ids.set("whitelist", str_at(data, "id").as_deref()),
        _ => {}
    }
}

/// Checks that the table covers every listed tool, then calls each one in [`PLAN`]'s order;
/// returns the listed tools.
async fn call_every_tool(client: &Client, label: &str) -> Vec<String> {
    let started = Instant::now();
    let tools = client.list_all_tools().await.expect("tools/list");
    let listed: Vec<String> = tools.iter().map(|t| t.name.to_string()).collect();
    assert!(!listed.is_empty(), "{label}: tools/list is empty");

    let dry = Ids {
        dry: true,
        ..Ids::default()
    };
    let uncovered: Vec<&str> = listed
        .iter()
        .map(String::as_str)
        .filter(|name| !PLAN.contains(name) || !matches!(args(name, &dry), Ok(Some(_))))
        .collect();
    assert!(
        uncovered.is_empty(),
        "{label}: tools/list has {} tool(s) that tests/every_tool.rs does not cover; add each to \
         PLAN and give it valid arguments in args(): {}",
        uncovered.len(),
        uncovered.join(", ")
    );

    let mut ids = Ids::default();
    let mut failures = Vec::new();
    let mut calls = 0;
    for tool in PLAN.iter().filter(|t| listed.iter().any(|l| l == *t)) {
        let arguments = match args(tool, &ids) {
            Ok(Some(a)) => a,
            Ok(None) => unreachable!("checked above"),
            Err(Missing(key)) => {
                failures.push(format!(
                    "{tool}: not called: needs `{key}`, which no earlier call discovered"
                ));
                continue;
            }
        };
        calls += 1;
        let result = call(client, tool, arguments.clone()).await;
        if result.is_error != Some(false) {
            failures.push(format!(
                "{tool} {arguments}\n    -> isError {:?}: {}",
                result.is_error,
                text(&result)
            ));
            continue;
        }
        // Read through the compact text (or JSON): every tool's answer must read back whole.
        let data = data(&result);
        learn(tool, &data, &mut ids);
    }
    assert!(
        failures.is_empty(),
        "{label}: {} of {calls} calls failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!(
        "{label}: {} tools, {calls} calls, all succeeded in {:?}",
        listed.len(),
        started.elapsed()
    );
    listed
}

/// Every toolset this build compiled, for `--toolsets`.
fn every_compiled_toolset() -> String {
    TOOLSETS
        .iter()
        .filter(|t| t.compiled)
        .map(|t| t.name)
        .collect::<Vec<_>>()
        .join(",")
}

/// The generated tools of `toolsets` (all compiled defaults when `None`): `tools/list` must
/// offer each of them (it may offer hand-written tools besides).
fn generated_tools(toolsets: Option<&str>) -> Vec<&'static str> {
    let chosen: Vec<&str> = match toolsets {
        Some(t) => t.split(',').collect(),
        None => TOOLSETS
            .iter()
            .filter(|t| t.default && t.compiled)
            .map(|t| t.name)
            .collect(),
    };
    TOOLSETS
        .iter()
        .filter(|t| chosen.contains(&t.name))
        .flat_map(|t| t.tools.iter().map(|d| d.name))
        .collect()
}

fn assert_lists_every_generated_tool(listed: &[String], toolsets: Option<&str>) {
    let missing: Vec<&str> = generated_tools(toolsets)
        .into_iter()
        .filter(|g| !listed.iter().any(|l| l == g))
        .collect();
    assert!(missing.is_empty(), "tools/list lacks {missing:?}");
}

async fn over_stdio(extra: &[&str], label: &str) -> Vec<String> {
    let mut argv = vec!["--sandbox"];
    argv.extend_from_slice(extra);
    let client = stdio_client(&argv).await;
    let listed = call_every_tool(&client, label).await;
    client.cancel().await.ok();
    listed
}

async fn over_http(extra: &[&str], label: &str) -> Vec<String> {
    let mut argv = vec!["--sandbox"];
    argv.extend_from_slice(extra);
    let (mut child, url) = http_server(&argv).await;
    let client = http_client(&url).await;
    let listed = call_every_tool(&client, label).await;
    client.cancel().await.ok();
    child.kill().await.ok();
    listed
}

#[tokio::test]
async fn every_default_tool_succeeds_over_stdio() {
    let listed = over_stdio(&[], "stdio, default toolsets").await;
    assert_lists_every_generated_tool(&listed, None);
}

#[tokio::test]
async fn every_default_tool_succeeds_over_http() {
    let listed = over_http(&[], "http, default toolsets").await;
    assert_lists_every_generated_tool(&listed, None);
}

#[tokio::test]
async fn every_compiled_tool_succeeds_over_stdio() {
    let all = every_compiled_toolset();
    let listed = over_stdio(&["--toolsets", &all], "stdio, every compiled toolset").await;
    assert_lists_every_generated_tool(&listed, Some(&all));
}

#[tokio::test]
async fn every_compiled_tool_succeeds_over_http() {
    let all = every_compiled_toolset();
    let listed = over_http(&["--toolsets", &all], "http, every compiled toolset").await;
    assert_lists_every_generated_tool(&listed, Some(&all));
}

/// The table names no tool that does not exist (a renamed tool would leave a stale entry).
/// Only a build with every toolset knows every tool's name.
#[test]
fn the_plan_names_only_real_tools() {
    if !TOOLSETS.iter().all(|t| t.compiled) {
        return;
    }
    let known: Vec<&str> = TOOLSETS
        .iter()
        .flat_map(|t| t.tools.iter().map(|d| d.name))
        .chain(alpaca_mcp::HANDWRITTEN.iter().map(|h| h.name))
        .collect();
    let stale: Vec<&&str> = PLAN.iter().filter(|p| !known.contains(p)).collect();
    assert!(stale.is_empty(), "PLAN names unknown tools: {stale:?}");
}
