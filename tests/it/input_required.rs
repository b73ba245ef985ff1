//! MCP 2026-07-28 confirmations: with order confirmation on, a client that negotiated
//! 2026-07-28 and declares elicitation gets the question as an `input_required` result and
//! answers by calling again with the answer and the sealed `requestState`. The order is sent
//! once on a yes, never on a no, and never for a state that was altered, replayed (here or on
//! another replica with the same key), expired, or made for another call. Every test counts
//! the POSTs the fake received.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use alpaca_mcp::input::Round;
use alpaca_mcp::safety::{SafetyConfig, StateKey};
use alpaca_mcp::{AlpacaServer, AlpacaTools};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ClientCapabilities, ClientConfig,
    ElicitRequestParams, ElicitResult, ElicitationAction, Implementation, InputRequest,
    InputRequiredResult, InputResponses, ProtocolVersion,
};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt, RequestContext, RunningService};
use rmcp::{ClientHandler, ErrorData, RoleClient};
use serde_json::json;
use support::*;

/// A 2026-07-28 client that answers every question the same way and keeps what it was asked.
#[derive(Clone)]
struct User {
    answer: ElicitResult,
    asks: bool,
    asked: Arc<Mutex<Vec<String>>>,
}

impl ClientHandler for User {
    fn get_info(&self) -> ClientConfig {
        let capabilities = if self.asks {
            ClientCapabilities::builder().enable_elicitation().build()
        } else {
            ClientCapabilities::default()
        };
        ClientConfig::new(
            capabilities,
            Implementation::new("input-required-test", "1"),
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
        Ok(self.answer.clone())
    }
}

fn yes() -> ElicitResult {
    ElicitResult::new(ElicitationAction::Accept).with_content(json!({"confirm": true}))
}

struct Session {
    client: RunningService<RoleClient, User>,
    asked: Arc<Mutex<Vec<String>>>,
}

async fn session(tools: Arc<AlpacaTools>, answer: ElicitResult, asks: bool) -> Session {
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(running) = rmcp::ServiceExt::serve(AlpacaServer::new(tools), server_io).await {
            let _ = running.waiting().await;
        }
    });
    let asked = Arc::new(Mutex::new(Vec::new()));
    let user = User {
        answer,
        asks,
        asked: asked.clone(),
    };
    let client = user
        .serve_with_lifecycle(
            client_io,
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .expect("client starts with server/discover");
    Session { client, asked }
}

fn tools_with(mock: &alpaca_mock::MockServer, ttl: Duration, key: &StateKey) -> Arc<AlpacaTools> {
    let mut config = config_for(mock);
    config.safety = SafetyConfig {
        confirm_orders: true,
        confirm_ttl: ttl,
        state_key: Some(key.clone()),
        ..SafetyConfig::default()
    };
    Arc::new(AlpacaTools::new(&config).expect("tools"))
}

fn key() -> StateKey {
    StateKey::new(b"a test key that is long enough to seal!".to_vec()).unwrap()
}

fn order_args(qty: u64) -> CallToolRequestParams {
    CallToolRequestParams::new("place_stock_order").with_arguments(
        json!({"symbol": "AAPL", "side": "buy", "qty": qty})
            .as_object()
            .cloned()
            .unwrap(),
    )
}

/// The first round, driven by hand: the input-required result.
async fn ask(
    client: &RunningService<RoleClient, User>,
    params: CallToolRequestParams,
) -> InputRequiredResult {
    match client.call_tool_once(params).await.expect("call") {
        CallToolResponse::InputRequired(asked) => asked,
        CallToolResponse::Complete(r) => panic!("expected input_required, got {r:?}"),
        other => panic!("expected input_required, got {other:?}"),
    }
}

/// The retry, by hand: the same call with `answer` and `state`.
async fn answer(
    client: &RunningService<RoleClient, User>,
    params: CallToolRequestParams,
    state: &str,
    answer: &ElicitResult,
) -> CallToolResult {
    let mut responses = InputResponses::new();
    responses.insert("confirm".into(), serde_json::to_value(answer).unwrap());
    let params = params
        .with_request_state(state.to_string())
        .with_input_responses(responses);
    match client.call_tool_once(params).await.expect("call") {
        CallToolResponse::Complete(r) => r,
        other => panic!("expected a result, got {other:?}"),
    }
}

fn text(r: &CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn a_yes_through_the_clients_own_loop_places_the_order_once() {
    let mock = mock().await;
    let s = session(
        tools_with(&mock, Duration::from_secs(60), &key()),
        yes(),
        true,
    )
    .await;
    mock.clear_requests();
    // rmcp's client answers the input request itself and calls again.
    let r = s.client.call_tool(order_args(2)).await.expect("call");
    let d = data(&r);
    assert_eq!(d["symbol"], "AAPL", "{d}");
    assert!(d["status"].is_string(), "Alpaca's own order: {d}");
    let posts = posted(&mock, "/v2/orders");
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0]["qty"], "2");
    let asked = s.asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(
        asked[0].starts_with("Place this order? Paper account: buy 2 AAPL market day"),
        "{}",
        asked[0]
    );
}

#[tokio::test]
async fn the_question_names_the_order_and_the_state_is_opaque_and_sealed() {
    let mock = mock().await;
    let s = session(
        tools_with(&mock, Duration::from_secs(60), &key()),
        yes(),
        true,
    )
    .await;
    mock.clear_requests();
    let asked = ask(&s.client, order_args(3)).await;
    assert!(
        posted(&mock, "/v2/orders").is_empty(),
        "asking sends nothing"
    );
    let requests = asked.input_requests.expect("inputRequests");
    let Some(InputRequest::Elicitation(q)) = requests.get("confirm") else {
        panic!("one elicitation under `confirm`: {requests:?}");
    };
    let ElicitRequestParams::FormElicitationParams { message, .. } = &q.params else {
        panic!("a form question");
    };
    assert!(message.contains("buy 3 AAPL"), "{message}");
    let state = asked.request_state.expect("requestState");
    assert!(!state.contains("AAPL"), "the state is not readable text");
    assert!(
        state.len() < 2_000,
        "self-contained, and small: {}",
        state.len()
    );
}

#[tokio::test]
async fn a_no_a_decline_or_a_cancel_sends_nothing() {
    let mock = mock().await;
    for no in [
        ElicitResult::new(ElicitationAction::Accept).with_content(json!({"confirm": false})),
        ElicitResult::new(ElicitationAction::Decline),
        ElicitResult::new(ElicitationAction::Cancel),
    ] {
        let s = session(
            tools_with(&mock, Duration::from_secs(60), &key()),
            no.clone(),
            true,
        )
        .await;
        mock.clear_requests();
        let r = s.client.call_tool(order_args(2)).await.expect("call");
        assert_eq!(
            r.is_error,
            Some(false),
            "a refusal is an answer: {}",
            text(&r)
        );
        assert_eq!(data(&r)["placed"], false);
        assert!(text(&r).contains("NOT PLACED"), "{}", text(&r));
        assert!(posted(&mock, "/v2/orders").is_empty(), "{no:?}");
    }
}

#[tokio::test]
async fn an_altered_state_or_one_for_another_call_or_caller_sends_nothing() {
    let mock = mock().await;
    let tools = tools_with(&mock, Duration::from_secs(60), &key());
    let s = session(tools.clone(), yes(), true).await;
    mock.clear_requests();
    let state = ask(&s.client, order_args(2)).await.request_state.unwrap();
    // One character changed, in the middle and at the end.
    for i in [state.len() / 2, state.len() - 1] {
        let mut bytes = state.clone().into_bytes();
        bytes[i] = if bytes[i] == b'x' { b'y' } else { b'x' };
        let altered = String::from_utf8(bytes).unwrap();
        let r = answer(&s.client, order_args(2), &altered, &yes()).await;
        assert_eq!(r.is_error, Some(true), "{}", text(&r));
        assert!(
            text(&r).contains("not one this server sealed"),
            "{}",
            text(&r)
        );
    }
    // The same state with other arguments (more shares than the user was asked about).
    let r = answer(&s.client, order_args(200), &state, &yes()).await;
    assert!(
        text(&r).contains("not the ones the user was asked about"),
        "{}",
        text(&r)
    );
    // For another tool.
    let crypto = CallToolRequestParams::new("place_crypto_order").with_arguments(
        json!({"symbol": "BTC/USD", "side": "buy", "qty": 1})
            .as_object()
            .cloned()
            .unwrap(),
    );
    let r = answer(&s.client, crypto, &state, &yes()).await;
    assert!(text(&r).contains("another tool"), "{}", text(&r));
    // From another session (another caller) of the same server.
    let other = session(tools.clone(), yes(), true).await;
    let r = answer(&other.client, order_args(2), &state, &yes()).await;
    assert!(text(&r).contains("another caller"), "{}", text(&r));
    // A retry with no answer.
    let none = CallToolRequestParams::new("place_stock_order")
        .with_arguments(order_args(2).arguments.unwrap())
        .with_request_state(state.clone());
    let CallToolResponse::Complete(r) = s.client.call_tool_once(none).await.unwrap() else {
        panic!("a result");
    };
    assert!(text(&r).contains("no answer"), "{}", text(&r));
    assert!(posted(&mock, "/v2/orders").is_empty());
}

#[tokio::test]
async fn a_replayed_state_places_nothing_more_here_or_on_another_replica() {
    let mock = mock().await;
    // Two processes with one key, as two replicas behind one address are: the retry may
    // reach either.
    let here = tools_with(&mock, Duration::from_secs(60), &key());
    let there = tools_with(&mock, Duration::from_secs(60), &key());
    let args = order_args(2).arguments;
    let principal = "http grant g-1";
    mock.clear_requests();
    let first = Round::new(principal, true, None, None);
    let state = match here
        .call_in_round(1, &first, "place_stock_order", args.clone())
        .await
        .unwrap()
    {
        CallToolResponse::InputRequired(asked) => asked.request_state.unwrap(),
        other => panic!("{other:?}"),
    };
    let mut responses = InputResponses::new();
    responses.insert("confirm".into(), serde_json::to_value(yes()).unwrap());
    let retry = || {
        Round::new(
            principal,
            true,
            Some(state.clone()),
            Some(responses.clone()),
        )
    };
    let complete = |r: Option<CallToolResponse>| match r.unwrap() {
        CallToolResponse::Complete(r) => r,
        other => panic!("{other:?}"),
    };
    // The retry reaches the other replica: placed there, once.
    let placed = complete(
        there
            .call_in_round(2, &retry(), "place_stock_order", args.clone())
            .await,
    );
    assert_eq!(data(&placed)["symbol"], "AAPL", "{}", text(&placed));
    assert_eq!(posted(&mock, "/v2/orders").len(), 1);
    // Replayed to the same replica: already answered.
    let again = complete(
        there
            .call_in_round(2, &retry(), "place_stock_order", args.clone())
            .await,
    );
    assert!(
        text(&again).contains("already answered"),
        "{}",
        text(&again)
    );
    // Replayed to the first replica, which never saw it answered: the order it names is at
    // Alpaca already, so it is reported, not sent.
    let elsewhere = complete(
        here.call_in_round(1, &retry(), "place_stock_order", args.clone())
            .await,
    );
    assert!(
        text(&elsewhere).contains("already placed it; it was not sent again"),
        "{}",
        text(&elsewhere)
    );
    assert_eq!(
        data(&elsewhere)["id"],
        data(&placed)["id"],
        "the same order"
    );
    assert_eq!(posted(&mock, "/v2/orders").len(), 1, "never twice");
    // Another caller cannot use it at all.
    let stranger = Round::new(
        "http grant g-2",
        true,
        Some(state.clone()),
        Some(responses.clone()),
    );
    let r = complete(
        here.call_in_round(3, &stranger, "place_stock_order", args)
            .await,
    );
    assert!(text(&r).contains("another caller"), "{}", text(&r));
    assert_eq!(posted(&mock, "/v2/orders").len(), 1);
}

#[tokio::test]
async fn an_expired_state_sends_nothing() {
    let mock = mock().await;
    let s = session(
        tools_with(&mock, Duration::from_secs(1), &key()),
        yes(),
        true,
    )
    .await;
    mock.clear_requests();
    let state = ask(&s.client, order_args(2)).await.request_state.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = answer(&s.client, order_args(2), &state, &yes()).await;
    assert!(text(&r).contains("expired"), "{}", text(&r));
    assert!(posted(&mock, "/v2/orders").is_empty());
}

#[tokio::test]
async fn a_client_that_cannot_be_asked_keeps_confirm_order() {
    let mock = mock().await;
    let s = session(
        tools_with(&mock, Duration::from_secs(60), &key()),
        yes(),
        false,
    )
    .await;
    mock.clear_requests();
    let held = match s.client.call_tool_once(order_args(2)).await.unwrap() {
        CallToolResponse::Complete(r) => r,
        other => panic!("no question for a client without elicitation: {other:?}"),
    };
    let id = data(&held)["confirmation_id"]
        .as_str()
        .expect("held")
        .to_string();
    assert!(
        data(&held).get("asking_failed").is_none(),
        "nothing was tried"
    );
    assert!(posted(&mock, "/v2/orders").is_empty());
    let confirm = CallToolRequestParams::new("confirm_order")
        .with_arguments(json!({"confirmation_id": id}).as_object().cloned().unwrap());
    let sent = s.client.call_tool(confirm).await.unwrap();
    assert_eq!(data(&sent)["symbol"], "AAPL", "{}", text(&sent));
    assert_eq!(posted(&mock, "/v2/orders").len(), 1);
    assert!(s.asked.lock().unwrap().is_empty());
}
