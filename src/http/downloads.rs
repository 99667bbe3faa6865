//! Downloads: a redirect to an asset's pinned URL, counted on the version and the model.

use super::{ApiPath, AppState};
use crate::error::{ApiError, ApiResult, ErrorBody};
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(download))
}

/// Download an asset: 307 to its pinned URL; the download is counted on the version and its model.
/// An `asset_key` with `/` in it is sent URL-encoded (`%2F`).
#[utoipa::path(get, path = "/versions/{version_id}/download/{asset_key}", tag = "models",
    params(
        ("version_id" = Uuid, Path, description = "Version id"),
        ("asset_key" = String, Path, description = "The asset's key (its file path), URL-encoded"),
    ),
    responses(
        (status = 307, description = "Redirect to the asset", headers(("Location" = String))),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
    ))]
async fn download(
    State(state): State<AppState>,
    _viewer: super::Viewer,
    ApiPath((version_id, asset_key)): ApiPath<(String, String)>,
) -> ApiResult<Response> {
    let version_id = Uuid::parse_str(&version_id)
        .map_err(|_| ApiError::BadRequest("version_id must be a UUID".into()))?;
    if asset_key.is_empty() || asset_key.len() > 500 {
        return Err(ApiError::BadRequest(
            "asset_key must be 1 to 500 characters".into(),
        ));
    }
    let url = state
        .store
        .count_download(version_id, &asset_key)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!("No asset '{asset_key}' in version {version_id}"))
        })?;
    redirect(&url)
}

/// A 307 to an asset's URL (both dialects' downloads).
pub(super) fn redirect(url: &str) -> ApiResult<Response> {
    let location = HeaderValue::from_str(url)
        .map_err(|_| ApiError::Internal(anyhow::anyhow!("asset URL is not a header value")))?;
    Ok((
        StatusCode::TEMPORARY_REDIRECT,
        [(header::LOCATION, location)],
    )
        .into_response())
}
