//! Users in the clients' dialect (CLIENTS.md R20–R23, §3.4). A Supabase user's id is their user id.

use super::ClientModel;
use crate::auth::Caller;
use crate::domain::records::{NewUser, User};
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use crate::http::{ApiJson, ApiPath, ApiQuery, AppState};
use crate::store::{ModelQuery, SortKey};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(create_user))
        .routes(routes!(get_user))
        .routes(routes!(user_models))
}

/// A user (`UserRead`); Hub tokens are never part of it, and the email only for the user themself and
/// for admins (null for anyone else).
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientUser {
    pub id: Uuid,
    pub username: String,
    pub email: Option<String>,
    pub is_developer: bool,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    pub hf_username: Option<String>,
}

impl ClientUser {
    /// `user` as `viewer` may see them: their email only when it is theirs, or to an admin.
    fn seen_by(user: &User, viewer: &User) -> ClientUser {
        let mut shown = ClientUser::from(user);
        if viewer.id != user.id && !viewer.is_admin {
            shown.email = None;
        }
        shown
    }
}

impl From<&User> for ClientUser {
    fn from(u: &User) -> Self {
        ClientUser {
            id: u.id,
            username: u.username.clone(),
            email: Some(u.email.clone()),
            is_developer: u.is_developer,
            created_at: u.created_at,
            hf_username: None,
        }
    }
}

/// The signed-in user.
#[utoipa::path(get, path = "/users/me", tag = "clients (/api/v1)", operation_id = "v1_me",
    security(("bearer" = [])),
    responses((status = 200, body = ClientUser), (status = 401, body = ErrorBody)))]
async fn me(caller: Caller) -> ApiResult<Json<ClientUser>> {
    Ok(Json(caller.user()?.into()))
}

/// The body of `POST /users` (`UserBase`; Hub tokens in it are not stored).
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateUserRequest {
    username: String,
    email: String,
    #[serde(default)]
    is_developer: Option<bool>,
}

/// Create a user (admins: roles are granted here).
#[utoipa::path(post, path = "/users", tag = "clients (/api/v1)", operation_id = "v1_create_user",
    security(("bearer" = [])), request_body = CreateUserRequest,
    responses(
        (status = 201, body = ClientUser),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
    ))]
async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateUserRequest>,
) -> ApiResult<(StatusCode, Json<ClientUser>)> {
    caller.admin()?;
    let username = crate::catalog::checks::check_label("username", &req.username, 200)?;
    let email = crate::catalog::checks::check_label("email", &req.email, 200)?;
    if !email.contains('@') {
        return Err(ApiError::Unprocessable(
            "username and email are required (email with an @, each at most 200 characters)".into(),
        ));
    }
    let created = state
        .store
        .create_user(&NewUser {
            username,
            email,
            is_developer: req.is_developer.unwrap_or(false),
            is_admin: false,
        })
        .await;
    match created {
        Ok(user) => Ok((StatusCode::CREATED, Json((&user).into()))),
        Err(e) if e.is_conflict_on(crate::store::constraint::USERS_EMAIL) => Err(
            ApiError::BadRequest("User with this email already exists".into()),
        ),
        Err(e) => Err(e.into()),
    }
}

async fn find_user(state: &AppState, id: &str) -> ApiResult<User> {
    let id = super::catalog::parse_id(id, "user_id")?;
    state
        .store
        .get_user(id)
        .await?
        .ok_or_else(|| ApiError::NotFound("User not found".into()))
}

/// A user (signed-in callers; the email only to the user themself and to admins).
#[utoipa::path(get, path = "/users/{user_id}", tag = "clients (/api/v1)", operation_id = "v1_get_user",
    security(("bearer" = [])),
    params(("user_id" = Uuid, Path, description = "User id")),
    responses(
        (status = 200, body = ClientUser), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    ))]
async fn get_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(user_id): ApiPath<String>,
) -> ApiResult<Json<ClientUser>> {
    let viewer = caller.user()?;
    let user = find_user(&state, &user_id).await?;
    Ok(Json(ClientUser::seen_by(&user, viewer)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Models to skip (default 0).
    skip: Option<u32>,
    /// Models in the answer, 1 to 1,000 (default 50).
    limit: Option<u32>,
}

/// A user's models (signed-in callers; private ones only to their author), newest first.
#[utoipa::path(get, path = "/users/{user_id}/models", tag = "clients (/api/v1)",
    operation_id = "v1_user_models", security(("bearer" = [])),
    params(("user_id" = Uuid, Path, description = "User id"), PageParams),
    responses(
        (status = 200, body = Vec<ClientModel>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    ))]
async fn user_models(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(user_id): ApiPath<String>,
    ApiQuery(p): ApiQuery<PageParams>,
) -> ApiResult<Json<Vec<ClientModel>>> {
    let viewer = caller.user()?;
    let user = find_user(&state, &user_id).await?;
    let limit = p.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::Unprocessable(
            "limit must be between 1 and 1000".into(),
        ));
    }
    let page = state
        .catalog
        .browse(
            crate::catalog::Looker::user(viewer),
            ModelQuery {
                author_id: Some(user.id),
                sort: SortKey::CreatedAt,
                include_removed: true,
                limit,
                offset: p.skip.unwrap_or(0),
                skip_count: true,
                ..ModelQuery::default()
            },
        )
        .await?;
    Ok(Json(page.items.into_iter().map(Into::into).collect()))
}
