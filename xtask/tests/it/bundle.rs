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
