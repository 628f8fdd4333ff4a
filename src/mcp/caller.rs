//! Who is calling: the identity a shared transport authenticated, and what it changes about a
//! tool call.
//!
//! Stdio serves the one person who launched the process, so there is no caller there and
//! nothing changes. A shared transport (streamable HTTP) authenticates each request and puts a
//! [`Caller`] into the HTTP request's extensions; rmcp hands those request parts to the
//! handler, where [`from_context`] finds it. This module decides what a caller may see and
//! call, and whose name Devin puts on sessions and messages. It must not know how the caller
//! was authenticated: tokens and HTTP belong to the transport.

use rmcp::RoleServer;
use rmcp::model::{CallToolResult, ContentBlock, JsonObject, Tool};
use rmcp::service::RequestContext;
use serde_json::Value;

/// An authenticated caller of a shared server: a person, a CI job or a bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The name the operator gave this caller; it appears in logs, never the credential.
    pub name: String,
    /// The Devin user that sessions and messages of this caller are attributed to, so that
    /// several people can share one server and their sessions and pull requests still carry
    /// their names.
    pub devin_user_id: Option<String>,
    /// Only read-only tools (annotated `read_only_hint = true`) are listed and callable.
    pub read_only: bool,
}

/// Which argument names the acting Devin user, per tool, as a path of object keys.
///
/// `create_sessions` (several sessions at once) takes shared settings in `defaults`; the user
/// goes there so that every session it creates is attributed.
const ATTRIBUTION: [(&str, &[&str]); 3] = [
    ("create_session", &["create_as_user_id"]),
    ("send_message", &["message_as_user_id"]),
    ("create_sessions", &["defaults", "create_as_user_id"]),
];

/// The caller of the request in `context`, if a shared transport authenticated one.
pub fn from_context(context: &RequestContext<RoleServer>) -> Option<&Caller> {
    context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Caller>())
}

/// Whether `caller` may see and call `tool`. Without a caller (stdio, or HTTP with
/// `--no-auth`) every tool is allowed.
pub fn visible(tool: &Tool, caller: Option<&Caller>) -> bool {
    match caller {
        Some(caller) if caller.read_only => tool
            .annotations
            .as_ref()
            .is_some_and(|annotations| annotations.read_only_hint == Some(true)),
        _ => true,
    }
}

/// The tool result that refuses a call a read-only caller may not make. It is a tool result
/// with `isError`, not a JSON-RPC error, so that the calling model reads why and what it can
/// do instead.
pub fn refusal(tool: &str, caller: &Caller) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(format!(
        "{tool} is not allowed: the token of '{}' is read-only, so it can only call tools \
         that change nothing (those tools/list shows). Ask the server's operator for a token \
         that may {tool}.",
        caller.name
    ))])
}

/// Fills in the caller's Devin user id as the acting user of `tool`, unless the arguments
/// already name one (a non-null value). Leaves arguments it cannot walk (a `defaults` that is
/// not an object) to the tool's own validation.
pub fn attribute(tool: &str, arguments: &mut Option<JsonObject>, caller: Option<&Caller>) {
    let Some(user) = caller.and_then(|caller| caller.devin_user_id.as_deref()) else {
        return;
    };
    let Some((_, path)) = ATTRIBUTION.iter().find(|(name, _)| *name == tool) else {
        return;
    };
    let Some((field, parents)) = path.split_last() else {
        return;
    };
    let mut object = arguments.get_or_insert_with(JsonObject::new);
    for parent in parents {
        let child = object
            .entry(parent.to_string())
            .or_insert_with(|| Value::Object(JsonObject::new()));
        if child.is_null() {
            *child = Value::Object(JsonObject::new());
        }
        let Value::Object(child) = child else {
            return;
        };
        object = child;
    }
    let slot = object.entry(field.to_string()).or_insert(Value::Null);
    if slot.is_null() {
        *slot = Value::String(user.to_owned());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use serde_json::json;

    fn alice() -> Caller {
        Caller {
            name: "alice".into(),
            devin_user_id: Some("user-alice".into()),
            read_only: false,
        }
    }

    fn attributed(tool: &str, arguments: Value) -> Value {
        let mut arguments = arguments.as_object().cloned();
        attribute(tool, &mut arguments, Some(&alice()));
        Value::Object(arguments.unwrap_or_default())
    }

    #[test]
    fn create_session_gets_the_callers_user_when_it_names_none() {
        let arguments = attributed("create_session", json!({"prompt": "p"}));
        assert_eq!(arguments["create_as_user_id"], "user-alice");
    }

    #[test]
    fn an_explicit_user_wins_over_the_callers() {
        let arguments = attributed("send_message", json!({"message_as_user_id": "user-bob"}));
        assert_eq!(arguments["message_as_user_id"], "user-bob");
    }

    #[test]
    fn a_null_user_counts_as_unset() {
        let arguments = attributed("send_message", json!({"message_as_user_id": null}));
        assert_eq!(arguments["message_as_user_id"], "user-alice");
    }

    #[test]
    fn create_sessions_gets_the_user_in_its_defaults() {
        let arguments = attributed("create_sessions", json!({"tasks": []}));
        assert_eq!(arguments["defaults"]["create_as_user_id"], "user-alice");
        let arguments = attributed("create_sessions", json!({"defaults": {"tags": ["x"]}}));
        assert_eq!(
            arguments["defaults"],
            json!({"tags": ["x"], "create_as_user_id": "user-alice"})
        );
    }

    #[test]
    fn a_defaults_that_is_not_an_object_is_left_for_validation() {
        let arguments = attributed("create_sessions", json!({"defaults": 3}));
        assert_eq!(arguments, json!({"defaults": 3}));
    }

    #[test]
    fn other_tools_and_callers_without_a_user_change_nothing() {
        assert_eq!(
            attributed("get_status", json!({"session_id": "devin-1"})),
            json!({"session_id": "devin-1"})
        );
        let mut arguments = json!({"prompt": "p"}).as_object().cloned();
        let anonymous = Caller {
            devin_user_id: None,
            ..alice()
        };
        attribute("create_session", &mut arguments, Some(&anonymous));
        attribute("create_session", &mut arguments, None);
        assert_eq!(Value::Object(arguments.unwrap()), json!({"prompt": "p"}));
    }

    #[test]
    fn read_only_callers_see_only_read_only_tools() {
        let read_only = Caller {
            read_only: true,
            ..alice()
        };
        let mut tool = Tool::new("t", "d", JsonObject::new());
        assert!(!visible(&tool, Some(&read_only)), "no annotations: hidden");
        assert!(visible(&tool, Some(&alice())));
        assert!(visible(&tool, None));
        tool.annotations = Some(rmcp::model::ToolAnnotations::new().read_only(true));
        assert!(visible(&tool, Some(&read_only)));
        tool.annotations = Some(rmcp::model::ToolAnnotations::new().read_only(false));
        assert!(!visible(&tool, Some(&read_only)));
    }
}
