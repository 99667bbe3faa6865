//! Inference telemetry from the phone app: events stored for a retention period, and the statistics of
//! one version computed from them.

use super::{on_backend, on_tx, Store, StoreResult, Visibility};
use crate::domain::records::{InferenceEvent, InferenceSample};
use chrono::{DateTime, Utc};
use std::collections::HashSet;
use uuid::Uuid;

/// At most this many of a version's most recent events feed its statistics.
pub const STATS_SAMPLE: i64 = 100_000;

impl Store {
    /// Stores the events whose version exists and is shown by `visibility` (the others are skipped)
    /// and deletes events received before `expire_before`; returns how many were stored.
    pub async fn record_events(
        &self,
        user_id: Option<Uuid>,
        visibility: Visibility,
        events: &[InferenceEvent],
        received_at: DateTime<Utc>,
        expire_before: DateTime<Utc>,
    ) -> StoreResult<usize> {
        let ids: Vec<Uuid> = events
            .iter()
            .map(|e| e.model_version_id)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let dialect = self.dialect();
        let marks: Vec<String> = (1..=ids.len()).map(|k| dialect.placeholder(k)).collect();
        let filter = visibility.condition("m.", |_| dialect.placeholder(ids.len() + 1));
        let sql = format!(
            "SELECT v.id FROM model_versions v JOIN ml_models m ON m.id = v.model_id \
             WHERE v.id IN ({}){filter}",
            marks.join(", ")
        );
        let mut tx = self.begin().await?;
        let known: Vec<Uuid> = if ids.is_empty() {
            Vec::new()
        } else {
            on_tx!(tx, |conn| {
                let mut q = sqlx::query_scalar(&sql);
                for id in &ids {
                    q = q.bind(*id);
                }
                if let Some(a) = visibility.author() {
                    q = q.bind(a);
                }
                q.fetch_all(&mut *conn).await?
            })
        };
        let known: HashSet<Uuid> = known.into_iter().collect();
        let mut stored = 0;
        for e in events
            .iter()
            .filter(|e| known.contains(&e.model_version_id))
        {
            on_tx!(tx, |conn| {
                sqlx::query(
                "INSERT INTO inference_events (id, model_version_id, user_id, device_model, platform, \
                 total_inference_ms, success, task_type, top_confidence, num_results, received_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            )
            .bind(Uuid::now_v7())
            .bind(e.model_version_id)
            .bind(user_id)
            .bind(&e.device_model)
            .bind(&e.platform)
            .bind(e.total_inference_ms)
            .bind(e.success)
            .bind(&e.task_type)
            .bind(e.top_confidence)
            .bind(e.num_results)
            .bind(received_at)
            .execute(&mut *conn)
            .await?
            .rows_affected()
            });
            stored += 1;
        }
        on_tx!(tx, |conn| sqlx::query(
            "DELETE FROM inference_events WHERE received_at < $1"
        )
        .bind(expire_before)
        .execute(&mut *conn)
        .await?
        .rows_affected());
        tx.commit().await?;
        Ok(stored)
    }

    /// The most recent events of a version (at most [`STATS_SAMPLE`]), for its statistics.
    pub async fn version_samples(&self, version_id: Uuid) -> StoreResult<Vec<InferenceSample>> {
        let sql =
            "SELECT platform, device_model, total_inference_ms, success FROM inference_events \
             WHERE model_version_id = $1 ORDER BY received_at DESC LIMIT $2";
        let rows: Vec<(String, String, i64, bool)> = on_backend!(self, |db| sqlx::query_as(sql)
            .bind(version_id)
            .bind(STATS_SAMPLE)
            .fetch_all(&db.pool)
            .await?);
        Ok(rows
            .into_iter()
            .map(
                |(platform, device_model, total_inference_ms, success)| InferenceSample {
                    platform,
                    device_model,
                    total_inference_ms,
                    success,
                },
            )
            .collect())
    }
}
