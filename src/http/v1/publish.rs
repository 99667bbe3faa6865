//! Publishing and maintaining in the clients' dialect (CLIENTS.md R3, R6, R8, R9, R11; flows F5–F7):
//! create a model, add a version with its asset pointers and pipeline spec, edit or clear the spec,
//! delete a version — each parsed here and done by [`crate::catalog`] (the operations both dialects share,
//! with the spec rule [`SpecRule::AppSchema`]). Unknown request fields are ignored, as the clients
//! expect.

use super::{ClientModel, ClientVersion};
use crate::auth::Caller;
use crate::catalog::checks::{check_label, check_url, MAX_VERSION_LABEL};
use crate::catalog::{ModelDraft, SpecRule, VersionDraft};
use crate::domain::assets::KEYS;
use crate::domain::records::Asset;
use crate::domain::{Category, LicenseType, VersionStatus};
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use crate::http::{ApiJson, ApiPath, AppState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_model))
        .routes(routes!(create_version))
        .routes(routes!(update_version, delete_version))
        .routes(routes!(clear_pipeline))
}

/// The body of `POST /api/v1/models` (its own schema name: the root dialect's differs).
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = ClientCreateModelRequest)]
pub struct CreateModelRequest {
    name: String,
    description: String,
    #[serde(default)]
    category: Option<Category>,
    #[serde(default)]
    is_public: Option<bool>,
    #[serde(default)]
    tags: Option<Vec<String>>,
    #[serde(default)]
    task: Option<String>,
    /// `owner/repo` on the Hugging Face Hub.
    #[serde(default)]
    hf_model_id: Option<String>,
    /// Any licence identifier; unknown ones are stored as `other`.
    #[serde(default)]
    license_type: Option<String>,
}

/// Publish a model (signed-in users; `POCKET_PUBLISH_REQUIRES_DEVELOPER` limits it to developers).
/// The server makes the id and a unique slug.
#[utoipa::path(post, path = "/models", tag = "clients (/api/v1)", operation_id = "v1_create_model",
    security(("bearer" = [])), request_body = CreateModelRequest,
    responses(
        (status = 201, body = ClientModel),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
    ))]
async fn create_model(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateModelRequest>,
) -> ApiResult<(StatusCode, Json<ClientModel>)> {
    let user = caller.user()?;
    // The Hub repo a person names is kept as the model's origin, not as a mirror's identity: the sync
    // owns `hf_model_id` (a repo it mirrors is one catalog model).
    let origin = req
        .hf_model_id
        .as_deref()
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(|id| {
            let repo: crate::domain::RepoId = id
                .parse()
                .map_err(|e| ApiError::Unprocessable(format!("hf_model_id: {e}")))?;
            Ok::<_, ApiError>(crate::sync::mapping::repo_url(repo.as_str()))
        })
        .transpose()?;
    let draft = ModelDraft {
        name: req.name,
        description: req.description,
        category: req.category.unwrap_or(Category::Utility),
        license_type: req
            .license_type
            .as_deref()
            .map(LicenseType::normalize)
            .unwrap_or(LicenseType::Unknown),
        origin_repo_url: origin,
        tags: req.tags.unwrap_or_default(),
        // The clients send an empty task for "none".
        task: req.task.filter(|t| !t.trim().is_empty()),
        is_public: req.is_public.unwrap_or(true),
    };
    let model = state.catalog.create_model(user, draft).await?;
    state.catalog_changed();
    Ok((StatusCode::CREATED, Json(model.into())))
}

/// The body of `POST /api/v1/models/{model_id}/versions` (its own schema name).
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = ClientCreateVersionRequest)]
pub struct CreateVersionRequest {
    version_name: String,
    commit_sha: String,
    /// `tflite`, `litert_lm`, `labels`, `tokenizer`, `vocab`, `anchors`: absolute URLs or null; other
    /// keys are dropped.
    #[schema(value_type = Object)]
    assets: BTreeMap<String, Value>,
    #[serde(default)]
    is_hosted_by_us: Option<bool>,
    /// The size of the `tflite` file.
    #[serde(default)]
    file_size_bytes: Option<i64>,
    #[serde(default)]
    changelog: Option<String>,
    /// The licence this version is published under (any identifier; unknown ones are stored as
    /// `other`); absent or null means its model's. `is_commercial_safe` and
    /// `requires_commercial_warning` follow from it (sent values are ignored).
    #[serde(default)]
    license_type: Option<String>,
    /// A pipeline spec in the app's schema (CLIENTS.md §4); checked, 422 when it is not.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pipeline_spec: Option<Value>,
}

/// The asset type a client key's file gets in the full asset list.
fn asset_type(key: &str, url: &str) -> &'static str {
    let lower = url.to_ascii_lowercase();
    let path = lower.split(['?', '#']).next().unwrap_or(&lower);
    match key {
        "tflite" | "litert_lm" if path.ends_with(".litertlm") => "litertlm",
        "tflite" | "litert_lm" if path.ends_with(".task") => "task",
        "litert_lm" => "litertlm",
        "tflite" => "tflite",
        "labels" => "label_txt",
        "vocab" => "vocab_txt",
        "tokenizer" => "tokenizer",
        _ => "anchors",
    }
}

/// The pointers of a request as the asset list the catalog keeps (each under its client key).
fn pointer_assets(req: &CreateVersionRequest) -> ApiResult<Vec<Asset>> {
    let mut assets = Vec::new();
    for key in KEYS {
        let url = match req.assets.get(key) {
            None | Some(Value::Null) => continue,
            Some(Value::String(url)) => url.trim().to_string(),
            Some(_) => {
                return Err(ApiError::Unprocessable(format!(
                    "assets.{key} must be a URL or null"
                )))
            }
        };
        check_url(&format!("assets.{key}"), &url)?;
        let main = key == "tflite";
        assets.push(Asset {
            asset_key: key.to_string(),
            asset_type: asset_type(key, &url).to_string(),
            file_size_bytes: req.file_size_bytes.filter(|n| main && *n > 0),
            source_url: url,
            file_hash: None,
            hash_kind: None,
            is_hosted_by_us: main && req.is_hosted_by_us.unwrap_or(false),
            is_primary: main,
        });
    }
    Ok(assets)
}

/// Add a version (to your own models and to mirrored ones). `pending` with a pipeline spec (checked
/// against the model file's tensors when the file can be read); without one, the pipeline its model
/// file gives when the file can be read within 5 s, else `missing`; a `status` in the body is
/// ignored. As in the reference, neither `version_name` nor `commit_sha` has to be unique (the
/// portal names every upload "1.0.0" unless told otherwise).
#[utoipa::path(post, path = "/models/{model_id}/versions", tag = "clients (/api/v1)",
    operation_id = "v1_create_version", security(("bearer" = [])),
    params(("model_id" = Uuid, Path, description = "Model id")), request_body = CreateVersionRequest,
    responses(
        (status = 201, body = ClientVersion),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
async fn create_version(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(model_id): ApiPath<String>,
    ApiJson(req): ApiJson<CreateVersionRequest>,
) -> ApiResult<(StatusCode, Json<ClientVersion>)> {
    let user = caller.user()?;
    let model_id = super::catalog::parse_id(&model_id, "model_id")?;
    let model = state
        .catalog
        .access(crate::catalog::Looker::user(user))
        .model(model_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("Model not found".into()))?;
    let draft = VersionDraft {
        name: check_label("version_name", &req.version_name, MAX_VERSION_LABEL)?,
        commit_sha: Some(check_label(
            "commit_sha",
            &req.commit_sha,
            MAX_VERSION_LABEL,
        )?),
        assets: pointer_assets(&req)?,
        changelog: req.changelog,
        license_type: req.license_type.as_deref().map(LicenseType::normalize),
        spec: req.pipeline_spec,
    };
    let version = state
        .catalog
        .create_version(user, &model, draft, SpecRule::AppSchema)
        .await?;
    state.catalog_changed();
    Ok((
        StatusCode::CREATED,
        Json(ClientVersion::new(version, &model, &state.public_url)),
    ))
}

/// The body of `PATCH /api/v1/versions/{version_id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = ClientUpdateVersionRequest)]
pub struct UpdateVersionRequest {
    /// A new spec (checked); null or absent keeps the stored one.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pipeline_spec: Option<Value>,
    /// `verified`, `pending` or `missing` (also `supported` / `unsupported`); absent: `pending` when a
    /// spec is given, else unchanged.
    #[serde(default)]
    status: Option<String>,
}

/// Edit a version's pipeline (its creator, the model's owner, admins; developers on mirrored models).
#[utoipa::path(patch, path = "/versions/{version_id}", tag = "clients (/api/v1)",
    operation_id = "v1_update_version", security(("bearer" = [])),
    params(("version_id" = Uuid, Path, description = "Version id")), request_body = UpdateVersionRequest,
    responses(
        (status = 200, body = ClientVersion),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
    ))]
async fn update_version(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(version_id): ApiPath<String>,
    ApiJson(req): ApiJson<UpdateVersionRequest>,
) -> ApiResult<Json<ClientVersion>> {
    let user = caller.user()?;
    let id = super::catalog::parse_id(&version_id, "version_id")?;
    let status = req
        .status
        .as_deref()
        .map(VersionStatus::parse_lenient)
        .transpose()
        .map_err(|e| ApiError::Unprocessable(e.0))?;
    let (updated, model) = state
        .catalog
        .set_pipeline(user, id, req.pipeline_spec, status)
        .await?;
    state.catalog_changed();
    Ok(Json(ClientVersion::new(updated, &model, &state.public_url)))
}

/// Delete a version (and its telemetry).
#[utoipa::path(delete, path = "/versions/{version_id}", tag = "clients (/api/v1)",
    operation_id = "v1_delete_version", security(("bearer" = [])),
    params(("version_id" = Uuid, Path, description = "Version id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    ))]
async fn delete_version(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(version_id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let user = caller.user()?;
    let id = super::catalog::parse_id(&version_id, "version_id")?;
    state.catalog.delete_version(user, id).await?;
    state.catalog_changed();
    Ok(StatusCode::NO_CONTENT)
}

/// Clear a version's pipeline: no spec, `missing`, no reason.
#[utoipa::path(delete, path = "/versions/{version_id}/pipeline", tag = "clients (/api/v1)",
    operation_id = "v1_clear_pipeline", security(("bearer" = [])),
    params(("version_id" = Uuid, Path, description = "Version id")),
    responses(
        (status = 200, body = ClientVersion),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    ))]
async fn clear_pipeline(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(version_id): ApiPath<String>,
) -> ApiResult<Json<ClientVersion>> {
    let user = caller.user()?;
    let id = super::catalog::parse_id(&version_id, "version_id")?;
    let (cleared, model) = state.catalog.clear_pipeline(user, id).await?;
    state.catalog_changed();
    Ok(Json(ClientVersion::new(cleared, &model, &state.public_url)))
}
