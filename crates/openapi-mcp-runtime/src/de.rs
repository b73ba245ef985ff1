//! Lenient deserializers for the scalar fields of generated response types.
//!
//! What an API sends drifts from what its spec says: a JSON number where a decimal string is
//! specified (`"qty": 1`, `"limit_price": 300`), a numeric string where an integer is
//! (`"options_approved_level": "1"`). One such field must not fail a whole answer (a list of
//! every asset, say), so each scalar field takes its neighbours' forms too:
//!
//! | field type | accepts |
//! |---|---|
//! | `String` | a string; a number, as its decimal text (`300` -> `"300"`, `0.05` -> `"0.05"`); a boolean, as `"true"`/`"false"` |
//! | `i64` | an integer; a float with no fractional part; a string holding either |
//! | `f64` | a number; a string holding one |
//! | `bool` | a boolean; the strings `"true"` and `"false"` (any case) |
//!
//! `null` and an absent field are `None`. A number's text is the shortest that reads back as
//! the same value, so every decimal of up to 15 significant digits keeps its exact value.

use serde::Deserializer;
use serde::de::{self, Visitor};

struct Lenient<T>(std::marker::PhantomData<T>);

macro_rules! visit_none {
    () => {
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    };
}

impl<'de> Visitor<'de> for Lenient<String> {
    type Value = Option<String>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a string (or a number or boolean, read as text)")
    }
    visit_none!();
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(decimal_text(v)))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
}

impl<'de> Visitor<'de> for Lenient<i64> {
    type Value = Option<i64>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an integer (or a string holding one)")
    }
    visit_none!();
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        i64::try_from(v)
            .map(Some)
            .map_err(|_| E::custom(format!("integer {v} is out of range")))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        if v.fract() == 0.0 && v.abs() < 9.0e15 {
            Ok(Some(v as i64))
        } else {
            Err(E::custom(format!("expected an integer, got {v}")))
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let t = v.trim();
        if t.is_empty() {
            return Ok(None);
        }
        if let Ok(n) = t.parse::<i64>() {
            return Ok(Some(n));
        }
        match t.parse::<f64>() {
            Ok(f) => self.visit_f64(f),
            Err(_) => Err(E::custom(format!("expected an integer, got {v:?}"))),
        }
    }
}

impl<'de> Visitor<'de> for Lenient<f64> {
    type Value = Option<f64>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a number (or a string holding one)")
    }
    visit_none!();
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v as f64))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v as f64))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let t = v.trim();
        if t.is_empty() {
            return Ok(None);
        }
        t.parse::<f64>()
            .map(Some)
            .map_err(|_| E::custom(format!("expected a number, got {v:?}")))
    }
}

impl<'de> Visitor<'de> for Lenient<bool> {
    type Value = Option<bool>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a boolean (or \"true\"/\"false\")")
    }
    visit_none!();
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        match v.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            "" => Ok(None),
            _ => Err(E::custom(format!("expected a boolean, got {v:?}"))),
        }
    }
}

/// The shortest decimal text that reads back as `v` (no exponent for ordinary magnitudes).
fn decimal_text(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        return format!("{}", v as i64);
    }
    // `{}` on f64 prints the shortest representation that round-trips, without an exponent.
    format!("{v}")
}

/// An optional string field.
pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_option(Lenient::<String>(std::marker::PhantomData))
}

/// An optional integer field.
pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    d.deserialize_option(Lenient::<i64>(std::marker::PhantomData))
}

/// An optional number field.
pub fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    d.deserialize_option(Lenient::<f64>(std::marker::PhantomData))
}

/// An optional boolean field.
pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    d.deserialize_option(Lenient::<bool>(std::marker::PhantomData))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize, Debug, PartialEq, Default)]
    #[serde(default)]
    struct Row {
        #[serde(deserialize_with = "super::opt_string")]
        qty: Option<String>,
        #[serde(deserialize_with = "super::opt_i64")]
        level: Option<i64>,
        #[serde(deserialize_with = "super::opt_f64")]
        price: Option<f64>,
        #[serde(deserialize_with = "super::opt_bool")]
        flag: Option<bool>,
    }

    fn row(json: &str) -> Row {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn each_scalar_takes_its_neighbours_forms() {
        let r = row(r#"{"qty": 1, "level": "1", "price": "300.5", "flag": "TRUE"}"#);
        assert_eq!(
            r,
            Row {
                qty: Some("1".into()),
                level: Some(1),
                price: Some(300.5),
                flag: Some(true)
            }
        );
        assert_eq!(row(r#"{"qty": 0.05}"#).qty.as_deref(), Some("0.05"));
        assert_eq!(row(r#"{"qty": 300}"#).qty.as_deref(), Some("300"));
        assert_eq!(row(r#"{"qty": 0}"#).qty.as_deref(), Some("0"));
        assert_eq!(
            row(r#"{"qty": 123.456789012}"#).qty.as_deref(),
            Some("123.456789012")
        );
        assert_eq!(row(r#"{"qty": -2.5}"#).qty.as_deref(), Some("-2.5"));
        assert_eq!(
            row(r#"{"qty": "1.50"}"#).qty.as_deref(),
            Some("1.50"),
            "strings as sent"
        );
        assert_eq!(row(r#"{"level": 2.0}"#).level, Some(2));
        assert_eq!(row(r#"{"level": null, "qty": null}"#), Row::default());
        assert_eq!(row("{}"), Row::default());
        // Still not anything at all.
        assert!(serde_json::from_str::<Row>(r#"{"level": "one"}"#).is_err());
        assert!(serde_json::from_str::<Row>(r#"{"level": 1.5}"#).is_err());
        assert!(serde_json::from_str::<Row>(r#"{"qty": [1]}"#).is_err());
    }

    #[test]
    fn works_from_a_json_value_too() {
        let v = serde_json::json!({"qty": 7, "level": "3"});
        let r: Row = serde_json::from_value(v).unwrap();
        assert_eq!((r.qty.as_deref(), r.level), (Some("7"), Some(3)));
    }
}
