//! The sync lease that keeps one run active (timed by the database's clock, so replicas with skewed
//! clocks agree), run records and their skipped records, and the schedule's shared state.

use super::models::ACTIVE_MIRRORED;
use super::rows::{LeaseRow, RunRow, SkipRow};
use super::{on_backend, on_tx, Dialect, Store, StoreError, StoreResult, Tx};
use crate::domain::records::{Fence, LeaseHolder, NewRun, RunCounts, RunEnd, SkipRecord, SyncRun};
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

const LEASE_NAME: &str = "hf_litert_sync";

const RUN_COLUMNS: &str = "id, trigger, status, owner, started_at, finished_at, scheduled_for, \
    fetched, created, updated, unchanged, skipped, filtered, removed, renamed, restored, versions_created, \
    rows_written, hub_requests, hub_retries, inspections_deferred, listing_complete, removals_held_back, warnings, message, error, \
    rules, repo_id, catalog_size";

/// When the sync lease may be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseClaim {
    /// When nobody holds it or its owner stopped renewing it; `locked`: the new owner holds its
    /// [`super::OwnerLock`].
    FreeOrExpired { locked: bool },
    /// From an owner that held the liveness lock and is gone (the caller holds that lock now), while the
    /// lease is still the one the caller read (`fence`).
    FromDeadOwner { fence: i64 },
}

impl Store {
    /// Takes the sync lease when it is free or expired; `locked`: the owner holds its
    /// [`super::OwnerLock`].
    pub async fn acquire_lease(
        &self,
        owner: &str,
        run_id: Uuid,
        ttl_ms: i64,
        locked: bool,
    ) -> StoreResult<Option<Fence>> {
        self.claim_lease(owner, run_id, ttl_ms, LeaseClaim::FreeOrExpired { locked })
            .await
    }

    /// Takes over the unexpired lease `from_fence` of an owner known dead (it held the
    /// [`super::OwnerLock`] the caller now holds).
    pub async fn take_over_lease(
        &self,
        owner: &str,
        run_id: Uuid,
        ttl_ms: i64,
        from_fence: i64,
    ) -> StoreResult<Option<Fence>> {
        let claim = LeaseClaim::FromDeadOwner { fence: from_fence };
        self.claim_lease(owner, run_id, ttl_ms, claim).await
    }

    /// Takes the sync lease for `run_id` as `claim` allows.
    async fn claim_lease(
        &self,
        owner: &str,
        run_id: Uuid,
        ttl_ms: i64,
        claim: LeaseClaim,
    ) -> StoreResult<Option<Fence>> {
        let now = self.dialect().now_ms();
        let (locked, condition) = match claim {
            LeaseClaim::FreeOrExpired { locked } => {
                (locked, format!("(owner IS NULL OR expires_ms < {now})"))
            }
            LeaseClaim::FromDeadOwner { .. } => (
                true,
                "fence = $6 AND owner IS NOT NULL AND owner_locked".to_string(),
            ),
        };
        let sql = format!(
            "UPDATE sync_lease SET owner = $2, run_id = $3, fence = fence + 1, \
             expires_ms = {now} + $4, owner_locked = $5 \
             WHERE name = $1 AND {condition} RETURNING fence"
        );
        let fence: Option<i64> = on_backend!(self, |db| {
            let mut query = sqlx::query_scalar(&sql)
                .bind(LEASE_NAME)
                .bind(owner)
                .bind(run_id)
                .bind(ttl_ms)
                .bind(locked);
            if let LeaseClaim::FromDeadOwner { fence } = claim {
                query = query.bind(fence);
            }
            query.fetch_optional(&db.pool).await?
        });
        Ok(fence.map(|token| Fence {
            owner: owner.to_string(),
            token,
            ttl_ms,
        }))
    }

    /// Extends the lease; false when it was lost to another owner.
    pub async fn heartbeat(&self, fence: &Fence) -> StoreResult<bool> {
        // One statement on its own, not in a transaction: an owner frozen between a statement and
        // its commit would hold the lease row locked and keep every replica from taking it over.
        let sql = renew_sql(self.dialect());
        let done = on_backend!(self, |db| sqlx::query(&sql)
            .bind(LEASE_NAME)
            .bind(&fence.owner)
            .bind(fence.token)
            .bind(fence.ttl_ms)
            .execute(&db.pool)
            .await?
            .rows_affected());
        Ok(done == 1)
    }

    /// Frees the lease. The run id stays, so a run left running (interrupted by a shutdown) can be
    /// found and resumed by the next holder.
    pub async fn release_lease(&self, fence: &Fence) -> StoreResult<()> {
        let sql = "UPDATE sync_lease SET owner = NULL, expires_ms = 0 \
             WHERE name = $1 AND owner = $2 AND fence = $3";
        on_backend!(self, |db| sqlx::query(sql)
            .bind(LEASE_NAME)
            .bind(&fence.owner)
            .bind(fence.token)
            .execute(&db.pool)
            .await?
            .rows_affected());
        Ok(())
    }

    pub async fn lease_holder(&self) -> StoreResult<LeaseHolder> {
        let sql = format!(
            "SELECT owner, run_id, fence, (owner IS NOT NULL AND expires_ms >= {now}) AS live, \
             owner_locked, expires_ms - {now} AS remaining_ms \
             FROM sync_lease WHERE name = $1",
            now = self.dialect().now_ms()
        );
        let row: LeaseRow = on_backend!(self, |db| sqlx::query_as(&sql)
            .bind(LEASE_NAME)
            .fetch_one(&db.pool)
            .await?);
        Ok(LeaseHolder {
            owner: row.owner,
            run_id: row.run_id,
            fence: row.fence,
            live: row.live,
            owner_locked: row.owner_locked,
            remaining_ms: row.remaining_ms,
        })
    }

    /// Records a new run as running.
    pub async fn create_run(&self, new: &NewRun) -> StoreResult<SyncRun> {
        let sql = format!(
            "INSERT INTO sync_runs (id, trigger, status, owner, started_at, scheduled_for, rules, \
             repo_id) VALUES ($1, $2, 'running', $3, $4, $5, $6, $7) RETURNING {RUN_COLUMNS}"
        );
        let row: RunRow = on_backend!(self, |db| sqlx::query_as(&sql)
            .bind(new.id)
            .bind(new.trigger.as_str())
            .bind(&new.owner)
            .bind(crate::domain::now())
            .bind(new.scheduled_for)
            .bind(Json(&new.rules))
            .bind(&new.repo_id)
            .fetch_one(&db.pool)
            .await?);
        row.try_into()
    }

    /// Records how a running run ended; false when it was no longer running (a run already ended,
    /// e.g. as abandoned, stays as it is).
    pub async fn finish_run(&self, run_id: Uuid, end: &RunEnd) -> StoreResult<bool> {
        let sql = format!(
            "UPDATE sync_runs SET status = $2, finished_at = $3, listing_complete = $4, \
             message = $5, error = $6, removals_held_back = $7, warnings = $8, \
             catalog_size = (SELECT COUNT(*) FROM ml_models WHERE {ACTIVE_MIRRORED}) \
             WHERE id = $1 AND status = 'running'"
        );
        let mut tx = self.begin().await?;
        let done = on_tx!(tx, |conn| sqlx::query(&sql)
            .bind(run_id)
            .bind(end.status.as_str())
            .bind(crate::domain::now())
            .bind(end.listing_complete)
            .bind(&end.message)
            .bind(&end.error)
            .bind(end.removals_held_back)
            .bind(Json(&end.warnings))
            .execute(&mut *conn)
            .await?
            .rows_affected());
        if done == 1 {
            write_counts(&mut tx, run_id, &end.counts).await?;
        }
        tx.commit().await?;
        Ok(done == 1)
    }

    /// Ends, as failed, every running sync run but `keep` — called by a new lease holder, for whom any
    /// other running run has lost its owner (inspection jobs hold no lease, and are not touched).
    pub async fn abandon_runs(&self, keep: Uuid, reason: &str) -> StoreResult<u64> {
        let sql = "UPDATE sync_runs SET status = 'failed', finished_at = $2, error = $3 \
             WHERE status = 'running' AND id <> $1 AND trigger <> 'inspection'";
        Ok(on_backend!(self, |db| sqlx::query(sql)
            .bind(keep)
            .bind(crate::domain::now())
            .bind(reason)
            .execute(&db.pool)
            .await?
            .rows_affected()))
    }

    /// Records a background job's progress (a run with trigger `inspection`): the versions it took and
    /// those inspected so far, and now as its heartbeat. `false` when the run is no longer running.
    pub async fn job_progress(
        &self,
        run_id: Uuid,
        taken: i64,
        inspected: i64,
    ) -> StoreResult<bool> {
        let sql = "UPDATE sync_runs SET fetched = $2, updated = $3, heartbeat_at = $4 \
             WHERE id = $1 AND status = 'running' AND trigger = 'inspection'";
        Ok(on_backend!(self, |db| sqlx::query(sql)
            .bind(run_id)
            .bind(taken)
            .bind(inspected)
            .bind(crate::domain::now())
            .execute(&db.pool)
            .await?
            .rows_affected())
            == 1)
    }

    /// The background job running now, if any (there is at most one: a unique index keeps it so).
    pub async fn running_job(&self) -> StoreResult<Option<SyncRun>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM sync_runs WHERE status = 'running' AND trigger = 'inspection' \
             ORDER BY started_at DESC LIMIT 1"
        );
        let row: Option<RunRow> = on_backend!(self, |db| sqlx::query_as(&sql)
            .fetch_optional(&db.pool)
            .await?);
        row.map(TryInto::try_into).transpose()
    }

    /// Ends, as failed with `reason`, every background job still marked running that recorded no
    /// progress since `cutoff` (its process stopped: a job holds no lease to expire); how many.
    pub async fn fail_stale_jobs(&self, cutoff: DateTime<Utc>, reason: &str) -> StoreResult<u64> {
        let sql = "UPDATE sync_runs SET status = 'failed', finished_at = $2, error = $3 \
             WHERE status = 'running' AND trigger = 'inspection' \
             AND COALESCE(heartbeat_at, started_at) < $1";
        Ok(on_backend!(self, |db| sqlx::query(sql)
            .bind(cutoff)
            .bind(crate::domain::now())
            .bind(reason)
            .execute(&db.pool)
            .await?
            .rows_affected()))
    }

    /// Makes `owner` the owner of a run that is still running (to resume it); `None` when the run has
    /// ended meanwhile.
    pub async fn adopt_run(&self, id: Uuid, owner: &str) -> StoreResult<Option<SyncRun>> {
        let sql = format!(
            "UPDATE sync_runs SET owner = $2 WHERE id = $1 AND status = 'running' \
             RETURNING {RUN_COLUMNS}"
        );
        let row: Option<RunRow> = on_backend!(self, |db| sqlx::query_as(&sql)
            .bind(id)
            .bind(owner)
            .fetch_optional(&db.pool)
            .await?);
        row.map(TryInto::try_into).transpose()
    }

    pub async fn get_run(&self, id: Uuid) -> StoreResult<Option<SyncRun>> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM sync_runs WHERE id = $1");
        let row: Option<RunRow> = on_backend!(self, |db| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&db.pool)
            .await?);
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
                on_backend!(self, |db| sqlx::query_as(&sql)
                    .bind(t)
                    .bind(id)
                    .bind(limit)
                    .fetch_all(&db.pool)
                    .await?)
            }
            None => {
                let sql = format!(
                    "SELECT {RUN_COLUMNS} FROM sync_runs ORDER BY started_at DESC, id DESC LIMIT $1"
                );
                on_backend!(self, |db| sqlx::query_as(&sql)
                    .bind(limit)
                    .fetch_all(&db.pool)
                    .await?)
            }
        };
        rows.into_iter().map(SyncRun::try_from).collect()
    }

    /// The first `limit` records a run skipped, in order.
    pub async fn run_skips(&self, run_id: Uuid, limit: i64) -> StoreResult<Vec<SkipRecord>> {
        let sql = "SELECT hf_model_id, object_id, reason FROM sync_run_skips WHERE run_id = $1 \
             ORDER BY seq LIMIT $2";
        let rows: Vec<SkipRow> = on_backend!(self, |db| sqlx::query_as(sql)
            .bind(run_id)
            .bind(limit)
            .fetch_all(&db.pool)
            .await?);
        Ok(rows
            .into_iter()
            .map(|r| SkipRecord {
                hf_model_id: r.hf_model_id,
                object_id: r.object_id,
                reason: r.reason,
            })
            .collect())
    }

    /// Records a schedule slot that did not run; a slot already recorded stays as it is.
    pub async fn record_missed(
        &self,
        slot: DateTime<Utc>,
        owner: &str,
        reason: &str,
    ) -> StoreResult<bool> {
        let sql = "INSERT INTO sync_runs (id, trigger, status, owner, started_at, finished_at, \
             scheduled_for, message) VALUES ($1, 'schedule', 'missed', $2, $3, $3, $4, $5) \
             ON CONFLICT (scheduled_for) DO NOTHING";
        let now = crate::domain::now();
        let done = on_backend!(self, |db| sqlx::query(sql)
            .bind(Uuid::new_v4())
            .bind(owner)
            .bind(now)
            .bind(slot)
            .bind(reason)
            .execute(&db.pool)
            .await?
            .rows_affected());
        Ok(done == 1)
    }

    /// The latest schedule slot that has a run record (run or missed).
    pub async fn last_slot(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let sql = "SELECT scheduled_for FROM sync_runs WHERE scheduled_for IS NOT NULL \
             ORDER BY scheduled_for DESC LIMIT 1";
        Ok(on_backend!(self, |db| sqlx::query_scalar(sql)
            .fetch_optional(&db.pool)
            .await?))
    }

    /// When the last successful sync run (of any trigger but an inspection job) ended.
    pub async fn last_success_at(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let sql = "SELECT finished_at FROM sync_runs WHERE status = 'success' \
             AND trigger <> 'inspection' ORDER BY finished_at DESC LIMIT 1";
        let t: Option<Option<DateTime<Utc>>> = on_backend!(self, |db| sqlx::query_scalar(sql)
            .fetch_optional(&db.pool)
            .await?);
        Ok(t.flatten())
    }

    /// The database's clock.
    pub async fn db_now(&self) -> StoreResult<DateTime<Utc>> {
        let sql = format!("SELECT {}", self.dialect().now_ms());
        let ms: i64 = on_backend!(self, |db| sqlx::query_scalar(&sql)
            .fetch_one(&db.pool)
            .await?);
        DateTime::<Utc>::from_timestamp_millis(ms)
            .ok_or_else(|| StoreError::Corrupt("clock".into()))
    }

    /// The schedule's shared state `(paused, since)`, created (unpaused, since `now`) when missing.
    pub async fn scheduler_state(
        &self,
        job_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<(bool, DateTime<Utc>)> {
        let insert = "INSERT INTO scheduler_state (job_id, paused, since, updated_at) \
             VALUES ($1, FALSE, $2, $2) ON CONFLICT (job_id) DO NOTHING";
        let select = "SELECT paused, since FROM scheduler_state WHERE job_id = $1";
        Ok(on_backend!(self, |db| {
            sqlx::query(insert)
                .bind(job_id)
                .bind(now)
                .execute(&db.pool)
                .await?;
            sqlx::query_as(select)
                .bind(job_id)
                .fetch_one(&db.pool)
                .await?
        }))
    }

    pub async fn set_paused(&self, job_id: &str, paused: bool) -> StoreResult<()> {
        let now = crate::domain::now();
        self.scheduler_state(job_id, now).await?;
        let sql = "UPDATE scheduler_state SET paused = $2, updated_at = $3 WHERE job_id = $1";
        on_backend!(self, |db| sqlx::query(sql)
            .bind(job_id)
            .bind(paused)
            .bind(now)
            .execute(&db.pool)
            .await?
            .rows_affected());
        Ok(())
    }
}

/// Extends the lease inside `tx` if it is still `fence`'s; false when it was lost.
/// Renews the lease of the holder of this fence (no row when the fence is stale).
fn renew_sql(dialect: Dialect) -> String {
    format!(
        "UPDATE sync_lease SET expires_ms = {now} + $4 \
         WHERE name = $1 AND owner = $2 AND fence = $3",
        now = dialect.now_ms()
    )
}

/// Renews the lease inside a fenced transaction, which holds the lease row until it ends; `false`
/// when the lease is no longer `fence`'s. On PostgreSQL the server ends the transaction (and its
/// session) once it sits idle for a lease's time: an owner frozen mid-batch (SIGSTOP, a VM paused)
/// would otherwise keep the row locked and every takeover waiting on it. SQLite has one writer on one
/// host, whose frozen transaction no other process can end.
pub(super) async fn check_fence(tx: &mut Tx, dialect: Dialect, fence: &Fence) -> StoreResult<bool> {
    if let super::TxConn::Postgres(conn) = tx.conn() {
        // SET takes no parameters; the TTL is a number of milliseconds.
        let bound = format!(
            "SET LOCAL idle_in_transaction_session_timeout = {}",
            fence.ttl_ms.max(1)
        );
        sqlx::query(&bound).execute(&mut *conn).await?;
    }
    let sql = renew_sql(dialect);
    let done = on_tx!(tx, |conn| sqlx::query(&sql)
        .bind(LEASE_NAME)
        .bind(&fence.owner)
        .bind(fence.token)
        .bind(fence.ttl_ms)
        .execute(&mut *conn)
        .await?
        .rows_affected());
    Ok(done == 1)
}

/// Writes a run's counters.
pub(super) async fn write_counts(tx: &mut Tx, run_id: Uuid, c: &RunCounts) -> StoreResult<()> {
    let sql = "UPDATE sync_runs SET fetched = $2, created = $3, updated = $4, unchanged = $5, \
         skipped = $6, filtered = $7, removed = $8, renamed = $9, restored = $10, \
         versions_created = $11, rows_written = $12, hub_requests = $13, hub_retries = $14, \
         inspections_deferred = $15 WHERE id = $1";
    on_tx!(tx, |conn| sqlx::query(sql)
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
        .bind(c.inspections_deferred)
        .execute(&mut *conn)
        .await?
        .rows_affected());
    Ok(())
}
