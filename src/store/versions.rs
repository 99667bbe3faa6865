//! Versions of a model: created (the model's latest size follows), read, listed, their downloads
//! counted; the commits the synced ones were made from.

use super::rows::VersionRow;
use super::{on_backend, on_tx, Store, StoreResult, Tx};
use crate::domain::inspection::Deferral;
use crate::domain::records::{ModelVersion, NewVersion};
use sqlx::types::Json;
use uuid::Uuid;

/// A client's downloads of one version are counted at most once within this window.
pub const DOWNLOAD_WINDOW: chrono::Duration = chrono::Duration::hours(1);

const VERSION_COLUMNS: &str = "id, model_id, version_string, changelog, hf_commit_sha, \
    pipeline_spec, assets, published_at, download_count, num_ratings, rating_avg, created_by, status, \
    unsupported_reason, pipeline_updated_at, license_type, signature, inspection, changed_files";

impl Store {
    pub async fn create_version(&self, new: &NewVersion) -> StoreResult<ModelVersion> {
        let sql = format!(
            "INSERT INTO model_versions (id, model_id, version_string, changelog, \
             hf_commit_sha, pipeline_spec, assets, published_at, created_by, total_size_bytes, status, \
             pipeline_updated_at, main_file_bytes, license_type, unsupported_reason, signature, \
             inspection, inspector_version, quantization, inspect_attempts, inspect_retry_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
             $19, $20, $21) \
             RETURNING {VERSION_COLUMNS}"
        );
        let mut tx = self.begin().await?;
        let row: VersionRow = on_tx!(tx, |conn| sqlx::query_as(&sql)
            .bind(Uuid::new_v4())
            .bind(new.model_id)
            .bind(&new.version_string)
            .bind(&new.changelog)
            .bind(&new.hf_commit_sha)
            .bind(new.spec().map(Json))
            .bind(Json(&new.assets))
            .bind(new.published_at)
            .bind(new.created_by)
            .bind(new.total_size_bytes())
            .bind(new.status().as_str())
            .bind(new.spec().map(|_| new.published_at))
            .bind(crate::domain::assets::main_file_size(&new.assets))
            .bind(new.license_type.map(|l| l.as_str()))
            .bind(new.unsupported_reason())
            .bind(
                new.inspected
                    .as_ref()
                    .and_then(|i| i.signature.as_ref())
                    .map(Json)
            )
            .bind(new.inspected.as_ref().map(|i| Json(&i.inspection)))
            .bind(
                new.inspected
                    .as_ref()
                    .map(|i| i64::from(i.inspector_version))
            )
            .bind(
                new.inspected
                    .as_ref()
                    .and_then(crate::domain::records::Inspected::quantization)
            )
            .bind(new.deferred.as_ref().map_or(0, |d| i64::from(d.attempts)))
            .bind(new.deferred.as_ref().map(|d| d.retry_at))
            .fetch_one(&mut *conn)
            .await?);
        refresh_model_summary(&mut tx, new.model_id).await?;
        tx.commit().await?;
        row.try_into()
    }

    /// Counts a download of `version_id` by `client` (a digest of who asked) on the version and its
    /// model — increments in the database, in one transaction — unless this client's last counted
    /// download of this version is within [`DOWNLOAD_WINDOW`], so a loop of downloads cannot inflate
    /// the counts or buy a place in the popular order. Whether it counted (`false` too when the
    /// version is gone).
    pub async fn count_download(&self, version_id: Uuid, client: &str) -> StoreResult<bool> {
        let now = crate::domain::now();
        let cutoff = now - DOWNLOAD_WINDOW;
        let mut tx = self.begin().await?;
        // Writes first, so concurrent requests queue instead of conflicting.
        let marked: Option<Uuid> = on_tx!(tx, |conn| sqlx::query_scalar(
            "INSERT INTO download_marks (version_id, client, counted_at) VALUES ($1, $2, $3) \
             ON CONFLICT (version_id, client) DO UPDATE SET counted_at = excluded.counted_at \
             WHERE download_marks.counted_at < $4 RETURNING version_id"
        )
        .bind(version_id)
        .bind(client)
        .bind(now)
        .bind(cutoff)
        .fetch_optional(&mut *conn)
        .await?);
        if marked.is_none() {
            tx.rollback().await?;
            return Ok(false);
        }
        let model_id: Option<Uuid> = on_tx!(tx, |conn| sqlx::query_scalar(
            "UPDATE model_versions SET download_count = download_count + 1 WHERE id = $1 \
             RETURNING model_id"
        )
        .bind(version_id)
        .fetch_optional(&mut *conn)
        .await?);
        let Some(model_id) = model_id else {
            tx.rollback().await?;
            return Ok(false);
        };
        let sql =
            "UPDATE ml_models SET total_download_count = total_download_count + 1 WHERE id = $1";
        on_tx!(tx, |conn| sqlx::query(sql)
            .bind(model_id)
            .execute(&mut *conn)
            .await?
            .rows_affected());
        // The marks past the window count nothing any more.
        on_tx!(tx, |conn| sqlx::query(
            "DELETE FROM download_marks WHERE counted_at < $1"
        )
        .bind(cutoff)
        .execute(&mut *conn)
        .await?
        .rows_affected());
        tx.commit().await?;
        Ok(true)
    }

    /// A version by id alone.
    pub async fn get_version_by_id(&self, id: Uuid) -> StoreResult<Option<ModelVersion>> {
        let sql = format!("SELECT {VERSION_COLUMNS} FROM model_versions WHERE id = $1");
        let row: Option<VersionRow> = on_backend!(self, |db| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&db.pool)
            .await?);
        row.map(TryInto::try_into).transpose()
    }

    /// Versions of a model, newest first.
    pub async fn list_versions(&self, model_id: Uuid) -> StoreResult<Vec<ModelVersion>> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM model_versions WHERE model_id = $1 \
             ORDER BY published_at DESC, id DESC"
        );
        let rows: Vec<VersionRow> = on_backend!(self, |db| sqlx::query_as(&sql)
            .bind(model_id)
            .fetch_all(&db.pool)
            .await?);
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// The versions people published (not the mirror's) that the clients may be told are runnable:
    /// what [`crate::domain::records::NewVersion::refusal`] is decided for when a version is written.
    pub async fn published_runnable_versions(&self) -> StoreResult<Vec<ModelVersion>> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM model_versions \
             WHERE created_by IS NOT NULL AND status <> 'missing'"
        );
        let rows: Vec<VersionRow> =
            on_backend!(self, |db| sqlx::query_as(&sql).fetch_all(&db.pool).await?);
        rows.into_iter().map(TryInto::try_into).collect()
    }

    pub async fn get_version(&self, model_id: Uuid, id: Uuid) -> StoreResult<Option<ModelVersion>> {
        let sql =
            format!("SELECT {VERSION_COLUMNS} FROM model_versions WHERE model_id = $1 AND id = $2");
        let row: Option<VersionRow> = on_backend!(self, |db| sqlx::query_as(&sql)
            .bind(model_id)
            .bind(id)
            .fetch_optional(&db.pool)
            .await?);
        row.map(TryInto::try_into).transpose()
    }

    /// `(object id, commit sha)` of the synced versions of the models with these object ids (not
    /// those a person added with a commit sha: the mirror has its own).
    pub async fn version_commits(
        &self,
        object_ids: &[String],
    ) -> StoreResult<Vec<(String, String)>> {
        if object_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT m.hf_object_id, v.hf_commit_sha FROM model_versions v \
             JOIN ml_models m ON m.id = v.model_id \
             WHERE v.hf_commit_sha IS NOT NULL AND v.created_by IS NULL \
             AND m.hf_object_id IN ({})",
            self.dialect().json_ids()
        );
        let ids = serde_json::to_string(object_ids).expect("strings serialise");
        Ok(on_backend!(self, |db| sqlx::query_as(&sql)
            .bind(&ids)
            .fetch_all(&db.pool)
            .await?))
    }
}

impl Store {
    /// Sets a version's pipeline spec (when `spec` is `Some`; `Some(None)` clears it), status and
    /// unsupported reason; the model's summary follows. `None` when the version does not exist.
    pub async fn set_version_pipeline(
        &self,
        id: Uuid,
        spec: Option<Option<&serde_json::Value>>,
        status: crate::domain::VersionStatus,
        unsupported_reason: Option<&str>,
    ) -> StoreResult<Option<ModelVersion>> {
        let now = crate::domain::now();
        let sql = format!(
            "UPDATE model_versions SET \
             pipeline_spec = CASE WHEN $2 THEN $3 ELSE pipeline_spec END, \
             pipeline_updated_at = CASE WHEN $2 THEN $4 ELSE pipeline_updated_at END, \
             status = $5, unsupported_reason = $6 WHERE id = $1 RETURNING {VERSION_COLUMNS}"
        );
        let (replace, new_spec) = match spec {
            Some(s) => (true, s.map(Json)),
            None => (false, None),
        };
        let updated_at = new_spec.as_ref().map(|_| now);
        let mut tx = self.begin().await?;
        let row: Option<VersionRow> = on_tx!(tx, |conn| sqlx::query_as(&sql)
            .bind(id)
            .bind(replace)
            .bind(new_spec)
            .bind(updated_at)
            .bind(status.as_str())
            .bind(unsupported_reason)
            .fetch_optional(&mut *conn)
            .await?);
        let Some(row) = row else {
            return Ok(None);
        };
        let version: ModelVersion = row.try_into()?;
        refresh_model_summary(&mut tx, version.model_id).await?;
        tx.commit().await?;
        Ok(Some(version))
    }

    /// Mirrored versions (made by the sync: no creator, a commit) not inspected yet — a deferred one
    /// only when its next attempt is due before `due_before` — or inspected by an inspector older than
    /// `inspector`, newest first.
    pub async fn versions_to_inspect(
        &self,
        inspector: u32,
        limit: usize,
        due_before: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<Vec<Uuid>> {
        Ok(on_backend!(self, |db| {
            sqlx::query_scalar(
            "SELECT id FROM model_versions WHERE created_by IS NULL AND hf_commit_sha IS NOT NULL \
             AND ((inspector_version IS NULL AND (inspect_retry_at IS NULL OR inspect_retry_at <= $3)) \
                  OR inspector_version < $1) \
             ORDER BY published_at DESC, id LIMIT $2"
        )
        .bind(i64::from(inspector))
        .bind(limit as i64)
        .bind(due_before)
        .fetch_all(&db.pool)
        .await?
        }))
    }

    /// Versions people published that are `verified`, newest first: their files are checked against
    /// the bytes they were verified with (issue #32).
    pub async fn published_verified_versions(&self, limit: usize) -> StoreResult<Vec<Uuid>> {
        Ok(on_backend!(self, |db| sqlx::query_scalar(
            "SELECT id FROM model_versions WHERE created_by IS NOT NULL AND status = 'verified' \
             ORDER BY published_at DESC, id LIMIT $1"
        )
        .bind(limit as i64)
        .fetch_all(&db.pool)
        .await?))
    }

    /// Versions the app cannot run (`missing`), of any origin, newest first; with `tasks`, only those of
    /// models with one of these tasks.
    pub async fn versions_not_runnable(
        &self,
        tasks: Option<&[&str]>,
        limit: usize,
    ) -> StoreResult<Vec<Uuid>> {
        let tasks = serde_json::to_string(&tasks.unwrap_or_default()).expect("strings serialise");
        let sql = format!(
            "SELECT v.id FROM model_versions v JOIN ml_models m ON m.id = v.model_id \
             WHERE v.status = 'missing' AND ($1 = '[]' OR m.task IN ({})) \
             ORDER BY v.published_at DESC, v.id LIMIT $2",
            self.dialect().json_ids()
        );
        Ok(on_backend!(self, |db| sqlx::query_scalar(&sql)
            .bind(&tasks)
            .bind(limit as i64)
            .fetch_all(&db.pool)
            .await?))
    }

    /// Records what inspecting a version's main file found, and the pipeline derived from it (spec,
    /// status, reason; `None` leaves the pipeline as it is), with the files extracted from the model
    /// and the assets that name them; the model's summary follows. `None` when the version does not
    /// exist.
    pub async fn record_inspection(
        &self,
        id: Uuid,
        found: &crate::domain::records::Inspected,
    ) -> StoreResult<Option<ModelVersion>> {
        let sql = format!(
            "UPDATE model_versions SET signature = $2, inspection = $3, inspector_version = $4, \
             quantization = $10, \
             pipeline_spec = CASE WHEN $5 THEN $6 ELSE pipeline_spec END, \
             pipeline_updated_at = CASE WHEN $5 AND $6 IS NOT NULL THEN $7 ELSE pipeline_updated_at END, \
             status = CASE WHEN $5 THEN $8 ELSE status END, \
             unsupported_reason = CASE WHEN $5 THEN $9 ELSE unsupported_reason END, \
             assets = COALESCE($11, assets), \
             total_size_bytes = COALESCE($12, total_size_bytes), \
             inspect_attempts = 0, inspect_retry_at = NULL \
             WHERE id = $1 RETURNING {VERSION_COLUMNS}"
        );
        let pipeline = found.pipeline.as_ref();
        let mut tx = self.begin().await?;
        let row: Option<VersionRow> = on_tx!(tx, |conn| sqlx::query_as(&sql)
            .bind(id)
            .bind(found.signature.as_ref().map(Json))
            .bind(Json(&found.inspection))
            .bind(i64::from(found.inspector_version))
            .bind(pipeline.is_some())
            .bind(pipeline.and_then(|p| p.spec.as_ref()).map(Json))
            .bind(crate::domain::now())
            .bind(pipeline.map(|p| p.status.as_str()))
            .bind(pipeline.and_then(|p| p.reason.as_deref()))
            .bind(found.quantization())
            .bind(found.assets.as_ref().map(Json))
            .bind(
                found
                    .assets
                    .as_deref()
                    .map(crate::domain::records::total_size)
            )
            .fetch_optional(&mut *conn)
            .await?);
        let Some(row) = row else {
            return Ok(None);
        };
        super::hosted_files::save_hosted(&mut tx, id, &found.hosted).await?;
        let version: ModelVersion = row.try_into()?;
        refresh_model_summary(&mut tx, version.model_id).await?;
        tx.commit().await?;
        Ok(Some(version))
    }

    /// Records that reading version `id`'s main file failed for `why`, a failure that may pass: one
    /// more attempt, the next after a backoff from `base` ([`Deferral::after`]). A version with no
    /// spec is `missing` with the deferral as its reason; one with a spec keeps its pipeline. The
    /// deferral, or `None` when the version does not exist.
    pub async fn defer_inspection(
        &self,
        id: Uuid,
        why: &str,
        base: std::time::Duration,
    ) -> StoreResult<Option<Deferral>> {
        let mut tx = self.begin().await?;
        // A write first, so that SQLite takes the write lock at once (a read first could not upgrade
        // its lock while another writer holds one).
        let found: Option<(i64, Uuid)> = on_tx!(tx, |conn| sqlx::query_as(
            "UPDATE model_versions SET inspect_attempts = inspect_attempts + 1 WHERE id = $1 \
             RETURNING inspect_attempts, model_id"
        )
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?);
        let Some((attempts, model_id)) = found else {
            return Ok(None);
        };
        let attempts = u32::try_from(attempts).unwrap_or(1);
        let deferral = Deferral::after(why, attempts, crate::domain::now(), base);
        on_tx!(tx, |conn| {
            sqlx::query(
            "UPDATE model_versions SET inspect_attempts = $2, inspect_retry_at = $3, \
             status = CASE WHEN pipeline_spec IS NULL THEN 'missing' ELSE status END, \
             unsupported_reason = CASE WHEN pipeline_spec IS NULL THEN $4 ELSE unsupported_reason END \
             WHERE id = $1"
        )
        .bind(id)
        .bind(i64::from(attempts))
        .bind(deferral.retry_at)
        .bind(deferral.reason())
        .execute(&mut *conn)
        .await?
        .rows_affected()
        });
        refresh_model_summary(&mut tx, model_id).await?;
        tx.commit().await?;
        Ok(Some(deferral))
    }

    /// Deletes a version (its telemetry goes with it); the model's summary follows. False when it did
    /// not exist.
    pub async fn delete_version(&self, id: Uuid) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let model: Option<Uuid> = on_tx!(tx, |conn| sqlx::query_scalar(
            "DELETE FROM model_versions WHERE id = $1 RETURNING model_id"
        )
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?);
        let Some(model) = model else {
            return Ok(false);
        };
        refresh_model_summary(&mut tx, model).await?;
        // Its ratings went with it.
        super::ratings::refresh_model_ratings(&mut tx, model).await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// Copies the summary of a model's versions onto it: the newest version's total size, the number of
/// versions, the largest main file, the best status (verified > pending > missing). Run in every
/// transaction that writes a version, so reads never compute it.
pub(super) async fn refresh_model_summary(tx: &mut Tx, model_id: Uuid) -> StoreResult<()> {
    let sql = "UPDATE ml_models SET \
         latest_version_size_bytes = (SELECT v.total_size_bytes FROM model_versions v \
           WHERE v.model_id = $1 ORDER BY v.published_at DESC, v.id DESC LIMIT 1), \
         version_count = (SELECT COUNT(*) FROM model_versions v WHERE v.model_id = $1), \
         largest_file_bytes = COALESCE((SELECT MAX(v.main_file_bytes) FROM model_versions v \
           WHERE v.model_id = $1), 0), \
         best_version_status = (SELECT v.status FROM model_versions v WHERE v.model_id = $1 \
           ORDER BY CASE v.status WHEN 'verified' THEN 0 WHEN 'pending' THEN 1 ELSE 2 END LIMIT 1) \
         WHERE id = $1";
    on_tx!(tx, |conn| sqlx::query(sql)
        .bind(model_id)
        .execute(&mut *conn)
        .await?
        .rows_affected());
    Ok(())
}
