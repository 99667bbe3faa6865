//! The app's inference telemetry (CLIENTS.md R19, §3.5, flow F4) and, beyond the reference, the
//! statistics of a version computed from it.

use super::Viewer;
use crate::auth::Caller;
use crate::domain::records::InferenceEvent;
use crate::domain::stats::VersionStats;
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use crate::http::{ApiJsonAny, ApiPath, AppState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(telemetry_batch))
        .routes(routes!(version_stats))
}

/// One event as the app sends it.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TelemetryEvent {
    pub model_version_id: Uuid,
    pub device_model: String,
    /// `android` or `ios`.
    pub platform: Platform,
    pub total_inference_ms: i64,
    pub success: bool,
    pub task_type: Option<String>,
    pub top_confidence: Option<f64>,
    pub num_results: Option<i64>,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Android,
    Ios,
}

/// The body: the app's `{"stats": [...]}`, or the reference backend's bare array.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum TelemetryBatch {
    Wrapped { stats: Vec<Value> },
    Bare(Vec<Value>),
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// Events stored (those naming an unknown version are skipped).
    pub accepted: usize,
}

const MAX_TEXT: usize = 200;
/// The longest run an event may report: an hour (an LLM's whole generation included).
pub const MAX_INFERENCE_MS: i64 = 3_600_000;
/// The most results one run may report.
pub const MAX_RESULTS: i64 = 100_000;

fn event(i: usize, raw: Value) -> ApiResult<InferenceEvent> {
    let e: TelemetryEvent = serde_json::from_value(raw)
        .map_err(|err| ApiError::Unprocessable(format!("stats[{i}]: {err}")))?;
    for (field, value) in [
        ("device_model", Some(&e.device_model)),
        ("task_type", e.task_type.as_ref()),
    ] {
        if value.is_some_and(|v| v.chars().count() > MAX_TEXT) {
            return Err(ApiError::Unprocessable(format!(
                "stats[{i}].{field} must be at most {MAX_TEXT} characters"
            )));
        }
    }
    if !(0..=MAX_INFERENCE_MS).contains(&e.total_inference_ms) {
        return Err(ApiError::Unprocessable(format!(
            "stats[{i}].total_inference_ms must be 0 to {MAX_INFERENCE_MS} (an hour)"
        )));
    }
    // A probability (a softmax or sigmoid score, or the mean of detection scores).
    if e.top_confidence.is_some_and(|c| !(0.0..=1.0).contains(&c)) {
        return Err(ApiError::Unprocessable(format!(
            "stats[{i}].top_confidence must be between 0 and 1"
        )));
    }
    if e.num_results
        .is_some_and(|n| !(0..=MAX_RESULTS).contains(&n))
    {
        return Err(ApiError::Unprocessable(format!(
            "stats[{i}].num_results must be 0 to {MAX_RESULTS}"
        )));
    }
    Ok(InferenceEvent {
        model_version_id: e.model_version_id,
        device_model: e.device_model,
        platform: match e.platform {
            Platform::Android => "android",
            Platform::Ios => "ios",
        }
        .to_string(),
        total_inference_ms: e.total_inference_ms,
        success: e.success,
        task_type: e.task_type,
        top_confidence: e.top_confidence,
        num_results: e.num_results,
    })
}

/// Record inference runs (signed-in users). Events of versions the caller cannot see (unknown, or of
/// another user's private model) are skipped; at most `POCKET_TELEMETRY_MAX_EVENTS` per call and
/// `POCKET_TELEMETRY_EVENTS_PER_HOUR` per user (429 past it); kept for `POCKET_TELEMETRY_RETENTION`.
/// Bounds: `total_inference_ms` 0 to 3,600,000, `top_confidence` 0 to 1, `num_results` 0 to
/// 100,000, `device_model` and `task_type` at most 200 characters; an event past them is a 422.
#[utoipa::path(post, path = "/telemetry/batch", tag = "clients (/api/v1)", operation_id = "v1_telemetry_batch",
    security(("bearer" = [])), request_body = TelemetryBatch,
    responses(
        (status = 201, body = Accepted),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody),
    ))]
async fn telemetry_batch(
    State(state): State<AppState>,
    caller: Caller,
    ApiJsonAny(batch): ApiJsonAny<TelemetryBatch>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    let user = caller.user()?;
    let raw = match batch {
        TelemetryBatch::Wrapped { stats } | TelemetryBatch::Bare(stats) => stats,
    };
    let max = state.settings.telemetry_max_events as usize;
    if raw.len() > max {
        return Err(ApiError::Unprocessable(format!(
            "at most {max} events per call (got {})",
            raw.len()
        )));
    }
    let events = raw
        .into_iter()
        .enumerate()
        .map(|(i, v)| event(i, v))
        .collect::<ApiResult<Vec<_>>>()?;
    let per_hour = u64::from(state.settings.telemetry_events_per_hour);
    state
        .telemetry
        .admit(user.id, events.len() as u64, per_hour)
        .map_err(|wait| {
            ApiError::TooManyRequests(format!(
                "At most {per_hour} telemetry events an hour; try again in {} minutes",
                wait.as_secs() / 60 + 1
            ))
        })?;
    let now = crate::domain::now();
    let retention = chrono::Duration::from_std(state.settings.telemetry_retention)
        .unwrap_or(chrono::Duration::MAX);
    let expire_before = now
        .checked_sub_signed(retention)
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
    let accepted = state
        .store
        .record_events(
            Some(user.id),
            crate::catalog::Looker::user(user).listing(),
            &events,
            now,
            expire_before,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(Accepted { accepted })))
}

/// How a version runs on people's devices: runs, success rate, p50/p95 inference time, overall and by
/// platform and device model (from its most recent 100,000 events).
#[utoipa::path(get, path = "/versions/{version_id}/stats", tag = "clients (/api/v1)", operation_id = "v1_version_stats",
    params(("version_id" = Uuid, Path, description = "Version id")),
    responses((status = 200, body = VersionStats), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn version_stats(
    State(state): State<AppState>,
    viewer: Viewer,
    ApiPath(version_id): ApiPath<String>,
) -> ApiResult<Json<VersionStats>> {
    let id = super::catalog::parse_id(&version_id, "version_id")?;
    viewer
        .access(&state.store)
        .version(id)
        .await?
        .ok_or_else(|| ApiError::NotFound("Model version not found".into()))?;
    let samples = state.store.version_samples(id).await?;
    Ok(Json(VersionStats::from_samples(&samples)))
}
