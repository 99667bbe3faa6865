//! A page's I/O around its pure planner ([`super::page_plan`]): the catalog rows it is compared with
//! read, and the details (README, commit files) of the entries that need them fetched a few at a time.

use super::page_plan::*;
use super::*;

impl Syncer {
    /// Plans and writes one page of fresh (not yet seen) entries at once (webhooks, renames found
    /// while confirming removals).
    pub(super) async fn process_page(
        &self,
        state: &mut RunState,
        models: Vec<HubModel>,
        skips: &mut Vec<SkipRecord>,
    ) -> Result<(), RunHalt> {
        let items = self.plan_page(state, models, skips).await?;
        self.write_batch(state, items, std::mem::take(skips)).await
    }

    /// Plans one page of fresh (not yet seen) listing entries against the catalog and fetches the
    /// details they need; returns the writes. Entries that cannot be mirrored go to `skips`.
    pub(super) async fn plan_page(
        &self,
        state: &mut RunState,
        models: Vec<HubModel>,
        skips: &mut Vec<SkipRecord>,
    ) -> Result<Vec<BatchItem>, RunHalt> {
        let (entries, unmappable, filtered) = map_entries(&models, &self.config.rules);
        drop(models);
        state.counts.filtered += filtered;
        skips.extend(unmappable);
        // The commits that have a version, per object id.
        let mut commits: HashMap<String, Vec<String>> = HashMap::new();
        if self.config.pull_versions {
            let object_ids: Vec<String> =
                entries.iter().map(|e| e.mirror.object_id.clone()).collect();
            for (object_id, sha) in self.store.version_commits(&object_ids).await? {
                commits.entry(object_id).or_default().push(sha);
            }
        }
        let planner = PagePlanner {
            settings: PlanSettings {
                pull_versions: self.config.pull_versions,
                fetch_readmes: self.config.fetch_readmes,
                require_model_file: self.config.require_model_file,
            },
            listed_digests: &state.listed_digests,
            commits: &commits,
        };
        let (objects, repos) = planner.models_to_read(&entries);
        let models = self.store.synced_models(&objects, &repos).await?;
        let page = planner.plan(entries, &models, &mut state.renamed_away);
        skips.extend(page.skips);
        let details = self.fetch_details(&page.entries).await;
        // A commit whose file list could not be read has no version this run: said in the run.
        state.versions_waiting += details
            .values()
            .filter(|d| matches!(d.assets, Some(Err(_))))
            .count() as i64;
        let (items, unchanged) = batch_items(
            &page.entries,
            details,
            crate::domain::now(),
            self.config.inspect_retry_base,
        );
        state.counts.unchanged += unchanged;
        Ok(items)
    }

    /// READMEs (for descriptions) and file details (for versions) of the planned repos that need them,
    /// with bounded concurrency. Neither failing is a reason to skip a model: the description falls
    /// back, and a missing version is retried next run.
    pub(super) async fn fetch_details(
        &self,
        planned: &[PlannedEntry],
    ) -> HashMap<usize, EntryDetails> {
        let wanted: Vec<Wanted> = planned
            .iter()
            .enumerate()
            .filter(|(_, p)| p.needs_readme || p.needs_version)
            .map(|(i, p)| Wanted {
                i,
                id: p.mirror.repo_id.to_string(),
                sha: p.mirror.sha.clone().unwrap_or_else(|| "main".into()),
                needs_readme: p.needs_readme,
                needs_version: p.needs_version,
                gated: p.mirror.gated.clone(),
            })
            .collect();
        self.live.details_wanted(wanted.len());
        stream::iter(wanted)
            .map(|wanted| async move {
                let Wanted {
                    i,
                    id,
                    sha,
                    needs_readme,
                    needs_version,
                    gated,
                } = wanted;
                let readme = async {
                    if !needs_readme {
                        return None;
                    }
                    match self.hub.readme(&id, &sha).await {
                        Ok(text) => text.as_deref().and_then(mapping::readme_first_paragraph),
                        Err(e) => {
                            tracing::debug!(repo = id, error = %e, "README not readable");
                            None
                        }
                    }
                };
                let files = async {
                    if !needs_version {
                        return (None, None, None);
                    }
                    let assets = match self.hub.model_info(&id, Some(&sha)).await {
                        Ok(RepoOutcome::Found { value, .. }) => versions::assets(
                            self.hub.config().endpoint.as_str(),
                            &id,
                            &sha,
                            value.siblings.as_deref(),
                        ),
                        Ok(other) => Err(format!("commit details unavailable: {other:?}")),
                        Err(e) => Err(format!("commit details unavailable: {e}")),
                    };
                    // The model file read by range (issue #21), briefly and within a time cap: a
                    // file that cannot be read now defers its inspection, never its version (#32).
                    let (reading, unread) = match &assets {
                        Ok(list) if self.config.inspect_models => {
                            let sources = self.brief_sources().for_repo(gated.as_deref());
                            let read = crate::pipeline::derive::read_main_file(sources, list);
                            match tokio::time::timeout(self.config.file_read_timeout, read).await {
                                Ok(Ok(reading)) => (Some(reading), None),
                                Ok(Err(e)) => (None, Some(e.to_string())),
                                Err(_) => (
                                    None,
                                    Some(format!(
                                        "its reads took longer than {} s",
                                        self.config.file_read_timeout.as_secs()
                                    )),
                                ),
                            }
                        }
                        _ => (None, None),
                    };
                    (Some(assets), reading, unread)
                };
                let (readme, (assets, reading, unread)) = tokio::join!(readme, files);
                self.live.detail_fetched();
                (
                    i,
                    EntryDetails {
                        readme,
                        assets,
                        reading,
                        unread,
                    },
                )
            })
            .buffer_unordered(self.config.detail_concurrency.max(1))
            .collect()
            .await
    }
}

/// What one planned repo (`i`, its position in the page) needs fetched, owned: the futures must not
/// borrow `planned` across the stream.
struct Wanted {
    i: usize,
    id: String,
    sha: String,
    needs_readme: bool,
    needs_version: bool,
    /// The Hub's `gated` field: a gated repo's model file is read with its own access.
    gated: Option<String>,
}
