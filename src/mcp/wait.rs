//! Waiting on sessions without burning the caller's tokens: block until sessions settle or a
//! condition holds, keep the client's timeout alive with progress notifications, and stop at
//! once when the call is cancelled.
//!
//! The polling itself is [`super::watch`]'s; this module decides when a wait is over and what
//! to tell the caller meanwhile.

use std::collections::HashSet;
use std::time::Duration;

use futures::FutureExt;
use rmcp::RoleServer;
use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::service::Peer;
use serde_json::Value;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::devin::SessionRef;
use crate::devin::models::Source;
use crate::mcp::errors::ToolError;
use crate::mcp::views::{SessionWaitView, WaitView};
use crate::mcp::watch::{Snapshot, Subscription, Watcher};

/// The longest wait one call may ask for.
pub const MAX_WAIT: Duration = Duration::from_secs(3600);
/// The wait when the caller names none: under the 300 s after which many clients give up.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(240);

/// When a wait is over, besides settling.
#[derive(Debug, Clone, Default)]
pub struct Conditions {
    /// A pull request appeared.
    pub pull_request: bool,
    /// The structured output changed.
    pub output_changed: bool,
    /// The structured output at this JSON pointer equals this value.
    pub output_matches: Option<(String, Value)>,
}

/// What to wait for.
#[derive(Debug, Clone)]
pub struct WaitSpec {
    pub sessions: Vec<SessionRef>,
    /// Wait for every session rather than the first.
    pub all: bool,
    pub timeout: Duration,
    pub conditions: Conditions,
}

/// Where progress notifications go: the requesting client, under its progress token.
pub struct Progress {
    peer: Peer<RoleServer>,
    token: ProgressToken,
    /// The last value sent: MCP asks progress to grow with every notification.
    last: std::sync::Mutex<f64>,
}

impl Progress {
    /// Sends `progress` of `total`, nudged above the last value sent when it is not already,
    /// so that callers may send elapsed seconds or counts twice within one tick.
    pub async fn send(&self, progress: f64, total: f64, message: String) {
        let progress = {
            let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
            *last = progress.max(*last + 0.001);
            *last
        };
        let param = ProgressNotificationParam::new(self.token.clone(), progress)
            .with_total(total)
            .with_message(message);
        if let Err(error) = self.peer.notify_progress(param).await {
            tracing::debug!(%error, "progress notification not delivered");
        }
    }
}

/// One session under watch: its subscription and what it looked like when the wait began.
struct Watched {
    subscription: Subscription,
    baseline: Snapshot,
    seen_messages: HashSet<String>,
    new_messages: Vec<String>,
    reason: Option<&'static str>,
    last_state: String,
    alive: bool,
}

impl Watched {
    /// Why this session is done, if it is.
    fn evaluate(&mut self, conditions: &Conditions) -> Option<&'static str> {
        let now = self.subscription.current();
        let before = self.baseline.session.as_deref();
        let after = now.session.as_deref();
        let reason = if conditions.pull_request
            && after.map_or(0, |s| s.pull_requests.len())
                > before.map_or(0, |s| s.pull_requests.len())
        {
            Some("pull_request")
        } else if conditions.output_changed
            && after.and_then(|s| s.structured_output.as_ref())
                != before.and_then(|s| s.structured_output.as_ref())
        {
            Some("output_changed")
        } else if let Some((pointer, expected)) = &conditions.output_matches
            && after
                .and_then(|s| s.structured_output.as_ref())
                .and_then(|output| output.pointer(pointer))
                == Some(expected)
        {
            Some("output_matches")
        } else if now.is_settled() {
            Some("settled")
        } else {
            None
        };
        self.reason = reason;
        reason
    }

    /// Notes Devin's new messages; returns the first line of each, for progress.
    fn collect_messages(&mut self) -> Vec<String> {
        let snapshot = self.subscription.current();
        let mut fresh = Vec::new();
        for message in snapshot.messages.iter() {
            if self.seen_messages.insert(message.event_id.clone())
                && message.source == Source::Devin
            {
                self.new_messages.push(message.message.clone());
                fresh.push(
                    message
                        .message
                        .lines()
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
        }
        fresh
    }

    fn state(&self) -> String {
        state_of(&self.subscription.current())
    }
}

fn state_of(snapshot: &Snapshot) -> String {
    match &snapshot.session {
        Some(session) => match &session.status_detail {
            Some(detail) => format!("{}/{detail}", session.status),
            None => session.status.to_string(),
        },
        None => "unknown".to_owned(),
    }
}

/// Waits as `spec` says. Returns the state of every session when the wait ends, whether it
/// ended by settling, by a condition or by timing out; a wait cut short because the server
/// shuts down reports `timed_out` too, so the caller knows to ask again. Errors only when
/// cancelled.
pub async fn wait(
    watcher: &Watcher,
    spec: WaitSpec,
    progress: Option<Progress>,
    cancel: CancellationToken,
) -> Result<WaitView, ToolError> {
    let started = Instant::now();
    let deadline = started + spec.timeout;
    let total = spec.timeout.as_secs_f64();
    let mut unique = HashSet::new();
    // Every poller starts at once; the wait then needs one fresh answer from each before it
    // can judge anything. That first round keeps the deadline and the heartbeat too: with
    // many sessions, or a slow API, it can take a while.
    let mut subscriptions: Vec<Subscription> = spec
        .sessions
        .iter()
        .filter(|s| unique.insert((*s).clone()))
        .map(|session| watcher.subscribe(session))
        .collect();
    let fresh_for = watcher.settings().min_interval;
    let count = subscriptions.len();
    {
        let firsts = futures::future::join_all(
            subscriptions
                .iter_mut()
                .map(|subscription| subscription.first(fresh_for)),
        );
        tokio::pin!(firsts);
        loop {
            let heartbeat = tokio::time::sleep(watcher.settings().progress_interval);
            tokio::select! {
                _ = cancel.cancelled() => return Err(cancelled()),
                _ = watcher.closed() => break,
                _ = tokio::time::sleep_until(deadline) => break,
                _ = &mut firsts => break,
                _ = heartbeat => {
                    if let Some(progress) = &progress {
                        let message = format!("reading {count} session(s)");
                        progress.send(started.elapsed().as_secs_f64(), total, message).await;
                    }
                }
            }
        }
    }
    let mut watched: Vec<Watched> = subscriptions
        .into_iter()
        .map(|subscription| {
            // Whatever the first round got; a session it did not reach starts from nothing.
            let baseline = subscription.current();
            Watched {
                seen_messages: baseline
                    .messages
                    .iter()
                    .map(|m| m.event_id.clone())
                    .collect(),
                last_state: state_of(&baseline),
                baseline,
                subscription,
                new_messages: Vec::new(),
                reason: None,
                alive: true,
            }
        })
        .collect();
    let mut next_heartbeat = Instant::now() + watcher.settings().progress_interval;
    let timed_out = loop {
        let done = watched
            .iter_mut()
            .map(|w| w.evaluate(&spec.conditions))
            .filter(Option::is_some)
            .count();
        let over = if spec.all {
            done == watched.len()
        } else {
            done > 0
        };
        if over {
            break false;
        }
        let changes = watched
            .iter_mut()
            .enumerate()
            .filter(|(_, w)| w.alive)
            .map(|(index, w)| async move { (index, w.subscription.changed().await) }.boxed());
        let changes: Vec<_> = changes.collect();
        let next_change = async {
            if changes.is_empty() {
                std::future::pending::<(usize, bool)>().await
            } else {
                futures::future::select_all(changes).await.0
            }
        };
        let wake = tokio::select! {
            _ = cancel.cancelled() => return Err(cancelled()),
            _ = tokio::time::sleep_until(deadline) => break true,
            _ = watcher.closed() => break true,
            _ = tokio::time::sleep_until(next_heartbeat) => None,
            (index, alive) = next_change => Some((index, alive)),
        };
        let message = match wake {
            Some((index, alive)) => {
                let entry = &mut watched[index];
                entry.alive = alive && !entry.subscription.current().final_state;
                let mut lines = Vec::new();
                let state = entry.state();
                let id = entry.subscription.session().devin_id();
                if state != entry.last_state {
                    lines.push(format!("{id}: {} -> {state}", entry.last_state));
                    entry.last_state = state;
                }
                for first_line in entry.collect_messages() {
                    lines.push(format!("{id}: Devin: {}", shorten(&first_line, 120)));
                }
                if lines.is_empty() {
                    continue;
                }
                lines.join("; ")
            }
            None => {
                let settled = watched
                    .iter()
                    .filter(|w| w.subscription.current().is_settled())
                    .count();
                format!(
                    "waiting on {} session(s), {settled} settled, {:.0}s of {total:.0}s",
                    watched.len(),
                    started.elapsed().as_secs_f64()
                )
            }
        };
        next_heartbeat = Instant::now() + watcher.settings().progress_interval;
        if let Some(progress) = &progress {
            progress
                .send(started.elapsed().as_secs_f64(), total, message)
                .await;
        }
    };
    for entry in &mut watched {
        entry.collect_messages();
        entry.evaluate(&spec.conditions);
    }
    Ok(WaitView {
        timed_out,
        waited_seconds: (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        sessions: watched.iter().map(view_of).collect(),
    })
}

fn view_of(entry: &Watched) -> SessionWaitView {
    let snapshot = entry.subscription.current();
    let mut view = match snapshot.session.as_deref() {
        Some(session) => SessionWaitView::from(session),
        None => SessionWaitView::unknown(entry.subscription.session()),
    };
    view.done_because = entry.reason.map(str::to_owned);
    view.new_messages = entry.new_messages.clone();
    view.error = snapshot
        .error
        .as_deref()
        .map(|error| ToolError::from_devin(error, Some(entry.subscription.session())).0);
    view
}

fn cancelled() -> ToolError {
    ToolError::invalid("the wait was cancelled")
}

fn shorten(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let head: String = text.chars().take(limit).collect();
    format!("{head}…")
}

/// Reads the progress token of a request, if the client sent one.
pub fn progress_of(context: &rmcp::service::RequestContext<RoleServer>) -> Option<Progress> {
    context.meta.get_progress_token().map(|token| Progress {
        peer: context.peer.clone(),
        token,
        last: std::sync::Mutex::new(f64::NEG_INFINITY),
    })
}
