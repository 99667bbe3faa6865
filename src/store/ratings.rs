//! Users' ratings of versions (migration 0031), and the aggregates kept with them in the same
//! transaction: the version's `num_ratings` and `rating_avg`, its model's `total_ratings` and
//! `rating_weighted_avg` ([`crate::domain::weighted_rating`]), and the model's client card.

use super::models::{refresh_card, MODEL_COLUMNS};
use super::rows::ModelRow;
use super::{on_backend, on_tx, Store, StoreResult, Tx};
use crate::domain::records::Model;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A version's and its model's ratings after a rating was written or removed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RatingTotals {
    pub num_ratings: i64,
    pub rating_avg: f64,
    pub model_total_ratings: i64,
    pub model_rating_weighted_avg: f64,
}

/// One user's rating of a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rating {
    pub stars: i64,
    pub rated_at: DateTime<Utc>,
}

impl Store {
    /// `user` gives `version` `stars` (1–5; the database refuses others), replacing their earlier
    /// rating; the aggregates follow in the same transaction.
    pub async fn rate_version(
        &self,
        version: Uuid,
        user: Uuid,
        stars: i64,
    ) -> StoreResult<RatingTotals> {
        let mut tx = self.begin().await?;
        on_tx!(tx, |conn| sqlx::query(
            "INSERT INTO version_ratings (version_id, user_id, stars, rated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (version_id, user_id) \
             DO UPDATE SET stars = excluded.stars, rated_at = excluded.rated_at"
        )
        .bind(version)
        .bind(user)
        .bind(stars)
        .bind(crate::domain::now())
        .execute(&mut *conn)
        .await?
        .rows_affected());
        let totals = refresh_version_ratings(&mut tx, version).await?;
        tx.commit().await?;
        Ok(totals)
    }

    /// Removes `user`'s rating of `version`; the aggregates after it, or `None` when there was none.
    pub async fn unrate_version(
        &self,
        version: Uuid,
        user: Uuid,
    ) -> StoreResult<Option<RatingTotals>> {
        let mut tx = self.begin().await?;
        let removed = on_tx!(tx, |conn| sqlx::query(
            "DELETE FROM version_ratings WHERE version_id = $1 AND user_id = $2"
        )
        .bind(version)
        .bind(user)
        .execute(&mut *conn)
        .await?
        .rows_affected());
        if removed == 0 {
            return Ok(None);
        }
        let totals = refresh_version_ratings(&mut tx, version).await?;
        tx.commit().await?;
        Ok(Some(totals))
    }

    /// `user`'s rating of `version`, if they gave one.
    pub async fn rating_of(&self, version: Uuid, user: Uuid) -> StoreResult<Option<Rating>> {
        let sql = "SELECT CAST(stars AS BIGINT), rated_at FROM version_ratings \
             WHERE version_id = $1 AND user_id = $2";
        let row: Option<(i64, DateTime<Utc>)> = on_backend!(self, |db| sqlx::query_as(sql)
            .bind(version)
            .bind(user)
            .fetch_optional(&db.pool)
            .await?);
        Ok(row.map(|(stars, rated_at)| Rating { stars, rated_at }))
    }
}

/// Writes `version`'s aggregates from its ratings, then its model's.
async fn refresh_version_ratings(tx: &mut Tx, version: Uuid) -> StoreResult<RatingTotals> {
    let (model, num_ratings, rating_avg): (Uuid, i64, f64) = on_tx!(tx, |conn| sqlx::query_as(
        "UPDATE model_versions SET \
         num_ratings = (SELECT count(*) FROM version_ratings WHERE version_id = $1), \
         rating_avg = COALESCE((SELECT CAST(avg(stars) AS DOUBLE PRECISION) \
                                FROM version_ratings WHERE version_id = $1), 0) \
         WHERE id = $1 RETURNING model_id, num_ratings, rating_avg"
    )
    .bind(version)
    .fetch_one(&mut *conn)
    .await?);
    let model = refresh_model_ratings(tx, model).await?;
    Ok(RatingTotals {
        num_ratings,
        rating_avg,
        model_total_ratings: model.total_ratings,
        model_rating_weighted_avg: model.rating_weighted_avg,
    })
}

/// Writes `model`'s rating aggregates from its versions' ratings (after a rating, or a version's
/// removal with its ratings) and renders its card again.
pub(super) async fn refresh_model_ratings(tx: &mut Tx, model: Uuid) -> StoreResult<Model> {
    let (count, stars): (i64, i64) = on_tx!(tx, |conn| sqlx::query_as(
        "SELECT count(*), COALESCE(sum(r.stars), 0) FROM version_ratings r \
         JOIN model_versions v ON v.id = r.version_id WHERE v.model_id = $1"
    )
    .bind(model)
    .fetch_one(&mut *conn)
    .await?);
    let sql = format!(
        "UPDATE ml_models SET total_ratings = $2, rating_weighted_avg = $3 WHERE id = $1 \
         RETURNING {MODEL_COLUMNS}"
    );
    let row: ModelRow = on_tx!(tx, |conn| sqlx::query_as(&sql)
        .bind(model)
        .bind(count)
        .bind(crate::domain::weighted_rating(count, stars))
        .fetch_one(&mut *conn)
        .await?);
    let model = Model::try_from(row)?;
    refresh_card(tx, &model).await?;
    Ok(model)
}
