//! Database rows, decoded the same way on both backends, and their conversion into records.

use super::StoreError;
use crate::domain::records::*;
use crate::domain::{RunStatus, Trigger};
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
pub(super) struct UserRow {
    id: Uuid,
    username: String,
    email: String,
    is_developer: bool,
    is_admin: bool,
    created_at: DateTime<Utc>,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
            id: r.id,
            username: r.username,
            email: r.email,
            is_developer: r.is_developer,
            is_admin: r.is_admin,
            created_at: r.created_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct TokenRow {
    id: Uuid,
    user_id: Uuid,
    name: String,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<TokenRow> for ApiToken {
    fn from(r: TokenRow) -> Self {
        ApiToken {
            id: r.id,
            user_id: r.user_id,
            name: r.name,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
        }
    }
}

/// A token joined with its user (`u_` columns).
#[derive(sqlx::FromRow)]
pub(super) struct TokenUserRow {
    #[sqlx(flatten)]
    token: TokenRow,
    u_id: Uuid,
    u_username: String,
    u_email: String,
    u_is_developer: bool,
    u_is_admin: bool,
    u_created_at: DateTime<Utc>,
}

impl From<TokenUserRow> for (ApiToken, User) {
    fn from(r: TokenUserRow) -> Self {
        let user = User {
            id: r.u_id,
            username: r.u_username,
            email: r.u_email,
            is_developer: r.u_is_developer,
            is_admin: r.u_is_admin,
            created_at: r.u_created_at,
        };
        (r.token.into(), user)
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct ModelRow {
    id: Uuid,
    name: String,
    slug: String,
    description: String,
    category: String,
    license_type: String,
    origin_repo_url: Option<String>,
    author_id: Uuid,
    hf_model_id: Option<String>,
    is_verified_official: bool,
    tags: Json<Vec<String>>,
    task: Option<String>,
    task_inferred: bool,
    total_download_count: i64,
    rating_weighted_avg: f64,
    total_ratings: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    hf_object_id: Option<String>,
    hf_sha: Option<String>,
    hf_last_modified: Option<DateTime<Utc>>,
    hf_created_at: Option<DateTime<Utc>>,
    hf_downloads: i64,
    hf_likes: i64,
    hf_gated: Option<String>,
    library_name: Option<String>,
    upstream_status: Option<String>,
    synced_at: Option<DateTime<Utc>>,
    latest_version_size_bytes: Option<i64>,
    sync_digest: Option<i64>,
    is_public: bool,
    version_count: i64,
    largest_file_bytes: i64,
    best_version_status: Option<String>,
}

fn parse<T: std::str::FromStr>(value: &str, what: &str) -> Result<T, StoreError> {
    value
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("{what} '{value}'")))
}

impl TryFrom<ModelRow> for Model {
    type Error = StoreError;
    fn try_from(r: ModelRow) -> Result<Self, StoreError> {
        let upstream = match r.hf_object_id {
            Some(object_id) => Some(Upstream {
                object_id,
                sha: r.hf_sha,
                last_modified: r.hf_last_modified,
                created_at: r.hf_created_at,
                downloads: r.hf_downloads,
                likes: r.hf_likes,
                gated: r.hf_gated,
                library_name: r.library_name,
                status: r
                    .upstream_status
                    .as_deref()
                    .map(|s| parse(s, "upstream status"))
                    .transpose()?,
                synced_at: r.synced_at,
                digest: r.sync_digest,
            }),
            None => None,
        };
        Ok(Model {
            id: r.id,
            name: r.name,
            slug: r.slug,
            description: r.description,
            category: parse(&r.category, "category")?,
            license_type: parse(&r.license_type, "license")?,
            origin_repo_url: r.origin_repo_url,
            author_id: r.author_id,
            hf_model_id: r.hf_model_id,
            is_verified_official: r.is_verified_official,
            tags: r.tags.0,
            task: r.task,
            task_inferred: r.task_inferred,
            total_download_count: r.total_download_count,
            rating_weighted_avg: r.rating_weighted_avg,
            total_ratings: r.total_ratings,
            created_at: r.created_at,
            updated_at: r.updated_at,
            upstream,
            latest_version_size_bytes: r.latest_version_size_bytes,
            is_public: r.is_public,
            versions: VersionSummary {
                count: r.version_count,
                largest_file_bytes: r.largest_file_bytes,
                best_status: r
                    .best_version_status
                    .as_deref()
                    .map(|s| parse(s, "version status"))
                    .transpose()?,
            },
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct VersionRow {
    id: Uuid,
    model_id: Uuid,
    version_string: String,
    changelog: Option<String>,
    hf_commit_sha: Option<String>,
    pipeline_spec: Option<Json<serde_json::Value>>,
    assets: Json<Vec<Asset>>,
    published_at: DateTime<Utc>,
    download_count: i64,
    num_ratings: i64,
    rating_avg: f64,
    created_by: Option<Uuid>,
    status: String,
    unsupported_reason: Option<String>,
    pipeline_updated_at: Option<DateTime<Utc>>,
    license_type: Option<String>,
    signature: Option<Json<serde_json::Value>>,
    inspection: Option<Json<serde_json::Value>>,
    changed_files: Option<Json<Vec<crate::domain::changes::FileChange>>>,
}

impl TryFrom<VersionRow> for ModelVersion {
    type Error = StoreError;
    fn try_from(r: VersionRow) -> Result<Self, StoreError> {
        Ok(ModelVersion {
            status: parse(&r.status, "version status")?,
            unsupported_reason: r.unsupported_reason,
            pipeline_updated_at: r.pipeline_updated_at,
            license_type: r
                .license_type
                .map(|l| parse(&l, "version licence"))
                .transpose()?,
            signature: r.signature.map(|j| j.0),
            inspection: r.inspection.map(|j| j.0),
            changed_files: r.changed_files.map(|j| j.0),
            id: r.id,
            model_id: r.model_id,
            version_string: r.version_string,
            changelog: r.changelog,
            hf_commit_sha: r.hf_commit_sha,
            pipeline_spec: r.pipeline_spec.map(|j| j.0),
            assets: r.assets.0,
            published_at: r.published_at,
            download_count: r.download_count,
            num_ratings: r.num_ratings,
            rating_avg: r.rating_avg,
            created_by: r.created_by,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct RunRow {
    id: Uuid,
    trigger: String,
    status: String,
    owner: String,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    scheduled_for: Option<DateTime<Utc>>,
    fetched: i64,
    created: i64,
    updated: i64,
    unchanged: i64,
    skipped: i64,
    filtered: i64,
    removed: i64,
    renamed: i64,
    restored: i64,
    versions_created: i64,
    rows_written: i64,
    hub_requests: i64,
    hub_retries: i64,
    inspections_deferred: i64,
    listing_complete: bool,
    removals_held_back: bool,
    warnings: Json<Vec<String>>,
    message: String,
    error: Option<String>,
    rules: Json<serde_json::Value>,
    repo_id: Option<String>,
    catalog_size: Option<i64>,
}

impl TryFrom<RunRow> for SyncRun {
    type Error = StoreError;
    fn try_from(r: RunRow) -> Result<Self, StoreError> {
        Ok(SyncRun {
            id: r.id,
            trigger: parse::<Trigger>(&r.trigger, "trigger")?,
            status: parse::<RunStatus>(&r.status, "run status")?,
            owner: r.owner,
            started_at: r.started_at,
            finished_at: r.finished_at,
            scheduled_for: r.scheduled_for,
            counts: RunCounts {
                fetched: r.fetched,
                created: r.created,
                updated: r.updated,
                unchanged: r.unchanged,
                skipped: r.skipped,
                filtered: r.filtered,
                removed: r.removed,
                renamed: r.renamed,
                restored: r.restored,
                versions_created: r.versions_created,
                rows_written: r.rows_written,
                hub_requests: r.hub_requests,
                hub_retries: r.hub_retries,
                inspections_deferred: r.inspections_deferred,
            },
            listing_complete: r.listing_complete,
            removals_held_back: r.removals_held_back,
            warnings: r.warnings.0,
            message: r.message,
            error: r.error,
            rules: r.rules.0,
            repo_id: r.repo_id,
            catalog_size: r.catalog_size,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct SkipRow {
    pub hf_model_id: Option<String>,
    pub object_id: Option<String>,
    pub reason: String,
}

#[derive(sqlx::FromRow)]
pub(super) struct LeaseRow {
    pub owner: Option<String>,
    pub run_id: Option<Uuid>,
    pub fence: i64,
    pub live: bool,
    pub owner_locked: bool,
    pub remaining_ms: i64,
}
