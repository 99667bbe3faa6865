//! The live progress line of `pocket-catalog sync` on a terminal: the run's counters as its batches
//! write them to the run's record (read back every quarter second), the time since it started and
//! its rate. Not drawn when standard error is not a terminal, nor with `--json`.

use crate::domain::records::RunCounts;
use crate::store::Store;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// A progress line being drawn; [`Progress::finish`] clears it.
pub(super) struct Progress {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

/// Starts drawing the progress of the run `run_id`.
pub(super) fn show(store: Store, run_id: Uuid) -> Progress {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(Duration::from_millis(120));
    let stop = CancellationToken::new();
    let started = Instant::now();
    let task = tokio::spawn({
        let stop = stop.clone();
        async move {
            loop {
                if let Ok(Some(run)) = store.get_run(run_id).await {
                    bar.set_message(line(&run.counts, started.elapsed()));
                }
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

/// The progress line: repos listed, rows written, versions, elapsed time and the listing's rate.
fn line(c: &RunCounts, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    format!(
        "listed {} repos · wrote {} rows · {} versions ({} files deferred) · {:.0} s · {:.0} repos/s",
        c.fetched,
        c.rows_written,
        c.versions_created,
        c.inspections_deferred,
        secs,
        c.fetched as f64 / secs.max(0.001)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_says_how_far_the_run_is_and_how_fast() {
        let counts = RunCounts {
            fetched: 12_000,
            rows_written: 11_500,
            versions_created: 40,
            inspections_deferred: 2,
            ..RunCounts::default()
        };
        assert_eq!(
            line(&counts, Duration::from_secs(4)),
            "listed 12000 repos · wrote 11500 rows · 40 versions (2 files deferred) · 4 s · 3000 repos/s"
        );
        assert!(line(&RunCounts::default(), Duration::ZERO).ends_with("0 s · 0 repos/s"));
    }
}
