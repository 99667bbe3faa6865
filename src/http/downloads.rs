//! Downloads: a redirect to an asset's pinned URL, counted on the version and the model; and the
//! files this service hosts itself (label files extracted from models), served from the store at
//! `/files/{sha256}/{name}`.

use super::{ApiPath, AppState};
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(download))
        .routes(routes!(hosted_file))
        .routes(routes!(hosted_file_named))
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
    super::Downloader(viewer, client): super::Downloader,
    ApiPath((version_id, asset_key)): ApiPath<(String, String)>,
) -> ApiResult<Response> {
    let version_id = Uuid::parse_str(&version_id)
        .map_err(|_| ApiError::BadRequest("version_id must be a UUID".into()))?;
    if asset_key.is_empty() || asset_key.len() > 500 {
        return Err(ApiError::BadRequest(
            "asset_key must be 1 to 500 characters".into(),
        ));
    }
    let missing = || ApiError::NotFound(format!("No asset '{asset_key}' in version {version_id}"));
    let (version, _) = viewer
        .access(&state.store)
        .version(version_id)
        .await?
        .ok_or_else(missing)?;
    let asset = version
        .assets
        .iter()
        .find(|a| a.asset_key == asset_key)
        .ok_or_else(missing)?;
    state.store.count_download(version.id, &client.0).await?;
    redirect(&asset.url_under(&state.public_url))
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

/// A file this service hosts (a label file extracted from a model), by the SHA-256 of its content: for
/// whoever may see a version that names it (a private model's file is its owner's); it never changes.
#[utoipa::path(get, path = "/files/{sha256}", tag = "models",
    params(("sha256" = String, Path, description = "SHA-256 of the content, hex")),
    responses(
        (status = 200, description = "The file's bytes", content_type = "text/plain"),
        (status = 404, body = ErrorBody),
    ))]
async fn hosted_file(
    State(state): State<AppState>,
    viewer: super::Viewer,
    ApiPath(sha256): ApiPath<String>,
) -> ApiResult<Response> {
    serve_visible(&state, &viewer, &sha256).await
}

/// The same file under its name (the URL the version's `labels` asset holds).
#[utoipa::path(get, path = "/files/{sha256}/{name}", tag = "models",
    params(
        ("sha256" = String, Path, description = "SHA-256 of the content, hex"),
        ("name" = String, Path, description = "The file's name (informative)"),
    ),
    responses(
        (status = 200, description = "The file's bytes", content_type = "text/plain"),
        (status = 404, body = ErrorBody),
    ))]
async fn hosted_file_named(
    State(state): State<AppState>,
    viewer: super::Viewer,
    ApiPath((sha256, _name)): ApiPath<(String, String)>,
) -> ApiResult<Response> {
    serve_visible(&state, &viewer, &sha256).await
}

/// The hosted file with this content hash, if `viewer` may see a version that names it.
async fn serve_visible(
    state: &AppState,
    viewer: &super::Viewer,
    sha256: &str,
) -> ApiResult<Response> {
    let sha256 = sha256.to_ascii_lowercase();
    if !viewer.access(&state.store).hosted_file(&sha256).await? {
        return Err(ApiError::NotFound("File not found.".into()));
    }
    serve_hosted(state, &sha256).await
}

/// The hosted file with this content hash, as a response.
pub(super) async fn serve_hosted(state: &AppState, sha256: &str) -> ApiResult<Response> {
    let not_found = || ApiError::NotFound("File not found.".into());
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(not_found());
    }
    let file = state
        .store
        .hosted_file(&sha256.to_ascii_lowercase())
        .await?
        .ok_or_else(not_found)?;
    let name: String = file
        .name
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_graphic() && *c != '"' && *c != '\\')
        .collect();
    let disposition = HeaderValue::from_str(&format!("inline; filename=\"{name}\""))
        .unwrap_or(HeaderValue::from_static("inline"));
    Ok((
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=31536000, immutable"),
            ),
            (
                header::ETAG,
                HeaderValue::from_str(&format!("\"{}\"", sha256.to_ascii_lowercase()))
                    .expect("hex is a header value"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        file.content,
    )
        .into_response())
}
