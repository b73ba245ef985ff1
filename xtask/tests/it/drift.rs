//! `cargo xtask drift`: small hand-written fixture pairs (one kind of change each), the real
//! upstream vintages checked against an independent computation, and the command line.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};
use tempfile::TempDir;
use xtask::drift::{
    self, ActionKind, Area, ChangeKind, HandwrittenStatus, ParameterProblem,
    RELATIVE_TIME_OPERATIONS, RELATIVE_TIME_SPEC, RELATIVE_TIME_TOOLS, RenameHow, Report,
    SpecReport,
};
use xtask::source::SPEC_NAMES;

// ----- helpers -------------------------------------------------------------------------------

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/drift")
}

/// A temporary workspace: `specs/` (committed specs and a manifest) and `upstream/`.
struct Setup {
    _tmp: TempDir,
    specs: PathBuf,
    manifest: PathBuf,
    upstream: PathBuf,
}

impl Setup {
    fn check(&self) -> Report {
        drift::check(self.upstream.to_str().unwrap(), &self.specs, &self.manifest).unwrap()
    }
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// Committed specs: `base/` imported; upstream: `base/` with the files of `case` on top.
fn fixture_case(case: &str) -> Setup {
    let tmp = TempDir::new().unwrap();
    let specs = tmp.path().join("specs");
    xtask::sync_specs::run(fixtures().join("base").to_str().unwrap(), &specs).unwrap();
    let manifest = specs.join("toolsets.toml");
    fs::copy(fixtures().join("toolsets.toml"), &manifest).unwrap();
    let upstream = tmp.path().join("upstream");
    copy_dir(&fixtures().join("base"), &upstream);
    if case != "base" {
        copy_dir(&fixtures().join(case), &upstream);
    }
    Setup {
        _tmp: tmp,
        specs,
        manifest,
        upstream,
    }
}

fn spec<'a>(report: &'a Report, key: &str) -> &'a SpecReport {
    report.specs.iter().find(|s| s.key == key).unwrap()
}

/// The action items as (kind, spec, operation).
fn actions(report: &Report) -> Vec<(ActionKind, &str, Option<&str>)> {
    report
        .actions
        .iter()
        .map(|a| (a.kind, a.spec.as_str(), a.operation.as_deref()))
        .collect()
}

fn ids<'a>(ops: impl IntoIterator<Item = &'a drift::Operation>) -> Vec<&'a str> {
    ops.into_iter().map(|o| o.id.as_str()).collect()
}

// ----- one kind of change per fixture --------------------------------------------------------

#[test]
fn identical_documents_are_in_sync() {
    let report = fixture_case("base").check();
    assert!(report.in_sync, "{}", report.to_text());
    assert_eq!(report.summary, "in sync");
    assert_eq!(report.action_count, 0);
    assert!(report.specs.iter().all(|s| s.specs_match));
    assert!(report.to_text().ends_with("\nin sync\n"));
}

#[test]
fn a_parameter_retyped() {
    let report = fixture_case("param-retyped").check();
    let trading = spec(&report, "trading");
    assert_eq!(trading.changed.len(), 1);
    let op = &trading.changed[0];
    assert_eq!(op.id, "getOrders");
    assert_eq!(op.changes.len(), 1, "{:?}", op.changes);
    let c = &op.changes[0];
    assert_eq!(
        (c.area, c.kind, c.path.as_str()),
        (Area::Parameter, ChangeKind::Type, "query.limit")
    );
    assert_eq!(
        (c.from.clone(), c.to.clone()),
        (Some(json!("integer")), Some(json!("string")))
    );
    assert_eq!(c.message, "query.limit: type integer -> string");
    assert!(spec(&report, "market-data").specs_match);
    // A change to a generated operation is a detail of the sync item only.
    assert_eq!(actions(&report), [(ActionKind::Sync, "trading", None)]);
    assert_eq!(report.summary, "1 item needs action");
}

#[test]
fn an_enum_value_removed() {
    let report = fixture_case("enum-value-removed").check();
    let op = &spec(&report, "trading").changed[0];
    assert_eq!(op.id, "getOrders");
    let c = &op.changes[0];
    assert_eq!(
        (c.kind, c.path.as_str()),
        (ChangeKind::Enum, "query.status")
    );
    assert_eq!(c.enum_removed, [json!("all")]);
    assert!(c.enum_added.is_empty());
    assert_eq!(c.message, "query.status: enum - \"all\"");
    assert_eq!(actions(&report), [(ActionKind::Sync, "trading", None)]);
}

#[test]
fn a_required_flag_flipped_behind_the_relative_time_tools() {
    let report = fixture_case("required-flipped").check();
    let md = spec(&report, "market-data");
    let op = &md.changed[0];
    assert_eq!(op.id, "StockBars");
    assert_eq!(op.handwritten, [RELATIVE_TIME_TOOLS]);
    let c = &op.changes[0];
    assert_eq!(
        (c.kind, c.path.as_str(), c.from.clone(), c.to.clone()),
        (
            ChangeKind::Required,
            "query.timeframe",
            Some(json!(false)),
            Some(json!(true))
        )
    );
    assert_eq!(c.message, "query.timeframe: optional -> required");
    assert_eq!(md.handwritten.len(), 1);
    assert_eq!(md.handwritten[0].status, HandwrittenStatus::Changed);
    assert_eq!(
        actions(&report),
        [
            (ActionKind::Sync, "market-data", None),
            (ActionKind::Handwritten, "market-data", Some("StockBars")),
        ]
    );
}

#[test]
fn hand_written_entries_in_the_manifest_take_over_from_the_relative_time_list() {
    let s = fixture_case("required-flipped");
    let mut manifest = fs::read_to_string(&s.manifest).unwrap();
    manifest.push_str(
        "\n[handwritten.get_bars_relative]\ntoolset = \"stock-data\"\n\
         replaces = \"market-data:StockBars\"\ndescription = \"Bars.\"\n\
         annotations = { read_only = true, destructive = false, idempotent = true, open_world = true }\n",
    );
    fs::write(&s.manifest, manifest).unwrap();
    let report = s.check();
    let md = spec(&report, "market-data");
    assert_eq!(md.changed[0].handwritten, ["get_bars_relative"]);
    assert_eq!(md.handwritten[0].tools, ["get_bars_relative"]);
    assert_eq!(
        actions(&report)[1],
        (ActionKind::Handwritten, "market-data", Some("StockBars"))
    );
}

#[test]
fn a_property_added_to_a_hand_written_tools_request_body() {
    let report = fixture_case("handwritten-property-added").check();
    let trading = spec(&report, "trading");
    let op = &trading.changed[0];
    assert_eq!(op.id, "postOrder");
    assert_eq!(op.handwritten, ["place_stock_order"]);
    let c = &op.changes[0];
    assert_eq!(
        (c.area, c.kind, c.path.as_str(), c.required),
        (
            Area::RequestBody,
            ChangeKind::Added,
            "requestBody.position_intent",
            Some(false)
        )
    );
    let hw = &trading.handwritten[0];
    assert_eq!(hw.operation, "postOrder");
    assert_eq!(hw.tools, ["place_stock_order"]);
    assert_eq!(hw.properties_added, ["requestBody.position_intent"]);
    assert!(hw.properties_removed.is_empty());
    assert_eq!(
        actions(&report),
        [
            (ActionKind::Sync, "trading", None),
            (ActionKind::Handwritten, "trading", Some("postOrder")),
        ]
    );
    let text = report.to_text();
    assert!(text.contains("hand-written tools (1):"), "{text}");
    assert!(text.contains("new: requestBody.position_intent"), "{text}");
}

#[test]
fn an_operation_renamed() {
    let report = fixture_case("operation-renamed").check();
    let trading = spec(&report, "trading");
    assert!(trading.added.is_empty() && trading.removed.is_empty());
    let r = &trading.renamed[0];
    assert_eq!(
        (r.from.id.as_str(), r.to.id.as_str(), r.how),
        ("getClock", "LegacyClock", RenameHow::SameMethodAndPath)
    );
    assert_eq!(ids(&trading.manifest.unmentioned), ["LegacyClock"]);
    let stale = &trading.manifest.stale[0];
    assert_eq!(stale.id, "getClock");
    assert_eq!(stale.manifest, "tool get_clock");
    assert_eq!(stale.renamed_to.as_deref(), Some("LegacyClock"));
    assert_eq!(
        actions(&report),
        [
            (ActionKind::Sync, "trading", None),
            (ActionKind::Stale, "trading", Some("getClock")),
            (ActionKind::Unmentioned, "trading", Some("LegacyClock")),
        ]
    );
    assert!(
        report.actions[1]
            .message
            .contains("renamed upstream to `LegacyClock`")
    );
}

#[test]
fn an_operation_moved_to_a_new_path() {
    let report = fixture_case("operation-moved").check();
    let trading = spec(&report, "trading");
    let r = &trading.renamed[0];
    assert_eq!(r.how, RenameHow::SameOperationId);
    assert_eq!(
        (r.from.id.as_str(), r.to.id.as_str()),
        ("getClock", "getClock")
    );
    assert_eq!(
        (r.from.path.as_str(), r.to.path.as_str()),
        ("/v2/clock", "/v3/clock")
    );
    assert!(r.changes.is_empty());
    assert!(trading.changed.is_empty());
    // The manifest is keyed by operationId, so only the sync is needed.
    assert_eq!(actions(&report), [(ActionKind::Sync, "trading", None)]);
}

#[test]
fn an_operation_added_that_the_manifest_does_not_mention() {
    let report = fixture_case("operation-added").check();
    let md = spec(&report, "market-data");
    assert_eq!(ids(&md.added), ["News"]);
    assert_eq!(md.added[0].manifest, None);
    assert_eq!(ids(&md.manifest.unmentioned), ["News"]);
    assert_eq!(
        actions(&report),
        [
            (ActionKind::Sync, "market-data", None),
            (ActionKind::Unmentioned, "market-data", Some("News")),
        ]
    );
}

#[test]
fn a_change_inside_a_shared_component_shows_on_every_operation_using_it() {
    let report = fixture_case("component-enum-added").check();
    let trading = spec(&report, "trading");
    let changed: BTreeMap<&str, Vec<&str>> = trading
        .changed
        .iter()
        .map(|o| {
            (
                o.id.as_str(),
                o.changes.iter().map(|c| c.message.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(
        changed,
        BTreeMap::from([
            ("getOrders", vec!["responses.200[].status: enum + \"held\""]),
            ("postOrder", vec!["responses.200.status: enum + \"held\""]),
        ])
    );
    assert_eq!(trading.other_changes, ["components.schemas.Order: changed"]);
    assert_eq!(
        actions(&report),
        [
            (ActionKind::Sync, "trading", None),
            (ActionKind::Handwritten, "trading", Some("postOrder")),
        ]
    );
}

#[test]
fn tool_arguments_the_build_would_reject() {
    let report = fixture_case("tool-parameter-added").check();
    let issues = &spec(&report, "trading").manifest.parameters;
    assert_eq!(issues.len(), 1);
    assert_eq!(
        (
            issues[0].tool.as_str(),
            issues[0].parameter.as_str(),
            issues[0].problem
        ),
        ("get_orders", "after", ParameterProblem::Undescribed)
    );
    assert_eq!(
        actions(&report)[1],
        (
            ActionKind::UndescribedParameter,
            "trading",
            Some("getOrders")
        )
    );

    let report = fixture_case("tool-parameter-removed").check();
    let issues = &spec(&report, "trading").manifest.parameters;
    assert_eq!(issues.len(), 1);
    assert_eq!(
        (issues[0].parameter.as_str(), issues[0].problem),
        ("status", ParameterProblem::Unknown)
    );
    assert_eq!(
        actions(&report)[1],
        (ActionKind::UnknownParameter, "trading", Some("getOrders"))
    );
}

#[test]
fn recursive_schemas_are_compared_once() {
    let doc = |status: &[&str]| {
        json!({
            "openapi": "3.0.3",
            "paths": { "/nodes": { "get": {
                "operationId": "getNode",
                "responses": { "200": { "description": "", "content": { "application/json": {
                    "schema": { "$ref": "#/components/schemas/Node" }
                } } } }
            } } },
            "components": { "schemas": {
                "Node": {
                    "type": "object",
                    "properties": {
                        "status": { "type": "string", "enum": status },
                        "children": { "type": "array", "items": { "$ref": "#/components/schemas/Node" } },
                        "wrapped": { "$ref": "#/components/schemas/Wrapper" }
                    }
                },
                "Wrapper": { "allOf": [
                    { "$ref": "#/components/schemas/Wrapper" },
                    { "$ref": "#/components/schemas/Node" }
                ] }
            } }
        })
    };
    let old = doc(&["a", "b"]);
    let new = doc(&["a", "c"]);
    let old_ops = drift::ops::operations(&old);
    let new_ops = drift::ops::operations(&new);
    let changes = drift::diff::diff_operation(&old, &old_ops["getNode"], &new, &new_ops["getNode"]);
    let messages: Vec<&str> = changes.iter().map(|c| c.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "responses.200.status: enum + \"c\", - \"b\"",
            // `wrapped` merges Node through a different reference chain: reported once there,
            // then cut.
            "responses.200.wrapped.status: enum + \"c\", - \"b\"",
        ]
    );
}

#[test]
fn markdown_starts_with_the_summary_and_has_a_heading_per_spec() {
    let report = fixture_case("handwritten-property-added").check();
    let md = report.to_markdown();
    assert!(md.starts_with("**2 items need action**\n"), "{md}");
    assert!(md.contains("\n## trading (`trading-api.json`)\n"), "{md}");
    assert!(
        md.contains("\n## market-data (`market-data-api.json`)\n"),
        "{md}"
    );
    assert!(md.contains("\n### Hand-written tools\n"), "{md}");
    assert!(md.contains("- [ ] **hand-written** `trading`"), "{md}");
}

#[test]
fn the_json_format_round_trips() {
    let report = fixture_case("operation-renamed").check();
    let text = report.to_json();
    let value: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["schema_version"], 1);
    assert_eq!(
        value["specs"][0]["renamed"][0]["how"],
        "same_method_and_path"
    );
    let back: Report = serde_json::from_str(&text).unwrap();
    assert_eq!(back, report);
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let s = fixture_case("base");
    let missing = s.upstream.join("nope");
    let e = drift::check(missing.to_str().unwrap(), &s.specs, &s.manifest).unwrap_err();
    assert!(e.to_string().contains("not a folder"), "{e}");

    let e = drift::check(
        s.upstream.to_str().unwrap(),
        &s.specs,
        &s.specs.join("none.toml"),
    )
    .unwrap_err();
    assert!(e.to_string().contains("cannot read the manifest"), "{e}");

    fs::write(s.specs.join("trading-api.json"), "{ not json").unwrap();
    let e = drift::check(s.upstream.to_str().unwrap(), &s.specs, &s.manifest).unwrap_err();
    assert!(
        e.to_string().contains("cannot read the committed spec"),
        "{e}"
    );

    // A committed spec that is missing only needs a sync.
    fs::remove_file(s.specs.join("trading-api.json")).unwrap();
    let report = drift::check(s.upstream.to_str().unwrap(), &s.specs, &s.manifest).unwrap();
    assert!(spec(&report, "trading").committed_missing);
    assert_eq!(actions(&report), [(ActionKind::Sync, "trading", None)]);

    fs::write(s.upstream.join("market-data-api.json"), "openapi: [").unwrap();
    fs::rename(
        s.upstream.join("market-data-api.json"),
        s.upstream.join("market-data-api.yaml"),
    )
    .unwrap();
    let e = drift::check(s.upstream.to_str().unwrap(), &s.specs, &s.manifest).unwrap_err();
    assert!(e.to_string().contains("invalid YAML"), "{e}");
}

// ----- the real vintages ---------------------------------------------------------------------

/// `../shared/specs/alpaca` beside the workspace, when it is there.
fn vintages_root() -> Option<PathBuf> {
    let root = xtask::workspace_root().join("../shared/specs/alpaca");
    if root.is_dir() {
        Some(root)
    } else {
        println!("skipping: ../shared/specs not found");
        None
    }
}

const VINTAGES: [&str; 3] = ["2025-04", "2026-06", "2026-10"];

/// Spec key -> document name, as in the real manifest.
const SPECS: [(&str, &str); 2] = [
    ("trading", "trading-api"),
    ("market-data", "market-data-api"),
];

/// YAML -> JSON with every mapping key as a string (plain serde, not the importer).
fn yaml_to_json(value: serde_yaml::Value) -> Value {
    use serde_yaml::Value as Y;
    match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::to_value(&n).unwrap_or(Value::Null),
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(yaml_to_json).collect()),
        Y::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        Y::String(s) => s,
                        other => serde_yaml::to_string(&other).unwrap().trim().to_string(),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        Y::Tagged(t) => yaml_to_json(t.value),
    }
}

/// A raw upstream document, read with serde_json or serde_yaml only.
fn raw(dir: &Path, name: &str) -> Value {
    let json = dir.join(format!("{name}.json"));
    if json.is_file() {
        return serde_json::from_str(&fs::read_to_string(json).unwrap()).unwrap();
    }
    let text = fs::read_to_string(dir.join(format!("{name}.yaml"))).unwrap();
    yaml_to_json(serde_yaml::from_str(&text).unwrap())
}

#[derive(Debug)]
struct RawOp {
    place: (String, String),
    /// (in, name) of every parameter, path item's and operation's.
    params: BTreeSet<(String, String)>,
    has_body: bool,
}

/// Operations by id, with their parameter names (a `$ref` looked up in components/parameters).
fn raw_ops(doc: &Value) -> BTreeMap<String, RawOp> {
    let mut out = BTreeMap::new();
    let methods = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if !methods.contains(&method.as_str()) {
                continue;
            }
            let mut params = BTreeSet::new();
            for list in [&item["parameters"], &op["parameters"]] {
                for p in list.as_array().into_iter().flatten() {
                    let p = match p["$ref"].as_str() {
                        Some(r) => {
                            let name = r.strip_prefix("#/components/parameters/").unwrap();
                            &doc["components"]["parameters"][name]
                        }
                        None => p,
                    };
                    params.insert((
                        p["in"].as_str().unwrap().to_string(),
                        p["name"].as_str().unwrap().to_string(),
                    ));
                }
            }
            let id = op["operationId"].as_str().map_or_else(
                || format!("{} {path}", method.to_uppercase()),
                str::to_string,
            );
            out.insert(
                id,
                RawOp {
                    place: (method.clone(), path.clone()),
                    params,
                    has_body: op.get("requestBody").is_some(),
                },
            );
        }
    }
    out
}

fn toml_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// How many operations per spec the generated manifest exposes (the rest are excluded).
const EXPOSED: usize = 3;

/// The operations a generated manifest exposes: the first few without a request body.
fn exposed(ops: &BTreeMap<String, RawOp>) -> Vec<&String> {
    ops.iter()
        .filter(|(_, op)| !op.has_body)
        .map(|(id, _)| id)
        .take(EXPOSED)
        .collect()
}

/// A manifest accounting for exactly `ops` (spec key -> operations): a few exposed with every
/// path and query parameter described, the rest excluded with reason "test".
fn manifest_for(ops: &BTreeMap<&str, BTreeMap<String, RawOp>>) -> String {
    let mut out = String::new();
    for (key, name) in SPECS {
        out += &format!("[specs.{}]\nfile = \"{name}.json\"\n\n", toml_str(key));
    }
    out += "[toolsets.test]\ndescription = \"Test.\"\ndefault = true\n\n";
    for (key, spec_ops) in ops {
        let exposed = exposed(spec_ops);
        for (i, (id, op)) in spec_ops.iter().enumerate() {
            out += &format!("[operations.{}.{}]\n", toml_str(key), toml_str(id));
            if exposed.contains(&id) {
                out += &format!(
                    "tool = \"t{i}\"\ntoolset = \"test\"\ndescription = \"Test.\"\n\
                     annotations = {{ read_only = true, destructive = false, idempotent = true, open_world = true }}\n"
                );
                let described: Vec<String> = op
                    .params
                    .iter()
                    .filter(|(place, _)| place == "query" || place == "path")
                    .map(|(_, name)| format!("{} = \"test\"", toml_str(name)))
                    .collect();
                out += &format!("params = {{ {} }}\n", described.join(", "));
            } else {
                out += "excluded = \"test\"\n";
            }
            out += "\n";
        }
    }
    out
}

/// Imports `vintage` into `<tmp>/specs` with a manifest accounting for exactly its operations.
fn committed(root: &Path, vintage: &str, tmp: &Path) -> (PathBuf, PathBuf) {
    let specs = tmp.join("specs");
    xtask::sync_specs::run(root.join(vintage).to_str().unwrap(), &specs).unwrap();
    let ops: BTreeMap<&str, BTreeMap<String, RawOp>> = SPECS
        .iter()
        .map(|(key, name)| (*key, raw_ops(&raw(&root.join(vintage), name))))
        .collect();
    let manifest = specs.join("toolsets.toml");
    fs::write(&manifest, manifest_for(&ops)).unwrap();
    (specs, manifest)
}

/// Parameter additions and removals the checker reports for one operation, as `in.name`.
fn reported_params(changes: &[drift::Change], kind: ChangeKind) -> BTreeSet<String> {
    changes
        .iter()
        .filter(|c| c.area == Area::Parameter && c.kind == kind)
        .map(|c| c.path.clone())
        .collect()
}

fn dotted(params: impl IntoIterator<Item = (String, String)>) -> BTreeSet<String> {
    params
        .into_iter()
        .map(|(i, n)| format!("{i}.{n}"))
        .collect()
}

/// Checks `new` against `old` imported as committed, and compares the report with what the raw
/// documents say.
fn check_vintages(root: &Path, old: &str, new: &str) {
    let tmp = TempDir::new().unwrap();
    let (specs, manifest) = committed(root, old, tmp.path());
    let upstream = root.join(new);
    let report = drift::check(upstream.to_str().unwrap(), &specs, &manifest).unwrap();
    let what = format!("{old} committed, {new} upstream");
    assert_eq!(report.action_count, report.actions.len());
    assert_eq!(report.in_sync, report.actions.is_empty());

    for (key, name) in SPECS {
        let old_ops = raw_ops(&raw(&root.join(old), name));
        let new_ops = raw_ops(&raw(&root.join(new), name));
        let s = spec(&report, key);
        let at = format!("{what}, {key}");
        let old_ids: BTreeSet<&String> = old_ops.keys().collect();
        let new_ids: BTreeSet<&String> = new_ops.keys().collect();
        let gone: BTreeSet<&String> = old_ids.difference(&new_ids).copied().collect();
        let fresh: BTreeSet<&String> = new_ids.difference(&old_ids).copied().collect();

        // Renames: same method and path under a new id, or the same id at a new place.
        let mut expected_renames = BTreeSet::new();
        for id in &gone {
            if let Some(to) = fresh
                .iter()
                .find(|n| new_ops[**n].place == old_ops[*id].place)
            {
                expected_renames.insert((
                    id.to_string(),
                    to.to_string(),
                    RenameHow::SameMethodAndPath,
                ));
            }
        }
        for id in old_ids.intersection(&new_ids) {
            if old_ops[*id].place != new_ops[*id].place {
                expected_renames.insert((
                    id.to_string(),
                    id.to_string(),
                    RenameHow::SameOperationId,
                ));
            }
        }
        let renames: BTreeSet<(String, String, RenameHow)> = s
            .renamed
            .iter()
            .map(|r| (r.from.id.clone(), r.to.id.clone(), r.how))
            .collect();
        assert_eq!(renames, expected_renames, "{at}: renamed");
        let renamed_from: BTreeSet<&String> = expected_renames.iter().map(|r| &r.0).collect();
        let renamed_to: BTreeSet<&String> = expected_renames.iter().map(|r| &r.1).collect();

        let added: BTreeSet<&str> = ids(&s.added).into_iter().collect();
        let expected: BTreeSet<&str> = fresh
            .iter()
            .filter(|id| !renamed_to.contains(**id))
            .map(|id| id.as_str())
            .collect();
        assert_eq!(added, expected, "{at}: added");
        let removed: BTreeSet<&str> = ids(&s.removed).into_iter().collect();
        let expected: BTreeSet<&str> = gone
            .iter()
            .filter(|id| !renamed_from.contains(**id))
            .map(|id| id.as_str())
            .collect();
        assert_eq!(removed, expected, "{at}: removed");

        // Parameters added and removed, on every operation in both.
        let changes_of = |id: &str| -> Vec<drift::Change> {
            let changed = s
                .changed
                .iter()
                .find(|c| c.id == id)
                .map(|c| c.changes.clone());
            let renamed = s
                .renamed
                .iter()
                .find(|r| r.from.id == id)
                .map(|r| r.changes.clone());
            changed.or(renamed).unwrap_or_default()
        };
        for id in old_ids.intersection(&new_ids) {
            let (o, n) = (&old_ops[*id].params, &new_ops[*id].params);
            let changes = changes_of(id);
            assert_eq!(
                reported_params(&changes, ChangeKind::Added),
                dotted(n.difference(o).cloned()),
                "{at}: parameters added to {id}"
            );
            assert_eq!(
                reported_params(&changes, ChangeKind::Removed),
                dotted(o.difference(n).cloned()),
                "{at}: parameters removed from {id}"
            );
            if o != n && old_ops[*id].place == new_ops[*id].place {
                assert!(s.changed.iter().any(|c| &c.id == *id), "{at}: {id} changed");
            }
        }
        for (from, to, _) in &expected_renames {
            let (o, n) = (&old_ops[from].params, &new_ops[to].params);
            let changes = changes_of(from);
            assert_eq!(
                reported_params(&changes, ChangeKind::Added),
                dotted(n.difference(o).cloned()),
                "{at}: parameters added to {from} -> {to}"
            );
        }

        // The manifest accounts for exactly the old operations.
        let unmentioned: BTreeSet<&str> = ids(&s.manifest.unmentioned).into_iter().collect();
        assert_eq!(
            unmentioned,
            fresh.iter().map(|id| id.as_str()).collect(),
            "{at}: unmentioned"
        );
        let mut expected_stale: BTreeSet<String> = gone.iter().map(|id| id.to_string()).collect();
        if key == RELATIVE_TIME_SPEC {
            for op in RELATIVE_TIME_OPERATIONS {
                if !new_ops.contains_key(op) {
                    expected_stale.insert(op.to_string());
                }
            }
        }
        let stale: BTreeSet<String> = s.manifest.stale.iter().map(|e| e.id.clone()).collect();
        assert_eq!(stale, expected_stale, "{at}: stale");
        for (from, to, how) in &expected_renames {
            if *how == RenameHow::SameMethodAndPath {
                let entry = s.manifest.stale.iter().find(|e| &e.id == from).unwrap();
                assert_eq!(entry.renamed_to.as_ref(), Some(to), "{at}: {from} renamed");
            }
        }

        // Exposed tools: every parameter added needs a description, every one removed had one.
        let mut expected_issues = BTreeSet::new();
        for id in exposed(&old_ops) {
            let Some(n) = new_ops.get(id) else { continue };
            let args = |op: &RawOp| -> BTreeSet<String> {
                op.params
                    .iter()
                    .filter(|(place, _)| place == "query" || place == "path")
                    .map(|(_, name)| name.clone())
                    .collect()
            };
            let (o, n) = (args(&old_ops[id]), args(n));
            for p in n.difference(&o) {
                expected_issues.insert((id.clone(), p.clone(), ParameterProblem::Undescribed));
            }
            for p in o.difference(&n) {
                expected_issues.insert((id.clone(), p.clone(), ParameterProblem::Unknown));
            }
        }
        let issues: BTreeSet<(String, String, ParameterProblem)> = s
            .manifest
            .parameters
            .iter()
            .map(|p| (p.operation.clone(), p.parameter.clone(), p.problem))
            .collect();
        assert_eq!(issues, expected_issues, "{at}: argument descriptions");

        // Action items of this spec.
        let count = |kind: ActionKind| {
            report
                .actions
                .iter()
                .filter(|a| a.spec == key && a.kind == kind)
                .count()
        };
        assert_eq!(count(ActionKind::Sync), usize::from(!s.specs_match), "{at}");
        assert_eq!(count(ActionKind::Unmentioned), fresh.len(), "{at}");
        assert_eq!(count(ActionKind::Stale), expected_stale.len(), "{at}");
        for a in report
            .actions
            .iter()
            .filter(|a| a.spec == key && a.kind == ActionKind::Handwritten)
        {
            let op = a.operation.as_deref().unwrap();
            assert!(
                key == RELATIVE_TIME_SPEC && RELATIVE_TIME_OPERATIONS.contains(&op),
                "{at}: {op} is not behind a hand-written tool"
            );
            assert!(!changes_of(op).is_empty() || s.renamed.iter().any(|r| r.from.id == op));
        }
    }
}

#[test]
fn vintages_against_each_other() {
    let Some(root) = vintages_root() else { return };
    for old in VINTAGES {
        for new in VINTAGES {
            if old != new {
                check_vintages(&root, old, new);
            }
        }
    }
}

#[test]
fn each_vintage_against_itself() {
    let Some(root) = vintages_root() else { return };
    for vintage in VINTAGES {
        let tmp = TempDir::new().unwrap();
        let (specs, manifest) = committed(&root, vintage, tmp.path());
        let upstream = root.join(vintage);
        let report = drift::check(upstream.to_str().unwrap(), &specs, &manifest).unwrap();
        assert!(report.specs.iter().all(|s| s.specs_match), "{vintage}");
        let md_ops = raw_ops(&raw(&upstream, "market-data-api"));
        // The relative-time tools wrap operations that 2025-04 did not have yet.
        let missing: Vec<(ActionKind, &str, Option<&str>)> = RELATIVE_TIME_OPERATIONS
            .iter()
            .filter(|op| !md_ops.contains_key(**op))
            .map(|op| (ActionKind::Stale, RELATIVE_TIME_SPEC, Some(*op)))
            .collect();
        let mut got = actions(&report);
        got.sort();
        let mut missing = missing;
        missing.sort();
        assert_eq!(got, missing, "{vintage}");
    }
}

#[test]
fn sync_specs_2026_06_to_2026_10_reports_what_it_changed() {
    let Some(root) = vintages_root() else { return };
    let tmp = TempDir::new().unwrap();
    let (specs, manifest) = committed(&root, "2026-06", tmp.path());
    let baseline = drift::sync_baseline(&specs, &manifest).unwrap();
    let from = root.join("2026-10");
    xtask::sync_specs::run(from.to_str().unwrap(), &specs).unwrap();
    let report = drift::sync_report(&baseline, from.to_str().unwrap(), &specs);
    assert_eq!(report.mode, drift::Mode::Sync);
    // The same findings as `drift` before the sync, minus the sync items.
    let before = {
        let tmp = TempDir::new().unwrap();
        let (specs, manifest) = committed(&root, "2026-06", tmp.path());
        drift::check(from.to_str().unwrap(), &specs, &manifest).unwrap()
    };
    let without_sync: Vec<_> = actions(&before)
        .into_iter()
        .filter(|a| a.0 != ActionKind::Sync)
        .collect();
    assert_eq!(actions(&report), without_sync);
    for (a, b) in report.specs.iter().zip(&before.specs) {
        assert_eq!(
            (&a.added, &a.removed, &a.renamed, &a.changed),
            (&b.added, &b.removed, &b.renamed, &b.changed)
        );
    }
}

// ----- the command line ----------------------------------------------------------------------

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .unwrap()
}

fn drift_cli(s: &Setup, extra: &[&str]) -> Output {
    let mut args = vec![
        "drift",
        "--upstream",
        s.upstream.to_str().unwrap(),
        "--specs",
        s.specs.to_str().unwrap(),
        "--manifest",
        s.manifest.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    xtask(&args)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn exit_code_0_in_sync_1_drift_2_failure() {
    let s = fixture_case("base");
    let o = drift_cli(&s, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).ends_with("\nin sync\n"), "{}", stdout(&o));

    let s = fixture_case("operation-renamed");
    let o = drift_cli(&s, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).ends_with("\n3 items need action\n"),
        "{}",
        stdout(&o)
    );

    let missing = s.upstream.join("missing");
    let o = xtask(&[
        "drift",
        "--upstream",
        missing.to_str().unwrap(),
        "--specs",
        s.specs.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("not a folder"), "{stderr}");
    assert!(o.stdout.is_empty());

    let o = drift_cli(&s, &["--format", "yaml"]);
    assert_eq!(o.status.code(), Some(2), "bad arguments");
    let o = xtask(&["drift"]);
    assert_eq!(o.status.code(), Some(2), "missing --upstream");
}

#[test]
fn json_and_markdown_on_the_command_line() {
    let s = fixture_case("operation-added");
    let o = drift_cli(&s, &["--format", "json"]);
    assert_eq!(o.status.code(), Some(1));
    let value: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(value["schema_version"], 1);
    assert_eq!(value["action_count"], 2);
    assert_eq!(value["summary"], "2 items need action");
    assert_eq!(value["actions"][1]["kind"], "unmentioned");
    assert_eq!(value["actions"][1]["operation"], "News");

    let o = drift_cli(&s, &["--format", "markdown"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).starts_with("**2 items need action**\n"));
}

#[test]
fn the_committed_specs_are_in_sync_with_themselves() {
    // The importer accepts its own output: the committed specs, read as upstream, normalize to
    // themselves, and the manifest accounts for them (or the build would fail).
    let specs = xtask::workspace_root().join("specs");
    let o = xtask(&["drift", "--upstream", specs.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).ends_with("\nin sync\n"));
    for name in SPEC_NAMES {
        assert!(specs.join(format!("{name}.json")).is_file());
    }
}

#[test]
fn sync_specs_prints_the_report() {
    let s = fixture_case("handwritten-property-added");
    let o = xtask(&[
        "sync-specs",
        "--from",
        s.upstream.to_str().unwrap(),
        "--out",
        s.specs.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(out.starts_with("sync-specs: "), "{out}");
    assert!(out.contains("the sync changed:"), "{out}");
    assert!(out.contains("requestBody.position_intent: added"), "{out}");
    assert!(out.ends_with("\n1 item needs action\n"), "{out}");
    // Now the specs match upstream.
    assert!(s.check().specs.iter().all(|spec| spec.specs_match));

    // Without a manifest next to the output, the sync still works and says why there is no
    // report.
    let tmp = TempDir::new().unwrap();
    let o = xtask(&[
        "sync-specs",
        "--from",
        s.upstream.to_str().unwrap(),
        "--out",
        tmp.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(o.stdout.is_empty());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no drift report"));
}

/// Serves `dir`'s files at `http://127.0.0.1:<port>/specs/<name>` for `requests` requests.
fn serve_dir(dir: &Path, requests: usize) -> String {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::time::Duration;

    let files: Vec<(String, String)> = fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            (name, fs::read_to_string(e.path()).unwrap())
        })
        .collect();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/specs", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let Ok(mut stream) = stream else { continue };
            stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).ok();
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = request_line.split_whitespace().nth(1).unwrap_or("");
            let (status, body) = files
                .iter()
                .find(|(name, _)| path == format!("/specs/{name}"))
                .map_or(("404 Not Found", "not found".to_string()), |(_, body)| {
                    ("200 OK", body.clone())
                });
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(response.as_bytes()).ok();
        }
    });
    base
}

#[test]
fn upstream_from_a_url() {
    let s = fixture_case("operation-added");
    let base = serve_dir(&s.upstream, 2);
    let report = drift::check(&base, &s.specs, &s.manifest).unwrap();
    assert_eq!(
        spec(&report, "market-data").upstream,
        format!("{base}/market-data-api.json")
    );
    assert_eq!(
        actions(&report),
        [
            (ActionKind::Sync, "market-data", None),
            (ActionKind::Unmentioned, "market-data", Some("News")),
        ]
    );

    // A URL that does not serve the documents: the check fails (exit code 2).
    let empty = TempDir::new().unwrap();
    let base = serve_dir(empty.path(), 1);
    let o = xtask(&[
        "drift",
        "--upstream",
        &base,
        "--specs",
        s.specs.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("cannot fetch: HTTP status 404"), "{stderr}");
}
