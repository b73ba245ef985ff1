//! Generates the kitchen-sink fixture's code into `OUT_DIR`, with exactly the inputs and settings
//! of the snapshot test `crates/openapi-mcp-codegen/tests/fixture.rs`, so the snapshot text is
//! the text compiled here (`tests/fixture.rs` of this crate checks that they are equal).

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
    let fixtures = root.join("../openapi-mcp-codegen/tests/fixtures");
    let spec_path = fixtures.join("kitchen-sink.json");
    let manifest_path = fixtures.join("kitchen-sink.toml");
    let api: openapiv3::OpenAPI = serde_json::from_str(&read(&spec_path)?)
        .map_err(|e| format!("{}: {e}", spec_path.display()))?;
    let manifest = Manifest::from_toml(&read(&manifest_path)?)
        .map_err(|e| format!("{}: {e}", manifest_path.display()))?;

    let tokens = Generator::new(&Settings::default())
        .generate_tokens(&[("sink", &api)], &manifest)
        .map_err(|e| e.to_string())?;
    let text = format_tokens(tokens).map_err(|e| e.to_string())?;

    let out = PathBuf::from(std::env::var("OUT_DIR").map_err(|e| e.to_string())?)
        .join("fixture_generated.rs");
    if std::fs::read_to_string(&out).ok().as_deref() != Some(text.as_str()) {
        std::fs::write(&out, text).map_err(|e| format!("{}: {e}", out.display()))?;
    }
    Ok(())
}
