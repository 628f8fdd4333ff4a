//! Session endpoints (§4.2): create, get, list, terminate, archive, messages, attachments of a
//! session, and tags.

use std::collections::HashSet;

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::client::{Body, DevinClient};
use super::error::DevinError;
use super::models::{
    Attachment, AttachmentList, CreateSessionRequest, ListSessionsQuery, Message, Page,
    SendMessageRequest, Session, Tags,
};
use super::session_ref::SessionRef;

/// The largest page the API serves.
pub const MAX_PAGE_SIZE: u32 = 200;

/// Most pages one walk through a list reads: 200 000 items at the largest page size, far past
/// any real session list or conversation.
pub const MAX_PAGES: usize = 1000;

impl DevinClient {
    /// `POST …/sessions`. Never retried after anything but a 429 (see [`super::retry`]).
    pub async fn create_session(
        &self,
        request: &CreateSessionRequest,
    ) -> Result<Session, DevinError> {
        let path = self.org_path("/sessions").await?;
        self.call(Method::POST, path, &[], Body::Json(to_json(request)?))
            .await
    }

    /// `GET …/sessions/{devin_id}`, with status detail and structured output.
    pub async fn get_session(&self, session: &SessionRef) -> Result<Session, DevinError> {
        let path = self.session_path(session, "").await?;
        self.call(Method::GET, path, &[], Body::Empty).await
    }

    /// `GET …/sessions`: one page.
    pub async fn list_sessions(
        &self,
        query: &ListSessionsQuery,
    ) -> Result<Page<Session>, DevinError> {
        let path = self.org_path("/sessions").await?;
        self.call(Method::GET, path, &query.to_pairs(), Body::Empty)
            .await
    }

    /// Every session matching `query`, walking pages until the last or until `limit` sessions.
    /// Stops early, with what it has, at an empty page or a repeated cursor; a list still
    /// going after [`MAX_PAGES`] pages is a [`DevinError::Decode`].
    pub async fn list_all_sessions(
        &self,
        query: &ListSessionsQuery,
        limit: Option<usize>,
    ) -> Result<Vec<Session>, DevinError> {
        let mut query = query.clone();
        query.first.get_or_insert(MAX_PAGE_SIZE);
        let path = self.org_path("/sessions").await?;
        self.walk_pages(path, query.to_pairs(), limit).await
    }

    /// `DELETE …/sessions/{devin_id}`: ends the session for good; `archive` also archives it.
    pub async fn terminate_session(
        &self,
        session: &SessionRef,
        archive: bool,
    ) -> Result<Session, DevinError> {
        let path = self.session_path(session, "").await?;
        let query = [("archive", archive.to_string())];
        self.call(Method::DELETE, path, &query, Body::Empty).await
    }

    /// `POST …/sessions/{devin_id}/archive`: archives it, and puts it to sleep if running.
    pub async fn archive_session(&self, session: &SessionRef) -> Result<Session, DevinError> {
        let path = self.session_path(session, "/archive").await?;
        self.call(Method::POST, path, &[], Body::Empty).await
    }

    /// `POST …/sessions/{devin_id}/messages`: a follow-up; resumes a suspended session.
    pub async fn send_message(
        &self,
        session: &SessionRef,
        request: &SendMessageRequest,
    ) -> Result<Session, DevinError> {
        let path = self.session_path(session, "/messages").await?;
        self.call(Method::POST, path, &[], Body::Json(to_json(request)?))
            .await
    }

    /// `GET …/sessions/{devin_id}/messages`: one page, oldest first.
    pub async fn list_messages(
        &self,
        session: &SessionRef,
        first: Option<u32>,
        after: Option<&str>,
    ) -> Result<Page<Message>, DevinError> {
        let path = self.session_path(session, "/messages").await?;
        let mut query = Vec::new();
        if let Some(first) = first {
            query.push(("first", first.to_string()));
        }
        if let Some(after) = after {
            query.push(("after", after.to_owned()));
        }
        self.call(Method::GET, path, &query, Body::Empty).await
    }

    /// Every message of a session, oldest first. Stops early, with what it has, at an empty
    /// page or a repeated cursor; a list still going after [`MAX_PAGES`] pages is a
    /// [`DevinError::Decode`].
    pub async fn list_all_messages(
        &self,
        session: &SessionRef,
    ) -> Result<Vec<Message>, DevinError> {
        let path = self.session_path(session, "/messages").await?;
        let query = vec![("first", MAX_PAGE_SIZE.to_string())];
        self.walk_pages(path, query, None).await
    }

    /// Walks a cursor-paged list (§2.1) from the page `query` asks for until the last page or
    /// `limit` items.
    ///
    /// An upstream that keeps saying `has_next_page: true` must not keep us reading forever:
    /// the walk also ends, with what it has, at an empty page or at a cursor it has already
    /// followed (the same items would come again). A walk longer than [`MAX_PAGES`] pages is
    /// an error rather than a silently shortened list, since a caller could not tell the
    /// difference.
    async fn walk_pages<T: DeserializeOwned>(
        &self,
        path: String,
        mut query: Vec<(&'static str, String)>,
        limit: Option<usize>,
    ) -> Result<Vec<T>, DevinError> {
        let mut items = Vec::new();
        let mut followed: HashSet<String> = HashSet::new();
        for _ in 0..MAX_PAGES {
            let page: Page<T> = self
                .call(Method::GET, path.clone(), &query, Body::Empty)
                .await?;
            let empty = page.items.is_empty();
            items.extend(page.items);
            if let Some(limit) = limit
                && items.len() >= limit
            {
                items.truncate(limit);
                return Ok(items);
            }
            let cursor = match page.end_cursor {
                Some(cursor) if page.has_next_page => cursor,
                _ => return Ok(items),
            };
            if empty {
                tracing::warn!(
                    path,
                    "an empty page claims more pages follow; stopping there"
                );
                return Ok(items);
            }
            if !followed.insert(cursor.clone()) {
                tracing::warn!(
                    path,
                    "a page repeats a cursor already followed; stopping there"
                );
                return Ok(items);
            }
            query.retain(|(key, _)| *key != "after");
            query.push(("after", cursor));
        }
        Err(DevinError::Decode {
            method: Method::GET.to_string(),
            path,
            status: 200,
            json_path: ".has_next_page".into(),
            message: format!(
                "the list still had a next page after {MAX_PAGES} pages ({} items); stopped \
                 reading rather than loop without end",
                items.len()
            ),
            raw_body: String::new(),
        })
    }

    /// `GET …/sessions/{devin_id}/attachments`, read as a bare array or as `{items}`.
    pub async fn list_session_attachments(
        &self,
        session: &SessionRef,
    ) -> Result<Vec<Attachment>, DevinError> {
        let path = self.session_path(session, "/attachments").await?;
        let list: AttachmentList = self.call(Method::GET, path, &[], Body::Empty).await?;
        Ok(list.into_vec())
    }

    /// `GET …/sessions/{devin_id}/tags`.
    pub async fn get_tags(&self, session: &SessionRef) -> Result<Vec<String>, DevinError> {
        let path = self.session_path(session, "/tags").await?;
        let tags: Tags = self.call(Method::GET, path, &[], Body::Empty).await?;
        Ok(tags.tags)
    }

    /// `POST …/sessions/{devin_id}/tags`: adds tags, keeping the existing ones.
    pub async fn append_tags(
        &self,
        session: &SessionRef,
        tags: &[String],
    ) -> Result<Vec<String>, DevinError> {
        self.write_tags(Method::POST, session, tags).await
    }

    /// `PUT …/sessions/{devin_id}/tags`: replaces the whole set.
    pub async fn replace_tags(
        &self,
        session: &SessionRef,
        tags: &[String],
    ) -> Result<Vec<String>, DevinError> {
        self.write_tags(Method::PUT, session, tags).await
    }

    async fn write_tags(
        &self,
        method: Method,
        session: &SessionRef,
        tags: &[String],
    ) -> Result<Vec<String>, DevinError> {
        let path = self.session_path(session, "/tags").await?;
        let body = Body::Json(serde_json::json!({ "tags": tags }));
        let tags: Tags = self.call(method, path, &[], body).await?;
        Ok(tags.tags)
    }

    async fn session_path(&self, session: &SessionRef, rest: &str) -> Result<String, DevinError> {
        self.org_path(&format!("/sessions/{}{rest}", session.devin_id()))
            .await
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Value, DevinError> {
    serde_json::to_value(value)
        .map_err(|error| DevinError::Config(format!("cannot encode the request: {error}")))
}
