//! Two replicas of the built binary on one PostgreSQL database (`--state`), with users
//! signing in with Alpaca (the fake's Connect, outside both), alone and behind HAProxy:
//! a sign-in's steps spread over both, a confirmation asked by one and answered at the
//! other, the per-user order limit over both, session affinity on `Mcp-Session-Id`, and a
//! replica killed mid-run. The fake counts what reached Alpaca.
//!
//! Ignored unless asked for: they need `ALPACA_MCP_TEST_POSTGRES` (an admin URL) and HAProxy
//! (`haproxy` on the PATH, or `ALPACA_MCP_TEST_HAPROXY`); `.ci/run` installs and starts both.

use std::path::Path;
use std::time::Duration;

use alpaca_mock::MockServer;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ClientCapabilities, ClientConfig,
    ElicitRequestParams, ElicitResult, ElicitationAction, Implementation, InputRequiredResult,
    InputResponses, ProtocolVersion,
};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt, RequestContext, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientHandler, ErrorData, RoleClient};
use serde_json::{Value, json};

use super::alpaca_connect::{Via, call, client, connect_env, fake, sign_in_via, text};
use super::common::BIN;
use super::oauth::free_port;

/// The confirmation-state key every replica shares.
const CONFIRM_KEY: &str = "replicas-share-this-confirmation-key-0123456789";

/// One replica: the child and its log.
struct Replica {
    child: tokio::process::Child,
    base: String,
    log: std::sync::Arc<std::sync::Mutex<String>>,
    _state_file: tempfile::NamedTempFile,
}

/// A replica on `port` for the deployment at `public`, its state in `db`: named by the
/// variable, or (`in_file`) in the file `ALPACA_MCP_STATE_FILE` names, as compose does.
async fn replica(port: u16, public: &str, mock: &MockServer, db: &str, in_file: bool) -> Replica {
    replica_with(port, public, mock, db, in_file, &[]).await
}

/// [`replica`] with `extra` variables.
async fn replica_with(
    port: u16,
    public: &str,
    mock: &MockServer,
    db: &str,
    in_file: bool,
    extra: &[(&str, &str)],
) -> Replica {
    let state_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(state_file.path(), format!("{db}\n")).unwrap();
    let state = if in_file {
        ("ALPACA_MCP_STATE_FILE", state_file.path().to_str().unwrap())
    } else {
        ("ALPACA_MCP_STATE", db)
    };
    let port_s = port.to_string();
    let owned = connect_env(mock);
    let mut env: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.extend([
        state,
        ("ALPACA_CONFIRM_ORDERS", "true"),
        ("ALPACA_CONFIRM_STATE_KEY", CONFIRM_KEY),
        ("ALPACA_MAX_ORDERS_PER_MINUTE", "3"),
        // HAProxy on this machine is the proxy in front, as deploy/debian/env names it: its
        // X-Forwarded-For is believed, so the per-address limits count the clients.
        ("ALPACA_MCP_TRUSTED_PROXIES", "127.0.0.1,::1"),
    ]);
    env.extend_from_slice(extra);
    let args = [
        "--port",
        &port_s,
        "--auth",
        "alpaca",
        "--public-url",
        public,
    ];
    // The load benchmark runs a release build when given one.
    let bin = std::env::var("ALPACA_MCP_REPLICA_BIN").unwrap_or_else(|_| BIN.to_string());
    let (child, _, log) = support::bin::spawn_http(&bin, &args, &env).await;
    Replica {
        child,
        base: format!("http://127.0.0.1:{port}"),
        log,
        _state_file: state_file,
    }
}

/// HAProxy in front of `backends` on `port`, its statistics (CSV) on `stats`, with the
/// deployment's own configuration (`deploy/haproxy.cfg`, its addresses given in the variables
/// compose and Debian's `/etc/default/haproxy` set): round robin, except that a request naming
/// an `Mcp-Session-Id` goes where that session was opened; a replica that stops accepting is
/// taken out, and a request whose connection failed is sent to the other.
async fn haproxy(port: u16, stats: u16, backends: &[u16]) -> tokio::process::Child {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/haproxy.cfg");
    let config = std::fs::read_to_string(&file).unwrap();
    assert!(
        config.contains("stick on req.hdr(mcp-session-id)")
            && config.contains("server r2 \"${MCP_REPLICA_2}\""),
        "deploy/haproxy.cfg has the shape this test expects:\n{config}"
    );
    let bin = std::env::var("ALPACA_MCP_TEST_HAPROXY").unwrap_or_else(|_| "haproxy".into());
    let mut cmd = tokio::process::Command::new(&bin);
    cmd.arg("-db")
        .arg("-f")
        .arg(&file)
        .env("MCP_LISTEN", format!("127.0.0.1:{port}"))
        .env("MCP_STATS", format!("127.0.0.1:{stats}"))
        .kill_on_drop(true)
        .stdout(std::process::Stdio::null());
    for (i, p) in backends.iter().enumerate() {
        cmd.env(format!("MCP_REPLICA_{}", i + 1), format!("127.0.0.1:{p}"));
    }
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("{bin}: {e} (install HAProxy or set ALPACA_MCP_TEST_HAPROXY)"));
    // Up when it answers its statistics.
    for _ in 0..100 {
        if requests_per_server(stats).await.is_some() {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("HAProxy did not start");
}

/// Requests each backend server has been sent so far (`req_tot` of HAProxy's CSV).
pub(super) async fn requests_per_server(stats: u16) -> Option<Vec<(String, u64)>> {
    let csv = reqwest::get(format!("http://127.0.0.1:{stats}/stats;csv"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next()?.trim_start_matches("# ").split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let (px, sv, req) = (col("pxname")?, col("svname")?, col("req_tot")?);
    Some(
        lines
            .map(|l| l.split(',').collect::<Vec<_>>())
            .filter(|f| f.get(px) == Some(&"replicas") && f[sv].starts_with('r'))
            .map(|f| (f[sv].to_string(), f[req].parse().unwrap_or(0)))
            .collect(),
    )
}

/// An MCP 2026-07-28 client (no sessions): `asks` says whether it declares elicitation.
#[derive(Clone)]
struct Stateless {
    asks: bool,
}

impl ClientHandler for Stateless {
    fn get_info(&self) -> ClientConfig {
        let capabilities = if self.asks {
            ClientCapabilities::builder().enable_elicitation().build()
        } else {
            ClientCapabilities::default()
        };
        ClientConfig::new(capabilities, Implementation::new("replicas-test", "1"))
    }

    async fn create_elicitation(
        &self,
        _request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        Err(ErrorData::internal_error("not asked this way", None))
    }
}

type StatelessClient = RunningService<RoleClient, Stateless>;

async fn stateless(base: &str, token: &str, asks: bool) -> StatelessClient {
    let config =
        StreamableHttpClientTransportConfig::with_uri(format!("{base}/mcp")).auth_header(token);
    Stateless { asks }
        .serve_with_lifecycle(
            StreamableHttpClientTransport::from_config(config),
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .expect("a 2026-07-28 client starts with server/discover")
}

fn params(name: &str, args: Value) -> CallToolRequestParams {
    CallToolRequestParams::new(name.to_string()).with_arguments(args.as_object().cloned().unwrap())
}

fn order(qty: u64) -> CallToolRequestParams {
    params(
        "place_stock_order",
        json!({"symbol": "AAPL", "side": "buy", "qty": qty}),
    )
}

/// The first round of an order: the question (and its sealed state).
async fn ask(c: &StatelessClient, p: CallToolRequestParams) -> InputRequiredResult {
    match c.call_tool_once(p).await.expect("call") {
        CallToolResponse::InputRequired(asked) => asked,
        other => panic!("expected input_required, got {other:?}"),
    }
}

/// The retry with a yes.
async fn yes(c: &StatelessClient, p: CallToolRequestParams, state: &str) -> CallToolResult {
    let mut responses = InputResponses::new();
    responses.insert(
        "confirm".into(),
        serde_json::to_value(
            ElicitResult::new(ElicitationAction::Accept).with_content(json!({"confirm": true})),
        )
        .unwrap(),
    );
    let p = p
        .with_request_state(state.to_string())
        .with_input_responses(responses);
    match c.call_tool_once(p).await.expect("call") {
        CallToolResponse::Complete(r) => r,
        other => panic!("expected a result, got {other:?}"),
    }
}

async fn once(c: &StatelessClient, p: CallToolRequestParams) -> CallToolResult {
    match c.call_tool_once(p).await.expect("call") {
        CallToolResponse::Complete(r) => r,
        other => panic!("expected a result, got {other:?}"),
    }
}

fn said(r: &CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Orders on `name`'s paper account at the fake.
fn orders_of(mock: &MockServer, name: &str) -> usize {
    mock.state().as_account(name, |s| s.orders().len())
}

/// Order requests (`POST /v2/orders`) that reached the fake.
fn order_posts(mock: &MockServer) -> usize {
    mock.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/v2/orders")
        .count()
}

#[tokio::test]
#[ignore = "needs PostgreSQL and HAProxy: ALPACA_MCP_TEST_POSTGRES (see .ci/run)"]
async fn two_replicas_share_sign_ins_confirmations_and_the_limits() {
    let mock = fake().await;
    let db = support::postgres::database("replicas").await;
    let public_port = free_port();
    let public = format!("http://127.0.0.1:{public_port}");
    let (a, b) = tokio::join!(
        replica(free_port(), &public, &mock, &db.url, false),
        replica(free_port(), &public, &mock, &db.url, true)
    );
    let (ab, bb) = (a.base.as_str(), b.base.as_str());

    // Each step of the sign-in at the other replica than the one before.
    let token = sign_in_via(
        Via {
            public: &public,
            steps: [ab, bb, ab, bb, ab],
            from: None,
            ca: None,
        },
        "alice",
        "paper",
        "trade",
    )
    .await;
    for r in [&a, &b] {
        assert!(r.log.lock().unwrap().contains("state in PostgreSQL"));
    }
    // Her token works at both.
    for base in [ab, bb] {
        let c = client(base, &token).await;
        let r = call(&c, "get_account_info", json!({})).await;
        assert_ne!(r.is_error, Some(true), "{}", text(&r));
        let _ = c.cancel().await;
    }

    // Asked at A, answered at B: placed once; the same answer again at A places nothing.
    let at_a = stateless(ab, &token, true).await;
    let at_b = stateless(bb, &token, true).await;
    mock.clear_requests();
    let asked = ask(&at_a, order(1)).await;
    let state = asked.request_state.clone().expect("a sealed state");
    assert_eq!(order_posts(&mock), 0, "asking sends nothing");
    let r = yes(&at_b, order(1), &state).await;
    assert_ne!(r.is_error, Some(true), "{}", said(&r));
    assert_eq!(orders_of(&mock, "alice"), 1);
    let again = yes(&at_a, order(1), &state).await;
    assert_eq!(again.is_error, Some(true), "{}", said(&again));
    assert!(
        said(&again).contains("already answered"),
        "{}",
        said(&again)
    );
    assert_eq!((orders_of(&mock, "alice"), order_posts(&mock)), (1, 1));

    // A client that cannot be asked: held at A, confirmed at B, once.
    let plain_a = stateless(ab, &token, false).await;
    let plain_b = stateless(bb, &token, false).await;
    let held = once(&plain_a, order(2)).await;
    let held_text = said(&held);
    let id = held_text
        .split("conf-")
        .nth(1)
        .map(|rest| format!("conf-{}", &rest[..32]))
        .unwrap_or_else(|| panic!("a confirmation_id: {held_text}"));
    assert_eq!(order_posts(&mock), 1, "holding sends nothing");
    let confirm = || params("confirm_order", json!({"confirmation_id": id}));
    let r = once(&plain_b, confirm()).await;
    assert_ne!(r.is_error, Some(true), "{}", said(&r));
    let r = once(&plain_a, confirm()).await;
    assert!(said(&r).contains("no pending order"), "{}", said(&r));
    assert_eq!((orders_of(&mock, "alice"), order_posts(&mock)), (2, 2));

    // The limit is 3 a minute for her, whichever replica sends: the third goes, the fourth
    // does not.
    let third = ask(&at_b, order(3)).await;
    let r = yes(&at_a, order(3), third.request_state.as_deref().unwrap()).await;
    assert_ne!(r.is_error, Some(true), "{}", said(&r));
    let fourth = ask(&at_a, order(4)).await;
    let r = yes(&at_b, order(4), fourth.request_state.as_deref().unwrap()).await;
    assert_eq!(r.is_error, Some(true));
    assert!(
        said(&r).contains("ALPACA_MAX_ORDERS_PER_MINUTE=3 reached"),
        "{}",
        said(&r)
    );
    assert_eq!((orders_of(&mock, "alice"), order_posts(&mock)), (3, 3));

    for c in [at_a, at_b, plain_a, plain_b] {
        let _ = c.cancel().await;
    }

    // Registrations from one address count at both: 20 an hour, however they are spread.
    let register = |base: &str| {
        reqwest::Client::new()
            .post(format!("{base}/register"))
            .header("x-forwarded-for", "198.51.100.7")
            .json(&json!({"redirect_uris": ["http://127.0.0.1:9/cb"], "client_name": "many"}))
            .send()
    };
    for i in 0..20 {
        let r = register([ab, bb][i % 2]).await.unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::CREATED, "registration {i}");
    }
    for base in [ab, bb] {
        let r = register(base).await.unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::TOO_MANY_REQUESTS);
    }
    drop((a.child, b.child));
}

#[tokio::test]
#[ignore = "needs PostgreSQL and HAProxy: ALPACA_MCP_TEST_POSTGRES (see .ci/run)"]
async fn behind_haproxy_sessions_stick_stateless_calls_spread_and_a_killed_replica_loses_nothing() {
    let mock = fake().await;
    let db = support::postgres::database("haproxy").await;
    let (proxy_port, stats) = (free_port(), free_port());
    let public = format!("http://127.0.0.1:{proxy_port}");
    let (pa, pb) = (free_port(), free_port());
    let (a, b) = tokio::join!(
        replica(pa, &public, &mock, &db.url, false),
        replica(pb, &public, &mock, &db.url, true)
    );
    let _proxy = haproxy(proxy_port, stats, &[pa, pb]).await;
    // Both up in HAProxy's eyes (two checks each) before the run.
    tokio::time::sleep(Duration::from_millis(800)).await;

    // Signed in through the proxy: the steps land where round robin sends them.
    let token = sign_in_via(Via::one(&public), "bob", "paper", "trade").await;

    // A 2025-11-25 client keeps its session on one replica.
    let session = client(&public, &token).await;
    for _ in 0..6 {
        let r = call(&session, "get_account_info", json!({})).await;
        assert_ne!(r.is_error, Some(true), "{}", text(&r));
    }

    // A 2026-07-28 client's calls go to both.
    let before = requests_per_server(stats).await.unwrap();
    let c = stateless(&public, &token, true).await;
    for _ in 0..10 {
        let r = once(&c, params("get_account_info", json!({}))).await;
        assert_ne!(r.is_error, Some(true), "{}", said(&r));
    }
    let after = requests_per_server(stats).await.unwrap();
    for ((name, was), (_, now)) in before.iter().zip(&after) {
        assert!(now - was >= 3, "{name} served {} of the calls", now - was);
    }

    // Replica A dies between calls; every later call is served, and an order asked before
    // is answered once.
    mock.clear_requests();
    let asked = ask(&c, order(1)).await;
    let mut a_child = a.child;
    a_child.kill().await.unwrap();
    let _ = a_child.wait().await;
    let mut served = 0;
    for _ in 0..10 {
        let r = once(&c, params("get_all_positions", json!({}))).await;
        assert_ne!(r.is_error, Some(true), "{}", said(&r));
        served += 1;
    }
    let r = yes(&c, order(1), asked.request_state.as_deref().unwrap()).await;
    assert_ne!(r.is_error, Some(true), "{}", said(&r));
    assert_eq!(served, 10);
    assert_eq!((orders_of(&mock, "bob"), order_posts(&mock)), (1, 1));
    // A new session opens at the survivor; the grant lives in the database, not in A.
    let fresh = client(&public, &token).await;
    let r = call(&fresh, "get_account_info", json!({})).await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    let _ = fresh.cancel().await;
    let _ = session.cancel().await;
    let _ = c.cancel().await;
    assert!(!b.log.lock().unwrap().contains("panicked"));
    drop(b.child);
}

/// A figure from `/proc/PID/status` (`VmHWM`, `VmRSS`), in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Transactions committed in `db` so far (each of the store's single statements is one).
async fn commits(admin: &str, db: &str) -> i64 {
    let (client, conn) = tokio_postgres::connect(admin, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    // Statistics reach the view within a second of the transactions.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    client
        .query_one(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = $1",
            &[&db],
        )
        .await
        .unwrap()
        .get(0)
}

/// The load benchmark: `ALPACA_MCP_LOAD_USERS` users (200 unless set), each with their own
/// fake account, signed in through HAProxy, then `ALPACA_MCP_LOAD_CALLS` (20) read calls
/// each, all users at once, as 2026-07-28 clients through HAProxy and both replicas. It
/// prints its figures (BENCHMARKS.md records a run) and asserts only that no call failed;
/// `.ci/run` runs a short version.
#[tokio::test]
#[ignore = "needs PostgreSQL and HAProxy: ALPACA_MCP_TEST_POSTGRES (see .ci/run)"]
async fn replicas_load_many_users_through_haproxy() {
    let number = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (users, calls) = (
        number("ALPACA_MCP_LOAD_USERS", 200),
        number("ALPACA_MCP_LOAD_CALLS", 20),
    );
    let mock = fake().await;
    let db = support::postgres::database("load").await;
    let (proxy_port, stats) = (free_port(), free_port());
    let public = format!("http://127.0.0.1:{proxy_port}");
    let (pa, pb) = (free_port(), free_port());
    let extra = [
        ("ALPACA_MCP_MAX_SESSIONS", "4000"),
        ("ALPACA_MCP_MAX_CONNECTIONS_PER_PEER", "8000"),
    ];
    let (a, b) = tokio::join!(
        replica_with(pa, &public, &mock, &db.url, false, &extra),
        replica_with(pb, &public, &mock, &db.url, true, &extra)
    );
    let pids = [a.child.id().unwrap(), b.child.id().unwrap()];
    let _proxy = haproxy(proxy_port, stats, &[pa, pb]).await;
    tokio::time::sleep(Duration::from_millis(800)).await;

    // Sign-ins, a few at a time, each from an address of its own.
    let started = std::time::Instant::now();
    let mut tokens = Vec::new();
    let names: Vec<String> = (0..users).map(|i| format!("user{i}")).collect();
    let addrs: Vec<String> = (0..users)
        .map(|i| format!("10.{}.{}.{}", i / 65536 % 256, i / 256 % 256, i % 256))
        .collect();
    for chunk in names.iter().zip(&addrs).collect::<Vec<_>>().chunks(8) {
        let batch = chunk.iter().map(|(name, addr)| {
            let public = public.as_str();
            async move {
                let mut via = Via::one(public);
                via.from = Some(addr.as_str());
                sign_in_via(via, name, "paper", "read").await
            }
        });
        tokens.extend(futures_util::future::join_all(batch).await);
    }
    let sign_in_secs = started.elapsed().as_secs_f64();

    // Every user at once.
    let admin = support::postgres::admin_url();
    let db_name = url::Url::parse(&db.url)
        .unwrap()
        .path()
        .trim_start_matches('/')
        .to_string();
    let mut clients = Vec::new();
    for t in &tokens {
        clients.push(stateless(&public, t, false).await);
    }
    // Warm: each token once (its grant read, its first use recorded).
    for c in &clients {
        let r = once(c, params("get_account_info", json!({}))).await;
        assert_ne!(r.is_error, Some(true), "{}", said(&r));
    }
    let before = commits(&admin, &db_name).await;
    let started = std::time::Instant::now();
    let runs = clients.into_iter().map(|c| async move {
        let mut latencies = Vec::new();
        let mut errors = 0;
        for _ in 0..calls {
            let t = std::time::Instant::now();
            match c
                .call_tool_once(params("get_account_info", json!({})))
                .await
            {
                Ok(CallToolResponse::Complete(r)) if r.is_error != Some(true) => {}
                _ => errors += 1,
            }
            latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let _ = c.cancel().await;
        (latencies, errors)
    });
    let results = futures_util::future::join_all(runs).await;
    let wall = started.elapsed().as_secs_f64();
    let after = commits(&admin, &db_name).await;
    let errors: usize = results.iter().map(|(_, e)| e).sum();
    let mut all: Vec<f64> = results.into_iter().flat_map(|(l, _)| l).collect();
    all.sort_by(f64::total_cmp);
    let pct = |p: f64| all[((all.len() as f64 - 1.0) * p).round() as usize];
    let total = users * calls;

    // Idle users: a 2025-11-25 session each, held open.
    let rss_before: Vec<u64> = pids.iter().map(|p| status_kib(*p, "VmRSS:")).collect();
    let mut idle = Vec::new();
    for t in tokens.iter().take(users.min(100)) {
        idle.push(client(&public, t).await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_after: Vec<u64> = pids.iter().map(|p| status_kib(*p, "VmRSS:")).collect();
    let per_idle_kib = (rss_after.iter().sum::<u64>() as f64
        - rss_before.iter().sum::<u64>() as f64)
        / idle.len() as f64;
    let peaks: Vec<u64> = pids.iter().map(|p| status_kib(*p, "VmHWM:")).collect();
    for c in idle {
        let _ = c.cancel().await;
    }
    let served = requests_per_server(stats).await.unwrap();

    println!(
        "\nload: {users} users x {calls} calls (get_account_info, 2026-07-28 clients), HAProxy, 2 replicas, PostgreSQL"
    );
    println!("| figure | value |\n|---|---|");
    println!("| sign-ins (8 at a time) | {users} in {sign_in_secs:.1} s |");
    println!("| calls | {total} |");
    println!("| errors | {errors} |");
    println!("| throughput | {:.0} calls/s |", total as f64 / wall);
    println!(
        "| latency p50 / p99 | {:.2} / {:.2} ms |",
        pct(0.5),
        pct(0.99)
    );
    println!(
        "| PostgreSQL transactions per call (warm token) | {:.2} |",
        (after - before) as f64 / total as f64
    );
    println!(
        "| peak RSS per replica | {:.1} / {:.1} MiB |",
        peaks[0] as f64 / 1024.0,
        peaks[1] as f64 / 1024.0
    );
    println!("| memory per idle connected user (session) | {per_idle_kib:.0} KiB |");
    println!("| requests per replica (HAProxy) | {served:?} |");
    assert_eq!(errors, 0, "every call is answered");
    drop((a.child, b.child));
}
