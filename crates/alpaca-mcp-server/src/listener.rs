//! The HTTP accept loop, hardened against clients that hold connections without finishing
//! them: each connection's headers must arrive within a bound (hyper's header read timeout,
//! which also closes a kept-alive connection that sends nothing), each peer address holds at
//! most so many connections at once (the excess is answered 503 and closed), and when the
//! process runs out of file descriptors the loop backs off and keeps accepting instead of
//! spinning or stopping. Request bodies have their own bound, in the guard.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Bounds of the accept loop.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// Time a client has to send a request's headers (also the longest a kept-alive
    /// connection may sit idle).
    pub header_timeout: Duration,
    /// Connections one peer address may hold at once.
    pub max_per_peer: usize,
}

/// Open connections per peer address.
#[derive(Default)]
struct Peers(Mutex<HashMap<IpAddr, usize>>);

/// One connection's place in [`Peers`], given back when it closes.
struct Slot {
    peers: Arc<Peers>,
    ip: IpAddr,
}

impl Peers {
    fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<Slot> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Slot {
            peers: self.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut map = self.peers.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// Whether an accept error means the process is out of descriptors or memory (back off), as
/// opposed to one failed connection (go on at once).
fn out_of_resources(e: &std::io::Error) -> bool {
    // EMFILE 24, ENFILE 23, ENOBUFS 105, ENOMEM 12 on Linux; the kind covers most elsewhere.
    matches!(e.raw_os_error(), Some(23 | 24 | 105 | 12 | 55))
        || e.kind() == std::io::ErrorKind::OutOfMemory
}

/// Serves `router` on `listener` until `shutdown` is cancelled; then lets open connections
/// finish their current request.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnLimits,
    shutdown: CancellationToken,
) {
    let peers = Arc::new(Peers::default());
    let mut last_warning: Option<Instant> = None;
    let mut refused_since_warning = 0u64;
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            a = listener.accept() => a,
        };
        let (tcp, peer): (tokio::net::TcpStream, SocketAddr) = match accepted {
            Ok(a) => a,
            Err(e) if out_of_resources(&e) => {
                if last_warning.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                    tracing::warn!(error = %e, "cannot accept connections (out of file descriptors or memory); retrying");
                    last_warning = Some(Instant::now());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            Err(e) => {
                tracing::debug!(error = %e, "a connection failed while being accepted");
                continue;
            }
        };
        let Some(slot) = peers.take(peer.ip(), limits.max_per_peer) else {
            refused_since_warning += 1;
            if last_warning.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                tracing::warn!(
                    peer = %peer.ip(),
                    refused = refused_since_warning,
                    max = limits.max_per_peer,
                    "refused connections over the per-peer limit (503); behind a reverse proxy, raise --max-connections-per-peer"
                );
                last_warning = Some(Instant::now());
                refused_since_warning = 0;
            }
            // A short answer, then close; never wait on this peer.
            let _ = tcp.try_write(
                b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\nretry-after: 5\r\n\r\n",
            );
            continue;
        };
        // Without TCP_NODELAY every answer on a kept-alive connection waits ~40 ms for the
        // client's delayed ACK (Nagle), capping throughput at ~25 calls/s per connection.
        let _ = tcp.set_nodelay(true);
        // Each request carries its connection's peer address (the OAuth pages rate-limit by it).
        let service = TowerToHyperService::new(
            tower::ServiceBuilder::new()
                .map_request(
                    move |mut r: axum::extract::Request<hyper::body::Incoming>| {
                        r.extensions_mut()
                            .insert(alpaca_mcp_server::http::PeerAddr(peer));
                        r
                    },
                )
                .service(router.clone()),
        );
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .keep_alive(true);
            let conn = builder.serve_connection(TokioIo::new(tcp), service);
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(error = %e, "HTTP connection ended with an error");
                    }
                }
                _ = shutdown.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_are_counted_and_given_back() {
        let peers = Arc::new(Peers::default());
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let a = peers.take(ip, 2).unwrap();
        let _b = peers.take(ip, 2).unwrap();
        assert!(peers.take(ip, 2).is_none());
        assert!(peers.take("10.0.0.2".parse().unwrap(), 2).is_some());
        drop(a);
        assert!(peers.take(ip, 2).is_some());
    }

    #[test]
    fn running_out_of_descriptors_is_told_apart() {
        assert!(out_of_resources(&std::io::Error::from_raw_os_error(24)));
        assert!(!out_of_resources(&std::io::Error::from(
            std::io::ErrorKind::ConnectionAborted
        )));
    }
}
