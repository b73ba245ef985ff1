//! Reading the upstream documents: from a folder (`<name>.json|yaml|yml`) or from a base URL
//! (`<url>/<name>.json`), and parsing JSON or YAML into a `serde_json::Value`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::import::{ImportError, escape_pointer_segment};

/// The documents `sync-specs` imports, by base name (also the output file names, `.json`).
pub const SPEC_NAMES: [&str; 2] = ["trading-api", "market-data-api"];

/// How a document's text is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
}

/// One upstream document, read but not parsed.
#[derive(Debug, Clone)]
pub struct SourceDoc {
    /// Base name, one of [`SPEC_NAMES`].
    pub name: &'static str,
    /// The file path or URL it came from (names it in errors).
    pub label: String,
    pub format: Format,
    pub text: String,
}

/// Whether `from` is a URL rather than a folder.
pub fn is_url(from: &str) -> bool {
    from.starts_with("http://") || from.starts_with("https://")
}

/// Reads every document of [`SPEC_NAMES`] from `from` (a folder or an http(s) base URL).
pub fn read_sources(from: &str) -> Result<Vec<SourceDoc>, ImportError> {
    if is_url(from) {
        fetch_sources(from)
    } else {
        SPEC_NAMES
            .iter()
            .map(|name| read_from_dir(Path::new(from), name))
            .collect()
    }
}

/// Reads `<dir>/<name>.json`, `.yaml` or `.yml` (exactly one must exist).
pub fn read_from_dir(dir: &Path, name: &'static str) -> Result<SourceDoc, ImportError> {
    let shown = dir.display().to_string();
    if !dir.is_dir() {
        return Err(ImportError::BadSource { from: shown });
    }
    let candidates: Vec<(PathBuf, Format)> = [
        ("json", Format::Json),
        ("yaml", Format::Yaml),
        ("yml", Format::Yaml),
    ]
    .into_iter()
    .map(|(ext, format)| (dir.join(format!("{name}.{ext}")), format))
    .filter(|(path, _)| path.is_file())
    .collect();
    let (path, format) = match candidates.as_slice() {
        [] => {
            return Err(ImportError::MissingFile {
                dir: shown,
                name: name.to_string(),
            });
        }
        [one] => one.clone(),
        several => {
            return Err(ImportError::AmbiguousFile {
                dir: shown,
                name: name.to_string(),
                found: several
                    .iter()
                    .map(|(p, _)| p.display().to_string())
                    .collect(),
            });
        }
    };
    let label = path.display().to_string();
    let text = std::fs::read_to_string(&path).map_err(|source| ImportError::Read {
        file: label.clone(),
        source,
    })?;
    Ok(SourceDoc {
        name,
        label,
        format,
        text,
    })
}

/// An error with its causes (reqwest's own message leaves them out).
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// `<base>/<name>.json` for each name, fetched over HTTP(S).
fn fetch_sources(base: &str) -> Result<Vec<SourceDoc>, ImportError> {
    let fetch_error = |url: &str, message: String| ImportError::Fetch {
        url: url.to_string(),
        message,
    };
    let mut base_url =
        url::Url::parse(base).map_err(|e| fetch_error(base, format!("bad URL: {e}")))?;
    if !base_url.path().ends_with('/') {
        let path = format!("{}/", base_url.path());
        base_url.set_path(&path);
    }
    let urls = SPEC_NAMES
        .iter()
        .map(|name| {
            base_url
                .join(&format!("{name}.json"))
                .map(|url| (*name, url))
                .map_err(|e| fetch_error(base, format!("bad URL: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| fetch_error(base, format!("cannot start an async runtime: {e}")))?;
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("alpaca-mcp-xtask/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| fetch_error(base, with_causes(&e)))?;
        let mut docs = Vec::new();
        for (name, url) in urls {
            let label = url.to_string();
            let response = client
                .get(url)
                .send()
                .await
                .map_err(|e| fetch_error(&label, with_causes(&e)))?;
            let status = response.status();
            if !status.is_success() {
                return Err(fetch_error(&label, format!("HTTP status {status}")));
            }
            let text = response
                .text()
                .await
                .map_err(|e| fetch_error(&label, with_causes(&e)))?;
            docs.push(SourceDoc {
                name,
                label,
                format: Format::Json,
                text,
            });
        }
        Ok(docs)
    })
}

/// Parses a document's text; errors name `label` and the line and column.
pub fn parse_text(text: &str, format: Format, label: &str) -> Result<Value, ImportError> {
    match format {
        Format::Json => serde_json::from_str(text).map_err(|e| {
            let message = e.to_string();
            // serde_json appends " at line L column C"; the error shows them already.
            let suffix = format!(" at line {} column {}", e.line(), e.column());
            ImportError::InvalidJson {
                file: label.to_string(),
                line: e.line(),
                column: e.column(),
                message: message
                    .strip_suffix(&suffix)
                    .unwrap_or(&message)
                    .to_string(),
            }
        }),
        Format::Yaml => {
            let yaml_error = |e: serde_yaml::Error| {
                let mut message = e.to_string();
                let location = match e.location() {
                    Some(l) => {
                        // The message repeats the position the error shows already.
                        let repeated = format!(" at line {} column {}", l.line(), l.column());
                        message = message.replacen(&repeated, "", 1);
                        format!("line {}, column {}", l.line(), l.column())
                    }
                    None => "(no position)".to_string(),
                };
                ImportError::InvalidYaml {
                    file: label.to_string(),
                    location,
                    message,
                }
            };
            let mut value: serde_yaml::Value = serde_yaml::from_str(text).map_err(yaml_error)?;
            value.apply_merge().map_err(yaml_error)?;
            yaml_to_json(value, "", label)
        }
    }
}

/// Parses a [`SourceDoc`].
pub fn parse_source(doc: &SourceDoc) -> Result<Value, ImportError> {
    parse_text(&doc.text, doc.format, &doc.label)
}

/// YAML -> JSON: scalar mapping keys (YAML allows unquoted `200:`) become strings; tags, complex
/// keys and non-finite numbers are errors naming the JSON pointer.
fn yaml_to_json(value: serde_yaml::Value, ptr: &str, label: &str) -> Result<Value, ImportError> {
    use serde_yaml::Value as Y;
    let error = |ptr: &str, message: String| ImportError::InvalidYaml {
        file: label.to_string(),
        location: if ptr.is_empty() {
            "(document root)".to_string()
        } else {
            ptr.to_string()
        },
        message,
    };
    Ok(match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .ok_or_else(|| error(ptr, format!("{n} is not a JSON number")))?
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| yaml_to_json(v, &format!("{ptr}/{i}"), label))
                .collect::<Result<_, _>>()?,
        ),
        Y::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = match k {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    Y::Null => "null".to_string(),
                    _ => return Err(error(ptr, "a mapping key is not a scalar".to_string())),
                };
                let p = format!("{ptr}/{}", escape_pointer_segment(&key));
                out.insert(key, yaml_to_json(v, &p, label)?);
            }
            Value::Object(out)
        }
        Y::Tagged(tagged) => {
            return Err(error(
                ptr,
                format!("YAML tag {} is not supported", tagged.tag),
            ));
        }
    })
}
