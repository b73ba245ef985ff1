//! JSON-RPC request ids as this server compares them: by their JSON value, so that `500`,
//! `500.0` and `5e2` are one id (a number is a number however it is written), and strings by
//! their text. Only what JSON-RPC and MCP allow is an id: a string, or an integer that every
//! client can hold exactly (at most 2^53 - 1 in size, as JavaScript's numbers are); `null`,
//! fractions, booleans, arrays and objects are not. Both transports (stdio, and HTTP sessions
//! in the server crate) refuse a request whose id is still in flight by this key.

use serde_json::Value;

/// The largest integer an id may be: every client (JavaScript's numbers too) holds it exactly.
const MAX_SAFE: u64 = 9_007_199_254_740_991;

/// The key an id is compared by, or why the value is not an id.
pub fn key(id: &Value) -> Result<String, String> {
    match id {
        Value::String(s) => Ok(format!("s:{s}")),
        Value::Number(n) => {
            let too_large = || {
                format!(
                    "the request id {n} is larger than 2^53 - 1, which not every client can hold exactly; use a smaller integer or a string"
                )
            };
            if let Some(i) = n.as_i64() {
                return if i.unsigned_abs() <= MAX_SAFE {
                    Ok(format!("n:{i}"))
                } else {
                    Err(too_large())
                };
            }
            if n.as_u64().is_some() {
                return Err(too_large());
            }
            match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() <= MAX_SAFE as f64 => {
                    Ok(format!("n:{}", f as i64))
                }
                Some(f) if f.fract() == 0.0 => Err(too_large()),
                _ => Err(format!(
                    "the request id {n} is not an integer; ids are strings or integers"
                )),
            }
        }
        Value::Null => Err("a request's id may not be null; ids are strings or integers (a message without an id is a notification)".into()),
        other => Err(format!(
            "the request id {other} is not a string or an integer"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::key;
    use serde_json::json;

    #[test]
    fn a_number_is_one_id_however_it_is_written() {
        let five_hundred: serde_json::Value = serde_json::from_str("5e2").unwrap();
        let with_point: serde_json::Value = serde_json::from_str("500.0").unwrap();
        assert_eq!(key(&json!(500)).unwrap(), key(&five_hundred).unwrap());
        assert_eq!(key(&json!(500)).unwrap(), key(&with_point).unwrap());
        assert_ne!(key(&json!(500)).unwrap(), key(&json!("500")).unwrap());
        assert_eq!(key(&json!(-3)).unwrap(), "n:-3");
        assert_eq!(
            key(&json!(9_007_199_254_740_991u64)).unwrap(),
            "n:9007199254740991"
        );
    }

    #[test]
    fn what_json_rpc_does_not_allow_is_no_id() {
        for (bad, says) in [
            (json!(1.5), "not an integer"),
            (json!(null), "may not be null"),
            (json!(true), "not a string or an integer"),
            (json!([1]), "not a string or an integer"),
            (json!({"a": 1}), "not a string or an integer"),
            (json!(9_007_199_254_740_992u64), "larger than 2^53"),
            (json!(u64::MAX), "larger than 2^53"),
            (json!(-9_007_199_254_740_993i64), "larger than 2^53"),
            (
                serde_json::from_str::<serde_json::Value>("1e300").unwrap(),
                "larger than 2^53",
            ),
        ] {
            let e = key(&bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
