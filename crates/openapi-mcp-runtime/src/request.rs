//! Requests, responses and the helpers generated code uses to build them.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Error, JsonObject, ToolError};

/// HTTP methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Method {
    Get,
    Put,
    Post,
    Delete,
    Patch,
    Head,
    Options,
    Trace,
}

impl Method {
    /// Upper-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Post => "POST",
            Method::Delete => "DELETE",
            Method::Patch => "PATCH",
            Method::Head => "HEAD",
            Method::Options => "OPTIONS",
            Method::Trace => "TRACE",
        }
    }

    /// The method named `name` (upper case), if it is one.
    pub fn parse(name: &str) -> Option<Method> {
        Some(match name {
            "GET" => Method::Get,
            "PUT" => Method::Put,
            "POST" => Method::Post,
            "DELETE" => Method::Delete,
            "PATCH" => Method::Patch,
            "HEAD" => Method::Head,
            "OPTIONS" => Method::Options,
            "TRACE" => Method::Trace,
            _ => return None,
        })
    }

    /// Whether repeating the request is safe (GET, HEAD, OPTIONS).
    pub fn is_safe(&self) -> bool {
        matches!(self, Method::Get | Method::Head | Method::Options)
    }
}

/// One API request, before it is sent.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiRequest {
    /// The spec (manifest key) whose host serves it.
    pub api: &'static str,
    /// The operation id.
    pub operation_id: &'static str,
    /// HTTP method.
    pub method: Method,
    /// Path, with path parameters already percent-encoded.
    pub path: String,
    /// Query parameters, in order.
    pub query: Vec<(&'static str, String)>,
    /// JSON body.
    pub body: Option<Value>,
}

impl ApiRequest {
    /// The request as JSON, for keeping it somewhere else until it is sent (a database that
    /// several replicas share); [`ApiRequest::from_json`] reads it back.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "api": self.api,
            "operation_id": self.operation_id,
            "method": self.method.as_str(),
            "path": self.path,
            "query": self.query.iter().map(|(k, v)| [*k, v.as_str()]).collect::<Vec<_>>(),
            "body": self.body,
        })
    }

    /// A request written by [`ApiRequest::to_json`]; `None` for anything else. Names are
    /// interned: each distinct one is kept once for the life of the process, and no more than
    /// [`MAX_INTERNED`] of them (the API's names are a few hundred).
    pub fn from_json(v: &Value) -> Option<ApiRequest> {
        let s = |k: &str| v.get(k)?.as_str();
        let mut query = Vec::new();
        for pair in v.get("query")?.as_array()? {
            let pair = pair.as_array()?;
            let (k, val) = (pair.first()?.as_str()?, pair.get(1)?.as_str()?);
            query.push((intern(k)?, val.to_string()));
        }
        Some(ApiRequest {
            api: intern(s("api")?)?,
            operation_id: intern(s("operation_id")?)?,
            method: Method::parse(s("method")?)?,
            path: s("path")?.to_string(),
            query,
            body: match v.get("body") {
                None | Some(Value::Null) => None,
                Some(b) => Some(b.clone()),
            },
        })
    }
}

/// The most distinct names [`ApiRequest::from_json`] keeps.
pub const MAX_INTERNED: usize = 4096;

/// `name` as a `&'static str`, leaked once per distinct value; `None` past [`MAX_INTERNED`].
pub fn intern(name: &str) -> Option<&'static str> {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock};
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(known) = names.get(name) {
        return Some(known);
    }
    if names.len() >= MAX_INTERNED {
        return None;
    }
    let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
    names.insert(leaked);
    Some(leaked)
}

/// A success response.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    /// HTTP status.
    pub status: u16,
    /// The body.
    pub body: bytes::Bytes,
}

impl ApiResponse {
    /// Decodes the body as `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| Error::Decode {
            detail: e.to_string(),
            body: String::from_utf8_lossy(&self.body).into_owned(),
        })
    }

    /// The body as JSON (`null` for an empty body).
    pub fn json(&self) -> Result<Value, Error> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        self.decode()
    }
}

/// Everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes one path segment: everything but `A-Z a-z 0-9 - . _ ~`, so a value can
/// never add path segments.
pub fn encode_path(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

/// Decodes the `%XX` escapes of a URI part; `None` when a `%` does not start two hex digits or
/// the bytes are not UTF-8 (a lenient decoder would pass `%zz` on as it is).
pub fn decode_strict(s: &str) -> Option<String> {
    let well_formed = s
        .split('%')
        .skip(1)
        .all(|rest| rest.len() >= 2 && rest.as_bytes()[..2].iter().all(u8::is_ascii_hexdigit));
    if !well_formed {
        return None;
    }
    percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// A value as JSON (`null` if it cannot be serialized, which generated types never do).
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// A JSON value as one query-string word: strings as they are, anything else as JSON.
pub fn json_to_query(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Parses tool arguments strictly into `T`: an unknown, missing or ill-typed argument is an
/// error that names it.
pub fn parse_args<T: DeserializeOwned>(args: JsonObject) -> Result<T, ToolError> {
    let value = Value::Object(args);
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        if path.is_empty() || path == "." {
            ToolError::InvalidArguments(inner)
        } else {
            ToolError::InvalidArguments(format!("argument `{path}`: {inner}"))
        }
    })
}

/// Sets an absent (or null) argument to its default (the manifest's `arguments.defaults`).
pub fn fill_default(args: &mut JsonObject, name: &str, value: &str) {
    match args.get(name) {
        None | Some(Value::Null) => {
            args.insert(name.to_string(), Value::String(value.to_string()));
        }
        Some(_) => {}
    }
}

/// Removes an argument the server's pager reads and the API is not sent (a cursor list's
/// `limit`), checking that it is an integer from `min` to `max` when present.
pub fn take_pager_arg(
    args: &mut JsonObject,
    name: &str,
    min: u64,
    max: u64,
) -> Result<(), ToolError> {
    match args.remove(name) {
        None | Some(Value::Null) => Ok(()),
        Some(v) if v.as_u64().is_some_and(|n| (min..=max).contains(&n)) => Ok(()),
        Some(v) => Err(ToolError::InvalidArguments(format!(
            "argument `{name}`: expected an integer from {min} to {max}, got {v}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_comes_back_from_json_as_it_was() {
        let r = ApiRequest {
            api: "trading",
            operation_id: "postOrder",
            method: Method::Post,
            path: "/v2/orders".into(),
            query: vec![("nested", "true".into()), ("nested", "x y".into())],
            body: Some(serde_json::json!({"symbol": "AAPL", "qty": "1"})),
        };
        let back = ApiRequest::from_json(&r.to_json()).unwrap();
        assert_eq!(back, r);
        let no_body = ApiRequest {
            body: None,
            method: Method::Get,
            ..r.clone()
        };
        assert_eq!(ApiRequest::from_json(&no_body.to_json()).unwrap(), no_body);
        // Names are kept once.
        assert!(std::ptr::eq(
            intern("postOrder").unwrap(),
            back.operation_id
        ));
        for broken in [
            serde_json::json!({}),
            serde_json::json!({"api": "trading", "operation_id": "x", "method": "FETCH", "path": "/", "query": []}),
            serde_json::json!({"api": "trading", "operation_id": "x", "method": "GET", "path": "/", "query": [["k"]]}),
        ] {
            assert!(ApiRequest::from_json(&broken).is_none(), "{broken}");
        }
    }

    #[test]
    fn encode_path_keeps_values_inside_one_segment() {
        assert_eq!(encode_path("../v2/account"), "..%2Fv2%2Faccount");
        assert_eq!(encode_path("BTC/USD"), "BTC%2FUSD");
        assert_eq!(encode_path("AAPL"), "AAPL");
        assert_eq!(encode_path("a b?c#d"), "a%20b%3Fc%23d");
        assert_eq!(encode_path("é"), "%C3%A9");
        assert_eq!(encode_path("a-b.c_d~e"), "a-b.c_d~e");
    }

    #[test]
    fn strict_decoding_refuses_broken_escapes() {
        assert_eq!(decode_strict("BTC%2FUSD").as_deref(), Some("BTC/USD"));
        assert_eq!(decode_strict("%C3%A9").as_deref(), Some("é"));
        assert_eq!(decode_strict("plain").as_deref(), Some("plain"));
        for bad in ["%zz", "%2", "a%", "%FF"] {
            assert_eq!(decode_strict(bad), None, "{bad}");
        }
    }

    #[test]
    fn json_to_query_leaves_strings_bare() {
        assert_eq!(json_to_query(&Value::String("x".into())), "x");
        assert_eq!(json_to_query(&serde_json::json!(3)), "3");
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Args {
        symbol: String,
        limit: Option<u32>,
    }

    fn args(v: Value) -> JsonObject {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn parse_args_names_the_argument() {
        let err = parse_args::<Args>(args(serde_json::json!({"symbol": "A", "limit": "ten"})))
            .unwrap_err();
        assert!(err.to_string().contains("argument `limit`"), "{err}");
        let err =
            parse_args::<Args>(args(serde_json::json!({"symbol": "A", "bogus": 1}))).unwrap_err();
        assert!(err.to_string().contains("unknown field `bogus`"), "{err}");
        let err = parse_args::<Args>(args(serde_json::json!({}))).unwrap_err();
        assert!(err.to_string().contains("missing field `symbol`"), "{err}");
        assert!(parse_args::<Args>(args(serde_json::json!({"symbol": "A"}))).is_ok());
    }
}
