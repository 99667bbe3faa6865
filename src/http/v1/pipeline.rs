//! Pipeline generation in the clients' dialect (CLIENTS.md R12; issue #21): a version's main file is
//! inspected on the Hub by range and the app's spec derived from it, deterministically
//! ([`crate::pipeline::derive`]); the answer is the updated version. Bounded by the request timeout. The jobs
//! over many versions (R13, R14) run in the background and answer at once.

use super::publish::version_for_change;
use super::ClientVersion;
use crate::auth::Caller;
use crate::domain::records::NewRun;
use crate::domain::Trigger;
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use crate::http::{ApiPath, AppState};
use crate::pipeline::derive::GenerateError;
use crate::store::constraint;
use axum::extract::State;
use axum::Json;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(generate_pipeline))
        .routes(routes!(generate_pipeline_all))
        .routes(routes!(retry_segmentation))
}

/// Inspect the version's model file now and write the pipeline the app runs (who may edit the
/// version). `verified` when every part came from the file, `pending` when a part is a default (named
/// in `inspection.defaults`), `missing` with `unsupported_reason` otherwise.
#[utoipa::path(post, path = "/versions/{version_id}/generate-pipeline", tag = "clients (/api/v1)",
    operation_id = "v1_generate_pipeline", security(("bearer" = [])),
    params(("version_id" = Uuid, Path, description = "Version id")),
    responses(
        (status = 200, body = ClientVersion),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "The model file is not on the Hugging Face Hub"),
        (status = 502, body = ErrorBody),
    ))]
async fn generate_pipeline(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(version_id): ApiPath<String>,
) -> ApiResult<Json<ClientVersion>> {
    let user = caller.user()?;
    let (version, model) = version_for_change(&state, user, &version_id).await?;
    let public_url = &state.syncer.config().public_url;
    let updated = crate::pipeline::derive::generate(
        state.syncer.public_sources(),
        &state.store,
        &model,
        &version,
        public_url,
    )
    .await
    .map_err(|e| match e {
        GenerateError::Refused(why) | GenerateError::NotPublic(why) => ApiError::Unprocessable(why),
        GenerateError::Web(why) => {
            ApiError::BadGateway(format!("The model file could not be read: {why}"))
        }
        GenerateError::Hub(e) => {
            ApiError::BadGateway(format!("The Hugging Face Hub could not be read: {e}"))
        }
        GenerateError::Store(e) => e.into(),
        GenerateError::Gone => ApiError::NotFound("Model version not found.".into()),
    })?;
    state.catalog_changed();
    Ok(Json(ClientVersion::new(updated, &model)))
}

/// What the jobs answer at once (the reference's `JobAck`).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct JobAck {
    pub message: String,
    pub status: &'static str,
}

/// The largest job: versions beyond it wait for the next (and for the sync's backlog).
const JOB_LIMIT: usize = 100_000;

/// Tasks of the retry-segmentation job.
const SEGMENTATION: &[&str] = &[
    "image-segmentation",
    "semantic-segmentation",
    "segmentation",
];

/// Start generating the pipeline of every version the app cannot run (`missing`), in the background
/// (admins: a job over the whole catalog). Answers at once.
#[utoipa::path(post, path = "/versions/generate-pipeline-all", tag = "clients (/api/v1)",
    operation_id = "v1_generate_pipeline_all", security(("bearer" = [])),
    responses((status = 200, body = JobAck), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn generate_pipeline_all(state: State<AppState>, caller: Caller) -> ApiResult<Json<JobAck>> {
    start_job(state, caller, None, "Pipeline generation").await
}

/// Start generating the pipeline of every segmentation version the app cannot run, in the background
/// (admins).
#[utoipa::path(post, path = "/versions/retry-segmentation", tag = "clients (/api/v1)",
    operation_id = "v1_retry_segmentation", security(("bearer" = [])),
    responses((status = 200, body = JobAck), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn retry_segmentation(state: State<AppState>, caller: Caller) -> ApiResult<Json<JobAck>> {
    start_job(state, caller, Some(SEGMENTATION), "Segmentation retry").await
}

async fn start_job(
    State(state): State<AppState>,
    caller: Caller,
    tasks: Option<&'static [&'static str]>,
    what: &str,
) -> ApiResult<Json<JobAck>> {
    caller.admin()?;
    crate::sync::fail_stale_jobs(&state.store).await?;
    let ids = state.store.versions_not_runnable(tasks, JOB_LIMIT).await?;
    let n = ids.len();
    // Recorded beside the sync runs (`GET /sync/runs`, trigger `inspection`); one job at a time.
    let created = state
        .store
        .create_run(&NewRun {
            id: uuid::Uuid::now_v7(),
            trigger: Trigger::Inspection,
            owner: state.syncer.config().owner.clone(),
            scheduled_for: None,
            rules: serde_json::json!({"job": what, "tasks": tasks, "versions": n}),
            repo_id: None,
        })
        .await;
    let run = match created {
        Ok(run) => run,
        Err(e) if e.is_conflict_on(constraint::SYNC_RUNS_ONE_JOB) => {
            return Ok(Json(already_running(&state).await?));
        }
        Err(e) => return Err(e.into()),
    };
    let (syncer, stop, after) = (state.syncer.clone(), state.shutdown.clone(), state.clone());
    let job = what.to_string();
    state.tasks.spawn(async move {
        syncer.run_job(run.id, &job, ids, stop).await;
        after.catalog_changed();
    });
    Ok(Json(JobAck {
        message: format!("{what} started for {n} versions."),
        status: "processing",
    }))
}

/// The answer while another job runs: which one, and how far it got (the request starts nothing).
async fn already_running(state: &AppState) -> ApiResult<JobAck> {
    let message = match state.store.running_job().await? {
        Some(job) => format!(
            "{} is already running (run {}): {} of {} versions inspected so far.",
            job.rules["job"].as_str().unwrap_or("A pipeline job"),
            job.id,
            job.counts.updated,
            job.counts.fetched
        ),
        // It ended between the two looks.
        None => "A pipeline job has just finished; ask again to start another.".to_string(),
    };
    Ok(JobAck {
        message,
        status: "processing",
    })
}
