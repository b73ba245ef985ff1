//! The drift report: its types, and its three renderings (text, JSON, Markdown).
//!
//! # JSON format (`cargo xtask drift --format json`)
//!
//! One object, pretty-printed. Every field below is always present (`null` or `[]` when there
//! is nothing to say); fields are only ever added, and a field's meaning never changes without
//! a new `schema_version`. Operation methods are upper case (`GET`), paths are the URL templates
//! (`/v2/orders/{order_id}`).
//!
//! ## `Report` (the top level)
//!
//! | field            | type            | meaning |
//! |------------------|-----------------|---------|
//! | `schema_version` | integer         | [`SCHEMA_VERSION`], currently `1`. |
//! | `mode`           | string          | `"check"` (`cargo xtask drift`: committed `specs/` vs upstream) or `"sync"` (printed by `cargo xtask sync-specs`: the specs before the sync vs after it). |
//! | `upstream`       | string          | The `--upstream` (or `--from`) folder or URL, as given. |
//! | `specs_dir`      | string          | The folder holding the committed specs. |
//! | `manifest`       | string          | The manifest file (`specs/toolsets.toml`). |
//! | `in_sync`        | boolean         | `true` when `actions` is empty (exit code 0). |
//! | `action_count`   | integer         | `actions.len()`. |
//! | `summary`        | string          | `"in sync"` or `"N items need action"` (`"1 item needs action"`). |
//! | `actions`        | array of Action | Everything that needs a manifest change, a code change or a sync. |
//! | `specs`          | array of Spec   | One entry per `[specs.<key>]` of the manifest, in manifest order. |
//!
//! ## `Action`
//!
//! | field       | type           | meaning |
//! |-------------|----------------|---------|
//! | `kind`      | string         | `"sync"`: the committed spec differs from the normalized upstream (run `cargo xtask sync-specs`). `"unmentioned"`: an upstream operation the manifest does not mention (expose it, or exclude it with a reason). `"stale"`: the manifest (an `operations` entry, a hand-written tool's `replaces`, or the hand-written relative-time tools) names an operation upstream no longer has (the build would fail). `"handwritten"`: an operation behind a hand-written tool changed (review the tool's code and its manifest entry). `"undescribed_parameter"`: an exposed tool gains an argument with no description in its `params` or the glossary (the build would fail). `"unknown_parameter"`: a tool's `params` describes an argument the operation no longer has (the build would fail). |
//! | `spec`      | string         | The manifest's spec key (`trading`, `market-data`). |
//! | `operation` | string or null | The operationId concerned (null for `sync`). |
//! | `message`   | string         | One line saying what is wrong and what to do. |
//!
//! ## `Spec`
//!
//! | field              | type                    | meaning |
//! |--------------------|-------------------------|---------|
//! | `key`              | string                  | The manifest's spec key. |
//! | `file`             | string                  | `[specs.<key>] file`, e.g. `trading-api.json`. |
//! | `committed`        | string                  | The committed file read (in `sync` mode: the file before the sync). |
//! | `upstream`         | string                  | Where the upstream document was read (path or URL; in `sync` mode: the file after the sync). |
//! | `specs_match`      | boolean                 | The committed file holds exactly the normalized upstream text (in `sync` mode: the sync left it unchanged). |
//! | `committed_missing`| boolean                 | There was no committed file. |
//! | `operations`       | Counts                  | `{ "committed": n, "upstream": n }`: operations in each document. |
//! | `added`            | array of Operation      | Operations upstream has and the committed spec does not (renames excluded). |
//! | `removed`          | array of Operation      | Operations the committed spec has and upstream does not (renames excluded). |
//! | `renamed`          | array of Renamed        | Operations renamed or moved upstream. |
//! | `changed`          | array of ChangedOperation | Operations in both (same id, method and path) whose facts differ. |
//! | `other_changes`    | array of string         | Differences outside the operations, e.g. `components.schemas.Order: changed`, `info: changed`. |
//! | `manifest`         | ManifestCheck           | The manifest checked against the upstream document. |
//! | `handwritten`      | array of HandwrittenChange | Changes touching an operation behind a hand-written tool. |
//!
//! ## `Operation`
//!
//! | field      | type           | meaning |
//! |------------|----------------|---------|
//! | `id`       | string         | operationId (`"GET /path"` when the document gives none). |
//! | `method`   | string         | HTTP method, upper case. |
//! | `path`     | string         | URL path template. |
//! | `manifest` | string or null | What the manifest does with it: `"tool get_orders"`, `"replaced by place_stock_order, ..."`, `"excluded: <reason>"`; null when the manifest does not mention it. |
//!
//! ## `Renamed`
//!
//! | field     | type            | meaning |
//! |-----------|-----------------|---------|
//! | `from`    | Operation       | The operation in the committed spec. |
//! | `to`      | Operation       | The operation upstream. |
//! | `how`     | string          | `"same_method_and_path"` (new operationId) or `"same_operation_id"` (new method or path). |
//! | `changes` | array of Change | Other differences between the two. |
//!
//! ## `ChangedOperation`
//!
//! | field         | type            | meaning |
//! |---------------|-----------------|---------|
//! | `id`, `method`, `path`, `manifest` | | As in Operation. |
//! | `handwritten` | array of string | The hand-written tools behind it: the manifest's `[handwritten.<tool>]` names, or `"relative-time tools"` for an operation of the built-in relative-time list the manifest has no entry for (empty for generated tools). |
//! | `changes`     | array of Change | What differs, in document order. |
//!
//! ## `Change`
//!
//! | field          | type            | meaning |
//! |----------------|-----------------|---------|
//! | `area`         | string          | `"operation"`, `"parameter"`, `"request_body"` or `"response"`. |
//! | `path`         | string          | Where: `query.limit` (a parameter: `<in>.<name>`), `requestBody.qty`, `responses.200.items[].status`, `responses.200.headers.X-Rate-Limit`; `[]` steps into array items, `{}` into `additionalProperties`, `.oneOf[i]`/`.anyOf[i]`/`.not` into those; a media type other than `application/json` follows in parentheses, `requestBody(text/csv)`; `$ref`s are resolved (and `allOf` merged) so a change inside a shared component shows on every operation using it. |
//! | `kind`         | string          | `"added"`, `"removed"`, `"required"` (the required flag flipped), `"type"`, `"format"`, `"enum"` or `"keyword"` (any other keyword: `maximum`, `nullable`, `pattern`, `default`, `deprecated`, `security`, ...). |
//! | `keyword`      | string or null  | For `keyword`: which one. |
//! | `from`         | any or null     | The old value: for `added` null; `removed` a short schema summary (`"string (date-time)"`); `required` a boolean; `type`/`format` a string or null; `enum` the old values array or null; `keyword` the old JSON value or null (for `items`, `additionalProperties`, `anyOf`, `oneOf`, `not` and `schema`, whose values are schemas, a summary string). |
//! | `to`           | any or null     | The new value, likewise. |
//! | `required`     | boolean or null | For `added`: whether the new parameter/property is required. |
//! | `enum_added`   | array           | For `enum`: values added. |
//! | `enum_removed` | array           | For `enum`: values removed. |
//! | `message`      | string          | The change as one line, e.g. `requestBody.qty: type string -> number`. |
//!
//! ## `ManifestCheck`
//!
//! | field         | type                    | meaning |
//! |---------------|-------------------------|---------|
//! | `unmentioned` | array of Operation      | Upstream operations the manifest does not mention. |
//! | `stale`       | array of StaleEntry     | Operations the manifest names that upstream does not have. |
//! | `parameters`  | array of ParameterIssue | Argument descriptions the build would reject. |
//!
//! ## `StaleEntry`
//!
//! | field        | type           | meaning |
//! |--------------|----------------|---------|
//! | `id`         | string         | The operationId the manifest names. |
//! | `manifest`   | string         | Where the manifest names it: the disposition (as in Operation), `"replaced by ..."` for a hand-written tool's `replaces`, or `"wrapped by the hand-written relative-time tools"`. |
//! | `renamed_to` | string or null | The upstream operationId at the same method and path, when it looks renamed. |
//!
//! ## `ParameterIssue`
//!
//! | field       | type   | meaning |
//! |-------------|--------|---------|
//! | `operation` | string | operationId. |
//! | `tool`      | string | The generated tool's name. |
//! | `parameter` | string | The tool argument (a body property clashing with a parameter is `body_<name>`). |
//! | `problem`   | string | `"undescribed"` (no description in the tool's `params` or the glossary) or `"unknown"` (described in `params`, gone upstream). |
//!
//! ## `HandwrittenChange`
//!
//! | field                | type            | meaning |
//! |----------------------|-----------------|---------|
//! | `operation`          | string          | operationId (in the committed spec). |
//! | `tools`              | array of string | The hand-written tools behind it. |
//! | `status`             | string          | `"changed"`, `"removed"` or `"renamed"`. |
//! | `renamed_to`         | string or null  | For `renamed`: the upstream operationId (null when it moved under the same id). |
//! | `properties_added`   | array of string | Paths of parameters and properties added (e.g. `requestBody.position_intent`). |
//! | `properties_removed` | array of string | Paths of parameters and properties removed. |
//! | `changes`            | array of Change | Every change, as in ChangedOperation. |

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The version of the JSON format; bumped when a field changes meaning or goes away.
pub const SCHEMA_VERSION: u32 = 1;

/// What was compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// `cargo xtask drift`: committed specs vs upstream.
    Check,
    /// `cargo xtask sync-specs`: the specs before the sync vs after it.
    Sync,
}

/// The whole report. See the module documentation for the JSON format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub mode: Mode,
    pub upstream: String,
    pub specs_dir: String,
    pub manifest: String,
    pub in_sync: bool,
    pub action_count: usize,
    pub summary: String,
    pub actions: Vec<Action>,
    pub specs: Vec<SpecReport>,
}

/// What kind of action an item needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    Sync,
    Unmentioned,
    Stale,
    Handwritten,
    UndescribedParameter,
    UnknownParameter,
}

/// One item that needs action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub kind: ActionKind,
    pub spec: String,
    pub operation: Option<String>,
    pub message: String,
}

/// Operation counts of both documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub committed: usize,
    pub upstream: usize,
}

/// One spec's part of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpecReport {
    pub key: String,
    pub file: String,
    pub committed: String,
    pub upstream: String,
    pub specs_match: bool,
    pub committed_missing: bool,
    pub operations: Counts,
    pub added: Vec<Operation>,
    pub removed: Vec<Operation>,
    pub renamed: Vec<Renamed>,
    pub changed: Vec<ChangedOperation>,
    pub other_changes: Vec<String>,
    pub manifest: ManifestCheck,
    pub handwritten: Vec<HandwrittenChange>,
}

/// An operation, with what the manifest does with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    pub id: String,
    pub method: String,
    pub path: String,
    pub manifest: Option<String>,
}

/// How a rename was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RenameHow {
    /// Same method and path, new operationId.
    SameMethodAndPath,
    /// Same operationId, new method or path.
    SameOperationId,
}

/// A renamed or moved operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Renamed {
    pub from: Operation,
    pub to: Operation,
    pub how: RenameHow,
    pub changes: Vec<Change>,
}

/// An operation in both documents whose facts differ.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangedOperation {
    pub id: String,
    pub method: String,
    pub path: String,
    pub manifest: Option<String>,
    pub handwritten: Vec<String>,
    pub changes: Vec<Change>,
}

/// Which part of an operation a change is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Area {
    Operation,
    Parameter,
    RequestBody,
    Response,
}

/// What kind of change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Removed,
    Required,
    Type,
    Format,
    Enum,
    Keyword,
}

/// One difference inside an operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub area: Area,
    pub path: String,
    pub kind: ChangeKind,
    pub keyword: Option<String>,
    pub from: Option<Value>,
    pub to: Option<Value>,
    pub required: Option<bool>,
    pub enum_added: Vec<Value>,
    pub enum_removed: Vec<Value>,
    pub message: String,
}

/// The manifest checked against upstream.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ManifestCheck {
    pub unmentioned: Vec<Operation>,
    pub stale: Vec<StaleEntry>,
    pub parameters: Vec<ParameterIssue>,
}

/// An operation the manifest names that upstream does not have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaleEntry {
    pub id: String,
    pub manifest: String,
    pub renamed_to: Option<String>,
}

/// What is wrong with a tool argument's description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParameterProblem {
    /// No description in the tool's `params` or the glossary.
    Undescribed,
    /// Described in the tool's `params`, but the operation has no such argument.
    Unknown,
}

/// A tool argument whose description the build would reject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParameterIssue {
    pub operation: String,
    pub tool: String,
    pub parameter: String,
    pub problem: ParameterProblem,
}

/// What happened to an operation behind a hand-written tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandwrittenStatus {
    Changed,
    Removed,
    Renamed,
}

/// A change touching an operation behind a hand-written tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandwrittenChange {
    pub operation: String,
    pub tools: Vec<String>,
    pub status: HandwrittenStatus,
    pub renamed_to: Option<String>,
    pub properties_added: Vec<String>,
    pub properties_removed: Vec<String>,
    pub changes: Vec<Change>,
}

/// The summary line for `n` action items.
pub fn summary_line(n: usize) -> String {
    match n {
        0 => "in sync".to_string(),
        1 => "1 item needs action".to_string(),
        n => format!("{n} items need action"),
    }
}

impl ActionKind {
    /// A short label for text and Markdown.
    pub fn label(self) -> &'static str {
        match self {
            ActionKind::Sync => "sync",
            ActionKind::Unmentioned => "unmentioned",
            ActionKind::Stale => "stale",
            ActionKind::Handwritten => "hand-written",
            ActionKind::UndescribedParameter => "undescribed parameter",
            ActionKind::UnknownParameter => "unknown parameter",
        }
    }
}

impl HandwrittenStatus {
    fn label(self) -> &'static str {
        match self {
            HandwrittenStatus::Changed => "changed",
            HandwrittenStatus::Removed => "removed upstream",
            HandwrittenStatus::Renamed => "renamed upstream",
        }
    }
}

impl RenameHow {
    fn label(self) -> &'static str {
        match self {
            RenameHow::SameMethodAndPath => "same method and path",
            RenameHow::SameOperationId => "same operationId",
        }
    }
}

impl Operation {
    fn endpoint(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

impl ChangedOperation {
    fn endpoint(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

impl ParameterIssue {
    fn message(&self) -> String {
        match self.problem {
            ParameterProblem::Undescribed => format!(
                "tool `{}` ({}): argument `{}` has no description in its params or the glossary",
                self.tool, self.operation, self.parameter
            ),
            ParameterProblem::Unknown => format!(
                "tool `{}` ({}): params describes `{}`, which the operation no longer has",
                self.tool, self.operation, self.parameter
            ),
        }
    }
}

impl Report {
    /// The stable JSON rendering (pretty-printed, final newline).
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_else(|e| {
            // Serializing these plain types cannot fail; keep the output JSON anyway.
            serde_json::json!({ "schema_version": SCHEMA_VERSION, "error": e.to_string() })
                .to_string()
        });
        text.push('\n');
        text
    }

    /// The plain-text rendering for terminals and CI logs; the summary line comes last.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let what = match self.mode {
            Mode::Check => format!(
                "drift: upstream {} vs {} (manifest {})",
                self.upstream, self.specs_dir, self.manifest
            ),
            Mode::Sync => format!(
                "sync-specs: {} before vs after the sync from {} (manifest {})",
                self.specs_dir, self.upstream, self.manifest
            ),
        };
        let _ = writeln!(out, "{what}");
        for spec in &self.specs {
            let _ = writeln!(out);
            text_spec(&mut out, self.mode, spec);
        }
        if !self.actions.is_empty() {
            let _ = writeln!(out, "\nAction items:");
            for (i, action) in self.actions.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "  {}. [{}] {}: {}",
                    i + 1,
                    action.kind.label(),
                    action.spec,
                    action.message
                );
            }
        }
        let _ = writeln!(out, "\n{}", self.summary);
        out
    }

    /// A Markdown rendering to paste into a pull request: the summary line first, then one
    /// section per spec.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "**{}**", self.summary);
        let _ = writeln!(out);
        let _ = match self.mode {
            Mode::Check => writeln!(
                out,
                "Upstream {} compared with {} and the manifest {}.",
                code(&self.upstream),
                code(&self.specs_dir),
                code(&self.manifest)
            ),
            Mode::Sync => writeln!(
                out,
                "{} before and after `cargo xtask sync-specs --from {}`, and the manifest {}.",
                code(&self.specs_dir),
                self.upstream.replace('`', "'"),
                code(&self.manifest)
            ),
        };
        if !self.actions.is_empty() {
            let _ = writeln!(out, "\n## Action items\n");
            for action in &self.actions {
                let _ = writeln!(
                    out,
                    "- [ ] **{}** `{}`: {}",
                    action.kind.label(),
                    action.spec,
                    md_text(&action.message)
                );
            }
        }
        for spec in &self.specs {
            let _ = writeln!(out);
            md_spec(&mut out, self.mode, spec);
        }
        out
    }
}

fn text_spec(out: &mut String, mode: Mode, spec: &SpecReport) {
    let _ = writeln!(
        out,
        "== {} ({}): {} operations {}, {} {}",
        spec.key,
        spec.file,
        spec.operations.committed,
        if mode == Mode::Check {
            "committed"
        } else {
            "before"
        },
        spec.operations.upstream,
        if mode == Mode::Check {
            "upstream"
        } else {
            "after"
        },
    );
    match mode {
        Mode::Check => {
            let _ = writeln!(out, "   committed: {}", spec.committed);
            let _ = writeln!(out, "   upstream:  {}", spec.upstream);
        }
        Mode::Sync => {
            let _ = writeln!(out, "   file: {}", spec.committed);
        }
    }
    if spec.specs_match {
        let _ = writeln!(
            out,
            "specs: {}",
            match mode {
                Mode::Check => "match upstream",
                Mode::Sync => "unchanged by the sync",
            }
        );
    } else {
        let _ = writeln!(
            out,
            "specs: {}",
            match (mode, spec.committed_missing) {
                (Mode::Check, true) => "no committed file; `cargo xtask sync-specs` would write it",
                (Mode::Check, false) =>
                    "differ from upstream; `cargo xtask sync-specs` would change:",
                (Mode::Sync, _) => "the sync changed:",
            }
        );
        if !spec.added.is_empty() {
            let _ = writeln!(out, "  added upstream ({}):", spec.added.len());
            for op in &spec.added {
                let _ = writeln!(
                    out,
                    "    + {} {}  [{}]",
                    op.id,
                    op.endpoint(),
                    op.manifest.as_deref().unwrap_or("not in the manifest")
                );
            }
        }
        if !spec.removed.is_empty() {
            let _ = writeln!(out, "  removed upstream ({}):", spec.removed.len());
            for op in &spec.removed {
                let _ = writeln!(
                    out,
                    "    - {} {}  [{}]",
                    op.id,
                    op.endpoint(),
                    op.manifest.as_deref().unwrap_or("not in the manifest")
                );
            }
        }
        if !spec.renamed.is_empty() {
            let _ = writeln!(out, "  renamed upstream ({}):", spec.renamed.len());
            for r in &spec.renamed {
                let _ = writeln!(
                    out,
                    "    ~ {} {} -> {} {}  ({})",
                    r.from.id,
                    r.from.endpoint(),
                    r.to.id,
                    r.to.endpoint(),
                    r.how.label()
                );
                for c in &r.changes {
                    let _ = writeln!(out, "        {}", c.message);
                }
            }
        }
        if !spec.changed.is_empty() {
            let _ = writeln!(out, "  changed ({}):", spec.changed.len());
            for op in &spec.changed {
                let behind = if op.handwritten.is_empty() {
                    String::new()
                } else {
                    format!("  [hand-written: {}]", op.handwritten.join(", "))
                };
                let _ = writeln!(out, "    * {} {}{behind}", op.id, op.endpoint());
                for c in &op.changes {
                    let _ = writeln!(out, "        {}", c.message);
                }
            }
        }
        if !spec.other_changes.is_empty() {
            let _ = writeln!(
                out,
                "  outside the operations ({}):",
                spec.other_changes.len()
            );
            for c in &spec.other_changes {
                let _ = writeln!(out, "    {c}");
            }
        }
    }
    let m = &spec.manifest;
    if m.unmentioned.is_empty() && m.stale.is_empty() && m.parameters.is_empty() {
        let _ = writeln!(out, "manifest: accounts for every upstream operation");
    } else {
        let _ = writeln!(out, "manifest vs upstream:");
        if !m.unmentioned.is_empty() {
            let _ = writeln!(
                out,
                "  not in the manifest ({}; expose, or exclude with a reason):",
                m.unmentioned.len()
            );
            for op in &m.unmentioned {
                let _ = writeln!(out, "    {} {}", op.id, op.endpoint());
            }
        }
        if !m.stale.is_empty() {
            let _ = writeln!(
                out,
                "  named by the manifest, gone upstream ({}; the build would fail):",
                m.stale.len()
            );
            for s in &m.stale {
                let renamed = s
                    .renamed_to
                    .as_deref()
                    .map(|to| format!("; renamed upstream to {to}"))
                    .unwrap_or_default();
                let _ = writeln!(out, "    {} [{}]{renamed}", s.id, s.manifest);
            }
        }
        if !m.parameters.is_empty() {
            let _ = writeln!(
                out,
                "  argument descriptions ({}; the build would fail):",
                m.parameters.len()
            );
            for p in &m.parameters {
                let _ = writeln!(out, "    {}", p.message());
            }
        }
    }
    if !spec.handwritten.is_empty() {
        let _ = writeln!(out, "hand-written tools ({}):", spec.handwritten.len());
        for h in &spec.handwritten {
            text_handwritten(out, h);
        }
    }
}

fn text_handwritten(out: &mut String, h: &HandwrittenChange) {
    let renamed = h
        .renamed_to
        .as_deref()
        .map(|to| format!(" to {to}"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "  {} ({}): {}{renamed}",
        h.operation,
        h.tools.join(", "),
        h.status.label()
    );
    if !h.properties_added.is_empty() {
        let _ = writeln!(out, "    new: {}", h.properties_added.join(", "));
    }
    if !h.properties_removed.is_empty() {
        let _ = writeln!(out, "    removed: {}", h.properties_removed.join(", "));
    }
    for c in &h.changes {
        let _ = writeln!(out, "      {}", c.message);
    }
}

/// A Markdown code span holding `s` whatever backticks it contains.
fn code(s: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for ch in s.chars() {
        if ch == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat(longest + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}

/// Text for a table cell or list item: `|` escaped, line breaks removed, `<` neutralised.
fn md_text(s: &str) -> String {
    s.replace('|', "\\|")
        .replace(['\n', '\r'], " ")
        .replace('<', "&lt;")
}

/// A code span for a table cell.
fn md_code(s: &str) -> String {
    code(s).replace('|', "\\|")
}

fn md_spec(out: &mut String, mode: Mode, spec: &SpecReport) {
    let _ = writeln!(out, "## {} ({})", spec.key, code(&spec.file));
    let _ = writeln!(out);
    let (before, after) = match mode {
        Mode::Check => ("committed", "upstream"),
        Mode::Sync => ("before the sync", "after"),
    };
    let _ = writeln!(
        out,
        "{} operations {before}, {} {after}.",
        spec.operations.committed, spec.operations.upstream
    );
    let _ = writeln!(out);
    if spec.specs_match {
        let _ = writeln!(
            out,
            "{}",
            match mode {
                Mode::Check => "The committed spec matches upstream.",
                Mode::Sync => "The sync left the spec unchanged.",
            }
        );
    } else {
        let _ = writeln!(out, "### Spec changes");
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{}",
            match (mode, spec.committed_missing) {
                (Mode::Check, true) =>
                    "No committed file: `cargo xtask sync-specs` would write it.",
                (Mode::Check, false) =>
                    "The committed spec differs from upstream: `cargo xtask sync-specs` would make these changes.",
                (Mode::Sync, _) => "The sync made these changes.",
            }
        );
        let rows: Vec<(String, &Operation, Option<String>)> = spec
            .added
            .iter()
            .map(|o| ("added".to_string(), o, None))
            .chain(
                spec.removed
                    .iter()
                    .map(|o| ("removed".to_string(), o, None)),
            )
            .chain(spec.renamed.iter().map(|r| {
                (
                    format!("renamed ({})", r.how.label()),
                    &r.to,
                    Some(format!("was {} {}", md_code(&r.from.id), r.from.endpoint())),
                )
            }))
            .collect();
        if !rows.is_empty() {
            let _ = writeln!(out);
            let _ = writeln!(out, "| Change | Operation | Endpoint | Manifest |");
            let _ = writeln!(out, "|---|---|---|---|");
            for (what, op, note) in rows {
                let manifest = op.manifest.as_deref().unwrap_or("not in the manifest");
                let what = match note {
                    Some(note) => format!("{what}; {}", md_text(&note)),
                    None => what,
                };
                let _ = writeln!(
                    out,
                    "| {what} | {} | {} | {} |",
                    md_code(&op.id),
                    md_code(&op.endpoint()),
                    md_text(manifest)
                );
            }
        }
        let with_changes: Vec<(&str, String, &[Change])> = spec
            .renamed
            .iter()
            .filter(|r| !r.changes.is_empty())
            .map(|r| (r.to.id.as_str(), r.to.endpoint(), r.changes.as_slice()))
            .chain(
                spec.changed
                    .iter()
                    .map(|c| (c.id.as_str(), c.endpoint(), &c.changes[..])),
            )
            .collect();
        if !with_changes.is_empty() {
            let _ = writeln!(out);
            let _ = writeln!(out, "#### Changed operations ({})", with_changes.len());
            let _ = writeln!(out);
            for (id, endpoint, changes) in with_changes {
                let _ = writeln!(out, "- {} {}", code(id), code(&endpoint));
                for c in changes {
                    let _ = writeln!(out, "  - {}", md_change(c));
                }
            }
        }
        if !spec.other_changes.is_empty() {
            let _ = writeln!(out);
            let _ = writeln!(out, "#### Outside the operations");
            let _ = writeln!(out);
            for c in &spec.other_changes {
                let _ = writeln!(out, "- {}", md_text(c));
            }
        }
    }
    let m = &spec.manifest;
    let _ = writeln!(out);
    let _ = writeln!(out, "### Manifest");
    let _ = writeln!(out);
    if m.unmentioned.is_empty() && m.stale.is_empty() && m.parameters.is_empty() {
        let _ = writeln!(out, "Accounts for every upstream operation.");
    }
    if !m.unmentioned.is_empty() {
        let _ = writeln!(
            out,
            "Not in the manifest (expose, or exclude with a reason):\n"
        );
        for op in &m.unmentioned {
            let _ = writeln!(out, "- {} {}", code(&op.id), code(&op.endpoint()));
        }
        let _ = writeln!(out);
    }
    if !m.stale.is_empty() {
        let _ = writeln!(
            out,
            "Named by the manifest, gone upstream (the build would fail):\n"
        );
        for s in &m.stale {
            let renamed = s
                .renamed_to
                .as_deref()
                .map(|to| format!("; renamed upstream to {}", code(to)))
                .unwrap_or_default();
            let _ = writeln!(out, "- {} ({}){renamed}", code(&s.id), md_text(&s.manifest));
        }
        let _ = writeln!(out);
    }
    if !m.parameters.is_empty() {
        let _ = writeln!(out, "Argument descriptions (the build would fail):\n");
        for p in &m.parameters {
            let _ = writeln!(out, "- {}", md_text(&p.message()));
        }
        let _ = writeln!(out);
    }
    if !spec.handwritten.is_empty() {
        let _ = writeln!(out, "\n### Hand-written tools");
        let _ = writeln!(out);
        for h in &spec.handwritten {
            let renamed = h
                .renamed_to
                .as_deref()
                .map(|to| format!(" to {}", code(to)))
                .unwrap_or_default();
            let tools: Vec<String> = h.tools.iter().map(|t| code(t)).collect();
            let _ = writeln!(
                out,
                "- {} ({}): **{}**{renamed}",
                code(&h.operation),
                tools.join(", "),
                h.status.label()
            );
            if !h.properties_added.is_empty() {
                let added: Vec<String> = h.properties_added.iter().map(|p| code(p)).collect();
                let _ = writeln!(out, "  - new: {}", added.join(", "));
            }
            if !h.properties_removed.is_empty() {
                let removed: Vec<String> = h.properties_removed.iter().map(|p| code(p)).collect();
                let _ = writeln!(out, "  - removed: {}", removed.join(", "));
            }
            for c in &h.changes {
                let _ = writeln!(out, "  - {}", md_change(c));
            }
        }
    }
}

/// A change as a Markdown list item: the path as code, then the rest of the message.
fn md_change(c: &Change) -> String {
    let rest = c
        .message
        .strip_prefix(&c.path)
        .and_then(|r| r.strip_prefix(": "))
        .unwrap_or(&c.message);
    format!("{}: {}", code(&c.path), md_text(rest))
}
