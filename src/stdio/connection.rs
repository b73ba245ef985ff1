//! The JSON-RPC layer of the stdio transport: one connection (a byte stream each way), read
//! as newline-delimited messages and checked before rmcp's service sees them.
//!
//! - A line that is not JSON (invalid UTF-8, `1e400`, `NaN`, nesting past serde's limit) or is
//!   longer than [`Limits::max_line_bytes`] is answered `-32700` with `"id": null`; JSON that
//!   is not a message is answered `-32600` (with the request's id when it has one, else
//!   `null`). Reading past an over-long line never holds more than the limit in memory.
//! - A request whose id is still in flight is refused (`-32600`) and never run.
//! - At most [`Limits::max_in_flight`] requests run at once; beyond that a request is answered
//!   `-32000` at once and not run, so pipelining cannot grow memory without bound.
//! - Every error response carries an `id`, `null` when none could be read.
//! - Writes go through one writer task in order, so a reply is never interleaved with another
//!   or cut off when a read is cancelled.
//! - With [`super::serve`], an `initialize` on a connection whose session began with a
//!   2026-07-28 request (per-request `_meta`, no `initialize`) starts a fresh session, so a
//!   client that falls back to 2025-11-25 keeps working.

use std::collections::{HashSet, VecDeque};
use std::io;
use std::sync::{Arc, Mutex};

use rmcp::RoleServer;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::Transport;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

use super::{Reader, Writer};

/// Bounds of one stdio connection.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The longest message accepted, in bytes (default 4 MiB).
    pub max_line_bytes: usize,
    /// Requests running at once (default 64).
    pub max_in_flight: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line_bytes: 4 * 1024 * 1024,
            max_in_flight: 64,
        }
    }
}

/// How the connection's current session began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lifecycle {
    /// Nothing but pings and discovery probes yet.
    Open,
    /// With `initialize` (2025-11-25 and earlier).
    Initialized,
    /// With a request carrying the 2026-07-28 per-request `_meta`.
    Inline,
}

struct State {
    /// Ids (by [`crate::request_id::key`]) of requests handed to the service and not yet
    /// answered.
    in_flight: HashSet<String>,
    lifecycle: Lifecycle,
    /// Replies the transport makes itself, waiting for the writer.
    replies: VecDeque<Vec<u8>>,
    /// An `initialize` that ended the session before it, for the next session to read first.
    stashed: Option<ClientJsonRpcMessage>,
    /// The current session ended for a fresh one.
    restart: bool,
    /// The reading side reached its end (or failed).
    eof: bool,
}

struct LineReader {
    read: BufReader<Reader>,
    buf: Vec<u8>,
    /// Dropping the rest of an over-long line.
    discarding: bool,
}

enum Line {
    Full,
    Oversized,
    Eof,
}

impl LineReader {
    /// Reads one line into `buf`, never holding more than `max` bytes; cancel-safe (a
    /// partial line stays in `buf` for the next call).
    async fn next(&mut self, max: usize) -> io::Result<Line> {
        loop {
            let available = self.read.fill_buf().await?;
            if available.is_empty() {
                return Ok(Line::Eof);
            }
            let newline = available.iter().position(|b| *b == b'\n');
            let take = newline.map_or(available.len(), |i| i + 1);
            let mut oversized = false;
            if self.discarding {
                if newline.is_some() {
                    self.discarding = false;
                }
            } else if self.buf.len() + take > max {
                self.buf.clear();
                self.discarding = newline.is_none();
                oversized = true;
            } else {
                self.buf.extend_from_slice(&available[..take]);
            }
            self.read.consume(take);
            if oversized {
                return Ok(Line::Oversized);
            }
            if newline.is_some() && !self.discarding && !self.buf.is_empty() {
                return Ok(Line::Full);
            }
        }
    }
}

/// What the writer task is handed.
enum Out {
    /// Bytes to write.
    Bytes(Vec<u8>),
    /// Answered once everything before it is written and flushed.
    Flushed(tokio::sync::oneshot::Sender<()>),
}

struct Connection {
    reader: tokio::sync::Mutex<LineReader>,
    out: mpsc::Sender<Out>,
    state: Mutex<State>,
    limits: Limits,
}

impl Connection {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn reply(&self, message: Value) {
        let mut bytes = serde_json::to_vec(&message).unwrap_or_default();
        bytes.push(b'\n');
        self.state().replies.push_back(bytes);
    }
}

/// An error response with `id` (`null` when it could not be read).
fn error(id: Option<&Value>, code: i64, message: String) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": id.cloned().unwrap_or(Value::Null),
        "error": {"code": code, "message": message},
    })
}

/// The key an id is compared by ([`crate::request_id`]), when the value is an id.
fn id_key(v: &Value) -> Option<String> {
    crate::request_id::key(v).ok()
}

/// The transport for one MCP session over a stdio connection; see the module doc. Built by
/// [`super::stdio`] or [`StdioTransport::new`]; served once with rmcp's `serve`, or session
/// after session with [`super::serve`].
pub struct StdioTransport {
    conn: Arc<Connection>,
    /// An `initialize` after a 2026-07-28 start ends the session for a fresh one.
    restartable: bool,
}

impl std::fmt::Debug for StdioTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StdioTransport")
            .field("limits", &self.conn.limits)
            .finish_non_exhaustive()
    }
}

impl StdioTransport {
    /// A transport over `read` and `write` (stdin and stdout, or any byte streams). Must be
    /// called inside a tokio runtime: it starts the task that writes.
    pub fn new(read: Reader, write: Writer, limits: Limits) -> StdioTransport {
        let (out, mut rx) = mpsc::channel::<Out>(64);
        tokio::spawn(async move {
            let mut write = write;
            let mut broken = false;
            while let Some(item) = rx.recv().await {
                match item {
                    Out::Bytes(bytes) if !broken => {
                        broken =
                            write.write_all(&bytes).await.is_err() || write.flush().await.is_err();
                    }
                    Out::Bytes(_) => {}
                    Out::Flushed(done) => {
                        let _ = done.send(());
                    }
                }
            }
        });
        StdioTransport {
            conn: Arc::new(Connection {
                reader: tokio::sync::Mutex::new(LineReader {
                    read: BufReader::with_capacity(64 * 1024, read),
                    buf: Vec::new(),
                    discarding: false,
                }),
                out,
                state: Mutex::new(State {
                    in_flight: HashSet::new(),
                    lifecycle: Lifecycle::Open,
                    replies: VecDeque::new(),
                    stashed: None,
                    restart: false,
                    eof: false,
                }),
                limits,
            }),
            restartable: false,
        }
    }

    /// Waits until everything handed to the writer so far is written and flushed.
    pub async fn flushed(&self) {
        self.flush_replies().await;
        let (done, wait) = tokio::sync::oneshot::channel();
        if self.conn.out.send(Out::Flushed(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// The next session's transport on the same connection, when the last one ended for a
    /// fresh session; `None` when the connection is done.
    pub(super) fn next_session(&self) -> Option<StdioTransport> {
        let mut s = self.conn.state();
        if !s.restart || s.eof {
            return None;
        }
        s.restart = false;
        s.lifecycle = Lifecycle::Open;
        // The old session's requests died with it.
        s.in_flight.clear();
        Some(self.session())
    }

    /// A transport for a session on this connection that restarts on a late `initialize`.
    pub(super) fn session(&self) -> StdioTransport {
        StdioTransport {
            conn: self.conn.clone(),
            restartable: true,
        }
    }

    /// Hands the transport's own queued replies to the writer (cancel-safe: a reply leaves the
    /// queue only once the writer has room for it).
    async fn flush_replies(&self) -> bool {
        loop {
            if self.conn.state().replies.is_empty() {
                return true;
            }
            let Ok(permit) = self.conn.out.reserve().await else {
                return false;
            };
            if let Some(bytes) = self.conn.state().replies.pop_front() {
                permit.send(Out::Bytes(bytes));
            }
        }
    }

    /// Judges one line: `Some(message)` to hand to the service, `None` when it was answered
    /// (or ignored) here.
    fn judge(&self, line: &[u8]) -> Option<ClientJsonRpcMessage> {
        let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        let value: Value = match serde_json::from_slice(line) {
            Ok(v) => v,
            Err(e) => {
                self.conn
                    .reply(error(None, -32700, format!("Parse error: {e}")));
                return None;
            }
        };
        let id = value.get("id").filter(|v| id_key(v).is_some()).cloned();
        let method = value
            .get("method")
            .and_then(Value::as_str)
            .map(str::to_string);
        // A request (it has a method) whose id is not one JSON-RPC allows is refused, never
        // run: `null`, `1.5`, `true`, `[1]` or an integer past 2^53 (rmcp would otherwise take
        // some as another id, or the message as a notification, and answer nothing).
        if method.is_some()
            && let Some(raw) = value.get("id")
            && let Err(why) = crate::request_id::key(raw)
        {
            self.conn
                .reply(error(None, -32600, format!("Invalid Request: {why}")));
            return None;
        }
        if !value.is_object() {
            let what = if value.is_array() {
                "batches are not supported; send one message per line"
            } else {
                "a message is a JSON object"
            };
            self.conn
                .reply(error(None, -32600, format!("Invalid Request: {what}")));
            return None;
        }
        let message: ClientJsonRpcMessage = match serde_json::from_value(value.clone()) {
            Ok(m) => m,
            Err(e) => {
                // A notification that is not a message we know gets no answer (JSON-RPC).
                if id.is_none() && method.is_some() {
                    return None;
                }
                self.conn
                    .reply(error(id.as_ref(), -32600, format!("Invalid Request: {e}")));
                return None;
            }
        };
        match &message {
            ClientJsonRpcMessage::Request(_) => {
                let id = id.unwrap_or(Value::Null);
                let key = id_key(&id).unwrap_or_default();
                let method = method.unwrap_or_default();
                let mut s = self.conn.state();
                if s.in_flight.contains(&key) {
                    drop(s);
                    self.conn.reply(error(
                        Some(&id),
                        -32600,
                        format!("Invalid Request: request id {id} is already in use by a request that has not been answered; this one was not run"),
                    ));
                    return None;
                }
                if s.in_flight.len() >= self.conn.limits.max_in_flight {
                    let max = self.conn.limits.max_in_flight;
                    drop(s);
                    self.conn.reply(error(
                        Some(&id),
                        -32000,
                        format!("too many requests in flight (at most {max}); this one was not run: wait for answers before sending more"),
                    ));
                    return None;
                }
                match (s.lifecycle, method.as_str()) {
                    (Lifecycle::Open, "initialize") => s.lifecycle = Lifecycle::Initialized,
                    (Lifecycle::Open, "ping" | "server/discover") => {}
                    (Lifecycle::Open, _) if inline_meta(&value) => s.lifecycle = Lifecycle::Inline,
                    (Lifecycle::Inline, "initialize") if self.restartable => {
                        // The client starts over with the 2025-11-25 lifecycle: end this
                        // session and hand the initialize to a fresh one.
                        s.stashed = Some(message);
                        s.restart = true;
                        return None;
                    }
                    _ => {}
                }
                s.in_flight.insert(key);
            }
            ClientJsonRpcMessage::Notification(_) => {
                if method.as_deref() == Some("notifications/cancelled")
                    && let Some(rid) = value.pointer("/params/requestId").and_then(id_key)
                {
                    // A cancelled request may never be answered.
                    self.conn.state().in_flight.remove(&rid);
                }
            }
            _ => {}
        }
        Some(message)
    }
}

/// Whether a request carries the 2026-07-28 per-request `_meta` that opens a session
/// without `initialize` (a protocol version and the client's capabilities).
fn inline_meta(v: &Value) -> bool {
    let meta = v.pointer("/params/_meta");
    meta.and_then(|m| m.get("io.modelcontextprotocol/protocolVersion"))
        .is_some_and(Value::is_string)
        && meta
            .and_then(|m| m.get("io.modelcontextprotocol/clientCapabilities"))
            .is_some_and(Value::is_object)
}

impl Transport<RoleServer> for StdioTransport {
    type Error = io::Error;

    fn send(
        &mut self,
        item: ServerJsonRpcMessage,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let conn = self.conn.clone();
        async move {
            let mut value = serde_json::to_value(&item).map_err(io::Error::other)?;
            if let ServerJsonRpcMessage::Response(_) | ServerJsonRpcMessage::Error(_) = &item {
                if let Some(id) = value.get("id").and_then(id_key) {
                    conn.state().in_flight.remove(&id);
                }
                // An error whose request id could not be read still says so.
                if let Some(obj) = value.as_object_mut()
                    && !obj.contains_key("id")
                {
                    obj.insert("id".into(), Value::Null);
                }
            }
            let mut bytes = serde_json::to_vec(&value).map_err(io::Error::other)?;
            bytes.push(b'\n');
            conn.out
                .send(Out::Bytes(bytes))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the writer has stopped"))
        }
    }

    async fn receive(&mut self) -> Option<ClientJsonRpcMessage> {
        {
            let mut s = self.conn.state();
            if s.restart {
                return None;
            }
            if let Some(m) = s.stashed.take() {
                if let ClientJsonRpcMessage::Request(r) = &m {
                    if let Some(id) = serde_json::to_value(&r.id).ok().as_ref().and_then(id_key) {
                        s.in_flight.insert(id);
                    }
                    s.lifecycle = Lifecycle::Initialized;
                }
                return Some(m);
            }
        }
        let max = self.conn.limits.max_line_bytes;
        loop {
            if !self.flush_replies().await {
                return None;
            }
            let mut reader = self.conn.reader.lock().await;
            let line = match reader.next(max).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "reading stdin failed");
                    self.conn.state().eof = true;
                    return None;
                }
            };
            match line {
                Line::Eof => {
                    drop(reader);
                    self.conn.state().eof = true;
                    self.flush_replies().await;
                    return None;
                }
                Line::Oversized => {
                    drop(reader);
                    self.conn.reply(error(
                        None,
                        -32700,
                        format!(
                            "Parse error: the message is longer than {max} bytes and was not read"
                        ),
                    ));
                }
                Line::Full => {
                    let bytes = std::mem::take(&mut reader.buf);
                    drop(reader);
                    let text = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
                    let text = text.strip_suffix(b"\r").unwrap_or(text);
                    if text.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    let judged = self.judge(text);
                    if self.conn.state().restart {
                        return None;
                    }
                    if let Some(m) = judged {
                        return Some(m);
                    }
                }
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        // The connection outlives a session (the next one may follow), so it stays open; but
        // everything said so far reaches the client before the session counts as closed.
        self.flushed().await;
        Ok(())
    }
}
