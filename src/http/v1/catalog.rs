//! Browsing and downloading in the clients' dialect (CLIENTS.md R1, R2, R5, R7, R10; flows F1, F2):
//! the catalog the portal lists whole and the app filters to what it can run, a model's versions with
//! the six asset pointers, and the download redirect.

use super::{ClientModel, ClientVersion, Viewer};
use crate::auth::Caller;
use crate::catalog::Deletion;
use crate::domain::assets::AssetPointers;
use crate::domain::records::ModelPatch;
use crate::domain::{Category, LicenseType, VersionStatus};
use crate::http::cache::{json_body, CachedPage};
use crate::http::conditional::CatalogRevision;
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use crate::http::{ApiJson, ApiPath, ApiQuery, AppState, Downloader};
use crate::store::{ModelQuery, SortKey};
use axum::extract::{OriginalUri, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_models))
        .routes(routes!(get_model, update_model, delete_model))
        .routes(routes!(list_versions))
        .routes(routes!(get_version))
        .routes(routes!(download))
}

/// The portal never pages: one answer holds this many models unless `limit` says otherwise.
pub const DEFAULT_LIMIT: u32 = 1000;
pub const MAX_LIMIT: u32 = 10_000;

/// A query flag as the clients send it (`true` / `false`, any case, or 1 / 0).
fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let raw: Option<String> = Option::deserialize(d)?;
    raw.map(|v| match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" | "" => Ok(false),
        other => Err(serde::de::Error::custom(format!(
            "expected true or false, not '{other}'"
        ))),
    })
    .transpose()
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Models to skip (default 0).
    skip: Option<u32>,
    /// Models in the answer, 1 to 10,000 (default 1,000: the portal never pages).
    #[param(minimum = 1, maximum = 10000)]
    limit: Option<u32>,
    /// Exact task, e.g. `image-classification`.
    task: Option<String>,
    /// Only models with a version the app can run (`verified` or `pending`).
    #[serde(default, deserialize_with = "flag")]
    #[param(value_type = Option<bool>)]
    supported_only: Option<bool>,
    /// Only this author's models (a Supabase user id).
    author_id: Option<String>,
    /// Beyond the reference: the same as `supported_only`.
    #[serde(default, deserialize_with = "flag")]
    #[param(value_type = Option<bool>)]
    runnable: Option<bool>,
    /// Beyond the reference: only models with a version whose model file has this quantization
    /// (`float32`, `float16`, `dynamic range`, `int8`, `int4`, `mixed`).
    quantization: Option<String>,
    /// Beyond the reference: words a model's name, description or tags must have, each as the start
    /// of a word (`mobile` finds MobileNet), as the root dialect's `q`.
    q: Option<String>,
    /// Beyond the reference: the order — `popular` (the default: most used first), `rating`
    /// (highest rated first: the models' Bayesian averages), `newest`, `name`.
    sort: Option<String>,
    /// Beyond the reference: only this category (`utility`, `diagnostic`, `performance`, `fun`,
    /// `other`).
    category: Option<String>,
    /// Beyond the reference: only models whose best version has this status (`verified`,
    /// `pending`, `missing`; `supported` and `unsupported` as the reference spells them).
    status: Option<String>,
}

/// The order a `sort` names; `popular` when none.
fn sort_key(raw: Option<&str>) -> ApiResult<SortKey> {
    match raw.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
        None | Some("" | "popular") => Ok(SortKey::Downloads),
        Some("newest") => Ok(SortKey::CreatedAt),
        Some("name") => Ok(SortKey::Name),
        Some("rating") => Ok(SortKey::Rating),
        Some(other) => Err(ApiError::Unprocessable(format!(
            "sort must be popular, rating, newest or name, not '{other}'"
        ))),
    }
}

/// List models: public ones, and the caller's own private ones. The default order is **most used
/// first**: Pocket AI's own downloads, then the Hugging Face Hub's, then the id (descending) — the
/// portal's "Popular models" are the first six. Searching (`q`), filtering (`category`, `status`,
/// `task`, `supported_only`, `author_id`) and sorting (`sort`) happen here, so a client need not
/// fetch the whole catalogue; `X-Total-Count` says how many models match. Every parameter is
/// optional; unknown ones are ignored.
#[utoipa::path(get, path = "/models", tag = "clients (/api/v1)", operation_id = "v1_list_models",
    params(ListParams),
    responses((status = 200, body = Vec<ClientModel>, headers(
        ("X-Total-Count" = i64, description = "Models matching the filters"),
    )), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_models(
    State(state): State<AppState>,
    revision: Option<Extension<CatalogRevision>>,
    viewer: Viewer,
    OriginalUri(uri): OriginalUri,
    ApiQuery(p): ApiQuery<ListParams>,
) -> ApiResult<Response> {
    let limit = p.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::Unprocessable(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    let author_id = p
        .author_id
        .as_deref()
        .map(|a| {
            Uuid::parse_str(a.trim())
                .map_err(|_| ApiError::Unprocessable("author_id must be a UUID".into()))
        })
        .transpose()?;
    let q = crate::catalog::browse::search_filter(p.q).map_err(ApiError::Unprocessable)?;
    let category = p
        .category
        .filter(|c| !c.trim().is_empty())
        .map(|c| {
            c.trim()
                .to_ascii_lowercase()
                .parse::<Category>()
                .map_err(|_| {
                    ApiError::Unprocessable(
                        "category must be utility, diagnostic, performance, fun or other".into(),
                    )
                })
        })
        .transpose()?;
    let best_status = p
        .status
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            VersionStatus::parse_lenient(&s).map_err(|_| {
                ApiError::Unprocessable("status must be verified, pending or missing".into())
            })
        })
        .transpose()?;
    let query = ModelQuery {
        task: p.task.filter(|t| !t.trim().is_empty()),
        author_id,
        q,
        category,
        best_status,
        sort: sort_key(p.sort.as_deref())?,
        include_removed: true,
        limit,
        offset: p.skip.unwrap_or(0),
        skip_count: true,
        supported_only: p.supported_only.or(p.runnable).unwrap_or(false),
        quantization: crate::catalog::browse::quantization_filter(p.quantization.as_deref())
            .map_err(ApiError::Unprocessable)?,
        ..ModelQuery::default()
    };
    // What a viewer sees depends on who they are: the cache keys on both.
    let revision = revision.map(|r| r.0);
    let key = format!("v1|{revision:?}|{:?}|{uri}", viewer.id());
    let page = state
        .pages
        .get_or_fill(&key, async {
            let total = crate::http::models::total_count(&state, &viewer, &query, revision).await?;
            let query = ModelQuery {
                known_total: Some(total),
                ..query.clone()
            };
            let body = match state
                .catalog
                .browse_client_json(viewer.looker(), query.clone())
                .await?
            {
                Some(json) => json.into(),
                None => {
                    let page = state.catalog.browse(viewer.looker(), query).await?;
                    let items: Vec<ClientModel> = page.items.into_iter().map(Into::into).collect();
                    json_body(&items)?
                }
            };
            let mut headers = HeaderMap::new();
            headers.insert("x-total-count", total.into());
            Ok::<_, ApiError>(CachedPage { headers, body })
        })
        .await?;
    Ok(page.into_response())
}

pub(super) fn parse_id(raw: &str, what: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| ApiError::Unprocessable(format!("{what} must be a UUID")))
}

/// One model.
#[utoipa::path(get, path = "/models/{model_id}", tag = "clients (/api/v1)", operation_id = "v1_get_model",
    params(("model_id" = Uuid, Path, description = "Model id")),
    responses((status = 200, body = ClientModel), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn get_model(
    State(state): State<AppState>,
    viewer: Viewer,
    ApiPath(model_id): ApiPath<String>,
) -> ApiResult<Json<ClientModel>> {
    let id = parse_id(&model_id, "model_id")?;
    let model = viewer
        .access(&state.store)
        .model(id)
        .await?
        .ok_or_else(|| ApiError::NotFound("Model not found".into()))?;
    Ok(Json(model.into()))
}

/// What a model's owner may change through `PATCH /api/v1/models/{model_id}`; a field left out stays
/// as it is.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientModelPatch {
    name: Option<String>,
    description: Option<String>,
    /// `utility`, `diagnostic`, `performance`, `fun` or `other`.
    category: Option<Category>,
    task: Option<String>,
    tags: Option<Vec<String>>,
    /// `apache-2.0`, `mit`, `bsd`, `gpl`, `cc-by`, `cc-by-nc`, `other` or `unknown`.
    license_type: Option<LicenseType>,
    /// `false`: listed only for you (and admins).
    is_public: Option<bool>,
}

/// Edit a model (its owner or an admin): name, description, category, task, tags, licence,
/// visibility. On a model mirrored from the Hugging Face Hub, the fields the sync keeps (name,
/// description, licence, tags, task) are refused with a 403 naming them; its category and
/// visibility may change.
#[utoipa::path(patch, path = "/models/{model_id}", tag = "clients (/api/v1)",
    operation_id = "v1_update_model", security(("bearer" = [])),
    params(("model_id" = Uuid, Path, description = "Model id")),
    request_body = ClientModelPatch,
    responses(
        (status = 200, body = ClientModel),
        (status = 400, body = ErrorBody, description = "Malformed JSON or not `application/json`"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    ))]
async fn update_model(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(model_id): ApiPath<String>,
    ApiJson(req): ApiJson<ClientModelPatch>,
) -> ApiResult<Json<ClientModel>> {
    let user = caller.user()?;
    let model = owned_model(&state, user, &model_id).await?;
    let patch = ModelPatch {
        name: req.name,
        description: req.description,
        category: req.category,
        license_type: req.license_type,
        tags: req.tags,
        task: req.task,
        is_public: req.is_public,
        ..ModelPatch::default()
    };
    let updated = state.catalog.update_model(user, &model, patch).await?;
    state.catalog_changed();
    Ok(Json(updated.into()))
}

/// What `DELETE /api/v1/models/{model_id}` did.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedModel {
    id: Uuid,
    /// `deleted` (the model and its versions are gone) or `hidden` (a model mirrored from the Hub:
    /// made private, so that the next sync, which still finds it on the Hub, does not bring it back;
    /// an admin can make it public again).
    outcome: String,
}

/// Delete a model (its owner or an admin). A model mirrored from the Hugging Face Hub is hidden
/// instead: deleting it would only let the next sync create it again.
#[utoipa::path(delete, path = "/models/{model_id}", tag = "clients (/api/v1)",
    operation_id = "v1_delete_model", security(("bearer" = [])),
    params(("model_id" = Uuid, Path, description = "Model id")),
    responses(
        (status = 200, body = DeletedModel),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    ))]
async fn delete_model(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(model_id): ApiPath<String>,
) -> ApiResult<Json<DeletedModel>> {
    let user = caller.user()?;
    let model = owned_model(&state, user, &model_id).await?;
    let outcome = state.catalog.delete_model(user, &model).await?;
    state.catalog_changed();
    Ok(Json(DeletedModel {
        id: model.id,
        outcome: match outcome {
            Deletion::Deleted => "deleted",
            Deletion::Hidden => "hidden",
        }
        .into(),
    }))
}

/// The model `model_id` names, if `user` may see it (a 404 otherwise, whoever owns it).
async fn owned_model(
    state: &AppState,
    user: &crate::domain::records::User,
    model_id: &str,
) -> ApiResult<crate::domain::records::Model> {
    let id = parse_id(model_id, "model_id")?;
    crate::catalog::Access::for_user(&state.store, user)
        .model(id)
        .await?
        .ok_or_else(|| ApiError::NotFound("Model not found".into()))
}

/// A model's versions, oldest first.
#[utoipa::path(get, path = "/models/{model_id}/versions", tag = "clients (/api/v1)",
    operation_id = "v1_list_versions",
    params(("model_id" = Uuid, Path, description = "Model id")),
    responses((status = 200, body = Vec<ClientVersion>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_versions(
    State(state): State<AppState>,
    viewer: Viewer,
    ApiPath(model_id): ApiPath<String>,
) -> ApiResult<Json<Vec<ClientVersion>>> {
    let id = parse_id(&model_id, "model_id")?;
    let model = viewer
        .access(&state.store)
        .model(id)
        .await?
        .ok_or_else(|| ApiError::NotFound("Model not found".into()))?;
    let mut versions = state.store.list_versions(model.id).await?;
    versions.reverse();
    Ok(Json(
        versions
            .into_iter()
            .map(|v| ClientVersion::new(v, &model, &state.public_url))
            .collect(),
    ))
}

/// One version.
#[utoipa::path(get, path = "/versions/{version_id}", tag = "clients (/api/v1)", operation_id = "v1_get_version",
    params(("version_id" = Uuid, Path, description = "Version id")),
    responses((status = 200, body = ClientVersion), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn get_version(
    State(state): State<AppState>,
    viewer: Viewer,
    ApiPath(version_id): ApiPath<String>,
) -> ApiResult<Json<ClientVersion>> {
    let id = parse_id(&version_id, "version_id")?;
    let (version, model) = viewer
        .access(&state.store)
        .version(id)
        .await?
        .ok_or_else(|| ApiError::NotFound("Model version not found".into()))?;
    Ok(Json(ClientVersion::new(version, &model, &state.public_url)))
}

/// Download one of a version's six assets: 307 to the file, or the file itself when this service hosts
/// it (a label file extracted from the model). Only `tflite` counts a download (on the version and its
/// model).
#[utoipa::path(get, path = "/versions/{version_id}/download/{asset_key}", tag = "clients (/api/v1)",
    operation_id = "v1_download",
    params(
        ("version_id" = Uuid, Path, description = "Version id"),
        ("asset_key" = String, Path, description = "`tflite`, `litert_lm`, `labels`, `tokenizer`, `vocab` or `anchors`"),
    ),
    responses(
        (status = 200, description = "A file this service hosts"),
        (status = 307, description = "Redirect to the file", headers(("Location" = String))),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    ))]
async fn download(
    State(state): State<AppState>,
    Downloader(viewer, client): Downloader,
    ApiPath((version_id, asset_key)): ApiPath<(String, String)>,
) -> ApiResult<Response> {
    let id = parse_id(&version_id, "version_id")?;
    let (version, _) = viewer
        .access(&state.store)
        .version(id)
        .await?
        .ok_or_else(|| ApiError::NotFound("Model version not found.".into()))?;
    let not_found = || {
        let key: String = asset_key.chars().take(64).collect();
        ApiError::NotFound(format!("Asset '{key}' not found for this version."))
    };
    let assets = crate::domain::records::assets_under(version.assets, &state.public_url);
    let pointers = AssetPointers::from_assets(&assets);
    let url = pointers.get(&asset_key).ok_or_else(not_found)?.to_string();
    if asset_key == "tflite" {
        state.store.count_download(version.id, &client.0).await?;
    }
    // A file this service hosts is answered here: the app needs its bytes, wherever the public URL
    // it was linked under points now.
    let hosted = assets
        .iter()
        .find(|a| {
            a.source_url == url && a.is_hosted_by_us && a.hash_kind.as_deref() == Some("sha256")
        })
        .and_then(|a| a.file_hash.clone());
    // Only a file the catalog extracted for a version this viewer sees: an asset a person declared
    // "hosted" with some hash cannot fetch another model's file.
    let hosted = match hosted.map(|h| h.to_ascii_lowercase()) {
        Some(sha) if viewer.access(&state.store).hosted_file(&sha).await? => Some(sha),
        _ => None,
    };
    if let Some(sha256) = hosted {
        match crate::http::downloads::serve_hosted(&state, &sha256).await {
            Err(ApiError::NotFound(_)) => {}
            served => return served,
        }
    }
    crate::http::downloads::redirect(&url)
}
