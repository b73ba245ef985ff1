//! Checks tool arguments against the tool's input schema before they are parsed, so bounds,
//! patterns and shapes the schema states (and serde does not check: `maximum`, `pattern`,
//! integer enums, an array where an object belongs) are refused with the argument's name and
//! nothing is sent. Covers the subset of JSON Schema the generator emits.
//!
//! Why by hand: the checks run on every call, against the schemas the generator emits and its
//! client-compatibility lint keeps to a small subset (no `$ref`, no `oneOf`, bounded depth),
//! and each refusal must name the argument and say what it takes, in words a model acts on.
//! The `jsonschema` crate validates the full language and reports schema paths; the project
//! uses it in tests instead, as the referee: the argument fuzzer (`tests/it/fuzz_args.rs`)
//! checks that what this module and the parsers accept is what `jsonschema` accepts.

use serde_json::{Map, Value};

/// Checks `value` against `schema`; the error names the argument path and the rule.
pub fn check(schema: &Map<String, Value>, value: &Value, path: &str) -> Result<(), String> {
    let at = || {
        if path.is_empty() {
            "the arguments".to_string()
        } else {
            format!("argument `{path}`")
        }
    };
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
        let ok = any
            .iter()
            .filter_map(Value::as_object)
            .any(|s| check(s, value, path).is_ok());
        return if ok {
            Ok(())
        } else {
            Err(format!("{} does not match any allowed shape", at()))
        };
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if !types.is_empty() && !types.iter().any(|t| is_type(value, t)) {
            return Err(format!(
                "{} must be {}, not {}",
                at(),
                types.join(" or "),
                kind(value)
            ));
        }
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array)
        && !values.iter().any(|v| same(v, value))
    {
        let list: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        return Err(format!(
            "{} is {value}; expected one of: {}",
            at(),
            list.join(", ")
        ));
    }
    match value {
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            let bound = |k: &str| schema.get(k).and_then(Value::as_f64);
            if let Some(m) = bound("minimum").filter(|m| x < *m) {
                return Err(format!("{} is {n}; the minimum is {m}", at()));
            }
            if let Some(m) = bound("maximum").filter(|m| x > *m) {
                return Err(format!("{} is {n}; the maximum is {m}", at()));
            }
            if let Some(m) = bound("exclusiveMinimum").filter(|m| x <= *m) {
                return Err(format!("{} is {n}; it must be more than {m}", at()));
            }
            if let Some(m) = bound("exclusiveMaximum").filter(|m| x >= *m) {
                return Err(format!("{} is {n}; it must be less than {m}", at()));
            }
        }
        Value::String(s) => {
            let len = s.chars().count() as u64;
            if let Some(m) = schema
                .get("minLength")
                .and_then(Value::as_u64)
                .filter(|m| len < *m)
            {
                return Err(format!("{} is shorter than {m} characters", at()));
            }
            if let Some(m) = schema
                .get("maxLength")
                .and_then(Value::as_u64)
                .filter(|m| len > *m)
            {
                return Err(format!("{} is longer than {m} characters", at()));
            }
            if let Some(p) = schema.get("pattern").and_then(Value::as_str)
                && matches(p, s) == Some(false)
            {
                return Err(format!("{} does not match the pattern {p}", at()));
            }
        }
        Value::Array(items) => {
            let len = items.len() as u64;
            if let Some(m) = schema
                .get("minItems")
                .and_then(Value::as_u64)
                .filter(|m| len < *m)
            {
                return Err(format!("{} needs at least {m} items", at()));
            }
            if let Some(m) = schema
                .get("maxItems")
                .and_then(Value::as_u64)
                .filter(|m| len > *m)
            {
                return Err(format!("{} takes at most {m} items", at()));
            }
            if let Some(item) = schema.get("items").and_then(Value::as_object) {
                for (i, v) in items.iter().enumerate() {
                    check(item, v, &format!("{path}[{i}]"))?;
                }
            }
        }
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            for r in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if !map.contains_key(r) {
                    return Err(format!("missing argument `{}`", join(path, r)));
                }
            }
            for (k, v) in map {
                match props.and_then(|p| p.get(k)).and_then(Value::as_object) {
                    Some(s) => check(s, v, &join(path, k))?,
                    None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                        return Err(format!("unknown argument `{}`", join(path, k)));
                    }
                    None => {}
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// Rewrites every string in `value` that matches one of its schema's `enum` values up to ASCII
/// case into that value's spelling (`"Dividend"` -> `"dividend"` when the enum lists
/// `dividend`), through arrays, objects and `anyOf` branches. Anything else is left for
/// [`check`] to judge.
pub fn canonicalize(schema: &Map<String, Value>, value: &mut Value) {
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
        for branch in any.iter().filter_map(Value::as_object) {
            canonicalize(branch, value);
        }
        return;
    }
    match value {
        Value::String(s) => {
            if let Some(values) = schema.get("enum").and_then(Value::as_array)
                && !values.iter().any(|v| v.as_str() == Some(s.as_str()))
                && let Some(m) = values
                    .iter()
                    .filter_map(Value::as_str)
                    .find(|v| v.eq_ignore_ascii_case(s))
            {
                *s = m.to_string();
            }
        }
        Value::Array(items) => {
            if let Some(item) = schema.get("items").and_then(Value::as_object) {
                for v in items {
                    canonicalize(item, v);
                }
            }
        }
        Value::Object(map) => {
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (k, v) in map.iter_mut() {
                    if let Some(p) = props.get(k).and_then(Value::as_object) {
                        canonicalize(p, v);
                    }
                }
            }
        }
        _ => {}
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn is_type(v: &Value, t: &str) -> bool {
    match t {
        "string" => v.is_string(),
        "integer" => {
            v.as_i64().is_some()
                || v.as_u64().is_some()
                || v.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        "null" => v.is_null(),
        _ => true,
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn matches(pattern: &str, s: &str) -> Option<bool> {
    super::checks::matches(pattern, s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn enum_values_are_matched_ignoring_case() {
        let s = schema(json!({
            "type": "object",
            "properties": {
                "ca_types": {"type": "array", "items": {"type": "string", "enum": ["dividend", "split"]}},
                "side": {"type": "string", "enum": ["buy", "sell"]},
                "leg": {"type": "object", "properties": {"side": {"anyOf": [{"type": "string", "enum": ["buy"]}, {"type": "null"}]}}}
            }
        }));
        let mut v = json!({"ca_types": ["Dividend", "SPLIT", "merger"], "side": "Buy", "leg": {"side": "BUY"}});
        canonicalize(&s, &mut v);
        assert_eq!(
            v,
            json!({"ca_types": ["dividend", "split", "merger"], "side": "buy", "leg": {"side": "buy"}})
        );
        assert!(
            check(&s, &v, "").unwrap_err().contains("merger"),
            "unknown values still fail"
        );
    }

    #[test]
    fn bounds_patterns_and_shapes() {
        let s = schema(json!({
            "type": "object",
            "properties": {
                "top": {"type": "integer", "minimum": 1, "maximum": 100},
                "order": {"type": "string", "pattern": "^(asc|desc)$"},
                "level": {"type": "integer", "enum": [0, 1, 2, 3]},
                "info": {"type": "object", "properties": {"name": {"type": "string"}}},
                "tags": {"type": ["array", "null"], "items": {"type": "string"}, "maxItems": 2}
            },
            "required": ["top"],
            "additionalProperties": false
        }));
        assert!(check(&s, &json!({"top": 5, "order": "asc", "level": 2, "info": {"name": "x"}, "tags": ["a"]}), "").is_ok());
        let e = |v: Value| check(&s, &v, "").unwrap_err();
        assert!(e(json!({"top": 101})).contains("argument `top` is 101; the maximum is 100"));
        assert!(e(json!({"top": 0})).contains("minimum"));
        assert!(e(json!({"top": 1, "order": "1"})).contains("pattern"));
        assert!(e(json!({"top": 1, "level": 9})).contains("expected one of"));
        assert!(
            e(json!({"top": 1, "info": []})).contains("argument `info` must be object, not a list")
        );
        assert!(e(json!({"top": 1, "tags": ["a", "b", "c"]})).contains("at most 2"));
        assert!(e(json!({"top": 1, "tags": [1]})).contains("argument `tags[0]` must be string"));
        assert!(e(json!({})).contains("missing argument `top`"));
        assert!(e(json!({"top": 1, "x": 1})).contains("unknown argument `x`"));
        assert!(check(&s, &json!({"top": 1, "tags": null}), "").is_ok());
    }
}
