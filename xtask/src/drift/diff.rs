//! Differences between two versions of one operation, down to the property path.
//!
//! Schemas are compared after resolving `$ref`s and merging `allOf` members, so a change inside
//! a shared component is reported on every operation that uses it. Recursion through
//! references is cut when the same pair of reference chains is already being compared further
//! up (a recursive schema such as an order with `legs: [Order]`), and at a fixed depth (64).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::ops::{self, Op};
use super::report::{Area, Change, ChangeKind};

/// How deep schema comparison goes, as a safety net behind the cycle check.
const MAX_DEPTH: usize = 64;

/// How deep a schema summary (`array of object Order`) looks.
const SUMMARY_DEPTH: usize = 3;

/// Keys an operation's comparison handles itself; any other key is compared as a whole.
const OPERATION_PARTS: [&str; 4] = ["operationId", "parameters", "requestBody", "responses"];

/// Schema keywords compared structurally; any other keyword is compared as a value.
const STRUCTURAL_KEYWORDS: [&str; 8] = [
    "type",
    "format",
    "enum",
    "items",
    "additionalProperties",
    "anyOf",
    "oneOf",
    "not",
];

/// Everything that differs between `old` (in `old_doc`) and `new` (in `new_doc`), in document
/// order: parameters, request body, responses, then other operation keys.
pub fn diff_operation<'a>(
    old_doc: &'a Value,
    old: &Op<'a>,
    new_doc: &'a Value,
    new: &Op<'a>,
) -> Vec<Change> {
    let mut differ = Differ {
        old: old_doc,
        new: new_doc,
        area: Area::Operation,
        changes: Vec::new(),
        stack: Vec::new(),
    };
    differ.operation(old, new);
    differ.changes
}

/// A short description of a schema, e.g. `string (date-time)`, `array of object Order`,
/// `string enum ["buy", "sell"]`.
pub fn describe(doc: &Value, schema: &Value) -> String {
    describe_at(doc, schema, 0)
}

fn describe_at(doc: &Value, schema: &Value, depth: usize) -> String {
    if depth > SUMMARY_DEPTH {
        return "...".to_string();
    }
    let e = effective(doc, schema);
    let kw = |k: &str| e.keywords.get(k).copied();
    let mut out = match kw("type").and_then(Value::as_str) {
        Some("array") => format!(
            "array of {}",
            kw("items").map_or_else(|| "any".to_string(), |i| describe_at(doc, i, depth + 1))
        ),
        Some(t) => t.to_string(),
        None => {
            if let Some(n) = kw("oneOf").and_then(Value::as_array).map(Vec::len) {
                format!("oneOf({n})")
            } else if let Some(n) = kw("anyOf").and_then(Value::as_array).map(Vec::len) {
                format!("anyOf({n})")
            } else if e.has_properties {
                "object".to_string()
            } else {
                "any".to_string()
            }
        }
    };
    if let Some(format) = kw("format").and_then(Value::as_str) {
        out.push_str(&format!(" ({format})"));
    }
    if let Some(values) = kw("enum").and_then(Value::as_array) {
        out.push_str(&format!(" enum {}", show_values(values)));
    }
    if let Some(first) = e.refs.first() {
        out.push(' ');
        out.push_str(ops::ref_name(first));
    }
    if kw("nullable") == Some(&Value::Bool(true)) {
        out.push_str(", nullable");
    }
    out
}

/// `["a", "b", ... (+3)]`: at most six values.
fn show_values(values: &[Value]) -> String {
    let mut shown: Vec<String> = values.iter().take(6).map(compact).collect();
    if values.len() > 6 {
        shown.push(format!("... (+{})", values.len() - 6));
    }
    format!("[{}]", shown.join(", "))
}

/// A value as compact JSON, cut at 80 characters.
fn compact(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 80 {
        let cut: String = text.chars().take(77).collect();
        format!("{cut}...")
    } else {
        text
    }
}

fn show(value: Option<&Value>) -> String {
    match value {
        None => "(none)".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => compact(v),
    }
}

/// A schema seen through its `$ref`s with its `allOf` members merged in.
#[derive(Default)]
struct Effective<'a> {
    /// Keywords other than `properties`, `required` and `allOf`; the schema's own win over
    /// those of its `allOf` members.
    keywords: BTreeMap<&'a str, &'a Value>,
    properties: BTreeMap<&'a str, &'a Value>,
    required: BTreeSet<&'a str>,
    has_properties: bool,
    /// Every reference followed, in order.
    refs: Vec<&'a str>,
}

fn effective<'a>(doc: &'a Value, schema: &'a Value) -> Effective<'a> {
    let mut e = Effective::default();
    merge(doc, schema, &mut e, 0);
    e
}

fn merge<'a>(doc: &'a Value, schema: &'a Value, e: &mut Effective<'a>, depth: usize) {
    if depth > 16 {
        return;
    }
    let (schema, chain) = ops::deref(doc, schema);
    if chain.iter().any(|r| e.refs.contains(r)) {
        // Merged already (a diamond) or an `allOf` that includes itself.
        return;
    }
    e.refs.extend(chain);
    let Some(o) = schema.as_object() else {
        return;
    };
    for part in o
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        merge(doc, part, e, depth + 1);
    }
    for (k, v) in o {
        match k.as_str() {
            "allOf" => {}
            "properties" => {
                e.has_properties = true;
                for (name, p) in v.as_object().into_iter().flatten() {
                    e.properties.insert(name, p);
                }
            }
            "required" => {
                e.required
                    .extend(v.as_array().into_iter().flatten().filter_map(Value::as_str));
            }
            _ => {
                e.keywords.insert(k, v);
            }
        }
    }
}

/// `a.b`, or `b` at the root.
fn child(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// The path of a media type's schema: `application/json` adds nothing.
fn media_path(prefix: &str, media_type: &str) -> String {
    if media_type == "application/json" {
        prefix.to_string()
    } else {
        format!("{prefix}({media_type})")
    }
}

fn keys<'a>(a: Option<&'a Value>, b: Option<&'a Value>) -> BTreeSet<&'a str> {
    [a, b]
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .flat_map(|o| o.keys().map(String::as_str))
        .collect()
}

fn param_required(p: &Value) -> bool {
    p.get("in").and_then(Value::as_str) == Some("path")
        || p.get("required").and_then(Value::as_bool) == Some(true)
}

struct Differ<'a> {
    old: &'a Value,
    new: &'a Value,
    area: Area,
    changes: Vec<Change>,
    /// Pairs of reference chains being compared further up (cycle protection).
    stack: Vec<(String, String)>,
}

impl<'a> Differ<'a> {
    fn change(&self, path: &str, kind: ChangeKind, message: String) -> Change {
        Change {
            area: self.area,
            path: path.to_string(),
            kind,
            keyword: None,
            from: None,
            to: None,
            required: None,
            enum_added: Vec::new(),
            enum_removed: Vec::new(),
            message,
        }
    }

    /// Something new at `path`; `what` describes it.
    fn added(&mut self, path: &str, what: String, required: Option<bool>) {
        let detail = match required {
            Some(true) => format!("{what}, required"),
            Some(false) => format!("{what}, optional"),
            None => what.clone(),
        };
        let mut c = self.change(path, ChangeKind::Added, format!("{path}: added ({detail})"));
        c.to = Some(Value::String(what));
        c.required = required;
        self.changes.push(c);
    }

    fn removed(&mut self, path: &str, what: String) {
        let mut c = self.change(
            path,
            ChangeKind::Removed,
            format!("{path}: removed (was {what})"),
        );
        c.from = Some(Value::String(what));
        self.changes.push(c);
    }

    fn required_flip(&mut self, path: &str, from: bool, to: bool) {
        let word = |r: bool| if r { "required" } else { "optional" };
        let mut c = self.change(
            path,
            ChangeKind::Required,
            format!("{path}: {} -> {}", word(from), word(to)),
        );
        c.from = Some(Value::Bool(from));
        c.to = Some(Value::Bool(to));
        self.changes.push(c);
    }

    fn keyword(&mut self, path: &str, keyword: &str, from: Option<&Value>, to: Option<&Value>) {
        let (kind, label) = match keyword {
            "type" => (ChangeKind::Type, "type"),
            "format" => (ChangeKind::Format, "format"),
            _ => (ChangeKind::Keyword, keyword),
        };
        let message = if path == label {
            format!("{path}: {} -> {}", show(from), show(to))
        } else {
            format!("{path}: {label} {} -> {}", show(from), show(to))
        };
        let mut c = self.change(path, kind, message);
        if kind == ChangeKind::Keyword {
            c.keyword = Some(keyword.to_string());
        }
        c.from = from.cloned();
        c.to = to.cloned();
        self.changes.push(c);
    }

    /// A keyword whose value is a schema (or several) that cannot be compared structurally:
    /// shown by summary.
    fn keyword_summary(
        &mut self,
        path: &str,
        keyword: &str,
        from: Option<String>,
        to: Option<String>,
    ) {
        let from = from.map(Value::String);
        let to = to.map(Value::String);
        self.keyword(path, keyword, from.as_ref(), to.as_ref());
    }

    fn enum_change(&mut self, path: &str, from: Option<&Value>, to: Option<&Value>) {
        let (Some(Value::Array(old)), Some(Value::Array(new))) = (from, to) else {
            let mut c = self.change(
                path,
                ChangeKind::Enum,
                format!(
                    "{path}: enum {} -> {}",
                    from.and_then(Value::as_array)
                        .map_or_else(|| show(from), |v| show_values(v)),
                    to.and_then(Value::as_array)
                        .map_or_else(|| show(to), |v| show_values(v)),
                ),
            );
            c.from = from.cloned();
            c.to = to.cloned();
            c.enum_added = to.and_then(Value::as_array).cloned().unwrap_or_default();
            c.enum_removed = from.and_then(Value::as_array).cloned().unwrap_or_default();
            self.changes.push(c);
            return;
        };
        let added: Vec<Value> = new.iter().filter(|v| !old.contains(v)).cloned().collect();
        let removed: Vec<Value> = old.iter().filter(|v| !new.contains(v)).cloned().collect();
        let mut parts: Vec<String> = added.iter().map(|v| format!("+ {}", compact(v))).collect();
        parts.extend(removed.iter().map(|v| format!("- {}", compact(v))));
        if parts.is_empty() {
            // Same values, new order.
            parts.push("values reordered".to_string());
        }
        let mut c = self.change(
            path,
            ChangeKind::Enum,
            format!("{path}: enum {}", parts.join(", ")),
        );
        c.from = from.cloned();
        c.to = to.cloned();
        c.enum_added = added;
        c.enum_removed = removed;
        self.changes.push(c);
    }

    fn operation(&mut self, old: &Op<'a>, new: &Op<'a>) {
        self.area = Area::Parameter;
        let old_params = ops::parameters(self.old, old);
        let new_params = ops::parameters(self.new, new);
        let names: BTreeSet<&(String, String)> =
            old_params.keys().chain(new_params.keys()).collect();
        for key in names {
            let path = format!("{}.{}", key.0, key.1);
            match (old_params.get(key), new_params.get(key)) {
                (Some(a), None) => {
                    let what = self.param_summary(self.old, a);
                    self.removed(&path, what);
                }
                (None, Some(b)) => {
                    let what = self.param_summary(self.new, b);
                    self.added(&path, what, Some(param_required(b)));
                }
                (Some(a), Some(b)) => self.parameter(&path, a, b),
                (None, None) => {}
            }
        }

        self.area = Area::RequestBody;
        let path = "requestBody";
        match (old.op.get("requestBody"), new.op.get("requestBody")) {
            (None, None) => {}
            (Some(a), None) => {
                let a = ops::deref(self.old, a).0;
                let what = self.content_summary(self.old, a.get("content"));
                self.removed(path, what);
            }
            (None, Some(b)) => {
                let b = ops::deref(self.new, b).0;
                let what = self.content_summary(self.new, b.get("content"));
                let required = b.get("required").and_then(Value::as_bool) == Some(true);
                self.added(path, what, Some(required));
            }
            (Some(a), Some(b)) => {
                let a = ops::deref(self.old, a).0;
                let b = ops::deref(self.new, b).0;
                let ra = a.get("required").and_then(Value::as_bool) == Some(true);
                let rb = b.get("required").and_then(Value::as_bool) == Some(true);
                if ra != rb {
                    self.required_flip(path, ra, rb);
                }
                self.content(path, a.get("content"), b.get("content"));
            }
        }

        self.area = Area::Response;
        let (old_responses, new_responses) = (old.op.get("responses"), new.op.get("responses"));
        for status in keys(old_responses, new_responses) {
            let path = format!("responses.{status}");
            let a = old_responses.and_then(|r| r.get(status));
            let b = new_responses.and_then(|r| r.get(status));
            match (a, b) {
                (Some(a), None) => {
                    let a = ops::deref(self.old, a).0;
                    let what = self.content_summary(self.old, a.get("content"));
                    self.removed(&path, format!("status {status}: {what}"));
                }
                (None, Some(b)) => {
                    let b = ops::deref(self.new, b).0;
                    let what = self.content_summary(self.new, b.get("content"));
                    self.added(&path, format!("status {status}: {what}"), None);
                }
                (Some(a), Some(b)) => {
                    let a = ops::deref(self.old, a).0;
                    let b = ops::deref(self.new, b).0;
                    self.content(&path, a.get("content"), b.get("content"));
                    self.headers(&path, a.get("headers"), b.get("headers"));
                }
                (None, None) => {}
            }
        }

        self.area = Area::Operation;
        for key in keys(Some(old.op), Some(new.op)) {
            if OPERATION_PARTS.contains(&key) {
                continue;
            }
            let (a, b) = (old.op.get(key), new.op.get(key));
            if a != b {
                self.keyword(key, key, a, b);
            }
        }
    }

    fn param_summary(&self, doc: &Value, p: &Value) -> String {
        match p.get("schema") {
            Some(schema) => describe(doc, schema),
            None => self.content_summary(doc, p.get("content")),
        }
    }

    /// `object Order` for JSON content, `text/csv: string` otherwise, `no content` when empty.
    fn content_summary(&self, doc: &Value, content: Option<&Value>) -> String {
        let Some(content) = content.and_then(Value::as_object).filter(|c| !c.is_empty()) else {
            return "no content".to_string();
        };
        content
            .iter()
            .map(|(media_type, m)| {
                let schema = m
                    .get("schema")
                    .map_or_else(|| "any".to_string(), |s| describe(doc, s));
                if media_type == "application/json" {
                    schema
                } else {
                    format!("{media_type}: {schema}")
                }
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn parameter(&mut self, path: &str, a: &'a Value, b: &'a Value) {
        let (ra, rb) = (param_required(a), param_required(b));
        if ra != rb {
            self.required_flip(path, ra, rb);
        }
        for key in keys(Some(a), Some(b)) {
            match key {
                "name" | "in" | "required" => {}
                "schema" => match (a.get("schema"), b.get("schema")) {
                    (Some(sa), Some(sb)) => self.schema(path, sa, sb, 0),
                    (sa, sb) => {
                        let from = sa.map(|s| describe(self.old, s));
                        let to = sb.map(|s| describe(self.new, s));
                        self.keyword_summary(path, "schema", from, to);
                    }
                },
                "content" => self.content(path, a.get("content"), b.get("content")),
                _ => {
                    if a.get(key) != b.get(key) {
                        self.keyword(path, key, a.get(key), b.get(key));
                    }
                }
            }
        }
    }

    /// Media types of a body, response or parameter.
    fn content(&mut self, prefix: &str, old: Option<&'a Value>, new: Option<&'a Value>) {
        for media_type in keys(old, new) {
            let path = media_path(prefix, media_type);
            let a = old.and_then(|c| c.get(media_type));
            let b = new.and_then(|c| c.get(media_type));
            match (a, b) {
                (Some(a), None) => {
                    let what = a
                        .get("schema")
                        .map_or_else(|| "any".to_string(), |s| describe(self.old, s));
                    self.removed(&path, format!("{media_type}: {what}"));
                }
                (None, Some(b)) => {
                    let what = b
                        .get("schema")
                        .map_or_else(|| "any".to_string(), |s| describe(self.new, s));
                    self.added(&path, format!("{media_type}: {what}"), None);
                }
                (Some(a), Some(b)) => {
                    match (a.get("schema"), b.get("schema")) {
                        (Some(sa), Some(sb)) => self.schema(&path, sa, sb, 0),
                        (None, None) => {}
                        (sa, sb) => {
                            let from = sa.map(|s| describe(self.old, s));
                            let to = sb.map(|s| describe(self.new, s));
                            self.keyword_summary(&path, "schema", from, to);
                        }
                    }
                    if a.get("encoding") != b.get("encoding") {
                        self.keyword(&path, "encoding", a.get("encoding"), b.get("encoding"));
                    }
                }
                (None, None) => {}
            }
        }
    }

    fn headers(&mut self, prefix: &str, old: Option<&'a Value>, new: Option<&'a Value>) {
        for name in keys(old, new) {
            let path = format!("{prefix}.headers.{name}");
            let a = old
                .and_then(|h| h.get(name))
                .map(|h| ops::deref(self.old, h).0);
            let b = new
                .and_then(|h| h.get(name))
                .map(|h| ops::deref(self.new, h).0);
            match (a, b) {
                (Some(a), None) => {
                    let what = self.param_summary(self.old, a);
                    self.removed(&path, what);
                }
                (None, Some(b)) => {
                    let what = self.param_summary(self.new, b);
                    let required = b.get("required").and_then(Value::as_bool) == Some(true);
                    self.added(&path, what, Some(required));
                }
                (Some(a), Some(b)) => self.parameter(&path, a, b),
                (None, None) => {}
            }
        }
    }

    /// Compares two schemas at `path`.
    fn schema(&mut self, path: &str, old: &'a Value, new: &'a Value, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        let o = effective(self.old, old);
        let n = effective(self.new, new);
        let key = (!o.refs.is_empty() || !n.refs.is_empty())
            .then(|| (o.refs.join(" "), n.refs.join(" ")));
        if let Some(key) = &key {
            if self.stack.contains(key) {
                return;
            }
            self.stack.push(key.clone());
        }
        self.compare(path, &o, &n, depth);
        if key.is_some() {
            self.stack.pop();
        }
    }

    fn compare(&mut self, path: &str, o: &Effective<'a>, n: &Effective<'a>, depth: usize) {
        let ok = |k: &str| o.keywords.get(k).copied();
        let nk = |k: &str| n.keywords.get(k).copied();
        for k in ["type", "format"] {
            if ok(k) != nk(k) {
                self.keyword(path, k, ok(k), nk(k));
            }
        }
        if ok("enum") != nk("enum") {
            self.enum_change(path, ok("enum"), nk("enum"));
        }
        let names: BTreeSet<&str> = o
            .keywords
            .keys()
            .chain(n.keywords.keys())
            .copied()
            .collect();
        for k in names {
            if !STRUCTURAL_KEYWORDS.contains(&k) && ok(k) != nk(k) {
                self.keyword(path, k, ok(k), nk(k));
            }
        }

        match (ok("items"), nk("items")) {
            (Some(a), Some(b)) => self.schema(&format!("{path}[]"), a, b, depth + 1),
            (None, None) => {}
            (a, b) => {
                let from = a.map(|s| describe(self.old, s));
                let to = b.map(|s| describe(self.new, s));
                self.keyword_summary(path, "items", from, to);
            }
        }
        match (ok("additionalProperties"), nk("additionalProperties")) {
            (Some(a @ Value::Object(_)), Some(b @ Value::Object(_))) => {
                self.schema(&format!("{path}{{}}"), a, b, depth + 1);
            }
            (a, b) if a != b => {
                let summary = |doc: &Value, v: &Value| match v {
                    Value::Object(_) => describe(doc, v),
                    other => other.to_string(),
                };
                let from = a.map(|v| summary(self.old, v));
                let to = b.map(|v| summary(self.new, v));
                self.keyword_summary(path, "additionalProperties", from, to);
            }
            _ => {}
        }
        for k in ["anyOf", "oneOf"] {
            match (
                ok(k).and_then(Value::as_array),
                nk(k).and_then(Value::as_array),
            ) {
                (Some(a), Some(b)) if a.len() == b.len() => {
                    for (i, (sa, sb)) in a.iter().zip(b).enumerate() {
                        self.schema(&format!("{path}.{k}[{i}]"), sa, sb, depth + 1);
                    }
                }
                (None, None) => {}
                (a, b) => {
                    let list = |doc: &Value, v: &[Value]| {
                        let items: Vec<String> = v.iter().map(|s| describe(doc, s)).collect();
                        format!("[{}]", items.join(", "))
                    };
                    let from = a.map(|v| list(self.old, v));
                    let to = b.map(|v| list(self.new, v));
                    self.keyword_summary(path, k, from, to);
                }
            }
        }
        match (ok("not"), nk("not")) {
            (Some(a), Some(b)) => self.schema(&format!("{path}.not"), a, b, depth + 1),
            (None, None) => {}
            (a, b) => {
                let from = a.map(|s| describe(self.old, s));
                let to = b.map(|s| describe(self.new, s));
                self.keyword_summary(path, "not", from, to);
            }
        }

        let props: BTreeSet<&str> = o
            .properties
            .keys()
            .chain(n.properties.keys())
            .copied()
            .collect();
        for name in props {
            let p = child(path, name);
            match (o.properties.get(name), n.properties.get(name)) {
                (Some(a), None) => {
                    let what = describe(self.old, a);
                    self.removed(&p, what);
                }
                (None, Some(b)) => {
                    let what = describe(self.new, b);
                    self.added(&p, what, Some(n.required.contains(name)));
                }
                (Some(a), Some(b)) => {
                    let (ra, rb) = (o.required.contains(name), n.required.contains(name));
                    if ra != rb {
                        self.required_flip(&p, ra, rb);
                    }
                    self.schema(&p, a, b, depth + 1);
                }
                (None, None) => {}
            }
        }
    }
}
