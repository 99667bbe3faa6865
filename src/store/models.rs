//! Models: created under the first free slug, read by id or slug, edited, counted; the synced ones
//! looked up by Hub object id or repo id.

use super::rows::ModelRow;
use super::{constraint, listed_status_sql, on_backend, on_tx, Store, StoreError, StoreResult, Tx};
use crate::domain::client_card::ClientCard;
use crate::domain::records::{Model, ModelPatch, NewModel};
use sqlx::types::Json;
use std::collections::HashSet;
use uuid::Uuid;

pub(crate) const MODEL_COLUMNS: &str = "id, name, slug, description, category, license_type, \
    origin_repo_url, author_id, hf_model_id, is_verified_official, tags, task, total_download_count, \
    rating_weighted_avg, total_ratings, created_at, updated_at, hf_object_id, hf_sha, hf_last_modified, \
    hf_created_at, hf_downloads, hf_likes, hf_gated, library_name, upstream_status, synced_at, \
    latest_version_size_bytes, task_inferred, sync_digest, is_public, version_count, largest_file_bytes, \
    best_version_status";

/// Mirrored models still active upstream: the catalog a sync maintains.
pub(super) const ACTIVE_MIRRORED: &str = concat!(
    "hf_object_id IS NOT NULL AND hf_model_id IS NOT NULL AND ",
    listed_status_sql!()
);

/// The columns a model is inserted with, in the order [`bind_new_model!`] binds them: the one INSERT
/// of the single path ([`insert_model`]) and the sync's bulk path (`sync_batch.rs`).
pub(super) const INSERT_COLUMNS: &str = "id, name, slug, description, category, license_type, \
    origin_repo_url, author_id, hf_model_id, is_verified_official, tags, task, created_at, updated_at, \
    hf_object_id, hf_sha, hf_last_modified, hf_created_at, hf_downloads, hf_likes, hf_gated, \
    library_name, upstream_status, synced_at, search_text, task_inferred, is_public, sync_digest, \
    client_card";

/// How many columns [`INSERT_COLUMNS`] names.
pub(super) const INSERT_COLUMN_COUNT: usize = 29;

/// Binds a [`NewModel`] under `slug`, created and updated at `now`, to `query`, in the order of
/// [`INSERT_COLUMNS`] (a macro: the query's type differs per backend).
macro_rules! bind_new_model {
    ($query:expr, $new:expr, $slug:expr, $now:expr) => {{
        let new: &crate::domain::records::NewModel = $new;
        let up = new.upstream.as_ref();
        $query
            .bind(new.id)
            .bind(new.name.as_str())
            .bind($slug)
            .bind(new.description.as_str())
            .bind(new.category.as_str())
            .bind(new.license_type.as_str())
            .bind(new.origin_repo_url.as_deref())
            .bind(new.author_id)
            .bind(new.hf_model_id.as_deref())
            .bind(new.is_verified_official)
            .bind(sqlx::types::Json(&new.tags))
            .bind(new.task.as_deref())
            .bind($now)
            .bind($now)
            .bind(up.map(|u| u.object_id.as_str()))
            .bind(up.and_then(|u| u.sha.as_deref()))
            .bind(up.and_then(|u| u.last_modified))
            .bind(up.and_then(|u| u.created_at))
            .bind(up.map_or(0, |u| u.downloads))
            .bind(up.map_or(0, |u| u.likes))
            .bind(up.and_then(|u| u.gated.as_deref()))
            .bind(up.and_then(|u| u.library_name.as_deref()))
            .bind(up.and_then(|u| u.status.map(|s| s.as_str())))
            .bind(up.and_then(|u| u.synced_at))
            .bind(super::search_text(
                &new.name,
                &new.description,
                &new.tags,
                new.hf_model_id.as_deref(),
            ))
            .bind(new.task_inferred)
            .bind(new.is_public)
            .bind(up.and_then(|u| u.digest))
            .bind(crate::domain::client_card::ClientCard::of_new(new, $slug, $now).stored())
    }};
}
pub(super) use bind_new_model;

/// The placeholders of `rows` rows of [`INSERT_COLUMNS`]: `(…), (…)`.
pub(super) fn insert_values(dialect: super::Dialect, rows: usize) -> String {
    (0..rows)
        .map(|r| {
            let b = r * INSERT_COLUMN_COUNT;
            let marks: Vec<String> = (1..=INSERT_COLUMN_COUNT)
                .map(|k| dialect.placeholder(b + k))
                .collect();
            format!("({})", marks.join(", "))
        })
        .collect::<Vec<_>>()
        .join(",")
}

impl Store {
    /// Inserts a model under the first free slug of its candidates.
    pub async fn create_model(&self, new: &NewModel) -> StoreResult<Model> {
        let mut tx = self.begin().await?;
        let model = insert_model(&mut tx, new).await?;
        tx.commit().await?;
        Ok(model)
    }

    pub async fn get_model(&self, id: Uuid) -> StoreResult<Option<Model>> {
        let sql = format!("SELECT {MODEL_COLUMNS} FROM ml_models WHERE id = $1");
        let row: Option<ModelRow> = on_backend!(self, |db| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&db.pool)
            .await?);
        row.map(TryInto::try_into).transpose()
    }

    pub async fn get_model_by_slug(&self, slug: &str) -> StoreResult<Option<Model>> {
        let sql = format!("SELECT {MODEL_COLUMNS} FROM ml_models WHERE slug = $1");
        let row: Option<ModelRow> = on_backend!(self, |db| sqlx::query_as(&sql)
            .bind(slug)
            .fetch_optional(&db.pool)
            .await?);
        row.map(TryInto::try_into).transpose()
    }

    /// Applies a person's edit; the model's sync digest is cleared, so the next run compares it field
    /// by field (and restores what the Hub owns).
    pub async fn update_model(&self, id: Uuid, patch: &ModelPatch) -> StoreResult<Model> {
        let sql = format!(
            "UPDATE ml_models SET name = COALESCE($2, name), \
             description = COALESCE($3, description), category = COALESCE($4, category), \
             license_type = COALESCE($5, license_type), \
             origin_repo_url = COALESCE($6, origin_repo_url), \
             is_verified_official = COALESCE($7, is_verified_official), \
             tags = COALESCE($8, tags), task = COALESCE($9, task), updated_at = $10, \
             is_public = COALESCE($11, is_public), \
             sync_digest = NULL WHERE id = $1 RETURNING {MODEL_COLUMNS}"
        );
        let mut tx = self.begin().await?;
        let row: Option<ModelRow> = on_tx!(tx, |conn| sqlx::query_as(&sql)
            .bind(id)
            .bind(&patch.name)
            .bind(&patch.description)
            .bind(patch.category.map(|c| c.as_str()))
            .bind(patch.license_type.map(|l| l.as_str()))
            .bind(&patch.origin_repo_url)
            .bind(patch.is_verified_official)
            .bind(patch.tags.as_ref().map(Json))
            .bind(&patch.task)
            .bind(crate::domain::now())
            .bind(patch.is_public)
            .fetch_optional(&mut *conn)
            .await?);
        let model: Model = row.ok_or(StoreError::NotFound)?.try_into()?;
        refresh_text_and_card(&mut tx, &model).await?;
        tx.commit().await?;
        Ok(model)
    }

    /// Deletes a model, its versions and what hangs on them (hosted-file references, download marks,
    /// telemetry: by cascade); whether it existed.
    pub async fn delete_model(&self, id: Uuid) -> StoreResult<bool> {
        let sql = "DELETE FROM ml_models WHERE id = $1";
        let deleted = on_backend!(self, |db| sqlx::query(sql)
            .bind(id)
            .execute(&db.pool)
            .await?
            .rows_affected());
        Ok(deleted > 0)
    }

    /// Renders the card and search text of every model that has no card (rows written before
    /// migration 0027, or 0028 which cleared both), a batch at a time; how many it rendered. Run on connecting; idempotent, so replicas may race.
    pub async fn fill_client_cards(&self) -> StoreResult<u64> {
        const BATCH: i64 = 500;
        let sql = format!(
            "SELECT {MODEL_COLUMNS} FROM ml_models WHERE client_card IS NULL ORDER BY id LIMIT $1"
        );
        let mut filled = 0;
        loop {
            let rows: Vec<ModelRow> = on_backend!(self, |db| sqlx::query_as(&sql)
                .bind(BATCH)
                .fetch_all(&db.pool)
                .await?);
            if rows.is_empty() {
                return Ok(filled);
            }
            let mut tx = self.begin().await?;
            for row in rows {
                let model = Model::try_from(row)?;
                refresh_text_and_card(&mut tx, &model).await?;
                filled += 1;
            }
            tx.commit().await?;
        }
    }

    /// Models by source (`huggingface`/`user`) and upstream status (`active` for user models).
    pub async fn model_counts(&self) -> StoreResult<Vec<(String, String, i64)>> {
        let sql =
            "SELECT CASE WHEN hf_model_id IS NULL THEN 'user' ELSE 'huggingface' END AS source, \
             COALESCE(upstream_status, 'active') AS status, COUNT(*) AS n FROM ml_models \
             GROUP BY CASE WHEN hf_model_id IS NULL THEN 'user' ELSE 'huggingface' END, \
             COALESCE(upstream_status, 'active')";
        Ok(on_backend!(self, |db| sqlx::query_as(sql)
            .fetch_all(&db.pool)
            .await?))
    }

    /// Synced models with any of these Hub object ids or repo ids.
    pub async fn synced_models(
        &self,
        object_ids: &[String],
        hf_ids: &[String],
    ) -> StoreResult<Vec<Model>> {
        // Ids travel as one JSON array parameter: a page of 1000 ids is one bind, not 1000.
        let by = |column: &str| {
            format!(
                "SELECT {MODEL_COLUMNS} FROM ml_models WHERE {column} IN ({})",
                self.dialect().json_ids()
            )
        };
        let mut rows: Vec<ModelRow> = Vec::new();
        if !object_ids.is_empty() {
            let sql = by("hf_object_id");
            let ids = serde_json::to_string(object_ids).expect("strings serialise");
            rows = on_backend!(self, |db| sqlx::query_as(&sql)
                .bind(&ids)
                .fetch_all(&db.pool)
                .await?);
        }
        let mut models = rows
            .into_iter()
            .map(Model::try_from)
            .collect::<StoreResult<Vec<_>>>()?;
        // Repo ids are looked up only when no model with that id was found by object id.
        let found: HashSet<&str> = models
            .iter()
            .filter_map(|m| m.hf_model_id.as_deref())
            .collect();
        let rest: Vec<&String> = hf_ids
            .iter()
            .filter(|id| !found.contains(id.as_str()))
            .collect();
        if !rest.is_empty() {
            let sql = by("hf_model_id");
            let ids = serde_json::to_string(&rest).expect("strings serialise");
            let more: Vec<ModelRow> = on_backend!(self, |db| sqlx::query_as(&sql)
                .bind(&ids)
                .fetch_all(&db.pool)
                .await?);
            for row in more {
                let m = Model::try_from(row)?;
                if !models.iter().any(|x| x.id == m.id) {
                    models.push(m);
                }
            }
        }
        Ok(models)
    }
}

/// Stores the card of `model` as it now is (after a write that may have changed it).
pub(super) async fn refresh_card(tx: &mut Tx, model: &Model) -> StoreResult<()> {
    on_tx!(tx, |conn| sqlx::query(
        "UPDATE ml_models SET client_card = $2 WHERE id = $1"
    )
    .bind(model.id)
    .bind(ClientCard::of(model).stored())
    .execute(&mut *conn)
    .await?
    .rows_affected());
    Ok(())
}

/// Stores the search text and the card of `model` as it now is (after a person's edit, or for a row
/// that has neither yet).
async fn refresh_text_and_card(tx: &mut Tx, model: &Model) -> StoreResult<()> {
    let search = super::search_text(
        &model.name,
        &model.description,
        &model.tags,
        model.hf_model_id.as_deref(),
    );
    on_tx!(tx, |conn| sqlx::query(
        "UPDATE ml_models SET search_text = $2, client_card = $3 WHERE id = $1"
    )
    .bind(model.id)
    .bind(&search)
    .bind(ClientCard::of(model).stored())
    .execute(&mut *conn)
    .await?
    .rows_affected());
    Ok(())
}

/// Inserts under the first free slug candidate (`ON CONFLICT (slug) DO NOTHING` never aborts the
/// surrounding transaction).
pub(super) async fn insert_model(tx: &mut Tx, new: &NewModel) -> StoreResult<Model> {
    let sql = format!(
        "INSERT INTO ml_models ({INSERT_COLUMNS}) VALUES {} \
         ON CONFLICT (slug) DO NOTHING RETURNING {MODEL_COLUMNS}",
        insert_values(tx.dialect(), 1)
    );
    let now = crate::domain::now();
    for slug in crate::domain::Slug::candidates(&new.slug_hint, &new.slug_disambiguator) {
        let row: Option<ModelRow> = on_tx!(tx, |conn| bind_new_model!(
            sqlx::query_as(&sql),
            new,
            slug.as_str(),
            now
        )
        .fetch_optional(&mut *conn)
        .await?);
        if let Some(row) = row {
            return row.try_into();
        }
    }
    Err(StoreError::conflict(constraint::ML_MODELS_SLUG))
}
