//! Shared by the HTTP integration tests: the real `devin-mcp http` binary on a free loopback
//! port against a simulator, rmcp's streamable HTTP client, and reqwest for raw checks.

#![allow(dead_code)]

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use devin_mcp::sim::Simulator;
use rmcp::ServiceExt;
use rmcp::service::{ClientLifecycleMode, ClientServiceExt};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::mcp_support::{BINARY, Server};

/// A token long enough to be accepted.
pub const TOKEN: &str = "test-token-0123456789abcdef";

/// The real binary serving HTTP; killed when dropped.
pub struct HttpServer {
    pub child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// Everything the server wrote to stderr so far.
    pub log: Arc<Mutex<String>>,
}

impl HttpServer {
    /// `devin-mcp http --listen 127.0.0.1:0 <args>` against `sim`, with `DEVIN_MCP_TOKEN` set
    /// to [`TOKEN`] unless `args` asks for something else.
    pub async fn start(sim: &Simulator, args: &[&str]) -> Self {
        let mut command = command(sim, args);
        if !args.iter().any(|a| *a == "--tokens" || *a == "--no-auth") {
            command.env("DEVIN_MCP_TOKEN", TOKEN);
        }
        Self::spawn(command).await
    }

    pub async fn spawn(mut command: Command) -> Self {
        command
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("devin-mcp spawns");
        let stderr = child.stderr.take().expect("stderr is piped");
        let mut lines = BufReader::new(stderr).lines();
        let log = Arc::new(Mutex::new(String::new()));
        let base = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.expect("stderr reads") {
                log.lock().unwrap().push_str(&format!("{line}\n"));
                if let Some(at) = line.find("listening on http://") {
                    let url = line[at + "listening on ".len()..].split_whitespace().next();
                    let url = url.expect("an address follows").trim_end_matches("/mcp");
                    return url.to_owned();
                }
            }
            panic!("server exited before listening:\n{}", log.lock().unwrap());
        })
        .await
        .expect("server listens within 30 s");
        let sink = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                sink.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        Self { child, base, log }
    }

    pub fn mcp_url(&self) -> String {
        format!("{}/mcp", self.base)
    }

    /// rmcp's client over streamable HTTP with the 2025-11-25 `initialize` handshake.
    pub async fn client(&self, token: Option<&str>) -> Server {
        let transport = StreamableHttpClientTransport::from_config(self.transport_config(token));
        let client = ().serve(transport).await.expect("MCP handshake over HTTP");
        Server { client }
    }

    /// rmcp's client with the 2026-07-28 stateless protocol (`server/discover`, no session).
    pub async fn stateless_client(&self, token: Option<&str>) -> Server {
        let transport = StreamableHttpClientTransport::from_config(self.transport_config(token));
        let lifecycle = ClientLifecycleMode::Discover {
            preferred_versions: vec![rmcp::model::ProtocolVersion::V_2026_07_28],
        };
        let client =
            ().serve_with_lifecycle(transport, lifecycle)
                .await
                .expect("discover over HTTP");
        Server { client }
    }

    pub fn transport_config(&self, token: Option<&str>) -> StreamableHttpClientTransportConfig {
        devin_mcp::devin::client::install_crypto_provider();
        let config = StreamableHttpClientTransportConfig::with_uri(self.mcp_url());
        match token {
            Some(token) => config.auth_header(token),
            None => config,
        }
    }

    /// Waits for the log to contain `needle` (log lines arrive asynchronously).
    pub async fn log_contains(&self, needle: &str) -> bool {
        for _ in 0..100 {
            if self.log.lock().unwrap().contains(needle) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

/// `devin-mcp http --listen 127.0.0.1:0 <args>` pointed at `sim`, with a clean environment.
pub fn command(sim: &Simulator, args: &[&str]) -> Command {
    command_on(sim, "127.0.0.1:0", args)
}

/// `devin-mcp http --listen <listen> <args>` pointed at `sim`, with a clean environment.
pub fn command_on(sim: &Simulator, listen: &str, args: &[&str]) -> Command {
    let mut command = Command::new(BINARY);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DEVIN_API_KEY", sim.api_key())
        .env("DEVIN_API_BASE_URL", sim.base_url())
        .env("DEVIN_API_MAX_RETRIES", "0")
        .env("RUST_LOG", "info")
        .current_dir(std::env::temp_dir())
        .args(["http", "--listen", listen])
        .args(args);
    command
}

/// A reqwest client for raw HTTP checks.
pub fn http() -> reqwest::Client {
    devin_mcp::devin::client::install_crypto_provider();
    reqwest::Client::new()
}

/// A JSON-RPC `initialize` body for raw requests.
pub fn initialize_body() -> serde_json::Value {
    serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "raw-test", "version": "1"}
        }
    })
}

/// A raw POST to `/mcp` with the headers streamable HTTP asks for.
pub fn post(server: &HttpServer, body: &serde_json::Value) -> reqwest::RequestBuilder {
    http()
        .post(server.mcp_url())
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", "2025-11-25")
        .body(body.to_string())
}

/// Writes `text` to a fresh file in the temp dir and returns its path.
pub fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("devin-mcp-{}-{name}", uuid::Uuid::new_v4()));
    std::fs::write(&path, text).expect("temp file written");
    path
}

/// A tokens file with a person who has a Devin user id, and a read-only bot.
pub fn team_tokens() -> std::path::PathBuf {
    temp_file(
        "tokens.toml",
        "[[token]]\nname = \"alice\"\ntoken = \"alice-token-0123456789\"\n\
         devin_user_id = \"user-alice\"\n\n\
         [[token]]\nname = \"dashboard\"\ntoken = \"dashboard-token-0123456789\"\n\
         read_only = true\n",
    )
}

/// In session mode: `initialize` and `notifications/initialized` with `token` (if any), as a
/// client opens an MCP session; returns the session id.
pub async fn open_session(server: &HttpServer, token: Option<&str>) -> String {
    let with_token = |request: reqwest::RequestBuilder| match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    let response = with_token(post(server, &initialize_body()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let session = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let _ = response.text().await.unwrap();
    let initialized = serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let response = with_token(post(server, &initialized))
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    session
}

/// Sends SIGTERM to the server process.
pub fn sigterm(server: &HttpServer) {
    let pid = server.child.id().expect("the server runs").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    assert!(killed.unwrap().success());
}

/// Waits until the simulator has seen a request that `matches`; false if none came in 10 s.
pub async fn sim_saw(
    sim: &Simulator,
    matches: impl Fn(&devin_mcp::sim::RecordedRequest) -> bool,
) -> bool {
    for _ in 0..1000 {
        if sim.requests().iter().any(&matches) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}
