//! Error answers of the simulator: RFC 9457 problem details, as the newest spec sends (§2.3).
//!
//! Handlers return [`ApiError`]; the [`fill_instance`] middleware, which knows the request
//! path, completes the body with `instance` before it goes out. Every error the simulator
//! sends, unknown routes and injected faults included, passes through here, so each one has
//! `Content-Type: application/problem+json`.

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::Value;

use crate::devin::models::{FieldError, Problem};

/// The media type of every error body.
pub(crate) const PROBLEM_JSON: &str = "application/problem+json";

/// An error answer, before the request path is known.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    status: StatusCode,
    detail: String,
    errors: Option<Vec<FieldError>>,
    retry_after: Option<String>,
}

/// The problem body waiting for its `instance`, carried in the response extensions.
#[derive(Debug, Clone)]
struct PendingProblem(Problem);

impl ApiError {
    pub(crate) fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
            errors: None,
            retry_after: None,
        }
    }

    pub(crate) fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    pub(crate) fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, detail)
    }

    pub(crate) fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, detail)
    }

    pub(crate) fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }

    pub(crate) fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, detail)
    }

    /// A 422 with field-level `errors`.
    pub(crate) fn validation(errors: Vec<FieldError>) -> Self {
        let detail = errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            detail,
            errors: Some(errors),
            retry_after: None,
        }
    }

    /// A 422 for one field.
    pub(crate) fn invalid(loc: &[&str], msg: impl Into<String>, error_type: &str) -> Self {
        Self::validation(vec![field_error(loc, msg, error_type)])
    }

    /// Adds a `Retry-After` header, sent verbatim.
    pub(crate) fn with_retry_after(mut self, value: Option<String>) -> Self {
        self.retry_after = value;
        self
    }
}

/// One `{loc, msg, type}` item.
pub(crate) fn field_error(loc: &[&str], msg: impl Into<String>, error_type: &str) -> FieldError {
    FieldError {
        loc: loc
            .iter()
            .map(|part| Value::String((*part).to_owned()))
            .collect(),
        msg: msg.into(),
        error_type: error_type.to_owned(),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = Problem {
            problem_type: Some("about:blank".to_owned()),
            title: Some(self.status.canonical_reason().unwrap_or("Error").to_owned()),
            status: Some(self.status.as_u16()),
            detail: Some(Value::String(self.detail)),
            instance: None,
            errors: self.errors,
        };
        let mut response = problem_response(self.status, &problem);
        if let Some(value) = self
            .retry_after
            .and_then(|v| HeaderValue::from_str(&v).ok())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response.extensions_mut().insert(PendingProblem(problem));
        response
    }
}

fn problem_response(status: StatusCode, problem: &Problem) -> Response {
    // Serializing plain strings and numbers cannot fail; an empty body would still be sent.
    let body = serde_json::to_vec(problem).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, PROBLEM_JSON)], body).into_response()
}

/// Completes problem bodies with `instance`, the request path.
pub(crate) async fn fill_instance(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    if let Some(PendingProblem(mut problem)) = response.extensions_mut().remove() {
        problem.instance = Some(path);
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        response.headers_mut().remove(header::CONTENT_LENGTH);
        *response.body_mut() = Body::from(body);
    }
    response
}

/// Fallback for paths no route knows.
pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found("No such endpoint in the Devin API simulator")
}

/// Fallback for a known path with a method it does not support.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method not allowed for this endpoint",
    )
}
