//! The `/_sim/...` control plane: the Rust scripting hooks over HTTP, for scripts that run
//! outside the process (the Python contract test, demos).
//!
//! Thin wrappers over the same store operations as the `Simulator` methods. No
//! authentication: the simulator is for loopback only. Errors are ProblemDetails like the
//! API's, but these routes are not part of the Devin API and are never faulted.
//!
//! ```text
//! POST   /_sim/advance                         {"seconds": 90}         -> {"now": <epoch s>}
//! GET    /_sim/sessions/{id}                                           -> full session
//! POST   /_sim/sessions/{id}/status            {"status", "status_detail"?}
//! POST   /_sim/sessions/{id}/structured_output <any JSON>
//! POST   /_sim/sessions/{id}/fail
//! POST   /_sim/sessions/{id}/messages          {"message"}             (from Devin)
//! POST   /_sim/sessions/{id}/pull_requests     {"pr_url", "pr_state"?}
//! POST   /_sim/sessions/{id}/children          {"prompt"}              -> {"session_id"}
//! POST   /_sim/faults   {"method"?, "path_contains", "times"?, "status", "retry_after"?, "body"?}
//! DELETE /_sim/faults
//! GET    /_sim/requests                                                -> [RecordedRequest]
//! DELETE /_sim/requests
//! ```
//! The session routes answer with the session's full view.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::StatusCode;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::problem::ApiError;
use super::{Fault, FaultKind, Shared, SimError, lock};
use crate::devin::models::{PrState, SessionStatus, StatusDetail};

type SharedState = State<Arc<Shared>>;
type ControlResult = Result<Response, ApiError>;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/_sim/advance", post(advance))
        .route("/_sim/sessions/{id}", get(session))
        .route("/_sim/sessions/{id}/status", post(set_status))
        .route(
            "/_sim/sessions/{id}/structured_output",
            post(set_structured_output),
        )
        .route("/_sim/sessions/{id}/fail", post(fail))
        .route("/_sim/sessions/{id}/messages", post(devin_message))
        .route("/_sim/sessions/{id}/pull_requests", post(pull_request))
        .route("/_sim/sessions/{id}/children", post(child))
        .route("/_sim/faults", post(add_fault).delete(clear_faults))
        .route("/_sim/requests", get(requests).delete(clear_requests))
        .with_state(shared)
}

fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|error| ApiError::invalid(&["body"], error.to_string(), "value_error"))
}

fn id(extracted: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    extracted
        .map(|Path(id)| id)
        .map_err(|rejection| ApiError::bad_request(rejection.body_text()))
}

fn hook_error(error: SimError) -> ApiError {
    match error {
        SimError::UnknownSession(_) => ApiError::not_found(error.to_string()),
        SimError::NotManualClock => ApiError::conflict(error.to_string()),
    }
}

/// The session's full view after a hook ran.
fn session_view(shared: &Shared, id: &str) -> ControlResult {
    shared
        .store()
        .view(id)
        .map(|session| Json(session).into_response())
        .ok_or_else(|| hook_error(SimError::UnknownSession(id.to_owned())))
}

#[derive(Deserialize)]
struct AdvanceBody {
    seconds: f64,
}

async fn advance(State(shared): SharedState, bytes: Bytes) -> ControlResult {
    let AdvanceBody { seconds } = body(&bytes)?;
    let by = Duration::try_from_secs_f64(seconds).map_err(|_| {
        ApiError::invalid(
            &["body", "seconds"],
            "Must be a finite number >= 0",
            "value_error",
        )
    })?;
    shared
        .clock
        .advance(by)
        .map_err(|_| hook_error(SimError::NotManualClock))?;
    let now = shared.clock.now_ms();
    drop(shared.store());
    Ok(Json(json!({"now": now.div_euclid(1000)})).into_response())
}

async fn session(
    State(shared): SharedState,
    session: Result<Path<String>, PathRejection>,
) -> ControlResult {
    session_view(&shared, &id(session)?)
}

#[derive(Deserialize)]
struct StatusBody {
    status: String,
    #[serde(default)]
    status_detail: Option<String>,
}

async fn set_status(
    State(shared): SharedState,
    session: Result<Path<String>, PathRejection>,
    bytes: Bytes,
) -> ControlResult {
    let session = id(session)?;
    let StatusBody {
        status,
        status_detail,
    } = body(&bytes)?;
    let status = SessionStatus::from(status.as_str());
    let detail = status_detail.as_deref().map(StatusDetail::from);
    shared
        .store()
        .set_status(&session, status, detail)
        .map_err(hook_error)?;
    session_view(&shared, &session)
}

async fn set_structured_output(
    State(shared): SharedState,
    session: Result<Path<String>, PathRejection>,
    bytes: Bytes,
) -> ControlResult {
    let session = id(session)?;
    let value: Value = body(&bytes)?;
    shared
        .store()
        .set_structured_output(&session, value)
        .map_err(hook_error)?;
    session_view(&shared, &session)
}

async fn fail(
    State(shared): SharedState,
    session: Result<Path<String>, PathRejection>,
) -> ControlResult {
    let session = id(session)?;
    shared.store().fail(&session).map_err(hook_error)?;
    session_view(&shared, &session)
}

#[derive(Deserialize)]
struct MessageBody {
    message: String,
}

async fn devin_message(
    State(shared): SharedState,
    session: Result<Path<String>, PathRejection>,
    bytes: Bytes,
) -> ControlResult {
    let session = id(session)?;
    let MessageBody { message } = body(&bytes)?;
    shared
        .store()
        .post_devin_message(&session, &message)
        .map_err(hook_error)?;
    session_view(&shared, &session)
}

#[derive(Deserialize)]
struct PullRequestBody {
    pr_url: String,
    #[serde(default)]
    pr_state: Option<String>,
}

async fn pull_request(
    State(shared): SharedState,
    session: Result<Path<String>, PathRejection>,
    bytes: Bytes,
) -> ControlResult {
    let session = id(session)?;
    let PullRequestBody { pr_url, pr_state } = body(&bytes)?;
    let state = pr_state.as_deref().map_or(PrState::Open, PrState::from);
    shared
        .store()
        .add_pull_request(&session, &pr_url, state)
        .map_err(hook_error)?;
    session_view(&shared, &session)
}

#[derive(Deserialize)]
struct ChildBody {
    prompt: String,
}

async fn child(
    State(shared): SharedState,
    session: Result<Path<String>, PathRejection>,
    bytes: Bytes,
) -> ControlResult {
    let session = id(session)?;
    let ChildBody { prompt } = body(&bytes)?;
    let child = shared
        .store()
        .spawn_child(&session, &prompt)
        .map_err(hook_error)?;
    Ok(Json(json!({"session_id": child})).into_response())
}

#[derive(Deserialize)]
struct FaultBody {
    #[serde(default)]
    method: Option<String>,
    path_contains: String,
    #[serde(default)]
    times: Option<u32>,
    status: u16,
    #[serde(default)]
    retry_after: Option<String>,
    #[serde(default)]
    body: Option<String>,
}

async fn add_fault(State(shared): SharedState, bytes: Bytes) -> ControlResult {
    let fault: FaultBody = body(&bytes)?;
    let method = fault
        .method
        .map(|m| http::Method::from_bytes(m.to_ascii_uppercase().as_bytes()))
        .transpose()
        .map_err(|_| ApiError::invalid(&["body", "method"], "Not an HTTP method", "value_error"))?;
    if StatusCode::from_u16(fault.status).is_err() {
        return Err(ApiError::invalid(
            &["body", "status"],
            "Not an HTTP status",
            "value_error",
        ));
    }
    lock(&shared.faults).push(Fault {
        method,
        path_contains: fault.path_contains,
        times: fault.times,
        kind: FaultKind::Status {
            status: fault.status,
            retry_after: fault.retry_after,
            body: fault.body,
        },
    });
    Ok(Json(json!({"faults": lock(&shared.faults).len()})).into_response())
}

async fn clear_faults(State(shared): SharedState) -> ControlResult {
    lock(&shared.faults).clear();
    Ok(Json(json!({"faults": 0})).into_response())
}

async fn requests(State(shared): SharedState) -> ControlResult {
    let requests = lock(&shared.requests).clone();
    Ok(Json(requests).into_response())
}

async fn clear_requests(State(shared): SharedState) -> ControlResult {
    lock(&shared.requests).clear();
    Ok(Json(json!({"requests": 0})).into_response())
}
