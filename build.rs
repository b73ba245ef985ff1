//! Generates the typed client and the MCP tools from `specs/` and `specs/toolsets.toml` into
//! `OUT_DIR`. No network: the inputs are the committed files, and only they re-trigger it.

use std::path::{Path, PathBuf};

use openapi_mcp_codegen::manifest::Manifest;
use openapi_mcp_codegen::{Generator, Settings, format_tokens};

fn main() {
    if let Err(message) = run() {
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}

fn read(path: &Path) -> Result<String, String> {
    println!("cargo:rerun-if-changed={}", path.display());
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn run() -> Result<(), String> {
    println!("cargo:rerun-if-changed=build.rs");
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?);
    let specs = root.join("specs");
    let manifest_path = specs.join("toolsets.toml");
    let manifest = Manifest::from_toml(&read(&manifest_path)?)
        .map_err(|e| format!("{}: {e}", manifest_path.display()))?;

    let mut docs = Vec::new();
    for (key, entry) in &manifest.specs {
        let path = specs.join(&entry.file);
        let api: openapiv3::OpenAPI =
            serde_json::from_str(&read(&path)?).map_err(|e| format!("{}: {e}", path.display()))?;
        docs.push((key.as_str(), api));
    }
    let refs: Vec<(&str, &openapiv3::OpenAPI)> = docs.iter().map(|(k, a)| (*k, a)).collect();
    let tokens = Generator::new(&Settings::default())
        .generate_tokens(&refs, &manifest)
        .map_err(|e| e.to_string())?;
    let text = format_tokens(tokens).map_err(|e| e.to_string())?;

    let out = PathBuf::from(std::env::var("OUT_DIR").map_err(|e| e.to_string())?)
        .join("alpaca_generated.rs");
    // Written only when changed, so an unchanged spec does not recompile the crate.
    if std::fs::read_to_string(&out).ok().as_deref() != Some(text.as_str()) {
        std::fs::write(&out, text).map_err(|e| format!("{}: {e}", out.display()))?;
    }
    Ok(())
}
