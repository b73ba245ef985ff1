//! xtask's integration tests (import, normalization, drift, the MCP bundle), in one binary.

mod bundle;
mod drift;
mod normalize;
mod sync_specs;
