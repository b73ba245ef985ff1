//! The fake's integration tests, in one binary. Each module is one former test file.

mod auth_and_log;
mod common;
mod conformance;
mod connect;
mod faults;
mod market_data;
mod robustness;
mod trading;
