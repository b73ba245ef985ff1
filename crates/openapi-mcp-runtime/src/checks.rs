//! Checks generated requests make on their arguments before anything is sent, each failure an
//! [`Error::InvalidArgument`] naming the argument:
//!
//! - **Path arguments** are never empty, blank, or carrying control or invisible characters
//!   ([`path_segment`]): an empty one would turn `DELETE /v2/orders/{id}` into a request on the
//!   collection.
//! - **Formats the spec states** and that are cheap to check: `uuid`, `date` (YYYY-MM-DD) and
//!   `date-time` ([`check_format`], [`date_time`]).
//! - **Patterns the manifest states** for arguments by name, such as the alphabet of ticker
//!   symbols ([`check_pattern`]), and **comma-separated lists** ([`comma_list`]).
//!
//! # Dates where the API takes a date-time
//!
//! RFC 3339 times are sent as given. A bare date `YYYY-MM-DD` is sent as the instant that keeps
//! the whole day (UTC) in the range it bounds ([`DayEdge`]): a lower bound (`start`, `since`,
//! `date`, ...) as the day's first instant `YYYY-MM-DDT00:00:00Z`; an upper bound (`end`,
//! `until`, `before`) as its last, `YYYY-MM-DDT23:59:59.999999999Z`; an exclusive lower bound
//! (`after`) as the last instant of the day before.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use super::Error;

fn invalid(name: &str, reason: impl Into<String>) -> Error {
    Error::InvalidArgument {
        argument: name.to_string(),
        reason: reason.into(),
    }
}

/// Characters that do not show when printed: zero-width spaces and joiners, direction marks
/// and overrides, the word joiner family and the byte-order mark.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
}

/// Why a value cannot be an identifier in a path or a list, if it cannot.
fn blank_or_hidden(value: &str) -> Option<&'static str> {
    if value.is_empty() {
        Some("is empty")
    } else if value.trim().is_empty() {
        Some("is blank")
    } else if value.chars().any(char::is_control) {
        Some("contains a control character")
    } else if value.chars().any(is_invisible) {
        Some("contains an invisible character")
    } else {
        None
    }
}

/// A path argument, percent-encoded as one segment. Refuses an empty, blank, control- or
/// invisible-character value.
pub fn path_segment(name: &str, value: &str) -> Result<String, Error> {
    if let Some(why) = blank_or_hidden(value) {
        return Err(invalid(name, why));
    }
    Ok(super::encode_path(value))
}

/// Checks a value against a format the spec states: `uuid`, `date` (YYYY-MM-DD) and
/// `date-time` (RFC 3339 or YYYY-MM-DD) are checked; other formats are not.
pub fn check_format(name: &str, value: &str, format: &str) -> Result<(), Error> {
    let ok = match format {
        "uuid" => is_uuid(value),
        "date" => parse_date(value).is_some(),
        "date-time" => parse_date(value).is_some() || is_rfc3339(value),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        let expected = match format {
            "uuid" => "a UUID like 0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0",
            "date" => "a date YYYY-MM-DD",
            _ => "an RFC 3339 time like 2025-01-31T14:30:00Z, or a date YYYY-MM-DD",
        };
        Err(invalid(name, format!("is {value:?}; expected {expected}")))
    }
}

/// Which end of a range a date-time argument bounds; decides the instant a bare date becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayEdge {
    /// An inclusive lower bound (`start`, `since`): the day's first instant.
    Start,
    /// An exclusive lower bound (`after`): the last instant of the day before.
    After,
    /// An upper bound, inclusive or exclusive (`end`, `until`, `before`): the day's last instant.
    End,
}

impl DayEdge {
    /// The edge an argument named `name` bounds: `end`, `until` and `before` (also as a suffix
    /// like `_end`) are upper bounds, `after` is an exclusive lower bound, anything else an
    /// inclusive lower bound.
    pub fn for_name(name: &str) -> DayEdge {
        let last = name.rsplit('_').next().unwrap_or(name);
        match last {
            "end" | "until" | "before" | "lte" | "lt" => DayEdge::End,
            "after" | "gt" => DayEdge::After,
            _ => DayEdge::Start,
        }
    }
}

/// A date-time argument in the form the spec states: an RFC 3339 time as given, a bare date as
/// the instant [`DayEdge`] says (see the module doc).
pub fn date_time(name: &str, value: &str, edge: DayEdge) -> Result<String, Error> {
    let v = value.trim();
    if let Some((y, m, d)) = parse_date(v) {
        return Ok(match edge {
            DayEdge::Start => format!("{y:04}-{m:02}-{d:02}T00:00:00Z"),
            DayEdge::End => format!("{y:04}-{m:02}-{d:02}T23:59:59.999999999Z"),
            DayEdge::After => {
                let (y, m, d) = civil_from_days(days_from_civil(y, m, d) - 1);
                format!("{y:04}-{m:02}-{d:02}T23:59:59.999999999Z")
            }
        });
    }
    check_format(name, v, "date-time")?;
    Ok(v.to_string())
}

/// Checks a value against a pattern (a regular expression) the manifest gives for arguments of
/// this name; `what` says in words what is expected.
pub fn check_pattern(name: &str, value: &str, pattern: &str, what: &str) -> Result<(), Error> {
    if let Some(why) = blank_or_hidden(value) {
        return Err(invalid(name, why));
    }
    if matches(pattern, value) == Some(false) {
        return Err(invalid(name, format!("is {value:?}; expected {what}")));
    }
    Ok(())
}

/// A comma-separated list argument, normalized: items trimmed, empty items (a trailing comma)
/// dropped, each item checked against `pattern` when given. Refuses a list with no items.
pub fn comma_list(name: &str, value: &str, pattern: Option<(&str, &str)>) -> Result<String, Error> {
    let items: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if items.is_empty() {
        return Err(invalid(name, "is empty; give at least one item"));
    }
    for item in &items {
        match pattern {
            Some((p, what)) => check_pattern(name, item, p, what)?,
            None => {
                if let Some(why) = blank_or_hidden(item) {
                    return Err(invalid(name, format!("has an item that {why}")));
                }
            }
        }
    }
    Ok(items.join(","))
}

/// Whether `s` matches `pattern` (`None` when the pattern does not compile: not checked).
/// Compiled patterns are kept, so each is compiled once per process.
pub(crate) fn matches(pattern: &str, s: &str) -> Option<bool> {
    static CACHE: OnceLock<Mutex<HashMap<String, Option<regex_lite::Regex>>>> = OnceLock::new();
    let mut cache = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let re = cache
        .entry(pattern.to_string())
        .or_insert_with(|| regex_lite::Regex::new(pattern).ok());
    re.as_ref().map(|r| r.is_match(s))
}

/// `8-4-4-4-12` hexadecimal digits.
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// `YYYY-MM-DD` with a real month and day.
fn parse_date(s: &str) -> Option<(i64, u32, u32)> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = &s[r];
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    (1..=days).contains(&d).then_some((i64::from(y), m, d))
}

/// RFC 3339: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)` (`t`, `z` accepted too).
fn is_rfc3339(s: &str) -> bool {
    if s.len() < 20 || !s.is_char_boundary(10) || parse_date(&s[..10]).is_none() {
        return false;
    }
    let rest = &s.as_bytes()[10..];
    if !matches!(rest[0], b'T' | b't') {
        return false;
    }
    let two = |i: usize, max: u8| -> bool {
        rest.len() > i + 1
            && rest[i].is_ascii_digit()
            && rest[i + 1].is_ascii_digit()
            && (rest[i] - b'0') * 10 + (rest[i + 1] - b'0') <= max
    };
    // THH:MM:SS
    if !(two(1, 23) && rest[3] == b':' && two(4, 59) && rest.get(6) == Some(&b':') && two(7, 60)) {
        return false;
    }
    let mut i = 9;
    if rest.get(i) == Some(&b'.') {
        let digits = rest[i + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits == 0 {
            return false;
        }
        i += 1 + digits;
    }
    match rest.get(i) {
        Some(b'Z' | b'z') => i + 1 == rest.len(),
        Some(b'+' | b'-') => {
            i + 6 == rest.len() && two(i + 1, 23) && rest[i + 3] == b':' && two(i + 4, 59)
        }
        _ => false,
    }
}

/// The instant an RFC 3339 time (or a bare date, its midnight UTC) names, in whole seconds
/// since the Unix epoch (a fraction is dropped); `None` for anything else.
pub fn unix_secs(s: &str) -> Option<i64> {
    let s = s.trim();
    let (y, m, d) = parse_date(s.get(..10)?)?;
    let days = days_from_civil(y, m, d);
    if s.len() == 10 {
        return Some(days * 86_400);
    }
    if !is_rfc3339(s) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|p| p.parse::<i64>().ok());
    let secs = num(11..13)? * 3600 + num(14..16)? * 60 + num(17..19)?;
    let zone = s.rfind(['Z', 'z', '+', '-']).filter(|&i| i >= 19)?;
    let offset = match s.as_bytes()[zone] {
        b'Z' | b'z' => 0,
        sign => {
            let o = num(zone + 1..zone + 3)? * 3600 + num(zone + 4..zone + 6)? * 60;
            if sign == b'-' { -o } else { o }
        }
    };
    Some(days * 86_400 + secs - offset)
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01 (proleptic Gregorian).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(r: Result<impl std::fmt::Debug, Error>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn path_arguments_are_never_blank_or_hidden() {
        assert_eq!(path_segment("order_id", "ab/c").unwrap(), "ab%2Fc");
        assert!(reason(path_segment("order_id", "")).contains("argument `order_id` is empty"));
        assert!(reason(path_segment("order_id", "  ")).contains("is blank"));
        assert!(reason(path_segment("symbol", "AAPL\u{0}")).contains("control character"));
        assert!(reason(path_segment("symbol", "AAPL\u{200b}")).contains("invisible"));
    }

    #[test]
    fn instants_read_as_unix_seconds_with_their_offset() {
        assert_eq!(unix_secs("1970-01-01"), Some(0));
        assert_eq!(unix_secs("2025-01-15T15:30:00Z"), Some(1_736_955_000));
        assert_eq!(
            unix_secs("2025-01-15T10:30:00.5-05:00"),
            Some(1_736_955_000)
        );
        assert_eq!(unix_secs("2025-01-15T16:30:00+01:00"), Some(1_736_955_000));
        assert_eq!(
            unix_secs("2025-01-15T23:59:59.999999999Z"),
            Some(1_736_985_599)
        );
        assert_eq!(unix_secs("2025-01-15T15:30:00"), None);
        assert_eq!(unix_secs("yesterday"), None);
        assert_eq!(unix_secs("2025-02-30"), None);
    }

    #[test]
    fn formats() {
        assert!(check_format("id", "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0", "uuid").is_ok());
        assert!(reason(check_format("order_id", "not-a-uuid", "uuid")).contains("expected a UUID"));
        assert!(check_format("d", "2024-02-29", "date").is_ok());
        assert!(check_format("d", "2023-02-29", "date").is_err());
        assert!(check_format("d", "2024-13-01", "date").is_err());
        assert!(check_format("t", "2025-01-31T14:30:00Z", "date-time").is_ok());
        assert!(check_format("t", "2025-01-31T14:30:00.123456789-05:00", "date-time").is_ok());
        assert!(check_format("t", "2025-01-31", "date-time").is_ok());
        for bad in [
            "2025-01-31 14:30:00Z",
            "2025-01-31T25:00:00Z",
            "yesterday",
            "2025-01-31T14:30Z",
        ] {
            assert!(check_format("t", bad, "date-time").is_err(), "{bad}");
        }
        assert!(
            check_format("x", "anything", "ulid").is_ok(),
            "unchecked formats pass"
        );
    }

    #[test]
    fn a_bare_date_becomes_the_instant_that_keeps_the_day() {
        assert_eq!(
            date_time("start", "2025-01-01", DayEdge::Start).unwrap(),
            "2025-01-01T00:00:00Z"
        );
        assert_eq!(
            date_time("end", "2025-01-01", DayEdge::End).unwrap(),
            "2025-01-01T23:59:59.999999999Z"
        );
        assert_eq!(
            date_time("after", "2025-03-01", DayEdge::After).unwrap(),
            "2025-02-28T23:59:59.999999999Z"
        );
        assert_eq!(
            date_time("after", "2025-01-01", DayEdge::After).unwrap(),
            "2024-12-31T23:59:59.999999999Z"
        );
        assert_eq!(
            date_time("start", "2025-01-01T09:30:00-05:00", DayEdge::Start).unwrap(),
            "2025-01-01T09:30:00-05:00"
        );
        assert!(reason(date_time("start", "soon", DayEdge::Start)).contains("argument `start`"));
        assert_eq!(DayEdge::for_name("end"), DayEdge::End);
        assert_eq!(DayEdge::for_name("until"), DayEdge::End);
        assert_eq!(DayEdge::for_name("before"), DayEdge::End);
        assert_eq!(DayEdge::for_name("after"), DayEdge::After);
        assert_eq!(DayEdge::for_name("updated_since"), DayEdge::Start);
        assert_eq!(DayEdge::for_name("start"), DayEdge::Start);
    }

    #[test]
    fn day_arithmetic_round_trips() {
        for days in [-800_000, -1, 0, 1, 59, 60, 10_957, 20_000, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
    }

    #[test]
    fn patterns_and_lists() {
        let p = "^[A-Za-z0-9][A-Za-z0-9./-]{0,63}$";
        let what = "a symbol";
        assert!(check_pattern("symbol", "BRK.B", p, what).is_ok());
        assert!(check_pattern("symbol", "BTC/USD", p, what).is_ok());
        for bad in ["AAPL\u{0}", "AAPL\u{200b}", "ＡＡＰＬ", "AA PL", ""] {
            assert!(check_pattern("symbol", bad, p, what).is_err(), "{bad:?}");
        }
        assert_eq!(
            comma_list("symbols", " AAPL, MSFT ,", Some((p, what))).unwrap(),
            "AAPL,MSFT"
        );
        assert!(reason(comma_list("symbols", " , ", None)).contains("is empty"));
        assert!(
            reason(comma_list("symbols", "AAPL,ＭＳＦＴ", Some((p, what))))
                .contains("argument `symbols`")
        );
    }
}
