//! The six core session tools: create a session, follow up, read status, read structured
//! output, list attachments, terminate.

use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::devin::models::{
    CreateSessionRequest, DevinMode, SendMessageRequest, Session, SessionSecret,
};
use crate::devin::{ApiErrorKind, SessionRef};
use crate::mcp::errors::ToolError;
use crate::mcp::schema_check::check_structured_output_schema;
use crate::mcp::server::DevinMcp;
use crate::mcp::tools::wait::wait_duration;
use crate::mcp::views::{
    AttachmentView, AttachmentsView, CreatedView, SessionView, StatusView, StructuredOutputView,
    TerminateView,
};
use crate::mcp::wait::{self, Conditions, WaitSpec};

/// Arguments of `create_session`: every create field of the API.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSessionParams {
    /// The task for Devin, in plain language.
    pub prompt: String,
    pub title: Option<String>,
    pub tags: Option<Vec<String>>,
    pub playbook_id: Option<String>,
    pub knowledge_ids: Option<Vec<String>>,
    pub secret_ids: Option<Vec<String>>,
    /// owner/repo names Devin may use.
    pub repos: Option<Vec<String>>,
    /// ACU cap for this session; positive.
    pub max_acu_limit: Option<i64>,
    /// JSON Schema (Draft 7, self-contained, max 64 KB) for the structured output.
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    pub structured_output_schema: Option<Value>,
    pub structured_output_required: Option<bool>,
    pub attachment_urls: Option<Vec<String>>,
    /// Secrets for this session only; never echoed back.
    pub session_secrets: Option<Vec<SessionSecret>>,
    pub create_as_user_id: Option<String>,
    pub bypass_approval: Option<bool>,
    pub devin_mode: Option<ModeParam>,
    pub child_playbook_id: Option<String>,
    pub platform: Option<String>,
    pub session_links: Option<Vec<String>>,
    /// Then wait up to this many seconds (at most 3600) for the session to settle.
    pub wait_seconds: Option<u64>,
}

/// `devin_mode` values a caller may send.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ModeParam {
    Normal,
    Fast,
}

/// Arguments naming one session.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionParams {
    /// devin-<id>, a bare id, or a session URL.
    pub session_id: String,
}

/// Arguments of `send_message`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessageParams {
    /// devin-<id>, a bare id, or a session URL.
    pub session_id: String,
    pub message: String,
    pub attachment_urls: Option<Vec<String>>,
    pub message_as_user_id: Option<String>,
}

/// Arguments of `terminate`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TerminateParams {
    /// devin-<id>, a bare id, or a session URL.
    pub session_id: String,
    /// Also archive it, to keep it for reference.
    #[serde(default)]
    pub archive: bool,
}

/// Parses a `session_id` argument into a reference, or says which forms are accepted.
pub(crate) fn session_ref(input: &str) -> Result<SessionRef, ToolError> {
    SessionRef::parse(input).map_err(|error| ToolError::invalid(error.to_string()))
}

impl DevinMcp {
    /// Reads a session named by any accepted id form.
    async fn fetch_session(&self, session_id: &str) -> Result<Session, ToolError> {
        let session = session_ref(session_id)?;
        self.client()
            .get_session(&session)
            .await
            .map_err(|error| ToolError::from_devin(&error, Some(&session)))
    }
}

impl CreateSessionParams {
    /// Checks what the API would refuse only after billing starts, and builds the request.
    pub(crate) fn into_request(self) -> Result<CreateSessionRequest, ToolError> {
        if self.prompt.trim().is_empty() {
            return Err(ToolError::invalid(
                "prompt is empty; describe the task for Devin",
            ));
        }
        if let Some(limit) = self.max_acu_limit.filter(|limit| *limit <= 0) {
            return Err(ToolError::invalid(format!(
                "max_acu_limit must be a positive number of ACUs, not {limit}"
            )));
        }
        if let Some(schema) = &self.structured_output_schema {
            check_structured_output_schema(schema).map_err(ToolError::invalid)?;
        }
        for secret in self.session_secrets.iter().flatten() {
            if secret.key.is_empty() || secret.key.chars().count() > 256 {
                return Err(ToolError::invalid(
                    "each session_secrets key must have 1 to 256 characters",
                ));
            }
            if secret.value.chars().count() > 65_536 {
                return Err(ToolError::invalid(format!(
                    "the value of session secret '{}' is longer than 65536 characters",
                    secret.key
                )));
            }
        }
        Ok(CreateSessionRequest {
            prompt: self.prompt,
            title: self.title,
            tags: self.tags,
            playbook_id: self.playbook_id,
            child_playbook_id: self.child_playbook_id,
            knowledge_ids: self.knowledge_ids,
            secret_ids: self.secret_ids,
            repos: self.repos,
            max_acu_limit: self.max_acu_limit,
            structured_output_schema: self.structured_output_schema,
            structured_output_required: self.structured_output_required,
            attachment_urls: self.attachment_urls,
            session_secrets: self.session_secrets,
            create_as_user_id: self.create_as_user_id,
            bypass_approval: self.bypass_approval,
            devin_mode: self.devin_mode.map(|mode| match mode {
                ModeParam::Normal => DevinMode::Normal,
                ModeParam::Fast => DevinMode::Fast,
            }),
            platform: self.platform,
            session_links: self.session_links,
        })
    }
}

#[tool_router(router = session_tools, vis = "pub(crate)")]
impl DevinMcp {
    #[tool(
        description = "Start a Devin session on a task. Returns its session_id at once (or after \
                       wait_seconds); Devin works for minutes to hours. Give \
                       structured_output_schema to get a JSON result back.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            open_world_hint = true
        )
    )]
    pub async fn create_session(
        &self,
        Parameters(params): Parameters<CreateSessionParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<Json<CreatedView>, ToolError> {
        let wait_for = wait_duration(params.wait_seconds)?.filter(|d| !d.is_zero());
        let request = params.into_request()?;
        let session = self
            .client()
            .create_session(&request)
            .await
            .map_err(|error| ToolError::from_create(&error, &request))?;
        let mut view = CreatedView::new(&session);
        let Some(timeout) = wait_for else {
            return Ok(Json(view));
        };
        let spec = WaitSpec {
            sessions: vec![session_ref(&session.session_id)?],
            all: false,
            timeout,
            conditions: Conditions::default(),
        };
        let progress = wait::progress_of(&context);
        // The session exists whatever happens next. A client that cancels, or whose call is
        // cut off, never reads the answer, so the id goes out first as progress.
        if let Some(progress) = &progress {
            let message = format!("created {} ({})", view.session.session_id, view.session.url);
            progress.send(0.0, timeout.as_secs_f64(), message).await;
        }
        match wait::wait(self.watcher(), spec, progress, context.ct.clone()).await {
            Ok(outcome) => {
                if let Some(state) = outcome.sessions.into_iter().next() {
                    view.waited(outcome.timed_out, state);
                }
            }
            Err(_) => view.timed_out = Some(true),
        }
        Ok(Json(view))
    }

    #[tool(
        description = "Send a follow-up message to a session: answer its question, add \
                       instructions. Resumes a suspended session.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            open_world_hint = true
        )
    )]
    pub async fn send_message(
        &self,
        Parameters(params): Parameters<SendMessageParams>,
    ) -> Result<Json<SessionView>, ToolError> {
        let session = session_ref(&params.session_id)?;
        if params.message.trim().is_empty() {
            return Err(ToolError::invalid(
                "message is empty; write what Devin should do",
            ));
        }
        let request = SendMessageRequest {
            message: params.message,
            message_as_user_id: params.message_as_user_id,
            attachment_urls: params.attachment_urls,
        };
        let answer = self
            .client()
            .send_message(&session, &request)
            .await
            .map_err(|error| ToolError::from_devin(&error, Some(&session)))?;
        Ok(Json(SessionView::from(&answer)))
    }

    #[tool(
        description = "Get a session's status: is_finished, needs_input (answer with \
                       send_message), is_terminal, pull requests, ACUs used.",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = true)
    )]
    pub async fn get_status(
        &self,
        Parameters(params): Parameters<SessionParams>,
    ) -> Result<Json<StatusView>, ToolError> {
        Ok(Json(StatusView::from(
            &self.fetch_session(&params.session_id).await?,
        )))
    }

    #[tool(
        description = "Get the latest structured output of a session (null until Devin first \
                       writes it), with its status, to judge whether it is final.",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = true)
    )]
    pub async fn get_structured_output(
        &self,
        Parameters(params): Parameters<SessionParams>,
    ) -> Result<Json<StructuredOutputView>, ToolError> {
        let session = self.fetch_session(&params.session_id).await?;
        Ok(Json(StructuredOutputView::from(&session)))
    }

    #[tool(
        description = "List the files of a session: those given to Devin and those it \
                       produced.",
        annotations(read_only_hint = true, idempotent_hint = true, open_world_hint = true)
    )]
    pub async fn list_attachments(
        &self,
        Parameters(params): Parameters<SessionParams>,
    ) -> Result<Json<AttachmentsView>, ToolError> {
        let session = session_ref(&params.session_id)?;
        let attachments = self
            .client()
            .list_session_attachments(&session)
            .await
            .map_err(|error| ToolError::from_devin(&error, Some(&session)))?;
        Ok(Json(AttachmentsView {
            session_id: session.devin_id(),
            attachments: attachments.iter().map(AttachmentView::from).collect(),
        }))
    }

    #[tool(
        description = "End a session for good (it cannot resume). archive=true also archives \
                       it. Ending an ended session is not an error.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub async fn terminate(
        &self,
        Parameters(params): Parameters<TerminateParams>,
    ) -> Result<Json<TerminateView>, ToolError> {
        let session = session_ref(&params.session_id)?;
        let describe =
            |error: &crate::devin::DevinError| ToolError::from_devin(error, Some(&session));
        let client = self.client();
        // Look first: §10 #9 leaves open what a repeat DELETE answers (200, 400 or 409), so
        // only the session's own status can tell "already ended" from "ended now".
        let current = client
            .get_session(&session)
            .await
            .map_err(|e| describe(&e))?;
        let (answer, already_ended) = if current.status.is_terminal() {
            (current, true)
        } else {
            match client.terminate_session(&session, params.archive).await {
                Ok(answer) => (answer, false),
                // It may have ended between the look and the DELETE.
                Err(error)
                    if matches!(
                        error.api_kind(),
                        Some(ApiErrorKind::Conflict | ApiErrorKind::BadRequest)
                    ) =>
                {
                    let now = client
                        .get_session(&session)
                        .await
                        .map_err(|e| describe(&e))?;
                    if !now.status.is_terminal() {
                        return Err(describe(&error));
                    }
                    (now, true)
                }
                Err(error) => return Err(describe(&error)),
            }
        };
        let answer = if params.archive && !answer.is_archived {
            client
                .archive_session(&session)
                .await
                .map_err(|e| describe(&e))?
        } else {
            answer
        };
        Ok(Json(TerminateView {
            session_id: session.devin_id(),
            status: answer.status.to_string(),
            is_archived: answer.is_archived,
            already_ended,
        }))
    }
}
