//! Our thin, typed client of the Hugging Face Hub API (HUB_API.md): listings page by page with
//! `Link rel="next"` followed verbatim, model info with blobs, file trees, README; the client with and
//! without the operator's token. How each request is made — paced, retried, guarded, the token to the
//! Hub's host only — is `transport.rs`. 401/403/404 are typed outcomes, not errors, and a 307 is
//! followed and reported as a rename.

mod config;
mod error;
mod file_ranges;
mod links;
pub mod ratelimit;
mod transport;
pub mod wire;

pub use config::{defaults, HubConfig};
pub use error::HubError;
use error::{expect_ok, redact, status_error, transport_error};
pub use file_ranges::HubFile;
pub use links::{next_link, parse_next_link};
use transport::{redirect_target, refusal, Ask, Raw};

use backon::{ExponentialBuilder, Retryable};
use ratelimit::{parse_ratelimit, parse_retry_after, Pacer};
use reqwest::header::{HeaderMap, AUTHORIZATION, LOCATION, RETRY_AFTER};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use url::Url;
pub use wire::{HubModel, Sibling, SkippedEntry, TreeEntry};

pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";
const MAX_REDIRECTS: usize = 5;
const MAX_README_BYTES: usize = 1024 * 1024;

/// The answer about one repo.
#[derive(Debug, Clone, PartialEq)]
pub enum RepoOutcome<T> {
    /// Found; `renamed_to` is the repo's current id when the Hub redirected us to it.
    Found {
        value: T,
        renamed_to: Option<String>,
    },
    /// 401: missing, deleted or private (the Hub does not say which to anonymous callers).
    MissingOrPrivate,
    /// 404 with a token.
    NotFound,
    /// 401/403 with `X-Error-Code: GatedRepo`.
    Gated,
}

/// One listing page.
#[derive(Debug, Clone)]
pub struct Page {
    pub models: Vec<HubModel>,
    pub skipped: Vec<SkippedEntry>,
    pub next: Option<Url>,
}

/// A listing page as received: a whole JSON array, entries not yet decoded.
#[derive(Debug, Clone)]
pub struct RawPage {
    body: bytes::Bytes,
    pub next: Option<Url>,
}

impl RawPage {
    /// Decodes the entries (a malformed entry is skipped with its reason, see [`wire::parse_page`]).
    pub fn decode(&self) -> Result<Page, HubError> {
        self.decode_fresh(&mut HashSet::new())
    }

    /// Decodes the entries whose object id is not in `seen` (entries listed before, by this or
    /// another filter, are left out undecoded) and adds the decoded ones' ids to it. Ids are kept
    /// as the 96-bit numbers they spell (16 bytes each, not a string).
    /// The size of the page as received, in bytes.
    pub fn len_bytes(&self) -> usize {
        self.body.len()
    }

    pub fn decode_fresh(&self, seen: &mut HashSet<u128>) -> Result<Page, HubError> {
        let key = |id: &str| u128::from_str_radix(id, 16).ok();
        let (models, skipped) =
            wire::parse_page_except(&self.body, |id| key(id).is_some_and(|k| seen.contains(&k)))
                .map_err(HubError::Body)?;
        seen.extend(
            models
                .iter()
                .filter_map(|m| m.object_id.as_deref().and_then(key)),
        );
        Ok(Page {
            models,
            skipped,
            next: self.next.clone(),
        })
    }
}

/// Counters of what the client did, for run records and metrics.
#[derive(Debug, Default)]
pub struct HubStats {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub rate_limited: AtomicU64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct HubStatsSnapshot {
    pub requests: u64,
    pub retries: u64,
    pub rate_limited: u64,
}

#[derive(Clone)]
pub struct HubClient {
    inner: Arc<Inner>,
    /// How long a request may keep failing before its error is returned.
    patience: Patience,
}

/// How a client's requests are retried: with the configured retries and total wait, or briefly —
/// one retry after [`BRIEF_BACKOFF`] (a server's own wait honoured up to [`BRIEF_WAIT`]), for the
/// reads a sync can put off to a later run (issue #32).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Patience {
    Configured,
    Brief,
}

/// The longest a brief request waits between its attempts, in total.
pub const BRIEF_WAIT: std::time::Duration = std::time::Duration::from_secs(2);
/// A brief request's backoff before its one retry: at once, nearly (a blip passes; a broken object
/// is deferred without holding the run).
pub const BRIEF_BACKOFF: std::time::Duration = std::time::Duration::from_millis(10);

struct Inner {
    http: reqwest::Client,
    config: HubConfig,
    /// Every request's host passes it: the endpoint and the CDN hosts are trusted, others must be
    /// public addresses.
    guard: crate::net::guard::AddressGuard,
    pacer: Pacer,
    /// The `resolvers` bucket's pacing (file downloads).
    resolve_pacer: Pacer,
    stats: HubStats,
    /// The quota of the last `RateLimit-Policy` seen, for logs.
    quota: Mutex<Option<u64>>,
}

impl std::fmt::Debug for HubClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubClient")
            .field("config", &self.inner.config)
            .finish()
    }
}

impl HubClient {
    pub fn new(config: HubConfig) -> Result<HubClient, HubError> {
        let mut trusted = crate::net::guard::HostPattern::endpoint(&config.endpoint);
        trusted.extend(config.cdn_hosts.iter().cloned());
        let guard = crate::net::guard::AddressGuard::new(trusted, config.allow_private);
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("pocket-catalog/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(guard.resolver());
        if let Some(t) = config.connect_timeout {
            builder = builder.connect_timeout(t);
        }
        if let Some(t) = config.request_timeout {
            builder = builder.timeout(t);
        } else {
            builder = builder.pool_idle_timeout(None);
        }
        let http = builder
            .build()
            .map_err(|e| HubError::Transport(e.to_string()))?;
        Ok(HubClient::with(http, guard, config))
    }

    /// A client over these connections and guard, with its own pacing and counters.
    fn with(
        http: reqwest::Client,
        guard: crate::net::guard::AddressGuard,
        config: HubConfig,
    ) -> Self {
        HubClient {
            patience: Patience::Configured,
            inner: Arc::new(Inner {
                http,
                guard,
                pacer: Pacer::new(config.pacing_low_water),
                resolve_pacer: Pacer::new(config.pacing_low_water),
                config,
                stats: HubStats::default(),
                quota: Mutex::new(None),
            }),
        }
    }

    pub fn config(&self) -> &HubConfig {
        &self.inner.config
    }

    /// The same client (its pacing, counters and connections), retrying briefly: for reads whose
    /// failure defers work to a later run rather than failing it — a sync's model-file reads.
    pub fn brief(&self) -> HubClient {
        HubClient {
            inner: self.inner.clone(),
            patience: Patience::Brief,
        }
    }

    /// The same Hub without the operator's token: for every request a user causes (a URL they
    /// publish, generate-pipeline, an import, a search), so that nobody reads through the operator's
    /// rights what the Hub would not show them. Its own pacing; the same connections and guard.
    pub fn anonymous(&self) -> HubClient {
        let config = HubConfig {
            token: None,
            ..self.inner.config.clone()
        };
        HubClient::with(self.inner.http.clone(), self.inner.guard.clone(), config)
    }

    pub fn stats(&self) -> HubStatsSnapshot {
        let s = &self.inner.stats;
        HubStatsSnapshot {
            requests: s.requests.load(Ordering::Relaxed),
            retries: s.retries.load(Ordering::Relaxed),
            rate_limited: s.rate_limited.load(Ordering::Relaxed),
        }
    }

    fn endpoint_url(&self, segments: &[&str]) -> Url {
        let mut url = self.inner.config.endpoint.clone();
        {
            let mut path = url.path_segments_mut().expect("endpoint is a base URL");
            path.pop_if_empty();
            for s in segments {
                path.push(s);
            }
        }
        url
    }

    fn same_host(&self, url: &Url) -> bool {
        let e = &self.inner.config.endpoint;
        url.host_str() == e.host_str() && url.port_or_known_default() == e.port_or_known_default()
    }

    /// The first page of the listing for one filter, asking for exactly `expand`.
    pub fn listing_url(&self, filter: &str, expand: &[&str]) -> Url {
        let mut url = self.endpoint_url(&["api", "models"]);
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("filter", filter);
            // Creation order is stable under updates, so pages neither skip nor repeat repos.
            q.append_pair("sort", "createdAt");
            q.append_pair(
                "limit",
                &self.inner.config.page_size.clamp(1, 1000).to_string(),
            );
            for e in expand {
                q.append_pair("expand", e);
            }
        }
        url
    }

    /// A search of repo ids within one filter (the portal's import flow).
    pub fn search_url(&self, filter: &str, query: &str, limit: u32, expand: &[&str]) -> Url {
        let mut url = self.endpoint_url(&["api", "models"]);
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("filter", filter);
            q.append_pair("search", query);
            q.append_pair("sort", "downloads");
            q.append_pair("limit", &limit.clamp(1, 1000).to_string());
            for e in expand {
                q.append_pair("expand", e);
            }
        }
        url
    }

    /// Fetches one listing page (retried as a whole when its body is truncated or not JSON).
    pub async fn list_page(&self, url: &Url) -> Result<Page, HubError> {
        self.list_page_raw(url).await?.decode()
    }

    /// Fetches one listing page without decoding its entries: the body is checked to be a whole JSON
    /// array (retried as a whole when it is not) and the next page's link is known, so the caller can
    /// request the next page before it decodes this one.
    pub async fn list_page_raw(&self, url: &Url) -> Result<RawPage, HubError> {
        self.fetch(url, |raw| {
            let raw = expect_ok(raw)?;
            wire::check_page(&raw.body).map_err(HubError::Body)?;
            Ok(RawPage {
                body: raw.body.clone(),
                next: next_link(&raw.headers, &raw.url),
            })
        })
        .await
    }

    /// Model info with `blobs=true` (sizes and LFS hashes of every file), at `revision` or the head.
    pub async fn model_info(
        &self,
        repo_id: &str,
        revision: Option<&str>,
    ) -> Result<RepoOutcome<HubModel>, HubError> {
        let mut segments = vec!["api", "models"];
        segments.extend(repo_id.split('/'));
        if let Some(rev) = revision {
            segments.push("revision");
            segments.push(rev);
        }
        let mut url = self.endpoint_url(&segments);
        url.query_pairs_mut().append_pair("blobs", "true");
        let outcome = self
            .fetch_following(url, |raw| {
                serde_json::from_slice::<HubModel>(&raw.body)
                    .map_err(|e| HubError::Body(format!("model info: {e}")))
            })
            .await?;
        Ok(match outcome {
            RepoOutcome::Found { value, .. } => {
                let renamed_to =
                    (!value.id.eq_ignore_ascii_case(repo_id)).then(|| value.id.clone());
                RepoOutcome::Found { value, renamed_to }
            }
            other => other,
        })
    }

    /// Every file of a revision (`recursive=true`, all pages).
    pub async fn tree(
        &self,
        repo_id: &str,
        revision: &str,
    ) -> Result<RepoOutcome<Vec<TreeEntry>>, HubError> {
        let mut segments = vec!["api", "models"];
        segments.extend(repo_id.split('/'));
        segments.push("tree");
        segments.push(revision);
        let mut url = self.endpoint_url(&segments);
        url.query_pairs_mut().append_pair("recursive", "true");
        let mut entries = Vec::new();
        let mut renamed_to = None;
        let mut next = Some(url);
        while let Some(url) = next.take() {
            let outcome = self
                .fetch_following(url, |raw| {
                    let page: Vec<TreeEntry> = serde_json::from_slice(&raw.body)
                        .map_err(|e| HubError::Body(format!("tree page: {e}")))?;
                    Ok((page, next_link(&raw.headers, &raw.url)))
                })
                .await?;
            match outcome {
                RepoOutcome::Found {
                    value: (page, link),
                    renamed_to: r,
                } => {
                    entries.extend(page);
                    renamed_to = renamed_to.or(r);
                    next = link;
                }
                RepoOutcome::MissingOrPrivate => return Ok(RepoOutcome::MissingOrPrivate),
                RepoOutcome::NotFound => return Ok(RepoOutcome::NotFound),
                RepoOutcome::Gated => return Ok(RepoOutcome::Gated),
            }
        }
        Ok(RepoOutcome::Found {
            value: entries,
            renamed_to,
        })
    }

    /// README.md of a revision, when there is one (same-host redirects followed; at most 1 MiB).
    pub async fn readme(&self, repo_id: &str, revision: &str) -> Result<Option<String>, HubError> {
        let mut segments: Vec<&str> = repo_id.split('/').collect();
        segments.extend(["resolve", revision, "README.md"]);
        let url = self.endpoint_url(&segments);
        let outcome = self
            .fetch_following(url, |raw| {
                let body = &raw.body[..raw.body.len().min(MAX_README_BYTES)];
                Ok(String::from_utf8_lossy(body).into_owned())
            })
            .await;
        match outcome {
            Ok(RepoOutcome::Found { value, .. }) => Ok(Some(value)),
            Ok(_) => Ok(None),
            Err(HubError::Redirect(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
