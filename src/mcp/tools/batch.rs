//! `create_sessions`: fan out one task per prompt, with shared defaults, tagged as one batch
//! so that the results can be found and waited on together.

use futures::StreamExt;
use rand::Rng;
use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::devin::models::SessionSecret;
use crate::mcp::errors::ToolError;
use crate::mcp::server::DevinMcp;
use crate::mcp::tools::sessions::{CreateSessionParams, ModeParam};
use crate::mcp::views::devin_id;

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
}

impl SessionDefaults {
    fn for_prompt(&self, prompt: String, batch_tag: &str) -> CreateSessionParams {
        let mut tags = self.tags.clone().unwrap_or_default();
        tags.push(batch_tag.to_owned());
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

#[tool_router(router = batch_tools, vis = "pub(crate)")]
impl DevinMcp {
    #[tool(
        description = "Start one session per prompt, concurrently, with shared defaults. Tags \
                       them all with a new batch tag and returns every session_id; then \
                       wait_for_sessions with until=all collects the results. Failures are \
                       reported per prompt.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            open_world_hint = true
        )
    )]
    pub async fn create_sessions(
        &self,
        Parameters(params): Parameters<CreateSessionsParams>,
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
        let batch_tag = new_batch_tag();
        // Check every item before creating any, so a bad prompt does not leave half a batch.
        let requests = params
            .prompts
            .into_iter()
            .enumerate()
            .map(|(index, prompt)| {
                defaults
                    .for_prompt(prompt, &batch_tag)
                    .into_request()
                    .map_err(|error| ToolError::invalid(format!("prompt {index}: {error}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let client = self.client();
        let mut sessions: Vec<BatchItemView> =
            futures::stream::iter(requests.into_iter().enumerate())
                .map(|(index, request)| async move {
                    // Each create is sent once: a POST is never retried after anything but a 429.
                    match client.create_session(&request).await {
                        Ok(session) => BatchItemView {
                            index,
                            session_id: Some(devin_id(&session.session_id)),
                            url: Some(session.url),
                            error: None,
                        },
                        Err(error) => BatchItemView {
                            index,
                            session_id: None,
                            url: None,
                            error: Some(ToolError::from_create(&error, &request).0),
                        },
                    }
                })
                .buffer_unordered(parallel)
                .collect()
                .await;
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
