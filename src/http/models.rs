//! The model catalog: list, read, publish and edit models (their versions: `versions.rs`).

use super::cache::{json_body, CachedPage};
use super::conditional::CatalogRevision;
use super::{ApiJson, ApiPath, ApiQuery, AppState, Viewer};
use crate::auth::Caller;
use crate::catalog::checks::MAX_TAG;
use crate::domain::records::*;
use crate::domain::{Category, LicenseType, Source, UpstreamStatus};
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use crate::store::{ModelQuery, SortKey};
use axum::extract::{OriginalUri, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_models, create_model))
        .routes(routes!(get_model, update_model))
}

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 1000;

/// A model as the API shows it: the original's `ModelResponse` plus what the Hugging Face mirror keeps.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelResponse {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub category: Category,
    pub license_type: LicenseType,
    pub origin_repo_url: Option<String>,
    pub author_id: Uuid,
    /// The Hugging Face repo id (`owner/name`) of a synced model.
    pub hf_model_id: Option<String>,
    pub is_verified_official: bool,
    pub tags: Vec<String>,
    pub task: Option<String>,
    /// The task was inferred (the Hub repo has no `pipeline_tag`), not given.
    pub task_inferred: bool,
    /// `permissive` (green), `conditions` (yellow: attribution or use restrictions), `restricted` (red:
    /// non-commercial or copyleft) or `unknown`.
    pub license_class: crate::domain::LicenseClass,
    /// Whether commercial use is generally allowed (null when the licence is not known well enough).
    pub commercial_use: Option<bool>,
    pub total_download_count: i64,
    pub rating_weighted_avg: f64,
    pub total_ratings: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// `huggingface` for models mirrored from the Hub, `user` for models published here.
    pub source: Source,
    /// Commit sha of the mirrored revision.
    pub hf_sha: Option<String>,
    pub hf_last_modified: Option<DateTime<Utc>>,
    pub hf_created_at: Option<DateTime<Utc>>,
    /// Hub downloads over the last 30 days (kept apart from Pocket AI's own counter).
    pub hf_downloads: Option<i64>,
    pub hf_likes: Option<i64>,
    /// `false`, `auto` or `manual`.
    pub hf_gated: Option<String>,
    pub library_name: Option<String>,
    pub upstream_status: Option<UpstreamStatus>,
    pub synced_at: Option<DateTime<Utc>>,
    /// Total size in bytes of the newest version's assets (null without versions).
    pub latest_version_size_bytes: Option<i64>,
}

impl From<Model> for ModelResponse {
    fn from(m: Model) -> Self {
        let source = if m.is_synced() {
            Source::HuggingFace
        } else {
            Source::User
        };
        let latest_version_size_bytes = m.latest_version_size_bytes;
        let up = m.upstream.unwrap_or_default();
        let synced = source == Source::HuggingFace;
        ModelResponse {
            id: m.id,
            name: m.name,
            slug: m.slug,
            description: m.description,
            category: m.category,
            license_type: m.license_type,
            origin_repo_url: m.origin_repo_url,
            author_id: m.author_id,
            hf_model_id: m.hf_model_id,
            is_verified_official: m.is_verified_official,
            tags: m.tags,
            task: m.task,
            task_inferred: m.task_inferred,
            license_class: m.license_type.class(),
            commercial_use: m.license_type.commercial_use(),
            total_download_count: m.total_download_count,
            rating_weighted_avg: m.rating_weighted_avg,
            total_ratings: m.total_ratings,
            created_at: m.created_at,
            updated_at: m.updated_at,
            source,
            hf_sha: up.sha,
            hf_last_modified: up.last_modified,
            hf_created_at: up.created_at,
            hf_downloads: synced.then_some(up.downloads),
            hf_likes: synced.then_some(up.likes),
            hf_gated: up.gated,
            library_name: up.library_name,
            upstream_status: up.status,
            synced_at: up.synced_at,
            latest_version_size_bytes,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListModelsParams {
    /// Exact task (`pipeline_tag`), e.g. `image-classification`.
    task: Option<String>,
    category: Option<Category>,
    author_id: Option<Uuid>,
    license_type: Option<LicenseType>,
    /// `huggingface` (mirrored) or `user` (published here).
    source: Option<Source>,
    /// Words searched in name, description and tags (at most 200 characters): a model matches when
    /// each word of `q` starts one of its words, case-insensitively (`mobile` finds "MobileNet",
    /// `yolov8 face` finds "yolov8n-face"). Words are runs of letters and digits; a `q` with none is
    /// rejected, a blank one ignored.
    #[param(max_length = 200)]
    q: Option<String>,
    /// `created_at` (default, newest first), `updated_at`, `name` or `downloads`.
    sort: Option<SortKey>,
    /// Include models whose upstream repo is gone or private.
    include_removed: Option<bool>,
    /// Only mirrored models with this upstream status (`active`, `removed`, `private`, …); overrides
    /// `include_removed`.
    upstream_status: Option<UpstreamStatus>,
    /// `true`: licences that generally allow commercial use; `false`: those that do not.
    commercial: Option<bool>,
    /// `true`: only models with a version the Pocket AI app can run (`verified` or `pending`).
    runnable: Option<bool>,
    /// Only models with a version whose model file has this quantization: `float32`, `float16`,
    /// `dynamic range` (or `dynamic-range`), `int8`, `int4`, `mixed`.
    quantization: Option<String>,
    /// Page size, 1 to 1000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// The opaque cursor from the previous page's `Link: <…>; rel="next"` header.
    cursor: Option<String>,
}

/// List models, newest first by default. A JSON array; the next page is in the `Link` header and the
/// number of matching models in `X-Total-Count`.
#[utoipa::path(get, path = "/models", tag = "models", params(ListModelsParams), responses(
    (status = 200, body = Vec<ModelResponse>, headers(
        ("Link" = String, description = "`<URL>; rel=\"next\"` when another page exists"),
        ("X-Total-Count" = i64, description = "Models matching the filters"),
    )),
    (status = 400, body = ErrorBody),
))]
async fn list_models(
    State(state): State<AppState>,
    revision: Option<Extension<CatalogRevision>>,
    viewer: Viewer,
    OriginalUri(uri): OriginalUri,
    ApiQuery(p): ApiQuery<ListModelsParams>,
) -> ApiResult<Response> {
    // The same URL gets the same page for the same viewer (what is visible depends on who asks): the
    // hot first pages are served from memory.
    let key = format!("{:?}|{:?}|{uri}", revision.map(|r| r.0), viewer.id());
    let page = state
        .pages
        .get_or_fill(&key, async {
            let revision = revision.map(|r| r.0);
            let (headers, Json(items)) =
                list_page(&state, &uri, p, None, &viewer, revision).await?;
            Ok::<_, ApiError>(CachedPage {
                headers,
                body: json_body(&items)?,
            })
        })
        .await?;
    Ok(page.into_response())
}

/// How many models `query` lists for `viewer` (`X-Total-Count`, both dialects). Counting a large
/// catalogue can cost more than the page itself: a count is cached for the catalogue's revision and
/// the filters (exact: any write makes a new revision), and concurrent misses count once. Without a
/// revision (it could not be read) nothing is cached.
pub(crate) async fn total_count(
    state: &AppState,
    viewer: &Viewer,
    query: &ModelQuery,
    revision: Option<CatalogRevision>,
) -> ApiResult<i64> {
    let counted = ModelQuery {
        limit: 0,
        after: None,
        offset: 0,
        skip_count: false,
        sort: SortKey::default(),
        visibility: viewer.looker().listing(),
        ..query.clone()
    };
    let key = format!("{revision:?}|{counted:?}");
    let count =
        async { Ok::<_, ApiError>(state.catalog.browse(viewer.looker(), counted).await?.total) };
    match revision {
        Some(_) => state.counts.get_or_fill(&key, count).await,
        None => count.await,
    }
}

/// A page of models for `p` (with the author fixed when `author` is given) that `viewer` may see
/// (public models and their own), with its headers; `revision` is the catalogue's as the request came
/// in (its total is cached for that revision).
pub(super) async fn list_page(
    state: &AppState,
    uri: &axum::http::Uri,
    mut p: ListModelsParams,
    author: Option<Uuid>,
    viewer: &Viewer,
    revision: Option<CatalogRevision>,
) -> ApiResult<(HeaderMap, Json<Vec<ModelResponse>>)> {
    if author.is_some() {
        p.author_id = author;
    }
    let limit = p.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    let q = crate::catalog::browse::search_filter(p.q.take()).map_err(ApiError::BadRequest)?;
    if p.task.as_ref().is_some_and(|t| t.len() > MAX_TAG) {
        return Err(ApiError::BadRequest(format!(
            "task must be at most {MAX_TAG} characters"
        )));
    }
    let sort = p.sort.unwrap_or_default();
    let after = p
        .cursor
        .as_deref()
        .map(|c| super::cursor::keyset(c, sort))
        .transpose()
        .map_err(ApiError::BadRequest)?;
    let query = ModelQuery {
        task: p.task,
        category: p.category,
        author_id: p.author_id,
        license_type: p.license_type,
        source: p.source,
        q,
        sort,
        include_removed: p.include_removed.unwrap_or(false),
        upstream_status: p.upstream_status,
        commercial: p.commercial,
        limit: limit as u32,
        after,
        skip_count: true,
        known_total: None,
        offset: 0,
        visibility: viewer.looker().listing(),
        supported_only: p.runnable.unwrap_or(false),
        best_status: None,
        quantization: crate::catalog::browse::quantization_filter(p.quantization.as_deref())
            .map_err(ApiError::BadRequest)?,
    };
    let total = total_count(state, viewer, &query, revision).await?;
    let query = ModelQuery {
        known_total: Some(total),
        ..query
    };
    let mut page = state.catalog.browse(viewer.looker(), query).await?;
    page.total = total;
    let mut headers = HeaderMap::new();
    headers.insert("x-total-count", HeaderValue::from(page.total));
    if let Some(next) = page.next {
        let link = format!(
            "<{}>; rel=\"next\"",
            with_cursor(uri, &super::cursor::encode(&next))
        );
        if let Ok(value) = HeaderValue::from_str(&link) {
            headers.insert(header::LINK, value);
        }
    }
    let body: Vec<ModelResponse> = page.items.into_iter().map(Into::into).collect();
    Ok((headers, Json(body)))
}

/// The request's path and query with `cursor` replaced.
pub(super) fn with_cursor(uri: &axum::http::Uri, cursor: &str) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        if k != "cursor" {
            query.append_pair(&k, &v);
        }
    }
    query.append_pair("cursor", cursor);
    format!("{}?{}", uri.path(), query.finish())
}

/// Finds a model by UUID or slug that `looker` may see: the same 404 for one that is hidden as for
/// one that never existed.
pub(super) async fn find_model(
    state: &AppState,
    looker: crate::catalog::Looker<'_>,
    id: &str,
) -> ApiResult<Model> {
    crate::catalog::Access::new(&state.store, looker)
        .model_by_ref(id)
        .await?
        .ok_or_else(|| not_found(id))
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!(
        "Model '{}' not found",
        id.chars().take(200).collect::<String>()
    ))
}

/// One model, by id or slug (a private one only for its owner).
#[utoipa::path(get, path = "/models/{id}", tag = "models",
    params(("id" = String, Path, description = "Model UUID or slug")),
    responses((status = 200, body = ModelResponse), (status = 404, body = ErrorBody)))]
async fn get_model(
    State(state): State<AppState>,
    revision: Option<Extension<CatalogRevision>>,
    viewer: Viewer,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    let key = format!("{:?}|{:?}|{id}", revision.map(|r| r.0), viewer.id());
    let page = state
        .details
        .get_or_fill(&key, async {
            let model = find_model(&state, viewer.looker(), &id).await?;
            let model: ModelResponse = model.into();
            Ok::<_, ApiError>(CachedPage {
                headers: HeaderMap::new(),
                body: json_body(&model)?,
            })
        })
        .await?;
    Ok(page.into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateModelRequest {
    /// 1 to 200 characters, not only spaces.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    category: Option<Category>,
    #[serde(default)]
    license_type: Option<LicenseType>,
    #[serde(default)]
    origin_repo_url: Option<String>,
    #[serde(default)]
    tags: Option<Vec<String>>,
    #[serde(default)]
    task: Option<String>,
}

/// Publish a model (signed-in users; `POCKET_PUBLISH_REQUIRES_DEVELOPER` limits it to developers). The
/// server derives a unique slug from the name.
#[utoipa::path(post, path = "/models", tag = "models", security(("bearer" = [])),
    request_body = CreateModelRequest,
    responses(
        (status = 201, body = ModelResponse),
        (status = 400, body = ErrorBody, description = "Malformed JSON or not `application/json`"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
async fn create_model(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateModelRequest>,
) -> ApiResult<(StatusCode, Json<ModelResponse>)> {
    let user = caller.user()?;
    let draft = crate::catalog::ModelDraft {
        name: req.name,
        description: req.description.unwrap_or_default(),
        category: req.category.unwrap_or(Category::Utility),
        license_type: req.license_type.unwrap_or(LicenseType::Unknown),
        origin_repo_url: req.origin_repo_url,
        tags: req.tags.unwrap_or_default(),
        task: req.task,
        is_public: true,
    };
    let model = state.catalog.create_model(user, draft).await?;
    state.catalog_changed();
    Ok((StatusCode::CREATED, Json(model.into())))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateModelRequest {
    name: Option<String>,
    description: Option<String>,
    category: Option<Category>,
    license_type: Option<LicenseType>,
    origin_repo_url: Option<String>,
    /// Admins only.
    is_verified_official: Option<bool>,
    tags: Option<Vec<String>>,
    task: Option<String>,
    /// `false`: listed only for its author (and admins); on a mirrored model too (the sync never
    /// changes it back).
    is_public: Option<bool>,
}

/// Edit a model (its owner or an admin). On a model mirrored from the Hub, the fields the sync manages
/// (name, description, licence, origin URL, tags, task) are refused with 403.
#[utoipa::path(patch, path = "/models/{id}", tag = "models", security(("bearer" = [])),
    params(("id" = String, Path, description = "Model UUID or slug")),
    request_body = UpdateModelRequest,
    responses(
        (status = 200, body = ModelResponse),
        (status = 400, body = ErrorBody, description = "Malformed JSON or not `application/json`"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    ))]
async fn update_model(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<UpdateModelRequest>,
) -> ApiResult<Json<ModelResponse>> {
    let user = caller.user()?;
    let model = find_model(&state, crate::catalog::Looker::user(user), &id).await?;
    let patch = ModelPatch {
        name: req.name,
        description: req.description,
        category: req.category,
        license_type: req.license_type,
        origin_repo_url: req.origin_repo_url,
        is_verified_official: req.is_verified_official,
        tags: req.tags,
        task: req.task,
        is_public: req.is_public,
    };
    let updated = state.catalog.update_model(user, &model, patch).await?;
    state.catalog_changed();
    Ok(Json(updated.into()))
}
