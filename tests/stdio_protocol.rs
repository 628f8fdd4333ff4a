//! The stdio transport at the byte level: what reaches stdout, what newer clients send first,
//! how the process starts and stops.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod mcp_support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use mcp_support::{BINARY, server_command, simulator};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

const SECRET: &str = "s3cr3t-deploy-token-value";

fn initialize(id: u64) -> Value {
    json!({
        "jsonrpc": "2.0", "id": id, "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "raw-test", "version": "1"}
        }
    })
}

struct Raw {
    child: Child,
    stdout: BufReader<ChildStdout>,
}

impl Raw {
    fn spawn(mut command: Command) -> Self {
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("spawn devin-mcp");
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Self { child, stdout }
    }

    /// `initialize` (id 1) and `notifications/initialized`.
    async fn handshake(&mut self) -> Value {
        self.send(&initialize(1)).await;
        let answer = self.answer(1).await;
        self.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        answer
    }

    async fn send(&mut self, message: &Value) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin
            .write_all(format!("{message}\n").as_bytes())
            .await
            .unwrap();
        stdin.flush().await.unwrap();
    }

    /// Reads stdout lines until the answer to `id`, checking that every line is JSON-RPC.
    async fn answer(&mut self, id: u64) -> Value {
        let deadline = Duration::from_secs(20);
        tokio::time::timeout(deadline, async {
            loop {
                let mut line = String::new();
                let read = self.stdout.read_line(&mut line).await.unwrap();
                assert!(read > 0, "stdout closed before the answer to {id}");
                let message: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| panic!("stdout carried a non-JSON line: {line:?}"));
                assert_eq!(message["jsonrpc"], "2.0", "not JSON-RPC: {line}");
                if message["id"] == json!(id) {
                    return message;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no answer to {id} within {deadline:?}"))
    }

    /// Closes stdin and returns the rest of stdout and all of stderr once the process exits.
    async fn finish(mut self) -> (String, String, std::process::ExitStatus) {
        drop(self.child.stdin.take());
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).await.unwrap();
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .await
            .unwrap();
        let status = self.child.wait().await.unwrap();
        (rest, stderr, status)
    }
}

#[tokio::test]
async fn stdout_carries_only_json_rpc_and_no_secret_reaches_stderr_even_at_trace() {
    let sim = simulator().await;
    let mut command = server_command(&sim, sim.api_key());
    command.env("RUST_LOG", "trace");
    let mut raw = Raw::spawn(command);

    raw.send(&initialize(1)).await;
    let answer = raw.answer(1).await;
    assert_eq!(answer["result"]["serverInfo"]["name"], "devin-mcp");
    raw.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .await;
    raw.send(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
        .await;
    raw.answer(2).await;
    raw.send(&json!({
        "jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "create_session", "arguments": {
            "prompt": "Deploy staging",
            "session_secrets": [{"key": "DEPLOY_TOKEN", "value": SECRET}]
        }}
    }))
    .await;
    let created = raw.answer(3).await;
    assert_ne!(created["result"]["isError"], true, "{created}");
    let id = created["result"]["structuredContent"]["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    raw.send(&json!({
        "jsonrpc": "2.0", "id": 4, "method": "tools/call",
        "params": {"name": "get_status", "arguments": {"session_id": id}}
    }))
    .await;
    raw.answer(4).await;

    let (rest, stderr, status) = raw.finish().await;
    for line in rest.lines().filter(|line| !line.trim().is_empty()) {
        let message: Value = serde_json::from_str(line).expect("only JSON-RPC on stdout");
        assert_eq!(message["jsonrpc"], "2.0");
    }
    assert!(status.success(), "{status}");
    assert!(!stderr.is_empty(), "trace logging writes to stderr");
    assert!(!stderr.contains(SECRET), "a session secret reached the log");
    assert!(
        !stderr.contains(sim.api_key()),
        "the API key reached the log"
    );
    assert!(
        !created.to_string().contains(SECRET),
        "a session secret came back"
    );
}

#[tokio::test]
async fn server_discover_before_initialize_gets_an_answer() {
    let sim = simulator().await;
    let mut raw = Raw::spawn(server_command(&sim, sim.api_key()));
    raw.send(&json!({"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {}}))
        .await;
    let answer = raw.answer(1).await;
    assert!(
        answer.get("result").is_some() || answer.get("error").is_some(),
        "server/discover must get an answer: {answer}"
    );
    raw.send(&initialize(2)).await;
    let init = raw.answer(2).await;
    assert_eq!(init["result"]["serverInfo"]["name"], "devin-mcp", "{init}");
    raw.finish().await;
}

#[tokio::test]
async fn unknown_methods_get_a_json_rpc_error_at_once() {
    let sim = simulator().await;
    let mut raw = Raw::spawn(server_command(&sim, sim.api_key()));
    raw.handshake().await;
    raw.send(&json!({"jsonrpc": "2.0", "id": 2, "method": "devin/teleport", "params": {}}))
        .await;
    let answer = raw.answer(2).await;
    assert_eq!(answer["error"]["code"], -32601, "{answer}");
    raw.send(&json!({
        "jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "no_such_tool", "arguments": {}}
    }))
    .await;
    let answer = raw.answer(3).await;
    assert!(
        answer.get("error").is_some(),
        "an unknown tool is a protocol error: {answer}"
    );
    raw.finish().await;
}

#[tokio::test]
async fn the_process_exits_promptly_when_stdin_closes() {
    let sim = simulator().await;
    let mut raw = Raw::spawn(server_command(&sim, sim.api_key()));
    raw.send(&initialize(1)).await;
    raw.answer(1).await;
    let started = Instant::now();
    let (_, _, status) = raw.finish().await;
    assert!(status.success(), "{status}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn stdin_closing_during_a_wait_ends_the_wait_and_the_process_at_once() {
    let sim = simulator().await;
    let mut raw = Raw::spawn(server_command(&sim, sim.api_key()));
    raw.handshake().await;
    raw.send(&json!({
        "jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "create_session", "arguments": {"prompt": "Never finishes"}}
    }))
    .await;
    let created = raw.answer(2).await;
    let id = created["result"]["structuredContent"]["session_id"].clone();
    raw.send(&json!({
        "jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "wait_for_sessions",
                   "arguments": {"session_ids": [id], "timeout_seconds": 600}}
    }))
    .await;
    // The simulator's clock stands still, so the wait would run its full 600 s.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let (rest, _, status) = raw.finish().await;
    assert!(status.success(), "{status}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a running wait held the process for {:?}",
        started.elapsed()
    );
    assert!(
        rest.contains(r#""timed_out":true"#),
        "the wait answers with what it has before the process exits: {rest}"
    );
}

#[tokio::test]
async fn a_notification_before_initialize_is_ignored_not_fatal() {
    let sim = simulator().await;
    let mut raw = Raw::spawn(server_command(&sim, sim.api_key()));
    raw.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .await;
    raw.send(&json!({
        "jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 9}
    }))
    .await;
    raw.send(&initialize(1)).await;
    let init = raw.answer(1).await;
    assert_eq!(init["result"]["serverInfo"]["name"], "devin-mcp", "{init}");
    raw.send(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
        .await;
    let tools = raw.answer(2).await;
    assert!(tools["result"]["tools"].as_array().is_some(), "{tools}");
    let (_, _, status) = raw.finish().await;
    assert!(status.success(), "{status}");
}

async fn run_expecting_config_error(command: &mut Command) -> String {
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let output = tokio::time::timeout(Duration::from_secs(10), command.output())
        .await
        .expect("a bad configuration fails at once")
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(
        output.stdout.is_empty(),
        "nothing on stdout: {:?}",
        output.stdout
    );
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.trim().lines().count(), 1, "one clear line: {stderr}");
    stderr
}

fn bare_command() -> Command {
    let mut command = Command::new(BINARY);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(std::env::temp_dir());
    command
}

#[tokio::test]
async fn a_missing_key_fails_before_the_handshake_with_one_line() {
    let stderr = run_expecting_config_error(&mut bare_command()).await;
    assert!(
        stderr.contains("DEVIN_API_KEY") && stderr.contains("--sim"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_legacy_key_is_refused_with_the_fix() {
    let mut command = bare_command();
    command.env("DEVIN_API_KEY", "apk_user_legacy_key_123");
    let stderr = run_expecting_config_error(&mut command).await;
    assert!(stderr.contains("cog_"), "{stderr}");
    assert!(
        !stderr.contains("apk_user_legacy_key_123"),
        "the key leaked: {stderr}"
    );
}

#[tokio::test]
async fn a_bad_base_url_or_org_is_refused() {
    let mut command = bare_command();
    command
        .env("DEVIN_API_KEY", "cog_x")
        .env("DEVIN_API_BASE_URL", "ftp://nope");
    let stderr = run_expecting_config_error(&mut command).await;
    assert!(stderr.contains("DEVIN_API_BASE_URL"), "{stderr}");

    let mut command = bare_command();
    command
        .env("DEVIN_API_KEY", "cog_x")
        .env("DEVIN_ORG_ID", "acme");
    let stderr = run_expecting_config_error(&mut command).await;
    assert!(stderr.contains("DEVIN_ORG_ID"), "{stderr}");
}

#[tokio::test]
async fn an_enterprise_key_without_an_org_says_to_set_one() {
    let sim = simulator().await;
    let mut raw = Raw::spawn(server_command(&sim, sim.enterprise_key()));
    raw.handshake().await;
    raw.send(&json!({
        "jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "get_status", "arguments": {"session_id": "devin-abc"}}
    }))
    .await;
    let answer = raw.answer(2).await;
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    let text = answer["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("DEVIN_ORG_ID"), "{text}");
    raw.finish().await;
}

#[tokio::test]
async fn a_dotenv_file_in_the_working_directory_is_read() {
    let sim = simulator().await;
    let dir = std::env::temp_dir().join(format!("devin-mcp-dotenv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(".env"),
        format!(
            "DEVIN_API_KEY={}\nDEVIN_API_BASE_URL={}\n",
            sim.api_key(),
            sim.base_url()
        ),
    )
    .unwrap();
    let mut command = bare_command();
    command.current_dir(&dir);
    let mut raw = Raw::spawn(command);
    raw.handshake().await;
    raw.send(&json!({
        "jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "create_session", "arguments": {"prompt": "hello"}}
    }))
    .await;
    let answer = raw.answer(2).await;
    assert_ne!(answer["result"]["isError"], true, "{answer}");
    raw.finish().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn sim_is_accepted_before_or_after_the_command_name() {
    for args in [
        &["--sim"][..],
        &["--sim", "stdio"][..],
        &["stdio", "--sim"][..],
    ] {
        let mut command = bare_command();
        command.args(args);
        let mut raw = Raw::spawn(command);
        raw.send(&initialize(1)).await;
        let answer = raw.answer(1).await;
        assert_eq!(
            answer["result"]["serverInfo"]["name"], "devin-mcp",
            "{args:?}: {answer}"
        );
        raw.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        raw.send(&json!({
            "jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": "create_session", "arguments": {"prompt": "hello"}}
        }))
        .await;
        let answer = raw.answer(2).await;
        assert_ne!(answer["result"]["isError"], true, "{args:?}: {answer}");
        let (_, _, status) = raw.finish().await;
        assert!(status.success(), "{args:?}: {status}");
    }
}

#[tokio::test]
async fn an_invalid_log_filter_fails_with_one_line() {
    let mut command = bare_command();
    command.arg("--sim").env("RUST_LOG", "devin_mcp=loud");
    let stderr = run_expecting_config_error(&mut command).await;
    assert!(stderr.contains("RUST_LOG"), "{stderr}");
}

#[tokio::test]
async fn a_bad_setting_with_sim_fails_with_one_line_before_the_simulator_starts() {
    for (name, value) in [
        ("DEVIN_MCP_POLL_MIN_SECS", "soon"),
        ("DEVIN_API_MAX_RETRIES", "many"),
    ] {
        let mut command = bare_command();
        command.arg("--sim").env(name, value);
        let stderr = run_expecting_config_error(&mut command).await;
        assert!(stderr.contains(name), "{stderr}");
    }
}

#[tokio::test]
async fn help_and_version_describe_the_server_and_exit_zero() {
    let output = bare_command().arg("--help").output().await.unwrap();
    assert!(output.status.success(), "{output:?}");
    let help = String::from_utf8(output.stdout).unwrap();
    for expected in ["stdio", "http", "sim", "--sim", "DEVIN_API_KEY"] {
        assert!(help.contains(expected), "--help lacks {expected}: {help}");
    }
    let output = bare_command().arg("--version").output().await.unwrap();
    assert!(output.status.success(), "{output:?}");
    let version = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        version.trim(),
        format!("devin-mcp {}", env!("CARGO_PKG_VERSION"))
    );
}

#[tokio::test]
async fn stdin_closed_before_initialize_is_a_clean_exit() {
    let sim = simulator().await;
    let raw = Raw::spawn(server_command(&sim, sim.api_key()));
    let started = Instant::now();
    let (stdout, stderr, status) = raw.finish().await;
    assert!(status.success(), "{status}: {stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(!stderr.contains("error"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(5));
}
