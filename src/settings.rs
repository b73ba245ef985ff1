//! Reading settings: the values of environment variables, `--env-file` entries and flags, each
//! checked with an error that names the setting and what it takes. [`crate::Config`], the
//! cache's and the guards' settings all read through here, so one setting is spelled and
//! checked one way.

use std::time::Duration;

use url::Url;

/// A configuration a user has to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// No API keys and no sandbox.
    #[error(
        "Alpaca API keys are missing: set ALPACA_API_KEY and ALPACA_SECRET_KEY (in the environment, or in a file passed with --env-file), or run with --sandbox to try every tool against a built-in fake Alpaca without keys"
    )]
    MissingKeys,
    /// A boolean variable with a value that is not a boolean.
    #[error("{name}={value:?} is not a boolean: use true/false, 1/0 or yes/no")]
    NotBoolean {
        /// Variable.
        name: String,
        /// Its value.
        value: String,
    },
    /// A URL that does not parse.
    #[error("{name}={value:?} is not a valid URL: {reason}")]
    BadUrl {
        /// Variable or flag.
        name: String,
        /// Its value.
        value: String,
        /// Why.
        reason: String,
    },
    /// A number that does not parse.
    #[error("{name}={value:?} is not a positive number of seconds")]
    BadNumber {
        /// Variable.
        name: String,
        /// Its value.
        value: String,
    },
    /// A whole number outside the range a setting allows.
    #[error("{name}={value:?} is not a whole number from {min} to {max}")]
    OutOfRange {
        /// Variable.
        name: String,
        /// Its value.
        value: String,
        /// Least allowed.
        min: u64,
        /// Most allowed.
        max: u64,
    },
    /// A count that is not a whole number from 0 up.
    #[error("{name}={value:?} is not a whole number (0 or more)")]
    BadCount {
        /// Variable.
        name: String,
        /// Its value.
        value: String,
    },
}

/// Parses a strict boolean: true/false, 1/0, yes/no (any case).
pub fn parse_bool(name: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(ConfigError::NotBoolean {
            name: name.to_string(),
            value: value.to_string(),
        }),
    }
}

/// Parses a base URL; a value without a scheme gets `https://`.
pub fn parse_url(name: &str, value: &str) -> Result<Url, ConfigError> {
    let value = value.trim();
    let with_scheme = if value.contains("://") {
        value.to_string()
    } else {
        format!("https://{value}")
    };
    let bad = |reason: String| ConfigError::BadUrl {
        name: name.to_string(),
        value: value.to_string(),
        reason,
    };
    let url = Url::parse(&with_scheme).map_err(|e| bad(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad(format!(
            "scheme `{}` is not http or https",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host".into()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("a base URL takes no query or fragment".into()));
    }
    Ok(url)
}

pub(crate) fn parse_secs(name: &str, value: &str) -> Result<Duration, ConfigError> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0 && *s < 86_400.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| ConfigError::BadNumber {
            name: name.to_string(),
            value: value.to_string(),
        })
}

pub(crate) fn parse_count(name: &str, value: &str) -> Result<u32, ConfigError> {
    value
        .trim()
        .parse::<u32>()
        .map_err(|_| ConfigError::BadCount {
            name: name.to_string(),
            value: value.to_string(),
        })
}

/// Splits a comma-separated list, dropping blanks.
pub fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}
