//! The tool registry: which tools a run exposes for a given filter.

use std::collections::BTreeSet;

use alpaca_mcp::TOOLSETS;
use alpaca_mcp::registry::{FilterError, ToolFilter, enabled_tools};
use serde_json::Value;

fn names(filter: &ToolFilter) -> Vec<&'static str> {
    enabled_tools(filter)
        .expect("a valid filter")
        .into_iter()
        .map(|d| d.name)
        .collect()
}

fn filter(toolsets: &[&str], read_only: bool) -> ToolFilter {
    ToolFilter {
        toolsets: Some(toolsets.iter().map(|s| s.to_string()).collect()),
        read_only,
        ..ToolFilter::default()
    }
}

fn compiled_toolsets() -> Vec<&'static str> {
    TOOLSETS
        .iter()
        .filter(|t| t.compiled)
        .map(|t| t.name)
        .collect()
}

/// Tool name -> toolset, for the manifest's generated tools (read independently, as TOML).
fn manifest_tools() -> Vec<(String, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/specs/toolsets.toml");
    let manifest: Value = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = Vec::new();
    for ops in manifest["operations"].as_object().unwrap().values() {
        for op in ops.as_object().unwrap().values() {
            if let Some(tool) = op.get("tool").and_then(Value::as_str) {
                out.push((
                    tool.to_string(),
                    op["toolset"].as_str().unwrap().to_string(),
                ));
            }
        }
    }
    out
}

fn manifest_default_toolsets() -> BTreeSet<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/specs/toolsets.toml");
    let manifest: Value = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    manifest["toolsets"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, t)| t.get("default").and_then(Value::as_bool) == Some(true))
        .map(|(n, _)| n.clone())
        .collect()
}

#[test]
fn default_filter_gives_the_compiled_default_toolsets() {
    let got: BTreeSet<&str> = names(&ToolFilter::default()).into_iter().collect();
    let defaults = manifest_default_toolsets();
    let compiled: BTreeSet<&str> = compiled_toolsets().into_iter().collect();
    let expected: BTreeSet<String> = manifest_tools()
        .into_iter()
        .filter(|(_, ts)| defaults.contains(ts) && compiled.contains(ts.as_str()))
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        got,
        expected.iter().map(String::as_str).collect::<BTreeSet<_>>()
    );
    // The default build compiles every default toolset.
    #[cfg(feature = "full")]
    assert!(defaults.iter().all(|d| compiled.contains(d.as_str())));
    if compiled.iter().any(|c| defaults.contains(*c)) {
        assert!(!got.is_empty());
    }
    // Nothing outside the default toolsets, e.g. crypto-funding.
    for d in enabled_tools(&ToolFilter::default()).unwrap() {
        assert!(defaults.contains(d.toolset), "{} ({})", d.name, d.toolset);
    }
}

#[test]
fn named_toolsets_give_exactly_their_tools_in_toolset_order() {
    let compiled = compiled_toolsets();
    for name in &compiled {
        let tools = enabled_tools(&filter(&[name], false)).unwrap();
        let expected = TOOLSETS.iter().find(|t| t.name == *name).unwrap().tools;
        assert_eq!(tools.len(), expected.len(), "{name}");
        assert!(tools.iter().all(|d| d.toolset == *name));
    }
    // Asked for in reverse, tools still come in toolset order; blanks and spaces are ignored.
    let mut reversed: Vec<String> = compiled.iter().rev().map(|s| format!(" {s} ")).collect();
    reversed.push(String::new());
    let got = enabled_tools(&ToolFilter {
        toolsets: Some(reversed),
        read_only: false,
        ..ToolFilter::default()
    })
    .unwrap();
    let in_order: Vec<&str> = TOOLSETS
        .iter()
        .filter(|t| t.compiled)
        .flat_map(|t| t.tools.iter().map(|d| d.name))
        .collect();
    assert_eq!(got.iter().map(|d| d.name).collect::<Vec<_>>(), in_order);
    assert!(names(&filter(&[], false)).is_empty());
}

#[test]
fn read_only_filter_drops_every_tool_that_can_change_something() {
    let all = filter(&compiled_toolsets(), false);
    let ro = filter(&compiled_toolsets(), true);
    let expected: Vec<&str> = enabled_tools(&all)
        .unwrap()
        .into_iter()
        .filter(|d| d.annotations.read_only)
        .map(|d| d.name)
        .collect();
    let got = names(&ro);
    assert_eq!(got, expected);
    for d in enabled_tools(&ro).unwrap() {
        assert!(
            d.annotations.read_only && !d.annotations.destructive,
            "{}",
            d.name
        );
    }
    // The default filter, read-only.
    let default_ro = names(&ToolFilter {
        toolsets: None,
        read_only: true,
        ..ToolFilter::default()
    });
    let default_all = enabled_tools(&ToolFilter::default()).unwrap();
    assert_eq!(
        default_ro,
        default_all
            .iter()
            .filter(|d| d.annotations.read_only)
            .map(|d| d.name)
            .collect::<Vec<_>>()
    );
}

#[cfg(feature = "full")]
#[test]
fn read_only_filter_leaves_no_mutating_tool() {
    let all = names(&filter(&compiled_toolsets(), false));
    let ro = names(&filter(&compiled_toolsets(), true));
    const VERBS: [&str; 7] = [
        "cancel", "close", "replace", "create", "update", "delete", "exercise",
    ];
    for name in &ro {
        for verb in VERBS {
            assert!(
                !name.split('_').any(|w| w == verb),
                "{name} is exposed read-only but its name says `{verb}`"
            );
        }
    }
    // Those verbs exist in the full list, so the filter really dropped them.
    for verb in VERBS {
        assert!(
            all.iter().any(|n| n.split('_').any(|w| w == verb)),
            "no tool says `{verb}`"
        );
    }
    assert!(ro.len() < all.len() && !ro.is_empty());
}

#[test]
fn unknown_toolset_lists_the_valid_ones() {
    let err = enabled_tools(&filter(&["no-such-toolset"], false)).unwrap_err();
    let FilterError::Unknown { name, valid } = &err else {
        panic!("expected Unknown, got {err:?}");
    };
    assert_eq!(name, "no-such-toolset");
    let listed: BTreeSet<&str> = valid.split(", ").collect();
    let all: BTreeSet<&str> = TOOLSETS.iter().map(|t| t.name).collect();
    assert_eq!(listed, all);
    assert!(all.contains("account") && all.contains("crypto-funding"));
    let message = err.to_string();
    assert!(
        message.contains("no-such-toolset") && message.contains("stock-data"),
        "{message}"
    );
    // An unknown name fails the whole filter, even beside valid ones.
    assert!(enabled_tools(&filter(&["account", "nope"], false)).is_err());
}

#[cfg(not(feature = "forex"))]
#[test]
fn toolset_not_compiled_names_its_feature() {
    let err = enabled_tools(&filter(&["forex"], false)).unwrap_err();
    assert_eq!(
        err,
        FilterError::NotCompiled {
            name: "forex".into(),
            feature: "forex".into(),
        }
    );
    assert!(err.to_string().contains("--features forex"), "{err}");
}

#[cfg(feature = "forex")]
#[test]
fn compiled_opt_in_toolset_can_be_enabled() {
    let tools = names(&filter(&["forex"], false));
    assert!(!tools.is_empty());
    assert!(
        names(&ToolFilter::default())
            .iter()
            .all(|n| !tools.contains(n))
    );
}

/// Toolsets are listed (`TOOLSETS`, `enabled_tools`, and so `tools/list`) in the manifest's
/// order, which needs the `toml` crate's `preserve_order` feature.
#[test]
fn toolsets_are_listed_in_manifest_order() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/specs/toolsets.toml"))
        .unwrap();
    let in_manifest: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("[toolsets.")?.strip_suffix(']'))
        .collect();
    let compiled: Vec<&str> = TOOLSETS.iter().map(|t| t.name).collect();
    assert_eq!(compiled, in_manifest);
}
