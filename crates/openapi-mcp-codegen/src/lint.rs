//! A client-compatibility lint for MCP tool input schemas. The generator runs it on every
//! schema it emits, so a schema that clients would reject fails the build; hand-written tools
//! are checked with the same function ([`lint_text`]) by the crates that define them.
//!
//! MCP clients hand tool schemas to model providers that accept only a subset of JSON Schema,
//! and some reject a whole `tools/list` for one schema they do not like. The rules:
//!
//! - the root is `type: object` with `properties`, and has no `oneOf`/`anyOf`/`allOf`; it does
//!   not state `additionalProperties` (the server closes the root itself and rejects an unknown
//!   argument by name; saying so in every tool would cost every conversation), and never opens
//!   it;
//! - every root property has a non-empty `description`;
//! - nowhere: `$ref`, `$defs`, `definitions`, `nullable` (use a type array), `oneOf`, `allOf`,
//!   or a `type` beside `anyOf`;
//! - `required` names only properties that exist, each once;
//! - nesting is at most [`MAX_DEPTH`] schemas deep.
//!
//! The walk knows which keywords hold schemas, so property names such as `type` or `nullable`
//! are not mistaken for keywords.

use serde_json::{Map, Value};

/// The deepest schema nesting allowed (the root schema is depth 1).
pub const MAX_DEPTH: usize = 12;

/// Every rule the schema text `schema` breaks, as `<JSON pointer>: <problem>` lines.
pub fn lint_text(schema: &str) -> Vec<String> {
    match serde_json::from_str(schema) {
        Ok(value) => lint(&value),
        Err(e) => vec![format!("(root): not JSON: {e}")],
    }
}

/// Every rule the tool input schema `value` breaks, as `<JSON pointer>: <problem>` lines.
pub fn lint(value: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(root) = value.as_object() else {
        return vec!["(root): not a JSON object".into()];
    };
    if root.get("type") != Some(&Value::String("object".into())) {
        problems.push("(root): `type` must be \"object\"".into());
    }
    for k in ["oneOf", "anyOf", "allOf"] {
        if root.contains_key(k) {
            problems.push(format!("(root): `{k}` at the root"));
        }
    }
    if root.contains_key("additionalProperties") {
        problems
            .push("(root): `additionalProperties` is left out (the server closes the root)".into());
    }
    match root.get("properties").and_then(Value::as_object) {
        None => problems.push("(root): no `properties` object".into()),
        Some(props) => {
            for (name, prop) in props {
                let described = prop
                    .get("description")
                    .and_then(Value::as_str)
                    .is_some_and(|d| !d.trim().is_empty());
                if !described {
                    problems.push(format!("/properties/{name}: no description"));
                }
            }
        }
    }
    walk(value, "", 1, &mut problems);
    problems
}

fn walk(schema: &Value, at: &str, depth: usize, problems: &mut Vec<String>) {
    let here = if at.is_empty() { "(root)" } else { at };
    if depth > MAX_DEPTH {
        problems.push(format!("{here}: nested deeper than {MAX_DEPTH}"));
        return;
    }
    let obj = match schema {
        Value::Object(obj) => obj,
        // `true`/`false` are valid schemas.
        Value::Bool(_) => return,
        _ => {
            problems.push(format!("{here}: a schema must be an object or a boolean"));
            return;
        }
    };
    for k in ["$ref", "$defs", "definitions", "nullable", "oneOf", "allOf"] {
        if obj.contains_key(k) {
            problems.push(format!("{here}: `{k}` is not allowed"));
        }
    }
    if obj.contains_key("anyOf") && obj.contains_key("type") {
        problems.push(format!("{here}: `type` beside `anyOf`"));
    }
    if let Some(t) = obj.get("type") {
        check_type(t, here, problems);
    }
    if let Some(e) = obj.get("enum")
        && e.as_array().is_none_or(Vec::is_empty)
    {
        problems.push(format!("{here}: `enum` must be a non-empty array"));
    }
    check_required(obj, here, problems);

    for (keyword, sub) in obj {
        let path = format!("{at}/{keyword}");
        match keyword.as_str() {
            "properties" | "patternProperties" | "$defs" | "definitions" | "dependentSchemas" => {
                match sub.as_object() {
                    Some(map) => {
                        for (name, s) in map {
                            walk(s, &format!("{path}/{name}"), depth + 1, problems);
                        }
                    }
                    None => problems.push(format!("{path}: must be an object")),
                }
            }
            "items"
            | "additionalProperties"
            | "not"
            | "contains"
            | "propertyNames"
            | "if"
            | "then"
            | "else"
            | "unevaluatedItems"
            | "unevaluatedProperties" => {
                // `items` may be an array of schemas in older drafts.
                if let Value::Array(list) = sub {
                    for (i, s) in list.iter().enumerate() {
                        walk(s, &format!("{path}/{i}"), depth + 1, problems);
                    }
                } else {
                    walk(sub, &path, depth + 1, problems);
                }
            }
            "anyOf" | "oneOf" | "allOf" | "prefixItems" => match sub.as_array() {
                Some(list) => {
                    for (i, s) in list.iter().enumerate() {
                        walk(s, &format!("{path}/{i}"), depth + 1, problems);
                    }
                }
                None => problems.push(format!("{path}: must be an array")),
            },
            _ => {}
        }
    }
}

fn check_type(t: &Value, here: &str, problems: &mut Vec<String>) {
    const TYPES: [&str; 7] = [
        "string", "number", "integer", "boolean", "object", "array", "null",
    ];
    let names: Vec<&Value> = match t {
        Value::Array(list) if !list.is_empty() => list.iter().collect(),
        Value::String(_) => vec![t],
        _ => {
            problems.push(format!(
                "{here}: `type` must be a type name or a non-empty array"
            ));
            return;
        }
    };
    for n in names {
        if !n.as_str().is_some_and(|n| TYPES.contains(&n)) {
            problems.push(format!("{here}: `type` {n} is not a JSON Schema type"));
        }
    }
}

fn check_required(obj: &Map<String, Value>, here: &str, problems: &mut Vec<String>) {
    let Some(required) = obj.get("required") else {
        return;
    };
    let Some(required) = required.as_array() else {
        problems.push(format!("{here}: `required` must be an array"));
        return;
    };
    let props = obj.get("properties").and_then(Value::as_object);
    let mut seen = std::collections::BTreeSet::new();
    for r in required {
        let Some(r) = r.as_str() else {
            problems.push(format!("{here}: `required` entry {r} is not a string"));
            continue;
        };
        if !seen.insert(r) {
            problems.push(format!("{here}: `required` lists `{r}` twice"));
        }
        if !props.is_some_and(|p| p.contains_key(r)) {
            problems.push(format!(
                "{here}: `required` names `{r}`, which is not a property"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::valid_tool_name;

    #[test]
    fn the_lint_catches_what_it_claims_to() {
        let ok = r#"{"type":"object","properties":{"type":{"type":"string","description":"A property named type."},"nullable":{"type":["string","null"],"description":"x"},"v":{"anyOf":[{"type":"string"},{"type":"integer"}],"description":"x"}},"required":["type"]}"#;
        assert_eq!(lint_text(ok), Vec::<String>::new(), "a good schema passes");

        let cases: &[(&str, &str)] = &[
            (r#"{"type":"string"}"#, "`type` must be \"object\""),
            (
                r#"{"type":"object","properties":{},"anyOf":[]}"#,
                "`anyOf` at the root",
            ),
            (
                r#"{"type":"object","properties":{},"additionalProperties":true}"#,
                "`additionalProperties` is left out",
            ),
            (r#"{"type":"object"}"#, "no `properties`"),
            (
                r#"{"type":"object","properties":{"a":{"type":"string"}}}"#,
                "/properties/a: no description",
            ),
            (
                r#"{"type":"object","properties":{"a":{"type":"string","description":" "}}}"#,
                "/properties/a: no description",
            ),
            (
                r##"{"type":"object","properties":{"a":{"$ref":"#/$defs/A","description":"x"}},"$defs":{"A":{"type":"string"}}}"##,
                "`$ref` is not allowed",
            ),
            (
                r#"{"type":"object","properties":{"a":{"type":"string","nullable":true,"description":"x"}}}"#,
                "/properties/a: `nullable`",
            ),
            (
                r#"{"type":"object","properties":{"a":{"type":"array","items":{"oneOf":[{"type":"string"}]},"description":"x"}}}"#,
                "/properties/a/items: `oneOf`",
            ),
            (
                r#"{"type":"object","properties":{"a":{"allOf":[{"type":"string"}],"description":"x"}}}"#,
                "`allOf` is not allowed",
            ),
            (
                r#"{"type":"object","properties":{"a":{"type":"string","anyOf":[{"type":"string"}],"description":"x"}}}"#,
                "`type` beside `anyOf`",
            ),
            (
                r#"{"type":"object","properties":{"a":{"type":"string","description":"x"}},"required":["b"]}"#,
                "`required` names `b`",
            ),
            (
                r#"{"type":"object","properties":{"a":{"type":"object","properties":{},"required":["z"],"description":"x"}}}"#,
                "/properties/a: `required` names `z`",
            ),
            (
                r#"{"type":"object","properties":{"a":{"type":"text","description":"x"}},"additionalProperties":false}"#,
                "is not a JSON Schema type",
            ),
        ];
        for (schema, expected) in cases {
            let problems = lint_text(schema);
            assert!(
                problems.iter().any(|p| p.contains(expected)),
                "lint of {schema} should report {expected:?}, got {problems:?}"
            );
        }

        let mut deep = r#"{"type":"string"}"#.to_string();
        for _ in 0..MAX_DEPTH {
            deep = format!(r#"{{"type":"array","items":{deep}}}"#);
        }
        let deep = format!(
            r#"{{"type":"object","properties":{{"a":{{"description":"x","type":"array","items":{deep}}}}},"additionalProperties":false}}"#
        );
        assert!(
            lint_text(&deep).iter().any(|p| p.contains("nested deeper")),
            "{:?}",
            lint_text(&deep)
        );

        assert!(valid_tool_name("get_stock_bars"));
        assert!(valid_tool_name("a1"));
        assert!(!valid_tool_name("Get_bars"));
        assert!(!valid_tool_name("get-bars"));
        assert!(!valid_tool_name("1get"));
        assert!(!valid_tool_name(""));
        assert!(!valid_tool_name(&"a".repeat(65)));
        assert!(valid_tool_name(&"a".repeat(64)));
    }
}
