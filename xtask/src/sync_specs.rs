//! `cargo xtask sync-specs --from <dir|url> [--out <dir>]`: reads the upstream documents,
//! normalizes both in memory, and only then writes `<out>/<name>.json` (each through a temporary
//! file in `<out>` renamed into place). On any input error nothing is written.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::import::{self, ImportError, Summary};
use crate::source;

/// Why `sync-specs` failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// A problem with the upstream documents; nothing was written.
    #[error(transparent)]
    Input(#[from] ImportError),
    /// A problem writing the output.
    #[error("{path}: cannot write: {source}")]
    Output {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// One document written (or found already identical).
#[derive(Debug, Clone)]
pub struct Imported {
    /// Base name, e.g. `trading-api`.
    pub name: &'static str,
    /// Where it came from.
    pub source: String,
    /// The upstream `openapi` version.
    pub source_version: String,
    /// Where it was written.
    pub path: PathBuf,
    pub summary: Summary,
    /// False when the file already held exactly these bytes (it was left untouched).
    pub changed: bool,
}

/// The default output folder: `<workspace root>/specs`.
pub fn default_out_dir() -> PathBuf {
    crate::workspace_root().join("specs")
}

/// Reads, normalizes and writes every document of [`source::SPEC_NAMES`].
pub fn run(from: &str, out: &Path) -> Result<Vec<Imported>, SyncError> {
    // Everything that can fail on input happens before the first write.
    let mut rendered = Vec::new();
    for doc in source::read_sources(from)? {
        let value = source::parse_source(&doc)?;
        let source_version = value
            .get("openapi")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string();
        let normalized = import::normalize(value, &doc.label)?;
        let summary = import::summarize(&normalized);
        let text = import::to_canonical_string(&normalized);
        rendered.push((doc, source_version, summary, text));
    }

    let output_error = |path: &Path, source: std::io::Error| SyncError::Output {
        path: path.display().to_string(),
        source,
    };
    std::fs::create_dir_all(out).map_err(|e| output_error(out, e))?;

    // Stage every changed file as a temporary file next to its target, then rename them all.
    let mut staged = Vec::new();
    let mut imported = Vec::new();
    for (doc, source_version, summary, text) in rendered {
        let path = out.join(format!("{}.json", doc.name));
        let changed = std::fs::read(&path).ok().as_deref() != Some(text.as_bytes());
        if changed {
            let mut tmp = tempfile::Builder::new()
                .prefix(&format!(".{}.", doc.name))
                .suffix(".tmp")
                .tempfile_in(out)
                .map_err(|e| output_error(out, e))?;
            tmp.write_all(text.as_bytes())
                .and_then(|()| tmp.as_file().sync_all())
                .map_err(|e| output_error(tmp.path(), e))?;
            staged.push((tmp, path.clone()));
        }
        imported.push(Imported {
            name: doc.name,
            source: doc.label,
            source_version,
            path,
            summary,
            changed,
        });
    }
    for (tmp, path) in staged {
        tmp.persist(&path)
            .map_err(|e| output_error(&path, e.error))?;
    }
    Ok(imported)
}
