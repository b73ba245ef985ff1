//! Holding a call for confirmation: asking the user directly where the client supports
//! elicitation, else a `confirmation_id` for `confirm_order`; and `confirm_order` and
//! `cancel_confirmation` themselves (a held call is judged again before it is sent).

use std::time::{Duration, SystemTime};

use rmcp::model::{
    CallToolResult, ElicitRequest, ElicitRequestParams, ElicitResult, ElicitationAction,
    ElicitationSchema, InputRequest, InputRequests, InputRequiredResult,
};
use rmcp::service::ElicitationMode;
use rmcp::{Peer, RoleServer};
use serde_json::{Map, Value, json};

use crate::envelope;
use crate::handwritten::Ctx;
use crate::input::Round;
use crate::runtime::{ApiRequest, Risk};
use crate::safety::{Kind, Pending};

use super::assess::{Assessment, Value_, account, assess, enforce};
use super::guard::Guard;
use super::send::{client_order_id, done, placed, send};

/// Holds a call for confirmation: asks the user directly where the client supports
/// elicitation, else returns a `confirmation_id` for `confirm_order`.
pub(super) async fn hold(
    ctx: Ctx<'_>,
    tool: &'static str,
    guard: Guard,
    kind: Option<Kind>,
    request: ApiRequest,
    a: Assessment,
    cid_given: bool,
) -> CallToolResult {
    let ttl = ctx.safety.config.confirm_ttl;
    let cost = match &a.value {
        Some(Value_::Usd(v)) => format!(
            "Estimated value about {v:.2} USD from the latest quotes and the call's prices."
        ),
        Some(Value_::Unbounded(why)) => format!("No estimate of its value: {why}."),
        None => String::new(),
    };
    let account = account(&ctx);
    let question = format!(
        "{} {account} account: {}. {cost}",
        question_for(guard),
        a.what
    )
    .trim_end()
    .to_string();
    // MCP 2026-07-28 and later: the question goes back as an input request, and the call
    // comes again with the answer (nothing is held here).
    if let Some(round) = ctx.round
        && (round.can_ask || round.state.is_some())
    {
        return in_round(&ctx, round, tool, guard, request, &a, question, cid_given).await;
    }
    let id = ctx
        .safety
        .hold(Pending {
            owner: ctx.owner(),
            tool,
            guard: guard.name(),
            kind,
            request: request.clone(),
            what: a.what.clone(),
            expires: SystemTime::now() + ttl,
        })
        .await;
    let id = match id {
        Ok(id) => id,
        Err(e) => return envelope::error_text(format!("{tool}: {e}. Nothing was sent to Alpaca.")),
    };
    let asked = match ctx.peer {
        Some(peer) => ask_user(peer, question, ttl).await,
        None => Asked::CannotAsk(None),
    };
    match asked {
        Asked::Approved => match ctx.safety.take(&id, &ctx.owner()).await {
            Ok(pending) => send(&ctx, tool, guard, pending.request, &a).await,
            Err(e) => envelope::error_text(format!("{tool}: {e}. Nothing was sent to Alpaca.")),
        },
        Asked::Refused(action) => {
            let _ = ctx.safety.take(&id, &ctx.owner()).await;
            refused(&ctx, guard, &request, &a, action)
        }
        Asked::CannotAsk(why) => {
            let mut data = json!({
                "confirmation_id": id,
                "expires_in_seconds": ttl.as_secs(),
                "tool": tool,
                "estimated_value": a.usd(),
            });
            if guard == Guard::PlaceOrder {
                data["order"] = request.body.clone().unwrap_or(Value::Null);
            } else {
                data["request"] = held_view(&request);
            }
            let mut summary = format!(
                "NOT SENT YET. {account} account: {}. {cost} To send exactly this call use confirm_order with confirmation_id {id} within {} seconds; to drop it call cancel_confirmation. Ask the user before confirming.",
                a.what,
                ttl.as_secs()
            );
            if let Some(why) = why {
                summary.push_str(&format!(" (Asking the user directly failed: {why}.)"));
                data["asking_failed"] = Value::String(why);
            }
            envelope::with_summary(data, Risk::ApiData, ctx.mode, summary)
        }
    }
}

/// The result of a call the user was asked about and did not approve.
fn refused(
    ctx: &Ctx<'_>,
    guard: Guard,
    request: &ApiRequest,
    a: &Assessment,
    action: &str,
) -> CallToolResult {
    envelope::with_summary(
        json!({"placed": false, "sent": false, "user_answer": action, "request": held_view(request)}),
        Risk::ApiData,
        ctx.mode,
        format!(
            "{}: the user was asked and answered {action}. Nothing was sent to Alpaca ({}).",
            if guard.makes_order() {
                "NOT PLACED"
            } else {
                "NOT SENT"
            },
            a.what
        ),
    )
}

/// The key of the confirmation question in `inputRequests` and `inputResponses`.
pub(crate) const QUESTION: &str = "confirm";

/// A held call in a 2026-07-28 round. The first call asks: the question goes out as an
/// input request, and the exact request (its `client_order_id` too) is sealed into the
/// `requestState` with a nonce, for this principal, expiring with the confirmation time.
/// The retry (the same tool and arguments, the answer, the state) is sent only when the
/// state opens, names this tool and exactly the request these arguments build, has not
/// been answered before, and the answer is yes; an order is first looked up by its
/// `client_order_id`, so a state replayed on another replica cannot place it twice.
#[allow(clippy::too_many_arguments)] // the round, the call, and what was judged of it
async fn in_round(
    ctx: &Ctx<'_>,
    round: &Round,
    tool: &'static str,
    guard: Guard,
    mut request: ApiRequest,
    a: &Assessment,
    question: String,
    cid_given: bool,
) -> CallToolResult {
    let refuse =
        |why: &str| envelope::error_text(format!("{tool}: {why}. Nothing was sent to Alpaca."));
    let Some(state) = round.state.as_deref() else {
        let Some(params) = question_params(question) else {
            return refuse("the confirmation question could not be built");
        };
        let payload = json!({
            "tool": tool,
            "request": held_view(&request),
            "cid_given": cid_given,
            "nonce": uuid::Uuid::new_v4().simple().to_string(),
        });
        let sealed = ctx.safety.seal(&payload, &round.principal);
        let mut requests = InputRequests::new();
        requests.insert(
            QUESTION.to_string(),
            InputRequest::Elicitation(ElicitRequest::new(params)),
        );
        round.ask(InputRequiredResult::new(Some(requests), Some(sealed)));
        // Replaced by the input-required result; never shown.
        return refuse("the user is being asked");
    };
    let held = match ctx.safety.open(state, &round.principal) {
        Ok(held) => held,
        Err(why) => return refuse(&why),
    };
    if held["tool"] != tool {
        return refuse("the requestState belongs to a call of another tool");
    }
    // The same call: these arguments build it again. Where neither call gave a
    // client_order_id, the one made up for the first (the one the user was asked about)
    // stands for the fresh one made for this call; one given by the caller on either call
    // must be the same on both, like every other argument.
    if let (Some(Value::Object(body)), Some(cid)) = (
        request.body.as_mut(),
        held["request"]["body"]["client_order_id"].as_str(),
    ) && body.contains_key("client_order_id")
        && !cid_given
        && held["cid_given"] != Value::Bool(true)
    {
        body.insert("client_order_id".into(), Value::String(cid.to_string()));
    }
    if held_view(&request) != held["request"] {
        return refuse(
            "these arguments are not the ones the user was asked about; call the tool without requestState to be asked about them",
        );
    }
    let nonce = held["nonce"].as_str().unwrap_or_default();
    match ctx.safety.spend(nonce).await {
        Ok(true) => {}
        Ok(false) => {
            return refuse(
                "this confirmation was already answered; call the tool again to be asked again",
            );
        }
        Err(why) => return refuse(&why),
    }
    let answer = round
        .responses
        .as_ref()
        .and_then(|r| r.get(QUESTION))
        .and_then(|v| serde_json::from_value::<ElicitResult>(v.clone()).ok());
    let Some(answer) = answer else {
        return refuse(&format!(
            "the retry carries no answer to the question `{QUESTION}` in inputResponses"
        ));
    };
    if let Asked::Refused(action) = judge(&answer) {
        return refused(ctx, guard, &request, a, action);
    }
    if let Some(cid) = client_order_id(&request).filter(|_| guard.makes_order()) {
        match placed(ctx, &cid).await {
            Ok(None) => {}
            Ok(Some(order)) => {
                return done(
                    ctx,
                    tool,
                    guard,
                    &a.what,
                    Some(&cid),
                    order,
                    Some("This confirmation had already placed it; it was not sent again."),
                );
            }
            Err(e) => {
                return refuse(&format!(
                    "whether this confirmation already placed the order could not be checked ({e}); call the tool again later"
                ));
            }
        }
    }
    send(ctx, tool, guard, request, a).await
}

pub(super) fn question_for(guard: Guard) -> &'static str {
    match guard {
        Guard::PlaceOrder => "Place this order?",
        Guard::ReplaceOrder => "Replace this order?",
        Guard::ClosePosition | Guard::CloseAllPositions => "Close this?",
        Guard::Exercise => "Exercise this option?",
        Guard::CancelOrder | Guard::CancelAllOrders => "Cancel this?",
        _ => "Go ahead?",
    }
}

/// A held request as the model sees it: method, path, query and body.
pub(super) fn held_view(request: &ApiRequest) -> Value {
    let query: Map<String, Value> = request
        .query
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.clone())))
        .collect();
    json!({
        "method": request.method.as_str(),
        "path": request.path,
        "query": query,
        "body": request.body,
    })
}

/// What came of asking the user to approve a held call.
pub(super) enum Asked {
    Approved,
    /// The user declined, cancelled or said no (the answer, for the result).
    Refused(&'static str),
    /// The client cannot ask (no elicitation support), or asking failed (why).
    CannotAsk(Option<String>),
}

/// Puts a held call to the user through MCP elicitation, when the client supports it; the
/// question expires with the confirmation.
pub(super) async fn ask_user(peer: &Peer<RoleServer>, question: String, ttl: Duration) -> Asked {
    if !peer
        .supported_elicitation_modes()
        .contains(&ElicitationMode::Form)
    {
        return Asked::CannotAsk(None);
    }
    let Some(params) = question_params(question) else {
        return Asked::CannotAsk(Some("the question could not be built".into()));
    };
    match peer
        .create_elicitation_with_timeout(params, Some(ttl))
        .await
    {
        Ok(answer) => judge(&answer),
        // Unanswered until the confirmation expired: it can no longer be confirmed either.
        Err(rmcp::service::ServiceError::Timeout { .. }) => Asked::Refused("nothing in time"),
        Err(e) => Asked::CannotAsk(Some(e.to_string())),
    }
}

/// The yes/no form a held call is put to the user with.
fn question_params(question: String) -> Option<ElicitRequestParams> {
    let schema = json!({
        "type": "object",
        "properties": {"confirm": {
            "type": "boolean",
            "title": "Go ahead",
            "description": "Yes sends exactly this to Alpaca; no drops it."
        }},
        "required": ["confirm"]
    });
    let requested_schema =
        ElicitationSchema::from_json_schema(schema.as_object().cloned().unwrap_or_default())
            .ok()?;
    Some(ElicitRequestParams::FormElicitationParams {
        meta: None,
        message: question,
        requested_schema,
    })
}

/// What the user's answer to the form says: only an accepted `confirm: true` is a yes.
fn judge(answer: &ElicitResult) -> Asked {
    match answer.action {
        ElicitationAction::Accept
            if answer.content.as_ref().and_then(|c| c.get("confirm"))
                == Some(&Value::Bool(true)) =>
        {
            Asked::Approved
        }
        ElicitationAction::Accept => Asked::Refused("no"),
        ElicitationAction::Decline => Asked::Refused("decline"),
        // Cancel, and any answer a later protocol adds: not a yes.
        _ => Asked::Refused("cancel"),
    }
}

/// `confirm_order`: sends a held call once, after its guards once more (prices and limits may
/// have moved since it was held).
pub async fn confirm(ctx: Ctx<'_>, id: String) -> CallToolResult {
    let pending = match ctx.safety.take(&id, &ctx.owner()).await {
        Ok(p) => p,
        Err(e) => {
            return envelope::error_text(format!(
                "confirm_order: {e}. Nothing was sent to Alpaca."
            ));
        }
    };
    let Some(guard) = Guard::parse(pending.guard) else {
        return envelope::error_text(
            "confirm_order: the held call has no known guard. Nothing was sent to Alpaca.",
        );
    };
    let a = match assess(&ctx, guard, pending.kind, &pending.request).await {
        Ok(a) => a,
        Err(why) => {
            return envelope::error_text(format!(
                "confirm_order: {why}. Nothing was sent to Alpaca."
            ));
        }
    };
    if let Err(why) = enforce(&ctx, &a) {
        return envelope::error_text(format!("confirm_order: {why}. Nothing was sent to Alpaca."));
    }
    send(&ctx, pending.tool, guard, pending.request, &a).await
}

/// `cancel_confirmation`: drops a held call.
pub async fn drop_confirmation(ctx: &Ctx<'_>, id: String) -> CallToolResult {
    match ctx.safety.take(&id, &ctx.owner()).await {
        Ok(p) => envelope::with_summary(
            json!({"confirmation_id": id, "cancelled": true}),
            Risk::ApiData,
            ctx.mode,
            format!("Dropped the held call ({}); nothing was sent.", p.what),
        ),
        Err(e) => envelope::error_text(format!("cancel_confirmation: {e}")),
    }
}
