//! MCP over streamable HTTP: one server at `/mcp` that a team, CI jobs and remote agents
//! share, holding the Devin key so that they need none.
//!
//! Each request to `/mcp` passes, in this order and before its body is read:
//!
//! 1. the `Host` and `Origin` check (DNS-rebinding defence): 403 when not allowed;
//! 2. the bearer token check: 401 with `WWW-Authenticate: Bearer` when missing or wrong; the
//!    authenticated [`Caller`] goes into the request's extensions for the MCP layer;
//! 3. rmcp's streamable HTTP service, which caps the body (413) and serves the protocol:
//!    stateless by default (any replica can answer any request), or with MCP sessions
//!    (`--sessions`) for clients that need them.
//!
//! `GET /healthz` answers without authentication and says nothing secret, for load
//! balancers; it is exempt from the `Host` check because they probe by address.
//!
//! This module knows nothing of tools: it authenticates and hands requests on.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
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
    /// `None` only with `--no-auth` on a loopback address.
    pub tokens: Option<Tokens>,
    /// `Host` values accepted besides the loopback names: `name` (any port) or `name:port`.
    pub allowed_hosts: Vec<String>,
    /// Browser origins accepted besides loopback ones, as `scheme://host[:port]`.
    pub allowed_origins: Vec<String>,
    /// Keep MCP sessions on this server (`Mcp-Session-Id`) instead of serving statelessly.
    pub sessions: bool,
    pub max_body_bytes: usize,
    /// How long in-flight requests may run after SIGTERM or Ctrl-C.
    pub shutdown_timeout: Duration,
}

impl HttpOptions {
    /// Checks the command line and reads the tokens; errors are one sentence for the operator.
    pub fn from_args(args: &HttpArgs) -> Result<Self, String> {
        let tokens = Tokens::from_env_or_file(args.tokens.as_deref())?;
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
            (None, true) if !args.listen.ip().is_loopback() => {
                return Err(format!(
                    "--no-auth is only allowed on a loopback address, not {}",
                    args.listen
                ));
            }
            _ => {}
        }
        for origin in &args.allowed_origins {
            AllowedOrigin::parse(origin)?;
        }
        for host in &args.allowed_hosts {
            AllowedHost::parse(host)?;
        }
        if args.max_body_bytes == 0 {
            return Err("--max-body-bytes must be positive".to_owned());
        }
        Ok(Self {
            listen: args.listen,
            tokens,
            allowed_hosts: args.allowed_hosts.clone(),
            allowed_origins: args.allowed_origins.clone(),
            sessions: args.sessions,
            max_body_bytes: args.max_body_bytes,
            shutdown_timeout: Duration::from_secs(args.shutdown_timeout),
        })
    }
}

/// Binds `options.listen` and serves until SIGTERM or Ctrl-C.
pub async fn serve(server: DevinMcp, options: HttpOptions) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|error| format!("cannot listen on {}: {error}", options.listen))?;
    serve_on(listener, server, options, stop_signal()).await
}

/// Serves on `listener` until `stop` completes, then stops accepting connections and gives
/// in-flight requests up to `options.shutdown_timeout` to finish.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    server: DevinMcp,
    options: HttpOptions,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let address = listener
        .local_addr()
        .map_err(|error| format!("cannot read the bound address: {error}"))?;
    let protocol = CancellationToken::new();
    let app = router(server, &options, protocol.clone())?;
    let stopping = Arc::new(tokio::sync::Notify::new());
    let notify = stopping.clone();
    let graceful = async move {
        stop.await;
        tracing::info!("shutting down: no new connections, finishing requests in flight");
        notify.notify_one();
    };
    tracing::info!(
        auth = auth_summary(options.tokens.as_ref()),
        mode = if options.sessions {
            "sessions"
        } else {
            "stateless"
        },
        "listening on http://{address}{MCP_PATH}"
    );
    let serving = axum::serve(listener, app).with_graceful_shutdown(graceful);
    let serving = std::future::IntoFuture::into_future(serving);
    tokio::pin!(serving);
    let deadline = async {
        stopping.notified().await;
        tokio::time::sleep(options.shutdown_timeout).await;
    };
    tokio::select! {
        result = &mut serving => {
            result.map_err(|error| format!("HTTP server failed: {error}"))?;
            tracing::info!("all requests finished; stopped");
        }
        () = deadline => {
            tracing::warn!(
                timeout_secs = options.shutdown_timeout.as_secs(),
                "requests still open after the shutdown timeout are cut off"
            );
        }
    }
    protocol.cancel();
    Ok(())
}

fn auth_summary(tokens: Option<&Tokens>) -> String {
    match tokens {
        None => "none (--no-auth)".to_owned(),
        Some(tokens) => format!("bearer, {} caller(s)", tokens.len()),
    }
}

/// `/mcp` behind the guard, and `/healthz`.
fn router(
    server: DevinMcp,
    options: &HttpOptions,
    protocol: CancellationToken,
) -> Result<Router, String> {
    // Host and Origin are checked by our guard, before authentication; rmcp's own check would
    // only repeat it after the token.
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(options.sessions)
        .with_json_response(!options.sessions)
        .with_max_request_body_bytes(options.max_body_bytes)
        .with_cancellation_token(protocol)
        .disable_allowed_hosts()
        .disable_allowed_origins();
    let mcp = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let guard = Arc::new(Guard::new(options)?);
    let mcp = Router::new()
        .route_service(MCP_PATH, mcp)
        .layer(middleware::from_fn_with_state(guard, check_request));
    Ok(Router::new().route("/healthz", get(healthz)).merge(mcp))
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
    /// In session mode with tokens: which caller opened each MCP session. A session id is
    /// not a credential, so another caller who learns one still cannot use it.
    owners: Option<std::sync::Mutex<std::collections::HashMap<String, String>>>,
}

impl Guard {
    fn new(options: &HttpOptions) -> Result<Self, String> {
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
        let owners = (options.sessions && options.tokens.is_some()).then(Default::default);
        Ok(Self {
            tokens: options.tokens.clone(),
            hosts,
            origins,
            owners,
        })
    }

    /// 403 unless `Host` names this server and `Origin`, when a browser sent one, is allowed.
    fn check_host_and_origin(&self, request: &Request) -> Result<(), Refusal> {
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
        let Some(origin) = request.headers().get(header::ORIGIN) else {
            return Ok(());
        };
        let origin_text = origin.to_str().unwrap_or("");
        let origin_allowed = (origin_text == "null" && self.origins.iter().any(|o| o.is_null()))
            || url::Url::parse(origin_text).is_ok_and(|origin| {
                is_loopback_origin(&origin) || self.origins.iter().any(|o| o.matches(&origin))
            });
        if !origin_allowed {
            tracing::warn!(
                origin = origin_text,
                "refused a request: Origin not allowed"
            );
            return Err(Refusal::Origin);
        }
        Ok(())
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
}

/// The guard, as axum middleware. It looks at headers only: a refused request's body is
/// never read.
async fn check_request(
    State(guard): State<Arc<Guard>>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Err(refusal) = guard.check_host_and_origin(&request) {
        return refusal.into_response();
    }
    let caller = match guard.authenticate(request.headers()) {
        Ok(caller) => caller,
        Err(refusal) => return refusal.into_response(),
    };
    let Some(owners) = guard.owners.as_ref() else {
        if let Some(caller) = caller {
            request.extensions_mut().insert(caller);
        }
        return next.run(request).await;
    };
    // Owners are kept only in session mode with tokens, where every caller is known.
    let Some(caller) = caller else {
        return next.run(request).await;
    };
    let session = request
        .headers()
        .get(MCP_SESSION_ID)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let deleting = request.method() == axum::http::Method::DELETE;
    if let Some(session) = &session {
        let owner = lock(owners).get(session).cloned();
        if owner.is_some_and(|owner| owner != caller.name) {
            // The same answer as for an unknown session: whether it exists is not told.
            return error_body(
                StatusCode::NOT_FOUND,
                "not_found",
                "unknown MCP session; initialize a new one",
            );
        }
    }
    let name = caller.name.clone();
    request.extensions_mut().insert(caller);
    let response = next.run(request).await;
    match session {
        None => {
            if let Some(opened) = response
                .headers()
                .get(MCP_SESSION_ID)
                .and_then(|value| value.to_str().ok())
            {
                lock(owners).insert(opened.to_owned(), name);
            }
        }
        Some(session) if deleting && response.status().is_success() => {
            lock(owners).remove(&session);
        }
        Some(_) => {}
    }
    response
}

/// The header that names an MCP session in session mode.
const MCP_SESSION_ID: &str = "mcp-session-id";

/// Locks the owners map. A panic while it was held cannot leave it half-written (each use is
/// one insert, remove or get), so a poisoned lock is taken over.
fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
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

/// Completes on SIGTERM or Ctrl-C.
async fn stop_signal() {
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
