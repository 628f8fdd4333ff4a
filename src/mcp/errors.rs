//! Turning failures into tool results a model can act on.
//!
//! Every failure of a tool call, whether a bad argument, an unknown session or an API error,
//! becomes a result with `isError: true` and one or two sentences that say what happened and
//! what to do next. JSON-RPC errors are left for protocol misuse and server bugs.

use rmcp::model::{ContentBlock, IntoContents};

use crate::devin::models::CreateSessionRequest;
use crate::devin::{ApiErrorKind, DevinError, SessionRef};

/// A tool failure, as the sentence the calling model reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolError(pub String);

impl ToolError {
    /// A problem with the arguments, found before anything was sent.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    /// Explains a Devin API failure. `session` names the session the call was about, when
    /// there was one, so that a 404 can say which id is unknown.
    pub fn from_devin(error: &DevinError, session: Option<&SessionRef>) -> Self {
        Self(describe(error, session, true))
    }

    /// Explains a failed create, whose request may have carried session secrets that the
    /// API's error could quote back. Each secret value is replaced by `<redacted>`, as written
    /// and as JSON escapes it. A value shorter than [`MIN_REDACTABLE`] characters cannot be
    /// told apart from ordinary words, so then the API's own detail is left out altogether.
    pub fn from_create(error: &DevinError, request: &CreateSessionRequest) -> Self {
        let secrets: Vec<&str> = request
            .session_secrets
            .iter()
            .flatten()
            .map(|secret| secret.value.as_str())
            .filter(|value| !value.is_empty())
            .collect();
        if secrets.is_empty() {
            return Self::from_devin(error, None);
        }
        if secrets
            .iter()
            .any(|value| value.chars().count() < MIN_REDACTABLE)
        {
            return Self(describe(error, None, false));
        }
        let mut text = describe(error, None, true);
        for value in secrets {
            text = text.replace(value, "<redacted>");
            if let Ok(quoted) = serde_json::to_string(value) {
                let escaped = &quoted[1..quoted.len() - 1];
                text = text.replace(escaped, "<redacted>");
            }
        }
        Self(text)
    }
}

impl std::fmt::Display for ToolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl IntoContents for ToolError {
    fn into_contents(self) -> Vec<ContentBlock> {
        vec![ContentBlock::text(self.0)]
    }
}

/// Secret values shorter than this are not searched for in error text (see
/// [`ToolError::from_create`]).
pub const MIN_REDACTABLE: usize = 8;

/// The sentence for `error`. `with_detail` says whether the API's own words may be quoted.
fn describe(error: &DevinError, session: Option<&SessionRef>, with_detail: bool) -> String {
    let target = session.map_or_else(|| "the request".to_owned(), |s| format!("session {s}"));
    match error {
        DevinError::Api(api) => {
            let status = api.status.as_u16();
            let detail = api
                .detail()
                .filter(|_| with_detail)
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            let maybe_done = api.method == "POST";
            match api.kind() {
                ApiErrorKind::Unauthorized => format!(
                    "Devin rejected the API key (HTTP 401{detail}). The server's DEVIN_API_KEY \
                     is missing, expired or revoked; retrying will not help until an operator \
                     sets a valid cog_ key."
                ),
                ApiErrorKind::Forbidden => format!(
                    "The API key may not do this (HTTP 403{detail}). Ask an organization admin \
                     for the permission, or use ids from the key's own organization."
                ),
                ApiErrorKind::NotFound => match session {
                    Some(session) => format!(
                        "Session {session} was not found (HTTP 404{detail}). Check the id: it \
                         is the devin-… id that create_session returned, a bare id, or a \
                         session URL."
                    ),
                    None => format!(
                        "Devin found nothing at {} (HTTP 404{detail}). Check the ids in the \
                         arguments (playbook_id, knowledge_ids, secret_ids).",
                        api.path
                    ),
                },
                ApiErrorKind::Conflict | ApiErrorKind::BadRequest if session.is_some() => format!(
                    "Devin refused this for {target} in its current state (HTTP {status}\
                     {detail}). Call get_status to see that state: a session that ended (exit \
                     or error) or was archived cannot be changed or resumed; for more work, \
                     create a new session."
                ),
                ApiErrorKind::BadRequest | ApiErrorKind::Conflict | ApiErrorKind::Validation => {
                    format!(
                        "Devin rejected the arguments (HTTP {status}{detail}). Fix them and \
                         call again."
                    )
                }
                ApiErrorKind::RateLimited => {
                    let wait = api
                        .retry_after
                        // An overflowing Retry-After arrives as Duration::MAX.
                        .map(|d| match d.as_secs() {
                            secs if secs > 86_400 => "at least a day".to_owned(),
                            secs => format!("{} seconds", secs.max(1)),
                        })
                        .unwrap_or_else(|| "a minute".to_owned());
                    format!(
                        "Devin's rate limit was hit and the retries ran out (HTTP 429). Wait \
                         {wait} before calling again."
                    )
                }
                ApiErrorKind::Server | ApiErrorKind::Other => {
                    let advice = if maybe_done {
                        " It is unknown whether the request took effect: call get_status (or \
                         look for the session by its tags) before sending it again."
                    } else {
                        " Try again in a minute."
                    };
                    format!("Devin's API failed (HTTP {status}{detail}).{advice}")
                }
            }
        }
        DevinError::Transport {
            method,
            message,
            timed_out,
            ..
        } => {
            let what = if *timed_out {
                "did not answer in time"
            } else {
                "could not be reached"
            };
            let advice = if method == "POST" {
                " It is unknown whether the request took effect: call get_status (or look for \
                 the session by its tags) before sending it again."
            } else {
                " Try again shortly; if it persists, the operator should check \
                 DEVIN_API_BASE_URL and the network."
            };
            format!("The Devin API {what} ({message}).{advice}")
        }
        DevinError::Decode {
            json_path,
            message,
            status,
            ..
        } => format!(
            "Devin's API answered (HTTP {status}) with a body this server cannot read (at \
             {json_path}: {message}). The API may have changed; the call may have taken effect. \
             Check with get_status before retrying."
        ),
        DevinError::Download { host, status, .. } => format!(
            "Devin's API sent the download on to its storage host {host}, which answered HTTP \
             {status}. The short-lived download link may have expired; try the download again."
        ),
        DevinError::Config(message) => {
            format!("The server is not configured to reach Devin: {message}.")
        }
    }
}

/// Serde's words for an unexpected value, each followed by the value itself: `string "…"`
/// (Debug-quoted) or `` integer `5` `` (backquoted).
const QUOTED_KINDS: [&str; 6] = [
    "string ",
    "integer ",
    "floating point ",
    "boolean ",
    "character ",
    "unsigned integer ",
];

/// Drops the values serde quotes in a decode error (`invalid type: string "s3cr3t", expected a
/// sequence` becomes `invalid type: string, expected a sequence`), keeping what was expected
/// and the names of fields and variants. A model that misplaces a session secret must not see
/// it come back in a tool result, and nor must a log that records the result.
pub fn without_quoted_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some((at, kind)) = QUOTED_KINDS
        .iter()
        .filter_map(|kind| rest.find(kind).map(|at| (at, *kind)))
        .min_by_key(|(at, _)| *at)
    {
        let value_start = at + kind.len();
        out.push_str(&rest[..at]);
        out.push_str(kind.trim_end());
        let value = &rest[value_start..];
        rest = match value.chars().next() {
            Some('"') => skip_debug_string(value),
            Some('`') => value[1..].find('`').map_or("", |end| &value[end + 2..]),
            _ => {
                out.push(' ');
                value
            }
        };
    }
    out.push_str(rest);
    out
}

/// What follows a Debug-quoted string that starts `value` (escaped quotes stay inside).
fn skip_debug_string(value: &str) -> &str {
    let mut escaped = false;
    for (index, c) in value.char_indices().skip(1) {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return &value[index + 1..],
            _ => escaped = false,
        }
    }
    ""
}

#[cfg(test)]
mod tests {
    use super::{ToolError, without_quoted_values};
    use crate::devin::{ApiError, DevinError};

    fn rate_limited(retry_after: std::time::Duration) -> String {
        let error = DevinError::Api(Box::new(ApiError {
            method: "GET".into(),
            path: "/v3/self".into(),
            status: reqwest::StatusCode::TOO_MANY_REQUESTS,
            problem: Default::default(),
            raw_body: String::new(),
            retry_after: Some(retry_after),
        }));
        ToolError::from_devin(&error, None).0
    }

    #[test]
    fn an_overflowing_retry_after_reads_as_a_long_wait_not_a_huge_number() {
        let text = rate_limited(std::time::Duration::MAX);
        assert!(text.contains("at least a day"), "{text}");
        assert!(!text.contains(&u64::MAX.to_string()), "{text}");
        let text = rate_limited(std::time::Duration::from_secs(30));
        assert!(text.contains("30 seconds"), "{text}");
    }

    #[test]
    fn quoted_values_are_dropped_and_expectations_kept() {
        let cases = [
            (
                r#"invalid type: string "TOKEN=abc", expected a sequence"#,
                "invalid type: string, expected a sequence",
            ),
            (
                r#"invalid type: string "a \"quoted\" s3cret", expected struct SessionSecret"#,
                "invalid type: string, expected struct SessionSecret",
            ),
            (
                "invalid type: integer `12345`, expected a string",
                "invalid type: integer, expected a string",
            ),
            (
                "invalid value: floating point `-1.5`, expected a positive number",
                "invalid value: floating point, expected a positive number",
            ),
            ("missing field `prompt`", "missing field `prompt`"),
            (
                "unknown variant `fast`, expected `normal` or `fast_mode`",
                "unknown variant `fast`, expected `normal` or `fast_mode`",
            ),
            (
                r#"invalid type: string "unterminated"#,
                "invalid type: string",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(without_quoted_values(input), expected, "for {input}");
        }
    }
}
