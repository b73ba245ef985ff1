//! The JSON-RPC layer on stdio, through the binary as a raw client sees it: every unparseable
//! line gets `-32700` with `"id": null`, JSON that is not a message gets `-32600` with an id
//! (`null` when none could be read), a duplicate id in flight is refused and never run, and a
//! client that opened with the 2026-07-28 per-request `_meta` and then falls back to
//! `initialize` keeps working.

use crate::common;

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin};

struct Raw {
    _child: Child,
    stdin: ChildStdin,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl Raw {
    async fn start(args: &[&str], env: &[(&str, &str)]) -> Raw {
        let mut cmd = common::command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn");
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Raw {
            _child: child,
            stdin,
            lines,
        }
    }

    async fn send_bytes(&mut self, bytes: &[u8]) {
        self.stdin.write_all(bytes).await.unwrap();
        self.stdin.write_all(b"\n").await.unwrap();
        self.stdin.flush().await.unwrap();
    }

    async fn send(&mut self, v: Value) {
        self.send_bytes(v.to_string().as_bytes()).await;
    }

    async fn next(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(20), self.lines.next_line())
            .await
            .expect("an answer in time")
            .unwrap()
            .expect("a line");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    /// The next message that is not a notification.
    async fn answer(&mut self) -> Value {
        loop {
            let v = self.next().await;
            if v.get("id").is_some() {
                return v;
            }
        }
    }

    async fn initialize(&mut self, capabilities: Value) {
        self.send(
            json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": capabilities,
            "clientInfo": {"name": "raw", "version": "1"}}}),
        )
        .await;
        let init = self.answer().await;
        assert!(init["result"]["serverInfo"].is_object(), "{init}");
        self.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
    }

    async fn ping(&mut self, id: i64) {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": "ping"}))
            .await;
        let pong = self.answer().await;
        assert_eq!(pong["id"], id, "{pong}");
        assert!(pong["result"].is_object(), "{pong}");
    }
}

fn code(v: &Value) -> i64 {
    v["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("not an error: {v}"))
}

#[tokio::test]
async fn every_unparseable_line_is_answered_with_a_null_id() {
    let mut c = Raw::start(&["--sandbox"], &[]).await;
    c.initialize(json!({})).await;
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let huge = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ping\",\"pad\":\"{}\"}}",
        "x".repeat(50 << 20)
    );
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "invalid UTF-8",
            b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xff\xfe\"}".to_vec(),
        ),
        (
            "1e400",
            br#"{"jsonrpc":"2.0","id":2,"method":"ping","params":{"x":1e400}}"#.to_vec(),
        ),
        (
            "NaN",
            br#"{"jsonrpc":"2.0","id":3,"method":"ping","params":{"x":NaN}}"#.to_vec(),
        ),
        ("10k-deep nesting", deep.into_bytes()),
        ("a 50 MB line", huge.into_bytes()),
        ("truncated", br#"{"jsonrpc":"2.0","id":4,"meth"#.to_vec()),
    ];
    for (i, (what, bytes)) in cases.into_iter().enumerate() {
        c.send_bytes(&bytes).await;
        let e = c.answer().await;
        assert_eq!(code(&e), -32700, "{what}: {e}");
        assert_eq!(e["id"], Value::Null, "{what}: {e}");
        // And the connection still works.
        c.ping(100 + i as i64).await;
    }
}

#[tokio::test]
async fn json_that_is_not_a_message_is_answered_32600() {
    let mut c = Raw::start(&["--sandbox"], &[]).await;
    c.initialize(json!({})).await;
    for (what, v, id) in [
        (
            "a batch",
            json!([{"jsonrpc": "2.0", "id": 1, "method": "ping"}]),
            Value::Null,
        ),
        ("a string", json!("hello"), Value::Null),
        (
            "params not an object",
            json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": "oops"}),
            json!(5),
        ),
        ("no method, no id", json!({"jsonrpc": "2.0"}), Value::Null),
    ] {
        c.send(v).await;
        let e = c.answer().await;
        assert_eq!(code(&e), -32600, "{what}: {e}");
        assert_eq!(e["id"], id, "{what}: {e}");
    }
    c.ping(7).await;
}

#[tokio::test]
async fn a_duplicate_id_in_flight_is_refused_and_never_run() {
    // Order confirmation through elicitation keeps the first call in flight until we answer.
    let mut c = Raw::start(&["--sandbox"], &[("ALPACA_CONFIRM_ORDERS", "true")]).await;
    c.initialize(json!({"elicitation": {"form": {}}})).await;
    let orders_now = |v: &Value| {
        let text = v["result"]["content"][0]["text"].as_str().expect("text");
        alpaca_mcp::compact::parse(text).expect("compact text")["data"]
            .as_array()
            .map(Vec::len)
            .expect("a list of orders")
    };
    let list = json!({"jsonrpc": "2.0", "id": 41, "method": "tools/call", "params": {
        "name": "get_orders", "arguments": {"status": "all"}}});
    c.send(list.clone()).await;
    let before = orders_now(&c.answer().await);
    let order = json!({"jsonrpc": "2.0", "id": 42, "method": "tools/call", "params": {
        "name": "place_stock_order", "arguments": {"symbol": "AAPL", "side": "buy", "qty": 1}}});
    c.send(order.clone()).await;
    let ask = c.answer().await;
    assert_eq!(ask["method"], "elicitation/create", "{ask}");
    // The same id again while the first is waiting for the user: refused, not run.
    c.send(order).await;
    let dup = c.answer().await;
    assert_eq!(dup["id"], 42, "{dup}");
    assert_eq!(code(&dup), -32600, "{dup}");
    assert!(
        dup["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already in use"),
        "{dup}"
    );
    // The user says yes: the first call places exactly one order.
    c.send(json!({"jsonrpc": "2.0", "id": ask["id"], "result": {"action": "accept", "content": {"confirm": true}}}))
        .await;
    let placed = c.answer().await;
    assert_eq!(placed["id"], 42);
    assert_eq!(placed["result"]["isError"], false, "{placed}");
    c.send(list).await;
    let after = orders_now(&c.answer().await);
    assert_eq!(after, before + 1, "exactly one order");
    // Once answered, the id may be used again.
    c.ping(42).await;
}

#[tokio::test]
async fn a_client_that_falls_back_to_initialize_keeps_working() {
    let mut c = Raw::start(&["--sandbox"], &[]).await;
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "probe", "version": "1"}
    });
    c.send(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": meta}}))
        .await;
    let listed = c.answer().await;
    assert!(listed["result"]["tools"].is_array(), "{listed}");
    // Now as a 2025-11-25 client: initialize, then requests without _meta.
    c.initialize(json!({})).await;
    c.send(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
        .await;
    let listed = c.answer().await;
    assert!(listed["result"]["tools"].is_array(), "{listed}");
    c.send(json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "get_clock", "arguments": {}}}))
        .await;
    let clock = c.answer().await;
    assert_eq!(clock["result"]["isError"], false, "{clock}");
}
