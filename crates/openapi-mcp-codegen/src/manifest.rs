//! The tool manifest: the one file that accounts for every operation of every spec.
//!
//! The format is generic (it knows toolsets, tools and operations, not any particular API):
//!
//! ```toml
//! [specs.trading]
//! file = "trading-api.json"
//!
//! [toolsets.account]
//! description = "Account balances, configuration and activity."
//! default = true
//!
//! [glossary]
//! symbol = "Ticker symbol, e.g. AAPL."
//!
//! [operations.trading.getAccount]
//! tool = "get_account_info"
//! toolset = "account"
//! description = "Returns the account's cash, buying power and status."
//! annotations = { read_only = true, destructive = false, idempotent = true, open_world = true }
//!
//! [operations.trading.postOrder]
//! toolset = "trading"
//! replaced_by = ["place_stock_order"]
//!
//! [operations.trading.subscribeToEvents]
//! excluded = "streaming endpoint"
//!
//! [handwritten.place_stock_order]
//! toolset = "trading"
//! replaces = "trading:postOrder"
//! description = "Places a stock order."
//! annotations = { read_only = false, destructive = true, idempotent = false, open_world = true }
//! params = { symbol = "Ticker symbol." }
//! ```

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::Error;

/// The parsed manifest.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The specs the manifest covers, by key (the key is used in `operations.<key>`).
    pub specs: IndexMap<String, SpecEntry>,
    /// The toolsets, in the order they are listed to users.
    pub toolsets: IndexMap<String, Toolset>,
    /// Parameter descriptions shared by every tool, keyed by parameter name.
    #[serde(default)]
    pub glossary: BTreeMap<String, String>,
    /// Descriptions of the arguments a paginated tool reads differently (`limit`: items in
    /// all, across pages) or has (`page_token`); the tool's own `params` still come first.
    #[serde(default)]
    pub pagination: BTreeMap<String, String>,
    /// Every operation of every spec: spec key -> operation id -> what happens to it.
    pub operations: IndexMap<String, IndexMap<String, Operation>>,
    /// Tools written by hand that replace generated ones (keyed by tool name).
    #[serde(default)]
    pub handwritten: IndexMap<String, Handwritten>,
    /// Checks on arguments by parameter name, for every operation (tools and typed client).
    #[serde(default)]
    pub arguments: Arguments,
    /// Enums whose values on the wire differ from the spec's (the live API is the authority).
    #[serde(default)]
    pub wire_enums: Vec<WireEnum>,
    /// Which operations must carry a `guard`.
    #[serde(default)]
    pub guards: GuardRule,
}

/// Operations under these path prefixes that change anything (any method but GET, HEAD and
/// OPTIONS) must name a `guard` when exposed: the server decides from it which safety checks
/// and confirmations apply, so a new operation upstream cannot arrive unguarded.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GuardRule {
    /// Path prefixes, e.g. `/v2/orders`.
    #[serde(default)]
    pub paths: Vec<String>,
}

impl GuardRule {
    /// Whether an operation (`method` lower case) must name a guard.
    pub fn requires(&self, method: &str, path: &str) -> bool {
        !matches!(method, "get" | "head" | "options")
            && self.paths.iter().any(|p| {
                path == p
                    || path
                        .strip_prefix(p.as_str())
                        .is_some_and(|r| r.starts_with('/'))
            })
    }
}

/// Checks on arguments by parameter name (for every operation that has a parameter of the name).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Arguments {
    /// String parameters that take comma-separated lists. Their items are trimmed, empty items
    /// dropped, and the server accepts an array of strings for them too.
    #[serde(default)]
    pub comma_lists: Vec<String>,
    /// Named patterns, each with the parameters it applies to (every item of a list).
    #[serde(default)]
    pub patterns: IndexMap<String, ArgumentPattern>,
    /// Parameters whose spec `format` is wrong for what the API takes: parameter name -> why.
    /// The format is neither checked nor listed for them.
    #[serde(default)]
    pub unformatted: BTreeMap<String, String>,
    /// Values for parameters the spec requires but that have one usual value (a venue):
    /// parameter name -> its default and why. A tool's argument with a default is optional,
    /// its schema states the default and the tool sends it when the argument is absent; the
    /// typed client keeps the parameter required.
    #[serde(default)]
    pub defaults: BTreeMap<String, ArgumentDefault>,
    /// Bounds on numeric parameters that the spec leaves open but the API (or safety) needs:
    /// parameter name -> bounds and why. They go into the tool's input schema, so the
    /// argument check refuses a value outside them by name and nothing is sent.
    #[serde(default)]
    pub bounds: BTreeMap<String, ArgumentBounds>,
}

/// Bounds on a numeric parameter (manifest `arguments.bounds`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ArgumentBounds {
    /// The value must be more than this.
    pub exclusive_minimum: Option<f64>,
    /// The value must be at least this.
    pub minimum: Option<f64>,
    /// The value must be at most this.
    pub maximum: Option<f64>,
    /// Why the bounds hold.
    pub reason: String,
}

/// A default for a parameter the spec requires (manifest `arguments.defaults`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ArgumentDefault {
    /// The value sent when the argument is absent.
    pub value: String,
    /// Why the default is safe to assume.
    pub reason: String,
}

/// A pattern that arguments of some names must match.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ArgumentPattern {
    /// A regular expression (anchored with `^...$` to match whole values).
    pub pattern: String,
    /// What is expected, in words, for the error message.
    pub expected: String,
    /// The parameter names it applies to.
    pub params: Vec<String>,
}

/// An enum schema whose values on the wire differ from what the spec lists.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WireEnum {
    /// The spec's manifest key.
    pub spec: String,
    /// The component schema (`#/components/schemas/<schema>`).
    pub schema: String,
    /// The values as the API sends and accepts them, replacing the spec's list.
    pub values: Vec<String>,
    /// Why the spec's values are not used (what was observed, and where).
    pub reason: String,
}

impl Arguments {
    /// The pattern (regex, expected) for parameter `name`, if one applies.
    pub fn pattern_for(&self, name: &str) -> Option<(&str, &str)> {
        self.patterns
            .values()
            .find(|p| p.params.iter().any(|n| n == name))
            .map(|p| (p.pattern.as_str(), p.expected.as_str()))
    }

    /// Whether parameter `name` takes a comma-separated list.
    pub fn is_comma_list(&self, name: &str) -> bool {
        self.comma_lists.iter().any(|n| n == name)
    }
}

/// One spec document.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SpecEntry {
    /// File name, relative to the manifest's folder.
    pub file: String,
}

/// A named group of tools, enabled together.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Toolset {
    /// What the toolset is for, in one sentence.
    pub description: String,
    /// Whether the toolset is in the default build and enabled by default at run time.
    #[serde(default)]
    pub default: bool,
    /// The Cargo feature that compiles the toolset in (defaults to the toolset's name).
    #[serde(default)]
    pub feature: Option<String>,
}

impl Toolset {
    /// The Cargo feature that gates this toolset, given its name.
    pub fn feature_name<'a>(&'a self, name: &'a str) -> &'a str {
        self.feature.as_deref().unwrap_or(name)
    }
}

/// MCP tool annotations. All four are required in the manifest, so none is left to a default.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Annotations {
    /// The tool does not change anything.
    pub read_only: bool,
    /// The tool may destroy or overwrite state.
    pub destructive: bool,
    /// Calling the tool twice with the same arguments has no further effect.
    pub idempotent: bool,
    /// The tool talks to a system outside the server.
    pub open_world: bool,
}

/// How far a tool's output can be trusted.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    /// Structured API data.
    #[default]
    ApiData,
    /// Free text written by third parties (news and the like).
    ExternalText,
}

/// What the manifest says about one operation. Exactly one of `tool`, `replaced_by` and
/// `excluded` is set; [`Manifest::validate`] checks it.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Operation {
    /// The tool name the operation is exposed under.
    pub tool: Option<String>,
    /// The toolset that exposes the tool (or owns the replacing tools).
    pub toolset: Option<String>,
    /// The tool's description, written for a model.
    pub description: Option<String>,
    /// The tool's annotations.
    pub annotations: Option<Annotations>,
    /// The output's trust level.
    #[serde(default)]
    pub risk: Risk,
    /// Per-tool parameter descriptions, overriding the glossary.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Seconds a read-only tool's answer may be served from the response cache (0: never).
    #[serde(default)]
    pub cache_ttl: u32,
    /// For a list operation that answers a bare array and takes a `page_token`: the item
    /// field whose value, on a page's last item, is the next page's `page_token`. (Operations
    /// that answer an object with `next_page_token` are paginated without this.)
    pub page_cursor: Option<String>,
    /// The arguments that narrow a large answer (an option chain's expiration and strike
    /// range): a result cut to its budget names them as the way to get the rest. Each must be
    /// one of the tool's arguments.
    #[serde(default)]
    pub narrow: Vec<String>,
    /// The safety mechanism the server applies to this tool (for tools that change orders or
    /// positions): the server knows each name and refuses to start on one it does not know.
    pub guard: Option<String>,
    /// Hand-written tools that replace this operation.
    #[serde(default)]
    pub replaced_by: Vec<String>,
    /// Why the operation is not exposed.
    pub excluded: Option<String>,
}

/// A hand-written tool's metadata.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Handwritten {
    /// The toolset the tool belongs to.
    pub toolset: String,
    /// The operation it replaces, as `<spec>:<operationId>`.
    pub replaces: String,
    /// The tool's description, written for a model.
    pub description: String,
    /// The tool's annotations.
    pub annotations: Annotations,
    /// The output's trust level.
    #[serde(default)]
    pub risk: Risk,
    /// Parameter descriptions (the glossary applies to names not listed here).
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// The safety mechanism the server applies to this tool, as for generated tools.
    pub guard: Option<String>,
}

/// What happens to an operation, as read from the manifest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Disposition<'a> {
    /// Exposed as a generated tool.
    Tool(ToolEntry<'a>),
    /// Replaced by hand-written tools; the client method is still generated.
    Replaced {
        /// The toolset whose feature gates the client method.
        toolset: &'a str,
        /// The replacing tools.
        by: &'a [String],
    },
    /// Not exposed, for the given reason.
    Excluded(&'a str),
}

/// A generated tool's manifest entry, with every required field present.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToolEntry<'a> {
    /// Tool name.
    pub name: &'a str,
    /// Toolset name.
    pub toolset: &'a str,
    /// Description.
    pub description: &'a str,
    /// Annotations.
    pub annotations: Annotations,
    /// Output risk.
    pub risk: Risk,
    /// Per-tool parameter descriptions.
    pub params: &'a BTreeMap<String, String>,
    /// Response cache time-to-live in seconds (0: not cached).
    pub cache_ttl: u32,
    /// The item field that carries the next page's token, for bare-array list operations.
    pub page_cursor: Option<&'a str>,
    /// The arguments that narrow a large answer.
    pub narrow: &'a [String],
    /// The safety mechanism the server applies.
    pub guard: Option<&'a str>,
}

impl Manifest {
    /// Parses a manifest from TOML text and validates it.
    pub fn from_toml(text: &str) -> Result<Self, Error> {
        let manifest: Manifest =
            toml::from_str(text).map_err(|e| Error::Manifest(e.to_string()))?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// Checks the manifest's internal consistency (not its agreement with the specs).
    pub fn validate(&self) -> Result<(), Error> {
        for spec in self.operations.keys() {
            if !self.specs.contains_key(spec) {
                return Err(Error::Manifest(format!(
                    "operations.{spec}: no [specs.{spec}] entry"
                )));
            }
        }
        for (spec, ops) in &self.operations {
            for (op_id, op) in ops {
                self.disposition(spec, op_id, op)?;
            }
        }
        for (name, p) in &self.arguments.patterns {
            if !p.pattern.starts_with('^') || !p.pattern.ends_with('$') {
                return Err(Error::Manifest(format!(
                    "arguments.patterns.{name}: anchor the pattern with ^...$ so it matches whole values"
                )));
            }
        }
        for w in &self.wire_enums {
            if !self.specs.contains_key(&w.spec) {
                return Err(Error::Manifest(format!(
                    "wire_enums: unknown spec `{}` for schema `{}`",
                    w.spec, w.schema
                )));
            }
            if w.values.is_empty() || w.reason.trim().is_empty() {
                return Err(Error::Manifest(format!(
                    "wire_enums {}.{}: give the wire values and the reason",
                    w.spec, w.schema
                )));
            }
        }
        for (name, hw) in &self.handwritten {
            if !self.toolsets.contains_key(&hw.toolset) {
                return Err(Error::Manifest(format!(
                    "handwritten.{name}: unknown toolset `{}`",
                    hw.toolset
                )));
            }
        }
        Ok(())
    }

    /// Reads one operation's disposition, checking that exactly one kind is given.
    pub fn disposition<'a>(
        &'a self,
        spec: &str,
        op_id: &str,
        op: &'a Operation,
    ) -> Result<Disposition<'a>, Error> {
        let at = format!("operations.{spec}.{op_id}");
        let kinds = op.tool.is_some() as u8
            + (!op.replaced_by.is_empty()) as u8
            + op.excluded.is_some() as u8;
        if kinds != 1 {
            return Err(Error::Manifest(format!(
                "{at}: set exactly one of `tool`, `replaced_by` and `excluded`"
            )));
        }
        if let Some(reason) = &op.excluded {
            if reason.trim().is_empty() {
                return Err(Error::Manifest(format!("{at}: `excluded` needs a reason")));
            }
            return Ok(Disposition::Excluded(reason));
        }
        let toolset = op
            .toolset
            .as_deref()
            .ok_or_else(|| Error::Manifest(format!("{at}: missing `toolset`")))?;
        if !self.toolsets.contains_key(toolset) {
            return Err(Error::Manifest(format!(
                "{at}: unknown toolset `{toolset}`"
            )));
        }
        if !op.replaced_by.is_empty() {
            return Ok(Disposition::Replaced {
                toolset,
                by: &op.replaced_by,
            });
        }
        let name = op.tool.as_deref().unwrap_or_default();
        let description = op
            .description
            .as_deref()
            .ok_or_else(|| Error::Manifest(format!("{at}: missing `description`")))?;
        let annotations = op
            .annotations
            .ok_or_else(|| Error::Manifest(format!("{at}: missing `annotations`")))?;
        if op.cache_ttl > 0 && !annotations.read_only {
            return Err(Error::Manifest(format!(
                "{at}: only read-only tools can have a cache_ttl"
            )));
        }
        if op.page_cursor.is_some() && !annotations.read_only {
            return Err(Error::Manifest(format!(
                "{at}: only read-only tools can have a page_cursor"
            )));
        }
        if op.guard.is_some() && annotations.read_only {
            return Err(Error::Manifest(format!(
                "{at}: a read-only tool cannot have a guard"
            )));
        }
        Ok(Disposition::Tool(ToolEntry {
            guard: op.guard.as_deref(),
            cache_ttl: op.cache_ttl,
            page_cursor: op.page_cursor.as_deref(),
            narrow: &op.narrow,
            name,
            toolset,
            description,
            annotations,
            risk: op.risk,
            params: &op.params,
        }))
    }

    /// The description of parameter `param` of a tool: the tool's own, else (for a paginated
    /// tool) the `[pagination]` table's, else the glossary's.
    pub fn param_description<'a>(
        &'a self,
        tool_params: &'a BTreeMap<String, String>,
        param: &str,
        paginated: bool,
    ) -> Option<&'a str> {
        tool_params
            .get(param)
            .or_else(|| self.pagination.get(param).filter(|_| paginated))
            .or_else(|| self.glossary.get(param))
            .map(String::as_str)
    }
}
