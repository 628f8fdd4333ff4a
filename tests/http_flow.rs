//! `devin-mcp http` end to end: the real binary on a free port, rmcp's streamable HTTP client,
//! the simulator on loopback. Both protocols, session mode, attribution, read-only tokens and
//! graceful shutdown.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod http_support;
mod mcp_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use devin_mcp::sim::{Fault, FaultKind, Simulator};
use http_support::{
    HttpServer, TOKEN, initialize_body, open_session, post, sigterm, sim_saw, team_tokens,
};
use mcp_support::{Server, advance_until, report_schema, simulator};
use rmcp::ServiceExt;
use serde_json::{Value, json};

/// create → status → structured output → attachments → follow-up → terminate.
async fn walk_the_core_flow(sim: &Simulator, server: &Server) {
    let created = server
        .ok(
            "create_session",
            json!({
                "prompt": "Fix the flaky test in tests/test_api.py",
                "repos": ["acme/api"],
                "structured_output_schema": report_schema(),
            }),
        )
        .await;
    let id = created["session_id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("devin-"), "{id}");
    let finished = advance_until(sim, server, &id, Duration::from_secs(3600), |status| {
        status["is_finished"] == true
    })
    .await;
    assert!(!finished["pull_requests"].as_array().unwrap().is_empty());
    let output = server
        .ok("get_structured_output", json!({ "session_id": id }))
        .await;
    assert!(jsonschema::is_valid(
        &report_schema(),
        &output["structured_output"]
    ));
    let attachments = server
        .ok("list_attachments", json!({ "session_id": id }))
        .await;
    assert!(!attachments["attachments"].as_array().unwrap().is_empty());
    let followed = server
        .ok(
            "send_message",
            json!({ "session_id": id, "message": "Also add a regression test." }),
        )
        .await;
    assert_eq!(followed["session_id"], id.as_str());
    let ended = server.ok("terminate", json!({ "session_id": id })).await;
    assert_eq!(ended["status"], "exit");
    let after = server.ok("get_status", json!({ "session_id": id })).await;
    assert_eq!(after["is_terminal"], true);
}

#[tokio::test]
async fn the_core_flow_works_over_stateless_http_with_the_2025_11_25_handshake() {
    let sim = simulator().await;
    let http = HttpServer::start(&sim, &[]).await;
    let server = http.client(Some(TOKEN)).await;
    let info = server.client.peer_info().unwrap();
    assert_eq!(info.server_info.as_ref().unwrap().name, "devin-mcp");
    assert_eq!(info.protocol_version.as_str(), "2025-11-25");
    assert_eq!(server.client.list_all_tools().await.unwrap().len(), 8);
    walk_the_core_flow(&sim, &server).await;
    server.stop().await;
}

#[tokio::test]
async fn the_core_flow_works_with_the_2026_07_28_stateless_protocol() {
    let sim = simulator().await;
    let http = HttpServer::start(&sim, &[]).await;
    let server = http.stateless_client(Some(TOKEN)).await;
    let info = server.client.peer_info().unwrap();
    assert_eq!(info.protocol_version.as_str(), "2026-07-28");
    walk_the_core_flow(&sim, &server).await;
    server.stop().await;
}

#[tokio::test]
async fn the_core_flow_works_in_session_mode() {
    let sim = simulator().await;
    let http = HttpServer::start(&sim, &["--sessions"]).await;
    let server = http.client(Some(TOKEN)).await;
    walk_the_core_flow(&sim, &server).await;
    server.stop().await;
}

#[tokio::test]
async fn stateless_mode_hands_out_no_session_id() {
    let sim = simulator().await;
    let http = HttpServer::start(&sim, &[]).await;
    let response = post(&http, &initialize_body())
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("mcp-session-id").is_none());
}

#[tokio::test]
async fn in_session_mode_delete_ends_a_session_and_its_id_then_gets_404() {
    let sim = simulator().await;
    let http = HttpServer::start(&sim, &["--sessions"]).await;
    let session = open_session(&http, Some(TOKEN)).await;
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let response = post(&http, &list)
        .bearer_auth(TOKEN)
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("create_session"));

    let deleted = http_support::http()
        .delete(http.mcp_url())
        .bearer_auth(TOKEN)
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert!(
        deleted.status().is_success(),
        "DELETE: {}",
        deleted.status()
    );
    let response = post(&http, &list)
        .bearer_auth(TOKEN)
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

fn bodies_of(sim: &Simulator, method: &str, path_suffix: &str) -> Vec<Value> {
    sim.requests()
        .into_iter()
        .filter(|r| r.method == method && r.path.ends_with(path_suffix))
        .filter_map(|r| r.body)
        .collect()
}

#[tokio::test]
async fn sessions_and_messages_are_attributed_to_the_callers_devin_user() {
    let sim = simulator().await;
    let tokens = team_tokens();
    let http = HttpServer::start(&sim, &["--tokens", tokens.to_str().unwrap()]).await;
    let alice = http.client(Some("alice-token-0123456789")).await;

    let created = alice
        .ok("create_session", json!({ "prompt": "Bump the lockfile" }))
        .await;
    let id = created["session_id"].as_str().unwrap().to_owned();
    alice
        .ok(
            "send_message",
            json!({ "session_id": id, "message": "Thanks" }),
        )
        .await;
    alice
        .ok(
            "create_session",
            json!({ "prompt": "On behalf of Bob", "create_as_user_id": "user-bob" }),
        )
        .await;

    let creates = bodies_of(&sim, "POST", "/sessions");
    assert_eq!(creates.len(), 2, "{creates:?}");
    assert_eq!(creates[0]["create_as_user_id"], "user-alice");
    assert_eq!(
        creates[1]["create_as_user_id"], "user-bob",
        "a user the caller names wins"
    );
    let messages = bodies_of(&sim, "POST", "/messages");
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["message_as_user_id"], "user-alice");
    assert!(
        http.log_contains("caller=\"alice\"").await,
        "{}",
        http.log_text()
    );
    assert!(!http.log_text().contains("alice-token"));
    alice.stop().await;
}

#[tokio::test]
async fn a_read_only_token_sees_and_calls_only_read_only_tools() {
    let sim = simulator().await;
    let tokens = team_tokens();
    let http = HttpServer::start(&sim, &["--tokens", tokens.to_str().unwrap()]).await;
    let alice = http.client(Some("alice-token-0123456789")).await;
    let created = alice.ok("create_session", json!({ "prompt": "p" })).await;
    let id = created["session_id"].as_str().unwrap().to_owned();
    let dashboard = http.client(Some("dashboard-token-0123456789")).await;

    let tools = dashboard.client.list_all_tools().await.unwrap();
    let mut names: Vec<&str> = tools.iter().map(|tool| tool.name.as_ref()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "get_status",
            "get_structured_output",
            "list_attachments",
            "wait_for_sessions"
        ]
    );
    let status = dashboard
        .ok("get_status", json!({ "session_id": id }))
        .await;
    assert_eq!(status["session_id"], id.as_str());

    let before = sim.requests().len();
    let refused = dashboard
        .err("create_session", json!({ "prompt": "sneaky" }))
        .await;
    assert!(refused.contains("read-only"), "{refused}");
    let refused = dashboard
        .err("terminate", json!({ "session_id": id }))
        .await;
    assert!(refused.contains("terminate is not allowed"), "{refused}");
    assert_eq!(
        sim.requests().len(),
        before,
        "a refused call reaches no API"
    );
    assert!(
        http.log_contains("caller=\"dashboard\" tool=\"terminate\"")
            .await,
        "{}",
        http.log_text()
    );
    let created_line = format!("caller=\"alice\" tool=\"create_session\" session_id=\"{id}\"");
    assert!(
        http.log_contains(&created_line).await,
        "a create logs the session it made: {}",
        http.log_text()
    );
    dashboard.stop().await;
    alice.stop().await;
}

#[tokio::test]
async fn sigterm_lets_a_call_in_flight_finish_then_exits_zero() {
    let sim = simulator().await;
    // The call is at the simulator, waiting out a 1.5 s delay, when the signal comes.
    let (mut http, call) = server_with_a_call_held(&sim, "20", Duration::from_millis(1500)).await;
    sigterm(&http);

    let answered = call.await.unwrap().expect("the call is answered");
    assert_ne!(answered.is_error, Some(true), "{answered:?}");
    assert_eq!(answered.structured_content.unwrap()["status"], "new");
    let exit = tokio::time::timeout(Duration::from_secs(10), http.child.wait())
        .await
        .expect("the server exits after its last call")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    assert!(http.log_contains("shutting down").await);
    let refused = http_support::http()
        .get(format!("{}/healthz", http.base))
        .send()
        .await;
    assert!(refused.is_err(), "nothing listens after shutdown");
}

/// Records progress notifications.
#[derive(Clone, Default)]
struct ProgressRecorder {
    seen: Arc<Mutex<Vec<rmcp::model::ProgressNotificationParam>>>,
}

impl rmcp::ClientHandler for ProgressRecorder {
    async fn on_progress(
        &self,
        params: rmcp::model::ProgressNotificationParam,
        _context: rmcp::service::NotificationContext<rmcp::RoleClient>,
    ) {
        self.seen.lock().unwrap().push(params);
    }
}

#[tokio::test]
async fn progress_notifications_reach_http_clients_on_the_response_stream() {
    for mode in [&[][..], &["--sessions"][..]] {
        let sim = simulator().await;
        let mut command = http_support::command(&sim, mode);
        command
            .env("DEVIN_MCP_TOKEN", TOKEN)
            .env("DEVIN_MCP_POLL_MIN_SECS", "0.05")
            .env("DEVIN_MCP_POLL_MAX_SECS", "0.2")
            .env("DEVIN_MCP_PROGRESS_SECS", "0.25");
        let server = HttpServer::spawn(command).await;
        let recorder = ProgressRecorder::default();
        let transport = rmcp::transport::StreamableHttpClientTransport::from_config(
            server.transport_config(Some(TOKEN)),
        );
        let client = recorder.clone().serve(transport).await.unwrap();
        let call = |tool: &str, arguments: Value| {
            let params = rmcp::model::CallToolRequestParams::new(tool.to_owned())
                .with_arguments(arguments.as_object().unwrap().clone());
            client.call_tool(params)
        };
        let created = call("create_session", json!({ "prompt": "Progress over HTTP" })).await;
        let id = created.unwrap().structured_content.unwrap()["session_id"].clone();
        let waited = call(
            "wait_for_sessions",
            json!({ "session_ids": [id], "timeout_seconds": 2 }),
        )
        .await
        .unwrap();
        assert_eq!(waited.structured_content.unwrap()["timed_out"], true);
        let seen = recorder.seen.lock().unwrap().clone();
        assert!(
            seen.len() >= 3,
            "{mode:?}: {} progress notifications in 2 s",
            seen.len()
        );
        assert!(
            seen.windows(2)
                .all(|pair| pair[1].progress > pair[0].progress),
            "{seen:?}"
        );
        let _ = client.cancel().await;
    }
}

#[tokio::test]
async fn an_unknown_tool_name_cannot_write_its_own_log_line() {
    let sim = simulator().await;
    let http = HttpServer::start(&sim, &[]).await;
    let client = http.client(Some(TOKEN)).await;
    let forged = "nope\n2026-01-01T00:00:00Z  INFO tool call caller=\"admin\" tool=\"terminate\"";
    let call = rmcp::model::CallToolRequestParams::new(forged.to_owned());
    assert!(client.client.call_tool(call).await.is_err());
    assert!(
        http.log_contains("tool=\"(unknown)\"").await,
        "{}",
        http.log_text()
    );
    assert!(
        !http.log_text().contains("caller=\"admin\""),
        "{}",
        http.log_text()
    );
    client.stop().await;
}

#[tokio::test]
async fn an_mcp_session_answers_only_the_caller_who_opened_it() {
    let sim = simulator().await;
    let tokens = team_tokens();
    let http = HttpServer::start(&sim, &["--sessions", "--tokens", tokens.to_str().unwrap()]).await;
    let alice = "alice-token-0123456789";
    let dashboard = "dashboard-token-0123456789";
    let session = open_session(&http, Some(alice)).await;

    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let stolen = post(&http, &list)
        .bearer_auth(dashboard)
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(
        stolen.status(),
        404,
        "another caller's session is unknown to them"
    );
    let deleted = http_support::http()
        .delete(http.mcp_url())
        .bearer_auth(dashboard)
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 404, "nor can they end it");

    let own = post(&http, &list)
        .bearer_auth(alice)
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    assert!(own.text().await.unwrap().contains("create_session"));
}

/// A read of a session at the simulator: what `get_status` and the pollers of waits send.
fn session_read(request: &devin_mcp::sim::RecordedRequest) -> bool {
    request.method == "GET" && request.path.contains("/sessions/")
}

/// Waits for the server to exit; panics if it still runs after `limit`.
async fn exit_within(http: &mut HttpServer, limit: Duration) -> std::process::ExitStatus {
    tokio::time::timeout(limit, http.child.wait())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "still running {limit:?} after SIGTERM:\n{}",
                http.log_text()
            )
        })
        .unwrap()
}

#[tokio::test]
async fn sigterm_makes_a_long_wait_answer_at_once_with_its_state_and_exits_zero() {
    let sim = simulator().await;
    // Without the wait answering at once, it would hold shutdown for the whole two minutes
    // and then be cut off without an answer.
    let mut http = HttpServer::start(&sim, &["--shutdown-timeout", "120"]).await;
    let server = http.client(Some(TOKEN)).await;
    let created = server.ok("create_session", json!({ "prompt": "p" })).await;
    let id = created["session_id"].as_str().unwrap().to_owned();
    // The simulator's clock stands still: the session never finishes by itself.
    let call = tokio::spawn(async move {
        let waited = server
            .ok(
                "wait_for_sessions",
                json!({ "session_ids": [id], "timeout_seconds": 600 }),
            )
            .await;
        server.stop().await;
        waited
    });
    assert!(sim_saw(&sim, session_read).await, "the wait never polled");
    sigterm(&http);

    let waited = tokio::time::timeout(Duration::from_secs(60), call)
        .await
        .expect("the wait answers soon after SIGTERM")
        .unwrap();
    assert_eq!(waited["timed_out"], true, "{waited}");
    let exit = exit_within(&mut http, Duration::from_secs(60)).await;
    assert!(exit.success(), "{exit:?}");
}

#[tokio::test]
async fn a_call_longer_than_the_shutdown_timeout_is_cut_and_the_server_still_exits_zero() {
    let sim = simulator().await;
    let (mut http, call) = server_with_a_call_held(&sim, "1", Duration::from_secs(300)).await;
    sigterm(&http);

    // Far less than the five minutes the call would take.
    let exit = exit_within(&mut http, Duration::from_secs(60)).await;
    assert!(exit.success(), "{exit:?}");
    assert!(
        http.log_contains("cut off").await,
        "the log says requests were cut: {}",
        http.log_text()
    );
    let answered = tokio::time::timeout(Duration::from_secs(60), call)
        .await
        .expect("the client learns that its call is gone")
        .unwrap();
    assert!(answered.is_err(), "{answered:?}");
}

#[tokio::test]
async fn in_session_mode_idle_clients_do_not_hold_up_shutdown() {
    let sim = simulator().await;
    let mut http = HttpServer::start(&sim, &["--sessions", "--shutdown-timeout", "300"]).await;
    // rmcp's client keeps an event stream (GET) open for server messages while idle.
    let server = http.client(Some(TOKEN)).await;
    server.client.list_all_tools().await.unwrap();
    // And a raw one, whose end this test watches.
    let session = open_session(&http, Some(TOKEN)).await;
    let stream = http_support::http()
        .get(http.mcp_url())
        .bearer_auth(TOKEN)
        .header("accept", "text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    sigterm(&http);

    // The stream ends instead of being held open for the five-minute shutdown timeout.
    let rest = tokio::time::timeout(Duration::from_secs(60), stream.bytes())
        .await
        .expect("the idle event stream ends soon after SIGTERM");
    assert!(rest.is_ok(), "{rest:?}");
    let exit = exit_within(&mut http, Duration::from_secs(60)).await;
    assert!(exit.success(), "{exit:?}");
    assert!(
        http.log_contains("all requests finished").await,
        "{}",
        http.log_text()
    );
    drop(server);
}

#[tokio::test]
async fn a_second_signal_stops_at_once_with_a_failure_status() {
    let sim = simulator().await;
    let (mut http, _call) = server_with_a_call_held(&sim, "300", Duration::from_secs(300)).await;
    sigterm(&http);
    assert!(http.log_contains("shutting down").await);
    sigterm(&http);

    let exit = exit_within(&mut http, Duration::from_secs(60)).await;
    assert_eq!(exit.code(), Some(1), "{exit:?}");
    assert!(
        http.log_contains("second signal").await,
        "{}",
        http.log_text()
    );
}

/// A server with `--shutdown-timeout secs` and a `get_status` call in flight that the
/// simulator holds for `hold`; returns once the call has reached the simulator.
async fn server_with_a_call_held(
    sim: &Simulator,
    shutdown_timeout: &str,
    hold: Duration,
) -> (
    HttpServer,
    tokio::task::JoinHandle<Result<rmcp::model::CallToolResult, rmcp::ServiceError>>,
) {
    let mut command = http_support::command(sim, &["--shutdown-timeout", shutdown_timeout]);
    command
        .env("DEVIN_MCP_TOKEN", TOKEN)
        .env("DEVIN_API_TIMEOUT_SECS", "600");
    let http = HttpServer::spawn(command).await;
    let server = http.client(Some(TOKEN)).await;
    let created = server.ok("create_session", json!({ "prompt": "p" })).await;
    let id = created["session_id"].as_str().unwrap().to_owned();
    sim.inject_fault(Fault {
        method: Some(http::Method::GET),
        path_contains: "/sessions/".to_owned(),
        times: Some(1),
        kind: FaultKind::Delay(hold),
    });
    let call = tokio::spawn(async move {
        let params = rmcp::model::CallToolRequestParams::new("get_status")
            .with_arguments(json!({ "session_id": id }).as_object().unwrap().clone());
        server.client.call_tool(params).await
    });
    assert!(
        sim_saw(sim, session_read).await,
        "the call never reached the simulator"
    );
    (http, call)
}
