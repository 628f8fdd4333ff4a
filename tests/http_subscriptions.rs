//! Resource updates and tasks over `devin-mcp http`: a 2026-07-28 `subscriptions/listen` stream
//! hears of session changes, a stateless server refuses `resources/subscribe` with the ways
//! that work, and a task answers only the caller who started it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod http_support;
mod mcp_support;

use std::time::Duration;

use devin_mcp::devin::models::{SessionStatus, StatusDetail};
use http_support::{HttpServer, TOKEN, temp_file};
use mcp_support::{TaskClient, simulator, tool_request};
use rmcp::ServiceError;
use rmcp::ServiceExt;
use rmcp::model::{
    CallToolResponse, GetTaskParams, ServerNotification, SubscribeRequestParams, SubscriptionFilter,
};
use rmcp::transport::StreamableHttpClientTransport;
use serde_json::json;

#[tokio::test]
async fn a_listen_stream_hears_of_session_changes_and_only_of_those_asked_for() {
    let sim = simulator().await;
    let mut command = http_support::command(&sim, &[]);
    command
        .env("DEVIN_MCP_TOKEN", TOKEN)
        .env("DEVIN_MCP_POLL_MIN_SECS", "0.05")
        .env("DEVIN_MCP_POLL_MAX_SECS", "0.2");
    let http = HttpServer::spawn(command).await;
    let server = http.stateless_client(Some(TOKEN)).await;
    let created = server
        .ok("create_session", json!({ "prompt": "Watch me" }))
        .await;
    let id = created["session_id"].as_str().unwrap().to_owned();
    let uri = format!("devin://sessions/{id}");
    let filter = SubscriptionFilter::builder()
        .resource_subscription(uri.clone())
        .resource_subscription("test://not-ours")
        .tools_list_changed()
        .build();
    let mut stream = server.client.peer().listen(filter).await.unwrap();
    assert_eq!(
        stream.acknowledged().resource_subscriptions.as_deref(),
        Some([uri.clone()].as_slice()),
        "only this server's resources are accepted, and no list changes (none happen)"
    );
    assert_eq!(stream.acknowledged().tools_list_changed, None);

    // Nothing changes while the simulator's clock stands still: the stream stays silent.
    let quiet = tokio::time::timeout(Duration::from_millis(800), stream.next()).await;
    assert!(
        quiet.is_err(),
        "a notification though nothing changed: {quiet:?}"
    );

    sim.set_status(&id, SessionStatus::Running, Some(StatusDetail::Working))
        .unwrap();
    let heard = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("an update within 10 s")
        .unwrap()
        .expect("the stream is open");
    let ServerNotification::ResourceUpdatedNotification(update) = heard else {
        panic!("a resource update, not {heard:?}")
    };
    assert_eq!(update.params.uri, uri);
    server.stop().await;
}

#[tokio::test]
#[allow(deprecated)]
async fn a_stateless_server_refuses_resources_subscribe_and_says_what_works() {
    let sim = simulator().await;
    let http = HttpServer::start(&sim, &[]).await;
    let server = http.client(Some(TOKEN)).await;
    let refused = server
        .client
        .subscribe(SubscribeRequestParams::new(
            "devin://sessions/devin-0123456789abcdef0123456789abcdef".to_owned(),
        ))
        .await;
    let Err(ServiceError::McpError(error)) = refused else {
        panic!("a JSON-RPC error, not {refused:?}")
    };
    assert!(error.message.contains("subscriptions/listen"), "{error:?}");
    assert!(error.message.contains("--sessions"), "{error:?}");
    server.stop().await;
}

#[tokio::test]
async fn a_task_answers_only_the_caller_who_started_it() {
    let sim = simulator().await;
    let tokens = temp_file(
        "tokens.toml",
        "[[token]]\nname = \"alice\"\ntoken = \"alice-token-0123456789\"\n\n\
         [[token]]\nname = \"bob\"\ntoken = \"bob-token-0123456789ab\"\n",
    );
    // Session mode: a stateless 2025-11-25 request carries no client capabilities, so no tasks.
    let http = HttpServer::start(&sim, &["--sessions", "--tokens", tokens.to_str().unwrap()]).await;
    let connect = |token: &'static str| {
        let transport =
            StreamableHttpClientTransport::from_config(http.transport_config(Some(token)));
        TaskClient.serve(transport)
    };
    let alice = connect("alice-token-0123456789").await.unwrap();
    let bob = connect("bob-token-0123456789ab").await.unwrap();
    let create = tool_request("create_session", json!({ "prompt": "Alice's" }));
    let CallToolResponse::Complete(created) = alice.call_tool_once(create).await.unwrap() else {
        panic!("a create without a wait is an ordinary call")
    };
    let id = created.structured_content.unwrap()["session_id"].clone();
    let wait = tool_request(
        "wait_for_sessions",
        json!({ "session_ids": [id], "timeout_seconds": 60 }),
    );
    let CallToolResponse::Task(task) = alice.call_tool_once(wait).await.unwrap() else {
        panic!("the wait runs as a task")
    };
    let task_id = task.task.task_id.clone();
    assert!(
        alice
            .get_task(GetTaskParams::new(task_id.clone()))
            .await
            .is_ok()
    );

    let theirs = bob.get_task(GetTaskParams::new(task_id.clone())).await;
    let unknown = bob
        .get_task(GetTaskParams::new("00000000-0000-4000-8000-000000000000"))
        .await;
    let message = |result: Result<_, ServiceError>| match result {
        Err(ServiceError::McpError(error)) => (error.code, error.message.replace(&task_id, "ID")),
        Err(other) => panic!("a JSON-RPC error, not {other:?}"),
        Ok(task) => panic!("bob read alice's task: {task:?}"),
    };
    let (theirs, unknown) = (message(theirs), message(unknown));
    assert_eq!(
        theirs.0, unknown.0,
        "another caller's task reads as an unknown one"
    );
    assert_eq!(
        theirs.1,
        unknown
            .1
            .replace("00000000-0000-4000-8000-000000000000", "ID")
    );
    let cancel = bob
        .cancel_task(rmcp::model::CancelTaskParams::new(task_id.clone()))
        .await;
    assert!(cancel.is_err(), "bob cancelled alice's task");
    assert!(alice.get_task(GetTaskParams::new(task_id)).await.is_ok());
    let _ = alice.cancel().await;
    let _ = bob.cancel().await;
}
