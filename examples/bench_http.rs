//! Load on `devin-mcp http`: many concurrent HTTP clients making tool calls, next to the same
//! load sent straight to the Devin API simulator, to show what the MCP layer costs.
//!
//! ```text
//! cargo build --release && cargo run --release --example bench_http
//! ```
//!
//! It starts the simulator in-process (real-time clock), the release binary
//! `target/release/devin-mcp http` against it (stateless, bearer token, default `info` logging,
//! one line per call, as deployed), and then:
//!
//! - **via MCP**: `CLIENTS` concurrent clients make `CALLS` `get_status` tool calls in total,
//!   each a plain JSON-RPC `tools/call` POST to `/mcp` with its own bearer token header, which
//!   is what a load balancer in front of stateless replicas sees;
//! - **direct**: the same number of `GET /v3/organizations/{org}/sessions/{id}` requests, by
//!   the same number of concurrent clients, straight to the simulator.
//!
//! A call fails when the HTTP status is not 200, the body is not a JSON-RPC result, or the
//! tool result has `isError`. It prints throughput, p50 and p99 latency of both runs, counting
//! successful calls only (a fast failure would flatter both), the failure count apart, and
//! the ratio of throughputs. `DEVIN_MCP_BIN` selects another binary;
//! `BENCH_CLIENTS` and `BENCH_CALLS` change the load.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use devin_mcp::sim::{SimConfig, Simulator};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

type Error = Box<dyn std::error::Error + Send + Sync>;

const CLIENTS: usize = 200;
const CALLS: usize = 10_000;
const TOKEN: &str = "bench-token-0123456789abcdef";
/// Sessions the calls are spread over.
const SESSIONS: usize = 20;

/// What one run measured.
struct Figures {
    elapsed: Duration,
    /// Of successful calls only.
    latencies: Vec<Duration>,
    failures: usize,
}

impl Figures {
    /// Successful calls per second.
    fn throughput(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len().max(1));
        sorted.get(rank - 1).copied().unwrap_or_default()
    }

    fn print(&self, label: &str) {
        println!(
            "{label:<28} {:>9.0} calls/s   p50 {:>7.2} ms   p99 {:>7.2} ms   ({} calls)",
            self.throughput(),
            self.percentile(0.50).as_secs_f64() * 1000.0,
            self.percentile(0.99).as_secs_f64() * 1000.0,
            self.latencies.len()
        );
        if self.failures > 0 {
            println!(
                "{:<28} {} calls failed and are left out of the figures above",
                "", self.failures
            );
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let clients = env_number("BENCH_CLIENTS", CLIENTS)?;
    let calls = env_number("BENCH_CALLS", CALLS)?;
    devin_mcp::devin::client::install_crypto_provider();
    let sim = Simulator::start(SimConfig::realtime(), ([127, 0, 0, 1], 0).into()).await?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()?;
    let session_urls = create_sessions(&http, &sim).await?;

    let binary = std::env::var("DEVIN_MCP_BIN").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/release/devin-mcp").into()
    });
    let (mut server, mcp_url) = start_server(&binary, &sim).await?;
    let ids: Vec<String> = session_urls
        .iter()
        .filter_map(|url| url.rsplit('/').next().map(|id| format!("devin-{id}")))
        .collect();

    println!("devin-mcp http benchmark: {clients} concurrent clients, {calls} calls per run");
    println!("server: {binary} (stateless, bearer token, RUST_LOG=info)\n");

    // Warm both paths (connections, allocator) before measuring.
    run_direct(&http, &sim, &session_urls, clients, clients * 2).await;
    run_mcp(&http, &mcp_url, &ids, clients, clients * 2).await;

    let direct = run_direct(&http, &sim, &session_urls, clients, calls).await;
    let mcp = run_mcp(&http, &mcp_url, &ids, clients, calls).await;
    direct.print("direct to the simulator");
    mcp.print("via devin-mcp http (MCP)");
    println!(
        "\nMCP throughput is {:.0}% of direct",
        100.0 * mcp.throughput() / direct.throughput()
    );

    server.start_kill()?;
    let _ = server.wait().await;
    sim.shutdown().await;
    Ok(())
}

fn env_number(name: &str, default: usize) -> Result<usize, Error> {
    match std::env::var(name) {
        Ok(text) => Ok(text
            .parse()
            .map_err(|_| format!("{name} must be a number"))?),
        Err(_) => Ok(default),
    }
}

/// Creates the sessions the calls read; returns their API URLs.
async fn create_sessions(http: &reqwest::Client, sim: &Simulator) -> Result<Vec<String>, Error> {
    let base = format!(
        "{}/v3/organizations/{}/sessions",
        sim.base_url(),
        sim.org_id()
    );
    let mut urls = Vec::with_capacity(SESSIONS);
    for n in 0..SESSIONS {
        let created: Value = http
            .post(&base)
            .bearer_auth(sim.api_key())
            .json(&json!({ "prompt": format!("benchmark session {n}") }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let id = created["session_id"]
            .as_str()
            .ok_or("the simulator returned no session_id")?;
        let bare = id.trim_start_matches("devin-");
        urls.push(format!("{base}/{bare}"));
    }
    Ok(urls)
}

/// Starts `devin-mcp http` on a free port; returns the child and its `/mcp` URL.
async fn start_server(
    binary: &str,
    sim: &Simulator,
) -> Result<(tokio::process::Child, String), Error> {
    let mut child = Command::new(binary)
        .args(["http", "--listen", "127.0.0.1:0"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DEVIN_API_KEY", sim.api_key())
        .env("DEVIN_API_BASE_URL", sim.base_url())
        .env("DEVIN_ORG_ID", sim.org_id())
        .env("DEVIN_MCP_TOKEN", TOKEN)
        .env("RUST_LOG", "info")
        .current_dir(std::env::temp_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| format!("cannot start {binary} (cargo build --release?): {error}"))?;
    let stderr = child.stderr.take().ok_or("stderr is not piped")?;
    let mut lines = BufReader::new(stderr).lines();
    let mut url = None;
    while let Some(line) = lines.next_line().await? {
        if let Some(at) = line.find("listening on ") {
            url = line[at + "listening on ".len()..]
                .split_whitespace()
                .next()
                .map(str::to_owned);
            break;
        }
    }
    let url = url.ok_or("devin-mcp exited before listening")?;
    // Keep draining the per-call log lines so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, url))
}

/// `calls` tool calls by `clients` concurrent workers, each a stateless JSON-RPC POST.
async fn run_mcp(
    http: &reqwest::Client,
    url: &str,
    ids: &[String],
    clients: usize,
    calls: usize,
) -> Figures {
    let url = Arc::new(url.to_owned());
    let ids = Arc::new(ids.to_vec());
    let http = http.clone();
    load(clients, calls, move |n| {
        let http = http.clone();
        let url = url.clone();
        let ids = ids.clone();
        async move {
            let id = &ids[n % ids.len()];
            let body = json!({
                "jsonrpc": "2.0", "id": n, "method": "tools/call",
                "params": {"name": "get_status", "arguments": {"session_id": id}}
            });
            let response = http
                .post(url.as_str())
                .bearer_auth(TOKEN)
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", "2025-11-25")
                .json(&body)
                .send()
                .await
                .ok()?;
            if response.status() != 200 {
                return None;
            }
            let answer: Value = response.json().await.ok()?;
            let ok = answer["result"]["isError"] == false
                && answer["result"]["structuredContent"]["session_id"] == id.as_str();
            ok.then_some(())
        }
    })
    .await
}

/// `calls` session reads by `clients` concurrent workers, straight to the simulator.
async fn run_direct(
    http: &reqwest::Client,
    sim: &Simulator,
    urls: &[String],
    clients: usize,
    calls: usize,
) -> Figures {
    let urls = Arc::new(urls.to_vec());
    let key = Arc::new(sim.api_key().to_owned());
    let http = http.clone();
    load(clients, calls, move |n| {
        let http = http.clone();
        let urls = urls.clone();
        let key = key.clone();
        async move {
            let response = http
                .get(&urls[n % urls.len()])
                .bearer_auth(key.as_str())
                .send()
                .await
                .ok()?;
            if response.status() != 200 {
                return None;
            }
            let answer: Value = response.json().await.ok()?;
            answer["session_id"].is_string().then_some(())
        }
    })
    .await
}

/// Runs `calls` calls of `call` on `clients` workers that take the next call number as they
/// go; a call that returns `None` is a failure, counted but not timed.
async fn load<F, Fut>(clients: usize, calls: usize, call: F) -> Figures
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Option<()>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let next = next.clone();
            let call = call.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut failures = 0;
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= calls {
                        break;
                    }
                    let began = Instant::now();
                    match call(n).await {
                        Some(()) => latencies.push(began.elapsed()),
                        None => failures += 1,
                    }
                }
                (latencies, failures)
            })
        })
        .collect();
    let mut figures = Figures {
        elapsed: Duration::ZERO,
        latencies: Vec::with_capacity(calls),
        failures: 0,
    };
    for worker in workers {
        match worker.await {
            Ok((latencies, failures)) => {
                figures.latencies.extend(latencies);
                figures.failures += failures;
            }
            Err(_) => figures.failures += 1,
        }
    }
    figures.elapsed = started.elapsed();
    figures
}
