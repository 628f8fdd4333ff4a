//! Checking a tool call's arguments before the call runs, so that a model that got one wrong
//! reads which argument and why.
//!
//! rmcp decodes arguments with serde and reports only serde's sentence, which names neither
//! the argument nor the tool and quotes the offending value. Decoding here first, into the
//! same types and with the JSON path kept, gives a sentence that names the argument and
//! leaves the value out: it may be a session secret the model put in the wrong place.

use rmcp::model::JsonObject;
use serde::de::DeserializeOwned;

use crate::mcp::errors::without_quoted_values;
use crate::mcp::tools::batch::CreateSessionsParams;
use crate::mcp::tools::sessions::{
    CreateSessionParams, SendMessageParams, SessionParams, TerminateParams,
};
use crate::mcp::tools::wait::WaitParams;

/// What is wrong with the arguments of `tool`, as a sentence for the model; `None` when they
/// fit its input type (or the tool is not one of this server's).
pub fn problem(tool: &str, arguments: Option<&JsonObject>) -> Option<String> {
    let reason = match tool {
        "create_session" => decode::<CreateSessionParams>(arguments),
        "send_message" => decode::<SendMessageParams>(arguments),
        "get_status" | "get_structured_output" | "list_attachments" => {
            decode::<SessionParams>(arguments)
        }
        "terminate" => decode::<TerminateParams>(arguments),
        "wait_for_sessions" => decode::<WaitParams>(arguments),
        "create_sessions" => decode::<CreateSessionsParams>(arguments),
        _ => None,
    }?;
    Some(format!(
        "Invalid arguments for {tool}: {reason}. Check the tool's input schema and call again."
    ))
}

/// Decodes the arguments into `T`; on failure, where (`field: `) and why, without values.
fn decode<T: DeserializeOwned>(arguments: Option<&JsonObject>) -> Option<String> {
    // Read in place: this runs on every call, and the arguments may be large.
    let empty = JsonObject::new();
    let error = serde_path_to_error::deserialize::<_, T>(arguments.unwrap_or(&empty)).err()?;
    let path = error.path().to_string();
    let reason = without_quoted_values(&error.into_inner().to_string());
    Some(if path == "." {
        reason
    } else {
        format!("{path}: {reason}")
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use serde_json::{Value, json};

    fn problem_of(tool: &str, arguments: Value) -> Option<String> {
        problem(tool, arguments.as_object())
    }

    #[test]
    fn the_sentence_names_the_argument_and_leaves_the_value_out() {
        let text = problem_of(
            "create_session",
            json!({"prompt": "p", "session_secrets": "TOKEN=s3cr3t"}),
        )
        .unwrap();
        assert!(text.contains("session_secrets"), "{text}");
        assert!(text.contains("create_session"), "{text}");
        assert!(!text.contains("s3cr3t"), "{text}");

        let text = problem_of(
            "create_session",
            json!({"prompt": "p", "max_acu_limit": "lots"}),
        )
        .unwrap();
        assert!(text.contains("max_acu_limit"), "{text}");
        assert!(!text.contains("lots"), "{text}");

        let nested = problem_of(
            "create_sessions",
            json!({"prompts": ["a"], "defaults": {"tags": [1]}}),
        )
        .unwrap();
        assert!(nested.contains("defaults.tags[0]"), "{nested}");
    }

    #[test]
    fn missing_and_unknown_arguments_are_named() {
        let missing = problem_of("send_message", json!({"session_id": "devin-x"})).unwrap();
        assert!(missing.contains("`message`"), "{missing}");
        let unknown = problem_of("get_status", json!({"session_id": "x", "verbose": true}));
        assert!(unknown.unwrap().contains("`verbose`"));
        assert!(
            problem("get_status", None)
                .unwrap()
                .contains("`session_id`")
        );
    }

    #[test]
    fn arguments_that_fit_pass_and_other_tools_are_not_judged() {
        assert_eq!(problem_of("create_session", json!({"prompt": "p"})), None);
        assert_eq!(
            problem_of("wait_for_sessions", json!({"session_ids": ["devin-x"]})),
            None
        );
        assert_eq!(problem_of("no_such_tool", json!({"x": 1})), None);
    }
}
