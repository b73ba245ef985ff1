//! The server's integration tests, in one binary (one link instead of one per file). Each
//! module is one former test file; `common` wraps the workspace's test-support crate with this
//! package's binary. The install test (`install::`) and the load test (`load::`) are ignored
//! by default: `.ci/run` runs the first, BENCHMARKS.md says how to run the second.

mod alpaca_connect;
mod clients;
mod common;
mod config_errors;
mod debian;
mod e2e;
mod every_tool;
mod http_hostile;
mod http_layers;
mod http_security;
mod install;
mod jsonrpc_stdio;
mod load;
mod oauth;
mod oauth_browser;
mod oauth_python;
mod probe3;
mod python_revisions;
mod release;
mod replicas;
mod stdio_kinds;
