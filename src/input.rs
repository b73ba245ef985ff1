//! Asking the user in the middle of a call, as MCP 2026-07-28 has it: a tool answers with an
//! `input_required` result (questions in `inputRequests`, an opaque `requestState`), and the
//! client calls the same tool again with the answers and the state echoed back.
//!
//! A [`Round`] is one such call as the engine sees it: who is calling (the state is bound to
//! them), whether their client can be asked, and what the client sent back. The server keeps
//! nothing between the two calls: the state carries what it needs, sealed with a key (see
//! [`crate::safety::Safety`]), so the retry works on any replica that has the key.

use std::sync::Mutex;

use rmcp::RoleServer;
use rmcp::model::{InputRequiredResult, InputResponses, ProtocolVersion};
use rmcp::service::RequestContext;

/// Who a call is made for, as a front end in front of the engine establishes it (an HTTP
/// layer that checked an OAuth grant puts one in the request's extensions). State sealed for
/// one principal does not open for another.
#[derive(Clone, PartialEq, Eq)]
pub struct Principal(pub String);

impl std::fmt::Debug for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A principal names a grant, not a secret; kept short anyway.
        write!(f, "Principal({})", self.0)
    }
}

/// Whether the request is made under MCP 2026-07-28 or later (ISO dates compare as text).
pub(crate) fn is_2026_07_28_or_later(context: &RequestContext<RoleServer>) -> bool {
    context
        .protocol_version()
        .is_some_and(|v| v.as_str() >= ProtocolVersion::V_2026_07_28.as_str())
}

/// One `tools/call` from a client speaking MCP 2026-07-28 or later. (Only orders ask
/// questions, so without the `trading` toolset most of it goes unread.)
#[derive(Debug)]
#[cfg_attr(not(feature = "trading"), allow(dead_code))]
pub struct Round {
    /// Who the call is for: sealed state is bound to it.
    pub(crate) principal: String,
    /// The client declared form elicitation, so it can be asked through `inputRequests`.
    pub(crate) can_ask: bool,
    /// The `requestState` the client echoed back, if this is a retry.
    pub(crate) state: Option<String>,
    /// The client's answers to the previous round's `inputRequests`.
    pub(crate) responses: Option<InputResponses>,
    /// Set by the tool when it needs the user's answer: what the client gets instead of a
    /// result.
    pub(crate) asked: Mutex<Option<InputRequiredResult>>,
}

impl Round {
    /// A round for a call from `principal`.
    pub fn new(
        principal: impl Into<String>,
        can_ask: bool,
        state: Option<String>,
        responses: Option<InputResponses>,
    ) -> Round {
        Round {
            principal: principal.into(),
            can_ask,
            state,
            responses,
            asked: Mutex::new(None),
        }
    }

    /// The round of a `tools/call` in `context`, when its client negotiated 2026-07-28 or
    /// later (`None` for older revisions: they keep server-initiated elicitation). The
    /// principal is the one an HTTP layer set, else the HTTP caller without one, else the
    /// MCP session `session` (stdio, in process).
    pub fn of_request(
        context: &RequestContext<RoleServer>,
        session: u64,
        state: Option<String>,
        responses: Option<InputResponses>,
    ) -> Option<Round> {
        if !is_2026_07_28_or_later(context) {
            return None;
        }
        let can_ask = context
            .client_capabilities()
            .and_then(|c| c.elicitation)
            // No mode named means form (the revision's default); a URL-only client cannot
            // answer a yes/no form.
            .is_some_and(|e| e.form.is_some() || e.url.is_none());
        let parts = context.extensions.get::<http::request::Parts>();
        let principal = match parts {
            Some(parts) => match parts.extensions.get::<Principal>() {
                Some(p) => format!("http {}", p.0),
                None => "http".to_string(),
            },
            None => format!(
                "session {session} of process {}",
                crate::engine::process_tag()
            ),
        };
        Some(Round::new(principal, can_ask, state, responses))
    }

    /// What the tool asked, if it did (taken: asked once per round).
    pub(crate) fn take_asked(&self) -> Option<InputRequiredResult> {
        self.asked.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Records what the client is to be asked instead of getting a result.
    #[cfg_attr(not(feature = "trading"), allow(dead_code))]
    pub(crate) fn ask(&self, asked: InputRequiredResult) {
        *self.asked.lock().unwrap_or_else(|p| p.into_inner()) = Some(asked);
    }
}
