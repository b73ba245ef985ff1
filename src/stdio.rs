//! The stdio transport, for this crate's server and for hosts that embed the tools:
//! `host.serve(alpaca_mcp::stdio())` for one session, or [`serve`] for a connection whose
//! client may start over.
//!
//! - **Cheap I/O.** An MCP client starts the server with pipes (or, from Node, socket pairs)
//!   on its stdin and stdout. Those are read and written through tokio's reactor here, on the
//!   runtime's own thread. tokio's `stdin()`/`stdout()` instead hand every read and write to a
//!   blocking-pool thread, and those two thread hand-offs per message were most of the
//!   server's CPU time per call. A terminal or a file (`alpaca-mcp-server < requests.jsonl`)
//!   cannot be polled, so it still goes through tokio's blocking stdio.
//! - **A JSON-RPC layer that holds** (see [`StdioTransport`]): every unparseable line gets a
//!   `-32700` answer with `"id": null`, a duplicate id in flight is refused and never run, the
//!   requests in flight per connection are capped, and a client that falls back from the
//!   2026-07-28 lifecycle to `initialize` gets a fresh session.

mod connection;
mod raw;

use rmcp::{ServerHandler, ServiceExt};
use tokio::io::{AsyncRead, AsyncWrite};

pub use connection::{Limits, StdioTransport};

/// What the server reads messages from.
pub type Reader = Box<dyn AsyncRead + Send + Unpin>;
/// What the server writes messages to.
pub type Writer = Box<dyn AsyncWrite + Send + Unpin>;

/// The transport over this process's stdin and stdout, with the default [`Limits`]. Call it
/// inside a tokio runtime.
pub fn stdio() -> StdioTransport {
    let (read, write) = raw::stdio();
    StdioTransport::new(read, write, Limits::default())
}

/// Serves MCP over `transport` until its input ends: one session with a handler from `make`,
/// and a fresh one whenever the client starts over with `initialize` after opening a
/// 2026-07-28 session (per-request `_meta`).
pub async fn serve<S, F>(transport: StdioTransport, mut make: F) -> std::io::Result<()>
where
    S: ServerHandler,
    F: FnMut() -> S,
{
    let mut session = transport.session();
    loop {
        match make().serve(session.session()).await {
            Ok(running) => {
                let _ = running.waiting().await;
            }
            Err(e) => {
                // The input ended (or broke) before a session began.
                tracing::debug!(error = %e, "stdio session did not start");
            }
        }
        match session.next_session() {
            Some(next) => session = next,
            None => {
                session.flushed().await;
                return Ok(());
            }
        }
    }
}
