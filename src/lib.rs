//! pocket-catalog: the Pocket AI model catalog, with every public LiteRT model of the Hugging Face Hub
//! mirrored into it. `main` parses the command line and calls into [`cli`]; [`app`] builds the service
//! from its configuration and runs it; tests call [`app::build`], [`app::run`] and [`http::app`]
//! directly. `ARCHITECTURE.md` maps the modules.

pub mod app;
pub mod assets;
pub mod auth;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod cursor;
pub mod domain;
pub mod error;
pub mod http;
pub mod hub;
pub mod hubsim;
pub mod inspect;
pub mod jwt;
pub mod memory;
pub mod metrics;
pub mod netguard;
pub mod notify;
pub mod pipeline_spec;
pub mod policy;
pub mod records;
pub mod runnable;
pub mod schedule;
pub mod stats;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod webfile;

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
