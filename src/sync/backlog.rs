//! The inspection backlog (issue #21): mirrored versions whose model file was never inspected — a
//! catalog mirrored before inspection existed — or was inspected by an older inspector are inspected
//! after the listing, at most `inspect_backlog` a run, newest first, under the detail step's
//! concurrency and the Hub client's pacing. A pipeline a person wrote is never replaced: such a version
//! gets its signature and inspection only. [`Syncer::inspect_versions`] does the same for the
//! clients' generate-pipeline-all and retry-segmentation jobs.

use super::*;
use crate::runnable::{self, GenerateError};

impl Syncer {
    pub(super) async fn inspect_backlog(&self, stop: &CancellationToken) -> Result<(), RunHalt> {
        if !self.config.inspect_models || self.config.inspect_backlog == 0 {
            return Ok(());
        }
        let ids = self
            .store
            .versions_to_inspect(
                crate::inspect::INSPECTOR_VERSION,
                self.config.inspect_backlog,
            )
            .await?;
        if ids.is_empty() {
            return Ok(());
        }
        self.inspect_versions(ids, stop.clone()).await;
        Ok(())
    }

    /// Inspects these stored versions (the backlog, and the clients' generate-pipeline-all and
    /// retry-segmentation jobs), under the detail step's concurrency, until `stop`; how many were
    /// recorded.
    pub async fn inspect_versions(&self, ids: Vec<Uuid>, stop: CancellationToken) -> usize {
        let total = ids.len();
        let done = stream::iter(ids)
            .map(|id| self.inspect_stored(id))
            .buffer_unordered(self.config.detail_concurrency.max(1))
            .take_until(stop.cancelled())
            .filter(|done| std::future::ready(*done))
            .count()
            .await;
        tracing::info!(inspected = done, of = total, "versions inspected");
        done
    }

    /// Inspects one stored version; whether it was recorded.
    async fn inspect_stored(&self, id: Uuid) -> bool {
        let found = async {
            let Some(version) = self.store.get_version_by_id(id).await? else {
                return Ok::<_, GenerateError>(false);
            };
            let Some(model) = self.store.get_model(version.model_id).await? else {
                return Ok(false);
            };
            let mut found = match runnable::inspect_version(
                &self.hub,
                &model,
                &version,
                &self.config.public_url,
            )
            .await
            {
                Ok(found) => found,
                // Mirrored from another endpoint: recorded, so it is not asked again every run.
                Err(GenerateError::NotOnHub(why)) => crate::records::Inspected {
                    signature: None,
                    inspection: serde_json::json!({"error": why,
                        "inspector_version": crate::inspect::INSPECTOR_VERSION}),
                    inspector_version: crate::inspect::INSPECTOR_VERSION,
                    pipeline: None,
                    hosted: Vec::new(),
                    assets: None,
                },
                Err(e) => return Err(e),
            };
            if version.pipeline_spec.is_some() {
                found.pipeline = None;
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
