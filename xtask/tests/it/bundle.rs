//! The MCP bundle. Its manifest's settings are variables the server reads; and (ignored by
//! default, run by `.ci/run` after `cargo xtask bundle` and the official `mcpb unpack`) the
//! unpacked bundle starts exactly as its manifest says, with Sandbox turned on through its user
//! config, and an MCP client lists the tools the manifest lists.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use rmcp::ServiceExt;
use rmcp::transport::TokioChildProcess;
use serde_json::Value;
use xtask::bundle::{self, USER_CONFIG};

#[test]
fn every_bundle_setting_is_a_variable_the_server_reads() {
    let asked = std::sync::Mutex::new(BTreeSet::new());
    alpaca_mcp::Config::from_lookup(|name| {
        asked.lock().unwrap().insert(name.to_string());
        None
    })
    .unwrap();
    let asked = asked.into_inner().unwrap();
    for s in USER_CONFIG {
        // The sandbox switch is the binary's own flag (`--sandbox`, env ALPACA_MCP_SANDBOX);
        // the unpack-and-run test shows it works.
        if s.env != "ALPACA_MCP_SANDBOX" {
            assert!(asked.contains(s.env), "{} is not read by Config", s.env);
        }
    }
}

/// What an installer does with the manifest: `${__dirname}` is the bundle's folder and each
/// `${user_config.KEY}` the user's value (here every default, keys empty, Sandbox on).
fn substitute(text: &str, dir: &str, values: &HashMap<String, String>) -> String {
    let mut out = text.replace("${__dirname}", dir);
    for (k, v) in values {
        out = out.replace(&format!("${{user_config.{k}}}"), v);
    }
    out
}

#[tokio::test]
#[ignore = "needs target/bundle/unpacked: cargo xtask bundle, then mcpb unpack (see .ci/run)"]
async fn the_unpacked_bundle_starts_as_its_manifest_says_and_lists_its_tools() {
    let dir = std::env::var_os("BUNDLE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| xtask::workspace_root().join("target/bundle/unpacked"));
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["manifest_version"], bundle::MANIFEST_VERSION);
    let mut values: HashMap<String, String> = HashMap::new();
    for (key, entry) in manifest["user_config"].as_object().unwrap() {
        let value = match &entry["default"] {
            Value::Bool(b) => b.to_string(),
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        values.insert(key.clone(), value);
    }
    values.insert("sandbox".into(), "true".into());
    let dir_text = dir.to_str().unwrap();
    let config = &manifest["server"]["mcp_config"];
    let mut cmd = tokio::process::Command::new(substitute(
        config["command"].as_str().unwrap(),
        dir_text,
        &values,
    ));
    cmd.env_clear();
    for arg in config["args"].as_array().unwrap() {
        cmd.arg(substitute(arg.as_str().unwrap(), dir_text, &values));
    }
    for (k, v) in config["env"].as_object().unwrap() {
        cmd.env(k, substitute(v.as_str().unwrap(), dir_text, &values));
    }
    let client =
        ().serve(TokioChildProcess::new(cmd).expect("the bundled binary starts"))
            .await
            .expect("initialize");
    let listed: BTreeSet<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    let declared: BTreeSet<String> = manifest["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, declared);
    let info = client.peer_info().unwrap();
    let instructions = info.instructions.clone().unwrap_or_default();
    assert!(instructions.contains("SANDBOX"), "{instructions}");
    println!(
        "the unpacked bundle listed {} tools in sandbox mode",
        listed.len()
    );
    client.cancel().await.unwrap();
}

/// The MCP config MCPB's launcher code (`getMcpConfigForManifest`, run by node from the
/// installed `@anthropic-ai/mcpb`) makes of `manifest` for the bundle in `dir`.
fn launcher_config(manifest: &std::path::Path, dir: &std::path::Path, user_config: &str) -> Value {
    let module = std::env::var_os("MCPB_MODULE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            xtask::workspace_root()
                .join("target/bundle/tools/node_modules/@anthropic-ai/mcpb/dist/index.js")
        });
    let script = xtask::workspace_root().join("xtask/tests/mcpb_launch.mjs");
    let out = std::process::Command::new("node")
        .arg(&script)
        .arg(&module)
        .arg(manifest)
        .arg(dir)
        .arg(user_config)
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the launcher's config as JSON")
}

/// Starts the server as `config` says (its command, args and env only) and waits for it.
fn run_as_configured(config: &Value) -> std::process::Output {
    let mut cmd = std::process::Command::new(config["command"].as_str().unwrap());
    cmd.env_clear();
    for arg in config["args"].as_array().unwrap() {
        cmd.arg(arg.as_str().unwrap());
    }
    for (k, v) in config["env"].as_object().unwrap() {
        cmd.env(k, v.as_str().unwrap());
    }
    cmd.stdin(std::process::Stdio::null())
        .output()
        .expect("the bundled binary runs")
}

#[test]
#[ignore = "needs target/bundle/unpacked and the mcpb package under target/bundle/tools (see .ci/run)"]
fn blank_keys_under_the_launcher_exit_2_with_the_no_keys_message() {
    let dir = std::env::var_os("BUNDLE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| xtask::workspace_root().join("target/bundle/unpacked"));
    let manifest_path = dir.join("manifest.json");
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest_path).unwrap()).unwrap();
    assert_eq!(manifest["user_config"]["api_key"]["default"], "");
    assert_eq!(
        manifest["user_config"]["max_order_notional"]["type"],
        "number"
    );
    assert!(
        manifest["display_name"]
            .as_str()
            .unwrap()
            .contains(std::env::consts::ARCH),
        "{}",
        manifest["display_name"]
    );
    // Every field left as the dialog shows it, and (as hosts did before key fields had a
    // default) the keys with no value at all, so the placeholders stay literal.
    let mut bare = manifest.clone();
    for key in ["api_key", "secret_key"] {
        bare["user_config"][key]
            .as_object_mut()
            .unwrap()
            .remove("default");
    }
    let tmp = tempfile::tempdir().unwrap();
    let bare_path = tmp.path().join("manifest.json");
    std::fs::write(&bare_path, bare.to_string()).unwrap();
    for (path, literal) in [(&manifest_path, false), (&bare_path, true)] {
        let config = launcher_config(path, &dir, "{}");
        let key = config["env"]["ALPACA_API_KEY"].as_str().unwrap();
        assert_eq!(key == "${user_config.api_key}", literal, "{config}");
        let out = run_as_configured(&config);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("Alpaca API keys are missing"), "{err}");
        assert!(
            !err.contains("user_config"),
            "no placeholder is shown as a key: {err}"
        );
    }
    // With Sandbox on under the launcher, the blank keys do not matter and `doctor` agrees.
    let mut config = launcher_config(&manifest_path, &dir, r#"{"sandbox": true}"#);
    config["args"] = serde_json::json!(["doctor"]);
    let out = run_as_configured(&config);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
