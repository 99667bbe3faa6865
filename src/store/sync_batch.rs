//! The sync's writes and its views of the catalog: a batch of model writes, versions, digests and
//! skipped records applied in one transaction fenced by the lease, with the run's counters; models
//! marked removed; the digests, object ids and ids of the mirrored models still listed upstream.

use super::models::{
    bind_new_model, insert_model, insert_values, ACTIVE_MIRRORED, INSERT_COLUMNS, MODEL_COLUMNS,
};
use super::runs::{check_fence, write_counts};
use super::versions::refresh_model_summary;
use super::{on_backend, on_tx, search_text, Store, StoreError, StoreResult, Tx};
use crate::domain::records::{
    Fence, Model, NewModel, RunCounts, SkipRecord, SyncVersion, SyncWrite,
};
use crate::domain::UpstreamStatus;
use sqlx::types::Json;
use std::collections::HashSet;
use uuid::Uuid;

/// One batch of a sync run, for [`Store::apply_sync`].
#[derive(Debug, Clone, Copy)]
pub struct SyncBatch<'a> {
    /// The lease the run holds; the batch is refused once it is lost.
    pub fence: &'a Fence,
    pub run_id: Uuid,
    /// The catalog user new mirrored models belong to.
    pub author_id: Uuid,
    pub writes: &'a [SyncWrite],
    pub versions: &'a [SyncVersion],
    /// `(model id, digest)` of unchanged models stored without their digest.
    pub digests: &'a [(Uuid, i64)],
    /// Skipped records with their sequence numbers in the run.
    pub skips: &'a [(i64, SkipRecord)],
    /// The run's counters before this batch (the rows it writes are added).
    pub counts: &'a RunCounts,
    /// Benchmarks and the crash suite only: how long the batch holds its fenced transaction before
    /// writing, as a slow disk would.
    pub hold: std::time::Duration,
}

impl<'a> SyncBatch<'a> {
    /// A batch of the run `run_id` that writes nothing yet but the counters; fill in what it writes
    /// with struct update syntax.
    pub fn new(fence: &'a Fence, run_id: Uuid, author_id: Uuid, counts: &'a RunCounts) -> Self {
        SyncBatch {
            fence,
            run_id,
            author_id,
            writes: &[],
            versions: &[],
            digests: &[],
            skips: &[],
            counts,
            hold: std::time::Duration::ZERO,
        }
    }
}

/// What one sync batch wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    pub rows: i64,
    pub versions_created: i64,
    /// Of those, the versions whose model file could not be read (their inspection deferred).
    pub inspections_deferred: i64,
}

impl Store {
    /// Applies one batch of the sync in one transaction, if the lease is still ours: model writes,
    /// versions, digests of unchanged models, skipped records and the run's counters together, so a
    /// counter never reports work that was rolled back. Returns the rows written and the versions
    /// created.
    pub async fn apply_sync(&self, batch: &SyncBatch<'_>) -> StoreResult<Applied> {
        let mut tx = self.begin_bulk().await?;
        if !check_fence(&mut tx, self.dialect(), batch.fence).await? {
            return Err(StoreError::LeaseLost);
        }
        if !batch.hold.is_zero() {
            tokio::time::sleep(batch.hold).await;
        }
        let mut rows = 0i64;
        // Updates first: a rename frees the repo id a new repo of the same batch may take.
        for w in batch.writes.iter().filter(|w| !w.create) {
            if w.counters_only {
                update_counters(&mut tx, w).await?;
            } else {
                update_model(&mut tx, w).await?;
            }
            rows += 1;
        }
        // Digests of unchanged models stored without them (a row each, once).
        for (id, digest) in batch.digests {
            on_tx!(tx, |conn| sqlx::query(
                "UPDATE ml_models SET sync_digest = $2 WHERE id = $1"
            )
            .bind(id)
            .bind(digest)
            .execute(&mut *conn)
            .await?
            .rows_affected());
            rows += 1;
        }
        let creates: Vec<NewModel> = batch
            .writes
            .iter()
            .filter(|w| w.create)
            .map(|w| new_mirrored_model(w, batch.author_id))
            .collect();
        // Round by round through the slug candidates; what is left is placed one by one.
        let mut waiting: Vec<&NewModel> = creates.iter().collect();
        for candidate in 0..3 {
            if waiting.is_empty() {
                break;
            }
            let missed = insert_models_bulk(&mut tx, self, &waiting, candidate).await?;
            waiting = missed.into_iter().map(|i| waiting[i]).collect();
        }
        for new in waiting {
            insert_model(&mut tx, new).await?;
        }
        rows += creates.len() as i64;
        let (mut versions_created, mut inspections_deferred) = (0i64, 0i64);
        for v in batch.versions {
            if insert_version(&mut tx, v).await? {
                refresh_model_summary(&mut tx, v.model_id).await?;
                versions_created += 1;
                inspections_deferred += i64::from(v.version.deferred.is_some());
                rows += 2;
            }
        }
        for (seq, s) in batch.skips {
            on_tx!(tx, |conn| sqlx::query(
                "INSERT INTO sync_run_skips (run_id, seq, hf_model_id, object_id, reason) \
                 VALUES ($1, $2, $3, $4, $5)"
            )
            .bind(batch.run_id)
            .bind(*seq)
            .bind(&s.hf_model_id)
            .bind(&s.object_id)
            .bind(&s.reason)
            .execute(&mut *conn)
            .await?
            .rows_affected());
        }
        let mut counts = *batch.counts;
        counts.rows_written += rows;
        counts.versions_created += versions_created;
        counts.inspections_deferred += inspections_deferred;
        write_counts(&mut tx, batch.run_id, &counts).await?;
        tx.commit().await?;
        Ok(Applied {
            rows,
            versions_created,
            inspections_deferred,
        })
    }

    /// Marks models with an upstream status (removed, private), fenced like [`Store::apply_sync`].
    pub async fn mark_upstream(
        &self,
        fence: &Fence,
        run_id: Uuid,
        model_ids: &[Uuid],
        status: UpstreamStatus,
        counts: &RunCounts,
    ) -> StoreResult<i64> {
        let mut tx = self.begin_bulk().await?;
        if !check_fence(&mut tx, self.dialect(), fence).await? {
            return Err(StoreError::LeaseLost);
        }
        let now = crate::domain::now();
        let mut rows = 0;
        for id in model_ids {
            let done = on_tx!(tx, |conn| sqlx::query(
                "UPDATE ml_models SET upstream_status = $2, updated_at = $3, synced_at = $3 \
                 WHERE id = $1"
            )
            .bind(id)
            .bind(status.as_str())
            .bind(now)
            .execute(&mut *conn)
            .await?
            .rows_affected());
            rows += done as i64;
        }
        let mut counts = *counts;
        counts.rows_written += rows;
        write_counts(&mut tx, run_id, &counts).await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// Refreshes the database's statistics of the catalogue after a run rewrote much of it. PostgreSQL
    /// plans a search by them: with none — a table filled by a first sync before autovacuum analyzed
    /// it, or never where autovacuum is off — it walked a sort index testing every row for a word in
    /// no model (`vision` at 100,000 models: 400–560 ms, 2–5 ms once analyzed). SQLite's listing plans
    /// are the store's own (see `browse.rs`): nothing to refresh.
    pub async fn refresh_statistics(&self) -> StoreResult<()> {
        if let Store::Postgres(db) = self {
            sqlx::query("ANALYZE ml_models").execute(&db.pool).await?;
        }
        Ok(())
    }

    /// One column of the synced models active upstream that match `filter`, gathered into one JSON
    /// value by the database: the SQLite driver hands rows over one by one (100,000 rows: 0.45 s
    /// against 0.1 s for the aggregate).
    async fn active_column<T: serde::de::DeserializeOwned>(
        &self,
        column: &str,
        filter: &str,
    ) -> StoreResult<Vec<T>> {
        let sql = format!(
            "SELECT CAST(COALESCE({}({column}), '[]') AS TEXT) FROM ml_models \
             WHERE {ACTIVE_MIRRORED}{filter}",
            self.dialect().json_agg()
        );
        let values: String = on_backend!(self, |db| sqlx::query_scalar(&sql)
            .fetch_one(&db.pool)
            .await?);
        serde_json::from_str(&values).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
    }

    /// The digests of every synced model that is active upstream and has one (see
    /// [`crate::sync::mapping::Mirror::digest`]).
    pub async fn listed_digests(&self) -> StoreResult<Vec<i64>> {
        self.active_column("sync_digest", " AND sync_digest IS NOT NULL")
            .await
    }

    /// The Hub object ids of every synced model that is active upstream.
    pub async fn active_object_ids(&self) -> StoreResult<Vec<String>> {
        self.active_column("hf_object_id", "").await
    }

    /// `(model id, object id, repo id)` of every synced model that is active upstream.
    pub async fn active_synced(&self) -> StoreResult<Vec<(Uuid, String, String)>> {
        let sql =
            format!("SELECT id, hf_object_id, hf_model_id FROM ml_models WHERE {ACTIVE_MIRRORED}");
        Ok(on_backend!(self, |db| sqlx::query_as(&sql)
            .fetch_all(&db.pool)
            .await?))
    }
}

/// A mirrored model to create from a sync write.
fn new_mirrored_model(w: &SyncWrite, author_id: Uuid) -> NewModel {
    NewModel {
        id: w.model_id,
        name: w.name.clone(),
        slug_hint: w.hf_model_id.clone(),
        slug_disambiguator: w.hf_model_id.clone(),
        description: w.description.clone(),
        category: crate::domain::Category::Utility,
        license_type: w.license_type,
        origin_repo_url: Some(w.origin_repo_url.clone()),
        author_id,
        hf_model_id: Some(w.hf_model_id.clone()),
        is_verified_official: false,
        tags: w.tags.clone(),
        task: w.task.clone(),
        task_inferred: w.task_inferred,
        upstream: Some(w.upstream.clone()),
        is_public: true,
    }
}

/// A write that changes only the Hub's counters (and the sync's timestamps and digest).
async fn update_counters(tx: &mut Tx, w: &SyncWrite) -> StoreResult<()> {
    let u = &w.upstream;
    on_tx!(tx, |conn| sqlx::query(
        "UPDATE ml_models SET hf_downloads = $2, hf_likes = $3, hf_last_modified = $4, \
         updated_at = $5, synced_at = $5, sync_digest = $6 WHERE id = $1"
    )
    .bind(w.model_id)
    .bind(u.downloads)
    .bind(u.likes)
    .bind(u.last_modified)
    .bind(u.synced_at.unwrap_or_else(crate::domain::now))
    .bind(u.digest)
    .execute(&mut *conn)
    .await?
    .rows_affected());
    Ok(())
}

/// Every field the sync owns, written over a model.
async fn update_model(tx: &mut Tx, w: &SyncWrite) -> StoreResult<()> {
    let search = search_text(&w.name, &w.description, &w.tags, Some(&w.hf_model_id));
    let u = &w.upstream;
    let sql = format!(
        "UPDATE ml_models SET hf_model_id = $2, name = $3, description = $4, \
         license_type = $5, task = $6, tags = $7, origin_repo_url = $8, updated_at = $9, \
         hf_object_id = $10, hf_sha = $11, hf_last_modified = $12, hf_created_at = $13, \
         hf_downloads = $14, hf_likes = $15, hf_gated = $16, library_name = $17, \
         upstream_status = $18, synced_at = $9, search_text = $19, task_inferred = $20, \
         sync_digest = $21 WHERE id = $1 RETURNING {MODEL_COLUMNS}"
    );
    let row: Option<super::rows::ModelRow> = on_tx!(tx, |conn| sqlx::query_as(&sql)
        .bind(w.model_id)
        .bind(&w.hf_model_id)
        .bind(&w.name)
        .bind(&w.description)
        .bind(w.license_type.as_str())
        .bind(&w.task)
        .bind(Json(&w.tags))
        .bind(&w.origin_repo_url)
        .bind(u.synced_at.unwrap_or_else(crate::domain::now))
        .bind(&u.object_id)
        .bind(&u.sha)
        .bind(u.last_modified)
        .bind(u.created_at)
        .bind(u.downloads)
        .bind(u.likes)
        .bind(&u.gated)
        .bind(&u.library_name)
        .bind(u.status.map(|s| s.as_str()))
        .bind(&search)
        .bind(w.task_inferred)
        .bind(u.digest)
        .fetch_optional(&mut *conn)
        .await?);
    // The card holds fields this write changes (name, description, licence, task, tags, repo).
    if let Some(row) = row {
        super::models::refresh_card(tx, &Model::try_from(row)?).await?;
    }
    Ok(())
}

/// Inserts a synced version unless its model has it already; whether it was inserted. Its changelog
/// and `changed_files` say what differs from the model's previous version.
async fn insert_version(tx: &mut Tx, v: &SyncVersion) -> StoreResult<bool> {
    let n = &v.version;
    let id = Uuid::now_v7();
    let previous: Option<(String, Json<Vec<crate::domain::records::Asset>>)> =
        on_tx!(tx, |conn| sqlx::query_as(
            "SELECT version_string, assets FROM model_versions WHERE model_id = $1 \
             ORDER BY published_at DESC, id DESC LIMIT 1"
        )
        .bind(v.model_id)
        .fetch_optional(&mut *conn)
        .await?);
    let previous_assets = previous.as_ref().map_or(&[][..], |(_, a)| a.0.as_slice());
    let changed = crate::domain::assets::changed_files(previous_assets, &n.assets);
    let changelog = n.changelog.as_deref().map(|head| {
        crate::domain::changes::changelog(
            head,
            previous.as_ref().map(|(name, _)| name.as_str()),
            &changed,
        )
    });
    let done = on_tx!(tx, |conn| {
        sqlx::query(
        "INSERT INTO model_versions (id, model_id, version_string, changelog, \
         hf_commit_sha, pipeline_spec, assets, published_at, created_by, total_size_bytes, status, \
         pipeline_updated_at, main_file_bytes, license_type, unsupported_reason, signature, \
         inspection, inspector_version, quantization, inspect_attempts, inspect_retry_at, changed_files) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, \
         $22) ON CONFLICT DO NOTHING"
    )
    .bind(id)
    .bind(v.model_id)
    .bind(&n.version_string)
    .bind(&changelog)
    .bind(&n.hf_commit_sha)
    .bind(n.spec().map(Json))
    .bind(Json(&n.assets))
    .bind(n.published_at)
    .bind(n.created_by)
    .bind(n.total_size_bytes())
    .bind(n.status().as_str())
    .bind(n.spec().map(|_| n.published_at))
    .bind(crate::domain::assets::main_file_size(&n.assets))
    .bind(n.license_type.map(|l| l.as_str()))
    .bind(n.unsupported_reason())
    .bind(
        n.inspected
            .as_ref()
            .and_then(|i| i.signature.as_ref())
            .map(Json)
    )
    .bind(n.inspected.as_ref().map(|i| Json(&i.inspection)))
    .bind(n.inspected.as_ref().map(|i| i64::from(i.inspector_version)))
    .bind(n.inspected.as_ref().and_then(crate::domain::records::Inspected::quantization))
    .bind(n.deferred.as_ref().map_or(0, |d| i64::from(d.attempts)))
    .bind(n.deferred.as_ref().map(|d| d.retry_at))
    .bind(Json(&changed))
    .execute(&mut *conn)
    .await?
    .rows_affected()
    });
    if done == 1 {
        if let Some(found) = &n.inspected {
            super::hosted_files::save_hosted(tx, id, &found.hosted).await?;
        }
    }
    Ok(done == 1)
}

/// Inserts many models with one statement per chunk, each under its slug candidate number
/// `candidate`; returns the positions (in `news`) of those whose candidate was taken.
async fn insert_models_bulk(
    tx: &mut Tx,
    store: &Store,
    news: &[&NewModel],
    candidate: usize,
) -> StoreResult<Vec<usize>> {
    // 1,000 rows × 28 columns stays below both backends' parameter limits (SQLite 32,766,
    // PostgreSQL 65,535). Fewer, larger statements: SQLite journals each page a statement changes
    // once per statement (100-row statements: first sync 8.1 s → 6.2 s).
    const ROWS: usize = 1000;
    let dialect = store.dialect();
    let mut missed = Vec::new();
    for (c, chunk) in news.chunks(ROWS).enumerate() {
        // No RETURNING: it makes SQLite buffer every row it inserts (measured 30 % slower). Which
        // rows lost their slug is asked only when some did.
        let sql = format!(
            "INSERT INTO ml_models ({INSERT_COLUMNS}) VALUES {} ON CONFLICT (slug) DO NOTHING",
            insert_values(dialect, chunk.len())
        );
        let now = crate::domain::now();
        let slugs: Vec<String> = chunk
            .iter()
            .map(|new| {
                crate::domain::Slug::candidates(&new.slug_hint, &new.slug_disambiguator)
                    .swap_remove(candidate)
                    .as_str()
                    .to_string()
            })
            .collect();
        let inserted = on_tx!(tx, |conn| {
            let mut q = sqlx::query(&sql);
            for (new, slug) in chunk.iter().zip(&slugs) {
                q = bind_new_model!(q, new, slug.as_str(), now);
            }
            q.execute(&mut *conn).await?.rows_affected()
        });
        if inserted as usize == chunk.len() {
            continue;
        }
        let marks: Vec<String> = (1..=chunk.len()).map(|k| dialect.placeholder(k)).collect();
        let sql = format!(
            "SELECT id FROM ml_models WHERE id IN ({})",
            marks.join(", ")
        );
        let ids: Vec<Uuid> = on_tx!(tx, |conn| {
            let mut q = sqlx::query_scalar(&sql);
            for new in chunk {
                q = q.bind(new.id);
            }
            q.fetch_all(&mut *conn).await?
        });
        let ids: HashSet<Uuid> = ids.into_iter().collect();
        missed.extend(
            chunk
                .iter()
                .enumerate()
                .filter(|(_, n)| !ids.contains(&n.id))
                .map(|(i, _)| c * ROWS + i),
        );
    }
    Ok(missed)
}
