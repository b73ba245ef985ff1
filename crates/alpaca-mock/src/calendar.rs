//! Clocks and calendars. Every weekday is a trading day (no holidays); New York
//! markets trade 09:30-16:00 with a 04:00-09:30 pre-market and a 16:00-20:00
//! post-market. "Now" is [`MockState::now`].

use axum::extract::{Path, RawQuery, State};
use serde_json::{Value, json};

use crate::assets::ok;
use crate::errors::{ApiError, ApiResult};
use crate::query::{Api, Query};
use crate::state::MockState;
use crate::time::{Date, Timestamp, offset_secs};

/// A market's time zone, by its IANA name (offsets and daylight rules from `jiff`'s bundled
/// time-zone database).
#[derive(Debug, Clone, Copy)]
struct Zone(&'static str);

impl Zone {
    fn offset(self, t: Timestamp) -> i64 {
        offset_secs(self.0, t)
    }

    fn local_date(self, t: Timestamp) -> Date {
        t.add_secs(self.offset(t)).date_utc()
    }

    fn at(self, d: Date, secs: i64) -> Timestamp {
        let guess = Timestamp::from_date(d).add_secs(secs);
        let first = guess.add_secs(-self.offset(guess));
        guess.add_secs(-self.offset(first))
    }

    fn format(self, t: Timestamp, utc: bool) -> String {
        if utc {
            return t.rfc3339();
        }
        let off = self.offset(t);
        let local = t.add_secs(off).rfc3339();
        let sign = if off < 0 { '-' } else { '+' };
        format!(
            "{}{sign}{:02}:{:02}",
            &local[..19],
            off.abs() / 3600,
            (off.abs() / 60) % 60
        )
    }
}

const H: i64 = 3600;
const M: i64 = 60;

#[derive(Debug, Clone, Copy)]
struct Market {
    acronyms: &'static [&'static str],
    name: &'static str,
    timezone: &'static str,
    mic: Option<&'static str>,
    pre: Option<(i64, i64)>,
    core: (i64, i64),
    lunch: Option<(i64, i64)>,
    post: Option<(i64, i64)>,
    sunday_to_thursday: bool,
}

const US_EQUITY: Market = Market {
    acronyms: &["NYSE", "XNYS"],
    name: "New York Stock Exchange",
    timezone: "America/New_York",
    mic: Some("XNYS"),
    pre: Some((4 * H, 9 * H + 30 * M)),
    core: (9 * H + 30 * M, 16 * H),
    lunch: None,
    post: Some((16 * H, 20 * H)),
    sunday_to_thursday: false,
};

const fn europe(
    acronyms: &'static [&'static str],
    name: &'static str,
    tz: &'static str,
    mic: &'static str,
    core: (i64, i64),
) -> Market {
    Market {
        acronyms,
        name,
        timezone: tz,
        mic: Some(mic),
        pre: None,
        core,
        lunch: None,
        post: None,
        sunday_to_thursday: false,
    }
}

const MARKETS: &[Market] = &[
    US_EQUITY,
    Market {
        acronyms: &["NASDAQ", "XNAS"],
        name: "Nasdaq",
        mic: Some("XNAS"),
        ..US_EQUITY
    },
    Market {
        acronyms: &["IEX", "IEXG"],
        name: "Investors Exchange",
        mic: Some("IEXG"),
        ..US_EQUITY
    },
    Market {
        acronyms: &["OTC", "OTCM"],
        name: "OTC Markets",
        mic: Some("OTCM"),
        ..US_EQUITY
    },
    Market {
        acronyms: &["OPRA"],
        name: "Options Price Reporting Authority",
        mic: None,
        pre: None,
        post: None,
        core: (9 * H + 30 * M, 16 * H + 15 * M),
        ..US_EQUITY
    },
    Market {
        acronyms: &["BOATS", "OCEA"],
        name: "Blue Ocean ATS",
        mic: Some("BOTA"),
        pre: None,
        post: None,
        core: (20 * H, 23 * H + 59 * M),
        ..US_EQUITY
    },
    Market {
        acronyms: &["SIFMA", "BMO", "BNYM"],
        name: "US bond market",
        mic: None,
        pre: None,
        post: None,
        core: (8 * H, 17 * H),
        ..US_EQUITY
    },
    europe(
        &["LSE", "XLON"],
        "London Stock Exchange",
        "Europe/London",
        "XLON",
        (8 * H, 16 * H + 30 * M),
    ),
    europe(
        &["CHIX"],
        "Cboe Europe (UK)",
        "Europe/London",
        "CHIX",
        (8 * H, 16 * H + 30 * M),
    ),
    europe(
        &["ISE", "XDUB"],
        "Euronext Dublin",
        "Europe/Dublin",
        "XDUB",
        (8 * H, 16 * H + 30 * M),
    ),
    europe(
        &["XLIS"],
        "Euronext Lisbon",
        "Europe/Lisbon",
        "XLIS",
        (8 * H, 16 * H + 30 * M),
    ),
    europe(
        &["XETR", "XETRA"],
        "Xetra",
        "Europe/Berlin",
        "XETR",
        (9 * H, 17 * H + 30 * M),
    ),
    europe(
        &["XAMS"],
        "Euronext Amsterdam",
        "Europe/Amsterdam",
        "XAMS",
        (9 * H, 17 * H + 30 * M),
    ),
    europe(
        &["CEUX"],
        "Cboe Europe (NL)",
        "Europe/Amsterdam",
        "CEUX",
        (9 * H, 17 * H + 30 * M),
    ),
    europe(
        &["XBRU"],
        "Euronext Brussels",
        "Europe/Brussels",
        "XBRU",
        (9 * H, 17 * H + 30 * M),
    ),
    europe(
        &["XPAR"],
        "Euronext Paris",
        "Europe/Paris",
        "XPAR",
        (9 * H, 17 * H + 30 * M),
    ),
    europe(
        &["MTA", "MTAA"],
        "Euronext Milan",
        "Europe/Rome",
        "MTAA",
        (9 * H, 17 * H + 30 * M),
    ),
    Market {
        acronyms: &["HKEX", "XHKG"],
        name: "Hong Kong Stock Exchange",
        timezone: "Asia/Hong_Kong",
        mic: Some("XHKG"),
        pre: None,
        core: (9 * H + 30 * M, 16 * H),
        lunch: Some((12 * H, 13 * H)),
        post: None,
        sunday_to_thursday: false,
    },
    Market {
        acronyms: &["JPX", "XTKS"],
        name: "Japan Exchange Group",
        timezone: "Asia/Tokyo",
        mic: Some("XTKS"),
        pre: None,
        core: (9 * H, 15 * H + 30 * M),
        lunch: Some((11 * H + 30 * M, 12 * H + 30 * M)),
        post: None,
        sunday_to_thursday: false,
    },
    Market {
        acronyms: &["TADAWUL", "XSAU"],
        name: "Saudi Exchange",
        timezone: "Asia/Riyadh",
        mic: Some("XSAU"),
        pre: None,
        core: (10 * H, 15 * H),
        lunch: None,
        post: None,
        sunday_to_thursday: true,
    },
];

fn find_market(code: &str) -> Option<(&'static str, &'static Market)> {
    let up = code.trim().to_ascii_uppercase();
    MARKETS
        .iter()
        .find_map(|m| m.acronyms.iter().find(|a| **a == up).map(|a| (*a, m)))
}

impl Market {
    fn zone(&self) -> Zone {
        Zone(self.timezone)
    }

    fn trades_on(&self, d: Date) -> bool {
        if self.sunday_to_thursday {
            d.weekday() == 6 || d.weekday() < 4
        } else {
            d.is_weekday()
        }
    }

    fn next_day(&self, d: Date) -> Date {
        let mut n = d.add_days(1);
        while !self.trades_on(n) {
            n = n.add_days(1);
        }
        n
    }

    fn first_day_from(&self, d: Date) -> Date {
        if self.trades_on(d) {
            d
        } else {
            self.next_day(d)
        }
    }

    /// (phase, until) at `t`.
    fn phase(&self, t: Timestamp) -> (&'static str, Timestamp) {
        let d = self.zone().local_date(t);
        let at = |secs| self.zone().at(d, secs);
        if self.trades_on(d) {
            let mut edges: Vec<(&'static str, i64, i64)> = Vec::new();
            if let Some((a, b)) = self.pre {
                edges.push(("pre", a, b));
            }
            match self.lunch {
                Some((la, lb)) => {
                    edges.push(("core", self.core.0, la));
                    edges.push(("lunch", la, lb));
                    edges.push(("core", lb, self.core.1));
                }
                None => edges.push(("core", self.core.0, self.core.1)),
            }
            if let Some((a, b)) = self.post {
                edges.push(("post", a, b));
            }
            for (name, a, b) in &edges {
                if t >= at(*a) && t < at(*b) {
                    return (name, at(*b));
                }
            }
            if let Some((_, a, _)) = edges.first()
                && t < at(*a)
            {
                return ("closed", at(*a));
            }
        }
        let next = self.next_day(d);
        let first = self.pre.map(|p| p.0).unwrap_or(self.core.0);
        ("closed", self.zone().at(next, first))
    }

    fn next_open(&self, t: Timestamp) -> Timestamp {
        let d = self.zone().local_date(t);
        let today = self.zone().at(d, self.core.0);
        if self.trades_on(d) && t < today {
            today
        } else {
            self.zone().at(self.next_day(d), self.core.0)
        }
    }

    fn next_close(&self, t: Timestamp) -> Timestamp {
        let d = self.zone().local_date(t);
        let today = self.zone().at(d, self.core.1);
        if self.trades_on(d) && t < today {
            today
        } else {
            self.zone().at(self.next_day(d), self.core.1)
        }
    }

    fn json(&self, acronym: &str) -> Value {
        let mut v = json!({ "acronym": acronym, "name": self.name, "timezone": self.timezone });
        if let Some(mic) = self.mic {
            v["mic"] = json!(mic);
        }
        v
    }
}

/// Whether the New York regular session is open at `t`.
pub(crate) fn us_market_open(t: Timestamp) -> bool {
    US_EQUITY.phase(t).0 == "core"
}

/// `GET /v2/clock`
pub(crate) async fn legacy_clock(State(s): State<MockState>) -> ApiResult {
    let now = s.now();
    Ok(ok(json!({
        "timestamp": now.rfc3339_eastern(),
        "is_open": us_market_open(now),
        "next_open": US_EQUITY.next_open(now).rfc3339_eastern(),
        "next_close": US_EQUITY.next_close(now).rfc3339_eastern(),
    })))
}

/// `GET /v2/calendar`
pub(crate) async fn legacy_calendar(
    State(s): State<MockState>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Trading);
    q.one_of("date_type", &["TRADING", "SETTLEMENT"])?;
    let today = s.now().date_eastern();
    let start = q.date("start")?;
    let end = q.date("end")?;
    let (start, end) = match (start, end) {
        (Some(a), Some(b)) => (a, b),
        (Some(a), None) => (a, a.add_days(30)),
        (None, Some(b)) => (b.add_days(-30).min(today).min(b), b),
        (None, None) => (today, today.add_days(30)),
    };
    let end = end.min(start.add_days(3660));
    let mut out = Vec::new();
    let mut d = start;
    while d <= end {
        if d.is_weekday() {
            out.push(json!({
                "date": d.to_string(),
                "open": "09:30",
                "close": "16:00",
                "session_open": "0400",
                "session_close": "2000",
                "settlement_date": d.next_weekday().to_string(),
            }));
        }
        d = d.add_days(1);
    }
    Ok(ok(Value::Array(out)))
}

/// `GET /v3/clock`
pub(crate) async fn clock(State(s): State<MockState>, RawQuery(q): RawQuery) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Data);
    let t = q.time("time")?.unwrap_or_else(|| s.now());
    let codes = {
        let l = q.list("markets");
        if l.is_empty() {
            vec!["NYSE".to_string()]
        } else {
            l
        }
    };
    let mut clocks = Vec::new();
    for code in codes {
        let (acr, m) = find_market(&code)
            .ok_or_else(|| ApiError::bad_request(format!("unknown market: {code}")))?;
        let (phase, until) = m.phase(t);
        let d = m.zone().local_date(t);
        clocks.push(json!({
            "market": m.json(acr),
            "timestamp": m.zone().format(t, false),
            "is_market_day": m.trades_on(d),
            "next_market_open": m.zone().format(m.next_open(t), false),
            "next_market_close": m.zone().format(m.next_close(t), false),
            "phase": phase,
            "phase_until": m.zone().format(until, false),
        }));
    }
    Ok(ok(json!({ "clocks": clocks })))
}

/// `GET /v3/calendar/{market}`
pub(crate) async fn calendar(
    State(s): State<MockState>,
    Path(market): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let q = Query::parse(q.as_deref(), Api::Data);
    let (acr, m) = find_market(&market)
        .ok_or_else(|| ApiError::bad_request(format!("unknown market: {market}")))?;
    let utc = q.one_of("timezone", &["UTC"])?.is_some();
    let today = m.zone().local_date(s.now());
    let start = q.date("start")?.unwrap_or(today);
    let end = q.date("end")?.unwrap_or(start.add_days(7));
    if end < start {
        return Err(ApiError::bad_request("end must not be before start"));
    }
    let end = end.min(start.add_days(3660));
    let fmt = |d: Date, secs: i64| m.zone().format(m.zone().at(d, secs), utc);
    let mut out = Vec::new();
    let mut d = m.first_day_from(start);
    while d <= end {
        let mut day = json!({
            "date": d.to_string(),
            "core_start": fmt(d, m.core.0),
            "core_end": fmt(d, m.core.1),
            "settlement_date": m.next_day(d).to_string(),
        });
        if let Some((a, b)) = m.pre {
            day["pre_start"] = json!(fmt(d, a));
            day["pre_end"] = json!(fmt(d, b));
        }
        if let Some((a, b)) = m.post {
            day["post_start"] = json!(fmt(d, a));
            day["post_end"] = json!(fmt(d, b));
        }
        if let Some((a, b)) = m.lunch {
            day["lunch_start"] = json!(fmt(d, a));
            day["lunch_end"] = json!(fmt(d, b));
        }
        out.push(day);
        d = m.next_day(d);
    }
    Ok(ok(json!({ "market": m.json(acr), "calendar": out })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_york_phases() {
        let t = Timestamp::parse("2025-01-15T15:30:00Z").unwrap();
        assert_eq!(US_EQUITY.phase(t).0, "core");
        assert_eq!(US_EQUITY.next_close(t).rfc3339(), "2025-01-15T21:00:00Z");
        assert_eq!(US_EQUITY.next_open(t).rfc3339(), "2025-01-16T14:30:00Z");
        let sat = Timestamp::parse("2025-01-18T15:30:00Z").unwrap();
        assert_eq!(
            US_EQUITY.phase(sat),
            ("closed", Timestamp::parse("2025-01-20T09:00:00Z").unwrap())
        );
        assert_eq!(
            Zone("America/New_York").format(t, false),
            "2025-01-15T10:30:00-05:00"
        );
    }
}
