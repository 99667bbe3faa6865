//! The composition root: builds the service from its configuration — the Hub client, the notifier, the
//! syncer, the schedule, the catalog's operations, the authenticator, the caches, the HTTP state —
//! starts its background work and serves it until shutdown. Nothing else constructs these (the CLI's
//! one-shot sync gets its syncer from [`mirror`]); `http/` receives handles and plain settings.

use crate::auth::jwt::JwtVerifier;
use crate::auth::{AuthThrottle, Authenticator};
use crate::catalog::Catalog;
use crate::config::{HubArgs, ServeArgs};
use crate::http::{self, AppState, Shared, TtlCache, WindowLimiter};
use crate::hub::HubClient;
use crate::pipeline::webfile::WebFiles;
use crate::schedule::{ScheduleConfig, Scheduler};
use crate::store::Store;
use crate::sync::queue::RefreshQueue;
use crate::sync::{SyncConfig, Syncer};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A serving replica's configuration, validated once (rules file read, schedule parsed) before
/// anything connects.
pub struct Checked {
    config: ServeArgs,
    sync: SyncConfig,
    schedule: ScheduleConfig,
}

/// Validates `config`; a bad value is an error naming it.
pub fn check(config: ServeArgs) -> Result<Checked, String> {
    Ok(Checked {
        sync: config.sync.sync_config()?,
        schedule: config.schedule.schedule_config()?,
        config,
    })
}

/// The URL of a service listening on `addr`, as a client on the same machine reaches it.
fn listening_url(addr: std::net::SocketAddr) -> url::Url {
    let host = match addr.ip() {
        ip if ip.is_unspecified() => "localhost".to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    url::Url::parse(&format!("http://{host}:{}", addr.port())).expect("a URL from an address")
}

/// The state of a serving replica, built from its checked configuration: the Hub client, the
/// syncer, the schedule, the catalog's operations, the authenticator and the response caches.
pub fn build(store: Store, checked: Checked) -> Result<AppState, String> {
    let Checked {
        config,
        sync,
        schedule,
    } = checked;
    let notifier = config.sync.notifier();
    let syncer = mirror(store.clone(), &config.hub, sync)?.with_notifier(notifier);
    let public_url = config
        .sync
        .public_url
        .clone()
        .unwrap_or_else(|| listening_url(config.addr));
    let auth = Authenticator::new(
        store.clone(),
        JwtVerifier::new(
            crate::config::secret(config.supabase_jwt_secret.clone()),
            config.supabase_url.clone(),
        ),
        AuthThrottle::new(config.auth_failures_per_minute, Duration::from_secs(60)),
    );
    Ok(AppState::new(Shared {
        catalog: Catalog::new(
            store.clone(),
            syncer.clone(),
            config.publish_requires_developer,
        ),
        scheduler: Scheduler::new(store.clone(), syncer.clone(), schedule),
        refresh: RefreshQueue::default(),
        search_cache: TtlCache::new(http::SEARCH_CACHE_TTL, http::SEARCH_CACHE_ENTRIES),
        // Keyed by the catalogue's revision: exact whatever their age; the TTL only lets old
        // revisions' counts go.
        counts: TtlCache::new(Duration::from_secs(600), 4096),
        pages: TtlCache::new(config.list_cache, 1024),
        details: TtlCache::new(config.list_cache, 8192),
        auth,
        public_url: Arc::new(public_url),
        settings: Arc::new(http_settings(&config)),
        store,
        syncer,
        tasks: TaskTracker::new(),
        shutdown: CancellationToken::new(),
        imports: WindowLimiter::new(Duration::from_secs(3600)),
        telemetry: WindowLimiter::new(Duration::from_secs(3600)),
        ratings: WindowLimiter::new(Duration::from_secs(3600)),
    }))
}

/// What the HTTP layer reads of the configuration.
fn http_settings(config: &ServeArgs) -> http::Settings {
    http::Settings {
        request_timeout: config.request_timeout,
        sync_wait: config.sync_wait,
        max_body_bytes: config.max_body_bytes,
        cors_origins: config.cors_origins.clone(),
        imports_per_hour: config.imports_per_hour,
        telemetry_max_events: config.telemetry_max_events,
        telemetry_events_per_hour: config.telemetry_events_per_hour,
        telemetry_retention: config.telemetry_retention,
        webhook_secret: config.webhook_secret(),
    }
}

/// The mirror: its Hub client (the operator's token, private networks allowed only when the
/// configuration says so) and its reader of model files elsewhere — for `serve` and the one-shot
/// `sync` alike.
pub fn mirror(store: Store, hub: &HubArgs, sync: SyncConfig) -> Result<Syncer, String> {
    let hub_config = hub
        .hub_config()
        .allowing_private(sync.inspect_private_networks);
    syncer(
        store,
        HubClient::new(hub_config).map_err(|e| e.to_string())?,
        sync,
    )
}

/// A syncer over `hub`, with the reader of model files outside the Hub built to the same timeouts.
pub fn syncer(store: Store, hub: HubClient, sync: SyncConfig) -> Result<Syncer, String> {
    let web = WebFiles::new(
        sync.inspect_private_networks,
        hub.config().connect_timeout,
        hub.config().request_timeout,
    )
    .map_err(|e| format!("cannot build the HTTP client for model files: {e}"))?;
    Ok(Syncer::new(store, hub, web, sync))
}

/// Starts the background work of a serving replica: the scheduler, the sweep of stopped jobs and the
/// webhook refresh worker.
pub fn spawn_background(state: &AppState) {
    state
        .tasks
        .spawn(state.scheduler.clone().run(state.shutdown.child_token()));
    state
        .tasks
        .spawn(sweep(state.store.clone(), state.shutdown.child_token()));
    state.tasks.spawn(
        state
            .refresh
            .clone()
            .run(state.syncer.clone(), state.shutdown.child_token()),
    );
}

/// At startup and every minute, marks failed the background jobs whose process stopped (a job left
/// `running` by a killed process would otherwise stay so).
async fn sweep(store: Store, cancel: CancellationToken) {
    let mut every = tokio::time::interval(crate::sync::JOB_STALE / 2);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = every.tick() => {
                if let Err(e) = crate::sync::fail_stale_jobs(&store).await {
                    tracing::warn!(error = %e, "could not look for jobs whose process stopped");
                }
            }
        }
    }
}

/// Serves the API on `listener` until `shutdown` completes, then drains in-flight requests.
pub async fn run(
    store: Store,
    config: Checked,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let mut config = config;
    if config.config.sync.public_url.is_none() {
        // The port the listener got (an `--addr` with port 0 asks for any).
        config.config.sync.public_url = Some(listening_url(listener.local_addr()?));
    }
    let state = build(store.clone(), config).map_err(|e| anyhow::anyhow!(e))?;
    let settled = state.catalog.settle_published_versions().await?;
    if settled > 0 {
        tracing::info!(
            versions = settled,
            "published versions the app cannot run are now marked missing with the reason"
        );
    }
    let (tasks, cancel) = (state.tasks.clone(), state.shutdown.clone());
    spawn_background(&state);
    let app = http::app(state);
    tracing::info!(addr = %listener.local_addr()?, backend = store.backend(), "serving");
    // Background runs hear of the shutdown at once, so requests waiting on them can finish.
    let signal = async move {
        shutdown.await;
        cancel.cancel();
    };
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(signal)
    .await?;
    tasks.close();
    if tokio::time::timeout(Duration::from_secs(30), tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("background work did not stop within 30 s");
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Completes on SIGTERM or ctrl-c.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received");
}
