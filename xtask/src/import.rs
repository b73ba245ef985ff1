//! The importer's core: turns one upstream OpenAPI 3.0.x or 3.1.x document into the API's facts
//! only, written as OpenAPI 3.0.3 that the `openapiv3` crate reads.
//!
//! Every object kind (document, operation, parameter, schema, ...) has an allowlist of the keys
//! that state a fact. Keys known to carry only prose or tooling hints (`description`, `summary`,
//! `title` inside schemas, `example(s)`, `externalDocs`, `x-*`, ...) are dropped; any other key is
//! an error naming its JSON pointer, so neither unknown prose nor an unknown constraint slips
//! through unnoticed. Maps whose keys are names (paths, status codes, media types, property
//! names, component names, ...) are data and are never filtered by these lists.
//!
//! [`normalize`] is pure (no I/O), so `sync-specs` and a drift checker can share it.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

/// The `openapi` version every normalized document declares.
pub const OUTPUT_OPENAPI_VERSION: &str = "3.0.3";

/// Everything that can go wrong while reading or normalizing an upstream document. Each message
/// starts with the file (path or URL) and, where there is one, the place in it.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The source folder has none of `<name>.json`, `<name>.yaml`, `<name>.yml`.
    #[error("{dir}: missing {name}.json (or {name}.yaml / {name}.yml)")]
    MissingFile { dir: String, name: String },
    /// The source folder has several spellings of the same document.
    #[error("{dir}: more than one file for {name}: {}", .found.join(", "))]
    AmbiguousFile {
        dir: String,
        name: String,
        found: Vec<String>,
    },
    /// `--from` is neither a folder nor an http(s) URL.
    #[error("{from}: not a folder (and not an http:// or https:// URL)")]
    BadSource { from: String },
    /// A file could not be read.
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// A URL could not be fetched.
    #[error("{url}: cannot fetch: {message}")]
    Fetch { url: String, message: String },
    /// The text is not JSON.
    #[error("{file}: invalid JSON at line {line}, column {column}: {message}")]
    InvalidJson {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// The text is not YAML (or holds a value JSON cannot represent).
    #[error("{file}: invalid YAML at {location}: {message}")]
    InvalidYaml {
        file: String,
        /// `line L, column C`, or a JSON pointer when the parser gave no position.
        location: String,
        message: String,
    },
    /// The document is not OpenAPI 3.0.x / 3.1.x.
    #[error("{file}: not an OpenAPI 3 document: {reason}")]
    NotOpenApi { file: String, reason: String },
    /// A construct that is not allowed, or that has no sound OpenAPI 3.0 equivalent.
    #[error("{file}: at {pointer}: {reason}")]
    Unsupported {
        file: String,
        pointer: String,
        reason: String,
    },
    /// A `$ref` (or discriminator mapping) that does not resolve inside the normalized document.
    #[error("{file}: at {pointer}: dangling $ref `{target}`: {reason}")]
    DanglingRef {
        file: String,
        pointer: String,
        target: String,
        reason: String,
    },
    /// The normalized document does not deserialize as `openapiv3::OpenAPI`.
    #[error("{file}: at {pointer}: normalized document is not valid OpenAPI 3.0: {message}")]
    Invalid {
        file: String,
        pointer: String,
        message: String,
    },
}

/// Counts reported for one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Operations under `paths`.
    pub operations: usize,
    /// Entries of `components/schemas`.
    pub schemas: usize,
}

/// Normalizes one parsed OpenAPI 3.0.x / 3.1.x document (`file_label` names it in errors): keeps
/// the API's facts only, lowers 3.1 constructs to 3.0.3, sorts every object's keys, checks that
/// every `$ref` resolves and that the result deserializes as `openapiv3::OpenAPI`.
///
/// `normalize(normalize(d)?)` equals `normalize(d)?`.
pub fn normalize(doc: Value, file_label: &str) -> Result<Value, ImportError> {
    let not_openapi = |reason: String| ImportError::NotOpenApi {
        file: file_label.to_string(),
        reason,
    };
    let Value::Object(root) = &doc else {
        return Err(not_openapi(format!(
            "the top level is {}, not an object",
            kind(&doc)
        )));
    };
    let version = match root.get("openapi") {
        Some(Value::String(v)) => v.clone(),
        Some(other) => return Err(not_openapi(format!("`openapi` is {}", kind(other)))),
        None if root.contains_key("swagger") => {
            return Err(not_openapi("it is Swagger 2.0 (`swagger` key)".into()));
        }
        None => return Err(not_openapi("no `openapi` version key".into())),
    };
    let v31 = if version == "3.0" || version.starts_with("3.0.") {
        false
    } else if version == "3.1" || version.starts_with("3.1.") {
        true
    } else {
        return Err(not_openapi(format!(
            "`openapi` is {version:?}; only 3.0.x and 3.1.x are read"
        )));
    };
    if !matches!(root.get("paths"), Some(Value::Object(_))) {
        return Err(not_openapi("no `paths` object".into()));
    }

    let mut n = Normalizer {
        file: file_label,
        v31,
        refs: Vec::new(),
        operation_ids: HashMap::new(),
    };
    let out = sorted(n.document(root)?);
    n.check_refs(&out)?;
    validate(&out, file_label)?;
    Ok(out)
}

/// Deserializes a normalized document as `openapiv3::OpenAPI`; the error names the JSON pointer
/// where deserialization stopped.
pub fn validate(doc: &Value, file_label: &str) -> Result<openapiv3::OpenAPI, ImportError> {
    serde_path_to_error::deserialize::<_, openapiv3::OpenAPI>(doc).map_err(|e| {
        // Flattened maps (paths, responses) hide the place from serde_path_to_error; look
        // again one object at a time to name the innermost failing one.
        let (pointer, message) = locate_invalid(doc).unwrap_or_else(|| {
            let pointer = path_to_pointer("", e.path());
            (pointer, e.into_inner().to_string())
        });
        ImportError::Invalid {
            file: file_label.to_string(),
            pointer: shown(&pointer),
            message,
        }
    })
}

/// Deserializes `value` as `T`; on failure, the pointer (under `base`) and the message.
fn try_as<T: serde::de::DeserializeOwned>(value: &Value, base: &str) -> Option<(String, String)> {
    serde_path_to_error::deserialize::<_, T>(value)
        .err()
        .map(|e| (path_to_pointer(base, e.path()), e.into_inner().to_string()))
}

/// The first operation, path item or component that `openapiv3` rejects.
fn locate_invalid(doc: &Value) -> Option<(String, String)> {
    use openapiv3::{Header, Parameter, ReferenceOr, RequestBody, Response, Schema};
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            let ptr = child("/paths", path);
            if let Some(ops) = item.as_object() {
                for (method, op) in ops.iter().filter(|(m, _)| is_method(m)) {
                    let op_ptr = child(&ptr, method);
                    if let Some(found) = locate_in_operation(op, &op_ptr) {
                        return Some(found);
                    }
                }
            }
            if let Some(found) = try_as::<openapiv3::PathItem>(item, &ptr) {
                return Some(found);
            }
        }
    }
    let components = doc.get("components").and_then(Value::as_object)?;
    for (section, entries) in components {
        let Some(entries) = entries.as_object() else {
            continue;
        };
        for (name, entry) in entries {
            let ptr = child(&child("/components", section), name);
            let found = match section.as_str() {
                "schemas" => try_as::<ReferenceOr<Schema>>(entry, &ptr),
                "responses" => try_as::<ReferenceOr<Response>>(entry, &ptr),
                "parameters" => try_as::<ReferenceOr<Parameter>>(entry, &ptr),
                "requestBodies" => try_as::<ReferenceOr<RequestBody>>(entry, &ptr),
                "headers" => try_as::<ReferenceOr<Header>>(entry, &ptr),
                "securitySchemes" => try_as::<ReferenceOr<openapiv3::SecurityScheme>>(entry, &ptr),
                _ => None,
            };
            if found.is_some() {
                return found;
            }
        }
    }
    None
}

fn locate_in_operation(op: &Value, ptr: &str) -> Option<(String, String)> {
    use openapiv3::{Parameter, ReferenceOr, Response};
    if let Some(responses) = op.get("responses").and_then(Value::as_object) {
        for (status, response) in responses {
            let found =
                try_as::<ReferenceOr<Response>>(response, &child(&child(ptr, "responses"), status));
            if found.is_some() {
                return found;
            }
        }
    }
    if let Some(params) = op.get("parameters").and_then(Value::as_array) {
        for (i, param) in params.iter().enumerate() {
            let found =
                try_as::<ReferenceOr<Parameter>>(param, &item(&child(ptr, "parameters"), i));
            if found.is_some() {
                return found;
            }
        }
    }
    try_as::<openapiv3::Operation>(op, ptr)
}

/// The canonical text of a document: keys sorted recursively, 2-space indent, final newline.
pub fn to_canonical_string(doc: &Value) -> String {
    let mut text = serde_json::to_string_pretty(&sorted(doc.clone()))
        .expect("serializing a serde_json::Value cannot fail");
    text.push('\n');
    text
}

/// Operation and schema counts of a (normalized or upstream) document.
pub fn summarize(doc: &Value) -> Summary {
    let operations = doc
        .get("paths")
        .and_then(Value::as_object)
        .map(|paths| {
            paths
                .values()
                .filter_map(Value::as_object)
                .map(|item| item.keys().filter(|k| is_method(k)).count())
                .sum()
        })
        .unwrap_or(0);
    let schemas = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .map_or(0, Map::len);
    Summary {
        operations,
        schemas,
    }
}

/// Escapes one JSON pointer segment (`~` -> `~0`, `/` -> `~1`).
pub fn escape_pointer_segment(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// A pointer as shown in messages: the root is `(document root)`.
fn shown(pointer: &str) -> String {
    if pointer.is_empty() {
        "(document root)".to_string()
    } else {
        pointer.to_string()
    }
}

fn child(ptr: &str, key: &str) -> String {
    format!("{ptr}/{}", escape_pointer_segment(key))
}

fn item(ptr: &str, index: usize) -> String {
    format!("{ptr}/{index}")
}

fn path_to_pointer(base: &str, path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut pointer = base.to_string();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => pointer = item(&pointer, *index),
            Segment::Map { key } => pointer = child(&pointer, key),
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    pointer
}

/// Rebuilds every object with its keys in sorted order (the workspace's serde_json keeps
/// insertion order).
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn is_method(key: &str) -> bool {
    METHODS.contains(&key)
}

fn is_extension(key: &str) -> bool {
    key.starts_with("x-")
}

/// Schema keys that carry prose, examples or tooling hints only.
fn is_schema_annotation(key: &str) -> bool {
    is_extension(key)
        || matches!(
            key,
            "description"
                | "title"
                | "example"
                | "examples"
                | "externalDocs"
                | "$comment"
                | "$schema"
                | "$id"
                | "contentMediaType"
                | "contentEncoding"
        )
}

const SCHEMA_TYPES: [&str; 6] = ["string", "number", "integer", "boolean", "object", "array"];

/// Keywords that only constrain instances of one JSON type, used to split a multi-type schema.
fn keyword_applies_to(keyword: &str, ty: &str) -> Option<bool> {
    let applies = match keyword {
        "minLength" | "maxLength" | "pattern" => ty == "string",
        "format" => matches!(ty, "string" | "number" | "integer"),
        "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" | "multipleOf" => {
            matches!(ty, "number" | "integer")
        }
        "properties" | "required" | "additionalProperties" | "minProperties" | "maxProperties" => {
            ty == "object"
        }
        "items" | "minItems" | "maxItems" | "uniqueItems" => ty == "array",
        _ => return None,
    };
    Some(applies)
}

/// Whether a `oneOf`/`anyOf` branch is the null type (`{type: "null"}` and the like).
fn is_null_schema(value: &Value) -> bool {
    let Value::Object(o) = value else {
        return false;
    };
    let mut facts = o.iter().filter(|(k, _)| !is_schema_annotation(k));
    let (Some((key, v)), None) = (facts.next(), facts.next()) else {
        return false;
    };
    match (key.as_str(), v) {
        ("type", Value::String(t)) => t == "null",
        ("type", Value::Array(ts)) => ts.len() == 1 && ts[0] == "null",
        ("const", Value::Null) => true,
        ("enum", Value::Array(vs)) => vs.len() == 1 && vs[0].is_null(),
        _ => false,
    }
}

struct RefUse {
    /// Pointer (in the upstream document) of the `$ref` or mapping value.
    pointer: String,
    /// The target as written.
    target: String,
}

struct Normalizer<'a> {
    file: &'a str,
    v31: bool,
    refs: Vec<RefUse>,
    /// operationId -> pointer of its first use.
    operation_ids: HashMap<String, String>,
}

type R<T> = Result<T, ImportError>;

impl Normalizer<'_> {
    fn err(&self, ptr: &str, reason: impl Into<String>) -> ImportError {
        ImportError::Unsupported {
            file: self.file.to_string(),
            pointer: shown(ptr),
            reason: reason.into(),
        }
    }

    fn unknown(&self, ptr: &str, what: &str, key: &str) -> ImportError {
        self.err(
            ptr,
            format!("unsupported key `{key}` in {what} (not a known fact, prose or extension)"),
        )
    }

    fn obj<'v>(&self, v: &'v Value, ptr: &str, what: &str) -> R<&'v Map<String, Value>> {
        v.as_object().ok_or_else(|| {
            self.err(
                ptr,
                format!("expected {what} (an object), found {}", kind(v)),
            )
        })
    }

    fn arr<'v>(&self, v: &'v Value, ptr: &str, what: &str) -> R<&'v Vec<Value>> {
        v.as_array().ok_or_else(|| {
            self.err(
                ptr,
                format!("expected {what} (an array), found {}", kind(v)),
            )
        })
    }

    fn string(&self, v: &Value, ptr: &str, what: &str) -> R<Value> {
        match v {
            Value::String(_) => Ok(v.clone()),
            _ => Err(self.err(
                ptr,
                format!("expected {what} (a string), found {}", kind(v)),
            )),
        }
    }

    fn boolean(&self, v: &Value, ptr: &str, what: &str) -> R<Value> {
        match v {
            Value::Bool(_) => Ok(v.clone()),
            _ => Err(self.err(
                ptr,
                format!("expected {what} (a boolean), found {}", kind(v)),
            )),
        }
    }

    fn strings(&self, v: &Value, ptr: &str, what: &str) -> R<Value> {
        for (i, s) in self.arr(v, ptr, what)?.iter().enumerate() {
            self.string(s, &item(ptr, i), what)?;
        }
        Ok(v.clone())
    }

    /// Maps each entry of a name -> object map (the names are data) through `f`.
    fn named(
        &mut self,
        v: &Value,
        ptr: &str,
        what: &str,
        mut f: impl FnMut(&mut Self, &Value, &str) -> R<Value>,
    ) -> R<Value> {
        let mut out = Map::new();
        for (name, entry) in self.obj(v, ptr, what)? {
            out.insert(name.clone(), f(self, entry, &child(ptr, name))?);
        }
        Ok(Value::Object(out))
    }

    fn list(
        &mut self,
        v: &Value,
        ptr: &str,
        what: &str,
        mut f: impl FnMut(&mut Self, &Value, &str) -> R<Value>,
    ) -> R<Value> {
        let mut out = Vec::new();
        for (i, entry) in self.arr(v, ptr, what)?.iter().enumerate() {
            out.push(f(self, entry, &item(ptr, i))?);
        }
        Ok(Value::Array(out))
    }

    /// Accepts a construct the importer cannot carry over only when it is empty.
    fn reject_nonempty(&self, v: &Value, ptr: &str, what: &str) -> R<()> {
        let empty = match v {
            Value::Object(o) => o.is_empty(),
            Value::Array(a) => a.is_empty(),
            Value::Null => true,
            _ => false,
        };
        if empty {
            Ok(())
        } else {
            Err(self.err(ptr, format!("{what} are not supported by the importer")))
        }
    }

    fn record_ref(&mut self, ptr: &str, target: &Value) -> R<String> {
        let Value::String(target) = target else {
            return Err(self.err(
                ptr,
                format!("`$ref` must be a string, found {}", kind(target)),
            ));
        };
        if !target.starts_with('#') {
            return Err(self.err(
                ptr,
                format!("external `$ref` {target:?} is not supported (only `#/...` references)"),
            ));
        }
        self.refs.push(RefUse {
            pointer: ptr.to_string(),
            target: target.clone(),
        });
        Ok(target.clone())
    }

    /// A Reference Object outside schemas: only `$ref` counts (siblings are ignored by 3.0 and,
    /// except prose, by 3.1).
    fn reference(&mut self, o: &Map<String, Value>, ptr: &str) -> R<Value> {
        let target = self.record_ref(&child(ptr, "$ref"), &o["$ref"])?;
        Ok(json!({ "$ref": target }))
    }

    fn document(&mut self, root: &Map<String, Value>) -> R<Value> {
        let mut out = Map::new();
        for (k, v) in root {
            let p = child("", k);
            let value = match k.as_str() {
                "openapi" => Value::String(OUTPUT_OPENAPI_VERSION.into()),
                "info" => self.info(v, &p)?,
                "servers" => self.servers(v, &p)?,
                "paths" => self.paths(v, &p)?,
                "components" => self.components(v, &p)?,
                "security" => self.security(v, &p)?,
                "tags" => self.tags(v, &p)?,
                "webhooks" => {
                    self.reject_nonempty(v, &p, "webhooks (OpenAPI 3.1)")?;
                    continue;
                }
                "externalDocs" | "jsonSchemaDialect" => continue,
                k if is_extension(k) => continue,
                _ => return Err(self.unknown(&p, "the OpenAPI object", k)),
            };
            out.insert(k.clone(), value);
        }
        Ok(Value::Object(out))
    }

    /// `info`: title and version only.
    fn info(&mut self, v: &Value, ptr: &str) -> R<Value> {
        let o = self.obj(v, ptr, "info")?;
        let mut out = Map::new();
        for key in ["title", "version"] {
            let p = child(ptr, key);
            let value = match o.get(key) {
                Some(Value::String(s)) => Value::String(s.clone()),
                // YAML turns `version: 1.0` into a number.
                Some(Value::Number(n)) if key == "version" => Value::String(n.to_string()),
                Some(other) => {
                    return Err(self.err(&p, format!("expected a string, found {}", kind(other))));
                }
                None => return Err(self.err(ptr, format!("info has no `{key}`"))),
            };
            out.insert(key.to_string(), value);
        }
        Ok(Value::Object(out))
    }

    /// Top-level tags: the names only, in order.
    fn tags(&mut self, v: &Value, ptr: &str) -> R<Value> {
        self.list(v, ptr, "tags", |n, tag, p| {
            let o = n.obj(tag, p, "a tag")?;
            let name = o.get("name").ok_or_else(|| n.err(p, "tag has no `name`"))?;
            Ok(json!({ "name": n.string(name, &child(p, "name"), "a tag name")? }))
        })
    }

    fn servers(&mut self, v: &Value, ptr: &str) -> R<Value> {
        self.list(v, ptr, "servers", Self::server)
    }

    fn server(&mut self, v: &Value, ptr: &str) -> R<Value> {
        let o = self.obj(v, ptr, "a server")?;
        let mut out = Map::new();
        for (k, v) in o {
            let p = child(ptr, k);
            let value = match k.as_str() {
                "url" => self.string(v, &p, "a server URL")?,
                "variables" => self.named(v, &p, "server variables", |n, var, vp| {
                    let o = n.obj(var, vp, "a server variable")?;
                    let mut out = Map::new();
                    for (k, v) in o {
                        let p = child(vp, k);
                        match k.as_str() {
                            "enum" => out.insert(k.clone(), n.strings(v, &p, "enum values")?),
                            "default" => out.insert(k.clone(), n.string(v, &p, "a default")?),
                            "description" => continue,
                            k if is_extension(k) => continue,
                            _ => return Err(n.unknown(&p, "a server variable", k)),
                        };
                    }
                    Ok(Value::Object(out))
                })?,
                "description" => continue,
                k if is_extension(k) => continue,
                _ => return Err(self.unknown(&p, "a server", k)),
            };
            out.insert(k.clone(), value);
        }
        Ok(Value::Object(out))
    }

    /// Security requirements: scheme name -> scopes (all data).
    fn security(&mut self, v: &Value, ptr: &str) -> R<Value> {
        self.list(v, ptr, "security requirements", |n, req, p| {
            n.named(req, p, "a security requirement", |n, scopes, sp| {
                n.strings(scopes, sp, "scopes")
            })
        })
    }

    fn paths(&mut self, v: &Value, ptr: &str) -> R<Value> {
        let o = self.obj(v, ptr, "paths")?;
        let mut out = Map::new();
        for (path, item) in o {
            if is_extension(path) {
                continue;
            }
            out.insert(path.clone(), self.path_item(item, &child(ptr, path))?);
        }
        Ok(Value::Object(out))
    }

    fn path_item(&mut self, v: &Value, ptr: &str) -> R<Value> {
        let o = self.obj(v, ptr, "a path item")?;
        let mut out = Map::new();
        for (k, v) in o {
            let p = child(ptr, k);
            let value = match k.as_str() {
                m if is_method(m) => self.operation(v, &p)?,
                "parameters" => self.list(v, &p, "parameters", Self::parameter)?,
                "servers" => self.servers(v, &p)?,
                "$ref" => return Err(self.err(&p, "path item `$ref` is not supported")),
                "summary" | "description" => continue,
                k if is_extension(k) => continue,
                _ => return Err(self.unknown(&p, "a path item", k)),
            };
            out.insert(k.clone(), value);
        }
        Ok(Value::Object(out))
    }

    fn operation(&mut self, v: &Value, ptr: &str) -> R<Value> {
        let o = self.obj(v, ptr, "an operation")?;
        let mut out = Map::new();
        for (k, v) in o {
            let p = child(ptr, k);
            let value = match k.as_str() {
                "operationId" => {
                    let id = self.string(v, &p, "an operationId")?;
                    let name = id.as_str().unwrap_or_default().to_string();
                    if let Some(first) = self.operation_ids.get(&name) {
                        return Err(self.err(
                            &p,
                            format!("operationId {name:?} is already used at {first}"),
                        ));
                    }
                    self.operation_ids.insert(name, p.clone());
                    id
                }
                "tags" => self.strings(v, &p, "tags")?,
                "deprecated" => self.boolean(v, &p, "deprecated")?,
                "parameters" => self.list(v, &p, "parameters", Self::parameter)?,
                "requestBody" => self.request_body(v, &p)?,
                "responses" => self.responses(v, &p)?,
                "security" => self.security(v, &p)?,
                "servers" => self.servers(v, &p)?,
                "callbacks" => {
                    self.reject_nonempty(v, &p, "callbacks")?;
                    continue;
                }
                "summary" | "description" | "externalDocs" => continue,
                k if is_extension(k) => continue,
                _ => return Err(self.unknown(&p, "an operation", k)),
            };
            out.insert(k.clone(), value);
        }
        // 3.1 lets an operation omit `responses`; openapiv3 needs the key.
        out.entry("responses").or_insert_with(|| json!({}));
        Ok(Value::Object(out))
    }

    fn parameter(&mut self, v: &Value, ptr: &str) -> R<Value> {
        let o = self.obj(v, ptr, "a parameter")?;
        if o.contains_key("$ref") {
            return self.reference(o, ptr);
        }
        let mut out = Map::new();
        for (k, v) in o {
            let p = child(ptr, k);
            let value = match k.as_str() {
                "name" => self.string(v, &p, "a parameter name")?,
                "in" => self.string(v, &p, "a parameter location")?,
                "style" => self.string(v, &p, "a style")?,
                "required" | "deprecated" | "allowEmptyValue" | "explode" | "allowReserved" => {
                    self.boolean(v, &p, k)?
                }
                "schema" => self.schema(v, &p)?,
                "content" => self.content(v, &p)?,
                "description" | "example" | "examples" => continue,
                k if is_extension(k) => continue,
                _ => return Err(self.unknown(&p, "a parameter", k)),
            };
            out.insert(k.clone(), value);
        }
        Ok(Value::Object(out))
    }

    fn header(&mut self, v: &Value, ptr: &str) -> R<Value> {
        let o = self.obj(v, ptr, "a header")?;
        if o.contains_key("$ref") {
            return self.reference(o, ptr);
        }
        let mut out = Map::new();
        for (k, v) in o {
            let p = child(ptr, k);
            let value = match k.as_str() {
                "style" => self.string(v, &p, "a style")?,
                "required" | "deprecated" | "explode" => self.boolean(v, &p, k)?,
                "schema" => self.schema(v, &p)?,
                "content" => self.content(v, &p)?,
                "description" | "example" | "examples" => continue,
                k if is_extension(k) => continue,
                _ => return Err(self.unknown(&p, "a header", k)),
            };
            out.insert(k.clone(), value);
        }
        Ok(Value::Object(out))
    }

    fn request_body(&mut self, v: &Value, ptr: &str) -> R<Value> {
        let o = self.obj(v, ptr, "a request body")?;
        if o.contains_key("$ref") {
            return self.reference(o, ptr);
        }
        let mut out = Map::new();
        for (k, v) in o {
            let p = child(ptr, k);
            let value = match k.as_str() {
                "required" => self.boolean(v, &p, "required")?,
                "content" => self.content(v, &p)?,
                "description" => continue,
                k if is_extension(k) => continue,
                _ => return Err(self.unknown(&p, "a request body", k)),
            };
            out.insert(k.clone(), value);
        }
        Ok(Value::Object(out))
    }

    /// Media type -> media type object (the media types are data).
    fn content(&mut self, v: &Value, ptr: &str) -> R<Value> {
        self.named(v, ptr, "content", Self::media_type)
    }

    fn media_type(&mut self, v: &Value, ptr: &str) -> R<Value> {
        let o = self.obj(v, ptr, "a media type")?;
        let mut out = Map::new();
        for (k, v) in o {
            let p = child(ptr, k);
            let value = match k.as_str() {
                "schema" => self.schema(v, &p)?,
                "encoding" => self.named(v, &p, "encodings", Self::encoding)?,
                "example" | "examples" => continue,
                k if is_extension(k) => continue,
                _ => return Err(self.unknown(&p, "a media type", k)),
            };
            out.insert(k.clone(), value);
        }
        Ok(Value::Object(out))
    }

    fn encoding(&mut self, v: &Value, ptr: &str) -> R<Value> {
        let o = self.obj(v, ptr, "an encoding")?;
        let mut out = Map::new();
        for (k, v) in o {
            let p = child(ptr, k);
            let value = match k.as_str() {
                "contentType" | "style" => self.string(v, &p, k)?,
                "explode" | "allowReserved" => self.boolean(v, &p, k)?,
                "headers" => self.named(v, &p, "headers", Self::header)?,
                k if is_extension(k) => continue,
                _ => return Err(self.unknown(&p, "an encoding", k)),
            };
            out.insert(k.clone(), value);
        }
        Ok(Value::Object(out))
    }

    /// Status code -> response (the status codes are data).
    fn responses(&mut self, v: &Value, ptr: &str) -> R<Value> {
        let o = self.obj(v, ptr, "responses")?;
        let mut out = Map::new();
        for (status, response) in o {
            if is_extension(status) {
                continue;
            }
            let p = child(ptr, status);
            let valid = status == "default"
                || (status.len() == 3
                    && matches!(status.as_bytes()[0], b'1'..=b'5')
                    && (status[1..].bytes().all(|b| b.is_ascii_digit()) || &status[1..] == "XX"));
            if !valid {
                return Err(self.err(&p, format!("{status:?} is not a status code")));
            }
            out.insert(status.clone(), self.response(response, &p)?);
        }
        Ok(Value::Object(out))
    }

    fn response(&mut self, v: &Value, ptr: &str) -> R<Value> {
        let o = self.obj(v, ptr, "a response")?;
        if o.contains_key("$ref") {
            return self.reference(o, ptr);
        }
        let mut out = Map::new();
        // Required by OpenAPI 3.0 (and openapiv3); the prose itself is not kept.
        out.insert("description".into(), Value::String(String::new()));
        for (k, v) in o {
            let p = child(ptr, k);
            let value = match k.as_str() {
                "headers" => self.named(v, &p, "headers", Self::header)?,
                "content" => self.content(v, &p)?,
                "links" => {
                    self.reject_nonempty(v, &p, "links")?;
                    continue;
                }
                "description" => continue,
                k if is_extension(k) => continue,
                _ => return Err(self.unknown(&p, "a response", k)),
            };
            out.insert(k.clone(), value);
        }
        Ok(Value::Object(out))
    }

    fn components(&mut self, v: &Value, ptr: &str) -> R<Value> {
        let o = self.obj(v, ptr, "components")?;
        let mut out = Map::new();
        for (k, v) in o {
            let p = child(ptr, k);
            let value = match k.as_str() {
                "schemas" => self.named(v, &p, "schemas", Self::schema)?,
                "responses" => self.named(v, &p, "responses", Self::response)?,
                "parameters" => self.named(v, &p, "parameters", Self::parameter)?,
                "requestBodies" => self.named(v, &p, "request bodies", Self::request_body)?,
                "headers" => self.named(v, &p, "headers", Self::header)?,
                "securitySchemes" => {
                    self.named(v, &p, "security schemes", Self::security_scheme)?
                }
                "links" | "callbacks" | "pathItems" => {
                    self.reject_nonempty(v, &p, k)?;
                    continue;
                }
                "examples" => continue,
                k if is_extension(k) => continue,
                _ => return Err(self.unknown(&p, "components", k)),
            };
            out.insert(k.clone(), value);
        }
        Ok(Value::Object(out))
    }

    fn security_scheme(&mut self, v: &Value, ptr: &str) -> R<Value> {
        let o = self.obj(v, ptr, "a security scheme")?;
        if o.contains_key("$ref") {
            return self.reference(o, ptr);
        }
        let mut out = Map::new();
        for (k, v) in o {
            let p = child(ptr, k);
            let value = match k.as_str() {
                "type" | "in" | "name" | "scheme" | "bearerFormat" | "openIdConnectUrl" => {
                    self.string(v, &p, k)?
                }
                "flows" => self.oauth_flows(v, &p)?,
                "description" => continue,
                k if is_extension(k) => continue,
                _ => return Err(self.unknown(&p, "a security scheme", k)),
            };
            out.insert(k.clone(), value);
        }
        Ok(Value::Object(out))
    }

    fn oauth_flows(&mut self, v: &Value, ptr: &str) -> R<Value> {
        let o = self.obj(v, ptr, "OAuth flows")?;
        let mut out = Map::new();
        for (k, v) in o {
            let p = child(ptr, k);
            let value = match k.as_str() {
                "implicit" | "password" | "clientCredentials" | "authorizationCode" => {
                    let flow = self.obj(v, &p, "an OAuth flow")?;
                    let mut fout = Map::new();
                    for (fk, fv) in flow {
                        let fp = child(&p, fk);
                        let value = match fk.as_str() {
                            "authorizationUrl" | "tokenUrl" | "refreshUrl" => {
                                self.string(fv, &fp, fk)?
                            }
                            // Scope names are facts; their descriptions are prose.
                            "scopes" => {
                                self.named(fv, &fp, "scopes", |_, _, _| Ok(Value::from("")))?
                            }
                            fk if is_extension(fk) => continue,
                            _ => return Err(self.unknown(&fp, "an OAuth flow", fk)),
                        };
                        fout.insert(fk.clone(), value);
                    }
                    Value::Object(fout)
                }
                k if is_extension(k) => continue,
                _ => return Err(self.unknown(&p, "OAuth flows", k)),
            };
            out.insert(k.clone(), value);
        }
        Ok(Value::Object(out))
    }

    // ----- schemas -------------------------------------------------------------------------

    fn schema(&mut self, v: &Value, ptr: &str) -> R<Value> {
        let o = match v {
            // JSON Schema 2020-12 boolean schemas.
            Value::Bool(true) => return Ok(json!({})),
            Value::Bool(false) => return Ok(json!({ "not": {} })),
            Value::Object(o) => o,
            other => {
                return Err(self.err(
                    ptr,
                    format!("expected a schema (an object), found {}", kind(other)),
                ));
            }
        };
        if o.contains_key("$ref") {
            return self.schema_ref(o, ptr);
        }
        if let Some(rewritten) = self.lower_null_branches(o, ptr)? {
            return self.schema(&Value::Object(rewritten), ptr);
        }
        let mut o = o.clone();
        self.lower_type_array(&mut o, ptr)?;
        self.schema_keywords(&o, ptr)
    }

    /// A schema `$ref`. In 3.0 its siblings are ignored (so dropped); in 3.1 they apply, so the
    /// facts among them are kept next to `allOf: [{$ref}]`.
    fn schema_ref(&mut self, o: &Map<String, Value>, ptr: &str) -> R<Value> {
        let target = self.record_ref(&child(ptr, "$ref"), &o["$ref"])?;
        let reference = json!({ "$ref": target });
        let siblings: Map<String, Value> = o
            .iter()
            .filter(|(k, _)| k.as_str() != "$ref")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !self.v31 || siblings.is_empty() {
            return Ok(reference);
        }
        let mut rest = match self.schema(&Value::Object(siblings), ptr)? {
            Value::Object(rest) => rest,
            other => return Ok(other),
        };
        if rest.is_empty() {
            return Ok(reference);
        }
        match rest.get_mut("allOf") {
            Some(Value::Array(all)) => all.insert(0, reference),
            _ => {
                rest.insert("allOf".into(), Value::Array(vec![reference]));
            }
        }
        Ok(Value::Object(rest))
    }

    /// `anyOf`/`oneOf` with a null branch: the other branch(es) plus `nullable: true`. Returns
    /// the rewritten (not yet normalized) schema, or `None` when there is nothing to lower.
    fn lower_null_branches(
        &self,
        o: &Map<String, Value>,
        ptr: &str,
    ) -> R<Option<Map<String, Value>>> {
        for key in ["anyOf", "oneOf"] {
            let Some(Value::Array(branches)) = o.get(key) else {
                continue;
            };
            if !branches.iter().any(is_null_schema) {
                continue;
            }
            let p = child(ptr, key);
            let rest: Vec<Value> = branches
                .iter()
                .filter(|b| !is_null_schema(b))
                .cloned()
                .collect();
            let mut out = o.clone();
            out.insert("nullable".into(), Value::Bool(true));
            if rest.len() != 1 {
                if rest.is_empty() {
                    return Err(self.err(
                        &p,
                        "only null branches: the null type alone has no OpenAPI 3.0 equivalent",
                    ));
                }
                out.insert(key.into(), Value::Array(rest));
                return Ok(Some(out));
            }
            // One branch left: unwrap it.
            out.remove(key);
            let branch = rest.into_iter().next().unwrap_or_default();
            let inline = match &branch {
                Value::Object(b) if !b.contains_key("$ref") => Some(b),
                _ => None,
            };
            let outer_facts: Vec<&String> =
                out.keys().filter(|k| !is_schema_annotation(k)).collect();
            if let Some(b) = inline {
                let clash = b
                    .keys()
                    .filter(|k| !is_schema_annotation(k))
                    .any(|k| outer_facts.contains(&k));
                if !clash {
                    for (k, v) in b {
                        if !is_schema_annotation(k) {
                            out.insert(k.clone(), v.clone());
                        }
                    }
                    return Ok(Some(out));
                }
            }
            // A `$ref` (3.0 ignores siblings of `$ref`) or a branch that clashes with the outer
            // schema: keep it as the single member of `allOf`.
            if out.contains_key("allOf") {
                return Err(self.err(
                    &p,
                    "a nullable branch next to an existing `allOf` cannot be lowered soundly",
                ));
            }
            out.insert("allOf".into(), Value::Array(vec![branch]));
            return Ok(Some(out));
        }
        Ok(None)
    }

    /// `type: [T, "null"]` -> `type: T, nullable: true`; several non-null types -> `anyOf` of one
    /// branch per type, each with the keywords that constrain that type.
    fn lower_type_array(&self, o: &mut Map<String, Value>, ptr: &str) -> R<()> {
        let Some(Value::Array(types)) = o.get("type") else {
            return Ok(());
        };
        let p = child(ptr, "type");
        let mut has_null = false;
        let mut non_null: Vec<String> = Vec::new();
        for (i, t) in types.iter().enumerate() {
            let Value::String(t) = t else {
                return Err(self.err(
                    &item(&p, i),
                    format!("expected a type name, found {}", kind(t)),
                ));
            };
            if t == "null" {
                has_null = true;
            } else if !SCHEMA_TYPES.contains(&t.as_str()) {
                return Err(self.err(&item(&p, i), format!("unknown type {t:?}")));
            } else if !non_null.contains(t) {
                non_null.push(t.clone());
            }
        }
        match non_null.len() {
            0 => {
                return Err(self.err(
                    &p,
                    "type [\"null\"] (the null type alone) has no OpenAPI 3.0 equivalent",
                ));
            }
            1 => {
                o.insert("type".into(), Value::String(non_null.remove(0)));
            }
            _ => {
                if o.contains_key("anyOf") {
                    return Err(self.err(
                        &p,
                        "several types next to an existing `anyOf` cannot be lowered soundly",
                    ));
                }
                let branches = non_null
                    .iter()
                    .map(|ty| {
                        let mut branch = Map::new();
                        branch.insert("type".into(), Value::String(ty.clone()));
                        for (k, v) in o.iter() {
                            if keyword_applies_to(k, ty) == Some(true) {
                                branch.insert(k.clone(), v.clone());
                            }
                        }
                        Value::Object(branch)
                    })
                    .collect();
                o.retain(|k, _| k != "type" && keyword_applies_to(k, "string").is_none());
                o.insert("anyOf".into(), Value::Array(branches));
            }
        }
        if has_null {
            o.insert("nullable".into(), Value::Bool(true));
        }
        Ok(())
    }

    /// The keywords of a schema without `$ref`, null branches or type arrays.
    fn schema_keywords(&mut self, o: &Map<String, Value>, ptr: &str) -> R<Value> {
        let mut out = Map::new();
        for (k, v) in o {
            let p = child(ptr, k);
            let value = match k.as_str() {
                "type" => match v {
                    Value::String(t) if SCHEMA_TYPES.contains(&t.as_str()) => v.clone(),
                    Value::String(t) if t == "null" => {
                        return Err(
                            self.err(&p, "type \"null\" alone has no OpenAPI 3.0 equivalent")
                        );
                    }
                    _ => return Err(self.err(&p, format!("unknown type {v}"))),
                },
                "format" | "pattern" => self.string(v, &p, k)?,
                "enum" => {
                    self.arr(v, &p, "enum values")?;
                    v.clone()
                }
                "default" => v.clone(),
                "required" => self.strings(v, &p, "required property names")?,
                "nullable" | "readOnly" | "writeOnly" | "deprecated" | "uniqueItems" => {
                    self.boolean(v, &p, k)?
                }
                "minimum" | "maximum" | "multipleOf" => self.number(v, &p, k)?,
                "minLength" | "maxLength" | "minItems" | "maxItems" | "minProperties"
                | "maxProperties" => match v {
                    Value::Number(n) if n.is_u64() => v.clone(),
                    _ => return Err(self.err(&p, format!("`{k}` must be a non-negative integer"))),
                },
                "exclusiveMinimum" | "exclusiveMaximum" => match v {
                    Value::Bool(_) => v.clone(),
                    // Numeric bounds (3.1) are lowered below.
                    Value::Number(_) => continue,
                    _ => return Err(self.err(&p, format!("`{k}` must be a boolean or a number"))),
                },
                "const" => continue,
                "properties" => self.named(v, &p, "properties", Self::schema)?,
                "items" => match v {
                    Value::Array(_) => {
                        return Err(self.err(
                            &p,
                            "the array form of `items` (a tuple) has no OpenAPI 3.0 equivalent",
                        ));
                    }
                    _ => self.schema(v, &p)?,
                },
                "additionalProperties" => match v {
                    Value::Bool(_) => v.clone(),
                    _ => self.schema(v, &p)?,
                },
                "allOf" | "anyOf" | "oneOf" => self.list(v, &p, k, Self::schema)?,
                "not" => self.schema(v, &p)?,
                "discriminator" => self.discriminator(v, &p)?,
                k if is_schema_annotation(k) => continue,
                _ => {
                    return Err(self.err(
                        &p,
                        format!("schema keyword `{k}` is not supported in OpenAPI 3.0 (openapiv3)"),
                    ));
                }
            };
            out.insert(k.clone(), value);
        }
        self.lower_exclusive_bound(o, &mut out, ptr, "exclusiveMinimum", "minimum")?;
        self.lower_exclusive_bound(o, &mut out, ptr, "exclusiveMaximum", "maximum")?;
        if let Some(value) = o.get("const") {
            let p = child(ptr, "const");
            match out.get("enum") {
                Some(Value::Array(values)) if !values.contains(value) => {
                    return Err(self.err(&p, "`const` is not one of the `enum` values"));
                }
                _ => {}
            }
            out.insert("enum".into(), Value::Array(vec![value.clone()]));
            if value.is_null() {
                out.insert("nullable".into(), Value::Bool(true));
            }
        }
        Ok(Value::Object(out))
    }

    fn number(&self, v: &Value, ptr: &str, what: &str) -> R<Value> {
        match v {
            Value::Number(_) => Ok(v.clone()),
            _ => Err(self.err(
                ptr,
                format!("expected {what} (a number), found {}", kind(v)),
            )),
        }
    }

    /// Numeric `exclusiveMinimum: n` (3.1) -> `minimum: n, exclusiveMinimum: true` when it is the
    /// tighter bound (and likewise for the maximum).
    fn lower_exclusive_bound(
        &self,
        o: &Map<String, Value>,
        out: &mut Map<String, Value>,
        ptr: &str,
        exclusive: &str,
        bound: &str,
    ) -> R<()> {
        let Some(Value::Number(n)) = o.get(exclusive) else {
            return Ok(());
        };
        let p = child(ptr, exclusive);
        let nf = n
            .as_f64()
            .ok_or_else(|| self.err(&p, "bound is not a finite number"))?;
        let tighter = match out.get(bound).and_then(Value::as_f64) {
            None => true,
            Some(m) if bound == "minimum" => nf >= m,
            Some(m) => nf <= m,
        };
        if tighter {
            out.insert(bound.into(), Value::Number(n.clone()));
            out.insert(exclusive.into(), Value::Bool(true));
        }
        Ok(())
    }

    fn discriminator(&mut self, v: &Value, ptr: &str) -> R<Value> {
        let o = self.obj(v, ptr, "a discriminator")?;
        let mut out = Map::new();
        for (k, v) in o {
            let p = child(ptr, k);
            let value = match k.as_str() {
                "propertyName" => self.string(v, &p, "a property name")?,
                "mapping" => {
                    let mapping = self.obj(v, &p, "a discriminator mapping")?;
                    let mut mout = Map::new();
                    for (name, target) in mapping {
                        let mp = child(&p, name);
                        let Value::String(t) = target else {
                            return Err(self.err(&mp, "mapping value must be a string"));
                        };
                        // A bare name means `#/components/schemas/<name>`.
                        let as_ref = if t.starts_with('#') || t.contains('/') {
                            t.clone()
                        } else {
                            format!("#/components/schemas/{}", escape_pointer_segment(t))
                        };
                        self.record_ref(&mp, &Value::String(as_ref))?;
                        mout.insert(name.clone(), target.clone());
                    }
                    Value::Object(mout)
                }
                k if is_extension(k) => continue,
                _ => return Err(self.unknown(&p, "a discriminator", k)),
            };
            out.insert(k.clone(), value);
        }
        Ok(Value::Object(out))
    }

    // ----- references ----------------------------------------------------------------------

    /// Every recorded `$ref` must resolve inside the normalized document.
    fn check_refs(&self, doc: &Value) -> R<()> {
        for RefUse { pointer, target } in &self.refs {
            let dangling = |reason: &str| ImportError::DanglingRef {
                file: self.file.to_string(),
                pointer: shown(pointer),
                target: target.clone(),
                reason: reason.to_string(),
            };
            let fragment = openapi_mcp_runtime::decode_strict(&target[1..])
                .ok_or_else(|| dangling("bad percent-encoding"))?;
            if fragment.is_empty() {
                continue;
            }
            if !fragment.starts_with('/') {
                return Err(dangling("not a JSON pointer"));
            }
            if doc.pointer(&fragment).is_none() {
                return Err(dangling("no such place in the document"));
            }
        }
        Ok(())
    }
}
