//! Reading operations out of a (normalized) document: where they are, their parameters,
//! `$ref` lookup, and the tool arguments the code generator derives from them.

use std::collections::BTreeMap;

use serde_json::Value;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// How many `$ref` hops [`deref`] follows before giving up (a chain of refs that loops).
const MAX_REF_HOPS: usize = 32;

/// One operation of a document.
#[derive(Debug, Clone, Copy)]
pub struct Op<'a> {
    /// Lower-case HTTP method.
    pub method: &'a str,
    /// URL path template.
    pub path: &'a str,
    /// The operation object.
    pub op: &'a Value,
    /// The path item's own `parameters`, if any.
    pub path_params: Option<&'a Value>,
}

impl Op<'_> {
    /// `GET /path`.
    pub fn endpoint(&self) -> String {
        format!("{} {}", self.method.to_uppercase(), self.path)
    }
}

/// Every operation of `doc`, by operationId (`"GET /path"` when it has none).
pub fn operations(doc: &Value) -> BTreeMap<String, Op<'_>> {
    let mut out = BTreeMap::new();
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return out;
    };
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (method, op) in item.iter().filter(|(m, _)| METHODS.contains(&m.as_str())) {
            let found = Op {
                method,
                path,
                op,
                path_params: item.get("parameters"),
            };
            let id = op
                .get("operationId")
                .and_then(Value::as_str)
                .map_or_else(|| found.endpoint(), str::to_string);
            out.insert(id, found);
        }
    }
    out
}

/// The target of a local `$ref` (`#/components/...`), if it resolves.
pub fn lookup<'a>(doc: &'a Value, target: &str) -> Option<&'a Value> {
    let fragment = openapi_mcp_runtime::decode_strict(target.strip_prefix('#')?)?;
    if fragment.is_empty() {
        return Some(doc);
    }
    doc.pointer(&fragment)
}

/// The last segment of a `$ref`, e.g. `Order` for `#/components/schemas/Order`.
pub fn ref_name(target: &str) -> &str {
    target.rsplit('/').next().unwrap_or(target)
}

/// Follows `$ref`s from `value`; returns the first value that is not a resolvable reference
/// and the references followed on the way.
pub fn deref<'a>(doc: &'a Value, value: &'a Value) -> (&'a Value, Vec<&'a str>) {
    let mut current = value;
    let mut chain = Vec::new();
    while let Some(target) = current.get("$ref").and_then(Value::as_str) {
        if chain.len() >= MAX_REF_HOPS || chain.contains(&target) {
            break;
        }
        let Some(next) = lookup(doc, target) else {
            break;
        };
        chain.push(target);
        current = next;
    }
    (current, chain)
}

/// An operation's parameters (path item's, overridden by the operation's own), resolved, by
/// `(in, name)`.
pub fn parameters<'a>(doc: &'a Value, op: &Op<'a>) -> BTreeMap<(String, String), &'a Value> {
    let mut out = BTreeMap::new();
    for list in [op.path_params, op.op.get("parameters")] {
        for p in list.and_then(Value::as_array).into_iter().flatten() {
            let p = deref(doc, p).0;
            let get = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            out.insert((get("in"), get("name")), p);
        }
    }
    out
}

/// The arguments of the tool the code generator makes of `op` (path and query parameters, then
/// the JSON request body's top-level properties, `body_<name>` when one shares a parameter's
/// name), as `crates/openapi-mcp-codegen/src/operations.rs` derives them.
pub fn tool_arguments(doc: &Value, op: &Op<'_>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for ((place, name), _) in parameters(doc, op) {
        if matches!(place.as_str(), "path" | "query") && !names.contains(&name) {
            names.push(name);
        }
    }
    let body = op.op.get("requestBody").map(|b| deref(doc, b).0);
    if let Some(schema) = body.and_then(|b| b.pointer("/content/application~1json/schema")) {
        let mut props = Vec::new();
        collect_properties(doc, schema, &mut props, 0);
        for wire in props {
            let name = if names.contains(&wire) {
                format!("body_{wire}")
            } else {
                wire
            };
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

/// Property names of an object schema, through `$ref`s and `allOf`.
fn collect_properties(doc: &Value, schema: &Value, out: &mut Vec<String>, depth: usize) {
    if depth > 16 {
        return;
    }
    let schema = deref(doc, schema).0;
    for part in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        collect_properties(doc, part, out, depth + 1);
    }
    for name in schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|p| p.keys())
    {
        if !out.contains(name) {
            out.push(name.clone());
        }
    }
}
