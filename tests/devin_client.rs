//! The Devin client against the simulator on loopback: every call, every retry rule, every
//! error body form.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Query;
use axum::response::IntoResponse;

use devin_mcp::devin::models::{
    CreateSessionRequest, ListSessionsQuery, SendMessageRequest, SessionStatus, Source,
    StatusDetail,
};
use devin_mcp::devin::sessions::MAX_PAGES;
use devin_mcp::devin::{
    ApiErrorKind, ApiKey, ClientConfig, DevinClient, DevinError, RetryPolicy, SessionRef,
};
use devin_mcp::sim::{Fault, FaultKind, SimConfig, Simulator};
use http::Method;
use serde_json::json;

async fn simulator() -> Simulator {
    Simulator::start(SimConfig::manual(), SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap()
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        base_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        max_retry_after: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
    }
}

fn client_with_key(sim: &Simulator, key: &str) -> DevinClient {
    let mut config = ClientConfig::new(ApiKey::new(key).unwrap(), &sim.base_url()).unwrap();
    config.retry = fast_retries();
    DevinClient::new(config).unwrap()
}

fn client(sim: &Simulator) -> DevinClient {
    client_with_key(sim, sim.api_key())
}

/// A client whose attempts time out after 300 ms, with `max_retries` retries.
fn impatient_client(sim: &Simulator, max_retries: u32) -> DevinClient {
    let mut config =
        ClientConfig::new(ApiKey::new(sim.api_key()).unwrap(), &sim.base_url()).unwrap();
    config.retry = RetryPolicy {
        max_retries,
        request_timeout: Duration::from_millis(300),
        ..fast_retries()
    };
    DevinClient::new(config).unwrap()
}

fn prompt(text: &str) -> CreateSessionRequest {
    CreateSessionRequest {
        prompt: text.to_owned(),
        ..Default::default()
    }
}

fn fault(method: Method, path_contains: &str, times: Option<u32>, kind: FaultKind) -> Fault {
    Fault {
        method: Some(method),
        path_contains: path_contains.to_owned(),
        times,
        kind,
    }
}

fn status_fault(status: u16, retry_after: Option<&str>, body: Option<&str>) -> FaultKind {
    FaultKind::Status {
        status,
        retry_after: retry_after.map(str::to_owned),
        body: body.map(str::to_owned),
    }
}

fn count(sim: &Simulator, method: &str, path_suffix: &str) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.method == method && r.path.ends_with(path_suffix))
        .count()
}

#[tokio::test]
async fn the_org_is_discovered_once_from_self() {
    let sim = simulator().await;
    let client = client(&sim);
    assert_eq!(client.org_id().await.unwrap(), sim.org_id());
    client.create_session(&prompt("a")).await.unwrap();
    client.create_session(&prompt("b")).await.unwrap();
    assert_eq!(count(&sim, "GET", "/v3/self"), 1);
    let me = client.whoami().await.unwrap();
    assert_eq!(me.org_id.as_deref(), Some(sim.org_id()));
}

#[tokio::test]
async fn an_enterprise_key_without_an_org_is_a_config_error() {
    let sim = simulator().await;
    let client = client_with_key(&sim, sim.enterprise_key());
    let error = client
        .get_session(&SessionRef::parse("devin-abc").unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(error, DevinError::Config(ref m) if m.contains("DEVIN_ORG_ID")),
        "{error}"
    );
}

#[tokio::test]
async fn create_get_list_message_tag_archive_and_terminate() {
    let sim = simulator().await;
    let client = client(&sim);
    let mut request = prompt("Fix the flaky test");
    request.tags = Some(vec!["ci".into(), "run:1".into()]);
    request.title = Some("Flaky".into());
    let created = client.create_session(&request).await.unwrap();
    assert_eq!(created.status, SessionStatus::New);
    assert!(created.session_id.starts_with("devin-"));
    let session = SessionRef::parse(&created.session_id).unwrap();

    let fetched = client.get_session(&session).await.unwrap();
    assert_eq!(fetched.title.as_deref(), Some("Flaky"));

    let page = client
        .list_sessions(&ListSessionsQuery {
            tags: vec!["run:1".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(
        SessionRef::parse(&page.items[0].session_id).unwrap(),
        session
    );

    let answer = client
        .send_message(
            &session,
            &SendMessageRequest {
                message: "more".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(SessionRef::parse(&answer.session_id).unwrap(), session);
    let messages = client.list_all_messages(&session).await.unwrap();
    assert_eq!(messages[0].source, Source::User);
    assert_eq!(messages[0].message, "Fix the flaky test");
    assert!(messages.iter().any(|m| m.message == "more"));

    assert_eq!(
        client.get_tags(&session).await.unwrap(),
        vec!["ci", "run:1"]
    );
    let appended = client
        .append_tags(&session, &["triaged".into(), "ci".into()])
        .await
        .unwrap();
    assert_eq!(appended, vec!["ci", "run:1", "triaged"]);
    let replaced = client
        .replace_tags(&session, &["only".into()])
        .await
        .unwrap();
    assert_eq!(replaced, vec!["only"]);

    let archived = client.archive_session(&session).await.unwrap();
    assert!(archived.is_archived);
    let ended = client.terminate_session(&session, false).await.unwrap();
    assert_eq!(ended.status, SessionStatus::Exit);
    let again = client.terminate_session(&session, false).await.unwrap_err();
    assert_eq!(again.api_kind(), Some(ApiErrorKind::Conflict), "{again}");
}

#[tokio::test]
async fn list_walks_every_page() {
    let sim = simulator().await;
    let client = client(&sim);
    for n in 0..7 {
        let mut request = prompt(&format!("task {n}"));
        request.tags = Some(vec!["batch".into()]);
        client.create_session(&request).await.unwrap();
    }
    client.create_session(&prompt("other")).await.unwrap();
    let query = ListSessionsQuery {
        tags: vec!["batch".into()],
        first: Some(3),
        ..Default::default()
    };
    let first = client.list_sessions(&query).await.unwrap();
    assert_eq!(first.items.len(), 3);
    assert!(first.has_next_page && first.end_cursor.is_some());
    let all = client.list_all_sessions(&query, None).await.unwrap();
    assert_eq!(all.len(), 7);
    let ids: HashSet<_> = all.iter().map(|s| s.session_id.clone()).collect();
    assert_eq!(ids.len(), 7, "no session twice across pages");
    let limited = client.list_all_sessions(&query, Some(4)).await.unwrap();
    assert_eq!(limited.len(), 4);
    let lists = count(&sim, "GET", "/sessions");
    assert!(lists >= 4, "pages were walked: {lists}");
}

#[tokio::test]
async fn walking_pages_stops_at_a_repeated_cursor_or_an_empty_page() {
    let sim = simulator().await;
    let client = client(&sim);
    let created = client.create_session(&prompt("x")).await.unwrap();
    let session = SessionRef::parse(&created.session_id).unwrap();
    let stuck = json!({
        "items": [{"event_id": "evt_1", "created_at": 1, "source": "devin", "message": "hi"}],
        "end_cursor": "same", "has_next_page": true,
    });
    sim.clear_requests();
    sim.inject_fault(fault(
        Method::GET,
        "/messages",
        None,
        status_fault(200, None, Some(&stuck.to_string())),
    ));
    let messages = client.list_all_messages(&session).await.unwrap();
    assert_eq!(
        messages.len(),
        2,
        "the first page and the one that repeated its cursor"
    );
    assert_eq!(count(&sim, "GET", "/messages"), 2);

    sim.clear_faults();
    sim.clear_requests();
    let empty = json!({"items": [], "end_cursor": "more", "has_next_page": true});
    sim.inject_fault(fault(
        Method::GET,
        "/messages",
        None,
        status_fault(200, None, Some(&empty.to_string())),
    ));
    assert!(client.list_all_messages(&session).await.unwrap().is_empty());
    assert_eq!(
        count(&sim, "GET", "/messages"),
        1,
        "an empty page ends the walk"
    );

    // The session list walks the same way.
    let listed = client.get_session(&session).await.unwrap();
    let stuck = json!({
        "items": [listed], "end_cursor": "same", "has_next_page": true,
    });
    sim.clear_requests();
    sim.inject_fault(fault(
        Method::GET,
        "/sessions",
        None,
        status_fault(200, None, Some(&stuck.to_string())),
    ));
    let all = client
        .list_all_sessions(&ListSessionsQuery::default(), None)
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(count(&sim, "GET", "/sessions"), 2);
}

/// An upstream whose every page names a new cursor and says more follow.
async fn endless_pages() -> (String, Arc<AtomicUsize>) {
    let served = Arc::new(AtomicUsize::new(0));
    let counter = served.clone();
    let app = axum::Router::new().fallback(move |Query(query): Query<HashMap<String, String>>| {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            let n: u64 = query.get("after").and_then(|a| a.parse().ok()).unwrap_or(0);
            axum::Json(json!({
                "items": [{"event_id": format!("evt_{n}"), "created_at": n,
                           "source": "devin", "message": "again"}],
                "end_cursor": (n + 1).to_string(), "has_next_page": true,
            }))
        }
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}"), served)
}

#[tokio::test]
async fn walking_pages_gives_up_after_the_page_cap_and_says_so() {
    let (base, served) = endless_pages().await;
    let mut config = ClientConfig::new(ApiKey::new("cog_stub").unwrap(), &base).unwrap();
    config.org_id = Some("org-stub".into());
    config.retry = fast_retries();
    let client = DevinClient::new(config).unwrap();
    let session = SessionRef::parse("devin-0123456789abcdef0123456789abcdef").unwrap();
    let error = client.list_all_messages(&session).await.unwrap_err();
    assert!(
        matches!(error, DevinError::Decode { ref message, .. } if message.contains("1000 pages")),
        "{error}"
    );
    assert_eq!(served.load(Ordering::SeqCst), MAX_PAGES);
}

#[tokio::test]
async fn the_lifecycle_runs_on_the_simulator_clock() {
    let sim = simulator().await;
    let client = client(&sim);
    let mut request = prompt("Write the report");
    request.structured_output_schema = Some(json!({
        "type": "object",
        "properties": {"ok": {"type": "boolean"}, "items": {"type": "array", "items": {"type": "string"}}},
        "required": ["ok", "items"]
    }));
    let session =
        SessionRef::parse(&client.create_session(&request).await.unwrap().session_id).unwrap();
    let mut seen = vec![];
    let mut acus = 0.0;
    for _ in 0..400 {
        let current = client.get_session(&session).await.unwrap();
        assert!(current.acus_consumed >= acus, "ACUs never decrease");
        acus = current.acus_consumed;
        let state = (current.status.clone(), current.status_detail.clone());
        if seen.last() != Some(&state) {
            seen.push(state);
        }
        if current.status_detail == Some(StatusDetail::Finished) {
            let output = current
                .structured_output
                .clone()
                .expect("structured output");
            assert!(jsonschema::is_valid(
                request.structured_output_schema.as_ref().unwrap(),
                &output
            ));
            break;
        }
        sim.advance(Duration::from_secs(1));
    }
    let statuses: Vec<SessionStatus> = seen.iter().map(|(s, _)| s.clone()).collect();
    assert_eq!(statuses.first(), Some(&SessionStatus::New), "{seen:?}");
    assert!(statuses.contains(&SessionStatus::Claimed), "{seen:?}");
    assert!(
        seen.contains(&(SessionStatus::Running, Some(StatusDetail::Working))),
        "{seen:?}"
    );
    assert_eq!(
        seen.last().unwrap().1,
        Some(StatusDetail::Finished),
        "{seen:?}"
    );
    assert!(acus > 0.0);
    let attachments = client.list_session_attachments(&session).await.unwrap();
    assert!(!attachments.is_empty());
    let devin_messages = client.list_all_messages(&session).await.unwrap();
    assert!(devin_messages.iter().any(|m| m.source == Source::Devin));
}

#[tokio::test]
async fn attachments_upload_and_download_without_the_key_crossing_hosts() {
    let sim = simulator().await;
    let client = client(&sim);
    let uploaded = client
        .upload_attachment(
            "log.txt",
            Some("text/plain"),
            bytes::Bytes::from_static(b"hello log"),
        )
        .await
        .unwrap();
    assert_eq!(uploaded.name, "log.txt");
    let download = client.download_attachment(&uploaded.url).await.unwrap();
    assert_eq!(&download.bytes[..], b"hello log");
    let requests = sim.requests();
    let blob = requests
        .iter()
        .find(|r| r.path.starts_with("/_sim/blobs/"))
        .expect("blob fetched");
    assert!(
        !blob.had_authorization,
        "the bearer key was forwarded to the redirect host"
    );
    let api = requests
        .iter()
        .find(|r| r.path.contains("/attachments/"))
        .unwrap();
    assert!(api.had_authorization);

    let mut request = prompt("Read the log");
    request.attachment_urls = Some(vec![uploaded.url.clone()]);
    let session = client.create_session(&request).await.unwrap();
    let session = SessionRef::parse(&session.session_id).unwrap();
    let listed = client.list_session_attachments(&session).await.unwrap();
    assert!(listed.iter().any(|a| a.url == uploaded.url), "{listed:?}");
}

/// The signature part of the presigned URLs below: it must never reach an error or a log.
const SIGNATURE: &str = "X-Amz-Signature=c0ffee5ecret";

/// Log lines written while a test runs, for checking what they carry.
#[derive(Clone, Default)]
struct CapturedLog(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLog {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLog {
    type Writer = CapturedLog;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl CapturedLog {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// An API on port 0 whose attachment download answers 307 to a presigned URL on `storage`
/// (`None`: on itself, whose `/bucket/…` answers 403).
async fn redirecting_api(storage: Option<String>) -> String {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let storage = storage.unwrap_or_else(|| base.clone());
    let app = axum::Router::new().fallback(move |uri: http::Uri| {
        let storage = storage.clone();
        async move {
            if uri.path().starts_with("/bucket/") {
                // What S3 says to a bad signature, which quotes the signature it was given.
                let body = format!("<Error><Code>SignatureDoesNotMatch</Code>{SIGNATURE}</Error>");
                return (http::StatusCode::FORBIDDEN, body).into_response();
            }
            let location = format!("{storage}/bucket/log.txt?X-Amz-Expires=60&{SIGNATURE}");
            (
                http::StatusCode::TEMPORARY_REDIRECT,
                [(http::header::LOCATION, location)],
            )
                .into_response()
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

fn stub_client(base: &str) -> DevinClient {
    let mut config = ClientConfig::new(ApiKey::new("cog_stub").unwrap(), base).unwrap();
    config.org_id = Some("org-stub".into());
    config.retry = fast_retries();
    DevinClient::new(config).unwrap()
}

const ATTACHMENT: &str =
    "https://app.devin.ai/attachments/1eb17217-4732-4bee-9e25-065a889c9dff/log.txt";

#[tokio::test]
async fn a_refused_download_redirect_is_a_download_error_without_the_presigned_query() {
    let log = CapturedLog::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(log.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let base = redirecting_api(None).await;
    let host = base.trim_start_matches("http://").to_owned();
    let error = stub_client(&base)
        .download_attachment(ATTACHMENT)
        .await
        .unwrap_err();
    match &error {
        DevinError::Download {
            host: named,
            status,
            path,
            ..
        } => {
            assert_eq!(named, &host);
            assert_eq!(*status, 403);
            assert!(path.ends_with("/attachments/1eb17217-4732-4bee-9e25-065a889c9dff/log.txt"));
        }
        other => panic!("expected a download error, got {other:?}"),
    }
    assert_eq!(
        error.api_kind(),
        None,
        "not a permission error of the Devin API"
    );
    let text = format!("{error} {error:?}");
    assert!(
        text.contains("storage host") && text.contains("403"),
        "{text}"
    );
    assert!(!text.contains("c0ffee5ecret"), "{text}");

    let lines = log.text();
    let fetched = lines
        .lines()
        .find(|line| line.contains("attachment redirect target fetched"))
        .unwrap_or_else(|| panic!("no redirect log line in {lines}"));
    for field in [
        "method=GET",
        &format!("host=\"{host}\""),
        "status=403",
        "latency_ms=",
    ] {
        assert!(fetched.contains(field), "{field} missing from {fetched}");
    }
    assert!(!lines.contains("c0ffee5ecret"), "{lines}");
}

#[tokio::test]
async fn an_unreachable_download_redirect_is_a_transport_error_without_the_presigned_query() {
    // A port that was just free: nothing listens there.
    let closed = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let storage = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let base = redirecting_api(Some(storage.clone())).await;
    let error = stub_client(&base)
        .download_attachment(ATTACHMENT)
        .await
        .unwrap_err();
    assert!(matches!(error, DevinError::Transport { .. }), "{error:?}");
    let text = format!("{error} {error:?}");
    assert!(
        text.contains(storage.trim_start_matches("http://")),
        "{text}"
    );
    assert!(
        !text.contains("c0ffee5ecret") && !text.contains("/bucket/"),
        "{text}"
    );
}

#[tokio::test]
async fn get_is_retried_after_5xx_and_dropped_connections() {
    let sim = simulator().await;
    let client = client(&sim);
    let session = SessionRef::parse(
        &client
            .create_session(&prompt("x"))
            .await
            .unwrap()
            .session_id,
    )
    .unwrap();
    sim.clear_requests();
    sim.inject_fault(fault(
        Method::GET,
        "/sessions/",
        Some(2),
        status_fault(503, None, None),
    ));
    client.get_session(&session).await.unwrap();
    assert_eq!(count(&sim, "GET", &session.devin_id()), 3);

    sim.clear_requests();
    sim.inject_fault(fault(
        Method::GET,
        "/sessions/",
        Some(1),
        FaultKind::DropBeforeProcessing,
    ));
    client.get_session(&session).await.unwrap();
    assert_eq!(count(&sim, "GET", &session.devin_id()), 2);

    sim.inject_fault(fault(
        Method::DELETE,
        "/sessions/",
        Some(1),
        status_fault(502, None, None),
    ));
    let ended = client.terminate_session(&session, false).await.unwrap();
    assert_eq!(ended.status, SessionStatus::Exit);
}

#[tokio::test]
async fn put_is_retried_after_5xx_and_dropped_connections() {
    let sim = simulator().await;
    let client = client(&sim);
    let created = client.create_session(&prompt("x")).await.unwrap();
    let session = SessionRef::parse(&created.session_id).unwrap();

    sim.clear_requests();
    sim.inject_fault(fault(
        Method::PUT,
        "/tags",
        Some(2),
        status_fault(503, None, None),
    ));
    let tags = client.replace_tags(&session, &["a".into()]).await.unwrap();
    assert_eq!(tags, vec!["a"]);
    assert_eq!(count(&sim, "PUT", "/tags"), 3, "two 503s, then success");

    for drop in [
        FaultKind::DropBeforeProcessing,
        FaultKind::DropAfterProcessing,
    ] {
        sim.clear_requests();
        sim.inject_fault(fault(Method::PUT, "/tags", Some(1), drop.clone()));
        let tags = client.replace_tags(&session, &["b".into()]).await.unwrap();
        assert_eq!(tags, vec!["b"], "{drop:?}");
        assert_eq!(count(&sim, "PUT", "/tags"), 2, "{drop:?}: resent once");
    }
    assert_eq!(client.get_tags(&session).await.unwrap(), vec!["b"]);
}

#[tokio::test]
async fn get_is_retried_after_a_timeout() {
    let sim = simulator().await;
    let client = impatient_client(&sim, 1);
    let created = client.create_session(&prompt("x")).await.unwrap();
    let session = SessionRef::parse(&created.session_id).unwrap();
    sim.clear_requests();
    sim.inject_fault(fault(
        Method::GET,
        "/sessions/",
        Some(1),
        FaultKind::Delay(Duration::from_secs(2)),
    ));
    let fetched = client.get_session(&session).await.unwrap();
    assert_eq!(fetched.session_id, created.session_id);
    assert_eq!(
        count(&sim, "GET", &session.devin_id()),
        2,
        "the timed-out attempt and the retry"
    );
}

#[tokio::test]
async fn terminate_with_archive_ends_and_archives_the_session() {
    let sim = simulator().await;
    let client = client(&sim);
    let created = client.create_session(&prompt("x")).await.unwrap();
    let session = SessionRef::parse(&created.session_id).unwrap();
    let ended = client.terminate_session(&session, true).await.unwrap();
    assert_eq!(ended.status, SessionStatus::Exit);
    assert!(ended.is_archived);
    let fetched = client.get_session(&session).await.unwrap();
    assert_eq!(fetched.status, SessionStatus::Exit);
    assert!(fetched.is_archived);
    let query = sim
        .requests()
        .into_iter()
        .find(|r| r.method == "DELETE")
        .and_then(|r| r.query);
    assert_eq!(query.as_deref(), Some("archive=true"));
}

#[tokio::test]
async fn retries_give_up_after_the_limit() {
    let sim = simulator().await;
    let client = client(&sim);
    client.org_id().await.unwrap();
    sim.clear_requests();
    sim.inject_fault(fault(
        Method::GET,
        "/sessions",
        None,
        status_fault(500, None, None),
    ));
    let error = client
        .list_sessions(&ListSessionsQuery::default())
        .await
        .unwrap_err();
    assert_eq!(error.api_kind(), Some(ApiErrorKind::Server));
    assert_eq!(
        count(&sim, "GET", "/sessions"),
        4,
        "one attempt and three retries"
    );
}

#[tokio::test]
async fn post_is_not_retried_after_a_5xx_or_a_dropped_connection() {
    let sim = simulator().await;
    let client = client(&sim);
    client.org_id().await.unwrap();

    sim.inject_fault(fault(
        Method::POST,
        "/sessions",
        Some(1),
        status_fault(503, None, None),
    ));
    let error = client.create_session(&prompt("x")).await.unwrap_err();
    assert_eq!(error.status(), Some(503));
    assert_eq!(count(&sim, "POST", "/sessions"), 1);

    sim.clear_requests();
    sim.inject_fault(fault(
        Method::POST,
        "/sessions",
        Some(1),
        FaultKind::DropAfterProcessing,
    ));
    let error = client
        .create_session(&prompt("dropped after"))
        .await
        .unwrap_err();
    assert!(matches!(error, DevinError::Transport { .. }), "{error}");
    assert_eq!(
        count(&sim, "POST", "/sessions"),
        1,
        "a second create would bill twice"
    );
    let all = client
        .list_all_sessions(&ListSessionsQuery::default(), None)
        .await
        .unwrap();
    assert_eq!(all.len(), 1, "the dropped create did happen, once");

    sim.clear_requests();
    sim.inject_fault(fault(
        Method::POST,
        "/sessions",
        Some(1),
        FaultKind::DropBeforeProcessing,
    ));
    client
        .create_session(&prompt("dropped before"))
        .await
        .unwrap_err();
    assert_eq!(count(&sim, "POST", "/sessions"), 1);
}

#[tokio::test]
async fn post_is_retried_after_a_429_honouring_retry_after() {
    let sim = simulator().await;
    let client = client(&sim);
    client.org_id().await.unwrap();
    sim.inject_fault(fault(
        Method::POST,
        "/sessions",
        Some(1),
        status_fault(429, Some("1"), None),
    ));
    let started = std::time::Instant::now();
    client.create_session(&prompt("x")).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After: 1 was honoured"
    );
    assert_eq!(count(&sim, "POST", "/sessions"), 2);
}

#[tokio::test]
async fn retry_after_is_capped() {
    let sim = simulator().await;
    let client = client(&sim);
    client.org_id().await.unwrap();
    sim.inject_fault(fault(
        Method::GET,
        "/sessions",
        Some(1),
        status_fault(429, Some("3600"), None),
    ));
    let started = std::time::Instant::now();
    client
        .list_sessions(&ListSessionsQuery::default())
        .await
        .unwrap();
    let waited = started.elapsed();
    // fast_retries caps Retry-After at 2 s: a client that ignored the header would come back
    // within the 20 ms backoff, one that obeyed it would wait an hour.
    assert!(
        waited >= Duration::from_millis(1900),
        "the capped Retry-After was waited for: {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(4),
        "a 1-hour Retry-After is capped: {waited:?}"
    );
    assert_eq!(count(&sim, "GET", "/sessions"), 2);
}

#[tokio::test]
async fn every_error_body_form_is_read() {
    let sim = simulator().await;
    let client = client(&sim);
    client.org_id().await.unwrap();
    let session = SessionRef::parse("devin-0123456789abcdef0123456789abcdef").unwrap();

    // Problem details, as the simulator writes them.
    let error = client.get_session(&session).await.unwrap_err();
    let api = error.api().unwrap();
    assert_eq!(api.kind(), ApiErrorKind::NotFound);
    assert_eq!(api.problem.status, Some(404));
    assert!(api.detail().is_some());
    assert_eq!(api.method, "GET");
    assert!(api.path.ends_with(&session.devin_id()));

    let cases = [
        (
            r#"{"detail": "Session is archived"}"#,
            409,
            "Session is archived",
        ),
        (
            r#"{"detail": [{"loc": ["body", "prompt"], "msg": "Field required", "type": "missing"}]}"#,
            422,
            "prompt: Field required",
        ),
        (
            r#"{"type": "about:blank", "title": "Unprocessable", "status": 422, "errors": [{"loc": ["query", "first"], "msg": "too big", "type": "le"}]}"#,
            422,
            "first: too big",
        ),
        ("<html>Bad Gateway</html>", 418, "<html>Bad Gateway</html>"),
    ];
    for (body, status, expected) in cases {
        sim.inject_fault(fault(
            Method::GET,
            "/sessions/",
            Some(1),
            status_fault(status, None, Some(body)),
        ));
        let error = client.get_session(&session).await.unwrap_err();
        assert_eq!(error.status(), Some(status));
        let text = error.to_string();
        assert!(text.contains(expected), "{body}: {text}");
    }

    // One member of an unexpected shape must not cost the others. The raw body would still
    // show in the message, so the parsed members are checked.
    let lenient = [
        (
            r#"{"title": "Not Found", "status": "404", "detail": "Session not found"}"#,
            404,
            "Session not found",
        ),
        (
            r#"{"title": "Unprocessable", "status": 422, "detail": "Bad input", "errors": {"prompt": "required"}}"#,
            422,
            "Bad input; prompt: required",
        ),
        (
            r#"{"title": "Unprocessable", "status": 422, "errors": [{"loc": "first", "msg": "too big", "type": "le"}]}"#,
            422,
            "first: too big",
        ),
    ];
    for (body, status, expected) in lenient {
        sim.inject_fault(fault(
            Method::GET,
            "/sessions/",
            Some(1),
            status_fault(status, None, Some(body)),
        ));
        let error = client.get_session(&session).await.unwrap_err();
        let api = error.api().unwrap();
        assert_eq!(api.problem.status, Some(status), "{body}");
        assert!(api.problem.title.is_some(), "{body}");
        assert_eq!(api.detail().as_deref(), Some(expected), "{body}");
    }
}

#[tokio::test]
async fn a_malformed_success_body_keeps_the_raw_body_and_the_json_path() {
    let sim = simulator().await;
    let client = client(&sim);
    client.org_id().await.unwrap();
    sim.inject_fault(fault(
        Method::GET,
        "/sessions",
        Some(1),
        status_fault(
            200,
            None,
            Some(r#"{"items": [{"session_id": "devin-1", "status": 7}]}"#),
        ),
    ));
    let error = client
        .list_sessions(&ListSessionsQuery::default())
        .await
        .unwrap_err();
    match error {
        DevinError::Decode {
            json_path,
            raw_body,
            ..
        } => {
            assert_eq!(json_path, "items[0].status");
            assert!(raw_body.contains("devin-1"));
        }
        other => panic!("expected a decode error, got {other}"),
    }
    sim.inject_fault(fault(
        Method::GET,
        "/sessions",
        Some(1),
        FaultKind::MalformedBody,
    ));
    let error = client
        .list_sessions(&ListSessionsQuery::default())
        .await
        .unwrap_err();
    assert!(matches!(error, DevinError::Decode { .. }), "{error}");
}

#[tokio::test]
async fn a_timeout_is_a_transport_error_that_says_so() {
    let sim = simulator().await;
    let client = impatient_client(&sim, 0);
    client.org_id().await.unwrap();
    sim.inject_fault(fault(
        Method::GET,
        "/sessions",
        None,
        FaultKind::Delay(Duration::from_secs(2)),
    ));
    let error = client
        .list_sessions(&ListSessionsQuery::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            DevinError::Transport {
                timed_out: true,
                ..
            }
        ),
        "{error}"
    );
}

#[tokio::test]
async fn keys_never_appear_in_errors() {
    let sim = simulator().await;
    let client = client_with_key(&sim, "cog_wrong_but_secret_key");
    let error = client.whoami().await.unwrap_err();
    assert_eq!(error.api_kind(), Some(ApiErrorKind::Unauthorized));
    assert!(!format!("{error} {error:?}").contains("cog_wrong_but_secret_key"));
    // A valid key used on an organization it does not belong to.
    let mut config =
        ClientConfig::new(ApiKey::new(sim.other_org_key()).unwrap(), &sim.base_url()).unwrap();
    config.org_id = Some(sim.org_id().to_owned());
    let forbidden_here = DevinClient::new(config).unwrap();
    let error = forbidden_here
        .list_sessions(&ListSessionsQuery::default())
        .await
        .unwrap_err();
    assert_eq!(error.api_kind(), Some(ApiErrorKind::Forbidden));
    assert!(!format!("{error} {error:?} {forbidden_here:?}").contains(sim.other_org_key()));
}
