//! Reading settings: where a setting's value comes from ([`Lookup`]: the process environment,
//! then an env file; flags are applied over it by the binary), and the checks of each value,
//! with an error that names the setting and what it takes. [`crate::Config`], the cache's and
//! the guards' settings and the server's HTTP settings all read through here, so a setting is
//! looked up, spelled and checked one way, and the env file is read once.

use std::collections::HashMap;
use std::path::Path;
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
    /// A number that does not parse, or is out of its range.
    #[error("{name}={value:?} is not {expected}")]
    BadNumber {
        /// Variable.
        name: String,
        /// Its value.
        value: String,
        /// What it takes, in words ("a positive number of seconds").
        expected: &'static str,
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
    /// An env file that cannot be read, or a line of it that is not `KEY=VALUE`.
    #[error("--env-file {path}: {reason}")]
    EnvFile {
        /// The file.
        path: String,
        /// What is wrong (a line number, never a value).
        reason: String,
    },
    /// A value that is not one of a setting's choices.
    #[error("{name}={value:?} is not one of: {expected}")]
    BadChoice {
        /// Variable.
        name: String,
        /// Its value.
        value: String,
        /// The choices.
        expected: &'static str,
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

/// Parses a whole number within `range` (`_` may group digits: `100_000`).
pub fn parse_in_range(
    name: &str,
    value: &str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, ConfigError> {
    value
        .trim()
        .replace('_', "")
        .parse::<u64>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| ConfigError::OutOfRange {
            name: name.to_string(),
            value: value.to_string(),
            min: *range.start(),
            max: *range.end(),
        })
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
            expected: "a positive number of seconds (under a day)",
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

/// Where settings come from: a variable of the process environment, else the same variable in
/// the env file (if one was given). A value that is blank counts as unset, in either place.
#[derive(Clone, Default)]
pub struct Lookup {
    file: HashMap<String, String>,
    /// Variables in place of the process environment (tests and embedders).
    env: Option<HashMap<String, String>>,
}

impl std::fmt::Debug for Lookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: values may be secrets.
        let mut names: Vec<&String> = self.file.keys().collect();
        names.sort();
        f.debug_struct("Lookup")
            .field("env_file_names", &names)
            .finish_non_exhaustive()
    }
}

impl Lookup {
    /// The process environment, and `env_file` under it when given.
    pub fn new(env_file: Option<&Path>) -> Result<Lookup, ConfigError> {
        let file = match env_file {
            Some(path) => read_env_file(path)?,
            None => HashMap::new(),
        };
        Ok(Lookup { file, env: None })
    }

    /// Fixed variables in place of the process environment (no env file).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Lookup {
        let env = pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Lookup {
            file: HashMap::new(),
            env: Some(env),
        }
    }

    /// The value of `name`: the environment's, else the env file's; `None` when unset or blank.
    pub fn get(&self, name: &str) -> Option<String> {
        let env = match &self.env {
            Some(vars) => vars.get(name).cloned(),
            None => std::env::var(name).ok(),
        };
        env.filter(|v| is_set(v))
            .or_else(|| self.file.get(name).filter(|v| is_set(v)).cloned())
    }
}

/// Whether a variable's value says anything: not blank, and not a launcher's placeholder left
/// unsubstituted (Claude Desktop passes `${user_config.api_key}` literally when the field was
/// left empty in the install dialog), which would otherwise be taken for a key.
pub fn is_set(value: &str) -> bool {
    let v = value.trim();
    !v.is_empty() && !is_placeholder(v)
}

/// `${user_config.NAME}` (or any `${...}` MCPB substitutes), as it stands when not substituted.
fn is_placeholder(v: &str) -> bool {
    v.strip_prefix("${")
        .and_then(|rest| rest.strip_suffix('}'))
        .is_some_and(|inner| {
            !inner.is_empty()
                && inner
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        })
}

/// Reads a `KEY=VALUE` file: blank lines and `#` comments skipped, an optional `export `, and
/// values optionally in single or double quotes. An error names the line, never its value.
fn read_env_file(path: &Path) -> Result<HashMap<String, String>, ConfigError> {
    let bad = |reason: String| ConfigError::EnvFile {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let mut map = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((k, v)) = line.split_once('=') else {
            return Err(bad(format!("line {}: expected KEY=VALUE", n + 1)));
        };
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .or_else(|| v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
            .unwrap_or(v);
        map.insert(k.trim().to_string(), v.to_string());
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_wins_over_the_file_and_blank_is_unset() {
        let dir = std::env::temp_dir().join(format!("lookup-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("env");
        std::fs::write(
            &path,
            "# comment\nexport A=\"from file\"\nB='b'\nC=\nD=file-d\n",
        )
        .unwrap();
        let mut lookup = Lookup::new(Some(&path)).unwrap();
        lookup.env = Some(HashMap::from([
            ("A".to_string(), "from env".to_string()),
            ("D".to_string(), "  ".to_string()),
        ]));
        assert_eq!(lookup.get("A").as_deref(), Some("from env"));
        assert_eq!(lookup.get("B").as_deref(), Some("b"));
        assert_eq!(lookup.get("C"), None);
        assert_eq!(lookup.get("D").as_deref(), Some("file-d"));
        assert_eq!(lookup.get("E"), None);
        assert!(!format!("{lookup:?}").contains("file-d"));

        std::fs::write(&path, "A=1\nSECRET-WITHOUT-EQUALS\n").unwrap();
        let e = Lookup::new(Some(&path)).unwrap_err().to_string();
        assert!(e.contains("line 2: expected KEY=VALUE"), "{e}");
        assert!(!e.contains("SECRET"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
