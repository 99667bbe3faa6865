//! Pipeline generation in the clients' dialect (CLIENTS.md R12; issue #21): a version's main file is
//! inspected on the Hub by range and the app's spec derived from it, deterministically
//! ([`crate::catalog::pipelines`]); the answer is the updated version. Bounded by the request timeout. The jobs
//! over many versions (R13, R14) run in the background and answer at once.

use super::ClientVersion;
use crate::auth::Caller;
use crate::catalog::pipelines::JobStart;
use crate::http::error::{ApiResult, ErrorBody};
use crate::http::{ApiPath, AppState};
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
    let id = super::catalog::parse_id(&version_id, "version_id")?;
    let (updated, model) = state.catalog.generate_pipeline(user, id).await?;
    state.catalog_changed();
    Ok(Json(ClientVersion::new(updated, &model, &state.public_url)))
}

/// What the jobs answer at once (the reference's `JobAck`).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct JobAck {
    pub message: String,
    pub status: &'static str,
}

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
    let (run, ids) = match state.catalog.start_pipeline_job(tasks, what).await? {
        JobStart::Started { run_id, versions } => (run_id, versions),
        JobStart::AlreadyRunning(message) => {
            return Ok(Json(JobAck {
                message,
                status: "processing",
            }))
        }
    };
    let n = ids.len();
    let (syncer, stop, after) = (state.syncer.clone(), state.shutdown.clone(), state.clone());
    let job = what.to_string();
    state.tasks.spawn(async move {
        syncer.run_job(run, &job, ids, stop).await;
        after.catalog_changed();
    });
    Ok(Json(JobAck {
        message: format!("{what} started for {n} versions."),
        status: "processing",
    }))
}
