//! The `/v3/...` handlers: authentication, request validation, pagination and the mapping
//! of store results to HTTP answers (§4.1–4.3, §7).
//!
//! Handlers read bodies and query strings themselves instead of through axum's `Json` and
//! `Query` extractors: the API's array parameters come repeated *and* comma-separated
//! (§2.2), and every rejection must be a ProblemDetail with field-level `errors` (§2.3),
//! never a plain-text extractor message. No input may panic a handler.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::PathRejection;
use axum::extract::{Multipart, Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::problem::{ApiError, field_error};
use super::state::{ListFilter, MAX_TAGS, StoreError};
use super::{KeyInfo, Shared};
use crate::devin::SessionRef;
use crate::devin::models::{
    CreateSessionRequest, FieldError, Page, Principal, SendMessageRequest, Session,
};

type AppState = State<Arc<Shared>>;
type ApiResult = Result<Response, ApiError>;

/// VM platform labels `platform` accepts on create.
const PLATFORMS: &[&str] = &["inherit", "default", "linux", "windows", "macos"];
/// Largest `structured_output_schema`, serialized (§4.2.1).
const MAX_SCHEMA_BYTES: usize = 64 * 1024;
/// Longest `attachment_urls` entry.
const MAX_URL_CHARS: usize = 2083;
const MAX_SECRET_KEY_CHARS: usize = 256;
const MAX_SECRET_VALUE_CHARS: usize = 65_536;
/// Page size bounds and default (§2.1).
const MAX_FIRST: usize = 200;
const DEFAULT_FIRST: usize = 100;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let org = "/v3/organizations/{org_id}";
    Router::new()
        .route("/v3/self", get(get_self))
        .route(
            &format!("{org}/sessions"),
            post(create_session).get(list_sessions),
        )
        .route(
            &format!("{org}/sessions/{{devin_id}}"),
            get(get_session).delete(delete_session),
        )
        .route(
            &format!("{org}/sessions/{{devin_id}}/archive"),
            post(archive_session),
        )
        .route(
            &format!("{org}/sessions/{{devin_id}}/messages"),
            post(send_message).get(list_messages),
        )
        .route(
            &format!("{org}/sessions/{{devin_id}}/attachments"),
            get(list_attachments),
        )
        .route(
            &format!("{org}/sessions/{{devin_id}}/tags"),
            get(get_tags).post(append_tags).put(replace_tags),
        )
        .route(&format!("{org}/attachments"), post(upload))
        .route(
            &format!("{org}/attachments/{{attachment_id}}/{{name}}"),
            get(download),
        )
        .route("/_sim/blobs/{attachment_id}/{name}", get(blob))
        .with_state(shared)
}

// Authentication (§1.2, §7.1).

/// The principal behind the bearer token, or 401.
fn principal<'a>(shared: &'a Shared, headers: &HeaderMap) -> Result<&'a KeyInfo, ApiError> {
    let value = headers.get(header::AUTHORIZATION).ok_or_else(|| {
        ApiError::unauthorized("Missing Authorization header with a bearer token")
    })?;
    let text = value
        .to_str()
        .map_err(|_| ApiError::unauthorized("Authorization header is not valid text"))?;
    let token = match text.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => {
            return Err(ApiError::unauthorized(
                "Authorization must be 'Bearer <cog_ key>'",
            ));
        }
    };
    if !token.starts_with("cog_") {
        return Err(ApiError::unauthorized(
            "v3 accepts only service user keys starting with cog_",
        ));
    }
    // Constant-time comparison, as a real server would do with credentials.
    shared
        .keys
        .iter()
        .find(|info| bool::from(info.key.as_bytes().ct_eq(token.as_bytes())))
        .ok_or_else(|| ApiError::unauthorized("Invalid or expired API key"))
}

/// The principal, which must belong to `org_id`, or 401/403.
fn org_principal<'a>(
    shared: &'a Shared,
    headers: &HeaderMap,
    org_id: &str,
) -> Result<&'a KeyInfo, ApiError> {
    let info = principal(shared, headers)?;
    if info.org_id.as_deref() != Some(org_id) {
        return Err(ApiError::forbidden(format!(
            "This API key has no permission in organization {org_id}"
        )));
    }
    Ok(info)
}

// Request parsing helpers.

fn path<T>(extracted: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    extracted.map(|Path(value)| value).map_err(|rejection| {
        ApiError::bad_request(format!(
            "Malformed path parameter: {}",
            rejection.body_text()
        ))
    })
}

/// The `devin_id` path parameter in bare form; malformed ids are a 400 (§2.3).
fn session_ref(devin_id: &str) -> Result<SessionRef, ApiError> {
    SessionRef::parse(devin_id).map_err(|error| ApiError::bad_request(error.to_string()))
}

fn session_not_found(reference: &SessionRef) -> ApiError {
    ApiError::not_found(format!("Session not found: {}", reference.devin_id()))
}

fn store_error(error: StoreError, reference: &SessionRef) -> ApiError {
    match error {
        StoreError::NotFound => session_not_found(reference),
        StoreError::Conflict(detail) => ApiError::conflict(detail),
        StoreError::TooManyTags(count) => ApiError::invalid(
            &["body", "tags"],
            format!("A session can have at most {MAX_TAGS} tags; this would make {count}"),
            "too_long",
        ),
    }
}

/// A JSON object body, or a 422 saying why not.
fn json_object(body: &Bytes) -> Result<serde_json::Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::invalid(
            &["body"],
            "Input should be a JSON object",
            "model_attributes_type",
        )),
        Err(error) => Err(ApiError::invalid(
            &["body"],
            format!("JSON decode error: {error}"),
            "json_invalid",
        )),
    }
}

/// Checks that `field` is a non-empty string, as FastAPI reports it.
fn require_string(map: &serde_json::Map<String, Value>, field: &str) -> Option<FieldError> {
    match map.get(field) {
        None | Some(Value::Null) => {
            Some(field_error(&["body", field], "Field required", "missing"))
        }
        Some(Value::String(text)) if text.is_empty() => Some(field_error(
            &["body", field],
            "String should have at least 1 character",
            "string_too_short",
        )),
        Some(Value::String(_)) => None,
        Some(_) => Some(field_error(
            &["body", field],
            "Input should be a valid string",
            "string_type",
        )),
    }
}

/// Decodes the checked object into the request type; type mismatches become a 422.
fn decode<T: DeserializeOwned>(map: serde_json::Map<String, Value>) -> Result<T, ApiError> {
    serde_json::from_value(Value::Object(map))
        .map_err(|error| ApiError::invalid(&["body"], error.to_string(), "value_error"))
}

fn check_attachment_urls(urls: &[String], errors: &mut Vec<FieldError>) {
    for (index, url) in urls.iter().enumerate() {
        let chars = url.chars().count();
        if chars == 0 || chars > MAX_URL_CHARS {
            errors.push(FieldError {
                loc: vec![json!("body"), json!("attachment_urls"), json!(index)],
                msg: format!("URL must be 1..{MAX_URL_CHARS} characters long"),
                error_type: "string_length".to_owned(),
            });
        }
    }
}

/// Query parameters, repeated keys merged (§2.2).
struct QueryParams(HashMap<String, Vec<String>>);

impl QueryParams {
    fn parse(raw: Option<&str>) -> Self {
        let mut params: HashMap<String, Vec<String>> = HashMap::new();
        for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            params
                .entry(key.into_owned())
                .or_default()
                .push(value.into_owned());
        }
        Self(params)
    }

    /// Every value of an array parameter, repeated and comma-separated forms alike.
    fn list(&self, key: &str) -> Vec<String> {
        self.0
            .get(key)
            .into_iter()
            .flatten()
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// A scalar parameter; when repeated, the last value wins.
    fn one(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .and_then(|values| values.last())
            .map(String::as_str)
    }

    fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.one(key)
            .map(|text| {
                text.trim().parse::<i64>().map_err(|_| {
                    ApiError::invalid(
                        &["query", key],
                        "Input should be a valid integer",
                        "int_parsing",
                    )
                })
            })
            .transpose()
    }

    fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        self.one(key)
            .map(|text| match text.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err(ApiError::invalid(
                    &["query", key],
                    "Input should be a valid boolean",
                    "bool_parsing",
                )),
            })
            .transpose()
    }

    /// `first`, defaulting to 100 and bounded to 1..200 (§2.1).
    fn first(&self) -> Result<usize, ApiError> {
        let Some(value) = self.int("first")? else {
            return Ok(DEFAULT_FIRST);
        };
        usize::try_from(value)
            .ok()
            .filter(|first| (1..=MAX_FIRST).contains(first))
            .ok_or_else(|| {
                ApiError::invalid(
                    &["query", "first"],
                    format!("Input should be between 1 and {MAX_FIRST}"),
                    "less_than_equal",
                )
            })
    }
}

// Cursors: opaque to clients; here base64 of a small JSON object.

fn encode_cursor(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

fn decode_cursor(text: &str) -> Result<Value, ApiError> {
    let bad = || {
        ApiError::invalid(
            &["query", "after"],
            "Invalid pagination cursor",
            "value_error",
        )
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|_| bad())?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(bad())
    }
}

/// One page of `items`, starting at `start`; the cursor of the last item comes from
/// `cursor_of` when more follow.
fn page<T: Clone>(
    items: &[T],
    start: usize,
    first: usize,
    cursor_of: impl Fn(&T, usize) -> Value,
) -> Page<T> {
    let start = start.min(items.len());
    let end = start.saturating_add(first).min(items.len());
    let slice = items.get(start..end).unwrap_or_default().to_vec();
    let has_next_page = end < items.len();
    let end_cursor = match slice.last() {
        Some(last) if has_next_page => Some(encode_cursor(&cursor_of(last, end))),
        _ => None,
    };
    Page {
        items: slice,
        end_cursor,
        has_next_page,
        total: Some(items.len() as u64),
    }
}

fn json<T: serde::Serialize>(value: T) -> ApiResult {
    Ok(Json(value).into_response())
}

// Handlers.

async fn get_self(State(shared): AppState, headers: HeaderMap) -> ApiResult {
    let info = principal(&shared, &headers)?;
    json(Principal {
        principal_type: "service_user".to_owned(),
        org_id: info.org_id.clone(),
        service_user_id: Some(info.service_user_id.clone()),
        service_user_name: Some(info.service_user_name.clone()),
        user_id: None,
        user_name: None,
        api_key_id: None,
        api_key_name: None,
    })
}

async fn create_session(
    State(shared): AppState,
    headers: HeaderMap,
    org_id: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> ApiResult {
    let org_id = path(org_id)?;
    let info = org_principal(&shared, &headers, &org_id)?;
    let map = json_object(&body)?;
    if let Some(error) = require_string(&map, "prompt") {
        return Err(ApiError::validation(vec![error]));
    }
    let schema_size = map
        .get("structured_output_schema")
        .map(|s| s.to_string().len());
    let request: CreateSessionRequest = decode(map)?;
    let mut errors = Vec::new();
    for (index, secret) in request.session_secrets.iter().flatten().enumerate() {
        let key_chars = secret.key.chars().count();
        if key_chars == 0 || key_chars > MAX_SECRET_KEY_CHARS {
            errors.push(FieldError {
                loc: vec![
                    json!("body"),
                    json!("session_secrets"),
                    json!(index),
                    json!("key"),
                ],
                msg: format!("Secret key must be 1..{MAX_SECRET_KEY_CHARS} characters long"),
                error_type: "string_length".to_owned(),
            });
        }
        if secret.value.chars().count() > MAX_SECRET_VALUE_CHARS {
            // The message names the limit only, never the value.
            errors.push(FieldError {
                loc: vec![
                    json!("body"),
                    json!("session_secrets"),
                    json!(index),
                    json!("value"),
                ],
                msg: format!("Secret value must be at most {MAX_SECRET_VALUE_CHARS} characters"),
                error_type: "string_too_long".to_owned(),
            });
        }
    }
    if let Some(schema) = &request.structured_output_schema {
        if schema_size.unwrap_or(0) > MAX_SCHEMA_BYTES {
            errors.push(field_error(
                &["body", "structured_output_schema"],
                format!("Schema must be at most {MAX_SCHEMA_BYTES} bytes"),
                "too_long",
            ));
        } else if !schema.is_object() {
            errors.push(field_error(
                &["body", "structured_output_schema"],
                "Schema must be a JSON object",
                "dict_type",
            ));
        } else if let Err(error) = jsonschema::validator_for(schema) {
            errors.push(field_error(
                &["body", "structured_output_schema"],
                format!("Not a valid self-contained JSON Schema: {error}"),
                "value_error",
            ));
        }
    }
    check_attachment_urls(
        request.attachment_urls.as_deref().unwrap_or_default(),
        &mut errors,
    );
    if request.max_acu_limit.is_some_and(|limit| limit <= 0) {
        errors.push(field_error(
            &["body", "max_acu_limit"],
            "Input should be greater than 0",
            "greater_than",
        ));
    }
    if let Some(tags) = &request.tags
        && tags.len() > MAX_TAGS
    {
        errors.push(field_error(
            &["body", "tags"],
            format!("A session can have at most {MAX_TAGS} tags"),
            "too_long",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    if let Some(platform) = &request.platform
        && !PLATFORMS.contains(&platform.as_str())
    {
        return Err(ApiError::bad_request(format!(
            "Unknown platform '{platform}'; valid labels: {}",
            PLATFORMS.join(", ")
        )));
    }
    if let Some(playbook) = &request.playbook_id
        && !playbook.starts_with("playbook-")
    {
        return Err(ApiError::not_found(format!(
            "Playbook not found: {playbook}"
        )));
    }
    let service_user = info.service_user_id.clone();
    let session = shared.store().create(request, &service_user);
    tracing::debug!(session = %session.session_id, "simulated session created");
    json(session)
}

async fn list_sessions(
    State(shared): AppState,
    headers: HeaderMap,
    org_id: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let org_id = path(org_id)?;
    org_principal(&shared, &headers, &org_id)?;
    let params = QueryParams::parse(query.as_deref());
    let first = params.first()?;
    let after = params.one("after").map(decode_cursor).transpose()?;
    let filter = ListFilter {
        session_ids: params
            .list("session_ids")
            .into_iter()
            .map(|id| {
                SessionRef::parse(&id)
                    .map(|r| r.bare().to_owned())
                    .unwrap_or(id)
            })
            .collect(),
        tags: params.list("tags"),
        origins: params.list("origins"),
        user_ids: params.list("user_ids"),
        service_user_ids: params.list("service_user_ids"),
        repo_names: params.list("repo_names"),
        created_after: params.int("created_after")?,
        created_before: params.int("created_before")?,
        updated_after: params.int("updated_after")?,
        updated_before: params.int("updated_before")?,
        playbook_id: params.one("playbook_id").map(str::to_owned),
        schedule_id: params.one("schedule_id").map(str::to_owned),
        is_archived: params.bool("is_archived")?,
        category: params.one("category").map(str::to_owned),
    };
    let sessions = shared.store().list(&filter);
    let start = match after {
        None => 0,
        Some(cursor) => {
            let created = cursor.get("created_at").and_then(Value::as_i64);
            let id = cursor.get("session_id").and_then(Value::as_str);
            let (Some(created), Some(id)) = (created, id) else {
                return Err(ApiError::invalid(
                    &["query", "after"],
                    "Invalid pagination cursor",
                    "value_error",
                ));
            };
            // The first session after the cursor in list order; robust to inserts.
            sessions
                .iter()
                .position(|s| {
                    s.created_at < created
                        || (s.created_at == created && s.session_id.as_str() > id)
                })
                .unwrap_or(sessions.len())
        }
    };
    json(page(&sessions, start, first, session_cursor))
}

/// The list cursor: the sort key of the last session shown.
fn session_cursor(session: &Session, _end: usize) -> Value {
    json!({"created_at": session.created_at, "session_id": session.session_id})
}

async fn get_session(
    State(shared): AppState,
    headers: HeaderMap,
    ids: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult {
    let (org_id, devin_id) = path(ids)?;
    org_principal(&shared, &headers, &org_id)?;
    let reference = session_ref(&devin_id)?;
    let session = shared
        .store()
        .view(reference.bare())
        .ok_or_else(|| session_not_found(&reference))?;
    json(session)
}

async fn delete_session(
    State(shared): AppState,
    headers: HeaderMap,
    ids: Result<Path<(String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let (org_id, devin_id) = path(ids)?;
    org_principal(&shared, &headers, &org_id)?;
    let reference = session_ref(&devin_id)?;
    let archive = QueryParams::parse(query.as_deref())
        .bool("archive")?
        .unwrap_or(false);
    let result = shared.store().terminate(reference.bare(), archive);
    json(result.map_err(|error| store_error(error, &reference))?)
}

async fn archive_session(
    State(shared): AppState,
    headers: HeaderMap,
    ids: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult {
    let (org_id, devin_id) = path(ids)?;
    org_principal(&shared, &headers, &org_id)?;
    let reference = session_ref(&devin_id)?;
    let result = shared.store().archive(reference.bare());
    json(result.map_err(|error| store_error(error, &reference))?)
}

async fn send_message(
    State(shared): AppState,
    headers: HeaderMap,
    ids: Result<Path<(String, String)>, PathRejection>,
    body: Bytes,
) -> ApiResult {
    let (org_id, devin_id) = path(ids)?;
    org_principal(&shared, &headers, &org_id)?;
    let reference = session_ref(&devin_id)?;
    let map = json_object(&body)?;
    if let Some(error) = require_string(&map, "message") {
        return Err(ApiError::validation(vec![error]));
    }
    let request: SendMessageRequest = decode(map)?;
    let urls = request.attachment_urls.unwrap_or_default();
    let mut errors = Vec::new();
    check_attachment_urls(&urls, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let result = shared
        .store()
        .send_message(reference.bare(), &request.message, &urls);
    json(result.map_err(|error| store_error(error, &reference))?)
}

async fn list_messages(
    State(shared): AppState,
    headers: HeaderMap,
    ids: Result<Path<(String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
) -> ApiResult {
    let (org_id, devin_id) = path(ids)?;
    org_principal(&shared, &headers, &org_id)?;
    let reference = session_ref(&devin_id)?;
    let params = QueryParams::parse(query.as_deref());
    let first = params.first()?;
    let start = match params.one("after").map(decode_cursor).transpose()? {
        None => 0,
        Some(cursor) => cursor
            .get("offset")
            .and_then(Value::as_u64)
            .and_then(|offset| usize::try_from(offset).ok())
            .ok_or_else(|| {
                ApiError::invalid(
                    &["query", "after"],
                    "Invalid pagination cursor",
                    "value_error",
                )
            })?,
    };
    let messages = shared.store().messages(reference.bare());
    let messages = messages.map_err(|error| store_error(error, &reference))?;
    json(page(
        &messages,
        start,
        first,
        |_, end| json!({"offset": end}),
    ))
}

async fn list_attachments(
    State(shared): AppState,
    headers: HeaderMap,
    ids: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult {
    let (org_id, devin_id) = path(ids)?;
    org_principal(&shared, &headers, &org_id)?;
    let reference = session_ref(&devin_id)?;
    let attachments = shared.store().attachments(reference.bare());
    json(attachments.map_err(|error| store_error(error, &reference))?)
}

async fn get_tags(
    State(shared): AppState,
    headers: HeaderMap,
    ids: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult {
    let (org_id, devin_id) = path(ids)?;
    org_principal(&shared, &headers, &org_id)?;
    let reference = session_ref(&devin_id)?;
    let tags = shared.store().tags(reference.bare());
    json(json!({"tags": tags.map_err(|error| store_error(error, &reference))?}))
}

async fn append_tags(
    state: AppState,
    headers: HeaderMap,
    ids: Result<Path<(String, String)>, PathRejection>,
    body: Bytes,
) -> ApiResult {
    write_tags(state, headers, ids, body, false).await
}

async fn replace_tags(
    state: AppState,
    headers: HeaderMap,
    ids: Result<Path<(String, String)>, PathRejection>,
    body: Bytes,
) -> ApiResult {
    write_tags(state, headers, ids, body, true).await
}

async fn write_tags(
    State(shared): AppState,
    headers: HeaderMap,
    ids: Result<Path<(String, String)>, PathRejection>,
    body: Bytes,
    replace: bool,
) -> ApiResult {
    let (org_id, devin_id) = path(ids)?;
    org_principal(&shared, &headers, &org_id)?;
    let reference = session_ref(&devin_id)?;
    let map = json_object(&body)?;
    let tags: Vec<String> = match map.get("tags") {
        None | Some(Value::Null) => {
            return Err(ApiError::invalid(
                &["body", "tags"],
                "Field required",
                "missing",
            ));
        }
        Some(value) => serde_json::from_value(value.clone()).map_err(|_| {
            ApiError::invalid(
                &["body", "tags"],
                "Input should be a list of strings",
                "list_type",
            )
        })?,
    };
    if tags.len() > MAX_TAGS {
        return Err(ApiError::invalid(
            &["body", "tags"],
            format!("At most {MAX_TAGS} tags are allowed"),
            "too_long",
        ));
    }
    let result = shared.store().write_tags(reference.bare(), tags, replace);
    json(json!({"tags": result.map_err(|error| store_error(error, &reference))?}))
}

async fn upload(
    State(shared): AppState,
    headers: HeaderMap,
    org_id: Result<Path<String>, PathRejection>,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult {
    let org_id = path(org_id)?;
    org_principal(&shared, &headers, &org_id)?;
    let missing = || ApiError::invalid(&["body", "file"], "Field required", "missing");
    let mut multipart = multipart.map_err(|rejection| {
        ApiError::invalid(
            &["body"],
            format!("Expected multipart/form-data: {}", rejection.body_text()),
            "value_error",
        )
    })?;
    loop {
        let field = multipart.next_field().await.map_err(|error| {
            ApiError::invalid(
                &["body"],
                format!("Malformed multipart body: {error}"),
                "value_error",
            )
        })?;
        let Some(field) = field else {
            return Err(missing());
        };
        if field.name() != Some("file") {
            continue;
        }
        let name = file_name(field.file_name());
        let content_type = field
            .content_type()
            .map(str::to_owned)
            .unwrap_or_else(|| guess_content_type(&name).to_owned());
        let bytes = field.bytes().await.map_err(|error| {
            ApiError::invalid(
                &["body", "file"],
                format!("Could not read the file: {error}"),
                "value_error",
            )
        })?;
        let uploaded = shared.store().upload(&name, &content_type, bytes);
        return json(uploaded);
    }
}

/// The last path component of an uploaded file's name, or `file`.
fn file_name(given: Option<&str>) -> String {
    let name = given
        .unwrap_or("")
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .trim();
    if name.is_empty() || name == "." || name == ".." {
        "file".to_owned()
    } else {
        name.to_owned()
    }
}

fn guess_content_type(name: &str) -> &'static str {
    let extension = name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase());
    match extension.as_deref() {
        Some("txt" | "log") => "text/plain",
        Some("md") => "text/markdown",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("pdf") => "application/pdf",
        _ => "application/octet-stream",
    }
}

async fn download(
    State(shared): AppState,
    headers: HeaderMap,
    ids: Result<Path<(String, String, String)>, PathRejection>,
) -> ApiResult {
    let (org_id, attachment_id, name) = path(ids)?;
    org_principal(&shared, &headers, &org_id)?;
    let blob_path = shared
        .store()
        .blob_path(&attachment_id, &name)
        .ok_or_else(|| ApiError::not_found("Attachment not found"))?;
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok());
    let location = format!("{}{blob_path}", shared.blob_base(host));
    Ok((
        StatusCode::TEMPORARY_REDIRECT,
        [(header::LOCATION, location)],
    )
        .into_response())
}

/// The redirect target of downloads, standing in for a presigned storage URL: no auth.
async fn blob(
    State(shared): AppState,
    ids: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult {
    let (attachment_id, name) = path(ids)?;
    let blob = shared
        .store()
        .blob(&attachment_id, &name)
        .cloned()
        .ok_or_else(|| ApiError::not_found("Blob not found"))?;
    Ok(([(header::CONTENT_TYPE, blob.content_type)], blob.bytes).into_response())
}
