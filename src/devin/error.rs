//! The one error type of the Devin client.
//!
//! It keeps what a caller needs to decide and to explain: the request (method and path, never
//! the key), the HTTP status, the API's own problem body, and for decode failures the raw body
//! and the JSON path that failed. The MCP layer turns it into a sentence for a model; it must
//! not have to guess.

use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;

use super::models::Problem;

/// Everything that can go wrong talking to the Devin API.
#[derive(Debug, thiserror::Error)]
pub enum DevinError {
    /// The API answered with a status other than success.
    #[error("{0}")]
    Api(Box<ApiError>),
    /// No answer arrived: the connection failed, broke, or timed out.
    #[error("{method} {path}: {message}")]
    Transport {
        method: String,
        path: String,
        message: String,
        /// The per-request timeout expired.
        timed_out: bool,
    },
    /// The API answered with success, but the body is not what the API documents.
    #[error("{method} {path}: unexpected response body at {json_path}: {message}")]
    Decode {
        method: String,
        path: String,
        status: u16,
        /// Where decoding failed, as a JSON path (`.items[3].status`), or `.` for the root.
        json_path: String,
        message: String,
        /// The body as received, cut to a readable length.
        raw_body: String,
    },
    /// The API redirected a download to its storage host, and that host answered with a
    /// status other than success. Not an [`ApiError`]: the Devin API itself did its part, and
    /// a 403 here means an expired or refused presigned link, not a missing permission. Only
    /// the host is kept, never the presigned URL, whose query is a credential.
    #[error(
        "{method} {path}: the download redirect went to the storage host {host}, which answered \
         HTTP {status}"
    )]
    Download {
        method: String,
        path: String,
        /// Host (and port, when not the default) of the redirect target.
        host: String,
        status: u16,
    },
    /// The client is misconfigured (no key, a legacy key, no organization).
    #[error("{0}")]
    Config(String),
}

/// A non-success answer from the API.
#[derive(Debug)]
pub struct ApiError {
    pub method: String,
    pub path: String,
    pub status: StatusCode,
    /// The parsed error body; empty when the body was not JSON.
    pub problem: Problem,
    /// The body as received, cut to a readable length.
    pub raw_body: String,
    /// What `Retry-After` (or `retry-after-ms`) asked for, on 429 and 503.
    pub retry_after: Option<Duration>,
}

/// The classes of API failure a caller branches on (§2.3). Never branch on `title`/`detail`
/// text: it is undocumented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiErrorKind {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    Validation,
    RateLimited,
    Server,
    Other,
}

impl ApiError {
    pub fn kind(&self) -> ApiErrorKind {
        match self.status.as_u16() {
            400 => ApiErrorKind::BadRequest,
            401 => ApiErrorKind::Unauthorized,
            403 => ApiErrorKind::Forbidden,
            404 => ApiErrorKind::NotFound,
            409 => ApiErrorKind::Conflict,
            422 => ApiErrorKind::Validation,
            429 => ApiErrorKind::RateLimited,
            500..=599 => ApiErrorKind::Server,
            _ => ApiErrorKind::Other,
        }
    }

    /// The API's own explanation, when it gave one.
    pub fn detail(&self) -> Option<String> {
        self.problem.summary()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: HTTP {}",
            self.method,
            self.path,
            self.status.as_u16()
        )?;
        match self.detail() {
            Some(detail) => write!(f, ": {detail}"),
            None if !self.raw_body.is_empty() => write!(f, ": {}", self.raw_body),
            None => Ok(()),
        }
    }
}

impl DevinError {
    /// The API error, when the API answered.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Self::Api(error) => Some(error),
            _ => None,
        }
    }

    /// The class of API failure, when the API answered.
    pub fn api_kind(&self) -> Option<ApiErrorKind> {
        self.api().map(ApiError::kind)
    }

    /// The HTTP status, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api(error) => Some(error.status.as_u16()),
            Self::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Cuts a body to a length that fits in an error message without flooding a log.
pub(crate) fn shorten_body(body: &str) -> String {
    const LIMIT: usize = 2048;
    if body.len() <= LIMIT {
        return body.to_owned();
    }
    let mut end = LIMIT;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &body[..end], body.len())
}
