//! The planner: a pure function of (what the Hub lists, what the catalog holds) → what to write. An
//! unchanged repo plans no write at all; a known object id under a new repo id is a rename; a removed
//! model that is listed again is restored.

use super::mapping::{fallback_description, Mirror};
use crate::domain::records::{Model, SyncWrite, Upstream};
use crate::domain::UpstreamStatus;
use chrono::{DateTime, Utc};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    Create,
    Update { model: Box<Model>, kind: UpdateKind },
    Unchanged,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateKind {
    /// Metadata or commit changed.
    Changed,
    /// Same object id, new repo id.
    Renamed { from: String },
    /// Was removed (or private) and is listed again.
    Restored,
}

fn is_active(m: &Model) -> bool {
    UpstreamStatus::is_listed(m.upstream.as_ref().and_then(|u| u.status))
}

/// Plans one mirrored repo against the catalog's model with the same object id (or, for a repo id that
/// was deleted and created anew, the inactive model that held the id).
pub fn plan(mirror: &Mirror, existing: Option<&Model>) -> Plan {
    let Some(model) = existing else {
        return Plan::Create;
    };
    let kind = if model.hf_model_id.as_deref() != Some(mirror.repo_id.as_str()) {
        UpdateKind::Renamed {
            from: model.hf_model_id.clone().unwrap_or_default(),
        }
    } else if !is_active(model) {
        UpdateKind::Restored
    } else if differs(model, mirror) {
        UpdateKind::Changed
    } else {
        return Plan::Unchanged;
    };
    Plan::Update {
        model: Box::new(model.clone()),
        kind,
    }
}

/// Whether any field the sync owns differs. The README is consulted only when the commit changed, which
/// is a difference already.
fn differs(model: &Model, m: &Mirror) -> bool {
    let Some(up) = model.upstream.as_ref() else {
        return true;
    };
    model.name != m.name
        || m.card_description
            .as_ref()
            .is_some_and(|d| *d != model.description)
        || model.license_type != m.license_type
        || model.task != m.task
        || model.task_inferred != m.task_inferred
        || model.tags != m.tags
        || model.origin_repo_url.as_deref() != Some(m.origin_url().as_str())
        || up.object_id != m.object_id
        || up.sha != m.sha
        || up.last_modified != m.last_modified
        || up.created_at != m.created_at
        || up.downloads != m.downloads
        || up.likes != m.likes
        || up.gated != m.gated
        || up.library_name != m.library_name
}

/// Whether writing `m` (with this description) would change no column of `model` but the Hub's
/// counters — downloads, likes, last modified — and the sync's own timestamps and digest: `m` with the
/// stored counters does not differ, and neither do the repo id, description and status it writes.
fn only_counters_differ(model: &Model, m: &Mirror, description: &str) -> bool {
    let Some(up) = model.upstream.as_ref() else {
        return false;
    };
    let same_counters = Mirror {
        downloads: up.downloads,
        likes: up.likes,
        last_modified: up.last_modified,
        ..m.clone()
    };
    model.hf_model_id.as_deref() == Some(m.repo_id.as_str())
        && model.description == description
        && up.status == Some(UpstreamStatus::Active)
        && !differs(model, &same_counters)
}

impl Plan {
    /// Whether the README must be fetched to describe the model: new or changed commit, and the card
    /// says nothing.
    pub fn needs_readme(&self, m: &Mirror) -> bool {
        m.card_description.is_none()
            && match self {
                Plan::Create => true,
                Plan::Update { model, .. } => {
                    model.upstream.as_ref().is_none_or(|u| u.sha != m.sha)
                }
                Plan::Unchanged => false,
            }
    }

    /// The write for this plan (`digest` is `m`'s, computed once by the planner); `None` when
    /// unchanged.
    pub fn write(
        &self,
        m: &Mirror,
        digest: i64,
        readme_paragraph: Option<String>,
        now: DateTime<Utc>,
    ) -> Option<SyncWrite> {
        let (model_id, create, stored) = match self {
            Plan::Unchanged => return None,
            Plan::Create => (Uuid::now_v7(), true, None),
            Plan::Update { model, .. } => (model.id, false, Some(model.description.as_str())),
        };
        let description = m
            .card_description
            .clone()
            .or(readme_paragraph)
            .or_else(|| stored.filter(|s| !s.trim().is_empty()).map(str::to_string))
            .unwrap_or_else(|| fallback_description(m.repo_id.as_str()));
        let counters_only = match self {
            Plan::Update {
                model,
                kind: UpdateKind::Changed,
            } => only_counters_differ(model, m, &description),
            _ => false,
        };
        Some(SyncWrite {
            counters_only,
            model_id,
            create,
            hf_model_id: m.repo_id.to_string(),
            name: m.name.clone(),
            description,
            license_type: m.license_type,
            task: m.task.clone(),
            task_inferred: m.task_inferred,
            tags: m.tags.clone(),
            origin_repo_url: m.origin_url(),
            upstream: Upstream {
                object_id: m.object_id.clone(),
                sha: m.sha.clone(),
                last_modified: m.last_modified,
                created_at: m.created_at,
                downloads: m.downloads,
                likes: m.likes,
                gated: m.gated.clone(),
                library_name: m.library_name.clone(),
                status: Some(UpstreamStatus::Active),
                synced_at: Some(now),
                digest: Some(digest),
            },
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::{Category, LicenseType};

    /// A listed entry of repo `id` at commit `sha`.
    pub(crate) fn mirror(id: &str, sha: &str, downloads: i64) -> Mirror {
        Mirror {
            object_id: "6909b87b734dd24dd19da3ef".into(),
            repo_id: id.parse().unwrap(),
            name: id.rsplit('/').next().unwrap().into(),
            card_description: None,
            license_type: LicenseType::Mit,
            task: Some("image-classification".into()),
            task_inferred: false,
            tags: vec!["litert".into()],
            sha: Some(sha.into()),
            last_modified: None,
            created_at: None,
            downloads,
            likes: 0,
            gated: Some("false".into()),
            library_name: Some("litert".into()),
            files: None,
        }
    }

    /// The catalog's model as a sync would have written it from `m`.
    pub(crate) fn stored(m: &Mirror, description: &str) -> Model {
        let w = Plan::Create
            .write(
                m,
                m.digest(),
                Some(description.into()),
                crate::domain::now(),
            )
            .unwrap();
        Model {
            id: Uuid::new_v4(),
            name: w.name,
            slug: "s".into(),
            description: w.description,
            category: Category::Utility,
            license_type: w.license_type,
            origin_repo_url: Some(w.origin_repo_url),
            author_id: Uuid::new_v4(),
            hf_model_id: Some(w.hf_model_id),
            is_verified_official: false,
            tags: w.tags,
            task: w.task,
            task_inferred: w.task_inferred,
            total_download_count: 0,
            rating_weighted_avg: 0.0,
            total_ratings: 0,
            created_at: crate::domain::now(),
            updated_at: crate::domain::now(),
            upstream: Some(w.upstream),
            latest_version_size_bytes: None,
            is_public: true,
            versions: Default::default(),
        }
    }

    #[test]
    fn unchanged_repos_plan_no_write() {
        let m = mirror("o/a", "sha1", 5);
        let model = stored(&m, "from readme");
        assert_eq!(plan(&m, Some(&model)), Plan::Unchanged);
        assert!(Plan::Unchanged
            .write(&m, m.digest(), None, crate::domain::now())
            .is_none());
    }

    #[test]
    fn metadata_changes_update_and_keep_the_description() {
        let m = mirror("o/a", "sha1", 5);
        let model = stored(&m, "from readme");
        let newer = mirror("o/a", "sha1", 6);
        let p = plan(&newer, Some(&model));
        assert!(matches!(
            p,
            Plan::Update {
                kind: UpdateKind::Changed,
                ..
            }
        ));
        assert!(!p.needs_readme(&newer), "same commit: no README request");
        let w = p
            .write(&newer, newer.digest(), None, crate::domain::now())
            .unwrap();
        assert!(w.counters_only, "only downloads changed");
        assert_eq!(w.description, "from readme", "never replaced by nothing");
        assert_eq!(w.upstream.downloads, 6);
        assert_eq!(w.model_id, model.id);
    }

    #[test]
    fn commits_renames_and_restores_are_told_apart() {
        let m = mirror("o/a", "sha1", 5);
        let mut model = stored(&m, "d");
        let p = plan(&mirror("o/a", "sha2", 5), Some(&model));
        assert!(matches!(
            p,
            Plan::Update {
                kind: UpdateKind::Changed,
                ..
            }
        ));
        assert!(p.needs_readme(&mirror("o/a", "sha2", 5)));
        let next = mirror("o/a", "sha2", 5);
        let w = p.write(&next, next.digest(), None, crate::domain::now());
        assert!(
            !w.unwrap().counters_only,
            "a new commit is more than counters"
        );
        let renamed = mirror("o/a-renamed", "sha1", 5);
        assert_eq!(
            plan(&renamed, Some(&model)),
            Plan::Update {
                model: Box::new(model.clone()),
                kind: UpdateKind::Renamed { from: "o/a".into() }
            }
        );
        model.upstream.as_mut().unwrap().status = Some(UpstreamStatus::Removed);
        assert!(matches!(
            plan(&m, Some(&model)),
            Plan::Update {
                kind: UpdateKind::Restored,
                ..
            }
        ));
    }

    #[test]
    fn new_models_take_card_then_readme_then_fallback() {
        let mut m = mirror("o/new", "sha", 0);
        assert!(Plan::Create.needs_readme(&m));
        let now = crate::domain::now();
        assert_eq!(
            Plan::Create
                .write(&m, m.digest(), Some("readme".into()), now)
                .unwrap()
                .description,
            "readme"
        );
        assert_eq!(
            Plan::Create
                .write(&m, m.digest(), None, now)
                .unwrap()
                .description,
            "LiteRT model from HuggingFace: o/new"
        );
        m.card_description = Some("card".into());
        assert!(!Plan::Create.needs_readme(&m));
        assert_eq!(
            Plan::Create
                .write(&m, m.digest(), Some("readme".into()), now)
                .unwrap()
                .description,
            "card"
        );
    }
}
