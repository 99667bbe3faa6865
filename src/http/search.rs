//! Hub search for the portal's import flow: repos matching a query that contain LiteRT files, with
//! whether each is already in the catalog. Answers are cached briefly so a typing user costs few Hub
//! requests; the Hub client paces itself within the rate limit.

use super::{ApiQuery, AppState};
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use crate::sync::versions::has_model_file;
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search_hub))
}

/// The same search in the clients' dialect (`/api/v1/search/huggingface`): the same answer.
pub fn v1_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search_hub_v1))
}

const TTL: Duration = Duration::from_secs(60);
const SEARCH_DEADLINE: Duration = Duration::from_secs(10);
const MAX_ENTRIES: usize = 512;
const EXPAND: &[&str] = &[
    "author",
    "downloads",
    "likes",
    "library_name",
    "sha",
    "siblings",
    "tags",
    "private",
    "pipeline_tag",
    "cardData",
];

/// The description of a repo whose card says nothing (the clients show it as is; never empty).
const NO_DESCRIPTION: &str = "TFLite model from Hugging Face";

/// Recent Hub answers by normalised query: [`TTL`], at most [`MAX_ENTRIES`].
pub type SearchCache = super::cache::TtlCache<Vec<HubHit>>;

/// The cache of Hub answers [`AppState`] starts with.
pub fn search_cache() -> SearchCache {
    SearchCache::new(TTL, MAX_ENTRIES)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Part of the repo id, at least 2 characters.
    #[param(min_length = 2)]
    query: String,
    /// At most this many results (1 to 100, default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<usize>,
}

/// The answer: `{"results": [...]}`, as the portal's search modal and the original backend read it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResponse {
    pub results: Vec<HubHit>,
}

/// A Hub repo with LiteRT files.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HubHit {
    /// `owner/repo`.
    pub id: String,
    /// The model card's summary or description; never empty.
    pub description: String,
    pub tags: Vec<String>,
    pub pipeline_tag: Option<String>,
    pub repo_id: String,
    pub author: Option<String>,
    pub library_name: Option<String>,
    pub downloads: i64,
    pub likes: i64,
    pub sha: Option<String>,
    /// The repo's `.tflite`, `.litertlm` and `.task` files.
    pub model_files: Vec<String>,
    pub in_catalog: bool,
    /// The catalog model mirroring it, when there is one.
    pub catalog_id: Option<Uuid>,
    #[serde(skip)]
    object_id: String,
}

/// Search the Hub for LiteRT repos (public; answers are cached a minute per query). Upstream trouble
/// is a 502 or 503 with a clear detail.
#[utoipa::path(get, path = "/search/huggingface", tag = "sync", params(SearchParams),
    responses(
        (status = 200, body = SearchResponse),
        (status = 400, body = ErrorBody),
        (status = 502, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
async fn search_hub(
    State(state): State<AppState>,
    ApiQuery(p): ApiQuery<SearchParams>,
) -> ApiResult<Json<SearchResponse>> {
    search(&state, p).await.map(Json)
}

/// Search the Hub for LiteRT repos, as `GET /search/huggingface` (the clients' dialect).
#[utoipa::path(get, path = "/search/huggingface", tag = "clients (/api/v1)",
    operation_id = "v1_search_huggingface", params(SearchParams),
    responses(
        (status = 200, body = SearchResponse),
        (status = 400, body = ErrorBody),
        (status = 502, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
async fn search_hub_v1(
    State(state): State<AppState>,
    ApiQuery(p): ApiQuery<SearchParams>,
) -> ApiResult<Json<SearchResponse>> {
    search(&state, p).await.map(Json)
}

async fn search(state: &AppState, p: SearchParams) -> ApiResult<SearchResponse> {
    let query = p.query.trim().to_lowercase();
    if query.chars().count() < 2 {
        return Err(ApiError::BadRequest(
            "Query must be at least 2 characters".into(),
        ));
    }
    if query.chars().count() > 100 {
        return Err(ApiError::BadRequest(
            "Query must be at most 100 characters".into(),
        ));
    }
    let limit = p.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::BadRequest(
            "limit must be between 1 and 100".into(),
        ));
    }
    let fetch = async {
        // An interactive search waits for the Hub's retries only so long.
        tokio::time::timeout(SEARCH_DEADLINE, search_upstream(state, &query))
            .await
            .map_err(|_| {
                ApiError::ServiceUnavailable(
                    "The Hugging Face Hub did not answer in time; try again".into(),
                )
            })?
    };
    let mut hits = state.search_cache.get_or_fill(&query, fetch).await?;
    hits.truncate(limit);
    // Catalog membership is always fresh, even for a cached answer.
    let ids: Vec<String> = hits.iter().map(|h| h.object_id.clone()).collect();
    let known = state.store.synced_models(&ids, &[]).await?;
    for h in &mut hits {
        let model = known.iter().find(|m| {
            m.upstream
                .as_ref()
                .is_some_and(|u| u.object_id == h.object_id)
        });
        h.in_catalog = model.is_some();
        h.catalog_id = model.map(|m| m.id);
    }
    Ok(SearchResponse { results: hits })
}

async fn search_upstream(state: &AppState, query: &str) -> ApiResult<Vec<HubHit>> {
    // A search a user makes: anonymous, so it finds what the Hub shows everyone.
    let hub = state.syncer.public_hub();
    let mut hits: Vec<HubHit> = Vec::new();
    for filter in &state.syncer.config().filters {
        let page = hub
            .list_page(&hub.search_url(filter, query, 100, EXPAND))
            .await
            .map_err(|e| match e {
                crate::hub::HubError::Status { status: 429, .. } => ApiError::ServiceUnavailable(
                    "The Hugging Face Hub is rate limiting us; try again shortly".into(),
                ),
                other => {
                    ApiError::BadGateway(format!("The Hugging Face Hub search failed: {other}"))
                }
            })?;
        for m in page.models {
            let files: Vec<String> = m
                .siblings
                .iter()
                .flatten()
                .map(|s| s.rfilename.clone())
                .collect();
            let Some(object_id) = m.object_id.clone() else {
                continue;
            };
            if m.private == Some(true)
                || has_model_file(Some(&files)) != Some(true)
                || hits.iter().any(|h| h.object_id == object_id)
            {
                continue;
            }
            let description = crate::sync::mapping::card_description(m.card_data.as_ref())
                .filter(|d| !d.trim().is_empty())
                .unwrap_or_else(|| NO_DESCRIPTION.to_string());
            hits.push(HubHit {
                id: m.id.clone(),
                description,
                tags: m.tags.clone(),
                pipeline_tag: m.pipeline_tag.clone(),
                repo_id: m.id,
                author: m.author,
                library_name: m.library_name,
                downloads: m.downloads.unwrap_or(0),
                likes: m.likes.unwrap_or(0),
                sha: m.sha,
                model_files: files
                    .into_iter()
                    .filter(|f| has_model_file(Some(std::slice::from_ref(f))) == Some(true))
                    .collect(),
                in_catalog: false,
                catalog_id: None,
                object_id,
            });
        }
    }
    hits.sort_by(|a, b| {
        b.downloads
            .cmp(&a.downloads)
            .then_with(|| a.repo_id.cmp(&b.repo_id))
    });
    Ok(hits)
}
