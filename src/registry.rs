//! The tool registry: which compiled tools a run exposes, and their MCP form.
//!
//! [`enabled`] is the one place that decides: the server's tool list, `alpaca-mcp-server
//! tools` (and its `--json` and `--markdown` forms) and the README's tools table all come
//! from it, with every filter a run has (toolsets, read-only mode, which a `read`-scoped HTTP
//! token also gets, and the confirmation tools).

use std::sync::Arc;

use rmcp::model::{Tool, ToolAnnotations};

use crate::handwritten::{self, HandTool};
use crate::runtime::{Annotations, HandwrittenDef, Risk, ToolDef};
use crate::{Client, TOOLSETS};

/// The tools that exist only when order confirmation is on: with it off they have nothing
/// to confirm or cancel.
pub const CONFIRMATION_TOOLS: &[&str] = &["confirm_order", "cancel_confirmation"];

/// Which tools to expose, on top of what the build compiled in.
#[derive(Debug, Clone, Default)]
pub struct ToolFilter {
    /// Toolsets to enable; `None` means every compiled default toolset.
    pub toolsets: Option<Vec<String>>,
    /// Expose only tools annotated read-only (read-only mode, and a `read`-scoped token).
    pub read_only: bool,
    /// Leave out [`CONFIRMATION_TOOLS`] (a run without order confirmation).
    pub without_confirmation_tools: bool,
}

impl ToolFilter {
    /// The filter a run with `config` applies.
    pub fn for_config(config: &crate::Config) -> Self {
        ToolFilter {
            toolsets: config.toolsets.clone(),
            read_only: config.read_only,
            without_confirmation_tools: !config.safety.confirm_orders,
        }
    }

    /// Every compiled toolset, default or not, every tool in it.
    pub fn every_compiled() -> Self {
        ToolFilter {
            toolsets: Some(
                TOOLSETS
                    .iter()
                    .filter(|t| t.compiled)
                    .map(|t| t.name.to_string())
                    .collect(),
            ),
            ..ToolFilter::default()
        }
    }

    fn keeps(&self, read_only: bool, name: &str) -> bool {
        (!self.read_only || read_only)
            && !(self.without_confirmation_tools && CONFIRMATION_TOOLS.contains(&name))
    }
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

/// A tool of the registry: generated from the spec, or written by hand.
#[derive(Debug, Clone, Copy)]
pub enum ToolRef {
    /// A generated tool.
    Generated(&'static ToolDef<Client>),
    /// A hand-written tool and its manifest entry.
    Handwritten(&'static HandTool, &'static HandwrittenDef),
}

impl ToolRef {
    /// Tool name.
    pub fn name(&self) -> &'static str {
        match self {
            ToolRef::Generated(d) => d.name,
            ToolRef::Handwritten(_, m) => m.name,
        }
    }

    /// Toolset.
    pub fn toolset(&self) -> &'static str {
        match self {
            ToolRef::Generated(d) => d.toolset,
            ToolRef::Handwritten(_, m) => m.toolset,
        }
    }

    /// The guard the server applies (tools that change orders or positions).
    pub fn guard(&self) -> Option<&'static str> {
        match self {
            ToolRef::Generated(d) => d.guard,
            ToolRef::Handwritten(_, m) => m.guard,
        }
    }

    /// Description.
    pub fn description(&self) -> &'static str {
        match self {
            ToolRef::Generated(d) => d.description,
            ToolRef::Handwritten(_, m) => m.description,
        }
    }

    /// Annotations.
    pub fn annotations(&self) -> Annotations {
        match self {
            ToolRef::Generated(d) => d.annotations,
            ToolRef::Handwritten(_, m) => m.annotations,
        }
    }

    /// Output risk.
    pub fn risk(&self) -> Risk {
        match self {
            ToolRef::Generated(d) => d.risk,
            ToolRef::Handwritten(_, m) => m.risk,
        }
    }

    /// The MCP form.
    pub fn mcp_tool(&self) -> Tool {
        match self {
            ToolRef::Generated(d) => mcp_tool(d),
            ToolRef::Handwritten(h, m) => {
                let schema = handwritten::input_schema(h, m);
                with_annotations(
                    Tool::new(m.name, m.description, Arc::new(schema)),
                    m.annotations,
                )
            }
        }
    }
}

/// Every tool `filter` enables, generated and hand-written, in manifest order (toolset by
/// toolset; within one, generated tools first).
pub fn enabled(filter: &ToolFilter) -> Result<Vec<ToolRef>, FilterError> {
    let toolsets = chosen(filter)?;
    let hand = handwritten::compiled();
    let mut out = Vec::new();
    for toolset in TOOLSETS.iter().filter(|t| toolsets.contains(&t.name)) {
        let generated = toolset
            .tools
            .iter()
            .filter(|d| filter.keeps(d.annotations.read_only, d.name));
        out.extend(generated.map(ToolRef::Generated));
        for h in &hand {
            if let Some(meta) = handwritten::meta(h.name)
                && meta.toolset == toolset.name
                && filter.keeps(meta.annotations.read_only, meta.name)
            {
                out.push(ToolRef::Handwritten(h, meta));
            }
        }
    }
    Ok(out)
}

/// The generated tools `filter` enables, in manifest order.
pub fn enabled_tools(filter: &ToolFilter) -> Result<Vec<&'static ToolDef<Client>>, FilterError> {
    let toolsets = chosen(filter)?;
    Ok(TOOLSETS
        .iter()
        .filter(|t| toolsets.contains(&t.name))
        .flat_map(|t| t.tools.iter())
        .filter(|d| filter.keeps(d.annotations.read_only, d.name))
        .collect())
}

/// The toolsets `filter` enables, in manifest order, each once.
pub fn enabled_toolsets(filter: &ToolFilter) -> Result<Vec<&'static str>, FilterError> {
    let chosen = chosen(filter)?;
    Ok(TOOLSETS
        .iter()
        .map(|t| t.name)
        .filter(|n| chosen.contains(n))
        .collect())
}

/// The toolsets a filter enables: every compiled default one, or the named ones (each checked).
fn chosen(filter: &ToolFilter) -> Result<Vec<&'static str>, FilterError> {
    let Some(names) = &filter.toolsets else {
        return Ok(TOOLSETS
            .iter()
            .filter(|t| t.default && t.compiled)
            .map(|t| t.name)
            .collect());
    };
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
    Ok(chosen)
}

/// The MCP form of a generated tool: name, description, input schema and annotations.
pub fn mcp_tool(def: &ToolDef<Client>) -> Tool {
    let schema: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(def.input_schema).unwrap_or_default();
    with_annotations(
        Tool::new(def.name, def.description, Arc::new(schema)),
        def.annotations,
    )
}

/// MCP annotations. For a read-only tool the destructive and idempotent hints mean nothing
/// (the specification says so), and an open world is the specification's default, so those
/// are left out: `tools/list` is paid for in every conversation.
fn with_annotations(tool: Tool, a: Annotations) -> Tool {
    let hints = ToolAnnotations::new().read_only(a.read_only);
    let hints = if a.open_world {
        hints
    } else {
        hints.open_world(false)
    };
    let hints = if a.read_only {
        hints
    } else {
        hints.destructive(a.destructive).idempotent(a.idempotent)
    };
    tool.with_annotations(hints)
}
