//! xtask's integration tests (import, normalization, drift), in one binary.

mod drift;
mod normalize;
mod sync_specs;
