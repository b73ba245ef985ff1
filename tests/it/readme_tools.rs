//! The README's tools table is generated from the manifest, never edited by hand. This test
//! fails when it is stale; `UPDATE_README=1 cargo test --test it readme_tools` rewrites it.

use std::fmt::Write;

const START: &str = "<!-- tools:start (generated from specs/toolsets.toml; UPDATE_README=1 cargo test --test it readme_tools) -->";
const END: &str = "<!-- tools:end -->";

fn access(a: &toml::Value) -> &'static str {
    let flag = |k: &str| a.get(k).and_then(toml::Value::as_bool).unwrap_or(false);
    match (flag("read_only"), flag("destructive")) {
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

/// The table, from the manifest alone.
fn table() -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    let text = std::fs::read_to_string(format!("{root}/specs/toolsets.toml")).expect("manifest");
    let manifest: toml::Table = text.parse().expect("manifest parses");
    let toolsets = manifest["toolsets"].as_table().expect("toolsets");
    // Tools per toolset: (name, access, description).
    let mut rows: Vec<(String, String, &'static str, String)> = Vec::new();
    for ops in manifest["operations"]
        .as_table()
        .expect("operations")
        .values()
    {
        for op in ops.as_table().expect("spec ops").values() {
            if let (Some(tool), Some(toolset)) = (op.get("tool"), op.get("toolset")) {
                rows.push((
                    toolset.as_str().unwrap().to_string(),
                    tool.as_str().unwrap().to_string(),
                    access(&op["annotations"]),
                    first_sentence(op["description"].as_str().unwrap_or_default()),
                ));
            }
        }
    }
    if let Some(hw) = manifest.get("handwritten").and_then(toml::Value::as_table) {
        for (name, t) in hw {
            rows.push((
                t["toolset"].as_str().unwrap().to_string(),
                name.clone(),
                access(&t["annotations"]),
                first_sentence(t["description"].as_str().unwrap_or_default()),
            ));
        }
    }
    let mut order: Vec<(&String, bool)> = toolsets
        .iter()
        .map(|(k, v)| {
            (
                k,
                v.get("default")
                    .and_then(toml::Value::as_bool)
                    .unwrap_or(false),
            )
        })
        .collect();
    // Default toolsets first, each group in name order.
    order.sort_by_key(|(name, default)| (!*default, (*name).clone()));
    let mut out = String::new();
    writeln!(out, "| Toolset | Tool | Access | What it does |").unwrap();
    writeln!(out, "|---|---|---|---|").unwrap();
    for (toolset, default) in order {
        let mut tools: Vec<_> = rows.iter().filter(|r| &r.0 == toolset).collect();
        tools.sort_by(|a, b| a.1.cmp(&b.1));
        let label = if default {
            format!("`{toolset}`")
        } else {
            format!("`{toolset}` (opt-in)")
        };
        for (_, name, access, desc) in tools {
            writeln!(out, "| {label} | `{name}` | {access} | {desc} |").unwrap();
        }
    }
    out
}

#[test]
fn readme_tools_table_is_current() {
    let path = format!("{}/README.md", env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(&path).expect("README.md");
    let start = readme
        .find(START)
        .expect("README has the tools:start marker")
        + START.len();
    let end = readme.find(END).expect("README has the tools:end marker");
    let current = readme[start..end].trim();
    let fresh = table();
    if std::env::var_os("UPDATE_README").is_some() {
        let updated = format!("{}\n{}\n{}", &readme[..start], fresh.trim(), &readme[end..]);
        std::fs::write(&path, updated).expect("write README.md");
        return;
    }
    assert_eq!(
        current,
        fresh.trim(),
        "the README's tools table is stale: run `UPDATE_README=1 cargo test --test it readme_tools`"
    );
}
