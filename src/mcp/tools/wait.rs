//! `wait_for_sessions`: block until sessions settle or a condition holds, so that an agent
//! need not poll `get_status` itself.

use std::time::Duration;

use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::mcp::errors::ToolError;
use crate::mcp::server::DevinMcp;
use crate::mcp::tools::sessions::session_ref;
use crate::mcp::views::WaitView;
use crate::mcp::wait::{self, Conditions, DEFAULT_WAIT, MAX_WAIT, WaitSpec};

/// Arguments of `wait_for_sessions`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitParams {
    /// Sessions to watch: devin-<id>, bare ids or URLs.
    pub session_ids: Vec<String>,
    /// any (default): return when one session is done; all: when every one is.
    pub until: Option<Until>,
    /// Give up after this many seconds (default 240, at most 3600) and return the states.
    pub timeout_seconds: Option<u64>,
    /// Also done when a pull request appears.
    pub on_pull_request: Option<bool>,
    /// Also done when the structured output changes.
    pub on_output_change: Option<bool>,
    /// Also done when the structured output at this JSON pointer (e.g. /status) equals
    /// output_value.
    pub output_pointer: Option<String>,
    #[schemars(schema_with = "crate::mcp::views::any_json")]
    pub output_value: Option<Value>,
}

/// Whether a wait ends with the first session or the last.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Until {
    Any,
    All,
}

impl WaitParams {
    pub(crate) fn into_spec(self) -> Result<WaitSpec, ToolError> {
        if self.session_ids.is_empty() {
            return Err(ToolError::invalid(
                "session_ids is empty; name at least one session",
            ));
        }
        if self.session_ids.len() > 100 {
            return Err(ToolError::invalid("wait on at most 100 sessions per call"));
        }
        let sessions = self
            .session_ids
            .iter()
            .map(|id| session_ref(id))
            .collect::<Result<Vec<_>, _>>()?;
        let timeout = wait_duration(self.timeout_seconds)?.unwrap_or(DEFAULT_WAIT);
        let output_matches = match (self.output_pointer, self.output_value) {
            (Some(pointer), Some(value)) => {
                if !(pointer.is_empty() || pointer.starts_with('/')) {
                    return Err(ToolError::invalid(format!(
                        "output_pointer '{pointer}' is not a JSON pointer; write it like /status \
                         or /items/0/state"
                    )));
                }
                Some((pointer, value))
            }
            (None, None) => None,
            _ => {
                return Err(ToolError::invalid(
                    "output_pointer and output_value go together; give both or neither",
                ));
            }
        };
        Ok(WaitSpec {
            sessions,
            all: self.until == Some(Until::All),
            timeout,
            conditions: Conditions {
                pull_request: self.on_pull_request.unwrap_or(false),
                output_changed: self.on_output_change.unwrap_or(false),
                output_matches,
            },
        })
    }
}

/// Checks a wait length in seconds against the limit.
pub(crate) fn wait_duration(seconds: Option<u64>) -> Result<Option<Duration>, ToolError> {
    match seconds {
        Some(seconds) if seconds > MAX_WAIT.as_secs() => Err(ToolError::invalid(format!(
            "a wait may last at most {} seconds, not {seconds}; wait again afterwards",
            MAX_WAIT.as_secs()
        ))),
        Some(seconds) => Ok(Some(Duration::from_secs(seconds))),
        None => Ok(None),
    }
}

#[tool_router(router = wait_tools, vis = "pub(crate)")]
impl DevinMcp {
    #[tool(
        description = "Wait until sessions settle (finished, needing input, suspended or \
                       ended) or a condition holds, instead of polling get_status. Returns each \
                       session's state, structured output and Devin's new messages. Sends \
                       progress notifications while waiting.",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = true)
    )]
    pub async fn wait_for_sessions(
        &self,
        Parameters(params): Parameters<WaitParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<WaitView>, ToolError> {
        let spec = params.into_spec()?;
        let progress = wait::progress_of(&context);
        let view = wait::wait(self.watcher(), spec, progress, context.ct.clone()).await?;
        if let Some(error) = all_failed(&view) {
            return Err(ToolError(error));
        }
        Ok(Json(view))
    }
}

/// When no session could be read at all, the first reason, so the call fails as a whole.
pub(crate) fn all_failed(view: &WaitView) -> Option<String> {
    let all_unknown = view
        .sessions
        .iter()
        .all(|s| s.status == "unknown" && s.error.is_some());
    if all_unknown {
        view.sessions.first().and_then(|s| s.error.clone())
    } else {
        None
    }
}
