//! Incoming Hugging Face Hub webhooks: a model repo changed, so refresh that one repo now. The shared
//! secret arrives in `X-Webhook-Secret` and is compared in constant time; payloads are read tolerantly.

use super::AppState;
use crate::domain::RepoId;
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use crate::sync::queue::Enqueued;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use secrecy::ExposeSecret;
use serde::Serialize;
use serde_json::Value;
use subtle::ConstantTimeEq;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(hub_webhook))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAccepted {
    /// `queued`, `duplicate` (collapsed into a pending refresh) or `ignored` (not a model repo event).
    pub status: &'static str,
    pub repo: Option<String>,
}

/// What a webhook payload asks for: the repo to refresh and its head commit.
fn refresh_target(payload: &Value) -> Result<Option<(String, Option<String>)>, String> {
    let event = payload.get("event").ok_or("missing `event`")?;
    let scope = event.get("scope").and_then(Value::as_str).unwrap_or("");
    let action = event.get("action").and_then(Value::as_str).unwrap_or("");
    let repo = payload.get("repo").ok_or("missing `repo`")?;
    let kind = repo.get("type").and_then(Value::as_str).unwrap_or("model");
    if kind != "model"
        || !(scope == "repo"
            || scope.starts_with("repo.content")
            || scope.starts_with("repo.config"))
    {
        return Ok(None);
    }
    let moved_to = payload
        .get("movedTo")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str);
    let name = match (action, moved_to) {
        ("move", Some(new)) => new,
        _ => repo
            .get("name")
            .and_then(Value::as_str)
            .ok_or("missing `repo.name`")?,
    };
    let id: RepoId = name.parse().map_err(|e: crate::domain::InvalidValue| e.0)?;
    let sha = repo
        .get("headSha")
        .or_else(|| repo.get("head_sha"))
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(Some((id.to_string(), sha)))
}

/// Receive a Hub webhook (model repos: content updates, create/update/move/delete, config changes) and
/// queue a refresh of that repo. Answers 202 at once. Disabled (404) unless `HF_WEBHOOK_SECRET` is set.
#[utoipa::path(post, path = "/webhooks/huggingface", tag = "sync",
    params(("X-Webhook-Secret" = String, Header, description = "The secret configured on the Hub webhook")),
    request_body(content = Object, description = "The Hub's webhook payload"),
    responses(
        (status = 202, body = WebhookAccepted),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ))]
async fn hub_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<WebhookAccepted>)> {
    let Some(secret) = state.settings.webhook_secret.clone() else {
        return Err(ApiError::NotFound(
            "Hub webhooks are not enabled (set HF_WEBHOOK_SECRET)".into(),
        ));
    };
    let given = headers
        .get("x-webhook-secret")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !bool::from(given.ct_eq(secret.expose_secret().as_bytes())) {
        crate::obs::metrics::webhook_event("unauthorized");
        return Err(ApiError::Unauthorized("Invalid webhook secret".into()));
    }
    let payload: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("payload is not JSON: {e}")))?;
    let target = refresh_target(&payload)
        .map_err(|e| ApiError::BadRequest(format!("unreadable webhook payload: {e}")))?;
    let Some((repo, sha)) = target else {
        crate::obs::metrics::webhook_event("ignored");
        return Ok((
            StatusCode::ACCEPTED,
            Json(WebhookAccepted {
                status: "ignored",
                repo: None,
            }),
        ));
    };
    let status = match state.refresh.push(repo.clone(), sha) {
        Enqueued::Queued => "queued",
        Enqueued::Duplicate => "duplicate",
    };
    crate::obs::metrics::webhook_event(status);
    tracing::info!(repo, status, "Hub webhook received");
    Ok((
        StatusCode::ACCEPTED,
        Json(WebhookAccepted {
            status,
            repo: Some(repo),
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn payloads_are_read_tolerantly() {
        let update = json!({"event": {"action": "update", "scope": "repo.content"},
            "repo": {"type": "model", "name": "litert-community/Gemma", "id": "x", "headSha": "abc"},
            "webhook": {"id": "w", "version": 3}, "unknown": [1, 2]});
        assert_eq!(
            refresh_target(&update).unwrap(),
            Some(("litert-community/Gemma".into(), Some("abc".into())))
        );
        let snake = json!({"event": {"action": "create", "scope": "repo"}, "repo": {"name": "o/m", "head_sha": "def"}});
        assert_eq!(
            refresh_target(&snake).unwrap(),
            Some(("o/m".into(), Some("def".into())))
        );
        let moved = json!({"event": {"action": "move", "scope": "repo"}, "repo": {"type": "model", "name": "o/old"}, "movedTo": {"name": "o/new"}});
        assert_eq!(
            refresh_target(&moved).unwrap(),
            Some(("o/new".into(), None))
        );
        let dataset = json!({"event": {"action": "update", "scope": "repo.content"}, "repo": {"type": "dataset", "name": "o/d"}});
        assert_eq!(refresh_target(&dataset).unwrap(), None);
        let discussion = json!({"event": {"action": "create", "scope": "discussion"}, "repo": {"type": "model", "name": "o/m"}});
        assert_eq!(refresh_target(&discussion).unwrap(), None);
        assert!(refresh_target(&json!({"repo": {}})).is_err());
        assert!(
            refresh_target(&json!({"event": {"scope": "repo"}, "repo": {"name": "../etc"}}))
                .is_err()
        );
    }
}
