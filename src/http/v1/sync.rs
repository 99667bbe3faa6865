//! The sync in the clients' dialect (CLIENTS.md R17, R18): admins only, as in the root dialect; and a
//! signed-in user's import of one repo (the root dialect's `http/imports.rs`, shaped as a `ClientModel`).

use super::ClientModel;
use crate::auth::Caller;
use crate::http::error::{ApiResult, ErrorBody};
use crate::http::imports::ImportRequest;
use crate::http::sync::{trigger_sync, SyncResponse, TriggerParams};
use crate::http::{ApiJson, ApiQuery, AppState};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

/// Routes that may wait for a whole run (outside the request timeout).
pub fn long_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sync_litert))
        .routes(routes!(sync_adhoc))
        .routes(routes!(import_v1))
}

/// Run the Hugging Face LiteRT sync now, as `POST /sync/huggingface/litert`.
#[utoipa::path(post, path = "/sync/huggingface/litert", tag = "clients (/api/v1)",
    operation_id = "v1_sync_litert", security(("bearer" = [])), params(TriggerParams),
    responses(
        (status = 200, body = SyncResponse), (status = 202, body = ErrorBody),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 502, body = ErrorBody),
    ))]
async fn sync_litert(
    state: State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    params: ApiQuery<TriggerParams>,
) -> ApiResult<Response> {
    trigger_sync(state, caller, headers, params).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AdhocParams {
    /// The Hub repo (`owner/name`).
    repo_id: String,
    /// A revision to import instead of the head (a commit sha, full or short, a branch or a tag).
    commit_sha: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdhocResponse {
    pub status: String,
    pub message: String,
}

/// Import or refresh one Hub repo now (the query form of the reference).
#[utoipa::path(post, path = "/sync/huggingface/litert/adhoc", tag = "clients (/api/v1)",
    operation_id = "v1_sync_adhoc", security(("bearer" = [])), params(AdhocParams),
    responses(
        (status = 200, body = AdhocResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 502, body = ErrorBody),
    ))]
async fn sync_adhoc(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(p): ApiQuery<AdhocParams>,
) -> ApiResult<Response> {
    caller.admin()?;
    let commit = p.commit_sha.as_deref().filter(|c| !c.is_empty());
    match crate::http::sync::run_adhoc(&state, &p.repo_id, commit, false).await? {
        Ok(_) => {
            let at = commit.map_or("head".to_string(), |c| c.chars().take(7).collect());
            Ok(Json(AdhocResponse {
                status: "success".into(),
                message: format!(
                    "Manual sync for {} at {at} completed. Check logs for details.",
                    p.repo_id.trim()
                ),
            })
            .into_response())
        }
        Err(failed) => Ok(failed),
    }
}

/// Import one Hugging Face repo now, as `POST /import/huggingface`.
#[utoipa::path(post, path = "/import/huggingface", tag = "clients (/api/v1)",
    operation_id = "v1_import_huggingface", security(("bearer" = [])), request_body = ImportRequest,
    responses(
        (status = 200, body = ClientModel),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 502, body = ErrorBody),
    ))]
async fn import_v1(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<ImportRequest>,
) -> ApiResult<Response> {
    Ok(
        match crate::http::imports::imported(&state, &caller, &req.hf_id).await? {
            Ok(model) => Json(ClientModel::from(model)).into_response(),
            Err(failed) => failed,
        },
    )
}
