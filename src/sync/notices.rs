//! Telling people about runs: a failed or partial run, or the first success after one, goes to the
//! notifier (`crate::sync::notify`); deliveries still in flight are waited for on shutdown.

use super::*;

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
