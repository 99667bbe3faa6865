//! Planning a page, without I/O: the listing entries of one page, mapped and filtered, compared with
//! what the catalog holds (the digests the run started with, the commits that have a version, the
//! models with the entries' object or repo ids) → the entries to write and the entries skipped, each
//! with its reason. `page.rs` reads the catalog and the Hub around it.
//!
//! The page-level rules live here and are unit-tested below: a rename planned in this run frees its
//! old repo id for a new repo; a repo id still held by another Hub repo's model is skipped (and retried
//! next run); a new repo without a model file is skipped when a model file is required; an unchanged
//! model stored without this entry's digest gets the digest written.

use super::mapping::{map_model, Mirror};
use super::plan::{self, Plan, UpdateKind};
use super::rules::Rules;
use super::versions;
use super::write::{BatchItem, WriteKind};
use crate::domain::inspection::Deferral;
use crate::domain::records::{Asset, Model, SkipRecord, SyncVersion};
use crate::domain::UpstreamStatus;
use crate::hub::HubModel;
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// The settings that change what a page plans.
#[derive(Debug, Clone, Copy)]
pub(super) struct PlanSettings {
    /// New commits get a version (their files are read).
    pub(super) pull_versions: bool,
    /// READMEs are read for descriptions the card lacks.
    pub(super) fetch_readmes: bool,
    /// A new repo whose listing shows no model file is skipped.
    pub(super) require_model_file: bool,
}

/// A listing entry the rules let through, with what the planner computes from it once.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) mirror: Mirror,
    /// [`Mirror::digest`].
    pub(super) digest: i64,
    /// Whether the listed files include a model file; `None` when the listing did not say.
    pub(super) model_file: Option<bool>,
}

impl Entry {
    pub(super) fn new(mirror: Mirror) -> Entry {
        Entry {
            digest: mirror.digest(),
            model_file: versions::has_model_file(mirror.files.as_deref()),
            mirror,
        }
    }
}

/// A page's listing entries mapped to what the catalog stores: the entries to plan, the ones that
/// cannot be mirrored (with their reason), and how many the filtering rules left out.
pub(super) fn map_entries(
    models: &[HubModel],
    rules: &Rules,
) -> (Vec<Entry>, Vec<SkipRecord>, i64) {
    let mut entries = Vec::with_capacity(models.len());
    let mut skips = Vec::new();
    let mut filtered = 0;
    for m in models {
        match map_model(m) {
            Ok(mirror) => match rules.check(&mirror) {
                Ok(()) => entries.push(Entry::new(mirror)),
                Err(reason) => {
                    tracing::debug!(repo = %mirror.repo_id, reason, "left out by the filtering rules");
                    filtered += 1;
                }
            },
            Err(reason) => skips.push(SkipRecord {
                hf_model_id: Some(m.id.clone()),
                object_id: m.object_id.clone(),
                reason,
            }),
        }
    }
    (entries, skips, filtered)
}

/// One entry's decision: what to write and which details to fetch for it.
#[derive(Debug, Clone)]
pub(super) struct PlannedEntry {
    pub(super) mirror: Mirror,
    pub(super) plan: Plan,
    /// The catalog model the entry updates (`None` for a create, or unchanged by digest).
    pub(super) existing_id: Option<Uuid>,
    pub(super) needs_readme: bool,
    pub(super) needs_version: bool,
    pub(super) digest: i64,
    /// Unchanged, but the stored digest is not this entry's.
    pub(super) digest_stale: bool,
}

/// A planned page: the entries to carry on with, in listing order, and those skipped.
#[derive(Debug, Default)]
pub(super) struct PagePlan {
    pub(super) entries: Vec<PlannedEntry>,
    pub(super) skips: Vec<SkipRecord>,
}

/// What the catalog holds that a page is compared with, and the settings.
pub(super) struct PagePlanner<'a> {
    pub(super) settings: PlanSettings,
    /// The digests of the listed models as the run found them (empty for one-repo runs).
    pub(super) listed_digests: &'a HashSet<i64>,
    /// The commits that have a version, per object id (read only when versions are pulled).
    pub(super) commits: &'a HashMap<String, Vec<String>>,
}

impl PagePlanner<'_> {
    /// A version is wanted: versions are pulled, the repo may have a model file, and its commit has
    /// no version yet.
    fn needs_version(&self, e: &Entry) -> bool {
        self.settings.pull_versions
            && e.model_file != Some(false)
            && e.mirror.sha.as_deref().is_some_and(|sha| {
                !self
                    .commits
                    .get(e.mirror.object_id.as_str())
                    .is_some_and(|shas| shas.iter().any(|s| s == sha))
            })
    }

    /// Unchanged without reading its model: a listed model was written from this very entry (same
    /// digest) and no version is wanted. Most entries of a re-sync are.
    fn unchanged_by_digest(&self, e: &Entry) -> bool {
        self.listed_digests.contains(&e.digest) && !self.needs_version(e)
    }

    /// The object ids and repo ids whose catalog models [`PagePlanner::plan`] must see: those of the
    /// entries not known unchanged by their digest.
    pub(super) fn models_to_read(&self, entries: &[Entry]) -> (Vec<String>, Vec<String>) {
        entries
            .iter()
            .filter(|e| !self.unchanged_by_digest(e))
            .map(|e| (e.mirror.object_id.clone(), e.mirror.repo_id.to_string()))
            .unzip()
    }

    /// Plans a page against `models` (the synced models with the ids [`PagePlanner::models_to_read`]
    /// named). `renamed_away` holds the repo ids this run's renames free; the page's own renames are
    /// added to it.
    pub(super) fn plan(
        &self,
        entries: Vec<Entry>,
        models: &[Model],
        renamed_away: &mut HashSet<String>,
    ) -> PagePlan {
        let by_object: HashMap<&str, &Model> = models
            .iter()
            .filter_map(|m| m.upstream.as_ref().map(|u| (u.object_id.as_str(), m)))
            .collect();
        let by_repo: HashMap<&str, &Model> = models
            .iter()
            .filter_map(|m| m.hf_model_id.as_deref().map(|id| (id, m)))
            .collect();
        // A rename frees its old repo id for a new repo: the rename is written first (in an earlier
        // batch, or before the creates of its own batch).
        for e in &entries {
            let old = by_object
                .get(e.mirror.object_id.as_str())
                .and_then(|m| m.hf_model_id.as_deref());
            if let Some(old) = old.filter(|old| *old != e.mirror.repo_id.as_str()) {
                renamed_away.insert(old.to_string());
            }
        }
        let mut page = PagePlan {
            entries: Vec::with_capacity(entries.len()),
            skips: Vec::new(),
        };
        for e in entries {
            if self.unchanged_by_digest(&e) {
                page.entries.push(PlannedEntry {
                    existing_id: None,
                    needs_readme: false,
                    needs_version: false,
                    digest: e.digest,
                    digest_stale: false,
                    mirror: e.mirror,
                    plan: Plan::Unchanged,
                });
                continue;
            }
            let current = current_model(&e.mirror, &by_object, &by_repo);
            if current.is_none() {
                if let Some(reason) = self.refusal(&e, &by_repo, renamed_away) {
                    page.skips.push(SkipRecord {
                        hf_model_id: Some(e.mirror.repo_id.to_string()),
                        object_id: Some(e.mirror.object_id.clone()),
                        reason,
                    });
                    continue;
                }
            }
            let plan = plan::plan(&e.mirror, current);
            // Unchanged, but stored without this digest (synced before digests were kept, or edited
            // since): the digest alone is written, so the next run need not read the model.
            let digest_stale = plan == Plan::Unchanged
                && current
                    .is_some_and(|m| m.upstream.as_ref().and_then(|u| u.digest) != Some(e.digest));
            page.entries.push(PlannedEntry {
                existing_id: current.map(|m| m.id),
                needs_readme: self.settings.fetch_readmes && plan.needs_readme(&e.mirror),
                needs_version: self.needs_version(&e),
                digest: e.digest,
                digest_stale,
                mirror: e.mirror,
                plan,
            });
        }
        page
    }

    /// Why a repo the catalog does not hold yet cannot be created now, if it cannot.
    fn refusal(
        &self,
        e: &Entry,
        by_repo: &HashMap<&str, &Model>,
        renamed_away: &HashSet<String>,
    ) -> Option<String> {
        let holder = by_repo.get(e.mirror.repo_id.as_str()).filter(|h| {
            !h.hf_model_id
                .as_deref()
                .is_some_and(|id| renamed_away.contains(id))
        });
        if let Some(holder) = holder {
            return Some(format!(
                "repo id is still held by catalog model {} of another Hub repo; retried next run",
                holder.id
            ));
        }
        if e.model_file == Some(false) && self.settings.require_model_file {
            return Some(
                "no model file (.tflite, .litertlm or .task): not a usable LiteRT model".into(),
            );
        }
        None
    }
}

/// The catalog model an entry is compared with: the one with its object id, or — for a repo id deleted
/// and created anew — the inactive model that held the id, which follows it.
fn current_model<'m>(
    mirror: &Mirror,
    by_object: &HashMap<&str, &'m Model>,
    by_repo: &HashMap<&str, &'m Model>,
) -> Option<&'m Model> {
    by_object
        .get(mirror.object_id.as_str())
        .copied()
        .or_else(|| {
            by_repo.get(mirror.repo_id.as_str()).copied().filter(|m| {
                m.upstream.as_ref().is_some_and(|u| {
                    u.object_id != mirror.object_id
                        && matches!(
                            u.status,
                            Some(UpstreamStatus::Removed | UpstreamStatus::Private)
                        )
                })
            })
        })
}

/// What was fetched for one planned entry: a README paragraph, and the assets of its commit (or why
/// they could not be read).
#[derive(Debug, Clone, Default)]
pub(super) struct EntryDetails {
    pub(super) readme: Option<String>,
    pub(super) assets: Option<Result<Vec<Asset>, String>>,
    /// What reading the version's main file gave, when the sync inspects models.
    pub(super) reading: Option<crate::pipeline::derive::FileReading>,
    /// Why the main file could not be read this run, a failure that may pass (the Hub could not
    /// resolve it, the read ran out of time): the version is written, its inspection deferred.
    pub(super) unread: Option<String>,
}

/// The batch items of a planned page with the details fetched for it (by position in
/// `planned`), and how many entries were unchanged.
pub(super) fn batch_items(
    planned: &[PlannedEntry],
    mut details: HashMap<usize, EntryDetails>,
    now: DateTime<Utc>,
    retry_base: std::time::Duration,
) -> (Vec<BatchItem>, i64) {
    let mut items = Vec::with_capacity(planned.len());
    let mut unchanged = 0;
    for (i, p) in planned.iter().enumerate() {
        let EntryDetails {
            readme,
            assets,
            reading,
            unread,
        } = details.remove(&i).unwrap_or_default();
        let write = match &p.plan {
            Plan::Unchanged => {
                unchanged += 1;
                None
            }
            plan => plan
                .write(&p.mirror, p.digest, readme, now)
                .map(|w| (w, write_kind(plan, &p.mirror))),
        };
        let model_id = write.as_ref().map(|(w, _)| w.model_id).or(p.existing_id);
        let version = match (assets, model_id) {
            (Some(Ok(assets)), Some(model_id)) => {
                let mut version = versions::new_version(model_id, &p.mirror, assets, now);
                let unread = unread.or_else(|| reading.as_ref()?.transient_failure());
                if let Some(why) = unread {
                    // Written all the same; a later run reads the file again.
                    version.deferred = Some(Deferral::after(why, 1, now, retry_base));
                } else if let Some(reading) = &reading {
                    let source = p.mirror.origin_url();
                    let ctx = crate::pipeline::derive::context(
                        &p.mirror.name,
                        &version.version_string,
                        p.mirror.task.as_deref(),
                        &source,
                        &version.assets,
                    );
                    let mut found = crate::pipeline::derive::inspected(reading, &ctx);
                    found.host_files(&version.assets);
                    if let Some(assets) = found.assets.take() {
                        version.assets = assets;
                    }
                    version.inspected = Some(found);
                }
                Some(SyncVersion { model_id, version })
            }
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
    (items, unchanged)
}

/// Which run counter a planned write moves.
fn write_kind(plan: &Plan, mirror: &Mirror) -> WriteKind {
    match plan {
        Plan::Create => WriteKind::Created,
        Plan::Update {
            kind: UpdateKind::Renamed { from },
            ..
        } => {
            tracing::info!(from, to = %mirror.repo_id, "repo renamed upstream");
            WriteKind::Renamed
        }
        Plan::Update {
            kind: UpdateKind::Restored,
            ..
        } => WriteKind::Restored,
        _ => WriteKind::Updated,
    }
}

#[cfg(test)]
mod tests;
