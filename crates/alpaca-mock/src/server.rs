//! Serving the router on a loopback socket, one task per connection (so that a
//! drop fault can close its connection without answering).

use std::net::SocketAddr;

use axum::{Extension, Router};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

use crate::config::MockConfig;
use crate::faults::{ConnKill, Fault};
use crate::request_log::RecordedRequest;
use crate::routes::router;
use crate::state::MockState;

/// A running mock: a socket serving both APIs, and a handle on its state.
///
/// Dropping it stops the server (as [`MockServer::shutdown`] does, without
/// waiting).
pub struct MockServer {
    addr: SocketAddr,
    state: MockState,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    /// The live trading host, once opened: its address, its stop signal and its task.
    live: Option<(SocketAddr, oneshot::Sender<()>, JoinHandle<()>)>,
}

impl MockServer {
    /// Starts a mock on `127.0.0.1` and a free port.
    pub async fn start(config: MockConfig) -> std::io::Result<MockServer> {
        MockServer::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), config).await
    }

    /// Starts a mock on `addr`.
    pub async fn start_on(addr: SocketAddr, config: MockConfig) -> std::io::Result<MockServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = MockState::new(config);
        let app = router(state.clone());
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(accept_loop(listener, app, stopped));
        Ok(MockServer {
            addr,
            state,
            stop: Some(stop),
            task: Some(task),
            live: None,
        })
    }

    /// Opens the live trading host: a second loopback address serving the same state, where
    /// Connect tokens of live accounts work and paper ones are answered 401 (and the other
    /// way round on [`MockServer::url`], the paper host). Keys work on both. Its URL; the
    /// same one when it is open already.
    pub async fn open_live_host(&mut self) -> std::io::Result<String> {
        if let Some((addr, _, _)) = &self.live {
            return Ok(format!("http://{addr}"));
        }
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let app = router(self.state.clone()).layer(Extension(crate::auth::LiveHost));
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(accept_loop(listener, app, stopped));
        self.live = Some((addr, stop, task));
        Ok(format!("http://{addr}"))
    }

    /// The live trading host's URL, once [`MockServer::open_live_host`] opened it.
    pub fn live_url(&self) -> Option<String> {
        self.live
            .as_ref()
            .map(|(addr, _, _)| format!("http://{addr}"))
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, e.g. `http://127.0.0.1:40123`; use it for both the trading
    /// and the market data base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.requests()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.state.clear_requests();
    }

    /// Adds a fault.
    pub fn inject(&self, fault: Fault) {
        self.state.inject(fault);
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.state.clear_faults();
    }

    /// The mock's state: place orders, pin prices, move the clock, read orders
    /// and positions.
    pub fn state(&self) -> &MockState {
        &self.state
    }

    /// Stops accepting, closes open connections and waits for the server task.
    pub async fn shutdown(mut self) {
        if let Some((_, stop, task)) = self.live.take() {
            let _ = stop.send(());
            let _ = task.await;
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some((_, stop, _)) = self.live.take() {
            let _ = stop.send(());
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn accept_loop(listener: TcpListener, app: Router, mut stopped: oneshot::Receiver<()>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    // Answer at once on kept-alive connections (no Nagle delay).
                    let _ = stream.set_nodelay(true);
                    conns.spawn(serve_connection(stream, app.clone()));
                }
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            },
        }
    }
    conns.abort_all();
    while conns.join_next().await.is_some() {}
}

async fn serve_connection(stream: TcpStream, app: Router) {
    let _ = stream.set_nodelay(true);
    let kill = ConnKill::default();
    let service = TowerToHyperService::new(app.layer(Extension(kill.clone())));
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        res = conn => {
            if let Err(e) = res {
                tracing::debug!("connection ended: {e}");
            }
        }
        _ = kill.0.notified() => {
            tracing::debug!("dropping connection (fault)");
        }
    }
}
