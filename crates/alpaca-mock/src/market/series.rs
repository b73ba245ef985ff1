//! Time grids, windows and pagination for historical market data.
//!
//! A request's `[start, end]` window (clamped to "now", and capped at
//! [`MAX_POINTS`] grid points per symbol) is laid on a grid: bar buckets of the
//! timeframe, or fixed tick slots for quotes and trades. Stock grids only hold
//! points in the regular session (09:30-16:00 New York, weekdays); crypto and forex
//! grids run around the clock. Pages hold at most `limit` items across all
//! symbols; the page token names the symbol and instant to resume at.

use serde_json::{Map, Value};

use crate::errors::ApiError;
use crate::query::Query;
use crate::time::{Date, Timestamp};

/// Most grid points one symbol's window may hold.
pub(crate) const MAX_POINTS: usize = 10_000;

/// A bar timeframe.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Timeframe {
    /// A number of seconds (minutes and hours).
    Secs(i64),
    Day,
    Week,
    Month(u32),
}

impl Timeframe {
    /// Parses `5Min`, `5T`, `1Hour`, `1H`, `1Day`, `1D`, `1Week`, `1W`, `3Month`,
    /// `3M` (and `5Sec`/`5S` when `allow_secs`).
    pub(crate) fn parse(s: &str, allow_secs: bool) -> Option<Timeframe> {
        let split = s.find(|c: char| !c.is_ascii_digit())?;
        let (n, unit) = s.split_at(split);
        let n: u32 = n.parse().ok()?;
        match unit {
            "Sec" | "S" if allow_secs && (1..=59).contains(&n) => {
                Some(Timeframe::Secs(i64::from(n)))
            }
            "Min" | "T" if (1..=59).contains(&n) => Some(Timeframe::Secs(i64::from(n) * 60)),
            "Hour" | "H" if (1..=23).contains(&n) => Some(Timeframe::Secs(i64::from(n) * 3600)),
            "Day" | "D" if n == 1 => Some(Timeframe::Day),
            "Week" | "W" if n == 1 => Some(Timeframe::Week),
            "Month" | "M" if [1, 2, 3, 4, 6, 12].contains(&n) => Some(Timeframe::Month(n)),
            _ => None,
        }
    }

    /// Approximate length in seconds.
    pub(crate) fn secs(self) -> i64 {
        match self {
            Timeframe::Secs(n) => n,
            Timeframe::Day => 86_400,
            Timeframe::Week => 7 * 86_400,
            Timeframe::Month(n) => i64::from(n) * 30 * 86_400,
        }
    }
}

/// When a market's grid has points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Schedule {
    /// US stocks and options: weekdays, 09:30-16:00 New York time; daily points
    /// at New York midnight.
    Stocks,
    /// Crypto and forex: always; daily points at UTC midnight.
    AllDay,
}

impl Schedule {
    fn day_start(self, d: Date) -> Timestamp {
        match self {
            Schedule::Stocks => d.at_eastern(0),
            Schedule::AllDay => Timestamp::from_date(d),
        }
    }

    fn date_of(self, t: Timestamp) -> Date {
        match self {
            Schedule::Stocks => t.date_eastern(),
            Schedule::AllDay => t.date_utc(),
        }
    }
}

/// A grid of points.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Grid {
    Bars(Timeframe),
    /// Ticks every this many seconds.
    Ticks(i64),
}

impl Grid {
    /// Grid points (bucket starts or tick slots) in `[start, end]`, ascending.
    pub(crate) fn points(
        self,
        sched: Schedule,
        start: Timestamp,
        end: Timestamp,
    ) -> Vec<Timestamp> {
        let mut out = Vec::new();
        if start > end {
            return out;
        }
        match self {
            Grid::Ticks(step) | Grid::Bars(Timeframe::Secs(step)) => match sched {
                Schedule::AllDay => {
                    let first = start.unix_secs().div_euclid(step) * step;
                    let mut t = Timestamp::from_unix_secs(first);
                    if t < start {
                        t = t.add_secs(step);
                    }
                    while t <= end && out.len() < MAX_POINTS {
                        out.push(t);
                        t = t.add_secs(step);
                    }
                }
                Schedule::Stocks => {
                    let mut d = start.date_eastern();
                    let last = end.date_eastern();
                    while d <= last && out.len() < MAX_POINTS {
                        if d.is_weekday() {
                            let open = d.at_eastern(9 * 3600 + 1800);
                            let close = d.at_eastern(16 * 3600);
                            let mut t =
                                Timestamp::from_unix_secs(open.unix_secs().div_euclid(step) * step);
                            while t < close && t <= end && out.len() < MAX_POINTS {
                                if t >= start {
                                    out.push(t);
                                }
                                t = t.add_secs(step);
                            }
                        }
                        d = d.add_days(1);
                    }
                }
            },
            Grid::Bars(tf) => {
                let mut d = sched.date_of(start);
                // Align to the period that contains `start`.
                d = match tf {
                    Timeframe::Week => d.add_days(-i64::from(d.weekday())),
                    Timeframe::Month(n) => {
                        let m0 = (d.month - 1) / n * n;
                        Date::new(d.year, m0 + 1, 1).unwrap_or(d)
                    }
                    _ => d,
                };
                while out.len() < MAX_POINTS {
                    let t = sched.day_start(d);
                    if t > end {
                        break;
                    }
                    let include = t >= start
                        || matches!(tf, Timeframe::Week | Timeframe::Month(_))
                            && t.add_secs(tf.secs()) > start;
                    let tradable =
                        sched == Schedule::AllDay || tf != Timeframe::Day || d.is_weekday();
                    if include && tradable {
                        out.push(t);
                    }
                    d = match tf {
                        Timeframe::Week => d.add_days(7),
                        Timeframe::Month(n) => {
                            let idx = d.year * 12 + (d.month as i32 - 1) + n as i32;
                            Date::new(idx.div_euclid(12), idx.rem_euclid(12) as u32 + 1, 1)
                                .unwrap_or(d.add_days(31))
                        }
                        _ => d.add_days(1),
                    };
                }
            }
        }
        out
    }

    /// Length of the bucket that starts at `t`, in seconds.
    pub(crate) fn span(self, t: Timestamp, sched: Schedule) -> i64 {
        match self {
            Grid::Ticks(s) | Grid::Bars(Timeframe::Secs(s)) => s,
            Grid::Bars(Timeframe::Day) => 86_400,
            Grid::Bars(Timeframe::Week) => 7 * 86_400,
            Grid::Bars(Timeframe::Month(n)) => {
                let d = sched.date_of(t);
                let idx = d.year * 12 + (d.month as i32 - 1) + n as i32;
                let next = Date::new(idx.div_euclid(12), idx.rem_euclid(12) as u32 + 1, 1)
                    .unwrap_or(d.add_days(31));
                sched.day_start(next).unix_secs() - t.unix_secs()
            }
        }
    }
}

/// The shared parameters of a historical request.
#[derive(Debug, Clone)]
pub(crate) struct Window {
    pub(crate) start: Timestamp,
    pub(crate) end: Timestamp,
    pub(crate) limit: usize,
    pub(crate) desc: bool,
    pub(crate) token: Option<(usize, i64)>,
}

impl Window {
    /// Reads `start`, `end`, `limit`, `sort` and `page_token`. `start` defaults to
    /// the beginning of the current day, `end` to now; `end` is clamped to just
    /// before now (a bucket starting now holds nothing yet).
    pub(crate) fn parse(
        q: &Query,
        now: Timestamp,
        sched: Schedule,
        default_limit: i64,
        max_limit: i64,
    ) -> Result<Window, ApiError> {
        let end = q.time("end")?.unwrap_or(now).min(now.add_nanos(-1));
        let start = q
            .time("start")?
            .unwrap_or_else(|| sched.day_start(sched.date_of(now)));
        if start > end && q.get("end").is_some() && q.time("end")?.is_some_and(|e| e < start) {
            return Err(q.invalid("end should not be before start"));
        }
        let limit = q.int("limit", 1, max_limit)?.unwrap_or(default_limit) as usize;
        let desc = q.one_of("sort", &["asc", "desc"])?.as_deref() == Some("desc");
        let token = match q.get("page_token") {
            None => None,
            Some(t) => Some(decode_token(t).ok_or_else(|| q.invalid("invalid page_token"))?),
        };
        Ok(Window {
            start,
            end,
            limit,
            desc,
            token,
        })
    }
}

/// Page tokens are the hex of `symbol_index:unix_nanos`.
pub(crate) fn encode_token(idx: usize, nanos: i64) -> String {
    format!("{idx}:{nanos}")
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn decode_token(t: &str) -> Option<(usize, i64)> {
    if !t.len().is_multiple_of(2) || t.len() > 80 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..t.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(t.get(i..i + 2)?, 16).ok())
        .collect();
    let s = String::from_utf8(bytes?).ok()?;
    let (a, b) = s.split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// One page of a multi-symbol series: per-symbol items (in the page's order) and
/// the token of the next page.
pub(crate) struct Page {
    pub(crate) items: Map<String, Value>,
    pub(crate) next: Option<String>,
}

/// Walks `symbols` in order; for each, the grid points from `points(symbol)`
/// (ascending), producing items with `make(symbol, point)`.
pub(crate) fn paginate(
    symbols: &[String],
    w: &Window,
    points: impl Fn(&str) -> Vec<Timestamp>,
    make: impl Fn(&str, Timestamp) -> Value,
) -> Page {
    let mut items = Map::new();
    let mut taken = 0usize;
    let (first_sym, resume_at) = match w.token {
        Some((i, n)) => (i, Some(n)),
        None => (0, None),
    };
    for (si, sym) in symbols.iter().enumerate().skip(first_sym) {
        let mut pts = points(sym);
        if w.desc {
            pts.reverse();
        }
        let begin = match (si == first_sym, resume_at) {
            (true, Some(n)) => pts
                .iter()
                .position(|p| {
                    if w.desc {
                        p.unix_nanos() <= n
                    } else {
                        p.unix_nanos() >= n
                    }
                })
                .unwrap_or(pts.len()),
            _ => 0,
        };
        let mut list = Vec::new();
        for (k, p) in pts.iter().enumerate().skip(begin) {
            if taken == w.limit {
                if !list.is_empty() {
                    items.insert(sym.clone(), Value::Array(list));
                }
                return Page {
                    items,
                    next: Some(encode_token(si, pts[k].unix_nanos())),
                };
            }
            list.push(make(sym, *p));
            taken += 1;
        }
        if !list.is_empty() {
            items.insert(sym.clone(), Value::Array(list));
        }
        if taken == w.limit {
            // More only if a later symbol has points.
            let next = symbols
                .iter()
                .enumerate()
                .skip(si + 1)
                .find(|(_, s)| !points(s).is_empty())
                .map(|(i, s)| {
                    let pts = points(s);
                    let p = if w.desc { pts[pts.len() - 1] } else { pts[0] };
                    encode_token(i, p.unix_nanos())
                });
            return Page { items, next };
        }
    }
    Page { items, next: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stock_minutes_stay_in_session() {
        let start = Timestamp::parse("2025-01-15T00:00:00Z").unwrap();
        let end = Timestamp::parse("2025-01-16T23:59:00Z").unwrap();
        let pts = Grid::Bars(Timeframe::Secs(60)).points(Schedule::Stocks, start, end);
        assert_eq!(pts.len(), 2 * 390);
        assert_eq!(pts[0].rfc3339(), "2025-01-15T14:30:00Z");
        let hours = Grid::Bars(Timeframe::Secs(3600)).points(Schedule::Stocks, start, end);
        assert_eq!(hours[0].rfc3339(), "2025-01-15T14:00:00Z");
        assert_eq!(hours.len(), 2 * 7);
        let days = Grid::Bars(Timeframe::Day).points(
            Schedule::Stocks,
            start,
            Timestamp::parse("2025-01-21T00:00:00Z").unwrap(),
        );
        assert_eq!(days.len(), 4);
    }

    #[test]
    fn tokens_round_trip() {
        assert_eq!(decode_token(&encode_token(3, -5)), Some((3, -5)));
        assert_eq!(decode_token("zz"), None);
    }

    #[test]
    fn timeframes() {
        assert_eq!(Timeframe::parse("5Min", false), Some(Timeframe::Secs(300)));
        assert_eq!(
            Timeframe::parse("12H", false),
            Some(Timeframe::Secs(43_200))
        );
        assert_eq!(Timeframe::parse("3M", false), Some(Timeframe::Month(3)));
        assert_eq!(Timeframe::parse("5S", false), None);
        assert_eq!(Timeframe::parse("60Min", false), None);
        assert_eq!(Timeframe::parse("Min", false), None);
    }
}
