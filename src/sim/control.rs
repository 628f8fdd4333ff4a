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
//! POST   /_sim/faults                          <fault, below>          -> {"faults": <count>}
//! DELETE /_sim/faults
//! GET    /_sim/requests                                                -> [RecordedRequest]
//! DELETE /_sim/requests
//! ```
//! The session routes answer with the session's full view.
//!
//! A fault body has the members every fault shares, then `kind` (one per [`FaultKind`];
//! `"status"` when left out) and the members of that kind, and no others:
//!
//! ```text
//! {"method"?: "GET", "path_contains": "/sessions", "times"?: 2, "kind"?: ..., ...}
//!   "kind": "status"                  "status": 503, "retry_after"?: "3", "body"?: "<text>"
//!   "kind": "delay"                   "seconds": 1.5   (real time, 0 to 3600)
//!   "kind": "malformed_body"
//!   "kind": "drop_before_processing"
//!   "kind": "drop_after_processing"
//! ```

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
#[serde(deny_unknown_fields)]
struct FaultBody {
    #[serde(default)]
    method: Option<String>,
    path_contains: String,
    #[serde(default)]
    times: Option<u32>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    retry_after: Option<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    seconds: Option<f64>,
}

/// The longest delay fault: longer only holds sockets open after the test has moved on.
const MAX_DELAY_SECONDS: f64 = 3600.0;

fn invalid_fault(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid(&["body", field], message, "value_error")
}

impl FaultBody {
    /// The kind this body asks for, refusing members that belong to another kind, so that a
    /// script with a typo learns of it instead of injecting something else.
    fn kind(&self) -> Result<FaultKind, ApiError> {
        let kind = self.kind.as_deref().unwrap_or("status");
        let given = [
            ("status", self.status.is_some()),
            ("retry_after", self.retry_after.is_some()),
            ("body", self.body.is_some()),
            ("seconds", self.seconds.is_some()),
        ];
        let allowed: &[&str] = match kind {
            "status" => &["status", "retry_after", "body"],
            "delay" => &["seconds"],
            "malformed_body" | "drop_before_processing" | "drop_after_processing" => &[],
            _ => {
                return Err(invalid_fault(
                    "kind",
                    "Must be one of status, delay, malformed_body, drop_before_processing, \
                     drop_after_processing",
                ));
            }
        };
        if let Some((field, _)) = given
            .iter()
            .find(|(field, present)| *present && !allowed.contains(field))
        {
            return Err(invalid_fault(
                field,
                format!("Does not apply to a fault of kind {kind}"),
            ));
        }
        Ok(match kind {
            "status" => {
                let status = self
                    .status
                    .filter(|status| StatusCode::from_u16(*status).is_ok())
                    .ok_or_else(|| invalid_fault("status", "Not an HTTP status"))?;
                FaultKind::Status {
                    status,
                    retry_after: self.retry_after.clone(),
                    body: self.body.clone(),
                }
            }
            "delay" => {
                let delay = self
                    .seconds
                    .filter(|seconds| *seconds <= MAX_DELAY_SECONDS)
                    .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
                    .ok_or_else(|| {
                        invalid_fault("seconds", "Must be a number of seconds from 0 to 3600")
                    })?;
                FaultKind::Delay(delay)
            }
            "malformed_body" => FaultKind::MalformedBody,
            "drop_before_processing" => FaultKind::DropBeforeProcessing,
            _ => FaultKind::DropAfterProcessing,
        })
    }
}

async fn add_fault(State(shared): SharedState, bytes: Bytes) -> ControlResult {
    let fault: FaultBody = body(&bytes)?;
    let method = fault
        .method
        .as_ref()
        .map(|m| http::Method::from_bytes(m.to_ascii_uppercase().as_bytes()))
        .transpose()
        .map_err(|_| invalid_fault("method", "Not an HTTP method"))?;
    let kind = fault.kind()?;
    let mut faults = lock(&shared.faults);
    faults.push(Fault {
        method,
        path_contains: fault.path_contains,
        times: fault.times,
        kind,
    });
    Ok(Json(json!({"faults": faults.len()})).into_response())
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
