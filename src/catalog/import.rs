//! Ad-hoc imports: one Hub repo mirrored now, outside the discovery filters — an admin's ad-hoc sync
//! (the mirror's own run, with the operator's token) or a signed-in user's import (every Hub request
//! anonymous, so a private or gated repo is never imported through the operator's rights). What to
//! run and what its report means are decided here; the HTTP layer runs it as a background run.

use super::{Catalog, CatalogError, CatalogResult};
use crate::domain::RepoId;
use crate::sync::{RunReport, Syncer};

/// A checked import: the repo, the revision the run is pinned to, and the syncer that runs it.
pub struct Import {
    pub repo: RepoId,
    pub pinned: Option<String>,
    pub syncer: Syncer,
}

impl Catalog {
    /// Checks an import of `repo_id` at `revision` (any revision the Hub takes: a full or short sha,
    /// a branch, a tag — the run is pinned to the commit the Hub resolves it to), asking the Hub
    /// whether the repo exists — anonymously when `for_user`.
    pub async fn prepare_import(
        &self,
        repo_id: &str,
        revision: Option<&str>,
        for_user: bool,
    ) -> CatalogResult<Import> {
        let syncer = if for_user {
            self.syncer.for_users()
        } else {
            self.syncer.clone()
        };
        let repo: RepoId = repo_id
            .trim()
            .parse()
            .map_err(|e: crate::domain::InvalidValue| CatalogError::Invalid(e.0))?;
        if let Some(rev) = revision {
            if rev.len() > 255 || rev.bytes().any(|b| !b.is_ascii_graphic()) {
                return Err(CatalogError::Invalid(
                    "commit_sha must be a revision of the repo: a commit sha, a branch or a tag"
                        .into(),
                ));
            }
        }
        let resolved = match syncer.hub().model_info(repo.as_str(), revision).await {
            Ok(crate::hub::RepoOutcome::Found { value, .. }) => {
                value.sha.or_else(|| revision.map(str::to_string))
            }
            Ok(_) => {
                return Err(CatalogError::NotFound(format!(
                    "No public repo {repo} (at that revision) on the Hugging Face Hub"
                )))
            }
            Err(e) => {
                return Err(CatalogError::Upstream(format!(
                    "The Hugging Face Hub could not be read: {e}"
                )))
            }
        };
        Ok(Import {
            repo,
            pinned: revision.and(resolved),
            syncer,
        })
    }

    /// Why a finished import of `repo` did not import it: the filtering rules, or the reason its
    /// one record was skipped.
    pub async fn import_refusal(&self, repo: &RepoId, report: &RunReport) -> CatalogResult<()> {
        let c = report.counts;
        if c.filtered > 0 {
            return Err(CatalogError::Invalid(format!(
                "{repo} is excluded by the filtering rules"
            )));
        }
        if c.created + c.updated + c.unchanged + c.renamed + c.restored == 0 && c.skipped > 0 {
            let reason = self
                .store
                .run_skips(report.run_id, 1)
                .await?
                .pop()
                .map(|s| s.reason)
                .unwrap_or_default();
            return Err(CatalogError::Invalid(format!(
                "{repo} was not imported: {reason}"
            )));
        }
        Ok(())
    }
}
