//! Ratings in both dialects (issue #34): `PUT`, `GET` and `DELETE /versions/{version_id}/rating` at the
//! root and under `/api/v1` — the same shapes, rules and limit (the catalog's `ratings`).

use super::error::{ApiError, ApiResult, ErrorBody};
use super::{ApiJson, ApiPath, AppState};
use crate::auth::Caller;
use crate::store::RatingTotals;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

/// Rating writes (giving or removing) one user may make per hour, on each replica.
pub const RATINGS_PER_HOUR: u64 = 120;

/// The root dialect's routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(rate, my_rating, unrate))
}

/// The same routes, relative to `/api/v1`.
pub fn v1_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(v1_rate, v1_my_rating, v1_unrate))
}

/// A rating to give.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingRequest {
    /// 1 to 5.
    stars: i64,
}

/// The version's and its model's ratings after a rating was given.
#[derive(Debug, Serialize, ToSchema)]
pub struct RatingResult {
    version_id: Uuid,
    /// What the caller gave.
    stars: i64,
    /// The version's ratings and their mean.
    num_ratings: i64,
    rating_avg: f64,
    /// The model's ratings, over all its versions, and their Bayesian average (as if five more
    /// people had given 3 stars: one 5-star rating cannot put a model at the top).
    model_total_ratings: i64,
    model_rating_weighted_avg: f64,
}

/// The caller's own rating of a version: `stars` and `rated_at` are null when they have not rated it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyRating {
    version_id: Uuid,
    stars: Option<i64>,
    rated_at: Option<DateTime<Utc>>,
}

fn version_id(raw: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| ApiError::Unprocessable("version_id must be a UUID".into()))
}

/// Counts one rating write of `caller`, or says when they may write again.
fn admit(state: &AppState, user: Uuid) -> ApiResult<()> {
    state
        .ratings
        .admit(user, 1, RATINGS_PER_HOUR)
        .map_err(|wait| {
            ApiError::TooManyRequests(format!(
                "At most {RATINGS_PER_HOUR} ratings an hour; try again in {} minutes",
                wait.as_secs() / 60 + 1
            ))
        })
}

async fn put(state: &AppState, caller: &Caller, raw: &str, stars: i64) -> ApiResult<RatingResult> {
    let user = caller.user()?;
    let id = version_id(raw)?;
    admit(state, user.id)?;
    let totals: RatingTotals = state.catalog.rate(user, id, stars).await?;
    state.catalog_changed();
    Ok(RatingResult {
        version_id: id,
        stars,
        num_ratings: totals.num_ratings,
        rating_avg: totals.rating_avg,
        model_total_ratings: totals.model_total_ratings,
        model_rating_weighted_avg: totals.model_rating_weighted_avg,
    })
}

async fn get(state: &AppState, caller: &Caller, raw: &str) -> ApiResult<MyRating> {
    let user = caller.user()?;
    let id = version_id(raw)?;
    let rating = state.catalog.my_rating(user, id).await?;
    Ok(MyRating {
        version_id: id,
        stars: rating.map(|r| r.stars),
        rated_at: rating.map(|r| r.rated_at),
    })
}

async fn delete(state: &AppState, caller: &Caller, raw: &str) -> ApiResult<StatusCode> {
    let user = caller.user()?;
    let id = version_id(raw)?;
    admit(state, user.id)?;
    state.catalog.unrate(user, id).await?;
    state.catalog_changed();
    Ok(StatusCode::NO_CONTENT)
}

/// Rate a version you may see, 1 to 5 stars; rating it again replaces your rating. The version's and
/// its model's averages follow at once. At most 120 rating writes an hour.
#[utoipa::path(put, path = "/versions/{version_id}/rating", tag = "versions",
    security(("bearer" = [])), request_body = RatingRequest,
    params(("version_id" = Uuid, Path, description = "Version id")),
    responses((status = 200, body = RatingResult),
        (status = 400, body = ErrorBody, description = "Malformed JSON or not `application/json`"),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn rate(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<RatingRequest>,
) -> ApiResult<Json<RatingResult>> {
    Ok(Json(put(&state, &caller, &id, req.stars).await?))
}

/// Your own rating of a version (`stars` null when you have not rated it).
#[utoipa::path(get, path = "/versions/{version_id}/rating", tag = "versions",
    security(("bearer" = [])),
    params(("version_id" = Uuid, Path, description = "Version id")),
    responses((status = 200, body = MyRating), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn my_rating(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<MyRating>> {
    Ok(Json(get(&state, &caller, &id).await?))
}

/// Remove your rating of a version (nothing to remove is not an error).
#[utoipa::path(delete, path = "/versions/{version_id}/rating", tag = "versions",
    security(("bearer" = [])),
    params(("version_id" = Uuid, Path, description = "Version id")),
    responses((status = 204, description = "Removed"), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn unrate(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    delete(&state, &caller, &id).await
}

/// Rate a version you may see, 1 to 5 stars; rating it again replaces your rating. The version's
/// `num_ratings`/`rating_avg` and its model's `total_ratings`/`rating_weighted_avg` follow at once.
#[utoipa::path(put, path = "/versions/{version_id}/rating", tag = "clients (/api/v1)",
    operation_id = "v1_rate_version", security(("bearer" = [])), request_body = RatingRequest,
    params(("version_id" = Uuid, Path, description = "Version id")),
    responses((status = 200, body = RatingResult),
        (status = 400, body = ErrorBody, description = "Malformed JSON or not `application/json`"),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn v1_rate(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(version_id): ApiPath<String>,
    ApiJson(req): ApiJson<RatingRequest>,
) -> ApiResult<Json<RatingResult>> {
    Ok(Json(put(&state, &caller, &version_id, req.stars).await?))
}

/// Your own rating of a version (`stars` null when you have not rated it).
#[utoipa::path(get, path = "/versions/{version_id}/rating", tag = "clients (/api/v1)",
    operation_id = "v1_my_rating", security(("bearer" = [])),
    params(("version_id" = Uuid, Path, description = "Version id")),
    responses((status = 200, body = MyRating), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn v1_my_rating(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(version_id): ApiPath<String>,
) -> ApiResult<Json<MyRating>> {
    Ok(Json(get(&state, &caller, &version_id).await?))
}

/// Remove your rating of a version (nothing to remove is not an error).
#[utoipa::path(delete, path = "/versions/{version_id}/rating", tag = "clients (/api/v1)",
    operation_id = "v1_unrate_version", security(("bearer" = [])),
    params(("version_id" = Uuid, Path, description = "Version id")),
    responses((status = 204, description = "Removed"), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn v1_unrate(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(version_id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    delete(&state, &caller, &version_id).await
}
