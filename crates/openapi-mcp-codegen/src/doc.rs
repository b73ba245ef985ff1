//! One OpenAPI document: the typed model plus its JSON form, with `$ref` resolution.

use openapiv3::OpenAPI;
use serde_json::Value;

use crate::Error;

/// A spec ready for generation.
pub struct Doc<'a> {
    /// The manifest's key for the spec (`trading`, `market-data`, ...).
    pub key: &'a str,
    /// The same document as JSON, for schema work.
    pub raw: Value,
}

impl<'a> Doc<'a> {
    /// Wraps a document.
    pub fn new(key: &'a str, api: &'a OpenAPI) -> Result<Self, Error> {
        let raw = serde_json::to_value(api).map_err(|e| Error::Spec {
            spec: key.to_string(),
            at: "/".into(),
            message: e.to_string(),
        })?;
        Ok(Doc { key, raw })
    }

    /// Replaces the values of the enums the manifest says differ on the wire.
    pub fn apply_wire_enums(&mut self, wire: &[crate::manifest::WireEnum]) -> Result<(), Error> {
        for w in wire.iter().filter(|w| w.spec == self.key) {
            let at = format!("#/components/schemas/{}", w.schema);
            let schema = self
                .raw
                .pointer_mut(&format!("/components/schemas/{}", pointer_token(&w.schema)))
                .and_then(Value::as_object_mut)
                .ok_or_else(|| {
                    Error::Manifest(format!(
                        "wire_enums: spec `{}` has no schema `{}`",
                        w.spec, w.schema
                    ))
                })?;
            if !schema.get("enum").is_some_and(Value::is_array) {
                return Err(self.error(at, "wire_enums names a schema that is not an enum"));
            }
            schema.insert(
                "enum".into(),
                Value::Array(w.values.iter().cloned().map(Value::String).collect()),
            );
        }
        Ok(())
    }

    /// Builds an error located in this spec.
    pub fn error(&self, at: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Spec {
            spec: self.key.to_string(),
            at: at.into(),
            message: message.into(),
        }
    }

    /// Looks up a local `$ref` (`#/components/...`).
    pub fn lookup(&self, reference: &str) -> Result<&Value, Error> {
        let pointer = reference
            .strip_prefix('#')
            .ok_or_else(|| self.error(reference, "only local `#/...` references are supported"))?;
        self.raw
            .pointer(pointer)
            .ok_or_else(|| self.error(reference, "dangling $ref"))
    }

    /// Follows `$ref` chains until a value without `$ref`.
    pub fn deref<'v>(&'v self, mut value: &'v Value) -> Result<&'v Value, Error> {
        for _ in 0..32 {
            match value.get("$ref").and_then(Value::as_str) {
                Some(r) => value = self.lookup(r)?,
                None => return Ok(value),
            }
        }
        Err(self.error("/", "$ref chain too long"))
    }
}

/// The name of a component schema from its `$ref`, if it is one.
pub fn schema_ref_name(reference: &str) -> Option<&str> {
    reference.strip_prefix("#/components/schemas/")
}

/// Escapes a JSON pointer token.
pub fn pointer_token(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}
