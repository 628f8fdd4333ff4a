//! Shared pollers: one per watched session, feeding every wait and every resource
//! subscription on it.
//!
//! The API has no webhooks, so someone must poll. Doing it here, once per session, means N
//! waiters on one session cost the API what one does, and a waiter that goes away (the call
//! was cancelled, the client disconnected) stops costing anything: a poller lives exactly as
//! long as somebody holds a [`Subscription`] to it.
//!
//! Polling adapts: right after a change it polls at `min_interval`, then backs off by
//! `backoff` per quiet poll up to `max_interval`, with jitter so that many pollers started
//! together drift apart. Messages are fetched only when the session visibly changed, not on
//! every poll.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use rand::Rng;
use serde_json::Value;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::devin::models::{Message, Session, SessionStatus, StatusDetail};
use crate::devin::{ApiErrorKind, DevinClient, DevinError, SessionRef};

/// How often pollers ask the API.
#[derive(Debug, Clone)]
pub struct PollSettings {
    /// The interval right after a change.
    pub min_interval: Duration,
    /// The longest interval while nothing changes.
    pub max_interval: Duration,
    /// Growth of the interval per quiet poll.
    pub backoff: f64,
    /// How often a long wait sends a progress notification when nothing happens.
    pub progress_interval: Duration,
}

impl Default for PollSettings {
    fn default() -> Self {
        Self {
            min_interval: Duration::from_secs(3),
            max_interval: Duration::from_secs(30),
            backoff: 1.5,
            // Under the 10 s after which the slowest clients give up on a silent call.
            progress_interval: Duration::from_secs(8),
        }
    }
}

/// What a poller last saw of its session.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The session as of the last successful poll; `None` before the first.
    pub session: Option<Arc<Session>>,
    /// Every message of the session, oldest first, as of the last visible change.
    pub messages: Arc<Vec<Message>>,
    /// Why the last poll failed, when it did; the session above is then older.
    pub error: Option<Arc<DevinError>>,
    /// Polls made so far; 0 until the first answer or failure.
    pub polls: u64,
    /// The poller stopped for good: the session ended, or does not exist.
    pub final_state: bool,
    /// When this snapshot's poll was answered; `None` before the first.
    pub polled_at: Option<Instant>,
}

impl Snapshot {
    /// The session has reached a state a waiter should hear about: it ended, sleeps, or is
    /// running but idle (done, or waiting for a person).
    pub fn is_settled(&self) -> bool {
        if self.final_state {
            return true;
        }
        let Some(session) = &self.session else {
            return false;
        };
        match session.status {
            SessionStatus::Exit | SessionStatus::Error | SessionStatus::Suspended => true,
            SessionStatus::Running => matches!(
                session.status_detail,
                Some(
                    StatusDetail::Finished
                        | StatusDetail::WaitingForUser
                        | StatusDetail::WaitingForApproval
                )
            ),
            _ => false,
        }
    }
}

/// Hands out subscriptions, starting a poller for a session on first need.
#[derive(Clone)]
pub struct Watcher {
    inner: Arc<WatcherInner>,
}

struct WatcherInner {
    client: DevinClient,
    settings: PollSettings,
    pollers: Mutex<HashMap<SessionRef, Weak<Poller>>>,
    /// Cancelled when the server shuts down, so that waits answer at once with what they have.
    closing: CancellationToken,
}

/// A running poller. Dropping the last handle stops its task.
struct Poller {
    snapshots: watch::Receiver<Snapshot>,
    stop: CancellationToken,
    /// Asks for a poll as soon as `min_interval` allows: a new subscriber wants fresh news.
    wake: Arc<Notify>,
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// A handle on one session's poller; the poller runs while any handle exists.
#[derive(Clone)]
pub struct Subscription {
    session: SessionRef,
    poller: Arc<Poller>,
    snapshots: watch::Receiver<Snapshot>,
}

impl Subscription {
    pub fn session(&self) -> &SessionRef {
        &self.session
    }

    /// The latest snapshot.
    pub fn current(&self) -> Snapshot {
        self.snapshots.borrow().clone()
    }

    /// Waits for the next snapshot. Returns `false` once the poller has stopped for good.
    pub async fn changed(&mut self) -> bool {
        self.snapshots.changed().await.is_ok()
    }

    /// Waits for an answer (or failure) of the poller that is fresh: taken less than
    /// `fresh_for` ago. A subscriber that joins a running poller would otherwise start from a
    /// snapshot up to `max_interval` old, and take a state the session has since left (say,
    /// `waiting_for_user` just after a reply was sent) for its present one. So an older
    /// snapshot asks the poller to poll early, and the wait is for that poll.
    pub async fn first(&mut self, fresh_for: Duration) -> Snapshot {
        let current = self.current();
        let is_fresh = |snapshot: &Snapshot| {
            snapshot
                .polled_at
                .is_some_and(|at| at.elapsed() < fresh_for)
        };
        if current.final_state || is_fresh(&current) {
            return current;
        }
        let seen = current.polls;
        if seen > 0 {
            self.poller.wake.notify_one();
        }
        loop {
            let current = self.current();
            if current.polls > seen || current.final_state || !self.changed().await {
                return self.current();
            }
        }
    }

    /// How many subscriptions share this poller, this one included.
    pub fn sharers(&self) -> usize {
        Arc::strong_count(&self.poller)
    }
}

impl Watcher {
    pub fn new(client: DevinClient, settings: PollSettings) -> Self {
        let inner = WatcherInner {
            client,
            settings,
            pollers: Mutex::new(HashMap::new()),
            closing: CancellationToken::new(),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    pub fn settings(&self) -> &PollSettings {
        &self.inner.settings
    }

    /// Tells every wait, now and later, to answer at once with the state it has: the server
    /// is shutting down, and a client is better served by an early answer than by none.
    pub fn close(&self) {
        self.inner.closing.cancel();
    }

    /// Resolves once [`Watcher::close`] was called.
    pub async fn closed(&self) {
        self.inner.closing.cancelled().await;
    }

    /// A subscription to `session`, sharing the poller when one runs already.
    pub fn subscribe(&self, session: &SessionRef) -> Subscription {
        // A poisoned lock only means another thread panicked mid-insert; the map is still
        // a valid cache, so keep using it.
        let mut pollers = self.inner.pollers.lock().unwrap_or_else(|e| e.into_inner());
        pollers.retain(|_, poller| poller.strong_count() > 0);
        if let Some(poller) = pollers.get(session).and_then(Weak::upgrade) {
            let snapshots = poller.snapshots.clone();
            return Subscription {
                session: session.clone(),
                poller,
                snapshots,
            };
        }
        let (sender, snapshots) = watch::channel(Snapshot::default());
        let stop = CancellationToken::new();
        let wake = Arc::new(Notify::new());
        let poller = Arc::new(Poller {
            snapshots: snapshots.clone(),
            stop: stop.clone(),
            wake: wake.clone(),
        });
        pollers.insert(session.clone(), Arc::downgrade(&poller));
        let task = PollTask {
            client: self.inner.client.clone(),
            settings: self.inner.settings.clone(),
            session: session.clone(),
            sender,
            stop,
            wake,
        };
        tokio::spawn(task.run());
        Subscription {
            session: session.clone(),
            poller,
            snapshots,
        }
    }

    /// How many pollers are running now.
    pub fn running(&self) -> usize {
        let pollers = self.inner.pollers.lock().unwrap_or_else(|e| e.into_inner());
        pollers
            .values()
            .filter(|poller| poller.strong_count() > 0)
            .count()
    }
}

/// The loop behind one poller.
struct PollTask {
    client: DevinClient,
    settings: PollSettings,
    session: SessionRef,
    sender: watch::Sender<Snapshot>,
    stop: CancellationToken,
    wake: Arc<Notify>,
}

/// What counts as a visible change; ACUs and `updated_at` move all the time while Devin
/// works and do not reset the backoff.
#[derive(PartialEq)]
struct Visible {
    status: SessionStatus,
    detail: Option<StatusDetail>,
    pull_requests: usize,
    structured_output: Option<Value>,
    is_archived: bool,
    children: usize,
}

impl Visible {
    fn of(session: &Session) -> Self {
        Self {
            status: session.status.clone(),
            detail: session.status_detail.clone(),
            pull_requests: session.pull_requests.len(),
            structured_output: session.structured_output.clone(),
            is_archived: session.is_archived,
            children: session.child_session_ids.as_ref().map_or(0, Vec::len),
        }
    }
}

impl PollTask {
    async fn run(self) {
        let mut interval = self.settings.min_interval;
        let mut last: Option<Visible> = None;
        let mut last_updated_at = None;
        let mut messages_fetched_at: Option<Instant> = None;
        // A change was seen but its messages could not be read: read them on the next poll.
        let mut messages_owed = false;
        let mut polls = 0;
        loop {
            let polled_at = Instant::now();
            let outcome = tokio::select! {
                _ = self.stop.cancelled() => return,
                outcome = self.client.get_session(&self.session) => outcome,
            };
            polls += 1;
            match outcome {
                Ok(session) => {
                    let visible = Visible::of(&session);
                    let changed = last.as_ref() != Some(&visible);
                    let moved = last_updated_at != Some(session.updated_at);
                    let stale_messages = messages_fetched_at
                        .is_none_or(|at| at.elapsed() >= self.settings.max_interval);
                    let mut messages = self.sender.borrow().messages.clone();
                    if changed || messages_owed || (moved && stale_messages) {
                        let fetched = tokio::select! {
                            _ = self.stop.cancelled() => return,
                            fetched = self.client.list_all_messages(&self.session) => fetched,
                        };
                        messages_owed = fetched.is_err();
                        if let Ok(fetched) = fetched {
                            messages = Arc::new(fetched);
                            messages_fetched_at = Some(Instant::now());
                        }
                    }
                    let final_state = session.status.is_terminal();
                    interval = if changed || messages_owed {
                        self.settings.min_interval
                    } else {
                        interval
                            .mul_f64(self.settings.backoff)
                            .min(self.settings.max_interval)
                    };
                    last_updated_at = Some(session.updated_at);
                    last = Some(visible);
                    self.sender.send_replace(Snapshot {
                        session: Some(Arc::new(session)),
                        messages,
                        error: None,
                        polls,
                        final_state,
                        polled_at: Some(Instant::now()),
                    });
                    if final_state {
                        return;
                    }
                }
                Err(error) => {
                    let gone = matches!(
                        error.api_kind(),
                        Some(
                            ApiErrorKind::NotFound
                                | ApiErrorKind::Unauthorized
                                | ApiErrorKind::Forbidden
                        )
                    ) || matches!(error, DevinError::Config(_));
                    let previous = self.sender.borrow().clone();
                    self.sender.send_replace(Snapshot {
                        error: Some(Arc::new(error)),
                        polls,
                        final_state: gone,
                        polled_at: Some(Instant::now()),
                        ..previous
                    });
                    if gone {
                        return;
                    }
                    interval = interval
                        .mul_f64(self.settings.backoff)
                        .min(self.settings.max_interval);
                }
            }
            // Sleep until the next poll is due; a new subscriber may bring it forward, but no
            // sooner than `min_interval` after this one, so that joiners cannot flood the API.
            let due = Instant::now() + jitter(interval);
            let earliest = polled_at + self.settings.min_interval;
            tokio::select! {
                _ = self.stop.cancelled() => return,
                _ = tokio::time::sleep_until(due) => {}
                _ = self.wake.notified() => {
                    tokio::select! {
                        _ = self.stop.cancelled() => return,
                        _ = tokio::time::sleep_until(earliest.min(due)) => {}
                    }
                }
            }
        }
    }
}

/// ±20 % of `interval`.
fn jitter(interval: Duration) -> Duration {
    interval.mul_f64(rand::rng().random_range(0.8..=1.2))
}
