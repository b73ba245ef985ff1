//! What happened while a call was sent that its user should hear about: a retry after the
//! API refused or failed, a wait for the client-side rate limit. The transport records them
//! for the call in progress, when the caller asked to [`collect`] them (an MCP server sends
//! them to the client as log messages); otherwise they go nowhere. Nothing recorded here
//! carries a credential, a header or a body: operation ids, statuses and durations only.

use std::future::Future;
use std::sync::{Arc, Mutex};

/// How much an event matters (a subset of syslog's levels, as MCP's logging has them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Worth knowing: a wait for the rate limit.
    Info,
    /// Significant but normal: acting on a live account.
    Notice,
    /// Something went wrong and was dealt with: a retry, a stale answer.
    Warning,
}

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// How much it matters.
    pub level: Level,
    /// One sentence for the user.
    pub message: String,
}

tokio::task_local! {
    static SINK: Arc<Mutex<Vec<Event>>>;
}

/// Records an event for the call in progress (nothing, outside [`collect`]).
pub fn emit(level: Level, message: impl Into<String>) {
    let _ = SINK.try_with(|sink| {
        sink.lock().unwrap_or_else(|p| p.into_inner()).push(Event {
            level,
            message: message.into(),
        });
    });
}

/// Runs `call`, returning what it gave and the events recorded while it ran, in order.
/// Tasks `call` spawns are not followed.
pub async fn collect<F: Future>(call: F) -> (F::Output, Vec<Event>) {
    let sink = Arc::new(Mutex::new(Vec::new()));
    let out = SINK.scope(sink.clone(), call).await;
    let events = std::mem::take(&mut *sink.lock().unwrap_or_else(|p| p.into_inner()));
    (out, events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn events_are_collected_per_call_in_order_and_dropped_outside() {
        emit(Level::Warning, "nobody listens");
        let (n, events) = collect(async {
            emit(Level::Info, "first");
            tokio::task::yield_now().await;
            emit(Level::Warning, "second");
            7
        })
        .await;
        assert_eq!(n, 7);
        let messages: Vec<_> = events
            .iter()
            .map(|e| (e.level, e.message.as_str()))
            .collect();
        assert_eq!(
            messages,
            [(Level::Info, "first"), (Level::Warning, "second")]
        );
        let (_, none) = collect(async {}).await;
        assert!(none.is_empty(), "one call's events are not another's");
    }
}
