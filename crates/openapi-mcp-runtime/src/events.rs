//! What happened while a call was sent that its user should hear about: a retry after the
//! API refused or failed, a wait for the client-side rate limit. The transport records them
//! for the call in progress, when the caller asked to [`collect`] them (an MCP server sends
//! them to the client as log messages); otherwise they go nowhere. Nothing recorded here
//! carries a credential, a header or a body: paths, statuses and durations only.
//!
//! A call run through a [`Watch`] can also report progress as it goes (a list that follows
//! pages, after each page) and learn that its caller gave up ([`cancelled`]), so it stops
//! before the next page.

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

/// How far a call has got: items so far, and the total when it is known.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Items so far.
    pub done: u64,
    /// Items in all, when known.
    pub total: Option<u64>,
    /// One line: what has been read.
    pub message: String,
}

/// Whether the caller gave up on the call.
pub type CancelledFn = Arc<dyn Fn() -> bool + Send + Sync>;

struct Scope {
    events: Mutex<Vec<Event>>,
    progress: Option<tokio::sync::mpsc::UnboundedSender<Progress>>,
    cancelled: Option<CancelledFn>,
}

tokio::task_local! {
    static SCOPE: Arc<Scope>;
}

/// Records an event for the call in progress (nothing, outside [`collect`] or a [`Watch`]).
pub fn emit(level: Level, message: impl Into<String>) {
    let _ = SCOPE.try_with(|scope| {
        scope
            .events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Event {
                level,
                message: message.into(),
            });
    });
}

/// Reports how far the call in progress has got, when its caller watches progress.
pub fn progress(done: u64, total: Option<u64>, message: impl Into<String>) {
    let _ = SCOPE.try_with(|scope| {
        if let Some(tx) = &scope.progress {
            let _ = tx.send(Progress {
                done,
                total,
                message: message.into(),
            });
        }
    });
}

/// Whether the caller of the call in progress gave up on it (`false` when nobody can).
pub fn cancelled() -> bool {
    SCOPE
        .try_with(|scope| scope.cancelled.as_ref().is_some_and(|f| f()))
        .unwrap_or(false)
}

/// Runs `call`, returning what it gave and the events recorded while it ran, in order.
/// Tasks `call` spawns are not followed.
pub async fn collect<F: Future>(call: F) -> (F::Output, Vec<Event>) {
    Watch::default().run(call).await
}

/// How a call is watched: its events always, its progress and its cancellation when asked.
#[derive(Default)]
pub struct Watch {
    progress: Option<tokio::sync::mpsc::UnboundedSender<Progress>>,
    cancelled: Option<CancelledFn>,
}

impl Watch {
    /// Progress reports go to `tx` as the call makes them.
    pub fn progress(mut self, tx: tokio::sync::mpsc::UnboundedSender<Progress>) -> Self {
        self.progress = Some(tx);
        self
    }

    /// The call asks `cancelled` whether to go on.
    pub fn cancel_with(mut self, cancelled: CancelledFn) -> Self {
        self.cancelled = Some(cancelled);
        self
    }

    /// Runs `call` watched; what it gave and its events, in order. The progress sender is
    /// dropped when the call ends, so a receiver sees the end of its reports.
    pub async fn run<F: Future>(self, call: F) -> (F::Output, Vec<Event>) {
        let scope = Arc::new(Scope {
            events: Mutex::new(Vec::new()),
            progress: self.progress,
            cancelled: self.cancelled,
        });
        let out = SCOPE.scope(scope.clone(), call).await;
        let events = std::mem::take(&mut *scope.events.lock().unwrap_or_else(|p| p.into_inner()));
        (out, events)
    }
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

    #[tokio::test]
    async fn progress_reaches_the_watcher_as_it_is_made_and_cancellation_is_asked() {
        progress(1, None, "nobody watches");
        assert!(!cancelled(), "nobody can cancel outside a watch");
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let watch = Watch::default().progress(tx).cancel_with(Arc::new(move || {
            flag.load(std::sync::atomic::Ordering::SeqCst)
        }));
        let (pages, _) = watch
            .run(async {
                let mut pages = 0;
                while !cancelled() {
                    pages += 1;
                    progress(pages * 10, Some(50), format!("page {pages}"));
                    let seen = rx.recv().await.unwrap();
                    assert_eq!(seen.done, pages * 10, "sent as it is made");
                    if pages == 3 {
                        stop.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                }
                pages
            })
            .await;
        assert_eq!(pages, 3);
        assert!(rx.recv().await.is_none(), "the sender ends with the call");
    }
}
