//! Writing: planned items wait in [`PendingWrites`] (bounded by rows and bytes), go to the store as one fenced
//! batch in the background while the next pages are planned, and a batch that fails on one record is
//! written again record by record, the bad one skipped with its reason.

use super::*;
use crate::store::SyncBatch;

/// Planned writes go to the database in one transaction when the writer is idle and no page is
/// waiting, or once they hold this many rows (SQLite rewrites each index page a transaction touches
/// once per commit, so fewer, larger commits write far less)...
pub(super) const WRITE_BATCH_ROWS: usize = 5_000;
/// ...or this many bytes (estimated: see [`BatchItem::bytes`]; long descriptions and versions with many
/// assets make rows large), so what waits for a slow writer is bounded by its size, not its count...
pub(super) const WRITE_BATCH_BYTES: usize = 4 << 20;
/// ...or once the oldest has waited this long.
pub(super) const WRITE_BATCH_AGE: Duration = Duration::from_secs(1);
/// At most this many skipped records are kept per run (the count is always exact).
pub(super) const MAX_SKIP_RECORDS: i64 = 10_000;

/// Planned writes not yet in the database, their estimated size, and since when the oldest has waited.
#[derive(Default)]
pub(super) struct PendingWrites {
    pub(super) items: Vec<BatchItem>,
    pub(super) skips: Vec<SkipRecord>,
    pub(super) bytes: usize,
    pub(super) since: Option<Instant>,
}

impl PendingWrites {
    pub(super) fn add(&mut self, items: Vec<BatchItem>, skips: Vec<SkipRecord>) {
        if items.is_empty() && skips.is_empty() {
            return;
        }
        self.since.get_or_insert_with(Instant::now);
        self.bytes += items.iter().map(BatchItem::bytes).sum::<usize>();
        self.bytes += skips.iter().map(skip_bytes).sum::<usize>();
        self.items.extend(items);
        self.skips.extend(skips);
    }

    pub(super) fn rows(&self) -> usize {
        self.items.len() + self.skips.len()
    }

    /// Enough is waiting to be written now, by count or by size.
    pub(super) fn full(&self) -> bool {
        self.rows() >= WRITE_BATCH_ROWS || self.bytes >= WRITE_BATCH_BYTES
    }
}

pub(super) fn opt_len(s: &Option<String>) -> usize {
    s.as_ref().map_or(0, String::len)
}

pub(super) fn skip_bytes(s: &SkipRecord) -> usize {
    size_of::<SkipRecord>() + opt_len(&s.hf_model_id) + opt_len(&s.object_id) + s.reason.len()
}

/// A batch on its way to the store.
pub(super) struct WriteBatch {
    pub(super) writes: Vec<SyncWrite>,
    pub(super) kinds: Vec<WriteKind>,
    pub(super) versions: Vec<SyncVersion>,
    /// `(model id, digest)` of unchanged models whose stored digest is missing or stale.
    pub(super) digests: Vec<(Uuid, i64)>,
    pub(super) numbered: Vec<(i64, SkipRecord)>,
    /// Skipped records (all of them, also those beyond [`MAX_SKIP_RECORDS`]).
    pub(super) skipped: i64,
}

impl WriteBatch {
    /// Moves the run's counters by what this batch writes.
    pub(super) fn count(&self, c: &mut RunCounts) {
        c.skipped += self.skipped;
        for kind in &self.kinds {
            kind.count(c);
        }
    }
}

/// One model's write (if it has one) and its new versions, written on their own after a batch failed.
pub(super) type SingleWrite = (Option<(SyncWrite, WriteKind)>, Vec<SyncVersion>);

/// A batch being written, and how it went.
pub(super) type InFlight =
    AbortOnDropHandle<(WriteBatch, Result<crate::store::Applied, StoreError>)>;

/// One model's write, its new version, and the digest of an unchanged model stored without it.
pub(super) struct BatchItem {
    pub(super) write: Option<(SyncWrite, WriteKind)>,
    pub(super) version: Option<SyncVersion>,
    pub(super) digest: Option<(Uuid, i64)>,
}

impl BatchItem {
    /// About how many bytes the item holds: its own size and the text it points to (allocator slack
    /// aside), which is what a batch waiting for the writer keeps alive.
    pub(super) fn bytes(&self) -> usize {
        let write = self.write.as_ref().map_or(0, |(w, _)| {
            let u = &w.upstream;
            w.hf_model_id.len()
                + w.name.len()
                + w.description.len()
                + w.origin_repo_url.len()
                + w.task.as_ref().map_or(0, String::len)
                + w.tags.iter().map(|t| t.len() + 24).sum::<usize>()
                + u.object_id.len()
                + opt_len(&u.sha)
                + opt_len(&u.gated)
                + opt_len(&u.library_name)
        });
        let version = self.version.as_ref().map_or(0, |v| {
            let v = &v.version;
            v.version_string.len()
                + opt_len(&v.changelog)
                + opt_len(&v.hf_commit_sha)
                + v.pipeline_spec.as_ref().map_or(0, |s| s.to_string().len())
                + v.assets
                    .iter()
                    .map(|a| {
                        size_of::<Asset>()
                            + a.asset_key.len()
                            + a.asset_type.len()
                            + a.source_url.len()
                            + opt_len(&a.file_hash)
                            + opt_len(&a.hash_kind)
                    })
                    .sum::<usize>()
        });
        size_of::<BatchItem>() + write + version
    }
}

/// Which counter a write moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WriteKind {
    Created,
    Updated,
    Renamed,
    Restored,
}

impl WriteKind {
    pub(super) fn count(self, c: &mut RunCounts) {
        match self {
            WriteKind::Created => c.created += 1,
            WriteKind::Updated => c.updated += 1,
            WriteKind::Renamed => c.renamed += 1,
            WriteKind::Restored => c.restored += 1,
        }
    }
}

impl Syncer {
    /// Starts writing what is planned and not yet written, in one transaction, once the write before
    /// it has finished; the run goes on planning while it is written.
    pub(super) async fn flush(&self, state: &mut RunState) -> Result<(), RunHalt> {
        let PendingWrites { items, skips, .. } = std::mem::take(&mut state.pending);
        if items.is_empty() && skips.is_empty() {
            return Ok(());
        }
        self.settle(state).await?;
        let batch = self.prepare(state, items, skips);
        state.in_flight = Some(self.start_write(state, batch));
        Ok(())
    }

    /// Waits for the write in flight, if any, and folds its outcome into the run.
    pub(super) async fn settle(&self, state: &mut RunState) -> Result<(), RunHalt> {
        let Some(write) = state.in_flight.take() else {
            return Ok(());
        };
        let done = self.finish_write(state, write).await;
        // The batch is gone: hand what it and its pages held back to the system, or the allocator's
        // per-thread arenas keep it (BENCHMARKS.md, "Memory").
        crate::obs::memory::release_freed();
        done
    }

    /// Writes a batch in one transaction and waits for it (see [`Self::finish_write`]).
    pub(super) async fn write_batch(
        &self,
        state: &mut RunState,
        items: Vec<BatchItem>,
        skips: Vec<SkipRecord>,
    ) -> Result<(), RunHalt> {
        self.settle(state).await?;
        let batch = self.prepare(state, items, skips);
        let write = self.start_write(state, batch);
        self.finish_write(state, write).await
    }

    /// Numbers the skips and splits the items into what the store takes.
    pub(super) fn prepare(
        &self,
        state: &mut RunState,
        items: Vec<BatchItem>,
        skips: Vec<SkipRecord>,
    ) -> WriteBatch {
        let (numbered, skipped) = self.number_skips(state, skips);
        let mut batch = WriteBatch {
            writes: Vec::with_capacity(items.len()),
            kinds: Vec::with_capacity(items.len()),
            versions: Vec::new(),
            digests: Vec::new(),
            numbered,
            skipped,
        };
        for item in items {
            if let Some((write, kind)) = item.write {
                batch.writes.push(write);
                batch.kinds.push(kind);
            }
            batch.versions.extend(item.version);
            batch.digests.extend(item.digest);
        }
        batch
    }

    /// Writes a batch in a task of its own, with the run's counters as they will be after it.
    pub(super) fn start_write(&self, state: &RunState, batch: WriteBatch) -> InFlight {
        let mut after = state.counts;
        batch.count(&mut after);
        let store = self.store.clone();
        let fence = state.fence.clone();
        let (run_id, author_id) = (state.run_id, state.author_id);
        let hold = self.config.write_delay;
        AbortOnDropHandle::new(tokio::spawn(async move {
            let result = store
                .apply_sync(&SyncBatch {
                    writes: &batch.writes,
                    versions: &batch.versions,
                    digests: &batch.digests,
                    skips: &batch.numbered,
                    hold,
                    ..SyncBatch::new(&fence, run_id, author_id, &after)
                })
                .await;
            (batch, result)
        }))
    }

    /// Waits for a batch's write. If it failed on a record, each record is written again alone and
    /// the ones that still fail are skipped with their reason: one bad record never costs the others
    /// their work.
    pub(super) async fn finish_write(
        &self,
        state: &mut RunState,
        write: InFlight,
    ) -> Result<(), RunHalt> {
        let (batch, result) = match write.await {
            Ok(done) => done,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => return Err(RunHalt::Cancelled),
        };
        match result {
            Ok(applied) => {
                batch.count(&mut state.counts);
                state.counts.rows_written += applied.rows;
                state.counts.versions_created += applied.versions_created;
                state.counts.inspections_deferred += applied.inspections_deferred;
                crate::obs::metrics::inspections_deferred(applied.inspections_deferred as u64);
                return Ok(());
            }
            Err(StoreError::LeaseLost) => return Err(RunHalt::LeaseLost),
            Err(e @ StoreError::Unavailable(_)) => return Err(RunHalt::Store(e)),
            Err(e) => tracing::warn!(error = %e, "a batch failed; retrying its records one by one"),
        }
        // Slow path: the skips first, then each model (with its version) alone, then versions of
        // models that were not written.
        let WriteBatch {
            writes,
            kinds,
            versions,
            digests,
            numbered,
            skipped,
        } = batch;
        let mut counts = state.counts;
        counts.skipped += skipped;
        let applied = self
            .store
            .apply_sync(&SyncBatch {
                digests: &digests,
                skips: &numbered,
                ..self.store_batch(state, &counts)
            })
            .await?;
        counts.rows_written += applied.rows;
        let position: HashMap<Uuid, usize> = writes
            .iter()
            .enumerate()
            .map(|(i, w)| (w.model_id, i))
            .collect();
        let mut alone: Vec<SingleWrite> = writes
            .into_iter()
            .zip(kinds)
            .map(|(w, kind)| (Some((w, kind)), Vec::new()))
            .collect();
        for v in versions {
            match position.get(&v.model_id) {
                Some(&i) => alone[i].1.push(v),
                None => alone.push((None, vec![v])),
            }
        }
        for (write, version) in alone {
            let mut next = counts;
            if let Some((_, kind)) = &write {
                kind.count(&mut next);
            }
            let one: Vec<SyncWrite> = write.iter().map(|(w, _)| w.clone()).collect();
            match self
                .store
                .apply_sync(&SyncBatch {
                    writes: &one,
                    versions: &version,
                    ..self.store_batch(state, &next)
                })
                .await
            {
                Ok(applied) => {
                    next.rows_written += applied.rows;
                    next.versions_created += applied.versions_created;
                    next.inspections_deferred += applied.inspections_deferred;
                    crate::obs::metrics::inspections_deferred(applied.inspections_deferred as u64);
                    counts = next;
                }
                Err(StoreError::LeaseLost) => return Err(RunHalt::LeaseLost),
                Err(e) => {
                    let (hf_model_id, object_id) = match &write {
                        Some((w, _)) => (
                            Some(w.hf_model_id.clone()),
                            Some(w.upstream.object_id.clone()),
                        ),
                        None => (None, None),
                    };
                    let (seq, n) = self.number_skips(
                        state,
                        vec![SkipRecord {
                            hf_model_id,
                            object_id,
                            reason: format!("could not be written: {e}"),
                        }],
                    );
                    counts.skipped += n;
                    self.store
                        .apply_sync(&SyncBatch {
                            skips: &seq,
                            ..self.store_batch(state, &counts)
                        })
                        .await?;
                }
            }
        }
        state.counts = counts;
        Ok(())
    }

    /// A batch of this run that writes nothing but `counts` yet.
    fn store_batch<'a>(&self, state: &'a RunState, counts: &'a RunCounts) -> SyncBatch<'a> {
        SyncBatch::new(&state.fence, state.run_id, state.author_id, counts)
    }

    /// Gives skipped records their sequence numbers (keeping at most [`MAX_SKIP_RECORDS`]); returns the
    /// records to store and how many were skipped.
    pub(super) fn number_skips(
        &self,
        state: &mut RunState,
        skips: Vec<SkipRecord>,
    ) -> (Vec<(i64, SkipRecord)>, i64) {
        let n = skips.len() as i64;
        let mut out = Vec::new();
        for s in skips {
            tracing::warn!(repo = s.hf_model_id.as_deref().unwrap_or("?"), reason = %s.reason, "skipped");
            if state.skip_seq < MAX_SKIP_RECORDS {
                out.push((state.skip_seq, s));
            }
            state.skip_seq += 1;
        }
        (out, n)
    }
}
