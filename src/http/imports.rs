//! The ad-hoc import of one Hugging Face repo by a signed-in user (`POST /import/huggingface`, the
//! original backend's route, and the same under `/api/v1`): an ad-hoc sync run of that repo, limited to
//! `POCKET_IMPORTS_PER_HOUR` per user; it answers the catalog model.

use super::{models::ModelResponse, ApiJson, AppState};
use crate::auth::Caller;
use crate::domain::records::Model;
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(import))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ImportRequest {
    /// The Hub repo, `owner/name`.
    pub(super) hf_id: String,
}

pub(super) async fn imported(
    state: &AppState,
    caller: &Caller,
    hf_id: &str,
) -> ApiResult<Result<Model, Response>> {
    let user = caller.user()?;
    if !user.is_admin {
        state
            .imports
            .admit(user.id, 1, u64::from(state.settings.imports_per_hour))
            .map_err(|wait| {
                ApiError::TooManyRequests(format!(
                    "At most {} imports an hour; try again in {} minutes",
                    state.settings.imports_per_hour,
                    wait.as_secs() / 60 + 1
                ))
            })?;
    }
    if let Err(failed) = super::sync::run_adhoc(state, hf_id, None, true).await? {
        return Ok(Err(failed));
    }
    let repo = [hf_id.trim().to_string()];
    let model = state
        .store
        .synced_models(&[], &repo)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::NotFound(format!("{} was not imported", repo[0])))?;
    Ok(Ok(model))
}

/// Import one Hugging Face repo now (signed-in users, a few an hour); answers the catalog model.
#[utoipa::path(post, path = "/import/huggingface", tag = "models", security(("bearer" = [])),
    request_body = ImportRequest,
    responses(
        (status = 200, body = ModelResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 502, body = ErrorBody),
    ))]
async fn import(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<ImportRequest>,
) -> ApiResult<Response> {
    Ok(match imported(&state, &caller, &req.hf_id).await? {
        Ok(model) => Json(ModelResponse::from(model)).into_response(),
        Err(failed) => failed,
    })
}
