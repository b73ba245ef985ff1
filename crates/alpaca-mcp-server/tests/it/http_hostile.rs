//! The HTTP transport under hostile clients, spoken to with raw TCP: connections that do not
//! finish their headers or body in time are closed, one address cannot hold more than its share
//! of connections, the server keeps accepting when it runs out of file descriptors, repeated
//! 401s are summarized in the log, two Host headers or a Host with a malformed port get 400,
//! and DELETE of an unknown session gets 404.

use crate::common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn addr_of(url: &str) -> String {
    url.trim_start_matches("http://")
        .trim_end_matches("/mcp")
        .to_string()
}

/// Reads until the peer closes the connection (or `within` passes); returns what was read and
/// whether it closed.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (String, bool) {
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(within, async {
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await
    .is_ok();
    (String::from_utf8_lossy(&buf).into_owned(), closed)
}

/// A raw request with the headers streamable HTTP wants, and the answer's status line.
async fn raw(addr: &str, request: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let (answer, _) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    answer.lines().next().unwrap_or_default().to_string()
}

#[tokio::test]
async fn connections_that_do_not_finish_their_headers_are_closed() {
    let (_child, url, _log) = common::server_with_log(&["--header-timeout", "1"], &[]).await;
    let addr = addr_of(&url);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let addr = addr.clone();
        tasks.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(&addr).await.unwrap();
            s.write_all(b"POST /mcp HTTP/1.1\r\n").await.unwrap();
            // A header line every 300 ms, forever: the header deadline still applies.
            for i in 0.. {
                tokio::time::sleep(Duration::from_millis(300)).await;
                if s.write_all(format!("x-slow-{i}: 1\r\n").as_bytes())
                    .await
                    .is_err()
                {
                    break;
                }
                if i > 30 {
                    panic!("still open after 9 s of header lines");
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    // An idle connection (nothing sent at all) is closed too.
    let mut idle = TcpStream::connect(&addr).await.unwrap();
    let (_, closed) = read_until_closed(&mut idle, Duration::from_secs(5)).await;
    assert!(closed, "an idle connection is closed");
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_gets_408_and_the_connection_closes() {
    let (_child, url, _log) = common::server_with_log(&["--body-timeout", "1"], &[]).await;
    let addr = addr_of(&url);
    let mut s = TcpStream::connect(&addr).await.unwrap();
    let started = Instant::now();
    s.write_all(
        format!(
            "POST /mcp HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\ncontent-length: 500000\r\n\r\n{{\"jsonrpc\""
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let (answer, closed) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(closed);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn one_address_holds_at_most_its_share_of_connections() {
    let (_child, url, _log) = common::server_with_log(
        &["--max-connections-per-peer", "3", "--header-timeout", "30"],
        &[],
    )
    .await;
    let addr = addr_of(&url);
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(&addr).await.unwrap());
    }
    // Give the server a moment to count them.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut extra = TcpStream::connect(&addr).await.unwrap();
    let (answer, closed) = read_until_closed(&mut extra, Duration::from_secs(3)).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer:?}");
    assert!(closed);
    // One goes away: there is room again.
    held.pop();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let status = raw(
        &addr,
        &format!("GET /mcp HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"),
    )
    .await;
    assert!(!status.contains("503"), "{status}");
}

#[tokio::test]
async fn the_server_keeps_accepting_after_running_out_of_descriptors() {
    // A low descriptor limit, and a per-peer limit above it, so accept() fails with EMFILE.
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(format!(
            "ulimit -n 48 && exec '{}' --sandbox --transport http --port 0 --max-connections-per-peer 1000 --header-timeout 2",
            common::BIN
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stderr));
    let url = loop {
        let line = lines.next_line().await.unwrap().expect("the server starts");
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.trim().to_string();
        }
    };
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = log.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            sink.lock().unwrap().push_str(&line);
        }
    });
    let addr = addr_of(&url);
    let mut flood = Vec::new();
    for _ in 0..120 {
        if let Ok(s) = TcpStream::connect(&addr).await {
            flood.push(s);
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(flood);
    // The held connections time out (2 s) or are dropped; then the server serves again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let status = raw(
        &addr,
        &format!("GET /mcp HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"),
    )
    .await;
    assert!(
        status.starts_with("HTTP/1.1 "),
        "no answer after the flood: {status:?}"
    );
    assert!(
        child.try_wait().unwrap().is_none(),
        "the server is still running"
    );
}

#[tokio::test]
async fn repeated_auth_failures_are_summarized_not_logged_one_by_one() {
    let (_child, url, log) = common::server_with_log(
        &[],
        &[
            ("ALPACA_MCP_HTTP_TOKEN", "a-long-token-for-the-hostile-test"),
            ("ALPACA_MCP_LOG", "info"),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    for i in 0..300 {
        let r = client
            .post(&url)
            .header("authorization", format!("Bearer wrong-{i}"))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = log.lock().unwrap().clone();
    let lines = log.lines().filter(|l| l.contains("401")).count();
    assert!(lines <= 2, "{lines} log lines for 300 refusals:\n{log}");
    assert!(lines >= 1, "the first refusal is logged:\n{log}");
}

#[tokio::test]
async fn malformed_hosts_get_400_and_unknown_sessions_404() {
    let (_child, url, _log) = common::server_with_log(&[], &[]).await;
    let addr = addr_of(&url);
    let port = addr.rsplit(':').next().unwrap();
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    let post = |hosts: &str| {
        format!(
            "POST /mcp HTTP/1.1\r\n{hosts}content-type: application/json\r\naccept: application/json, text/event-stream\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    for hosts in [
        format!("host: localhost:{port}\r\nhost: evil.example\r\n"),
        "host: localhost:99999\r\n".to_string(),
        "host: localhost:80a\r\n".to_string(),
    ] {
        let status = raw(&addr, &post(&hosts)).await;
        assert!(status.starts_with("HTTP/1.1 400"), "{hosts:?}: {status}");
    }
    let status = raw(
        &addr,
        &format!("DELETE /mcp HTTP/1.1\r\nhost: localhost:{port}\r\nmcp-session-id: no-such-session\r\nconnection: close\r\n\r\n"),
    )
    .await;
    assert!(status.starts_with("HTTP/1.1 404"), "{status}");
}
