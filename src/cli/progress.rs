//! The live progress line of `pocket-catalog sync` on a terminal, redrawn every quarter second: how
//! far the work between batches is (listing pages and repos, the Hub details fetched for them, repos
//! planned: the syncer's [`LiveProgress`]), what the written batches recorded in the run's record
//! (rows, versions), the time since it started and its rate. Not drawn when standard error is not a
//! terminal, nor with `--json`.

use crate::domain::records::RunCounts;
use crate::store::Store;
use crate::sync::live::{LiveProgress, LiveSnapshot};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// A progress line being drawn; [`Progress::finish`] clears it.
pub(super) struct Progress {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

/// Starts drawing the progress of the run `run_id`.
pub(super) fn show(store: Store, run_id: Uuid, live: Arc<LiveProgress>) -> Progress {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(Duration::from_millis(120));
    let stop = CancellationToken::new();
    let started = Instant::now();
    let task = tokio::spawn({
        let stop = stop.clone();
        async move {
            let mut written = RunCounts::default();
            loop {
                if let Ok(Some(run)) = store.get_run(run_id).await {
                    written = run.counts;
                }
                bar.set_message(line(&live.snapshot(), &written, started.elapsed()));
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                }
            }
            bar.finish_and_clear();
        }
    });
    Progress { stop, task }
}

impl Progress {
    /// Stops drawing and clears the line (the summary follows).
    pub(super) async fn finish(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// The progress line: pages and repos listed, details fetched of those wanted, repos planned, rows
/// and versions written, elapsed time and the listing's rate.
fn line(live: &LiveSnapshot, written: &RunCounts, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    format!(
        "{} pages · listed {} repos · details {}/{} · planned {} · wrote {} rows · {} versions ({} files deferred) · {:.0} s · {:.0} repos/s",
        live.pages,
        live.listed,
        live.details_fetched,
        live.details_wanted,
        live.planned,
        written.rows_written,
        written.versions_created,
        written.inspections_deferred,
        secs,
        live.listed as f64 / secs.max(0.001)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_says_how_far_the_run_is_and_how_fast() {
        let live = LiveSnapshot {
            pages: 12,
            listed: 12_000,
            details_wanted: 900,
            details_fetched: 450,
            planned: 11_000,
        };
        let written = RunCounts {
            rows_written: 10_500,
            versions_created: 40,
            inspections_deferred: 2,
            ..RunCounts::default()
        };
        assert_eq!(
            line(&live, &written, Duration::from_secs(4)),
            "12 pages · listed 12000 repos · details 450/900 · planned 11000 · wrote 10500 rows · \
             40 versions (2 files deferred) · 4 s · 3000 repos/s"
        );
        let nothing = line(
            &LiveSnapshot::default(),
            &RunCounts::default(),
            Duration::ZERO,
        );
        assert!(nothing.ends_with("0 s · 0 repos/s"), "{nothing}");
    }
}
