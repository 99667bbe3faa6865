//! Operations: the scheduler's status, pause and resume (admins).

use super::sync::RunResponse;
use super::AppState;
use crate::auth::Caller;
use crate::http::error::{ApiResult, ErrorBody};
use crate::schedule::{JOB_ID, JOB_NAME};
use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(status))
        .routes(routes!(pause))
        .routes(routes!(resume))
        .routes(routes!(set_roles))
}

/// The scheduler, as APScheduler's users know it, plus what a shared schedule needs.
#[derive(Debug, Serialize, ToSchema)]
pub struct SchedulerStatus {
    /// This replica runs the schedule (`SYNC_ENABLED`).
    pub running: bool,
    pub jobs: Vec<JobStatus>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobStatus {
    pub id: &'static str,
    pub name: &'static str,
    /// Crontab expression.
    pub schedule: String,
    pub timezone: String,
    pub enabled: bool,
    /// Paused for every replica.
    pub paused: bool,
    /// The next slot (null when paused or disabled).
    pub next_run_time: Option<DateTime<Utc>>,
    pub catchup_window_secs: u64,
    /// The run in progress, on any replica.
    pub active_run_id: Option<Uuid>,
    /// The most recent run, of any trigger.
    pub last_run: Option<RunResponse>,
    /// When the last successful run ended.
    pub last_success_at: Option<DateTime<Utc>>,
}

async fn job_status(state: &AppState) -> ApiResult<SchedulerStatus> {
    let scheduler = &state.scheduler;
    let config = scheduler.config();
    let now = scheduler.now().await?;
    let (paused, _) = state.store.scheduler_state(JOB_ID, now).await?;
    let holder = state.store.lease_holder().await?;
    let last_run = state
        .store
        .list_runs(1, None)
        .await?
        .into_iter()
        .next()
        .map(Into::into);
    Ok(SchedulerStatus {
        running: config.enabled && !state.shutdown.is_cancelled(),
        jobs: vec![JobStatus {
            id: JOB_ID,
            name: JOB_NAME,
            schedule: config.schedule.expression().to_string(),
            timezone: config.schedule.timezone().to_string(),
            enabled: config.enabled,
            paused,
            next_run_time: scheduler.next_run_time().await?,
            catchup_window_secs: config.catchup_window.as_secs(),
            active_run_id: holder.run_id.filter(|_| holder.live),
            last_run,
            last_success_at: state.store.last_success_at().await?,
        }],
    })
}

/// The scheduler's status and its one job.
#[utoipa::path(get, path = "/admin/scheduler/status", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = SchedulerStatus), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn status(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<SchedulerStatus>> {
    caller.admin()?;
    Ok(Json(job_status(&state).await?))
}

/// Pause the schedule on every replica (slots passing meanwhile are recorded as missed). Manual runs
/// still work.
#[utoipa::path(post, path = "/admin/scheduler/pause", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = SchedulerStatus), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn pause(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<SchedulerStatus>> {
    let admin = caller.admin()?;
    state.store.set_paused(JOB_ID, true).await?;
    tracing::info!(by = %admin.username, "schedule paused");
    Ok(Json(job_status(&state).await?))
}

/// Resume the schedule.
#[utoipa::path(post, path = "/admin/scheduler/resume", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = SchedulerStatus), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn resume(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<SchedulerStatus>> {
    let admin = caller.admin()?;
    state.store.set_paused(JOB_ID, false).await?;
    tracing::info!(by = %admin.username, "schedule resumed");
    Ok(Json(job_status(&state).await?))
}

#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolesRequest {
    pub is_developer: Option<bool>,
    pub is_admin: Option<bool>,
}

/// Set a user's roles (e.g. promote a user who signed in with a Supabase token). An admin cannot take
/// away their own admin role (409): another admin must, so the service never loses its last operator by
/// accident.
#[utoipa::path(post, path = "/admin/users/{user_id}/roles", tag = "admin", security(("bearer" = [])),
    params(("user_id" = Uuid, Path, description = "User id")),
    request_body = RolesRequest,
    responses(
        (status = 200, body = super::users::UserResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "An admin removing their own admin role"),
        (status = 422, body = ErrorBody, description = "A field that is not a role"),
    ))]
async fn set_roles(
    State(state): State<AppState>,
    caller: Caller,
    super::ApiPath(user_id): super::ApiPath<String>,
    super::ApiJson(req): super::ApiJson<RolesRequest>,
) -> ApiResult<Json<super::users::UserResponse>> {
    let admin = caller.admin()?;
    let user_id = Uuid::parse_str(&user_id)
        .map_err(|_| crate::http::error::ApiError::BadRequest("user_id must be a UUID".into()))?;
    if user_id == admin.id && req.is_admin == Some(false) {
        return Err(crate::http::error::ApiError::Conflict(
            "An admin cannot remove their own admin role; ask another admin".into(),
        ));
    }
    let user = state
        .store
        .set_user_roles(user_id, req.is_developer, req.is_admin)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::NotFound => {
                crate::http::error::ApiError::NotFound(format!("User {user_id} not found"))
            }
            other => other.into(),
        })?;
    tracing::info!(by = %admin.username, user = %user.username, developer = user.is_developer, admin = user.is_admin, "roles changed");
    Ok(Json((&user).into()))
}
