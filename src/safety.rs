//! Order safety: confirmation before sending (opt-in) and guards checked before anything is
//! sent (and again before a confirmed order goes out).
//!
//! - `ALPACA_CONFIRM_ORDERS=true`: a `place_*` call sends nothing; it returns a
//!   `confirmation_id`, a summary with the estimated cost and the expiry.
//!   `confirm_order(confirmation_id)` sends exactly that order; `cancel_confirmation` drops it.
//!   Confirmations are single-use, expire (`ALPACA_CONFIRM_TTL_SECONDS`, default 120) and are
//!   bound to the MCP session that made them.
//! - `ALPACA_MAX_ORDER_NOTIONAL`: refuses an order whose notional, or quantity times the worse
//!   (higher) of its own prices and the latest quote, exceeds the cap.
//! - `ALPACA_ALLOWED_SYMBOLS` / `ALPACA_DENIED_SYMBOLS`: comma-separated; an option is checked
//!   by its contract symbol and its underlying.
//! - `ALPACA_MAX_ORDERS_PER_MINUTE`: a sliding one-minute window over orders sent.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::runtime::ApiRequest;
use crate::settings::{ConfigError, parse_bool, split_list};

/// Safety settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SafetyConfig {
    /// Place orders only after `confirm_order`.
    pub confirm_orders: bool,
    /// How long a confirmation stays valid.
    pub confirm_ttl: Duration,
    /// Largest notional value of one order, in the account currency.
    pub max_order_notional: Option<f64>,
    /// Only these symbols may be traded (upper case); `None` allows all.
    pub allowed_symbols: Option<Vec<String>>,
    /// These symbols may not be traded (upper case).
    pub denied_symbols: Vec<String>,
    /// Most orders sent in any one minute.
    pub max_orders_per_minute: Option<u32>,
}

impl SafetyConfig {
    /// Reads `ALPACA_CONFIRM_ORDERS`, `ALPACA_CONFIRM_TTL_SECONDS`, `ALPACA_MAX_ORDER_NOTIONAL`,
    /// `ALPACA_ALLOWED_SYMBOLS`, `ALPACA_DENIED_SYMBOLS` and `ALPACA_MAX_ORDERS_PER_MINUTE`.
    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<SafetyConfig, ConfigError> {
        let non_empty = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let number = |name: &str| -> Result<Option<f64>, ConfigError> {
            match non_empty(name) {
                None => Ok(None),
                Some(v) => v
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite() && *n > 0.0)
                    .map(Some)
                    .ok_or(ConfigError::BadNumber {
                        name: name.into(),
                        value: v,
                    }),
            }
        };
        let symbols = |name: &str| non_empty(name).map(|v| split_list(&v.to_ascii_uppercase()));
        Ok(SafetyConfig {
            confirm_orders: match non_empty("ALPACA_CONFIRM_ORDERS") {
                Some(v) => parse_bool("ALPACA_CONFIRM_ORDERS", &v)?,
                None => false,
            },
            confirm_ttl: Duration::from_secs_f64(
                number("ALPACA_CONFIRM_TTL_SECONDS")?.unwrap_or(120.0),
            ),
            max_order_notional: number("ALPACA_MAX_ORDER_NOTIONAL")?,
            allowed_symbols: symbols("ALPACA_ALLOWED_SYMBOLS"),
            denied_symbols: symbols("ALPACA_DENIED_SYMBOLS").unwrap_or_default(),
            max_orders_per_minute: number("ALPACA_MAX_ORDERS_PER_MINUTE")?
                .map(|n| n.round().max(1.0) as u32),
        })
    }

    /// The active guards, for the start-up line and the instructions.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.confirm_orders {
            parts.push(format!(
                "order confirmation ({} s)",
                self.confirm_ttl.as_secs()
            ));
        }
        if let Some(n) = self.max_order_notional {
            parts.push(format!("max order notional {n}"));
        }
        if let Some(a) = &self.allowed_symbols {
            parts.push(format!("allowed symbols {}", a.join(",")));
        }
        if !self.denied_symbols.is_empty() {
            parts.push(format!("denied symbols {}", self.denied_symbols.join(",")));
        }
        if let Some(n) = self.max_orders_per_minute {
            parts.push(format!("max {n} orders per minute"));
        }
        if parts.is_empty() {
            "none".into()
        } else {
            parts.join("; ")
        }
    }
}

/// The form guards compare symbols in: ASCII upper case without the separators `/`, `.` and
/// `-`, so `btc/usd`, `BTCUSD` and `BTC-USD` are one symbol, as are `BRK.B` and `brk-b`.
/// `None` when `symbol` has anything outside ASCII letters, digits and those separators (a NUL,
/// a zero-width or a full-width character), or nothing but separators.
pub fn canonical_symbol(symbol: &str) -> Option<String> {
    let mut out = String::with_capacity(symbol.len());
    for c in symbol.chars() {
        match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' => out.push(c.to_ascii_uppercase()),
            '/' | '.' | '-' => {}
            _ => return None,
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The kind of instrument an order is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A stock or ETF.
    Stock,
    /// A crypto pair.
    Crypto,
    /// An option contract (or several, for a multi-leg order).
    Option,
}

impl Kind {
    /// The kind of an Alpaca `asset_class`.
    pub fn of_class(class: Option<&str>) -> Kind {
        match class.map(str::to_ascii_lowercase).as_deref() {
            Some("crypto") => Kind::Crypto,
            Some("us_option") => Kind::Option,
            _ => Kind::Stock,
        }
    }

    /// The tool that places an order of this kind.
    pub fn tool(self) -> &'static str {
        match self {
            Kind::Stock => "place_stock_order",
            Kind::Crypto => "place_crypto_order",
            Kind::Option => "place_option_order",
        }
    }
}

/// A call held for `confirm_order`: an order, or any other call that changes orders or
/// positions.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The session that asked for it.
    pub session: u64,
    /// The tool that was called.
    pub tool: &'static str,
    /// The tool's guard (the manifest's name), checked again before sending.
    pub guard: &'static str,
    /// What an order is for (`None` for a call that places no new order).
    pub kind: Option<Kind>,
    /// The request, exactly as it will be sent.
    pub request: ApiRequest,
    /// One line saying what it does.
    pub what: String,
    /// When it stops being valid.
    pub expires: Instant,
}

/// Shared safety state: pending confirmations and the orders-per-minute window.
#[derive(Debug, Default)]
pub struct Safety {
    /// Settings.
    pub config: SafetyConfig,
    pending: Mutex<HashMap<String, Pending>>,
    sent: Mutex<VecDeque<Instant>>,
}

impl Safety {
    /// Safety state for `config`.
    pub fn new(config: SafetyConfig) -> Self {
        Safety {
            config,
            ..Safety::default()
        }
    }

    /// Checks a symbol against the allow and deny lists (an option also by its underlying),
    /// comparing [canonical forms](canonical_symbol), so no spelling of a denied symbol gets
    /// through and every spelling of an allowed one does. A symbol outside the symbol alphabet
    /// is refused outright.
    pub fn check_symbol(&self, symbol: &str, underlying: Option<&str>) -> Result<(), String> {
        let names: Vec<&str> = std::iter::once(symbol).chain(underlying).collect();
        let mut canon = Vec::with_capacity(names.len());
        for name in &names {
            canon.push(canonical_symbol(name).ok_or_else(|| {
                format!("{name:?} is not a symbol (ASCII letters, digits and . / - only)")
            })?);
        }
        for (name, c) in names.iter().zip(&canon) {
            if self
                .config
                .denied_symbols
                .iter()
                .any(|d| canonical_symbol(d).as_ref() == Some(c))
            {
                return Err(format!(
                    "{name} is in ALPACA_DENIED_SYMBOLS; this server will not trade it"
                ));
            }
        }
        if let Some(allowed) = &self.config.allowed_symbols
            && !canon.iter().any(|c| {
                allowed
                    .iter()
                    .any(|a| canonical_symbol(a).as_ref() == Some(c))
            })
        {
            return Err(format!(
                "{symbol} is not in ALPACA_ALLOWED_SYMBOLS ({})",
                allowed.join(",")
            ));
        }
        Ok(())
    }

    /// Checks an order's estimated value against the cap.
    pub fn check_notional(&self, value: Option<f64>, symbol: &str) -> Result<(), String> {
        let Some(cap) = self.config.max_order_notional else {
            return Ok(());
        };
        match value {
            Some(v) if v > cap => Err(format!(
                "this order is worth about {v:.2}, over ALPACA_MAX_ORDER_NOTIONAL={cap}; reduce the quantity"
            )),
            Some(_) => Ok(()),
            None => Err(format!(
                "ALPACA_MAX_ORDER_NOTIONAL={cap} is set and no quote for {symbol} is available to value this order; give a limit_price"
            )),
        }
    }

    /// Takes `n` slots at once (all or none), or says when enough free up. A call that makes
    /// several orders (closing every position) counts each one.
    pub fn take_order_slots(&self, n: u32) -> Result<(), String> {
        let Some(max) = self.config.max_orders_per_minute else {
            return Ok(());
        };
        if n == 0 {
            return Ok(());
        }
        let mut sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        while sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
        {
            sent.pop_front();
        }
        if n > max {
            return Err(format!(
                "this call makes {n} orders, more than ALPACA_MAX_ORDERS_PER_MINUTE={max} allows in a minute; do it in parts"
            ));
        }
        if sent.len() + n as usize > max as usize {
            // The slot that frees up last among the ones needed.
            let needed = sent.len() + n as usize - max as usize;
            let oldest = sent.get(needed - 1).copied().unwrap_or(now);
            let wait = 60 - now.duration_since(oldest).as_secs().min(60);
            return Err(format!(
                "ALPACA_MAX_ORDERS_PER_MINUTE={max} reached; try again in {wait} s"
            ));
        }
        for _ in 0..n {
            sent.push_back(now);
        }
        Ok(())
    }

    /// Stores an order for confirmation and returns its id.
    pub fn hold(&self, pending: Pending) -> String {
        let id = format!("conf-{}", uuid::Uuid::new_v4().simple());
        let mut map = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        map.retain(|_, p| p.expires > now);
        map.insert(id.clone(), pending);
        id
    }

    /// Takes a pending order (single use) for `session`.
    pub fn take(&self, id: &str, session: u64) -> Result<Pending, String> {
        let mut map = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(id) {
            None => Err(format!(
                "no pending order with confirmation_id {id} (already used, cancelled, or never made)"
            )),
            Some(p) if p.session != session => {
                Err(format!("confirmation_id {id} belongs to another session"))
            }
            Some(p) if p.expires <= Instant::now() => {
                map.remove(id);
                Err(format!(
                    "confirmation_id {id} has expired; place the order again to get a new one"
                ))
            }
            Some(_) => Ok(map.remove(id).expect("present")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<SafetyConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        SafetyConfig::from_lookup(&|k: &str| map.get(k).cloned())
    }

    #[test]
    fn reads_the_environment() {
        let c = config(&[
            ("ALPACA_CONFIRM_ORDERS", "yes"),
            ("ALPACA_MAX_ORDER_NOTIONAL", "5000"),
            ("ALPACA_ALLOWED_SYMBOLS", "aapl, msft"),
            ("ALPACA_MAX_ORDERS_PER_MINUTE", "3"),
        ])
        .unwrap();
        assert!(c.confirm_orders);
        assert_eq!(c.confirm_ttl, Duration::from_secs(120));
        assert_eq!(
            c.allowed_symbols,
            Some(vec!["AAPL".to_string(), "MSFT".to_string()])
        );
        assert_eq!(
            c.describe(),
            "order confirmation (120 s); max order notional 5000; allowed symbols AAPL,MSFT; max 3 orders per minute"
        );
        assert!(config(&[("ALPACA_MAX_ORDER_NOTIONAL", "lots")]).is_err());
        assert!(config(&[("ALPACA_CONFIRM_ORDERS", "sure")]).is_err());
    }

    #[test]
    fn guards() {
        let s = Safety::new(
            config(&[
                ("ALPACA_DENIED_SYMBOLS", "GME"),
                ("ALPACA_MAX_ORDERS_PER_MINUTE", "2"),
                ("ALPACA_MAX_ORDER_NOTIONAL", "1000"),
            ])
            .unwrap(),
        );
        assert!(
            s.check_symbol("GME", None)
                .unwrap_err()
                .contains("ALPACA_DENIED_SYMBOLS")
        );
        assert!(s.check_symbol("GME250117C00020000", Some("GME")).is_err());
        for spelling in ["gme", "G.M.E", "gme-"] {
            assert!(s.check_symbol(spelling, None).is_err(), "{spelling}");
        }
        for hidden in ["GME\u{0}", "GME\u{200b}", "ＧＭＥ", "GM E"] {
            let e = s.check_symbol(hidden, None).unwrap_err();
            assert!(e.contains("not a symbol"), "{hidden:?}: {e}");
        }
        assert!(s.check_symbol("AAPL", None).is_ok());
        assert!(s.check_notional(Some(999.0), "AAPL").is_ok());
        let e = s.check_notional(Some(1500.0), "AAPL").unwrap_err();
        assert!(e.contains("1500.00") && e.contains("1000"), "{e}");
        assert!(
            s.check_notional(None, "AAPL")
                .unwrap_err()
                .contains("no quote")
        );
        assert!(s.take_order_slots(1).is_ok());
        assert!(s.take_order_slots(1).is_ok());
        assert!(
            s.take_order_slots(1)
                .unwrap_err()
                .contains("ALPACA_MAX_ORDERS_PER_MINUTE=2")
        );
    }

    #[test]
    fn confirmations_are_single_use_and_session_bound() {
        let s = Safety::new(SafetyConfig {
            confirm_ttl: Duration::from_secs(60),
            ..SafetyConfig::default()
        });
        let p = |session| Pending {
            session,
            tool: "place_stock_order",
            guard: "place_order",
            kind: Some(Kind::Stock),
            request: ApiRequest {
                api: "trading",
                operation_id: "postOrder",
                method: crate::runtime::Method::Post,
                path: "/v2/orders".into(),
                query: vec![],
                body: None,
            },
            what: "x".into(),
            expires: Instant::now() + Duration::from_secs(60),
        };
        let id = s.hold(p(1));
        assert!(s.take(&id, 2).unwrap_err().contains("another session"));
        assert!(s.take(&id, 1).is_ok());
        assert!(s.take(&id, 1).unwrap_err().contains("already used"));
        let old = s.hold(Pending {
            expires: Instant::now(),
            ..p(1)
        });
        assert!(s.take(&old, 1).unwrap_err().contains("expired"));
    }
}
