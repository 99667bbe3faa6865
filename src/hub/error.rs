//! What a Hub request can fail with, and how transport errors and error answers become it (URLs
//! redacted of their query).

use super::*;

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum HubError {
    #[error("cannot reach the Hub: {0}")]
    Transport(String),
    #[error("the Hub did not answer in time")]
    Timeout,
    #[error("the Hub answered {status}: {message}")]
    Status {
        status: u16,
        code: Option<String>,
        message: String,
        /// How long the Hub asked us to wait (429 with `RateLimit` r=0, or `Retry-After`).
        wait: Option<Duration>,
    },
    #[error("unreadable answer from the Hub: {0}")]
    Body(String),
    #[error("bad redirect from the Hub: {0}")]
    Redirect(String),
    /// The address guard refused where a redirect pointed ([`crate::net::guard`]).
    #[error("not following the Hub to {0}")]
    Refused(String),
}

impl HubError {
    pub fn is_retryable(&self) -> bool {
        match self {
            HubError::Transport(_) | HubError::Timeout | HubError::Body(_) => true,
            HubError::Status { status, .. } => matches!(status, 408 | 429 | 500 | 502 | 503 | 504),
            HubError::Redirect(_) | HubError::Refused(_) => false,
        }
    }

    pub(super) fn server_wait(&self) -> Option<Duration> {
        match self {
            HubError::Status { wait, .. } => *wait,
            _ => None,
        }
    }
}

/// A request that got no answer, said briefly: the host and the innermost cause ("huggingface.co: failed
/// to lookup address information: …", "127.0.0.1:9000: Connection refused"), never the whole URL.
pub(super) fn transport_error(e: reqwest::Error) -> HubError {
    if e.is_timeout() {
        return HubError::Timeout;
    }
    let host = e.url().map(|u| {
        let host = u.host_str().unwrap_or("?");
        match u.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        }
    });
    let mut innermost = std::error::Error::source(&e);
    while let Some(inner) = innermost.and_then(std::error::Error::source) {
        innermost = Some(inner);
    }
    let cause = match innermost.map(ToString::to_string) {
        Some(cause) => cause,
        None => e.without_url().to_string(),
    };
    HubError::Transport(match host {
        Some(host) => format!("{host}: {cause}"),
        None => cause,
    })
}

/// The URL without its query, for logs.
pub(super) fn redact(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.to_string()
}

/// An error for a non-success status, with the Hub's wait for 429s: `RateLimit` r=0 → t + 1 s, else
/// `Retry-After`.
pub(super) fn status_error(raw: &Raw) -> HubError {
    let header = |name| {
        raw.headers
            .get(name)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
    };
    let message = header("x-error-message")
        .map(str::to_string)
        .or_else(|| {
            serde_json::from_slice::<serde_json::Value>(&raw.body)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
        })
        .unwrap_or_else(|| raw.status.canonical_reason().unwrap_or("error").to_string());
    let wait = if raw.status == StatusCode::TOO_MANY_REQUESTS {
        header("ratelimit")
            .and_then(parse_ratelimit)
            .filter(|l| l.remaining == 0)
            .map(|l| Duration::from_secs(l.reset_secs + 1))
            .or_else(|| {
                header(RETRY_AFTER.as_str())
                    .and_then(|v| parse_retry_after(v, std::time::SystemTime::now()))
            })
    } else {
        None
    };
    HubError::Status {
        status: raw.status.as_u16(),
        code: header("x-error-code").map(str::to_string),
        message: message.chars().take(300).collect(),
        wait,
    }
}

pub(super) fn expect_ok(raw: &Raw) -> Result<&Raw, HubError> {
    if raw.status.is_success() {
        Ok(raw)
    } else {
        Err(status_error(raw))
    }
}
