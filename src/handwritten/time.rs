//! Time for relative ranges: RFC 3339 formatting without a date library, and the timeframe
//! spellings people type.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::runtime::checks::civil_from_days;

/// Formats a time as RFC 3339 in UTC, to the second: `2025-01-15T15:30:00Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The accepted spellings, for error messages.
pub const TIMEFRAME_FORMS: &str = "1Min..59Min (1min, 5m, 15 minutes, 15T), 1Hour..23Hour (1h, 4hour, 2 hours), 1Day (1d, 1 day), 1Week (1w, 1 week), 1Month, 2Month, 3Month, 4Month, 6Month, 12Month (1M, 1mo, 1 month)";

/// Normalizes a timeframe to Alpaca's form (`5Min`, `1Hour`, `1Day`, `1Week`, `1Month`).
/// A lowercase `m` means minutes and an uppercase `M` months, as on charting sites.
pub fn normalize_timeframe(raw: &str) -> Result<String, String> {
    let s = raw.trim();
    let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
    let unit = s[digits.len()..].trim();
    let n: u32 = if digits.is_empty() {
        1
    } else {
        digits.parse().map_err(|_| bad(raw))?
    };
    let lower = unit.to_ascii_lowercase();
    let unit = match (unit, lower.as_str()) {
        ("M", _) => "Month",
        (_, "m" | "t" | "min" | "mins" | "minute" | "minutes") => "Min",
        (_, "h" | "hr" | "hrs" | "hour" | "hours") => "Hour",
        (_, "d" | "day" | "days") => "Day",
        (_, "w" | "wk" | "week" | "weeks") => "Week",
        (_, "mo" | "mon" | "month" | "months") => "Month",
        _ => return Err(bad(raw)),
    };
    let ok = match unit {
        "Min" => (1..=59).contains(&n),
        "Hour" => (1..=23).contains(&n),
        "Day" | "Week" => n == 1,
        _ => [1, 2, 3, 4, 6, 12].contains(&n),
    };
    if !ok {
        return Err(bad(raw));
    }
    Ok(format!("{n}{unit}"))
}

fn bad(raw: &str) -> String {
    format!("timeframe {raw:?} is not one Alpaca accepts; use {TIMEFRAME_FORMS}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(1_736_955_000)),
            "2025-01-15T15:30:00Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(4_107_542_399)),
            "2100-02-28T23:59:59Z"
        );
    }

    #[test]
    fn every_spelling_maps_to_alpacas_form() {
        let cases = [
            ("1min", "1Min"),
            ("1Min", "1Min"),
            ("5m", "5Min"),
            ("15 minutes", "15Min"),
            ("15T", "15Min"),
            ("1h", "1Hour"),
            ("4hour", "4Hour"),
            ("2 hours", "2Hour"),
            ("1Hour", "1Hour"),
            ("1d", "1Day"),
            ("1 day", "1Day"),
            ("1Day", "1Day"),
            ("day", "1Day"),
            ("1w", "1Week"),
            ("1 week", "1Week"),
            ("1Week", "1Week"),
            ("1M", "1Month"),
            ("1month", "1Month"),
            ("3 months", "3Month"),
            ("6Month", "6Month"),
            ("12mo", "12Month"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize_timeframe(input).as_deref(), Ok(want), "{input}");
        }
    }

    #[test]
    fn anything_else_lists_the_accepted_forms() {
        for bad in ["", "fortnight", "60Min", "24h", "2d", "5M", "1.5h", "-1m"] {
            let err = normalize_timeframe(bad).unwrap_err();
            assert!(
                err.contains("1Min..59Min") && err.contains("1Week"),
                "{bad}: {err}"
            );
        }
    }
}
