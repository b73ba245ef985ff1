//! The README's hosted deployment on Debian without Docker ("Several replicas", "On one
//! Debian machine"), followed as an operator would on this machine: its setup block runs as
//! written, as root, with Debian's PostgreSQL, HAProxy and Caddy and the files in
//! `deploy/debian/`. Then the replicas, HAProxy and Caddy start as their systemd units say (this
//! machine has no systemd running, so the test reads the units' `User=`, `EnvironmentFile=` and
//! `ExecStart=` and runs them itself), a user signs in with Alpaca (the fake's Connect) at
//! `https://localhost`, calls tools through Caddy and HAProxy on both replicas and again after
//! one of them is killed, and the README's check block shows the grant.
//!
//! The only changes the test makes beyond the README: `MCP_HOST=localhost` and the fake's app
//! in place of the operator's variables, and the fake's addresses added to
//! `/etc/alpaca-mcp/env` (where a real deployment uses Alpaca's defaults).
//!
//! It changes the machine (a system user, files in `/etc`, a database in the system cluster,
//! `/usr/local/bin/alpaca-mcp-server`), so it runs only as root with `ALPACA_MCP_TEST_DEBIAN=1`
//! (`.ci/run` does). It first undoes an earlier run of itself, so it can be run again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;

use super::alpaca_connect::{APP, Via, call, client_over, fake, http_for, sign_in_via, text};
use super::common::BIN;
use super::replicas::requests_per_server;

const README: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
const PUBLIC: &str = "https://localhost";
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The shell block after `<!-- debian: NAME -->` in the README.
fn block(readme: &str, name: &str) -> String {
    let marker = format!("<!-- debian: {name} -->\n```sh\n");
    let start = readme
        .find(&marker)
        .unwrap_or_else(|| panic!("the README has a `{name}` block for Debian"))
        + marker.len();
    let len = readme[start..].find("```").unwrap();
    readme[start..start + len].to_string()
}

/// `KEY=VALUE` lines, as systemd's `EnvironmentFile=` reads them (comments and blank lines
/// skipped; the files here quote nothing).
fn environment_file(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// The value of `key=` in a unit file's text.
fn unit_value<'a>(unit: &'a str, key: &str) -> &'a str {
    unit.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("the unit sets {key}=:\n{unit}"))
        .trim()
}

/// Runs `script` with bash (`-euo pipefail`) in the repository, with `env` added; its output.
async fn bash(script: &str, env: &[(&str, &str)]) -> String {
    let out = tokio::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(REPO)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .await
        .expect("bash runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "this failed:\n{script}\nwith:\n{said}"
    );
    said
}

/// Undoes an earlier run: the user, its files, the database, and the two files the setup
/// changes, put back as they were before the first run (kept in `/var/backups`).
const UNDO: &str = r#"
set +e
userdel alpaca-mcp 2>/dev/null
rm -rf /etc/alpaca-mcp /etc/systemd/system/alpaca-mcp@.service /usr/local/bin/alpaca-mcp-server \
  /etc/haproxy/alpaca-mcp
printf 'DROP DATABASE IF EXISTS amcp;\nDROP ROLE IF EXISTS amcp;\n' | runuser -u postgres -- psql -q
keep=/var/backups/alpaca-mcp-debian-test
mkdir -p "$keep"
for f in /etc/default/haproxy /etc/caddy/Caddyfile; do
  k="$keep/$(basename "$f")"
  if [ -e "$k" ]; then cp "$k" "$f"; elif [ -e "$f" ]; then cp "$f" "$k"; fi
done
exit 0
"#;

/// Starts the system PostgreSQL cluster, as the package's systemd unit would; prints the
/// command that stops it again if it was down.
const START_POSTGRESQL: &str = r#"
# The package makes a cluster when it is installed; a machine that had it removed gets one.
if ! pg_lsclusters -h | grep -q .; then
  pg_createcluster "$(ls /usr/lib/postgresql | sort -V | tail -1)" main >/dev/null
fi
read -r version cluster _ < <(pg_lsclusters -h | head -1)
if ! pg_ctlcluster "$version" "$cluster" status >/dev/null; then
  pg_ctlcluster "$version" "$cluster" start
  echo "pg_ctlcluster $version $cluster stop"
fi
"#;

/// `alpaca-mcp@{instance}` as its unit says: `ExecStart=` with `%i` filled in, as `User=` (its
/// group, no others, and its home), with the `EnvironmentFile=` variables and systemd's `PATH`
/// only.
async fn start_replica(
    instance: &str,
) -> (
    tokio::process::Child,
    std::sync::Arc<std::sync::Mutex<String>>,
) {
    let unit = std::fs::read_to_string("/etc/systemd/system/alpaca-mcp@.service").unwrap();
    let user = unit_value(&unit, "User");
    let env = environment_file(
        &std::fs::read_to_string(unit_value(&unit, "EnvironmentFile")).expect("the env file"),
    );
    let exec = unit_value(&unit, "ExecStart").replace("%i", instance);
    let passwd = bash(&format!("getent passwd {user}"), &[]).await;
    let fields: Vec<&str> = passwd.trim().split(':').collect();
    let (uid, gid, home) = (
        fields[2].parse().unwrap(),
        fields[3].parse().unwrap(),
        fields[5],
    );
    let mut words = exec.split_whitespace();
    let mut cmd = tokio::process::Command::new(words.next().unwrap());
    // As root, std drops the supplementary groups when it sets the user.
    cmd.args(words)
        .uid(uid)
        .gid(gid)
        .env_clear()
        .env("PATH", PATH)
        .env("HOME", home)
        .env("USER", user)
        .envs(&env);
    let (child, url, log) = support::bin::spawn_listening(cmd).await;
    assert!(
        url.contains(&format!("127.0.0.1:800{instance}/")),
        "alpaca-mcp@{instance} listens on {url}"
    );
    (child, log)
}

/// A long-lived program started as its Debian unit does, its output in `log`.
fn start(
    program: &str,
    args: &[&str],
    env: &BTreeMap<String, String>,
    log: &Path,
) -> tokio::process::Child {
    tokio::process::Command::new(program)
        .args(args)
        .env_clear()
        .env("PATH", PATH)
        .envs(env)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(log).unwrap())
        .stderr(std::fs::File::create(log.with_extension("err")).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e}"))
}

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[tokio::test]
#[ignore = "changes this machine: as root with ALPACA_MCP_TEST_DEBIAN=1 (see .ci/run)"]
async fn the_readme_debian_steps_serve_users_through_caddy_and_haproxy() {
    if std::env::var("ALPACA_MCP_TEST_DEBIAN").as_deref() != Ok("1") {
        eprintln!("skipping: set ALPACA_MCP_TEST_DEBIAN=1, as root, to let it change this machine");
        return;
    }
    let readme = std::fs::read_to_string(README).unwrap();
    let variables = block(&readme, "variables");
    for name in [
        "MCP_HOST",
        "ALPACA_CONNECT_CLIENT_ID",
        "ALPACA_CONNECT_CLIENT_SECRET",
    ] {
        assert!(variables.contains(name), "the variables block sets {name}");
    }
    let (setup, start_block, check) = (
        block(&readme, "setup"),
        block(&readme, "start"),
        block(&readme, "check"),
    );
    // The cluster first: the undo drops the database of an earlier run.
    let stop_postgresql = bash(START_POSTGRESQL, &[]).await;
    bash(UNDO, &[]).await;
    let mock = fake().await;

    // The binary where the README says it is ("Installing").
    let bin = std::env::var("ALPACA_MCP_REPLICA_BIN").unwrap_or_else(|_| BIN.to_string());
    std::fs::copy(&bin, "/usr/local/bin/alpaca-mcp-server").unwrap();

    // The setup block, as written, with the test's name and app.
    let said = bash(
        &setup,
        &[
            ("MCP_HOST", "localhost"),
            ("ALPACA_CONNECT_CLIENT_ID", APP.0),
            ("ALPACA_CONNECT_CLIENT_SECRET", APP.1),
            ("DEBIAN_FRONTEND", "noninteractive"),
        ],
    )
    .await;
    eprintln!("the setup block ran ({} bytes of output)", said.len());
    // Secrets are files only the service's group reads.
    let ls = bash("ls -l /etc/alpaca-mcp", &[]).await;
    for f in [
        "token_keys",
        "confirm_key",
        "connect_secret",
        "state_url",
        "env",
    ] {
        let line = ls
            .lines()
            .find(|l| l.ends_with(f))
            .unwrap_or_else(|| panic!("{f}: {ls}"));
        assert!(
            line.starts_with("-rw-r----- 1 root alpaca-mcp"),
            "{f} is 0640 root:alpaca-mcp: {line}"
        );
    }
    assert_eq!(read("/etc/alpaca-mcp/connect_secret").trim(), APP.1);
    // systemd would accept the unit (it checks the binary and the directives).
    bash(
        "systemd-analyze verify /etc/systemd/system/alpaca-mcp@.service",
        &[],
    )
    .await;

    // The fake's Alpaca in place of Alpaca's own hosts.
    let url = mock.url();
    let extra = [
        ("TRADING_API_URL", url.clone()),
        ("DATA_API_URL", url.clone()),
        (
            "ALPACA_CONNECT_AUTHORIZE_URL",
            format!("{url}/oauth/authorize"),
        ),
        ("ALPACA_CONNECT_TOKEN_URL", format!("{url}/oauth/token")),
        ("ALPACA_CONNECT_PAPER_URL", url.clone()),
        ("ALPACA_CONNECT_LIVE_URL", mock.live_url().unwrap()),
    ];
    let mut env = read("/etc/alpaca-mcp/env");
    for (k, v) in &extra {
        env.push_str(&format!("{k}={v}\n"));
    }
    std::fs::write("/etc/alpaca-mcp/env", env).unwrap();

    // The start block, done as systemd does it.
    for unit in ["alpaca-mcp@1", "alpaca-mcp@2", "haproxy", "caddy"] {
        assert!(start_block.contains(unit), "the start block starts {unit}");
    }
    let ((mut r1, log1), (r2, log2)) = tokio::join!(start_replica("1"), start_replica("2"));
    for log in [&log1, &log2] {
        assert!(log.lock().unwrap().contains("state in PostgreSQL"));
    }
    let dir = tempfile::tempdir().unwrap();
    // Debian's haproxy.service: EnvironmentFile=-/etc/default/haproxy, haproxy -f $CONFIG
    // (here in the foreground, one process).
    let haproxy_env = environment_file(&read("/etc/default/haproxy"));
    let haproxy = start(
        "haproxy",
        &["-db", "-f", &haproxy_env["CONFIG"]],
        &haproxy_env,
        &dir.path().join("haproxy.log"),
    );
    // Debian's caddy.service: User=caddy with CAP_NET_BIND_SERVICE, caddy run --environ
    // --config /etc/caddy/Caddyfile; its data in the caddy user's home.
    let home = PathBuf::from("/var/lib/caddy");
    let caddy_env = BTreeMap::from([("HOME".to_string(), home.display().to_string())]);
    let caddy_log = dir.path().join("caddy.log");
    let caddy = start(
        "setpriv",
        &[
            "--reuid=caddy",
            "--regid=caddy",
            "--init-groups",
            "--inh-caps=+net_bind_service",
            "--ambient-caps=+net_bind_service",
            "caddy",
            "run",
            "--environ",
            "--config",
            "/etc/caddy/Caddyfile",
        ],
        &caddy_env,
        &caddy_log,
    );
    let data = home.join(".local/share/caddy");
    let root = data.join("pki/authorities/local/root.crt");
    let leaf = data.join("certificates/local/localhost/localhost.crt");
    let stats: u16 = haproxy_env["MCP_STATS"]
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let ready = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if root.exists()
                && leaf.exists()
                && tokio::net::TcpStream::connect(("127.0.0.1", 443))
                    .await
                    .is_ok()
                && requests_per_server(stats).await.is_some()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(
        ready.is_ok(),
        "Caddy and HAProxy did not start:\n{}{}",
        read(&caddy_log),
        read(caddy_log.with_extension("err"))
    );
    // HAProxy gave up root once its ports were bound, as Debian's own configuration does.
    let haproxy_uid = bash("id -u haproxy", &[]).await;
    let status = read(format!("/proc/{}/status", haproxy.id().unwrap()));
    let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert_eq!(
        uid.split_whitespace().nth(2),
        Some(haproxy_uid.trim()),
        "HAProxy runs as haproxy: {uid}"
    );
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&root).unwrap()).unwrap();

    // A user signs in at https://localhost, every step through Caddy and HAProxy.
    let via = Via {
        public: PUBLIC,
        steps: [PUBLIC; 5],
        from: None,
        ca: Some(&ca),
    };
    let token = sign_in_via(via, "alice", "paper", "trade").await;
    // Sessions of a few clients: they spread over both replicas.
    for _ in 0..4 {
        let c = client_over(http_for(&via), PUBLIC, &token).await;
        let r = call(&c, "get_account_info", json!({})).await;
        assert_ne!(r.is_error, Some(true), "{}", text(&r));
        let r = call(&c, "get_orders", json!({})).await;
        assert_ne!(r.is_error, Some(true), "{}", text(&r));
        let _ = c.cancel().await;
    }
    let served = requests_per_server(stats).await.unwrap();
    assert!(
        served.iter().filter(|(_, n)| *n > 0).count() == 2,
        "both replicas served requests: {served:?}"
    );

    // The README's check block: the resource metadata through Caddy, and alice's grant.
    let ca_file = root.display().to_string();
    let checked = bash(
        &check,
        &[
            ("MCP_HOST", "localhost"),
            ("CURL_CA_BUNDLE", ca_file.as_str()),
        ],
    )
    .await;
    assert!(
        checked.contains(r#""resource":"https://localhost/mcp""#),
        "{checked}"
    );
    assert!(
        checked.contains("connect test") && checked.contains("paper"),
        "auth list shows alice's grant:\n{checked}"
    );

    // Replica 1 dies: a new client goes on at replica 2 with the same token.
    r1.kill().await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let c = client_over(http_for(&via), PUBLIC, &token).await;
    let r = call(&c, "get_account_info", json!({})).await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    let _ = c.cancel().await;
    // No secret reached the logs.
    let logs = format!("{}{}", log1.lock().unwrap(), log2.lock().unwrap());
    let state_url = read("/etc/alpaca-mcp/state_url");
    let password = state_url.split(['@', ':']).nth(2).unwrap().to_string();
    for secret in [
        APP.1.to_string(),
        read("/etc/alpaca-mcp/token_keys").trim().to_string(),
        password,
        token,
    ] {
        assert!(!logs.contains(&secret), "a secret in the replicas' logs");
    }
    // Stopped, so that the undo can remove their user.
    drop((r1, r2, haproxy, caddy));
    tokio::time::sleep(Duration::from_millis(300)).await;
    bash(UNDO, &[]).await;
    if !stop_postgresql.trim().is_empty() {
        bash(&stop_postgresql, &[]).await;
    }
}
