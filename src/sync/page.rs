//! Planning a page: each fresh listing entry mapped, filtered and compared with the catalog (digests
//! first, [`super::plan::plan`] for the rest), and the details (README, commit files) of the entries
//! that need them fetched a few at a time.

use super::*;

/// One listing entry on its way to the database.
pub(super) struct Planned {
    pub(super) mirror: Mirror,
    pub(super) plan: Plan,
    pub(super) existing_id: Option<Uuid>,
    pub(super) needs_readme: bool,
    pub(super) needs_version: bool,
    /// [`Mirror::digest`] of the entry.
    pub(super) digest: i64,
    /// Unchanged, but the stored digest is not this entry's.
    pub(super) digest_stale: bool,
}

/// A README paragraph, and the assets of the commit (or why they could not be read).
pub(super) type Details = (Option<String>, Option<Result<Vec<Asset>, String>>);

impl Syncer {
    /// Plans and writes one page of fresh (not yet seen) entries at once (webhooks, renames found
    /// while confirming removals).
    pub(super) async fn process_page(
        &self,
        state: &mut RunState,
        models: Vec<HubModel>,
        skips: &mut Vec<SkipRecord>,
    ) -> Result<(), Halt> {
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
    ) -> Result<Vec<BatchItem>, Halt> {
        let mut mirrors = Vec::with_capacity(models.len());
        for m in &models {
            match map_model(m) {
                Ok(mirror) => match self.config.rules.check(&mirror) {
                    Ok(()) => mirrors.push(mirror),
                    Err(reason) => {
                        tracing::debug!(repo = %mirror.repo_id, reason, "left out by the filtering rules");
                        state.counts.filtered += 1;
                    }
                },
                Err(reason) => skips.push(SkipRecord {
                    hf_model_id: Some(m.id.clone()),
                    object_id: m.object_id.clone(),
                    reason,
                }),
            }
        }
        let object_ids: Vec<String> = mirrors.iter().map(|m| m.object_id.clone()).collect();
        // The commits that have a version, per object id (looked up by reference, entry by entry).
        let mut commits: HashMap<String, Vec<String>> = HashMap::new();
        if self.config.pull_versions {
            for (object_id, sha) in self.store.version_commits(&object_ids).await? {
                commits.entry(object_id).or_default().push(sha);
            }
        }
        let needs_version = |mirror: &Mirror, model_file: Option<bool>| {
            self.config.pull_versions
                && model_file != Some(false)
                && mirror.sha.as_deref().is_some_and(|sha| {
                    !commits
                        .get(mirror.object_id.as_str())
                        .is_some_and(|shas| shas.iter().any(|s| s == sha))
                })
        };
        // Most entries of a re-sync are unchanged: the digest of the entry is one a listed model was
        // written from (the run read them all at its start), and nothing about the model is read.
        // The others are read whole and compared field by field.
        let digests: Vec<i64> = mirrors.iter().map(Mirror::digest).collect();
        let model_files: Vec<Option<bool>> = mirrors
            .iter()
            .map(|m| versions::has_model_file(m.files.as_deref()))
            .collect();
        let same: Vec<bool> = mirrors
            .iter()
            .zip(&digests)
            .zip(&model_files)
            .map(|((m, digest), &model_file)| {
                state.listed_digests.contains(digest) && !needs_version(m, model_file)
            })
            .collect();
        let (rest_objects, rest_repos): (Vec<String>, Vec<String>) = mirrors
            .iter()
            .zip(&same)
            .filter(|(_, same)| !**same)
            .map(|(m, _)| (m.object_id.clone(), m.repo_id.to_string()))
            .unzip();
        let existing = self.store.synced_models(&rest_objects, &rest_repos).await?;
        let by_object: HashMap<&str, &Model> = existing
            .iter()
            .filter_map(|m| m.upstream.as_ref().map(|u| (u.object_id.as_str(), m)))
            .collect();
        let by_repo: HashMap<&str, &Model> = existing
            .iter()
            .filter_map(|m| m.hf_model_id.as_deref().map(|id| (id, m)))
            .collect();

        // A rename planned in this run frees its old repo id for a new repo: the rename is written
        // first (in an earlier batch, or before the creates of its own batch).
        for mirror in &mirrors {
            let old = by_object
                .get(mirror.object_id.as_str())
                .and_then(|m| m.hf_model_id.as_deref());
            if let Some(old) = old.filter(|old| *old != mirror.repo_id.as_str()) {
                state.renamed_away.insert(old.to_string());
            }
        }
        let mut planned: Vec<Planned> = Vec::with_capacity(mirrors.len());
        let entries = mirrors.into_iter().zip(digests).zip(model_files).zip(same);
        for (((mirror, digest), model_file), same) in entries {
            if same {
                planned.push(Planned {
                    existing_id: None,
                    needs_readme: false,
                    needs_version: false,
                    mirror,
                    plan: Plan::Unchanged,
                    digest,
                    digest_stale: false,
                });
                continue;
            }
            let current = by_object
                .get(mirror.object_id.as_str())
                .copied()
                .or_else(|| {
                    // A repo id deleted and created anew: the inactive model that held the id follows it.
                    by_repo.get(mirror.repo_id.as_str()).copied().filter(|m| {
                        m.upstream.as_ref().is_some_and(|u| {
                            u.object_id != mirror.object_id
                                && matches!(
                                    u.status,
                                    Some(UpstreamStatus::Removed | UpstreamStatus::Private)
                                )
                        })
                    })
                });
            if current.is_none() {
                let holder = by_repo.get(mirror.repo_id.as_str()).filter(|h| {
                    !h.hf_model_id
                        .as_deref()
                        .is_some_and(|id| state.renamed_away.contains(id))
                });
                if let Some(holder) = holder {
                    skips.push(SkipRecord {
                        hf_model_id: Some(mirror.repo_id.to_string()),
                        object_id: Some(mirror.object_id.clone()),
                        reason: format!(
                            "repo id is still held by catalog model {} of another Hub repo; retried next run",
                            holder.id
                        ),
                    });
                    continue;
                }
            }
            if current.is_none() && model_file == Some(false) && self.config.require_model_file {
                skips.push(SkipRecord {
                    hf_model_id: Some(mirror.repo_id.to_string()),
                    object_id: Some(mirror.object_id.clone()),
                    reason:
                        "no model file (.tflite, .litertlm or .task): not a usable LiteRT model"
                            .into(),
                });
                continue;
            }
            let plan = plan::plan(&mirror, current);
            // Unchanged, but stored without this digest (synced before digests were kept, or edited
            // since): the digest alone is written, so the next run need not read the model.
            let digest_stale = plan == Plan::Unchanged
                && current
                    .is_some_and(|m| m.upstream.as_ref().and_then(|u| u.digest) != Some(digest));
            planned.push(Planned {
                existing_id: current.map(|m| m.id),
                needs_readme: self.config.fetch_readmes && plan.needs_readme(&mirror),
                needs_version: needs_version(&mirror, model_file),
                mirror,
                plan,
                digest,
                digest_stale,
            });
        }
        let details = self.fetch_details(&planned).await;
        let now = crate::domain::now();
        let mut items = Vec::with_capacity(planned.len());
        let mut unchanged = 0;
        for (i, p) in planned.iter().enumerate() {
            let (readme, assets) = details.get(&i).cloned().unwrap_or_default();
            let write = match &p.plan {
                Plan::Unchanged => {
                    unchanged += 1;
                    None
                }
                plan => {
                    let kind = match plan {
                        Plan::Create => WriteKind::Created,
                        Plan::Update {
                            kind: UpdateKind::Renamed { from },
                            ..
                        } => {
                            tracing::info!(from, to = %p.mirror.repo_id, "repo renamed upstream");
                            WriteKind::Renamed
                        }
                        Plan::Update {
                            kind: UpdateKind::Restored,
                            ..
                        } => WriteKind::Restored,
                        _ => WriteKind::Updated,
                    };
                    plan.write(&p.mirror, p.digest, readme, now)
                        .map(|w| (w, kind))
                }
            };
            let model_id = write.as_ref().map(|(w, _)| w.model_id).or(p.existing_id);
            let version = match (assets, model_id) {
                (Some(Ok(assets)), Some(model_id)) => Some(SyncVersion {
                    model_id,
                    version: versions::new_version(model_id, &p.mirror, assets, now),
                }),
                (Some(Err(reason)), _) => {
                    tracing::warn!(repo = %p.mirror.repo_id, reason, "no version this run");
                    None
                }
                _ => None,
            };
            let digest = p
                .existing_id
                .filter(|_| p.digest_stale)
                .map(|id| (id, p.digest));
            if write.is_some() || version.is_some() || digest.is_some() {
                items.push(BatchItem {
                    write,
                    version,
                    digest,
                });
            }
        }
        state.counts.unchanged += unchanged;
        Ok(items)
    }

    /// READMEs (for descriptions) and file details (for versions) of the planned repos that need them,
    /// with bounded concurrency. Neither failing is a reason to skip a model: the description falls
    /// back, and a missing version is retried next run.
    pub(super) async fn fetch_details(&self, planned: &[Planned]) -> HashMap<usize, Details> {
        // Owned inputs: the futures must not borrow `planned` across the stream.
        let wanted: Vec<(usize, String, String, bool, bool)> = planned
            .iter()
            .enumerate()
            .filter(|(_, p)| p.needs_readme || p.needs_version)
            .map(|(i, p)| {
                let sha = p.mirror.sha.clone().unwrap_or_else(|| "main".into());
                (
                    i,
                    p.mirror.repo_id.to_string(),
                    sha,
                    p.needs_readme,
                    p.needs_version,
                )
            })
            .collect();
        stream::iter(wanted)
            .map(|(i, id, sha, needs_readme, needs_version)| async move {
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
                        return None;
                    }
                    Some(match self.hub.model_info(&id, Some(&sha)).await {
                        Ok(RepoOutcome::Found { value, .. }) => versions::assets(
                            self.hub.config().endpoint.as_str(),
                            &id,
                            &sha,
                            value.siblings.as_deref(),
                        ),
                        Ok(other) => Err(format!("commit details unavailable: {other:?}")),
                        Err(e) => Err(format!("commit details unavailable: {e}")),
                    })
                };
                let (readme, files) = tokio::join!(readme, files);
                (i, (readme, files))
            })
            .buffer_unordered(self.config.detail_concurrency.max(1))
            .collect()
            .await
    }
}
