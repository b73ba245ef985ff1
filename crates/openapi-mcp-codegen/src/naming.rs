//! All naming in one place: case conversion, keywords and collisions. Identifiers are made
//! only here, with `format_ident!`.

use heck::{ToSnakeCase, ToUpperCamelCase};
use proc_macro2::Ident;
use quote::format_ident;

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
    "pub", "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "try", "typeof", "unsized", "virtual", "yield",
];

/// Replaces every character that cannot appear in an identifier with `_`.
fn sanitize(raw: &str) -> String {
    raw.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// A `snake_case` name usable as a field or method identifier (as a string).
pub fn snake(raw: &str) -> String {
    let mut s = sanitize(raw).to_snake_case();
    if s.is_empty() {
        s.push_str("value");
    }
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert_str(0, "n_");
    }
    if KEYWORDS.contains(&s.as_str()) {
        s.push('_');
    }
    s
}

/// An `UpperCamelCase` name usable as a type or variant identifier (as a string).
pub fn camel(raw: &str) -> String {
    // `+` and `-` carry meaning in enum values ("+1", "-1"): spell them out.
    let spelled = raw.replace('+', " plus ").replace('-', " minus ");
    let base = if raw.chars().any(|c| c.is_ascii_alphanumeric()) {
        sanitize(raw)
    } else {
        sanitize(&spelled)
    };
    let mut s = base.to_upper_camel_case();
    if s.is_empty() {
        s.push_str("Empty");
    }
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, 'V');
    }
    if s == "Self" {
        s.push('_');
    }
    s
}

/// A field identifier for a JSON property name.
pub fn field_ident(raw: &str) -> Ident {
    format_ident!("{}", snake(raw))
}

/// A type identifier.
pub fn type_ident(raw: &str) -> Ident {
    format_ident!("{}", camel(raw))
}

/// An identifier from an already-made name.
pub fn ident(name: &str) -> Ident {
    format_ident!("{}", name)
}

/// The constant that holds a toolset's tools.
pub fn toolset_const(toolset: &str) -> Ident {
    format_ident!("{}_TOOLS", snake(toolset).to_uppercase())
}

/// Makes names unique by appending a counter to repeats.
#[derive(Default)]
pub struct Unique {
    seen: std::collections::HashSet<String>,
}

impl Unique {
    /// Returns `name`, or `name2`, `name3`... when it was already taken.
    pub fn take(&mut self, name: String) -> String {
        if self.seen.insert(name.clone()) {
            return name;
        }
        let mut n = 2;
        loop {
            let candidate = format!("{name}{n}");
            if self.seen.insert(candidate.clone()) {
                return candidate;
            }
            n += 1;
        }
    }

    /// Whether `name` is taken.
    pub fn contains(&self, name: &str) -> bool {
        self.seen.contains(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_names() {
        assert_eq!(snake("getAccount"), "get_account");
        assert_eq!(
            snake("get-v2-assets-symbol_or_asset_id"),
            "get_v2_assets_symbol_or_asset_id"
        );
        assert_eq!(snake("type"), "type_");
        assert_eq!(snake("24h_volume"), "n_24h_volume");
        assert_eq!(snake(""), "value");
    }

    #[test]
    fn camel_names() {
        assert_eq!(camel("1Min"), "V1min");
        assert_eq!(camel("stop_limit"), "StopLimit");
        assert_eq!(camel("-"), "Minus");
        assert_eq!(camel(""), "Empty");
        assert_eq!(camel("BTC/USD"), "BtcUsd");
    }

    #[test]
    fn unique_appends_counter() {
        let mut u = Unique::default();
        assert_eq!(u.take("a".into()), "a");
        assert_eq!(u.take("a".into()), "a2");
        assert_eq!(u.take("a".into()), "a3");
    }
}
