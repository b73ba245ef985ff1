//! The tool manifest (`specs/toolsets.toml`) against the specs (`specs/*.json`) and Cargo.toml,
//! checked by an independent route: the files are read here as plain JSON/TOML values, not
//! through the generator, so a bug in the generator's own checks cannot hide a bad manifest.
//!
//! Also holds the V2 compatibility contract: every tool name V2 had, with its operation and
//! toolset.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// V2's toolsets (all `default = true`, all in Cargo's `default` feature).
const V2_TOOLSETS: [&str; 11] = [
    "account",
    "trading",
    "watchlists",
    "assets",
    "stock-data",
    "crypto-data",
    "options-data",
    "corporate-actions",
    "news",
    "fixed-income-data",
    "locates",
];

/// The V2 compatibility contract: (spec, toolset, operationId, tool name). Changing a row breaks
/// clients that call V2's tools by name.
#[rustfmt::skip]
const V2_TOOLS: &[(&str, &str, &str, &str)] = &[
    // account
    ("trading", "account", "getAccount", "get_account_info"),
    ("trading", "account", "getAccountActivities", "get_account_activities"),
    ("trading", "account", "getAccountActivitiesByActivityType", "get_account_activities_by_type"),
    ("trading", "account", "getAccountConfig", "get_account_config"),
    ("trading", "account", "getAccountPortfolioHistory", "get_portfolio_history"),
    ("trading", "account", "patchAccountConfig", "update_account_config"),
    // trading
    ("trading", "trading", "deleteAllOpenPositions", "close_all_positions"),
    ("trading", "trading", "deleteAllOrders", "cancel_all_orders"),
    ("trading", "trading", "deleteOpenPosition", "close_position"),
    ("trading", "trading", "deleteOrderByOrderID", "cancel_order_by_id"),
    ("trading", "trading", "getAllOpenPositions", "get_all_positions"),
    ("trading", "trading", "getAllOrders", "get_orders"),
    ("trading", "trading", "getOpenPosition", "get_open_position"),
    ("trading", "trading", "getOrderByClientOrderId", "get_order_by_client_id"),
    ("trading", "trading", "getOrderByOrderID", "get_order_by_id"),
    ("trading", "trading", "optionDoNotExercise", "do_not_exercise_options_position"),
    ("trading", "trading", "optionExercise", "exercise_options_position"),
    ("trading", "trading", "patchOrderByOrderId", "replace_order_by_id"),
    // watchlists
    ("trading", "watchlists", "addAssetToWatchlist", "add_asset_to_watchlist_by_id"),
    ("trading", "watchlists", "deleteWatchlistById", "delete_watchlist_by_id"),
    ("trading", "watchlists", "getWatchlistById", "get_watchlist_by_id"),
    ("trading", "watchlists", "getWatchlists", "get_watchlists"),
    ("trading", "watchlists", "postWatchlist", "create_watchlist"),
    ("trading", "watchlists", "removeAssetFromWatchlist", "remove_asset_from_watchlist_by_id"),
    ("trading", "watchlists", "updateWatchlistById", "update_watchlist_by_id"),
    // assets
    ("trading", "assets", "LegacyCalendar", "get_calendar"),
    ("trading", "assets", "LegacyClock", "get_clock"),
    ("trading", "assets", "get-option-contract-symbol_or_id", "get_option_contract"),
    ("trading", "assets", "get-options-contracts", "get_option_contracts"),
    ("trading", "assets", "get-v2-assets", "get_all_assets"),
    ("trading", "assets", "get-v2-assets-symbol_or_asset_id", "get_asset"),
    ("trading", "assets", "get-v2-corporate_actions-announcements", "get_corporate_action_announcements"),
    ("trading", "assets", "get-v2-corporate_actions-announcements-id", "get_corporate_action_announcement"),
    // stock-data
    ("market-data", "stock-data", "MostActives", "get_most_active_stocks"),
    ("market-data", "stock-data", "Movers", "get_market_movers"),
    ("market-data", "stock-data", "StockBars", "get_stock_bars"),
    ("market-data", "stock-data", "StockLatestBars", "get_stock_latest_bar"),
    ("market-data", "stock-data", "StockLatestQuotes", "get_stock_latest_quote"),
    ("market-data", "stock-data", "StockLatestTrades", "get_stock_latest_trade"),
    ("market-data", "stock-data", "StockQuotes", "get_stock_quotes"),
    ("market-data", "stock-data", "StockSnapshots", "get_stock_snapshot"),
    ("market-data", "stock-data", "StockTrades", "get_stock_trades"),
    // crypto-data
    ("market-data", "crypto-data", "CryptoBars", "get_crypto_bars"),
    ("market-data", "crypto-data", "CryptoLatestBars", "get_crypto_latest_bar"),
    ("market-data", "crypto-data", "CryptoLatestOrderbooks", "get_crypto_latest_orderbook"),
    ("market-data", "crypto-data", "CryptoLatestQuotes", "get_crypto_latest_quote"),
    ("market-data", "crypto-data", "CryptoLatestTrades", "get_crypto_latest_trade"),
    ("market-data", "crypto-data", "CryptoQuotes", "get_crypto_quotes"),
    ("market-data", "crypto-data", "CryptoSnapshots", "get_crypto_snapshot"),
    ("market-data", "crypto-data", "CryptoTrades", "get_crypto_trades"),
    // options-data
    ("market-data", "options-data", "OptionChain", "get_option_chain"),
    ("market-data", "options-data", "OptionLatestQuotes", "get_option_latest_quote"),
    ("market-data", "options-data", "OptionLatestTrades", "get_option_latest_trade"),
    ("market-data", "options-data", "OptionMetaExchanges", "get_option_exchange_codes"),
    ("market-data", "options-data", "OptionSnapshots", "get_option_snapshot"),
    ("market-data", "options-data", "OptionTrades", "get_option_trades"),
    ("market-data", "options-data", "optionBars", "get_option_bars"),
    // corporate-actions
    ("market-data", "corporate-actions", "CorporateActions", "get_corporate_actions"),
    // news
    ("market-data", "news", "News", "get_news"),
    // fixed-income-data
    ("market-data", "fixed-income-data", "FixedIncomeLatestQuotes", "get_fixed_income_latest_quotes"),
    // locates
    ("trading", "locates", "createLocates", "create_locate"),
    ("trading", "locates", "getLocate", "get_locate"),
    ("trading", "locates", "listLocateQuotes", "get_locate_quotes"),
    ("trading", "locates", "listLocates", "get_locates"),
];

/// V2's order tools: hand-written, replacing `trading:postOrder`.
const V2_ORDER_TOOLS: [&str; 3] = [
    "place_stock_order",
    "place_crypto_order",
    "place_option_order",
];

/// GET operations that are deliberately not read-only (and the reverse), with the reason.
const READ_ONLY_EXCEPTIONS: &[(&str, &str)] = &[
    // GET /v2/wallets creates a wallet when given an asset that has none.
    ("trading", "listCryptoFundingWallets"),
];

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];

fn read(rel: &str) -> String {
    let path = format!("{ROOT}/{rel}");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn manifest() -> Value {
    toml::from_str(&read("specs/toolsets.toml")).expect("specs/toolsets.toml parses")
}

fn cargo_toml() -> Value {
    toml::from_str(&read("Cargo.toml")).expect("Cargo.toml parses")
}

fn table<'a>(v: &'a Value, key: &str) -> &'a serde_json::Map<String, Value> {
    v.get(key)
        .and_then(Value::as_object)
        .unwrap_or_else(|| panic!("`{key}` is not a table"))
}

/// Spec key -> (operationId -> "METHOD path"), walked from each spec's `paths`.
fn spec_operations(manifest: &Value) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (key, entry) in table(manifest, "specs") {
        let file = entry["file"].as_str().expect("specs.<key>.file");
        let spec: Value = serde_json::from_str(&read(&format!("specs/{file}")))
            .unwrap_or_else(|e| panic!("specs/{file}: {e}"));
        let mut ops = BTreeMap::new();
        for (path, item) in table(&spec, "paths") {
            for method in METHODS {
                let Some(op) = item.get(method) else { continue };
                let id = op["operationId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{file}: {method} {path} has no operationId"));
                let where_ = format!("{} {path}", method.to_uppercase());
                if let Some(first) = ops.insert(id.to_string(), where_.clone()) {
                    panic!("{file}: operationId {id} used by {first} and {where_}");
                }
            }
        }
        assert!(!ops.is_empty(), "{file} has no operations");
        out.insert(key.clone(), ops);
    }
    out
}

/// Tool names, independently of the generator: `^[a-z][a-z0-9_]*$`, at most 64 characters.
fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
}

/// Checks `annotations` has exactly the four boolean hints; returns them.
fn annotations(at: &str, entry: &Value) -> [bool; 4] {
    let a = entry
        .get("annotations")
        .and_then(Value::as_object)
        .unwrap_or_else(|| panic!("{at}: no annotations table"));
    let keys: BTreeSet<&str> = a.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        BTreeSet::from(["destructive", "idempotent", "open_world", "read_only"]),
        "{at}: annotations must be exactly read_only, destructive, idempotent, open_world"
    );
    let get = |k: &str| {
        a[k].as_bool()
            .unwrap_or_else(|| panic!("{at}: annotations.{k} is not a boolean"))
    };
    let hints = [
        get("read_only"),
        get("destructive"),
        get("idempotent"),
        get("open_world"),
    ];
    if hints[0] {
        assert!(
            !hints[1] && hints[2],
            "{at}: a read-only tool is neither destructive nor non-idempotent"
        );
    }
    hints
}

fn description(at: &str, entry: &Value) {
    let d = entry
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{at}: no description"));
    assert!(!d.trim().is_empty(), "{at}: empty description");
}

#[test]
fn every_spec_operation_is_accounted_for_and_nothing_else() {
    let manifest = manifest();
    let spec_ops = spec_operations(&manifest);
    let manifest_ops = table(&manifest, "operations");
    assert_eq!(
        manifest_ops.keys().collect::<BTreeSet<_>>(),
        spec_ops.keys().collect::<BTreeSet<_>>(),
        "[operations.<spec>] tables must be exactly the [specs.<spec>] entries"
    );
    for (spec, ops) in &spec_ops {
        let listed: BTreeSet<&str> = manifest_ops[spec]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let in_spec: BTreeSet<&str> = ops.keys().map(String::as_str).collect();
        let missing: Vec<_> = in_spec
            .difference(&listed)
            .map(|id| format!("{id} ({})", ops[*id]))
            .collect();
        assert!(
            missing.is_empty(),
            "spec `{spec}` operations missing from the manifest: {missing:?}"
        );
        let stale: Vec<_> = listed.difference(&in_spec).collect();
        assert!(
            stale.is_empty(),
            "manifest operations.{spec} names operations the spec does not have: {stale:?}"
        );
    }
}

/// The generator's own reading of the specs finds the same operations as the walk above.
#[test]
fn generator_sees_the_same_operations() {
    let manifest = manifest();
    let spec_ops = spec_operations(&manifest);
    for (key, entry) in table(&manifest, "specs") {
        let file = entry["file"].as_str().unwrap();
        let api: openapiv3::OpenAPI =
            serde_json::from_str(&read(&format!("specs/{file}"))).expect("an OpenAPI document");
        let ids: BTreeSet<String> = openapi_mcp_codegen::spec_operation_ids(&api)
            .expect("operation ids")
            .into_iter()
            .collect();
        let walked: BTreeSet<String> = spec_ops[key].keys().cloned().collect();
        assert_eq!(ids, walked, "spec `{key}`");
    }
}

#[test]
fn every_operation_has_one_disposition_and_complete_metadata() {
    let manifest = manifest();
    let toolsets = table(&manifest, "toolsets");
    let spec_ops = spec_operations(&manifest);
    let handwritten = table(&manifest, "handwritten");
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut claim = |name: &str, owner: String| {
        assert!(
            valid_name(name),
            "{owner}: tool name `{name}` must match ^[a-z][a-z0-9_]*$ and be at most 64 characters"
        );
        if let Some(first) = names.insert(name.to_string(), owner.clone()) {
            panic!("tool name `{name}` is used by both {first} and {owner}");
        }
    };
    let mut reserved: BTreeMap<String, String> = BTreeMap::new();
    let mut counts = [0usize; 3];

    for (spec, ops) in table(&manifest, "operations") {
        for (id, op) in ops.as_object().unwrap() {
            let at = format!("operations.{spec}.{id}");
            let kinds = ["tool", "replaced_by", "excluded"].map(|k| op.get(k).is_some());
            assert_eq!(
                kinds.iter().filter(|k| **k).count(),
                1,
                "{at}: set exactly one of tool, replaced_by and excluded"
            );
            if let Some(reason) = op.get("excluded") {
                counts[2] += 1;
                let reason = reason.as_str().unwrap_or_default();
                assert!(!reason.trim().is_empty(), "{at}: excluded needs a reason");
                for k in ["toolset", "description", "annotations", "params", "risk"] {
                    assert!(
                        op.get(k).is_none(),
                        "{at}: excluded, so `{k}` means nothing"
                    );
                }
                continue;
            }
            let toolset = op["toolset"]
                .as_str()
                .unwrap_or_else(|| panic!("{at}: no toolset"));
            assert!(
                toolsets.contains_key(toolset),
                "{at}: unknown toolset {toolset}"
            );
            if let Some(by) = op.get("replaced_by") {
                counts[1] += 1;
                let by = by.as_array().expect("replaced_by is an array");
                assert!(!by.is_empty(), "{at}: replaced_by is empty");
                for name in by {
                    let name = name.as_str().expect("replaced_by names are strings");
                    assert!(valid_name(name), "{at}: `{name}` is not a valid tool name");
                    if let Some(first) = reserved.insert(name.to_string(), at.clone()) {
                        panic!("`{name}` is in the replaced_by of both {first} and {at}");
                    }
                    let hw = handwritten.get(name).unwrap_or_else(|| {
                        panic!(
                            "{at}: replaced_by names `{name}`, which is not a [handwritten] tool"
                        )
                    });
                    assert_eq!(
                        hw["replaces"].as_str(),
                        Some(format!("{spec}:{id}").as_str()),
                        "handwritten.{name}.replaces"
                    );
                    assert_eq!(
                        hw["toolset"].as_str(),
                        Some(toolset),
                        "handwritten.{name}.toolset"
                    );
                }
                continue;
            }
            counts[0] += 1;
            let name = op["tool"].as_str().expect("tool is a string");
            claim(name, at.clone());
            description(&at, op);
            let [read_only, ..] = annotations(&at, op);
            if let Some(risk) = op.get("risk") {
                assert!(
                    matches!(risk.as_str(), Some("api_data" | "external_text")),
                    "{at}: risk {risk}"
                );
            }
            let method = spec_ops[spec][id].split(' ').next().unwrap();
            let exception = READ_ONLY_EXCEPTIONS.contains(&(spec.as_str(), id.as_str()));
            assert_eq!(
                read_only,
                (method == "GET") != exception,
                "{at} ({}): read_only should be true exactly for GET operations{}",
                spec_ops[spec][id],
                if exception {
                    " (listed as an exception)"
                } else {
                    ""
                }
            );
            if let Some(params) = op.get("params") {
                for (p, d) in params.as_object().expect("params is a table") {
                    let d = d.as_str().unwrap_or_default();
                    assert!(!d.trim().is_empty(), "{at}.params.{p}: empty description");
                }
            }
        }
    }

    for (name, hw) in handwritten {
        let at = format!("handwritten.{name}");
        claim(name, at.clone());
        assert!(
            reserved.contains_key(name),
            "{at}: not named in the replaced_by of the operation it replaces"
        );
        let toolset = hw["toolset"].as_str().expect("toolset");
        assert!(toolsets.contains_key(toolset), "{at}: unknown toolset");
        description(&at, hw);
        annotations(&at, hw);
    }
    assert_eq!(
        reserved.keys().collect::<BTreeSet<_>>(),
        handwritten.keys().collect::<BTreeSet<_>>(),
        "replaced_by reservations must be exactly the hand-written tools"
    );

    for (name, toolset) in toolsets {
        let d = toolset["description"].as_str().unwrap_or_default();
        assert!(!d.trim().is_empty(), "toolsets.{name}: empty description");
    }
    for (p, d) in table(&manifest, "glossary") {
        let d = d.as_str().unwrap_or_default();
        assert!(!d.trim().is_empty(), "glossary.{p}: empty description");
    }

    println!(
        "{} generated tools, {} replaced operations, {} excluded, {} hand-written tools",
        counts[0],
        counts[1],
        counts[2],
        handwritten.len()
    );
    assert!(counts.iter().all(|c| *c > 0));
}

#[test]
fn every_toolset_has_a_tool() {
    let manifest = manifest();
    let mut used: BTreeSet<&str> = BTreeSet::new();
    for ops in table(&manifest, "operations").values() {
        for op in ops.as_object().unwrap().values() {
            if op.get("excluded").is_none() {
                used.insert(op["toolset"].as_str().unwrap());
            }
        }
    }
    for name in table(&manifest, "toolsets").keys() {
        assert!(used.contains(name.as_str()), "toolset {name} has no tools");
    }
}

#[test]
fn v2_tool_names_are_kept() {
    let manifest = manifest();
    let ops = table(&manifest, "operations");
    for (spec, toolset, id, tool) in V2_TOOLS {
        let at = format!("operations.{spec}.{id}");
        let op = ops
            .get(*spec)
            .and_then(|o| o.get(*id))
            .unwrap_or_else(|| panic!("{at}: missing (V2 tool {tool})"));
        // Exposed under the name, or replaced by a hand-written tool of the same name.
        let replaced_by_it = op
            .get("replaced_by")
            .and_then(Value::as_array)
            .is_some_and(|by| by.iter().any(|b| b == *tool));
        if replaced_by_it {
            let hw = &manifest["handwritten"][*tool];
            assert_eq!(
                hw["toolset"].as_str(),
                Some(*toolset),
                "handwritten.{tool}.toolset"
            );
            assert_eq!(
                hw["replaces"].as_str(),
                Some(format!("{spec}:{id}").as_str()),
                "handwritten.{tool}.replaces"
            );
        } else {
            assert_eq!(
                op.get("tool").and_then(Value::as_str),
                Some(*tool),
                "{at}.tool"
            );
        }
        assert_eq!(
            op.get("toolset").and_then(Value::as_str),
            Some(*toolset),
            "{at}.toolset (V2 tool {tool})"
        );
        let risk = op.get("risk").and_then(Value::as_str).unwrap_or("api_data");
        let expected = if *tool == "get_news" {
            "external_text"
        } else {
            "api_data"
        };
        assert_eq!(risk, expected, "{at}.risk (V2 tool {tool})");
    }
    let v2_names: BTreeSet<&str> = V2_TOOLS.iter().map(|t| t.3).collect();
    // V2 had 67 tools: these 64 generated ones and the three order tools.
    assert_eq!(V2_TOOLS.len() + V2_ORDER_TOOLS.len(), 67);
    assert_eq!(
        v2_names.len(),
        V2_TOOLS.len(),
        "the contract lists a name twice"
    );

    let post_order = &ops["trading"]["postOrder"];
    assert_eq!(post_order["toolset"].as_str(), Some("trading"));
    let by: BTreeSet<&str> = post_order["replaced_by"]
        .as_array()
        .expect("postOrder is replaced")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    // V2's three order tools, plus the confirmation pair that only exists in confirm mode.
    assert!(by.is_superset(&BTreeSet::from(V2_ORDER_TOOLS)), "{by:?}");
    let handwritten = table(&manifest, "handwritten");
    for name in V2_ORDER_TOOLS {
        let hw = &handwritten[name];
        assert_eq!(
            hw["toolset"].as_str(),
            Some("trading"),
            "handwritten.{name}"
        );
        assert_eq!(
            hw["replaces"].as_str(),
            Some("trading:postOrder"),
            "handwritten.{name}"
        );
    }

    // Every V2 toolset holds a V2 tool, and V2 tools live only in V2 toolsets.
    let toolsets: BTreeSet<&str> = V2_TOOLS.iter().map(|t| t.1).collect();
    assert_eq!(toolsets, BTreeSet::from(V2_TOOLSETS));
}

/// Follows `feature`'s list in Cargo.toml's `[features]`, collecting every feature it enables.
fn feature_closure(features: &serde_json::Map<String, Value>, feature: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![feature.to_string()];
    while let Some(f) = stack.pop() {
        if !seen.insert(f.clone()) {
            continue;
        }
        let list = features
            .get(&f)
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("Cargo.toml: feature `{f}` is not defined"));
        for item in list {
            let item = item.as_str().unwrap();
            // Only plain features: `dep:x` and `crate/feature` are not toolsets.
            if !item.contains(':') && !item.contains('/') {
                stack.push(item.to_string());
            }
        }
    }
    seen
}

#[test]
fn default_toolsets_are_v2s_and_match_cargo_features() {
    let manifest = manifest();
    let toolsets = table(&manifest, "toolsets");
    let feature_of = |name: &str| -> String {
        toolsets[name]
            .get("feature")
            .and_then(Value::as_str)
            .unwrap_or(name)
            .to_string()
    };
    let default: BTreeSet<&str> = toolsets
        .iter()
        .filter(|(_, t)| t.get("default").and_then(Value::as_bool).unwrap_or(false))
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(default, BTreeSet::from(V2_TOOLSETS));
    for name in ["crypto-funding", "tokenization"] {
        let t = toolsets
            .get(name)
            .unwrap_or_else(|| panic!("toolset {name} is missing"));
        assert_eq!(
            t.get("default").and_then(Value::as_bool),
            Some(false),
            "{name}"
        );
    }

    let cargo = cargo_toml();
    let features = table(&cargo, "features");
    let cargo_default: BTreeSet<String> = features["default"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let expected: BTreeSet<String> = default.iter().map(|n| feature_of(n)).collect();
    assert_eq!(
        cargo_default, expected,
        "Cargo.toml's `default` feature must be exactly the default toolsets' features"
    );

    let full = feature_closure(features, "full");
    for name in toolsets.keys() {
        let f = feature_of(name);
        assert!(
            features.contains_key(&f),
            "toolset {name}: Cargo.toml has no feature `{f}`"
        );
        assert!(
            full.contains(&f),
            "feature `full` does not enable `{f}` (toolset {name})"
        );
    }
}

/// Every exposed operation that changes orders or positions (any method but GET under
/// `/v2/orders` or `/v2/positions`) names a guard, read independently of the generator; and
/// the generator refuses the manifest when one is taken away, so a new order-changing
/// operation upstream cannot arrive unguarded.
#[test]
fn every_order_or_position_change_names_a_guard_and_the_build_enforces_it() {
    let manifest = manifest();
    let spec_ops = spec_operations(&manifest);
    let guarded_paths: Vec<&str> = manifest["guards"]["paths"]
        .as_array()
        .expect("[guards] paths")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(guarded_paths.contains(&"/v2/orders") && guarded_paths.contains(&"/v2/positions"));
    let mut seen = 0;
    for (spec, ops) in table(&manifest, "operations") {
        for (id, entry) in ops.as_object().unwrap() {
            let (method, path) = spec_ops[spec][id].split_once(' ').unwrap();
            let changes = method != "GET"
                && guarded_paths
                    .iter()
                    .any(|p| path == *p || path.starts_with(&format!("{p}/")));
            if !changes {
                continue;
            }
            seen += 1;
            if entry.get("tool").is_some() {
                assert!(
                    entry.get("guard").is_some(),
                    "{spec}.{id} ({method} {path}) has no guard"
                );
            }
            for name in entry
                .get("replaced_by")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let hw = &manifest["handwritten"][name.as_str().unwrap()];
                assert!(hw.get("guard").is_some(), "handwritten {name} has no guard");
            }
        }
    }
    assert!(seen >= 8, "only {seen} order/position changes found");

    // Take one guard away: the generator refuses to build.
    let text = read("specs/toolsets.toml");
    let stripped = text.replacen("guard = \"replace_order\"\n", "", 1);
    assert_ne!(stripped, text);
    let m = openapi_mcp_codegen::manifest::Manifest::from_toml(&stripped).expect("still parses");
    let mut docs = Vec::new();
    for (key, entry) in &m.specs {
        let api: openapiv3::OpenAPI =
            serde_json::from_str(&read(&format!("specs/{}", entry.file))).unwrap();
        docs.push((key.clone(), api));
    }
    let refs: Vec<(&str, &openapiv3::OpenAPI)> =
        docs.iter().map(|(k, a)| (k.as_str(), a)).collect();
    let err = openapi_mcp_codegen::Generator::new(&Default::default())
        .generate_tokens(&refs, &m)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("patchOrderByOrderId") && err.contains("guard"),
        "{err}"
    );
}
