//! The HTTP API: shared state, the router with its OpenAPI document and docs page, the middleware stack
//! (request ids, tracing with secrets redacted, CORS, timeouts, body limits) and the extractors that turn
//! malformed input into `{"detail": ...}` errors. Each resource lives in its own file.

mod admin;
mod cache;
pub(crate) mod conditional;
pub mod cursor;
mod dashboard;
mod downloads;
pub mod error;
mod health;
mod imports;
mod limits;
mod models;
mod ratings;
mod search;
pub(crate) mod sync;
mod users;
mod v1;
mod versions;
mod webhooks;

use crate::http::error::{ApiError, ErrorBody};
use crate::schedule::Scheduler;
use crate::store::Store;
use crate::sync::queue::RefreshQueue;
use crate::sync::Syncer;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts};
use axum::http::{header, HeaderName, HeaderValue, Method, Request, StatusCode};
use axum::Router;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnFailure, DefaultOnResponse, TraceLayer};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

/// What the HTTP layer reads of the configuration: plain values, made by the composition root.
#[derive(Debug, Clone)]
pub struct Settings {
    pub request_timeout: std::time::Duration,
    /// The longest a manual sync request waits for its run before answering 202.
    pub sync_wait: std::time::Duration,
    pub max_body_bytes: u64,
    /// Origins allowed by CORS (`*` for any).
    pub cors_origins: Vec<String>,
    /// Ad-hoc imports a user may start per hour.
    pub imports_per_hour: u32,
    /// Events in one telemetry request.
    pub telemetry_max_events: u32,
    /// Telemetry events a user may send per hour.
    pub telemetry_events_per_hour: u32,
    /// How long telemetry events are kept.
    pub telemetry_retention: std::time::Duration,
    /// The secret Hub webhooks must present; none refuses them.
    pub webhook_secret: Option<secrecy::SecretString>,
}

pub use cache::CachedPage;
pub use cache::TtlCache;
pub use limits::WindowLimiter;
pub use search::{SEARCH_CACHE_ENTRIES, SEARCH_CACHE_TTL};

/// Handles shared by every request, behind one `Arc`: axum clones the state for every request, and a
/// clone of the handles themselves (the store, the syncer twice, the caches, …) would be dozens of
/// reference counts bumped on cache lines both cores share.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] holds; built by the composition root.
pub struct Shared {
    pub store: Store,
    /// The operations both dialects share.
    pub catalog: crate::catalog::Catalog,
    /// The URL clients reach this service at (configured, or the listener's): links to the files it
    /// hosts are made under it when answering.
    pub public_url: Arc<url::Url>,
    pub settings: Arc<Settings>,
    pub syncer: Syncer,
    pub scheduler: Scheduler,
    /// Single-repo refreshes asked for by Hub webhooks.
    pub refresh: RefreshQueue,
    pub search_cache: search::SearchCache,
    /// `X-Total-Count` by the catalogue's revision and filter combination.
    pub counts: TtlCache<i64>,
    /// Whole `GET /models` pages by URL, at most `POCKET_LIST_CACHE_MS` old.
    pub pages: TtlCache<CachedPage>,
    /// `GET /models/{id}` answers by id or slug, as old as the pages at most.
    pub details: TtlCache<CachedPage>,
    /// API tokens, Supabase access tokens (when configured) and the throttle of failures.
    pub auth: crate::auth::Authenticator,
    /// Background work (sync runs) that shutdown waits for.
    pub tasks: TaskTracker,
    /// Cancelled when the service shuts down; background work stops at its next safe point.
    pub shutdown: CancellationToken,
    /// Users' ad-hoc imports in the last hour.
    pub imports: WindowLimiter,
    /// Users' telemetry events in the last hour.
    pub telemetry: WindowLimiter,
    /// Users' rating writes in the last hour.
    pub ratings: WindowLimiter,
}

impl Shared {
    /// This replica changed the catalog: cached pages and counts are dropped, so its next reads show it.
    pub fn catalog_changed(&self) {
        self.pages.clear();
        self.details.clear();
        self.counts.clear();
    }
}

/// Every handler's caller, told by the [`crate::auth::Authenticator`] from the `Authorization` header and
/// the client's socket address.
impl FromRequestParts<AppState> for crate::auth::Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let client = client_address(parts);
        state
            .auth
            .caller(parts.headers.get(header::AUTHORIZATION), &client)
            .await
            .map_err(ApiError::from)
    }
}

/// Who is looking, on a route where signing in only widens what is visible (both dialects' public
/// routes): the signed-in user, or nobody — never a refusal. A token that cannot be verified makes the
/// caller anonymous (counted in `pocket_auth_degraded_to_anonymous_total`) instead of a 401, because the
/// portal sends its token on public routes too.
pub struct Viewer(pub Option<crate::domain::records::User>);

impl Viewer {
    pub fn id(&self) -> Option<uuid::Uuid> {
        self.0.as_ref().map(|u| u.id)
    }

    /// Who is looking, for the visibility rule ([`crate::catalog::visibility`]).
    pub fn looker(&self) -> crate::catalog::Looker<'_> {
        crate::catalog::Looker(self.0.as_ref())
    }

    /// The catalog as this viewer may see it.
    pub fn access<'a>(&'a self, store: &'a Store) -> crate::catalog::Access<'a> {
        crate::catalog::Access::new(store, self.looker())
    }
}

/// Who downloads, for counting a download once per client and version per hour
/// ([`crate::store::DOWNLOAD_WINDOW`]): the SHA-256 of the signed-in user's id, else of the client's
/// socket address (never the address itself).
pub struct ClientKey(pub String);

impl ClientKey {
    pub fn of(viewer: &Viewer, parts: &axum::http::request::Parts) -> ClientKey {
        use sha2::Digest;
        let who = match viewer.id() {
            Some(id) => format!("user:{id}"),
            None => format!("addr:{}", client_address(parts)),
        };
        ClientKey(hex::encode(sha2::Sha256::digest(who.as_bytes())))
    }
}

/// The client's socket address (no forwarded-for header: that is the client's to forge).
fn client_address(parts: &axum::http::request::Parts) -> String {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map_or_else(|| "unknown".to_string(), |c| c.0.ip().to_string())
}

/// A viewer and their [`ClientKey`], for the download routes.
pub struct Downloader(pub Viewer, pub ClientKey);

impl FromRequestParts<AppState> for Downloader {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let viewer = Viewer::from_request_parts(parts, state).await?;
        let key = ClientKey::of(&viewer, parts);
        Ok(Downloader(viewer, key))
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match crate::auth::Caller::from_request_parts(parts, state).await {
            Ok(crate::auth::Caller(user)) => Ok(Viewer(user)),
            Err(ApiError::Unauthorized(_) | ApiError::TooManyRequests(_)) => {
                crate::obs::metrics::auth_degraded();
                Ok(Viewer(None))
            }
            Err(other) => Err(other),
        }
    }
}

/// A JSON object body whose rejections are API errors: not `application/json`, malformed or too large
/// → 400/413; not an object, or holding a control character (NUL, C0, C1 — tab, newline and carriage
/// return aside) in any string → 422, before any of it reaches a handler.
pub struct ApiJson<T>(pub T);

/// A JSON body that may be an array as well as an object (the telemetry batch's two forms), checked
/// as [`ApiJson`] checks one.
pub struct ApiJsonAny<T>(pub T);

/// The body as JSON, its text checked; `object` refuses anything but an object.
async fn checked_json<T: serde::de::DeserializeOwned>(
    req: axum::extract::Request,
    object: bool,
) -> Result<T, ApiError> {
    let axum::Json(value) = axum::Json::<serde_json::Value>::from_request(req, &()).await?;
    if !(value.is_object() || (!object && value.is_array())) {
        let wanted = if object { "object" } else { "object or array" };
        return Err(ApiError::Unprocessable(format!(
            "The request body must be a JSON {wanted}"
        )));
    }
    if let Some((at, c)) = crate::domain::text::refused_in_json(&value) {
        return Err(ApiError::Unprocessable(format!(
            "{at}: control characters such as {} are not allowed in text",
            crate::domain::text::shown(c)
        )));
    }
    // The failing field's path leads the message (`name: invalid type …`).
    serde_path_to_error::deserialize(value).map_err(|e| {
        ApiError::Unprocessable(format!(
            "Failed to deserialize the JSON body into the target type: {e}"
        ))
    })
}

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, _: &S) -> Result<Self, ApiError> {
        checked_json(req, true).await.map(ApiJson)
    }
}

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJsonAny<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, _: &S) -> Result<Self, ApiError> {
        checked_json(req, false).await.map(ApiJsonAny)
    }
}

/// Refuses a query string or path whose decoded text holds a control character (422).
fn check_decoded(what: &str, raw: &str) -> Result<(), ApiError> {
    let decoded = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
    match crate::domain::text::first_refused(&decoded, false) {
        Some(c) => Err(ApiError::Unprocessable(format!(
            "control characters such as {} are not allowed in the {what}",
            crate::domain::text::shown(c)
        ))),
        None => Ok(()),
    }
}

/// A query string whose rejections are API errors; control characters in it are a 422.
pub struct ApiQuery<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        check_decoded("query string", &query.replace('+', " "))?;
        let axum::extract::Query(value) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(ApiQuery(value))
    }
}

/// Path parameters whose rejections are API errors; control characters in them are a 422.
pub struct ApiPath<T>(pub T);

impl<T: serde::de::DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        check_decoded("path", parts.uri.path())?;
        let axum::extract::Path(value) =
            axum::extract::Path::<T>::from_request_parts(parts, state).await?;
        Ok(ApiPath(value))
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(OpenApi)]
#[openapi(
    info(title = "Pocket Catalog API", description = "The Pocket AI model catalog, with every public LiteRT model of the Hugging Face Hub mirrored into it."),
    modifiers(&BearerAuth),
    components(schemas(ErrorBody, crate::store::SortKey)),
    tags(
        (name = "models", description = "The model catalog"),
        (name = "users", description = "Accounts"),
        (name = "sync", description = "The Hugging Face LiteRT mirror (admins)"),
        (name = "admin", description = "Operations (admins)"),
        (name = "health", description = "Probes"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token (`pcat_…`) from `pocket-catalog token create`",
                    ))
                    .build(),
            ),
        );
    }
}

/// The API routes and their OpenAPI document, before middleware: the routes under the request
/// timeout, and those that may wait for a whole sync run.
pub fn api() -> (Router<AppState>, Router<AppState>, utoipa::openapi::OpenApi) {
    let (timed, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::router())
        .merge(models::router())
        .merge(versions::router())
        .merge(users::router())
        .merge(sync::router())
        .merge(admin::router())
        .merge(webhooks::router())
        .merge(downloads::router())
        .merge(search::router())
        .merge(ratings::router())
        .nest("/api/v1", v1::router().merge(ratings::v1_router()))
        .split_for_parts();
    let (long, long_doc) = sync::long_router()
        .merge(imports::router())
        .nest("/api/v1", v1::long_router())
        .split_for_parts();
    openapi.merge(long_doc);
    document_refused_text(&mut openapi);
    (timed, long, openapi)
}

/// Every operation that takes a path, a query or a body may answer 422 for text with control
/// characters in it ([`ApiPath`], [`ApiQuery`], [`ApiJson`]): the document says so once, here.
fn document_refused_text(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let refused = ResponseBuilder::new()
        .description(
            "Malformed input: text with control characters, a body that is not a JSON object",
        )
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build();
    for item in openapi.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.patch,
            &mut item.put,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            let takes_input =
                op.parameters.as_ref().is_some_and(|p| !p.is_empty()) || op.request_body.is_some();
            if takes_input {
                op.responses
                    .responses
                    .entry("422".to_string())
                    .or_insert_with(|| refused.clone().into());
            }
        }
    }
}

/// The complete application: routes, docs and middleware.
pub fn app(state: AppState) -> Router {
    let (routes, long_routes, openapi) = api();
    let config = state.settings.clone();
    let request_id = REQUEST_ID;
    let trace = TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
        let id = req
            .headers()
            .get(&REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        tracing::info_span!("request", method = %req.method(), uri = %req.uri().path(), request_id = %id)
    })
    .on_response(DefaultOnResponse::new().level(tracing::Level::INFO))
    .on_failure(DefaultOnFailure::new().level(tracing::Level::WARN));
    let timeout =
        TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, config.request_timeout);
    routes
        .layer(timeout)
        .merge(long_routes)
        .route_layer(axum::middleware::from_fn(track_metrics))
        .merge(dashboard::router())
        .merge(SwaggerUi::new("/docs").url("/openapi.json", openapi))
        .fallback(|| async { ApiError::NotFound("Not found".into()) })
        .method_not_allowed_fallback(|| async {
            (
                StatusCode::METHOD_NOT_ALLOWED,
                axum::Json(ErrorBody {
                    detail: "Method not allowed".into(),
                }),
            )
        })
        .with_state(state.clone())
        // Issue #33: an ETag on every JSON answer (304 for a matching If-None-Match), then gzip or
        // brotli as the client accepts.
        .layer(axum::middleware::from_fn_with_state(
            state,
            conditional::etag,
        ))
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(DefaultBodyLimit::max(config.max_body_bytes as usize))
        .layer(cors(&config.cors_origins))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(trace)
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            header::COOKIE,
            HeaderName::from_static("x-webhook-secret"),
        ]))
        .layer(axum::middleware::from_fn(json_errors))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// The largest error body kept as the `detail` of an error some layer answered in plain text.
const MAX_PLAIN_DETAIL: usize = 1024;

/// Every error answers `{"detail": "<string>"}` as `application/json`, whatever produced it: the
/// handlers do already; this turns the answers of the layers and routes that do not (a timeout's
/// empty 408, a body limit's plain-text 413, the docs' empty 404) into the same shape, keeping their
/// status and headers and their text when they have a short one.
async fn json_errors(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let res = next.run(req).await;
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let text = axum::body::to_bytes(body, MAX_PLAIN_DETAIL)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    let detail = text.unwrap_or_else(|| {
        status
            .canonical_reason()
            .unwrap_or("Request failed")
            .to_string()
    });
    let body = serde_json::to_vec(&ErrorBody { detail }).unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    axum::response::Response::from_parts(parts, axum::body::Body::from(body))
}

/// Counts each request by method, matched route and status, with its latency.
async fn track_metrics(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let started = std::time::Instant::now();
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().clone();
    let res = next.run(req).await;
    crate::obs::metrics::record_http(
        method.as_str(),
        &route,
        res.status().as_u16(),
        started.elapsed(),
    );
    res
}

/// CORS for the configured origins (by default the portal's local development server); `*` opens it
/// to any origin, an empty list closes it.
fn cors(origins: &[String]) -> CorsLayer {
    let origins: Vec<&str> = origins
        .iter()
        .map(|o| o.trim())
        .filter(|o| !o.is_empty())
        .collect();
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .expose_headers([
            header::LINK,
            HeaderName::from_static("x-total-count"),
            REQUEST_ID,
        ]);
    if origins.is_empty() {
        layer
    } else if origins.contains(&"*") {
        layer.allow_origin(AllowOrigin::any())
    } else {
        layer.allow_origin(
            origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok())
                .collect::<Vec<_>>(),
        )
    }
}
