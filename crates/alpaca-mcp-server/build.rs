//! Records the git commit the server is built from, for `--version`: the release workflow's
//! `GITHUB_SHA`, else `git rev-parse` in the source tree, else `unknown` (a crates.io source
//! has no repository).

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=GITHUB_SHA");
    let from_env = std::env::var("GITHUB_SHA").ok().filter(|s| !s.is_empty());
    let commit = from_env.or_else(|| {
        let out = Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        // Rebuild when HEAD moves (the files exist only in a checkout).
        if let Ok(dir) = Command::new("git")
            .args(["rev-parse", "--git-dir"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            && dir.status.success()
        {
            let dir = String::from_utf8_lossy(&dir.stdout).trim().to_string();
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
            println!("cargo:rerun-if-changed={}", dir.join("HEAD").display());
            println!("cargo:rerun-if-changed={}", dir.join("refs").display());
        }
        Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
    });
    let commit = commit.map_or_else(|| "unknown".to_string(), |c| c.chars().take(12).collect());
    println!("cargo:rustc-env=ALPACA_MCP_GIT_COMMIT={commit}");
}
