//! The full run's driver: every filter's listing planned and written page by page, then — after a
//! complete listing — the missing repos confirmed and the inspection backlog worked down.

use super::*;

impl Syncer {
    /// Discovery, writes and removals. `Ok(listing_complete)`.
    pub(super) async fn run_phases(
        &self,
        state: &mut RunState,
        stop: &CancellationToken,
    ) -> Result<bool, RunHalt> {
        let run_start = crate::domain::now();
        self.readings.forget_failures();
        self.ensure_system_user(state).await?;
        // One read of 8 bytes per listed model lets every unchanged entry be planned without a query.
        state.listed_digests = self.store.listed_digests().await?.into_iter().collect();
        tracing::info!("Starting fetch of LiteRT models from HuggingFace...");
        let mut complete = true;
        let mut limit_hit = false;
        let mut listing_failures = Vec::new();
        let mut pages = 0usize;
        let (mut listing, _producer) = self.spawn_listing();
        loop {
            // Writing now costs nothing when the writer is idle and the next page has not arrived:
            // batches grow while the writer is busy and shrink when it keeps up, and a slow listing
            // still shows its progress page by page.
            let writer_idle = state.in_flight.as_ref().is_none_or(|w| w.is_finished());
            if writer_idle && listing.is_empty() && state.pending.rows() > 0 {
                self.flush(state).await?;
            }
            let deadline = tokio::time::Instant::from_std(
                state.pending.since.unwrap_or_else(Instant::now) + WRITE_BATCH_AGE,
            );
            let event = tokio::select! {
                biased;
                _ = stop.cancelled() => {
                    // What is planned is kept: a resumed run finds it written.
                    self.flush(state).await?;
                    self.settle(state).await?;
                    return Err(RunHalt::Cancelled);
                }
                _ = tokio::time::sleep_until(deadline), if state.pending.since.is_some() => {
                    self.flush(state).await?;
                    continue;
                }
                event = listing.recv() => event,
            };
            let page = match event {
                None => break,
                Some(ListingEvent::Failed { filter, error }) => {
                    complete = false;
                    tracing::warn!(filter, error = %error, "a listing page failed; the listing is incomplete");
                    listing_failures.push((filter, error));
                    continue;
                }
                Some(ListingEvent::Page(page, budget)) => (page, budget),
            };
            let (page, budget) = page;
            pages += 1;
            let mut skips: Vec<SkipRecord> = page
                .skipped
                .into_iter()
                .map(|s| SkipRecord {
                    hf_model_id: s.id,
                    object_id: None,
                    reason: s.reason,
                })
                .collect();
            if !skips.is_empty() {
                complete = false;
                state.unreadable_entries += skips.len() as i64;
            }
            let mut fresh = Vec::with_capacity(page.models.len());
            for m in page.models {
                if let Some(limit) = self.config.limit {
                    if state.seen.len() >= limit {
                        limit_hit = true;
                        break;
                    }
                }
                let oid = m.object_id.clone().unwrap_or_default();
                if state.seen.insert(oid) {
                    fresh.push(m);
                }
            }
            state.counts.fetched = state.seen.len() as i64;
            self.live.page(state.seen.len());
            let planned = fresh.len();
            let items = self.plan_page(state, fresh, &mut skips).await?;
            self.live.planned(planned);
            drop(budget);
            state.pending.add(items, skips);
            if state.pending.full() {
                self.flush(state).await?;
            }
            if limit_hit {
                break;
            }
        }
        self.flush(state).await?;
        self.settle(state).await?;
        self.refresh_statistics(state).await;
        tracing::info!(
            "Fetched {} LiteRT models from HuggingFace",
            state.counts.fetched
        );
        if limit_hit {
            complete = false;
        }
        self.note_listing_problems(state, &listing_failures, pages, limit_hit);
        if complete {
            self.handle_missing(state, stop).await?;
        } else {
            tracing::warn!("the listing was incomplete: nothing is marked removed in this run");
        }
        self.inspect_after_listing(state, stop, run_start).await?;
        Ok(complete && !limit_hit)
    }

    /// When the listing created or rewrote a tenth or more of the models it listed (a first sync, a
    /// mass change), the database's statistics are refreshed at once — searches are planned by them —
    /// rather than whenever autovacuum gets to it, if it runs at all. A failure is only logged.
    async fn refresh_statistics(&self, state: &RunState) {
        let c = &state.counts;
        let changed = c.created + c.updated + c.renamed + c.restored;
        if changed == 0 || changed * 10 < c.fetched {
            return;
        }
        let started = Instant::now();
        match self.store.refresh_statistics().await {
            Ok(()) => tracing::info!(
                changed,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "the catalogue's statistics were refreshed"
            ),
            Err(e) => tracing::warn!(error = %e, "could not refresh the catalogue's statistics"),
        }
    }

    /// What a person should know of the listing: where it stopped, what could not be read.
    fn note_listing_problems(
        &self,
        state: &mut RunState,
        listing_failures: &[(String, HubError)],
        pages: usize,
        limit_hit: bool,
    ) {
        if limit_hit {
            state.problems.push(format!(
                "stopped at SYNC_LIMIT={}",
                self.config.limit.unwrap_or(0)
            ));
        }
        state
            .problems
            .extend(self.describe_listing_failures(listing_failures, pages == 0));
        if state.versions_waiting > 0 {
            state.problems.push(format!(
                "{} new commits' file lists could not be read from the Hub: their versions wait for the \
                 next run",
                state.versions_waiting
            ));
        }
        if state.unreadable_entries > 0 {
            state.problems.push(format!(
                "{} listing entries could not be read (skipped with their reasons)",
                state.unreadable_entries
            ));
        }
    }

    /// The inspection backlog, after the listing; what this run deferred, said as a warning.
    async fn inspect_after_listing(
        &self,
        state: &mut RunState,
        stop: &CancellationToken,
        run_start: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), RunHalt> {
        state.counts.inspections_deferred += self.inspect_backlog(stop, run_start).await?;
        let changed = self.recheck_published(stop).await?;
        if changed > 0 {
            state.problems.push(format!(
                "{changed} published versions' model files changed since they were verified: inspected \
                 again (a person's spec is pending until checked)"
            ));
        }
        if state.counts.inspections_deferred > 0 {
            state.problems.push(format!(
                "{} model files could not be read (the storage or the Hub failed, or the reads ran out \
                 of time): their versions are written, missing until a later run reads them",
                state.counts.inspections_deferred
            ));
        }
        Ok(())
    }
}
