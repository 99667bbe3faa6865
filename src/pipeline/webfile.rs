//! Model files outside the Hub — the portal's uploads to its Supabase Storage bucket, or any URL a
//! person gives a version (CLIENTS.md F5, F6) — opened for range reads (issue #21), so that
//! `generate-pipeline`, a person's spec and the pipeline jobs read them as they read the Hub's.
//!
//! A URL a person typed is read by the server, so it is guarded against server-side request forgery
//! by [`crate::net::guard`]: only `http`/`https`; only hosts whose addresses are public unless the
//! operator allows private networks; the connection goes only to addresses that passed (the
//! client's resolver drops the others, so a second lookup cannot rebind the name); redirects are
//! followed by hand, each hop checked again, at most [`MAX_REDIRECTS`]. No credentials are sent —
//! `HF_TOKEN` is the mirror's alone — and a URL is shown in logs and errors by its host only (signed
//! URLs carry tokens). A server that ignores `Range` is read only when the whole file is small
//! ([`MAX_WHOLE_BYTES`]).

use crate::inspect::RangeSource;
use crate::net::guard::{AddressGuard, GuardError};
use backon::{ExponentialBuilder, Retryable};
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, LOCATION, RANGE};
use reqwest::StatusCode;
use std::time::Duration;
use url::Url;

/// Redirects followed from the URL a version names.
pub const MAX_REDIRECTS: usize = 5;

/// The largest file read whole from a server that ignores `Range` (the smallest inspection budget).
pub const MAX_WHOLE_BYTES: u64 = 1 << 20;

/// Why a file at a URL could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebError {
    /// Not read, by this service's rules (the scheme, a private address, too many redirects): what
    /// the person who gave the URL should change.
    #[error("{0}")]
    Refused(String),
    /// The server says the file is not there, or not for us (a 4xx: 404, 410, 401, 403, …).
    #[error("{0}")]
    Missing(String),
    /// The server could not be reached or answered badly; worth trying again later.
    #[error("{0}")]
    Failed(String),
}

/// Opens files at public URLs for range reads.
#[derive(Debug, Clone)]
pub struct WebFiles {
    http: reqwest::Client,
    guard: AddressGuard,
}

/// A file at a URL (after its redirects), opened for range reads.
#[derive(Debug, Clone)]
pub struct WebFile {
    http: reqwest::Client,
    url: Url,
    pub size: u64,
    /// The `ETag` its host gave (quotes and a weak mark removed), when it gave one.
    pub etag: Option<String>,
}

/// The host a URL is shown by (never its path's secrets or its query).
fn shown(url: &Url) -> String {
    url.host_str().unwrap_or("an unnamed host").to_string()
}

impl WebFiles {
    /// A reader that connects within `connect_timeout` and gives each request `timeout`;
    /// `allow_private` lets it read loopback and private addresses (tests, a file server on the
    /// operator's own network).
    pub fn new(
        allow_private: bool,
        connect_timeout: Option<Duration>,
        timeout: Option<Duration>,
    ) -> Result<WebFiles, String> {
        // No host is trusted by configuration here: a URL a person gave is read from public hosts.
        let guard = AddressGuard::new(Vec::new(), allow_private);
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("pocket-catalog/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(guard.resolver());
        if let Some(t) = connect_timeout {
            builder = builder.connect_timeout(t);
        }
        if let Some(t) = timeout {
            builder = builder.timeout(t);
        }
        let http = builder.build().map_err(|e| e.to_string())?;
        Ok(WebFiles { http, guard })
    }

    /// Whether a request may go to `url` at all (its scheme and host's addresses).
    async fn check(&self, url: &Url) -> Result<(), WebError> {
        self.guard.check(url).await.map_err(|e| match e {
            GuardError::Refused(why) => WebError::Refused(why),
            GuardError::Unresolved(why) => WebError::Failed(why),
        })
    }

    /// Opens the file at `url`: one `GET` of its first byte per hop (servers that refuse `HEAD` on
    /// signed URLs answer it), redirects followed and checked, its size from `Content-Range` (or
    /// `Content-Length` from a server that ignores `Range`; the body is not read).
    pub async fn open(&self, url: &str) -> Result<WebFile, WebError> {
        let mut url = Url::parse(url)
            .map_err(|e| WebError::Refused(format!("the model file's URL is not a URL: {e}")))?;
        for _ in 0..=MAX_REDIRECTS {
            self.check(&url).await?;
            let res = send(&self.http, &url, 0..1).await?;
            let status = res.status();
            if status.is_redirection() {
                let location = res
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| {
                        WebError::Failed(format!("{} redirected without a Location", shown(&url)))
                    })?;
                url = url.join(location).map_err(|e| {
                    WebError::Failed(format!("{} redirected to a bad URL: {e}", shown(&url)))
                })?;
                continue;
            }
            let size = match status {
                StatusCode::PARTIAL_CONTENT => header(&res, CONTENT_RANGE.as_str())
                    .and_then(|v| v.rsplit('/').next()?.trim().parse::<u64>().ok()),
                StatusCode::OK => {
                    header(&res, CONTENT_LENGTH.as_str()).and_then(|v| v.parse::<u64>().ok())
                }
                // An empty file cannot be ranged; it has no bytes to inspect either way.
                StatusCode::RANGE_NOT_SATISFIABLE => Some(0),
                s => return Err(refusal(s, &url)),
            };
            let size = size.ok_or_else(|| {
                WebError::Failed(format!(
                    "{} does not say how large the file is",
                    shown(&url)
                ))
            })?;
            let etag = header(&res, "etag")
                .map(|e| e.trim_start_matches("W/").trim_matches('"').to_string());
            return Ok(WebFile {
                http: self.http.clone(),
                url,
                size,
                etag,
            });
        }
        Err(WebError::Refused(format!(
            "the model file's URL redirects more than {MAX_REDIRECTS} times"
        )))
    }
}

fn header(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
}

/// What a status other than success or redirect means.
fn refusal(status: StatusCode, url: &Url) -> WebError {
    let host = shown(url);
    match status.as_u16() {
        401 | 403 => WebError::Missing(format!(
            "{host} refuses to serve the model file (HTTP {}): it is not public",
            status.as_u16()
        )),
        404 | 410 => WebError::Missing(format!(
            "the model file is not at {host} any more (HTTP {})",
            status.as_u16()
        )),
        // Supabase Storage answers a missing object with a 400; any 4xx is the file's answer.
        400..=499 => WebError::Missing(format!(
            "{host} does not serve the model file (HTTP {})",
            status.as_u16()
        )),
        _ => WebError::Failed(format!("{host} answered HTTP {}", status.as_u16())),
    }
}

/// One `GET` of `range` (retried on transport errors, 408, 429 and 5xx with backoff; the body is
/// left unread).
async fn send(
    http: &reqwest::Client,
    url: &Url,
    range: std::ops::Range<u64>,
) -> Result<reqwest::Response, WebError> {
    let attempt = || async {
        let res = http
            .get(url.clone())
            .header(RANGE, format!("bytes={}-{}", range.start, range.end - 1))
            .send()
            .await
            .map_err(|e| {
                // reqwest's message names the URL; ours names the host only.
                let why = if e.is_timeout() {
                    "timed out".to_string()
                } else if e.is_connect() {
                    "could not be connected to".to_string()
                } else {
                    "failed".to_string()
                };
                WebError::Failed(format!("{} {why}", shown(url)))
            })?;
        if matches!(res.status().as_u16(), 408 | 429 | 500 | 502 | 503 | 504) {
            return Err(WebError::Failed(format!(
                "{} answered HTTP {}",
                shown(url),
                res.status().as_u16()
            )));
        }
        Ok(res)
    };
    attempt
        .retry(
            ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(500))
                .with_max_delay(Duration::from_secs(4))
                .with_max_times(3)
                .with_jitter(),
        )
        .sleep(tokio::time::sleep)
        .when(|e| matches!(e, WebError::Failed(_)))
        .await
}

impl WebFile {
    /// Where the bytes are read from (after the redirects).
    pub fn url(&self) -> &Url {
        &self.url
    }

    async fn read_range(&self, range: std::ops::Range<u64>) -> Result<Vec<u8>, WebError> {
        let host = shown(&self.url);
        let mut res = send(&self.http, &self.url, range.clone()).await?;
        let len = range.end - range.start;
        let (skip, expect) = match res.status() {
            StatusCode::PARTIAL_CONTENT => {
                let start = header(&res, CONTENT_RANGE.as_str())
                    .and_then(|v| crate::inspect::content_range_start(&v));
                if start != Some(range.start) {
                    return Err(WebError::Failed(format!(
                        "{host} answered bytes at {start:?} when asked for {}",
                        range.start
                    )));
                }
                (0, len)
            }
            // A server that ignores Range sends the whole file: kept only when it is small.
            StatusCode::OK if self.size <= MAX_WHOLE_BYTES => (range.start, self.size),
            StatusCode::OK => {
                return Err(WebError::Failed(format!(
                    "{host} does not answer range requests, and the {}-byte file is not downloaded whole",
                    self.size
                )))
            }
            StatusCode::RANGE_NOT_SATISFIABLE => {
                return Err(WebError::Failed(format!(
                    "bytes {range:?} are past the end of the {}-byte file",
                    self.size
                )))
            }
            s => return Err(refusal(s, &self.url)),
        };
        // Read no more than was asked for, whatever the server sends.
        let mut body = Vec::with_capacity(expect as usize);
        while let Some(chunk) = res
            .chunk()
            .await
            .map_err(|_| WebError::Failed(format!("{host} cut the file short")))?
        {
            body.extend_from_slice(&chunk);
            if body.len() as u64 > expect {
                return Err(WebError::Failed(format!(
                    "{host} sent more than the {expect} bytes asked for"
                )));
            }
        }
        let end = (skip + len) as usize;
        match body.get(skip as usize..end) {
            Some(part) if body.len() as u64 == expect => Ok(part.to_vec()),
            _ => Err(WebError::Failed(format!(
                "{host} sent {} bytes, not the {expect} asked for",
                body.len()
            ))),
        }
    }
}

impl RangeSource for WebFile {
    async fn read(&self, range: std::ops::Range<u64>) -> Result<Vec<u8>, String> {
        self.read_range(range).await.map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_url_at_a_private_or_odd_address_is_refused_before_any_request() {
        let web = WebFiles::new(false, None, None).unwrap();
        for (url, says) in [
            (
                "http://127.0.0.1:9/m.tflite",
                "127.0.0.1 is not a public address",
            ),
            ("http://[::1]:9/m.tflite", "::1 is not a public address"),
            // Numeric spellings of a host are addresses too (the URL standard reads them so).
            (
                "http://2130706433:9/m.tflite",
                "127.0.0.1 is not a public address",
            ),
            (
                "http://0x7f.1:9/m.tflite",
                "127.0.0.1 is not a public address",
            ),
            (
                "http://[::ffff:10.0.0.1]/m.tflite",
                "is not a public address",
            ),
            ("http://localhost:9/m.tflite", "localhost resolves to"),
            (
                "http://169.254.169.254/latest/meta-data",
                "169.254.169.254 is not a public",
            ),
            ("file:///etc/passwd", "over http or https, not file"),
            ("not a url", "is not a URL"),
        ] {
            match web.open(url).await {
                Err(WebError::Refused(why)) => assert!(why.contains(says), "{url}: {why}"),
                other => panic!("{url}: {other:?}"),
            }
        }
    }
}
