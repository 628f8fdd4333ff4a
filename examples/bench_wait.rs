//! Benchmark of waiting: API requests spent per session-hour of waiting, and the delay between
//! a status change and the wait returning, next to a naive fixed 10-second poll.
//!
//! ```text
//! cargo build --release && cargo run --release --example bench_wait
//! ```
//!
//! An hour is long, so both pollers run on a 100× faster time scale: the server's adaptive
//! pollers with `DEVIN_MCP_POLL_MIN_SECS=0.03` and `DEVIN_MCP_POLL_MAX_SECS=0.3` (the defaults,
//! 3 s and 30 s, divided by 100), the naive poller every 0.1 s (10 s divided by 100). Request
//! counts are measured over 36 s (one scaled hour); delays are measured, then multiplied by
//! 100 to read in real seconds. Both pollers see the same simulator and the same changes.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use devin_mcp::devin::models::{SessionStatus, StatusDetail};
use devin_mcp::sim::{SimConfig, Simulator};
use rand::Rng;
use rmcp::model::CallToolRequestParams;
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};
use tokio::process::Command;

type Error = Box<dyn std::error::Error + Send + Sync>;
type Client = RunningService<RoleClient, ()>;

/// How much faster than real time the benchmark runs.
const SCALE: f64 = 100.0;
/// The naive poller's interval, in real seconds.
const NAIVE_INTERVAL: f64 = 10.0;
/// Status changes timed for the delay measurement.
const SAMPLES: usize = 20;

#[tokio::main]
async fn main() -> Result<(), Error> {
    devin_mcp::devin::client::install_crypto_provider();
    let binary = server_binary()?;
    let sim = Simulator::start(SimConfig::manual(), SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let mut command = Command::new(&binary);
    command
        .env_clear()
        .env("DEVIN_API_KEY", sim.api_key())
        .env("DEVIN_API_BASE_URL", sim.base_url())
        .env("DEVIN_ORG_ID", sim.org_id())
        .env("DEVIN_MCP_POLL_MIN_SECS", format!("{}", 3.0 / SCALE))
        .env("DEVIN_MCP_POLL_MAX_SECS", format!("{}", 30.0 / SCALE))
        .env("RUST_LOG", "warn");
    let client: Client = ().serve(TokioChildProcess::new(command)?).await?;
    println!(
        "devin-mcp wait benchmark ({}; time scale {SCALE}x)",
        binary.display()
    );

    // Requests per session-hour while a session works and nothing visible changes. Devin at
    // work moves `updated_at` (ACUs grow) without a visible change; a heartbeat does the same
    // to the simulated session every scaled 10 s, so the pollers' message reads count too.
    let hour = Duration::from_secs_f64(3600.0 / SCALE);
    let session = create(&client, "Quiet for an hour").await?;
    sim.set_status(
        &session,
        SessionStatus::Running,
        Some(StatusDetail::Working),
    )?;
    let heartbeat = tokio::spawn({
        let (sim, session) = (sim.clone(), session.clone());
        async move {
            let mut ticker = tokio::time::interval(Duration::from_secs_f64(10.0 / SCALE));
            loop {
                ticker.tick().await;
                sim.advance(Duration::from_secs(10));
                // Scripted: the same status, touched now, with no next step of its own.
                let _ = sim.set_status(
                    &session,
                    SessionStatus::Running,
                    Some(StatusDetail::Working),
                );
            }
        }
    });
    sim.clear_requests();
    let arguments = json!({ "session_ids": [session], "timeout_seconds": 3600 });
    let waiting = tokio::spawn({
        let client = client.peer().clone();
        async move {
            let params = CallToolRequestParams::new("wait_for_sessions")
                .with_arguments(arguments.as_object().cloned().unwrap_or_default());
            client.call_tool(params).await
        }
    });
    tokio::time::sleep(hour).await;
    let adaptive_requests = requests_for(&sim, &session);
    heartbeat.abort();
    // Ending the session ends the wait and its poller, so they add nothing to what follows.
    sim.set_status(&session, SessionStatus::Exit, None)?;
    waiting.await??;
    let naive_session = create(&client, "Quiet for an hour, polled naively").await?;
    sim.clear_requests();
    let naive_requests = naive_poll(&sim, &naive_session, hour).await?;
    println!("API requests per session-hour of waiting (session working, no visible change):");
    println!("  devin-mcp wait_for_sessions: {adaptive_requests} (session and message reads)");
    println!("  naive 10 s poll:             {naive_requests} (session reads only)");

    // Delay from a status change to the wait returning.
    let mut adaptive = Vec::new();
    let mut naive = Vec::new();
    for sample in 0..SAMPLES {
        let change_after = Duration::from_secs_f64(rand::rng().random_range(1.0..120.0) / SCALE);
        let session = create(&client, &format!("Sample {sample}")).await?;
        sim.set_status(
            &session,
            SessionStatus::Running,
            Some(StatusDetail::Working),
        )?;
        adaptive.push(measure_wait(&client, &sim, &session, change_after).await?);
        let session = create(&client, &format!("Naive sample {sample}")).await?;
        sim.set_status(
            &session,
            SessionStatus::Running,
            Some(StatusDetail::Working),
        )?;
        naive.push(measure_naive(&sim, &session, change_after).await?);
    }
    println!(
        "Delay from a status change to the caller knowing, real seconds ({SAMPLES} changes 1-120 s into a wait):"
    );
    report("devin-mcp wait_for_sessions", &mut adaptive);
    report("naive 10 s poll", &mut naive);
    client.cancel().await?;
    Ok(())
}

async fn create(client: &Client, prompt: &str) -> Result<String, Error> {
    let result = call(client, "create_session", json!({ "prompt": prompt })).await?;
    Ok(result["session_id"].as_str().unwrap_or_default().to_owned())
}

async fn call(client: &Client, tool: &str, arguments: Value) -> Result<Value, Error> {
    let params = CallToolRequestParams::new(tool.to_owned())
        .with_arguments(arguments.as_object().cloned().unwrap_or_default());
    let result = client.call_tool(params).await?;
    if result.is_error == Some(true) {
        return Err(format!("{tool} failed: {:?}", result.content).into());
    }
    Ok(result.structured_content.unwrap_or(Value::Null))
}

/// Every request about `session`: the session itself and its messages.
fn requests_for(sim: &Simulator, session: &str) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.path.contains(&format!("/sessions/{session}")))
        .count()
}

/// Polls `GET …/sessions/{id}` every scaled 10 s for `span`; returns the request count.
async fn naive_poll(sim: &Simulator, session: &str, span: Duration) -> Result<usize, Error> {
    let http = reqwest::Client::new();
    let url = format!(
        "{}/v3/organizations/{}/sessions/{session}",
        sim.base_url(),
        sim.org_id()
    );
    let started = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(NAIVE_INTERVAL / SCALE));
    while started.elapsed() < span {
        ticker.tick().await;
        http.get(&url).bearer_auth(sim.api_key()).send().await?;
    }
    Ok(requests_for(sim, session))
}

/// Starts a wait, changes the status after `change_after`, and returns the scaled delay
/// between the change and the wait's answer.
async fn measure_wait(
    client: &Client,
    sim: &Simulator,
    session: &str,
    change_after: Duration,
) -> Result<f64, Error> {
    let peer = client.peer().clone();
    let params = CallToolRequestParams::new("wait_for_sessions").with_arguments(
        json!({ "session_ids": [session] })
            .as_object()
            .cloned()
            .unwrap_or_default(),
    );
    let waiting = tokio::spawn(async move {
        let result = peer.call_tool(params).await;
        (result, Instant::now())
    });
    tokio::time::sleep(change_after).await;
    sim.set_status(
        session,
        SessionStatus::Running,
        Some(StatusDetail::Finished),
    )?;
    let changed = Instant::now();
    let (result, answered) = waiting.await?;
    result?;
    Ok(answered.saturating_duration_since(changed).as_secs_f64() * SCALE)
}

/// The same with a naive poller that starts at the same moment as the wait would.
async fn measure_naive(
    sim: &Simulator,
    session: &str,
    change_after: Duration,
) -> Result<f64, Error> {
    let http = reqwest::Client::new();
    let url = format!(
        "{}/v3/organizations/{}/sessions/{session}",
        sim.base_url(),
        sim.org_id()
    );
    let key = sim.api_key().to_owned();
    let poller = tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_secs_f64(NAIVE_INTERVAL / SCALE));
        loop {
            ticker.tick().await;
            let Ok(response) = http.get(&url).bearer_auth(&key).send().await else {
                continue;
            };
            let Ok(body) = response.json::<Value>().await else {
                continue;
            };
            if body["status_detail"] == "finished" {
                return Instant::now();
            }
        }
    });
    tokio::time::sleep(change_after).await;
    sim.set_status(
        session,
        SessionStatus::Running,
        Some(StatusDetail::Finished),
    )?;
    let changed = Instant::now();
    let seen = poller.await?;
    Ok(seen.saturating_duration_since(changed).as_secs_f64() * SCALE)
}

fn report(label: &str, delays: &mut [f64]) {
    delays.sort_by(f64::total_cmp);
    let mean = delays.iter().sum::<f64>() / delays.len().max(1) as f64;
    let pick = |q: f64| delays[((delays.len() - 1) as f64 * q).round() as usize];
    println!(
        "  {label:<28} mean {mean:5.1} s   p50 {:5.1} s   p90 {:5.1} s   max {:5.1} s",
        pick(0.5),
        pick(0.9),
        pick(1.0)
    );
}

/// The release server if built, else the debug one.
fn server_binary() -> Result<std::path::PathBuf, Error> {
    if let Some(path) = std::env::var_os("DEVIN_MCP_BIN") {
        return Ok(path.into());
    }
    let example = std::env::current_exe()?;
    let profile = example.parent().and_then(|examples| examples.parent());
    let binary = profile
        .map(|dir| dir.join("devin-mcp"))
        .filter(|path| path.exists());
    binary.ok_or_else(|| "devin-mcp is not built yet: run `cargo build --release` first".into())
}
