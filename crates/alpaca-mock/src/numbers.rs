//! Decimal strings: Alpaca sends money and quantities as strings.

/// Rounds to `places` decimals.
pub(crate) fn round_to(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

/// Prints a number with at most `places` decimals and no trailing zeros
/// (`"10"`, `"0.5"`, `"-1.25"`).
pub(crate) fn dec(x: f64, places: usize) -> String {
    if !x.is_finite() {
        return "0".into();
    }
    let s = format!("{:.*}", places, x);
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" { "0".into() } else { s }
}

/// Prints money with exactly two decimals (`"100000.00"`... Alpaca prints
/// balances without padding, so trailing zeros are trimmed too).
pub(crate) fn money(x: f64) -> String {
    dec(x, 2)
}

/// Prints a price with up to 4 decimals.
pub(crate) fn price(x: f64) -> String {
    dec(x, 4)
}

/// Prints a quantity with up to 9 decimals.
pub(crate) fn qty(x: f64) -> String {
    dec(x, 9)
}

/// Parses a positive decimal (string or number); `None` if absent.
pub(crate) fn parse_decimal(v: Option<&serde_json::Value>) -> Result<Option<f64>, ()> {
    let x = match v {
        None | Some(serde_json::Value::Null) => return Ok(None),
        Some(serde_json::Value::String(s)) => s.trim().parse::<f64>().map_err(|_| ())?,
        Some(serde_json::Value::Number(n)) => n.as_f64().ok_or(())?,
        Some(_) => return Err(()),
    };
    if x.is_finite() && x.abs() < 1e12 {
        Ok(Some(x))
    } else {
        Err(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(dec(10.0, 2), "10");
        assert_eq!(dec(0.5, 9), "0.5");
        assert_eq!(dec(-0.0001, 2), "0");
        assert_eq!(money(1234.567), "1234.57");
    }
}
