//! Fault injection, the request log, attachments upload/download, the control plane, and
//! the real-time clock.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{assert_problem, client, loopback, read, start};
use devin_mcp::sim::{ClockMode, Fault, FaultKind, SimConfig, Simulator, Timings};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn fault(method: Option<Method>, path: &str, times: Option<u32>, kind: FaultKind) -> Fault {
    Fault {
        method,
        path_contains: path.to_owned(),
        times,
        kind,
    }
}

async fn session_count(h: &common::Harness) -> u64 {
    let (status, page) = h.get_json(&h.org_url("sessions")).await;
    assert_eq!(status, StatusCode::OK);
    page["total"].as_u64().unwrap()
}

#[tokio::test]
async fn status_fault_answers_429_with_retry_after_for_n_requests() {
    let h = start().await;
    h.sim.inject_fault(fault(
        Some(Method::POST),
        "/sessions",
        Some(2),
        FaultKind::Status {
            status: 429,
            retry_after: Some("3".into()),
            body: None,
        },
    ));
    for _ in 0..2 {
        let response = h
            .req(Method::POST, &h.org_url("sessions"))
            .json(&json!({"prompt": "p"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["retry-after"], "3");
        assert_problem(response, StatusCode::TOO_MANY_REQUESTS).await;
    }
    // GETs were never affected, nothing was created, and the third POST goes through.
    assert_eq!(session_count(&h).await, 0);
    h.create(json!({"prompt": "p"})).await;
    assert_eq!(session_count(&h).await, 1);
}

#[tokio::test]
async fn status_fault_with_custom_body_sends_it_verbatim_until_cleared() {
    let h = start().await;
    h.sim.inject_fault(fault(
        None,
        "/v3/self",
        None,
        FaultKind::Status {
            status: 503,
            retry_after: None,
            body: Some("upstream down".into()),
        },
    ));
    for _ in 0..3 {
        let response = h.req(Method::GET, &h.url("/v3/self")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.text().await.unwrap(), "upstream down");
    }
    h.sim.clear_faults();
    let (status, _) = h.get_json(&h.url("/v3/self")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn delay_fault_holds_the_answer_then_handles_it() {
    let h = start().await;
    h.sim.inject_fault(fault(
        None,
        "/v3/self",
        Some(1),
        FaultKind::Delay(Duration::from_millis(400)),
    ));
    // A client with a shorter timeout gives up.
    let impatient = h
        .req(Method::GET, &h.url("/v3/self"))
        .timeout(Duration::from_millis(100))
        .send()
        .await;
    assert!(impatient.unwrap_err().is_timeout());
    h.sim.inject_fault(fault(
        None,
        "/v3/self",
        Some(1),
        FaultKind::Delay(Duration::from_millis(300)),
    ));
    let started = Instant::now();
    let (status, me) = h.get_json(&h.url("/v3/self")).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["org_id"], h.sim.org_id());
}

#[tokio::test]
async fn malformed_body_fault_sends_200_that_is_not_json() {
    let h = start().await;
    h.sim.inject_fault(fault(
        Some(Method::POST),
        "/sessions",
        Some(1),
        FaultKind::MalformedBody,
    ));
    let response = h
        .req(Method::POST, &h.org_url("sessions"))
        .json(&json!({"prompt": "p"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let text = response.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");
    assert_eq!(session_count(&h).await, 0, "the request was not handled");
}

#[tokio::test]
async fn drop_before_processing_closes_the_connection_and_creates_nothing() {
    let h = start().await;
    h.sim.inject_fault(fault(
        Some(Method::POST),
        "/sessions",
        Some(1),
        FaultKind::DropBeforeProcessing,
    ));
    let result = h
        .req(Method::POST, &h.org_url("sessions"))
        .json(&json!({"prompt": "p", "tags": ["run:before"]}))
        .send()
        .await;
    let error = result.unwrap_err();
    assert!(!error.is_timeout(), "closed, not timed out: {error}");
    assert_eq!(session_count(&h).await, 0);
    assert_eq!(
        h.sim
            .requests()
            .iter()
            .filter(|r| r.method == "POST")
            .count(),
        1,
        "still logged"
    );
}

#[tokio::test]
async fn drop_after_processing_creates_the_session_though_the_client_saw_an_error() {
    let h = start().await;
    h.sim.inject_fault(fault(
        Some(Method::POST),
        "/sessions",
        Some(1),
        FaultKind::DropAfterProcessing,
    ));
    let result = h
        .req(Method::POST, &h.org_url("sessions"))
        .json(&json!({"prompt": "p", "tags": ["run:after"]}))
        .send()
        .await;
    assert!(result.is_err(), "the client never got an answer");
    // The create happened: the reconciliation-by-tag recipe finds it.
    let (_, page) = h.get_json(&h.org_url("sessions?tags=run:after")).await;
    assert_eq!(page["total"], 1);
    // And the server keeps serving new connections.
    h.create(json!({"prompt": "again"})).await;
}

#[tokio::test]
async fn faults_do_not_touch_the_control_plane() {
    let h = start().await;
    h.sim.inject_fault(fault(
        None,
        "",
        None,
        FaultKind::Status {
            status: 500,
            retry_after: None,
            body: None,
        },
    ));
    let response = h.req(Method::GET, &h.url("/v3/self")).send().await.unwrap();
    assert_problem(response, StatusCode::INTERNAL_SERVER_ERROR).await;
    let (status, _) = read(h.http.get(h.url("/_sim/requests")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = read(h.http.delete(h.url("/_sim/faults")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = h.get_json(&h.url("/v3/self")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn request_log_records_requests_without_secrets() {
    let h = start().await;
    h.sim.clear_requests();
    h.req(Method::POST, &h.org_url("sessions?devin_id=x"))
        .header("user-agent", "devin-mcp-test/1")
        .json(&json!({"prompt": "p", "session_secrets": [{"key": "K", "value": "hunter2"}]}))
        .send()
        .await
        .unwrap();
    h.http.get(h.url("/v3/self")).send().await.unwrap();
    h.http
        .post(h.url("/_sim/advance"))
        .json(&json!({"seconds": 1}))
        .send()
        .await
        .unwrap();
    let log = h.sim.requests();
    assert_eq!(
        log.len(),
        2,
        "control-plane calls are not recorded: {log:?}"
    );
    let create = &log[0];
    assert_eq!(create.method, "POST");
    assert_eq!(
        create.path,
        format!("/v3/organizations/{}/sessions", h.sim.org_id())
    );
    assert_eq!(create.query.as_deref(), Some("devin_id=x"));
    assert!(create.had_authorization);
    assert_eq!(create.user_agent.as_deref(), Some("devin-mcp-test/1"));
    let body = create.body.clone().unwrap();
    assert_eq!(body["prompt"], "p");
    assert_eq!(body["session_secrets"][0]["key"], "K");
    assert!(!format!("{log:?}").contains("hunter2"));
    assert!(!format!("{log:?}").contains(h.sim.api_key()));
    assert!(!log[1].had_authorization);
    h.sim.clear_requests();
    assert!(h.sim.requests().is_empty());
}

#[tokio::test]
async fn upload_then_download_redirects_to_another_host_served_without_auth() {
    let h = start().await;
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"line 1\nline 2\n".to_vec())
            .file_name("build log.txt")
            .mime_str("text/plain")
            .unwrap(),
    );
    let response = h
        .req(Method::POST, &h.org_url("attachments"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (status, uploaded) = read(response).await;
    assert_eq!(status, StatusCode::OK, "{uploaded}");
    let id = uploaded["attachment_id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok());
    assert_eq!(uploaded["name"], "build log.txt");
    let url = uploaded["url"].as_str().unwrap();
    assert_eq!(url, h.org_url(&format!("attachments/{id}/build%20log.txt")));

    let redirect = h.req(Method::GET, url).send().await.unwrap();
    assert_eq!(redirect.status(), StatusCode::TEMPORARY_REDIRECT);
    let location = reqwest::Url::parse(redirect.headers()["location"].to_str().unwrap()).unwrap();
    let base = reqwest::Url::parse(&h.sim.base_url()).unwrap();
    assert_eq!(location.host_str(), Some("localhost"));
    assert_ne!(
        location.host_str(),
        base.host_str(),
        "a different host on purpose"
    );
    assert_eq!(location.port(), base.port());

    h.sim.clear_requests();
    let blob = h.http.get(location.clone()).send().await.unwrap();
    assert_eq!(blob.status(), StatusCode::OK);
    assert_eq!(blob.headers()["content-type"], "text/plain");
    assert_eq!(blob.text().await.unwrap(), "line 1\nline 2\n");
    let log = h.sim.requests();
    assert_eq!(log.len(), 1);
    assert!(log[0].path.starts_with("/_sim/blobs/"));
    assert!(!log[0].had_authorization);

    // Downloads need auth; unknown attachments are 404.
    let anonymous = h.http.get(url).send().await.unwrap();
    assert_problem(anonymous, StatusCode::UNAUTHORIZED).await;
    let unknown = h.org_url(&format!("attachments/{}/x.txt", uuid::Uuid::new_v4()));
    assert_problem(
        h.req(Method::GET, &unknown).send().await.unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;
    let wrong_name = h.org_url(&format!("attachments/{id}/other.txt"));
    assert_problem(
        h.req(Method::GET, &wrong_name).send().await.unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;

    // A session given the URL lists it as a user attachment and quotes it in the prompt.
    let session = h
        .create(json!({"prompt": "read the log", "attachment_urls": [url]}))
        .await;
    let sid = session["session_id"].as_str().unwrap();
    let (_, attachments) = h
        .get_json(&h.org_url(&format!("sessions/{sid}/attachments")))
        .await;
    assert_eq!(attachments[0]["attachment_id"], id);
    assert_eq!(attachments[0]["source"], "user");
    assert_eq!(
        h.messages(sid).await[0]["message"],
        format!("read the log\nATTACHMENT:\"{url}\"")
    );
}

#[tokio::test]
async fn download_redirect_names_the_host_a_remote_client_used() {
    // Listening on every interface, as `devin-mcp sim --listen 0.0.0.0:PORT` does.
    let sim = Simulator::start(SimConfig::manual(), "0.0.0.0:0".parse().unwrap())
        .await
        .unwrap();
    let http = client();
    let port = reqwest::Url::parse(&sim.base_url())
        .unwrap()
        .port()
        .unwrap();
    let upload = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"remote".to_vec()).file_name("r.txt"),
    );
    let org_url = format!("{}/v3/organizations/{}", sim.base_url(), sim.org_id());
    let (_, uploaded) = read(
        http.post(format!("{org_url}/attachments"))
            .bearer_auth(sim.api_key())
            .multipart(upload)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let url = uploaded["url"].as_str().unwrap();
    let blob_path = format!(
        "/_sim/blobs/{}/r.txt",
        uploaded["attachment_id"].as_str().unwrap()
    );

    // The Host header is how the simulator learns the name a client reached it under.
    let cases = [
        (
            format!("192.0.2.10:{port}"),
            format!("http://192.0.2.10:{port}"),
        ),
        (
            "sim.example:8080".to_owned(),
            "http://sim.example:8080".to_owned(),
        ),
        (
            format!("[2001:db8::1]:{port}"),
            format!("http://[2001:db8::1]:{port}"),
        ),
        // Loopback keeps the other host name, for the cross-host redirect check.
        (
            format!("127.0.0.1:{port}"),
            format!("http://localhost:{port}"),
        ),
        (
            format!("localhost:{port}"),
            format!("http://localhost:{port}"),
        ),
        (format!("[::1]:{port}"), format!("http://localhost:{port}")),
        // Nothing a Host header should carry is echoed into a redirect.
        (
            format!("user@192.0.2.10:{port}"),
            format!("http://localhost:{port}"),
        ),
    ];
    for (host, expected_base) in cases {
        let redirect = http
            .get(url)
            .bearer_auth(sim.api_key())
            .header("host", &host)
            .send()
            .await
            .unwrap();
        assert_eq!(redirect.status(), StatusCode::TEMPORARY_REDIRECT, "{host}");
        assert_eq!(
            redirect.headers()["location"].to_str().unwrap(),
            format!("{expected_base}{blob_path}"),
            "Host: {host}"
        );
    }

    // The blob behind the redirect is served on every interface too.
    let blob = http
        .get(format!("http://127.0.0.1:{port}{blob_path}"))
        .header("host", format!("192.0.2.10:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(blob.text().await.unwrap(), "remote");
    sim.shutdown().await;
}

#[tokio::test]
async fn upload_without_a_file_part_gets_422() {
    let h = start().await;
    let form = reqwest::multipart::Form::new().text("other", "x");
    let response = h
        .req(Method::POST, &h.org_url("attachments"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem["errors"][0]["loc"], json!(["body", "file"]));
    let not_multipart = h
        .req(Method::POST, &h.org_url("attachments"))
        .json(&json!({"file": "x"}))
        .send()
        .await;
    assert_problem(not_multipart.unwrap(), StatusCode::UNPROCESSABLE_ENTITY).await;
}

#[tokio::test]
async fn control_plane_drives_sessions_faults_and_the_clock() {
    let h = start().await;
    let id = h.create_prompt("scripted").await;
    let control = |path: &str| h.url(&format!("/_sim/{path}"));
    let post = |path: &str, body: Value| h.http.post(control(path)).json(&body).send();

    let (status, now) = read(post("advance", json!({"seconds": 7})).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(now["now"], h.sim.now());
    assert_eq!(h.state(&id).await.1.as_deref(), Some("working"));

    let body = json!({"status": "running", "status_detail": "waiting_for_user"});
    let (status, view) = read(post(&format!("sessions/{id}/status"), body).await.unwrap()).await;
    assert_eq!(
        (status, view["status_detail"].clone()),
        (StatusCode::OK, json!("waiting_for_user"))
    );
    let output = json!({"status": "needs_input"});
    let (_, view) = read(
        post(&format!("sessions/{id}/structured_output"), output.clone())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(view["structured_output"], output);
    let (_, view) = read(
        post(
            &format!("sessions/{id}/messages"),
            json!({"message": "Which DB?"}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(view["session_id"], id);
    assert_eq!(
        h.messages(&id).await.last().unwrap()["message"],
        "Which DB?"
    );
    let pr = json!({"pr_url": "https://github.com/a/b/pull/1", "pr_state": "merged"});
    let (_, view) = read(
        post(&format!("sessions/{id}/pull_requests"), pr)
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(view["pull_requests"][0]["pr_state"], "merged");
    let (_, child) = read(
        post(&format!("sessions/{id}/children"), json!({"prompt": "sub"}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        h.session(child["session_id"].as_str().unwrap()).await["parent_session_id"],
        id
    );
    let (_, view) = read(
        h.http
            .get(control(&format!("sessions/{id}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(view["child_session_ids"], json!([child["session_id"]]));
    let (_, view) = read(
        h.http
            .post(control(&format!("sessions/{id}/fail")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(view["status"], "error");

    let fault = json!({
        "method": "get", "path_contains": "/v3/self", "times": 1, "status": 429, "retry_after": "1",
    });
    assert_eq!(
        post("faults", fault).await.unwrap().status(),
        StatusCode::OK
    );
    let limited = h.req(Method::GET, &h.url("/v3/self")).send().await.unwrap();
    assert_eq!(limited.headers()["retry-after"], "1");
    assert_problem(limited, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(h.get_json(&h.url("/v3/self")).await.0, StatusCode::OK);
    post(
        "faults",
        json!({"path_contains": "/v3/self", "status": 500}),
    )
    .await
    .unwrap();
    h.http.delete(control("faults")).send().await.unwrap();
    assert_eq!(h.get_json(&h.url("/v3/self")).await.0, StatusCode::OK);

    let (_, log) = read(h.http.get(control("requests")).send().await.unwrap()).await;
    let log = log.as_array().unwrap();
    assert!(
        log.iter()
            .any(|r| r["path"] == "/v3/self" && r["had_authorization"] == true)
    );
    h.http.delete(control("requests")).send().await.unwrap();
    assert!(h.sim.requests().is_empty());

    // Bad control requests get problems too.
    let unknown = post("sessions/devin-nope/fail", json!(null)).await.unwrap();
    assert_problem(unknown, StatusCode::NOT_FOUND).await;
    let bad = post("advance", json!({"seconds": -1})).await.unwrap();
    assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY).await;
    let bad = post("faults", json!({"path_contains": "x", "status": 99}))
        .await
        .unwrap();
    assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY).await;
}

#[tokio::test]
async fn control_plane_injects_every_fault_kind() {
    let h = start().await;
    let add = |fault: Value| h.http.post(h.url("/_sim/faults")).json(&fault).send();
    let create = || {
        h.req(Method::POST, &h.org_url("sessions"))
            .json(&json!({"prompt": "p"}))
            .send()
    };

    let (status, added) = read(
        add(json!({"path_contains": "/v3/self", "times": 1, "kind": "delay", "seconds": 0.3}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, added), (StatusCode::OK, json!({"faults": 1})));
    let started = Instant::now();
    let (status, me) = h.get_json(&h.url("/v3/self")).await;
    assert!(started.elapsed() >= Duration::from_millis(300), "delayed");
    assert_eq!(
        (status, &me["org_id"]),
        (StatusCode::OK, &json!(h.sim.org_id()))
    );

    add(
        json!({"method": "POST", "path_contains": "/sessions", "times": 1,
               "kind": "malformed_body"}),
    )
    .await
    .unwrap();
    let response = create().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");
    assert_eq!(session_count(&h).await, 0, "not handled");

    add(
        json!({"method": "POST", "path_contains": "/sessions", "times": 1,
               "kind": "drop_before_processing"}),
    )
    .await
    .unwrap();
    assert!(create().await.is_err(), "no answer");
    assert_eq!(session_count(&h).await, 0, "not handled");

    add(
        json!({"method": "POST", "path_contains": "/sessions", "times": 1,
               "kind": "drop_after_processing"}),
    )
    .await
    .unwrap();
    assert!(create().await.is_err(), "no answer");
    assert_eq!(session_count(&h).await, 1, "handled all the same");

    add(
        json!({"path_contains": "/v3/self", "times": 1, "kind": "status", "status": 503,
               "body": "down"}),
    )
    .await
    .unwrap();
    let response = h.req(Method::GET, &h.url("/v3/self")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.text().await.unwrap(), "down");

    // Every fault above was used up.
    assert_eq!(h.get_json(&h.url("/v3/self")).await.0, StatusCode::OK);
    create().await.unwrap();
    assert_eq!(session_count(&h).await, 2);

    for (bad, field) in [
        (json!({"path_contains": "x", "kind": "explode"}), "kind"),
        (json!({"path_contains": "x", "kind": "delay"}), "seconds"),
        (
            json!({"path_contains": "x", "kind": "delay", "seconds": -1}),
            "seconds",
        ),
        (
            json!({"path_contains": "x", "kind": "delay", "seconds": 1e9}),
            "seconds",
        ),
        (
            json!({"path_contains": "x", "kind": "delay", "seconds": 1, "status": 500}),
            "status",
        ),
        (
            json!({"path_contains": "x", "kind": "malformed_body", "seconds": 1}),
            "seconds",
        ),
        (json!({"path_contains": "x", "kind": "status"}), "status"),
        (json!({"path_contains": "x"}), "status"),
    ] {
        let problem = assert_problem(
            add(bad.clone()).await.unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(problem["errors"][0]["loc"], json!(["body", field]), "{bad}");
    }
    let unknown = add(json!({"path_contains": "x", "status": 500, "delay_ms": 5}))
        .await
        .unwrap();
    assert_problem(unknown, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(
        h.get_json(&h.url("/v3/self")).await.0,
        StatusCode::OK,
        "none was added"
    );
}

#[tokio::test]
async fn realtime_clock_moves_sessions_without_advancing() {
    // Zero-length steps make the whole cycle due at once, so no sleep is needed.
    let timings = Timings {
        claim_after: Duration::ZERO,
        start_after: Duration::ZERO,
        work_for: Duration::ZERO,
        suspend_after_idle: Duration::from_secs(3600),
        resume_after: Duration::ZERO,
        acus_per_minute: 1.0,
    };
    let config = SimConfig {
        timings,
        clock: ClockMode::Realtime,
        ..SimConfig::realtime()
    };
    let sim = Simulator::start(config, loopback()).await.unwrap();
    let http = client();
    let url = format!(
        "{}/v3/organizations/{}/sessions",
        sim.base_url(),
        sim.org_id()
    );
    let response = http
        .post(&url)
        .bearer_auth(sim.api_key())
        .json(&json!({"prompt": "p"}))
        .send();
    let (_, created) = read(response.await.unwrap()).await;
    let id = created["session_id"].as_str().unwrap();
    let session = sim.session(id).unwrap();
    assert_eq!(session.status.as_str(), "running");
    assert_eq!(
        session.status_detail.map(|d| d.to_string()).as_deref(),
        Some("finished")
    );
    assert!((sim.now() - created["created_at"].as_i64().unwrap()).abs() <= 1);
    // The control plane refuses to move a real clock.
    let advance = http
        .post(format!("{}/_sim/advance", sim.base_url()))
        .json(&json!({"seconds": 1}));
    assert_eq!(advance.send().await.unwrap().status(), StatusCode::CONFLICT);
    sim.shutdown().await;
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let sim = Simulator::start(SimConfig::manual(), loopback())
        .await
        .unwrap();
    let http = client();
    let url = format!("{}/v3/self", sim.base_url());
    assert_eq!(
        http.get(&url)
            .bearer_auth(sim.api_key())
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let clone = sim.clone();
    sim.shutdown().await;
    let fresh = client();
    assert!(
        fresh
            .get(&url)
            .bearer_auth(clone.api_key())
            .send()
            .await
            .is_err()
    );
}
