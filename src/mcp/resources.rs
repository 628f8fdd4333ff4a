//! MCP resources: a session (`devin://sessions/{devin_id}`) and its messages
//! (`devin://sessions/{devin_id}/messages`), readable as JSON, with
//! `notifications/resources/updated` for subscribers, fed by the shared pollers: through
//! `resources/subscribe` (2025-11-25) or a `subscriptions/listen` stream (2026-07-28).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{
    ResourceContents, ResourceTemplate, ResourceUpdatedNotification,
    ResourceUpdatedNotificationParam, ServerNotification, SubscriptionFilter,
};
use rmcp::service::{Peer, SubscriptionContext};
use rmcp::{ErrorData as McpError, RoleServer};
use serde::Serialize;
use serde_json::Value;
use tokio::task::AbortHandle;

use crate::devin::models::Session;
use crate::devin::{DevinClient, SessionRef};
use crate::mcp::errors::ToolError;
use crate::mcp::views::StatusView;
use crate::mcp::watch::{Snapshot, Subscription, Watcher};

const SCHEME_PREFIX: &str = "devin://sessions/";
const MESSAGES_SUFFIX: &str = "/messages";
const JSON: &str = "application/json";

/// Which resource a URI names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionResource {
    Session(SessionRef),
    Messages(SessionRef),
}

impl SessionResource {
    /// Parses `devin://sessions/{devin_id}` or `devin://sessions/{devin_id}/messages`.
    pub fn parse(uri: &str) -> Result<Self, McpError> {
        let not_found = || {
            McpError::resource_not_found(
                format!(
                    "no resource '{uri}'; this server has devin://sessions/{{devin_id}} and \
                     devin://sessions/{{devin_id}}/messages"
                ),
                Some(serde_json::json!({ "uri": uri })),
            )
        };
        let rest = uri.strip_prefix(SCHEME_PREFIX).ok_or_else(not_found)?;
        let (id, messages) = match rest.strip_suffix(MESSAGES_SUFFIX) {
            Some(id) => (id, true),
            None => (rest, false),
        };
        let session = SessionRef::parse(id).map_err(|_| not_found())?;
        Ok(if messages {
            Self::Messages(session)
        } else {
            Self::Session(session)
        })
    }

    pub fn session(&self) -> &SessionRef {
        match self {
            Self::Session(session) | Self::Messages(session) => session,
        }
    }

    pub fn uri(&self) -> String {
        match self {
            Self::Session(session) => format!("{SCHEME_PREFIX}{}", session.devin_id()),
            Self::Messages(session) => {
                format!("{SCHEME_PREFIX}{}{MESSAGES_SUFFIX}", session.devin_id())
            }
        }
    }
}

/// The two resource templates.
pub fn templates() -> Vec<ResourceTemplate> {
    vec![
        ResourceTemplate::new(format!("{SCHEME_PREFIX}{{devin_id}}"), "session")
            .with_description("A Devin session: status, flags and structured output, as JSON.")
            .with_mime_type(JSON),
        ResourceTemplate::new(
            format!("{SCHEME_PREFIX}{{devin_id}}{MESSAGES_SUFFIX}"),
            "messages",
        )
        .with_description("The messages of a Devin session, oldest first, as JSON.")
        .with_mime_type(JSON),
    ]
}

/// A session as its resource shows it.
#[derive(Serialize)]
struct SessionDocument {
    #[serde(flatten)]
    status: StatusView,
    structured_output: Option<Value>,
}

impl SessionDocument {
    fn of(session: &Session) -> Self {
        Self {
            status: StatusView::from(session),
            structured_output: session.structured_output.clone(),
        }
    }
}

/// Reads a resource as JSON text.
pub async fn read(
    client: &DevinClient,
    resource: &SessionResource,
) -> Result<ResourceContents, McpError> {
    let session = resource.session();
    let failed = |error: crate::devin::DevinError| {
        let message = ToolError::from_devin(&error, Some(session)).0;
        match error.api_kind() {
            Some(crate::devin::ApiErrorKind::NotFound) => McpError::resource_not_found(
                message,
                Some(serde_json::json!({ "uri": resource.uri() })),
            ),
            _ => McpError::internal_error(message, None),
        }
    };
    let text = match resource {
        SessionResource::Session(_) => {
            let answer = client.get_session(session).await.map_err(failed)?;
            serde_json::to_string_pretty(&SessionDocument::of(&answer))
        }
        SessionResource::Messages(_) => {
            let messages = client.list_all_messages(session).await.map_err(failed)?;
            serde_json::to_string_pretty(&serde_json::json!({
                "session_id": session.devin_id(),
                "messages": messages,
            }))
        }
    }
    .map_err(|error| {
        McpError::internal_error(format!("cannot encode the resource: {error}"), None)
    })?;
    Ok(ResourceContents::text(text, resource.uri()).with_mime_type(JSON))
}

/// Live `resources/subscribe` subscriptions (protocol 2025-11-25): each forwards its
/// session's changes to one client until it is unsubscribed or the client goes away. They are
/// kept per client (its MCP session id; empty on stdio) and URI, so that one client's
/// unsubscribe stops only its own.
#[derive(Clone, Default)]
pub struct Subscriptions {
    forwarders: Arc<Mutex<HashMap<(String, String), AbortHandle>>>,
}

impl Subscriptions {
    /// Starts telling `peer` whenever the resource at `uri` changes. Notifications name the
    /// resource by `uri` as the client wrote it, so that the client recognises it. A second
    /// subscribe of one client to one URI replaces the first.
    pub fn subscribe(
        &self,
        watcher: &Watcher,
        client: String,
        uri: String,
        resource: SessionResource,
        peer: Peer<RoleServer>,
    ) {
        let subscription = watcher.subscribe(resource.session());
        let notify_uri = uri.clone();
        let watching = peer.clone();
        let task = tokio::spawn(forward_changes(
            subscription,
            resource,
            // A client that went away (or whose MCP session ended) takes its reason to poll
            // with it, even while its Devin session sits still and nothing is ever sent.
            move || watching.is_transport_closed(),
            move || {
                let peer = peer.clone();
                let param = ResourceUpdatedNotificationParam::new(notify_uri.clone());
                async move { peer.notify_resource_updated(param).await.is_ok() }
            },
        ));
        let mut forwarders = self.forwarders.lock().unwrap_or_else(|e| e.into_inner());
        // Forwarders whose client went away have ended on their own; forget them.
        forwarders.retain(|_, handle| !handle.is_finished());
        if let Some(previous) = forwarders.insert((client, uri), task.abort_handle()) {
            previous.abort();
        }
    }

    /// Stops `client`'s subscription to the resource at `uri`.
    pub fn unsubscribe(&self, client: &str, uri: &str) {
        let mut forwarders = self.forwarders.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(handle) = forwarders.remove(&(client.to_owned(), uri.to_owned())) {
            handle.abort();
        }
    }
}

/// The part of a `subscriptions/listen` filter (protocol 2026-07-28) this server serves: the
/// resource subscriptions that name one of its resources. It has no list-changed
/// notifications, since its tools, prompts and templates never change.
pub fn accepted_filter(requested: &SubscriptionFilter) -> SubscriptionFilter {
    let uris = requested
        .resource_subscriptions
        .iter()
        .flatten()
        .filter(|uri| SessionResource::parse(uri).is_ok());
    SubscriptionFilter::builder()
        .resource_subscriptions(uris.cloned())
        .build()
}

/// Serves one `subscriptions/listen` stream: forwards the changes of every accepted resource
/// until the client cancels the request or goes away. The pollers stop with it.
pub async fn listen(watcher: &Watcher, context: SubscriptionContext) {
    let uris = context
        .accepted()
        .resource_subscriptions
        .clone()
        .unwrap_or_default();
    let mut forwarders = tokio::task::JoinSet::new();
    for uri in uris {
        let Ok(resource) = SessionResource::parse(&uri) else {
            continue;
        };
        let subscription = watcher.subscribe(resource.session());
        let sink = context.sink().clone();
        // The stream's own end (cancel or disconnect) stops every forwarder below.
        forwarders.spawn(forward_changes(
            subscription,
            resource,
            || false,
            move || {
                let sink = sink.clone();
                let update = ResourceUpdatedNotification::new(
                    ResourceUpdatedNotificationParam::new(uri.clone()),
                );
                async move {
                    sink.send(ServerNotification::ResourceUpdatedNotification(update))
                        .await
                        .is_ok()
                }
            },
        ));
    }
    context.cancelled().await;
    // The forwarders hold the subscriptions; with the last one gone, a poller stops.
    forwarders.abort_all();
}

/// Calls `notify` each time the resource's content changes, until the client is gone (`gone`
/// says so, checked on every poll, or `notify` fails) or the session's poller stops for
/// good. Polls that find nothing new stay silent.
async fn forward_changes<G, F, Fut>(
    mut subscription: Subscription,
    resource: SessionResource,
    gone: G,
    mut notify: F,
) where
    G: Fn() -> bool,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    // Any answer will do as the starting point: only later changes are news.
    let mut seen = fingerprint(&resource, &subscription.first(Duration::MAX).await);
    while subscription.changed().await {
        if gone() {
            return;
        }
        let now = fingerprint(&resource, &subscription.current());
        if now == seen {
            continue;
        }
        seen = now;
        if !notify().await {
            return;
        }
    }
}

/// What a reader of the resource would see change: the session document, or the number of
/// messages and the last one's id. `None` until the session has been read once.
fn fingerprint(resource: &SessionResource, snapshot: &Snapshot) -> Option<Value> {
    match resource {
        SessionResource::Session(_) => snapshot
            .session
            .as_ref()
            .and_then(|session| serde_json::to_value(SessionDocument::of(session)).ok()),
        SessionResource::Messages(_) => {
            let last = snapshot.messages.last().map(|m| m.event_id.clone());
            Some(serde_json::json!([snapshot.messages.len(), last]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_parse_both_resources_and_round_trip() {
        let hex = "0123456789abcdef0123456789abcdef";
        let session = SessionResource::parse(&format!("devin://sessions/devin-{hex}")).unwrap();
        assert_eq!(session.uri(), format!("devin://sessions/devin-{hex}"));
        let bare = SessionResource::parse(&format!("devin://sessions/{hex}/messages")).unwrap();
        assert_eq!(bare.uri(), format!("devin://sessions/devin-{hex}/messages"));
        for bad in [
            "devin://sessions/",
            "https://x/y",
            "devin://sessions/a b/messages",
        ] {
            assert!(SessionResource::parse(bad).is_err(), "{bad}");
        }
    }
}
