//! Wire types of the Devin REST API v3, shared by the client and the simulator.
//!
//! Decoding is tolerant on purpose (see `devin-api-v3.md` §8): unknown fields are ignored,
//! optional fields default, and every enum keeps values it does not know in an `Unknown`
//! variant instead of failing, because the published spec has changed shape several times.
//! Encoding emits the newest documented shape, which is what the simulator serves.
//!
//! This module holds data only: no HTTP, no MCP.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// Declares a string enum whose unknown values survive a round trip as `Unknown(String)`.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident => $wire:literal,)+ }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this build does not know yet, kept verbatim.
            Unknown(String),
        }

        impl $name {
            /// The value as the API spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)+
                    Self::Unknown(other) => other,
                }
            }

            /// Every documented value, in the order the reference lists them.
            pub const KNOWN: &'static [&'static str] = &[$($wire,)+];
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                match value {
                    $($wire => Self::$variant,)+
                    other => Self::Unknown(other.to_owned()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = String::deserialize(deserializer)?;
                Ok(Self::from(value.as_str()))
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                // Open on purpose: the API adds values without notice.
                schemars::json_schema!({
                    "type": "string",
                    "description": concat!("One of: ", $($wire, " ",)+ "(new values may appear)")
                })
            }
        }
    };
}

open_enum! {
    /// `status` of a session (§3.2). `exit` and `error` are terminal.
    pub enum SessionStatus {
        New => "new",
        Claimed => "claimed",
        Running => "running",
        Exit => "exit",
        Error => "error",
        Suspended => "suspended",
        Resuming => "resuming",
    }
}

impl SessionStatus {
    /// True for `exit` and `error`: the session will never run again.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Exit | Self::Error)
    }
}

open_enum! {
    /// `status_detail` of a session (§3.2): what a `running` session is doing, or why a
    /// `suspended` one sleeps.
    pub enum StatusDetail {
        Working => "working",
        WaitingForUser => "waiting_for_user",
        WaitingForApproval => "waiting_for_approval",
        Finished => "finished",
        Inactivity => "inactivity",
        UserRequest => "user_request",
        Error => "error",
        UsageLimitExceeded => "usage_limit_exceeded",
        OutOfCredits => "out_of_credits",
        PaymentDeclined => "payment_declined",
        OrgUsageLimitExceeded => "org_usage_limit_exceeded",
        OutOfQuota => "out_of_quota",
        NoQuotaAllocation => "no_quota_allocation",
        TotalSessionLimitExceeded => "total_session_limit_exceeded",
    }
}

impl StatusDetail {
    /// True when Devin is blocked on a person: a reply or an approval.
    pub fn needs_input(&self) -> bool {
        matches!(self, Self::WaitingForUser | Self::WaitingForApproval)
    }

    /// True for the suspend reasons that a message lifts (§6.1); billing and quota
    /// reasons need someone to act outside the session.
    pub fn is_resumable_by_message(&self) -> bool {
        matches!(self, Self::Inactivity | Self::UserRequest)
    }
}

open_enum! {
    /// Where a session came from.
    pub enum Origin {
        Webapp => "webapp",
        Slack => "slack",
        Teams => "teams",
        Api => "api",
        Linear => "linear",
        Jira => "jira",
        Scheduled => "scheduled",
        Automation => "automation",
        Cli => "cli",
        Desktop => "desktop",
        Other => "other",
    }
}

open_enum! {
    /// State of a pull request Devin opened. The API does not enumerate these.
    pub enum PrState {
        Open => "open",
        Closed => "closed",
        Merged => "merged",
    }
}

open_enum! {
    /// Who wrote a message or brought an attachment.
    pub enum Source {
        Devin => "devin",
        User => "user",
    }
}

open_enum! {
    /// `devin_mode` on create. Only `normal` and `fast` are sent; the rest are read.
    pub enum DevinMode {
        Normal => "normal",
        Fast => "fast",
        Lite => "lite",
        Ultra => "ultra",
        Fusion => "fusion",
    }
}

/// `SessionResponse` (§3.1).
///
/// `status_detail` and `structured_output` are filled in only by get and list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The session id; read in either form (§10 #1), emitted with `devin-`.
    pub session_id: String,
    /// Web URL of the session, opaque.
    #[serde(default)]
    pub url: String,
    pub status: SessionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_detail: Option<StatusDetail>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Vec<String>,
    #[serde(default)]
    pub org_id: String,
    /// Epoch seconds.
    #[serde(default)]
    pub created_at: i64,
    /// Epoch seconds.
    #[serde(default)]
    pub updated_at: i64,
    #[serde(default)]
    pub acus_consumed: f64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub pull_requests: Vec<PullRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub structured_output: Option<Value>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub service_user_id: Option<String>,
    #[serde(default)]
    pub playbook_id: Option<String>,
    #[serde(default)]
    pub parent_session_id: Option<String>,
    #[serde(default)]
    pub child_session_ids: Option<Vec<String>>,
    #[serde(default)]
    pub is_archived: bool,
    #[serde(default)]
    pub origin: Option<Origin>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subcategory: Option<String>,
}

/// One pull request linked to a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullRequest {
    pub pr_url: String,
    #[serde(default)]
    pub pr_state: Option<PrState>,
}

/// A page of a cursor-paginated list (§2.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(default)]
    pub end_cursor: Option<String>,
    #[serde(default)]
    pub has_next_page: bool,
    #[serde(default)]
    pub total: Option<u64>,
}

/// `SessionMessage` (§3.3). Lists come oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub event_id: String,
    /// Epoch seconds.
    #[serde(default)]
    pub created_at: i64,
    pub source: Source,
    pub message: String,
}

/// `SessionAttachment` (§3.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    pub attachment_id: String,
    pub name: String,
    pub source: Source,
    pub url: String,
    #[serde(default)]
    pub content_type: Option<String>,
}

/// `AttachmentResponse`, the answer to an upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadedAttachment {
    pub attachment_id: String,
    pub name: String,
    /// Opaque; pass it back verbatim in `attachment_urls` (§10 #3).
    pub url: String,
}

/// `{"tags": [...]}`, the body and answer of the tag endpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tags {
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Vec<String>,
}

/// The principal behind a key, from `GET /v3/self` (§4.1).
///
/// Kept as one flat struct rather than a tagged union: the `devin_brain` and
/// `windsurf_session` variants have undocumented fields, and every variant carries `org_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Principal {
    pub principal_type: String,
    /// `null` for enterprise-scoped principals.
    #[serde(default)]
    pub org_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_user_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_name: Option<String>,
}

/// A secret for this session only.
// `Debug` hides the value so that it cannot reach a log by accident.
#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SessionSecret {
    /// Variable name, 1..256 characters.
    pub key: String,
    /// At most 65536 characters.
    pub value: String,
    #[serde(default = "default_true")]
    pub sensitive: bool,
}

impl fmt::Debug for SessionSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionSecret")
            .field("key", &self.key)
            .field("value", &"<redacted>")
            .field("sensitive", &self.sensitive)
            .finish()
    }
}

fn default_true() -> bool {
    true
}

/// `SessionCreateRequest` (§4.2.1). Only `prompt` is required; `None` fields are omitted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateSessionRequest {
    pub prompt: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playbook_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child_playbook_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub knowledge_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repos: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_acu_limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub structured_output_schema: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub structured_output_required: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment_urls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_secrets: Option<Vec<SessionSecret>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_as_user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bypass_approval: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devin_mode: Option<DevinMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_links: Option<Vec<String>>,
}

/// Body of `POST …/sessions/{devin_id}/messages` (§4.2.5).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SendMessageRequest {
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_as_user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment_urls: Option<Vec<String>>,
}

/// Filters of `GET …/sessions` (§4.2.2). Array filters go out as repeated keys (§2.2).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListSessionsQuery {
    pub first: Option<u32>,
    pub after: Option<String>,
    pub session_ids: Vec<String>,
    pub tags: Vec<String>,
    pub origins: Vec<String>,
    pub user_ids: Vec<String>,
    pub service_user_ids: Vec<String>,
    pub repo_names: Vec<String>,
    pub created_after: Option<i64>,
    pub created_before: Option<i64>,
    pub updated_after: Option<i64>,
    pub updated_before: Option<i64>,
    pub playbook_id: Option<String>,
    pub schedule_id: Option<String>,
    pub is_archived: Option<bool>,
    pub category: Option<String>,
}

impl ListSessionsQuery {
    /// The query as `(key, value)` pairs, array filters as repeated keys.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        let arrays: [(&'static str, &Vec<String>); 6] = [
            ("session_ids", &self.session_ids),
            ("tags", &self.tags),
            ("origins", &self.origins),
            ("user_ids", &self.user_ids),
            ("service_user_ids", &self.service_user_ids),
            ("repo_names", &self.repo_names),
        ];
        for (key, values) in arrays {
            pairs.extend(values.iter().map(|value| (key, value.clone())));
        }
        let scalars: [(&'static str, Option<String>); 10] = [
            ("first", self.first.map(|v| v.to_string())),
            ("after", self.after.clone()),
            ("created_after", self.created_after.map(|v| v.to_string())),
            ("created_before", self.created_before.map(|v| v.to_string())),
            ("updated_after", self.updated_after.map(|v| v.to_string())),
            ("updated_before", self.updated_before.map(|v| v.to_string())),
            ("playbook_id", self.playbook_id.clone()),
            ("schedule_id", self.schedule_id.clone()),
            ("is_archived", self.is_archived.map(|v| v.to_string())),
            ("category", self.category.clone()),
        ];
        pairs.extend(
            scalars
                .into_iter()
                .filter_map(|(key, value)| value.map(|value| (key, value))),
        );
        pairs
    }
}

/// Error body of the API: RFC 9457 problem details, or the legacy `{"detail": ...}` (§2.3).
///
/// Every member is optional, and each is read on its own: a member of an unexpected shape
/// (`"status": "404"` as text, `errors` as an object, `loc` as a string) is read as well as it
/// can be or left out, and never costs the others. An error body is read to explain a
/// failure, so losing the `detail` over a stray `errors` shape would hide the explanation.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Problem {
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub problem_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// A string in problem details and legacy errors; a list of field errors in a legacy 422.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Field-level failures, 422 only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

/// One field-level validation failure, as in FastAPI's `HTTPValidationError`. Decoding is
/// lenient like [`Problem`]'s: `loc` may be a single string, and missing members are empty.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldError {
    pub loc: Vec<Value>,
    pub msg: String,
    #[serde(rename = "type")]
    pub error_type: String,
}

impl<'de> Deserialize<'de> for Problem {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self::from_value(&Value::deserialize(deserializer)?))
    }
}

impl<'de> Deserialize<'de> for FieldError {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        FieldError::from_value(&value)
            .ok_or_else(|| serde::de::Error::custom("a field error must be a JSON object"))
    }
}

impl FieldError {
    /// Reads one field error from any JSON object; `None` for anything else.
    fn from_value(value: &Value) -> Option<Self> {
        let map = value.as_object()?;
        let loc = match map.get("loc") {
            Some(Value::Array(parts)) => parts.clone(),
            Some(part @ (Value::String(_) | Value::Number(_))) => vec![part.clone()],
            _ => Vec::new(),
        };
        Some(Self {
            loc,
            msg: text_of(map.get("msg")).unwrap_or_default(),
            error_type: text_of(map.get("type")).unwrap_or_default(),
        })
    }

    /// Reads `errors` as a list of field errors, or as an object from field name to message
    /// (or to a list of messages), the other shape APIs commonly use.
    fn list_from_value(value: &Value) -> Option<Vec<Self>> {
        match value {
            Value::Array(items) => Some(items.iter().filter_map(Self::from_value).collect()),
            Value::Object(fields) => Some(
                fields
                    .iter()
                    .map(|(field, message)| Self {
                        loc: vec![Value::String(field.clone())],
                        msg: match message {
                            Value::Array(messages) => messages
                                .iter()
                                .filter_map(|m| text_of(Some(m)))
                                .collect::<Vec<_>>()
                                .join("; "),
                            other => text_of(Some(other)).unwrap_or_default(),
                        },
                        error_type: String::new(),
                    })
                    .collect(),
            ),
            _ => None,
        }
    }
}

/// A member as text: a string as it is, a number or a boolean written out; else `None`.
fn text_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

impl Problem {
    /// Reads an error body whatever its shape: members that fit are kept, the rest are
    /// `None`; a body that is not a JSON object gives an empty problem.
    pub fn from_body(body: &[u8]) -> Self {
        serde_json::from_slice::<Value>(body)
            .map(|value| Self::from_value(&value))
            .unwrap_or_default()
    }

    /// Reads each member on its own; see the type's documentation.
    pub fn from_value(value: &Value) -> Self {
        let Some(map) = value.as_object() else {
            return Self::default();
        };
        let string = |key: &str| map.get(key).and_then(Value::as_str).map(str::to_owned);
        let status = match map.get("status") {
            Some(Value::Number(number)) => number.as_u64(),
            // Some servers write the status as text; it still says which status it was.
            Some(Value::String(text)) => text.trim().parse().ok(),
            _ => None,
        }
        .and_then(|status| u16::try_from(status).ok());
        Self {
            problem_type: string("type"),
            title: string("title"),
            status,
            detail: map
                .get("detail")
                .filter(|detail| !detail.is_null())
                .cloned(),
            instance: string("instance"),
            errors: map.get("errors").and_then(FieldError::list_from_value),
        }
    }

    /// One readable sentence: the detail when there is one, else the title.
    pub fn summary(&self) -> Option<String> {
        let mut parts: Vec<String> = Vec::new();
        match &self.detail {
            Some(Value::String(text)) if !text.is_empty() => parts.push(text.clone()),
            Some(Value::Array(items)) => {
                parts.extend(
                    items
                        .iter()
                        .filter_map(FieldError::from_value)
                        .map(|error| error.to_string()),
                );
            }
            _ => {}
        }
        if let Some(errors) = &self.errors {
            parts.extend(errors.iter().map(FieldError::to_string));
        }
        if parts.is_empty() {
            return self.title.clone();
        }
        parts.dedup();
        Some(parts.join("; "))
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path: Vec<String> = self
            .loc
            .iter()
            .filter(|part| part.as_str() != Some("body") && part.as_str() != Some("query"))
            .map(|part| match part {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            })
            .collect();
        if path.is_empty() {
            write!(f, "{}", self.msg)
        } else {
            write!(f, "{}: {}", path.join("."), self.msg)
        }
    }
}

/// Reads `null` as the type's default, for list fields the API marks required but some
/// generations send as `null`.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Reads session attachments as a bare array or as `{"items": [...]}` (§4.2.6).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum AttachmentList {
    Bare(Vec<Attachment>),
    Wrapped { items: Vec<Attachment> },
}

impl AttachmentList {
    pub fn into_vec(self) -> Vec<Attachment> {
        match self {
            Self::Bare(items) | Self::Wrapped { items } => items,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_status_values_are_kept_not_rejected() {
        let session: Session = serde_json::from_value(json!({
            "session_id": "abc", "status": "creating", "status_detail": "pondering",
            "tags": null, "pull_requests": [{"pr_url": "u", "pr_state": "draft"}],
            "brand_new_field": 1
        }))
        .unwrap();
        assert_eq!(session.status, SessionStatus::Unknown("creating".into()));
        assert_eq!(
            session.status_detail,
            Some(StatusDetail::Unknown("pondering".into()))
        );
        assert_eq!(
            session.pull_requests[0].pr_state,
            Some(PrState::Unknown("draft".into()))
        );
        assert!(session.tags.is_empty());
        assert_eq!(
            serde_json::to_value(&session.status).unwrap(),
            json!("creating")
        );
    }

    #[test]
    fn attachments_decode_bare_and_wrapped() {
        let one = json!({"attachment_id": "a", "name": "n", "source": "devin", "url": "u"});
        let bare: AttachmentList = serde_json::from_value(json!([one.clone()])).unwrap();
        let wrapped: AttachmentList = serde_json::from_value(json!({"items": [one]})).unwrap();
        assert_eq!(bare.into_vec(), wrapped.into_vec());
    }

    #[test]
    fn problem_summary_reads_every_error_form() {
        let problem: Problem =
            serde_json::from_value(json!({"title": "Not Found", "status": 404})).unwrap();
        assert_eq!(problem.summary().as_deref(), Some("Not Found"));
        let legacy: Problem =
            serde_json::from_value(json!({"detail": "Session not found"})).unwrap();
        assert_eq!(legacy.summary().as_deref(), Some("Session not found"));
        let validation: Problem = serde_json::from_value(json!({"detail": [
            {"loc": ["body", "prompt"], "msg": "Field required", "type": "missing"}
        ]}))
        .unwrap();
        assert_eq!(
            validation.summary().as_deref(),
            Some("prompt: Field required")
        );
    }

    #[test]
    fn a_problem_member_of_an_unexpected_shape_costs_only_itself() {
        let cases = [
            (
                r#"{"title": "Not Found", "status": 404, "detail": "Session not found",
                    "errors": {"first": ["too big", "not even"], "prompt": "is required"}}"#,
                Some(404),
                "Session not found; first: too big; not even; prompt: is required",
            ),
            (
                r#"{"title": "Unprocessable", "status": 422,
                    "errors": [{"loc": "prompt", "msg": "Field required", "type": "missing"}]}"#,
                Some(422),
                "prompt: Field required",
            ),
            (
                r#"{"title": "Not Found", "status": "404", "detail": "Session not found"}"#,
                Some(404),
                "Session not found",
            ),
            (
                r#"{"title": "Gone", "status": "gone", "detail": {"why": 1}, "errors": 3}"#,
                None,
                "Gone",
            ),
            (
                r#"{"title": 7, "status": 70000, "detail": [{"loc": "first", "msg": "too big"}],
                    "instance": ["x"], "type": null}"#,
                None,
                "first: too big",
            ),
        ];
        for (body, status, summary) in cases {
            let problem = Problem::from_body(body.as_bytes());
            assert_eq!(problem.status, status, "{body}");
            assert_eq!(problem.summary().as_deref(), Some(summary), "{body}");
            let through_serde: Problem = serde_json::from_str(body).unwrap();
            assert_eq!(through_serde, problem, "{body}");
        }
        let bad_title = Problem::from_body(br#"{"title": 7, "detail": "kept"}"#);
        assert_eq!(
            (bad_title.title, bad_title.detail),
            (None, Some(json!("kept")))
        );
        assert_eq!(Problem::from_body(b"<html>oops</html>"), Problem::default());
        assert_eq!(Problem::from_body(b"[1, 2]"), Problem::default());
    }

    #[test]
    fn list_query_repeats_array_keys() {
        let query = ListSessionsQuery {
            tags: vec!["a".into(), "b".into()],
            first: Some(5),
            ..Default::default()
        };
        assert_eq!(
            query.to_pairs(),
            vec![
                ("tags", "a".into()),
                ("tags", "b".into()),
                ("first", "5".into())
            ]
        );
    }

    #[test]
    fn session_secret_debug_hides_the_value() {
        let secret = SessionSecret {
            key: "K".into(),
            value: "hunter2".into(),
            sensitive: true,
        };
        assert!(!format!("{secret:?}").contains("hunter2"));
    }
}
