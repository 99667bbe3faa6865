//! Store methods of the Hugging Face sync, shared by both backends like [`super::common`]: the lease that
//! keeps one run active (timed by the database's clock, so replicas with skewed clocks agree), fenced
//! batch writes that update the run's counters in the same transaction, and run records.

pub(crate) const LEASE_NAME: &str = "hf_litert_sync";

/// Mirrored models still active upstream: the catalog a sync maintains.
pub(crate) const ACTIVE_MIRRORED: &str = concat!(
    "hf_object_id IS NOT NULL AND hf_model_id IS NOT NULL AND ",
    super::listed_status_sql!()
);

pub(crate) const RUN_COLUMNS: &str = "id, trigger, status, owner, started_at, finished_at, scheduled_for, \
    fetched, created, updated, unchanged, skipped, filtered, removed, renamed, restored, versions_created, \
    rows_written, hub_requests, hub_retries, listing_complete, removals_held_back, warnings, message, error, \
    rules, repo_id, catalog_size";

macro_rules! impl_sync_store {
    ($store:ident, $conn:ty, $dialect:expr) => {
        use $crate::store::rows::{LeaseRow, RunRow, SkipRow};
        use $crate::store::sync_sql::{ACTIVE_MIRRORED, LEASE_NAME, RUN_COLUMNS};
        use $crate::store::Applied;

        impl $store {
            /// The user with this username, created when missing.
            pub async fn ensure_user(&self, new: &NewUser) -> StoreResult<User> {
                if let Some(u) = self.get_user_by_username(&new.username).await? {
                    return Ok(u);
                }
                match self.create_user(new).await {
                    Ok(u) => Ok(u),
                    Err(StoreError::Conflict(_)) => self
                        .get_user_by_username(&new.username)
                        .await?
                        .ok_or_else(|| StoreError::Conflict("email".into())),
                    Err(e) => Err(e),
                }
            }

            /// Synced models with any of these Hub object ids or repo ids.
            pub async fn synced_models(
                &self,
                object_ids: &[String],
                hf_ids: &[String],
            ) -> StoreResult<Vec<Model>> {
                // Ids travel as one JSON array parameter: a page of 1000 ids is one bind, not 1000.
                let by = |column: &str| {
                    format!("SELECT {MODEL_COLUMNS} FROM ml_models WHERE {column} IN ({})", $dialect.json_ids())
                };
                let mut rows: Vec<ModelRow> = Vec::new();
                if !object_ids.is_empty() {
                    rows = sqlx::query_as(&by("hf_object_id"))
                        .bind(serde_json::to_string(object_ids).expect("strings serialise"))
                        .fetch_all(&self.pool)
                        .await?;
                }
                let mut models = rows.into_iter().map(Model::try_from).collect::<StoreResult<Vec<_>>>()?;
                // Repo ids are looked up only when no model with that id was found by object id.
                let found: std::collections::HashSet<&str> =
                    models.iter().filter_map(|m| m.hf_model_id.as_deref()).collect();
                let rest: Vec<&String> = hf_ids.iter().filter(|id| !found.contains(id.as_str())).collect();
                if !rest.is_empty() {
                    let more: Vec<ModelRow> = sqlx::query_as(&by("hf_model_id"))
                        .bind(serde_json::to_string(&rest).expect("strings serialise"))
                        .fetch_all(&self.pool)
                        .await?;
                    for row in more {
                        let m = Model::try_from(row)?;
                        if !models.iter().any(|x| x.id == m.id) {
                            models.push(m);
                        }
                    }
                }
                Ok(models)
            }

            /// One column of the synced models active upstream that match `filter`, gathered into
            /// one JSON value by the database: the SQLite driver hands rows over one by one (100,000
            /// rows: 0.45 s against 0.1 s for the aggregate).
            async fn active_column<T: serde::de::DeserializeOwned>(
                &self,
                column: &str,
                filter: &str,
            ) -> StoreResult<Vec<T>> {
                let sql = format!(
                    "SELECT CAST(COALESCE({}({column}), '[]') AS TEXT) FROM ml_models \
                     WHERE {ACTIVE_MIRRORED}{filter}",
                    $dialect.json_agg()
                );
                let values: String = sqlx::query_scalar(&sql).fetch_one(&self.pool).await?;
                serde_json::from_str(&values).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
            }

            /// The digests of every synced model that is active upstream and has one (see
            /// [`crate::sync::mapping::Mirror::digest`]).
            pub async fn listed_digests(&self) -> StoreResult<Vec<i64>> {
                self.active_column("sync_digest", " AND sync_digest IS NOT NULL").await
            }

            /// `(object id, commit sha)` of the synced versions of the models with these object ids.
            pub async fn version_commits(&self, object_ids: &[String]) -> StoreResult<Vec<(String, String)>> {
                if object_ids.is_empty() {
                    return Ok(Vec::new());
                }
                let sql = format!(
                    "SELECT m.hf_object_id, v.hf_commit_sha FROM model_versions v JOIN ml_models m ON m.id = v.model_id \
                     WHERE v.hf_commit_sha IS NOT NULL AND m.hf_object_id IN ({})",
                    $dialect.json_ids()
                );
                Ok(sqlx::query_as(&sql)
                    .bind(serde_json::to_string(object_ids).expect("strings serialise"))
                    .fetch_all(&self.pool)
                    .await?)
            }

            /// The object ids of every synced model that is active upstream.
            pub async fn active_object_ids(&self) -> StoreResult<Vec<String>> {
                self.active_column("hf_object_id", "").await
            }

            /// `(model id, object id, repo id)` of every synced model that is active upstream.
            pub async fn active_synced(&self) -> StoreResult<Vec<(Uuid, String, String)>> {
                let sql = format!("SELECT id, hf_object_id, hf_model_id FROM ml_models WHERE {ACTIVE_MIRRORED}");
                let rows: Vec<(Uuid, String, String)> = sqlx::query_as(&sql)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows)
            }

            /// Takes the sync lease for `run_id` as `claim` allows (see [`crate::store::LeaseClaim`]).
            pub async fn claim_lease(
                &self,
                owner: &str,
                run_id: Uuid,
                ttl_ms: i64,
                claim: $crate::store::LeaseClaim,
            ) -> StoreResult<Option<Fence>> {
                use $crate::store::LeaseClaim;
                let (locked, condition) = match claim {
                    LeaseClaim::FreeOrExpired { locked } => {
                        (locked, format!("(owner IS NULL OR expires_ms < {})", $dialect.now_ms()))
                    }
                    LeaseClaim::FromDeadOwner { .. } => {
                        (true, "fence = $6 AND owner IS NOT NULL AND owner_locked".to_string())
                    }
                };
                let sql = format!(
                    "UPDATE sync_lease SET owner = $2, run_id = $3, fence = fence + 1, \
                     expires_ms = {now} + $4, owner_locked = $5 \
                     WHERE name = $1 AND {condition} RETURNING fence",
                    now = $dialect.now_ms()
                );
                let mut query = sqlx::query_scalar(&sql)
                    .bind(LEASE_NAME)
                    .bind(owner)
                    .bind(run_id)
                    .bind(ttl_ms)
                    .bind(locked);
                if let LeaseClaim::FromDeadOwner { fence } = claim {
                    query = query.bind(fence);
                }
                let fence: Option<i64> = query.fetch_optional(&self.pool).await?;
                Ok(fence.map(|token| Fence { owner: owner.to_string(), token, ttl_ms }))
            }

            /// Extends the lease; false when it was lost to another owner.
            pub async fn heartbeat(&self, fence: &Fence) -> StoreResult<bool> {
                let mut conn = self.pool.acquire().await?;
                Self::check_fence(&mut conn, fence).await
            }

            async fn check_fence(conn: &mut $conn, fence: &Fence) -> StoreResult<bool> {
                let sql = format!(
                    "UPDATE sync_lease SET expires_ms = {now} + $4 \
                     WHERE name = $1 AND owner = $2 AND fence = $3",
                    now = $dialect.now_ms()
                );
                let done = sqlx::query(&sql)
                    .bind(LEASE_NAME)
                    .bind(&fence.owner)
                    .bind(fence.token)
                    .bind(fence.ttl_ms)
                    .execute(&mut *conn)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            /// Frees the lease. The run id stays, so a run left running (interrupted by a shutdown)
            /// can be found and resumed by the next holder.
            pub async fn release_lease(&self, fence: &Fence) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE sync_lease SET owner = NULL, expires_ms = 0 \
                     WHERE name = $1 AND owner = $2 AND fence = $3",
                )
                .bind(LEASE_NAME)
                .bind(&fence.owner)
                .bind(fence.token)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            pub async fn lease_holder(&self) -> StoreResult<LeaseHolder> {
                let sql = format!(
                    "SELECT owner, run_id, fence, (owner IS NOT NULL AND expires_ms >= {now}) AS live, \
                     owner_locked, expires_ms - {now} AS remaining_ms \
                     FROM sync_lease WHERE name = $1",
                    now = $dialect.now_ms()
                );
                let row: LeaseRow = sqlx::query_as(&sql).bind(LEASE_NAME).fetch_one(&self.pool).await?;
                Ok(LeaseHolder {
                    owner: row.owner,
                    run_id: row.run_id,
                    fence: row.fence,
                    live: row.live,
                    owner_locked: row.owner_locked,
                    remaining_ms: row.remaining_ms,
                })
            }

            /// Applies one batch of the sync in one transaction, if the lease is still ours: model
            /// writes, versions, digests of unchanged models, skipped records and the run's counters
            /// together, so a counter never reports work that was rolled back. Returns the rows
            /// written and the versions created.
            #[allow(clippy::too_many_arguments)]
            pub async fn apply_sync(
                &self,
                fence: &Fence,
                run_id: Uuid,
                author_id: Uuid,
                writes: &[SyncWrite],
                versions: &[SyncVersion],
                digests: &[(Uuid, i64)],
                skips: &[(i64, SkipRecord)],
                counts: &RunCounts,
            ) -> StoreResult<Applied> {
                let mut tx = self.writer().begin().await?;
                if !Self::check_fence(&mut tx, fence).await? {
                    return Err(StoreError::LeaseLost);
                }
                let mut rows = 0i64;
                // Updates first: a rename frees the repo id a new repo of the same batch may take.
                for w in writes.iter().filter(|w| !w.create) {
                    if w.counters_only {
                        let u = &w.upstream;
                        sqlx::query(
                            "UPDATE ml_models SET hf_downloads = $2, hf_likes = $3, hf_last_modified = $4, \
                             updated_at = $5, synced_at = $5, sync_digest = $6 WHERE id = $1",
                        )
                        .bind(w.model_id)
                        .bind(u.downloads)
                        .bind(u.likes)
                        .bind(u.last_modified)
                        .bind(u.synced_at.unwrap_or_else($crate::domain::now))
                        .bind(u.digest)
                        .execute(&mut *tx)
                        .await?;
                        rows += 1;
                        continue;
                    }
                    let search = search_text(&w.name, &w.description, &w.tags);
                    {
                        let u = &w.upstream;
                        sqlx::query(
                            "UPDATE ml_models SET hf_model_id = $2, name = $3, description = $4, \
                             license_type = $5, task = $6, tags = $7, origin_repo_url = $8, updated_at = $9, \
                             hf_object_id = $10, hf_sha = $11, hf_last_modified = $12, hf_created_at = $13, \
                             hf_downloads = $14, hf_likes = $15, hf_gated = $16, library_name = $17, \
                             upstream_status = $18, synced_at = $9, search_text = $19, task_inferred = $20, \
                             sync_digest = $21 WHERE id = $1",
                        )
                        .bind(w.model_id)
                        .bind(&w.hf_model_id)
                        .bind(&w.name)
                        .bind(&w.description)
                        .bind(w.license_type.as_str())
                        .bind(&w.task)
                        .bind(Json(&w.tags))
                        .bind(&w.origin_repo_url)
                        .bind(u.synced_at.unwrap_or_else($crate::domain::now))
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
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| map_unique(e, &["hf_model_id", "hf_object_id"]))?;
                    }
                    rows += 1;
                }
                // Digests of unchanged models stored without them (a row each, once).
                for (id, digest) in digests {
                    sqlx::query("UPDATE ml_models SET sync_digest = $2 WHERE id = $1")
                        .bind(id)
                        .bind(digest)
                        .execute(&mut *tx)
                        .await?;
                    rows += 1;
                }
                let creates: Vec<NewModel> = writes
                    .iter()
                    .filter(|w| w.create)
                    .map(|w| NewModel {
                        id: w.model_id,
                        name: w.name.clone(),
                        slug_hint: w.hf_model_id.clone(),
                        slug_disambiguator: w.hf_model_id.clone(),
                        description: w.description.clone(),
                        category: $crate::domain::Category::Utility,
                        license_type: w.license_type,
                        origin_repo_url: Some(w.origin_repo_url.clone()),
                        author_id,
                        hf_model_id: Some(w.hf_model_id.clone()),
                        is_verified_official: false,
                        tags: w.tags.clone(),
                        task: w.task.clone(),
                        task_inferred: w.task_inferred,
                        upstream: Some(w.upstream.clone()),
                    })
                    .collect();
                // Round by round through the slug candidates; what is left is placed one by one.
                let mut waiting: Vec<&NewModel> = creates.iter().collect();
                for candidate in 0..3 {
                    if waiting.is_empty() {
                        break;
                    }
                    let missed = Self::insert_models_bulk(&mut tx, &waiting, candidate).await?;
                    waiting = missed.into_iter().map(|i| waiting[i]).collect();
                }
                for new in waiting {
                    Self::insert_model(&mut tx, new).await?;
                }
                rows += creates.len() as i64;
                let mut versions_created = 0i64;
                for v in versions {
                    let n = &v.version;
                    let done = sqlx::query(
                        "INSERT INTO model_versions (id, model_id, version_string, changelog, \
                         hf_commit_sha, pipeline_spec, assets, published_at, created_by, total_size_bytes) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
                    )
                    .bind(Uuid::now_v7())
                    .bind(v.model_id)
                    .bind(&n.version_string)
                    .bind(&n.changelog)
                    .bind(&n.hf_commit_sha)
                    .bind(n.pipeline_spec.as_ref().map(Json))
                    .bind(Json(&n.assets))
                    .bind(n.published_at)
                    .bind(n.created_by)
                    .bind(n.total_size_bytes())
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() == 1 {
                        Self::refresh_latest_size(&mut tx, v.model_id).await?;
                        versions_created += 1;
                        rows += 2;
                    }
                }
                for (seq, s) in skips {
                    sqlx::query(
                        "INSERT INTO sync_run_skips (run_id, seq, hf_model_id, object_id, reason) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(run_id)
                    .bind(*seq)
                    .bind(&s.hf_model_id)
                    .bind(&s.object_id)
                    .bind(&s.reason)
                    .execute(&mut *tx)
                    .await?;
                }
                let mut counts = *counts;
                counts.rows_written += rows;
                counts.versions_created += versions_created;
                Self::write_counts(&mut tx, run_id, &counts).await?;
                tx.commit().await?;
                Ok(Applied { rows, versions_created })
            }

            /// Marks models with an upstream status (removed, private), fenced like [`Self::apply_sync`].
            pub async fn mark_upstream(
                &self,
                fence: &Fence,
                run_id: Uuid,
                model_ids: &[Uuid],
                status: $crate::domain::UpstreamStatus,
                counts: &RunCounts,
            ) -> StoreResult<i64> {
                let mut tx = self.writer().begin().await?;
                if !Self::check_fence(&mut tx, fence).await? {
                    return Err(StoreError::LeaseLost);
                }
                let now = $crate::domain::now();
                let mut rows = 0;
                for id in model_ids {
                    let done = sqlx::query(
                        "UPDATE ml_models SET upstream_status = $2, updated_at = $3, synced_at = $3 \
                         WHERE id = $1",
                    )
                    .bind(id)
                    .bind(status.as_str())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    rows += done.rows_affected() as i64;
                }
                let mut counts = *counts;
                counts.rows_written += rows;
                Self::write_counts(&mut tx, run_id, &counts).await?;
                tx.commit().await?;
                Ok(rows)
            }

            async fn write_counts(conn: &mut $conn, run_id: Uuid, c: &RunCounts) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE sync_runs SET fetched = $2, created = $3, updated = $4, unchanged = $5, \
                     skipped = $6, filtered = $7, removed = $8, renamed = $9, restored = $10, \
                     versions_created = $11, rows_written = $12, hub_requests = $13, hub_retries = $14 \
                     WHERE id = $1",
                )
                .bind(run_id)
                .bind(c.fetched)
                .bind(c.created)
                .bind(c.updated)
                .bind(c.unchanged)
                .bind(c.skipped)
                .bind(c.filtered)
                .bind(c.removed)
                .bind(c.renamed)
                .bind(c.restored)
                .bind(c.versions_created)
                .bind(c.rows_written)
                .bind(c.hub_requests)
                .bind(c.hub_retries)
                .execute(&mut *conn)
                .await?;
                Ok(())
            }

            /// Records a new run as running.
            pub async fn create_run(&self, new: &NewRun) -> StoreResult<SyncRun> {
                let sql = format!(
                    "INSERT INTO sync_runs (id, trigger, status, owner, started_at, scheduled_for, rules, repo_id) \
                     VALUES ($1, $2, 'running', $3, $4, $5, $6, $7) RETURNING {RUN_COLUMNS}"
                );
                let row: RunRow = sqlx::query_as(&sql)
                    .bind(new.id)
                    .bind(new.trigger.as_str())
                    .bind(&new.owner)
                    .bind($crate::domain::now())
                    .bind(new.scheduled_for)
                    .bind(Json(&new.rules))
                    .bind(&new.repo_id)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| map_unique(e, &["scheduled_for", "id"]))?;
                row.try_into()
            }

            /// Ends a run that is still running (a run already ended, e.g. as abandoned, stays as it is).
            pub async fn finish_run(&self, run_id: Uuid, end: &$crate::records::RunEnd) -> StoreResult<bool> {
                let mut tx = self.pool.begin().await?;
                let sql = format!(
                    "UPDATE sync_runs SET status = $2, finished_at = $3, listing_complete = $4, \
                     message = $5, error = $6, removals_held_back = $7, warnings = $8, \
                     catalog_size = (SELECT COUNT(*) FROM ml_models WHERE {ACTIVE_MIRRORED}) \
                     WHERE id = $1 AND status = 'running'"
                );
                let done = sqlx::query(&sql)
                    .bind(run_id)
                    .bind(end.status.as_str())
                    .bind($crate::domain::now())
                    .bind(end.listing_complete)
                    .bind(&end.message)
                    .bind(&end.error)
                    .bind(end.removals_held_back)
                    .bind(sqlx::types::Json(&end.warnings))
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 1 {
                    Self::write_counts(&mut tx, run_id, &end.counts).await?;
                }
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
            }

            /// Ends, as failed, every running run but `keep` — called by a new lease holder, for
            /// whom any other running run has lost its owner.
            pub async fn abandon_runs(&self, keep: Uuid, reason: &str) -> StoreResult<u64> {
                let done = sqlx::query(
                    "UPDATE sync_runs SET status = 'failed', finished_at = $2, error = $3 \
                     WHERE status = 'running' AND id <> $1",
                )
                .bind(keep)
                .bind($crate::domain::now())
                .bind(reason)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected())
            }

            /// Makes `owner` the owner of a run that is still running (to resume it); `None` when the
            /// run has ended meanwhile.
            pub async fn adopt_run(&self, id: Uuid, owner: &str) -> StoreResult<Option<SyncRun>> {
                let sql = format!(
                    "UPDATE sync_runs SET owner = $2 WHERE id = $1 AND status = 'running' RETURNING {RUN_COLUMNS}"
                );
                let row: Option<RunRow> =
                    sqlx::query_as(&sql).bind(id).bind(owner).fetch_optional(&self.pool).await?;
                row.map(TryInto::try_into).transpose()
            }

            /// Records a schedule slot that did not run; a slot already recorded stays as it is.
            pub async fn record_missed(&self, slot: DateTime<Utc>, owner: &str, reason: &str) -> StoreResult<bool> {
                let now = $crate::domain::now();
                let done = sqlx::query(
                    "INSERT INTO sync_runs (id, trigger, status, owner, started_at, finished_at, scheduled_for, message) \
                     VALUES ($1, 'schedule', 'missed', $2, $3, $3, $4, $5) ON CONFLICT (scheduled_for) DO NOTHING",
                )
                .bind(Uuid::new_v4())
                .bind(owner)
                .bind(now)
                .bind(slot)
                .bind(reason)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            /// The latest schedule slot that has a run record (run or missed).
            pub async fn last_slot(&self) -> StoreResult<Option<DateTime<Utc>>> {
                let slot: Option<DateTime<Utc>> = sqlx::query_scalar(
                    "SELECT scheduled_for FROM sync_runs WHERE scheduled_for IS NOT NULL \
                     ORDER BY scheduled_for DESC LIMIT 1",
                )
                .fetch_optional(&self.pool)
                .await?;
                Ok(slot)
            }

                        /// When the last successful run (of any trigger) ended.
            pub async fn last_success_at(&self) -> StoreResult<Option<DateTime<Utc>>> {
                let t: Option<Option<DateTime<Utc>>> = sqlx::query_scalar(
                    "SELECT finished_at FROM sync_runs WHERE status = 'success' ORDER BY finished_at DESC LIMIT 1",
                )
                .fetch_optional(&self.pool)
                .await?;
                Ok(t.flatten())
            }

            /// Models by source (`huggingface`/`user`) and upstream status (`active` for user models).
            pub async fn model_counts(&self) -> StoreResult<Vec<(String, String, i64)>> {
                let rows: Vec<(String, String, i64)> = sqlx::query_as(
                    "SELECT CASE WHEN hf_model_id IS NULL THEN 'user' ELSE 'huggingface' END AS source, \
                     COALESCE(upstream_status, 'active') AS status, COUNT(*) AS n FROM ml_models \
                     GROUP BY CASE WHEN hf_model_id IS NULL THEN 'user' ELSE 'huggingface' END, \
                     COALESCE(upstream_status, 'active')",
                )
                .fetch_all(&self.pool)
                .await?;
                Ok(rows)
            }

            /// The database's clock.
            pub async fn db_now(&self) -> StoreResult<DateTime<Utc>> {
                let ms: i64 = sqlx::query_scalar(&format!("SELECT {}", $dialect.now_ms())).fetch_one(&self.pool).await?;
                DateTime::<Utc>::from_timestamp_millis(ms).ok_or_else(|| StoreError::Corrupt("clock".into()))
            }

            /// The schedule's shared state `(paused, since)`, created (unpaused, since `now`) when missing.
            pub async fn scheduler_state(&self, job_id: &str, now: DateTime<Utc>) -> StoreResult<(bool, DateTime<Utc>)> {
                sqlx::query(
                    "INSERT INTO scheduler_state (job_id, paused, since, updated_at) VALUES ($1, FALSE, $2, $2) \
                     ON CONFLICT (job_id) DO NOTHING",
                )
                .bind(job_id)
                .bind(now)
                .execute(&self.pool)
                .await?;
                let row: (bool, DateTime<Utc>) =
                    sqlx::query_as("SELECT paused, since FROM scheduler_state WHERE job_id = $1")
                        .bind(job_id)
                        .fetch_one(&self.pool)
                        .await?;
                Ok(row)
            }

            pub async fn set_paused(&self, job_id: &str, paused: bool) -> StoreResult<()> {
                let now = $crate::domain::now();
                self.scheduler_state(job_id, now).await?;
                sqlx::query("UPDATE scheduler_state SET paused = $2, updated_at = $3 WHERE job_id = $1")
                    .bind(job_id)
                    .bind(paused)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            pub async fn get_run(&self, id: Uuid) -> StoreResult<Option<SyncRun>> {
                let sql = format!("SELECT {RUN_COLUMNS} FROM sync_runs WHERE id = $1");
                let row: Option<RunRow> = sqlx::query_as(&sql).bind(id).fetch_optional(&self.pool).await?;
                row.map(TryInto::try_into).transpose()
            }

            /// Runs, newest first, strictly before `before` when given.
            pub async fn list_runs(
                &self,
                limit: i64,
                before: Option<(DateTime<Utc>, Uuid)>,
            ) -> StoreResult<Vec<SyncRun>> {
                let rows: Vec<RunRow> = match before {
                    Some((t, id)) => {
                        let sql = format!(
                            "SELECT {RUN_COLUMNS} FROM sync_runs WHERE started_at < $1 \
                             OR (started_at = $1 AND id < $2) ORDER BY started_at DESC, id DESC LIMIT $3"
                        );
                        sqlx::query_as(&sql).bind(t).bind(id).bind(limit).fetch_all(&self.pool).await?
                    }
                    None => {
                        let sql = format!(
                            "SELECT {RUN_COLUMNS} FROM sync_runs ORDER BY started_at DESC, id DESC LIMIT $1"
                        );
                        sqlx::query_as(&sql).bind(limit).fetch_all(&self.pool).await?
                    }
                };
                rows.into_iter().map(SyncRun::try_from).collect()
            }

            pub async fn run_skips(&self, run_id: Uuid, limit: i64) -> StoreResult<Vec<SkipRecord>> {
                let rows: Vec<SkipRow> = sqlx::query_as(
                    "SELECT hf_model_id, object_id, reason FROM sync_run_skips WHERE run_id = $1 \
                     ORDER BY seq LIMIT $2",
                )
                .bind(run_id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|r| SkipRecord { hf_model_id: r.hf_model_id, object_id: r.object_id, reason: r.reason })
                    .collect())
            }
        }
    };
}

pub(crate) use impl_sync_store;
