//! Liveness and readiness probes, and the reference backend's health check at `/`.

use super::AppState;
use crate::http::error::{ApiError, ApiResult};
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(root))
        .routes(routes!(livez))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    status: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct Running {
    message: &'static str,
    status: &'static str,
}

/// The reference backend's health check (CLIENTS.md §1.1), word for word: monitors written for it
/// keep working. Touches nothing else.
#[utoipa::path(get, path = "/", tag = "health", responses((status = 200, body = Running)))]
async fn root() -> Json<Running> {
    Json(Running {
        message: "Jacana API is running.",
        status: "ok",
    })
}

/// The process is up. Touches nothing else.
#[utoipa::path(get, path = "/livez", tag = "health", responses((status = 200, body = Health)))]
async fn livez() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// The database answers and its schema is migrated; 503 otherwise.
#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, body = Health),
    (status = 503, body = crate::http::error::ErrorBody),
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

/// Prometheus metrics (text exposition format). Catalog gauges are read from the database at scrape time,
/// so every replica reports the shared state.
#[utoipa::path(get, path = "/metrics", tag = "health", responses((status = 200, content_type = "text/plain", body = String)))]
async fn metrics(State(state): State<AppState>) -> ApiResult<impl axum::response::IntoResponse> {
    let last = state.store.last_success_at().await?;
    let models = state.store.model_counts().await?;
    crate::obs::metrics::set_catalog_gauges(last, &models);
    let body = crate::obs::metrics::handle().render();
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        body,
    ))
}
