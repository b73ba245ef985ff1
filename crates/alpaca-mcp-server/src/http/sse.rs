//! Priming events only where the negotiated revision defines them. rmcp starts every SSE
//! stream with a priming event (an event id, a retry hint and an empty `data:` line), which
//! the 2025-11-25 revision defines for resumption. Clients of earlier revisions read every
//! event's data as a JSON-RPC message: the TypeScript SDK 1.23 (bundled in Gemini CLI) throws
//! on the empty one and drops the server. For a session of an earlier revision, the empty
//! `data:` line is taken out of such events; their `id:` and `retry:` stay (an event without
//! data is not dispatched, so the client only notes its id), and every other event passes
//! unchanged.

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::Response;
use futures_util::StreamExt;

/// The first revision that defines priming events.
const PRIMING_SINCE: &str = "2025-11-25";

/// Whether a session of `version` (the negotiated revision; `None` when the client did not
/// say, which is 2025-03-26 or earlier) may be sent priming events.
pub fn primes(version: Option<&str>) -> bool {
    version.is_some_and(|v| v >= PRIMING_SINCE)
}

/// `response` with priming events made data-less when `primes` is false and it is an event
/// stream; anything else is returned as it is.
pub fn for_revision(response: Response, primes: bool) -> Response {
    let is_sse = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if primes || !is_sse {
        return response;
    }
    let (parts, body) = response.into_parts();
    let mut pending: Vec<u8> = Vec::new();
    let stream = body.into_data_stream().map(move |chunk| {
        let chunk = chunk?;
        pending.extend_from_slice(&chunk);
        // Whole events (up to their blank line) go out; a partial one waits for the rest.
        let mut out = Vec::with_capacity(pending.len());
        while let Some(end) = find_event_end(&pending) {
            let event: Vec<u8> = pending.drain(..end).collect();
            out.extend_from_slice(&without_empty_data(&event));
        }
        Ok::<Bytes, axum::Error>(Bytes::from(out))
    });
    Response::from_parts(parts, Body::from_stream(stream))
}

/// The end (exclusive) of the first whole event in `buf`: after its blank line.
fn find_event_end(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2)
}

/// An event with a lone empty `data:` line taken out (a priming event); others as they are.
fn without_empty_data(event: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(event);
    let lines: Vec<&str> = text.trim_end_matches('\n').split('\n').collect();
    let data: Vec<&&str> = lines.iter().filter(|l| l.starts_with("data:")).collect();
    let empty_only =
        data.len() == 1 && matches!(data[0].trim_end_matches('\r'), "data:" | "data: ");
    if !empty_only {
        return event.to_vec();
    }
    let kept: Vec<&str> = lines
        .into_iter()
        .filter(|l| !l.starts_with("data:"))
        .collect();
    if kept.is_empty() {
        return Vec::new();
    }
    let mut out = kept.join("\n").into_bytes();
    out.extend_from_slice(b"\n\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions_before_2025_11_25_are_not_primed() {
        assert!(!primes(None));
        assert!(!primes(Some("2025-03-26")));
        assert!(!primes(Some("2025-06-18")));
        assert!(primes(Some("2025-11-25")));
        assert!(primes(Some("2026-07-28")));
    }

    #[test]
    fn only_the_empty_data_line_of_a_priming_event_goes() {
        assert_eq!(
            without_empty_data(b"id: 0\nretry: 3000\ndata:\n\n"),
            b"id: 0\nretry: 3000\n\n"
        );
        assert_eq!(without_empty_data(b"data:\n\n"), b"");
        let message = b"id: 1\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n";
        assert_eq!(without_empty_data(message), message);
        assert_eq!(without_empty_data(b":\n\n"), b":\n\n");
    }
}
