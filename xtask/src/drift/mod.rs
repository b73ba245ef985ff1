//! `cargo xtask drift --upstream <dir|url>`: what changed upstream, and what it means for us.
//!
//! The upstream documents are read and normalized in memory by the importer
//! ([`crate::import::normalize`], exactly as `sync-specs` does) and compared, per spec named by
//! the manifest's `[specs.<key>] file = ...`, with two things:
//!
//! 1. **The committed spec** (`specs/<file>`). Any byte difference from the normalized upstream
//!    means `cargo xtask sync-specs` would change it: that is one action item per spec, and the
//!    report lists what the sync would change: operations added, removed, renamed (same method
//!    and path with a new operationId, or the same operationId at a new method or path) and
//!    changed, down to the property path (`requestBody.qty: type string -> number`,
//!    `responses.200.items[].status: enum + "held"`), with `$ref`s resolved so a change inside a
//!    shared component shows on every operation that uses it. These per-operation changes are
//!    details of the sync item, not items of their own.
//! 2. **The manifest** (`specs/toolsets.toml`), checked against the *upstream* operations (what
//!    the build will see after the sync), each finding one action item:
//!    - an upstream operation the manifest does not mention (expose it, or exclude it with a
//!      reason): the build would fail;
//!    - an operation the manifest names (an `operations` entry of any kind, a hand-written
//!      tool's `replaces`, or one wrapped by the relative-time tools, see
//!      [`RELATIVE_TIME_OPERATIONS`]) that upstream no longer has, with the new name when it
//!      looks renamed: the build would fail;
//!    - a generated tool's argument with no description in its `params` or the glossary, or a
//!      `params` entry naming an argument the operation no longer has: the build would fail.
//!
//! In addition, **every change to an operation behind a hand-written tool** (the manifest's
//! `[handwritten.*] replaces`, plus [`RELATIVE_TIME_OPERATIONS`]) is an action item of its own,
//! listed in a separate section with the parameters and properties added or removed: the
//! hand-written code does not follow the spec by itself. (Removed or renamed ones are already
//! items through the manifest check.)
//!
//! The result is `in sync` (exit code 0) only when there is no item at all; otherwise
//! `N items need action` (exit code 1). A check that cannot run (unreadable upstream, committed
//! spec or manifest, bad arguments) exits with 2 and the reason.
//!
//! `cargo xtask sync-specs` prints the same report (in [`Mode::Sync`]) after writing `specs/`:
//! it compares the specs as they were before the sync with the ones written, and checks the
//! manifest against the new ones. Sync items do not arise there.
//!
//! The core is [`check`] (paths in, [`Report`] out) and, below it, [`compare`] (documents in).

pub mod diff;
pub mod ops;
pub mod report;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use openapi_mcp_codegen::manifest::{Disposition, Manifest};
use serde_json::{Value, json};

use crate::import::{self, ImportError};
use crate::source;

pub use report::{
    Action, ActionKind, Area, Change, ChangeKind, ChangedOperation, HandwrittenChange,
    HandwrittenStatus, ManifestCheck, Mode, Operation, ParameterIssue, ParameterProblem, RenameHow,
    Renamed, Report, SpecReport, StaleEntry,
};

/// The spec whose historical bars/quotes/trades operations the hand-written relative-time tools
/// wrap.
pub const RELATIVE_TIME_SPEC: &str = "market-data";

/// The operations wrapped by the hand-written relative-time tools (historical bars, quotes and
/// trades, stock and crypto). The manifest has no entry for these tools yet, so the list lives
/// here; once it has `[handwritten.<tool>] replaces = "market-data:StockBars"` entries they are
/// picked up from there like every other hand-written tool, and this list can go.
pub const RELATIVE_TIME_OPERATIONS: [&str; 6] = [
    "StockBars",
    "StockQuotes",
    "StockTrades",
    "CryptoBars",
    "CryptoQuotes",
    "CryptoTrades",
];

/// How [`RELATIVE_TIME_OPERATIONS`] are named in the report.
pub const RELATIVE_TIME_TOOLS: &str = "relative-time tools";

/// Why the check could not run (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    /// The upstream documents are missing, unreadable or not importable.
    #[error(transparent)]
    Upstream(#[from] ImportError),
    /// The manifest is missing or invalid.
    #[error("{path}: cannot read the manifest: {message}")]
    Manifest { path: String, message: String },
    /// A committed spec exists but cannot be read or is not JSON.
    #[error("{path}: cannot read the committed spec: {message}")]
    Committed { path: String, message: String },
    /// The manifest names a spec file the importer does not produce.
    #[error(
        "{manifest}: [specs.{key}] file = {file:?} is not one of the documents sync-specs writes ({})",
        source::SPEC_NAMES.map(|n| format!("{n}.json")).join(", ")
    )]
    UnknownSpecFile {
        manifest: String,
        key: String,
        file: String,
    },
}

/// One side of a comparison: a document as text and parsed.
#[derive(Debug, Clone)]
pub struct Side {
    /// Where it came from (path or URL).
    pub label: String,
    /// The exact text (canonical text for a normalized upstream document); `None` when the file
    /// does not exist.
    pub text: Option<String>,
    /// The parsed document; `None` when there is none (missing, or unreadable in `sync` mode).
    pub doc: Option<Value>,
}

/// One spec to compare.
#[derive(Debug, Clone)]
pub struct SpecInput {
    /// The manifest's key.
    pub key: String,
    /// The manifest's `file`.
    pub file: String,
    /// The committed document (before the sync, in [`Mode::Sync`]).
    pub committed: Side,
    /// The normalized upstream document (after the sync, in [`Mode::Sync`]).
    pub upstream: Side,
}

/// What the report says it compared.
#[derive(Debug, Clone)]
pub struct Context {
    pub mode: Mode,
    /// `--upstream` (or `--from`) as given.
    pub upstream: String,
    pub specs_dir: String,
    pub manifest: String,
}

/// Reads and validates the manifest.
pub fn load_manifest(path: &Path) -> Result<Manifest, DriftError> {
    let error = |message: String| DriftError::Manifest {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
    Manifest::from_toml(&text).map_err(|e| error(e.to_string()))
}

/// The manifest's specs as (key, file, importer document name).
fn spec_files(
    manifest: &Manifest,
    manifest_path: &Path,
) -> Result<Vec<(String, String, &'static str)>, DriftError> {
    manifest
        .specs
        .iter()
        .map(|(key, entry)| {
            let stem = Path::new(&entry.file)
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".json"));
            source::SPEC_NAMES
                .iter()
                .find(|name| Some(**name) == stem)
                .map(|name| (key.clone(), entry.file.clone(), *name))
                .ok_or_else(|| DriftError::UnknownSpecFile {
                    manifest: manifest_path.display().to_string(),
                    key: key.clone(),
                    file: entry.file.clone(),
                })
        })
        .collect()
}

/// Reads and normalizes every upstream document, by importer name.
fn read_upstream(from: &str) -> Result<BTreeMap<&'static str, Side>, DriftError> {
    let mut out = BTreeMap::new();
    for doc in source::read_sources(from)? {
        let value = source::parse_source(&doc)?;
        let normalized = import::normalize(value, &doc.label)?;
        out.insert(
            doc.name,
            Side {
                label: doc.label,
                text: Some(import::to_canonical_string(&normalized)),
                doc: Some(normalized),
            },
        );
    }
    Ok(out)
}

/// Reads a committed spec. A missing file is a side without text; any other problem is an
/// error when `strict`, else a side without a document.
fn read_committed(path: &Path, strict: bool) -> Result<Side, DriftError> {
    let label = path.display().to_string();
    let error = |message: String| DriftError::Committed {
        path: label.clone(),
        message,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Side {
                label,
                text: None,
                doc: None,
            });
        }
        Err(e) if strict => return Err(error(e.to_string())),
        Err(_) => {
            return Ok(Side {
                label,
                text: None,
                doc: None,
            });
        }
    };
    let doc = match serde_json::from_str::<Value>(&text) {
        Ok(doc) => Some(doc),
        Err(e) if strict => return Err(error(format!("invalid JSON: {e}"))),
        Err(_) => None,
    };
    Ok(Side {
        label,
        text: Some(text),
        doc,
    })
}

/// Compares the upstream documents at `upstream` (a folder or an http(s) base URL, read like
/// `sync-specs --from`) with the committed specs in `specs_dir` and the manifest at
/// `manifest_path`.
pub fn check(upstream: &str, specs_dir: &Path, manifest_path: &Path) -> Result<Report, DriftError> {
    let manifest = load_manifest(manifest_path)?;
    let files = spec_files(&manifest, manifest_path)?;
    let mut upstream_docs = read_upstream(upstream)?;
    let mut inputs = Vec::new();
    for (key, file, name) in files {
        let committed = read_committed(&specs_dir.join(&file), true)?;
        let upstream_side = upstream_docs.remove(name).unwrap_or_else(|| Side {
            label: format!("{upstream}/{name}"),
            text: None,
            doc: None,
        });
        inputs.push(SpecInput {
            key,
            file,
            committed,
            upstream: upstream_side,
        });
    }
    let context = Context {
        mode: Mode::Check,
        upstream: upstream.to_string(),
        specs_dir: specs_dir.display().to_string(),
        manifest: manifest_path.display().to_string(),
    };
    Ok(compare(&context, &manifest, &inputs))
}

/// What `sync-specs` reads before it writes, to report afterwards.
#[derive(Debug, Clone)]
pub struct SyncBaseline {
    manifest: Manifest,
    manifest_path: PathBuf,
    before: Vec<(String, String, Side)>,
}

/// Reads the manifest and the specs in `out` as they are before a sync.
pub fn sync_baseline(out: &Path, manifest_path: &Path) -> Result<SyncBaseline, DriftError> {
    let manifest = load_manifest(manifest_path)?;
    let before = spec_files(&manifest, manifest_path)?
        .into_iter()
        .map(|(key, file, _)| {
            let side = read_committed(&out.join(&file), false)?;
            Ok((key, file, side))
        })
        .collect::<Result<_, DriftError>>()?;
    Ok(SyncBaseline {
        manifest,
        manifest_path: manifest_path.to_path_buf(),
        before,
    })
}

/// The report of a sync from `from` into `out`: the specs before (the baseline) vs after.
pub fn sync_report(baseline: &SyncBaseline, from: &str, out: &Path) -> Report {
    let inputs: Vec<SpecInput> = baseline
        .before
        .iter()
        .map(|(key, file, before)| {
            let after = read_committed(&out.join(file), false).unwrap_or_else(|_| Side {
                label: out.join(file).display().to_string(),
                text: None,
                doc: None,
            });
            SpecInput {
                key: key.clone(),
                file: file.clone(),
                committed: before.clone(),
                upstream: after,
            }
        })
        .collect();
    let context = Context {
        mode: Mode::Sync,
        upstream: from.to_string(),
        specs_dir: out.display().to_string(),
        manifest: baseline.manifest_path.display().to_string(),
    };
    compare(&context, &baseline.manifest, &inputs)
}

/// Compares documents already read; see the module documentation for what counts.
pub fn compare(context: &Context, manifest: &Manifest, inputs: &[SpecInput]) -> Report {
    let mut specs = Vec::new();
    let mut actions = Vec::new();
    for input in inputs {
        let (spec, spec_actions) = compare_spec(context, manifest, input);
        specs.push(spec);
        actions.extend(spec_actions);
    }
    Report {
        schema_version: report::SCHEMA_VERSION,
        mode: context.mode,
        upstream: context.upstream.clone(),
        specs_dir: context.specs_dir.clone(),
        manifest: context.manifest.clone(),
        in_sync: actions.is_empty(),
        action_count: actions.len(),
        summary: report::summary_line(actions.len()),
        actions,
        specs,
    }
}

/// What the manifest does with operation `id` of spec `key`, if it mentions it.
fn disposition(manifest: &Manifest, key: &str, id: &str) -> Option<String> {
    let op = manifest.operations.get(key)?.get(id)?;
    Some(match manifest.disposition(key, id, op) {
        Ok(Disposition::Tool(tool)) => format!("tool {}", tool.name),
        Ok(Disposition::Replaced { by, .. }) => format!("replaced by {}", by.join(", ")),
        Ok(Disposition::Excluded(reason)) => format!("excluded: {}", reason.trim()),
        Err(e) => format!("invalid entry: {e}"),
    })
}

/// Operations of spec `key` behind hand-written tools: operationId -> the tools.
fn handwritten_operations(manifest: &Manifest, key: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (tool, hw) in &manifest.handwritten {
        if let Some((spec, op)) = hw.replaces.split_once(':')
            && spec == key
        {
            out.entry(op.to_string()).or_default().push(tool.clone());
        }
    }
    if key == RELATIVE_TIME_SPEC {
        for op in RELATIVE_TIME_OPERATIONS {
            // Named by the manifest already: its entry says which tools.
            out.entry(op.to_string())
                .or_insert_with(|| vec![RELATIVE_TIME_TOOLS.to_string()]);
        }
    }
    out
}

fn operation_entry(manifest: &Manifest, key: &str, id: &str, op: &ops::Op<'_>) -> Operation {
    Operation {
        id: id.to_string(),
        method: op.method.to_uppercase(),
        path: op.path.to_string(),
        manifest: disposition(manifest, key, id),
    }
}

fn compare_spec(
    context: &Context,
    manifest: &Manifest,
    input: &SpecInput,
) -> (SpecReport, Vec<Action>) {
    let key = input.key.as_str();
    let empty = json!({ "paths": {} });
    let old_doc = input.committed.doc.as_ref().unwrap_or(&empty);
    let new_doc = input.upstream.doc.as_ref().unwrap_or(&empty);
    let old_ops = ops::operations(old_doc);
    let new_ops = ops::operations(new_doc);
    let specs_match = input.committed.text.is_some() && input.committed.text == input.upstream.text;
    let entry = |id: &str, op: &ops::Op<'_>| operation_entry(manifest, key, id, op);

    // Renames: an operation gone at the same method and path as a new one, or the same id at a
    // new place.
    let only_new_by_place: BTreeMap<(&str, &str), &String> = new_ops
        .iter()
        .filter(|(id, _)| !old_ops.contains_key(*id))
        .map(|(id, op)| ((op.method, op.path), id))
        .collect();
    let mut renamed = Vec::new();
    let mut renamed_from = BTreeSet::new();
    let mut renamed_to = BTreeSet::new();
    for (id, old) in &old_ops {
        let found = match new_ops.get(id) {
            Some(new) if (new.method, new.path) != (old.method, old.path) => {
                Some((id, new, RenameHow::SameOperationId))
            }
            Some(_) => None,
            None => only_new_by_place
                .get(&(old.method, old.path))
                .map(|new_id| (*new_id, &new_ops[*new_id], RenameHow::SameMethodAndPath)),
        };
        if let Some((new_id, new, how)) = found {
            renamed_from.insert(id.clone());
            renamed_to.insert(new_id.clone());
            renamed.push(Renamed {
                from: entry(id, old),
                to: entry(new_id, new),
                how,
                changes: diff::diff_operation(old_doc, old, new_doc, new),
            });
        }
    }
    let added: Vec<Operation> = new_ops
        .iter()
        .filter(|(id, _)| !old_ops.contains_key(*id) && !renamed_to.contains(*id))
        .map(|(id, op)| entry(id, op))
        .collect();
    let removed: Vec<Operation> = old_ops
        .iter()
        .filter(|(id, _)| !new_ops.contains_key(*id) && !renamed_from.contains(*id))
        .map(|(id, op)| entry(id, op))
        .collect();

    let behind = handwritten_operations(manifest, key);
    let mut changed = Vec::new();
    for (id, old) in &old_ops {
        let Some(new) = new_ops.get(id) else { continue };
        if renamed_from.contains(id) {
            continue;
        }
        let changes = diff::diff_operation(old_doc, old, new_doc, new);
        if !changes.is_empty() {
            let e = entry(id, new);
            changed.push(ChangedOperation {
                id: e.id,
                method: e.method,
                path: e.path,
                manifest: e.manifest,
                handwritten: behind.get(id).cloned().unwrap_or_default(),
                changes,
            });
        }
    }
    let mut other_changes = outside_operations(old_doc, new_doc);
    let nothing_listed = added.is_empty()
        && removed.is_empty()
        && renamed.is_empty()
        && changed.is_empty()
        && other_changes.is_empty();
    if !specs_match && input.committed.text.is_some() && nothing_listed {
        other_changes.push(if input.committed.doc.is_none() {
            "the committed file is not valid JSON".to_string()
        } else {
            "same facts, different text (key order or formatting): the sync rewrites the file canonically".to_string()
        });
    }

    // The manifest against upstream.
    let manifest_ops = manifest.operations.get(key);
    let unmentioned: Vec<Operation> = new_ops
        .iter()
        .filter(|(id, _)| manifest_ops.is_none_or(|m| !m.contains_key(*id)))
        .map(|(id, op)| entry(id, op))
        .collect();
    let rename_of = |id: &str| {
        renamed
            .iter()
            .find(|r| r.from.id == id && r.to.id != id)
            .map(|r| r.to.id.clone())
    };
    let mut stale: Vec<StaleEntry> = manifest_ops
        .into_iter()
        .flat_map(|m| m.keys())
        .filter(|id| !new_ops.contains_key(*id))
        .map(|id| StaleEntry {
            id: id.clone(),
            manifest: disposition(manifest, key, id).unwrap_or_default(),
            renamed_to: rename_of(id),
        })
        .collect();
    for (id, tools) in &behind {
        if !new_ops.contains_key(id) && !stale.iter().any(|s| &s.id == id) {
            let by = if tools.iter().any(|t| t == RELATIVE_TIME_TOOLS) {
                format!("wrapped by the hand-written {RELATIVE_TIME_TOOLS}")
            } else {
                format!("replaced by {} (hand-written)", tools.join(", "))
            };
            stale.push(StaleEntry {
                id: id.clone(),
                manifest: by,
                renamed_to: rename_of(id),
            });
        }
    }
    let parameters = parameter_issues(manifest, key, new_doc, &new_ops);

    // Operations behind hand-written tools.
    let mut handwritten = Vec::new();
    for (id, tools) in &behind {
        let (status, renamed_to, changes) = if let Some(c) = changed.iter().find(|c| &c.id == id) {
            (HandwrittenStatus::Changed, None, c.changes.clone())
        } else if let Some(r) = renamed.iter().find(|r| &r.from.id == id) {
            let to = (r.to.id != *id).then(|| r.to.id.clone());
            (HandwrittenStatus::Renamed, to, r.changes.clone())
        } else if removed.iter().any(|r| &r.id == id) {
            (HandwrittenStatus::Removed, None, Vec::new())
        } else {
            continue;
        };
        let paths = |kind: ChangeKind| {
            changes
                .iter()
                .filter(|c| c.kind == kind)
                .map(|c| c.path.clone())
                .collect::<Vec<_>>()
        };
        handwritten.push(HandwrittenChange {
            operation: id.clone(),
            tools: tools.clone(),
            status,
            renamed_to,
            properties_added: paths(ChangeKind::Added),
            properties_removed: paths(ChangeKind::Removed),
            changes,
        });
    }

    // Action items.
    let mut actions = Vec::new();
    let action = |kind: ActionKind, operation: Option<&str>, message: String| Action {
        kind,
        spec: key.to_string(),
        operation: operation.map(str::to_string),
        message,
    };
    if context.mode == Mode::Check && !specs_match {
        let what = if input.committed.text.is_none() {
            format!("{} does not exist", input.committed.label)
        } else {
            let mut counts = Vec::new();
            for (n, word) in [
                (added.len(), "added"),
                (removed.len(), "removed"),
                (renamed.len(), "renamed"),
                (changed.len(), "changed"),
            ] {
                if n > 0 {
                    counts.push(format!("{n} {word}"));
                }
            }
            if !other_changes.is_empty() {
                counts.push(format!("{} outside the operations", other_changes.len()));
            }
            format!(
                "{} differs from upstream ({})",
                input.committed.label,
                counts.join(", ")
            )
        };
        actions.push(action(
            ActionKind::Sync,
            None,
            format!(
                "{what}: run `cargo xtask sync-specs --from {}`",
                context.upstream
            ),
        ));
    }
    for s in &stale {
        let renamed = s
            .renamed_to
            .as_deref()
            .map(|to| format!(" (renamed upstream to `{to}`)"))
            .unwrap_or_default();
        actions.push(action(
            ActionKind::Stale,
            Some(&s.id),
            format!(
                "`{}` is gone upstream{renamed} but the manifest names it ({}): the build would fail",
                s.id, s.manifest
            ),
        ));
    }
    for op in &unmentioned {
        actions.push(action(
            ActionKind::Unmentioned,
            Some(&op.id),
            format!(
                "`{}` ({} {}) is upstream but not in the manifest: expose it, or exclude it with a reason under [operations.{key}.{}]",
                op.id, op.method, op.path, op.id
            ),
        ));
    }
    // Removed and renamed ones are items through `stale` already; a changed or moved one is
    // not.
    for h in handwritten
        .iter()
        .filter(|h| !stale.iter().any(|s| s.id == h.operation))
    {
        let mut detail = Vec::new();
        if let Some(r) = renamed.iter().find(|r| r.from.id == h.operation) {
            detail.push(format!("moved to {} {}", r.to.method, r.to.path));
        }
        if !h.changes.is_empty() {
            detail.push(format!(
                "{} change{}",
                h.changes.len(),
                if h.changes.len() == 1 { "" } else { "s" }
            ));
        }
        if !h.properties_added.is_empty() {
            detail.push(format!("new: {}", h.properties_added.join(", ")));
        }
        if !h.properties_removed.is_empty() {
            detail.push(format!("removed: {}", h.properties_removed.join(", ")));
        }
        actions.push(action(
            ActionKind::Handwritten,
            Some(&h.operation),
            format!(
                "`{}` behind hand-written {} changed ({}): review the tool code and its manifest entry",
                h.operation,
                h.tools.join(", "),
                detail.join("; ")
            ),
        ));
    }
    for p in &parameters {
        let kind = match p.problem {
            ParameterProblem::Undescribed => ActionKind::UndescribedParameter,
            ParameterProblem::Unknown => ActionKind::UnknownParameter,
        };
        let message = match p.problem {
            ParameterProblem::Undescribed => format!(
                "tool `{}` (`{}`) gains argument `{}` with no description: add it to [operations.{key}.{}.params] or the glossary",
                p.tool, p.operation, p.parameter, p.operation
            ),
            ParameterProblem::Unknown => format!(
                "tool `{}` (`{}`) describes argument `{}`, which the operation no longer has: remove it from [operations.{key}.{}.params]",
                p.tool, p.operation, p.parameter, p.operation
            ),
        };
        actions.push(action(kind, Some(&p.operation), message));
    }

    let spec = SpecReport {
        key: key.to_string(),
        file: input.file.clone(),
        committed: input.committed.label.clone(),
        upstream: input.upstream.label.clone(),
        specs_match,
        committed_missing: input.committed.text.is_none(),
        operations: report::Counts {
            committed: old_ops.len(),
            upstream: new_ops.len(),
        },
        added,
        removed,
        renamed,
        changed,
        other_changes,
        manifest: ManifestCheck {
            unmentioned,
            stale,
            parameters,
        },
        handwritten,
    };
    (spec, actions)
}

/// Tool arguments of exposed operations whose descriptions the build would reject.
fn parameter_issues(
    manifest: &Manifest,
    key: &str,
    doc: &Value,
    operations: &BTreeMap<String, ops::Op<'_>>,
) -> Vec<ParameterIssue> {
    let mut out = Vec::new();
    let Some(entries) = manifest.operations.get(key) else {
        return out;
    };
    for (id, entry) in entries {
        let Some(op) = operations.get(id) else {
            continue;
        };
        let Ok(Disposition::Tool(tool)) = manifest.disposition(key, id, entry) else {
            continue;
        };
        let arguments = ops::tool_arguments(doc, op);
        for argument in &arguments {
            if manifest
                .param_description(tool.params, argument, false)
                .is_none()
            {
                out.push(ParameterIssue {
                    operation: id.clone(),
                    tool: tool.name.to_string(),
                    parameter: argument.clone(),
                    problem: ParameterProblem::Undescribed,
                });
            }
        }
        for described in tool.params.keys() {
            if !arguments.contains(described) {
                out.push(ParameterIssue {
                    operation: id.clone(),
                    tool: tool.name.to_string(),
                    parameter: described.clone(),
                    problem: ParameterProblem::Unknown,
                });
            }
        }
    }
    out
}

/// Differences outside `paths`: top-level keys, and components by section and name.
fn outside_operations(old: &Value, new: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let keys = |a: Option<&Value>, b: Option<&Value>| -> BTreeSet<String> {
        [a, b]
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
            .flat_map(|o| o.keys().cloned())
            .collect()
    };
    let state = |a: Option<&Value>, b: Option<&Value>| match (a, b) {
        (Some(_), None) => Some("removed"),
        (None, Some(_)) => Some("added"),
        (Some(a), Some(b)) if a != b => Some("changed"),
        _ => None,
    };
    for key in keys(Some(old), Some(new)) {
        match key.as_str() {
            "paths" => {}
            "components" => {
                let (a, b) = (old.get("components"), new.get("components"));
                for section in keys(a, b) {
                    let (sa, sb) = (
                        a.and_then(|c| c.get(&section)),
                        b.and_then(|c| c.get(&section)),
                    );
                    for name in keys(sa, sb) {
                        if let Some(what) =
                            state(sa.and_then(|s| s.get(&name)), sb.and_then(|s| s.get(&name)))
                        {
                            out.push(format!("components.{section}.{name}: {what}"));
                        }
                    }
                }
            }
            _ => {
                if let Some(what) = state(old.get(&key), new.get(&key)) {
                    out.push(format!("{key}: {what}"));
                }
            }
        }
    }
    out
}
