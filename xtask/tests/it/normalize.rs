//! `xtask::import::normalize`: the real upstream vintages, idempotence, and OpenAPI 3.1 lowering
//! on small inline fixtures.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::{Value, json};
use xtask::import::{ImportError, normalize, summarize, to_canonical_string, validate};
use xtask::source::{SPEC_NAMES, parse_source, read_from_dir};

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

fn operation_ids(doc: &Value) -> BTreeSet<(String, String, String)> {
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if method != "parameters" && method != "servers" {
                let id = op["operationId"].as_str().unwrap_or("<none>").to_string();
                ids.insert((path.clone(), method.clone(), id));
            }
        }
    }
    ids
}

#[test]
fn every_vintage_imports_and_is_idempotent() {
    let Some(root) = vintages_root() else { return };
    for vintage in ["2026-10", "2026-06", "2025-04"] {
        for name in SPEC_NAMES {
            let source = read_from_dir(&root.join(vintage), name).unwrap();
            let upstream = parse_source(&source).unwrap();
            let label = &source.label;

            let once = normalize(upstream.clone(), label).unwrap_or_else(|e| panic!("{e}"));
            let api = validate(&once, label).unwrap();
            assert_eq!(api.openapi, "3.0.3", "{label}");

            // Every operation is there, with its operationId.
            let ids = operation_ids(&once);
            assert_eq!(ids, operation_ids(&upstream), "{label}");
            assert!(ids.iter().all(|(_, _, id)| id != "<none>"), "{label}");
            assert_eq!(api.operations().count(), ids.len(), "{label}");
            assert_eq!(summarize(&once), summarize(&upstream), "{label}");

            // Same bytes from a second run, and normalizing the output changes nothing.
            let text = to_canonical_string(&once);
            let again = normalize(upstream, label).unwrap();
            assert_eq!(text, to_canonical_string(&again), "{label}");
            let reparsed: Value = serde_json::from_str(&text).unwrap();
            let twice = normalize(reparsed, label).unwrap();
            assert_eq!(text, to_canonical_string(&twice), "{label}");
            assert!(
                text.ends_with("}\n") && text.starts_with("{\n  \""),
                "{label}"
            );
        }
    }
}

#[test]
fn current_upstream_has_every_operation() {
    let Some(root) = vintages_root() else { return };
    for (name, operations) in [("trading-api", 58), ("market-data-api", 44)] {
        let source = read_from_dir(&root.join("2026-10"), name).unwrap();
        let doc = normalize(parse_source(&source).unwrap(), &source.label).unwrap();
        let summary = summarize(&doc);
        assert_eq!(summary.operations, operations, "{name}");
        assert!(summary.schemas > 100, "{name}: {summary:?}");
        assert!(no_prose(&doc, ""), "{name}");
    }
    // The check itself does catch prose, and tells it from names.
    assert!(!no_prose(
        &json!({ "components": { "schemas": { "A": { "description": "x" } } } }),
        ""
    ));
    assert!(no_prose(
        &json!({ "properties": { "description": { "type": "string" } } }),
        ""
    ));
}

/// No prose key anywhere outside the maps whose keys are names (`properties`, `paths`, ...);
/// responses keep an empty `description` because OpenAPI 3.0 requires one.
fn no_prose(value: &Value, parent: &str) -> bool {
    const NAME_MAPS: [&str; 11] = [
        "properties",
        "paths",
        "responses",
        "content",
        "schemas",
        "parameters",
        "headers",
        "securitySchemes",
        "requestBodies",
        "mapping",
        "encoding",
    ];
    match value {
        Value::Object(map) => map.iter().all(|(k, v)| {
            let is_name = NAME_MAPS.contains(&parent);
            let prose = matches!(
                k.as_str(),
                "summary" | "example" | "examples" | "title" | "externalDocs"
            ) || k.starts_with("x-")
                || (k == "description" && v != &json!(""));
            // `info.title` is kept on purpose.
            (is_name || !prose || (parent == "info" && k == "title"))
                && no_prose(v, if is_name { "" } else { k })
        }),
        Value::Array(items) => items.iter().all(|v| no_prose(v, "")),
        _ => true,
    }
}

// ----- 3.1 lowering fixtures ------------------------------------------------------------------

fn doc(version: &str, schemas: Value) -> Value {
    json!({
        "openapi": version,
        "info": { "title": "Fixture", "version": "1", "description": "prose", "contact": {} },
        "paths": {},
        "components": { "schemas": schemas },
    })
}

/// Normalizes a 3.1 document with these schemas, checks idempotence, returns the schemas.
fn lower_in(version: &str, schemas: Value) -> Value {
    let out = normalize(doc(version, schemas), "fixture.json").unwrap_or_else(|e| panic!("{e}"));
    let again = normalize(out.clone(), "fixture.json").unwrap();
    assert_eq!(to_canonical_string(&out), to_canonical_string(&again));
    out["components"]["schemas"].clone()
}

fn lower(schemas: Value) -> Value {
    lower_in("3.1.0", schemas)
}

fn lower_err(schemas: Value) -> String {
    match normalize(doc("3.1.0", schemas), "fixture.json") {
        Ok(out) => panic!("expected an error, got {out:#}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn type_arrays_with_null_become_nullable() {
    let out = lower(json!({
        "Name": { "type": ["string", "null"], "maxLength": 5, "description": "prose" },
        "Legs": {
            "type": ["array", "null"],
            "items": { "type": ["number", "null"], "format": "double" }
        },
        "Plain": { "type": ["integer"] },
    }));
    assert_eq!(
        out,
        json!({
            "Name": { "type": "string", "nullable": true, "maxLength": 5 },
            "Legs": {
                "type": "array",
                "nullable": true,
                "items": { "type": "number", "nullable": true, "format": "double" }
            },
            "Plain": { "type": "integer" },
        })
    );
}

#[test]
fn type_arrays_with_several_types_become_any_of() {
    let out = lower(json!({
        "Either": {
            "type": ["string", "integer", "null"],
            "minLength": 1,
            "minimum": 0,
            "default": 3
        },
    }));
    assert_eq!(
        out["Either"],
        json!({
            "anyOf": [
                { "type": "string", "minLength": 1 },
                { "type": "integer", "minimum": 0 }
            ],
            "default": 3,
            "nullable": true
        })
    );
}

#[test]
fn null_type_alone_is_an_error_naming_the_pointer() {
    let e = lower_err(json!({ "Nothing": { "type": ["null"] } }));
    assert!(e.starts_with("fixture.json: "), "{e}");
    assert!(e.contains("/components/schemas/Nothing/type"), "{e}");
    let e = lower_err(json!({ "Nothing": { "type": "null" } }));
    assert!(e.contains("/components/schemas/Nothing/type"), "{e}");
}

#[test]
fn const_becomes_a_single_enum_value() {
    let out = lower(json!({
        "Side": { "type": "string", "const": "buy" },
        "Nil": { "const": null },
    }));
    assert_eq!(out["Side"], json!({ "type": "string", "enum": ["buy"] }));
    assert_eq!(out["Nil"], json!({ "enum": [null], "nullable": true }));
    let e = lower_err(json!({ "Bad": { "type": "string", "const": "x", "enum": ["a"] } }));
    assert!(e.contains("/components/schemas/Bad/const"), "{e}");
}

#[test]
fn numeric_exclusive_bounds_become_boolean_ones() {
    let out = lower(json!({
        "Positive": { "type": "number", "exclusiveMinimum": 0 },
        "Below": { "type": "integer", "exclusiveMaximum": 10, "maximum": 20 },
        "Looser": { "type": "number", "exclusiveMinimum": 0, "minimum": 5 },
    }));
    assert_eq!(
        out,
        json!({
            "Positive": { "type": "number", "minimum": 0, "exclusiveMinimum": true },
            "Below": { "type": "integer", "maximum": 10, "exclusiveMaximum": true },
            "Looser": { "type": "number", "minimum": 5 },
        })
    );
    // The 3.0 boolean form is kept as it is.
    let out = lower_in(
        "3.0.3",
        json!({ "Old": { "type": "number", "minimum": 1, "exclusiveMinimum": true } }),
    );
    assert_eq!(
        out["Old"],
        json!({ "type": "number", "minimum": 1, "exclusiveMinimum": true })
    );
}

#[test]
fn any_of_and_one_of_with_null_become_nullable() {
    let out = lower(json!({
        "Target": { "type": "object" },
        "Other": { "type": "object" },
        "RefOrNull": { "anyOf": [{ "$ref": "#/components/schemas/Target" }, { "type": "null" }] },
        "InlineOrNull": {
            "oneOf": [{ "type": "null", "description": "none" }, { "type": "string", "format": "date" }]
        },
        "TwoOrNull": {
            "anyOf": [
                { "$ref": "#/components/schemas/Target" },
                { "$ref": "#/components/schemas/Other" },
                { "type": "null" }
            ]
        },
    }));
    assert_eq!(
        out["RefOrNull"],
        json!({ "allOf": [{ "$ref": "#/components/schemas/Target" }], "nullable": true })
    );
    assert_eq!(
        out["InlineOrNull"],
        json!({ "type": "string", "format": "date", "nullable": true })
    );
    assert_eq!(
        out["TwoOrNull"],
        json!({
            "anyOf": [
                { "$ref": "#/components/schemas/Target" },
                { "$ref": "#/components/schemas/Other" }
            ],
            "nullable": true
        })
    );
    let e = lower_err(json!({ "OnlyNull": { "anyOf": [{ "type": "null" }] } }));
    assert!(e.contains("/components/schemas/OnlyNull/anyOf"), "{e}");
}

#[test]
fn ref_siblings_are_wrapped_in_all_of_in_3_1_and_ignored_in_3_0() {
    let schemas = json!({
        "Target": { "type": "object" },
        "Extra": { "type": "object" },
        "Described": { "$ref": "#/components/schemas/Target", "description": "prose only" },
        "Annotated": {
            "$ref": "#/components/schemas/Target",
            "nullable": true,
            "readOnly": true,
            "title": "prose"
        },
        "Combined": {
            "$ref": "#/components/schemas/Target",
            "allOf": [{ "$ref": "#/components/schemas/Extra" }]
        },
    });
    let out = lower(schemas.clone());
    assert_eq!(
        out["Described"],
        json!({ "$ref": "#/components/schemas/Target" })
    );
    assert_eq!(
        out["Annotated"],
        json!({
            "allOf": [{ "$ref": "#/components/schemas/Target" }],
            "nullable": true,
            "readOnly": true
        })
    );
    assert_eq!(
        out["Combined"],
        json!({
            "allOf": [
                { "$ref": "#/components/schemas/Target" },
                { "$ref": "#/components/schemas/Extra" }
            ]
        })
    );
    let out = lower_in("3.0.3", schemas);
    assert_eq!(
        out["Annotated"],
        json!({ "$ref": "#/components/schemas/Target" })
    );
}

#[test]
fn prose_is_dropped_but_names_are_kept() {
    let out = lower(json!({
        "Thing": {
            "type": "object",
            "title": "Thing",
            "description": "prose",
            "examples": [{ "description": "x" }],
            "x-go-name": "Thing",
            "$comment": "note",
            "required": ["description"],
            "properties": {
                "description": { "type": "string", "description": "prose", "example": "x" },
                "title": { "type": "string", "deprecated": true },
                "x-custom": { "type": "boolean" },
                "logo": { "type": "string", "contentMediaType": "image/png" },
                "any": true,
                "never": false
            }
        }
    }));
    assert_eq!(
        out["Thing"],
        json!({
            "type": "object",
            "required": ["description"],
            "properties": {
                "description": { "type": "string" },
                "title": { "type": "string", "deprecated": true },
                "x-custom": { "type": "boolean" },
                "logo": { "type": "string" },
                "any": {},
                "never": { "not": {} }
            }
        })
    );
}

#[test]
fn unknown_keywords_and_unlowerable_constructs_are_errors_with_pointers() {
    let e = lower_err(json!({
        "Tuple": { "type": "array", "prefixItems": [{ "type": "string" }] }
    }));
    assert!(e.contains("/components/schemas/Tuple/prefixItems"), "{e}");
    let e = lower_err(json!({ "Tuple": { "type": "array", "items": [{ "type": "string" }] } }));
    assert!(e.contains("/components/schemas/Tuple/items"), "{e}");

    // Path segments are escaped in the pointer.
    let mut d = doc("3.1.0", json!({}));
    d["paths"] = json!({
        "/v2/orders": { "post": {
            "operationId": "createOrder",
            "requestBody": { "content": { "application/json": { "schema": {
                "type": "object",
                "properties": { "qty": { "if": { "type": "string" } } }
            } } } },
            "responses": { "200": { "description": "ok" } }
        } }
    });
    let e = normalize(d, "trading-api.json").unwrap_err().to_string();
    assert!(
        e.contains(
            "trading-api.json: at /paths/~1v2~1orders/post/requestBody/content/application~1json/schema/properties/qty/if"
        ),
        "{e}"
    );
}

#[test]
fn document_level_facts_are_kept_and_prose_dropped() {
    let input = json!({
        "openapi": "3.1.1",
        "info": { "title": "Fixture", "version": "2.0.1", "description": "prose", "license": {} },
        "servers": [{ "url": "https://example.invalid", "description": "Paper" }],
        "tags": [{ "name": "Orders", "description": "prose" }],
        "security": [{ "key": [] }],
        "x-readme": {},
        "paths": {
            "x-ignored": {},
            "/v2/orders/{id}": {
                "parameters": [{ "$ref": "#/components/parameters/Id", "description": "prose" }],
                "get": {
                    "operationId": "getOrder",
                    "summary": "prose",
                    "description": "prose",
                    "tags": ["Orders"],
                    "deprecated": true,
                    "parameters": [{
                        "name": "nested", "in": "query", "style": "form", "explode": false,
                        "required": false, "description": "prose", "example": "x",
                        "schema": { "type": "boolean" }
                    }],
                    "responses": {
                        "200": {
                            "description": "prose",
                            "headers": { "X-Limit": { "$ref": "#/components/headers/Limit" } },
                            "content": { "application/json": {
                                "schema": { "type": "string" },
                                "examples": { "a": { "value": "x" } }
                            } }
                        },
                        "404": { "$ref": "#/components/responses/NotFound" }
                    }
                }
            }
        },
        "components": {
            "parameters": { "Id": { "name": "id", "in": "path", "required": true, "schema": { "type": "string" } } },
            "headers": { "Limit": { "description": "prose", "schema": { "type": "integer" } } },
            "responses": { "NotFound": { "description": "prose" } },
            "examples": { "a": { "value": 1 } },
            "securitySchemes": { "key": {
                "type": "apiKey", "in": "header", "name": "APCA-API-KEY-ID", "description": "prose"
            } }
        }
    });
    let out = normalize(input, "fixture.json").unwrap();
    let expected = json!({
        "openapi": "3.0.3",
        "info": { "title": "Fixture", "version": "2.0.1" },
        "servers": [{ "url": "https://example.invalid" }],
        "tags": [{ "name": "Orders" }],
        "security": [{ "key": [] }],
        "paths": {
            "/v2/orders/{id}": {
                "parameters": [{ "$ref": "#/components/parameters/Id" }],
                "get": {
                    "operationId": "getOrder",
                    "tags": ["Orders"],
                    "deprecated": true,
                    "parameters": [{
                        "name": "nested", "in": "query", "style": "form", "explode": false,
                        "required": false, "schema": { "type": "boolean" }
                    }],
                    "responses": {
                        "200": {
                            "description": "",
                            "headers": { "X-Limit": { "$ref": "#/components/headers/Limit" } },
                            "content": { "application/json": { "schema": { "type": "string" } } }
                        },
                        "404": { "$ref": "#/components/responses/NotFound" }
                    }
                }
            }
        },
        "components": {
            "parameters": { "Id": { "name": "id", "in": "path", "required": true, "schema": { "type": "string" } } },
            "headers": { "Limit": { "schema": { "type": "integer" } } },
            "responses": { "NotFound": { "description": "" } },
            "securitySchemes": { "key": { "type": "apiKey", "in": "header", "name": "APCA-API-KEY-ID" } }
        }
    });
    assert_eq!(out, expected);
    // Keys come out sorted at every level.
    let text = to_canonical_string(&out);
    assert!(text.find("\"components\"").unwrap() < text.find("\"info\"").unwrap());
    assert!(text.find("\"deprecated\"").unwrap() < text.find("\"operationId\"").unwrap());
}

#[test]
fn dangling_refs_and_duplicate_operation_ids_are_errors() {
    let mut d = doc(
        "3.0.3",
        json!({ "A": { "$ref": "#/components/schemas/Missing" } }),
    );
    let e = normalize(d.clone(), "fixture.json").unwrap_err();
    assert!(matches!(e, ImportError::DanglingRef { .. }), "{e}");
    let e = e.to_string();
    assert!(
        e.contains("fixture.json: at /components/schemas/A/$ref"),
        "{e}"
    );
    assert!(e.contains("#/components/schemas/Missing"), "{e}");

    d["components"]["schemas"] = json!({
        "Event": { "oneOf": [{ "$ref": "#/components/schemas/A" }],
                   "discriminator": { "propertyName": "kind", "mapping": { "b": "B" } } },
        "A": { "type": "object" }
    });
    let e = normalize(d.clone(), "fixture.json")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("/components/schemas/Event/discriminator/mapping/b"),
        "{e}"
    );

    d["components"]["schemas"] = json!({});
    let op = json!({ "operationId": "same", "responses": {} });
    d["paths"] = json!({ "/a": { "get": op.clone() }, "/b": { "get": op } });
    let e = normalize(d, "fixture.json").unwrap_err().to_string();
    assert!(
        e.contains("/paths/~1b/get/operationId") && e.contains("/paths/~1a/get"),
        "{e}"
    );
}

#[test]
fn what_openapiv3_rejects_is_an_error_naming_the_place() {
    let mut d = doc("3.0.3", json!({}));
    d["paths"] = json!({ "/a": { "get": {
        "parameters": [{ "name": "x", "in": "nowhere", "schema": {} }],
        "responses": {}
    } } });
    let e = normalize(d, "fixture.json").unwrap_err();
    assert!(matches!(e, ImportError::Invalid { .. }), "{e}");
    let e = e.to_string();
    assert!(
        e.starts_with("fixture.json: at /paths/~1a/get/parameters/0: "),
        "{e}"
    );
    assert!(e.contains("nowhere"), "{e}");
}

#[test]
fn documents_that_are_not_openapi_3_are_rejected() {
    for (doc, why) in [
        (json!({ "swagger": "2.0", "paths": {} }), "Swagger"),
        (json!({ "openapi": "3.0.3", "info": {} }), "paths"),
        (json!({ "openapi": "2.0", "paths": {} }), "3.0.x"),
        (json!([1, 2]), "not an object"),
    ] {
        let e = normalize(doc, "x.yaml").unwrap_err();
        assert!(matches!(e, ImportError::NotOpenApi { .. }), "{e}");
        let e = e.to_string();
        assert!(e.starts_with("x.yaml: not an OpenAPI 3 document"), "{e}");
        assert!(e.contains(why), "{e}");
    }
}
