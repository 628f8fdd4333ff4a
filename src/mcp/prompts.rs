//! MCP prompts: ready-made requests a user picks in the client (a slash command in most
//! editors) that tell the model how to delegate with this server's tools.
//!
//! A prompt only writes text for the model; it calls nothing and reaches no API. Arguments
//! are checked here, so a missing one is a JSON-RPC invalid-params error that names it.

use rmcp::ErrorData as McpError;
use rmcp::model::{GetPromptResult, JsonObject, Prompt, PromptArgument, PromptMessage, Role};

use crate::devin::SessionRef;

/// `delegate`: one task, handed to one session, followed to its end.
const DELEGATE: &str = "delegate";
/// `fan_out`: several tasks, one session each, results gathered.
const FAN_OUT: &str = "fan_out";
/// `check_session`: where a session stands and what it produced.
const CHECK_SESSION: &str = "check_session";

/// Every prompt, as `prompts/list` shows them.
pub fn list() -> Vec<Prompt> {
    vec![
        Prompt::new(
            DELEGATE,
            Some("Hand one coding task to Devin and follow it to a result."),
            Some(vec![
                argument("task", "What Devin should do, in full sentences.", true),
                argument("repo", "Repository Devin works in, e.g. acme/web.", false),
            ]),
        )
        .with_title("Delegate a task to Devin"),
        Prompt::new(
            FAN_OUT,
            Some("Hand several independent tasks to Devin at once and gather the results."),
            Some(vec![
                argument("tasks", "The tasks, one per line.", true),
                argument("repo", "Repository every session works in.", false),
            ]),
        )
        .with_title("Fan tasks out to Devin"),
        Prompt::new(
            CHECK_SESSION,
            Some("Report where a Devin session stands and what it has produced."),
            Some(vec![argument(
                "session_id",
                "The session: devin-<id>, a bare id, or its URL.",
                true,
            )]),
        )
        .with_title("Check a Devin session"),
    ]
}

/// The messages of prompt `name` with `arguments` filled in.
pub fn get(name: &str, arguments: Option<&JsonObject>) -> Result<GetPromptResult, McpError> {
    let text = match name {
        DELEGATE => {
            let task = required(arguments, name, "task")?;
            let repo = optional(arguments, "repo")
                .map(|repo| format!(" Pass repos: [\"{repo}\"]."))
                .unwrap_or_default();
            format!(
                "Delegate this task to Devin with the devin tools:\n\n{task}\n\n\
                 1. Call create_session with the task as the prompt.{repo} Give a \
                 structured_output_schema asking for a summary, the pull request URLs and \
                 whether the tests passed.\n\
                 2. Call wait_for_sessions on the new session id instead of polling \
                 get_status.\n\
                 3. If needs_input is true, Devin asks something: answer with send_message \
                 when the answer is clear from this conversation, otherwise ask me. Then wait \
                 again.\n\
                 4. When is_finished is true, read get_structured_output and \
                 list_attachments, and tell me what Devin did, with the pull request links."
            )
        }
        FAN_OUT => {
            let tasks = required(arguments, name, "tasks")?;
            let repo = optional(arguments, "repo")
                .map(|repo| format!(" with repos: [\"{repo}\"] in the shared defaults"))
                .unwrap_or_default();
            format!(
                "Fan these tasks out to Devin, one session each:\n\n{tasks}\n\n\
                 1. Call create_sessions once with one prompt per task{repo}, and a shared \
                 structured_output_schema asking for a summary and the pull request URLs.\n\
                 2. Call wait_for_sessions with every created id and until=all. Answer \
                 sessions that need input with send_message, or ask me.\n\
                 3. Report one line per task: its session, its outcome and its pull requests. \
                 Say which tasks failed to start and why."
            )
        }
        CHECK_SESSION => {
            let session = required(arguments, name, "session_id")?;
            let session = SessionRef::parse(&session)
                .map_err(|error| McpError::invalid_params(error.to_string(), None))?;
            format!(
                "Check on the Devin session {session}.\n\n\
                 1. Call get_status for it.\n\
                 2. If needs_input is true, show me Devin's latest question (the messages \
                 resource devin://sessions/{session}/messages has it).\n\
                 3. Read get_structured_output and list_attachments, and summarise what it has \
                 produced so far, with its pull requests and the ACUs it has used."
            )
        }
        _ => {
            return Err(McpError::invalid_params(
                format!("unknown prompt '{name}'; prompts/list shows the prompts of this server"),
                None,
            ));
        }
    };
    Ok(GetPromptResult::new(vec![PromptMessage::new_text(
        Role::User,
        text,
    )]))
}

fn argument(name: &str, description: &str, required: bool) -> PromptArgument {
    PromptArgument::new(name)
        .with_description(description)
        .with_required(required)
}

fn optional(arguments: Option<&JsonObject>, name: &str) -> Option<String> {
    let value = arguments?.get(name)?;
    let text = match value {
        serde_json::Value::String(text) => text.trim().to_owned(),
        serde_json::Value::Null => return None,
        other => other.to_string(),
    };
    (!text.is_empty()).then_some(text)
}

fn required(arguments: Option<&JsonObject>, prompt: &str, name: &str) -> Result<String, McpError> {
    optional(arguments, name).ok_or_else(|| {
        McpError::invalid_params(format!("prompt {prompt} needs the argument {name}"), None)
    })
}
