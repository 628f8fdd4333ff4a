//! The MCP server: one handler, shared by every transport, that routes tool calls to the
//! tool modules and turns argument errors into tool results.

use std::time::Instant;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ContentBlock, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};

use crate::devin::DevinClient;
use crate::devin::models::{CreateSessionRequest, SendMessageRequest};
use crate::mcp::caller;

/// What the model reads first: the usual flow, in a few lines.
const INSTRUCTIONS: &str = "Delegate coding tasks to Devin, an autonomous engineer that works \
in its own VM for minutes to hours. Usual flow: create_session with a clear prompt (and a \
structured_output_schema when you want a JSON result) -> get_status now and then (needs_input \
means Devin asks something: answer with send_message; is_finished means done) -> \
get_structured_output and list_attachments for the results -> send_message to follow up -> \
terminate when done. Session ids look like devin-<id>.";

/// The devin-mcp server. Cheap to clone: every transport session gets a clone.
#[derive(Clone)]
pub struct DevinMcp {
    client: DevinClient,
    tool_router: ToolRouter<Self>,
}

impl DevinMcp {
    pub fn new(client: DevinClient) -> Self {
        let mut tool_router = Self::session_tools();
        for route in tool_router.map.values_mut() {
            compact_tool(&mut route.attr);
        }
        Self {
            client,
            tool_router,
        }
    }

    pub(crate) fn client(&self) -> &DevinClient {
        &self.client
    }

    /// Every tool this server offers, as `tools/list` shows them.
    pub fn tools(&self) -> Vec<rmcp::model::Tool> {
        self.tool_router.list_all()
    }

    /// Fills in who a created session belongs to. Stdio serves one person, whose key already
    /// says who they are, so this changes nothing there; shared transports override it.
    pub(crate) fn attribute_create(&self, request: CreateSessionRequest) -> CreateSessionRequest {
        request
    }

    /// Fills in who a message is from; see [`Self::attribute_create`].
    pub(crate) fn attribute_message(&self, request: SendMessageRequest) -> SendMessageRequest {
        request
    }
}

impl ServerHandler for DevinMcp {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder().enable_tools().build();
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
        let session_id = request
            .arguments
            .as_ref()
            .and_then(|arguments| arguments.get("session_id"))
            .and_then(|value| value.as_str())
            .map(crate::mcp::views::devin_id);
        let started = Instant::now();
        let refused = caller.as_ref().filter(|caller| {
            let tool = self.tool_router.get(&name);
            tool.is_some_and(|tool| !caller::visible(tool, Some(caller)))
        });
        caller::attribute(&name, &mut request.arguments, caller.as_ref());
        let outcome = if let Some(caller) = refused {
            Ok(CallToolResponse::Complete(caller::refusal(&name, caller)))
        } else if self.tool_router.has_route(&name) {
            let call = ToolCallContext::new(self, request, context);
            self.tool_router
                .call(call)
                .await
                .map(|response| explain_argument_error(&name, response))
        } else {
            Err(McpError::invalid_params(
                format!("unknown tool '{name}'; tools/list shows the tools this server has"),
                None,
            ))
        };
        let result = match &outcome {
            Ok(CallToolResponse::Complete(result)) if result.is_error == Some(true) => "tool_error",
            Ok(_) => "ok",
            Err(_) => "protocol_error",
        };
        tracing::info!(
            caller = caller.as_ref().map_or("-", |caller| caller.name.as_str()),
            tool = %name,
            session_id = session_id.as_deref().unwrap_or("-"),
            outcome = result,
            latency_ms = started.elapsed().as_millis(),
            "tool call"
        );
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

    fn get_tool(&self, name: &str) -> Option<rmcp::model::Tool> {
        self.tool_router.get(name).cloned()
    }
}

/// The router reports arguments that do not fit the input schema as a tool error that quotes
/// serde. This says which tool, and what to do, in the words the model reads.
fn explain_argument_error(tool: &str, mut response: CallToolResponse) -> CallToolResponse {
    const SERDE_PREFIX: &str = "failed to deserialize parameters:";
    if let CallToolResponse::Complete(result) = &mut response
        && result.is_error == Some(true)
        && let Some(text) = result.content.first().and_then(|block| block.as_text())
        && let Some(reason) = text.text.strip_prefix(SERDE_PREFIX)
    {
        let message = format!(
            "Invalid arguments for {tool}: {}. Check the tool's input schema and call again.",
            reason.trim()
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
