//! Calls every operation of both specs (read from `specs/` at the workspace
//! root) and validates each success body against the operation's schema.

use crate::common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use alpaca_mock::MockConfig;
use common::{Harness, Reply};
use serde_json::{Map, Value, json};

/// The workspace's `specs/` (override with `ALPACA_MOCK_SPECS_DIR`, e.g. to check
/// against another revision of the documents).
fn specs_dir() -> PathBuf {
    match std::env::var_os("ALPACA_MOCK_SPECS_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../specs"),
    }
}

fn load(name: &str) -> Value {
    let path = specs_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).expect("spec is JSON")
}

/// OpenAPI 3.0 schema -> JSON Schema 2020-12: `nullable: true` adds `null`;
/// OpenAPI-only keywords go away; refs keep pointing at `#/components/...`.
fn convert(v: &Value) -> Value {
    match v {
        Value::Array(a) => Value::Array(a.iter().map(convert).collect()),
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, x) in m {
                match k.as_str() {
                    "nullable" | "example" | "examples" | "discriminator" | "xml"
                    | "externalDocs" | "deprecated" | "readOnly" | "writeOnly" => {}
                    "exclusiveMinimum" | "exclusiveMaximum" if x.is_boolean() => {}
                    _ => {
                        out.insert(k.clone(), convert(x));
                    }
                }
            }
            // OpenAPI 3.0 boolean exclusive bounds.
            for (flag, bound) in [
                ("exclusiveMinimum", "minimum"),
                ("exclusiveMaximum", "maximum"),
            ] {
                if m.get(flag) == Some(&Value::Bool(true))
                    && let Some(b) = out.remove(bound)
                {
                    out.insert(flag.into(), b);
                }
            }
            if m.get("nullable") == Some(&Value::Bool(true)) {
                match out.get_mut("type") {
                    Some(Value::String(t)) => {
                        let t = t.clone();
                        out.insert("type".into(), json!([t, "null"]));
                    }
                    Some(Value::Array(ts)) => {
                        if !ts.contains(&json!("null")) {
                            ts.push(json!("null"));
                        }
                    }
                    _ => {
                        let inner = Value::Object(out);
                        return json!({ "anyOf": [inner, { "type": "null" }] });
                    }
                }
                if let Some(Value::Array(e)) = out.get_mut("enum")
                    && !e.contains(&Value::Null)
                {
                    e.push(Value::Null);
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

struct Op {
    id: String,
    method: String,
    path: String,
    code: u16,
    content_type: Option<String>,
    schema: Option<Value>,
}

fn operations(doc: &Value) -> Vec<Op> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            let responses = op["responses"].as_object().expect("responses");
            let (code, resp) = responses
                .iter()
                .find(|(c, _)| c.starts_with('2'))
                .unwrap_or_else(|| panic!("{method} {path}: no 2xx response"));
            let resp = resolve(doc, resp);
            let content = resp.get("content").and_then(Value::as_object);
            let (ct, schema) = match content.and_then(|c| c.iter().next()) {
                Some((ct, media)) => (Some(ct.clone()), media.get("schema").cloned()),
                None => (None, None),
            };
            out.push(Op {
                id: op["operationId"].as_str().expect("operationId").to_string(),
                method: method.to_ascii_uppercase(),
                path: path.clone(),
                code: code.parse().expect("status code"),
                content_type: ct,
                schema,
            });
        }
    }
    out
}

fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => doc
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("dangling ref {r}")),
        None => v,
    }
}

/// Rewrites every `oneOf` as `anyOf`.
fn relax_one_of(v: &Value) -> Value {
    match v {
        Value::Array(a) => Value::Array(a.iter().map(relax_one_of).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| {
                    (
                        if k == "oneOf" {
                            "anyOf".to_string()
                        } else {
                            k.clone()
                        },
                        relax_one_of(x),
                    )
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Operations whose schema no real answer can satisfy: `oneOf` over
/// `TradingActivities` and `NonTradeActivities`, two schemas with no required
/// fields and no closed property sets, so every activity object matches both.
/// These are checked with `oneOf` read as `anyOf`.
const AMBIGUOUS_ONE_OF: &[&str] = &["getAccountActivitiesByActivityType"];

fn validator(doc: &Value, schema: &Value, relax: bool) -> jsonschema::Validator {
    let (doc, schema) = if relax {
        (relax_one_of(doc), relax_one_of(schema))
    } else {
        (doc.clone(), schema.clone())
    };
    let mut root = match convert(&schema) {
        Value::Object(m) => m,
        other => {
            let mut m = Map::new();
            m.insert("allOf".into(), json!([other]));
            m
        }
    };
    root.insert(
        "$schema".into(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    root.insert("components".into(), convert(&doc["components"]));
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&Value::Object(root))
        .expect("schema compiles")
}

/// What to send for one operation.
#[derive(Default)]
struct Call {
    path: BTreeMap<&'static str, String>,
    query: Vec<(&'static str, String)>,
    body: Option<Value>,
}

fn call() -> Call {
    Call::default()
}

impl Call {
    fn p(mut self, k: &'static str, v: impl Into<String>) -> Self {
        self.path.insert(k, v.into());
        self
    }
    fn q(mut self, k: &'static str, v: impl Into<String>) -> Self {
        self.query.push((k, v.into()));
        self
    }
    fn b(mut self, v: Value) -> Self {
        self.body = Some(v);
        self
    }
}

const PAST: (&str, &str) = ("2025-01-14T14:30:00Z", "2025-01-14T15:30:00Z");

fn window(c: Call) -> Call {
    c.q("start", PAST.0).q("end", PAST.1).q("limit", "5")
}

async fn market_order(h: &Harness, symbol: &str, qty: &str) -> Value {
    h.mock
        .state()
        .place_order(json!({"symbol": symbol, "qty": qty, "side": "buy", "type": "market", "time_in_force": if symbol.contains('/') { "gtc" } else { "day" }}))
        .expect("market order")
}

async fn limit_order(h: &Harness) -> Value {
    h.mock
        .state()
        .place_order(json!({"symbol": "MSFT", "qty": "1", "side": "buy", "type": "limit", "limit_price": "100", "time_in_force": "day"}))
        .expect("limit order")
}

async fn watchlist(h: &Harness, name: &str) -> Value {
    let r = h
        .post(
            "/v2/watchlists",
            &json!({"name": name, "symbols": ["AAPL"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

async fn option_symbol(h: &Harness) -> String {
    let r = h
        .get(
            "/v2/options/contracts",
            &[("underlying_symbols", "AAPL"), ("type", "call")],
        )
        .await;
    r.json()["option_contracts"][0]["symbol"]
        .as_str()
        .expect("a contract")
        .to_string()
}

async fn whitelist(h: &Harness) -> String {
    let r = h
        .post(
            "/v2/wallets/whitelists",
            &json!({"address": "0x00000000000000000000000000000000000000aa", "asset": "ETH"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["id"].as_str().expect("id").to_string()
}

async fn mint(h: &Harness) -> Value {
    let r = h
        .post(
            "/v2/tokenization/mint",
            &json!({"underlying_symbol": "AAPL", "qty": "1", "issuer": "xstocks", "network": "solana", "wallet_address": "So1111"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let id = r.json()["tokenization_request_id"]
        .as_str()
        .expect("id")
        .to_string();
    h.get(&format!("/v2/tokenization/requests/{id}"), &[])
        .await
        .json()
}

/// The call for each operation id, with whatever it needs set up first.
async fn plan(h: &Harness, id: &str) -> Option<Call> {
    let opt = "AAPL250117C00190000";
    Some(match id {
        // Trading API
        "listLocates" => {
            h.post("/v1/locates", &json!({"symbol": "GME", "qty": 10})).await;
            call()
        }
        "createLocates" => call().b(json!({"symbol": "GME", "qty": 100, "all_or_none": false})),
        "getLocate" => {
            let r = h.post("/v1/locates", &json!({"symbol": "GME", "qty": 10})).await;
            call().p("locate_id", r.json()["id"].as_str().unwrap_or_default())
        }
        "listLocateQuotes" => call().q("symbols", "GME,AAPL,ZZZZ"),
        "subscribeToActivitiesSSE" => {
            market_order(h, "AAPL", "1").await;
            call()
        }
        "getAccount" | "getAccountConfig" | "LegacyClock" | "getAllOpenPositions" | "getWatchlists"
        | "listCryptoFundingTransfers" | "searchVASPs" | "get-v2-assets" => {
            market_order(h, "AAPL", "1").await;
            call()
        }
        "getAccountActivities" => {
            market_order(h, "AAPL", "1").await;
            call()
        }
        "getAccountActivitiesByActivityType" => {
            market_order(h, "AAPL", "1").await;
            call().p("activity_type", "FILL")
        }
        "patchAccountConfig" => call().b(json!({"trade_confirm_email": "none", "no_shorting": false})),
        "getAccountPortfolioHistory" => {
            market_order(h, "NVDA", "3").await;
            call().q("period", "1W").q("timeframe", "1D")
        }
        "get-v2-assets-symbol_or_asset_id" => call().p("symbol_or_asset_id", "AAPL"),
        "LegacyCalendar" => call().q("start", "2025-01-01").q("end", "2025-01-31"),
        "get-v2-corporate_actions-announcements" => {
            call().q("ca_types", "Dividend,Split").q("since", "2024-05-01").q("until", "2024-07-15")
        }
        "get-v2-corporate_actions-announcements-id" => call().p("id", alpaca_mock::example_announcement_id()),
        "get-options-contracts" => call().q("underlying_symbols", "AAPL,SPY").q("show_deliverables", "true").q("limit", "5"),
        "get-option-contract-symbol_or_id" => call().p("symbol_or_id", option_symbol(h).await),
        "deleteAllOrders" => {
            limit_order(h).await;
            call()
        }
        "getAllOrders" => {
            limit_order(h).await;
            market_order(h, "AAPL", "1").await;
            call().q("status", "all")
        }
        "postOrder" => call().b(json!({"symbol": "AAPL", "qty": "2", "side": "buy", "type": "market", "time_in_force": "day"})),
        "deleteOrderByOrderID" => call().p("order_id", limit_order(h).await["id"].as_str().unwrap_or_default()),
        "getOrderByOrderID" => call().p("order_id", market_order(h, "AAPL", "1").await["id"].as_str().unwrap_or_default()),
        "patchOrderByOrderId" => call()
            .p("order_id", limit_order(h).await["id"].as_str().unwrap_or_default())
            .b(json!({"limit_price": "101.5", "qty": "2"})),
        "getOrderByClientOrderId" => call().q(
            "client_order_id",
            market_order(h, "AAPL", "1").await["client_order_id"].as_str().unwrap_or_default(),
        ),
        "deleteAllOpenPositions" => {
            market_order(h, "AAPL", "1").await;
            market_order(h, "BTC/USD", "0.01").await;
            call().q("cancel_orders", "true")
        }
        "deleteOpenPosition" => {
            market_order(h, "MSFT", "5").await;
            call().p("symbol_or_asset_id", "MSFT").q("qty", "2")
        }
        "getOpenPosition" => {
            market_order(h, "AAPL", "1").await;
            call().p("symbol_or_asset_id", "AAPL")
        }
        "optionDoNotExercise" | "optionExercise" => {
            let sym = option_symbol(h).await;
            market_order(h, &sym, "1").await;
            call().p("symbol_or_contract_id", sym)
        }
        "postTokenizationMint" => call().b(json!({
            "underlying_symbol": "AAPL", "qty": "2", "issuer": "ondo", "network": "ethereum",
            "wallet_address": "0x00000000000000000000000000000000000000bb"
        })),
        "getTokenizationRequests" => {
            mint(h).await;
            call().q("type", "mint")
        }
        "getTokenizationRequest" => {
            let m = mint(h).await;
            call().p("tokenization_request_id", m["tokenization_request_id"].as_str().unwrap_or_default())
        }
        "getTokenizationRequestByClientRequestID" => {
            let m = mint(h).await;
            call().q("client_request_id", m["client_request_id"].as_str().unwrap_or_default())
        }
        "listCryptoFundingWallets" => call().q("asset", "ETH"),
        "getCryptoTransferEstimate" => call().q("asset", "ETH").q("amount", "1.5"),
        "getCryptoFundingTransfer" => {
            let t = h.get("/v2/wallets/transfers", &[]).await.json();
            call().p("transfer_id", t["id"].as_str().unwrap_or_default())
        }
        "listWhitelistedAddress" => {
            whitelist(h).await;
            call()
        }
        "createWhitelistedAddress" => call().b(json!({
            "address": "0x00000000000000000000000000000000000000cc", "asset": "USDC", "chain": "ETH",
            "travel_rule_info": {"beneficiary_is_self_hosted": true}
        })),
        "deleteWhitelistedAddress" => call().p("whitelisted_address_id", whitelist(h).await),
        "updateWhitelistedAddressTravelRuleInfo" => call()
            .p("whitelisted_address_id", whitelist(h).await)
            .b(json!({"travel_rule_info": {"beneficiary_given_name": "Ada", "beneficiary_family_name": "Lovelace"}})),
        "postWatchlist" => call().b(json!({"name": "conformance-new", "symbols": ["AAPL", "BTC/USD"]})),
        "deleteWatchlistById" | "getWatchlistById" => {
            call().p("watchlist_id", watchlist(h, &format!("wl-{id}")).await["id"].as_str().unwrap_or_default())
        }
        "addAssetToWatchlist" => call()
            .p("watchlist_id", watchlist(h, "wl-add").await["id"].as_str().unwrap_or_default())
            .b(json!({"symbol": "TSLA"})),
        "updateWatchlistById" => call()
            .p("watchlist_id", watchlist(h, "wl-upd").await["id"].as_str().unwrap_or_default())
            .b(json!({"name": "wl-upd-2", "symbols": ["SPY", "QQQ"]})),
        "removeAssetFromWatchlist" => call()
            .p("watchlist_id", watchlist(h, "wl-rm").await["id"].as_str().unwrap_or_default())
            .p("symbol", "AAPL"),
        "deleteWatchlistByName" | "getWatchlistByName" => {
            let name = format!("byname-{id}");
            watchlist(h, &name).await;
            call().q("name", name)
        }
        "addAssetToWatchlistByName" => {
            watchlist(h, "byname-add").await;
            call().q("name", "byname-add").b(json!({"symbol": "NVDA"}))
        }
        "updateWatchlistByName" => {
            watchlist(h, "byname-upd").await;
            call().q("name", "byname-upd").b(json!({"symbols": ["MSFT"]}))
        }
        "Calendar" => call().p("market", "NYSE").q("start", "2025-01-13").q("end", "2025-01-17"),
        "Clock" => call().q("markets", "NYSE,LSE,HKEX"),

        // Market data API
        "SubscribeToCorporateActionsEventsSSE" => call(),
        "FixedIncomeLatestPrices" | "FixedIncomeLatestQuotes" => call().q("isins", "US912797KJ59,US91282CJL54"),
        "LatestRates" => call().q("currency_pairs", "USDJPY,EURUSD"),
        "Rates" => window(call().q("currency_pairs", "USDJPY,EURUSD").q("timeframe", "1Min")),
        "Logos" => call().p("symbol", "AAPL"),
        "News" => call().q("symbols", "AAPL,TSLA").q("limit", "5").q("include_content", "true"),
        "optionBars" => window(call().q("symbols", opt).q("timeframe", "15Min")),
        "OptionMetaConditions" => call().p("ticktype", "trade"),
        "OptionMetaExchanges" => call(),
        "OptionLatestQuotes" | "OptionLatestTrades" => call().q("symbols", opt),
        "OptionSnapshots" => call().q("symbols", format!("{opt},AAPL250117P00190000")),
        "OptionChain" => call().p("underlying_symbol", "AAPL").q("limit", "4").q("type", "put"),
        "OptionTrades" => window(call().q("symbols", opt)),
        "Movers" => call().p("market_type", "stocks").q("top", "5"),
        "MostActives" => call().q("by", "trades").q("top", "5"),
        "CryptoBars" => window(call().p("loc", "us").q("symbols", "BTC/USD,ETH/USD").q("timeframe", "1Min")),
        "CryptoQuotes" | "CryptoTrades" => window(call().p("loc", "us").q("symbols", "BTC/USD,ETH/USD")),
        "CryptoLatestBars" | "CryptoLatestOrderbooks" | "CryptoLatestQuotes" | "CryptoLatestTrades" | "CryptoSnapshots" => {
            call().p("loc", "us").q("symbols", "BTC/USD,ETH/USD")
        }
        "CorporateActions" => call().q("symbols", "AAPL,NVDA").q("start", "2024-01-01").q("end", "2024-12-31").q("limit", "5"),
        "StockAuctionSingle" => call().p("symbol", "AAPL").q("start", "2025-01-10").q("end", "2025-01-14T23:00:00Z"),
        "StockAuctions" => call().q("symbols", "AAPL,MSFT").q("start", "2025-01-10").q("end", "2025-01-14T23:00:00Z"),
        "StockBarSingle" => window(call().p("symbol", "AAPL").q("timeframe", "5Min")),
        "StockBars" => window(call().q("symbols", "AAPL,MSFT").q("timeframe", "5Min")),
        "StockQuoteSingle" | "StockTradeSingle" => window(call().p("symbol", "AAPL")),
        "StockQuotes" | "StockTrades" => window(call().q("symbols", "AAPL,MSFT")),
        "StockLatestBarSingle" | "StockLatestQuoteSingle" | "StockLatestTradeSingle" | "StockSnapshotSingle" => {
            call().p("symbol", "AAPL").q("feed", "iex")
        }
        "StockLatestBars" | "StockLatestQuotes" | "StockLatestTrades" | "StockSnapshots" => call().q("symbols", "AAPL,MSFT"),
        "StockMetaConditions" => call().p("ticktype", "trade").q("tape", "A"),
        "StockMetaExchanges" => call(),
        _ => return None,
    })
}

fn fill_path(template: &str, params: &BTreeMap<&'static str, String>) -> Result<String, String> {
    let mut out = template.to_string();
    while let Some(start) = out.find('{') {
        let end = out[start..]
            .find('}')
            .map(|e| start + e)
            .ok_or("unclosed brace")?;
        let name = &out[start + 1..end];
        let value = params
            .get(name)
            .ok_or_else(|| format!("no value for path parameter {name}"))?;
        let encoded: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
        out.replace_range(start..=end, &encoded);
    }
    Ok(out)
}

fn check(op: &Op, doc: &Value, reply: &Reply) -> Result<(), String> {
    if reply.status != op.code {
        return Err(format!(
            "status {} (want {}): {}",
            reply.status,
            op.code,
            reply.text()
        ));
    }
    let ct = reply
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let instance = match op.content_type.as_deref() {
        None => {
            return Ok(());
        }
        Some("image/png") => {
            if !ct.starts_with("image/png") || !reply.bytes.starts_with(b"\x89PNG") {
                return Err(format!("not a PNG ({ct})"));
            }
            return Ok(());
        }
        Some("text/event-stream") => {
            if !ct.starts_with("text/event-stream") {
                return Err(format!("content-type {ct}"));
            }
            let events: Result<Vec<Value>, String> = reply
                .text()
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|d| {
                    serde_json::from_str(d.trim())
                        .map_err(|e| format!("event data is not JSON: {e}"))
                })
                .collect();
            let events = events?;
            if events.is_empty() {
                return Err("no events".into());
            }
            Value::Array(events)
        }
        Some(_) => {
            if !ct.starts_with("application/json") {
                return Err(format!("content-type {ct}"));
            }
            serde_json::from_slice(&reply.bytes).map_err(|e| format!("not JSON: {e}"))?
        }
    };
    let Some(schema) = &op.schema else {
        return Ok(());
    };
    let v = validator(doc, schema, AMBIGUOUS_ONE_OF.contains(&op.id.as_str()));
    let errors: Vec<String> = v
        .iter_errors(&instance)
        .take(5)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!("schema: {}", errors.join("; ")))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_answers_per_its_schema() {
    let mut failures = Vec::new();
    let mut count = 0;
    for name in ["trading-api.json", "market-data-api.json"] {
        let doc = load(name);
        let ops = operations(&doc);
        assert!(!ops.is_empty(), "{name} has operations");
        for op in &ops {
            count += 1;
            // A fresh mock per operation keeps fixtures independent.
            let h = Harness::start(MockConfig {
                sip_entitled: true,
                ..MockConfig::default()
            })
            .await;
            let Some(c) = plan(&h, &op.id).await else {
                failures.push(format!(
                    "{} {} ({}): no call planned",
                    op.method, op.path, op.id
                ));
                continue;
            };
            let path = match fill_path(&op.path, &c.path) {
                Ok(p) => p,
                Err(e) => {
                    failures.push(format!("{}: {e}", op.id));
                    continue;
                }
            };
            let query: Vec<(&str, &str)> = c.query.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let reply = h.send(&op.method, &path, &query, c.body.as_ref()).await;
            if let Err(e) = check(op, &doc, &reply) {
                failures.push(format!("{} {} ({}): {e}", op.method, path, op.id));
            }
        }
    }
    assert_eq!(count, 58 + 44, "operation count");
    assert!(
        failures.is_empty(),
        "{} of {count} operations failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn nullable_becomes_a_null_type() {
    let v = convert(&json!({"type": "string", "nullable": true, "enum": ["a"]}));
    assert_eq!(v, json!({"type": ["string", "null"], "enum": ["a", null]}));
    let v = convert(&json!({"allOf": [{"$ref": "#/x"}], "nullable": true}));
    assert_eq!(
        v,
        json!({"anyOf": [{"allOf": [{"$ref": "#/x"}]}, {"type": "null"}]})
    );
}
