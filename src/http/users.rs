//! Accounts: who am I.

use super::AppState;
use crate::auth::Caller;
use crate::domain::records::User;
use crate::http::error::ApiResult;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(user_models))
}

/// A user as the API shows it. No secret is ever part of it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    pub id: Uuid,
    pub username: String,
    pub email: String,
    pub is_developer: bool,
    pub is_admin: bool,
    pub created_at: DateTime<Utc>,
}

impl From<&User> for UserResponse {
    fn from(u: &User) -> Self {
        UserResponse {
            id: u.id,
            username: u.username.clone(),
            email: u.email.clone(),
            is_developer: u.is_developer,
            is_admin: u.is_admin,
            created_at: u.created_at,
        }
    }
}

/// The signed-in user.
#[utoipa::path(get, path = "/users/me", tag = "users", security(("bearer" = [])), responses(
    (status = 200, body = UserResponse),
    (status = 401, body = crate::http::error::ErrorBody),
))]
async fn me(caller: Caller) -> ApiResult<Json<UserResponse>> {
    Ok(Json(caller.user()?.into()))
}

/// The models a user published (for the system user `hf_sync_system`: every mirrored model). Same
/// parameters, pagination and headers as `GET /models`.
#[utoipa::path(get, path = "/users/{user_id}/models", tag = "users",
    params(("user_id" = Uuid, Path, description = "User id"), super::models::ListModelsParams),
    responses(
        (status = 200, body = Vec<super::models::ModelResponse>),
        (status = 400, body = crate::http::error::ErrorBody), (status = 404, body = crate::http::error::ErrorBody),
    ))]
async fn user_models(
    axum::extract::State(state): axum::extract::State<AppState>,
    revision: Option<axum::Extension<super::conditional::CatalogRevision>>,
    viewer: super::Viewer,
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
    super::ApiPath(user_id): super::ApiPath<String>,
    super::ApiQuery(p): super::ApiQuery<super::models::ListModelsParams>,
) -> ApiResult<impl axum::response::IntoResponse> {
    let user_id = Uuid::parse_str(&user_id)
        .map_err(|_| crate::http::error::ApiError::BadRequest("user_id must be a UUID".into()))?;
    if state.store.get_user(user_id).await?.is_none() {
        return Err(crate::http::error::ApiError::NotFound(format!(
            "User {user_id} not found"
        )));
    }
    let revision = revision.map(|r| r.0);
    super::models::list_page(&state, &uri, p, Some(user_id), &viewer, revision).await
}
