//! Run-time configuration: credentials, paper or live, API hosts, toolsets, timeouts. Read
//! from the environment with the same variable names as Alpaca's Python server (V2), so a
//! config written for V2 works unchanged.

use std::time::Duration;

use url::Url;

use crate::runtime::{Auth, RateLimit, TransportConfig};
pub use crate::settings::{ConfigError, parse_bool, parse_url, split_list};
use crate::settings::{parse_count, parse_secs};

/// Alpaca's key pair, sent as its two key headers on every request.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Key id (`ALPACA_API_KEY`).
    pub key_id: String,
    /// Secret key (`ALPACA_SECRET_KEY`).
    pub secret_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials { key_id: <redacted>, secret_key: <redacted> }")
    }
}

impl Credentials {
    /// How the transport authenticates with these keys: Alpaca's two key headers.
    pub fn auth(&self) -> Auth {
        Auth::Headers(vec![
            ("APCA-API-KEY-ID".into(), self.key_id.clone()),
            ("APCA-API-SECRET-KEY".into(), self.secret_key.clone()),
        ])
    }
}

/// Alpaca's paper trading host.
pub const PAPER_TRADING_URL: &str = "https://paper-api.alpaca.markets";
/// Alpaca's live trading host.
pub const LIVE_TRADING_URL: &str = "https://api.alpaca.markets";
/// Alpaca's market data host.
pub const DATA_URL: &str = "https://data.alpaca.markets";

/// Everything a run needs to know.
#[derive(Debug, Clone)]
pub struct Config {
    /// API keys; `None` only makes sense against a fake.
    pub credentials: Option<Credentials>,
    /// Paper (true) or live (false) trading.
    pub paper: bool,
    /// Trading API base URL.
    pub trading_url: Url,
    /// Market Data API base URL.
    pub data_url: Url,
    /// Toolsets to enable; `None` means every compiled default toolset.
    pub toolsets: Option<Vec<String>>,
    /// Expose only read-only tools.
    pub read_only: bool,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout.
    pub request_timeout: Duration,
    /// Whether the hosts are the in-process fake (sandbox mode).
    pub sandbox: bool,
    /// Order confirmation and guards.
    pub safety: crate::safety::SafetyConfig,
    /// The response cache.
    pub cache: crate::cache::CacheConfig,
    /// Client-side pacing of the Trading API, shared by every session
    /// (`ALPACA_TRADING_RATE_LIMIT_PER_MINUTE`, else `ALPACA_RATE_LIMIT_PER_MINUTE`, default 200,
    /// Alpaca's limit for an account; 0 turns it off; burst `ALPACA_RATE_LIMIT_BURST`, default
    /// a quarter). No 60-second window sees more requests than the limit; over it, requests
    /// wait, orders ahead of reads. The API's own `X-RateLimit-*` headers are followed.
    pub trading_rate_limit: RateLimit,
    /// Client-side pacing of the Market Data API, as for trading
    /// (`ALPACA_DATA_RATE_LIMIT_PER_MINUTE`, else `ALPACA_RATE_LIMIT_PER_MINUTE`, default 200,
    /// the free plan's limit; a paid plan's is taken from Alpaca's headers unless set).
    pub data_rate_limit: RateLimit,
    /// Backoff before the first retry of an idempotent request (250 ms; tests shorten it).
    pub retry_base: Duration,
    /// The most requests one call of a list tool makes when its `limit` asks for more than a
    /// page (`ALPACA_MAX_PAGES`, 1 to 100, default 10). An operator's bound on what one
    /// model call costs in rate limit; past it the result says more remains and how to go on.
    pub max_pages: u64,
    /// How results are written (compact tables or JSON) and the characters one may hold
    /// (`ALPACA_RESULT_FORMAT`, `ALPACA_MAX_RESULT_CHARS`).
    pub output: crate::output::OutputConfig,
    /// `ALPACA_TOOL_MODE`: every tool in `tools/list` (`all`, the default), or a core and
    /// the tools to find and run the rest (`discover`, [`crate::discover`]).
    pub tool_mode: crate::discover::ToolMode,
    /// `ALPACA_CORE_TOOLS`: the tools a `discover` list holds (default
    /// [`crate::discover::DEFAULT_CORE`]).
    pub core_tools: Option<Vec<String>>,
}

/// Which account orders go to: results say it in their `mode` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The paper account (simulated money); the sandbox is paper too.
    Paper,
    /// The live account (real money).
    Live,
}

impl Mode {
    /// `paper` or `live`, as results spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Paper => "paper",
            Mode::Live => "live",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Alpaca's limit for an account (and the free data plan's), in requests a minute.
pub const DEFAULT_RATE_LIMIT: u32 = 200;

/// Bounds of [`Config::max_pages`].
pub const MAX_PAGES_RANGE: std::ops::RangeInclusive<u64> = 1..=100;

impl Config {
    /// Reads the configuration through `get` (usually the process environment):
    /// `ALPACA_API_KEY`, `ALPACA_SECRET_KEY`, `ALPACA_PAPER_TRADE`, `ALPACA_TOOLSETS`,
    /// `TRADING_API_URL`, `DATA_API_URL`, `ALPACA_READ_ONLY`, `ALPACA_CONNECT_TIMEOUT`,
    /// `ALPACA_REQUEST_TIMEOUT`, `ALPACA_RATE_LIMIT_PER_MINUTE`, `ALPACA_RATE_LIMIT_BURST`,
    /// `ALPACA_MAX_PAGES`. Keys are not required here; [`Config::require_keys`] checks.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let non_empty = |name: &str| get(name).filter(|v| crate::settings::is_set(v));
        let paper = match non_empty("ALPACA_PAPER_TRADE") {
            Some(v) => parse_bool("ALPACA_PAPER_TRADE", &v)?,
            None => true,
        };
        let credentials = match (non_empty("ALPACA_API_KEY"), non_empty("ALPACA_SECRET_KEY")) {
            (Some(key_id), Some(secret_key)) => Some(Credentials {
                key_id: key_id.trim().to_string(),
                secret_key: secret_key.trim().to_string(),
            }),
            _ => None,
        };
        let trading_url = match non_empty("TRADING_API_URL") {
            Some(v) => parse_url("TRADING_API_URL", &v)?,
            None => parse_url(
                "default",
                if paper {
                    PAPER_TRADING_URL
                } else {
                    LIVE_TRADING_URL
                },
            )?,
        };
        let data_url = match non_empty("DATA_API_URL") {
            Some(v) => parse_url("DATA_API_URL", &v)?,
            None => parse_url("default", DATA_URL)?,
        };
        let read_only = match non_empty("ALPACA_READ_ONLY") {
            Some(v) => parse_bool("ALPACA_READ_ONLY", &v)?,
            None => false,
        };
        let connect_timeout = match non_empty("ALPACA_CONNECT_TIMEOUT") {
            Some(v) => parse_secs("ALPACA_CONNECT_TIMEOUT", &v)?,
            None => Duration::from_secs(5),
        };
        let request_timeout = match non_empty("ALPACA_REQUEST_TIMEOUT") {
            Some(v) => parse_secs("ALPACA_REQUEST_TIMEOUT", &v)?,
            None => Duration::from_secs(30),
        };
        let burst = match non_empty("ALPACA_RATE_LIMIT_BURST") {
            Some(v) => parse_count("ALPACA_RATE_LIMIT_BURST", &v)?,
            None => 0,
        };
        let shared = match non_empty("ALPACA_RATE_LIMIT_PER_MINUTE") {
            Some(v) => Some(parse_count("ALPACA_RATE_LIMIT_PER_MINUTE", &v)?),
            None => None,
        };
        let limit = |name: &str| -> Result<RateLimit, ConfigError> {
            let own = match non_empty(name) {
                Some(v) => Some(parse_count(name, &v)?),
                None => None,
            };
            let set = own.or(shared);
            Ok(RateLimit {
                per_minute: set.unwrap_or(DEFAULT_RATE_LIMIT),
                burst,
                fixed: set.is_some(),
            })
        };
        let trading_rate_limit = limit("ALPACA_TRADING_RATE_LIMIT_PER_MINUTE")?;
        let data_rate_limit = limit("ALPACA_DATA_RATE_LIMIT_PER_MINUTE")?;
        let max_pages = match non_empty("ALPACA_MAX_PAGES") {
            Some(v) => crate::settings::parse_in_range("ALPACA_MAX_PAGES", &v, MAX_PAGES_RANGE)?,
            None => 10,
        };
        Ok(Config {
            credentials,
            paper,
            trading_url,
            data_url,
            toolsets: non_empty("ALPACA_TOOLSETS").map(|v| split_list(&v)),
            read_only,
            connect_timeout,
            request_timeout,
            sandbox: false,
            safety: crate::safety::SafetyConfig::from_lookup(&get)?,
            cache: crate::cache::CacheConfig::from_lookup(&get)?,
            trading_rate_limit,
            data_rate_limit,
            retry_base: Duration::from_millis(250),
            max_pages,
            output: crate::output::OutputConfig::from_lookup(&get)?,
            tool_mode: match non_empty("ALPACA_TOOL_MODE") {
                None => crate::discover::ToolMode::All,
                Some(v) => {
                    crate::discover::ToolMode::parse(&v).ok_or_else(|| ConfigError::BadChoice {
                        name: "ALPACA_TOOL_MODE".into(),
                        value: v,
                        expected: "all or discover",
                    })?
                }
            },
            core_tools: non_empty("ALPACA_CORE_TOOLS").map(|v| split_list(&v)),
        })
    }

    /// Reads the configuration through a [`Lookup`](crate::settings::Lookup) (the process
    /// environment, then an env file).
    pub fn from_settings(lookup: &crate::settings::Lookup) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| lookup.get(name))
    }

    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Fails with [`ConfigError::MissingKeys`] when no keys are set.
    pub fn require_keys(&self) -> Result<(), ConfigError> {
        if self.credentials.is_none() {
            return Err(ConfigError::MissingKeys);
        }
        Ok(())
    }

    /// Paper or live.
    pub fn mode(&self) -> Mode {
        if self.paper { Mode::Paper } else { Mode::Live }
    }

    /// Sets both APIs' pacing to `per_minute` (0: off) with `burst`, as the operator's choice.
    pub fn set_rate_limits(&mut self, per_minute: u32, burst: u32) {
        let limit = RateLimit {
            per_minute,
            burst,
            fixed: true,
        };
        self.trading_rate_limit = limit;
        self.data_rate_limit = limit;
    }

    /// The transport settings for this configuration.
    pub fn transport_config(&self) -> TransportConfig {
        TransportConfig {
            base_urls: [
                ("trading".to_string(), self.trading_url.clone()),
                ("market-data".to_string(), self.data_url.clone()),
            ]
            .into_iter()
            .collect(),
            auth: self.credentials.as_ref().map(Credentials::auth),
            connect_timeout: self.connect_timeout,
            request_timeout: self.request_timeout,
            rate_limits: [
                ("trading".to_string(), self.trading_rate_limit),
                ("market-data".to_string(), self.data_rate_limit),
            ]
            .into_iter()
            .collect(),
            retry_base: self.retry_base,
            user_agent: concat!("alpaca-mcp/", env!("CARGO_PKG_VERSION")).to_string(),
            ..TransportConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_to_paper_without_keys() {
        let c = config(&[]).unwrap();
        assert!(c.paper);
        assert_eq!(c.trading_url.as_str(), "https://paper-api.alpaca.markets/");
        assert_eq!(c.require_keys(), Err(ConfigError::MissingKeys));
    }

    #[test]
    fn live_needs_an_explicit_false() {
        let c = config(&[("ALPACA_PAPER_TRADE", "False")]).unwrap();
        assert!(!c.paper);
        assert_eq!(c.trading_url.as_str(), "https://api.alpaca.markets/");
        let err = config(&[("ALPACA_PAPER_TRADE", "nope")]).unwrap_err();
        assert!(
            err.to_string()
                .contains("ALPACA_PAPER_TRADE=\"nope\" is not a boolean"),
            "{err}"
        );
    }

    #[test]
    fn urls_get_https_and_are_checked() {
        let c = config(&[
            ("DATA_API_URL", "localhost:8080"),
            ("TRADING_API_URL", "http://127.0.0.1:9/"),
        ])
        .unwrap();
        assert_eq!(c.data_url.as_str(), "https://localhost:8080/");
        assert_eq!(c.trading_url.as_str(), "http://127.0.0.1:9/");
        let err = config(&[("DATA_API_URL", "ftp://x")]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("DATA_API_URL=\"ftp://x\" is not a valid URL"),
            "{err}"
        );
        assert!(config(&[("TRADING_API_URL", "http://")]).is_err());
    }

    #[test]
    fn toolsets_and_keys() {
        let c = config(&[
            ("ALPACA_TOOLSETS", " stock-data, ,news "),
            ("ALPACA_API_KEY", "k"),
            ("ALPACA_SECRET_KEY", "s"),
        ])
        .unwrap();
        assert_eq!(
            c.toolsets,
            Some(vec!["stock-data".to_string(), "news".to_string()])
        );
        assert!(c.require_keys().is_ok());
        assert!(!format!("{c:?}").contains("\"s\""));
    }

    #[test]
    fn max_pages_defaults_to_ten_and_is_bounded() {
        assert_eq!(config(&[]).unwrap().max_pages, 10);
        assert_eq!(
            config(&[("ALPACA_MAX_PAGES", " 100 ")]).unwrap().max_pages,
            100
        );
        for bad in ["0", "101", "-1", "ten"] {
            let err = config(&[("ALPACA_MAX_PAGES", bad)]).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("ALPACA_MAX_PAGES={bad:?} is not a whole number from 1 to 100")
            );
        }
    }

    #[test]
    fn rate_limit_defaults_to_alpacas_per_api_and_can_be_turned_off() {
        let c = config(&[]).unwrap();
        let default = RateLimit {
            per_minute: 200,
            burst: 0,
            fixed: false,
        };
        assert_eq!(
            (c.trading_rate_limit, c.data_rate_limit),
            (default, default)
        );
        let t = c.transport_config();
        assert_eq!(t.rate_limits["trading"], default);
        assert_eq!(t.rate_limits["market-data"], default);
        // A shared setting applies to both; a per-API one wins over it; either is fixed.
        let c = config(&[
            ("ALPACA_RATE_LIMIT_PER_MINUTE", "0"),
            ("ALPACA_DATA_RATE_LIMIT_PER_MINUTE", "10000"),
            ("ALPACA_RATE_LIMIT_BURST", " 5 "),
        ])
        .unwrap();
        assert_eq!(
            c.trading_rate_limit,
            RateLimit {
                per_minute: 0,
                burst: 5,
                fixed: true
            }
        );
        assert_eq!(
            c.data_rate_limit,
            RateLimit {
                per_minute: 10_000,
                burst: 5,
                fixed: true
            }
        );
        let err = config(&[("ALPACA_RATE_LIMIT_PER_MINUTE", "lots")]).unwrap_err();
        assert!(
            err.to_string()
                .contains("ALPACA_RATE_LIMIT_PER_MINUTE=\"lots\" is not a whole number"),
            "{err}"
        );
        assert!(config(&[("ALPACA_TRADING_RATE_LIMIT_PER_MINUTE", "x")]).is_err());
        assert!(config(&[("ALPACA_RATE_LIMIT_BURST", "-1")]).is_err());
    }
}
