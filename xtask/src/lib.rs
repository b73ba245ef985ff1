//! The project's automation, run as `cargo xtask <command>`. Each command lives in its own
//! module; `main.rs` only parses arguments and dispatches.

pub mod bundle;
pub mod drift;
pub mod import;
pub mod source;
pub mod sync_specs;

use std::path::PathBuf;

/// The workspace root (the folder above `xtask/`).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map_or(manifest.clone(), PathBuf::from)
}

/// The workspace's target directory as cargo itself resolves it (`CARGO_TARGET_DIR`,
/// `build.target-dir` in a config file, or `target/` under the root), from `cargo metadata`;
/// `extra_env` is added to the environment cargo runs in.
pub fn target_dir_with(extra_env: &[(&str, &str)]) -> anyhow::Result<PathBuf> {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace_root())
        .envs(extra_env.iter().copied())
        .stderr(std::process::Stdio::inherit())
        .output()?;
    anyhow::ensure!(out.status.success(), "cargo metadata failed");
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let dir = meta["target_directory"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("cargo metadata gave no target_directory"))?;
    Ok(PathBuf::from(dir))
}

/// [`target_dir_with`] in this process's environment.
pub fn target_dir() -> anyhow::Result<PathBuf> {
    target_dir_with(&[])
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_target_directory_is_cargos_own_answer() {
        let dir = tempfile::tempdir().unwrap();
        let set = dir.path().to_str().unwrap();
        assert_eq!(
            super::target_dir_with(&[("CARGO_TARGET_DIR", set)]).unwrap(),
            dir.path()
        );
        let default = super::target_dir_with(&[]).unwrap();
        match std::env::var_os("CARGO_TARGET_DIR") {
            Some(d) => assert_eq!(default, std::path::PathBuf::from(d)),
            None => assert!(default.ends_with("target"), "{}", default.display()),
        }
    }
}
