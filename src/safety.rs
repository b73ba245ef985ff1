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
//! - `ALPACA_CONFIRM_STATE_KEY_FILE` (or `ALPACA_CONFIRM_STATE_KEY`): the key, at least 32
//!   bytes, that seals the `requestState` of a confirmation asked as MCP 2026-07-28's input
//!   request. Replicas behind one address need the same key; without one each process makes
//!   its own at start, so a question outlives neither a restart nor a move to another process.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::ledger::{Ledger, MemoryLedger, Slots, Taken, now_ms};
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
    /// The key that seals confirmation state; `None`: one made at start.
    pub state_key: Option<StateKey>,
}

/// A key sealing confirmation state (at least [`StateKey::MIN_LEN`] bytes). Its `Debug`
/// shows its length, never its bytes.
#[derive(Clone, PartialEq)]
pub struct StateKey(Vec<u8>);

impl StateKey {
    /// The shortest key accepted.
    pub const MIN_LEN: usize = rmcp::model::RequestStateCodec::MIN_KEY_LENGTH;

    /// A key from its bytes; `None` when shorter than [`StateKey::MIN_LEN`].
    pub fn new(bytes: impl Into<Vec<u8>>) -> Option<StateKey> {
        let bytes = bytes.into();
        (bytes.len() >= Self::MIN_LEN).then_some(StateKey(bytes))
    }

    /// A fresh random key (from the operating system's generator, through UUID v4s).
    pub fn random() -> StateKey {
        let mut bytes = Vec::with_capacity(48);
        for _ in 0..3 {
            bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        }
        StateKey(bytes)
    }
}

impl std::fmt::Debug for StateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StateKey({} bytes)", self.0.len())
    }
}

impl SafetyConfig {
    /// Reads `ALPACA_CONFIRM_ORDERS`, `ALPACA_CONFIRM_TTL_SECONDS`, `ALPACA_MAX_ORDER_NOTIONAL`,
    /// `ALPACA_ALLOWED_SYMBOLS`, `ALPACA_DENIED_SYMBOLS` and `ALPACA_MAX_ORDERS_PER_MINUTE`.
    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<SafetyConfig, ConfigError> {
        let non_empty = |name: &str| get(name).filter(|v| crate::settings::is_set(v));
        let number = |name: &str, expected: &'static str| -> Result<Option<f64>, ConfigError> {
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
                        expected,
                    }),
            }
        };
        let orders_per_minute = match non_empty("ALPACA_MAX_ORDERS_PER_MINUTE") {
            None => None,
            Some(v) => Some(v.trim().parse::<u32>().ok().filter(|n| *n > 0).ok_or(
                ConfigError::BadNumber {
                    name: "ALPACA_MAX_ORDERS_PER_MINUTE".into(),
                    value: v,
                    expected: "a whole number of orders, 1 or more",
                },
            )?),
        };
        let symbols = |name: &str| non_empty(name).map(|v| split_list(&v.to_ascii_uppercase()));
        Ok(SafetyConfig {
            confirm_orders: match non_empty("ALPACA_CONFIRM_ORDERS") {
                Some(v) => parse_bool("ALPACA_CONFIRM_ORDERS", &v)?,
                None => false,
            },
            confirm_ttl: Duration::from_secs_f64(
                number("ALPACA_CONFIRM_TTL_SECONDS", "a positive number of seconds")?
                    .unwrap_or(120.0),
            ),
            max_order_notional: number(
                "ALPACA_MAX_ORDER_NOTIONAL",
                "a positive amount of US dollars, such as 1000 or 2500.50",
            )?,
            allowed_symbols: symbols("ALPACA_ALLOWED_SYMBOLS"),
            denied_symbols: symbols("ALPACA_DENIED_SYMBOLS").unwrap_or_default(),
            max_orders_per_minute: orders_per_minute,
            state_key: state_key(&non_empty)?,
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

/// What confirmation state is bound to: this use, and the principal it was sealed for.
#[cfg_attr(not(feature = "trading"), allow(dead_code))]
fn sealed_for(principal: &str) -> String {
    format!("alpaca-mcp confirmation v1\0{principal}")
}

/// The confirmation-state key from `ALPACA_CONFIRM_STATE_KEY_FILE` (the file's bytes, one
/// trailing newline dropped) or `ALPACA_CONFIRM_STATE_KEY`; errors never show the key.
fn state_key(get: &impl Fn(&str) -> Option<String>) -> Result<Option<StateKey>, ConfigError> {
    let short = |name: &str| ConfigError::BadChoice {
        name: name.into(),
        value: "(not shown)".into(),
        expected: "a key of at least 32 bytes",
    };
    if let Some(path) = get("ALPACA_CONFIRM_STATE_KEY_FILE") {
        let mut bytes = std::fs::read(path.trim()).map_err(|e| ConfigError::BadChoice {
            name: "ALPACA_CONFIRM_STATE_KEY_FILE".into(),
            value: path.clone(),
            expected: if e.kind() == std::io::ErrorKind::NotFound {
                "a readable file (it does not exist)"
            } else {
                "a readable file"
            },
        })?;
        if bytes.ends_with(b"\n") {
            bytes.pop();
            if bytes.ends_with(b"\r") {
                bytes.pop();
            }
        }
        return StateKey::new(bytes)
            .map(Some)
            .ok_or_else(|| short("ALPACA_CONFIRM_STATE_KEY_FILE"));
    }
    match get("ALPACA_CONFIRM_STATE_KEY") {
        Some(v) => StateKey::new(v.into_bytes())
            .map(Some)
            .ok_or_else(|| short("ALPACA_CONFIRM_STATE_KEY")),
        None => Ok(None),
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

    /// The kind's name, as a held call keeps it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Stock => "stock",
            Kind::Crypto => "crypto",
            Kind::Option => "option",
        }
    }

    /// The kind named `name` ([`Kind::as_str`]).
    pub fn parse(name: &str) -> Option<Kind> {
        match name {
            "stock" => Some(Kind::Stock),
            "crypto" => Some(Kind::Crypto),
            "option" => Some(Kind::Option),
            _ => None,
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
    /// Who asked for it: an MCP session (`session N`), or the principal of a client that
    /// has no sessions.
    pub owner: String,
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
    pub expires: SystemTime,
}

fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Pending {
    /// The held call as a ledger keeps it.
    fn to_json(&self) -> String {
        serde_json::json!({
            "owner": self.owner,
            "tool": self.tool,
            "guard": self.guard,
            "kind": self.kind.map(Kind::as_str),
            "request": self.request.to_json(),
            "what": self.what,
            "expires": unix_ms(self.expires),
        })
        .to_string()
    }

    /// A held call read back from a ledger.
    fn from_json(body: &str) -> Option<Pending> {
        let v: serde_json::Value = serde_json::from_str(body).ok()?;
        let s = |k: &str| v.get(k).and_then(|x| x.as_str());
        Some(Pending {
            owner: s("owner")?.to_string(),
            tool: crate::runtime::intern(s("tool")?)?,
            guard: crate::runtime::intern(s("guard")?)?,
            kind: match v.get("kind") {
                Some(serde_json::Value::String(k)) => Some(Kind::parse(k)?),
                _ => None,
            },
            request: ApiRequest::from_json(v.get("request")?)?,
            what: s("what")?.to_string(),
            expires: UNIX_EPOCH + Duration::from_millis(v.get("expires")?.as_u64()?),
        })
    }
}

/// Shared safety state: the sealing of confirmation state, and the [`Ledger`] of held
/// calls, answered states and the orders-per-minute windows.
pub struct Safety {
    /// Settings.
    pub config: SafetyConfig,
    ledger: Arc<dyn Ledger>,
    #[cfg_attr(not(feature = "trading"), allow(dead_code))]
    codec: rmcp::model::RequestStateCodec,
}

impl std::fmt::Debug for Safety {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Safety")
            .field("config", &self.config)
            .field("ledger", &self.ledger)
            .finish_non_exhaustive()
    }
}

impl Default for Safety {
    fn default() -> Self {
        Safety::new(SafetyConfig::default())
    }
}

impl Safety {
    /// Safety state for `config`, its ledger in this process's memory.
    pub fn new(config: SafetyConfig) -> Self {
        Safety::with_ledger(config, Arc::new(MemoryLedger::default()))
    }

    /// Safety state for `config` whose held calls, answered states and order windows are in
    /// `ledger` (shared by the replicas of a deployment).
    pub fn with_ledger(config: SafetyConfig, ledger: Arc<dyn Ledger>) -> Self {
        let key = config.state_key.clone().unwrap_or_else(StateKey::random);
        Safety {
            config,
            ledger,
            codec: rmcp::model::RequestStateCodec::new_unchecked(key.0),
        }
    }

    /// Seals `payload` for `principal`, valid for the confirmation time.
    #[cfg_attr(not(feature = "trading"), allow(dead_code))]
    pub(crate) fn seal(&self, payload: &serde_json::Value, principal: &str) -> String {
        let context = sealed_for(principal);
        let options = rmcp::model::SealOptions::new()
            .associated_data(context.as_bytes())
            .ttl(self.config.confirm_ttl);
        // Serializing a JSON value cannot fail.
        self.codec
            .seal_json_with(payload, &options)
            .unwrap_or_default()
    }

    /// Opens state sealed for `principal`: `Err` says why it does not open (forged, altered,
    /// sealed for someone else or with another key, or expired), never what it holds.
    #[cfg_attr(not(feature = "trading"), allow(dead_code))]
    pub(crate) fn open(&self, sealed: &str, principal: &str) -> Result<serde_json::Value, String> {
        let context = sealed_for(principal);
        self.codec
            .open_json_with(sealed, context.as_bytes())
            .map_err(|e| match e {
                rmcp::model::RequestStateError::Expired => {
                    "the confirmation has expired; call the tool again to be asked again".into()
                }
                _ => "the requestState is not one this server sealed for this caller (altered, from another caller, or sealed with another key)".into(),
            })
    }

    /// Marks the confirmation state `nonce` used; `false` when it already was. Kept until
    /// it would have expired anyway. `Err`: the ledger cannot say (the call is refused).
    #[cfg_attr(not(feature = "trading"), allow(dead_code))]
    pub(crate) async fn spend(&self, nonce: &str) -> Result<bool, String> {
        let now = now_ms();
        let until = now + self.config.confirm_ttl.as_millis() as i64;
        self.ledger.spend(nonce, now, until).await.map_err(|e| {
            format!("whether this confirmation was answered before cannot be checked ({e})")
        })
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
            // A value that is not a finite number (NaN or infinite prices from upstream)
            // compares false against the cap: it fails closed instead.
            Some(v) if !v.is_finite() || v < 0.0 => Err(format!(
                "ALPACA_MAX_ORDER_NOTIONAL={cap} is set and this order's value could not be worked out (the prices or quantities read were not usable numbers); nothing was sent"
            )),
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
    /// several orders (closing every position) counts each one. A caller
    /// ([`crate::runtime::caller`]) has a window of their own, shared by every replica when
    /// the ledger is.
    pub async fn take_order_slots(&self, n: u32) -> Result<(), String> {
        let Some(max) = self.config.max_orders_per_minute else {
            return Ok(());
        };
        if n == 0 {
            return Ok(());
        }
        if n > max {
            return Err(format!(
                "this call makes {n} orders, more than ALPACA_MAX_ORDERS_PER_MINUTE={max} allows in a minute; do it in parts"
            ));
        }
        // Each user's orders count against their own limit ("" is the server's one account).
        let caller = crate::runtime::caller::current_id().unwrap_or_default();
        match self.ledger.take_slots(&caller, n, max, now_ms()).await {
            Ok(Slots::Taken) => Ok(()),
            Ok(Slots::Full { wait_secs }) => Err(format!(
                "ALPACA_MAX_ORDERS_PER_MINUTE={max} reached; try again in {wait_secs} s"
            )),
            Err(e) => Err(format!("the order limit cannot be checked now ({e})")),
        }
    }

    /// Stores an order for confirmation and returns its id.
    pub async fn hold(&self, pending: Pending) -> Result<String, String> {
        let id = format!("conf-{}", uuid::Uuid::new_v4().simple());
        self.ledger
            .hold(
                &id,
                &pending.owner,
                &pending.to_json(),
                unix_ms(pending.expires),
            )
            .await
            .map_err(|e| format!("the call cannot be held for confirmation now ({e})"))?;
        Ok(id)
    }

    /// Takes a pending order (single use) for `owner`.
    pub async fn take(&self, id: &str, owner: &str) -> Result<Pending, String> {
        match self.ledger.take(id, owner, now_ms()).await {
            Err(e) => Err(format!("the held call cannot be read now ({e})")),
            Ok(Taken::Missing) => Err(format!(
                "no pending order with confirmation_id {id} (already used, cancelled, or never made)"
            )),
            Ok(Taken::NotYours) => Err(format!(
                "confirmation_id {id} belongs to another session or caller"
            )),
            Ok(Taken::Expired) => Err(format!(
                "confirmation_id {id} has expired; place the order again to get a new one"
            )),
            Ok(Taken::Held(body)) => Pending::from_json(&body).ok_or_else(|| {
                format!("the call held as confirmation_id {id} cannot be read back")
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<SafetyConfig, ConfigError> {
        let map: std::collections::HashMap<String, String> = vars
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

    #[tokio::test]
    async fn guards() {
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
        assert!(s.take_order_slots(1).await.is_ok());
        assert!(s.take_order_slots(1).await.is_ok());
        assert!(
            s.take_order_slots(1)
                .await
                .unwrap_err()
                .contains("ALPACA_MAX_ORDERS_PER_MINUTE=2")
        );
    }

    #[tokio::test]
    async fn confirmations_are_single_use_and_session_bound() {
        let s = Safety::new(SafetyConfig {
            confirm_ttl: Duration::from_secs(60),
            ..SafetyConfig::default()
        });
        let p = |owner: &str| Pending {
            owner: owner.to_string(),
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
            expires: SystemTime::now() + Duration::from_secs(60),
        };
        let id = s.hold(p("session 1")).await.unwrap();
        assert!(
            s.take(&id, "session 2")
                .await
                .unwrap_err()
                .contains("another session")
        );
        let taken = s.take(&id, "session 1").await.unwrap();
        assert_eq!(
            (taken.tool, taken.guard, taken.kind, taken.request),
            (
                "place_stock_order",
                "place_order",
                Some(Kind::Stock),
                p("x").request
            ),
            "it comes back as it was held"
        );
        assert!(
            s.take(&id, "session 1")
                .await
                .unwrap_err()
                .contains("already used")
        );
        let old = s
            .hold(Pending {
                expires: SystemTime::now(),
                ..p("session 1")
            })
            .await
            .unwrap();
        assert!(
            s.take(&old, "session 1")
                .await
                .unwrap_err()
                .contains("expired")
        );
    }

    #[tokio::test]
    async fn sealed_state_opens_only_unaltered_for_its_principal_in_time_and_is_spent_once() {
        let key = StateKey::new(b"k".repeat(32)).unwrap();
        let s = Safety::new(SafetyConfig {
            confirm_ttl: Duration::from_secs(60),
            state_key: Some(key.clone()),
            ..SafetyConfig::default()
        });
        let payload = serde_json::json!({"tool": "place_stock_order", "nonce": "n1"});
        let sealed = s.seal(&payload, "http grant 1");
        assert_eq!(s.open(&sealed, "http grant 1").unwrap(), payload);
        assert!(
            s.open(&sealed, "http grant 2")
                .unwrap_err()
                .contains("another caller")
        );
        // Any one character changed anywhere: refused.
        for i in 0..sealed.len() {
            let mut bytes = sealed.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(bytes).unwrap();
            if altered != sealed {
                assert!(s.open(&altered, "http grant 1").is_err(), "position {i}");
            }
        }
        // Another process with the same key opens it; one with its own key does not.
        let same = Safety::new(SafetyConfig {
            state_key: Some(key),
            ..SafetyConfig::default()
        });
        assert!(same.open(&sealed, "http grant 1").is_ok());
        assert!(Safety::default().open(&sealed, "http grant 1").is_err());
        let brief = Safety::new(SafetyConfig {
            confirm_ttl: Duration::from_secs(1),
            ..SafetyConfig::default()
        });
        let soon = brief.seal(&payload, "p");
        std::thread::sleep(Duration::from_millis(2100));
        assert!(brief.open(&soon, "p").unwrap_err().contains("expired"));
        assert!(s.spend("n1").await.unwrap());
        assert!(!s.spend("n1").await.unwrap());
        assert!(s.spend("n2").await.unwrap());
    }

    #[test]
    fn the_state_key_is_read_but_never_shown() {
        let secret = "0123456789abcdef0123456789abcdef-secret";
        let c = config(&[("ALPACA_CONFIRM_STATE_KEY", secret)]).unwrap();
        assert_eq!(c.state_key, StateKey::new(secret.as_bytes().to_vec()));
        let shown = format!("{c:?} {:?}", Safety::new(c.clone()));
        assert!(
            !shown.contains("secret") && shown.contains("StateKey(39 bytes)"),
            "{shown}"
        );
        let e = config(&[("ALPACA_CONFIRM_STATE_KEY", "short-secret")]).unwrap_err();
        assert!(!e.to_string().contains("short-secret"), "{e}");
        assert!(e.to_string().contains("32 bytes"), "{e}");
        let dir = std::env::temp_dir().join(format!("alpaca-mcp-key-{}", std::process::id()));
        std::fs::write(&dir, format!("{secret}\n")).unwrap();
        let from_file =
            config(&[("ALPACA_CONFIRM_STATE_KEY_FILE", dir.to_str().unwrap())]).unwrap();
        assert_eq!(
            from_file.state_key, c.state_key,
            "the trailing newline is not key"
        );
        std::fs::remove_file(&dir).unwrap();
        let missing = config(&[("ALPACA_CONFIRM_STATE_KEY_FILE", "/nonexistent/key")]).unwrap_err();
        assert!(missing.to_string().contains("does not exist"), "{missing}");
    }
}
