//! `create_sessions`: fan out one task per prompt, with shared defaults, tagged as one batch
//! so that the results can be found and waited on together.

use std::collections::HashMap;

use futures::StreamExt;
use rand::Rng;
use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::devin::models::{ListSessionsQuery, Session, SessionSecret};
use crate::mcp::errors::ToolError;
use crate::mcp::server::DevinMcp;
use crate::mcp::tools::sessions::{CreateSessionParams, ModeParam};
use crate::mcp::views::devin_id;
use crate::mcp::wait;

/// The most prompts one batch may carry.
pub const MAX_BATCH: usize = 50;
/// The most sessions created at once.
pub const MAX_PARALLEL: usize = 10;

/// Arguments of `create_sessions`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSessionsParams {
    /// One task per session, 1 to 50.
    pub prompts: Vec<String>,
    /// Create fields shared by every session.
    pub defaults: Option<SessionDefaults>,
    /// Sessions created at once (default 4, at most 10).
    pub max_parallel: Option<usize>,
    /// To finish an earlier batch (after failures or a lost answer): its batch_tag, with the
    /// same prompts. Prompts that already have a session are not created again.
    pub batch_tag: Option<String>,
}

/// The create fields a batch shares.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionDefaults {
    pub tags: Option<Vec<String>>,
    pub playbook_id: Option<String>,
    pub knowledge_ids: Option<Vec<String>>,
    pub secret_ids: Option<Vec<String>>,
    pub repos: Option<Vec<String>>,
    pub max_acu_limit: Option<i64>,
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    pub structured_output_schema: Option<Value>,
    pub structured_output_required: Option<bool>,
    pub session_secrets: Option<Vec<SessionSecret>>,
    pub create_as_user_id: Option<String>,
    pub bypass_approval: Option<bool>,
    pub devin_mode: Option<ModeParam>,
    pub platform: Option<String>,
}

/// The outcome of a batch.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct BatchView {
    /// Tag on every session of the batch.
    pub batch_tag: String,
    pub created: usize,
    pub failed: usize,
    /// One entry per prompt, in prompt order.
    pub sessions: Vec<BatchItemView>,
}

/// One prompt's outcome: a session, or why there is none.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct BatchItemView {
    pub index: usize,
    pub session_id: Option<String>,
    pub url: Option<String>,
    pub error: Option<String>,
    /// The session was created by an earlier call with this batch_tag.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub existed: bool,
}

impl BatchItemView {
    fn created(index: usize, session: Session, existed: bool) -> Self {
        Self {
            index,
            session_id: Some(devin_id(&session.session_id)),
            url: Some(session.url),
            error: None,
            existed,
        }
    }

    fn failed(index: usize, error: ToolError) -> Self {
        Self {
            index,
            session_id: None,
            url: None,
            error: Some(error.0),
            existed: false,
        }
    }
}

impl SessionDefaults {
    /// The create for prompt `index`: tagged with the batch and with its place in it, so that
    /// a later call can tell which prompts already have a session.
    fn for_prompt(&self, prompt: String, batch_tag: &str, index: usize) -> CreateSessionParams {
        let mut tags = self.tags.clone().unwrap_or_default();
        tags.push(batch_tag.to_owned());
        tags.push(item_tag(batch_tag, index));
        CreateSessionParams {
            prompt,
            title: None,
            tags: Some(tags),
            playbook_id: self.playbook_id.clone(),
            knowledge_ids: self.knowledge_ids.clone(),
            secret_ids: self.secret_ids.clone(),
            repos: self.repos.clone(),
            max_acu_limit: self.max_acu_limit,
            structured_output_schema: self.structured_output_schema.clone(),
            structured_output_required: self.structured_output_required,
            attachment_urls: None,
            session_secrets: self.session_secrets.clone(),
            create_as_user_id: self.create_as_user_id.clone(),
            bypass_approval: self.bypass_approval,
            devin_mode: self.devin_mode,
            child_playbook_id: None,
            platform: self.platform.clone(),
            session_links: None,
            wait_seconds: None,
        }
    }
}

/// A tag no other batch will carry.
fn new_batch_tag() -> String {
    let suffix: u64 = rand::rng().random();
    format!("batch-{suffix:016x}")
}

/// Whether `tag` has the form [`new_batch_tag`] gives.
fn is_batch_tag(tag: &str) -> bool {
    tag.strip_prefix("batch-")
        .is_some_and(|hex| hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The tag of prompt `index` within a batch.
fn item_tag(batch_tag: &str, index: usize) -> String {
    format!("{batch_tag}-{index}")
}

/// The sessions an earlier call with `batch_tag` created, by prompt index.
async fn existing_items(
    client: &crate::devin::DevinClient,
    batch_tag: &str,
    prompts: usize,
) -> Result<HashMap<usize, Session>, ToolError> {
    let query = ListSessionsQuery {
        tags: vec![batch_tag.to_owned()],
        ..ListSessionsQuery::default()
    };
    // More than one session per prompt would mean someone else used the tag; cap the walk.
    let sessions = client
        .list_all_sessions(&query, Some(prompts * 2))
        .await
        .map_err(|error| ToolError::from_devin(&error, None))?;
    let mut found = HashMap::new();
    for session in sessions {
        let index = (0..prompts).find(|i| session.tags.contains(&item_tag(batch_tag, *i)));
        if let Some(index) = index {
            found.entry(index).or_insert(session);
        }
    }
    Ok(found)
}

#[tool_router(router = batch_tools, vis = "pub(crate)")]
impl DevinMcp {
    #[tool(
        description = "Start one session per prompt, concurrently, with shared defaults. Tags \
                       them all with a new batch tag and returns every session_id; then \
                       wait_for_sessions with until=all collects the results. Failures are \
                       reported per prompt; call again with the batch_tag to retry only them.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            open_world_hint = true
        )
    )]
    pub async fn create_sessions(
        &self,
        Parameters(params): Parameters<CreateSessionsParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<BatchView>, ToolError> {
        if params.prompts.is_empty() || params.prompts.len() > MAX_BATCH {
            return Err(ToolError::invalid(format!(
                "prompts must hold 1 to {MAX_BATCH} tasks, not {}",
                params.prompts.len()
            )));
        }
        let parallel = params.max_parallel.unwrap_or(4);
        if parallel == 0 || parallel > MAX_PARALLEL {
            return Err(ToolError::invalid(format!(
                "max_parallel must be 1 to {MAX_PARALLEL}, not {parallel}"
            )));
        }
        let defaults = params.defaults.unwrap_or_default();
        let total = params.prompts.len();
        let (batch_tag, mut existing) = match params.batch_tag {
            Some(tag) if is_batch_tag(&tag) => {
                let found = existing_items(self.client(), &tag, total).await?;
                (tag, found)
            }
            Some(_) => {
                return Err(ToolError::invalid(
                    "batch_tag must be one an earlier create_sessions returned (batch-<16 hex>)",
                ));
            }
            None => (new_batch_tag(), HashMap::new()),
        };
        // Check every item before creating any, so a bad prompt does not leave half a batch.
        let requests = params
            .prompts
            .into_iter()
            .enumerate()
            .map(|(index, prompt)| {
                defaults
                    .for_prompt(prompt, &batch_tag, index)
                    .into_request()
                    .map(|request| (index, request))
                    .map_err(|error| ToolError::invalid(format!("prompt {index}: {error}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut sessions: Vec<BatchItemView> = Vec::with_capacity(total);
        let mut to_create = Vec::new();
        for (index, request) in requests {
            match existing.remove(&index) {
                Some(session) => sessions.push(BatchItemView::created(index, session, true)),
                None => to_create.push((index, request)),
            }
        }
        let client = self.client();
        let progress = wait::progress_of(&context);
        let mut creates = futures::stream::iter(to_create)
            .map(|(index, request)| async move {
                // Each create is sent once: a POST is never retried after anything but a 429.
                match client.create_session(&request).await {
                    Ok(session) => BatchItemView::created(index, session, false),
                    Err(error) => {
                        BatchItemView::failed(index, ToolError::from_create(&error, &request))
                    }
                }
            })
            .buffer_unordered(parallel);
        while let Some(item) = creates.next().await {
            if let Some(progress) = &progress {
                // The tag comes first, so that a client whose call is cut off can finish the
                // batch with it rather than start it again.
                let outcome = item.session_id.as_deref().unwrap_or("failed");
                let message = format!("{batch_tag}: prompt {} -> {outcome}", item.index);
                let done = sessions.len() + 1;
                progress.send(done as f64, total as f64, message).await;
            }
            sessions.push(item);
        }
        sessions.sort_by_key(|item| item.index);
        let created = sessions
            .iter()
            .filter(|item| item.session_id.is_some())
            .count();
        Ok(Json(BatchView {
            batch_tag,
            created,
            failed: sessions.len() - created,
            sessions,
        }))
    }
}
