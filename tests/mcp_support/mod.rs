//! Shared by the MCP integration tests: a simulator on loopback, the real `devin-mcp` binary
//! spawned over stdio against it, and rmcp's client talking to that binary.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use devin_mcp::sim::{SimConfig, Simulator};
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, Implementation,
};
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Value, json};
use tokio::process::Command;

/// Path of the binary under test, built by cargo for integration tests.
pub const BINARY: &str = env!("CARGO_BIN_EXE_devin-mcp");

/// A simulator with a manual clock, on a free loopback port.
pub async fn simulator() -> Simulator {
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    Simulator::start(SimConfig::manual(), loopback)
        .await
        .expect("simulator starts")
}

/// A `devin-mcp` command pointed at `sim`, isolated from the caller's environment and `.env`.
pub fn server_command(sim: &Simulator, key: &str) -> Command {
    let mut command = Command::new(BINARY);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DEVIN_API_KEY", key)
        .env("DEVIN_API_BASE_URL", sim.base_url())
        .env("DEVIN_API_MAX_RETRIES", "2")
        .env("RUST_LOG", "info")
        .current_dir(std::env::temp_dir());
    command
}

/// The binary over stdio, with rmcp's client connected to it.
pub struct Server {
    pub client: RunningService<RoleClient, ()>,
}

impl Server {
    pub async fn start(sim: &Simulator) -> Self {
        Self::start_with(server_command(sim, sim.api_key())).await
    }

    pub async fn start_with(command: Command) -> Self {
        let (transport, _stderr) = TokioChildProcess::builder(command)
            .stderr(Stdio::null())
            .spawn()
            .expect("devin-mcp spawns");
        let client = ().serve(transport).await.expect("MCP handshake");
        Self { client }
    }

    /// Calls a tool and returns the raw result; panics only on protocol errors.
    pub async fn call(&self, tool: &str, arguments: Value) -> CallToolResult {
        let Value::Object(arguments) = arguments else {
            panic!("arguments must be an object")
        };
        let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments);
        self.client
            .call_tool(params)
            .await
            .expect("tools/call answers")
    }

    /// Calls a tool that must succeed and returns its structured content.
    pub async fn ok(&self, tool: &str, arguments: Value) -> Value {
        let result = self.call(tool, arguments.clone()).await;
        assert_ne!(
            result.is_error,
            Some(true),
            "{tool}({arguments}) failed: {}",
            text(&result)
        );
        let structured = result
            .structured_content
            .clone()
            .expect("structured content");
        let echoed: Value = serde_json::from_str(&text(&result)).expect("text block is JSON");
        assert_eq!(
            echoed, structured,
            "the text block repeats the structured content"
        );
        structured
    }

    /// Calls a tool that must fail with `isError` and returns the message.
    pub async fn err(&self, tool: &str, arguments: Value) -> String {
        let result = self.call(tool, arguments.clone()).await;
        assert_eq!(
            result.is_error,
            Some(true),
            "{tool}({arguments}) should fail: {result:?}"
        );
        text(&result)
    }

    pub async fn stop(self) {
        let _ = self.client.cancel().await;
    }
}

/// A `tools/call` request for `tool` with `arguments` (a JSON object).
pub fn tool_request(tool: &str, arguments: Value) -> CallToolRequestParams {
    let Value::Object(arguments) = arguments else {
        panic!("arguments must be an object")
    };
    CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments)
}

/// A client that declares the MCP tasks extension.
#[derive(Clone, Default)]
pub struct TaskClient;

impl ClientHandler for TaskClient {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::builder().enable_tasks().build(),
            Implementation::new("task-client", "1.0.0"),
        )
    }
}

/// The text of a result's first content block.
pub fn text(result: &CallToolResult) -> String {
    result
        .content
        .first()
        .and_then(|block| block.as_text())
        .map(|text| text.text.clone())
        .unwrap_or_default()
}

/// A structured output schema used across tests.
pub fn report_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "summary": {"type": "string"},
            "tests_passed": {"type": "integer", "minimum": 0},
            "risk": {"type": "string", "enum": ["low", "medium", "high"]}
        },
        "required": ["summary", "tests_passed", "risk"]
    })
}

/// Advances the simulator clock in steps until `done` holds for the session's status, or
/// gives up after `limit` of simulated time.
pub async fn advance_until(
    sim: &Simulator,
    server: &Server,
    session_id: &str,
    limit: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let step = Duration::from_secs(5);
    let mut waited = Duration::ZERO;
    loop {
        let status = server
            .ok("get_status", json!({ "session_id": session_id }))
            .await;
        if done(&status) {
            return status;
        }
        assert!(
            waited < limit,
            "condition not reached after {waited:?}: {status}"
        );
        sim.advance(step);
        waited += step;
    }
}
