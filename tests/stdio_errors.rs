//! Every failure a tool call can meet becomes a tool result with `isError` and a sentence a
//! model can act on, and the server keeps serving afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod mcp_support;

use std::time::Duration;

use devin_mcp::sim::{Fault, FaultKind};
use http::Method;
use mcp_support::{Server, report_schema, server_command, simulator};
use serde_json::json;

fn fault(method: Method, path_contains: &str, times: Option<u32>, kind: FaultKind) -> Fault {
    Fault {
        method: Some(method),
        path_contains: path_contains.to_owned(),
        times,
        kind,
    }
}

fn status(status: u16, retry_after: Option<&str>) -> FaultKind {
    FaultKind::Status {
        status,
        retry_after: retry_after.map(str::to_owned),
        body: None,
    }
}

fn posts_to_sessions(sim: &devin_mcp::sim::Simulator) -> usize {
    sim.requests()
        .iter()
        .filter(|request| request.method == "POST" && request.path.ends_with("/sessions"))
        .count()
}

#[tokio::test]
async fn a_rejected_key_says_so_and_the_server_keeps_serving() {
    let sim = simulator().await;
    let server = Server::start_with(server_command(&sim, "cog_not_a_real_key")).await;
    let message = server
        .err("get_status", json!({ "session_id": "devin-abc" }))
        .await;
    assert!(
        message.contains("401") && message.contains("DEVIN_API_KEY"),
        "{message}"
    );
    assert!(
        !message.contains("cog_not_a_real_key"),
        "the key leaked: {message}"
    );
    // Still serving.
    let again = server
        .err("list_attachments", json!({ "session_id": "devin-abc" }))
        .await;
    assert!(again.contains("401"), "{again}");
    server.stop().await;
}

#[tokio::test]
async fn an_unknown_session_names_the_id_and_the_accepted_forms() {
    let sim = simulator().await;
    let server = Server::start(&sim).await;
    let unknown = "devin-0123456789abcdef0123456789abcdef";
    for tool in [
        "get_status",
        "get_structured_output",
        "list_attachments",
        "terminate",
    ] {
        let message = server.err(tool, json!({ "session_id": unknown })).await;
        assert!(
            message.contains(unknown) && message.contains("404"),
            "{tool}: {message}"
        );
    }
    let message = server
        .err(
            "send_message",
            json!({ "session_id": unknown, "message": "hi" }),
        )
        .await;
    assert!(message.contains("not found"), "{message}");
    server.stop().await;
}

#[tokio::test]
async fn bad_arguments_are_refused_before_anything_is_sent() {
    let sim = simulator().await;
    let server = Server::start(&sim).await;
    let cases = [
        (
            "get_status",
            json!({ "session_id": "not an id!" }),
            "devin-<id>",
        ),
        ("get_status", json!({}), "session_id"),
        (
            "get_status",
            json!({ "session_id": 42 }),
            "Invalid arguments for get_status: session_id:",
        ),
        (
            "create_session",
            json!({ "prompt": "x", "max_acu_limit": "lots" }),
            "max_acu_limit: invalid type",
        ),
        (
            "create_session",
            json!({ "prompt": "x", "repos": ["acme/api", 7] }),
            "repos[1]",
        ),
        (
            "get_status",
            json!({ "sessionId": "devin-abc" }),
            "sessionId",
        ),
        ("create_session", json!({ "prompt": "  " }), "prompt"),
        (
            "create_session",
            json!({ "prompt": "x", "max_acu_limit": 0 }),
            "max_acu_limit",
        ),
        (
            "create_session",
            json!({ "prompt": "x", "max_acu_limit": -3 }),
            "positive",
        ),
        (
            "create_session",
            json!({ "prompt": "x", "structured_output_schema": "object" }),
            "JSON object",
        ),
        (
            "create_session",
            json!({ "prompt": "x", "structured_output_schema": {"type": "objekt"} }),
            "not a valid JSON Schema",
        ),
        (
            "create_session",
            json!({ "prompt": "x", "structured_output_schema": {"$ref": "https://evil.example/s.json"} }),
            "self-contained",
        ),
        (
            "create_session",
            json!({ "prompt": "x", "structured_output_schema": {"description": "y".repeat(70_000)} }),
            "limit",
        ),
        (
            "create_session",
            json!({ "prompt": "x", "devin_mode": "turbo" }),
            "turbo",
        ),
        (
            "send_message",
            json!({ "session_id": "devin-abc", "message": "" }),
            "message",
        ),
    ];
    for (tool, arguments, expected) in cases {
        let message = server.err(tool, arguments.clone()).await;
        assert!(message.contains(expected), "{tool}({arguments}): {message}");
    }
    assert_eq!(
        posts_to_sessions(&sim),
        0,
        "a refused create must not reach Devin"
    );
    let requests = sim.requests().len();
    assert_eq!(
        requests, 0,
        "refused arguments must not reach Devin: {requests} requests"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_misplaced_session_secret_is_not_quoted_back() {
    let sim = simulator().await;
    let server = Server::start(&sim).await;
    let secret = "s3cr3t-value-9f2c";
    let cases = [
        json!({ "prompt": "x", "session_secrets": format!("TOKEN={secret}") }),
        json!({ "prompt": "x", "session_secrets": [{ "key": "TOKEN", "value": 12345 }] }),
        json!({ "prompt": "x", "session_secrets": [format!("TOKEN={secret}")] }),
    ];
    for arguments in cases {
        let message = server.err("create_session", arguments.clone()).await;
        assert!(
            message.contains("Invalid arguments for create_session: session_secrets"),
            "the sentence names the argument: {arguments}: {message}"
        );
        assert!(
            !message.contains(secret) && !message.contains("12345"),
            "the secret came back: {message}"
        );
    }
    assert_eq!(sim.requests().len(), 0, "nothing may reach Devin");
    server.stop().await;
}

#[tokio::test]
async fn a_validation_error_from_devin_is_quoted() {
    let sim = simulator().await;
    let server = Server::start(&sim).await;
    let message = server
        .err(
            "create_session",
            json!({ "prompt": "x", "platform": "amiga" }),
        )
        .await;
    assert!(
        message.contains("400") && message.contains("platform"),
        "{message}"
    );

    sim.inject_fault(fault(Method::POST, "/sessions", Some(1), status(422, None)));
    let message = server.err("create_session", json!({ "prompt": "x" })).await;
    assert!(
        message.contains("422") && message.contains("Fix them"),
        "{message}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_429_is_retried_after_retry_after_even_on_create() {
    let sim = simulator().await;
    let server = Server::start(&sim).await;
    sim.inject_fault(fault(
        Method::POST,
        "/sessions",
        Some(1),
        status(429, Some("1")),
    ));
    let created = server.ok("create_session", json!({ "prompt": "x" })).await;
    assert!(
        created["session_id"]
            .as_str()
            .unwrap()
            .starts_with("devin-")
    );
    assert_eq!(
        posts_to_sessions(&sim),
        2,
        "one 429, then one accepted create"
    );
    server.stop().await;
}

#[tokio::test]
async fn rate_limits_that_outlast_the_retries_say_when_to_come_back() {
    let sim = simulator().await;
    let server = Server::start(&sim).await;
    sim.inject_fault(fault(
        Method::GET,
        "/sessions/",
        None,
        status(429, Some("1")),
    ));
    let message = server
        .err("get_status", json!({ "session_id": "devin-abc" }))
        .await;
    assert!(
        message.contains("429") && message.contains("Wait"),
        "{message}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_server_error_on_create_is_not_retried_and_warns_it_may_have_happened() {
    let sim = simulator().await;
    let server = Server::start(&sim).await;
    sim.inject_fault(fault(Method::POST, "/sessions", Some(1), status(503, None)));
    let message = server.err("create_session", json!({ "prompt": "x" })).await;
    assert!(
        message.contains("503") && message.contains("unknown whether"),
        "{message}"
    );
    assert_eq!(
        posts_to_sessions(&sim),
        1,
        "a POST is never resent after a 5xx"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_dropped_create_is_not_resent() {
    let sim = simulator().await;
    let server = Server::start(&sim).await;
    sim.inject_fault(fault(
        Method::POST,
        "/sessions",
        Some(1),
        FaultKind::DropAfterProcessing,
    ));
    let message = server.err("create_session", json!({ "prompt": "x" })).await;
    assert!(message.contains("unknown whether"), "{message}");
    assert_eq!(posts_to_sessions(&sim), 1);
    server.stop().await;
}

#[tokio::test]
async fn a_server_error_on_read_is_retried_then_reported() {
    let sim = simulator().await;
    let server = Server::start(&sim).await;
    let created = server.ok("create_session", json!({ "prompt": "x" })).await;
    let id = created["session_id"].as_str().unwrap().to_owned();

    sim.inject_fault(fault(Method::GET, "/sessions/", Some(1), status(500, None)));
    let status_view = server.ok("get_status", json!({ "session_id": id })).await;
    assert_eq!(
        status_view["session_id"],
        id.as_str(),
        "one 500 is absorbed by a retry"
    );

    sim.inject_fault(fault(Method::GET, "/sessions/", None, status(500, None)));
    let message = server.err("get_status", json!({ "session_id": id })).await;
    assert!(
        message.contains("500") && message.contains("Try again"),
        "{message}"
    );
    sim.clear_faults();
    server.ok("get_status", json!({ "session_id": id })).await;
    server.stop().await;
}

#[tokio::test]
async fn a_malformed_body_is_reported_with_where_it_broke() {
    let sim = simulator().await;
    let server = Server::start(&sim).await;
    let created = server.ok("create_session", json!({ "prompt": "x" })).await;
    let id = created["session_id"].as_str().unwrap().to_owned();
    sim.inject_fault(fault(
        Method::GET,
        "/sessions/",
        None,
        FaultKind::MalformedBody,
    ));
    let message = server.err("get_status", json!({ "session_id": id })).await;
    assert!(message.contains("cannot read"), "{message}");
    sim.clear_faults();
    server.ok("get_status", json!({ "session_id": id })).await;
    server.stop().await;
}

#[tokio::test]
async fn a_slow_api_times_out_with_a_clear_message() {
    let sim = simulator().await;
    let mut command = server_command(&sim, sim.api_key());
    command
        .env("DEVIN_API_TIMEOUT_SECS", "0.5")
        .env("DEVIN_API_MAX_RETRIES", "0");
    let server = Server::start_with(command).await;
    sim.inject_fault(fault(
        Method::GET,
        "/sessions/",
        None,
        FaultKind::Delay(Duration::from_secs(3)),
    ));
    let message = server
        .err("get_status", json!({ "session_id": "devin-abc" }))
        .await;
    assert!(message.contains("did not answer in time"), "{message}");
    server.stop().await;
}

#[tokio::test]
async fn messages_to_an_ended_session_explain_what_to_do_instead() {
    let sim = simulator().await;
    let server = Server::start(&sim).await;
    let created = server
        .ok(
            "create_session",
            json!({ "prompt": "x", "structured_output_schema": report_schema() }),
        )
        .await;
    let id = created["session_id"].as_str().unwrap().to_owned();
    server.ok("terminate", json!({ "session_id": id })).await;
    let message = server
        .err(
            "send_message",
            json!({ "session_id": id, "message": "more" }),
        )
        .await;
    assert!(message.contains("create a new session"), "{message}");
    server.stop().await;
}

#[tokio::test]
async fn an_api_error_that_quotes_a_session_secret_does_not_pass_it_on() {
    let sim = simulator().await;
    let server = Server::start(&sim).await;
    let secret = "tab\there \"quoted\" sécret";
    // The API's detail quotes the request body back, as some validation errors do.
    let echoed = serde_json::to_string(secret).unwrap();
    let problem = json!({
        "title": "Unprocessable Entity", "status": 422,
        "detail": format!("session_secrets[0].value {echoed} is not allowed"),
    });
    let quoting = FaultKind::Status {
        status: 422,
        retry_after: None,
        body: Some(problem.to_string()),
    };
    sim.inject_fault(fault(Method::POST, "/sessions", Some(2), quoting));
    let long = server
        .err(
            "create_session",
            json!({ "prompt": "x", "session_secrets": [{"key": "K", "value": secret}] }),
        )
        .await;
    assert!(
        long.contains("422") && long.contains("<redacted>"),
        "{long}"
    );
    assert!(!long.contains("sécret"), "the secret came back: {long}");

    // A value too short to search for safely: the API's words are left out altogether.
    let short = server
        .err(
            "create_session",
            json!({ "prompt": "x", "session_secrets": [{"key": "K", "value": "42"}] }),
        )
        .await;
    assert!(short.contains("422"), "{short}");
    assert!(
        !short.contains("is not allowed"),
        "the detail was quoted: {short}"
    );
    server.stop().await;
}
