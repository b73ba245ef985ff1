//! `alpaca_mcp::stdio`'s JSON-RPC layer with a handler whose calls wait until released: a
//! duplicate id in flight never runs, requests beyond the in-flight cap are answered at once
//! and never run, and pipelined requests are all answered while memory stays bounded (the
//! transport stops reading while its answers are not read).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use alpaca_mcp::stdio::{Limits, StdioTransport};
use rmcp::model::{CallToolRequestParams, CallToolResult, ServerCapabilities, ServerConfig};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream};
use tokio::sync::Semaphore;

#[derive(Clone)]
struct Gate {
    calls: Arc<AtomicUsize>,
    open: Arc<Semaphore>,
}

impl ServerHandler for Gate {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn call_tool(
        &self,
        _request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::CallToolResponse, ErrorData> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let _permit = self.open.acquire().await.unwrap();
        Ok(CallToolResult::success(vec![]).into())
    }
}

struct Peer {
    write: tokio::io::WriteHalf<DuplexStream>,
    lines: tokio::io::Lines<BufReader<tokio::io::ReadHalf<DuplexStream>>>,
}

impl Peer {
    async fn send(&mut self, v: Value) {
        self.write
            .write_all(format!("{v}\n").as_bytes())
            .await
            .unwrap();
    }

    async fn next(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(10), self.lines.next_line())
            .await
            .expect("an answer in time")
            .unwrap()
            .expect("a line");
        serde_json::from_str(&line).unwrap()
    }
}

async fn start(limits: Limits) -> (Peer, Gate) {
    let (server, client) = tokio::io::duplex(64 * 1024);
    let (read, write) = tokio::io::split(server);
    let transport = StdioTransport::new(Box::new(read), Box::new(write), limits);
    let gate = Gate {
        calls: Arc::default(),
        open: Arc::new(Semaphore::new(0)),
    };
    let g = gate.clone();
    tokio::spawn(async move { alpaca_mcp::stdio::serve(transport, move || g.clone()).await });
    let (read, write) = tokio::io::split(client);
    let mut peer = Peer {
        write,
        lines: BufReader::new(read).lines(),
    };
    peer.send(json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}))
        .await;
    assert!(peer.next().await["result"].is_object());
    peer.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .await;
    (peer, gate)
}

fn call(id: i64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": "wait", "arguments": {}}})
}

#[tokio::test]
async fn a_duplicate_id_in_flight_is_never_run() {
    let (mut peer, gate) = start(Limits::default()).await;
    peer.send(call(7)).await;
    peer.send(call(7)).await;
    let dup = peer.next().await;
    assert_eq!(dup["id"], 7);
    assert_eq!(dup["error"]["code"], -32600, "{dup}");
    gate.open.add_permits(10);
    let done = peer.next().await;
    assert_eq!(done["id"], 7);
    assert!(done["result"].is_object(), "{done}");
    assert_eq!(
        gate.calls.load(Ordering::SeqCst),
        1,
        "the duplicate never ran"
    );
}

#[tokio::test]
async fn requests_beyond_the_cap_are_answered_at_once_and_never_run() {
    let (mut peer, gate) = start(Limits {
        max_in_flight: 3,
        ..Limits::default()
    })
    .await;
    for id in 1..=5 {
        peer.send(call(id)).await;
    }
    for id in [4, 5] {
        let e = peer.next().await;
        assert_eq!(e["id"], id, "{e}");
        assert_eq!(e["error"]["code"], -32000, "{e}");
    }
    gate.open.add_permits(10);
    let mut answered: Vec<i64> = Vec::new();
    for _ in 0..3 {
        answered.push(peer.next().await["id"].as_i64().unwrap());
    }
    answered.sort();
    assert_eq!(answered, [1, 2, 3]);
    assert_eq!(gate.calls.load(Ordering::SeqCst), 3);
    // With the three answered, there is room again.
    peer.send(call(6)).await;
    assert_eq!(peer.next().await["id"], 6);
}

#[tokio::test]
async fn pipelined_requests_are_all_answered() {
    let (peer, _gate) = start(Limits::default()).await;
    let Peer {
        mut write,
        mut lines,
    } = peer;
    const N: i64 = 20_000;
    // Write everything before reading anything: the transport must hold back (not buffer
    // without bound) and still answer every one.
    let writer = tokio::spawn(async move {
        for id in 1..=N {
            let line = format!(
                "{}\n",
                json!({"jsonrpc": "2.0", "id": id, "method": "ping"})
            );
            write.write_all(line.as_bytes()).await.unwrap();
        }
        write
    });
    let mut seen = 0;
    while seen < N {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("answers keep coming")
            .unwrap()
            .expect("a line");
        let v: Value = serde_json::from_str(&line).unwrap();
        assert!(v["id"].as_i64().is_some(), "{v}");
        seen += 1;
    }
    writer.await.unwrap();
}
