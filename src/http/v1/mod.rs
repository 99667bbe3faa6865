//! The `/api/v1` dialect of the Pocket AI clients — the React portal and the Flutter app — as
//! CLIENTS.md gives it: its own request and response shapes (`shapes.rs`) over the same store and
//! rules as the root dialect. `catalog.rs` serves browsing and downloading (flows F1 and F2),
//! `publish.rs` creating models and versions and maintaining pipelines (F5–F7), `telemetry.rs` the
//! app's inference events (F4) and the statistics made from them, `users.rs` accounts, `sync.rs` the
//! admins' sync routes; the Hub search and the import, answered by the same handlers as the root
//! dialect's, are registered here too — every `/api/v1` route is in this file's two routers.
//!
//! Optional-auth routes take a [`Viewer`](super::Viewer), as the root dialect's do.

mod catalog;
mod pipeline;
mod publish;
mod shapes;
mod sync;
mod telemetry;
mod users;

use super::AppState;
use utoipa_axum::router::OpenApiRouter;

pub use super::Viewer;
pub use shapes::{ClientModel, ClientVersion};

/// The routes, relative to `/api/v1`.
pub fn router() -> OpenApiRouter<AppState> {
    catalog::router()
        .merge(publish::router())
        .merge(pipeline::router())
        .merge(telemetry::router())
        .merge(users::router())
        .merge(super::search::v1_router())
}

/// The routes that may wait for a whole sync run (outside the request timeout), relative to `/api/v1`.
pub fn long_router() -> OpenApiRouter<AppState> {
    sync::long_router()
}
