//! Pipelines a person causes: a just-published version's derived from its model file, one version's
//! generated on request, and the background jobs over every version the app cannot run. Files are
//! read without the operator's token ([`crate::sync::Syncer::public_sources`]): a person's request
//! never borrows it.

use super::{Catalog, CatalogError, CatalogResult};
use crate::domain::records::{Model, ModelVersion, NewRun, User};
use crate::domain::Trigger;
use crate::pipeline::derive::GenerateError;
use crate::store::constraint;
use uuid::Uuid;

/// What the app would compute wrong, skip or fail on with `version`'s spec (its app warnings, shown on
/// the version in both dialects; empty without a spec) — `pipeline::app_profile` decides.
pub fn app_warnings(version: &ModelVersion) -> Vec<String> {
    version
        .pipeline_spec
        .as_ref()
        .map(crate::pipeline::app_profile::warnings)
        .unwrap_or_default()
}

/// The largest job: versions beyond it wait for the next (and for the sync's backlog).
const JOB_LIMIT: usize = 100_000;

/// What asking for a job did.
pub enum JobStart {
    /// Recorded as the run `run_id`, over these versions: the caller runs it in the background
    /// ([`crate::sync::Syncer::run_job`]).
    Started { run_id: Uuid, versions: Vec<Uuid> },
    /// Another job runs; what it is and how far it got.
    AlreadyRunning(String),
}

impl Catalog {
    /// A version a person just published: without a spec, the one its file gives when the file can
    /// be read at once ([`crate::pipeline::derive::derive_published`]); with one, as it is.
    pub(super) async fn derive_published(
        &self,
        model: &Model,
        version: ModelVersion,
    ) -> ModelVersion {
        if version.pipeline_spec.is_some() {
            return version;
        }
        let sources = self.syncer.public_sources();
        crate::pipeline::derive::derive_published(sources, &self.store, model, version).await
    }

    /// Inspects the version's model file now and writes the pipeline the app runs (for `user`, who
    /// may edit the version).
    pub async fn generate_pipeline(
        &self,
        user: &User,
        version_id: Uuid,
    ) -> CatalogResult<(ModelVersion, Model)> {
        let (version, model) = self.version_for_change(user, version_id).await?;
        let updated = crate::pipeline::derive::generate(
            self.syncer.public_sources(),
            &self.store,
            &model,
            &version,
        )
        .await
        .map_err(|e| match e {
            GenerateError::Refused(why) | GenerateError::NotPublic(why) => {
                CatalogError::Invalid(why)
            }
            GenerateError::Web(why) | GenerateError::Deferred(why) => {
                CatalogError::Upstream(format!("The model file could not be read: {why}"))
            }
            GenerateError::Hub(e) => {
                CatalogError::Upstream(format!("The Hugging Face Hub could not be read: {e}"))
            }
            GenerateError::Store(e) => e.into(),
            GenerateError::Gone => CatalogError::NotFound("Model version not found.".into()),
        })?;
        Ok((updated, model))
    }

    /// Records a job named `what` over every version the app cannot run (of these `tasks`, or all),
    /// one job at a time, beside the sync runs (`GET /sync/runs`, trigger `inspection`).
    pub async fn start_pipeline_job(
        &self,
        tasks: Option<&'static [&'static str]>,
        what: &str,
    ) -> CatalogResult<JobStart> {
        crate::sync::fail_stale_jobs(&self.store).await?;
        let versions = self.store.versions_not_runnable(tasks, JOB_LIMIT).await?;
        let created = self
            .store
            .create_run(&NewRun {
                id: Uuid::now_v7(),
                trigger: Trigger::Inspection,
                owner: self.syncer.config().owner.clone(),
                scheduled_for: None,
                rules: serde_json::json!({"job": what, "tasks": tasks, "versions": versions.len()}),
                repo_id: None,
            })
            .await;
        match created {
            Ok(run) => Ok(JobStart::Started {
                run_id: run.id,
                versions,
            }),
            Err(e) if e.is_conflict_on(constraint::SYNC_RUNS_ONE_JOB) => {
                Ok(JobStart::AlreadyRunning(self.running_job().await?))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Which job runs and how far it got.
    async fn running_job(&self) -> CatalogResult<String> {
        Ok(match self.store.running_job().await? {
            Some(job) => format!(
                "{} is already running (run {}): {} of {} versions inspected so far.",
                job.rules["job"].as_str().unwrap_or("A pipeline job"),
                job.id,
                job.counts.updated,
                job.counts.fetched
            ),
            // It ended between the two looks.
            None => "A pipeline job has just finished; ask again to start another.".to_string(),
        })
    }
}
