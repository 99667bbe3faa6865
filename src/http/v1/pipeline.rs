//! Pipeline generation in the clients' dialect (CLIENTS.md R12; issue #21): a version's main file is
//! inspected on the Hub by range and the app's spec derived from it, deterministically
//! ([`crate::runnable`]); the answer is the updated version. Bounded by the request timeout.

use super::publish::version_for_change;
use super::ClientVersion;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::{ApiPath, AppState};
use crate::runnable::GenerateError;
use axum::extract::State;
use axum::Json;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(generate_pipeline))
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
    let updated = crate::runnable::generate(state.syncer.hub(), &state.store, &model, &version)
        .await
        .map_err(|e| match e {
            GenerateError::NotOnHub(why) => ApiError::Unprocessable(why),
            GenerateError::Hub(e) => {
                ApiError::BadGateway(format!("The Hugging Face Hub could not be read: {e}"))
            }
            GenerateError::Store(e) => e.into(),
            GenerateError::Gone => ApiError::NotFound("Model version not found.".into()),
        })?;
    state.catalog_changed();
    Ok(Json(ClientVersion::new(updated, &model)))
}
