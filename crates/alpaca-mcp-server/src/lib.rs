//! The server's library side: its command line ([`cli`]), the security layers of its HTTP
//! transport ([`http`]) and its OAuth authorization server ([`oauth`]), usable (and tested)
//! without starting the binary.

pub mod cli;
pub mod http;
pub mod oauth;
pub mod summary;

/// A setup error: printed on stderr, exit code 2, before anything starts.
pub struct SetupError(pub String);

impl std::fmt::Debug for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SetupError {}
