//! Tool input schemas: OpenAPI 3.0 schemas turned into self-contained JSON Schema that every
//! MCP client accepts: every `$ref` inlined, `allOf` merged, `oneOf` written as `anyOf` with no
//! `type` beside it, nullable written as a type array, recursion cut off.

use serde_json::{Map, Value, json};

use crate::Error;
use crate::doc::Doc;

/// Keywords carried over from OpenAPI into the JSON Schema a model sees.
const KEPT: &[&str] = &[
    "type",
    "format",
    "enum",
    "default",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "multipleOf",
    "minProperties",
    "maxProperties",
];

/// OpenAPI formats left out of what a model sees. The integer and number widths say nothing
/// the type and bounds do not, and `date-time` would be wrong: Alpaca takes RFC 3339 or
/// YYYY-MM-DD wherever it takes a time (the server's instructions say so once). `date`,
/// `uuid` and the rest stay.
const UNSAID_FORMATS: &[&str] = &["int32", "int64", "float", "double", "date-time"];

/// Converts one OpenAPI schema to inline JSON Schema.
pub fn to_json_schema(doc: &Doc<'_>, schema: &Value, at: &str) -> Result<Value, Error> {
    convert(doc, schema, at, &mut Vec::new())
}

fn convert(
    doc: &Doc<'_>,
    schema: &Value,
    at: &str,
    stack: &mut Vec<String>,
) -> Result<Value, Error> {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        if stack.iter().any(|s| s == r) || stack.len() > 8 {
            // Recursive structure: stop here with an open object.
            return Ok(json!({ "type": "object" }));
        }
        let target = doc.lookup(r)?;
        stack.push(r.to_string());
        let out = convert(doc, target, r, stack);
        stack.pop();
        return out;
    }
    let nullable = schema
        .get("nullable")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut out = Map::new();

    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        let mut merged = Map::new();
        for (i, part) in all.iter().enumerate() {
            let part = convert(doc, part, &format!("{at}/allOf/{i}"), stack)?;
            merge_into(&mut merged, part);
        }
        out = merged;
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(branches) = schema.get(key).and_then(Value::as_array) {
            let mut converted = Vec::new();
            for (i, b) in branches.iter().enumerate() {
                converted.push(convert(doc, b, &format!("{at}/{key}/{i}"), stack)?);
            }
            out.insert("anyOf".into(), Value::Array(converted));
        }
    }
    if let Some(obj) = schema.as_object() {
        for k in KEPT {
            if let Some(v) = obj.get(*k) {
                if *k == "format" && v.as_str().is_some_and(|f| UNSAID_FORMATS.contains(&f)) {
                    continue;
                }
                out.insert((*k).to_string(), v.clone());
            }
        }
        // OpenAPI 3.0's boolean exclusive bounds become JSON Schema's numeric ones.
        for (flag, bound) in [
            ("exclusiveMinimum", "minimum"),
            ("exclusiveMaximum", "maximum"),
        ] {
            if obj.get(flag).and_then(Value::as_bool) == Some(true)
                && let Some(b) = out.remove(bound)
            {
                out.insert(flag.to_string(), b);
            }
        }
        if let Some(props) = obj.get("properties").and_then(Value::as_object) {
            let mut converted = Map::new();
            for (name, p) in props {
                converted.insert(
                    name.clone(),
                    convert(doc, p, &format!("{at}/properties/{name}"), stack)?,
                );
            }
            merge_into(&mut out, json!({ "properties": converted }));
        }
        if let Some(req) = obj.get("required") {
            merge_into(&mut out, json!({ "required": req }));
        }
        if let Some(items) = obj.get("items") {
            out.insert(
                "items".into(),
                convert(doc, items, &format!("{at}/items"), stack)?,
            );
        }
        match obj.get("additionalProperties") {
            Some(Value::Bool(b)) => {
                out.insert("additionalProperties".into(), Value::Bool(*b));
            }
            Some(ap @ Value::Object(_)) => {
                out.insert(
                    "additionalProperties".into(),
                    convert(doc, ap, &format!("{at}/additionalProperties"), stack)?,
                );
            }
            _ => {}
        }
    }
    if out.contains_key("anyOf") {
        // Clients reject `type` beside `anyOf`: keep the union alone.
        out.remove("type");
    }
    if nullable {
        make_nullable(&mut out);
    }
    Ok(Value::Object(out))
}

/// Merges `part`'s keys into `into`: properties and required lists are unioned.
fn merge_into(into: &mut Map<String, Value>, part: Value) {
    let Value::Object(part) = part else { return };
    for (k, v) in part {
        match (k.as_str(), into.get_mut(&k), v) {
            ("properties", Some(Value::Object(existing)), Value::Object(new)) => {
                existing.extend(new)
            }
            ("required", Some(Value::Array(existing)), Value::Array(new)) => {
                for r in new {
                    if !existing.contains(&r) {
                        existing.push(r);
                    }
                }
            }
            (_, _, v) => {
                into.insert(k, v);
            }
        }
    }
}

/// Allows `null` in a converted schema.
fn make_nullable(out: &mut Map<String, Value>) {
    if let Some(any) = out.get_mut("anyOf").and_then(Value::as_array_mut) {
        if !any.iter().any(|b| b.get("type") == Some(&json!("null"))) {
            any.push(json!({ "type": "null" }));
        }
        return;
    }
    match out.get("type").cloned() {
        Some(Value::String(t)) => {
            out.insert("type".into(), json!([t, "null"]));
        }
        Some(Value::Array(mut ts)) => {
            if !ts.contains(&json!("null")) {
                ts.push(json!("null"));
            }
            out.insert("type".into(), Value::Array(ts));
        }
        _ => {}
    }
    if let Some(values) = out.get_mut("enum").and_then(Value::as_array_mut)
        && !values.contains(&Value::Null)
    {
        values.push(Value::Null);
    }
}
