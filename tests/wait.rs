//! Waiting, fan-out and fan-in through the real binary: early returns, `any` against `all`,
//! timeouts, progress cadence, cancellation, shared pollers, batches, child sessions and
//! resource subscriptions. The simulator's clock stays still unless a test moves it; the
//! server polls fast (50–200 ms) so that the tests run in seconds.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod mcp_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use devin_mcp::devin::models::{PrState, SessionStatus, StatusDetail};
use devin_mcp::sim::{Fault, FaultKind, Simulator};
use http::Method;
use mcp_support::{TaskClient, report_schema, server_command, simulator, text, tool_request};
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResponse, CallToolResult, CancelTaskParams,
    ClientRequest, DetailedTask, GetTaskParams, ProgressNotificationParam,
    ReadResourceRequestParams, ResourceContents, ResourceUpdatedNotificationParam,
    SubscribeRequestParams, TaskPayload, TaskStatus,
};
use rmcp::service::{NotificationContext, PeerRequestOptions, RunningService, ServiceError};
use rmcp::transport::TokioChildProcess;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Value, json};

/// Records what the server sends besides answers.
#[derive(Clone, Default)]
struct Recorder {
    progress: Arc<Mutex<Vec<ProgressNotificationParam>>>,
    /// When each progress notification arrived.
    progress_at: Arc<Mutex<Vec<std::time::Instant>>>,
    updated: Arc<Mutex<Vec<String>>>,
}

impl ClientHandler for Recorder {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.progress.lock().unwrap().push(params);
        self.progress_at
            .lock()
            .unwrap()
            .push(std::time::Instant::now());
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.updated.lock().unwrap().push(params.uri);
    }
}

struct Harness {
    sim: Simulator,
    client: RunningService<RoleClient, Recorder>,
    recorder: Recorder,
}

impl Harness {
    /// The server polls every 50-200 ms and sends progress every 250 ms.
    async fn start() -> Self {
        Self::start_polling("0.2").await
    }

    /// Like [`Harness::start`], with pollers backing off up to `max_secs`.
    async fn start_polling(max_secs: &str) -> Self {
        let sim = simulator().await;
        let mut command = server_command(&sim, sim.api_key());
        command
            .env("DEVIN_MCP_POLL_MIN_SECS", "0.05")
            .env("DEVIN_MCP_POLL_MAX_SECS", max_secs)
            .env("DEVIN_MCP_PROGRESS_SECS", "0.25");
        let (transport, _) = TokioChildProcess::builder(command)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let recorder = Recorder::default();
        let client = recorder.clone().serve(transport).await.unwrap();
        Self {
            sim,
            client,
            recorder,
        }
    }

    async fn call(&self, tool: &str, arguments: Value) -> CallToolResult {
        let Value::Object(arguments) = arguments else {
            panic!("arguments must be an object")
        };
        let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments);
        self.client.call_tool(params).await.unwrap()
    }

    async fn ok(&self, tool: &str, arguments: Value) -> Value {
        let result = self.call(tool, arguments.clone()).await;
        assert_ne!(
            result.is_error,
            Some(true),
            "{tool}({arguments}): {}",
            text(&result)
        );
        result.structured_content.unwrap()
    }

    async fn create(&self, prompt: &str) -> String {
        let created = self.ok("create_session", json!({ "prompt": prompt })).await;
        created["session_id"].as_str().unwrap().to_owned()
    }

    fn gets_of(&self, session_id: &str) -> usize {
        self.sim
            .requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path.ends_with(session_id))
            .count()
    }
}

/// Runs `action` once the server has polled `session` again, then lets that poll's answer
/// land: a change made this way comes after the wait took its first look, however slow the
/// machine, so the wait must notice it as news.
fn after_first_poll(sim: &Simulator, session: &str, action: impl FnOnce() + Send + 'static) {
    let gets = |sim: &Simulator, session: &str| {
        sim.requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path.ends_with(session))
            .count()
    };
    let before = gets(sim, session);
    let (sim, session) = (sim.clone(), session.to_owned());
    tokio::spawn(async move {
        for _ in 0..3000 {
            if gets(&sim, &session) > before {
                tokio::time::sleep(Duration::from_millis(100)).await;
                action();
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{session} was never polled");
    });
}

fn later(delay_ms: u64, action: impl FnOnce() + Send + 'static) {
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        action();
    });
}

#[tokio::test]
async fn a_wait_returns_early_when_devin_asks_a_question() {
    let h = Harness::start().await;
    let id = h.create("Port the CLI to clap").await;
    let (sim, session) = (h.sim.clone(), id.clone());
    after_first_poll(&h.sim, &id, move || {
        sim.post_devin_message(&session, "Which minimum Rust version should I target?")
            .unwrap();
        sim.set_status(
            &session,
            SessionStatus::Running,
            Some(StatusDetail::WaitingForUser),
        )
        .unwrap();
    });
    let waited = h
        .ok(
            "wait_for_sessions",
            json!({ "session_ids": [id], "timeout_seconds": 60 }),
        )
        .await;
    assert_eq!(waited["timed_out"], false);
    assert!(
        waited["waited_seconds"].as_f64().unwrap() < 30.0,
        "{waited}"
    );
    let state = &waited["sessions"][0];
    assert_eq!(state["session_id"], id.as_str());
    assert_eq!(state["needs_input"], true);
    assert_eq!(state["done_because"], "settled");
    let messages = state["new_messages"].as_array().unwrap();
    assert!(
        messages
            .iter()
            .any(|m| m.as_str().unwrap().contains("minimum Rust version")),
        "Devin's question comes with the result: {state}"
    );
}

#[tokio::test]
async fn any_returns_with_the_first_session_and_all_waits_for_every_one() {
    let h = Harness::start().await;
    let first = h.create("Task one").await;
    let second = h.create("Task two").await;
    h.sim
        .set_status(&first, SessionStatus::Running, Some(StatusDetail::Finished))
        .unwrap();

    let any = h
        .ok(
            "wait_for_sessions",
            json!({ "session_ids": [first, second] }),
        )
        .await;
    assert_eq!(any["timed_out"], false);
    assert_eq!(any["sessions"][0]["done_because"], "settled");
    assert_eq!(any["sessions"][1]["done_because"], Value::Null);

    let all_short = h
        .ok(
            "wait_for_sessions",
            json!({ "session_ids": [first, second], "until": "all", "timeout_seconds": 1 }),
        )
        .await;
    assert_eq!(
        all_short["timed_out"], true,
        "the second session never settled: {all_short}"
    );
    assert!(all_short["waited_seconds"].as_f64().unwrap() >= 1.0);
    assert_eq!(
        all_short["sessions"][1]["status"], "new",
        "the current state comes back anyway"
    );

    let (sim, session) = (h.sim.clone(), second.clone());
    after_first_poll(&h.sim, &second, move || {
        sim.set_status(
            &session,
            SessionStatus::Suspended,
            Some(StatusDetail::OutOfCredits),
        )
        .unwrap();
    });
    let all = h
        .ok(
            "wait_for_sessions",
            json!({ "session_ids": [first, second], "until": "all" }),
        )
        .await;
    assert_eq!(all["timed_out"], false);
    assert_eq!(all["sessions"][1]["status"], "suspended");
    assert_eq!(all["sessions"][1]["done_because"], "settled");
}

#[tokio::test]
async fn conditions_end_a_wait_before_the_session_settles() {
    let h = Harness::start().await;
    let id = h.create("Open a PR for the fix").await;
    h.sim
        .set_status(&id, SessionStatus::Running, Some(StatusDetail::Working))
        .unwrap();

    let (sim, session) = (h.sim.clone(), id.clone());
    after_first_poll(&h.sim, &id, move || {
        sim.add_pull_request(
            &session,
            "https://github.com/acme/api/pull/7",
            PrState::Open,
        )
        .unwrap();
    });
    let waited = h
        .ok(
            "wait_for_sessions",
            json!({ "session_ids": [id], "on_pull_request": true }),
        )
        .await;
    assert_eq!(
        waited["sessions"][0]["done_because"], "pull_request",
        "{waited}"
    );
    assert_eq!(
        waited["sessions"][0]["pull_requests"][0]["pr_url"],
        "https://github.com/acme/api/pull/7"
    );

    let (sim, session) = (h.sim.clone(), id.clone());
    after_first_poll(&h.sim, &id, move || {
        sim.set_structured_output(&session, json!({"phase": "review", "done": false}))
            .unwrap();
    });
    let waited = h
        .ok(
            "wait_for_sessions",
            json!({ "session_ids": [id], "output_pointer": "/phase", "output_value": "review" }),
        )
        .await;
    assert_eq!(
        waited["sessions"][0]["done_because"], "output_matches",
        "{waited}"
    );
    assert_eq!(
        waited["sessions"][0]["structured_output"]["phase"],
        "review"
    );

    let (sim, session) = (h.sim.clone(), id.clone());
    after_first_poll(&h.sim, &id, move || {
        sim.set_structured_output(&session, json!({"phase": "merge", "done": true}))
            .unwrap();
    });
    let waited = h
        .ok(
            "wait_for_sessions",
            json!({ "session_ids": [id], "on_output_change": true }),
        )
        .await;
    assert_eq!(
        waited["sessions"][0]["done_because"], "output_changed",
        "{waited}"
    );
}

#[tokio::test]
async fn progress_notifications_keep_coming_while_waiting() {
    let h = Harness::start().await;
    let id = h.create("Long task").await;
    let (sim, session) = (h.sim.clone(), id.clone());
    after_first_poll(&h.sim, &id, move || {
        sim.set_status(
            &session,
            SessionStatus::Running,
            Some(StatusDetail::Working),
        )
        .unwrap();
    });
    let asked = std::time::Instant::now();
    let waited = h
        .ok(
            "wait_for_sessions",
            json!({ "session_ids": [id], "timeout_seconds": 2 }),
        )
        .await;
    let answered = std::time::Instant::now();
    assert_eq!(waited["timed_out"], true);
    let progress = h.recorder.progress.lock().unwrap().clone();
    assert!(
        progress.len() >= 3,
        "a 2 s wait with a 0.25 s cadence sent {}",
        progress.len()
    );
    // The cadence: no silence much longer than 0.25 s from the call to its answer (three
    // times that, for a busy machine; a cadence of 1 s or more fails this).
    let mut arrivals = vec![asked];
    arrivals.extend(h.recorder.progress_at.lock().unwrap().iter().copied());
    arrivals.push(answered);
    let longest = arrivals
        .windows(2)
        .map(|pair| pair[1] - pair[0])
        .max()
        .unwrap();
    assert!(
        longest < Duration::from_millis(750),
        "{longest:?} passed without a progress notification"
    );
    for pair in progress.windows(2) {
        assert!(
            pair[1].progress > pair[0].progress,
            "progress must grow: {progress:?}"
        );
    }
    assert!(progress.iter().all(|p| p.total == Some(2.0)));
    let messages: Vec<String> = progress.iter().filter_map(|p| p.message.clone()).collect();
    assert!(
        messages.iter().any(|m| m.contains("waiting on 1 session")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("new -> running/working")),
        "a status change is announced: {messages:?}"
    );
}

#[tokio::test]
async fn a_cancelled_wait_stops_polling() {
    let h = Harness::start().await;
    let id = h.create("Never settles").await;
    let params = tool_request(
        "wait_for_sessions",
        json!({ "session_ids": [id], "timeout_seconds": 600 }),
    );
    let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
    let options = PeerRequestOptions::with_timeout(Duration::from_millis(700));
    let handle = h
        .client
        .peer()
        .send_cancellable_request(request, options)
        .await
        .unwrap();
    let outcome = handle.await_response().await;
    assert!(
        matches!(outcome, Err(ServiceError::Timeout { .. })),
        "{outcome:?}"
    );
    assert!(h.gets_of(&id) > 1, "the wait was polling");

    tokio::time::sleep(Duration::from_millis(300)).await;
    h.sim.clear_requests();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        h.gets_of(&id),
        0,
        "polling went on after the wait was cancelled"
    );
    // The server is still serving.
    h.ok("get_status", json!({ "session_id": id })).await;
}

#[tokio::test]
async fn ten_waits_on_one_session_cost_the_api_what_one_does() {
    let h = Harness::start().await;
    let id = h.create("Shared").await;
    let arguments = json!({ "session_ids": [id], "timeout_seconds": 2 });

    h.sim.clear_requests();
    h.ok("wait_for_sessions", arguments.clone()).await;
    let one = h.gets_of(&id);

    h.sim.clear_requests();
    let waits = (0..10).map(|_| h.ok("wait_for_sessions", arguments.clone()));
    let results = futures::future::join_all(waits).await;
    assert!(results.iter().all(|r| r["timed_out"] == true));
    let ten = h.gets_of(&id);
    assert!(one > 0);
    assert!(
        ten <= one + 3,
        "ten waits made {ten} requests where one made {one}"
    );
}

#[tokio::test]
async fn a_batch_reports_the_failing_item_and_creates_the_others_once() {
    let h = Harness::start().await;
    h.ok(
        "get_status",
        json!({ "session_id": h.create("warm up").await }),
    )
    .await;
    h.sim.clear_requests();
    h.sim.inject_fault(Fault {
        method: Some(Method::POST),
        path_contains: "/sessions".into(),
        times: Some(1),
        kind: FaultKind::Status {
            status: 422,
            retry_after: None,
            body: None,
        },
    });
    let batch = h
        .ok(
            "create_sessions",
            json!({
                "prompts": ["Upgrade crate a", "Upgrade crate b", "Upgrade crate c"],
                "defaults": {"tags": ["nightly"], "structured_output_schema": report_schema()},
                "max_parallel": 3
            }),
        )
        .await;
    assert_eq!(batch["created"], 2, "{batch}");
    assert_eq!(batch["failed"], 1, "{batch}");
    let tag = batch["batch_tag"].as_str().unwrap().to_owned();
    let items = batch["sessions"].as_array().unwrap();
    assert_eq!(
        items
            .iter()
            .map(|i| i["index"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [0, 1, 2]
    );
    let failed: Vec<_> = items.iter().filter(|i| i["error"].is_string()).collect();
    assert!(
        failed[0]["error"].as_str().unwrap().contains("422"),
        "{batch}"
    );
    let posts = h
        .sim
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts, 3, "no item is created twice");

    let ids: Vec<String> = items
        .iter()
        .filter_map(|i| i["session_id"].as_str().map(str::to_owned))
        .collect();
    for id in &ids {
        let tags = h.sim.session(id).unwrap().tags;
        assert!(
            tags.contains(&tag) && tags.contains(&"nightly".to_owned()),
            "{tags:?}"
        );
    }

    // Calling again with the batch tag creates only the prompt that failed.
    h.sim.clear_requests();
    let retried = h
        .ok(
            "create_sessions",
            json!({
                "prompts": ["Upgrade crate a", "Upgrade crate b", "Upgrade crate c"],
                "defaults": {"tags": ["nightly"], "structured_output_schema": report_schema()},
                "batch_tag": tag,
            }),
        )
        .await;
    assert_eq!(retried["batch_tag"], tag.as_str());
    assert_eq!(retried["created"], 3, "{retried}");
    let posts = h
        .sim
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts, 1, "only the failed prompt is sent again: {retried}");
    for (before, after) in items.iter().zip(retried["sessions"].as_array().unwrap()) {
        if before["session_id"].is_string() {
            assert_eq!(before["session_id"], after["session_id"], "{retried}");
            assert_eq!(after["existed"], true, "{retried}");
        } else {
            assert!(after["session_id"].is_string(), "{retried}");
            assert!(after.get("existed").is_none(), "{retried}");
        }
    }
    let refused = h
        .call(
            "create_sessions",
            json!({ "prompts": ["x"], "batch_tag": "nightly" }),
        )
        .await;
    assert_eq!(refused.is_error, Some(true));

    // Fan-in: wait for all of them and collect every structured output.
    for (n, id) in ids.iter().enumerate() {
        let (sim, session) = (h.sim.clone(), id.clone());
        later(200 + 200 * n as u64, move || {
            let output = json!({"summary": format!("done {n}"), "tests_passed": n, "risk": "low"});
            sim.set_structured_output(&session, output).unwrap();
            sim.set_status(
                &session,
                SessionStatus::Running,
                Some(StatusDetail::Finished),
            )
            .unwrap();
        });
    }
    let all = h
        .ok(
            "wait_for_sessions",
            json!({ "session_ids": ids, "until": "all" }),
        )
        .await;
    assert_eq!(all["timed_out"], false);
    for state in all["sessions"].as_array().unwrap() {
        assert_eq!(state["is_finished"], true, "{state}");
        assert!(
            jsonschema::is_valid(&report_schema(), &state["structured_output"]),
            "{state}"
        );
    }
}

#[tokio::test]
async fn create_session_can_wait_for_the_session_to_settle() {
    let h = Harness::start().await;
    let sim = h.sim.clone();
    later(400, move || sim.advance(Duration::from_secs(600)));
    let created = h
        .ok(
            "create_session",
            json!({
                "prompt": "Write the changelog",
                "structured_output_schema": report_schema(),
                "wait_seconds": 60
            }),
        )
        .await;
    assert!(
        created["session_id"]
            .as_str()
            .unwrap()
            .starts_with("devin-")
    );
    assert_eq!(created["timed_out"], false, "{created}");
    assert_eq!(created["status"], "running");
    assert_eq!(created["status_detail"], "finished");
    assert_eq!(created["is_finished"], true);
    assert_eq!(created["needs_input"], false);
    assert!(jsonschema::is_valid(
        &report_schema(),
        &created["structured_output"]
    ));
    assert!(
        !created["new_messages"].as_array().unwrap().is_empty(),
        "{created}"
    );
    let first = h.recorder.progress.lock().unwrap()[0].clone();
    let id = created["session_id"].as_str().unwrap();
    assert!(
        first.message.as_deref().unwrap_or_default().contains(id),
        "the new id goes out before the wait, in case the answer is lost: {first:?}"
    );

    let quick = h.ok("create_session", json!({ "prompt": "No wait" })).await;
    assert!(
        quick.get("is_finished").is_none() && quick.get("timed_out").is_none(),
        "{quick}"
    );
}

#[tokio::test]
async fn child_sessions_show_in_status_and_can_be_waited_on() {
    let h = Harness::start().await;
    let parent = h.create("Split the migration").await;
    let child = h.sim.spawn_child(&parent, "Migrate module a").unwrap();
    let status = h.ok("get_status", json!({ "session_id": parent })).await;
    assert_eq!(status["child_session_ids"], json!([child]));
    let child_status = h.ok("get_status", json!({ "session_id": child })).await;
    assert_eq!(child_status["parent_session_id"], parent.as_str());

    let (sim, session) = (h.sim.clone(), child.clone());
    after_first_poll(&h.sim, &child, move || {
        sim.set_status(&session, SessionStatus::Exit, None).unwrap()
    });
    let waited = h
        .ok("wait_for_sessions", json!({ "session_ids": [child] }))
        .await;
    assert_eq!(waited["sessions"][0]["is_terminal"], true);
}

#[tokio::test]
async fn wait_arguments_are_checked() {
    let h = Harness::start().await;
    let cases = [
        (json!({ "session_ids": [] }), "empty"),
        (
            json!({ "session_ids": ["devin-abc"], "timeout_seconds": 7200 }),
            "3600",
        ),
        (
            json!({ "session_ids": ["devin-abc"], "output_pointer": "/a" }),
            "together",
        ),
        (
            json!({ "session_ids": ["devin-abc"], "output_pointer": "a", "output_value": 1 }),
            "pointer",
        ),
        (json!({ "session_ids": ["no way"] }), "devin-<id>"),
        (
            json!({ "session_ids": ["devin-abc"], "until": "most" }),
            "most",
        ),
    ];
    for (arguments, expected) in cases {
        let result = h.call("wait_for_sessions", arguments.clone()).await;
        assert_eq!(result.is_error, Some(true), "{arguments}");
        assert!(
            text(&result).contains(expected),
            "{arguments}: {}",
            text(&result)
        );
    }
    let unknown = h
        .call(
            "wait_for_sessions",
            json!({ "session_ids": ["devin-0123456789abcdef0123456789abcdef"] }),
        )
        .await;
    assert_eq!(unknown.is_error, Some(true));
    assert!(text(&unknown).contains("404"), "{}", text(&unknown));
    let batch = h.call("create_sessions", json!({ "prompts": [] })).await;
    assert_eq!(batch.is_error, Some(true));
}

#[tokio::test]
#[allow(deprecated)]
async fn a_wait_that_joins_a_backed_off_poller_judges_the_session_as_it_is_now() {
    // Pollers back off to 30 s while nothing changes; a subscriber keeps this one running.
    let h = Harness::start_polling("30").await;
    let id = h.create("Ask me which database to use").await;
    h.sim
        .set_status(
            &id,
            SessionStatus::Running,
            Some(StatusDetail::WaitingForUser),
        )
        .unwrap();
    h.client
        .subscribe(SubscribeRequestParams::new(format!(
            "devin://sessions/{id}"
        )))
        .await
        .unwrap();
    // Long enough for the poller to see waiting_for_user and back off past a second.
    tokio::time::sleep(Duration::from_secs(2)).await;
    // The user answers; Devin works again. The poller's last snapshot still says "waiting".
    h.sim
        .set_status(&id, SessionStatus::Running, Some(StatusDetail::Working))
        .unwrap();
    let waited = h
        .ok(
            "wait_for_sessions",
            json!({ "session_ids": [id], "timeout_seconds": 1 }),
        )
        .await;
    let session = &waited["sessions"][0];
    assert_eq!(
        session["status_detail"], "working",
        "the wait took the poller's old snapshot for the present: {waited}"
    );
    assert_eq!(waited["timed_out"], true, "{waited}");
}

#[tokio::test]
#[allow(deprecated)]
async fn resources_read_and_a_subscriber_hears_of_changes() {
    let h = Harness::start().await;
    let id = h.create("Watch me").await;
    let templates = h.client.list_resource_templates(None).await.unwrap();
    let uris: Vec<&str> = templates
        .resource_templates
        .iter()
        .map(|t| t.uri_template.as_str())
        .collect();
    assert_eq!(
        uris,
        [
            "devin://sessions/{devin_id}",
            "devin://sessions/{devin_id}/messages"
        ]
    );

    let uri = format!("devin://sessions/{id}");
    let read = h
        .client
        .read_resource(ReadResourceRequestParams::new(uri.clone()))
        .await
        .unwrap();
    let ResourceContents::TextResourceContents { text: body, .. } = &read.contents[0] else {
        panic!("JSON text expected")
    };
    let document: Value = serde_json::from_str(body).unwrap();
    assert_eq!(document["session_id"], id.as_str());
    assert_eq!(document["status"], "new");

    let messages_uri = format!("devin://sessions/{id}/messages");
    let read = h
        .client
        .read_resource(ReadResourceRequestParams::new(messages_uri))
        .await
        .unwrap();
    let ResourceContents::TextResourceContents { text: body, .. } = &read.contents[0] else {
        panic!("JSON text expected")
    };
    let document: Value = serde_json::from_str(body).unwrap();
    assert_eq!(document["messages"][0]["message"], "Watch me");

    h.client
        .subscribe(SubscribeRequestParams::new(uri.clone()))
        .await
        .unwrap();
    // The poller runs every 50-200 ms; while the session stands still it must stay silent.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        h.recorder.updated.lock().unwrap().is_empty(),
        "an update was sent though nothing changed: {:?}",
        h.recorder.updated.lock().unwrap()
    );
    h.sim
        .set_status(&id, SessionStatus::Running, Some(StatusDetail::Working))
        .unwrap();
    let mut heard = false;
    for _ in 0..50 {
        if h.recorder.updated.lock().unwrap().contains(&uri) {
            heard = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(heard, "no notifications/resources/updated for {uri}");

    // After unsubscribing, changes go unheard.
    h.client
        .unsubscribe(rmcp::model::UnsubscribeRequestParams::new(uri.clone()))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    h.recorder.updated.lock().unwrap().clear();
    h.sim
        .set_status(&id, SessionStatus::Running, Some(StatusDetail::Finished))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        h.recorder.updated.lock().unwrap().is_empty(),
        "an update after unsubscribe"
    );

    let missing = h
        .client
        .read_resource(ReadResourceRequestParams::new("devin://nope".to_owned()))
        .await;
    let Err(ServiceError::McpError(error)) = missing else {
        panic!("a resource-not-found error, not {missing:?}")
    };
    assert_eq!(
        error.data,
        Some(json!({ "uri": "devin://nope" })),
        "{error:?}"
    );
}

async fn task_status(client: &RunningService<RoleClient, TaskClient>, id: &str) -> DetailedTask {
    client.get_task(GetTaskParams::new(id)).await.unwrap().task
}

/// The structured content of a task that must end `completed` within 10 s.
async fn completed_task_output(client: &RunningService<RoleClient, TaskClient>, id: &str) -> Value {
    for _ in 0..100 {
        let state = task_status(client, id).await;
        if state.task.status != TaskStatus::Working {
            assert_eq!(state.task.status, TaskStatus::Completed, "{state:?}");
            let TaskPayload::Completed { result } = state.payload else {
                panic!("completed tasks carry their result")
            };
            let result: CallToolResult = serde_json::from_value(Value::Object(result)).unwrap();
            return result.structured_content.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("task {id} did not end within 10 s")
}

#[tokio::test]
async fn clients_with_the_tasks_extension_get_waits_as_tasks() {
    let sim = simulator().await;
    let mut command = server_command(&sim, sim.api_key());
    command
        .env("DEVIN_MCP_POLL_MIN_SECS", "0.05")
        .env("DEVIN_MCP_POLL_MAX_SECS", "0.2");
    let (transport, _) = TokioChildProcess::builder(command)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let client = TaskClient.serve(transport).await.unwrap();
    let create = tool_request("create_session", json!({ "prompt": "Tasks please" }));
    let CallToolResponse::Complete(created) = client.call_tool_once(create).await.unwrap() else {
        panic!("a create without a wait is an ordinary call")
    };
    let id = created.structured_content.unwrap()["session_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let wait = tool_request(
        "wait_for_sessions",
        json!({ "session_ids": [id], "timeout_seconds": 60 }),
    );
    let CallToolResponse::Task(task) = client.call_tool_once(wait.clone()).await.unwrap() else {
        panic!("wait_for_sessions runs as a task for a client that takes tasks")
    };
    let task_id = task.task.task_id.clone();
    assert_eq!(
        task_status(&client, &task_id).await.task.status,
        TaskStatus::Working
    );
    sim.set_status(&id, SessionStatus::Running, Some(StatusDetail::Finished))
        .unwrap();
    let waited = completed_task_output(&client, &task_id).await;
    assert_eq!(waited["sessions"][0]["is_finished"], true, "{waited}");

    // A cancelled task stops its polling.
    let other = sim.spawn_child(&id, "never settles").unwrap();
    let wait = tool_request("wait_for_sessions", json!({ "session_ids": [other] }));
    let CallToolResponse::Task(task) = client.call_tool_once(wait).await.unwrap() else {
        panic!("a task")
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    client
        .cancel_task(CancelTaskParams::new(task.task.task_id.clone()))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        task_status(&client, &task.task.task_id).await.task.status,
        TaskStatus::Cancelled
    );
    sim.clear_requests();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let polls = sim
        .requests()
        .iter()
        .filter(|r| r.path.ends_with(&other))
        .count();
    assert_eq!(polls, 0, "a cancelled task went on polling");

    // Cancelling a create that runs as a task still hands over the session it created.
    let create_and_wait = tool_request(
        "create_session",
        json!({ "prompt": "Created, then cancelled", "wait_seconds": 600 }),
    );
    let CallToolResponse::Task(task) = client.call_tool_once(create_and_wait).await.unwrap() else {
        panic!("a create with a wait runs as a task")
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    client
        .cancel_task(CancelTaskParams::new(task.task.task_id.clone()))
        .await
        .unwrap();
    let created = completed_task_output(&client, &task.task.task_id).await;
    let created_id = created["session_id"].as_str().unwrap();
    assert!(sim.session(created_id).is_some(), "{created}");
    assert_eq!(created["timed_out"], true, "{created}");

    // Arguments that do not fit are refused at once, not as a task that fails later, and a
    // misplaced session secret does not come back.
    let secret = "s3cr3t-in-the-wrong-place";
    let misplaced = tool_request(
        "create_session",
        json!({ "prompt": "x", "wait_seconds": 30, "session_secrets": format!("TOKEN={secret}") }),
    );
    let CallToolResponse::Complete(refused) = client.call_tool_once(misplaced).await.unwrap()
    else {
        panic!("bad arguments get a result at once, not a task")
    };
    assert_eq!(refused.is_error, Some(true));
    let message = text(&refused);
    assert!(message.contains("session_secrets"), "{message}");
    assert!(!message.contains(secret), "the secret came back: {message}");
}
