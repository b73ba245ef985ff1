//! Streamable HTTP throughput: N concurrent MCP sessions, each calling one tool in a loop over
//! raw JSON-RPC POSTs for a fixed time. The same client for both servers; written in Rust so that
//! the client, which shares the machine's cores with the server, costs as little as possible.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// Calls per second over `secs` with `clients` concurrent sessions, one figure per tenth of the
/// window (so that the caller gets a median, min and max), and the number of failed calls.
pub fn throughput(
    url: &str,
    clients: usize,
    secs: f64,
    tool: &str,
    args: &Value,
) -> anyhow::Result<(Vec<f64>, usize)> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        // Open every session first, so that the window measures calls only.
        let mut opening = Vec::new();
        for _ in 0..clients {
            let url = url.to_string();
            opening.push(tokio::spawn(async move { Session::open(&url).await }));
        }
        let mut sessions = Vec::new();
        for task in opening {
            sessions.push(task.await??);
        }
        let start = Instant::now();
        let end = start + Duration::from_secs_f64(secs);
        let mut tasks = Vec::new();
        for session in sessions {
            let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": tool, "arguments": args}});
            tasks.push(tokio::spawn(
                async move { session.call_until(&call, end).await },
            ));
        }
        let buckets = 10;
        let mut counts = vec![0usize; buckets];
        let mut failed = 0;
        for task in tasks {
            let (done, errors) = task.await?;
            failed += errors;
            for at in done {
                let i = (at.duration_since(start).as_secs_f64() / secs * buckets as f64) as usize;
                counts[i.min(buckets - 1)] += 1;
            }
        }
        let per_bucket = secs / buckets as f64;
        Ok((
            counts.iter().map(|&c| c as f64 / per_bucket).collect(),
            failed,
        ))
    })
}

/// An initialized MCP session over streamable HTTP, on its own connection.
struct Session {
    client: reqwest::Client,
    url: String,
    /// The `mcp-session-id` (if the server issued one) and the negotiated protocol version.
    headers: (Option<String>, String),
}

impl Session {
    async fn open(url: &str) -> anyhow::Result<Session> {
        let client = reqwest::Client::new();
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "bench", "version": "0"}}});
        let response = post(&client, url, None, &init).await?;
        let id = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let result = rpc_result(response).await?;
        let version = result["protocolVersion"].as_str().unwrap_or("2025-06-18");
        let headers = (id, version.to_string());
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        post(&client, url, Some(&headers), &note).await?;
        Ok(Session {
            client,
            url: url.to_string(),
            headers,
        })
    }

    /// Sends `call` until `end`: the completion times of the successful calls that finished
    /// before `end`, and the number of failed ones.
    async fn call_until(self, call: &Value, end: Instant) -> (Vec<Instant>, usize) {
        let (mut done, mut failed) = (Vec::new(), 0);
        while Instant::now() < end {
            let ok = match post(&self.client, &self.url, Some(&self.headers), call).await {
                Ok(r) => matches!(rpc_result(r).await, Ok(v) if v["isError"] != json!(true)),
                Err(_) => false,
            };
            let at = Instant::now();
            if !ok {
                failed += 1;
            } else if at < end {
                done.push(at);
            }
        }
        (done, failed)
    }
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    session: Option<&(Option<String>, String)>,
    body: &Value,
) -> anyhow::Result<reqwest::Response> {
    let mut request = client
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string());
    if let Some((id, version)) = session {
        request = request.header("mcp-protocol-version", version);
        if let Some(id) = id {
            request = request.header("mcp-session-id", id);
        }
    }
    let response = request.send().await.context("POST")?;
    if !response.status().is_success() {
        bail!("HTTP {}", response.status());
    }
    Ok(response)
}

/// The `result` of a JSON-RPC response sent as JSON or as server-sent events.
async fn rpc_result(response: reqwest::Response) -> anyhow::Result<Value> {
    let text = response.text().await?;
    let message = text
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .chain(std::iter::once(text.as_str()))
        .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
        .find(|v| v.get("id").is_some())
        .with_context(|| format!("no JSON-RPC response in {text:.200}"))?;
    match message.get("result") {
        Some(result) => Ok(result.clone()),
        None => bail!("JSON-RPC error: {}", message["error"]),
    }
}
