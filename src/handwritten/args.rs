//! Reading hand-written tools' arguments: unknown names and wrong types are errors that name
//! the argument; `null` counts as absent.

use serde_json::Value;

use super::decimal::Decimal;
use crate::runtime::JsonObject;

/// A tool's arguments.
pub struct Args(pub JsonObject);

impl Args {
    /// Fails on any argument not in `allowed`.
    pub fn only(&self, allowed: &[&str]) -> Result<(), String> {
        for key in self.0.keys() {
            if !allowed.contains(&key.as_str()) {
                return Err(format!(
                    "unknown argument `{key}`; expected one of: {}",
                    allowed.join(", ")
                ));
            }
        }
        Ok(())
    }

    fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    /// A string argument.
    pub fn string(&self, key: &str) -> Result<Option<String>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => {
                Err(format!("argument `{key}` is empty"))
            }
            Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
            Some(other) => Err(format!("argument `{key}` must be a string, not {other}")),
        }
    }

    /// A required string argument.
    pub fn required(&self, key: &str) -> Result<String, String> {
        self.string(key)?
            .ok_or_else(|| format!("argument `{key}` is required"))
    }

    /// One of `allowed` (case-insensitive), or `default`.
    pub fn choice(
        &self,
        key: &str,
        allowed: &[&str],
        default: Option<&str>,
    ) -> Result<Option<String>, String> {
        match self.string(key)? {
            None => Ok(default.map(str::to_string)),
            Some(s) => {
                let lower = s.to_ascii_lowercase();
                if allowed.contains(&lower.as_str()) {
                    Ok(Some(lower))
                } else {
                    Err(format!(
                        "argument `{key}` is {s:?}; expected one of: {}",
                        allowed.join(", ")
                    ))
                }
            }
        }
    }

    /// A positive decimal (string or number).
    pub fn decimal(&self, key: &str) -> Result<Option<Decimal>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => Decimal::parse(v)
                .map(Some)
                .map_err(|e| format!("argument `{key}`: {e}")),
        }
    }

    /// A decimal that may be negative (but not zero).
    pub fn signed_decimal(&self, key: &str) -> Result<Option<Decimal>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => Decimal::parse_signed(v)
                .map(Some)
                .map_err(|e| format!("argument `{key}`: {e}")),
        }
    }

    /// A boolean.
    pub fn boolean(&self, key: &str) -> Result<Option<bool>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(other) => Err(format!(
                "argument `{key}` must be true or false, not {other}"
            )),
        }
    }

    /// A whole number within `min..=max`.
    pub fn integer(&self, key: &str, min: i64, max: i64) -> Result<Option<i64>, String> {
        let n = match self.get(key) {
            None => return Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
            Some(Value::String(s)) => s.trim().parse().ok(),
            Some(_) => None,
        };
        match n {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(format!(
                "argument `{key}` must be a whole number from {min} to {max}"
            )),
        }
    }

    /// A JSON object.
    pub fn object(&self, key: &str) -> Result<Option<serde_json::Map<String, Value>>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m.clone())),
            Some(Value::String(s)) => match serde_json::from_str(s) {
                Ok(Value::Object(m)) => Ok(Some(m)),
                _ => Err(format!("argument `{key}` must be an object")),
            },
            Some(_) => Err(format!("argument `{key}` must be an object")),
        }
    }

    /// A JSON array (a JSON string holding one is accepted).
    pub fn array(&self, key: &str) -> Result<Option<Vec<Value>>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a.clone())),
            Some(Value::String(s)) => match serde_json::from_str(s) {
                Ok(Value::Array(a)) => Ok(Some(a)),
                _ => Err(format!("argument `{key}` must be a list")),
            },
            Some(_) => Err(format!("argument `{key}` must be a list")),
        }
    }
}
