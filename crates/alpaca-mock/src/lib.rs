//! A fake of Alpaca's Trading and Market Data APIs on loopback.
//!
//! One listener serves both APIs (their paths do not overlap), so a client can
//! point its trading and market data base URLs at [`MockServer::url`]. The fake
//! keeps an account, orders, positions and watchlists; it answers deterministic
//! market data for any symbol; it records every request; and tests can inject
//! faults (delays, error statuses, dropped connections, non-JSON bodies).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use alpaca_mock::{Fault, FaultKind, MockConfig, MockServer};
//! let mock = MockServer::start(MockConfig::default()).await?;
//! mock.inject(Fault::new("/v2/orders", FaultKind::rate_limited(1)).method("POST").once());
//! let order = mock.state().place_order(serde_json::json!({
//!     "symbol": "AAPL", "qty": "1", "side": "buy", "type": "market", "time_in_force": "day"
//! }));
//! assert!(order.is_ok());
//! mock.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Time
//! The mock's "now" is frozen at [`MockConfig::DEFAULT_NOW`] unless the config
//! says otherwise (`now: None` follows the wall clock); tests move it with
//! [`MockState::set_now`] and [`MockState::advance`]. Clock, calendar, order
//! times, "latest" data and the default windows of historical data derive from it.
//!
//! # Market data
//! Prices are a function of (seed, symbol, time): see the `market::model`
//! module. Stocks and options trade 09:30-16:00 New York time on weekdays,
//! crypto always. Historical windows are clamped to "now" and capped at 10,000
//! points per symbol; pages hold at most `limit` items and carry a
//! `next_page_token` while more remain.
#![deny(missing_docs)]

mod account;
mod announcements;
mod assets;
mod auth;
mod calendar;
mod config;
mod connect;
mod errors;
mod events;
mod faults;
mod hashing;
mod ids;
mod locates;
mod market;
mod numbers;
mod option_contracts;
mod orders;
mod positions;
mod query;
mod request_log;
mod routes;
mod server;
mod state;
mod time;
mod tokenization;
mod wallets;
mod watchlists;

pub use config::MockConfig;
pub use errors::ApiError;
pub use faults::{Fault, FaultKind};
pub use request_log::RecordedRequest;
pub use routes::router;
pub use server::MockServer;
pub use state::MockState;
pub use state::PRIMARY;
pub use time::{Date, Timestamp};

/// Symbols of the assets the trading API knows (`/v2/assets`).
pub fn asset_symbols() -> Vec<&'static str> {
    assets::ASSETS.iter().map(|a| a.symbol).collect()
}

/// The id of a corporate action announcement the mock serves, for tests.
pub fn example_announcement_id() -> String {
    announcements::example_id()
}
