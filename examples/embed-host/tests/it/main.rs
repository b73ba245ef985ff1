//! The example host's tests, in one binary.

mod readme;
mod stdio;
