//! Request ids in flight in HTTP sessions: a POST in a session whose request id is still in
//! flight there is refused (400, a JSON-RPC `-32600`) and never reaches rmcp, so the same id
//! sent twice at once never runs twice (two orders) and never takes the first caller's answer
//! away. Ids are compared by their JSON value ([`alpaca_mcp::request_id`]), and an id JSON-RPC
//! does not allow is refused on every POST, in a session or not.
//!
//! A request stays in flight until both its handler has finished (rmcp keeps the request's
//! parts, which carry a [`Held`], in the handler's context) and its response body has been
//! sent or dropped: a client that disconnects does not free the id while the call still runs.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::{Value, json};

/// Ids in flight, by session id and id key.
#[derive(Default)]
pub struct InFlight(Mutex<HashSet<(String, String)>>);

/// The ids one POST holds in flight; they are released when the last clone is dropped.
pub struct Held {
    set: Arc<InFlight>,
    keys: Vec<(String, String)>,
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut set = self.set.0.lock().unwrap_or_else(|p| p.into_inner());
        for k in &self.keys {
            set.remove(k);
        }
    }
}

/// Why a POST's ids were refused.
#[derive(Debug)]
pub struct Refused(String);

impl IntoResponse for Refused {
    /// A 400 carrying a JSON-RPC `-32600` error without an id (as streamable HTTP says for a
    /// message the server does not accept).
    fn into_response(self) -> Response {
        (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "application/json")],
            json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32600, "message": format!("Invalid Request: {}", self.0)}})
                .to_string(),
        )
            .into_response()
    }
}

/// The requests (messages with a method and an id member) of a JSON-RPC body, one or a batch.
fn request_ids(body: &[u8]) -> Vec<Value> {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let messages = match value {
        Value::Array(items) => items,
        one => vec![one],
    };
    messages
        .into_iter()
        .filter(|m| m.get("method").is_some_and(Value::is_string))
        .filter_map(|mut m| m.get_mut("id").map(Value::take))
        .collect()
}

impl InFlight {
    /// Checks the request ids of a POST's body: refused when one is not an id JSON-RPC
    /// allows, or (in `session`) when one is in flight there already; else they are held
    /// until the returned value is dropped (`None` when there is nothing to hold).
    pub fn hold(
        self: &Arc<Self>,
        session: Option<&str>,
        body: &[u8],
    ) -> Result<Option<Arc<Held>>, Refused> {
        let mut keys = Vec::new();
        for id in request_ids(body) {
            let key = alpaca_mcp::request_id::key(&id).map_err(Refused)?;
            if let Some(session) = session {
                keys.push((session.to_string(), key, id));
            }
        }
        if keys.is_empty() {
            return Ok(None);
        }
        let mut set = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut seen = HashSet::new();
        for (session, key, id) in &keys {
            if set.contains(&(session.clone(), key.clone())) || !seen.insert(key.clone()) {
                return Err(Refused(format!(
                    "request id {id} is already in use in this session by a request that has not been answered; this one was not run"
                )));
            }
        }
        let keys: Vec<(String, String)> = keys.into_iter().map(|(s, k, _)| (s, k)).collect();
        set.extend(keys.iter().cloned());
        Ok(Some(Arc::new(Held {
            set: self.clone(),
            keys,
        })))
    }
}

/// `response` with its body holding `held` until the body is sent or dropped.
pub fn until_sent(response: Response, held: Option<Arc<Held>>) -> Response {
    let Some(held) = held else {
        return response;
    };
    let (parts, body) = response.into_parts();
    let stream = body.into_data_stream().map(move |chunk| {
        let _held = &held;
        chunk
    });
    Response::from_parts(parts, Body::from_stream(stream))
}
