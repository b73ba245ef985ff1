//! How a mock starts: keys, entitlements, clock and starting balance.

use crate::time::Timestamp;

/// Settings for a [`crate::MockServer`] or a [`crate::MockState`].
#[derive(Debug, Clone)]
pub struct MockConfig {
    /// Whether the account may query recent SIP data. When `false` (the default),
    /// `feed=sip` on a request that reaches into the last 15 minutes (every
    /// latest/snapshot request, and historical requests whose `end` is recent) is
    /// answered 403, as Alpaca answers a free account; when no feed is given, the
    /// mock uses `iex` instead.
    pub sip_entitled: bool,
    /// When set, only this `(key id, secret key)` pair is accepted; otherwise any
    /// non-empty pair (or any `Authorization: Bearer` token) is.
    pub keys: Option<(String, String)>,
    /// The mock's notion of "now". `Some(t)` freezes the clock at `t` (move it with
    /// [`crate::MockState::set_now`] or [`crate::MockState::advance`]); `None` follows
    /// the wall clock. The default is [`MockConfig::DEFAULT_NOW`], so that clock,
    /// calendar, "latest" market data and order times are reproducible.
    pub now: Option<Timestamp>,
    /// Cash the account starts with, in dollars.
    pub starting_cash: f64,
    /// Seed mixed into every generated price and id: two mocks with the same seed
    /// and the same requests give the same answers.
    pub seed: u64,
    /// When set, the Connect token endpoint accepts only this `(client id, client
    /// secret)`; otherwise any client.
    pub connect_client: Option<(String, String)>,
}

impl MockConfig {
    /// 2025-01-15T15:30:00Z: a Wednesday, 10:30 in New York, regular session open.
    pub const DEFAULT_NOW: Timestamp = Timestamp::from_unix_secs(1_736_955_000);

    /// The default settings with the wall clock instead of a frozen one.
    pub fn with_system_clock() -> Self {
        MockConfig {
            now: None,
            ..MockConfig::default()
        }
    }
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            sip_entitled: false,
            keys: None,
            now: Some(MockConfig::DEFAULT_NOW),
            starting_cash: 100_000.0,
            seed: 0,
            connect_client: None,
        }
    }
}
