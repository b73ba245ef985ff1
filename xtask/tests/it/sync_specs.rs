//! `sync-specs` end to end on temporary folders: what it writes, and that bad input names the
//! file and the place and leaves the output folder untouched.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use tempfile::TempDir;
use xtask::sync_specs::{SyncError, run};

const SENTINEL_TRADING: &str = "pre-existing trading\n";
const SENTINEL_MARKET: &str = "pre-existing market data\n";

fn minimal(id: &str) -> Value {
    json!({
        "openapi": "3.0.3",
        "info": { "title": id, "version": "1" },
        "paths": { "/things": { "get": {
            "operationId": id,
            "responses": { "200": {
                "description": "ok",
                "content": { "application/json": {
                    "schema": { "$ref": "#/components/schemas/Thing" }
                } }
            } }
        } } },
        "components": { "schemas": { "Thing": {
            "type": "object",
            "properties": { "description": { "type": "string", "description": "prose" } }
        } } }
    })
}

struct Case {
    _tmp: TempDir,
    input: PathBuf,
    out: PathBuf,
}

/// An input folder with `files` and an output folder holding sentinel files.
fn case(files: &[(&str, String)]) -> Case {
    let tmp = TempDir::new().unwrap();
    let input = tmp.path().join("upstream");
    let out = tmp.path().join("specs");
    fs::create_dir_all(&input).unwrap();
    fs::create_dir_all(&out).unwrap();
    for (name, text) in files {
        fs::write(input.join(name), text).unwrap();
    }
    fs::write(out.join("trading-api.json"), SENTINEL_TRADING).unwrap();
    fs::write(out.join("market-data-api.json"), SENTINEL_MARKET).unwrap();
    Case {
        _tmp: tmp,
        input,
        out,
    }
}

fn json_text(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap()
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Runs the import expecting an input error; checks that the output folder is untouched.
fn expect_input_error(case: &Case) -> String {
    expect_input_error_from(case.input.to_str().unwrap(), &case.out)
}

fn expect_input_error_from(from: &str, out: &Path) -> String {
    let message = match run(from, out) {
        Err(e @ SyncError::Input(_)) => e.to_string(),
        Err(e) => panic!("expected an input error, got {e}"),
        Ok(_) => panic!("expected an error"),
    };
    assert_eq!(
        fs::read_to_string(out.join("trading-api.json")).unwrap(),
        SENTINEL_TRADING
    );
    assert_eq!(
        fs::read_to_string(out.join("market-data-api.json")).unwrap(),
        SENTINEL_MARKET
    );
    assert_eq!(
        listing(out),
        ["market-data-api.json", "trading-api.json"],
        "no stray files"
    );
    message
}

#[test]
fn writes_both_documents_canonically_and_only_when_changed() {
    let yaml = "openapi: 3.0.0\ninfo: {title: M, version: 1.0}\npaths:\n  /bars:\n    get:\n      \
                operationId: bars\n      responses:\n        200:\n          description: ok\n";
    let c = case(&[
        ("trading-api.json", json_text(&minimal("listThings"))),
        ("market-data-api.yml", yaml.to_string()),
    ]);
    let imported = run(c.input.to_str().unwrap(), &c.out).unwrap();
    assert_eq!(imported.len(), 2);
    assert!(imported.iter().all(|d| d.changed));
    assert_eq!(imported[0].summary.operations, 1);
    assert_eq!(imported[0].summary.schemas, 1);

    let trading = fs::read_to_string(c.out.join("trading-api.json")).unwrap();
    let expected = json!({
        "components": { "schemas": { "Thing": {
            "properties": { "description": { "type": "string" } },
            "type": "object"
        } } },
        "info": { "title": "listThings", "version": "1" },
        "openapi": "3.0.3",
        "paths": { "/things": { "get": {
            "operationId": "listThings",
            "responses": { "200": {
                "content": { "application/json": {
                    "schema": { "$ref": "#/components/schemas/Thing" }
                } },
                "description": ""
            } }
        } } }
    });
    assert_eq!(trading, format!("{}\n", json_text(&expected)));
    let market: Value =
        serde_json::from_str(&fs::read_to_string(c.out.join("market-data-api.json")).unwrap())
            .unwrap();
    // YAML's unquoted `200:` and `1.0` come out as strings.
    assert_eq!(market["info"]["version"], "1.0");
    assert_eq!(
        market["paths"]["/bars"]["get"]["responses"]["200"],
        json!({ "description": "" })
    );

    let again = run(c.input.to_str().unwrap(), &c.out).unwrap();
    assert!(again.iter().all(|d| !d.changed));
    assert_eq!(
        fs::read_to_string(c.out.join("trading-api.json")).unwrap(),
        trading
    );
    assert_eq!(
        listing(&c.out),
        ["market-data-api.json", "trading-api.json"]
    );
}

#[test]
fn missing_file() {
    let c = case(&[("trading-api.json", json_text(&minimal("a")))]);
    let e = expect_input_error(&c);
    assert!(e.contains(c.input.to_str().unwrap()), "{e}");
    assert!(e.contains("missing market-data-api.json"), "{e}");
}

#[test]
fn missing_folder() {
    let c = case(&[]);
    let result = run(c.input.join("nope").to_str().unwrap(), &c.out);
    let e = result.unwrap_err().to_string();
    assert!(e.contains("nope") && e.contains("not a folder"), "{e}");
}

#[test]
fn two_spellings_of_one_document() {
    let c = case(&[
        ("trading-api.json", json_text(&minimal("a"))),
        ("trading-api.yaml", "openapi: 3.0.0\n".into()),
        ("market-data-api.json", json_text(&minimal("b"))),
    ]);
    let e = expect_input_error(&c);
    assert!(e.contains("more than one file for trading-api"), "{e}");
}

#[test]
fn invalid_json_names_file_line_and_column() {
    // The first document is fine: it must not be written either.
    let c = case(&[
        ("trading-api.json", json_text(&minimal("a"))),
        (
            "market-data-api.json",
            "{\n  \"openapi\": \"3.0.0\",\n  \"paths\": {,}\n}\n".into(),
        ),
    ]);
    let e = expect_input_error(&c);
    let file = c.input.join("market-data-api.json");
    assert!(
        e.starts_with(&format!(
            "{}: invalid JSON at line 3, column 13",
            file.display()
        )),
        "{e}"
    );
}

#[test]
fn invalid_yaml_names_file_line_and_column() {
    let c = case(&[
        (
            "trading-api.yaml",
            "openapi: 3.0.0\npaths:\n  /a: [\n    b: c\n".into(),
        ),
        ("market-data-api.json", json_text(&minimal("b"))),
    ]);
    let e = expect_input_error(&c);
    let file = c.input.join("trading-api.yaml");
    assert!(
        e.starts_with(&format!("{}: invalid YAML at line ", file.display())),
        "{e}"
    );
    assert!(e.contains(", column "), "{e}");
}

#[test]
fn not_openapi() {
    let c = case(&[
        ("trading-api.json", json_text(&minimal("a"))),
        (
            "market-data-api.json",
            json_text(&json!({ "swagger": "2.0", "paths": {} })),
        ),
    ]);
    let e = expect_input_error(&c);
    let file = c.input.join("market-data-api.json");
    assert!(
        e.starts_with(&format!("{}: not an OpenAPI 3 document", file.display())),
        "{e}"
    );
}

#[test]
fn dangling_ref() {
    let mut doc = minimal("b");
    doc["components"]["schemas"] = json!({});
    let c = case(&[
        ("trading-api.json", json_text(&minimal("a"))),
        ("market-data-api.json", json_text(&doc)),
    ]);
    let e = expect_input_error(&c);
    let file = c.input.join("market-data-api.json");
    assert!(
        e.starts_with(&format!(
            "{}: at /paths/~1things/get/responses/200/content/application~1json/schema/$ref: dangling $ref `#/components/schemas/Thing`",
            file.display()
        )),
        "{e}"
    );
}

#[test]
fn unlowerable_construct() {
    let mut doc = minimal("a");
    doc["openapi"] = json!("3.1.0");
    doc["components"]["schemas"]["Thing"]["properties"]["gone"] = json!({ "type": ["null"] });
    let c = case(&[
        ("trading-api.json", json_text(&doc)),
        ("market-data-api.json", json_text(&minimal("b"))),
    ]);
    let e = expect_input_error(&c);
    assert!(
        e.contains("trading-api.json: at /components/schemas/Thing/properties/gone/type"),
        "{e}"
    );
}

#[test]
fn command_line_exit_codes_and_summary() {
    let bin = env!("CARGO_BIN_EXE_xtask");
    let c = case(&[("trading-api.json", json_text(&minimal("a")))]);
    let output = Command::new(bin)
        .args(["sync-specs", "--from"])
        .arg(&c.input)
        .arg("--out")
        .arg(&c.out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("missing market-data-api.json"), "{stderr}");
    assert_eq!(
        fs::read_to_string(c.out.join("trading-api.json")).unwrap(),
        SENTINEL_TRADING
    );

    fs::write(
        c.input.join("market-data-api.json"),
        json_text(&minimal("b")),
    )
    .unwrap();
    let output = Command::new(bin)
        .args(["sync-specs", "--from"])
        .arg(&c.input)
        .arg("--out")
        .arg(&c.out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("trading-api: 1 operations, 1 schemas"),
        "{stderr}"
    );
    assert!(
        stderr.contains("market-data-api: 1 operations, 1 schemas"),
        "{stderr}"
    );

    let output = Command::new(bin).arg("sync-specs").output().unwrap();
    assert_eq!(output.status.code(), Some(2), "usage error");
}

/// Serves `files` on 127.0.0.1 for `requests` requests (one per connection); unknown paths 404.
fn serve(files: Vec<(&'static str, String)>, requests: usize) -> String {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::time::Duration;

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/specs", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let Ok(mut stream) = stream else { continue };
            stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).ok();
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = request_line.split_whitespace().nth(1).unwrap_or("");
            let body = files
                .iter()
                .find(|(name, _)| path == format!("/specs/{name}"))
                .map(|(_, body)| body.clone());
            let (status, body) = match body {
                Some(body) => ("200 OK", body),
                None => ("404 Not Found", "not found".to_string()),
            };
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(response.as_bytes()).ok();
        }
    });
    base
}

#[test]
fn reads_from_a_url() {
    let c = case(&[]);
    let base = serve(
        vec![
            ("trading-api.json", json_text(&minimal("a"))),
            ("market-data-api.json", json_text(&minimal("b"))),
        ],
        2,
    );
    let imported = run(&base, &c.out).unwrap();
    assert_eq!(imported[0].source, format!("{base}/trading-api.json"));
    assert_eq!(imported[1].source, format!("{base}/market-data-api.json"));
    let written: Value =
        serde_json::from_str(&fs::read_to_string(c.out.join("market-data-api.json")).unwrap())
            .unwrap();
    assert_eq!(written["paths"]["/things"]["get"]["operationId"], "b");
}

#[test]
fn a_url_that_is_not_found_names_the_url() {
    let c = case(&[]);
    let base = serve(vec![("trading-api.json", json_text(&minimal("a")))], 2);
    let case_error = expect_input_error_from(&format!("{base}/"), &c.out);
    assert!(
        case_error.starts_with(&format!(
            "{base}/market-data-api.json: cannot fetch: HTTP status 404"
        )),
        "{case_error}"
    );
}
