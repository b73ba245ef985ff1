//! The stdio transport answers whatever kind of stdin and stdout it is given: pipes (polled by
//! the reactor, including a reader slower than the server's writes), Unix socket pairs (what
//! Node's child processes get), and regular files (read through tokio's blocking stdio).

#![cfg(unix)]

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};

/// initialize, three `tools/list` (together more than a pipe's 64 KiB buffer) and one call.
fn requests() -> String {
    let mut lines = vec![
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "stdio-kinds", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    ];
    for id in 2..=4 {
        lines.push(json!({"jsonrpc": "2.0", "id": id, "method": "tools/list"}));
    }
    lines.push(json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
        "params": {"name": "get_clock", "arguments": {}}}));
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// Checks the five answers (in any order) in `out`.
fn check(kind: &str, out: &str) {
    let answers: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{kind}: {e}: {l}")))
        .collect();
    let by_id = |id: u64| {
        answers
            .iter()
            .find(|a| a["id"] == id)
            .unwrap_or_else(|| panic!("{kind}: no answer {id} in {} answers", answers.len()))
    };
    assert!(by_id(1)["result"]["serverInfo"].is_object(), "{kind}");
    let listed: Vec<usize> = (2..=4)
        .map(|id| by_id(id)["result"]["tools"].as_array().map_or(0, Vec::len))
        .collect();
    assert!(listed[0] > 20, "{kind}: {listed:?}");
    assert!(listed.iter().all(|n| *n == listed[0]), "{kind}: {listed:?}");
    let call = &by_id(5)["result"];
    assert_eq!(call["isError"], false, "{kind}: {call}");
    assert!(
        call["structuredContent"]["data"]["is_open"].is_boolean(),
        "{kind}: {call}"
    );
}

/// Reads answers until `n` lines arrived.
fn read_lines(from: impl Read, n: usize) -> String {
    let mut reader = BufReader::new(from);
    let mut out = String::new();
    for _ in 0..n {
        if reader.read_line(&mut out).unwrap() == 0 {
            break;
        }
    }
    out
}

#[tokio::test]
async fn files_are_read_and_written() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.jsonl"), dir.path().join("out.jsonl"));
    std::fs::write(&input, requests()).unwrap();
    let status = common::command(&["--sandbox"])
        .stdin(std::fs::File::open(&input).unwrap())
        .stdout(std::fs::File::create(&output).unwrap())
        .stderr(Stdio::null())
        .status()
        .await
        .unwrap();
    assert!(status.success(), "the end of the file ends the server");
    check("file", &std::fs::read_to_string(&output).unwrap());
}

#[tokio::test]
async fn pipes_with_a_slow_reader() {
    let mut child = common::command(&["--sandbox"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stdin, requests().as_bytes())
        .await
        .unwrap();
    // Nothing is read for a while: the server's writes fill the pipe and must wait.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stdout = child.stdout.take().unwrap().into_owned_fd().unwrap();
    let out = tokio::task::spawn_blocking(move || read_lines(std::fs::File::from(stdout), 5))
        .await
        .unwrap();
    drop(stdin);
    assert!(
        child.wait().await.unwrap().success(),
        "closing stdin ends the server"
    );
    check("pipe", &out);
}

#[tokio::test]
async fn unix_socket_pairs() {
    let (mut to_server, server_in) = UnixStream::pair().unwrap();
    let (from_server, server_out) = UnixStream::pair().unwrap();
    let mut child = common::command(&["--sandbox"])
        .stdin(OwnedFd::from(server_in))
        .stdout(OwnedFd::from(server_out))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    to_server.write_all(requests().as_bytes()).unwrap();
    let out = tokio::task::spawn_blocking(move || read_lines(from_server, 5))
        .await
        .unwrap();
    drop(to_server);
    assert!(
        child.wait().await.unwrap().success(),
        "closing stdin ends the server"
    );
    check("socket", &out);
}
