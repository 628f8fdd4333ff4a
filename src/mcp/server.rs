//! The MCP server: one handler, shared by every transport, that routes tool calls to the
//! tool modules and turns argument errors into tool results.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, GetPromptRequestParams,
    GetPromptResponse, Implementation, ListPromptsResult, ListResourceTemplatesResult,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, ServerCapabilities, ServerConfig,
    SubscribeRequestParams, SubscriptionFilter, UnsubscribeRequestParams,
};
use rmcp::model::{CancelTaskParams, GetTaskParams, GetTaskResult, UpdateTaskParams};
use rmcp::service::{RequestContext, SubscriptionContext};
use rmcp::task_manager::TaskManager;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};

use crate::devin::DevinClient;
use crate::mcp::arguments;
use crate::mcp::call_log::CallLog;
use crate::mcp::caller;
use crate::mcp::prompts;
use crate::mcp::resources::{self, SessionResource, Subscriptions};
use crate::mcp::tasks;
use crate::mcp::watch::{PollSettings, Watcher};

/// What the model reads first: the usual flow, in a few lines.
const INSTRUCTIONS: &str = "Delegate coding tasks to Devin, an autonomous engineer that works \
in its own VM for minutes to hours. Usual flow: create_session with a clear prompt (and a \
structured_output_schema when you want a JSON result) -> wait_for_sessions rather than polling \
get_status (needs_input means Devin asks something: answer with send_message; is_finished \
means done) -> get_structured_output and list_attachments for the results -> send_message to \
follow up -> terminate when done. For many tasks at once: create_sessions, then \
wait_for_sessions with until=all. Session ids look like devin-<id>.";

/// The devin-mcp server. Cheap to clone: every transport session gets a clone.
#[derive(Clone)]
pub struct DevinMcp {
    client: DevinClient,
    watcher: Watcher,
    subscriptions: Subscriptions,
    tasks: TaskManager,
    /// Who started each task: the caller's name, or `None` without one (stdio, `--no-auth`).
    /// Only the owner may read or cancel a task, as with MCP sessions.
    task_owners: Arc<Mutex<HashMap<String, Option<String>>>>,
    /// Shared: HTTP clones the server for every request, and the routes never change.
    tool_router: Arc<ToolRouter<Self>>,
}

impl DevinMcp {
    pub fn new(client: DevinClient) -> Self {
        Self::with_poll_settings(client, PollSettings::default())
    }

    /// A server whose waits poll as `settings` say.
    pub fn with_poll_settings(client: DevinClient, settings: PollSettings) -> Self {
        let mut tool_router = Self::session_tools() + Self::wait_tools() + Self::batch_tools();
        for route in tool_router.map.values_mut() {
            compact_tool(&mut route.attr);
        }
        let watcher = Watcher::new(client.clone(), settings);
        Self {
            client,
            watcher,
            subscriptions: Subscriptions::default(),
            tasks: TaskManager::new(),
            task_owners: Arc::default(),
            tool_router: Arc::new(tool_router),
        }
    }

    pub(crate) fn client(&self) -> &DevinClient {
        &self.client
    }

    /// Every tool this server offers, as `tools/list` shows them.
    pub fn tools(&self) -> Vec<rmcp::model::Tool> {
        self.tool_router.list_all()
    }

    /// Calls running as MCP tasks.
    pub(crate) fn tasks(&self) -> &TaskManager {
        &self.tasks
    }

    /// Records who started a task, forgetting the tasks the manager has let go.
    pub(crate) fn own_task(&self, task_id: &str, owner: Option<String>) {
        let mut owners = self.task_owners.lock().unwrap_or_else(|e| e.into_inner());
        owners.retain(|id, _| self.tasks.get_task(id).is_ok());
        owners.insert(task_id.to_owned(), owner);
    }

    /// Refuses a task of another caller with the very error an unknown task gets, so that
    /// task ids of others cannot even be confirmed.
    fn check_task_owner(
        &self,
        task_id: &str,
        context: &RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let caller = caller::from_context(context).map(|caller| caller.name.as_str());
        let owners = self.task_owners.lock().unwrap_or_else(|e| e.into_inner());
        match owners.get(task_id) {
            Some(owner) if owner.as_deref() != caller => Err(McpError::invalid_params(
                format!("unknown task: {task_id}"),
                None,
            )),
            _ => Ok(()),
        }
    }

    pub(crate) fn tool_router(&self) -> &ToolRouter<Self> {
        &self.tool_router
    }

    /// Starts shutting down: waits in flight, and any that start later, answer at once with
    /// the state they have (`timed_out: true`) instead of being cut off without an answer.
    pub fn shut_down(&self) {
        self.watcher.close();
    }

    /// The shared pollers behind waits and resource subscriptions.
    pub(crate) fn watcher(&self) -> &Watcher {
        &self.watcher
    }
}

impl ServerHandler for DevinMcp {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_prompts()
            .enable_resources()
            .enable_resources_subscribe()
            .enable_tasks()
            .build();
        ServerConfig::new(capabilities)
            .with_server_info(
                Implementation::new("devin-mcp", env!("CARGO_PKG_VERSION"))
                    .with_title("Devin MCP server"),
            )
            .with_instructions(INSTRUCTIONS)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let mut request = request;
        let caller = caller::from_context(&context).cloned();
        let name = request.name.to_string();
        let tool = self.tool_router.get(&name);
        let log = CallLog::start(
            caller.as_ref().map(|caller| caller.name.as_str()),
            &name,
            tool.is_some(),
            request.arguments.as_ref(),
        );
        let Some(tool) = tool else {
            log.end("protocol_error");
            return Err(McpError::invalid_params(
                format!("unknown tool '{name}'; tools/list shows the tools this server has"),
                None,
            ));
        };
        if let Some(caller) = caller.as_ref().filter(|c| !caller::visible(tool, Some(c))) {
            let refused = caller::refusal(&name, caller);
            log.finish(&refused);
            return Ok(CallToolResponse::Complete(refused));
        }
        caller::attribute(&name, &mut request.arguments, caller.as_ref());
        if let Some(problem) = arguments::problem(&name, request.arguments.as_ref()) {
            let invalid = CallToolResult::error(vec![ContentBlock::text(problem)]);
            log.finish(&invalid);
            return Ok(CallToolResponse::Complete(invalid));
        }
        if let Some(wait) =
            tasks::task_wait(&request).filter(|_| tasks::client_takes_tasks(&context))
        {
            let owner = caller.map(|caller| caller.name);
            return Ok(self.spawn_tool_task(request, context, wait, owner, log));
        }
        let call = ToolCallContext::new(self, request, context);
        let outcome = self
            .tool_router
            .call(call)
            .await
            .map(|response| explain_argument_error(&name, response));
        match &outcome {
            Ok(CallToolResponse::Complete(result)) => log.finish(result),
            Ok(_) => log.end("ok"),
            Err(_) => log.end("protocol_error"),
        }
        outcome
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let caller = caller::from_context(&context);
        let mut tools = self.tool_router.list_all();
        tools.retain(|tool| caller::visible(tool, caller));
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        Ok(ListPromptsResult::with_all_items(prompts::list()))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        prompts::get(&request.name, request.arguments.as_ref()).map(GetPromptResponse::Complete)
    }

    fn get_tool(&self, name: &str) -> Option<rmcp::model::Tool> {
        self.tool_router.get(name).cloned()
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        // Sessions are many and come and go; the templates say how to name one.
        Ok(ListResourcesResult::with_all_items(Vec::new()))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Ok(ListResourceTemplatesResult::with_all_items(
            resources::templates(),
        ))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let resource = SessionResource::parse(&request.uri)?;
        let contents = resources::read(&self.client, &resource).await?;
        Ok(ReadResourceResponse::Complete(ReadResourceResult::new(
            vec![contents],
        )))
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        Some(resources::accepted_filter(requested))
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), McpError> {
        resources::listen(&self.watcher, context).await;
        Ok(())
    }

    #[allow(deprecated)]
    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let resource = SessionResource::parse(&request.uri)?;
        let client = subscriber_of(&context)?;
        self.subscriptions
            .subscribe(&self.watcher, client, request.uri, resource, context.peer);
        Ok(())
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, McpError> {
        self.check_task_owner(&request.task_id, &context)?;
        Ok(GetTaskResult::new(self.tasks.get_task(&request.task_id)?))
    }

    async fn update_task(
        &self,
        request: UpdateTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.check_task_owner(&request.task_id, &context)?;
        self.tasks
            .update_task(&request.task_id, request.input_responses)
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.check_task_owner(&request.task_id, &context)?;
        self.tasks.cancel_task(&request.task_id)
    }

    #[allow(deprecated)]
    async fn set_level(
        &self,
        _request: rmcp::model::SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        // Accepted for clients that send it; the server logs with tracing to its own stderr
        // and sends no log notifications, whatever the level.
        Ok(())
    }

    #[allow(deprecated)]
    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        SessionResource::parse(&request.uri)?;
        let client = subscriber_of(&context)?;
        self.subscriptions.unsubscribe(&client, &request.uri);
        Ok(())
    }
}

/// Who a `resources/subscribe` belongs to: the MCP session over HTTP, or the one client of
/// stdio. A stateless HTTP request has no connection left to notify once it is answered, so
/// there a subscription is refused with the ways that work.
fn subscriber_of(context: &RequestContext<RoleServer>) -> Result<String, McpError> {
    let Some(parts) = context.extensions.get::<http::request::Parts>() else {
        return Ok(String::new());
    };
    match parts
        .headers
        .get("mcp-session-id")
        .and_then(|id| id.to_str().ok())
    {
        Some(session) => Ok(session.to_owned()),
        None => Err(McpError::invalid_request(
            "resources/subscribe needs an MCP session, and this server runs stateless: use \
             subscriptions/listen (protocol 2026-07-28), or ask the operator to run \
             devin-mcp http --sessions",
            None,
        )),
    }
}

/// The router reports arguments that do not fit the input schema as a tool error that quotes
/// serde. [`arguments::problem`] catches those before the call; should one slip through, this
/// still says which tool, and what to do, without the offending value: it may be a session
/// secret the model put in the wrong place.
pub(crate) fn explain_argument_error(
    tool: &str,
    mut response: CallToolResponse,
) -> CallToolResponse {
    const SERDE_PREFIX: &str = "failed to deserialize parameters:";
    if let CallToolResponse::Complete(result) = &mut response
        && result.is_error == Some(true)
        && let Some(text) = result.content.first().and_then(|block| block.as_text())
        && let Some(reason) = text.text.strip_prefix(SERDE_PREFIX)
    {
        let message = format!(
            "Invalid arguments for {tool}: {}. Check the tool's input schema and call again.",
            crate::mcp::errors::without_quoted_values(reason.trim())
        );
        result.content = vec![ContentBlock::text(message)];
    }
    response
}

/// Drops what a model does not need from a tool's schemas: `$schema` (2020-12 is MCP's
/// default) and the root title and description (the tool's own description says it). Every
/// byte of `tools/list` is context the calling model pays for.
fn compact_tool(tool: &mut rmcp::model::Tool) {
    let compact = |schema: &mut std::sync::Arc<rmcp::model::JsonObject>| {
        let schema = std::sync::Arc::make_mut(schema);
        for key in ["$schema", "title", "description"] {
            schema.remove(key);
        }
    };
    compact(&mut tool.input_schema);
    if let Some(output) = tool.output_schema.as_mut() {
        compact(output);
    }
}
