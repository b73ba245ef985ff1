//! Instants, calendar dates and local time.
//!
//! The mock only needs a handful of operations: parse and print RFC 3339 (in the forms the
//! fake accepts, checked here), turn an instant into a civil date in UTC or a market's time
//! zone, and step over weekdays. Time-zone offsets and daylight rules come from `jiff` and its
//! bundled time-zone database (the same on every machine, whatever its system zone files).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const NANOS_PER_SEC: i64 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;

/// An instant, as nanoseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The instant `nanos` nanoseconds after the Unix epoch.
    pub const fn from_unix_nanos(nanos: i64) -> Self {
        Timestamp(nanos)
    }

    /// The instant `secs` seconds after the Unix epoch.
    pub const fn from_unix_secs(secs: i64) -> Self {
        Timestamp(secs.saturating_mul(NANOS_PER_SEC))
    }

    /// The current wall-clock time.
    pub fn now_utc() -> Self {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Timestamp(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
    }

    /// Nanoseconds since the Unix epoch.
    pub const fn unix_nanos(self) -> i64 {
        self.0
    }

    /// Whole seconds since the Unix epoch (rounded toward negative infinity).
    pub const fn unix_secs(self) -> i64 {
        self.0.div_euclid(NANOS_PER_SEC)
    }

    /// This instant moved by `secs` seconds (may be negative).
    pub const fn add_secs(self, secs: i64) -> Self {
        Timestamp(self.0.saturating_add(secs.saturating_mul(NANOS_PER_SEC)))
    }

    /// This instant moved by `nanos` nanoseconds (may be negative).
    pub const fn add_nanos(self, nanos: i64) -> Self {
        Timestamp(self.0.saturating_add(nanos))
    }

    /// Midnight UTC of `date`.
    pub fn from_date(date: Date) -> Self {
        Timestamp::from_unix_secs(date.days_since_epoch() * SECS_PER_DAY)
    }

    /// The UTC calendar date of this instant.
    pub fn date_utc(self) -> Date {
        Date::from_days_since_epoch(self.unix_secs().div_euclid(SECS_PER_DAY))
    }

    /// Parses RFC 3339 (`2024-01-03T09:30:00Z`, `...T09:30:00.5-05:00`) or a bare
    /// date (`2024-01-03`, read as midnight UTC).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if !s.is_ascii() {
            return None;
        }
        if s.len() == 10 {
            return Date::parse(s).map(Timestamp::from_date);
        }
        let (date_part, rest) = (s.get(..10)?, s.get(10..)?);
        let date = Date::parse(date_part)?;
        let rest = rest.strip_prefix(['T', 't', ' '])?;
        let b = rest.as_bytes();
        if b.len() < 8 || b[2] != b':' || b[5] != b':' {
            return None;
        }
        let hh: i64 = digits(&rest[0..2])?;
        let mm: i64 = digits(&rest[3..5])?;
        let ss: i64 = digits(&rest[6..8])?;
        if hh > 23 || mm > 59 || ss > 60 {
            return None;
        }
        let mut tail = &rest[8..];
        let mut frac_nanos: i64 = 0;
        if let Some(f) = tail.strip_prefix('.') {
            let n = f.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 {
                return None;
            }
            let digits_str = &f[..n];
            let mut scaled = String::from(&digits_str[..n.min(9)]);
            while scaled.len() < 9 {
                scaled.push('0');
            }
            frac_nanos = scaled.parse().ok()?;
            tail = &f[n..];
        }
        let offset_secs: i64 = match tail {
            "Z" | "z" => 0,
            _ => {
                let sign = match tail.as_bytes().first()? {
                    b'+' => 1,
                    b'-' => -1,
                    _ => return None,
                };
                let t = &tail[1..];
                if t.len() != 5 || t.as_bytes()[2] != b':' {
                    return None;
                }
                let oh: i64 = digits(&t[0..2])?;
                let om: i64 = digits(&t[3..5])?;
                sign * (oh * 3600 + om * 60)
            }
        };
        let secs = date.days_since_epoch() * SECS_PER_DAY + hh * 3600 + mm * 60 + ss - offset_secs;
        Some(Timestamp::from_unix_secs(secs).add_nanos(frac_nanos))
    }

    fn parts(self, offset_secs: i64) -> (Date, i64, i64, i64, i64) {
        let local = self.unix_secs() + offset_secs;
        let day = local.div_euclid(SECS_PER_DAY);
        let sod = local.rem_euclid(SECS_PER_DAY);
        (
            Date::from_days_since_epoch(day),
            sod / 3600,
            (sod / 60) % 60,
            sod % 60,
            self.0.rem_euclid(NANOS_PER_SEC),
        )
    }

    /// RFC 3339 in UTC with whole seconds: `2024-01-03T14:30:00Z`.
    pub fn rfc3339(self) -> String {
        let (d, h, m, s, _) = self.parts(0);
        format!("{d}T{h:02}:{m:02}:{s:02}Z")
    }

    /// RFC 3339 in UTC with nanoseconds: `2024-01-03T14:30:00.123456789Z`.
    pub fn rfc3339_nanos(self) -> String {
        let (d, h, m, s, n) = self.parts(0);
        format!("{d}T{h:02}:{m:02}:{s:02}.{n:09}Z")
    }

    /// RFC 3339 in UTC with microseconds, as Alpaca prints order times.
    pub fn rfc3339_micros(self) -> String {
        let (d, h, m, s, n) = self.parts(0);
        format!("{d}T{h:02}:{m:02}:{s:02}.{:06}Z", n / 1000)
    }

    /// RFC 3339 in New York time with milliseconds: `2024-01-03T09:30:00.000-05:00`.
    pub fn rfc3339_eastern(self) -> String {
        let off = eastern_offset_secs(self);
        let (d, h, m, s, n) = self.parts(off);
        let sign = if off < 0 { '-' } else { '+' };
        let oa = off.abs();
        format!(
            "{d}T{h:02}:{m:02}:{s:02}.{:03}{sign}{:02}:{:02}",
            n / 1_000_000,
            oa / 3600,
            (oa / 60) % 60
        )
    }

    /// The New York calendar date of this instant.
    pub fn date_eastern(self) -> Date {
        self.parts(eastern_offset_secs(self)).0
    }

    /// Seconds since New York midnight.
    pub fn eastern_secs_of_day(self) -> i64 {
        (self.unix_secs() + eastern_offset_secs(self)).rem_euclid(SECS_PER_DAY)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339_nanos())
    }
}

fn digits<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.bytes().all(|b| b.is_ascii_digit()) && !s.is_empty() {
        s.parse().ok()
    } else {
        None
    }
}

/// A civil calendar date (proleptic Gregorian).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Year, e.g. 2024.
    pub year: i32,
    /// Month, 1 to 12.
    pub month: u32,
    /// Day of month, 1 to 31.
    pub day: u32,
}

impl Date {
    /// Builds a date, checking that it exists.
    pub fn new(year: i32, month: u32, day: u32) -> Option<Date> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date { year, month, day })
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        if !s.is_ascii() || b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        Date::new(digits(&s[0..4])?, digits(&s[5..7])?, digits(&s[8..10])?)
    }

    /// Days since 1970-01-01.
    pub fn days_since_epoch(self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `days` days after 1970-01-01.
    pub fn from_days_since_epoch(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (y + i64::from(m <= 2)).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
        Date {
            year,
            month: m,
            day: d,
        }
    }

    /// The date `n` days later (or earlier when negative).
    pub fn add_days(self, n: i64) -> Date {
        Date::from_days_since_epoch(self.days_since_epoch() + n)
    }

    /// Day of week, 0 = Monday .. 6 = Sunday.
    pub fn weekday(self) -> u32 {
        // 1970-01-01 was a Thursday (3).
        (self.days_since_epoch() + 3).rem_euclid(7) as u32
    }

    /// Monday to Friday.
    pub fn is_weekday(self) -> bool {
        self.weekday() < 5
    }

    /// The next weekday strictly after this date.
    pub fn next_weekday(self) -> Date {
        let mut d = self.add_days(1);
        while !d.is_weekday() {
            d = d.add_days(1);
        }
        d
    }

    /// The latest weekday strictly before this date.
    pub fn prev_weekday(self) -> Date {
        let mut d = self.add_days(-1);
        while !d.is_weekday() {
            d = d.add_days(-1);
        }
        d
    }

    /// The instant at `secs_of_day` seconds after New York midnight of this date.
    pub fn at_eastern(self, secs_of_day: i64) -> Timestamp {
        let naive = Timestamp::from_date(self).add_secs(secs_of_day);
        // Try the standard offset, then the daylight one; pick the consistent one.
        let est = naive.add_secs(5 * 3600);
        if eastern_offset_secs(est) == -5 * 3600 {
            est
        } else {
            naive.add_secs(4 * 3600)
        }
    }

    /// The instant at `secs_of_day` seconds after midnight in a zone whose offset
    /// from UTC is `offset_secs`.
    pub fn at_offset(self, secs_of_day: i64, offset_secs: i64) -> Timestamp {
        Timestamp::from_date(self).add_secs(secs_of_day - offset_secs)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// The offset from UTC of the IANA time zone `zone` at `t`, in seconds (UTC for a zone the
/// bundled database does not have, which the fake never asks for).
pub fn offset_secs(zone: &str, t: Timestamp) -> i64 {
    let tz = jiff::tz::TimeZone::get(zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let at = jiff::Timestamp::from_second(t.unix_secs()).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    i64::from(tz.to_offset(at).seconds())
}

/// New York's offset from UTC at `t`, in seconds (-18000 or -14400).
pub fn eastern_offset_secs(t: Timestamp) -> i64 {
    offset_secs("America/New_York", t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let t = Timestamp::parse("2024-03-10T06:59:59.5Z").unwrap();
        assert_eq!(t.rfc3339_nanos(), "2024-03-10T06:59:59.500000000Z");
        assert_eq!(eastern_offset_secs(t), -5 * 3600);
        assert_eq!(eastern_offset_secs(t.add_secs(1)), -4 * 3600);
        let t = Timestamp::parse("2024-01-03T09:30:00-05:00").unwrap();
        assert_eq!(t.rfc3339(), "2024-01-03T14:30:00Z");
        assert_eq!(t.rfc3339_eastern(), "2024-01-03T09:30:00.000-05:00");
        assert_eq!(Date::parse("2024-01-06").unwrap().weekday(), 5);
        assert_eq!(
            Date::parse("2024-07-01")
                .unwrap()
                .at_eastern(9 * 3600 + 1800)
                .rfc3339(),
            "2024-07-01T13:30:00Z"
        );
        assert!(Timestamp::parse("2024-13-01").is_none());
        assert!(Timestamp::parse("garbage").is_none());
    }

    #[test]
    fn daylight_time_switches_at_the_zones_own_instants() {
        let at = |s: &str| Timestamp::parse(s).unwrap();
        // New York: 2:00 local on the second Sunday of March and the first of November.
        assert_eq!(eastern_offset_secs(at("2025-03-09T06:59:59Z")), -5 * 3600);
        assert_eq!(eastern_offset_secs(at("2025-03-09T07:00:00Z")), -4 * 3600);
        assert_eq!(eastern_offset_secs(at("2025-11-02T05:59:59Z")), -4 * 3600);
        assert_eq!(eastern_offset_secs(at("2025-11-02T06:00:00Z")), -5 * 3600);
        // Europe: 01:00 UTC on the last Sundays of March and October.
        assert_eq!(
            offset_secs("Europe/Berlin", at("2024-03-31T00:59:59Z")),
            3600
        );
        assert_eq!(
            offset_secs("Europe/Berlin", at("2024-03-31T01:00:00Z")),
            7200
        );
        assert_eq!(
            offset_secs("Europe/London", at("2024-10-27T00:59:59Z")),
            3600
        );
        assert_eq!(offset_secs("Europe/London", at("2024-10-27T01:00:00Z")), 0);
        // No daylight time.
        assert_eq!(
            offset_secs("Asia/Tokyo", at("2024-07-01T00:00:00Z")),
            9 * 3600
        );
    }
}
