//! The price model: a deterministic function of (seed, symbol, time).
//!
//! A symbol's base price comes from a small table (AAPL about 190, BTC/USD about
//! 60000...) or, for any other symbol, from a hash of the symbol (5 to 500). Around
//! it the price moves with a weekly and a daily wave plus per-minute noise drawn
//! from `hash(seed, symbol, minute)`. Between minutes the price is interpolated, so
//! the same instant always gives the same price and nearby instants nearby prices.

use crate::hashing::{hash_parts, hash3, signed_unit, unit};
use crate::numbers::round_to;
use crate::time::{Date, Timestamp};

const KNOWN: &[(&str, f64)] = &[
    ("AAPL", 190.0),
    ("MSFT", 420.0),
    ("NVDA", 120.0),
    ("TSLA", 250.0),
    ("SPY", 550.0),
    ("QQQ", 470.0),
    ("AMZN", 185.0),
    ("GOOGL", 170.0),
    ("META", 500.0),
    ("AMD", 160.0),
    ("IWM", 210.0),
    ("GME", 25.0),
    ("BTC/USD", 60_000.0),
    ("ETH/USD", 3_000.0),
    ("SOL/USD", 150.0),
    ("DOGE/USD", 0.15),
    ("LTC/USD", 80.0),
    // Cross pairs, priced in their quote currency.
    ("ETH/BTC", 0.05),
    ("BTC/ETH", 20.0),
];

/// The price a symbol moves around.
pub(crate) fn base_price(symbol: &str) -> f64 {
    if let Some((_, p)) = KNOWN.iter().find(|(s, _)| *s == symbol) {
        return *p;
    }
    let h = hash_parts(&[b"base", symbol.as_bytes()]);
    round_to(5.0 + unit(h) * 495.0, 2)
}

/// Decimal places prices of `symbol` are quoted with.
pub(crate) fn price_places(symbol: &str) -> i32 {
    if base_price(symbol) < 1.0 { 6 } else { 2 }
}

fn minute_price(seed: u64, symbol: &str, minute: i64) -> f64 {
    let base = base_price(symbol);
    let phase = unit(hash_parts(&[b"phase", symbol.as_bytes()])) * std::f64::consts::TAU;
    let m = minute as f64;
    let weekly = (m / (60.0 * 24.0 * 7.0) * std::f64::consts::TAU + phase).sin();
    let daily = (m / 390.0 * std::f64::consts::TAU + phase * 2.0).sin();
    let noise = signed_unit(hash3(seed, symbol, minute));
    base * (1.0 + 0.04 * weekly + 0.01 * daily + 0.002 * noise)
}

/// The model's price of `symbol` at `t`, rounded to the symbol's tick.
pub(crate) fn price_at(seed: u64, symbol: &str, t: Timestamp) -> f64 {
    let secs = t.unix_secs();
    let minute = secs.div_euclid(60);
    let frac = secs.rem_euclid(60) as f64 / 60.0;
    let a = minute_price(seed, symbol, minute);
    let b = minute_price(seed, symbol, minute + 1);
    round_to(a + (b - a) * frac, price_places(symbol))
}

/// A volume scale for a symbol: shares (or coins) per minute.
pub(crate) fn volume_per_minute(symbol: &str) -> f64 {
    let h = hash_parts(&[b"vol", symbol.as_bytes()]);
    let base = base_price(symbol);
    (2_000_000.0 / base.max(0.01)).clamp(0.5, 5_000_000.0) * (0.5 + unit(h))
}

/// An option symbol in OCC form: `AAPL250117C00190000`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Occ {
    pub(crate) root: String,
    pub(crate) expiration: Date,
    pub(crate) call: bool,
    pub(crate) strike: f64,
}

impl Occ {
    pub(crate) fn parse(s: &str) -> Option<Occ> {
        let s = s.trim();
        if s.len() < 16 || s.len() > 21 || !s.is_ascii() {
            return None;
        }
        let (root, rest) = s.split_at(s.len() - 15);
        if root.is_empty() || !root.bytes().all(|b| b.is_ascii_uppercase()) {
            return None;
        }
        let yy: i32 = rest[0..2].parse().ok()?;
        let mm: u32 = rest[2..4].parse().ok()?;
        let dd: u32 = rest[4..6].parse().ok()?;
        let call = match &rest[6..7] {
            "C" => true,
            "P" => false,
            _ => return None,
        };
        let strike_raw = &rest[7..15];
        if !strike_raw.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let strike = strike_raw.parse::<u64>().ok()? as f64 / 1000.0;
        Some(Occ {
            root: root.to_string(),
            expiration: Date::new(2000 + yy, mm, dd)?,
            call,
            strike,
        })
    }

    pub(crate) fn symbol(&self) -> String {
        format!(
            "{}{:02}{:02}{:02}{}{:08}",
            self.root,
            self.expiration.year.rem_euclid(100),
            self.expiration.month,
            self.expiration.day,
            if self.call { 'C' } else { 'P' },
            (self.strike * 1000.0).round() as u64
        )
    }

    /// Expiry instant: 16:00 New York time on the expiration date.
    pub(crate) fn expires_at(&self) -> Timestamp {
        self.expiration.at_eastern(16 * 3600)
    }
}

/// Implied volatility the model uses for an underlying (20% to 60%).
pub(crate) fn implied_vol(underlying: &str) -> f64 {
    0.2 + 0.4 * unit(hash_parts(&[b"iv", underlying.as_bytes()]))
}

fn norm_cdf(x: f64) -> f64 {
    // Abramowitz-Stegun 7.1.26 via erf.
    let t = 1.0 / (1.0 + 0.327_591_1 * (x.abs() / std::f64::consts::SQRT_2));
    let y = 1.0
        - (((((1.061_405_429 * t - 1.453_152_027) * t) + 1.421_413_741) * t - 0.284_496_736) * t
            + 0.254_829_592)
            * t
            * (-(x * x) / 2.0).exp();
    if x >= 0.0 {
        (1.0 + y) / 2.0
    } else {
        (1.0 - y) / 2.0
    }
}

fn norm_pdf(x: f64) -> f64 {
    (-(x * x) / 2.0).exp() / (std::f64::consts::TAU).sqrt()
}

/// Black-Scholes price and greeks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OptionValue {
    pub(crate) price: f64,
    pub(crate) delta: f64,
    pub(crate) gamma: f64,
    pub(crate) theta: f64,
    pub(crate) vega: f64,
    pub(crate) rho: f64,
    pub(crate) iv: f64,
}

pub(crate) fn option_value(seed: u64, occ: &Occ, t: Timestamp) -> OptionValue {
    let s = price_at(seed, &occ.root, t).max(0.01);
    let k = occ.strike.max(0.01);
    let iv = implied_vol(&occ.root);
    let r = 0.04;
    let secs = (occ.expires_at().unix_secs() - t.unix_secs()).max(0) as f64;
    let tau = (secs / (365.0 * 86_400.0)).max(1.0 / (365.0 * 24.0));
    let sq = tau.sqrt();
    let d1 = ((s / k).ln() + (r + iv * iv / 2.0) * tau) / (iv * sq);
    let d2 = d1 - iv * sq;
    let disc = (-r * tau).exp();
    let (price, delta, rho) = if occ.call {
        (
            s * norm_cdf(d1) - k * disc * norm_cdf(d2),
            norm_cdf(d1),
            k * tau * disc * norm_cdf(d2) / 100.0,
        )
    } else {
        (
            k * disc * norm_cdf(-d2) - s * norm_cdf(-d1),
            norm_cdf(d1) - 1.0,
            -k * tau * disc * norm_cdf(-d2) / 100.0,
        )
    };
    let gamma = norm_pdf(d1) / (s * iv * sq);
    let vega = s * norm_pdf(d1) * sq / 100.0;
    let theta_common = -s * norm_pdf(d1) * iv / (2.0 * sq);
    let theta = if occ.call {
        theta_common - r * k * disc * norm_cdf(d2)
    } else {
        theta_common + r * k * disc * norm_cdf(-d2)
    } / 365.0;
    OptionValue {
        price: round_to(price.max(0.01), 2),
        delta: round_to(delta, 4),
        gamma: round_to(gamma, 4),
        theta: round_to(theta, 4),
        vega: round_to(vega, 4),
        rho: round_to(rho, 4),
        iv: round_to(iv, 4),
    }
}

/// The model's option premium at `t`.
pub(crate) fn option_price(seed: u64, occ: &Occ, t: Timestamp) -> f64 {
    option_value(seed, occ, t).price
}

/// Prices any symbol at `t`: options by the option model, the rest by the
/// price model.
pub(crate) fn any_price(seed: u64, symbol: &str, t: Timestamp) -> f64 {
    match Occ::parse(symbol) {
        Some(occ) if !symbol.contains('/') => option_price(seed, &occ, t),
        _ => price_at(seed, symbol, t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn occ_round_trip() {
        let o = Occ::parse("AAPL250117C00190000").unwrap();
        assert_eq!(o.root, "AAPL");
        assert_eq!(o.strike, 190.0);
        assert!(o.call);
        assert_eq!(o.symbol(), "AAPL250117C00190000");
        assert!(Occ::parse("AAPL").is_none());
        assert!(Occ::parse("BTC/USD").is_none());
    }

    #[test]
    fn prices_are_deterministic_and_plausible() {
        let t = Timestamp::from_unix_secs(1_736_955_000);
        let a = price_at(0, "AAPL", t);
        assert_eq!(a, price_at(0, "AAPL", t));
        assert!((150.0..230.0).contains(&a), "{a}");
        assert_ne!(a, price_at(0, "MSFT", t));
        let v = option_value(0, &Occ::parse("AAPL250117C00190000").unwrap(), t);
        assert!(v.price > 0.0 && v.delta > 0.0 && v.delta < 1.0);
    }
}
