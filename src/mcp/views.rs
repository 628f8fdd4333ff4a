//! What the tools return: compact, typed views of API objects, with the flags an agent needs
//! to decide its next step without reading status tables.
//!
//! Each view derives `JsonSchema`, which becomes the tool's `outputSchema`. Field docs are
//! kept short because every byte of them is sent to the model in `tools/list`.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::devin::SessionRef;
use crate::devin::models::{Attachment, Session, SessionStatus, StatusDetail};

/// A session as `create_session` and `send_message` return it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SessionView {
    /// `devin-…` id; pass it to the other tools.
    pub session_id: String,
    /// Web page of the session, for people.
    pub url: String,
    pub status: String,
    pub status_detail: Option<String>,
    pub title: Option<String>,
    pub tags: Vec<String>,
}

impl From<&Session> for SessionView {
    fn from(session: &Session) -> Self {
        Self {
            session_id: devin_id(&session.session_id),
            url: session.url.clone(),
            status: session.status.to_string(),
            status_detail: session.status_detail.as_ref().map(ToString::to_string),
            title: session.title.clone(),
            tags: session.tags.clone(),
        }
    }
}

/// A new session, as `create_session` returns it. With `wait_seconds`, `status` is as of the
/// end of the wait and the optional fields say how it ended.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CreatedView {
    #[serde(flatten)]
    pub session: SessionView,
    /// The wait ran out before the session settled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timed_out: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub needs_input: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_finished: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_json")]
    pub structured_output: Option<Value>,
    /// What Devin wrote during the wait.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_messages: Option<Vec<String>>,
}

impl CreatedView {
    /// A session just created, before any wait.
    pub fn new(session: &Session) -> Self {
        Self {
            session: SessionView::from(session),
            timed_out: None,
            needs_input: None,
            is_finished: None,
            structured_output: None,
            new_messages: None,
        }
    }

    /// Takes in the outcome of a wait on this session.
    pub fn waited(&mut self, timed_out: bool, state: SessionWaitView) {
        self.timed_out = Some(timed_out);
        self.session.status = state.status;
        self.session.status_detail = state.status_detail;
        self.needs_input = Some(state.needs_input);
        self.is_finished = Some(state.is_finished);
        self.structured_output = state.structured_output;
        self.new_messages = Some(state.new_messages);
    }
}

/// The full state of a session, as `get_status` returns it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StatusView {
    pub session_id: String,
    pub url: String,
    pub title: Option<String>,
    /// new, claimed, running, suspended, resuming, exit or error.
    pub status: String,
    /// While running: working, waiting_for_user, waiting_for_approval or finished. While
    /// suspended: the reason.
    pub status_detail: Option<String>,
    /// exit or error: the session will never run again.
    pub is_terminal: bool,
    /// Devin waits for a reply (send_message) or an approval.
    pub needs_input: bool,
    /// Devin reports the task done.
    pub is_finished: bool,
    pub acus_consumed: f64,
    pub pull_requests: Vec<PullRequestView>,
    pub tags: Vec<String>,
    pub is_archived: bool,
    /// Epoch seconds.
    pub created_at: i64,
    /// Epoch seconds.
    pub updated_at: i64,
    pub parent_session_id: Option<String>,
    pub child_session_ids: Vec<String>,
}

/// A pull request Devin opened.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct PullRequestView {
    pub pr_url: String,
    pub pr_state: Option<String>,
}

impl From<&Session> for StatusView {
    fn from(session: &Session) -> Self {
        let flags = Flags::of(&session.status, session.status_detail.as_ref());
        Self {
            session_id: devin_id(&session.session_id),
            url: session.url.clone(),
            title: session.title.clone(),
            status: session.status.to_string(),
            status_detail: session.status_detail.as_ref().map(ToString::to_string),
            is_terminal: flags.is_terminal,
            needs_input: flags.needs_input,
            is_finished: flags.is_finished,
            acus_consumed: session.acus_consumed,
            pull_requests: pull_requests(session),
            tags: session.tags.clone(),
            is_archived: session.is_archived,
            created_at: session.created_at,
            updated_at: session.updated_at,
            parent_session_id: session.parent_session_id.as_deref().map(devin_id),
            child_session_ids: session
                .child_session_ids
                .iter()
                .flatten()
                .map(|id| devin_id(id))
                .collect(),
        }
    }
}

/// The pull requests of a session, as views.
pub fn pull_requests(session: &Session) -> Vec<PullRequestView> {
    session
        .pull_requests
        .iter()
        .map(|pr| PullRequestView {
            pr_url: pr.pr_url.clone(),
            pr_state: pr.pr_state.as_ref().map(ToString::to_string),
        })
        .collect()
}

/// The flags derived from status and status detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flags {
    pub is_terminal: bool,
    pub needs_input: bool,
    pub is_finished: bool,
}

impl Flags {
    pub fn of(status: &SessionStatus, detail: Option<&StatusDetail>) -> Self {
        let running = *status == SessionStatus::Running;
        Self {
            is_terminal: status.is_terminal(),
            needs_input: running && detail.is_some_and(StatusDetail::needs_input),
            is_finished: running && detail == Some(&StatusDetail::Finished),
        }
    }
}

/// The latest structured output of a session, as `get_structured_output` returns it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StructuredOutputView {
    pub session_id: String,
    pub status: String,
    pub status_detail: Option<String>,
    /// The latest object Devin provided, or null before its first update. Devin keeps
    /// updating it while it works: trust it as final once is_finished is true, or once the
    /// session stopped (suspended after idling, or ended) with no follow-up pending.
    #[schemars(schema_with = "any_json")]
    pub structured_output: Option<Value>,
    pub is_finished: bool,
    /// Epoch seconds of the session's last change.
    pub updated_at: i64,
}

impl From<&Session> for StructuredOutputView {
    fn from(session: &Session) -> Self {
        let flags = Flags::of(&session.status, session.status_detail.as_ref());
        Self {
            session_id: devin_id(&session.session_id),
            status: session.status.to_string(),
            status_detail: session.status_detail.as_ref().map(ToString::to_string),
            structured_output: session.structured_output.clone(),
            is_finished: flags.is_finished,
            updated_at: session.updated_at,
        }
    }
}

/// The files of a session, as `list_attachments` returns them.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AttachmentsView {
    pub session_id: String,
    pub attachments: Vec<AttachmentView>,
}

/// One file a user gave or Devin produced.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AttachmentView {
    pub name: String,
    pub url: String,
    /// devin or user.
    pub source: String,
    pub content_type: Option<String>,
}

impl From<&Attachment> for AttachmentView {
    fn from(attachment: &Attachment) -> Self {
        Self {
            name: attachment.name.clone(),
            url: attachment.url.clone(),
            source: attachment.source.to_string(),
            content_type: attachment.content_type.clone(),
        }
    }
}

/// The outcome of `terminate`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TerminateView {
    pub session_id: String,
    pub status: String,
    pub is_archived: bool,
    /// The session had already ended before this call; nothing was changed but the archive
    /// flag, if asked.
    pub already_ended: bool,
}

/// An id as this server returns it: always `devin-…`, whatever form the API used.
pub fn devin_id(id: &str) -> String {
    SessionRef::parse(id)
        .map(|r| r.devin_id())
        .unwrap_or_else(|_| id.to_owned())
}

/// The outcome of a wait, as `wait_for_sessions` returns it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct WaitView {
    /// No session met the condition in time; the states below are current anyway.
    pub timed_out: bool,
    pub waited_seconds: f64,
    pub sessions: Vec<SessionWaitView>,
}

/// One session at the end of a wait.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SessionWaitView {
    pub session_id: String,
    pub status: String,
    pub status_detail: Option<String>,
    pub is_terminal: bool,
    pub needs_input: bool,
    pub is_finished: bool,
    /// settled, pull_request, output_changed or output_matches; null if still going.
    pub done_because: Option<String>,
    pub pull_requests: Vec<PullRequestView>,
    #[schemars(schema_with = "any_json")]
    pub structured_output: Option<Value>,
    pub acus_consumed: f64,
    /// What Devin wrote during the wait, oldest first.
    pub new_messages: Vec<String>,
    /// The last poll failed: why. The state above is from the poll before.
    pub error: Option<String>,
}

impl From<&Session> for SessionWaitView {
    fn from(session: &Session) -> Self {
        let flags = Flags::of(&session.status, session.status_detail.as_ref());
        Self {
            session_id: devin_id(&session.session_id),
            status: session.status.to_string(),
            status_detail: session.status_detail.as_ref().map(ToString::to_string),
            is_terminal: flags.is_terminal,
            needs_input: flags.needs_input,
            is_finished: flags.is_finished,
            done_because: None,
            pull_requests: pull_requests(session),
            structured_output: session.structured_output.clone(),
            acus_consumed: session.acus_consumed,
            new_messages: Vec::new(),
            error: None,
        }
    }
}

impl SessionWaitView {
    /// A session no poll has answered for (it failed from the start).
    pub fn unknown(session: &SessionRef) -> Self {
        Self {
            session_id: session.devin_id(),
            status: "unknown".to_owned(),
            status_detail: None,
            is_terminal: false,
            needs_input: false,
            is_finished: false,
            done_because: None,
            pull_requests: Vec::new(),
            structured_output: None,
            acus_consumed: 0.0,
            new_messages: Vec::new(),
            error: None,
        }
    }
}

/// The schema of a value that may be any JSON, null included. schemars writes `true` for
/// that, which is valid JSON Schema but not what MCP clients accept inside a tool schema.
pub fn any_json(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({})
}
