//! Long calls as MCP tasks (the `io.modelcontextprotocol/tasks` extension).
//!
//! A client that declares the extension gets `wait_for_sessions`, and `create_session` with
//! `wait_seconds`, as a task: the call answers at once with a task id, the wait runs on, and
//! the client reads the result with `tasks/get` when it likes, or stops it with
//! `tasks/cancel`. Clients without the extension get the same calls as blocking calls.

use std::time::Duration;

use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{CallToolRequestParams, CallToolResponse, CreateTaskResult};
use rmcp::service::RequestContext;
use rmcp::task_manager::{TaskExit, TaskOptions};
use rmcp::{ErrorData as McpError, RoleServer};
use tokio_util::sync::CancellationToken;

use crate::mcp::call_log::CallLog;
use crate::mcp::server::{DevinMcp, explain_argument_error};
use crate::mcp::wait::{DEFAULT_WAIT, MAX_WAIT};

/// How long a finished task's result stays readable after the wait could have ended.
const RETENTION_MARGIN: Duration = Duration::from_secs(600);

/// The wait a call asks for, when it is one that may run as a task.
pub fn task_wait(request: &CallToolRequestParams) -> Option<Duration> {
    let arguments = request.arguments.as_ref();
    let seconds = |key: &str| arguments.and_then(|a| a.get(key)).and_then(|v| v.as_u64());
    match request.name.as_ref() {
        "wait_for_sessions" => {
            Some(seconds("timeout_seconds").map_or(DEFAULT_WAIT, Duration::from_secs))
        }
        "create_session" => seconds("wait_seconds")
            .filter(|s| *s > 0)
            .map(Duration::from_secs),
        _ => None,
    }
    .map(|wait| wait.min(MAX_WAIT))
}

/// Whether the client said it handles tasks.
pub fn client_takes_tasks(context: &RequestContext<RoleServer>) -> bool {
    context
        .client_capabilities()
        .is_some_and(|capabilities| capabilities.supports_tasks())
}

impl DevinMcp {
    /// Runs a tool call as a task and answers with the task's seed state.
    /// `owner` is the caller's name (see [`DevinMcp::own_task`]); `log` is written when the
    /// task ends.
    pub(crate) fn spawn_tool_task(
        &self,
        request: CallToolRequestParams,
        mut context: RequestContext<RoleServer>,
        wait: Duration,
        owner: Option<String>,
        log: CallLog,
    ) -> CallToolResponse {
        let name = request.name.to_string();
        // The task outlives the request: it gets its own cancellation, and no progress
        // token, since progress for a request that has been answered reaches no one.
        let stop = CancellationToken::new();
        context.ct = stop.clone();
        context.meta.remove("progressToken");
        let ttl_ms = u64::try_from((wait + RETENTION_MARGIN).as_millis()).unwrap_or(u64::MAX);
        let options = TaskOptions::new()
            .with_ttl_ms(ttl_ms)
            .with_poll_interval_ms(2_000)
            .with_status_message(format!("{name} is running"));
        let server = self.clone();
        let task = self.tasks().spawn(options, move |task| {
            Box::pin(async move {
                let call = ToolCallContext::new(&server, request, context);
                let running = server.tool_router().call(call);
                tokio::pin!(running);
                let outcome = tokio::select! {
                    outcome = &mut running => outcome,
                    _ = task.cancelled() => {
                        stop.cancel();
                        if name != "create_session" {
                            log.end("cancelled");
                            return Err(TaskExit::Cancelled);
                        }
                        // A create may already have started a session, which runs and bills
                        // whether or not anyone knows its id. So the call goes on: its wait
                        // ends at once on `stop`, and the task completes with the id (the
                        // tasks extension lets a cancelled task end completed).
                        running.await
                    }
                };
                match outcome {
                    Ok(response) => match explain_argument_error(&name, response) {
                        CallToolResponse::Complete(result) => {
                            log.finish(&result);
                            Ok(result)
                        }
                        _ => {
                            log.end("protocol_error");
                            Err(TaskExit::Error(McpError::internal_error(
                                "the tool did not produce a final result",
                                None,
                            )))
                        }
                    },
                    Err(error) => {
                        log.end("protocol_error");
                        Err(TaskExit::Error(error))
                    }
                }
            })
        });
        self.own_task(&task.task_id, owner);
        CallToolResponse::Task(CreateTaskResult::new(task))
    }
}
