//! The composition root: builds the service from its configuration — the Hub client, the notifier, the
//! syncer, the schedule, the HTTP state — starts its background work and serves it until shutdown.
//! Nothing else constructs these; `http/` only routes and shapes.

use crate::config::ServeArgs;
use crate::http::AppState;
use crate::hub::HubClient;
use crate::schedule::ScheduleConfig;
use crate::store::Store;
use crate::sync::{SyncConfig, Syncer};
use std::future::Future;
use tokio::net::TcpListener;

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

/// The state of a serving replica, built from its checked configuration.
pub fn build(store: Store, checked: Checked) -> Result<AppState, String> {
    let Checked {
        config,
        sync,
        schedule,
    } = checked;
    let hub_config = config
        .hub
        .hub_config()
        .allowing_private(sync.inspect_private_networks);
    let hub = HubClient::new(hub_config).map_err(|e| e.to_string())?;
    let syncer = Syncer::new(store.clone(), hub, sync).with_notifier(config.sync.notifier());
    Ok(AppState::with_syncer(store, config, syncer, schedule))
}

/// Starts the background work of a serving replica: the scheduler and the webhook refresh worker.
pub fn spawn_background(state: &AppState) {
    state
        .tasks
        .spawn(state.scheduler.clone().run(state.shutdown.child_token()));
    state.tasks.spawn(sweep(
        state.store.clone(),
        state.syncer.config().public_url.clone(),
        state.shutdown.child_token(),
    ));
    state.tasks.spawn(
        state
            .refresh
            .clone()
            .run(state.syncer.clone(), state.shutdown.child_token()),
    );
}

/// At startup and every minute, marks failed the background jobs whose process stopped (a job left
/// `running` by a killed process would otherwise stay so); every minute after startup (where [`run`]
/// has just done it), points at `public_url` the hosted-file links another process wrote under its
/// own address (a standalone `sync` run by cron).
async fn sweep(store: Store, public_url: url::Url, cancel: tokio_util::sync::CancellationToken) {
    let mut every = tokio::time::interval(crate::sync::JOB_STALE / 2);
    let mut first = true;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = every.tick() => {
                if let Err(e) = crate::sync::fail_stale_jobs(&store).await {
                    tracing::warn!(error = %e, "could not look for jobs whose process stopped");
                }
                if std::mem::take(&mut first) {
                    continue;
                }
                match store.rebase_hosted_assets(&public_url).await {
                    Ok(0) => {}
                    Ok(moved) => tracing::info!(versions = moved, public_url = %public_url,
                        "hosted file links written elsewhere now point at the public URL"),
                    Err(e) => tracing::warn!(error = %e, "could not rebase hosted file links"),
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
        config.sync.public_url = listening_url(listener.local_addr()?);
    }
    if let Some(public) = &config.config.sync.public_url {
        // Links to the files this service hosts follow the address clients reach it at.
        let moved = store.rebase_hosted_assets(public).await?;
        if moved > 0 {
            tracing::info!(versions = moved, public_url = %public, "hosted file links now point at the public URL");
        }
    }
    let state = build(store.clone(), config).map_err(|e| anyhow::anyhow!(e))?;
    let (tasks, cancel) = (state.tasks.clone(), state.shutdown.clone());
    spawn_background(&state);
    let app = crate::http::app(state);
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
    if tokio::time::timeout(std::time::Duration::from_secs(30), tasks.wait())
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
