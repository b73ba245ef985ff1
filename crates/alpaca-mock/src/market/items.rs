//! Bars, quotes and trades for one symbol at one grid point.

use serde_json::{Value, json};

use super::model::{self, Occ};
use super::series::{Grid, Schedule, Timeframe};
use crate::hashing::{hash3, unit};
use crate::numbers::round_to;
use crate::time::Timestamp;

/// What kind of instrument a symbol is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    Stock,
    Crypto,
    Option,
}

impl Class {
    pub(crate) fn of(symbol: &str) -> Class {
        if symbol.contains('/') {
            Class::Crypto
        } else if Occ::parse(symbol).is_some() {
            Class::Option
        } else {
            Class::Stock
        }
    }

    pub(crate) fn schedule(self) -> Schedule {
        match self {
            Class::Crypto => Schedule::AllDay,
            _ => Schedule::Stocks,
        }
    }

    /// Seconds between trades.
    pub(crate) fn trade_step(self) -> i64 {
        match self {
            Class::Stock => 15,
            Class::Crypto => 30,
            Class::Option => 300,
        }
    }

    /// Seconds between quotes.
    pub(crate) fn quote_step(self) -> i64 {
        match self {
            Class::Stock => 10,
            Class::Crypto => 20,
            Class::Option => 60,
        }
    }
}

fn places(symbol: &str) -> i32 {
    match Class::of(symbol) {
        Class::Option => 2,
        _ => model::price_places(symbol),
    }
}

/// The model price of any symbol at `t`.
pub(crate) fn px(seed: u64, symbol: &str, t: Timestamp) -> f64 {
    model::any_price(seed, symbol, t)
}

fn h(seed: u64, symbol: &str, t: Timestamp, salt: i64) -> u64 {
    hash3(seed ^ salt as u64, symbol, t.unix_secs())
}

/// The bar of `symbol` whose bucket starts at `t` and lasts `span` seconds.
/// `volume_scale` shrinks volume for partial feeds (IEX).
pub(crate) fn bar(
    seed: u64,
    symbol: &str,
    t: Timestamp,
    span: i64,
    now: Timestamp,
    volume_scale: f64,
) -> Value {
    let class = Class::of(symbol);
    let p = places(symbol);
    let close_at = t.add_secs(span - 1).min(now).max(t);
    let o = px(seed, symbol, t);
    let c = px(seed, symbol, close_at);
    let wiggle = 0.0015 * ((span as f64) / 60.0).sqrt().min(8.0);
    let hi = round_to(o.max(c) * (1.0 + wiggle * unit(h(seed, symbol, t, 1))), p);
    let lo = round_to(o.min(c) * (1.0 - wiggle * unit(h(seed, symbol, t, 2))), p);
    let minutes = match class {
        Class::Crypto => (span as f64 / 60.0).max(1.0),
        _ => (span as f64 / 60.0).clamp(1.0, 390.0 * ((span as f64) / 86_400.0).max(1.0)),
    };
    let base_vol = match class {
        Class::Option => 40.0,
        _ => model::volume_per_minute(symbol),
    };
    let v = base_vol * minutes * (0.6 + 0.8 * unit(h(seed, symbol, t, 3))) * volume_scale;
    let vw = round_to((hi + lo + 2.0 * c) / 4.0, p.max(2) + 2);
    let (v_json, n) = match class {
        Class::Crypto => (json!(round_to(v / 1000.0, 6)), 1 + (v / 5_000.0) as u64),
        _ => {
            let v = v.round().max(1.0) as u64;
            (json!(v), (v / 120).max(1))
        }
    };
    json!({ "t": t.rfc3339(), "o": o, "h": hi, "l": lo, "c": c, "v": v_json, "n": n, "vw": vw })
}

/// The instant of the tick in the slot starting at `slot` (spaced `step` seconds).
pub(crate) fn tick_time(
    seed: u64,
    symbol: &str,
    slot: Timestamp,
    step: i64,
    salt: i64,
) -> Timestamp {
    let within = (hash3(seed ^ salt as u64, symbol, slot.unix_secs())
        % (step as u64 * 1_000_000_000)) as i64;
    slot.add_nanos(within)
}

fn tape(symbol: &str) -> &'static str {
    match crate::assets::find(symbol).map(|a| a.exchange) {
        Some("NYSE") => "A",
        Some("ARCA") | Some("AMEX") | Some("BATS") => "B",
        Some(_) => "C",
        None => ["A", "B", "C"]
            [(crate::hashing::hash_parts(&[b"tape", symbol.as_bytes()]) % 3) as usize],
    }
}

const STOCK_VENUES: &[&str] = &["Q", "N", "P", "Z", "V", "K", "D"];
const OPTION_VENUES: &[&str] = &["A", "B", "C", "I", "M", "N", "Q", "X", "Z"];

/// The trade in the slot starting at `slot`. `iex` pins the venue to IEX.
pub(crate) fn trade(seed: u64, symbol: &str, slot: Timestamp, now: Timestamp, iex: bool) -> Value {
    let class = Class::of(symbol);
    let step = class.trade_step();
    let t = tick_time(seed, symbol, slot, step, 11).min(now).max(slot);
    let p = px(seed, symbol, t);
    let r = h(seed, symbol, slot, 12);
    match class {
        Class::Stock => {
            let size = 1 + r % 400;
            let venue = if iex {
                "V"
            } else {
                STOCK_VENUES[(r >> 20) as usize % STOCK_VENUES.len()]
            };
            let mut conds = vec!["@"];
            if size < 100 {
                conds.push("I");
            }
            json!({
                "t": t.rfc3339_nanos(),
                "x": venue,
                "p": p,
                "s": size,
                "c": conds,
                "i": (r >> 16) % 100_000_000_000,
                "z": tape(symbol),
            })
        }
        Class::Crypto => {
            let notional = 50.0 + unit(r) * 5_000.0;
            json!({
                "t": t.rfc3339_nanos(),
                "p": p,
                "s": round_to(notional / p.max(1e-9), 6),
                "i": (r >> 16) % 10_000_000_000,
                "tks": if r & 1 == 0 { "B" } else { "S" },
            })
        }
        Class::Option => json!({
            "t": t.rfc3339_nanos(),
            "x": OPTION_VENUES[(r >> 20) as usize % OPTION_VENUES.len()],
            "p": p,
            "s": 1 + r % 20,
            "c": "I",
        }),
    }
}

/// The quote in the slot starting at `slot`.
pub(crate) fn quote(seed: u64, symbol: &str, slot: Timestamp, now: Timestamp, iex: bool) -> Value {
    let class = Class::of(symbol);
    let step = class.quote_step();
    let t = tick_time(seed, symbol, slot, step, 21).min(now).max(slot);
    let p = px(seed, symbol, t);
    let pl = places(symbol);
    let tick = 10f64.powi(-pl);
    let spread = round_to((p * 0.0004).max(tick), pl);
    let bid = round_to((p - spread / 2.0).max(tick), pl);
    let ask = round_to(bid + spread, pl);
    let r = h(seed, symbol, slot, 22);
    match class {
        Class::Stock => {
            let bx = if iex {
                "V"
            } else {
                STOCK_VENUES[(r >> 8) as usize % STOCK_VENUES.len()]
            };
            let ax = if iex {
                "V"
            } else {
                STOCK_VENUES[(r >> 16) as usize % STOCK_VENUES.len()]
            };
            json!({
                "t": t.rfc3339_nanos(),
                "bx": bx,
                "bp": bid,
                "bs": 1 + r % 9,
                "ax": ax,
                "ap": ask,
                "as": 1 + (r >> 4) % 9,
                "c": ["R"],
                "z": tape(symbol),
            })
        }
        Class::Crypto => json!({
            "t": t.rfc3339_nanos(),
            "bp": bid,
            "bs": round_to(unit(r) * 5_000.0 / p.max(1e-9), 6),
            "ap": ask,
            "as": round_to(unit(r >> 7) * 5_000.0 / p.max(1e-9), 6),
        }),
        Class::Option => json!({
            "t": t.rfc3339_nanos(),
            "bx": OPTION_VENUES[(r >> 8) as usize % OPTION_VENUES.len()],
            "bp": bid,
            "bs": 1 + r % 50,
            "ax": OPTION_VENUES[(r >> 16) as usize % OPTION_VENUES.len()],
            "ap": ask,
            "as": 1 + (r >> 4) % 50,
            "c": "A",
        }),
    }
}

/// The latest grid point at or before `now` for a grid of `step` seconds.
pub(crate) fn last_point(sched: Schedule, step: i64, now: Timestamp) -> Timestamp {
    let floor = |t: Timestamp| Timestamp::from_unix_secs(t.unix_secs().div_euclid(step) * step);
    match sched {
        Schedule::AllDay => floor(now),
        Schedule::Stocks => {
            let mut d = now.date_eastern();
            let mut cap = now;
            for _ in 0..14 {
                if d.is_weekday() {
                    let open = d.at_eastern(9 * 3600 + 1800);
                    let close = d.at_eastern(16 * 3600);
                    if cap >= open {
                        return floor(cap.min(close.add_secs(-1)));
                    }
                }
                d = d.prev_weekday();
                cap = d.at_eastern(16 * 3600);
            }
            floor(now)
        }
    }
}

/// The latest trade of `symbol` at `now`: its slot.
pub(crate) fn latest_trade_slot(symbol: &str, now: Timestamp) -> Timestamp {
    let class = Class::of(symbol);
    last_point(class.schedule(), class.trade_step(), now)
}

/// The latest quote of `symbol` at `now`: its slot.
pub(crate) fn latest_quote_slot(symbol: &str, now: Timestamp) -> Timestamp {
    let class = Class::of(symbol);
    last_point(class.schedule(), class.quote_step(), now)
}

/// The latest complete (or, outside the session, last) minute bar's start.
pub(crate) fn latest_minute(symbol: &str, now: Timestamp) -> Timestamp {
    let class = Class::of(symbol);
    let p = last_point(class.schedule(), 60, now);
    if p.add_secs(60) > now && class.schedule() == Schedule::AllDay {
        p.add_secs(-60)
    } else {
        p
    }
}

/// Start of the current (or last) trading day's daily bar and of the one before.
pub(crate) fn daily_bars(symbol: &str, now: Timestamp) -> (Timestamp, Timestamp) {
    let class = Class::of(symbol);
    let sched = class.schedule();
    let grid = Grid::Bars(Timeframe::Day);
    let pts = grid.points(sched, now.add_secs(-10 * 86_400), now);
    let n = pts.len();
    match n {
        0 => (now, now.add_secs(-86_400)),
        1 => (pts[0], pts[0].add_secs(-86_400)),
        _ => (pts[n - 1], pts[n - 2]),
    }
}

/// Price of the latest trade at `now` (what market orders fill at).
pub(crate) fn latest_trade_price(seed: u64, symbol: &str, now: Timestamp) -> f64 {
    let slot = latest_trade_slot(symbol, now);
    let step = Class::of(symbol).trade_step();
    let t = tick_time(seed, symbol, slot, step, 11).min(now).max(slot);
    px(seed, symbol, t)
}
