//! What a client of each revision sees of the server itself: its icon (a small SVG) in
//! `initialize` and `server/discover`, and list results with cache hints (an hour: the
//! lists change only with configuration) in a fixed order.

use std::sync::Arc;

use alpaca_mcp::{AlpacaServer, AlpacaTools};
use base64::Engine;
use rmcp::model::{CacheScope, ClientConfig, ProtocolVersion};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt, RunningService};
use rmcp::{RoleClient, ServiceExt};
use support::*;

async fn connect(
    tools: Arc<AlpacaTools>,
    modern: bool,
) -> RunningService<RoleClient, ClientConfig> {
    let (server_io, client_io) = tokio::io::duplex(1 << 22);
    tokio::spawn(async move {
        if let Ok(running) = AlpacaServer::new(tools).serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    if modern {
        ClientConfig::default()
            .serve_with_lifecycle(
                client_io,
                ClientLifecycleMode::Discover {
                    preferred_versions: vec![ProtocolVersion::V_2026_07_28],
                },
            )
            .await
            .unwrap()
    } else {
        ClientConfig::default().serve(client_io).await.unwrap()
    }
}

#[tokio::test]
async fn both_revisions_get_the_icon_and_lists_with_cache_hints_in_a_fixed_order() {
    let mock = mock().await;
    let tools = Arc::new(AlpacaTools::new(&config_for(&mock)).unwrap());
    for modern in [false, true] {
        let client = connect(tools.clone(), modern).await;
        let info = client.peer_info().expect("server info");
        let icons = info
            .server_info
            .as_ref()
            .and_then(|s| s.icons.clone())
            .expect("an icon");
        assert_eq!(icons.len(), 1);
        assert_eq!(icons[0].mime_type.as_deref(), Some("image/svg+xml"));
        let data = icons[0]
            .src
            .strip_prefix("data:image/svg+xml;base64,")
            .expect("a data: URI");
        let svg = base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap();
        let svg = String::from_utf8(svg).unwrap();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"), "{svg}");
        assert!(svg.len() < 1_000, "small: {} bytes", svg.len());

        let first = client.peer().list_tools(None).await.unwrap();
        let again = client.peer().list_tools(None).await.unwrap();
        let names = |r: &rmcp::model::ListToolsResult| {
            r.tools
                .iter()
                .map(|t| t.name.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&first), names(&again), "a fixed order");
        assert_eq!(
            first.ttl_ms,
            Some(alpaca_mcp::server::LIST_TTL_MS),
            "modern={modern}"
        );
        assert_eq!(first.cache_scope, Some(CacheScope::Private));
        let prompts = client.peer().list_prompts(None).await.unwrap();
        assert_eq!(prompts.ttl_ms, Some(alpaca_mcp::server::LIST_TTL_MS));
        assert_eq!(prompts.cache_scope, Some(CacheScope::Public));
        let resources = client.peer().list_resources(None).await.unwrap();
        assert_eq!(resources.cache_scope, Some(CacheScope::Private));
    }
}
