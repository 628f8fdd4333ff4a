//! Benchmark of the stdio server (issue 3): cold start, resident memory, per-call latency, and
//! the size of the tool list. It prints measured figures beside the targets and judges nothing:
//! the exit status only says whether the benchmark itself could run.
//!
//! ```text
//! cargo build --release --bin devin-mcp && cargo run --release --example bench
//! ```
//!
//! It measures `target/release/devin-mcp` (the `devin-mcp` beside this example's profile
//! directory), or the binary named by `DEVIN_MCP_BIN`. A debug build of either gives figures
//! that say nothing about the targets; the report says so when it is one.
//!
//! How each figure is taken:
//! - The simulator runs in this process on loopback with a manual clock, so sessions never
//!   change state under the measurement. The server gets `DEVIN_API_KEY`, `DEVIN_API_BASE_URL`
//!   and `DEVIN_ORG_ID` (so it makes no discovery call), `RUST_LOG=warn`, and nothing else from
//!   the environment; it runs in an empty directory so that no `.env` is read.
//! - The MCP side is raw JSON-RPC lines on the child's stdin and stdout, not an MCP client
//!   library, so the figures hold the server's cost and not a client's.
//! - Cold start: from just before spawning to the `initialize` answer, and to the `tools/list`
//!   answer sent after `notifications/initialized`. One launch is run first and discarded, so
//!   that the binary is in the page cache: this is a new process, not a cold disk.
//! - Memory: `VmRSS` and `VmHWM` of the child from `/proc/<pid>/status` (Linux only) after 100
//!   `tools/call` requests (one `create_session`, then `get_status`).
//! - Latency: `get_status` through MCP and a direct `GET …/sessions/{id}` with a reused
//!   reqwest client, interleaved one by one so that both see the same machine noise, with an
//!   MCP `ping` after each pair: the round trip over the pipes with nothing behind it. "Added"
//!   is the difference of the percentiles, not a percentile of differences.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use devin_mcp::sim::{SimConfig, Simulator};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

type BenchError = Box<dyn Error + Send + Sync>;

/// Measured launches for the cold start median.
const LAUNCHES: usize = 20;
/// `tools/call` requests made before resident memory is read.
const CALLS_BEFORE_MEMORY: usize = 100;
/// Untimed `get_status` calls on each side before latency samples are kept.
const WARM_UP: usize = 200;
/// Timed `get_status` calls on each side.
const SAMPLES: usize = 2000;
/// The tools whose `tools/list` entries must stay under 10 KB together.
const CORE_TOOLS: [&str; 6] = [
    "create_session",
    "send_message",
    "get_status",
    "get_structured_output",
    "list_attachments",
    "terminate",
];
/// Longest wait for one answer; only a broken server gets near it.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(20);
/// The protocol version sent in `initialize`; rmcp 3.11 speaks it.
const PROTOCOL_VERSION: &str = "2025-11-25";

#[tokio::main]
async fn main() -> Result<(), BenchError> {
    devin_mcp::devin::client::install_crypto_provider();
    let binary = server_binary()?;
    let workdir = std::env::temp_dir().join(format!("devin-mcp-bench-{}", std::process::id()));
    std::fs::create_dir_all(&workdir)?;
    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let sim = Simulator::start(SimConfig::manual(), loopback).await?;
    let launcher = Launcher {
        binary,
        workdir: workdir.clone(),
        base_url: sim.base_url(),
        api_key: sim.api_key().to_owned(),
        org_id: sim.org_id().to_owned(),
    };

    let result = run(&launcher).await;
    let _ = std::fs::remove_dir(&workdir);
    result
}

async fn run(launcher: &Launcher) -> Result<(), BenchError> {
    println!("devin-mcp stdio benchmark");
    println!("  server binary: {}", launcher.binary.display());
    if cfg!(debug_assertions)
        || !launcher
            .binary
            .components()
            .any(|c| c.as_os_str() == "release")
    {
        println!("  NOTE: debug build involved; these figures say nothing about the targets");
    }
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("  machine: {cpus} CPUs available; simulator in-process on loopback");
    // Other work on the machine skews every figure; the load average shows how much there was.
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        let load: Vec<&str> = load.split_whitespace().take(3).collect();
        println!("  load average (1, 5, 15 min) at start: {}", load.join(" "));
    }
    println!();

    // Cold start, and the tool list from the first measured launch.
    launcher.cold_start().await?;
    let mut to_initialize = Vec::with_capacity(LAUNCHES);
    let mut to_tools_list = Vec::with_capacity(LAUNCHES);
    let mut tools_list = Value::Null;
    for _ in 0..LAUNCHES {
        let (initialized, listed, tools) = launcher.cold_start().await?;
        to_initialize.push(initialized);
        to_tools_list.push(listed);
        tools_list = tools;
    }
    println!("cold start, {LAUNCHES} launches (after 1 untimed launch), from spawn:");
    println!(
        "  to initialize response  {}   (target < 10 ms)",
        spread(&mut to_initialize)
    );
    println!("  to tools/list response  {}", spread(&mut to_tools_list));

    let (core_bytes, all_bytes, core_found) = tools_list_size(&tools_list)?;
    println!(
        "tools/list JSON of the six core tools ({core_found} found): {core_bytes} bytes = \
         {:.2} KiB (target < 10 KB); whole tools array: {all_bytes} bytes",
        core_bytes as f64 / 1024.0
    );
    println!();

    // One server for memory and latency: memory is read after the first 100 calls.
    let mut server = launcher.spawn()?;
    server.handshake().await?;
    let created = server
        .call_tool(
            "create_session",
            json!({ "prompt": "Benchmark session: report the repository's test count." }),
        )
        .await?;
    let session_id = created["session_id"]
        .as_str()
        .ok_or("create_session returned no session_id")?
        .to_owned();
    let status_args = json!({ "session_id": session_id });
    for _ in 1..CALLS_BEFORE_MEMORY {
        server.call_tool("get_status", status_args.clone()).await?;
    }
    let memory = server.memory();
    println!(
        "resident memory after {CALLS_BEFORE_MEMORY} tool calls: {}   (target < 10 MB)",
        memory.describe()
    );

    let http = reqwest::Client::builder().build()?;
    let url = format!(
        "{}/v3/organizations/{}/sessions/{session_id}",
        launcher.base_url.trim_end_matches('/'),
        launcher.org_id
    );
    let direct = DirectCall {
        http: &http,
        url: &url,
        api_key: &launcher.api_key,
    };
    for _ in 0..WARM_UP {
        server.call_tool("get_status", status_args.clone()).await?;
        direct.get().await?;
    }
    let mut through_mcp = Vec::with_capacity(SAMPLES);
    let mut direct_http = Vec::with_capacity(SAMPLES);
    let mut pings = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let started = Instant::now();
        server.call_tool("get_status", status_args.clone()).await?;
        through_mcp.push(started.elapsed());
        let started = Instant::now();
        direct.get().await?;
        direct_http.push(started.elapsed());
        // What a round trip over the pipes costs with no tool and no API call behind it.
        let started = Instant::now();
        server.request("ping", json!({})).await?;
        pings.push(started.elapsed());
    }
    pings.sort_unstable();
    through_mcp.sort_unstable();
    direct_http.sort_unstable();
    let (mcp50, mcp99) = (
        percentile(&through_mcp, 50.0),
        percentile(&through_mcp, 99.0),
    );
    let (http50, http99) = (
        percentile(&direct_http, 50.0),
        percentile(&direct_http, 99.0),
    );
    println!("get_status latency, {SAMPLES} calls each after {WARM_UP} warm-up, interleaved:");
    println!(
        "  through MCP (stdio)  p50 {}  p99 {}",
        ms(mcp50),
        ms(mcp99)
    );
    println!(
        "  direct HTTP          p50 {}  p99 {}",
        ms(http50),
        ms(http99)
    );
    println!(
        "  added by MCP         p50 {}  p99 {}   (target < 0.2 ms per call)",
        signed_ms(mcp50, http50),
        signed_ms(mcp99, http99)
    );
    println!(
        "  of which the stdio round trip alone (ping)  p50 {}  p99 {}",
        ms(percentile(&pings, 50.0)),
        ms(percentile(&pings, 99.0))
    );
    let total = CALLS_BEFORE_MEMORY + WARM_UP + SAMPLES;
    println!(
        "resident memory after {total} tool calls: {}",
        server.memory().describe()
    );
    server.shutdown().await;
    Ok(())
}

/// Everything needed to start the server against the simulator.
struct Launcher {
    binary: PathBuf,
    workdir: PathBuf,
    base_url: String,
    api_key: String,
    org_id: String,
}

impl Launcher {
    fn command(&self) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .env_clear()
            .env("DEVIN_API_KEY", &self.api_key)
            .env("DEVIN_API_BASE_URL", &self.base_url)
            .env("DEVIN_ORG_ID", &self.org_id)
            .env("RUST_LOG", "warn")
            .current_dir(&self.workdir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // Warnings and errors from the server belong beside the report, not in it.
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        command
    }

    fn spawn(&self) -> Result<Server, BenchError> {
        let mut child = self
            .command()
            .spawn()
            .map_err(|error| format!("cannot start {}: {error}", self.binary.display()))?;
        let stdin = child.stdin.take().ok_or("no stdin pipe to the server")?;
        let stdout = child
            .stdout
            .take()
            .ok_or("no stdout pipe from the server")?;
        Ok(Server {
            child,
            stdin,
            stdout: BufReader::new(stdout),
            next_id: 1,
            line: String::new(),
        })
    }

    /// One launch: time to the `initialize` answer, time to the `tools/list` answer (both
    /// from spawn), and the `tools/list` result.
    async fn cold_start(&self) -> Result<(Duration, Duration, Value), BenchError> {
        let started = Instant::now();
        let mut server = self.spawn()?;
        server.request("initialize", initialize_params()).await?;
        let initialized = started.elapsed();
        server.notify("notifications/initialized").await?;
        let tools = server.request("tools/list", json!({})).await?;
        let listed = started.elapsed();
        server.shutdown().await;
        Ok((initialized, listed, tools))
    }
}

/// The server process, driven with one JSON-RPC message per line.
struct Server {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next_id: u64,
    /// Reused between reads so that the client side allocates little per call.
    line: String,
}

impl Server {
    async fn handshake(&mut self) -> Result<(), BenchError> {
        self.request("initialize", initialize_params()).await?;
        self.notify("notifications/initialized").await
    }

    async fn write(&mut self, message: &Value) -> Result<(), BenchError> {
        let mut bytes = serde_json::to_vec(message)?;
        bytes.push(b'\n');
        self.stdin.write_all(&bytes).await?;
        self.stdin.flush().await?;
        Ok(())
    }

    async fn notify(&mut self, method: &str) -> Result<(), BenchError> {
        self.write(&json!({ "jsonrpc": "2.0", "method": method }))
            .await
    }

    /// Sends a request and returns its `result`, skipping any notification in between.
    async fn request(&mut self, method: &str, params: Value) -> Result<Value, BenchError> {
        let id = self.next_id;
        self.next_id += 1;
        self.write(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }))
            .await?;
        let answer = tokio::time::timeout(ANSWER_TIMEOUT, self.answer(id))
            .await
            .map_err(|_| format!("no answer to {method} within {ANSWER_TIMEOUT:?}"))??;
        if let Some(error) = answer.get("error") {
            return Err(format!("{method} failed: {error}").into());
        }
        Ok(answer.get("result").cloned().unwrap_or(Value::Null))
    }

    async fn answer(&mut self, id: u64) -> Result<Value, BenchError> {
        loop {
            self.line.clear();
            if self.stdout.read_line(&mut self.line).await? == 0 {
                return Err("the server closed stdout".into());
            }
            let message: Value = serde_json::from_str(&self.line)
                .map_err(|error| format!("stdout carried a non-JSON line ({error})"))?;
            if message.get("id") == Some(&json!(id)) {
                return Ok(message);
            }
        }
    }

    /// Calls a tool and returns its structured content; a tool error ends the benchmark,
    /// since timing error paths would measure the wrong thing.
    async fn call_tool(&mut self, name: &str, arguments: Value) -> Result<Value, BenchError> {
        let result = self
            .request(
                "tools/call",
                json!({ "name": name, "arguments": arguments }),
            )
            .await?;
        if result.get("isError") == Some(&Value::Bool(true)) {
            return Err(format!("{name} returned an error: {}", result["content"]).into());
        }
        Ok(result
            .get("structuredContent")
            .cloned()
            .unwrap_or(Value::Null))
    }

    fn memory(&self) -> Memory {
        let status = self
            .child
            .id()
            .and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok());
        let field = |name: &str| {
            status.as_deref().and_then(|text| {
                text.lines()
                    .find_map(|line| line.strip_prefix(name))
                    .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            })
        };
        Memory {
            rss_kb: field("VmRSS:"),
            hwm_kb: field("VmHWM:"),
        }
    }

    /// Closes stdin, which ends the server; kills it if it does not exit soon.
    async fn shutdown(self) {
        let Server {
            mut child, stdin, ..
        } = self;
        drop(stdin);
        if tokio::time::timeout(Duration::from_secs(5), child.wait())
            .await
            .is_err()
        {
            eprintln!("bench: the server did not exit after stdin closed; killing it");
            let _ = child.kill().await;
        }
    }
}

/// A direct call to the simulator, as the server makes it for `get_status`.
struct DirectCall<'a> {
    http: &'a reqwest::Client,
    url: &'a str,
    api_key: &'a str,
}

impl DirectCall<'_> {
    /// Fetches and decodes the session, so that both sides parse the same JSON once.
    async fn get(&self) -> Result<Value, BenchError> {
        let response = self
            .http
            .get(self.url)
            .bearer_auth(self.api_key)
            .send()
            .await?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("direct GET answered {status}").into());
        }
        Ok(serde_json::from_slice(&response.bytes().await?)?)
    }
}

/// Resident memory of the server, in kB as `/proc` reports it.
struct Memory {
    rss_kb: Option<u64>,
    hwm_kb: Option<u64>,
}

impl Memory {
    fn describe(&self) -> String {
        let mb = |kb: Option<u64>| {
            kb.map_or("n/a".to_owned(), |kb| {
                format!("{:.1} MB ({kb} kB)", kb as f64 / 1024.0)
            })
        };
        format!("VmRSS {}, peak VmHWM {}", mb(self.rss_kb), mb(self.hwm_kb))
    }
}

fn initialize_params() -> Value {
    json!({
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": { "name": "devin-mcp-bench", "version": env!("CARGO_PKG_VERSION") }
    })
}

/// Compact JSON sizes: the six core tools' entries as an array, the whole array, and how
/// many of the six the server listed.
fn tools_list_size(result: &Value) -> Result<(usize, usize, usize), BenchError> {
    let tools = result["tools"]
        .as_array()
        .ok_or("tools/list returned no tools array")?;
    let core: Vec<&Value> = tools
        .iter()
        .filter(|tool| {
            tool["name"]
                .as_str()
                .is_some_and(|name| CORE_TOOLS.contains(&name))
        })
        .collect();
    Ok((
        serde_json::to_string(&core)?.len(),
        serde_json::to_string(tools)?.len(),
        core.len(),
    ))
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// "median X ms  (min Y, max Z)" of the samples, which it sorts.
fn spread(samples: &mut [Duration]) -> String {
    samples.sort_unstable();
    let first = samples.first().copied().unwrap_or_default();
    let last = samples.last().copied().unwrap_or_default();
    // The median of an even count is the mean of the middle two.
    let median = match samples.len() {
        0 => Duration::ZERO,
        n if n % 2 == 0 => (samples[n / 2 - 1] + samples[n / 2]) / 2,
        n => samples[n / 2],
    };
    format!(
        "median {}  (min {}, max {})",
        ms(median),
        ms(first),
        ms(last)
    )
}

fn ms(duration: Duration) -> String {
    format!("{:.3} ms", duration.as_secs_f64() * 1000.0)
}

fn signed_ms(a: Duration, b: Duration) -> String {
    format!("{:+.3} ms", (a.as_secs_f64() - b.as_secs_f64()) * 1000.0)
}

/// The server binary: `DEVIN_MCP_BIN`, or the `devin-mcp` in this example's profile directory.
fn server_binary() -> Result<PathBuf, BenchError> {
    if let Some(path) = std::env::var_os("DEVIN_MCP_BIN") {
        return Ok(PathBuf::from(path));
    }
    let example = std::env::current_exe()?;
    let profile_dir = example
        .parent()
        .and_then(Path::parent)
        .ok_or("cannot tell where this example was built")?;
    let binary = profile_dir.join("devin-mcp");
    if binary.exists() {
        Ok(binary)
    } else {
        Err(format!(
            "{} is not built yet: run `cargo build --release --bin devin-mcp` first",
            binary.display()
        )
        .into())
    }
}
