//! A model's versions: list, read, publish.

use super::models::find_model;
use super::{ApiJson, ApiPath, AppState, Viewer};
use crate::auth::Caller;
use crate::catalog::checks::{check_label, MAX_VERSION_LABEL};
use crate::domain::records::*;
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_versions, create_version))
        .routes(routes!(get_version))
}

/// A version as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionResponse {
    pub id: Uuid,
    pub model_id: Uuid,
    pub version_string: String,
    pub changelog: Option<String>,
    pub hf_commit_sha: Option<String>,
    pub pipeline_spec: Option<serde_json::Value>,
    pub assets: Vec<Asset>,
    pub published_at: DateTime<Utc>,
    pub download_count: i64,
    pub num_ratings: i64,
    pub rating_avg: f64,
    /// Total size of the version's assets in bytes.
    pub total_size_bytes: i64,
    /// The main file's tensors in model order (`{"inputs": [...], "outputs": [...]}`, each
    /// `{name, shape, dtype, quantization}`), once inspected.
    #[schema(value_type = Option<Object>)]
    pub signature: Option<serde_json::Value>,
    /// What inspecting the main file found: operators, quantization kind, metadata, bytes and
    /// requests spent, the inspector's version, the error if any.
    #[schema(value_type = Option<Object>)]
    pub inspection: Option<serde_json::Value>,
    /// Each rule of the app at f7ae2c9 that the pipeline spec breaks — what the app would compute
    /// wrong, skip or fail on (docs/CLIENTS.md §8); empty for a spec the app runs as written.
    pub app_warnings: Vec<String>,
    /// A mirrored version's files that differ from its model's previous version (`{path, kind,
    /// change}`); empty when only other files (the model card) changed; null when not known.
    pub changed_files: Option<Vec<crate::domain::changes::FileChange>>,
}

impl VersionResponse {
    /// The version as this dialect shows it, links to the files this service hosts made under
    /// `public_url`.
    pub fn new(v: ModelVersion, public_url: &url::Url) -> Self {
        let total_size_bytes = total_size(&v.assets);
        let app_warnings = crate::catalog::pipelines::app_warnings(&v);
        VersionResponse {
            id: v.id,
            model_id: v.model_id,
            version_string: v.version_string,
            changelog: v.changelog,
            hf_commit_sha: v.hf_commit_sha,
            pipeline_spec: v.pipeline_spec,
            assets: assets_under(v.assets, public_url),
            published_at: v.published_at,
            download_count: v.download_count,
            num_ratings: v.num_ratings,
            rating_avg: v.rating_avg,
            total_size_bytes,
            signature: v.signature,
            inspection: v.inspection,
            app_warnings,
            changed_files: v.changed_files,
        }
    }
}

/// A model's versions, newest first.
#[utoipa::path(get, path = "/models/{id}/versions", tag = "models",
    params(("id" = String, Path, description = "Model UUID or slug")),
    responses((status = 200, body = Vec<VersionResponse>), (status = 404, body = ErrorBody)))]
async fn list_versions(
    State(state): State<AppState>,
    viewer: Viewer,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Vec<VersionResponse>>> {
    let model = find_model(&state, viewer.looker(), &id).await?;
    let versions = state.store.list_versions(model.id).await?;
    Ok(Json(
        versions
            .into_iter()
            .map(|v| VersionResponse::new(v, &state.public_url))
            .collect(),
    ))
}

/// One version of a model.
#[utoipa::path(get, path = "/models/{id}/versions/{version_id}", tag = "models",
    params(
        ("id" = String, Path, description = "Model UUID or slug"),
        ("version_id" = Uuid, Path, description = "Version UUID"),
    ),
    responses(
        (status = 200, body = VersionResponse),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
    ))]
async fn get_version(
    State(state): State<AppState>,
    viewer: Viewer,
    ApiPath((id, version_id)): ApiPath<(String, String)>,
) -> ApiResult<Json<VersionResponse>> {
    let version_id = Uuid::parse_str(&version_id)
        .map_err(|_| ApiError::BadRequest("version_id must be a UUID".into()))?;
    let model = find_model(&state, viewer.looker(), &id).await?;
    let version = state
        .store
        .get_version(model.id, version_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("Version {version_id} not found")))?;
    Ok(Json(VersionResponse::new(version, &state.public_url)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVersionRequest {
    /// 1 to 100 characters, not only spaces; unique per model.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    version_string: String,
    #[serde(default)]
    changelog: Option<String>,
    #[serde(default)]
    pipeline_spec: Option<serde_json::Value>,
    #[serde(default)]
    assets: Vec<Asset>,
}

/// Publish a version (signed-in users): on their own models, and on models mirrored from the Hub.
/// Without a `pipeline_spec`, the one its model file gives when the file can be read within 5 s.
#[utoipa::path(post, path = "/models/{id}/versions", tag = "models", security(("bearer" = [])),
    params(("id" = String, Path, description = "Model UUID or slug")),
    request_body = CreateVersionRequest,
    responses(
        (status = 201, body = VersionResponse),
        (status = 400, body = ErrorBody, description = "Malformed JSON or not `application/json`"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
async fn create_version(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<CreateVersionRequest>,
) -> ApiResult<(StatusCode, Json<VersionResponse>)> {
    let user = caller.user()?;
    let model = find_model(&state, crate::catalog::Looker::user(user), &id).await?;
    let draft = crate::catalog::VersionDraft {
        name: check_label("version_string", &req.version_string, MAX_VERSION_LABEL)?,
        commit_sha: None,
        changelog: req.changelog,
        spec: req.pipeline_spec,
        assets: req.assets,
        license_type: None,
    };
    let version = state
        .catalog
        .create_version(user, &model, draft, crate::catalog::SpecRule::KeepOutside)
        .await?;
    state.catalog_changed();
    Ok((
        StatusCode::CREATED,
        Json(VersionResponse::new(version, &state.public_url)),
    ))
}
