//! Progress and cancellation of a list that follows pages, through rmcp's client: with a
//! progress token (rmcp's client puts one on every request), a report per page the fake
//! served (items so far, the limit asked as the total), all before the result; a cancelled
//! call fetches no further page.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use alpaca_mcp::{AlpacaServer, AlpacaTools};
use alpaca_mock::{Fault, FaultKind, MockServer};
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, ClientCapabilities, ClientConfig, ClientRequest,
    Implementation, NumberOrString, ProgressNotificationParam, ProgressToken, RequestMetaObject,
};
use rmcp::service::{NotificationContext, PeerRequestOptions, RunningService};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::json;
use support::*;

#[derive(Clone)]
struct Watcher {
    seen: Arc<Mutex<Vec<ProgressNotificationParam>>>,
    first: Arc<tokio::sync::Notify>,
}

impl ClientHandler for Watcher {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("progress-test", "1"),
        )
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.seen.lock().unwrap().push(params);
        self.first.notify_one();
    }
}

async fn connect(mock: &MockServer) -> (RunningService<RoleClient, Watcher>, Watcher) {
    let mut config = config_for(mock);
    // Room for every page, so only the pages themselves decide.
    config.output.max_chars = 1_000_000;
    let tools = Arc::new(AlpacaTools::new(&config).unwrap());
    let (server_io, client_io) = tokio::io::duplex(1 << 22);
    tokio::spawn(async move {
        if let Ok(running) = AlpacaServer::new(tools).serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let watcher = Watcher {
        seen: Arc::default(),
        first: Arc::default(),
    };
    let client = watcher.clone().serve(client_io).await.unwrap();
    (client, watcher)
}

fn news(token: Option<&str>) -> CallToolRequestParams {
    let mut params = CallToolRequestParams::new("get_news")
        .with_arguments(json!({"limit": 200}).as_object().cloned().unwrap());
    if let Some(t) = token {
        let mut meta = RequestMetaObject::default();
        meta.set_progress_token(ProgressToken(NumberOrString::String(t.to_string().into())));
        params.meta = Some(meta);
    }
    params
}

#[tokio::test]
async fn each_page_followed_is_reported_with_the_items_so_far() {
    let mock = mock().await;
    let (client, watcher) = connect(&mock).await;
    mock.clear_requests();
    let r = client.call_tool(news(Some("news-1"))).await.unwrap();
    assert_eq!(r.is_error, Some(false), "{}", text(&r));
    let pages = queries(&mock, "/v1beta1/news").len();
    assert_eq!(pages, 3, "142 items in pages of 50");
    let seen = watcher.seen.lock().unwrap().clone();
    assert_eq!(
        seen.len(),
        pages,
        "one report per page, all before the result"
    );
    let done: Vec<f64> = seen.iter().map(|p| p.progress).collect();
    assert_eq!(done, [50.0, 100.0, 142.0]);
    for p in &seen {
        // rmcp's client puts its own token on the request; every report carries it.
        assert_eq!(p.progress_token, seen[0].progress_token);
        assert_eq!(p.total, Some(200.0), "the limit asked for");
    }
    assert!(seen[2].message.as_deref().unwrap().contains("3 page(s)"));
}

#[tokio::test]
async fn a_cancelled_call_fetches_no_further_page() {
    let mock = mock().await;
    let (client, watcher) = connect(&mock).await;
    mock.inject(Fault::new(
        "/v1beta1/news",
        FaultKind::Delay(Duration::from_millis(300)),
    ));
    mock.clear_requests();
    let request = ClientRequest::CallToolRequest(CallToolRequest::new(news(Some("news-2"))));
    let handle = client
        .peer()
        .send_cancellable_request(request, PeerRequestOptions::no_options())
        .await
        .unwrap();
    watcher.first.notified().await;
    handle
        .cancel(Some("the user moved on".into()))
        .await
        .unwrap();
    // Long enough for every remaining page, were they fetched.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let pages = queries(&mock, "/v1beta1/news").len();
    assert!(
        pages < 3,
        "{pages} pages: the walk stopped after the cancellation"
    );
    assert!(
        !watcher.seen.lock().unwrap().is_empty(),
        "the first page was reported"
    );
}
