//! The inspection backlog (issue #21): mirrored versions whose model file was never inspected — a
//! catalog mirrored before inspection existed — or was inspected by an older inspector are inspected
//! after the listing, at most `inspect_backlog` a run, newest first, under the detail step's
//! concurrency and the Hub client's pacing. A pipeline a person wrote is never replaced: such a version
//! gets its signature and inspection only (a spec is the inspector's while it matches the digest its
//! inspection recorded, `records::DERIVED_SPEC_KEY`; an older inspector's is derived again).
//! [`Syncer::inspect_versions`] does the same for the clients' generate-pipeline-all and
//! retry-segmentation jobs, which are recorded as runs (trigger `inspection`) that hold no lease: a
//! job records its progress every [`JOB_HEARTBEAT`], and one silent for [`JOB_STALE`] — its process
//! stopped — is marked failed ([`fail_stale_jobs`]).

use super::*;
use crate::domain::records::DerivedPipeline;
use crate::domain::VersionStatus;
use crate::pipeline::derive::{self, GenerateError};
use std::sync::atomic::{AtomicUsize, Ordering};

/// How often a background job records its progress, which is also its heartbeat.
pub const JOB_HEARTBEAT: Duration = Duration::from_secs(15);
/// A job that recorded no progress for this long is taken as dead (its process stopped).
pub const JOB_STALE: Duration = Duration::from_secs(120);

/// Marks failed every job still recorded as running whose process stopped (no heartbeat for
/// [`JOB_STALE`]); called when `serve` starts, on each scheduler tick and before a new job.
pub async fn fail_stale_jobs(store: &Store) -> Result<u64, StoreError> {
    let stale = chrono::Duration::from_std(JOB_STALE).expect("a short duration");
    let failed = store
        .fail_stale_jobs(
            crate::domain::now() - stale,
            "abandoned: the job's process stopped (no progress recorded for 2 minutes)",
        )
        .await?;
    if failed > 0 {
        tracing::warn!(failed, "marked failed the jobs whose process stopped");
    }
    Ok(failed)
}

/// Why a person's verified version is `pending` again.
pub const CHANGED_UPSTREAM: &str =
    "the model file changed after this version was verified (another \
    size or ETag, `inspection.changed_upstream`): its pipeline spec is to be checked again";

impl Syncer {
    /// Checks the `verified` versions people published against the bytes they were verified with
    /// (`inspection.pin`: size and ETag; opening the file reads nothing), and inspects again each whose
    /// file changed — a derived spec is derived again, a person's is `pending` again. How many changed.
    pub(super) async fn recheck_published(&self, stop: &CancellationToken) -> Result<i64, RunHalt> {
        if !self.config.inspect_models || self.config.inspect_backlog == 0 {
            return Ok(0);
        }
        let ids = self
            .store
            .published_verified_versions(self.config.inspect_backlog)
            .await?;
        let changed = stream::iter(ids)
            .map(|id| self.recheck_one(id))
            .buffer_unordered(self.config.detail_concurrency.max(1))
            .take_until(stop.cancelled())
            .filter(|changed| std::future::ready(*changed))
            .count()
            .await;
        Ok(changed as i64)
    }

    /// Whether version `id`'s file changed since it was read (and was inspected again).
    async fn recheck_one(&self, id: Uuid) -> bool {
        let Ok(Some(version)) = self.store.get_version_by_id(id).await else {
            return false;
        };
        let Some(was) = version
            .inspection
            .as_ref()
            .map(|i| i["pin"].clone())
            .filter(|p| !p.is_null())
        else {
            return false;
        };
        let Some(now) = derive::current_pin(self.sources_for(&version), &version.assets).await
        else {
            return false;
        };
        derive::pins_differ(&was, &now) && self.inspect_stored(id, &AtomicUsize::new(0)).await
    }

    /// Inspects the backlog — versions deferred by this run (started at `run_start`) wait for a later
    /// one; how many of its files could not be read (their inspection deferred).
    pub(super) async fn inspect_backlog(
        &self,
        stop: &CancellationToken,
        run_start: chrono::DateTime<chrono::Utc>,
    ) -> Result<i64, RunHalt> {
        if !self.config.inspect_models || self.config.inspect_backlog == 0 {
            return Ok(0);
        }
        let ids = self
            .store
            .versions_to_inspect(
                crate::inspect::INSPECTOR_VERSION,
                self.config.inspect_backlog,
                run_start,
            )
            .await?;
        if ids.is_empty() {
            return Ok(0);
        }
        let deferred = AtomicUsize::new(0);
        self.inspect_versions(ids, stop.clone(), &AtomicUsize::new(0), &deferred)
            .await;
        Ok(deferred.into_inner() as i64)
    }

    /// Runs a background job (generate-pipeline-all, retry-segmentation; `job` names it) recorded as
    /// the run `run_id`: inspects `ids` until `stop`, records its progress every [`JOB_HEARTBEAT`],
    /// and ends the record — `failed` when stopped first.
    pub async fn run_job(&self, run_id: Uuid, job: &str, ids: Vec<Uuid>, stop: CancellationToken) {
        let n = ids.len() as i64;
        let progress = AtomicUsize::new(0);
        let deferred = AtomicUsize::new(0);
        let work = self.inspect_versions(ids, stop.clone(), &progress, &deferred);
        // The heartbeat runs beside the work, never in a `select!` arm's body: awaiting the store there
        // would stop polling the work, which may hold the connection the heartbeat waits for.
        let heartbeat = async {
            let mut beat = tokio::time::interval(JOB_HEARTBEAT);
            loop {
                beat.tick().await;
                let so_far = progress.load(Ordering::Relaxed) as i64;
                if let Err(e) = self.store.job_progress(run_id, n, so_far).await {
                    tracing::warn!(run = %run_id, error = %e, "could not record a job's progress");
                }
            }
        };
        let done = tokio::select! {
            done = work => done as i64,
            () = heartbeat => unreachable!("the heartbeat loops until the work ends"),
        };
        let stopped = stop.is_cancelled();
        let end = RunEnd {
            status: if stopped {
                RunStatus::Failed
            } else {
                RunStatus::Success
            },
            counts: RunCounts {
                fetched: n,
                updated: done,
                skipped: if stopped { 0 } else { n - done },
                ..RunCounts::default()
            },
            listing_complete: !stopped,
            removals_held_back: false,
            warnings: Vec::new(),
            message: format!("{job}: {done} of {n} versions inspected."),
            error: stopped.then(|| "the service stopped before the job finished".to_string()),
        };
        if let Err(e) = self.store.finish_run(run_id, &end).await {
            tracing::warn!(run = %run_id, error = %e, "could not record the end of a job");
        }
    }

    /// Inspects these stored versions (the backlog, and the clients' generate-pipeline-all and
    /// retry-segmentation jobs), under the detail step's concurrency, until `stop`; how many were
    /// recorded (`progress` counts them as they are; `deferred`, those whose file could not be read).
    pub async fn inspect_versions(
        &self,
        ids: Vec<Uuid>,
        stop: CancellationToken,
        progress: &AtomicUsize,
        deferred: &AtomicUsize,
    ) -> usize {
        let total = ids.len();
        let done = stream::iter(ids)
            .map(|id| self.inspect_stored(id, deferred))
            .buffer_unordered(self.config.detail_concurrency.max(1))
            .take_until(stop.cancelled())
            .filter(|done| {
                if *done {
                    progress.fetch_add(1, Ordering::Relaxed);
                }
                std::future::ready(*done)
            })
            .count()
            .await;
        tracing::info!(inspected = done, of = total, "versions inspected");
        done
    }

    /// Inspects one stored version; whether it was recorded (a deferral counts in `deferred`).
    async fn inspect_stored(&self, id: Uuid, deferred: &AtomicUsize) -> bool {
        let found = async {
            let Some(version) = self.store.get_version_by_id(id).await? else {
                return Ok::<_, GenerateError>(false);
            };
            let Some(model) = self.store.get_model(version.model_id).await? else {
                return Ok(false);
            };
            let gated = model.upstream.as_ref().and_then(|u| u.gated.as_deref());
            let mut found = match derive::inspect_version(
                self.sources_for(&version).for_repo(gated),
                &model,
                &version,
            )
            .await
            {
                Ok(found) => found,
                // A URL not read by the guard's rules, or a file not public on the Hub: recorded, so
                // it is not asked again every run.
                Err(GenerateError::Refused(why) | GenerateError::NotPublic(why)) => Inspected {
                    signature: None,
                    inspection: serde_json::json!({"error": why,
                        "inspector_version": crate::inspect::INSPECTOR_VERSION}),
                    inspector_version: crate::inspect::INSPECTOR_VERSION,
                    pipeline: None,
                    hosted: Vec::new(),
                    assets: None,
                },
                // A failure that may pass: the inspection waits for a later run (issue #32).
                Err(e) => match e.transient() {
                    Some(why) => {
                        let base = self.config.inspect_retry_base;
                        if let Some(d) = self.store.defer_inspection(id, &why, base).await? {
                            crate::obs::metrics::inspections_deferred(1);
                            deferred.fetch_add(1, Ordering::Relaxed);
                            tracing::info!(version = %id, attempts = d.attempts, retry_at = %d.retry_at, reason = %why, "an inspection is deferred");
                        }
                        return Ok(false);
                    }
                    None => return Err(e),
                },
            };
            // A person's spec stands; one an older inspector derived is derived again.
            if version.pipeline_spec.is_some() && !version.spec_is_derived() {
                found.leave_pipeline();
                // Its file changed since it was verified: verified no more until a person checks it.
                if version.status == VersionStatus::Verified
                    && found.inspection.get("changed_upstream").is_some()
                {
                    found.pipeline = Some(DerivedPipeline {
                        spec: version.pipeline_spec.clone(),
                        status: VersionStatus::Pending,
                        reason: Some(CHANGED_UPSTREAM.into()),
                    });
                }
            }
            Ok(self.store.record_inspection(id, &found).await?.is_some())
        };
        match found.await {
            Ok(done) => done,
            Err(e) => {
                tracing::warn!(version = %id, error = %e, "could not inspect a version of the backlog");
                false
            }
        }
    }
}
