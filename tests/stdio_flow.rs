//! The stdio server end to end: the real binary, rmcp's client, the simulator on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod mcp_support;

use std::time::Duration;

use devin_mcp::devin::models::SessionStatus;
use devin_mcp::devin::models::StatusDetail;
use mcp_support::{Server, advance_until, report_schema, simulator};
use serde_json::{Value, json};

const CORE_TOOLS: [&str; 6] = [
    "create_session",
    "get_status",
    "get_structured_output",
    "list_attachments",
    "send_message",
    "terminate",
];

#[tokio::test]
async fn handshake_reports_our_name_and_the_core_tools_with_schemas_and_annotations() {
    let sim = simulator().await;
    let server = Server::start(&sim).await;

    let info = server
        .client
        .peer_info()
        .expect("server info after initialize");
    assert_eq!(
        info.server_info.as_ref().map(|i| i.name.as_str()),
        Some("devin-mcp")
    );
    assert_eq!(
        info.server_info.as_ref().map(|i| i.version.as_str()),
        Some(env!("CARGO_PKG_VERSION"))
    );
    let instructions = info.instructions.clone().unwrap_or_default();
    assert!(instructions.contains("create_session") && instructions.contains("terminate"));

    let tools = server.client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|tool| tool.name.as_ref()).collect();
    for core in CORE_TOOLS {
        assert!(names.contains(&core), "{core} missing from {names:?}");
    }
    for tool in &tools {
        assert!(
            tool.output_schema.is_some(),
            "{} has no output schema",
            tool.name
        );
        let annotations = tool.annotations.as_ref().expect("annotations");
        assert_eq!(annotations.open_world_hint, Some(true), "{}", tool.name);
    }
    let by_name = |name: &str| tools.iter().find(|tool| tool.name == name).unwrap();
    // (read_only, destructive, idempotent) as the table gives them; `None` where the
    // hint does not apply (destructive and idempotent mean nothing for a read-only tool).
    let expected = [
        ("create_session", Some(false), Some(false), None),
        ("send_message", Some(false), Some(false), None),
        ("get_status", Some(true), None, Some(true)),
        ("get_structured_output", Some(true), None, Some(true)),
        ("list_attachments", Some(true), None, Some(true)),
        ("terminate", Some(false), Some(true), Some(true)),
    ];
    for (name, read_only, destructive, idempotent) in expected {
        let hints = by_name(name).annotations.clone().unwrap();
        assert_eq!(hints.read_only_hint, read_only, "{name} read-only");
        if destructive.is_some() {
            assert_eq!(hints.destructive_hint, destructive, "{name} destructive");
        }
        if idempotent.is_some() {
            assert_eq!(hints.idempotent_hint, idempotent, "{name} idempotent");
        }
    }

    let core: Vec<_> = tools
        .iter()
        .filter(|t| CORE_TOOLS.contains(&t.name.as_ref()))
        .collect();
    let size = serde_json::to_string(&core).unwrap().len();
    assert!(
        size < 10 * 1024,
        "the six core tools take {size} bytes of tools/list"
    );
    server.stop().await;
}

#[tokio::test]
async fn create_poll_read_follow_up_terminate_walks_the_whole_flow() {
    let sim = simulator().await;
    let server = Server::start(&sim).await;

    let created = server
        .ok(
            "create_session",
            json!({
                "prompt": "Fix the flaky test in tests/test_api.py",
                "title": "Fix flaky test",
                "tags": ["ci"],
                "repos": ["acme/api"],
                "max_acu_limit": 50,
                "structured_output_schema": report_schema(),
            }),
        )
        .await;
    let id = created["session_id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("devin-"), "{id}");
    assert!(
        created["url"]
            .as_str()
            .unwrap()
            .starts_with("https://app.devin.ai/sessions/")
    );
    assert_eq!(created["status"], "new");
    assert_eq!(created["tags"], json!(["ci"]));

    // Any id form reaches the same session.
    let bare = id.trim_start_matches("devin-");
    let by_url = format!("https://app.devin.ai/sessions/{bare}");
    for form in [id.as_str(), bare, by_url.as_str()] {
        let status = server.ok("get_status", json!({ "session_id": form })).await;
        assert_eq!(status["session_id"], id.as_str());
    }

    let finished = advance_until(&sim, &server, &id, Duration::from_secs(3600), |status| {
        status["is_finished"] == true
    })
    .await;
    assert_eq!(finished["status"], "running");
    assert_eq!(finished["status_detail"], "finished");
    assert_eq!(finished["is_terminal"], false);
    assert_eq!(finished["needs_input"], false);
    assert!(finished["acus_consumed"].as_f64().unwrap() > 0.0);
    let prs = finished["pull_requests"].as_array().unwrap();
    assert!(
        !prs.is_empty(),
        "a session with repos opens a pull request: {finished}"
    );
    assert!(prs[0]["pr_url"].as_str().unwrap().contains("acme/api"));

    let output = server
        .ok("get_structured_output", json!({ "session_id": id }))
        .await;
    assert_eq!(output["is_finished"], true);
    let value = output["structured_output"].clone();
    assert!(
        jsonschema::is_valid(&report_schema(), &value),
        "structured output {value} does not match its schema"
    );
    assert!(output["updated_at"].as_i64().unwrap() > 0);

    let attachments = server
        .ok("list_attachments", json!({ "session_id": id }))
        .await;
    let files = attachments["attachments"].as_array().unwrap();
    assert!(
        !files.is_empty(),
        "Devin produced no attachment: {attachments}"
    );
    assert_eq!(files[0]["source"], "devin");

    // Left idle, the session sleeps; a follow-up wakes it.
    let suspended = advance_until(
        &sim,
        &server,
        &id,
        Duration::from_secs(4 * 3600),
        |status| status["status"] == "suspended",
    )
    .await;
    assert_eq!(suspended["status_detail"], "inactivity");
    let followed = server
        .ok(
            "send_message",
            json!({ "session_id": id, "message": "Also add a regression test." }),
        )
        .await;
    assert_eq!(followed["session_id"], id.as_str());
    let awake = server.ok("get_status", json!({ "session_id": id })).await;
    assert!(
        awake["status"] == "resuming" || awake["status"] == "running",
        "a message resumes a suspended session: {awake}"
    );
    advance_until(&sim, &server, &id, Duration::from_secs(3600), |status| {
        status["is_finished"] == true
    })
    .await;

    let ended = server
        .ok("terminate", json!({ "session_id": id, "archive": true }))
        .await;
    assert_eq!(ended["status"], "exit");
    assert_eq!(ended["is_archived"], true);
    assert_eq!(ended["already_ended"], false);
    let again = server.ok("terminate", json!({ "session_id": id })).await;
    assert_eq!(
        again["already_ended"], true,
        "terminating twice is reported, not an error"
    );
    assert_eq!(again["status"], "exit");

    let after = server.ok("get_status", json!({ "session_id": id })).await;
    assert_eq!(after["is_terminal"], true);
    server.stop().await;
}

#[tokio::test]
async fn a_question_from_devin_shows_as_needs_input_and_a_reply_resumes_work() {
    let sim = simulator().await;
    let server = Server::start(&sim).await;
    let created = server
        .ok(
            "create_session",
            json!({ "prompt": "Refactor the parser; ask me before deleting files" }),
        )
        .await;
    let id = created["session_id"].as_str().unwrap().to_owned();
    let waiting = advance_until(&sim, &server, &id, Duration::from_secs(3600), |status| {
        status["needs_input"] == true
    })
    .await;
    assert_eq!(waiting["status_detail"], "waiting_for_user");
    assert_eq!(waiting["is_finished"], false);

    server
        .ok(
            "send_message",
            json!({ "session_id": id, "message": "Yes, go ahead." }),
        )
        .await;
    let status = server.ok("get_status", json!({ "session_id": id })).await;
    assert_eq!(status["needs_input"], false, "{status}");
    server.stop().await;
}

#[tokio::test]
async fn scripted_states_map_to_the_flags_an_agent_reads() {
    let sim = simulator().await;
    let server = Server::start(&sim).await;
    let created = server
        .ok(
            "create_session",
            json!({ "prompt": "Upgrade the CI image" }),
        )
        .await;
    let id = created["session_id"].as_str().unwrap().to_owned();

    let cases = [
        (
            SessionStatus::Running,
            Some(StatusDetail::WaitingForApproval),
            false,
            true,
            false,
        ),
        (
            SessionStatus::Running,
            Some(StatusDetail::Working),
            false,
            false,
            false,
        ),
        (
            SessionStatus::Suspended,
            Some(StatusDetail::OutOfCredits),
            false,
            false,
            false,
        ),
        (SessionStatus::Error, None, true, false, false),
    ];
    for (status, detail, terminal, needs_input, finished) in cases {
        sim.set_status(&id, status.clone(), detail.clone()).unwrap();
        let view = server.ok("get_status", json!({ "session_id": id })).await;
        assert_eq!(view["status"], status.as_str());
        assert_eq!(view["is_terminal"], terminal, "{view}");
        assert_eq!(view["needs_input"], needs_input, "{view}");
        assert_eq!(view["is_finished"], finished, "{view}");
    }
    server.stop().await;
}

#[tokio::test]
async fn structured_output_is_null_before_devin_writes_it_and_then_the_latest_value() {
    let sim = simulator().await;
    let server = Server::start(&sim).await;
    let created = server
        .ok(
            "create_session",
            json!({ "prompt": "Summarise the repo", "structured_output_schema": report_schema() }),
        )
        .await;
    let id = created["session_id"].as_str().unwrap().to_owned();
    let early = server
        .ok("get_structured_output", json!({ "session_id": id }))
        .await;
    assert_eq!(early["structured_output"], Value::Null);
    assert_eq!(early["is_finished"], false);

    let scripted = json!({"summary": "done", "tests_passed": 7, "risk": "low"});
    sim.set_structured_output(&id, scripted.clone()).unwrap();
    let late = server
        .ok("get_structured_output", json!({ "session_id": id }))
        .await;
    assert_eq!(late["structured_output"], scripted);
    server.stop().await;
}

#[tokio::test]
async fn secrets_are_sent_to_devin_but_never_echoed_back() {
    let sim = simulator().await;
    let server = Server::start(&sim).await;
    let result = server
        .call(
            "create_session",
            json!({
                "prompt": "Deploy the staging app",
                "session_secrets": [{"key": "DEPLOY_TOKEN", "value": "s3cr3t-value-42"}],
            }),
        )
        .await;
    assert_ne!(result.is_error, Some(true));
    let echoed = serde_json::to_string(&result).unwrap();
    assert!(
        !echoed.contains("s3cr3t-value-42"),
        "the secret came back: {echoed}"
    );
    let create = sim
        .requests()
        .into_iter()
        .find(|request| request.method == "POST" && request.path.ends_with("/sessions"))
        .expect("the create reached the simulator");
    let body = create.body.expect("create body");
    // The simulator's request log keeps a digest of each secret value, not the value.
    assert_eq!(body["session_secrets"][0]["key"], "DEPLOY_TOKEN");
    assert_eq!(
        body["session_secrets"][0]["value"],
        devin_mcp::sim::redacted_secret(&json!("s3cr3t-value-42")),
        "the very value reached Devin"
    );
    assert!(!body.to_string().contains("s3cr3t-value-42"));
    server.stop().await;
}

#[tokio::test]
async fn prompts_fill_in_their_arguments_and_name_the_missing_one() {
    let sim = simulator().await;
    let server = Server::start(&sim).await;
    let prompts = server.client.list_all_prompts().await.unwrap();
    let mut names: Vec<&str> = prompts.iter().map(|prompt| prompt.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["check_session", "delegate", "fan_out"]);

    let arguments = json!({ "task": "Fix the flaky login test", "repo": "acme/web" });
    let delegate = server
        .client
        .get_prompt(
            rmcp::model::GetPromptRequestParams::new("delegate")
                .with_arguments(arguments.as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    let text = serde_json::to_value(&delegate.messages)
        .unwrap()
        .to_string();
    for expected in [
        "Fix the flaky login test",
        "acme/web",
        "create_session",
        "wait_for_sessions",
    ] {
        assert!(text.contains(expected), "lacks {expected}: {text}");
    }

    let check = server
        .client
        .get_prompt(
            rmcp::model::GetPromptRequestParams::new("check_session").with_arguments(
                json!({ "session_id": "https://app.devin.ai/sessions/0123456789abcdef0123456789abcdef" })
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
        )
        .await
        .unwrap();
    let text = serde_json::to_value(&check.messages).unwrap().to_string();
    assert!(
        text.contains("devin-0123456789abcdef0123456789abcdef"),
        "{text}"
    );

    let missing = server
        .client
        .get_prompt(rmcp::model::GetPromptRequestParams::new("delegate"))
        .await
        .unwrap_err()
        .to_string();
    assert!(missing.contains("task"), "{missing}");
    let unknown = server
        .client
        .get_prompt(rmcp::model::GetPromptRequestParams::new("nope"))
        .await
        .unwrap_err()
        .to_string();
    assert!(unknown.contains("prompts/list"), "{unknown}");
    assert!(sim.requests().is_empty(), "a prompt reaches no API");
    server.stop().await;
}
