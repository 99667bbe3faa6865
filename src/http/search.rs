//! Hub search for the portal's import flow: repos matching a query that contain LiteRT files, with
//! whether each is already in the catalog. Answers are cached briefly so a typing user costs few Hub
//! requests; the Hub client paces itself within the rate limit.

use super::{ApiQuery, AppState};
use crate::catalog::search::HubHit;
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search_hub))
}

/// The same search in the clients' dialect (`/api/v1/search/huggingface`): the same answer.
pub fn v1_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search_hub_v1))
}

pub const SEARCH_CACHE_TTL: Duration = Duration::from_secs(60);
const SEARCH_DEADLINE: Duration = Duration::from_secs(10);
pub const SEARCH_CACHE_ENTRIES: usize = 512;

/// Recent Hub answers by normalised query: [`SEARCH_CACHE_TTL`], at most [`SEARCH_CACHE_ENTRIES`].
pub type SearchCache = super::cache::TtlCache<Vec<HubHit>>;

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
        tokio::time::timeout(SEARCH_DEADLINE, state.catalog.search_hub(&query))
            .await
            .map_err(|_| {
                ApiError::ServiceUnavailable(
                    "The Hugging Face Hub did not answer in time; try again".into(),
                )
            })?
            .map_err(ApiError::from)
    };
    let mut hits = state.search_cache.get_or_fill(&query, fetch).await?;
    hits.truncate(limit);
    // Catalog membership is always fresh, even for a cached answer.
    state.catalog.mark_in_catalog(&mut hits).await?;
    Ok(SearchResponse { results: hits })
}
