//! Session lifecycle on the manual clock, terminate/archive, and the scripting hooks.
//!
//! Manual timings (`Timings::realistic`): claimed at 2 s, working at 7 s, halfway artefacts at
//! 127 s, finished at 247 s, suspended after 600 s idle; resuming takes 2 s; 1 ACU per minute.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{assert_problem, start};
use devin_mcp::devin::models::{PrState, SessionStatus, StatusDetail};
use devin_mcp::sim::SimError;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn state(status: &str, detail: Option<&str>) -> (String, Option<String>) {
    (status.to_owned(), detail.map(str::to_owned))
}

#[tokio::test]
async fn session_runs_new_claimed_working_finished_with_artefacts() {
    let h = start().await;
    let schema = json!({
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["done", "blocked"]},
            "tests_fixed": {"type": "integer", "minimum": 1},
            "pr": {"type": "string", "format": "uri"},
        },
        "required": ["status", "tests_fixed"],
    });
    let created = h
        .create(json!({
            "prompt": "Fix the flaky test",
            "repos": ["acme/api"],
            "structured_output_schema": schema,
        }))
        .await;
    let id = created["session_id"].as_str().unwrap().to_owned();
    let mut acus = Vec::new();

    assert_eq!(h.state(&id).await, state("new", None));
    h.advance_secs(2);
    assert_eq!(h.state(&id).await, state("claimed", None));
    h.advance_secs(5);
    assert_eq!(h.state(&id).await, state("running", Some("working")));
    let messages = h.messages(&id).await;
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1]["source"], "devin");

    // Before halfway: nothing produced yet.
    h.advance_secs(60);
    let session = h.session(&id).await;
    acus.push(session["acus_consumed"].as_f64().unwrap());
    assert!(session.get("structured_output").is_none_or(Value::is_null));
    assert_eq!(session["pull_requests"], json!([]));

    // Halfway: structured output, attachment, pull request.
    h.advance_secs(60);
    let session = h.session(&id).await;
    acus.push(session["acus_consumed"].as_f64().unwrap());
    assert_eq!(session["status_detail"], "working");
    let output = session["structured_output"].clone();
    assert!(
        jsonschema::validator_for(&schema)
            .unwrap()
            .is_valid(&output),
        "{output}"
    );
    let prs = session["pull_requests"].as_array().unwrap();
    assert_eq!(prs.len(), 1);
    assert!(
        prs[0]["pr_url"]
            .as_str()
            .unwrap()
            .starts_with("https://github.com/acme/api/pull/")
    );
    assert_eq!(prs[0]["pr_state"], "open");
    let (status, attachments) = h
        .get_json(&h.org_url(&format!("sessions/{id}/attachments")))
        .await;
    assert_eq!(status, StatusCode::OK);
    let attachments = attachments.as_array().expect("a bare array").clone();
    assert_eq!(attachments.len(), 1);
    assert_eq!(attachments[0]["name"], "notes.md");
    assert_eq!(attachments[0]["source"], "devin");
    assert_eq!(attachments[0]["content_type"], "text/markdown");

    // The attachment downloads through the 307 to the blob store.
    let url = attachments[0]["url"].as_str().unwrap();
    let redirect = h.req(Method::GET, url).send().await.unwrap();
    assert_eq!(redirect.status(), StatusCode::TEMPORARY_REDIRECT);
    let location = redirect.headers()["location"].to_str().unwrap().to_owned();
    let blob = h.http.get(&location).send().await.unwrap();
    assert_eq!(blob.status(), StatusCode::OK);
    assert_eq!(blob.headers()["content-type"], "text/markdown");
    assert!(blob.text().await.unwrap().contains("Fix the flaky test"));

    // End of the cycle.
    h.advance_secs(120);
    let session = h.session(&id).await;
    acus.push(session["acus_consumed"].as_f64().unwrap());
    assert_eq!(session["status"], "running");
    assert_eq!(session["status_detail"], "finished");
    assert!(
        jsonschema::validator_for(&schema)
            .unwrap()
            .is_valid(&session["structured_output"])
    );
    let messages = h.messages(&id).await;
    assert_eq!(messages.last().unwrap()["source"], "devin");
    assert!(
        messages.last().unwrap()["message"]
            .as_str()
            .unwrap()
            .contains("acme/api/pull")
    );

    // Idle: no more ACUs.
    h.advance_secs(100);
    acus.push(h.session(&id).await["acus_consumed"].as_f64().unwrap());
    assert!(
        acus.windows(2).all(|w| w[0] <= w[1]),
        "never decreases: {acus:?}"
    );
    assert!(
        acus[0] > 0.0 && acus[2] > acus[1],
        "grows while working: {acus:?}"
    );
    assert_eq!(acus[2], acus[3], "flat while idle: {acus:?}");
    assert!(
        (acus[3] - 4.0).abs() < 0.02,
        "4 minutes of work at 1 ACU/min: {acus:?}"
    );
}

/// What a client can see of a session's history: the fields a step-by-step and a one-jump
/// simulation must agree on, and the time of every message.
async fn history(h: &common::Harness, id: &str) -> Value {
    let session = h.session(id).await;
    let messages: Vec<Value> = h
        .messages(id)
        .await
        .iter()
        .map(|m| json!([m["created_at"], m["source"]]))
        .collect();
    json!({
        "status": session["status"],
        "status_detail": session["status_detail"],
        "acus_consumed": session["acus_consumed"],
        "updated_at": session["updated_at"],
        "pull_requests": session["pull_requests"],
        "messages": messages,
    })
}

#[tokio::test]
async fn one_big_advance_gives_the_same_history_as_small_steps() {
    // Two simulators, because every read of a store settles all of its sessions: within one
    // store, reading one session would walk the other through the same small steps.
    let stepped = start().await;
    let jumped = start().await;
    let s = stepped.create_prompt("same history").await;
    let j = jumped.create_prompt("same history").await;

    // 300 s: claimed, working, halfway artefacts, finished; read after every 10 s on one side.
    for _ in 0..30 {
        stepped.advance_secs(10);
        stepped.session(&s).await;
    }
    jumped.advance_secs(300);
    let after_work = history(&stepped, &s).await;
    assert_eq!(after_work, history(&jumped, &j).await);
    assert_eq!(after_work["status_detail"], "finished", "{after_work}");

    // 600 s more: idle long enough to be suspended for inactivity.
    for _ in 0..60 {
        stepped.advance_secs(10);
        stepped.session(&s).await;
    }
    jumped.advance_secs(600);
    let after_idle = history(&stepped, &s).await;
    assert_eq!(after_idle, history(&jumped, &j).await);
    assert_eq!(after_idle["status_detail"], "inactivity", "{after_idle}");
}

#[tokio::test]
async fn ask_me_prompt_ends_in_waiting_for_user_with_a_question() {
    let h = start().await;
    let id = h
        .create_prompt("Refactor the parser, and Ask Me before deleting files")
        .await;
    h.advance_secs(247);
    assert_eq!(
        h.state(&id).await,
        state("running", Some("waiting_for_user"))
    );
    let last = h.messages(&id).await.last().unwrap().clone();
    assert_eq!(last["source"], "devin");
    assert!(last["message"].as_str().unwrap().contains('?'));
    // Answering runs a new cycle that finishes.
    let (status, _) = h.message(&id, "Yes, go ahead").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.state(&id).await, state("running", Some("working")));
    h.advance_secs(240);
    assert_eq!(h.state(&id).await, state("running", Some("finished")));
}

#[tokio::test]
async fn idle_session_is_suspended_for_inactivity() {
    let h = start().await;
    let id = h.create_prompt("quick task").await;
    h.advance_secs(247);
    assert_eq!(h.state(&id).await, state("running", Some("finished")));
    h.advance_secs(599);
    assert_eq!(h.state(&id).await, state("running", Some("finished")));
    h.advance_secs(1);
    assert_eq!(h.state(&id).await, state("suspended", Some("inactivity")));
}

#[tokio::test]
async fn message_resumes_a_suspended_session_through_resuming() {
    let h = start().await;
    let id = h.create_prompt("task").await;
    h.advance_secs(247 + 600);
    assert_eq!(h.state(&id).await, state("suspended", Some("inactivity")));
    let before = h.session(&id).await;
    let (status, response) = h.message(&id, "One more thing").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(response["status"], "resuming");
    assert!(response.get("status_detail").is_none_or(Value::is_null));
    assert!(response.get("structured_output").is_none_or(Value::is_null));
    assert_eq!(h.state(&id).await, state("resuming", None));
    h.advance_secs(2);
    assert_eq!(h.state(&id).await, state("running", Some("working")));
    h.advance_secs(240);
    let after = h.session(&id).await;
    assert_eq!(after["status_detail"], "finished");
    assert!(after["acus_consumed"].as_f64().unwrap() > before["acus_consumed"].as_f64().unwrap());
    assert!(after["updated_at"].as_i64().unwrap() > before["updated_at"].as_i64().unwrap());
    let messages = h.messages(&id).await;
    let sources: Vec<&str> = messages
        .iter()
        .map(|m| m["source"].as_str().unwrap())
        .collect();
    assert_eq!(
        sources,
        ["user", "devin", "devin", "user", "devin", "devin"]
    );
    assert_eq!(messages[3]["message"], "One more thing");
    // A second cycle produces a second notes file.
    let (_, attachments) = h
        .get_json(&h.org_url(&format!("sessions/{id}/attachments")))
        .await;
    assert_eq!(attachments.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn message_to_a_finished_session_starts_working_again() {
    let h = start().await;
    let id = h.create_prompt("task").await;
    h.advance_secs(247);
    let url = h.org_url(&format!("sessions/{id}/messages"));
    let body = json!({"message": "Also this", "message_as_user_id": "user-7",
                      "attachment_urls": ["https://app.devin.ai/attachments/u/log.txt"]});
    let (status, _) = h.send_json(Method::POST, &url, body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.state(&id).await, state("running", Some("working")));
    let last_user = h
        .messages(&id)
        .await
        .into_iter()
        .rev()
        .find(|m| m["source"] == "user")
        .unwrap();
    assert_eq!(
        last_user["message"],
        "Also this\nATTACHMENT:\"https://app.devin.ai/attachments/u/log.txt\""
    );
    let recorded = h
        .sim
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.method == "POST")
        .unwrap();
    assert_eq!(recorded.body.unwrap()["message_as_user_id"], "user-7");
}

#[tokio::test]
async fn messages_page_oldest_first() {
    let h = start().await;
    let id = h.create_prompt("m0").await;
    for i in 1..5 {
        h.advance_secs(1);
        h.message(&id, &format!("m{i}")).await;
    }
    let mut texts = Vec::new();
    let mut url = h.org_url(&format!("sessions/{id}/messages?first=2"));
    loop {
        let (_, page) = h.get_json(&url).await;
        texts.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| m["source"] == "user")
                .map(|m| m["message"].as_str().unwrap().to_owned()),
        );
        match page["end_cursor"].as_str() {
            Some(cursor) => {
                url = h.org_url(&format!("sessions/{id}/messages?first=2&after={cursor}"))
            }
            None => break,
        }
    }
    assert_eq!(texts, ["m0", "m1", "m2", "m3", "m4"]);
}

#[tokio::test]
async fn delete_sets_exit_and_a_second_delete_gets_409() {
    let h = start().await;
    let id = h.create_prompt("to be stopped").await;
    h.advance_secs(10);
    let url = h.org_url(&format!("sessions/{id}"));
    let (status, body) = h.send_json(Method::DELETE, &url, json!(null)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "exit");
    assert_eq!(body["is_archived"], false);
    let again = h.req(Method::DELETE, &url).send().await.unwrap();
    assert_problem(again, StatusCode::CONFLICT).await;
    // Terminal: it never moves again, and messages and tag writes are refused.
    h.advance_secs(10_000);
    assert_eq!(h.state(&id).await, state("exit", None));
    let message = h
        .req(Method::POST, &format!("{url}/messages"))
        .json(&json!({"message": "hi"}));
    assert_problem(message.send().await.unwrap(), StatusCode::CONFLICT).await;
    let tags = h
        .req(Method::POST, &format!("{url}/tags"))
        .json(&json!({"tags": ["x"]}));
    assert_problem(tags.send().await.unwrap(), StatusCode::CONFLICT).await;
}

#[tokio::test]
async fn delete_with_archive_also_archives() {
    let h = start().await;
    let id = h.create_prompt("keep for reference").await;
    let url = h.org_url(&format!("sessions/{id}?archive=true"));
    let (status, body) = h.send_json(Method::DELETE, &url, json!(null)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (body["status"].clone(), body["is_archived"].clone()),
        (json!("exit"), json!(true))
    );
}

#[tokio::test]
async fn delete_of_an_errored_session_gets_409() {
    let h = start().await;
    let id = h.create_prompt("doomed").await;
    h.sim.fail_session(&id).unwrap();
    assert_eq!(h.state(&id).await, state("error", None));
    let response = h
        .req(Method::DELETE, &h.org_url(&format!("sessions/{id}")))
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::CONFLICT).await;
}

#[tokio::test]
async fn archive_suspends_a_running_session_and_blocks_writes() {
    let h = start().await;
    let id = h
        .create(json!({"prompt": "archive me", "tags": ["a"]}))
        .await["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    h.advance_secs(10);
    let url = h.org_url(&format!("sessions/{id}/archive"));
    let (status, body) = h.send_json(Method::POST, &url, json!(null)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["is_archived"], true);
    assert_eq!(h.state(&id).await, state("suspended", Some("user_request")));
    let (status, again) = h.send_json(Method::POST, &url, json!(null)).await;
    assert_eq!(
        (status, again["is_archived"].clone()),
        (StatusCode::OK, json!(true))
    );
    // Readable, but messages and tag writes get 409.
    let (status, tags) = h.get_json(&h.org_url(&format!("sessions/{id}/tags"))).await;
    assert_eq!((status, tags), (StatusCode::OK, json!({"tags": ["a"]})));
    let message = h.req(Method::POST, &h.org_url(&format!("sessions/{id}/messages")));
    assert_problem(
        message
            .json(&json!({"message": "wake up"}))
            .send()
            .await
            .unwrap(),
        StatusCode::CONFLICT,
    )
    .await;
    let tags = h.req(Method::PUT, &h.org_url(&format!("sessions/{id}/tags")));
    assert_problem(
        tags.json(&json!({"tags": []})).send().await.unwrap(),
        StatusCode::CONFLICT,
    )
    .await;
    // Archived sessions stay asleep.
    h.advance_secs(10_000);
    assert_eq!(h.state(&id).await, state("suspended", Some("user_request")));
}

#[tokio::test]
async fn acu_limit_suspends_with_usage_limit_exceeded_and_messages_get_409() {
    let h = start().await;
    let id = h
        .create(json!({"prompt": "expensive", "max_acu_limit": 2}))
        .await["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    h.advance_secs(7 + 119);
    assert_eq!(h.state(&id).await, state("running", Some("working")));
    h.advance_secs(1);
    let session = h.session(&id).await;
    assert_eq!(session["status"], "suspended");
    assert_eq!(session["status_detail"], "usage_limit_exceeded");
    assert_eq!(session["acus_consumed"], 2.0);
    let response = h
        .req(Method::POST, &h.org_url(&format!("sessions/{id}/messages")))
        .json(&json!({"message": "continue"}))
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::CONFLICT).await;
}

#[tokio::test]
async fn set_status_pins_until_a_message_arrives() {
    let h = start().await;
    let id = h.create_prompt("pinned").await;
    h.sim
        .set_status(
            &id,
            SessionStatus::Running,
            Some(StatusDetail::WaitingForApproval),
        )
        .unwrap();
    h.advance_secs(5_000);
    let session = h.session(&id).await;
    assert_eq!(session["status_detail"], "waiting_for_approval");
    assert_eq!(
        session["acus_consumed"], 0.0,
        "a pinned session does not work"
    );
    h.message(&id, "approved").await;
    assert_eq!(h.state(&id).await, state("running", Some("working")));
    h.advance_secs(240);
    assert_eq!(h.state(&id).await, state("running", Some("finished")));
    // Billing reasons can be forced too, and a message does not lift them.
    h.sim
        .set_status(
            &id,
            SessionStatus::Suspended,
            Some(StatusDetail::OutOfCredits),
        )
        .unwrap();
    let (status, _) = h.message(&id, "please").await;
    assert_eq!(status, StatusCode::CONFLICT);
    // A pinned new session starts its cycle on a message.
    let fresh = h.create_prompt("fresh").await;
    h.sim.set_status(&fresh, SessionStatus::New, None).unwrap();
    h.advance_secs(100);
    assert_eq!(h.state(&fresh).await, state("new", None));
    h.message(&fresh, "go").await;
    h.advance_secs(7);
    assert_eq!(h.state(&fresh).await, state("running", Some("working")));
}

#[tokio::test]
async fn set_structured_output_persists_across_a_follow_up() {
    let h = start().await;
    let id = h.create_prompt("report").await;
    h.advance_secs(247);
    h.sim
        .set_structured_output(&id, json!({"answer": 42}))
        .unwrap();
    assert_eq!(
        h.session(&id).await["structured_output"],
        json!({"answer": 42})
    );
    let (status, response) = h.message(&id, "follow-up").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        response.get("structured_output").is_none_or(Value::is_null),
        "send omits it"
    );
    h.advance_secs(60);
    let session = h.session(&id).await;
    assert_eq!(session["status_detail"], "working");
    assert_eq!(
        session["structured_output"],
        json!({"answer": 42}),
        "kept until replaced"
    );
    h.advance_secs(60);
    assert_ne!(
        h.session(&id).await["structured_output"],
        json!({"answer": 42})
    );
}

#[tokio::test]
async fn hooks_post_messages_add_prs_and_fail_sessions() {
    let h = start().await;
    let id = h.create_prompt("hooks").await;
    let bare = id.strip_prefix("devin-").unwrap();
    h.sim.post_devin_message(bare, "Hello from Devin").unwrap();
    let last = h.messages(&id).await.last().unwrap().clone();
    assert_eq!(
        (last["source"].clone(), last["message"].clone()),
        (json!("devin"), json!("Hello from Devin"))
    );
    let pr = "https://github.com/acme/web/pull/9";
    h.sim.add_pull_request(&id, pr, PrState::Open).unwrap();
    h.sim.add_pull_request(&id, pr, PrState::Merged).unwrap();
    let session = h
        .sim
        .session(&format!("https://app.devin.ai/sessions/{bare}"))
        .unwrap();
    assert_eq!(session.pull_requests.len(), 1);
    assert_eq!(session.pull_requests[0].pr_state, Some(PrState::Merged));
    h.sim.fail_session(&id).unwrap();
    assert_eq!(h.sim.session(&id).unwrap().status, SessionStatus::Error);
    h.advance_secs(10_000);
    assert_eq!(h.state(&id).await, state("error", None));
    let message = h.req(Method::POST, &h.org_url(&format!("sessions/{id}/messages")));
    assert_problem(
        message.json(&json!({"message": "x"})).send().await.unwrap(),
        StatusCode::CONFLICT,
    )
    .await;
}

#[tokio::test]
async fn hooks_reject_unknown_sessions() {
    let h = start().await;
    let unknown = "devin-00000000000000000000000000000000";
    assert_eq!(
        h.sim.fail_session(unknown),
        Err(SimError::UnknownSession(unknown.to_owned()))
    );
    assert!(
        h.sim
            .set_status("not a session!", SessionStatus::Running, None)
            .is_err()
    );
    assert!(h.sim.post_devin_message(unknown, "x").is_err());
    assert!(h.sim.set_structured_output(unknown, json!({})).is_err());
    assert!(h.sim.add_pull_request(unknown, "u", PrState::Open).is_err());
    assert!(h.sim.spawn_child(unknown, "x").is_err());
    assert!(h.sim.session(unknown).is_none());
}

#[tokio::test]
async fn spawn_child_links_parent_and_child_both_ways() {
    let h = start().await;
    let parent = h.create_prompt("parent").await;
    let child = h.sim.spawn_child(&parent, "child work").unwrap();
    assert!(child.starts_with("devin-"));
    let parent_view = h.session(&parent).await;
    assert_eq!(parent_view["child_session_ids"], json!([child]));
    let child_view = h.session(&child).await;
    assert_eq!(child_view["parent_session_id"], parent);
    assert_eq!(child_view["status"], "new");
    assert_eq!(h.messages(&child).await[0]["message"], "child work");
    h.advance_secs(7);
    assert_eq!(h.state(&child).await, state("running", Some("working")));
}
