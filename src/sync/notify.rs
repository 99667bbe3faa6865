//! Run notifications: a failed run, and the first success after one, are POSTed as JSON to every
//! `NOTIFY_WEBHOOK_URLS` URL (generic fields plus a Slack-compatible `text`); optionally a notice when a
//! successful run skipped more records than `NOTIFY_SKIPPED_ABOVE` (it never changes the run's status).
//! Delivery is retried with backoff in the background; a failed delivery is logged (host only — such URLs
//! carry secrets) and counted, and never fails the run.

use super::Syncer;
use crate::domain::records::{RunCounts, SyncRun};
use crate::domain::RunStatus;
use backon::{ExponentialBuilder, Retryable};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use url::Url;
use uuid::Uuid;

#[derive(Clone)]
pub struct Notifier {
    urls: Arc<Vec<Url>>,
    http: reqwest::Client,
    backoff: Duration,
    /// A successful run that skipped more records than this is notified (`sync.skipped`).
    skipped_above: Option<i64>,
    deliveries: tokio_util::task::TaskTracker,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hosts: Vec<&str> = self.urls.iter().filter_map(|u| u.host_str()).collect();
        f.debug_struct("Notifier").field("hosts", &hosts).finish()
    }
}

/// What a notification says.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Event {
    /// `sync.failed`, `sync.recovered` or `sync.skipped`.
    pub event: &'static str,
    pub run_id: Uuid,
    pub status: RunStatus,
    pub trigger: String,
    pub counts: RunCounts,
    pub error: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Slack-compatible summary.
    pub text: String,
}

impl Notifier {
    pub fn new(urls: Vec<Url>) -> Notifier {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("pocket-catalog/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("static client configuration");
        Notifier {
            urls: Arc::new(urls),
            http,
            backoff: Duration::from_secs(1),
            skipped_above: None,
            deliveries: tokio_util::task::TaskTracker::new(),
        }
    }

    /// Shorter retries, for tests.
    pub fn with_backoff(mut self, backoff: Duration) -> Notifier {
        self.backoff = backoff;
        self
    }

    /// Also notify successful runs that skipped more than `limit` records.
    pub fn with_skipped_above(mut self, limit: Option<u64>) -> Notifier {
        self.skipped_above = limit.map(|n| n.min(i64::MAX as u64) as i64);
        self
    }

    /// The event for a run that just ended, given the run that ended before it: failures always, a
    /// success when it follows a failure (a recovery) or, with a limit set, when it skipped more records
    /// than the limit.
    pub fn event_for(&self, run: &SyncRun, previous: Option<&SyncRun>) -> Option<Event> {
        let previous_bad = previous.is_some_and(|p| p.status == RunStatus::Failed);
        let skipped_many = self
            .skipped_above
            .is_some_and(|limit| run.counts.skipped > limit);
        let (event, text) = match run.status {
            RunStatus::Failed => (
                "sync.failed",
                format!(
                    ":x: Pocket AI catalog sync failed ({}): {}",
                    run.trigger,
                    run.error.as_deref().unwrap_or(&run.message)
                ),
            ),
            RunStatus::Success if previous_bad => (
                "sync.recovered",
                format!(
                    ":white_check_mark: Pocket AI catalog sync recovered: {}",
                    run.message
                ),
            ),
            RunStatus::Success if skipped_many => (
                "sync.skipped",
                format!(
                    ":information_source: Pocket AI catalog sync skipped {} records (more than {}): {}",
                    run.counts.skipped,
                    self.skipped_above.unwrap_or_default(),
                    run.message
                ),
            ),
            _ => return None,
        };
        Some(Event {
            event,
            run_id: run.id,
            status: run.status,
            trigger: run.trigger.to_string(),
            counts: run.counts,
            error: run.error.clone(),
            started_at: run.started_at,
            finished_at: run.finished_at,
            text,
        })
    }

    /// Sends `event` to every URL in the background.
    pub fn send(&self, event: Event) {
        for url in self.urls.iter() {
            let (url, http, event, backoff) =
                (url.clone(), self.http.clone(), event.clone(), self.backoff);
            self.deliveries.spawn(async move {
                let host = url.host_str().unwrap_or("?").to_string();
                let attempt = || async {
                    let res = http.post(url.clone()).json(&event).send().await?;
                    res.error_for_status().map(|_| ())
                };
                let result = attempt
                    .retry(ExponentialBuilder::default().with_min_delay(backoff).with_max_times(4).with_jitter())
                    .sleep(tokio::time::sleep)
                    .await;
                match result {
                    Ok(()) => {
                        crate::obs::metrics::notification("delivered");
                        tracing::info!(host, event = event.event, "notification delivered");
                    }
                    Err(e) => {
                        crate::obs::metrics::notification("failed");
                        // Only the host: webhook URLs carry their secret in the path.
                        tracing::warn!(host, event = event.event, status = ?e.status(), "notification could not be delivered");
                    }
                }
            });
        }
    }

    pub fn is_empty(&self) -> bool {
        self.urls.is_empty()
    }

    /// Waits (at most `limit`) for deliveries in flight, before a process exits.
    pub async fn flush(&self, limit: Duration) {
        self.deliveries.close();
        let _ = tokio::time::timeout(limit, self.deliveries.wait()).await;
        self.deliveries.reopen();
    }
}

/// The syncer's side: a failed or partial run, or the first success after one, goes to the notifier;
/// deliveries still in flight are waited for on shutdown.
impl Syncer {
    /// Waits (at most `limit`) for notifications still being delivered.
    pub async fn flush_notifications(&self, limit: Duration) {
        if let Some(n) = &self.notifier {
            n.flush(limit).await;
        }
    }

    /// Notifies of a failed or partial run, or of the first success after one.
    pub(super) async fn notify(&self, run_id: Uuid) {
        let Some(notifier) = &self.notifier else {
            return;
        };
        let runs = match self.store.list_runs(50, None).await {
            Ok(runs) => runs,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the runs to decide on a notification");
                return;
            }
        };
        let Some(pos) = runs.iter().position(|r| r.id == run_id) else {
            return;
        };
        let previous = runs[pos + 1..]
            .iter()
            .find(|r| matches!(r.status, RunStatus::Success | RunStatus::Failed));
        if let Some(event) = notifier.event_for(&runs[pos], previous) {
            notifier.send(event);
        }
    }
}
