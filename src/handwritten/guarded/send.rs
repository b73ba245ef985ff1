//! Sending a judged call once, and reporting its outcome as it is: an order whose answer is
//! lost is looked up by its `client_order_id`, never sent twice.

use rmcp::model::CallToolResult;
use serde_json::Value;

use crate::envelope;
use crate::handwritten::Ctx;
use crate::runtime::{ApiRequest, ApiResponse, Error, Risk};
use crate::trading::params::GetOrderByClientOrderId;

use super::assess::{Assessment, account};
use super::guard::Guard;

/// Sends a judged call once and reports its outcome as it is.
pub(super) async fn send(
    ctx: &Ctx<'_>,
    tool: &str,
    guard: Guard,
    request: ApiRequest,
    a: &Assessment,
) -> CallToolResult {
    if let Err(why) = ctx.safety.take_order_slots(a.slots).await {
        return envelope::error_text(format!(
            "{tool} was not called: {why}. Nothing was sent to Alpaca."
        ));
    }
    let client_order_id = client_order_id(&request);
    let account = account(ctx);
    let outcome = ctx.client.transport().send(request).await;
    // What came back, when it is what the call returns (an order is a JSON object with an id).
    let answer: Result<Value, Error> = outcome.and_then(|r| answer(&r, guard));
    let order_id = client_order_id.as_deref().filter(|_| guard.makes_order());
    match answer {
        Ok(v) => done(
            ctx,
            tool,
            guard,
            &a.what,
            client_order_id.as_deref(),
            v,
            None,
        ),
        Err(e @ Error::Redirect { .. }) => envelope::error_text(match order_id {
            Some(cid) => format!(
                "{tool}: OUTCOME UNKNOWN. {e}. {account} account: the order ({}) may or may not have been placed at the configured host before it redirected: check with get_order_by_client_id client_order_id={cid} before trying again, and check TRADING_API_URL.",
                a.what
            ),
            None => format!(
                "{tool}: OUTCOME UNKNOWN. {e}. {account} account: the configured host may or may not have done it ({}): check with {} before trying again, and check TRADING_API_URL.",
                a.what,
                guard.check_with()
            ),
        }),
        Err(e) if lost(&e) => match order_id {
            Some(cid) => look_up(ctx, tool, guard, &a.what, cid, &e).await,
            None => envelope::error_text(format!(
                "{tool}: OUTCOME UNKNOWN. {}. {account} account: Alpaca may or may not have done it ({}); it was not sent again. Check with {} before trying again.",
                lost_reason(&e),
                a.what,
                guard.check_with()
            )),
        },
        Err(e) => envelope::api_error(tool, &e, true),
    }
}

/// The `client_order_id` a request's body carries, if any.
pub(super) fn client_order_id(request: &ApiRequest) -> Option<String> {
    request
        .body
        .as_ref()
        .and_then(|b| b.get("client_order_id"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The JSON of a 2xx answer, when it has the shape the call returns: an order for the calls
/// that make one, any JSON for the rest.
pub(super) fn answer(response: &ApiResponse, guard: Guard) -> Result<Value, Error> {
    let v = response.json().map_err(|e| match e {
        Error::Decode { detail, .. } => Error::Decode {
            detail: format!(
                "HTTP {} with a body that is not JSON ({detail})",
                response.status
            ),
            body: String::new(),
        },
        e => e,
    })?;
    if guard.makes_order() && v.get("id").and_then(Value::as_str).is_none() {
        return Err(Error::Decode {
            detail: format!("HTTP {} with JSON that is not an order", response.status),
            body: String::new(),
        });
    }
    Ok(v)
}

/// Whether an error leaves the outcome unknown: the request went out and no usable answer
/// came back (a timeout, a dropped connection, a 2xx body that is not the JSON the call
/// returns or is too large to read).
pub(super) fn lost(e: &Error) -> bool {
    match e {
        Error::Timeout | Error::Connection { sent: true, .. } | Error::Decode { .. } => true,
        Error::BodyTooLarge { status, .. } => (200..300).contains(status),
        _ => false,
    }
}

pub(super) fn lost_reason(e: &Error) -> String {
    match e {
        Error::Decode { detail, .. } => format!("Alpaca answered {detail}"),
        e => format!("The request failed in transit ({e})"),
    }
}

/// Looks an order up by its `client_order_id` after its answer was lost.
pub(super) async fn look_up(
    ctx: &Ctx<'_>,
    tool: &str,
    guard: Guard,
    what: &str,
    client_order_id: &str,
    error: &Error,
) -> CallToolResult {
    let account = account(ctx);
    let reason = lost_reason(error);
    let lookup = GetOrderByClientOrderId {
        client_order_id: client_order_id.to_string(),
    };
    let found = match lookup.to_request() {
        Ok(r) => ctx
            .client
            .transport()
            .send(r)
            .await
            .and_then(|r| answer(&r, Guard::PlaceOrder)),
        Err(e) => Err(e),
    };
    match found {
        Ok(order)
            if order.get("client_order_id").and_then(Value::as_str) == Some(client_order_id) =>
        {
            done(
                ctx,
                tool,
                guard,
                what,
                Some(client_order_id),
                order,
                Some(&format!(
                    "{reason}, so this was confirmed by looking the order up by its client_order_id; it was not sent twice."
                )),
            )
        }
        Err(Error::Api { status: 404, .. }) => envelope::error_text(format!(
            "{tool}: NOT PLACED. {reason}, and Alpaca has no order with client_order_id {client_order_id}. {account} account: nothing was retried; it is safe to try again (reuse client_order_id {client_order_id} so a late arrival cannot double it)."
        )),
        Ok(_) => envelope::error_text(format!(
            "{tool}: OUTCOME UNKNOWN. {reason}, and looking the order up by client_order_id {client_order_id} did not return that order. {account} account: the order ({what}) may or may not exist: check with get_order_by_client_id client_order_id={client_order_id} before trying again."
        )),
        Err(lookup_error) => envelope::error_text(format!(
            "{tool}: OUTCOME UNKNOWN. {reason}, and looking it up failed too ({lookup_error}). {account} account: the order ({what}) may or may not exist: check with get_order_by_client_id client_order_id={client_order_id} before trying again."
        )),
    }
}

/// The order with `client_order_id`, if Alpaca has one (`Ok(None)`: it answered 404).
pub(super) async fn placed(ctx: &Ctx<'_>, client_order_id: &str) -> Result<Option<Value>, Error> {
    let lookup = GetOrderByClientOrderId {
        client_order_id: client_order_id.to_string(),
    };
    let found = ctx
        .client
        .transport()
        .send(lookup.to_request()?)
        .await
        .and_then(|r| answer(&r, Guard::PlaceOrder));
    match found {
        Ok(order)
            if order.get("client_order_id").and_then(Value::as_str) == Some(client_order_id) =>
        {
            Ok(Some(order))
        }
        Ok(_) => Err(Error::Decode {
            detail: "the look-up by client_order_id returned another order".into(),
            body: String::new(),
        }),
        Err(Error::Api { status: 404, .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The result of a call Alpaca accepted.
pub(super) fn done(
    ctx: &Ctx<'_>,
    tool: &str,
    guard: Guard,
    what: &str,
    client_order_id: Option<&str>,
    data: Value,
    note: Option<&str>,
) -> CallToolResult {
    let account = account(ctx);
    let mut summary = if guard.makes_order() {
        let status = data
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("unknown");
        let id = data.get("id").and_then(Value::as_str).unwrap_or("?");
        format!(
            "{account} account: Alpaca accepted the order ({what}); its status is `{status}` as Alpaca reports it. Order id {id}, client_order_id {}.",
            client_order_id.unwrap_or("?")
        )
    } else {
        format!(
            "{account} account: Alpaca accepted the request to {what} ({tool}); check {} for the result.",
            guard.check_with()
        )
    };
    if let Some(note) = note {
        summary.push(' ');
        summary.push_str(note);
    }
    envelope::with_summary(data, Risk::ApiData, ctx.mode, summary)
}
