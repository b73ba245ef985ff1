//! Prices and quantities: positive finite decimals, sent to Alpaca as strings. A JSON number
//! is accepted and written without float noise (`0.1` stays `0.1`).
//!
//! Why by hand: nothing here does arithmetic. The check reads the notation (digits, at most
//! one point, no exponent: `1e3` is refused) and writes the same digits back without leading
//! or trailing zeros, so what Alpaca gets is what the user typed, digit for digit. A decimal
//! crate (`rust_decimal`) would parse into a fixed-precision value, accept the exponent and
//! sign forms this must refuse, and add a dependency for a twenty-line check.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A positive, finite decimal as Alpaca wants it: a string like `"10"` or `"187.25"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decimal(pub String);

impl Decimal {
    /// Parses a string or number; `what` names the argument in errors.
    pub fn parse(value: &Value) -> Result<Decimal, String> {
        let text = match value {
            Value::String(s) => s.trim().to_string(),
            // f64's Display is the shortest text that reads back the same: no float noise,
            // and never an exponent.
            Value::Number(n) => match n.as_f64() {
                Some(f) if f.is_finite() => format!("{f}"),
                _ => return Err("must be a finite number".into()),
            },
            _ => return Err("must be a decimal string like \"10\" or \"187.25\"".into()),
        };
        let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
        let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
        if int.is_empty()
            || !digits(int)
            || !digits(frac)
            || (text.contains('.') && frac.is_empty())
        {
            return Err(format!(
                "{text:?} is not a plain decimal like \"10\" or \"187.25\""
            ));
        }
        let frac = frac.trim_end_matches('0');
        let int = int.trim_start_matches('0');
        let int = if int.is_empty() { "0" } else { int };
        if int == "0" && frac.is_empty() {
            return Err("must be greater than zero".into());
        }
        Ok(Decimal(if frac.is_empty() {
            int.to_string()
        } else {
            format!("{int}.{frac}")
        }))
    }

    /// Like [`Decimal::parse`], but a leading `-` is allowed (a net credit on a multi-leg
    /// option order); zero is still refused.
    pub fn parse_signed(value: &Value) -> Result<Decimal, String> {
        let (negative, magnitude) = match value {
            Value::String(s) if s.trim().starts_with('-') => {
                (true, Value::String(s.trim()[1..].to_string()))
            }
            Value::Number(n) if n.as_f64().is_some_and(|f| f < 0.0) => {
                (true, serde_json::json!(-n.as_f64().unwrap_or(0.0)))
            }
            other => (false, other.clone()),
        };
        let d = Decimal::parse(&magnitude)?;
        Ok(if negative {
            Decimal(format!("-{}", d.0))
        } else {
            d
        })
    }

    /// Whether it is a whole number.
    pub fn is_whole(&self) -> bool {
        !self.0.contains('.')
    }
}

impl<'de> Deserialize<'de> for Decimal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Decimal::parse(&v).map_err(serde::de::Error::custom)
    }
}

impl std::fmt::Display for Decimal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn normalizes_numbers_and_strings() {
        for (input, want) in [
            (json!(10), "10"),
            (json!(0.1), "0.1"),
            (json!(187.25), "187.25"),
            (json!(1e-7), "0.0000001"),
            (json!("007.500"), "7.5"),
            (json!(" 12 "), "12"),
            (json!("0.05"), "0.05"),
        ] {
            assert_eq!(Decimal::parse(&input).unwrap().0, want, "{input}");
        }
    }

    #[test]
    fn signed_allows_a_credit() {
        assert_eq!(Decimal::parse_signed(&json!("-1.20")).unwrap().0, "-1.2");
        assert_eq!(Decimal::parse_signed(&json!(-0.5)).unwrap().0, "-0.5");
        assert_eq!(Decimal::parse_signed(&json!(2)).unwrap().0, "2");
        assert!(Decimal::parse_signed(&json!("-0")).is_err());
        assert!(Decimal::parse_signed(&json!("--1")).is_err());
    }

    #[test]
    fn rejects_what_is_not_a_positive_decimal() {
        for input in [
            json!(0),
            json!(-1),
            json!("-1"),
            json!("1e3"),
            json!("abc"),
            json!("1."),
            json!(".5"),
            json!(""),
            json!(true),
            json!("NaN"),
            json!("0.000"),
        ] {
            assert!(Decimal::parse(&input).is_err(), "{input}");
        }
    }
}
