//! The request log and fault injection, one middleware in front of every route.
//!
//! The log records API and blob requests (never the bearer token, and with
//! `session_secrets` values redacted). Faults apply to `/v3/...` only, so the control plane
//! keeps working while a test makes the API misbehave. Connection drops go through the
//! per-connection [`ConnDrop`] signal that the accept loop in `server` listens to, because a
//! handler alone cannot close its socket.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::problem::ApiError;
use super::{Fault, FaultKind, RecordedRequest, Shared, lock};

/// Most requests the log keeps; the oldest go first, so a long demo cannot grow it forever.
const MAX_RECORDED: usize = 10_000;

/// Largest request body the simulator reads, uploads included.
pub(crate) const MAX_BODY: usize = 32 * 1024 * 1024;

/// Closes the connection a request came in on, without a response, once cancelled.
#[derive(Debug, Clone)]
pub(crate) struct ConnDrop(pub(crate) CancellationToken);

/// Records the request, then applies the first matching fault or hands it on.
pub(crate) async fn record_and_fault(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request body too large or cut off",
        )
        .into_response();
    };
    let path = parts.uri.path().to_owned();
    let control_plane = path.starts_with("/_sim/") && !path.starts_with("/_sim/blobs/");
    if !control_plane {
        let body = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .map(redact_secrets);
        let header_text = |name| {
            parts
                .headers
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
        };
        let mut requests = lock(&shared.requests);
        if requests.len() >= MAX_RECORDED {
            requests.drain(..MAX_RECORDED / 10);
        }
        requests.push(RecordedRequest {
            method: parts.method.to_string(),
            path: path.clone(),
            query: parts.uri.query().map(str::to_owned),
            body,
            had_authorization: parts.headers.contains_key(header::AUTHORIZATION),
            user_agent: header_text(header::USER_AGENT).map(str::to_owned),
        });
    }
    let fault = if path.starts_with("/v3/") {
        take_fault(&shared, &parts.method, &path)
    } else {
        None
    };
    let request = Request::from_parts(parts, Body::from(bytes));
    match fault {
        None => next.run(request).await,
        Some(kind) => apply(kind, request, next).await,
    }
}

/// Finds the first fault matching the request and uses up one of its occurrences.
fn take_fault(shared: &Shared, method: &http::Method, path: &str) -> Option<FaultKind> {
    let mut faults = lock(&shared.faults);
    let index = faults
        .iter()
        .position(|fault| matches(fault, method, path))?;
    let fault = faults.get_mut(index)?;
    let kind = fault.kind.clone();
    if let Some(times) = fault.times.as_mut() {
        *times = times.saturating_sub(1);
        if *times == 0 {
            faults.remove(index);
        }
    }
    tracing::debug!(%method, path, ?kind, "injecting fault");
    Some(kind)
}

fn matches(fault: &Fault, method: &http::Method, path: &str) -> bool {
    fault.method.as_ref().is_none_or(|wanted| wanted == method)
        && path.contains(&fault.path_contains)
        && fault.times != Some(0)
}

async fn apply(kind: FaultKind, request: Request, next: Next) -> Response {
    match kind {
        FaultKind::Status {
            status,
            retry_after,
            body,
        } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            match body {
                None => ApiError::new(status, "Injected fault")
                    .with_retry_after(retry_after)
                    .into_response(),
                Some(body) => {
                    let content_type = if serde_json::from_str::<Value>(&body).is_ok() {
                        "application/json"
                    } else {
                        "text/plain; charset=utf-8"
                    };
                    let mut response =
                        (status, [(header::CONTENT_TYPE, content_type)], body).into_response();
                    if let Some(value) = retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
                        response.headers_mut().insert(header::RETRY_AFTER, value);
                    }
                    response
                }
            }
        }
        FaultKind::Delay(delay) => {
            tokio::time::sleep(delay).await;
            next.run(request).await
        }
        FaultKind::MalformedBody => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{\"session_id\": \"devin-",
        )
            .into_response(),
        FaultKind::DropBeforeProcessing => {
            let Some(ConnDrop(token)) = request.extensions().get::<ConnDrop>().cloned() else {
                return no_connection_handle();
            };
            token.cancel();
            // The connection task drops this future with the connection; no response is sent.
            std::future::pending().await
        }
        FaultKind::DropAfterProcessing => {
            let Some(ConnDrop(token)) = request.extensions().get::<ConnDrop>().cloned() else {
                return no_connection_handle();
            };
            let response = next.run(request).await;
            drop(response);
            token.cancel();
            std::future::pending().await
        }
    }
}

fn no_connection_handle() -> Response {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Connection drop requested outside the accept loop",
    )
    .into_response()
}

/// Replaces every `session_secrets[].value` with `"<redacted sha256:…>"`: the first 16 hex
/// digits of the value's SHA-256, so that a test can check that the very value arrived
/// without the log holding it.
fn redact_secrets(mut body: Value) -> Value {
    if let Some(Value::Array(secrets)) = body.get_mut("session_secrets") {
        for secret in secrets {
            if let Some(value) = secret.get_mut("value") {
                *value = Value::String(redacted(value));
            }
        }
    }
    body
}

/// How the request log shows a secret value (see [`redact_secrets`]).
pub fn redacted(value: &Value) -> String {
    use sha2::{Digest, Sha256};
    let text = value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned);
    let digest = Sha256::digest(text.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("<redacted sha256:{hex}>")
}
