//! The simulator's data (sessions, uploaded and produced files) and the session lifecycle.
//!
//! Sessions move on their own (§6.1, §7.7) without a background task: each session keeps its
//! next scheduled step, and [`Store::settle`] applies every step that is due by the current
//! sim time, in order and at the time it was due, whenever the store is read or the clock is
//! moved. The same history therefore comes out whether a test advances the clock by one
//! second sixty times or by one minute once.
//!
//! One work cycle runs: `new` → `claimed` → `running/working` (Devin says it is on it) →
//! halfway: structured output, a `notes.md` attachment, and a pull request per repo in `repos`
//! → end: a summary and `running/finished`, or a question and `running/waiting_for_user` (see
//! the "ask me" rule in the module docs of `sim`) → after an idle period
//! `suspended/inactivity`. A message restarts a cycle, through `resuming` when suspended.
//! ACUs accrue only while a cycle is `working`; reaching `max_acu_limit` suspends the session
//! with `usage_limit_exceeded`, which a message does not lift (assumed, as in §6.1).
//!
//! A session with no scheduled step stands still; the scripting hooks use that to pin a
//! status until the next message. Archiving stops the session too (`suspended/user_request`
//! unless it already sleeps or has ended).
//!
//! This module knows nothing of HTTP: handlers validate requests and map [`StoreError`].

use std::collections::HashMap;

use bytes::Bytes;
use serde_json::{Value, json};

use super::schema_instance::instance_for;
use super::{SimError, Timings};
use crate::devin::SessionRef;
use crate::devin::models::{
    Attachment, CreateSessionRequest, Message, Origin, PrState, PullRequest, Session,
    SessionStatus, Source, StatusDetail, UploadedAttachment,
};

/// At most this many tags per session (§4.2.6).
pub(crate) const MAX_TAGS: usize = 50;

/// Why a store operation was refused.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StoreError {
    /// No session with that id.
    NotFound,
    /// The session's state forbids the operation; the text says why.
    Conflict(String),
    /// The operation would leave more than [`MAX_TAGS`] tags.
    TooManyTags(usize),
}

/// A file uploaded by a user or produced by a simulated session.
#[derive(Debug, Clone)]
pub(crate) struct Blob {
    pub(crate) name: String,
    pub(crate) content_type: String,
    pub(crate) bytes: Bytes,
}

/// Filters of the session list (§4.2.2), already parsed. Empty lists mean "any"; the time
/// bounds are inclusive (assumed; the reference does not say).
#[derive(Debug, Clone, Default)]
pub(crate) struct ListFilter {
    /// Bare ids; an entry that is not a session id stays as given and matches nothing.
    pub(crate) session_ids: Vec<String>,
    pub(crate) tags: Vec<String>,
    pub(crate) origins: Vec<String>,
    pub(crate) user_ids: Vec<String>,
    pub(crate) service_user_ids: Vec<String>,
    pub(crate) repo_names: Vec<String>,
    pub(crate) created_after: Option<i64>,
    pub(crate) created_before: Option<i64>,
    pub(crate) updated_after: Option<i64>,
    pub(crate) updated_before: Option<i64>,
    pub(crate) playbook_id: Option<String>,
    pub(crate) schedule_id: Option<String>,
    pub(crate) is_archived: Option<bool>,
    pub(crate) category: Option<String>,
}

/// The next automatic step of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Claim,
    Start,
    Halfway,
    Finish,
    Suspend,
    Resume,
}

/// What a step needs from outside its session.
struct World<'a> {
    timings: &'a Timings,
    blobs: &'a mut HashMap<String, Blob>,
    next_pr: &'a mut u64,
    api_base: &'a str,
    org_id: &'a str,
}

#[derive(Debug, Clone)]
struct SimSession {
    bare: String,
    org_id: String,
    status: SessionStatus,
    detail: Option<StatusDetail>,
    created_ms: i64,
    updated_ms: i64,
    title: String,
    tags: Vec<String>,
    origin: Origin,
    user_id: Option<String>,
    service_user_id: Option<String>,
    playbook_id: Option<String>,
    parent: Option<String>,
    children: Vec<String>,
    is_archived: bool,
    repos: Vec<String>,
    schema: Option<Value>,
    max_acu_limit: Option<i64>,
    structured_output: Option<Value>,
    pull_requests: Vec<PullRequest>,
    messages: Vec<Message>,
    attachments: Vec<Attachment>,
    acus: f64,
    /// ACUs are counted up to this time.
    acu_mark_ms: i64,
    next: Option<(i64, Step)>,
    /// Work cycles started so far.
    cycle: u32,
    /// Whether the current cycle ends with a question (the "ask me" rule).
    asks_question: bool,
    /// The text the next cycle works on: the prompt, then the latest messages.
    pending_text: String,
}

/// All sessions and files of one simulator.
pub(crate) struct Store {
    org_id: String,
    timings: Timings,
    api_base: String,
    /// The sim time of the last settle, in epoch milliseconds; never goes back.
    now_ms: i64,
    sessions: HashMap<String, SimSession>,
    blobs: HashMap<String, Blob>,
    next_pr: u64,
}

impl Store {
    pub(crate) fn new(org_id: String, timings: Timings, api_base: String) -> Self {
        Self {
            org_id,
            timings,
            api_base,
            now_ms: i64::MIN,
            sessions: HashMap::new(),
            blobs: HashMap::new(),
            next_pr: 1,
        }
    }

    /// Applies every step due by `now_ms` to every session.
    pub(crate) fn settle(&mut self, now_ms: i64) {
        self.now_ms = self.now_ms.max(now_ms);
        let now = self.now_ms;
        let Store {
            sessions,
            blobs,
            next_pr,
            timings,
            api_base,
            org_id,
            ..
        } = self;
        let mut world = World {
            timings,
            blobs,
            next_pr,
            api_base: api_base.as_str(),
            org_id: org_id.as_str(),
        };
        for session in sessions.values_mut() {
            session.run_until(now, &mut world);
        }
    }

    fn now(&self) -> i64 {
        self.now_ms
    }

    fn find(&self, id: &str) -> Option<&SimSession> {
        let reference = SessionRef::parse(id).ok()?;
        self.sessions.get(reference.bare())
    }

    fn find_mut(&mut self, id: &str) -> Option<&mut SimSession> {
        let reference = SessionRef::parse(id).ok()?;
        self.sessions.get_mut(reference.bare())
    }

    /// Creates a session from a request the handler has validated. `service_user_id` is the
    /// caller's; the prompt becomes the first user message.
    pub(crate) fn create(
        &mut self,
        request: CreateSessionRequest,
        service_user_id: &str,
    ) -> Session {
        self.insert(request, Some(service_user_id.to_owned()), None)
            .1
    }

    /// Inserts a new session; returns its bare id and how create shows it.
    fn insert(
        &mut self,
        request: CreateSessionRequest,
        service_user_id: Option<String>,
        parent: Option<&SimSession>,
    ) -> (String, Session) {
        let now = self.now();
        let bare = uuid::Uuid::new_v4().simple().to_string();
        let attachment_urls = request.attachment_urls.clone().unwrap_or_default();
        let attachments: Vec<Attachment> = attachment_urls
            .iter()
            .filter_map(|url| self.user_attachment(url))
            .collect();
        let mut tags: Vec<String> = Vec::new();
        for tag in request.tags.unwrap_or_default() {
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        let title = request
            .title
            .filter(|title| !title.trim().is_empty())
            .unwrap_or_else(|| title_from_prompt(&request.prompt));
        let first_message = Message {
            event_id: new_event_id(),
            created_at: now.div_euclid(1000),
            source: Source::User,
            message: with_attachment_lines(&request.prompt, &attachment_urls),
        };
        let session = SimSession {
            bare: bare.clone(),
            org_id: self.org_id.clone(),
            status: SessionStatus::New,
            detail: None,
            created_ms: now,
            updated_ms: now,
            title,
            tags,
            origin: parent.map_or(Origin::Api, |p| p.origin.clone()),
            user_id: request
                .create_as_user_id
                .or_else(|| parent.and_then(|p| p.user_id.clone())),
            service_user_id,
            playbook_id: request.playbook_id,
            parent: parent.map(|p| format!("devin-{}", p.bare)),
            children: Vec::new(),
            is_archived: false,
            repos: request.repos.unwrap_or_default(),
            schema: request.structured_output_schema,
            max_acu_limit: request.max_acu_limit,
            structured_output: None,
            pull_requests: Vec::new(),
            messages: vec![first_message],
            attachments,
            acus: 0.0,
            acu_mark_ms: now,
            next: Some((
                now.saturating_add(ms(self.timings.claim_after)),
                Step::Claim,
            )),
            cycle: 0,
            asks_question: false,
            pending_text: request.prompt,
        };
        let view = session.view(false);
        self.sessions.insert(bare.clone(), session);
        (bare, view)
    }

    /// The full view of a session, as get and list show it.
    pub(crate) fn view(&self, id: &str) -> Option<Session> {
        self.find(id).map(|session| session.view(true))
    }

    /// Sessions matching `filter`, newest `created_at` first, then by id (§10 #6).
    pub(crate) fn list(&self, filter: &ListFilter) -> Vec<Session> {
        let mut sessions: Vec<Session> = self
            .sessions
            .values()
            .filter(|session| session.matches(filter))
            .map(|session| session.view(true))
            .collect();
        sessions.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| a.session_id.cmp(&b.session_id))
        });
        sessions
    }

    /// Terminates a session (`exit`), archiving it too when asked.
    pub(crate) fn terminate(&mut self, id: &str, archive: bool) -> Result<Session, StoreError> {
        let now = self.now();
        let session = self.find_mut(id).ok_or(StoreError::NotFound)?;
        if session.status.is_terminal() {
            return Err(StoreError::Conflict(format!(
                "Session has already ended (status {}); it cannot be terminated again",
                session.status
            )));
        }
        session.status = SessionStatus::Exit;
        session.detail = None;
        session.next = None;
        if archive {
            session.is_archived = true;
        }
        session.touch(now);
        Ok(session.view(false))
    }

    /// Archives a session and puts it to sleep. Archiving twice is not an error (§10 #9).
    pub(crate) fn archive(&mut self, id: &str) -> Result<Session, StoreError> {
        let now = self.now();
        let session = self.find_mut(id).ok_or(StoreError::NotFound)?;
        if !session.is_archived {
            session.is_archived = true;
            let asleep = session.status == SessionStatus::Suspended;
            if !session.status.is_terminal() && !asleep {
                session.status = SessionStatus::Suspended;
                session.detail = Some(StatusDetail::UserRequest);
            }
            session.next = None;
            session.touch(now);
        }
        Ok(session.view(false))
    }

    /// Appends a user message and wakes the session as §6.1 describes.
    pub(crate) fn send_message(
        &mut self,
        id: &str,
        text: &str,
        attachment_urls: &[String],
    ) -> Result<Session, StoreError> {
        let now = self.now();
        let extra: Vec<Attachment> = attachment_urls
            .iter()
            .filter_map(|url| self.user_attachment(url))
            .collect();
        let Store {
            sessions,
            blobs,
            next_pr,
            timings,
            api_base,
            org_id,
            ..
        } = self;
        let reference = SessionRef::parse(id).map_err(|_| StoreError::NotFound)?;
        let session = sessions
            .get_mut(reference.bare())
            .ok_or(StoreError::NotFound)?;
        session.check_writable("receive messages")?;
        if session.status == SessionStatus::Suspended
            && let Some(detail) = &session.detail
            && !detail.is_resumable_by_message()
        {
            return Err(StoreError::Conflict(format!(
                "Session is suspended ({detail}); a message does not lift that reason"
            )));
        }
        session.messages.push(Message {
            event_id: new_event_id(),
            created_at: now.div_euclid(1000),
            source: Source::User,
            message: with_attachment_lines(text, attachment_urls),
        });
        for attachment in extra {
            session.add_attachment(attachment);
        }
        let mut world = World {
            timings,
            blobs,
            next_pr,
            api_base: api_base.as_str(),
            org_id: org_id.as_str(),
        };
        session.wake(now, text, &mut world);
        session.touch(now);
        Ok(session.view(false))
    }

    pub(crate) fn messages(&self, id: &str) -> Result<Vec<Message>, StoreError> {
        self.find(id)
            .map(|s| s.messages.clone())
            .ok_or(StoreError::NotFound)
    }

    pub(crate) fn attachments(&self, id: &str) -> Result<Vec<Attachment>, StoreError> {
        self.find(id)
            .map(|s| s.attachments.clone())
            .ok_or(StoreError::NotFound)
    }

    pub(crate) fn tags(&self, id: &str) -> Result<Vec<String>, StoreError> {
        self.find(id)
            .map(|s| s.tags.clone())
            .ok_or(StoreError::NotFound)
    }

    /// Adds tags not yet present (`replace == false`) or replaces the set.
    pub(crate) fn write_tags(
        &mut self,
        id: &str,
        tags: Vec<String>,
        replace: bool,
    ) -> Result<Vec<String>, StoreError> {
        let now = self.now();
        let session = self.find_mut(id).ok_or(StoreError::NotFound)?;
        session.check_writable("change tags")?;
        let mut result = if replace {
            Vec::new()
        } else {
            session.tags.clone()
        };
        for tag in tags {
            if !result.contains(&tag) {
                result.push(tag);
            }
        }
        if result.len() > MAX_TAGS {
            return Err(StoreError::TooManyTags(result.len()));
        }
        if result != session.tags {
            session.tags = result;
            session.touch(now);
        }
        Ok(session.tags.clone())
    }

    /// Keeps an uploaded file and answers as the upload endpoint does.
    pub(crate) fn upload(
        &mut self,
        name: &str,
        content_type: &str,
        bytes: Bytes,
    ) -> UploadedAttachment {
        let id = uuid::Uuid::new_v4().to_string();
        let url = attachment_url(&self.api_base, &self.org_id, &id, name);
        self.blobs.insert(
            id.clone(),
            Blob {
                name: name.to_owned(),
                content_type: content_type.to_owned(),
                bytes,
            },
        );
        UploadedAttachment {
            attachment_id: id,
            name: name.to_owned(),
            url,
        }
    }

    /// The path a download of attachment `id` redirects to, if the file exists under that
    /// name. The host is the caller's to choose: it depends on how the request came in.
    pub(crate) fn blob_path(&self, id: &str, name: &str) -> Option<String> {
        let blob = self.blob(id, name)?;
        Some(format!("/_sim/blobs/{id}/{}", encode_segment(&blob.name)))
    }

    pub(crate) fn blob(&self, id: &str, name: &str) -> Option<&Blob> {
        self.blobs.get(id).filter(|blob| blob.name == name)
    }

    /// The session attachment for an `attachment_urls` entry naming a file uploaded here.
    fn user_attachment(&self, url: &str) -> Option<Attachment> {
        let rest = &url[url.find("/attachments/")? + "/attachments/".len()..];
        let id = rest.split('/').next()?;
        let blob = self.blobs.get(id)?;
        Some(Attachment {
            attachment_id: id.to_owned(),
            name: blob.name.clone(),
            source: Source::User,
            url: attachment_url(&self.api_base, &self.org_id, id, &blob.name),
            content_type: Some(blob.content_type.clone()),
        })
    }

    // Scripting hooks. They take any id form `SessionRef::parse` accepts.

    pub(crate) fn set_status(
        &mut self,
        id: &str,
        status: SessionStatus,
        detail: Option<StatusDetail>,
    ) -> Result<(), SimError> {
        let now = self.now();
        let session = self.hook_target(id)?;
        session.status = status;
        session.detail = detail;
        // No next step: the session stays put until a message restarts the cycle.
        session.next = None;
        session.touch(now);
        Ok(())
    }

    pub(crate) fn set_structured_output(&mut self, id: &str, value: Value) -> Result<(), SimError> {
        let now = self.now();
        let session = self.hook_target(id)?;
        session.structured_output = Some(value);
        session.touch(now);
        Ok(())
    }

    pub(crate) fn fail(&mut self, id: &str) -> Result<(), SimError> {
        self.set_status(id, SessionStatus::Error, None)
    }

    pub(crate) fn post_devin_message(&mut self, id: &str, text: &str) -> Result<(), SimError> {
        let now = self.now();
        let session = self.hook_target(id)?;
        session.say(now, text);
        Ok(())
    }

    pub(crate) fn add_pull_request(
        &mut self,
        id: &str,
        pr_url: &str,
        state: PrState,
    ) -> Result<(), SimError> {
        let now = self.now();
        let session = self.hook_target(id)?;
        match session
            .pull_requests
            .iter_mut()
            .find(|pr| pr.pr_url == pr_url)
        {
            Some(existing) => existing.pr_state = Some(state),
            None => session.pull_requests.push(PullRequest {
                pr_url: pr_url.to_owned(),
                pr_state: Some(state),
            }),
        }
        session.touch(now);
        Ok(())
    }

    pub(crate) fn spawn_child(&mut self, parent: &str, prompt: &str) -> Result<String, SimError> {
        let now = self.now();
        let parent_session = self
            .find(parent)
            .cloned()
            .ok_or_else(|| SimError::UnknownSession(parent.to_owned()))?;
        let request = CreateSessionRequest {
            prompt: prompt.to_owned(),
            ..Default::default()
        };
        let service_user = parent_session.service_user_id.clone();
        let (child, _) = self.insert(request, service_user, Some(&parent_session));
        let child_id = format!("devin-{child}");
        if let Some(parent) = self.sessions.get_mut(&parent_session.bare) {
            parent.children.push(child_id.clone());
            parent.touch(now);
        }
        Ok(child_id)
    }

    fn hook_target(&mut self, id: &str) -> Result<&mut SimSession, SimError> {
        self.find_mut(id)
            .ok_or_else(|| SimError::UnknownSession(id.to_owned()))
    }
}

impl SimSession {
    fn devin_id(&self) -> String {
        format!("devin-{}", self.bare)
    }

    fn view(&self, full: bool) -> Session {
        Session {
            session_id: self.devin_id(),
            url: format!("https://app.devin.ai/sessions/{}", self.bare),
            status: self.status.clone(),
            status_detail: if full { self.detail.clone() } else { None },
            tags: self.tags.clone(),
            org_id: self.org_id.clone(),
            created_at: self.created_ms.div_euclid(1000),
            updated_at: self.updated_ms.div_euclid(1000),
            // Rounding is monotone, so the shown value never decreases either.
            acus_consumed: (self.acus * 100.0).round() / 100.0,
            pull_requests: self.pull_requests.clone(),
            structured_output: if full {
                self.structured_output.clone()
            } else {
                None
            },
            title: Some(self.title.clone()),
            user_id: self.user_id.clone(),
            service_user_id: self.service_user_id.clone(),
            playbook_id: self.playbook_id.clone(),
            parent_session_id: self.parent.clone(),
            child_session_ids: Some(self.children.clone()),
            is_archived: self.is_archived,
            origin: Some(self.origin.clone()),
            category: None,
            subcategory: None,
        }
    }

    fn matches(&self, filter: &ListFilter) -> bool {
        let any_of = |wanted: &[String], value: Option<&str>| {
            wanted.is_empty() || value.is_some_and(|value| wanted.iter().any(|w| w == value))
        };
        let created = self.created_ms.div_euclid(1000);
        let updated = self.updated_ms.div_euclid(1000);
        (filter.session_ids.is_empty() || filter.session_ids.contains(&self.bare))
            && filter.tags.iter().all(|tag| self.tags.contains(tag))
            && any_of(&filter.origins, Some(self.origin.as_str()))
            && any_of(&filter.user_ids, self.user_id.as_deref())
            && any_of(&filter.service_user_ids, self.service_user_id.as_deref())
            && (filter.repo_names.is_empty()
                || self.repos.iter().any(|repo| filter.repo_names.contains(repo)))
            && filter.created_after.is_none_or(|t| created >= t)
            && filter.created_before.is_none_or(|t| created <= t)
            && filter.updated_after.is_none_or(|t| updated >= t)
            && filter.updated_before.is_none_or(|t| updated <= t)
            && filter.playbook_id.as_ref().is_none_or(|p| self.playbook_id.as_ref() == Some(p))
            // Sessions here are never started by a schedule nor categorised.
            && filter.schedule_id.is_none()
            && filter.category.is_none()
            && filter.is_archived.is_none_or(|a| a == self.is_archived)
    }

    fn touch(&mut self, at: i64) {
        self.updated_ms = self.updated_ms.max(at);
    }

    fn say(&mut self, at: i64, text: &str) {
        self.messages.push(Message {
            event_id: new_event_id(),
            created_at: at.div_euclid(1000),
            source: Source::Devin,
            message: text.to_owned(),
        });
        self.touch(at);
    }

    fn add_attachment(&mut self, attachment: Attachment) {
        if !self
            .attachments
            .iter()
            .any(|a| a.attachment_id == attachment.attachment_id)
        {
            self.attachments.push(attachment);
        }
    }

    /// Refuses writes to ended or archived sessions (409, §10 #9).
    fn check_writable(&self, what: &str) -> Result<(), StoreError> {
        if self.status.is_terminal() {
            return Err(StoreError::Conflict(format!(
                "Session has ended (status {}); it can no longer {what}",
                self.status
            )));
        }
        if self.is_archived {
            return Err(StoreError::Conflict(format!(
                "Session is archived; it can no longer {what}"
            )));
        }
        Ok(())
    }

    fn accruing(&self) -> bool {
        self.status == SessionStatus::Running
            && self.detail == Some(StatusDetail::Working)
            && self.next.is_some()
    }

    fn rate_per_ms(timings: &Timings) -> f64 {
        timings.acus_per_minute.max(0.0) / 60_000.0
    }

    /// Counts ACUs up to `at`.
    fn accrue(&mut self, at: i64, timings: &Timings) {
        if at <= self.acu_mark_ms {
            return;
        }
        if self.accruing() {
            let gained = (at - self.acu_mark_ms) as f64 * Self::rate_per_ms(timings);
            if gained > 0.0 {
                self.acus += gained;
                self.touch(at);
            }
        }
        self.acu_mark_ms = at;
    }

    /// When the running cycle reaches `max_acu_limit`, if it will.
    fn limit_reached_at(&self, timings: &Timings) -> Option<i64> {
        let limit = self.max_acu_limit? as f64;
        let rate = Self::rate_per_ms(timings);
        if !self.accruing() || rate <= 0.0 {
            return None;
        }
        let remaining = limit - self.acus;
        if remaining <= 0.0 {
            return Some(self.acu_mark_ms);
        }
        Some(
            self.acu_mark_ms
                .saturating_add((remaining / rate).ceil() as i64),
        )
    }

    /// Applies every step due by `now`, each at the time it was due.
    fn run_until(&mut self, now: i64, world: &mut World<'_>) {
        loop {
            let step_at = self.next.map(|(at, _)| at);
            let limit_at = self.limit_reached_at(world.timings);
            let (at, step) = match (step_at, limit_at) {
                (Some(s), Some(l)) if l < s => (l, None),
                (Some(s), _) => (s, self.next.map(|(_, step)| step)),
                (None, Some(l)) => (l, None),
                (None, None) => break,
            };
            if at > now {
                break;
            }
            self.accrue(at, world.timings);
            match step {
                Some(step) => {
                    self.next = None;
                    self.apply(step, at, world);
                }
                None => self.hit_limit(at),
            }
        }
        self.accrue(now, world.timings);
    }

    fn hit_limit(&mut self, at: i64) {
        if let Some(limit) = self.max_acu_limit {
            self.acus = self.acus.max(limit as f64);
        }
        self.status = SessionStatus::Suspended;
        self.detail = Some(StatusDetail::UsageLimitExceeded);
        self.next = None;
        self.say(
            at,
            "I've reached this session's ACU limit, so I've stopped (simulated).",
        );
    }

    fn apply(&mut self, step: Step, at: i64, world: &mut World<'_>) {
        let timings = world.timings;
        match step {
            Step::Claim => {
                self.status = SessionStatus::Claimed;
                self.detail = None;
                self.next = Some((at.saturating_add(ms(timings.start_after)), Step::Start));
                self.touch(at);
            }
            Step::Start | Step::Resume => self.begin_work(at, timings),
            Step::Halfway => {
                self.halfway(at, world);
                let rest = ms(timings.work_for) - ms(timings.work_for) / 2;
                self.next = Some((at.saturating_add(rest), Step::Finish));
            }
            Step::Finish => {
                self.finish(at);
                self.next = Some((
                    at.saturating_add(ms(timings.suspend_after_idle)),
                    Step::Suspend,
                ));
            }
            Step::Suspend => {
                self.status = SessionStatus::Suspended;
                self.detail = Some(StatusDetail::Inactivity);
                self.touch(at);
            }
        }
    }

    /// Reacts to a user message: restarts the cycle, resumes, or lets the running cycle
    /// take the message in. Sessions the hooks pinned (no next step) start moving again.
    fn wake(&mut self, now: i64, text: &str, world: &mut World<'_>) {
        let timings = world.timings;
        match self.status {
            SessionStatus::New | SessionStatus::Claimed | SessionStatus::Resuming => {
                // Not working yet: the message joins what the coming cycle works on.
                self.pending_text.push('\n');
                self.pending_text.push_str(text);
                if self.next.is_none() {
                    let (delay, step) = match self.status {
                        SessionStatus::New => (timings.claim_after, Step::Claim),
                        SessionStatus::Claimed => (timings.start_after, Step::Start),
                        _ => (timings.resume_after, Step::Resume),
                    };
                    self.next = Some((now.saturating_add(ms(delay)), step));
                }
            }
            SessionStatus::Suspended => {
                self.pending_text = text.to_owned();
                self.status = SessionStatus::Resuming;
                self.detail = None;
                self.next = Some((now.saturating_add(ms(timings.resume_after)), Step::Resume));
            }
            _ if self.accruing() => {
                // Mid-cycle: Devin folds the message into the work already under way.
            }
            _ => {
                self.pending_text = text.to_owned();
                self.begin_work(now, timings);
            }
        }
    }

    fn begin_work(&mut self, at: i64, timings: &Timings) {
        self.status = SessionStatus::Running;
        self.detail = Some(StatusDetail::Working);
        self.cycle += 1;
        self.asks_question = asks_question(&self.pending_text);
        self.acu_mark_ms = at;
        self.next = Some((at.saturating_add(ms(timings.work_for) / 2), Step::Halfway));
        let text = if self.cycle == 1 {
            "On it. I'm reading the task and the repository now (simulated)."
        } else {
            "Got your message. Working on it now (simulated)."
        };
        self.say(at, text);
    }

    /// Halfway through a cycle: a first structured output, a notes file, and a pull request
    /// per repo that has none yet.
    fn halfway(&mut self, at: i64, world: &mut World<'_>) {
        self.structured_output = Some(match &self.schema {
            Some(schema) => instance_for(schema),
            None => json!({"summary": "Work in progress (simulated)", "status": "in_progress"}),
        });
        let name = if self.cycle <= 1 {
            "notes.md".to_owned()
        } else {
            format!("notes-{}.md", self.cycle)
        };
        let id = uuid::Uuid::new_v4().to_string();
        let body = format!(
            "# Notes\n\nTask: {}\n\nWork cycle {}. Written by the Devin API simulator; \
             no real work was done.\n",
            self.title, self.cycle
        );
        world.blobs.insert(
            id.clone(),
            Blob {
                name: name.clone(),
                content_type: "text/markdown".to_owned(),
                bytes: body.into(),
            },
        );
        self.add_attachment(Attachment {
            attachment_id: id.clone(),
            url: attachment_url(world.api_base, world.org_id, &id, &name),
            name,
            source: Source::Devin,
            content_type: Some("text/markdown".to_owned()),
        });
        for repo in self.repos.clone() {
            let prefix = format!("https://github.com/{repo}/pull/");
            if !self
                .pull_requests
                .iter()
                .any(|pr| pr.pr_url.starts_with(&prefix))
            {
                let number = *world.next_pr;
                *world.next_pr += 1;
                self.pull_requests.push(PullRequest {
                    pr_url: format!("{prefix}{number}"),
                    pr_state: Some(PrState::Open),
                });
            }
        }
        self.touch(at);
    }

    /// The end of a cycle: a summary and `finished`, or a question and `waiting_for_user`.
    fn finish(&mut self, at: i64) {
        if self.asks_question {
            let question = "Before I go on: should I also update the documentation?";
            self.structured_output = Some(match &self.schema {
                Some(schema) => instance_for(schema),
                None => json!({"status": "needs_input", "question": question}),
            });
            self.detail = Some(StatusDetail::WaitingForUser);
            self.say(
                at,
                &format!("{question} Reply to this session and I'll carry on."),
            );
        } else {
            let summary = format!("Finished (simulated): {}", self.title);
            self.structured_output = Some(match &self.schema {
                Some(schema) => instance_for(schema),
                None => json!({"summary": summary, "status": "done"}),
            });
            self.detail = Some(StatusDetail::Finished);
            let prs: Vec<&str> = self
                .pull_requests
                .iter()
                .map(|pr| pr.pr_url.as_str())
                .collect();
            let text = if prs.is_empty() {
                format!("{summary}. My notes are attached.")
            } else {
                format!(
                    "{summary}. My notes are attached; pull requests: {}.",
                    prs.join(", ")
                )
            };
            self.say(at, &text);
        }
        self.status = SessionStatus::Running;
    }
}

/// The "ask me" rule (see the `sim` module docs).
fn asks_question(text: &str) -> bool {
    let lower = text.to_lowercase();
    lower.contains("ask me") || lower.contains("ask a question")
}

fn title_from_prompt(prompt: &str) -> String {
    const LIMIT: usize = 60;
    let line = prompt
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or("");
    if line.is_empty() {
        return "Untitled session".to_owned();
    }
    if line.chars().count() <= LIMIT {
        return line.to_owned();
    }
    let head: String = line.chars().take(LIMIT).collect();
    format!("{}…", head.trim_end())
}

/// A message text with one `ATTACHMENT:"<url>"` line per attachment (§3.3).
fn with_attachment_lines(text: &str, urls: &[String]) -> String {
    let mut out = text.to_owned();
    for url in urls {
        out.push_str(&format!("\nATTACHMENT:\"{url}\""));
    }
    out
}

fn new_event_id() -> String {
    format!("evt_{}", uuid::Uuid::new_v4().simple())
}

fn ms(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// The API URL of an attachment, the form uploads return and `attachment_urls` carry.
pub(crate) fn attachment_url(api_base: &str, org_id: &str, id: &str, name: &str) -> String {
    format!(
        "{api_base}/v3/organizations/{org_id}/attachments/{id}/{}",
        encode_segment(name)
    )
}

/// Percent-encodes everything but the unreserved characters, for one path segment.
pub(crate) fn encode_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn ask_me_rule_is_case_insensitive() {
        assert!(asks_question("Please ASK ME before merging"));
        assert!(asks_question("ask a question if unsure"));
        assert!(!asks_question("Fix the flaky test"));
    }

    #[test]
    fn titles_come_from_the_first_prompt_line() {
        assert_eq!(title_from_prompt("\n  Fix it \nmore"), "Fix it");
        assert_eq!(title_from_prompt(""), "Untitled session");
        assert!(title_from_prompt(&"a".repeat(200)).chars().count() <= 61);
    }

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(encode_segment("my file/ä.txt"), "my%20file%2F%C3%A4.txt");
    }
}
