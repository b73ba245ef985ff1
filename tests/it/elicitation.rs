//! With order confirmation on and a client that supports MCP elicitation, a held order is put
//! to the user directly: a yes sends it (once), a no or a decline drops it, and a failed
//! question leaves the two-step confirm_order flow in place.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use alpaca_mcp::safety::SafetyConfig;
use alpaca_mcp::{AlpacaServer, AlpacaTools};
use rmcp::model::{
    ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult, ElicitationAction,
    Implementation,
};
use rmcp::service::{RequestContext, RunningService};
use rmcp::{ClientHandler, ErrorData, RoleClient, ServiceExt};
use serde_json::{Value, json};
use support::*;

/// A client that answers every question the same way (`None`: with an error) and keeps the
/// questions it was asked.
#[derive(Clone)]
struct User {
    answer: Option<ElicitResult>,
    asked: Arc<Mutex<Vec<String>>>,
    /// How long the user takes to answer.
    delay: Duration,
}

impl ClientHandler for User {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::builder().enable_elicitation().build(),
            Implementation::new("elicitation-test", "1"),
        )
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        if let ElicitRequestParams::FormElicitationParams { message, .. } = request {
            self.asked.lock().unwrap().push(message);
        }
        tokio::time::sleep(self.delay).await;
        self.answer
            .clone()
            .ok_or_else(|| ErrorData::internal_error("the user's client broke", None))
    }
}

async fn user_session(
    tools: Arc<AlpacaTools>,
    answer: Option<ElicitResult>,
) -> (RunningService<RoleClient, User>, Arc<Mutex<Vec<String>>>) {
    slow_user_session(tools, answer, Duration::ZERO).await
}

async fn slow_user_session(
    tools: Arc<AlpacaTools>,
    answer: Option<ElicitResult>,
    delay: Duration,
) -> (RunningService<RoleClient, User>, Arc<Mutex<Vec<String>>>) {
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(running) = AlpacaServer::new(tools).serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let asked = Arc::new(Mutex::new(Vec::new()));
    let user = User {
        answer,
        asked: asked.clone(),
        delay,
    };
    (
        user.serve(client_io).await.expect("client initializes"),
        asked,
    )
}

fn confirming(mock: &alpaca_mock::MockServer) -> Arc<AlpacaTools> {
    confirming_for(mock, Duration::from_secs(60))
}

fn confirming_for(mock: &alpaca_mock::MockServer, ttl: Duration) -> Arc<AlpacaTools> {
    let mut config = config_for(mock);
    config.safety = SafetyConfig {
        confirm_orders: true,
        confirm_ttl: ttl,
        ..SafetyConfig::default()
    };
    Arc::new(AlpacaTools::new(&config).expect("tools"))
}

async fn place(client: &RunningService<RoleClient, User>) -> rmcp::model::CallToolResult {
    let mut params = rmcp::model::CallToolRequestParams::new("place_stock_order");
    params = params.with_arguments(
        json!({"symbol": "AAPL", "side": "buy", "qty": 2})
            .as_object()
            .cloned()
            .unwrap(),
    );
    client.call_tool(params).await.expect("call")
}

fn summary(r: &rmcp::model::CallToolResult) -> String {
    support::envelope(r)["summary"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn a_yes_sends_the_order_once() {
    let mock = mock().await;
    let yes = ElicitResult::new(ElicitationAction::Accept).with_content(json!({"confirm": true}));
    let (client, asked) = user_session(confirming(&mock), Some(yes)).await;
    mock.clear_requests();
    let r = place(&client).await;
    let d = data(&r);
    assert_eq!(d["symbol"], "AAPL", "{d}");
    assert!(d["status"].is_string(), "Alpaca's own status: {d}");
    assert_eq!(posted(&mock, "/v2/orders").len(), 1);
    let asked = asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 1);
    assert!(
        asked[0].starts_with("Place this order? Paper account: buy 2 AAPL market day"),
        "{}",
        asked[0]
    );
}

#[tokio::test]
async fn a_no_or_a_decline_sends_nothing_and_leaves_nothing_held() {
    let mock = mock().await;
    for answer in [
        ElicitResult::new(ElicitationAction::Accept).with_content(json!({"confirm": false})),
        ElicitResult::new(ElicitationAction::Decline),
        ElicitResult::new(ElicitationAction::Cancel),
    ] {
        let (client, asked) = user_session(confirming(&mock), Some(answer.clone())).await;
        mock.clear_requests();
        let r = place(&client).await;
        assert_eq!(
            r.is_error,
            Some(false),
            "a refusal is an answer, not a failure"
        );
        let d = data(&r);
        assert_eq!(d["placed"], false, "{d}");
        assert!(
            d.get("confirmation_id").is_none(),
            "nothing left to confirm: {d}"
        );
        assert!(summary(&r).starts_with("NOT PLACED"), "{}", summary(&r));
        assert!(posted(&mock, "/v2/orders").is_empty(), "{answer:?}");
        assert_eq!(asked.lock().unwrap().len(), 1);
    }
}

#[tokio::test]
async fn a_failed_question_keeps_the_two_step_confirmation() {
    let mock = mock().await;
    let (client, _) = user_session(confirming(&mock), None).await;
    mock.clear_requests();
    let r = place(&client).await;
    let d = data(&r);
    let id = d["confirmation_id"].as_str().expect("held").to_string();
    assert!(
        d["asking_failed"].as_str().unwrap().contains("broke"),
        "{d}"
    );
    assert!(posted(&mock, "/v2/orders").is_empty());

    let mut params = rmcp::model::CallToolRequestParams::new("confirm_order");
    params = params.with_arguments(json!({"confirmation_id": id}).as_object().cloned().unwrap());
    let sent = client.call_tool(params).await.expect("call");
    assert_eq!(data(&sent)["symbol"], Value::from("AAPL"));
    assert_eq!(posted(&mock, "/v2/orders").len(), 1);
}

#[tokio::test]
async fn a_question_unanswered_until_the_confirmation_expires_places_nothing() {
    let mock = mock().await;
    let yes_too_late =
        ElicitResult::new(ElicitationAction::Accept).with_content(json!({"confirm": true}));
    let (client, asked) = slow_user_session(
        confirming_for(&mock, Duration::from_secs(1)),
        Some(yes_too_late),
        Duration::from_secs(3),
    )
    .await;
    mock.clear_requests();
    let r = place(&client).await;
    let d = data(&r);
    assert_eq!(d["placed"], false, "{d}");
    assert!(summary(&r).contains("nothing in time"), "{}", summary(&r));
    assert_eq!(asked.lock().unwrap().len(), 1);
    // The late yes changes nothing.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(posted(&mock, "/v2/orders").is_empty());
}
