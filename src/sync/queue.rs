//! Refreshes of single repos asked for by Hub webhooks: a queue deduplicated by (repo, head sha), and the
//! worker that runs each refresh as a recorded run with trigger `webhook`, under the same one-active-run
//! lease as every other run (it waits while another run holds it).

use super::{ClaimError, Syncer};
use crate::domain::Trigger;
use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// A repo to refresh, and the commit the webhook named (for deduplication).
pub type Job = (String, Option<String>);

#[derive(Clone, Default)]
pub struct RefreshQueue {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    jobs: Mutex<VecDeque<Job>>,
    /// Jobs queued or running: a duplicate of one of them is collapsed.
    keys: Mutex<HashSet<Job>>,
    wake: Notify,
}

/// Whether a job was queued or collapsed into one already pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    Queued,
    Duplicate,
}

impl RefreshQueue {
    pub fn push(&self, repo_id: String, head_sha: Option<String>) -> Enqueued {
        let job = (repo_id, head_sha);
        if !self
            .inner
            .keys
            .lock()
            .expect("queue lock")
            .insert(job.clone())
        {
            return Enqueued::Duplicate;
        }
        self.inner.jobs.lock().expect("queue lock").push_back(job);
        self.inner.wake.notify_one();
        Enqueued::Queued
    }

    pub fn len(&self) -> usize {
        self.inner.jobs.lock().expect("queue lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Works the queue until `cancel`. A job that finds another run active waits and tries again.
    pub async fn run(self, syncer: Syncer, cancel: CancellationToken) {
        loop {
            let job = self.inner.jobs.lock().expect("queue lock").pop_front();
            let Some(job) = job else {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = self.inner.wake.notified() => continue,
                    _ = tokio::time::sleep(Duration::from_secs(5)) => continue,
                }
            };
            match syncer
                .claim_repo(Trigger::Webhook, &job.0, None, false)
                .await
            {
                Ok(claimed) => {
                    let report = syncer.execute(claimed, cancel.child_token()).await;
                    tracing::info!(repo = job.0, status = %report.status, "webhook refresh done");
                    self.inner.keys.lock().expect("queue lock").remove(&job);
                }
                Err(ClaimError::Busy { .. }) => {
                    self.inner.jobs.lock().expect("queue lock").push_front(job);
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    }
                }
                Err(e) => {
                    tracing::warn!(repo = job.0, error = %e, "webhook refresh could not start; dropped");
                    self.inner.keys.lock().expect("queue lock").remove(&job);
                }
            }
            if cancel.is_cancelled() {
                return;
            }
        }
    }
}
