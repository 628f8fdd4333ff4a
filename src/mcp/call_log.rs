//! The one `info` line each tool call leaves: who called which tool on which session, how it
//! ended and how long it took. A call that runs as an MCP task logs when the task ends, so
//! the line tells the real outcome and latency, not those of the task's creation.
//!
//! Nothing the client wrote reaches the line as it is: tool names only when the server knows
//! them, session ids only when they parse. Arguments, which may hold session secrets, never.

use std::time::Instant;

use rmcp::model::{CallToolResult, JsonObject};

use crate::devin::SessionRef;

/// A tool call in progress, to be logged once when it ends.
pub struct CallLog {
    caller: Option<String>,
    /// `(unknown)` for a name the server does not know.
    tool: String,
    session_id: Option<String>,
    started: Instant,
}

impl CallLog {
    /// Starts the clock on a call. `known` says whether the server has a tool of that name.
    pub fn start(
        caller: Option<&str>,
        tool: &str,
        known: bool,
        arguments: Option<&JsonObject>,
    ) -> Self {
        Self {
            caller: caller.map(str::to_owned),
            tool: if known { tool } else { "(unknown)" }.to_owned(),
            session_id: named_sessions(arguments),
            started: Instant::now(),
        }
    }

    /// Logs a call that ended with a tool result (`outcome` is `ok` or `tool_error`).
    pub fn finish(self, result: &CallToolResult) {
        let outcome = if result.is_error == Some(true) {
            "tool_error"
        } else {
            "ok"
        };
        // A create names its session only in the result.
        let created = result
            .structured_content
            .as_ref()
            .and_then(|content| content.get("session_id"))
            .and_then(|id| id.as_str())
            .and_then(|id| SessionRef::parse(id).ok())
            .map(|session| session.devin_id());
        let session_id = self.session_id.clone().or(created);
        self.write(outcome, session_id.as_deref());
    }

    /// Logs a call that ended without a tool result, with its `outcome`: `protocol_error`,
    /// `cancelled`, or `ok` for an answer that is not a result.
    pub fn end(self, outcome: &str) {
        let session_id = self.session_id.clone();
        self.write(outcome, session_id.as_deref());
    }

    fn write(self, outcome: &str, session_id: Option<&str>) {
        tracing::info!(
            caller = self.caller.as_deref().unwrap_or("-"),
            tool = self.tool,
            session_id = session_id.unwrap_or("-"),
            outcome,
            latency_ms = self.started.elapsed().as_millis(),
            "tool call"
        );
    }
}

/// The session ids a call names (`session_id`, or the `session_ids` of a wait). Only ids that
/// parse are kept, in their `devin-…` form.
fn named_sessions(arguments: Option<&JsonObject>) -> Option<String> {
    let arguments = arguments?;
    let parse = |value: &serde_json::Value| {
        value
            .as_str()
            .and_then(|id| SessionRef::parse(id).ok())
            .map(|session| session.devin_id())
    };
    if let Some(id) = arguments.get("session_id") {
        return parse(id);
    }
    let ids: Vec<String> = arguments
        .get("session_ids")?
        .as_array()?
        .iter()
        .filter_map(parse)
        .collect();
    (!ids.is_empty()).then(|| ids.join(","))
}
