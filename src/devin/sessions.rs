//! Session endpoints (§4.2): create, get, list, terminate, archive, messages, attachments of a
//! session, and tags.

use reqwest::Method;
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
    pub async fn list_all_sessions(
        &self,
        query: &ListSessionsQuery,
        limit: Option<usize>,
    ) -> Result<Vec<Session>, DevinError> {
        let mut query = query.clone();
        query.first.get_or_insert(MAX_PAGE_SIZE);
        let mut sessions = Vec::new();
        loop {
            let page = self.list_sessions(&query).await?;
            sessions.extend(page.items);
            if limit.is_some_and(|limit| sessions.len() >= limit) {
                sessions.truncate(limit.unwrap_or(usize::MAX));
                return Ok(sessions);
            }
            match page.end_cursor {
                Some(cursor) if page.has_next_page => query.after = Some(cursor),
                _ => return Ok(sessions),
            }
        }
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

    /// Every message of a session, oldest first.
    pub async fn list_all_messages(
        &self,
        session: &SessionRef,
    ) -> Result<Vec<Message>, DevinError> {
        let mut messages = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .list_messages(session, Some(MAX_PAGE_SIZE), after.as_deref())
                .await?;
            messages.extend(page.items);
            match page.end_cursor {
                Some(cursor) if page.has_next_page => after = Some(cursor),
                _ => return Ok(messages),
            }
        }
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
