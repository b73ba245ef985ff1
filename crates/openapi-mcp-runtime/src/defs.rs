//! Static tool and toolset definitions, emitted by the generator.

use super::{ApiRequest, ApiResponse, BoxFuture, JsonObject, ToolError};

/// MCP annotations of a tool, from the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Annotations {
    /// The tool changes nothing.
    pub read_only: bool,
    /// The tool may destroy or overwrite state.
    pub destructive: bool,
    /// Repeating the call with the same arguments has no further effect.
    pub idempotent: bool,
    /// The tool talks to a system outside the server.
    pub open_world: bool,
}

/// How far a tool's output can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Risk {
    /// Structured API data.
    ApiData,
    /// Free text written by third parties (news and the like).
    ExternalText,
}

impl Risk {
    /// The manifest's spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Risk::ApiData => "api_data",
            Risk::ExternalText => "external_text",
        }
    }
}

/// The call function of a generated tool: strict argument parsing, then one API request.
pub type ToolFn<C> = for<'a> fn(&'a C, JsonObject) -> BoxFuture<'a, Result<ApiResponse, ToolError>>;

/// Strict argument parsing into an API request.
pub type RequestFn = fn(JsonObject) -> Result<ApiRequest, ToolError>;

/// A generated tool.
pub struct ToolDef<C: 'static> {
    /// Tool name.
    pub name: &'static str,
    /// Toolset it belongs to.
    pub toolset: &'static str,
    /// The spec (manifest key) of its operation.
    pub api: &'static str,
    /// The operation id.
    pub operation_id: &'static str,
    /// Description, written for a model.
    pub description: &'static str,
    /// The input JSON Schema, as JSON text.
    pub input_schema: &'static str,
    /// MCP annotations.
    pub annotations: Annotations,
    /// Output trust level.
    pub risk: Risk,
    /// Strict argument parsing into the request the tool makes (nothing is sent).
    pub request: RequestFn,
    /// The call: `request`, then send (one page, for a paginated tool).
    pub call: ToolFn<C>,
    /// Seconds the answer may be served from the response cache (0: never).
    pub cache_ttl: u32,
    /// How to follow the tool's pages, for a list tool.
    pub paginate: Option<Paginate>,
    /// The safety mechanism the server applies, for a tool that changes orders or positions
    /// (the manifest's `guard`).
    pub guard: Option<&'static str>,
    /// Where the answer holds maps of records (snapshots by symbol), as keys from the answer's
    /// root (`*`: every key of a map), read from the response schema: such a map is a table of
    /// rows as an array of objects is.
    pub keyed: &'static [&'static [&'static str]],
    /// The arguments that narrow a large answer (the manifest's `narrow`).
    pub narrow: &'static [&'static str],
}

/// How a list tool's pages are followed. The tool's `limit` counts items across pages (the
/// server reads it, and for a cursor list `request` does not send it); the number of pages read
/// is bounded by the server's configuration, not by an argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paginate {
    /// The query parameter that sets one page's size (`limit` or `page_size`).
    pub size_param: &'static str,
    /// The largest page the API allows (`u64::MAX` when the spec sets no bound).
    pub page_max: u64,
    /// The page size the API uses when none is sent, when the spec says.
    pub page_default: Option<u64>,
    /// `None`: the answer is an object whose `next_page_token` leads to the next page. `Some(f)`:
    /// the answer is an array and a full page's last item's field `f` is the next `page_token`.
    pub cursor: Option<&'static str>,
}

impl<C> std::fmt::Debug for ToolDef<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolDef")
            .field("name", &self.name)
            .field("toolset", &self.toolset)
            .field("operation_id", &self.operation_id)
            .finish_non_exhaustive()
    }
}

/// A toolset: a named group of tools, compiled in by a Cargo feature.
pub struct ToolsetDef<C: 'static> {
    /// Toolset name.
    pub name: &'static str,
    /// What it is for.
    pub description: &'static str,
    /// Enabled by default (in the default build and at run time).
    pub default: bool,
    /// The Cargo feature that compiles it in.
    pub feature: &'static str,
    /// Whether this build compiled it in.
    pub compiled: bool,
    /// Its generated tools (empty when not compiled).
    pub tools: &'static [ToolDef<C>],
}

impl<C> std::fmt::Debug for ToolsetDef<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolsetDef")
            .field("name", &self.name)
            .field("compiled", &self.compiled)
            .field("tools", &self.tools.len())
            .finish_non_exhaustive()
    }
}

/// The manifest's metadata for a hand-written tool.
#[derive(Debug)]
pub struct HandwrittenDef {
    /// Tool name.
    pub name: &'static str,
    /// Toolset it belongs to.
    pub toolset: &'static str,
    /// The spec of the operation it replaces.
    pub api: &'static str,
    /// The operation it replaces.
    pub operation_id: &'static str,
    /// Description, written for a model.
    pub description: &'static str,
    /// MCP annotations.
    pub annotations: Annotations,
    /// Output trust level.
    pub risk: Risk,
    /// Parameter descriptions given in the manifest entry itself.
    pub params: &'static [(&'static str, &'static str)],
    /// The safety mechanism the server applies (the manifest's `guard`).
    pub guard: Option<&'static str>,
}
