//! Delegates one task to Devin end to end, the way an agent would, and prints each step.
//!
//! It launches `devin-mcp --sim` (the built-in simulator: no key, no network, nothing billed)
//! as a subprocess, talks MCP to it over stdio with rmcp's client, and walks the usual flow:
//! create a session with a structured output schema, wait for it with `wait_for_sessions`
//! (printing the server's progress notifications), answer Devin's question, wait again, read
//! the structured output and attachments, and terminate.
//!
//! ```text
//! cargo build && cargo run --example delegate
//! ```
//!
//! Set `DEVIN_MCP_BIN` to use another build of the server; pass `--real` to use Devin itself
//! with `DEVIN_API_KEY` from the environment (this creates a real, billed session).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rmcp::model::{CallToolRequestParams, ProgressNotificationParam};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::TokioChildProcess;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Value, json};
use tokio::process::Command;

/// Questions the example answers before it gives up: a real agent would ask its user.
const MAX_ANSWERS: usize = 3;

type Client = RunningService<RoleClient, Progress>;
type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let real = std::env::args().any(|arg| arg == "--real");
    let binary = server_binary()?;
    let mut command = Command::new(&binary);
    if !real {
        command.arg("--sim");
    }
    command.env("RUST_LOG", "warn");
    step(&format!(
        "launching {} {}",
        binary.display(),
        if real { "" } else { "--sim" }
    ));
    let client: Client = Progress.serve(TokioChildProcess::new(command)?).await?;
    if let Some(info) = client.peer_info().and_then(|info| info.server_info.clone()) {
        step(&format!("connected to {} {}", info.name, info.version));
    }
    let tools = client.list_all_tools().await?;
    let names: Vec<&str> = tools.iter().map(|tool| tool.name.as_ref()).collect();
    step(&format!("tools: {}", names.join(", ")));

    let schema = json!({
        "type": "object",
        "properties": {
            "summary": {"type": "string"},
            "files_changed": {"type": "array", "items": {"type": "string"}},
            "tests_passed": {"type": "boolean"}
        },
        "required": ["summary", "files_changed", "tests_passed"]
    });
    let created = call(
        &client,
        "create_session",
        json!({
            "prompt": "Add input validation to the signup form in acme/web. Ask me which \
                       error style to use before you change the UI.",
            "repos": ["acme/web"],
            "tags": ["example"],
            "structured_output_schema": schema,
        }),
    )
    .await?;
    let id = created["session_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    step(&format!(
        "created {id} ({})",
        created["url"].as_str().unwrap_or_default()
    ));

    // One wait_for_sessions call replaces a polling loop: the server polls for us and sends a
    // progress notification on every change, and the call returns as soon as Devin needs an
    // answer or is done.
    let started = Instant::now();
    let mut answers = 0;
    loop {
        let waited = call(
            &client,
            "wait_for_sessions",
            json!({ "session_ids": [id], "timeout_seconds": 600 }),
        )
        .await?;
        let session = &waited["sessions"][0];
        step(&format!(
            "[{:>4.1}s] wait returned: {}{} (ACUs {:.2})",
            started.elapsed().as_secs_f64(),
            session["status"].as_str().unwrap_or("?"),
            session["status_detail"]
                .as_str()
                .map(|detail| format!(" / {detail}"))
                .unwrap_or_default(),
            session["acus_consumed"].as_f64().unwrap_or(0.0)
        ));
        for message in session["new_messages"].as_array().into_iter().flatten() {
            step(&format!(
                "Devin wrote: {}",
                message.as_str().unwrap_or_default()
            ));
        }
        if session["is_finished"] == true || session["is_terminal"] == true {
            break;
        }
        if session["needs_input"] == true {
            if answers == MAX_ANSWERS {
                return Err(
                    format!("Devin still needs input after {answers} answers: {session}").into(),
                );
            }
            step("Devin asks a question; answering with send_message");
            call(
                &client,
                "send_message",
                json!({ "session_id": id, "message": "Use inline errors under each field." }),
            )
            .await?;
            answers += 1;
        } else if session["status"] == "suspended" {
            // Suspended for a limit or by a user: a message would resume it, but a script
            // should not spend ACUs nobody asked for.
            return Err(format!("the session was suspended: {session}").into());
        } else if waited["timed_out"] == true || started.elapsed() > Duration::from_secs(1800) {
            return Err(format!("the session did not settle: {session}").into());
        }
    }

    let output = call(
        &client,
        "get_structured_output",
        json!({ "session_id": id }),
    )
    .await?;
    step(&format!(
        "structured output: {}",
        output["structured_output"]
    ));
    let attachments = call(&client, "list_attachments", json!({ "session_id": id })).await?;
    for file in attachments["attachments"].as_array().into_iter().flatten() {
        step(&format!("attachment: {} ({})", file["name"], file["url"]));
    }
    let ended = call(
        &client,
        "terminate",
        json!({ "session_id": id, "archive": true }),
    )
    .await?;
    step(&format!(
        "terminated: status {}, archived {}",
        ended["status"], ended["is_archived"]
    ));
    client.cancel().await?;
    Ok(())
}

/// Prints the progress notifications the server sends while a call waits.
#[derive(Clone)]
struct Progress;

impl ClientHandler for Progress {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        if let Some(message) = params.message {
            step(&format!("   progress: {message}"));
        }
    }
}

/// Calls a tool and returns its structured content, or the tool's error message as an error.
async fn call(client: &Client, tool: &str, arguments: Value) -> Result<Value, Error> {
    let Value::Object(arguments) = arguments else {
        return Err("arguments must be an object".into());
    };
    let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments);
    let result = client.call_tool(params).await?;
    let text = result
        .content
        .first()
        .and_then(|block| block.as_text())
        .map(|text| text.text.clone())
        .unwrap_or_default();
    if result.is_error == Some(true) {
        return Err(format!("{tool} failed: {text}").into());
    }
    Ok(result.structured_content.unwrap_or(Value::Null))
}

/// The server binary: `DEVIN_MCP_BIN`, or the `devin-mcp` that `cargo build` put beside us.
fn server_binary() -> Result<PathBuf, Error> {
    if let Some(path) = std::env::var_os("DEVIN_MCP_BIN") {
        return Ok(PathBuf::from(path));
    }
    let example = std::env::current_exe()?;
    let profile_dir = example.parent().and_then(|examples| examples.parent());
    let binary = profile_dir
        .map(|dir| dir.join("devin-mcp"))
        .filter(|path| path.exists());
    binary.ok_or_else(|| "devin-mcp is not built yet: run `cargo build` first".into())
}

fn step(text: &str) {
    println!("==> {text}");
}
