//! The HTTP core of the Devin client: authentication, the organization, retries, and turning
//! answers into typed values or a [`DevinError`].
//!
//! Endpoint methods live in one module per API area ([`super::sessions`],
//! [`super::attachments`]) and all go through [`DevinClient::call`].

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use tokio::sync::OnceCell;
use url::Url;

use super::error::{ApiError, DevinError, shorten_body};
use super::models::{Principal, Problem};
use super::retry::{self, Failure};

pub use super::retry::RetryPolicy;

/// The default API host.
pub const DEFAULT_BASE_URL: &str = "https://api.devin.ai";

/// A Devin API key. `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Checks the key's shape: v3 takes `cog_` keys; legacy `apk_` keys are refused here, with
    /// the fix, rather than by a 401 that does not say why.
    pub fn new(key: impl Into<String>) -> Result<Self, DevinError> {
        let key = key.into().trim().to_owned();
        if key.is_empty() {
            return Err(DevinError::Config("DEVIN_API_KEY is empty".into()));
        }
        if key.starts_with("apk_") {
            return Err(DevinError::Config(
                "DEVIN_API_KEY is a legacy v1/v2 key (apk_…); the v3 API needs a cog_… key: \
                 create a service user under Settings > Service users, or a personal access token"
                    .into(),
            ));
        }
        // Every byte must be allowed in an `Authorization` header; a key that is not would
        // fail every call, so it fails here, once, at startup. The message gives the position
        // only: the key itself must not reach a log.
        if let Some(position) = key.bytes().position(|byte| !byte.is_ascii_graphic()) {
            return Err(DevinError::Config(format!(
                "DEVIN_API_KEY has a space, control or non-ASCII character at byte {position}; \
                 Devin keys are printable ASCII only (check for a stray quote or a character \
                 picked up when copying it)"
            )));
        }
        Ok(Self(key))
    }

    /// The key itself, for the `Authorization` header and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// What the client needs to reach the API.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub api_key: ApiKey,
    /// `org-…`; discovered from `GET /v3/self` on first use when `None`.
    pub org_id: Option<String>,
    pub base_url: Url,
    pub retry: RetryPolicy,
}

impl ClientConfig {
    pub fn new(api_key: ApiKey, base_url: &str) -> Result<Self, DevinError> {
        Ok(Self {
            api_key,
            org_id: None,
            base_url: parse_base_url(base_url)?,
            retry: RetryPolicy::default(),
        })
    }
}

/// Parses a base URL such as `https://api.devin.ai`, refusing anything that is not HTTP(S).
pub fn parse_base_url(text: &str) -> Result<Url, DevinError> {
    let url = Url::parse(text.trim()).map_err(|error| {
        DevinError::Config(format!("DEVIN_API_BASE_URL '{text}' is not a URL: {error}"))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(DevinError::Config(format!(
            "DEVIN_API_BASE_URL '{text}' must be an http:// or https:// URL with a host"
        )));
    }
    Ok(url)
}

/// A client for the Devin REST API v3. Cheap to clone; clones share connections.
#[derive(Clone)]
pub struct DevinClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    config: ClientConfig,
    /// Root of every URL, without a trailing slash.
    base: String,
    org: OnceCell<String>,
}

impl fmt::Debug for DevinClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevinClient")
            .field("base_url", &self.inner.base)
            .field("org_id", &self.inner.org.get())
            .finish_non_exhaustive()
    }
}

/// A request body, kept in a form that can be sent again on retry.
pub(crate) enum Body {
    Empty,
    Json(serde_json::Value),
    File {
        name: String,
        content_type: Option<String>,
        bytes: bytes::Bytes,
    },
}

/// A raw answer: status, headers and the whole body.
pub(crate) struct RawResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

/// Installs the TLS crypto provider once per process. Reqwest is built without one so that
/// the crate pulls in a single implementation (ring) instead of two.
pub fn install_crypto_provider() {
    // Err means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl DevinClient {
    pub fn new(config: ClientConfig) -> Result<Self, DevinError> {
        install_crypto_provider();
        let http = reqwest::Client::builder()
            .user_agent(concat!("devin-mcp/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(config.retry.request_timeout)
            // Downloads follow redirects by hand so that the key never leaves the API host.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| {
                DevinError::Config(format!("cannot build the HTTP client: {error}"))
            })?;
        let base = config.base_url.as_str().trim_end_matches('/').to_owned();
        let org = OnceCell::new();
        if let Some(org_id) = &config.org_id {
            // A fresh cell cannot be full yet.
            let _ = org.set(org_id.clone());
        }
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                config,
                base,
                org,
            }),
        })
    }

    /// The organization every org-scoped call acts in, discovered once when not configured.
    pub async fn org_id(&self) -> Result<String, DevinError> {
        let org = self
            .inner
            .org
            .get_or_try_init(|| async {
                let principal = self.whoami().await?;
                let org_id = principal.org_id.ok_or_else(|| {
                    DevinError::Config(
                        "the API key is enterprise-scoped and belongs to no organization; set \
                         DEVIN_ORG_ID to the org-… id to act in"
                            .into(),
                    )
                })?;
                tracing::info!(org_id = %org_id, "organization discovered from GET /v3/self");
                Ok::<_, DevinError>(org_id)
            })
            .await?;
        Ok(org.clone())
    }

    /// `GET /v3/self`: the principal behind the key.
    pub async fn whoami(&self) -> Result<Principal, DevinError> {
        self.call(Method::GET, "/v3/self".into(), &[], Body::Empty)
            .await
    }

    /// The base URL the client talks to.
    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    /// `/v3/organizations/{org_id}` followed by `rest` (which starts with `/`).
    pub(crate) async fn org_path(&self, rest: &str) -> Result<String, DevinError> {
        Ok(format!("/v3/organizations/{}{rest}", self.org_id().await?))
    }

    /// Sends a request with retries and decodes a success body into `T`.
    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: String,
        query: &[(&str, String)],
        body: Body,
    ) -> Result<T, DevinError> {
        let response = self.execute(&method, &path, query, &body).await?;
        if !response.status.is_success() {
            return Err(api_error(&method, &path, &response));
        }
        decode(&method, &path, &response)
    }

    /// Sends a request with retries. Answers other than 429 and 5xx come back as they are,
    /// success or not; the caller decides what they mean.
    pub(crate) async fn execute(
        &self,
        method: &Method,
        path: &str,
        query: &[(&str, String)],
        body: &Body,
    ) -> Result<RawResponse, DevinError> {
        let policy = &self.inner.config.retry;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let started = Instant::now();
            let outcome = self.attempt(method, path, query, body).await;
            let latency_ms = started.elapsed().as_millis();
            let (failure, wait, error) = match outcome {
                Ok(response) => {
                    let status = response.status.as_u16();
                    tracing::debug!(%method, path, status, latency_ms, attempt, "devin api call");
                    let failure = match status {
                        429 => Failure::RateLimited,
                        500..=599 => Failure::Server,
                        _ => return Ok(response),
                    };
                    let asked = retry::retry_after(&response.headers);
                    let error = api_error(method, path, &response);
                    (failure, asked, error)
                }
                Err(error @ DevinError::Transport { .. }) => {
                    tracing::debug!(%method, path, latency_ms, attempt, %error, "devin api call failed");
                    (Failure::Transport, None, error)
                }
                // Anything else (a bad key, a bad content type) was found before sending and
                // would be found again on every retry.
                Err(error) => return Err(error),
            };
            if attempt > policy.max_retries || !retry::may_retry(method, failure) {
                return Err(error);
            }
            let wait = wait
                .map(|asked| policy.honoured_retry_after(asked))
                .unwrap_or_else(|| policy.backoff(attempt));
            tracing::warn!(
                %method, path, attempt, wait_ms = wait.as_millis(), reason = ?failure,
                "retrying devin api call"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// One attempt, with no retry.
    async fn attempt(
        &self,
        method: &Method,
        path: &str,
        query: &[(&str, String)],
        body: &Body,
    ) -> Result<RawResponse, DevinError> {
        let url = format!("{}{path}", self.inner.base);
        let mut request = self
            .inner
            .http
            .request(method.clone(), &url)
            .header(AUTHORIZATION, self.authorization()?);
        if !query.is_empty() {
            request = request.query(query);
        }
        request = match body {
            Body::Empty => request,
            Body::Json(value) => request.json(value),
            Body::File {
                name,
                content_type,
                bytes,
            } => {
                let mut part =
                    reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(name.clone());
                if let Some(content_type) = content_type {
                    part = part.mime_str(content_type).map_err(|error| {
                        DevinError::Config(format!("content type '{content_type}': {error}"))
                    })?;
                }
                request.multipart(reqwest::multipart::Form::new().part("file", part))
            }
        };
        let transport = |error: reqwest::Error| DevinError::Transport {
            method: method.to_string(),
            path: path.to_owned(),
            message: describe_transport_error(&error),
            timed_out: error.is_timeout(),
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(transport)?;
        Ok(RawResponse {
            status,
            headers,
            body,
        })
    }

    fn authorization(&self) -> Result<HeaderValue, DevinError> {
        let key = self.inner.config.api_key.expose();
        let mut value = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
            DevinError::Config("DEVIN_API_KEY has characters not allowed in a header".into())
        })?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// The plain HTTP client, for following download redirects without credentials.
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }
}

/// Builds the error for a non-success answer, parsing the body whatever its content type.
pub(crate) fn api_error(method: &Method, path: &str, response: &RawResponse) -> DevinError {
    let text = String::from_utf8_lossy(&response.body);
    let problem = Problem::from_body(&response.body);
    DevinError::Api(Box::new(ApiError {
        method: method.to_string(),
        path: path.to_owned(),
        status: response.status,
        problem,
        raw_body: shorten_body(text.trim()),
        retry_after: retry::retry_after(&response.headers),
    }))
}

/// Decodes a success body, keeping the JSON path and the raw body when it does not fit.
pub(crate) fn decode<T: DeserializeOwned>(
    method: &Method,
    path: &str,
    response: &RawResponse,
) -> Result<T, DevinError> {
    let mut deserializer = serde_json::Deserializer::from_slice(&response.body);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| DevinError::Decode {
        method: method.to_string(),
        path: path.to_owned(),
        status: response.status.as_u16(),
        json_path: error.path().to_string(),
        message: error.into_inner().to_string(),
        raw_body: shorten_body(&String::from_utf8_lossy(&response.body)),
    })
}

/// A transport error in words, without the URL (which reqwest includes but we log apart).
pub(crate) fn describe_transport_error(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "the request timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_body() || error.is_decode() {
        "the connection broke while reading the answer"
    } else {
        "the connection failed"
    };
    let mut source = std::error::Error::source(error);
    let mut cause = None;
    while let Some(inner) = source {
        cause = Some(inner.to_string());
        source = inner.source();
    }
    match cause {
        Some(cause) => format!("{kind} ({cause})"),
        None => kind.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_keys_are_refused_with_the_fix() {
        let error = ApiKey::new("apk_user_abc").unwrap_err().to_string();
        assert!(error.contains("cog_"), "{error}");
        assert!(!error.contains("apk_user_abc"), "{error}");
    }

    #[test]
    fn keys_with_characters_a_header_cannot_carry_are_refused_without_showing_them() {
        for key in [
            "cog_abc def",
            "cog_abc\tdef",
            "cog_abc\u{7f}def",
            "cog_abcédef",
            "cog_abc\0def",
        ] {
            let error = ApiKey::new(key).unwrap_err();
            let text = format!("{error} {error:?}");
            assert!(matches!(error, DevinError::Config(_)), "{text}");
            assert!(text.contains("at byte 7"), "{text}");
            assert!(!text.contains("abc"), "{text}");
        }
        // Surrounding whitespace, as a .env file or a shell may leave it, is not part of a key.
        assert_eq!(ApiKey::new(" cog_ok\n").unwrap().expose(), "cog_ok");
    }

    #[tokio::test]
    async fn a_config_error_is_returned_at_once_not_retried() {
        // A key that bypasses `ApiKey::new`, so that building the header fails on each attempt.
        let mut config =
            ClientConfig::new(ApiKey("cog_\nbad".into()), "http://127.0.0.1:9").unwrap();
        config.org_id = Some("org-test".into());
        config.retry = RetryPolicy {
            max_retries: 3,
            base_backoff: Duration::from_secs(10),
            max_backoff: Duration::from_secs(10),
            ..RetryPolicy::default()
        };
        let client = DevinClient::new(config).unwrap();
        // Retrying would sleep at least 5 s before the first retry.
        let outcome = tokio::time::timeout(Duration::from_secs(3), client.whoami()).await;
        let error = outcome.expect("returned without retrying").unwrap_err();
        assert!(matches!(error, DevinError::Config(_)), "{error}");
    }

    #[test]
    fn keys_never_show_in_debug() {
        let key = ApiKey::new("cog_supersecret").unwrap();
        let config = ClientConfig::new(key, "http://127.0.0.1:9").unwrap();
        assert!(!format!("{config:?}").contains("supersecret"));
        let client = DevinClient::new(config).unwrap();
        assert!(!format!("{client:?}").contains("supersecret"));
    }

    #[test]
    fn base_url_must_be_http() {
        assert!(parse_base_url("ftp://x").is_err());
        assert!(parse_base_url("not a url").is_err());
        assert!(parse_base_url("https://api.devin.ai").is_ok());
    }
}
