//! The sync over HTTP (admins only): trigger a run, and read the run history with skipped records.

use super::{ApiPath, ApiQuery, AppState};
use crate::auth::Caller;
use crate::domain::records::SkipRecord;
use crate::domain::{RunStatus, Trigger};
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use crate::sync::{ClaimError, RunReport};
use axum::extract::{OriginalUri, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

/// Routes under the API's request timeout.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_runs))
        .routes(routes!(get_run))
}

/// Routes that may wait for a whole run, outside the request timeout.
pub fn long_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(trigger_sync))
        .routes(routes!(adhoc_sync))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TriggerParams {
    /// Wait for the run to end (default; at most `POCKET_SYNC_WAIT_SECS`, 25 s by default, then 202).
    /// `false` — or a `Prefer: respond-async` header — answers 202 at once with the run id.
    wait: Option<bool>,
}

/// The seed's answer, plus the run id and richer counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncResponse {
    /// `success`: the run completed (whatever it skipped; see `skipped` and `warnings`).
    pub status: RunStatus,
    pub created: i64,
    pub updated: i64,
    pub skipped: i64,
    /// `Successfully synced LiteRT models. Created: N, Updated: N, Skipped: N`
    pub message: String,
    pub run_id: Uuid,
    pub unchanged: i64,
    pub removed: i64,
    pub renamed: i64,
    pub restored: i64,
    pub versions_created: i64,
    /// Model files that could not be read, their inspection deferred to a later run.
    pub inspections_deferred: i64,
    pub duration_ms: u64,
    /// Nothing was marked removed: the listing was incomplete or more was missing than the threshold.
    pub removals_held_back: bool,
    /// What a person should know about the run (a listing that stopped early, removals held back).
    pub warnings: Vec<String>,
}

impl From<RunReport> for SyncResponse {
    fn from(r: RunReport) -> Self {
        let c = r.counts;
        SyncResponse {
            status: r.status,
            created: c.created,
            updated: c.updated,
            skipped: c.skipped,
            message: r.message,
            run_id: r.run_id,
            unchanged: c.unchanged,
            removed: c.removed,
            renamed: c.renamed,
            restored: c.restored,
            versions_created: c.versions_created,
            inspections_deferred: c.inspections_deferred,
            duration_ms: r.duration_ms,
            removals_held_back: r.removals_held_back,
            warnings: r.warnings,
        }
    }
}

/// An error that names the run it is about.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunErrorBody {
    pub detail: String,
    pub run_id: Option<Uuid>,
}

/// Runs a claimed sync as the service's task: a client that goes away does not stop it.
fn spawn_run(
    state: &AppState,
    claimed: crate::sync::ClaimedRun,
) -> tokio::task::JoinHandle<RunReport> {
    spawn_run_with(state, state.syncer.clone(), claimed)
}

/// [`spawn_run`] with this syncer (the users' anonymous one for an import).
fn spawn_run_with(
    state: &AppState,
    syncer: crate::sync::Syncer,
    claimed: crate::sync::ClaimedRun,
) -> tokio::task::JoinHandle<RunReport> {
    let cancel = state.shutdown.child_token();
    state
        .tasks
        .spawn(async move { syncer.execute(claimed, cancel).await })
}

async fn finished(handle: tokio::task::JoinHandle<RunReport>) -> ApiResult<RunReport> {
    handle
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("sync task failed: {e}")))
}

/// Whether the request asks to be answered before the work is done (RFC 7240 `Prefer:
/// respond-async`).
fn prefers_async(headers: &HeaderMap) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("respond-async"))
}

/// 202 for a run that goes on: its id, and where to follow it.
fn started(run_id: Uuid, detail: String) -> Response {
    let mut res = (
        StatusCode::ACCEPTED,
        Json(RunErrorBody {
            detail,
            run_id: Some(run_id),
        }),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/sync/runs/{run_id}")) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

/// 502 for a run that failed upstream (or was interrupted by a shutdown); it is recorded either way.
fn failure(report: &RunReport) -> Option<Response> {
    matches!(report.status, RunStatus::Failed | RunStatus::Running).then(|| {
        let detail = report
            .error
            .clone()
            .unwrap_or_else(|| report.message.clone());
        run_error(
            StatusCode::BAD_GATEWAY,
            format!("Sync failed: {detail}"),
            Some(report.run_id),
        )
    })
}

/// The answer when a run could not be claimed: 409 with the active run's id while one is running.
fn claim_failed(e: ClaimError) -> ApiResult<Response> {
    match e {
        ClaimError::Busy { run_id, .. } => {
            let which = run_id.map(|id| format!(" (run {id})")).unwrap_or_default();
            Ok(run_error(
                StatusCode::CONFLICT,
                format!("A sync is already running{which}"),
                run_id,
            ))
        }
        ClaimError::Store(e) => Err(e.into()),
        ClaimError::SlotTaken => Err(ApiError::Internal(anyhow::anyhow!(
            "an unscheduled run has no slot"
        ))),
    }
}

fn run_error(status: StatusCode, detail: String, run_id: Option<Uuid>) -> Response {
    (status, Json(RunErrorBody { detail, run_id })).into_response()
}

/// Run the Hugging Face LiteRT sync now. One run at a time across all replicas.
#[utoipa::path(post, path = "/sync/huggingface/litert", tag = "sync", security(("bearer" = [])),
    params(TriggerParams),
    responses(
        (status = 200, body = SyncResponse, description = "The run completed (status success, whatever it skipped)"),
        (status = 202, body = RunErrorBody, description = "Started; follow /sync/runs/{run_id}"),
        (status = 400, body = ErrorBody, description = "`wait` is not `true` or `false`"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = RunErrorBody, description = "A run is already in progress"),
        (status = 502, body = RunErrorBody, description = "The run failed upstream; it is recorded"),
    ))]
pub(crate) async fn trigger_sync(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<TriggerParams>,
) -> ApiResult<Response> {
    let admin = caller.admin()?;
    let claimed = match state.syncer.claim(Trigger::Manual, None).await {
        Ok(c) => c,
        Err(e) => return claim_failed(e),
    };
    let run_id = claimed.id();
    tracing::info!(%run_id, by = %admin.username, "manual sync started");
    let handle = spawn_run(&state, claimed);
    if params.wait == Some(false) || prefers_async(&headers) {
        let mut res = started(run_id, "Sync started".into());
        if prefers_async(&headers) {
            res.headers_mut().insert(
                HeaderName::from_static("preference-applied"),
                HeaderValue::from_static("respond-async"),
            );
        }
        return Ok(res);
    }
    let wait = state.settings.sync_wait;
    let Ok(report) = tokio::time::timeout(wait, finished(handle)).await else {
        // The run goes on (the service's task): the client is told where to follow it.
        return Ok(started(
            run_id,
            format!(
                "Sync still running after {} s; follow /sync/runs/{run_id}",
                wait.as_secs()
            ),
        ));
    };
    let report = report?;
    state.catalog_changed();
    if let Some(failed) = failure(&report) {
        return Ok(failed);
    }
    Ok(Json(SyncResponse::from(report)).into_response())
}

pub use crate::domain::records::RunResponse;

#[derive(Debug, Serialize, ToSchema)]
pub struct RunDetail {
    #[serde(flatten)]
    pub run: RunResponse,
    /// The records the run could not mirror, with reasons (the first 10,000).
    pub skipped_records: Vec<SkipRecord>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunListParams {
    /// Page size, 1 to 200 (default 20).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// From the previous page's `Link` header.
    cursor: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct RunCursor {
    t: DateTime<Utc>,
    i: Uuid,
}

/// Sync runs, newest first.
#[utoipa::path(get, path = "/sync/runs", tag = "sync", security(("bearer" = [])), params(RunListParams),
    responses(
        (status = 200, body = Vec<RunResponse>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ))]
async fn list_runs(
    State(state): State<AppState>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    ApiQuery(p): ApiQuery<RunListParams>,
) -> ApiResult<impl IntoResponse> {
    caller.admin()?;
    let limit = p.limit.unwrap_or(20);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::BadRequest(
            "limit must be between 1 and 200".into(),
        ));
    }
    let before = p
        .cursor
        .as_deref()
        .map(|c| {
            crate::http::cursor::decode::<RunCursor>(c)
                .map(|c| (c.t, c.i))
                .ok_or_else(|| ApiError::BadRequest("invalid cursor".into()))
        })
        .transpose()?;
    let mut runs = state.store.list_runs(limit + 1, before).await?;
    let mut headers = HeaderMap::new();
    if runs.len() as i64 > limit {
        runs.truncate(limit as usize);
        if let Some(last) = runs.last() {
            let cursor = crate::http::cursor::encode(&RunCursor {
                t: last.started_at,
                i: last.id,
            });
            let link = format!(
                "<{}>; rel=\"next\"",
                super::models::with_cursor(&uri, &cursor)
            );
            if let Ok(v) = HeaderValue::from_str(&link) {
                headers.insert(header::LINK, v);
            }
        }
    }
    let body: Vec<RunResponse> = runs.into_iter().map(Into::into).collect();
    Ok((headers, Json(body)))
}

/// One run with its skipped records.
#[utoipa::path(get, path = "/sync/runs/{run_id}", tag = "sync", security(("bearer" = [])),
    params(("run_id" = Uuid, Path, description = "Run id")),
    responses(
        (status = 200, body = RunDetail),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ))]
async fn get_run(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(run_id): ApiPath<String>,
) -> ApiResult<Json<RunDetail>> {
    caller.admin()?;
    let run_id = Uuid::parse_str(&run_id)
        .map_err(|_| ApiError::BadRequest("run_id must be a UUID".into()))?;
    let run = state
        .store
        .get_run(run_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("Run {run_id} not found")))?;
    let skipped_records = state.store.run_skips(run_id, 10_000).await?;
    Ok(Json(RunDetail {
        run: run.into(),
        skipped_records,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdhocRequest {
    /// The Hub repo (`owner/name`).
    #[schema(pattern = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,95}(/[A-Za-z0-9_][A-Za-z0-9_.-]{0,95})?$")]
    pub repo_id: String,
    /// A revision to import instead of the head: a commit sha (full or short), a branch or a tag; the
    /// import is pinned to the commit it resolves to.
    #[serde(default)]
    pub commit_sha: Option<String>,
}

/// Import or refresh one Hub repo now, even outside the discovery filters (it still needs a model file
/// and must pass the filtering rules). Recorded as a run with trigger `adhoc`.
#[utoipa::path(post, path = "/sync/huggingface/litert/adhoc", tag = "sync", security(("bearer" = [])),
    request_body = AdhocRequest,
    responses(
        (status = 200, body = SyncResponse),
        (status = 400, body = ErrorBody, description = "Malformed JSON or not `application/json`"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "No such public repo (or commit) on the Hub"),
        (status = 409, body = RunErrorBody),
        (status = 422, body = ErrorBody, description = "Invalid input, no model file, or excluded by the rules"),
        (status = 502, body = RunErrorBody),
    ))]
async fn adhoc_sync(
    State(state): State<AppState>,
    caller: Caller,
    super::ApiJson(req): super::ApiJson<AdhocRequest>,
) -> ApiResult<Response> {
    caller.admin()?;
    match run_adhoc(&state, &req.repo_id, req.commit_sha.as_deref(), false).await? {
        Ok(report) => Ok(Json(SyncResponse::from(report)).into_response()),
        Err(failed) => Ok(failed),
    }
}

/// Imports or refreshes one Hub repo now (an ad-hoc run, outside the discovery filters): the finished
/// run's report, or the answer that tells why it did not complete. Shared by the admins' ad-hoc sync
/// (the mirror's own run, with the operator's token) and the signed-in users' import (`for_user`:
/// every Hub request anonymous, so a private or gated repo is not imported through the operator's
/// rights), in both dialects.
pub(crate) async fn run_adhoc(
    state: &AppState,
    repo_id: &str,
    commit_sha: Option<&str>,
    for_user: bool,
) -> ApiResult<Result<RunReport, Response>> {
    let import = state
        .catalog
        .prepare_import(repo_id, commit_sha, for_user)
        .await?;
    let claimed = match import
        .syncer
        .claim_repo(
            Trigger::Adhoc,
            import.repo.as_str(),
            import.pinned.clone(),
            true,
        )
        .await
    {
        Ok(c) => c,
        Err(e) => return Ok(Err(claim_failed(e)?)),
    };
    let report = finished(spawn_run_with(state, import.syncer, claimed)).await?;
    state.catalog_changed();
    if let Some(failed) = failure(&report) {
        return Ok(Err(failed));
    }
    state.catalog.import_refusal(&import.repo, &report).await?;
    Ok(Ok(report))
}
