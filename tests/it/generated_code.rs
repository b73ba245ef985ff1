//! The code generated from the real specs, one snapshot per toolset, so a change to the specs,
//! the manifest or the generator shows up as a reviewable diff of Rust code.

use std::time::Instant;

use openapi_mcp_codegen::manifest::Manifest;
use openapi_mcp_codegen::{Generator, Settings, format_tokens};

const SPECS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/specs");

fn inputs() -> (Manifest, Vec<(String, openapiv3::OpenAPI)>) {
    let read = |file: &str| {
        let path = format!("{SPECS}/{file}");
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    let manifest = Manifest::from_toml(&read("toolsets.toml")).expect("the manifest parses");
    let docs = manifest
        .specs
        .iter()
        .map(|(key, entry)| {
            let api = serde_json::from_str(&read(&entry.file))
                .unwrap_or_else(|e| panic!("{}: {e}", entry.file));
            (key.clone(), api)
        })
        .collect();
    (manifest, docs)
}

fn generate(
    settings: &Settings,
    manifest: &Manifest,
    docs: &[(String, openapiv3::OpenAPI)],
) -> String {
    let refs: Vec<(&str, &openapiv3::OpenAPI)> =
        docs.iter().map(|(k, a)| (k.as_str(), a)).collect();
    let tokens = Generator::new(settings)
        .generate_tokens(&refs, manifest)
        .expect("the specs generate");
    format_tokens(tokens).expect("the generated code formats")
}

#[test]
fn generated_code_per_toolset() {
    let (manifest, docs) = inputs();
    for name in manifest.toolsets.keys() {
        let mut settings = Settings::default();
        settings.only_toolset(Some(name.clone()));
        let code = generate(&settings, &manifest, &docs);
        insta::assert_snapshot!(format!("toolset_{name}"), code);
    }
}

/// The generator over both full specs: timed, and equal to what the build compiled.
#[test]
fn full_generation_is_the_compiled_code() {
    let (manifest, docs) = inputs();
    let start = Instant::now();
    let code = generate(&Settings::default(), &manifest, &docs);
    let elapsed = start.elapsed();
    println!(
        "generator over both specs: {elapsed:?} ({} bytes of Rust, {} lines)",
        code.len(),
        code.lines().count()
    );
    let compiled_path = concat!(env!("OUT_DIR"), "/alpaca_generated.rs");
    let compiled = std::fs::read_to_string(compiled_path).expect("build.rs output");
    assert!(
        code == compiled,
        "{compiled_path} is not what the generator makes from specs/ now"
    );
}
