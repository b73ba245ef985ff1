//! The generator on a small spec written here that uses every schema feature it supports. The
//! generated code is snapshotted here and compiled (and exercised) by `crates/codegen-fixture`,
//! which generates the same code from the same inputs, so a snapshot cannot pin code that does
//! not build.

use openapi_mcp_codegen::manifest::Manifest;
use openapi_mcp_codegen::{Error, Generator, Settings, format_tokens};

fn fixture() -> (openapiv3::OpenAPI, Manifest) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let spec = std::fs::read_to_string(format!("{dir}/kitchen-sink.json")).expect("fixture spec");
    let manifest =
        std::fs::read_to_string(format!("{dir}/kitchen-sink.toml")).expect("fixture manifest");
    (
        serde_json::from_str(&spec).expect("fixture spec parses"),
        Manifest::from_toml(&manifest).expect("fixture manifest parses"),
    )
}

fn generate(
    settings: &Settings,
    api: &openapiv3::OpenAPI,
    manifest: &Manifest,
) -> Result<String, Error> {
    format_tokens(Generator::new(settings).generate_tokens(&[("sink", api)], manifest)?)
}

#[test]
fn kitchen_sink_code() {
    let (api, manifest) = fixture();
    let code = generate(&Settings::default(), &api, &manifest).expect("generates");
    insta::assert_snapshot!("kitchen_sink", code);
}

#[test]
fn unmentioned_operation_fails_naming_it() {
    let (api, mut manifest) = fixture();
    manifest.operations["sink"].shift_remove("walkTree");
    let err = generate(&Settings::default(), &api, &manifest)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`walkTree`") && err.contains("does not mention"),
        "{err}"
    );
}

#[test]
fn manifest_operation_missing_from_spec_fails() {
    let (api, mut manifest) = fixture();
    let op = manifest.operations["sink"]["getWidget"].clone();
    manifest.operations["sink"].insert("vanished".into(), op);
    let mut renamed = manifest.clone();
    renamed.operations["sink"]["vanished"].tool = Some("vanished_tool".into());
    let err = generate(&Settings::default(), &api, &renamed)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`vanished`") && err.contains("does not have"),
        "{err}"
    );
}

#[test]
fn undescribed_parameter_fails() {
    let (api, mut manifest) = fixture();
    manifest.operations["sink"]["walkTree"]
        .params
        .remove("depth");
    let err = generate(&Settings::default(), &api, &manifest)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("walk_tree") && err.contains("`depth` has no description"),
        "{err}"
    );
}

#[test]
fn description_of_unknown_parameter_fails() {
    let (api, mut manifest) = fixture();
    manifest.operations["sink"]["walkTree"]
        .params
        .insert("bogus".into(), "x".into());
    let err = generate(&Settings::default(), &api, &manifest)
        .unwrap_err()
        .to_string();
    assert!(err.contains("`bogus`"), "{err}");
}

#[test]
fn a_page_cursor_on_an_operation_that_cannot_have_one_fails() {
    let (api, mut manifest) = fixture();
    // list_widgets answers an object (it pages by next_page_token), not an array.
    manifest.operations["sink"]["listWidgets"].page_cursor = Some("id".into());
    let err = generate(&Settings::default(), &api, &manifest)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("list_widgets") && err.contains("page_cursor `id`"),
        "{err}"
    );
    // A paginated tool's `limit` (items in all) needs a description like any argument.
    let (api, mut manifest) = fixture();
    manifest.pagination.remove("limit");
    manifest.glossary.remove("limit");
    let err = generate(&Settings::default(), &api, &manifest)
        .unwrap_err()
        .to_string();
    assert!(err.contains("`limit` has no description"), "{err}");
}

#[test]
fn duplicate_and_invalid_tool_names_fail() {
    let (api, mut manifest) = fixture();
    manifest.operations["sink"]["walkTree"].tool = Some("get_widget".into());
    let err = generate(&Settings::default(), &api, &manifest)
        .unwrap_err()
        .to_string();
    assert!(err.contains("`get_widget` is used by both"), "{err}");

    let (api, mut manifest) = fixture();
    manifest.operations["sink"]["walkTree"].tool = Some("Walk-Tree".into());
    let err = generate(&Settings::default(), &api, &manifest)
        .unwrap_err()
        .to_string();
    assert!(err.contains("must match"), "{err}");
}

#[test]
fn a_schema_clients_would_reject_fails_the_build() {
    let (api, manifest) = fixture();
    let mut spec = serde_json::to_value(&api).unwrap();
    // A body property nested deeper than clients take (arrays of arrays, 14 levels).
    let mut deep = serde_json::json!({"type": "string"});
    for _ in 0..14 {
        deep = serde_json::json!({"type": "array", "items": deep});
    }
    spec["components"]["schemas"]["WidgetPatch"]["properties"]["in_stock"] = deep;
    let api: openapiv3::OpenAPI = serde_json::from_value(spec).unwrap();
    let Err(err) = generate(&Settings::default(), &api, &manifest) else {
        panic!("a 15-deep schema was generated");
    };
    assert!(matches!(err, Error::ClientLint { .. }), "{err}");
    let err = err.to_string();
    assert!(
        err.contains("tool `update_widget`") && err.contains("nested deeper than 12"),
        "{err}"
    );
}

#[test]
fn only_toolset_narrows_the_output() {
    let (api, manifest) = fixture();
    let mut settings = Settings::default();
    settings.only_toolset(Some("trees".into()));
    let code = generate(&settings, &api, &manifest).expect("generates");
    assert!(code.contains("walk_tree"));
    assert!(!code.contains("list_widgets"));
    assert!(!code.contains("pub struct Widget "));
}
