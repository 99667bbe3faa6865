//! A run for one repo (a Hub webhook, an admin's ad-hoc import): import, update, follow a rename, or
//! mark it removed.

use super::*;

impl Syncer {
    /// Refreshes one repo: imports or updates it, follows a rename, or marks it removed when it is gone.
    pub(super) async fn run_repo(
        &self,
        state: &mut RunState,
        repo_id: &str,
        revision: Option<&str>,
        adhoc: bool,
    ) -> Result<(), RunHalt> {
        self.ensure_system_user(state).await?;
        let outcome = match self.hub.model_info(repo_id, revision).await {
            Ok(o) => o,
            Err(e) => {
                state
                    .problems
                    .push(format!("could not read {repo_id}: {e}"));
                return Ok(());
            }
        };
        let mut skips = Vec::new();
        match outcome {
            RepoOutcome::Found { value, .. } => {
                let in_filters = self.config.filters.iter().any(|f| {
                    value.library_name.as_deref() == Some(f.as_str())
                        || value.tags.iter().any(|t| t == f)
                });
                if !adhoc && !in_filters {
                    tracing::info!(repo_id, "not a LiteRT repo by SYNC_FILTERS: left out");
                    state.counts.filtered += 1;
                    return self.write_batch(state, Vec::new(), skips).await;
                }
                let files: Option<Vec<String>> = value
                    .siblings
                    .as_ref()
                    .map(|s| s.iter().map(|f| f.rfilename.clone()).collect());
                let no_model_file = versions::has_model_file(files.as_deref()) == Some(false);
                if no_model_file && (adhoc || self.config.require_model_file) {
                    skips.push(SkipRecord {
                        hf_model_id: Some(value.id.clone()),
                        object_id: value.object_id.clone(),
                        reason:
                            "no model file (.tflite, .litertlm or .task): not a usable LiteRT model"
                                .into(),
                    });
                    return self.write_batch(state, Vec::new(), skips).await;
                }
                if let Some(oid) = &value.object_id {
                    state.seen.insert(oid.clone());
                }
                state.counts.fetched = 1;
                self.process_page(state, vec![value], &mut skips).await
            }
            RepoOutcome::MissingOrPrivate | RepoOutcome::NotFound => {
                let known = self
                    .store
                    .synced_models(&[], &[repo_id.to_string()])
                    .await?;
                let gone: Vec<Uuid> = known
                    .iter()
                    .filter(|m| {
                        m.upstream
                            .as_ref()
                            .is_none_or(|u| u.status.is_none_or(|s| s == UpstreamStatus::Active))
                    })
                    .map(|m| m.id)
                    .collect();
                self.mark_removed(state, &gone).await
            }
            RepoOutcome::Gated => Ok(()),
        }
    }
}
