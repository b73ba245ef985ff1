//! The library's integration tests, in one binary (one link of the crate with rmcp, axum and
//! reqwest instead of one per file). Each module is one former test file; `support` is the
//! workspace's test-support crate. `tests/secrets.rs` stays its own binary: it installs a
//! process-wide TRACE log subscriber.

mod arguments;
mod budget;
mod cache;
mod callers;
mod client_habits;
mod completions;
mod discover;
mod drifted_bodies;
mod elicitation;
mod embed;
mod error_paths;
mod fuzz_args;
mod generated_code;
mod guards;
mod history;
mod input_required;
mod logging;
mod manifest_integrity;
mod order_lifecycle;
mod orders;
mod outcomes;
mod pagination;
mod probe3;
mod progress;
mod rate_limits;
mod readme_tools;
mod redirects;
mod registry;
mod resilience;
mod resources_prompts;
mod revisions;
mod safety;
mod stdio_jsonrpc;
mod tool_schemas;
mod tool_surface;
