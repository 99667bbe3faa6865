//! What reading a model file gave, kept by the SHA-256 of its bytes (issue #32): the pipeline wing
//! stores a reading here after reading a file and looks here before reading one, so each distinct
//! file is read once for every version and repo that publishes it. Rows of an older inspector are
//! not returned (the file is read again, and its row replaced).

use super::{on_backend, Store, StoreResult};
use sqlx::types::Json;

impl Store {
    /// The reading kept for the file with this SHA-256 by `inspector`, if any.
    pub async fn model_file_reading(
        &self,
        sha256: &str,
        inspector: u32,
    ) -> StoreResult<Option<serde_json::Value>> {
        let row: Option<Json<serde_json::Value>> = on_backend!(self, |db| {
            sqlx::query_scalar(
            "SELECT reading FROM model_file_readings WHERE sha256 = $1 AND inspector_version = $2"
        )
        .bind(sha256.to_ascii_lowercase())
        .bind(i64::from(inspector))
        .fetch_optional(&db.pool)
        .await?
        });
        Ok(row.map(|j| j.0))
    }

    /// Keeps `reading` for the file with this SHA-256, read by `inspector` (replacing an older one).
    pub async fn save_model_file_reading(
        &self,
        sha256: &str,
        inspector: u32,
        reading: &serde_json::Value,
    ) -> StoreResult<()> {
        on_backend!(self, |db| sqlx::query(
            "INSERT INTO model_file_readings (sha256, inspector_version, reading, read_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (sha256) DO UPDATE SET \
             inspector_version = excluded.inspector_version, reading = excluded.reading, \
             read_at = excluded.read_at"
        )
        .bind(sha256.to_ascii_lowercase())
        .bind(i64::from(inspector))
        .bind(Json(reading))
        .bind(crate::domain::now())
        .execute(&db.pool)
        .await?
        .rows_affected());
        Ok(())
    }
}
