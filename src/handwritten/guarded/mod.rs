//! One path for every tool that changes orders or positions, generated or hand-written: the
//! manifest names each one's `guard`, and this module decides from it what is checked, what is
//! held for confirmation, how the call is sent, and how its outcome is reported.
//!
//! | guard | tools | symbols | value cap | orders a minute | held |
//! |---|---|---|---|---|---|
//! | `place_order` | `place_stock_order`, `place_crypto_order`, `place_option_order` | the order's (an option's underlying too) | its value | 1 | yes |
//! | `replace_order` | `replace_order_by_id` | the order's | the replacement's value | 1 | yes |
//! | `close_position` | `close_position` | the position's | the part closed | 1 | yes |
//! | `close_all_positions` | `close_all_positions` | every position's | all of them | 1 per position | yes |
//! | `exercise` | `exercise_options_position` | the contract's and its underlying | contracts x 100 x strike | 1 | yes |
//! | `cancel_order`, `cancel_all_orders`, `do_not_exercise` | the cancel tools, `do_not_exercise_options_position` | - | - | - | yes |
//! | `confirm` | `confirm_order` | the held call's guard, checked again | | | |
//!
//! An order's value is its notional, or its quantity times the higher of its limit price and
//! the latest quote (a stop alone does not bound it: a triggered stop fills at market). Crypto
//! is valued in USD through the quote currency's own USD price; options times 100. Under a
//! value cap, a call whose value cannot be bounded is refused, saying what would let it
//! through. Whatever is needed to judge a call (the order being replaced, the position being
//! closed) is read first; when it cannot be read, nothing is sent.
//!
//! Outcomes: an order (placed, or a replacement) whose answer is lost, not JSON, not an order
//! or too large is looked up by its `client_order_id` (one is always set) and reported as
//! placed, not placed or unknown from that look-up, never sent twice. Other calls whose answer
//! is lost report the outcome as unknown with the tool that shows it.

use rmcp::model::CallToolResult;
use serde_json::Value;

use crate::Client;
use crate::envelope;
use crate::handwritten::Ctx;
use crate::runtime::{ApiRequest, JsonObject, ToolDef};
use crate::safety::Kind;

mod assess;
mod confirm;
mod guard;
mod send;

#[cfg(test)]
pub(crate) use assess::describe_order;
use assess::{assess, enforce};
use confirm::hold;
pub use confirm::{confirm, drop_confirmation};
pub use guard::Guard;
use send::send;

/// Runs a generated tool that has a guard: its request (already checked and built), judged,
/// held or sent.
pub async fn run_generated(
    ctx: Ctx<'_>,
    def: &'static ToolDef<Client>,
    guard: Guard,
    args: JsonObject,
) -> CallToolResult {
    let mut request = match (def.request)(args) {
        Ok(r) => r,
        Err(e) => {
            return envelope::error_text(format!(
                "{} was not called: {e}. Nothing was sent to Alpaca.",
                def.name
            ));
        }
    };
    let mut cid_given = false;
    if guard == Guard::ReplaceOrder {
        // The replacement is an order: it gets a client_order_id, so a lost answer can be
        // looked up instead of resent.
        if let Some(Value::Object(body)) = request.body.as_mut() {
            cid_given = body.contains_key("client_order_id");
            if !cid_given {
                body.insert(
                    "client_order_id".into(),
                    Value::String(uuid::Uuid::new_v4().to_string()),
                );
            }
        }
    }
    submit(ctx, def.name, guard, None, request, cid_given).await
}

/// Judges a call, then holds it for confirmation or sends it. `cid_given`: the caller gave
/// the body's `client_order_id` (else this server made it up for the call).
pub async fn submit(
    ctx: Ctx<'_>,
    tool: &'static str,
    guard: Guard,
    kind: Option<Kind>,
    request: ApiRequest,
    cid_given: bool,
) -> CallToolResult {
    let refuse = |why: String| {
        envelope::error_text(format!(
            "{tool} was not called: {why}. Nothing was sent to Alpaca."
        ))
    };
    let assessment = match assess(&ctx, guard, kind, &request).await {
        Ok(a) => a,
        Err(why) => return refuse(why),
    };
    if let Err(why) = enforce(&ctx, &assessment) {
        return refuse(why);
    }
    if ctx.safety.config.confirm_orders {
        return hold(ctx, tool, guard, kind, request, assessment, cid_given).await;
    }
    send(&ctx, tool, guard, request, &assessment).await
}

/// The tools whose guard this server does not know, with the guard (the engine refuses to
/// build with one enabled: it must never run unguarded).
#[cfg(test)]
fn unknown_guards() -> Vec<(&'static str, &'static str)> {
    let generated = crate::TOOLSETS
        .iter()
        .flat_map(|t| t.tools)
        .filter_map(|d| d.guard.map(|g| (d.name, g)));
    let handwritten = crate::HANDWRITTEN
        .iter()
        .filter_map(|h| h.guard.map(|g| (h.name, g)));
    generated
        .chain(handwritten)
        .filter(|(_, g)| Guard::parse(g).is_none())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use assess::{occ_root, occ_strike};

    #[test]
    fn every_manifest_guard_is_known_and_names_round_trip() {
        assert!(unknown_guards().is_empty(), "{:?}", unknown_guards());
        for (name, g) in Guard::ALL {
            assert_eq!(Guard::parse(name), Some(*g));
            assert_eq!(g.name(), *name);
        }
    }

    #[test]
    fn strikes_and_roots() {
        assert_eq!(occ_strike("AAPL250117C00150000"), Some(150.0));
        assert_eq!(occ_strike("SPY251219P00400500"), Some(400.5));
        assert_eq!(occ_root("AAPL250117C00150000"), "AAPL");
    }
}
