//! MCP over streamable HTTP: one server at `/mcp` that a team, CI jobs and remote agents
//! share, holding the Devin key so that they need none.
//!
//! Each request to `/mcp` passes, in this order and before its body is read:
//!
//! 1. the `Host` and `Origin` check (DNS-rebinding defence): 403 when not allowed;
//! 2. for a browser app of an `--allowed-origin`, its CORS preflight (`OPTIONS`) is answered
//!    here, without a token: browsers never send credentials with a preflight;
//! 3. the bearer token check: 401 with `WWW-Authenticate: Bearer` when missing or wrong; the
//!    authenticated [`Caller`] goes into the request's extensions for the MCP layer;
//! 4. in session mode with tokens, the session check: an `Mcp-Session-Id` that the caller did
//!    not open gets the same 404 as one that never existed;
//! 5. rmcp's streamable HTTP service, which caps the body (413) and serves the protocol:
//!    stateless by default (any replica can answer any request), or with MCP sessions
//!    (`--sessions`) for clients that need them.
//!
//! Responses to an `--allowed-origin` carry the CORS headers that let its pages read them.
//!
//! `GET /healthz` answers without authentication and says nothing secret, for load
//! balancers; it is exempt from the `Host` check because they probe by address.
//!
//! On SIGTERM or Ctrl-C the server stops accepting connections, makes waits in flight answer
//! at once ([`DevinMcp::shut_down`]), ends the event streams of idle MCP sessions as soon as
//! no other request is left, and gives what still runs `--shutdown-timeout` to finish. A
//! second signal stops at once.
//!
//! This module knows nothing of tools: it authenticates and hands requests on.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::streamable_http_server::session::local::{
    LocalSessionManager, LocalSessionManagerError,
};
use rmcp::transport::streamable_http_server::session::{
    EventStore, ServerSseMessage, SessionId, SessionManager,
};
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::cli::HttpArgs;
use crate::mcp::DevinMcp;
use crate::mcp::caller::Caller;
use crate::transport::auth::Tokens;

/// The path MCP is served at.
pub const MCP_PATH: &str = "/mcp";

/// Hosts allowed by default: the loopback names, on any port.
const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// How the HTTP server runs; built from the command line by [`HttpOptions::from_args`].
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub listen: SocketAddr,
    /// `None` only with `--no-auth` on a loopback address, with no public host or origin.
    pub tokens: Option<Tokens>,
    /// `Host` values accepted besides the loopback names: `name` (any port) or `name:port`.
    pub allowed_hosts: Vec<String>,
    /// Browser origins accepted besides loopback ones, as `scheme://host[:port]`; their pages
    /// also get CORS headers.
    pub allowed_origins: Vec<String>,
    /// Keep MCP sessions on this server (`Mcp-Session-Id`) instead of serving statelessly.
    pub sessions: bool,
    /// In session mode, how long a session may go without a request before it is closed:
    /// clients that vanish never say goodbye.
    pub session_idle_timeout: Duration,
    pub max_body_bytes: usize,
    /// How long in-flight requests may run after SIGTERM or Ctrl-C.
    pub shutdown_timeout: Duration,
}

impl HttpOptions {
    /// Checks the command line and reads the tokens; errors are one sentence for the operator.
    pub fn from_args(args: &HttpArgs) -> Result<Self, String> {
        let tokens = Tokens::from_env_or_file(args.tokens.as_deref())?;
        let hosts = args
            .allowed_hosts
            .iter()
            .map(|host| AllowedHost::parse(host))
            .collect::<Result<Vec<_>, _>>()?;
        for origin in &args.allowed_origins {
            AllowedOrigin::parse(origin)?;
        }
        match (&tokens, args.no_auth) {
            (Some(_), true) => {
                return Err("--no-auth was given but tokens are configured; drop one".to_owned());
            }
            (None, false) => {
                return Err(format!(
                    "no token: set {} or pass --tokens FILE (or --no-auth on a loopback \
                     address, for local trials only)",
                    crate::transport::auth::ENV_TOKEN
                ));
            }
            (None, true) => check_no_auth(args, &hosts)?,
            (Some(_), false) => {}
        }
        if args.max_body_bytes == 0 {
            return Err("--max-body-bytes must be positive".to_owned());
        }
        if args.session_idle_timeout == 0 {
            return Err("--session-idle-timeout must be positive".to_owned());
        }
        Ok(Self {
            listen: args.listen,
            tokens,
            allowed_hosts: args.allowed_hosts.clone(),
            allowed_origins: args.allowed_origins.clone(),
            sessions: args.sessions,
            session_idle_timeout: Duration::from_secs(args.session_idle_timeout),
            max_body_bytes: args.max_body_bytes,
            shutdown_timeout: Duration::from_secs(args.shutdown_timeout),
        })
    }
}

/// `--no-auth` is for trials on one machine: whatever could reach the server from elsewhere
/// (a non-loopback address, a proxy forwarding a public name, a web origin) is refused.
fn check_no_auth(args: &HttpArgs, hosts: &[AllowedHost]) -> Result<(), String> {
    if !args.listen.ip().is_loopback() {
        return Err(format!(
            "--no-auth is only allowed on a loopback address, not {}",
            args.listen
        ));
    }
    if let Some(host) = hosts.iter().find(|host| !host.is_loopback()) {
        return Err(format!(
            "--no-auth cannot be combined with --allowed-host {}: a proxy forwarding that \
             name would serve anyone without a token; configure a token instead",
            host.host
        ));
    }
    if let Some(origin) = args.allowed_origins.first() {
        return Err(format!(
            "--no-auth cannot be combined with --allowed-origin {origin}: every page of that \
             origin could use the server without a token; configure a token instead"
        ));
    }
    Ok(())
}

/// Binds `options.listen` and serves until SIGTERM or Ctrl-C.
pub async fn serve(server: DevinMcp, options: HttpOptions) -> Result<(), String> {
    // Listening for the signals before binding, so that a stop sent as soon as the server is
    // up (an orchestrator's quick restart) is a graceful stop, not death by signal.
    let stop = stop_signals()?;
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|error| format!("cannot listen on {}: {error}", options.listen))?;
    serve_on(listener, server, options, stop).await
}

/// Serves on `listener` until `stop` yields, then stops accepting connections and gives
/// in-flight requests up to `options.shutdown_timeout` to finish; a second item of `stop`
/// ends serving at once, with an error.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    server: DevinMcp,
    options: HttpOptions,
    mut stop: impl Stream<Item = ()> + Unpin,
) -> Result<(), String> {
    let address = listener
        .local_addr()
        .map_err(|error| format!("cannot read the bound address: {error}"))?;
    let protocol = CancellationToken::new();
    let App {
        router,
        mut in_flight,
        ..
    } = app(server.clone(), &options, protocol.clone())?;
    tracing::info!(
        auth = auth_summary(options.tokens.as_ref()),
        mode = if options.sessions {
            "sessions"
        } else {
            "stateless"
        },
        "listening on http://{address}{MCP_PATH}"
    );
    let stopping = CancellationToken::new();
    let serving =
        axum::serve(listener, router).with_graceful_shutdown(stopping.clone().cancelled_owned());
    let serving = std::future::IntoFuture::into_future(serving);
    tokio::pin!(serving);

    tokio::select! {
        result = &mut serving => {
            return result.map_err(|error| format!("HTTP server failed: {error}"));
        }
        () = next_stop(&mut stop) => {}
    }
    tracing::info!("shutting down: no new connections, finishing requests in flight");
    stopping.cancel();
    server.shut_down();
    // An idle session's event stream (its GET) would hold its connection open until the
    // deadline. It carries nothing once no other request runs, so it is ended then; while a
    // request runs, its notifications may still go out on it.
    let streams_ended = async {
        // Err only when the router, and so every request, is gone.
        let _ = in_flight.wait_for(|count| *count == 0).await;
        protocol.cancel();
        std::future::pending::<()>().await
    };
    let result = tokio::select! {
        result = &mut serving => {
            result.map_err(|error| format!("HTTP server failed: {error}"))?;
            tracing::info!("all requests finished; stopped");
            Ok(())
        }
        () = streams_ended => Ok(()),
        () = tokio::time::sleep(options.shutdown_timeout) => {
            tracing::warn!(
                timeout_secs = options.shutdown_timeout.as_secs(),
                "requests still open after the shutdown timeout are cut off"
            );
            Ok(())
        }
        () = next_stop(&mut stop) => {
            Err("stopped by a second signal; requests in flight were cut off".to_owned())
        }
    };
    protocol.cancel();
    result
}

/// The next stop request; never, once there can be none.
async fn next_stop(stop: &mut (impl Stream<Item = ()> + Unpin)) {
    if stop.next().await.is_none() {
        std::future::pending::<()>().await;
    }
}

fn auth_summary(tokens: Option<&Tokens>) -> String {
    match tokens {
        None => "none (--no-auth)".to_owned(),
        Some(tokens) => format!("bearer, {} caller(s)", tokens.len()),
    }
}

/// The routes, and the handles that serving and shutdown need.
struct App {
    router: Router,
    /// How many requests other than GET are being answered, bodies included.
    in_flight: watch::Receiver<usize>,
    /// The MCP sessions, for tests that look at who owns what.
    #[cfg_attr(not(test), allow(dead_code))]
    sessions: Arc<OwnedSessions>,
}

/// `/mcp` behind the guard, and `/healthz`.
fn app(
    server: DevinMcp,
    options: &HttpOptions,
    protocol: CancellationToken,
) -> Result<App, String> {
    // Host and Origin are checked by our guard, before authentication; rmcp's own check would
    // only repeat it after the token.
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(options.sessions)
        .with_json_response(!options.sessions)
        .with_max_request_body_bytes(options.max_body_bytes)
        .with_cancellation_token(protocol)
        .disable_allowed_hosts()
        .disable_allowed_origins();
    let mut local = LocalSessionManager::default();
    local.session_config.keep_alive = Some(options.session_idle_timeout);
    let sessions = Arc::new(OwnedSessions::new(local));
    let mcp = StreamableHttpService::new(move || Ok(server.clone()), sessions.clone(), config);
    let (counter, in_flight) = watch::channel(0);
    let guard = Arc::new(Guard::new(options, sessions.clone(), Arc::new(counter))?);
    let mcp = Router::new()
        .route_service(MCP_PATH, mcp)
        .layer(middleware::from_fn_with_state(guard, check_request));
    Ok(App {
        router: Router::new().route("/healthz", get(healthz)).merge(mcp),
        in_flight,
        sessions,
    })
}

async fn healthz() -> Response {
    let body = serde_json::json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") });
    axum::Json(body).into_response()
}

/// What every `/mcp` request must pass before rmcp reads it.
struct Guard {
    tokens: Option<Tokens>,
    hosts: Vec<AllowedHost>,
    origins: Vec<AllowedOrigin>,
    /// In session mode with tokens, the sessions and who opened each: a session id is not a
    /// credential, so another caller who learns one still cannot use it.
    sessions: Option<Arc<OwnedSessions>>,
    /// Counts requests other than GET while they are answered; see [`InFlight`].
    in_flight: Arc<watch::Sender<usize>>,
}

impl Guard {
    fn new(
        options: &HttpOptions,
        sessions: Arc<OwnedSessions>,
        in_flight: Arc<watch::Sender<usize>>,
    ) -> Result<Self, String> {
        let hosts = LOOPBACK_HOSTS
            .iter()
            .map(|host| (*host).to_owned())
            .chain(options.allowed_hosts.iter().cloned())
            .map(|host| AllowedHost::parse(&host))
            .collect::<Result<_, _>>()?;
        let origins = options
            .allowed_origins
            .iter()
            .map(|origin| AllowedOrigin::parse(origin))
            .collect::<Result<_, _>>()?;
        let sessions = (options.sessions && options.tokens.is_some()).then_some(sessions);
        Ok(Self {
            tokens: options.tokens.clone(),
            hosts,
            origins,
            sessions,
            in_flight,
        })
    }

    /// 403 unless `Host` names this server.
    fn check_host(&self, request: &Request) -> Result<(), Refusal> {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|value| value.to_str().ok())
            .or_else(|| {
                request
                    .uri()
                    .authority()
                    .map(|authority| authority.as_str())
            });
        let host_allowed = host
            .and_then(|host| host.parse::<http::uri::Authority>().ok())
            .is_some_and(|host| self.hosts.iter().any(|allowed| allowed.matches(&host)));
        if !host_allowed {
            tracing::warn!(
                host = host.unwrap_or("-"),
                "refused a request: Host not allowed"
            );
            return Err(Refusal::Host);
        }
        Ok(())
    }

    /// 403 unless `Origin`, when a browser sent one, is a loopback or an allowed origin.
    /// Returns the origin when it is an `--allowed-origin`: its pages get CORS headers. A
    /// loopback page gets none unless it is allowed by name, so that any local web app cannot
    /// drive the server from a browser.
    fn check_origin(&self, headers: &HeaderMap) -> Result<Option<HeaderValue>, Refusal> {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return Ok(None);
        };
        let origin_text = origin.to_str().unwrap_or("");
        let parsed = url::Url::parse(origin_text).ok();
        let named = if origin_text == "null" {
            self.origins.iter().any(AllowedOrigin::is_null)
        } else {
            parsed
                .as_ref()
                .is_some_and(|url| self.origins.iter().any(|allowed| allowed.matches(url)))
        };
        if named {
            return Ok(Some(origin.clone()));
        }
        if parsed.as_ref().is_some_and(is_loopback_origin) {
            return Ok(None);
        }
        tracing::warn!(
            origin = origin_text,
            "refused a request: Origin not allowed"
        );
        Err(Refusal::Origin)
    }

    /// The caller the bearer token names, or 401.
    fn authenticate(&self, headers: &HeaderMap) -> Result<Option<Caller>, Refusal> {
        let Some(tokens) = &self.tokens else {
            return Ok(None);
        };
        let authorization = headers.get(header::AUTHORIZATION);
        match tokens.authenticate(authorization.map(HeaderValue::as_bytes)) {
            Some(caller) => Ok(Some(caller.clone())),
            None => {
                let reason = if authorization.is_some() {
                    "invalid"
                } else {
                    "missing"
                };
                tracing::warn!(reason, "refused a request: bearer token {reason}");
                Err(Refusal::Token {
                    given: authorization.is_some(),
                })
            }
        }
    }

    /// Authenticates, checks the MCP session's owner and hands the request to rmcp.
    async fn serve(&self, mut request: Request, next: Next) -> Response {
        let caller = match self.authenticate(request.headers()) {
            Ok(caller) => caller,
            Err(refusal) => return refusal.into_response(),
        };
        // Without tokens (--no-auth) there is no caller, and owners are not kept.
        let Some(caller) = caller else {
            return next.run(request).await;
        };
        let name = caller.name.clone();
        request.extensions_mut().insert(caller);
        let Some(sessions) = &self.sessions else {
            return next.run(request).await;
        };
        if let Some(session) = request.headers().get(MCP_SESSION_ID) {
            // Only ids that this caller opened reach rmcp. Every other id, live or not, gets
            // one answer, so that nobody learns which ids exist; DELETE included, which rmcp
            // would answer 202 for an id it does not know.
            let owned = session
                .to_str()
                .is_ok_and(|session| sessions.is_owned_by(session, &name));
            if !owned {
                return session_not_found();
            }
            return next.run(request).await;
        }
        let response = next.run(request).await;
        if let Some(opened) = response
            .headers()
            .get(MCP_SESSION_ID)
            .and_then(|value| value.to_str().ok())
        {
            sessions.record(opened, name).await;
        }
        response
    }
}

/// The guard, as axum middleware. It looks at headers only: a refused request's body is
/// never read.
async fn check_request(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    let in_flight = (request.method() != Method::GET).then(|| InFlight::start(&guard.in_flight));
    if let Err(refusal) = guard.check_host(&request) {
        return refusal.into_response();
    }
    let cors = match guard.check_origin(request.headers()) {
        Ok(cors) => cors,
        Err(refusal) => return refusal.into_response(),
    };
    let mut response = match &cors {
        Some(origin) if request.method() == Method::OPTIONS => return preflight(origin.clone()),
        _ => guard.serve(request, next).await,
    };
    if let Some(origin) = cors {
        let headers = response.headers_mut();
        allow_origin(headers, origin);
        // Browsers hide response headers from pages unless they are listed; a page needs the
        // session id to go on with its session.
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(MCP_SESSION_ID),
        );
    }
    match in_flight {
        Some(in_flight) => response.map(|body| {
            Body::new(Tracked {
                body,
                _in_flight: in_flight,
            })
        }),
        None => response,
    }
}

/// The header that names an MCP session in session mode.
const MCP_SESSION_ID: &str = "mcp-session-id";

/// The request headers a browser app may send: the token, the body's type, and the headers
/// of streamable HTTP (2025-11-25 and the 2026-07-28 standard headers).
const CORS_ALLOW_HEADERS: &str = "authorization, content-type, accept, mcp-session-id, \
                                  mcp-protocol-version, last-event-id, mcp-method, mcp-name";

/// Seconds a browser may reuse a preflight's answer.
const CORS_MAX_AGE: &str = "600";

/// The answer to an allowed origin's preflight. It needs no token: it says only what this
/// server accepts, and every real request is still authenticated.
fn preflight(origin: HeaderValue) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    allow_origin(headers, origin);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, DELETE, OPTIONS"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(CORS_ALLOW_HEADERS),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(CORS_MAX_AGE),
    );
    response
}

/// The origin is echoed rather than `*`, and caches are told that the answer depends on it.
fn allow_origin(headers: &mut HeaderMap, origin: HeaderValue) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.append(header::VARY, HeaderValue::from_static("origin"));
}

/// rmcp's answer to an unknown session, byte for byte (status, no content type, body), so
/// that an id refused here cannot be told from one that rmcp does not know.
fn session_not_found() -> Response {
    let mut response = Response::new(Body::from("Not Found: Session not found"));
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

/// One request other than GET, counted from its arrival until its response body has been
/// sent or dropped: in session mode a POST's answer is an event stream that outlives the
/// handler. GETs are not counted: they are the idle event streams that shutdown ends.
struct InFlight(Arc<watch::Sender<usize>>);

impl InFlight {
    fn start(counter: &Arc<watch::Sender<usize>>) -> Self {
        counter.send_modify(|count| *count = count.saturating_add(1));
        Self(counter.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.send_modify(|count| *count = count.saturating_sub(1));
    }
}

/// A response body that keeps its request counted in flight while it lives.
struct Tracked {
    body: Body,
    _in_flight: InFlight,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(context)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// rmcp's in-memory sessions, plus who opened each one. An owner is forgotten when its
/// session closes, however it closes: a DELETE, the idle timeout, the client going away or
/// shutdown (rmcp calls [`SessionManager::close_session`] for all of them), so the map never
/// outgrows the live sessions.
struct OwnedSessions {
    inner: LocalSessionManager,
    owners: Mutex<HashMap<SessionId, String>>,
}

impl OwnedSessions {
    fn new(inner: LocalSessionManager) -> Self {
        Self {
            inner,
            owners: Mutex::default(),
        }
    }

    fn is_owned_by(&self, session: &str, caller: &str) -> bool {
        lock(&self.owners)
            .get(session)
            .is_some_and(|owner| owner == caller)
    }

    /// Records that `owner` opened `session`, unless the session is gone already.
    async fn record(&self, session: &str, owner: String) {
        let session = SessionId::from(session);
        lock(&self.owners).insert(session.clone(), owner);
        // The session may have closed before this (a failed initialize, an instant idle
        // timeout), and its close then found no owner to forget. A close removes the session
        // before its owner, so checking after inserting leaves no moment when both miss it.
        if !matches!(self.inner.has_session(&session).await, Ok(true)) {
            lock(&self.owners).remove(&session);
        }
    }

    #[cfg(test)]
    fn owner_count(&self) -> usize {
        lock(&self.owners).len()
    }
}

/// Everything but closing is rmcp's own; sessions are not restored from a store (none is
/// configured), so `restore_session` keeps its default.
impl SessionManager for OwnedSessions {
    type Error = LocalSessionManagerError;
    type Transport = <LocalSessionManager as SessionManager>::Transport;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        self.inner.create_session().await
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        self.inner.initialize_session(id, message).await
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        self.inner.has_session(id).await
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        let closed = self.inner.close_session(id).await;
        // rmcp's manager drops the session from its map even when closing it fails.
        lock(&self.owners).remove(id);
        closed
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.inner.create_stream(id, message).await
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        self.inner.accept_message(id, message).await
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.inner.create_standalone_stream(id).await
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.inner.resume(id, last_event_id).await
    }

    fn event_store(&self) -> Option<Arc<dyn EventStore>> {
        self.inner.event_store()
    }
}

/// Locks a map of this module. A panic while it was held cannot leave it half-written (each
/// use is one insert, remove or get), so a poisoned lock is taken over.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Why the guard turned a request away.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    Host,
    Origin,
    Token { given: bool },
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Self::Host => forbidden(
                "Host header not allowed; an operator can allow a public name with \
                 --allowed-host",
            ),
            Self::Origin => forbidden(
                "Origin not allowed; an operator can allow a web app with --allowed-origin",
            ),
            Self::Token { given } => unauthorized(given),
        }
    }
}

/// 401 with the challenge RFC 6750 asks for. The body never repeats what was sent.
fn unauthorized(token_given: bool) -> Response {
    let (challenge, message) = if token_given {
        (
            r#"Bearer realm="devin-mcp", error="invalid_token""#,
            "the bearer token is not valid for this server",
        )
    } else {
        (
            r#"Bearer realm="devin-mcp""#,
            "this server needs a bearer token: send Authorization: Bearer <token>",
        )
    };
    let mut response = error_body(StatusCode::UNAUTHORIZED, "unauthorized", message);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    response
}

fn forbidden(message: &str) -> Response {
    error_body(StatusCode::FORBIDDEN, "forbidden", message)
}

fn error_body(status: StatusCode, error: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": error, "message": message });
    (status, axum::Json(body)).into_response()
}

/// An allowed `Host`: a name on any port, or a name on one port.
#[derive(Debug)]
struct AllowedHost {
    host: String,
    port: Option<u16>,
}

impl AllowedHost {
    fn parse(text: &str) -> Result<Self, String> {
        // A bare IPv6 address is not an authority; bracket it first.
        let text = if text.parse::<std::net::Ipv6Addr>().is_ok() {
            format!("[{text}]")
        } else {
            text.to_owned()
        };
        let authority: http::uri::Authority = text
            .parse()
            .map_err(|_| format!("--allowed-host '{text}' is not a host name or host:port"))?;
        if authority.as_str().contains('@') {
            return Err(format!(
                "--allowed-host '{text}' must not contain user information"
            ));
        }
        Ok(Self {
            host: normalize_host(authority.host()),
            port: authority.port_u16(),
        })
    }

    /// `localhost` or a loopback address: only this machine uses that name.
    fn is_loopback(&self) -> bool {
        self.host == "localhost"
            || self
                .host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|address| address.is_loopback())
    }

    fn matches(&self, authority: &http::uri::Authority) -> bool {
        normalize_host(authority.host()) == self.host
            && self
                .port
                .is_none_or(|port| authority.port_u16() == Some(port))
    }
}

/// An allowed browser origin: `scheme://host[:port]` (default port when none), or `null`.
#[derive(Debug)]
struct AllowedOrigin {
    /// `None` for the literal `null` origin of sandboxed pages and files.
    origin: Option<url::Url>,
}

impl AllowedOrigin {
    fn parse(text: &str) -> Result<Self, String> {
        if text == "null" {
            return Ok(Self { origin: None });
        }
        let refuse =
            || format!("--allowed-origin '{text}' is not an origin like https://host[:port]");
        let origin = url::Url::parse(text).map_err(|_| refuse())?;
        let bare = origin.path() == "/" && origin.query().is_none() && origin.fragment().is_none();
        if !matches!(origin.scheme(), "http" | "https") || origin.host().is_none() || !bare {
            return Err(refuse());
        }
        Ok(Self {
            origin: Some(origin),
        })
    }

    fn is_null(&self) -> bool {
        self.origin.is_none()
    }

    fn matches(&self, origin: &url::Url) -> bool {
        self.origin.as_ref().is_some_and(|allowed| {
            allowed.scheme() == origin.scheme()
                && allowed.host() == origin.host()
                && allowed.port_or_known_default() == origin.port_or_known_default()
        })
    }
}

/// A page served from this machine; it could reach a loopback server anyway.
fn is_loopback_origin(origin: &url::Url) -> bool {
    matches!(origin.scheme(), "http" | "https")
        && match origin.host() {
            Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(address)) => address.is_loopback(),
            Some(url::Host::Ipv6(address)) => address.is_loopback(),
            None => false,
        }
}

/// Lower case, without IPv6 brackets or a trailing dot, so that spellings of one name match.
fn normalize_host(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// SIGTERM and Ctrl-C, each time one comes. The handlers are registered here, at once, not
/// when the stream is first polled.
fn stop_signals() -> Result<BoxStream<'static, ()>, String> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let listen = |kind: SignalKind, name: &str| {
            signal(kind).map_err(|error| format!("cannot listen for {name}: {error}"))
        };
        let term = listen(SignalKind::terminate(), "SIGTERM")?;
        let interrupt = listen(SignalKind::interrupt(), "Ctrl-C")?;
        let signals =
            futures::stream::unfold((term, interrupt), |(mut term, mut interrupt)| async move {
                let received = tokio::select! {
                    received = term.recv() => received,
                    received = interrupt.recv() => received,
                };
                received.map(|()| ((), (term, interrupt)))
            });
        Ok(signals.boxed())
    }
    #[cfg(not(unix))]
    {
        // Ctrl-C is the only stop here; tokio registers it when first awaited, which
        // serve_on does right after binding.
        let signals = futures::stream::unfold((), |()| async {
            tokio::signal::ctrl_c().await.ok().map(|()| ((), ()))
        });
        Ok(signals.boxed())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn authority(text: &str) -> http::uri::Authority {
        text.parse().unwrap()
    }

    #[test]
    fn allowed_hosts_match_any_port_unless_one_is_given() {
        let any_port = AllowedHost::parse("MCP.Example.com").unwrap();
        assert!(any_port.matches(&authority("mcp.example.com:443")));
        assert!(any_port.matches(&authority("mcp.example.com.")));
        assert!(!any_port.matches(&authority("evil.example.com")));
        let one_port = AllowedHost::parse("mcp.example.com:8443").unwrap();
        assert!(one_port.matches(&authority("mcp.example.com:8443")));
        assert!(!one_port.matches(&authority("mcp.example.com:8444")));
        assert!(!one_port.matches(&authority("mcp.example.com")));
        let ipv6 = AllowedHost::parse("::1").unwrap();
        assert!(ipv6.matches(&authority("[::1]:8787")));
        assert!(AllowedHost::parse("user@host").is_err());
        assert!(AllowedHost::parse("a b").is_err());
    }

    #[test]
    fn allowed_origins_compare_scheme_host_and_port() {
        let app = AllowedOrigin::parse("https://app.example.com").unwrap();
        let url = |text: &str| url::Url::parse(text).unwrap();
        assert!(app.matches(&url("https://app.example.com")));
        assert!(app.matches(&url("https://app.example.com:443")));
        assert!(!app.matches(&url("http://app.example.com")));
        assert!(!app.matches(&url("https://app.example.com:8443")));
        assert!(!app.matches(&url("https://evil.example.com")));
        assert!(AllowedOrigin::parse("app.example.com").is_err());
        assert!(AllowedOrigin::parse("https://app.example.com/path").is_err());
        assert!(AllowedOrigin::parse("null").unwrap().is_null());
    }

    #[test]
    fn loopback_host_names_are_recognised() {
        for host in [
            "localhost",
            "LOCALHOST.",
            "127.0.0.2:8787",
            "::1",
            "[::1]:80",
        ] {
            assert!(AllowedHost::parse(host).unwrap().is_loopback(), "{host}");
        }
        for host in [
            "mcp.example.com",
            "10.0.0.7",
            "localhost.example.com",
            "0.0.0.0",
        ] {
            assert!(!AllowedHost::parse(host).unwrap().is_loopback(), "{host}");
        }
    }

    const TOKEN: &str = "unit-test-token-0123456789";

    /// The app in session mode with one token, on a free loopback port; its `/mcp` URL and
    /// its sessions.
    async fn serve_sessions(idle: Duration) -> (String, Arc<OwnedSessions>) {
        let key = crate::devin::ApiKey::new("cog_unit_test_key").unwrap();
        // Nothing here reaches the Devin API: only sessions are opened and closed.
        let config = crate::devin::ClientConfig::new(key, "http://127.0.0.1:9").unwrap();
        let server = DevinMcp::new(crate::devin::DevinClient::new(config).unwrap());
        let options = HttpOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tokens: Some(Tokens::single(TOKEN).unwrap()),
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            sessions: true,
            session_idle_timeout: idle,
            max_body_bytes: 1 << 20,
            shutdown_timeout: Duration::from_secs(1),
        };
        let app = app(server, &options, CancellationToken::new()).unwrap();
        let listener = tokio::net::TcpListener::bind(options.listen).await.unwrap();
        let url = format!("http://{}{MCP_PATH}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app.router).await });
        (url, app.sessions)
    }

    /// Opens an MCP session with `initialize`; returns its id.
    async fn initialize(url: &str) -> String {
        let body = serde_json::json!({
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "unit-test", "version": "1"}
            }
        });
        let response = reqwest::Client::new()
            .post(url)
            .bearer_auth(TOKEN)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.headers()[MCP_SESSION_ID]
            .to_str()
            .unwrap()
            .to_owned()
    }

    #[tokio::test]
    async fn an_owner_is_forgotten_when_its_session_is_deleted() {
        crate::devin::client::install_crypto_provider();
        let (url, sessions) = serve_sessions(Duration::from_secs(300)).await;
        let session = initialize(&url).await;
        assert!(sessions.is_owned_by(&session, "token"));
        assert_eq!(sessions.owner_count(), 1);
        let deleted = reqwest::Client::new()
            .delete(&url)
            .bearer_auth(TOKEN)
            .header(MCP_SESSION_ID, &session)
            .header("mcp-protocol-version", "2025-11-25")
            .send()
            .await
            .unwrap();
        assert!(deleted.status().is_success(), "{}", deleted.status());
        assert_eq!(sessions.owner_count(), 0);
    }

    #[tokio::test]
    async fn an_owner_is_forgotten_when_its_session_expires() {
        crate::devin::client::install_crypto_provider();
        let (url, sessions) = serve_sessions(Duration::from_secs(1)).await;
        let session = initialize(&url).await;
        assert!(sessions.is_owned_by(&session, "token"));
        // rmcp closes the idle session on its own; nobody says goodbye.
        let mut forgotten = false;
        for _ in 0..300 {
            if sessions.owner_count() == 0 {
                forgotten = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(forgotten, "the owner of an expired session is still kept");
        assert!(
            !sessions
                .has_session(&SessionId::from(session))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_session_gone_before_its_owner_is_recorded_leaves_no_owner() {
        let sessions = OwnedSessions::new(LocalSessionManager::default());
        sessions.record("closed-already", "alice".to_owned()).await;
        assert_eq!(sessions.owner_count(), 0);
        assert!(!sessions.is_owned_by("closed-already", "alice"));
    }

    #[test]
    fn loopback_origins_are_recognised() {
        let url = |text: &str| url::Url::parse(text).unwrap();
        assert!(is_loopback_origin(&url("http://localhost:3000")));
        assert!(is_loopback_origin(&url("http://127.0.0.1")));
        assert!(is_loopback_origin(&url("https://[::1]:8443")));
        assert!(!is_loopback_origin(&url("http://localhost.evil.com")));
        assert!(!is_loopback_origin(&url("http://10.0.0.1")));
        assert!(!is_loopback_origin(&url("file:///etc/passwd")));
    }
}
