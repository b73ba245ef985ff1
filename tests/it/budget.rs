//! Results within a budget (`ALPACA_MAX_RESULT_CHARS`) and rows as compact tables
//! (`ALPACA_RESULT_FORMAT`), through rmcp's client against the fake: what is cut keeps whole
//! rows in Alpaca's order, says how many of how many, and its continuation gets exactly the
//! rest; list tools stop fetching pages the budget could not hold.

use alpaca_mcp::output::Format;
use serde_json::{Value, json};
use support::*;

async fn client(mock: &alpaca_mock::MockServer, format: Format, max_chars: usize) -> Client {
    let mut config = config_for(mock);
    config.output.format = format;
    config.output.max_chars = max_chars;
    connect(&config).await
}

/// Every text a client may hand a model: the text content, and `structuredContent` as JSON.
fn longest_text(r: &rmcp::model::CallToolResult) -> usize {
    let structured = r
        .structured_content
        .as_ref()
        .map_or(0, |v| v.to_string().len());
    text(r).len().max(structured)
}

fn chain_symbols(data: &Value) -> Vec<String> {
    data["snapshots"]
        .as_object()
        .expect("snapshots by symbol")
        .keys()
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_chain_over_the_budget_keeps_whole_rows_and_its_page_token_gets_exactly_the_rest() {
    let mock = mock().await;
    let args = json!({"underlying_symbol": "AAPL"});
    // The whole chain, page by page, with room for every page.
    let whole = client(&mock, Format::Json, 1_000_000).await;
    let mut all = Vec::new();
    let mut page_args = args.clone();
    loop {
        let r = call(&whole, "get_option_chain", page_args.clone()).await;
        let d = data(&r);
        assert!(
            text(&r).len() > 12_000,
            "a page of the fake's chain is large: {}",
            text(&r).len()
        );
        all.extend(chain_symbols(&d));
        match envelope(&r)["meta"]["next_page_token"].as_str() {
            Some(t) => page_args["page_token"] = json!(t),
            None => break,
        }
    }

    for format in [Format::Json, Format::Compact, Format::Both] {
        let budget = 12_000;
        let small = client(&mock, format, budget).await;
        let mut got: Vec<String> = Vec::new();
        let mut page_args = args.clone();
        let mut calls = 0;
        loop {
            mock.clear_requests();
            let r = call(&small, "get_option_chain", page_args.clone()).await;
            calls += 1;
            assert!(
                longest_text(&r) <= budget,
                "{format:?}: {} characters over a budget of {budget}",
                longest_text(&r)
            );
            let env = envelope(&r);
            let rows = chain_symbols(&env["data"]);
            assert!(!rows.is_empty(), "{format:?}: every call returns rows");
            got.extend(rows.iter().cloned());
            let Some(token) = env["meta"]["next_page_token"].as_str() else {
                break;
            };
            let budget_meta = &env["meta"]["budget"];
            assert_eq!(budget_meta["rows_returned"], rows.len(), "{budget_meta}");
            assert!(
                budget_meta["rows_received"].as_u64().unwrap() > rows.len() as u64,
                "{budget_meta}"
            );
            assert!(
                budget_meta["rest"].as_str().unwrap().contains(token),
                "the continuation names the token: {budget_meta}"
            );
            // The cut answer is asked for again with `limit` = the rows kept: one more request,
            // so that Alpaca's own token continues right after them.
            assert_eq!(
                queries(&mock, "/v1beta1/options/snapshots/AAPL").len(),
                2,
                "{format:?}"
            );
            page_args["page_token"] = json!(token);
            assert!(calls < 50, "{format:?}: the continuation makes progress");
        }
        assert_eq!(
            got, all,
            "{format:?}: following the continuation gives every contract once, in order"
        );
        assert!(calls > 1, "{format:?}: the budget cut the chain");
    }
}

#[tokio::test]
async fn compact_tables_are_shorter_than_json_for_rows_of_data() {
    let mock = mock().await;
    let json_client = client(&mock, Format::Json, 1_000_000).await;
    let compact_client = client(&mock, Format::Compact, 1_000_000).await;
    let calls = [
        ("get_option_chain", json!({"underlying_symbol": "AAPL"})),
        (
            "get_stock_bars",
            json!({"symbols": "AAPL,MSFT", "start": "2025-01-06", "end": "2025-01-10", "timeframe": "1Hour"}),
        ),
        (
            "get_stock_snapshot",
            json!({"symbols": "AAPL,MSFT,NVDA,SPY"}),
        ),
        ("get_news", json!({"limit": 50})),
        ("get_all_assets", json!({"asset_class": "crypto"})),
    ];
    let mut total = (0, 0);
    for (tool, args) in calls {
        let j = call(&json_client, tool, args.clone()).await;
        let c = call(&compact_client, tool, args.clone()).await;
        assert_eq!(data(&j), data(&c), "{tool}: the same data both ways");
        assert!(
            c.structured_content.is_none(),
            "{tool}: a table goes alone: {}",
            &text(&c)[..text(&c).len().min(800)]
        );
        let (jl, cl) = (text(&j).len(), text(&c).len());
        eprintln!(
            "{tool}: JSON {jl}, compact {cl} ({:.2})",
            cl as f64 / jl as f64
        );
        assert!(
            cl < jl,
            "{tool}: compact {cl} is not shorter than JSON {jl}\n{}",
            &text(&c)[..text(&c).len().min(600)]
        );
        total.0 += jl;
        total.1 += cl;
    }
    eprintln!(
        "all: JSON {}, compact {} ({:.2})",
        total.0,
        total.1,
        total.1 as f64 / total.0 as f64
    );
    // Measured here: 0.58 in all (the chain 0.51, hourly bars 0.67, four snapshots 0.80, news
    // 0.75, assets 0.46); the bound leaves room for the fake's data to change, not for a
    // regression.
    assert!(
        total.1 * 100 <= total.0 * 62,
        "compact {} is not under 0.62 of JSON {}",
        total.1,
        total.0
    );
}

#[tokio::test]
async fn an_unpaged_list_over_the_budget_names_the_arguments_that_narrow_it() {
    let mock = mock().await;
    let small = client(&mock, Format::Compact, 2_000).await;
    let r = call(&small, "get_all_assets", json!({})).await;
    assert!(text(&r).len() <= 2_000, "{}", text(&r).len());
    let env = envelope(&r);
    let b = &env["meta"]["budget"];
    let kept = env["data"].as_array().expect("assets").len();
    assert_eq!(b["rows_returned"], kept);
    assert!(
        kept > 0 && b["rows_received"].as_u64().unwrap() > kept as u64,
        "{b}"
    );
    let rest = b["rest"].as_str().unwrap();
    for arg in ["status", "asset_class", "exchange", "attributes"] {
        assert!(rest.contains(arg), "{rest}");
    }
    // The first asset left out is named, so the model knows where the cut is.
    assert!(b["first_left_out"].is_string(), "{b}");
}

#[tokio::test]
async fn a_list_stops_following_pages_once_the_budget_is_full() {
    let mock = mock().await;
    let small = client(&mock, Format::Compact, 3_000).await;
    mock.clear_requests();
    let r = call(&small, "get_news", json!({"limit": 200})).await;
    assert!(text(&r).len() <= 3_000);
    // 200 items are four pages of 50; the first fills the budget, so the walk stops there,
    // and the cut answer is asked for once more with the rows kept.
    let sent = queries(&mock, "/v1beta1/news");
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[0].get("limit").map(String::as_str), Some("50"));
    let kept = envelope(&r)["data"]["news"].as_array().unwrap().len();
    assert_eq!(sent[1].get("limit"), Some(&kept.to_string()), "{sent:?}");
}

#[tokio::test]
async fn a_result_that_fits_is_whole_and_says_nothing_of_a_budget() {
    let mock = mock().await;
    let c = client(&mock, Format::Compact, 40_000).await;
    let r = call(&c, "get_account_info", json!({})).await;
    // No rows: JSON text with structuredContent, as before.
    assert!(r.structured_content.is_some());
    assert!(text(&r).starts_with('{'));
    assert!(envelope(&r).get("meta").is_none());
    let both = client(&mock, Format::Both, 40_000).await;
    let r = call(
        &both,
        "get_stock_latest_quote",
        json!({"symbols": "AAPL,MSFT"}),
    )
    .await;
    assert!(
        text(&r).contains("== data.quotes (2 rows, first column is the key)\n"),
        "{}",
        text(&r)
    );
    // `both`: the compact text and the same envelope as structuredContent (envelope() checks
    // they agree).
    assert!(r.structured_content.is_some());
    assert!(data(&r)["quotes"]["MSFT"].is_object());
}

#[tokio::test]
async fn real_volumes_stay_within_the_default_budget() {
    let mock = mock().await;
    let c = connect(&config_for(&mock)).await;
    let cases = [
        ("get_all_assets", json!({})),
        (
            "get_option_chain",
            json!({"underlying_symbol": "SPY", "limit": 10000}),
        ),
        (
            "get_news",
            json!({"symbols": "AAPL", "limit": 50, "include_content": true}),
        ),
        (
            "get_stock_bars",
            json!({"symbols": "AAPL", "timeframe": "1Min", "start": "2025-01-06", "end": "2025-01-17", "limit": 10000}),
        ),
    ];
    for (tool, args) in cases {
        let r = call(&c, tool, args).await;
        let len = longest_text(&r);
        let env = envelope(&r);
        let b = &env["meta"]["budget"];
        eprintln!("{tool}: {len} characters, {b}");
        assert!(len <= 40_000, "{tool}: {len}");
        assert!(
            b["rows_received"].as_u64().unwrap() > b["rows_returned"].as_u64().unwrap(),
            "{tool}: cut to the budget: {b}"
        );
    }
}

/// The rows of a tool's answer, from its `data`.
type RowsOf = fn(&Value) -> Vec<Value>;

/// The page token a cut answer's `meta.budget.rest` names, if it names one.
fn continuation_token(env: &serde_json::Map<String, Value>) -> Option<String> {
    let rest = env.get("meta")?.get("budget")?.get("rest")?.as_str()?;
    let after = rest.split_once("page_token=")?.1;
    Some(
        after
            .split(|c: char| c == ':' || c.is_whitespace())
            .next()?
            .to_string(),
    )
}

/// Calls `tool` and follows each cut answer's continuation (same arguments, the token its
/// `meta.budget.rest` names) while answers are cut and fewer than `enough` rows were read:
/// every row, in order, and the number of calls. Each answer is within `budget`.
async fn follow(
    c: &Client,
    tool: &str,
    args: &Value,
    rows_of: RowsOf,
    budget: usize,
    enough: usize,
) -> (Vec<Value>, usize) {
    let mut got = Vec::new();
    let mut calls = 0;
    let mut next = args.clone();
    loop {
        let r = call(c, tool, next.clone()).await;
        calls += 1;
        assert!(longest_text(&r) <= budget, "{tool}: {}", longest_text(&r));
        let env = envelope(&r);
        let rows = rows_of(&env["data"]);
        assert!(!rows.is_empty(), "{tool}: every call returns rows");
        if let Some(b) = env.get("meta").and_then(|m| m.get("budget")) {
            assert_eq!(b["rows_returned"], rows.len(), "{tool}: {b}");
        }
        got.extend(rows);
        match continuation_token(&env) {
            Some(token) if got.len() < enough => next["page_token"] = json!(token),
            _ => break,
        }
        assert!(calls < 100, "{tool}: the continuation makes progress");
    }
    (got, calls)
}

#[tokio::test]
async fn every_cut_list_shape_continues_exactly_where_it_was_cut() {
    let mock = mock().await;
    let roomy = client(&mock, Format::Json, 1_000_000).await;
    let news = |d: &Value| d["news"].as_array().cloned().unwrap_or_default();
    let bars = |d: &Value| d["bars"]["AAPL"].as_array().cloned().unwrap_or_default();
    // A list whose pages the server walks (news, 50 a page) and a history tool (bars, which
    // also says where it stopped in its own meta), each cut by a small budget.
    let cases: [(&str, Value, RowsOf, usize, usize); 2] = [
        ("get_news", json!({"limit": 200}), news, 6_000, 200),
        (
            "get_stock_bars",
            json!({"symbols": "AAPL", "timeframe": "1Min", "start": "2025-01-06", "end": "2025-01-08", "limit": 10000}),
            bars,
            20_000,
            usize::MAX,
        ),
    ];
    for format in [Format::Compact, Format::Json] {
        for (tool, args, rows_of, budget, enough) in &cases {
            let small = client(&mock, format, *budget).await;
            let (got, calls) = follow(&small, tool, args, *rows_of, *budget, *enough).await;
            assert!(
                calls > 2,
                "{tool} {format:?}: the budget cut it: {calls} calls"
            );
            // The same rows read at once with room for them all.
            let mut whole_args = args.clone();
            whole_args["limit"] = json!(got.len().min(10_000));
            let r = call(&roomy, tool, whole_args).await;
            assert!(envelope(&r)["meta"].get("budget").is_none());
            let whole = rows_of(&data(&r));
            assert_eq!(
                got.len(),
                whole.len(),
                "{tool} {format:?}: {calls} calls gave {} rows",
                got.len()
            );
            assert!(
                got == whole,
                "{tool} {format:?}: following the continuation gives every row once, in order"
            );
            eprintln!(
                "{tool} {format:?}: {} rows in {calls} calls under {budget}",
                got.len()
            );
        }
    }
}

/// The table lines of a compact text: each `== data...` section's rows, header first.
fn table_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_table = false;
    for line in text.lines() {
        if line.starts_with("== ") {
            in_table = true;
            continue;
        }
        if line.is_empty() {
            in_table = false;
            continue;
        }
        if in_table {
            out.push(line.to_string());
        }
    }
    out
}

#[tokio::test]
async fn each_known_client_gets_whole_rows_under_its_cut() {
    use alpaca_mcp::output::CLIENT_BUDGETS;
    let mock = mock().await;
    let config = config_for(&mock);
    assert!(!config.output.operator_set);
    let calls = [
        ("get_all_assets", json!({})),
        (
            "get_stock_bars",
            json!({"symbols": "AAPL,MSFT", "timeframe": "1Min", "start": "2025-01-13", "end": "2025-01-15T15:00:00Z", "limit": 5000}),
        ),
    ];
    // What the rows are, with room for all of them.
    let mut roomy = config.clone();
    roomy.output.max_chars = 1_000_000;
    roomy.output.operator_set = true;
    let whole = connect(&roomy).await;
    let mut wholes = Vec::new();
    for (tool, args) in &calls {
        wholes.push(table_lines(&text(&call(&whole, tool, args.clone()).await)));
    }
    for b in CLIENT_BUDGETS {
        let client = connect_as(&config, b.names[0]).await;
        for ((tool, args), all) in calls.iter().zip(&wholes) {
            let mut params = rmcp::model::CallToolRequestParams::new(tool.to_string());
            params = params.with_arguments(args.as_object().unwrap().clone());
            let r = client.call_tool(params).await.unwrap();
            assert_ne!(r.is_error, Some(true), "{}: {}", b.client, text(&r));
            let t = text(&r);
            assert!(
                t.len() <= b.max_chars && longest_text(&r) <= b.max_chars,
                "{} {tool}: {} bytes over our budget of {}",
                b.client,
                t.len(),
                b.max_chars
            );
            assert!(t.len() < b.cuts_at, "{} {tool}", b.client);
            // Whole rows: the first rows of the whole answer, each one complete, and the
            // budget's count says how many.
            let got = table_lines(&t);
            let e = support::envelope(&r);
            let budget = &e["meta"]["budget"];
            if let Some(kept) = budget["rows_returned"].as_u64() {
                assert!(budget["rows_received"].as_u64().unwrap() > kept, "{budget}");
            }
            assert!(got.len() > 10, "{} {tool}: {t}", b.client);
            // Sections start with a header, so the kept lines are a prefix of each section
            // or the whole section: every kept line is a line of the whole answer, in order.
            let mut at = 0;
            for line in &got {
                let found = all[at..].iter().position(|l| l == line);
                assert!(
                    found.is_some(),
                    "{} {tool}: {line:?} is not a whole row",
                    b.client
                );
                at += found.unwrap() + 1;
            }
        }
    }
}
