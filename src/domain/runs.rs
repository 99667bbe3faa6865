//! The records of sync runs and of the lease they hold: counters, a run as recorded and as it ends,
//! skipped records, the fence a run writes behind and the lease's holder. Re-exported by `records`.

use crate::domain::{RunStatus, Trigger};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// The counters of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RunCounts {
    /// Distinct repos listed by the discovery.
    pub fetched: i64,
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    /// Records that could not be mirrored (malformed, conflicting); each has a reason.
    pub skipped: i64,
    /// Repos left out by the filtering rules.
    pub filtered: i64,
    pub removed: i64,
    pub renamed: i64,
    pub restored: i64,
    pub versions_created: i64,
    pub rows_written: i64,
    pub hub_requests: i64,
    pub hub_retries: i64,
    /// Model files that could not be read, their inspection deferred to a later run (their versions
    /// are written all the same).
    #[serde(default)]
    pub inspections_deferred: i64,
}

/// A sync run as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncRun {
    pub id: Uuid,
    pub trigger: Trigger,
    pub status: RunStatus,
    pub owner: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub scheduled_for: Option<DateTime<Utc>>,
    pub counts: RunCounts,
    pub listing_complete: bool,
    /// Nothing was marked removed: the listing was incomplete, or more was missing than the threshold.
    pub removals_held_back: bool,
    /// What a person should know about a run that did not fail: a listing that stopped early, removals held
    /// back, `SYNC_LIMIT`.
    pub warnings: Vec<String>,
    pub message: String,
    pub error: Option<String>,
    pub rules: serde_json::Value,
    /// The one repo of a webhook or ad-hoc run.
    pub repo_id: Option<String>,
    /// Models active upstream in the catalog when the run ended (none for an abandoned run).
    pub catalog_size: Option<i64>,
}

/// How a run ended, as recorded on it.
#[derive(Debug, Clone)]
pub struct RunEnd {
    pub status: RunStatus,
    pub counts: RunCounts,
    pub listing_complete: bool,
    pub removals_held_back: bool,
    pub warnings: Vec<String>,
    pub message: String,
    pub error: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewRun {
    pub id: Uuid,
    pub trigger: Trigger,
    pub owner: String,
    pub scheduled_for: Option<DateTime<Utc>>,
    pub rules: serde_json::Value,
    pub repo_id: Option<String>,
}

/// A record a run could not mirror, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SkipRecord {
    pub hf_model_id: Option<String>,
    pub object_id: Option<String>,
    pub reason: String,
}

/// Proof of holding the sync lease; every write of a run presents it, so a stale owner's writes are
/// rejected once another replica has taken over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub owner: String,
    pub token: i64,
    pub ttl_ms: i64,
}

/// Who holds the sync lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseHolder {
    pub owner: Option<String>,
    pub run_id: Option<Uuid>,
    pub fence: i64,
    /// Whether the lease is still valid by the database's clock.
    pub live: bool,
    /// The owner also holds the process-liveness lock: it is dead once that lock is free.
    pub owner_locked: bool,
    /// Milliseconds until the lease expires by the database's clock (negative once expired).
    pub remaining_ms: i64,
}

/// A run as the history shows it: what `GET /sync/runs/{id}` answers and `pocket-catalog runs show
/// --json` prints.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunResponse {
    pub id: Uuid,
    pub trigger: Trigger,
    pub status: RunStatus,
    pub owner: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    /// The schedule slot of a scheduled run.
    pub scheduled_for: Option<DateTime<Utc>>,
    pub counts: RunCounts,
    /// Every listing page was read and every entry parsed (removals happen only then).
    pub listing_complete: bool,
    /// Nothing was marked removed: the listing was incomplete or more was missing than the threshold.
    pub removals_held_back: bool,
    /// What a person should know about a run that did not fail.
    pub warnings: Vec<String>,
    pub message: String,
    pub error: Option<String>,
    /// The filtering rules in force.
    pub rules: serde_json::Value,
    pub repo_id: Option<String>,
    /// Models active upstream in the catalog when the run ended.
    pub catalog_size: Option<i64>,
}

impl From<SyncRun> for RunResponse {
    fn from(r: SyncRun) -> Self {
        RunResponse {
            duration_ms: r.finished_at.map(|f| (f - r.started_at).num_milliseconds()),
            id: r.id,
            trigger: r.trigger,
            status: r.status,
            owner: r.owner,
            started_at: r.started_at,
            finished_at: r.finished_at,
            scheduled_for: r.scheduled_for,
            counts: r.counts,
            listing_complete: r.listing_complete,
            removals_held_back: r.removals_held_back,
            warnings: r.warnings,
            message: r.message,
            error: r.error,
            rules: r.rules,
            repo_id: r.repo_id,
            catalog_size: r.catalog_size,
        }
    }
}
