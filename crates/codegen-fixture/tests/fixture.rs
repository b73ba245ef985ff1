//! The generated kitchen-sink code, compiled and exercised: the requests its argument structs
//! build, strict argument parsing through the tool functions, decoding of the response types,
//! and the registry statics. Also ties the compiled text to the generator's snapshot.

use codegen_fixture::{HANDWRITTEN, TOOLSETS};

/// The compiled code is the text the generator's snapshot pins: same inputs, same settings.
#[test]
fn compiled_code_is_the_snapshot() {
    let snapshot_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../openapi-mcp-codegen/tests/snapshots/fixture__kitchen_sink.snap"
    );
    let snapshot = std::fs::read_to_string(snapshot_path).expect("snapshot exists");
    let snapshot = snapshot.replace("\r\n", "\n");
    // An insta snapshot: a `---` line, metadata, a `---` line, then the body.
    let rest = snapshot
        .strip_prefix("---\n")
        .expect("snapshot starts with its `---` header");
    let (_, body) = rest
        .split_once("\n---\n")
        .expect("snapshot header ends with `---`");
    let compiled = std::fs::read_to_string(codegen_fixture::GENERATED_PATH).expect("generated");
    // insta ignores trailing whitespace at the end of a snapshot; nothing else.
    assert!(
        body.trim_end() == compiled.trim_end(),
        "{snapshot_path} differs from the code compiled by crates/codegen-fixture ({}); \
         regenerate the snapshot (INSTA_UPDATE=always cargo test -p openapi-mcp-codegen --test fixture)",
        codegen_fixture::GENERATED_PATH
    );
}

#[test]
fn toolsets_and_handwritten_tools() {
    let names: Vec<_> = TOOLSETS.iter().map(|t| t.name).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(sorted, ["trees", "widgets"]);

    let trees = TOOLSETS.iter().find(|t| t.name == "trees").unwrap();
    assert_eq!(trees.feature, "tree-walking");
    assert!(!trees.default);
    assert_eq!(trees.description, "Tree walking.");
    assert_eq!(trees.compiled, cfg!(feature = "tree-walking"));
    let tree_tools: Vec<_> = trees.tools.iter().map(|t| t.name).collect();
    if cfg!(feature = "tree-walking") {
        assert_eq!(tree_tools, ["walk_tree"]);
    } else {
        assert!(tree_tools.is_empty());
    }

    let widgets = TOOLSETS.iter().find(|t| t.name == "widgets").unwrap();
    assert_eq!(widgets.feature, "widgets");
    assert!(widgets.default);
    assert_eq!(widgets.compiled, cfg!(feature = "widgets"));
    let widget_tools: Vec<_> = widgets.tools.iter().map(|t| t.name).collect();
    if cfg!(feature = "widgets") {
        // Spec order; createWidget is replaced by a hand-written tool, streamEvents excluded.
        assert_eq!(
            widget_tools,
            [
                "list_widgets",
                "get_widget",
                "delete_widget",
                "update_widget",
                "latest_prices"
            ]
        );
    } else {
        assert!(widget_tools.is_empty());
    }

    assert_eq!(HANDWRITTEN.len(), 1);
    let hw = &HANDWRITTEN[0];
    assert_eq!(hw.name, "make_widget");
    assert_eq!(hw.toolset, "widgets");
    assert_eq!((hw.api, hw.operation_id), ("sink", "createWidget"));
    assert!(!hw.annotations.read_only && !hw.annotations.idempotent);
    assert_eq!(hw.params, &[("name", "The widget's name.")]);

    assert_eq!(
        codegen_fixture::GLOSSARY,
        &[
            ("limit", "Largest number of items to return."),
            ("page_token", "Continuation token from a previous page."),
        ]
    );
}

#[test]
fn fixture_schemas_pass_the_client_lint() {
    let mut linted = 0;
    for toolset in TOOLSETS {
        for tool in toolset.tools {
            assert!(
                openapi_mcp_codegen::valid_tool_name(tool.name),
                "{}",
                tool.name
            );
            let problems = openapi_mcp_codegen::lint::lint_text(tool.input_schema);
            assert!(problems.is_empty(), "{}: {problems:#?}", tool.name);
            linted += 1;
        }
    }
    let expected =
        usize::from(cfg!(feature = "widgets")) * 5 + usize::from(cfg!(feature = "tree-walking"));
    assert_eq!(linted, expected);
}

#[cfg(feature = "widgets")]
mod widgets {
    use codegen_fixture::sink::{params, types};
    use serde_json::json;

    #[test]
    fn list_widgets_query_styles() {
        let p = params::ListWidgets {
            status: Some(types::ListWidgetsStatus::V1d),
            ids: Some(vec!["a".into(), "b c".into(), "d".into()]),
            tags: Some(vec![types::Color::Red, types::Color::Blue]),
            limit: Some(10),
            min_price: Some(2.5),
            page_token: Some("tok".into()),
        };
        let r = p.to_request().unwrap();
        assert_eq!(r.api, "sink");
        assert_eq!(r.operation_id, "listWidgets");
        assert_eq!(r.method, openapi_mcp_runtime::Method::Get);
        assert_eq!(r.path, "/v1/widgets");
        assert_eq!(r.body, None);
        let q: Vec<(&str, &str)> = r.query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(
            q,
            [
                ("status", "1d"),
                // explode: false -> one comma-joined value
                ("ids", "a,b c,d"),
                // explode: true (the default for form style) -> the key repeated
                ("tags", "red"),
                ("tags", "blue"),
                ("limit", "10"),
                ("min_price", "2.5"),
                ("page_token", "tok"),
            ]
        );
    }

    #[test]
    fn absent_optional_query_parameters_are_not_sent() {
        let r = params::ListWidgets::default().to_request().unwrap();
        assert!(r.query.is_empty(), "{:?}", r.query);
        // A header parameter (X-Trace) is not an argument at all.
        let err = openapi_mcp_runtime::parse_args::<params::ListWidgets>(
            json!({"X-Trace": "t"}).as_object().unwrap().clone(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("X-Trace"), "{err}");
    }

    const ID: &str = "5d0de8f4-3b44-4d8b-9a5c-2f6f2f6f2f6f";

    #[test]
    fn path_parameters_are_percent_encoded_and_checked() {
        let r = params::GetWidget {
            widget_id: ID.into(),
        }
        .to_request()
        .unwrap();
        assert_eq!(r.path, format!("/v1/widgets/{ID}"));
        assert_eq!(r.method, openapi_mcp_runtime::Method::Get);
        assert!(r.query.is_empty() && r.body.is_none());

        // `widget_id` is `format: uuid`: anything else is refused by name before a request
        // exists; so is a blank path argument of any format.
        for bad in ["a/b", "../x?y", "", " "] {
            let e = params::DeleteWidget {
                widget_id: bad.into(),
            }
            .to_request()
            .unwrap_err();
            assert!(
                e.to_string().contains("argument `widget_id`"),
                "{bad:?}: {e}"
            );
        }
        for bad in ["", "  ", "r\u{0}"] {
            let e = params::WalkTree {
                root: bad.into(),
                depth: 1,
            }
            .to_request()
            .unwrap_err();
            assert!(e.to_string().contains("argument `root`"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn create_widget_body_has_exactly_the_given_fields() {
        let p = params::CreateWidget {
            name: "w".into(),
            color: types::Color::Green,
            price: None,
            dimensions: Some(vec![1.0, 2.5, 3.0]),
            owner: Some(types::Person {
                kind: Some(types::PersonKind::Person),
                email: Some("a@example.com".into()),
            }),
        };
        let r = p.to_request().unwrap();
        assert_eq!(r.method, openapi_mcp_runtime::Method::Post);
        assert_eq!(r.path, "/v1/widgets");
        assert!(r.query.is_empty());
        assert_eq!(
            r.body,
            Some(json!({
                "name": "w",
                "color": "green",
                "dimensions": [1.0, 2.5, 3.0],
                "owner": {"kind": "person", "email": "a@example.com"},
            }))
        );

        // Parsed from arguments, the body keeps the spec's property names, and only those given.
        let args = json!({"name": "n", "color": "blue", "price": "1.25"});
        let p: params::CreateWidget =
            openapi_mcp_runtime::parse_args(args.as_object().unwrap().clone()).unwrap();
        assert_eq!(p.to_request().unwrap().body, Some(args));
    }

    #[test]
    fn patch_widget_splits_path_and_body() {
        let args = json!({"widget_id": ID, "in_stock": false});
        let p: params::PatchWidget =
            openapi_mcp_runtime::parse_args(args.as_object().unwrap().clone()).unwrap();
        let r = p.to_request().unwrap();
        assert_eq!(r.method, openapi_mcp_runtime::Method::Patch);
        assert_eq!(r.path, format!("/v1/widgets/{ID}"));
        assert_eq!(r.body, Some(json!({"in_stock": false})));
    }

    #[test]
    fn widget_decodes_merged_fields_and_the_owner_union() {
        let w: types::Widget = serde_json::from_value(json!({
            "id": "5d0de8f4-3b44-4d8b-9a5c-2f6f2f6f2f6f",
            "created_at": "2024-01-02T03:04:05Z",
            "name": "gear one",
            "type": "gear",
            "color": null,
            "price": "12.50",
            "24h_volume": 1234.5,
            "in_stock": true,
            "released_on": "2024-01-01",
            "dimensions": [1, 2, 3],
            "labels": {"size": "L"},
            "owner": {"kind": "team", "members": [{"kind": "person", "email": "a@example.com"}]},
            "note": 7,
            "extra": {"anything": [1, "two"]},
            "field_added_later": {"ignored": true}
        }))
        .expect("a Widget decodes");
        // From `Base` (the first allOf member) ...
        assert_eq!(
            w.id.as_deref(),
            Some("5d0de8f4-3b44-4d8b-9a5c-2f6f2f6f2f6f")
        );
        assert_eq!(w.created_at.as_deref(), Some("2024-01-02T03:04:05Z"));
        // ... and from the inline member.
        assert_eq!(w.name.as_deref(), Some("gear one"));
        assert_eq!(w.type_, Some(types::WidgetType::Gear));
        assert_eq!(w.color, None);
        assert_eq!(w.price.as_deref(), Some("12.50"));
        assert_eq!(w.n_24h_volume, Some(1234.5));
        assert_eq!(w.in_stock, Some(true));
        assert_eq!(w.dimensions, Some(vec![1.0, 2.0, 3.0]));
        assert_eq!(w.labels.unwrap()["size"], "L");
        match w.owner {
            Some(types::WidgetOwner::Team(team)) => {
                assert_eq!(team.kind, Some(types::TeamKind::Team));
                let members = team.members.unwrap();
                assert_eq!(members[0].email.as_deref(), Some("a@example.com"));
            }
            other => panic!("expected a Team owner, got {other:?}"),
        }
        assert_eq!(w.note, Some(types::WidgetNote::Integer(7)));
        assert_eq!(w.extra, Some(json!({"anything": [1, "two"]})));

        let w: types::Widget = serde_json::from_value(json!({
            "id": "x",
            "name": "n",
            "color": "blue",
            "owner": {"kind": "person", "email": "p@example.com"},
            "note": "text"
        }))
        .unwrap();
        assert_eq!(w.color, Some(types::Color::Blue));
        assert_eq!(
            w.owner,
            Some(types::WidgetOwner::Person(types::Person {
                kind: Some(types::PersonKind::Person),
                email: Some("p@example.com".into()),
            }))
        );
        assert_eq!(w.note, Some(types::WidgetNote::String("text".into())));

        // The wire names come back on serialization.
        let back = serde_json::to_value(types::Widget {
            type_: Some(types::WidgetType::Sprocket),
            n_24h_volume: Some(2.0),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(back, json!({"type": "sprocket", "24h_volume": 2.0}));
    }

    #[test]
    fn response_wrappers_decode() {
        let r: types::ListWidgetsResponse = serde_json::from_value(json!({
            "widgets": [{"id": "a", "name": "A"}, {"id": "b", "name": "B"}],
            "next_page_token": null
        }))
        .unwrap();
        assert_eq!(r.widgets.unwrap().len(), 2);
        assert_eq!(r.next_page_token, None);

        let r: types::LatestPricesResponse = serde_json::from_value(json!({
            "prices": {"AAPL": {"p": 187.25, "t": "2024-01-02T15:04:05Z"}, "MSFT": {"p": 1}},
            "extra": {"k": 1}
        }))
        .unwrap();
        let prices = r.prices.unwrap();
        assert_eq!(prices["AAPL"].p, Some(187.25));
        assert_eq!(prices["MSFT"].t, None);
        assert_eq!(r.extra.unwrap()["k"], 1);
    }
}

#[cfg(feature = "tree-walking")]
mod trees {
    use codegen_fixture::sink::{params, types};
    use serde_json::json;

    #[test]
    fn walk_tree_request() {
        let r = params::WalkTree {
            root: "a:b/c".into(),
            depth: 3,
        }
        .to_request()
        .unwrap();
        assert_eq!(r.path, "/v1/trees/a%3Ab%2Fc:walk");
        assert_eq!(r.query, vec![("depth", "3".to_string())]);
    }

    #[test]
    fn recursive_node_decodes() {
        let n: types::Node = serde_json::from_value(json!({
            "name": "root",
            "children": [
                {"name": "a", "children": [{"name": "a1"}], "parent": {"name": "root"}},
                {"name": "b", "color": "ignored"}
            ]
        }))
        .unwrap();
        assert_eq!(n.name.as_deref(), Some("root"));
        assert!(n.parent.is_none());
        let children = n.children.unwrap();
        assert_eq!(children.len(), 2);
        assert_eq!(
            children[0].parent.as_ref().unwrap().name.as_deref(),
            Some("root")
        );
        let grandchildren = children[0].children.as_ref().unwrap();
        assert_eq!(grandchildren[0].name.as_deref(), Some("a1"));
        assert_eq!(children[1].name.as_deref(), Some("b"));
    }
}

/// Calls through the registry's tool functions, with a client whose host refuses connections:
/// argument errors must come back before anything is sent.
#[cfg(all(feature = "widgets", feature = "tree-walking"))]
mod tool_calls {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use codegen_fixture::{Client, TOOLSETS};
    use openapi_mcp_runtime::{Error, JsonObject, ToolError, Transport, TransportConfig};
    use serde_json::{Value, json};

    fn client() -> Client {
        let config = TransportConfig {
            // Port 9 (discard) is closed: connecting is refused at once.
            base_urls: BTreeMap::from([(
                "sink".to_string(),
                url::Url::parse("http://127.0.0.1:9").unwrap(),
            )]),
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(5),
            ..TransportConfig::default()
        };
        Client::from_transport(Transport::new(config).unwrap())
    }

    async fn call(tool: &str, args: Value) -> Result<openapi_mcp_runtime::ApiResponse, ToolError> {
        let def = TOOLSETS
            .iter()
            .flat_map(|t| t.tools)
            .find(|d| d.name == tool)
            .unwrap_or_else(|| panic!("no tool {tool}"));
        let args: JsonObject = args.as_object().cloned().expect("an object");
        let client = client();
        (def.call)(&client, args).await
    }

    /// Asserts the call is rejected as invalid arguments, with a message containing `needles`.
    async fn rejected(tool: &str, args: Value, needles: &[&str]) {
        match call(tool, args.clone()).await {
            Err(ToolError::InvalidArguments(msg)) => {
                for n in needles {
                    assert!(msg.contains(n), "{tool} {args}: `{msg}` should mention {n}");
                }
            }
            other => panic!("{tool} {args}: expected invalid arguments, got {other:?}"),
        }
    }

    /// Asserts the arguments were accepted: the call got as far as connecting.
    async fn sent(tool: &str, args: Value) {
        match call(tool, args.clone()).await {
            Err(ToolError::Api(Error::Connection { sent: false, .. })) => {}
            other => panic!("{tool} {args}: expected a refused connection, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn valid_arguments_reach_the_transport() {
        sent("list_widgets", json!({})).await;
        sent(
            "list_widgets",
            json!({"status": "1d", "ids": ["a"], "tags": ["red"], "limit": 5, "min_price": 0.5}),
        )
        .await;
        sent(
            "get_widget",
            json!({"widget_id": "5d0de8f4-3b44-4d8b-9a5c-2f6f2f6f2f6f"}),
        )
        .await;
        sent(
            "update_widget",
            json!({"widget_id": "5d0de8f4-3b44-4d8b-9a5c-2f6f2f6f2f6f", "name": null, "in_stock": true}),
        )
        .await;
        sent("walk_tree", json!({"root": "r", "depth": 2})).await;
        sent("latest_prices", json!({"symbols": "A,B"})).await;
    }

    #[tokio::test]
    async fn unknown_field_is_rejected_by_name() {
        rejected("list_widgets", json!({"bogus": 1}), &["bogus"]).await;
        rejected(
            "get_widget",
            json!({"widget_id": "w", "widgetId": "w"}),
            &["widgetId"],
        )
        .await;
        rejected(
            "walk_tree",
            json!({"root": "r", "depth": 1, "X": true}),
            &["`X`"],
        )
        .await;
    }

    #[tokio::test]
    async fn wrong_type_names_the_argument() {
        rejected("list_widgets", json!({"limit": "ten"}), &["limit"]).await;
        rejected("list_widgets", json!({"ids": "a,b"}), &["ids"]).await;
        rejected("walk_tree", json!({"root": "r", "depth": 1.5}), &["depth"]).await;
        rejected("update_widget", json!({"widget_id": 7}), &["widget_id"]).await;
    }

    #[tokio::test]
    async fn missing_required_argument_is_named() {
        rejected("walk_tree", json!({"root": "r"}), &["depth"]).await;
        rejected("get_widget", json!({}), &["widget_id"]).await;
        rejected("latest_prices", json!({}), &["symbols"]).await;
    }

    #[tokio::test]
    async fn value_outside_an_enum_is_rejected() {
        rejected(
            "list_widgets",
            json!({"status": "deleted"}),
            &["status", "deleted"],
        )
        .await;
        rejected(
            "list_widgets",
            json!({"tags": ["red", "purple"]}),
            &["tags", "purple"],
        )
        .await;
    }
}
