//! Confirmation of missing repos: after a complete listing, each active model it lacks is asked about
//! on its own before it is marked removed or follows its rename; a mass disappearance is refused.

use super::*;

/// A repo missing from the listing and what the Hub said about it: (model id, object id, repo id, answer).
pub(super) type MissingRepoAnswer = (
    Uuid,
    String,
    String,
    Result<RepoOutcome<HubModel>, HubError>,
);

impl Syncer {
    /// After a complete listing: every active catalog model that was not listed is confirmed one by one.
    pub(super) async fn handle_missing(
        &self,
        state: &mut RunState,
        stop: &CancellationToken,
    ) -> Result<(), RunHalt> {
        let active = self.store.active_object_ids().await?;
        let missing: Vec<String> = active
            .iter()
            .filter(|oid| !state.seen.contains(*oid))
            .cloned()
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let share = 100.0 * missing.len() as f64 / active.len().max(1) as f64;
        if share > self.config.removal_threshold_pct {
            let note = format!(
                "{} of {} mirrored models ({share:.1}%) are missing from the listing, more than the {}% threshold: nothing was removed",
                missing.len(),
                active.len(),
                self.config.removal_threshold_pct
            );
            tracing::warn!("{note}");
            state.problems.push(note);
            state.removals_held_back = true;
            return Ok(());
        }
        tracing::info!(
            candidates = missing.len(),
            "confirming repos missing from the listing"
        );
        let missing: Vec<(Uuid, String, String)> = self
            .store
            .synced_models(&missing, &[])
            .await?
            .into_iter()
            .filter_map(|m| Some((m.id, m.upstream?.object_id, m.hf_model_id?)))
            .collect();
        let checks: Vec<MissingRepoAnswer> = stream::iter(missing)
            .map(|(id, oid, repo)| async move {
                let outcome = self.hub.model_info(&repo, None).await;
                (id, oid, repo, outcome)
            })
            .buffer_unordered(self.config.detail_concurrency.max(1))
            .collect()
            .await;
        if stop.is_cancelled() {
            return Err(RunHalt::Cancelled);
        }
        let mut removed = Vec::new();
        let mut skips = Vec::new();
        let mut renames: Vec<HubModel> = Vec::new();
        for (id, oid, repo, outcome) in checks {
            match outcome {
                Ok(RepoOutcome::MissingOrPrivate | RepoOutcome::NotFound) => removed.push(id),
                Ok(RepoOutcome::Gated) => {}
                Ok(RepoOutcome::Found { value, renamed_to }) => {
                    let same_repo = value.object_id.as_deref() == Some(oid.as_str());
                    if same_repo && renamed_to.is_some() {
                        renames.push(value);
                    } else {
                        // Either another repo now holds the id, or the repo is no longer tagged LiteRT.
                        tracing::info!(
                            repo,
                            same_repo,
                            "no longer a listed LiteRT repo: marked removed"
                        );
                        removed.push(id);
                    }
                }
                Err(e) => skips.push(SkipRecord {
                    hf_model_id: Some(repo),
                    object_id: Some(oid),
                    reason: format!("could not confirm that the repo is gone: {e}"),
                }),
            }
        }
        self.mark_removed(state, &removed).await?;
        if !renames.is_empty() || !skips.is_empty() {
            let mut mirrors = Vec::new();
            for m in &renames {
                if let Ok(mirror) = map_model(m) {
                    state.seen.insert(mirror.object_id.clone());
                    mirrors.push(m.clone());
                }
            }
            let mut skips = skips;
            self.process_page(state, mirrors, &mut skips).await?;
        }
        Ok(())
    }
    /// Marks models removed upstream (hidden, kept), counted in the same transaction.
    pub(super) async fn mark_removed(
        &self,
        state: &mut RunState,
        ids: &[Uuid],
    ) -> Result<(), RunHalt> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut after = state.counts;
        after.removed += ids.len() as i64;
        let rows = self
            .store
            .mark_upstream(
                &state.fence,
                state.run_id,
                ids,
                UpstreamStatus::Removed,
                &after,
            )
            .await?;
        after.rows_written += rows;
        state.counts = after;
        Ok(())
    }
}
