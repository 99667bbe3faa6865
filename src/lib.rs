//! pocket-catalog: the Pocket AI model catalog, with every public LiteRT model of the Hugging Face Hub
//! mirrored into it. `main` parses the command line and calls into [`cli`]; tests call [`serve`] and
//! [`http::app`] directly.

pub mod auth;
pub mod cli;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod hub;
pub mod hubsim;
pub mod jwt;
pub mod memory;
pub mod metrics;
pub mod notify;
pub mod records;
pub mod schedule;
pub mod store;
pub mod sync;
pub mod telemetry;

use crate::config::ServeArgs;
use crate::http::AppState;
use crate::store::Store;
use std::future::Future;
use tokio::net::TcpListener;

/// Serves the API on `listener` until `shutdown` completes, then drains in-flight requests.
pub async fn serve(
    store: Store,
    config: ServeArgs,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let state = AppState::new(store.clone(), config).map_err(|e| anyhow::anyhow!(e))?;
    let (tasks, cancel) = (state.tasks.clone(), state.shutdown.clone());
    state.spawn_background();
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
