//! Hand-written tools: the ones a spec cannot say enough about. They replace generated tools
//! (the manifest's `replaced_by` and `[handwritten.*]` entries name them and hold their
//! descriptions) and sit in the same registry, behind the same toolset features.
//!
//! - order placement (`place_stock_order`, `place_crypto_order`, `place_option_order`):
//!   validated before sending, never sent twice;
//! - historical bars, quotes and trades with relative time ranges, timeframe spellings,
//!   the `sip` -> `iex` fallback and pagination.

#[allow(unused_imports)]
use std::sync::Arc;
use std::time::SystemTime;

use rmcp::model::CallToolResult;
use serde_json::{Map, Value};

use crate::runtime::{BoxFuture, HandwrittenDef, JsonObject};
use crate::{Client, GLOSSARY, HANDWRITTEN};

#[cfg(any(feature = "trading", feature = "stock-data", feature = "crypto-data"))]
#[cfg_attr(not(feature = "trading"), allow(dead_code))]
mod args;
#[cfg(any(feature = "trading", feature = "stock-data", feature = "crypto-data"))]
#[cfg_attr(not(feature = "trading"), allow(dead_code))]
mod decimal;
#[cfg(feature = "trading")]
pub mod guarded;
#[cfg(any(feature = "stock-data", feature = "crypto-data"))]
mod history;
#[cfg(feature = "trading")]
mod orders;
#[cfg(any(feature = "stock-data", feature = "crypto-data"))]
mod time;

/// What a hand-written tool's call gets.
pub struct Ctx<'a> {
    /// The typed client.
    pub client: &'a Client,
    /// Paper or live.
    pub mode: crate::config::Mode,
    /// The clock relative time ranges are computed from.
    pub clock: &'a Clock,
    /// Order confirmation and guards.
    pub safety: &'a crate::safety::Safety,
    /// The MCP session making the call (confirmations are bound to it).
    pub session: u64,
    /// The MCP client making the call, when there is one: an order held for confirmation is
    /// put to the user directly when the client supports elicitation.
    pub peer: Option<&'a rmcp::Peer<rmcp::RoleServer>>,
    /// The most requests a list call makes ([`crate::Config::max_pages`]).
    pub max_pages: u64,
    /// How results are written and bounded: a list stops following pages at the budget.
    pub output: crate::output::OutputConfig,
    /// The call's round when the client speaks MCP 2026-07-28 or later: a held order asks
    /// through an input-required result instead of a server-initiated question.
    pub round: Option<&'a crate::input::Round>,
}

impl Ctx<'_> {
    /// Who held calls belong to: the round's principal, else the MCP session. A session's
    /// number is this process's own, so it is named with the process's tag: with a ledger
    /// that replicas share, session 1 of one replica is not session 1 of another.
    pub fn owner(&self) -> String {
        match self.round {
            Some(round) => round.principal.clone(),
            None => format!(
                "session {} of process {}",
                self.session,
                crate::engine::process_tag()
            ),
        }
    }
}

/// A hand-written tool's call.
pub type HandFn = for<'a> fn(Ctx<'a>, JsonObject) -> BoxFuture<'a, CallToolResult>;

/// A hand-written tool: its name (matching a `[handwritten.*]` manifest entry), its input
/// schema (properties without descriptions; those come from the manifest) and its call.
pub struct HandTool {
    /// Tool name.
    pub name: &'static str,
    /// The input schema's properties, required list and defaults.
    pub schema: fn() -> Value,
    /// The call.
    pub call: HandFn,
}

impl std::fmt::Debug for HandTool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandTool")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The time source for relative ranges; replaceable in tests.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> SystemTime + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock(Arc::new(SystemTime::now))
    }

    /// A clock that always reads `at`.
    pub fn fixed(at: SystemTime) -> Self {
        Clock(Arc::new(move || at))
    }

    /// The current time.
    pub fn now(&self) -> SystemTime {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

/// Runs a generated tool that has a guard (one that changes orders or positions) through that
/// guard: checks, confirmation and outcome reporting as for the order tools.
pub async fn run_guarded(
    ctx: Ctx<'_>,
    def: &'static crate::runtime::ToolDef<Client>,
    args: JsonObject,
) -> CallToolResult {
    #[cfg(feature = "trading")]
    if let Some(guard) = def.guard.and_then(guarded::Guard::parse) {
        return guarded::run_generated(ctx, def, guard, args).await;
    }
    let _ = (ctx, args);
    crate::envelope::error_text(format!(
        "{} was not called: its guard `{}` is not in this build. Nothing was sent to Alpaca.",
        def.name,
        def.guard.unwrap_or_default()
    ))
}

/// Whether this build knows the guard `name` (a tool naming another never runs).
pub fn known_guard(name: &str) -> bool {
    #[cfg(feature = "trading")]
    {
        guarded::Guard::parse(name).is_some()
    }
    #[cfg(not(feature = "trading"))]
    {
        let _ = name;
        false
    }
}

/// Every hand-written tool compiled into this build.
pub fn compiled() -> Vec<&'static HandTool> {
    #[allow(unused_mut)]
    let mut v: Vec<&'static HandTool> = Vec::new();
    #[cfg(feature = "trading")]
    v.extend(orders::TOOLS);
    #[cfg(feature = "stock-data")]
    v.extend(history::STOCK_TOOLS);
    #[cfg(feature = "crypto-data")]
    v.extend(history::CRYPTO_TOOLS);
    v
}

/// The manifest entry of a hand-written tool.
pub fn meta(name: &str) -> Option<&'static HandwrittenDef> {
    HANDWRITTEN.iter().find(|h| h.name == name)
}

/// The full input schema: `schema` with each property's description from the manifest entry
/// (or the glossary). The root is closed without saying so in the schema (the server rejects
/// unknown arguments by name before any tool runs).
pub fn input_schema(tool: &HandTool, meta: &HandwrittenDef) -> Map<String, Value> {
    let mut schema = match (tool.schema)() {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    if let Some(Value::Object(props)) = schema.get_mut("properties") {
        for (name, prop) in props.iter_mut() {
            let description = meta
                .params
                .iter()
                .chain(GLOSSARY.iter())
                .find(|(k, _)| k == name)
                .map(|(_, d)| *d);
            if let (Some(d), Value::Object(p)) = (description, prop) {
                p.insert("description".into(), Value::String(d.to_string()));
            }
        }
    }
    schema.insert("type".into(), Value::String("object".into()));
    schema
}
