//! Accounts: who am I.

use super::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::records::User;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(me))
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
    (status = 401, body = crate::error::ErrorBody),
))]
async fn me(caller: Caller) -> ApiResult<Json<UserResponse>> {
    Ok(Json(caller.user()?.into()))
}
