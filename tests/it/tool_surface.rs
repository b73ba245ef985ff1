//! The MCP surface: what a model sees of every tool.
//!
//! With every toolset compiled (`--features full`), the compiled tool list must equal the
//! manifest's tool entries (read here independently, as TOML), and the whole `tools/list`
//! content is snapshotted, so any change in what a model sees is a reviewable diff.

use std::collections::BTreeSet;

use alpaca_mcp::TOOLSETS;
use alpaca_mcp::registry::{ToolFilter, ToolRef, enabled, enabled_tools, mcp_tool};
use serde_json::Value;

/// One tool as the manifest describes it, or as the build compiled it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    name: String,
    toolset: String,
    api: String,
    operation_id: String,
    description: String,
    /// read_only, destructive, idempotent, open_world
    annotations: [bool; 4],
    risk: String,
}

/// The manifest's tool entries (generated and hand-written), sorted by name.
fn manifest_entries() -> Vec<Entry> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/specs/toolsets.toml");
    let manifest: Value =
        toml::from_str(&std::fs::read_to_string(path).expect("manifest")).expect("manifest parses");
    let mut out = Vec::new();
    for (api, ops) in manifest["operations"].as_object().unwrap() {
        for (id, op) in ops.as_object().unwrap() {
            let Some(name) = op.get("tool").and_then(Value::as_str) else {
                continue;
            };
            let a = &op["annotations"];
            out.push(Entry {
                name: name.to_string(),
                toolset: op["toolset"].as_str().unwrap().to_string(),
                api: api.clone(),
                operation_id: id.clone(),
                description: op["description"].as_str().unwrap().trim().to_string(),
                annotations: ["read_only", "destructive", "idempotent", "open_world"]
                    .map(|k| a[k].as_bool().unwrap()),
                risk: op
                    .get("risk")
                    .and_then(Value::as_str)
                    .unwrap_or("api_data")
                    .to_string(),
            });
        }
    }
    for (name, hw) in manifest["handwritten"].as_object().unwrap() {
        let (api, id) = hw["replaces"].as_str().unwrap().split_once(':').unwrap();
        let a = &hw["annotations"];
        out.push(Entry {
            name: name.clone(),
            toolset: hw["toolset"].as_str().unwrap().to_string(),
            api: api.to_string(),
            operation_id: id.to_string(),
            description: hw["description"].as_str().unwrap().trim().to_string(),
            annotations: ["read_only", "destructive", "idempotent", "open_world"]
                .map(|k| a[k].as_bool().unwrap()),
            risk: hw
                .get("risk")
                .and_then(Value::as_str)
                .unwrap_or("api_data")
                .to_string(),
        });
    }
    out.sort();
    out
}

fn compiled_entries(tools: &[ToolRef]) -> Vec<Entry> {
    let mut out: Vec<Entry> = tools
        .iter()
        .map(|t| {
            let (api, operation_id) = match t {
                ToolRef::Generated(d) => (d.api, d.operation_id),
                ToolRef::Handwritten(_, m) => (m.api, m.operation_id),
            };
            let a = t.annotations();
            Entry {
                name: t.name().to_string(),
                toolset: t.toolset().to_string(),
                api: api.to_string(),
                operation_id: operation_id.to_string(),
                description: t.description().to_string(),
                annotations: [a.read_only, a.destructive, a.idempotent, a.open_world],
                risk: t.risk().as_str().to_string(),
            }
        })
        .collect();
    out.sort();
    out
}

#[cfg(feature = "full")]
fn all_toolsets() -> ToolFilter {
    ToolFilter {
        toolsets: Some(TOOLSETS.iter().map(|t| t.name.to_string()).collect()),
        read_only: false,
        ..ToolFilter::default()
    }
}

fn compiled_toolsets() -> ToolFilter {
    ToolFilter::every_compiled()
}

/// A JSON value with every object's keys sorted, recursively.
#[cfg(feature = "full")]
fn sort_keys(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sort_keys(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

/// The `tools/list` result for `filter`, as JSON.
fn tools_list(filter: &ToolFilter) -> Value {
    let tools: Vec<Value> = enabled(filter)
        .expect("the filter is valid")
        .into_iter()
        .map(|t| serde_json::to_value(t.mcp_tool()).expect("a tool serializes"))
        .collect();
    serde_json::json!({ "tools": tools })
}

#[cfg(feature = "full")]
#[test]
fn compiled_tools_are_the_manifest_tools() {
    let tools = enabled(&all_toolsets()).expect("every toolset is compiled");
    let compiled = compiled_entries(&tools);
    let expected = manifest_entries();
    let names = |v: &[Entry]| v.iter().map(|e| e.name.clone()).collect::<BTreeSet<_>>();
    let (c, e) = (names(&compiled), names(&expected));
    assert_eq!(
        c.difference(&e).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "compiled but not in the manifest"
    );
    assert_eq!(
        e.difference(&c).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "in the manifest but not compiled"
    );
    for (c, e) in compiled.iter().zip(&expected) {
        assert_eq!(c, e);
    }
    assert_eq!(compiled.len(), expected.len());
}

/// Whatever the features: each compiled toolset has exactly its manifest tools.
#[test]
fn compiled_toolsets_have_their_manifest_tools() {
    let tools = enabled(&compiled_toolsets()).expect("compiled toolsets are valid");
    let compiled = compiled_entries(&tools);
    let compiled_sets: BTreeSet<&str> = TOOLSETS
        .iter()
        .filter(|t| t.compiled)
        .map(|t| t.name)
        .collect();
    let expected: Vec<Entry> = manifest_entries()
        .into_iter()
        .filter(|e| compiled_sets.contains(e.toolset.as_str()))
        .collect();
    assert_eq!(compiled, expected);
}

/// `mcp_tool` hands clients exactly the compiled schema (a schema that failed to parse would
/// silently become `{}`) and the manifest's annotations.
#[test]
fn mcp_tools_carry_the_compiled_schema_and_annotations() {
    for def in enabled_tools(&compiled_toolsets()).unwrap() {
        let schema: Value = serde_json::from_str(def.input_schema)
            .unwrap_or_else(|e| panic!("{}: input schema is not JSON: {e}", def.name));
        let tool = serde_json::to_value(mcp_tool(def)).unwrap();
        assert_eq!(tool["name"], def.name);
        assert_eq!(tool["description"], def.description);
        assert_eq!(tool["inputSchema"], schema, "{}", def.name);
        let a = &tool["annotations"];
        assert_eq!(a["readOnlyHint"], def.annotations.read_only, "{}", def.name);
        if def.annotations.read_only {
            // Meaningless for read-only tools (MCP says so), so left out of tools/list.
            assert!(
                a.get("destructiveHint").is_none() && a.get("idempotentHint").is_none(),
                "{}",
                def.name
            );
        } else {
            assert_eq!(
                a["destructiveHint"], def.annotations.destructive,
                "{}",
                def.name
            );
            assert_eq!(
                a["idempotentHint"], def.annotations.idempotent,
                "{}",
                def.name
            );
        }
        // An open world is the specification's default, so only a closed one is stated.
        let open_world = a.get("openWorldHint").is_none_or(|v| v == true);
        assert_eq!(open_world, def.annotations.open_world, "{}", def.name);
    }
}

/// The whole MCP surface, sorted by tool name with object keys sorted, as a snapshot.
#[cfg(feature = "full")]
#[test]
fn mcp_surface_snapshot() {
    let mut tools: Vec<Value> = tools_list(&all_toolsets())["tools"]
        .as_array()
        .unwrap()
        .iter()
        .cloned()
        .map(sort_keys)
        .collect();
    tools.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    let text = serde_json::to_string_pretty(&Value::Array(tools)).unwrap();
    insta::assert_snapshot!("mcp_tools", text);
}

/// Prints the size of the `tools/list` payload a client receives (compact JSON).
#[test]
fn tools_list_payload_sizes() {
    let default = serde_json::to_string(&tools_list(&ToolFilter::default())).unwrap();
    let all = serde_json::to_string(&tools_list(&compiled_toolsets())).unwrap();
    let count = |f: &ToolFilter| enabled_tools(f).unwrap().len();
    println!(
        "tools/list payload, default toolsets: {} bytes, {} tools",
        default.len(),
        count(&ToolFilter::default())
    );
    println!(
        "tools/list payload, all compiled toolsets{}: {} bytes, {} tools",
        if cfg!(feature = "full") {
            " (every toolset)"
        } else {
            ""
        },
        all.len(),
        count(&compiled_toolsets())
    );
    assert!(all.len() >= default.len());
}
