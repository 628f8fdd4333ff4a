//! The simulator's HTTP surface: auth, validation, ids, pagination, filters, tags, errors.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;

use common::{assert_problem, read, start};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[tokio::test]
async fn requests_without_a_valid_cog_key_get_401() {
    let h = start().await;
    let url = h.org_url("sessions");
    let none = h.http.get(&url).send().await.unwrap();
    assert_problem(none, StatusCode::UNAUTHORIZED).await;
    let legacy = h
        .http
        .get(&url)
        .bearer_auth("apk_user_abc")
        .send()
        .await
        .unwrap();
    assert_problem(legacy, StatusCode::UNAUTHORIZED).await;
    let unknown = h
        .http
        .get(&url)
        .bearer_auth("cog_not_a_real_key")
        .send()
        .await
        .unwrap();
    assert_problem(unknown, StatusCode::UNAUTHORIZED).await;
    let not_bearer = h
        .http
        .get(&url)
        .basic_auth("cog", Some("x"))
        .send()
        .await
        .unwrap();
    assert_problem(not_bearer, StatusCode::UNAUTHORIZED).await;
    let self_url = h.url("/v3/self");
    assert_problem(
        h.http.get(&self_url).send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
    )
    .await;
}

#[tokio::test]
async fn key_of_another_org_gets_403() {
    let h = start().await;
    let response = h
        .http
        .get(h.org_url("sessions"))
        .bearer_auth(h.sim.other_org_key())
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::FORBIDDEN).await;
    let enterprise = h
        .http
        .get(h.org_url("sessions"))
        .bearer_auth(h.sim.enterprise_key())
        .send()
        .await
        .unwrap();
    assert_problem(enterprise, StatusCode::FORBIDDEN).await;
    // The main key against an org it does not belong to.
    let url = format!(
        "{}/v3/organizations/org-someone-else/sessions",
        h.sim.base_url()
    );
    assert_problem(
        h.req(Method::GET, &url).send().await.unwrap(),
        StatusCode::FORBIDDEN,
    )
    .await;
}

#[tokio::test]
async fn self_reports_org_for_org_keys_and_null_for_enterprise_keys() {
    let h = start().await;
    let (status, me) = h.get_json(&h.url("/v3/self")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["principal_type"], "service_user");
    assert_eq!(me["org_id"], h.sim.org_id());
    assert!(me["service_user_id"].is_string() && me["service_user_name"].is_string());
    let other = h
        .http
        .get(h.url("/v3/self"))
        .bearer_auth(h.sim.other_org_key());
    let (_, other) = read(other.send().await.unwrap()).await;
    assert!(other["org_id"].is_string());
    assert_ne!(other["org_id"], h.sim.org_id());
    let enterprise = h
        .http
        .get(h.url("/v3/self"))
        .bearer_auth(h.sim.enterprise_key());
    let (status, enterprise) = read(enterprise.send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(enterprise["org_id"], Value::Null);
}

#[tokio::test]
async fn create_returns_a_new_session_in_the_newest_shape() {
    let h = start().await;
    let session = h
        .create(json!({
            "prompt": "Fix the flaky test in tests/test_api.py",
            "tags": ["ci", "run:1"],
            "create_as_user_id": "user-42",
            "session_secrets": [{"key": "API_TOKEN", "value": "s3cr3t"}],
        }))
        .await;
    let id = session["session_id"].as_str().unwrap();
    let hex = id.strip_prefix("devin-").unwrap();
    assert_eq!(hex.len(), 32);
    assert!(
        hex.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert_eq!(
        session["url"],
        format!("https://app.devin.ai/sessions/{hex}")
    );
    assert_eq!(session["status"], "new");
    assert_eq!(session["acus_consumed"], 0.0);
    assert_eq!(session["pull_requests"], json!([]));
    assert_eq!(session["origin"], "api");
    assert_eq!(session["is_archived"], false);
    assert_eq!(session["org_id"], h.sim.org_id());
    assert_eq!(session["user_id"], "user-42");
    assert_eq!(session["service_user_id"], "service-user-sim");
    assert_eq!(session["tags"], json!(["ci", "run:1"]));
    assert_eq!(session["title"], "Fix the flaky test in tests/test_api.py");
    assert!(session.get("status_detail").is_none_or(Value::is_null));
    assert!(session.get("structured_output").is_none_or(Value::is_null));
    assert_eq!(session["created_at"], h.sim.now());
    // The prompt is the first user message.
    let messages = h.messages(id).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["source"], "user");
    assert_eq!(
        messages[0]["message"],
        "Fix the flaky test in tests/test_api.py"
    );
    assert!(messages[0]["event_id"].is_string());
}

#[tokio::test]
async fn create_without_prompt_gets_422_with_field_errors() {
    let h = start().await;
    let url = h.org_url("sessions");
    for body in [
        json!({}),
        json!({"prompt": null}),
        json!({"prompt": 5}),
        json!({"prompt": ""}),
    ] {
        let response = h.req(Method::POST, &url).json(&body).send().await.unwrap();
        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        let errors = problem["errors"].as_array().unwrap();
        assert_eq!(errors[0]["loc"], json!(["body", "prompt"]), "{body}");
        assert!(errors[0]["msg"].is_string() && errors[0]["type"].is_string());
    }
}

#[tokio::test]
async fn malformed_json_bodies_get_422() {
    let h = start().await;
    for raw in ["{\"prompt\": ", "not json", "[1,2]", "", "\u{0}\u{1}"] {
        let response = h
            .req(Method::POST, &h.org_url("sessions"))
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(!problem["errors"].as_array().unwrap().is_empty());
    }
    // Well-formed JSON with a wrongly typed field.
    let response = h
        .req(Method::POST, &h.org_url("sessions"))
        .json(&json!({"prompt": "x", "tags": "not-a-list"}))
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
}

#[tokio::test]
async fn create_enforces_documented_limits() {
    let h = start().await;
    let url = h.org_url("sessions");
    let big_schema = json!({"type": "object", "description": "x".repeat(70_000)});
    let cases = [
        (
            json!({"prompt": "p", "session_secrets": [{"key": "", "value": "v"}]}),
            "session_secrets",
        ),
        (
            json!({"prompt": "p", "session_secrets": [{"key": "k".repeat(257), "value": "v"}]}),
            "session_secrets",
        ),
        (
            json!({"prompt": "p", "session_secrets": [{"key": "K", "value": "v".repeat(65_537)}]}),
            "session_secrets",
        ),
        (
            json!({"prompt": "p", "structured_output_schema": big_schema}),
            "structured_output_schema",
        ),
        (
            json!({"prompt": "p", "structured_output_schema": {"type": 12}}),
            "structured_output_schema",
        ),
        (
            json!({"prompt": "p", "attachment_urls": [""]}),
            "attachment_urls",
        ),
        (
            json!({"prompt": "p", "attachment_urls": ["h".repeat(2084)]}),
            "attachment_urls",
        ),
        (json!({"prompt": "p", "max_acu_limit": 0}), "max_acu_limit"),
        (json!({"prompt": "p", "max_acu_limit": -3}), "max_acu_limit"),
        (
            json!({"prompt": "p", "tags": (0..51).map(|i| format!("t{i}")).collect::<Vec<_>>()}),
            "tags",
        ),
    ];
    for (body, field) in cases {
        let response = h.req(Method::POST, &url).json(&body).send().await.unwrap();
        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(problem["errors"][0]["loc"][1], field, "{problem}");
        assert!(
            !problem.to_string().contains("vvvvvvvv"),
            "the secret value must not be echoed"
        );
    }
    // Exactly at the limits is fine.
    h.create(json!({
        "prompt": "p",
        "session_secrets": [{"key": "k".repeat(256), "value": "v".repeat(65_536)}],
        "attachment_urls": ["h".repeat(2083)],
        "max_acu_limit": 1,
        "tags": (0..50).map(|i| format!("t{i}")).collect::<Vec<_>>(),
    }))
    .await;
}

#[tokio::test]
async fn unknown_platform_gets_400_listing_valid_labels() {
    let h = start().await;
    let response = h
        .req(Method::POST, &h.org_url("sessions"))
        .json(&json!({"prompt": "p", "platform": "amiga"}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, StatusCode::BAD_REQUEST).await;
    let detail = problem["detail"].as_str().unwrap();
    for label in ["inherit", "default", "linux", "windows", "macos"] {
        assert!(detail.contains(label), "{detail}");
    }
    h.create(json!({"prompt": "p", "platform": "windows"}))
        .await;
}

#[tokio::test]
async fn unknown_playbook_gets_404() {
    let h = start().await;
    let response = h
        .req(Method::POST, &h.org_url("sessions"))
        .json(&json!({"prompt": "p", "playbook_id": "nope"}))
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::NOT_FOUND).await;
    let session = h
        .create(json!({"prompt": "p", "playbook_id": "playbook-abc"}))
        .await;
    assert_eq!(session["playbook_id"], "playbook-abc");
}

#[tokio::test]
async fn sessions_are_found_with_or_without_the_devin_prefix() {
    let h = start().await;
    let id = h.create_prompt("prefix test").await;
    let bare = id.strip_prefix("devin-").unwrap();
    let with = h.session(&id).await;
    let without = h.session(bare).await;
    assert_eq!(with, without);
    assert_eq!(without["session_id"], id);
    assert_eq!(
        without["url"],
        format!("https://app.devin.ai/sessions/{bare}")
    );
    let upper = h.session(&bare.to_ascii_uppercase()).await;
    assert_eq!(upper["session_id"], id);
}

#[tokio::test]
async fn unknown_and_malformed_session_ids_get_problem_details() {
    let h = start().await;
    let unknown = h
        .req(Method::GET, &h.org_url("sessions/devin-0123abc"))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(unknown, StatusCode::NOT_FOUND).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("Session not found")
    );
    let long = format!("sessions/{}", "a".repeat(300));
    let long = h.req(Method::GET, &h.org_url(&long)).send().await.unwrap();
    assert_problem(long, StatusCode::BAD_REQUEST).await;
    for weird in [
        "sessions/%20",
        "sessions/a%2Fb",
        "sessions/%E2%9C%93",
        "sessions/devin-",
    ] {
        let response = h.req(Method::GET, &h.org_url(weird)).send().await.unwrap();
        let status = response.status();
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::NOT_FOUND,
            "{weird}: {status}"
        );
        assert_problem(response, status).await;
    }
}

#[tokio::test]
async fn page_size_outside_1_to_200_or_not_a_number_gets_422() {
    let h = start().await;
    for first in ["0", "201", "-1", "abc", "1.5", "99999999999999999999999"] {
        let url = h.org_url(&format!("sessions?first={first}"));
        let problem = assert_problem(
            h.req(Method::GET, &url).send().await.unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(
            problem["errors"][0]["loc"],
            json!(["query", "first"]),
            "{first}"
        );
    }
    for first in ["1", "200"] {
        let (status, _) = h
            .get_json(&h.org_url(&format!("sessions?first={first}")))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test]
async fn walking_pages_with_after_visits_every_session_once_newest_first() {
    let h = start().await;
    let mut created = Vec::new();
    for i in 0..7 {
        created.push(h.create_prompt(&format!("session {i}")).await);
        h.advance_secs(1);
    }
    let mut seen = Vec::new();
    let mut url = h.org_url("sessions?first=3");
    let mut pages = 0;
    loop {
        let (status, page) = h.get_json(&url).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["total"], 7);
        pages += 1;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 3);
        seen.extend(
            items
                .iter()
                .map(|s| s["session_id"].as_str().unwrap().to_owned()),
        );
        if !page["has_next_page"].as_bool().unwrap() {
            assert_eq!(page["end_cursor"], Value::Null);
            break;
        }
        let cursor = page["end_cursor"].as_str().unwrap();
        url = h.org_url(&format!("sessions?first=3&after={cursor}"));
    }
    assert_eq!(pages, 3);
    created.reverse();
    assert_eq!(seen, created, "newest created_at first");
}

#[tokio::test]
async fn default_page_holds_100_sessions() {
    let h = start().await;
    for i in 0..101 {
        h.create(json!({"prompt": format!("p{i}")})).await;
    }
    let (_, page) = h.get_json(&h.org_url("sessions")).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 100);
    assert_eq!(page["has_next_page"], true);
    assert_eq!(page["total"], 101);
}

#[tokio::test]
async fn unparsable_cursor_gets_422() {
    let h = start().await;
    h.create_prompt("one").await;
    for cursor in ["garbage!", "bm90IGpzb24", "e30", "%FF%FE"] {
        let url = h.org_url(&format!("sessions?after={cursor}"));
        let response = h.req(Method::GET, &url).send().await.unwrap();
        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(
            problem["errors"][0]["loc"],
            json!(["query", "after"]),
            "{cursor}"
        );
    }
    let id = h.create_prompt("two").await;
    let url = h.org_url(&format!("sessions/{id}/messages?after=nope"));
    assert_problem(
        h.req(Method::GET, &url).send().await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
}

async fn listed_ids(h: &common::Harness, query: &str) -> BTreeSet<String> {
    let (status, page) = h.get_json(&h.org_url(&format!("sessions?{query}"))).await;
    assert_eq!(status, StatusCode::OK, "{query}: {page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["session_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn array_filters_accept_repeated_comma_and_mixed_forms() {
    let h = start().await;
    let ab = h
        .create(json!({"prompt": "1", "tags": ["a", "b", "c"]}))
        .await;
    let a = h.create(json!({"prompt": "2", "tags": ["a"]})).await;
    let b = h.create(json!({"prompt": "3", "tags": ["b", "c"]})).await;
    let id = |s: &Value| s["session_id"].as_str().unwrap().to_owned();

    // Tags combine with AND.
    let expected: BTreeSet<String> = [id(&ab)].into();
    for query in [
        "tags=a&tags=b&tags=c",
        "tags=a,b,c",
        "tags=a,b&tags=c",
        "tags=a%2Cb&tags=c",
    ] {
        assert_eq!(listed_ids(&h, query).await, expected, "{query}");
    }
    assert_eq!(listed_ids(&h, "tags=b").await, [id(&ab), id(&b)].into());

    // session_ids is a set to pick from, in either id form.
    let bare_a = id(&a).strip_prefix("devin-").unwrap().to_owned();
    let expected: BTreeSet<String> = [id(&a), id(&b)].into();
    for query in [
        format!("session_ids={}&session_ids={}", id(&a), id(&b)),
        format!("session_ids={},{}", id(&a), id(&b)),
        format!("session_ids={bare_a},{}", id(&b)),
    ] {
        assert_eq!(listed_ids(&h, &query).await, expected, "{query}");
    }
    assert!(listed_ids(&h, "session_ids=not-a-session").await.is_empty());

    let all: BTreeSet<String> = [id(&ab), id(&a), id(&b)].into();
    assert_eq!(listed_ids(&h, "origins=api,webapp").await, all);
    assert!(
        listed_ids(&h, "origins=slack&origins=jira")
            .await
            .is_empty()
    );
    assert_eq!(
        listed_ids(&h, "service_user_ids=service-user-sim").await,
        all
    );
    assert!(listed_ids(&h, "user_ids=u1,u2").await.is_empty());
}

#[tokio::test]
async fn scalar_filters_narrow_the_list() {
    let h = start().await;
    let old = h
        .create(json!({"prompt": "old", "repos": ["acme/api"], "create_as_user_id": "u1"}))
        .await;
    let t_old = old["created_at"].as_i64().unwrap();
    h.advance_secs(100);
    let new = h
        .create(json!({"prompt": "new", "playbook_id": "playbook-x"}))
        .await;
    let t_new = new["created_at"].as_i64().unwrap();
    let id = |s: &Value| s["session_id"].as_str().unwrap().to_owned();
    let only_old: BTreeSet<String> = [id(&old)].into();
    let only_new: BTreeSet<String> = [id(&new)].into();
    assert_eq!(
        listed_ids(&h, &format!("created_after={}", t_old + 1)).await,
        only_new
    );
    assert_eq!(
        listed_ids(&h, &format!("created_before={}", t_new - 1)).await,
        only_old
    );
    assert_eq!(
        listed_ids(&h, "repo_names=acme/api,acme/web").await,
        only_old
    );
    assert_eq!(listed_ids(&h, "user_ids=u1").await, only_old);
    assert_eq!(listed_ids(&h, "playbook_id=playbook-x").await, only_new);
    assert!(listed_ids(&h, "schedule_id=sched-1").await.is_empty());
    assert!(listed_ids(&h, "category=bug_fixing").await.is_empty());
    assert!(listed_ids(&h, "is_archived=true").await.is_empty());
    let archive = h.org_url(&format!("sessions/{}/archive", id(&old)));
    assert_eq!(
        h.req(Method::POST, &archive).send().await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(listed_ids(&h, "is_archived=true").await, only_old);
    assert_eq!(listed_ids(&h, "is_archived=false").await, only_new);
    let updated = h.session(&id(&old)).await["updated_at"].as_i64().unwrap();
    assert_eq!(
        listed_ids(&h, &format!("updated_after={updated}"))
            .await
            .len(),
        2
    );
    assert_eq!(
        listed_ids(&h, &format!("updated_before={}", t_new - 1))
            .await
            .len(),
        0
    );
    for bad in [
        "created_after=yesterday",
        "is_archived=maybe",
        "updated_before=1e9",
    ] {
        let response = h
            .req(Method::GET, &h.org_url(&format!("sessions?{bad}")))
            .send()
            .await;
        assert_problem(response.unwrap(), StatusCode::UNPROCESSABLE_ENTITY).await;
    }
}

#[tokio::test]
async fn list_items_carry_status_detail_and_structured_output() {
    let h = start().await;
    let id = h.create_prompt("work").await;
    h.sim.set_structured_output(&id, json!({"k": 1})).unwrap();
    h.advance_secs(10);
    let (_, page) = h.get_json(&h.org_url("sessions")).await;
    assert_eq!(page["items"][0]["status_detail"], "working");
    assert_eq!(page["items"][0]["structured_output"], json!({"k": 1}));
}

#[tokio::test]
async fn tags_get_append_with_dedup_and_replace() {
    let h = start().await;
    let id = h.create(json!({"prompt": "t", "tags": ["ci"]})).await["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = h.org_url(&format!("sessions/{id}/tags"));
    let (status, tags) = h.get_json(&url).await;
    assert_eq!((status, tags), (StatusCode::OK, json!({"tags": ["ci"]})));
    let (_, tags) = h
        .send_json(Method::POST, &url, json!({"tags": ["triaged", "ci"]}))
        .await;
    assert_eq!(tags, json!({"tags": ["ci", "triaged"]}));
    let (_, tags) = h.send_json(Method::PUT, &url, json!({"tags": ["x"]})).await;
    assert_eq!(tags, json!({"tags": ["x"]}));
    assert_eq!(h.session(&id).await["tags"], json!(["x"]));
}

#[tokio::test]
async fn more_than_50_tags_get_422() {
    let h = start().await;
    let id = h.create_prompt("t").await;
    let url = h.org_url(&format!("sessions/{id}/tags"));
    let forty: Vec<String> = (0..40).map(|i| format!("a{i}")).collect();
    let (status, _) = h.send_json(Method::PUT, &url, json!({"tags": forty})).await;
    assert_eq!(status, StatusCode::OK);
    let more: Vec<String> = (0..11).map(|i| format!("b{i}")).collect();
    let response = h
        .req(Method::POST, &url)
        .json(&json!({"tags": more}))
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    let too_many: Vec<String> = (0..51).map(|i| format!("c{i}")).collect();
    let response = h
        .req(Method::PUT, &url)
        .json(&json!({"tags": too_many}))
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    let missing = h
        .req(Method::PUT, &url)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_problem(missing, StatusCode::UNPROCESSABLE_ENTITY).await;
    let (_, tags) = h.get_json(&url).await;
    assert_eq!(
        tags["tags"].as_array().unwrap().len(),
        40,
        "failed writes change nothing"
    );
}

#[tokio::test]
async fn unknown_routes_get_404_and_wrong_methods_get_405_problems() {
    let h = start().await;
    let unknown = h
        .req(Method::GET, &h.url("/v3/nothing/here"))
        .send()
        .await
        .unwrap();
    assert_problem(unknown, StatusCode::NOT_FOUND).await;
    let root = h.http.get(h.url("/")).send().await.unwrap();
    assert_problem(root, StatusCode::NOT_FOUND).await;
    let wrong = h
        .req(Method::PATCH, &h.org_url("sessions"))
        .send()
        .await
        .unwrap();
    assert_problem(wrong, StatusCode::METHOD_NOT_ALLOWED).await;
    let wrong = h
        .req(Method::DELETE, &h.url("/v3/self"))
        .send()
        .await
        .unwrap();
    assert_problem(wrong, StatusCode::METHOD_NOT_ALLOWED).await;
}

#[tokio::test]
async fn garbage_inputs_get_problem_details_and_the_server_survives() {
    let h = start().await;
    let id = h.create_prompt("survivor").await;
    let paths = [
        "/v3/organizations//sessions".to_owned(),
        "/v3/organizations/%FF/sessions".to_owned(),
        format!("/v3/organizations/{}/sessions/%00", h.sim.org_id()),
        format!(
            "/v3/organizations/{}/sessions/{id}/messages?first=9999999999999999999999",
            h.sim.org_id()
        ),
        format!(
            "/v3/organizations/{}/sessions?first=&after=&tags=,,,",
            h.sim.org_id()
        ),
        format!(
            "/v3/organizations/{}/sessions/{id}?archive=perhaps",
            h.sim.org_id()
        ),
        format!("/v3/organizations/{}/attachments/x/y", h.sim.org_id()),
        "/_sim/blobs/../../etc/passwd".to_owned(),
        "/v3/organizations/x/sessions/y/z/w/v".to_owned(),
    ];
    for path in paths {
        for method in [Method::GET, Method::POST, Method::DELETE, Method::PUT] {
            let response = h
                .req(method.clone(), &h.url(&path))
                .header("content-type", "application/json")
                .body("{\"message\": [}")
                .send()
                .await
                .unwrap();
            let status = response.status();
            if status.is_client_error() {
                assert_problem(response, status).await;
            } else {
                assert!(status.is_success(), "{method} {path}: {status}");
            }
        }
    }
    let bad_messages = [json!({"message": 5}), json!({"nope": 1}), json!([])];
    for body in bad_messages {
        let url = h.org_url(&format!("sessions/{id}/messages"));
        let response = h.req(Method::POST, &url).json(&body).send().await.unwrap();
        assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    // Still serving after all of that.
    assert_eq!(h.session(&id).await["session_id"], id);
}
