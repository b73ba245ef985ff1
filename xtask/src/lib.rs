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
