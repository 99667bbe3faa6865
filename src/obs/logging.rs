//! Logging: `RUST_LOG` levels, plain text or JSON lines.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// Installs the process's log subscriber on stderr: JSON lines when `json`, else plain text.
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour_allowed(std::io::stderr().is_terminal()));
    let _ = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init()
    } else {
        builder.try_init()
    };
}

/// Colours only on a terminal, and never when `NO_COLOR` is set (<https://no-color.org>): escape codes in a
/// file or a pipe are noise.
fn colour_allowed(terminal: bool) -> bool {
    terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
