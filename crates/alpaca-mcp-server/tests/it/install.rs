//! Installation from git, as a user does it: `cargo install --git <repo> alpaca-mcp-server`,
//! with the default toolsets and with `--no-default-features --features stock-data`.
//!
//! The repository is cloned first, so this installs what is COMMITTED, not the working tree.
//! The default build is a release build, as users get it: slow, hence ignored by default. The
//! stock-data build only shows that the toolset features reach the binary, so it is a debug
//! build (`--debug`), which reuses the test build's dependencies. Run it with
//! `cargo test -p alpaca-mcp-server --test it install:: -- --ignored --nocapture` (the
//! `--nocapture` shows the install times).
//!
//! `ALPACA_MCP_INSTALL_TARGET_DIR` sets cargo's target directory and `ALPACA_MCP_INSTALL_ROOT`
//! where the default build is installed (both temporary otherwise): CI keeps the installed
//! binary and hands it to the bundle and the bench, so the release build happens once.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use serde_json::Value;

const DEFAULT_TOOLSETS: &[&str] = &[
    "account",
    "trading",
    "watchlists",
    "assets",
    "stock-data",
    "crypto-data",
    "options-data",
    "corporate-actions",
    "news",
    "fixed-income-data",
    "locates",
];

fn run(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{shown}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{shown} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The git repository holding this workspace.
fn repo_root() -> PathBuf {
    let out = run(Command::new("git")
        .args(["rev-parse", "--show-toplevel"])
        .current_dir(env!("CARGO_MANIFEST_DIR")));
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// A clean clone of the repository's committed HEAD. Always at the same path, so cargo's git
/// cache (keyed by URL) is reused from run to run instead of growing.
fn clean_clone() -> PathBuf {
    let clone = Path::new(env!("CARGO_TARGET_TMPDIR")).join("install-test-clone");
    if clone.exists() {
        std::fs::remove_dir_all(&clone).unwrap();
    }
    run(Command::new("git")
        .args(["clone", "--quiet", "--no-hardlinks"])
        .arg(repo_root())
        .arg(&clone));
    clone
}

/// `cargo install --git file://<clone> ... alpaca-mcp-server` into `root`; returns the binary.
fn install(clone: &Path, root: &Path, target: &Path, features: &[&str]) -> PathBuf {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["install", "--locked", "--git"])
        .arg(format!("file://{}", clone.display()))
        .arg("--root")
        .arg(root)
        .arg("--target-dir")
        .arg(target)
        .args(features)
        .arg("alpaca-mcp-server")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR");
    let started = Instant::now();
    run(&mut cmd);
    let what = if features.is_empty() {
        "default features".to_string()
    } else {
        features.join(" ")
    };
    println!(
        "cargo install ({what}) took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let bin = root
        .join("bin")
        .join(format!("alpaca-mcp-server{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.is_file(), "{} was not installed", bin.display());
    bin
}

/// Runs the installed binary with a clean Alpaca environment.
fn installed(bin: &Path, args: &[&str]) -> String {
    let mut cmd = Command::new(bin);
    for (k, _) in std::env::vars() {
        if k.starts_with("ALPACA_") || k == "TRADING_API_URL" || k == "DATA_API_URL" {
            cmd.env_remove(k);
        }
    }
    String::from_utf8(run(cmd.args(args)).stdout).unwrap()
}

/// `tools --json`: (tool, toolset) pairs.
fn tools(bin: &Path) -> Vec<(String, String)> {
    let list: Value = serde_json::from_str(&installed(bin, &["tools", "--json"])).unwrap();
    list.as_array()
        .expect("a JSON array")
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["toolset"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
#[ignore = "slow: a release build of a clean git clone; run with `cargo test -p alpaca-mcp-server --test it install:: -- --ignored`"]
fn cargo_install_from_git() {
    let clone = clean_clone();
    let tmp = tempfile::tempdir().unwrap();
    // CI points this at the workspace's own target directory, so the release builds after
    // this one (the bundle, the bench) reuse the registry crates built here; the workspace's
    // crates come from another path (the clone), so nothing of theirs is shared.
    let target = std::env::var_os("ALPACA_MCP_INSTALL_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| tmp.path().join("target"));

    let default_root = std::env::var_os("ALPACA_MCP_INSTALL_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| tmp.path().join("default"));

    // Default features.
    let bin = install(&clone, &default_root, &target, &[]);
    let default_bin = bin.clone();
    // The version, the commit the clone is at (cargo's git checkout keeps it), the toolsets.
    let version = installed(&bin, &["--version"]);
    let head = run(Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(&clone))
    .stdout;
    let head: String = String::from_utf8(head)
        .unwrap()
        .trim()
        .chars()
        .take(12)
        .collect();
    let prefix = format!(
        "alpaca-mcp-server {} (commit {head}; toolsets: ",
        env!("CARGO_PKG_VERSION")
    );
    assert!(version.starts_with(&prefix), "{version}");
    let mut listed: Vec<&str> = version
        .trim()
        .trim_start_matches(&prefix)
        .trim_end_matches(')')
        .split(", ")
        .collect();
    listed.sort();
    let mut default_toolsets = DEFAULT_TOOLSETS.to_vec();
    default_toolsets.sort();
    assert_eq!(listed, default_toolsets, "{version}");
    let all = tools(&bin);
    assert!(all.iter().any(|(n, _)| n == "get_account_info"));
    assert!(all.iter().any(|(n, _)| n == "get_stock_latest_quote"));
    let mut toolsets: Vec<&str> = all.iter().map(|(_, t)| t.as_str()).collect();
    toolsets.sort();
    toolsets.dedup();
    let mut expected = DEFAULT_TOOLSETS.to_vec();
    expected.sort();
    assert_eq!(toolsets, expected);

    // Only stock-data compiled in (a debug build: the features are the point here).
    let bin = install(
        &clone,
        &tmp.path().join("stock-data"),
        &target,
        &[
            "--debug",
            "--no-default-features",
            "--features",
            "stock-data",
        ],
    );
    let version = installed(&bin, &["--version"]);
    assert!(
        version.trim().ends_with("; toolsets: stock-data)"),
        "{version}"
    );
    let only = tools(&bin);
    assert!(!only.is_empty());
    assert!(only.iter().any(|(n, _)| n == "get_stock_latest_quote"));
    for (name, toolset) in &only {
        assert_eq!(toolset, "stock-data", "{name} is in {toolset}");
    }
    let in_default: Vec<&(String, String)> =
        all.iter().filter(|(_, t)| t == "stock-data").collect();
    assert_eq!(only.len(), in_default.len());
    // Without the `sandbox` feature the fake Alpaca is not linked in, and --sandbox says so.
    let out = Command::new(&bin)
        .arg("--sandbox")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("`sandbox` feature"), "{err}");
    eprintln!(
        "installed release binary, default toolsets: {} bytes",
        std::fs::metadata(&default_bin).unwrap().len()
    );
}
