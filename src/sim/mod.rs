//! An embedded simulator of the Devin REST API v3, for tests and for the `--sim` demo.
//!
//! It owns a fake Devin: an HTTP server on loopback that speaks the `/v3/...` surface of
//! `devin-api-v3.md` (§4.2–4.3), moves sessions through the lifecycle of §6.1 on its own clock,
//! and lets tests script what the real service would do (status changes, Devin's messages,
//! structured output, pull requests, child sessions) and what the network would do (error
//! statuses, delays, malformed bodies, dropped connections). It must not pretend to be Devin to
//! a person: the standalone mode says on stderr that it is a simulation.
//!
//! Layout:
//! - [`clock`]: the manual or real-time clock every timestamp comes from.
//! - `state`: the session store and the lifecycle that runs on that clock.
//! - `schema_instance`: example values for a session's `structured_output_schema`.
//! - `routes`: the `/v3/...` handlers; `control`: the `/_sim/...` control plane.
//! - `faults`: the request log and fault injection middleware; `server`: the accept loop.
//!
//! Security: the `/_sim/...` control plane and blob routes have no authentication. The
//! simulator is meant to listen on loopback only.
//!
//! The "ask me" rule: a work cycle ends in `running/waiting_for_user` (with a question from
//! Devin) instead of `running/finished` when the text that started it (the prompt for the first
//! cycle, the latest user message for a follow-up) contains "ask me" or "ask a question",
//! compared case-insensitively.

pub mod clock;
mod control;
mod faults;
mod problem;
mod routes;
pub mod schema_instance;
mod server;
mod state;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::Serialize;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::devin::models::{PrState, Session, SessionStatus, StatusDetail};
use clock::Clock;
pub use clock::ClockMode;
pub use faults::redacted as redacted_secret;
use state::Store;

/// The org id of the demo principal when no other is configured.
pub const DEMO_ORG_ID: &str = "org-5e1f0c2d7e9a4b1c8d2e3f4a5b6c7d8e";
/// The demo API key, accepted for [`DEMO_ORG_ID`]. Not a secret: it only opens the simulator.
pub const DEMO_API_KEY: &str = "cog_sim_demo_0000000000000000000000000000";
const OTHER_ORG_ID: &str = "org-0a0b0c0d0e0f40418283848586878889";
const OTHER_ORG_KEY: &str = "cog_sim_other_org_00000000000000000000000";
const ENTERPRISE_KEY: &str = "cog_sim_enterprise_0000000000000000000000";

/// How a [`Simulator`] is set up.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The org the main key belongs to; `{org_id}` in paths must match it.
    pub org_id: String,
    /// The main key. Must start with `cog_`, as the real API requires.
    pub api_key: String,
    /// How long each lifecycle step takes, in sim time.
    pub timings: Timings,
    /// Whether time moves on its own or only when a test advances it.
    pub clock: ClockMode,
}

impl SimConfig {
    /// Manual clock and realistic timings: for tests, which advance the clock themselves.
    pub fn manual() -> Self {
        Self {
            org_id: DEMO_ORG_ID.to_owned(),
            api_key: DEMO_API_KEY.to_owned(),
            timings: Timings::realistic(),
            clock: ClockMode::Manual,
        }
    }

    /// Real clock and short timings: for the demo, where a whole create-to-finished cycle
    /// takes about nine seconds of wall time.
    pub fn realtime() -> Self {
        Self {
            org_id: DEMO_ORG_ID.to_owned(),
            api_key: DEMO_API_KEY.to_owned(),
            timings: Timings::demo(),
            clock: ClockMode::Realtime,
        }
    }
}

/// Durations of the lifecycle steps (§6.1), in sim time.
#[derive(Debug, Clone, PartialEq)]
pub struct Timings {
    /// `new` to `claimed`.
    pub claim_after: Duration,
    /// `claimed` to `running/working`.
    pub start_after: Duration,
    /// One work cycle, `working` to `finished` or `waiting_for_user`. Devin's halfway
    /// artefacts (structured output, attachment, pull request) appear at half this time.
    pub work_for: Duration,
    /// Idle time in `finished` or `waiting_for_user` before `suspended/inactivity`.
    pub suspend_after_idle: Duration,
    /// `resuming` to `running/working` after a message wakes a suspended session.
    pub resume_after: Duration,
    /// ACUs consumed per sim minute while `working`.
    pub acus_per_minute: f64,
}

impl Timings {
    /// Timings close to what a real session shows: 2 s to claim, 5 s to start, 4 min of
    /// work, 10 min idle before suspend, 2 s to resume, 1 ACU per minute of work.
    pub fn realistic() -> Self {
        Self {
            claim_after: Duration::from_secs(2),
            start_after: Duration::from_secs(5),
            work_for: Duration::from_secs(240),
            suspend_after_idle: Duration::from_secs(600),
            resume_after: Duration::from_secs(2),
            acus_per_minute: 1.0,
        }
    }

    /// Timings for a live demo: 1 s to claim, 2 s to start, 6 s of work, 2 min idle before
    /// suspend, 1 s to resume, 3 ACUs per minute (so the counter visibly moves).
    pub fn demo() -> Self {
        Self {
            claim_after: Duration::from_secs(1),
            start_after: Duration::from_secs(2),
            work_for: Duration::from_secs(6),
            suspend_after_idle: Duration::from_secs(120),
            resume_after: Duration::from_secs(1),
            acus_per_minute: 3.0,
        }
    }
}

/// A scripted misbehaviour for requests to the API routes (`/v3/...`).
///
/// A fault matches a request when `method` is `None` or equal, and the path contains
/// `path_contains`. The first matching fault with occurrences left applies, and uses one up.
#[derive(Debug, Clone)]
pub struct Fault {
    /// Only this method, or any when `None`.
    pub method: Option<http::Method>,
    /// A substring of the request path (not the query).
    pub path_contains: String,
    /// How many requests it applies to; `None` means until [`Simulator::clear_faults`].
    pub times: Option<u32>,
    /// What happens to a matching request.
    pub kind: FaultKind,
}

/// What a [`Fault`] does to a request.
#[derive(Debug, Clone)]
pub enum FaultKind {
    /// Answer with this status without handling the request. `body: None` sends a
    /// ProblemDetail for the status; `retry_after` sets the `Retry-After` header verbatim.
    Status {
        status: u16,
        retry_after: Option<String>,
        body: Option<String>,
    },
    /// Wait this long in real time, then handle the request normally.
    Delay(Duration),
    /// Answer 200 with a body that is not valid JSON, without handling the request.
    MalformedBody,
    /// Close the connection without handling the request: nothing changes.
    DropBeforeProcessing,
    /// Handle the request (state changes, e.g. a session is created), then close the
    /// connection without sending the response.
    DropAfterProcessing,
}

/// One request the simulator received, for tests to inspect.
///
/// Never holds the bearer token; `session_secrets` values in the body are replaced by
/// `"<redacted sha256:…>"` (see [`redacted_secret`]) so the log can be shown without leaking
/// them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordedRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path as sent, still percent-encoded.
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// The body when it was JSON.
    pub body: Option<serde_json::Value>,
    /// Whether an `Authorization` header came along (its value is never kept).
    pub had_authorization: bool,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
}

/// Why a scripting hook could not do what it was asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    /// No session has that id (or the id is not a session id at all).
    #[error("the simulator has no session '{0}'")]
    UnknownSession(String),
    /// [`Simulator::advance`] on a real-time clock, which cannot be moved.
    #[error("the simulator runs on the real clock; only a manual clock can be advanced")]
    NotManualClock,
}

/// Everything the handlers, the control plane and the hooks share.
pub(crate) struct Shared {
    pub(crate) clock: Clock,
    pub(crate) keys: Vec<KeyInfo>,
    pub(crate) store: Mutex<Store>,
    pub(crate) faults: Mutex<Vec<Fault>>,
    pub(crate) requests: Mutex<Vec<RecordedRequest>>,
    /// Where download redirects point when the request's `Host` does not say better: see
    /// [`Shared::blob_base`].
    blob_base: String,
}

/// A key the simulator accepts and the principal behind it.
#[derive(Debug, Clone)]
pub(crate) struct KeyInfo {
    pub(crate) key: String,
    /// `None` for the enterprise-scoped principal.
    pub(crate) org_id: Option<String>,
    pub(crate) service_user_id: String,
    pub(crate) service_user_name: String,
}

impl Shared {
    /// Scheme and authority of the blob URL a download redirects to, for a request that came
    /// with `host` (its `Host` header).
    ///
    /// A client on loopback gets `localhost:PORT`, a host name other than the one it used, to
    /// show whether it forwards its key across hosts. A client that reached the simulator
    /// under another name (`devin-mcp sim --listen 0.0.0.0:PORT` seen from another machine)
    /// gets that name back, since `localhost` would point at itself.
    pub(crate) fn blob_base(&self, host: Option<&str>) -> String {
        let authority = host
            .and_then(|host| host.parse::<http::uri::Authority>().ok())
            // User info has no place in a Host header; do not echo it into a redirect.
            .filter(|authority| !authority.as_str().contains('@'));
        match authority {
            Some(authority) if !is_loopback_name(authority.host()) => {
                format!("http://{authority}")
            }
            _ => self.blob_base.clone(),
        }
    }

    /// The store, with every session brought up to the current sim time.
    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        let mut store = lock(&self.store);
        store.settle(self.clock.now_ms());
        store
    }
}

/// Whether a `Host` header's host names this machine's loopback interface.
fn is_loopback_name(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Locks a mutex, carrying on after a panic elsewhere: the simulator's data stays usable
/// (every mutation is a few field writes), and a test is better served by an answer.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

struct Inner {
    shared: Arc<Shared>,
    base_url: String,
    api_key: String,
    org_id: String,
    shutdown: CancellationToken,
    server: Mutex<Option<JoinHandle<()>>>,
}

/// A running simulator. Cheap to clone; every clone drives the same server.
#[derive(Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
}

impl Simulator {
    /// Binds `listen` (port 0 picks a free port) and serves the API on a spawned task.
    pub async fn start(config: SimConfig, listen: SocketAddr) -> std::io::Result<Simulator> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let local = listener.local_addr()?;
        let reachable = if local.ip().is_unspecified() {
            SocketAddr::from(([127, 0, 0, 1], local.port()))
        } else {
            local
        };
        let base_url = format!("http://{reachable}");
        let blob_base = if reachable.ip().is_loopback() {
            // On loopback, blobs are served under another host name on purpose, so that a
            // client test can see whether the bearer token follows a cross-host redirect.
            format!("http://localhost:{}", local.port())
        } else {
            base_url.clone()
        };
        let keys = vec![
            KeyInfo {
                key: config.api_key.clone(),
                org_id: Some(config.org_id.clone()),
                service_user_id: "service-user-sim".to_owned(),
                service_user_name: "Simulator Bot".to_owned(),
            },
            KeyInfo {
                key: OTHER_ORG_KEY.to_owned(),
                org_id: Some(OTHER_ORG_ID.to_owned()),
                service_user_id: "service-user-other-org".to_owned(),
                service_user_name: "Other Org Bot".to_owned(),
            },
            KeyInfo {
                key: ENTERPRISE_KEY.to_owned(),
                org_id: None,
                service_user_id: "service-user-enterprise".to_owned(),
                service_user_name: "Enterprise Bot".to_owned(),
            },
        ];
        let shared = Arc::new(Shared {
            clock: Clock::new(config.clock),
            keys,
            store: Mutex::new(Store::new(
                config.org_id.clone(),
                config.timings,
                base_url.clone(),
            )),
            blob_base,
            faults: Mutex::new(Vec::new()),
            requests: Mutex::new(Vec::new()),
        });
        let shutdown = CancellationToken::new();
        let app = server::app(shared.clone());
        let handle = tokio::spawn(server::serve(listener, app, shutdown.clone()));
        tracing::info!(%base_url, "Devin API simulator listening");
        Ok(Simulator {
            inner: Arc::new(Inner {
                shared,
                base_url,
                api_key: config.api_key,
                org_id: config.org_id,
                shutdown,
                server: Mutex::new(Some(handle)),
            }),
        })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.inner.base_url.clone()
    }

    /// A `cog_` key accepted for [`Simulator::org_id`].
    pub fn api_key(&self) -> &str {
        &self.inner.api_key
    }

    /// The org the main key belongs to.
    pub fn org_id(&self) -> &str {
        &self.inner.org_id
    }

    /// A valid key bound to another org: org routes of [`Simulator::org_id`] answer 403.
    pub fn other_org_key(&self) -> &str {
        OTHER_ORG_KEY
    }

    /// A valid enterprise-scoped key: `/v3/self` reports `org_id: null`.
    pub fn enterprise_key(&self) -> &str {
        ENTERPRISE_KEY
    }

    /// Moves a manual clock forward and applies every transition due by then. On a
    /// real-time clock it does nothing but log a warning.
    pub fn advance(&self, by: Duration) {
        if self.inner.shared.clock.advance(by).is_err() {
            tracing::warn!("advance ignored: the simulator runs on the real clock");
            return;
        }
        drop(self.inner.shared.store());
    }

    /// The current sim time, epoch seconds.
    pub fn now(&self) -> i64 {
        self.inner.shared.clock.now_ms().div_euclid(1000)
    }

    /// Sets a session's status and detail and pins it there: it stops moving on its own
    /// until a message arrives, after which it follows the normal cycle again.
    pub fn set_status(
        &self,
        session: &str,
        status: SessionStatus,
        detail: Option<StatusDetail>,
    ) -> Result<(), SimError> {
        self.inner
            .shared
            .store()
            .set_status(session, status, detail)
    }

    /// Replaces the session's latest structured output.
    pub fn set_structured_output(
        &self,
        session: &str,
        value: serde_json::Value,
    ) -> Result<(), SimError> {
        self.inner
            .shared
            .store()
            .set_structured_output(session, value)
    }

    /// Puts the session in `error` (terminal).
    pub fn fail_session(&self, session: &str) -> Result<(), SimError> {
        self.inner.shared.store().fail(session)
    }

    /// Appends a message from Devin, without changing the status.
    pub fn post_devin_message(&self, session: &str, text: &str) -> Result<(), SimError> {
        self.inner.shared.store().post_devin_message(session, text)
    }

    /// Links a pull request to the session, or updates the state of one already linked.
    pub fn add_pull_request(
        &self,
        session: &str,
        pr_url: &str,
        state: PrState,
    ) -> Result<(), SimError> {
        self.inner
            .shared
            .store()
            .add_pull_request(session, pr_url, state)
    }

    /// Starts a child session of `parent`, as Devin does when it delegates. Returns the
    /// child's `devin-` id; the child has `parent_session_id` and the parent lists it.
    pub fn spawn_child(&self, parent: &str, prompt: &str) -> Result<String, SimError> {
        self.inner.shared.store().spawn_child(parent, prompt)
    }

    /// The session as `GET …/sessions/{devin_id}` would return it now.
    pub fn session(&self, session: &str) -> Option<Session> {
        self.inner.shared.store().view(session)
    }

    /// Adds a fault after those already present.
    pub fn inject_fault(&self, fault: Fault) {
        lock(&self.inner.shared.faults).push(fault);
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        lock(&self.inner.shared.faults).clear();
    }

    /// Every request to the API and blob routes so far, oldest first, faulted ones included.
    /// Control-plane requests (`/_sim/...` other than blobs) are not recorded.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.inner.shared.requests).clone()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        lock(&self.inner.shared.requests).clear();
    }

    /// Stops accepting connections, lets open ones finish their current request, and waits
    /// for the server task.
    pub async fn shutdown(self) {
        self.inner.shutdown.cancel();
        let handle = lock(&self.inner.server).take();
        if let Some(handle) = handle
            && let Err(error) = handle.await
        {
            tracing::warn!(%error, "simulator server task ended abnormally");
        }
    }
}

/// Runs a real-time simulator on `listen` until Ctrl-C or SIGTERM, for demos and for
/// out-of-process contract tests. Prints where it listens and the demo key to stderr.
pub async fn run_standalone(listen: SocketAddr) -> std::io::Result<()> {
    let sim = Simulator::start(SimConfig::realtime(), listen).await?;
    // stderr, not tracing: a person reads this, and stdout may carry a protocol.
    eprintln!("This is a SIMULATION of the Devin API, not Devin: sessions do no real work.");
    eprintln!("base URL: {}", sim.base_url());
    eprintln!("API key:  {}", sim.api_key());
    eprintln!("org id:   {}", sim.org_id());
    wait_for_stop_signal().await;
    eprintln!("simulator shutting down");
    sim.shutdown().await;
    Ok(())
}

async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; stop with Ctrl-C");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
