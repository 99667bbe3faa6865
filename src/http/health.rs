//! Liveness and readiness probes.

use super::AppState;
use crate::error::{ApiError, ApiResult};
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(livez))
        .routes(routes!(readyz))
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    status: &'static str,
}

/// The process is up. Touches nothing else.
#[utoipa::path(get, path = "/livez", tag = "health", responses((status = 200, body = Health)))]
async fn livez() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// The database answers and its schema is migrated; 503 otherwise.
#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, body = Health),
    (status = 503, body = crate::error::ErrorBody),
))]
async fn readyz(State(state): State<AppState>) -> ApiResult<Json<Health>> {
    match state.store.ready().await {
        Ok(true) => Ok(Json(Health { status: "ready" })),
        Ok(false) => Err(ApiError::ServiceUnavailable(
            "Database migrations are pending".into(),
        )),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            Err(ApiError::ServiceUnavailable(
                "Database is unreachable".into(),
            ))
        }
    }
}
