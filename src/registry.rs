//! The tool registry: which compiled tools a run exposes, and their MCP form.

use std::sync::Arc;

use rmcp::model::{Tool, ToolAnnotations};

use crate::runtime::ToolDef;
use crate::{Client, TOOLSETS};

/// Which tools to expose, on top of what the build compiled in.
#[derive(Debug, Clone, Default)]
pub struct ToolFilter {
    /// Toolsets to enable; `None` means every compiled default toolset.
    pub toolsets: Option<Vec<String>>,
    /// Expose only tools annotated read-only.
    pub read_only: bool,
}

/// A toolset name that cannot be enabled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// No toolset has this name.
    #[error("unknown toolset `{name}`; valid toolsets: {valid}")]
    Unknown {
        /// The name asked for.
        name: String,
        /// Every toolset, comma-separated.
        valid: String,
    },
    /// The toolset exists but this build does not include it.
    #[error(
        "toolset `{name}` is not compiled into this build; rebuild with `--features {feature}`"
    )]
    NotCompiled {
        /// The name asked for.
        name: String,
        /// The Cargo feature that compiles it in.
        feature: String,
    },
}

/// The generated tools `filter` enables, in manifest order.
pub fn enabled_tools(filter: &ToolFilter) -> Result<Vec<&'static ToolDef<Client>>, FilterError> {
    let chosen: Vec<&str> = match &filter.toolsets {
        None => TOOLSETS
            .iter()
            .filter(|t| t.default && t.compiled)
            .map(|t| t.name)
            .collect(),
        Some(names) => {
            let mut chosen = Vec::new();
            for name in names {
                let name = name.trim();
                if name.is_empty() {
                    continue;
                }
                let Some(def) = TOOLSETS.iter().find(|t| t.name == name) else {
                    return Err(FilterError::Unknown {
                        name: name.to_string(),
                        valid: TOOLSETS
                            .iter()
                            .map(|t| t.name)
                            .collect::<Vec<_>>()
                            .join(", "),
                    });
                };
                if !def.compiled {
                    return Err(FilterError::NotCompiled {
                        name: name.to_string(),
                        feature: def.feature.to_string(),
                    });
                }
                chosen.push(def.name);
            }
            chosen
        }
    };
    Ok(TOOLSETS
        .iter()
        .filter(|t| chosen.contains(&t.name))
        .flat_map(|t| t.tools.iter())
        .filter(|d| !filter.read_only || d.annotations.read_only)
        .collect())
}

/// The MCP form of a generated tool: name, description, input schema and annotations.
pub fn mcp_tool(def: &ToolDef<Client>) -> Tool {
    let schema: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(def.input_schema).unwrap_or_default();
    let a = def.annotations;
    Tool::new(def.name, def.description, Arc::new(schema)).with_annotations(
        ToolAnnotations::new()
            .read_only(a.read_only)
            .destructive(a.destructive)
            .idempotent(a.idempotent)
            .open_world(a.open_world),
    )
}
