//! The code `openapi-mcp-codegen` generates from its kitchen-sink fixture
//! (`crates/openapi-mcp-codegen/tests/fixtures/kitchen-sink.{json,toml}`), compiled against the
//! `openapi-mcp-runtime` crate alone (nothing of `alpaca-mcp`). Nothing uses this crate; it
//! exists so that the generator's snapshot of that code is known to build (warning-free: no
//! lint is silenced here), and so that tests can exercise it.
//!
//! The fixture's toolsets are Cargo features: `widgets` and `tree-walking` (the `trees`
//! toolset's feature), both on by default.

mod generated {
    include!(concat!(env!("OUT_DIR"), "/fixture_generated.rs"));
}

pub use generated::{COMMA_LISTS, Client, GLOSSARY, HANDWRITTEN, TOOLSETS, sink};

/// Where the build script wrote the generated code.
pub const GENERATED_PATH: &str = concat!(env!("OUT_DIR"), "/fixture_generated.rs");
