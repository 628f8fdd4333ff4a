//! Attachment upload and download (§4.3).
//!
//! Download answers 307 to a presigned URL on another host. The redirect is followed by hand,
//! with no `Authorization` header: the presigned URL needs none, and the key must never reach
//! a host other than the API's.

use std::time::Instant;

use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, LOCATION};
use url::Url;

use super::client::{Body, DevinClient, RawResponse, api_error, describe_transport_error};
use super::error::DevinError;
use super::models::UploadedAttachment;

/// How many redirects a download follows before giving up.
const MAX_REDIRECTS: usize = 5;

/// A downloaded attachment.
#[derive(Debug, Clone)]
pub struct Download {
    pub bytes: bytes::Bytes,
    pub content_type: Option<String>,
}

impl DevinClient {
    /// `POST …/attachments` (multipart, part `file`). Pass the returned `url` in
    /// `attachment_urls` of a create or a message to attach it.
    pub async fn upload_attachment(
        &self,
        name: &str,
        content_type: Option<&str>,
        bytes: bytes::Bytes,
    ) -> Result<UploadedAttachment, DevinError> {
        let path = self.org_path("/attachments").await?;
        let body = Body::File {
            name: name.to_owned(),
            content_type: content_type.map(str::to_owned),
            bytes,
        };
        self.call(Method::POST, path, &[], body).await
    }

    /// Downloads an attachment from its URL (as listed or uploaded), or from any URL whose
    /// path ends in `/attachments/{uuid}/{name}`.
    pub async fn download_attachment(&self, url: &str) -> Result<Download, DevinError> {
        let (uuid, name) = attachment_key(url).ok_or_else(|| {
            DevinError::Config(format!(
                "'{url}' is not an attachment URL; expected one ending in /attachments/<uuid>/<name>"
            ))
        })?;
        let path = self
            .org_path(&format!("/attachments/{uuid}/{name}"))
            .await?;
        let mut response = self.execute(&Method::GET, &path, &[], &Body::Empty).await?;
        let mut current = Url::parse(&format!("{}{path}", self.base_url()))
            .map_err(|error| DevinError::Config(format!("bad attachment URL: {error}")))?;
        // Set once the answer comes from the redirect target instead of the API.
        let mut storage_host: Option<String> = None;
        for _ in 0..MAX_REDIRECTS {
            if response.status.is_success() {
                let content_type = response
                    .headers
                    .get(CONTENT_TYPE)
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_owned);
                return Ok(Download {
                    bytes: response.body,
                    content_type,
                });
            }
            let location = response
                .headers
                .get(LOCATION)
                .and_then(|value| value.to_str().ok())
                .filter(|_| response.status.is_redirection());
            let Some(location) = location else {
                return Err(match storage_host {
                    None => api_error(&Method::GET, &path, &response),
                    Some(host) => DevinError::Download {
                        method: "GET".into(),
                        path,
                        host,
                        status: response.status.as_u16(),
                    },
                });
            };
            current = current
                .join(location)
                .map_err(|error| DevinError::Transport {
                    method: "GET".into(),
                    path: path.clone(),
                    message: format!("the download redirect points to a bad location: {error}"),
                    timed_out: false,
                })?;
            let host = host_of(&current);
            response = self
                .fetch_without_credentials(&current, &host, &path)
                .await?;
            storage_host = Some(host);
        }
        Err(DevinError::Transport {
            method: "GET".into(),
            path,
            message: format!("more than {MAX_REDIRECTS} redirects"),
            timed_out: false,
        })
    }

    /// A GET with no `Authorization` header, for presigned URLs. Neither its errors nor its
    /// log line carry the URL: the query of a presigned URL is a credential.
    async fn fetch_without_credentials(
        &self,
        url: &Url,
        host: &str,
        api_path: &str,
    ) -> Result<RawResponse, DevinError> {
        let transport = |error: reqwest::Error| DevinError::Transport {
            method: "GET".into(),
            path: api_path.to_owned(),
            message: format!(
                "downloading from the storage host {host} failed: {}",
                describe_transport_error(&error)
            ),
            timed_out: error.is_timeout(),
        };
        let started = Instant::now();
        let response = self
            .http()
            .get(url.clone())
            .send()
            .await
            .map_err(|error| transport(error.without_url()))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|error| transport(error.without_url()))?;
        tracing::debug!(
            method = %Method::GET,
            host,
            api_path,
            status = status.as_u16(),
            latency_ms = started.elapsed().as_millis(),
            "attachment redirect target fetched"
        );
        Ok(RawResponse {
            status,
            headers,
            body,
        })
    }
}

/// Host and port (when not the scheme's default) of a URL: what may be shown of a presigned
/// URL.
fn host_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or("(no host)");
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// The `(uuid, name)` of an attachment URL: the two path segments after `attachments`.
fn attachment_key(url: &str) -> Option<(String, String)> {
    let parsed = Url::parse(url).ok()?;
    let segments: Vec<&str> = parsed.path_segments()?.collect();
    let at = segments
        .iter()
        .rposition(|segment| *segment == "attachments")?;
    match &segments[at + 1..] {
        [uuid, name] if !uuid.is_empty() && !name.is_empty() => {
            Some(((*uuid).to_owned(), (*name).to_owned()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachment_urls_of_every_host_give_their_key() {
        let uuid = "1eb17217-4732-4bee-9e25-065a889c9dff";
        for url in [
            format!("https://app.devin.ai/attachments/{uuid}/log.txt"),
            format!("http://127.0.0.1:5/v3/organizations/org-1/attachments/{uuid}/log.txt"),
        ] {
            assert_eq!(
                attachment_key(&url),
                Some((uuid.to_owned(), "log.txt".to_owned()))
            );
        }
        assert_eq!(attachment_key("https://app.devin.ai/sessions/abc"), None);
        assert_eq!(attachment_key("not a url"), None);
    }
}
