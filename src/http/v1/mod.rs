//! The `/api/v1` dialect of the Pocket AI clients — the React portal and the Flutter app — as
//! CLIENTS.md gives it: its own request and response shapes (`shapes.rs`) over the same store and
//! rules as the root dialect. `catalog.rs` serves browsing and downloading (flows F1 and F2),
//! `publish.rs` creating models and versions and maintaining pipelines (F5–F7), `telemetry.rs` the
//! app's inference events (F4) and the statistics made from them, `users.rs` accounts, `sync.rs` the
//! admins' sync routes.
//!
//! Optional-auth routes take a [`Viewer`]: a token that cannot be verified makes the caller anonymous
//! (counted in `pocket_auth_degraded_to_anonymous_total`) instead of a 401, because the portal sends its
//! token on public routes too.

mod catalog;
mod publish;
mod shapes;
mod sync;
mod telemetry;
mod users;

use super::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::records::User;
use axum::extract::FromRequestParts;
use utoipa_axum::router::OpenApiRouter;

pub use shapes::{ClientModel, ClientVersion};

/// The routes, relative to `/api/v1`.
pub fn router() -> OpenApiRouter<AppState> {
    catalog::router()
        .merge(publish::router())
        .merge(telemetry::router())
        .merge(users::router())
}

/// The routes that may wait for a whole sync run (outside the request timeout), relative to `/api/v1`.
pub fn long_router() -> OpenApiRouter<AppState> {
    sync::long_router()
}

/// Who is looking, on a route where signing in only widens what is visible: the signed-in user, or
/// nobody — never a refusal.
pub struct Viewer(pub Option<User>);

impl Viewer {
    pub fn id(&self) -> Option<uuid::Uuid> {
        self.0.as_ref().map(|u| u.id)
    }

    /// Whether this viewer may see `model` (public, or their own).
    pub fn sees(&self, model: &crate::records::Model) -> bool {
        model.is_public || self.id() == Some(model.author_id)
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match Caller::from_request_parts(parts, state).await {
            Ok(Caller(user)) => Ok(Viewer(user)),
            Err(ApiError::Unauthorized(_) | ApiError::TooManyRequests(_)) => {
                crate::metrics::auth_degraded();
                Ok(Viewer(None))
            }
            Err(other) => Err(other),
        }
    }
}
