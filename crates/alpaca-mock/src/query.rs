//! Query-string access with Alpaca-shaped errors for bad values.

use crate::errors::ApiError;
use crate::time::{Date, Timestamp};

/// Which API a request belongs to; picks the error status for bad parameters
/// (422 on trading, 400 on market data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    Trading,
    Data,
}

/// A parsed query string.
#[derive(Debug, Clone)]
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
    api: Api,
}

impl Query {
    pub(crate) fn parse(raw: Option<&str>, api: Api) -> Query {
        let pairs = raw
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        Query { pairs, api }
    }

    pub(crate) fn invalid(&self, message: impl Into<String>) -> ApiError {
        match self.api {
            Api::Trading => ApiError::unprocessable(message),
            Api::Data => ApiError::bad_request(message),
        }
    }

    /// The first value of `name`, if present and non-empty.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// All values of `name` (repeated keys and comma-separated lists), non-empty.
    pub(crate) fn list(&self, name: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name || k.strip_suffix("[]") == Some(name))
            .flat_map(|(_, v)| v.split(','))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }

    pub(crate) fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name)
            .ok_or_else(|| self.invalid(format!("{name} is required")))
    }

    pub(crate) fn required_list(&self, name: &str) -> Result<Vec<String>, ApiError> {
        let v = self.list(name);
        if v.is_empty() {
            Err(self.invalid(format!("{name} is required")))
        } else {
            Ok(v)
        }
    }

    pub(crate) fn int(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(s) => match s.parse::<i64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
                _ => Err(self.invalid(format!("invalid {name}: {s}"))),
            },
        }
    }

    pub(crate) fn number(&self, name: &str) -> Result<Option<f64>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(s) => match s.parse::<f64>() {
                Ok(n) if n.is_finite() => Ok(Some(n)),
                _ => Err(self.invalid(format!("invalid {name}: {s}"))),
            },
        }
    }

    pub(crate) fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some("true") | Some("True") | Some("1") => Ok(Some(true)),
            Some("false") | Some("False") | Some("0") => Ok(Some(false)),
            Some(s) => Err(self.invalid(format!("invalid {name}: {s}"))),
        }
    }

    pub(crate) fn time(&self, name: &str) -> Result<Option<Timestamp>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(s) => Timestamp::parse(s)
                .map(Some)
                .ok_or_else(|| self.invalid(format!("invalid {name}: {s}"))),
        }
    }

    pub(crate) fn date(&self, name: &str) -> Result<Option<Date>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(s) => Date::parse(s)
                .or_else(|| Timestamp::parse(s).map(Timestamp::date_utc))
                .map(Some)
                .ok_or_else(|| self.invalid(format!("invalid {name}: {s}"))),
        }
    }

    /// A value that must be one of `allowed`.
    pub(crate) fn one_of(&self, name: &str, allowed: &[&str]) -> Result<Option<String>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(s) if allowed.contains(&s) => Ok(Some(s.to_string())),
            Some(s) => Err(self.invalid(format!("invalid {name}: {s}"))),
        }
    }
}
