//! How the client talks to the Hub: endpoint, token, timeouts, retries, pacing, and the defaults the
//! command line shares.

use super::*;

/// How the client talks to the Hub.
#[derive(Clone)]
pub struct HubConfig {
    pub endpoint: Url,
    pub token: Option<SecretString>,
    /// `None` disables the timeout (tests on a paused clock).
    pub connect_timeout: Option<Duration>,
    pub request_timeout: Option<Duration>,
    /// Retries after the first attempt.
    pub max_retries: usize,
    /// The longest the client waits in total, over all retries of one request.
    pub max_total_wait: Duration,
    /// The first backoff delay; doubles up to `max_backoff`.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// Below this many remaining requests in a window, requests are spread over the time left.
    pub pacing_low_water: u64,
    pub page_size: u32,
    /// Hosts besides the endpoint that the Hub may send the client to (its CDN), trusted whatever
    /// their address; any other host a redirect names must be public (see [`crate::net::guard`]).
    pub cdn_hosts: Vec<crate::net::guard::HostPattern>,
    /// Redirects to private addresses are followed too (tests, a mirror on the operator's network).
    pub allow_private: bool,
}

impl std::fmt::Debug for HubConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubConfig")
            .field("endpoint", &self.endpoint.as_str())
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("max_retries", &self.max_retries)
            .field("max_total_wait", &self.max_total_wait)
            .finish_non_exhaustive()
    }
}

/// The defaults of [`HubConfig`] the command line (`config.rs`) shows and uses too; durations as it
/// spells them (seconds).
pub mod defaults {
    pub const MAX_RETRIES: u64 = 5;
    /// The Hub's CDN hosts (LFS and Xet storage), trusted as the Hub is.
    pub const CDN_HOSTS: &str = "*.huggingface.co,*.hf.co";
    pub const TIMEOUT_SECS: &str = "60";
    pub const MAX_WAIT_SECS: &str = "600";

    /// A default spelled in seconds.
    pub(crate) fn secs(value: &str) -> std::time::Duration {
        std::time::Duration::from_secs(value.parse().expect("defaults are whole seconds"))
    }
}

impl HubConfig {
    /// This configuration, following redirects to private addresses too when `allow` is set
    /// (`SYNC_INSPECT_PRIVATE_NETWORKS`).
    pub fn allowing_private(mut self, allow: bool) -> HubConfig {
        self.allow_private = allow;
        self
    }

    pub fn new(endpoint: Url, token: Option<SecretString>) -> HubConfig {
        HubConfig {
            endpoint,
            token,
            connect_timeout: Some(Duration::from_secs(10)),
            request_timeout: Some(defaults::secs(defaults::TIMEOUT_SECS)),
            max_retries: defaults::MAX_RETRIES as usize,
            max_total_wait: defaults::secs(defaults::MAX_WAIT_SECS),
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(8),
            pacing_low_water: 50,
            page_size: 1000,
            cdn_hosts: defaults::CDN_HOSTS
                .split(',')
                .map(|h| h.parse().expect("the default CDN hosts parse"))
                .collect(),
            allow_private: false,
        }
    }
}
