//! A build without the `sandbox` feature: `--sandbox` is a setup error that says how to get it.

use alpaca_mcp::Config;

use crate::SetupError;

/// Never built: this build has no sandbox.
pub enum Sandbox {}

impl Sandbox {
    pub fn now_unix(&self) -> Option<u64> {
        match *self {}
    }

    pub fn connect(&self) -> alpaca_mcp_server::http::settings::SandboxConnect {
        match *self {}
    }
}

pub async fn start(
    _config: &mut Config,
    _settings: &crate::cli::Settings,
    _lookup: &alpaca_mcp::settings::Lookup,
) -> anyhow::Result<Sandbox> {
    Err(SetupError(
        "--sandbox: this build has no sandbox (it was built without the `sandbox` feature, which the default features include); build with `--features sandbox` or use API keys"
            .into(),
    )
    .into())
}
