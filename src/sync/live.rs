//! A run's live progress, in memory, as it goes: listing pages and repos read, the Hub details
//! (READMEs, commits' file lists) wanted and fetched for them, the repos planned. The run's record
//! (`sync_runs`) gets its counts with each written batch; this says how far the work *between* batches
//! is — a page of new repos waits on its READMEs before anything is written — for a live view in the
//! same process (`pocket-catalog sync`'s progress line).

use std::sync::atomic::{AtomicU64, Ordering};

/// The counters of the run a [`super::Syncer`] is executing (reset when it starts one).
#[derive(Debug, Default)]
pub struct LiveProgress {
    pages: AtomicU64,
    listed: AtomicU64,
    details_wanted: AtomicU64,
    details_fetched: AtomicU64,
    planned: AtomicU64,
}

/// The counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveSnapshot {
    /// Listing pages read.
    pub pages: u64,
    /// Distinct repos the listing gave.
    pub listed: u64,
    /// Repos whose README or commit file list is needed, and how many of those were fetched.
    pub details_wanted: u64,
    pub details_fetched: u64,
    /// Repos planned (compared with the catalogue, details fetched), ready to be written.
    pub planned: u64,
}

impl LiveProgress {
    pub(super) fn reset(&self) {
        for c in [
            &self.pages,
            &self.listed,
            &self.details_wanted,
            &self.details_fetched,
            &self.planned,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }

    pub(super) fn page(&self, listed: usize) {
        self.pages.fetch_add(1, Ordering::Relaxed);
        self.listed.store(listed as u64, Ordering::Relaxed);
    }

    pub(super) fn details_wanted(&self, n: usize) {
        self.details_wanted.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(super) fn detail_fetched(&self) {
        self.details_fetched.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn planned(&self, n: usize) {
        self.planned.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> LiveSnapshot {
        let l = |c: &AtomicU64| c.load(Ordering::Relaxed);
        LiveSnapshot {
            pages: l(&self.pages),
            listed: l(&self.listed),
            details_wanted: l(&self.details_wanted),
            details_fetched: l(&self.details_fetched),
            planned: l(&self.planned),
        }
    }
}
