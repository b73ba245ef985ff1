//! Log messages to the client (`notifications/message`): what happened during a tool call that
//! the user should hear about (a retry, a rate-limit wait, a stale answer, the live account),
//! as the runtime and the engine record it ([`crate::runtime::events`]).
//!
//! - Before 2026-07-28 a session gets every event at or above its level, which starts at
//!   [`DEFAULT_LEVEL`] and follows `logging/setLevel`.
//! - From 2026-07-28 (where SEP-2577 deprecates logging and drops `logging/setLevel`) a
//!   request gets events only when its `_meta` opts in (`io.modelcontextprotocol/logLevel`),
//!   at or above that level; `logging/setLevel` is answered "method not found".
//!
//! Over streamable HTTP, rmcp sends a session's log messages on its GET stream, and a
//! stateless (2026-07-28) request's on that request's own response stream. No message
//! carries a credential, a header or a body.
// The feature is deprecated, not removed: clients of both revisions still use it.
#![allow(deprecated)]

use std::sync::{Arc, Mutex};

use rmcp::RoleServer;
use rmcp::model::{LoggingLevel, LoggingMessageNotificationParam};
use rmcp::service::RequestContext;
use serde_json::json;

use crate::input::is_2026_07_28_or_later;
use crate::runtime::events::{Event, Level};

/// The level a session starts at: everything the server logs.
pub const DEFAULT_LEVEL: LoggingLevel = LoggingLevel::Info;

/// One session's log level. Clones share it.
#[derive(Clone)]
pub struct SessionLog(Arc<Mutex<LoggingLevel>>);

impl Default for SessionLog {
    fn default() -> Self {
        SessionLog(Arc::new(Mutex::new(DEFAULT_LEVEL)))
    }
}

impl SessionLog {
    /// `logging/setLevel`: `false` (refused) for a 2026-07-28 request, which has no such
    /// method.
    pub fn set(&self, level: LoggingLevel, context: &RequestContext<RoleServer>) -> bool {
        if is_2026_07_28_or_later(context) {
            return false;
        }
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = level;
        true
    }

    /// The least level this request's events go out at, or `None` for none.
    fn threshold(&self, context: &RequestContext<RoleServer>) -> Option<LoggingLevel> {
        if is_2026_07_28_or_later(context) {
            context.meta.log_level()
        } else {
            Some(*self.0.lock().unwrap_or_else(|p| p.into_inner()))
        }
    }

    /// Sends the client the events at or above this request's level, in order.
    pub async fn deliver(&self, events: Vec<Event>, context: &RequestContext<RoleServer>) {
        let Some(threshold) = self.threshold(context) else {
            return;
        };
        for event in events {
            let level = level_of(event.level);
            if rank(level) >= rank(threshold) {
                let param = LoggingMessageNotificationParam::new(level, json!(event.message))
                    .with_logger("alpaca-mcp");
                // A client gone before its answer does not need the log line either.
                let _ = context.peer.notify_logging_message(param).await;
            }
        }
    }
}

/// A level's place in syslog's order, least severe first.
fn rank(level: LoggingLevel) -> u8 {
    match level {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        LoggingLevel::Emergency => 7,
    }
}

/// MCP's level for an event's.
fn level_of(level: Level) -> LoggingLevel {
    match level {
        Level::Info => LoggingLevel::Info,
        Level::Notice => LoggingLevel::Notice,
        Level::Warning => LoggingLevel::Warning,
    }
}
