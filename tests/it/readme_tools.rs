//! The README's tools table is generated from the registry (so from the manifest the build
//! compiled), never edited by hand. This test fails when it is stale;
//! `UPDATE_README=1 cargo test --test it readme_tools` rewrites it.

use std::fmt::Write;

use alpaca_mcp::TOOLSETS;
use alpaca_mcp::registry::{ToolFilter, enabled};

const START: &str = "<!-- tools:start (generated from specs/toolsets.toml; UPDATE_README=1 cargo test --test it readme_tools) -->";
const END: &str = "<!-- tools:end -->";

fn access(a: alpaca_mcp::runtime::Annotations) -> &'static str {
    match (a.read_only, a.destructive) {
        (true, _) => "read",
        (false, false) => "write",
        (false, true) => "destructive",
    }
}

fn first_sentence(text: &str) -> String {
    let t = text.trim().replace('|', "\\|");
    // The first ". " followed by a capital letter ends the sentence ("e.g. x" does not).
    let bytes = t.as_bytes();
    for (i, _) in t.match_indices(". ") {
        let abbreviation = t[..i].ends_with("e.g") || t[..i].ends_with("i.e");
        if !abbreviation && bytes.get(i + 2).is_some_and(u8::is_ascii_uppercase) {
            return t[..=i].to_string();
        }
    }
    t
}

/// The table, from the registry: every tool of every toolset (`None` unless this build
/// compiled them all).
fn table() -> Option<String> {
    if TOOLSETS.iter().any(|t| !t.compiled) {
        return None;
    }
    let tools = enabled(&ToolFilter::every_compiled()).expect("every compiled toolset");
    let mut order: Vec<_> = TOOLSETS.iter().collect();
    // Default toolsets first, each group in name order.
    order.sort_by_key(|t| (!t.default, t.name));
    let mut out = String::new();
    writeln!(out, "| Toolset | Tool | Access | What it does |").unwrap();
    writeln!(out, "|---|---|---|---|").unwrap();
    for toolset in order {
        let mut rows: Vec<_> = tools
            .iter()
            .filter(|t| t.toolset() == toolset.name)
            .collect();
        rows.sort_by_key(|t| t.name());
        let label = if toolset.default {
            format!("`{}`", toolset.name)
        } else {
            format!("`{}` (opt-in)", toolset.name)
        };
        for t in rows {
            let (name, access, desc) = (
                t.name(),
                access(t.annotations()),
                first_sentence(t.description()),
            );
            writeln!(out, "| {label} | `{name}` | {access} | {desc} |").unwrap();
        }
    }
    Some(out)
}

/// Checks (or, with `UPDATE_README`, rewrites) the README's block between `start` and `end`.
fn check_block(start_marker: &str, end_marker: &str, fresh: &str, what: &str) {
    // One rewrite at a time: the tests run in parallel.
    static README: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = README.lock().unwrap_or_else(|p| p.into_inner());
    let path = format!("{}/README.md", env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(&path).expect("README.md");
    let start = readme
        .find(start_marker)
        .unwrap_or_else(|| panic!("README has the {what} start marker"))
        + start_marker.len();
    let end = readme
        .find(end_marker)
        .unwrap_or_else(|| panic!("README has the {what} end marker"));
    let current = readme[start..end].trim();
    if std::env::var_os("UPDATE_README").is_some() {
        let updated = format!("{}\n{}\n{}", &readme[..start], fresh.trim(), &readme[end..]);
        std::fs::write(&path, updated).expect("write README.md");
        return;
    }
    assert_eq!(
        current,
        fresh.trim(),
        "the README's {what} is stale: run `UPDATE_README=1 cargo test --test it readme_tools`"
    );
}

#[test]
fn readme_tools_table_is_current() {
    let Some(fresh) = table() else {
        println!("skipped: the table lists every toolset; run with --all-features");
        return;
    };
    check_block(START, END, &fresh, "tools table");
}

#[test]
fn readme_client_budgets_table_is_current() {
    let mut out = String::new();
    writeln!(
        out,
        "| Client | `clientInfo.name` | Its cut | Our budget | Source |"
    )
    .unwrap();
    writeln!(out, "|---|---|---|---|---|").unwrap();
    for b in alpaca_mcp::output::CLIENT_BUDGETS {
        let names: Vec<String> = b.names.iter().map(|n| format!("`{n}`")).collect();
        writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            b.client,
            names.join(", "),
            b.cut,
            b.max_chars,
            b.source
        )
        .unwrap();
    }
    writeln!(
        out,
        "| any other | | | {} (`ALPACA_MAX_RESULT_CHARS`) | |",
        alpaca_mcp::output::DEFAULT_MAX_CHARS
    )
    .unwrap();
    check_block(
        "<!-- client-budgets:start (generated from src/output.rs; UPDATE_README=1 cargo test --test it readme_tools) -->",
        "<!-- client-budgets:end -->",
        &out,
        "client budgets table",
    );
}
