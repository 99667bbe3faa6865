//! How each Hub request is made: every hop passes the address guard ([`crate::net::guard`]); requests are
//! paced by the `RateLimit` header (downloads in the `resolvers` bucket, apart from the API's) and
//! retried with backoff on 408/429/5xx, timeouts and transport errors — a 429 waits exactly what the Hub
//! says — within a bounded number of attempts and total wait; the operator's token goes to the Hub's
//! host only, never to a CDN it redirects to; same-host redirects are followed, and 401/403/404 become
//! [`RepoOutcome`]s.

use super::*;

/// How a request is made: GET (or HEAD), for the whole body or one byte range (end exclusive).
#[derive(Debug, Clone, Default)]
pub(super) struct Ask {
    pub(super) head: bool,
    pub(super) range: Option<std::ops::Range<u64>>,
}

/// A response read to the end.
pub(super) struct Raw {
    pub(super) status: StatusCode,
    pub(super) headers: HeaderMap,
    pub(super) body: bytes::Bytes,
    pub(super) url: Url,
}

impl HubClient {
    /// GET with same-host redirects followed; 401/403/404 become outcomes; `parse` runs on a 200.
    pub(super) async fn fetch_following<T>(
        &self,
        mut url: Url,
        parse: impl Fn(&Raw) -> Result<T, HubError>,
    ) -> Result<RepoOutcome<T>, HubError> {
        for _ in 0..=MAX_REDIRECTS {
            let step = self
                .fetch(&url, |raw| {
                    if raw.status.is_redirection() {
                        return Ok(Step::Redirect(redirect_target(raw)?));
                    }
                    Ok(Step::Done(match refusal(raw)? {
                        Some(outcome) => outcome,
                        None => RepoOutcome::Found {
                            value: parse(raw)?,
                            renamed_to: None,
                        },
                    }))
                })
                .await?;
            match step {
                Step::Done(outcome) => return Ok(outcome),
                Step::Redirect(next) if self.same_host(&next) => url = next,
                Step::Redirect(next) => {
                    return Err(HubError::Redirect(format!(
                        "not following a redirect to another host ({})",
                        next.host_str().unwrap_or("?")
                    )))
                }
            }
        }
        Err(HubError::Redirect(format!(
            "more than {MAX_REDIRECTS} redirects"
        )))
    }

    /// One GET, paced and retried; `handle` turns the response into a value or a (maybe retryable) error.
    pub(super) async fn fetch<T>(
        &self,
        url: &Url,
        handle: impl Fn(&Raw) -> Result<T, HubError>,
    ) -> Result<T, HubError> {
        self.fetch_as(url, &Ask::default(), handle).await
    }

    /// One request made as `ask` says (GET or HEAD, maybe a byte range), paced and retried.
    pub(super) async fn fetch_as<T>(
        &self,
        url: &Url,
        ask: &Ask,
        handle: impl Fn(&Raw) -> Result<T, HubError>,
    ) -> Result<T, HubError> {
        let config = &self.inner.config;
        let (max_retries, max_total_wait, min_delay, max_delay) = match self.patience {
            super::Patience::Configured => (
                config.max_retries,
                config.max_total_wait,
                config.min_backoff,
                config.max_backoff,
            ),
            super::Patience::Brief => (
                config.max_retries.min(1),
                config.max_total_wait.min(super::BRIEF_WAIT),
                config.min_backoff.min(super::BRIEF_BACKOFF),
                config.max_backoff.min(super::BRIEF_BACKOFF),
            ),
        };
        let backoff = ExponentialBuilder::default()
            .with_min_delay(min_delay)
            .with_max_delay(max_delay)
            .with_max_times(max_retries)
            .with_jitter();
        let waited = Mutex::new(Duration::ZERO);
        let attempt = || async {
            let raw = self.send_once(url, ask).await?;
            handle(&raw)
        };
        attempt
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(HubError::is_retryable)
            .adjust(|err, backoff| {
                // The Hub's own wait wins over our backoff; both count against the total.
                let wait = match (err.server_wait(), backoff) {
                    (_, None) => return None,
                    (Some(server), Some(_)) => server,
                    (None, Some(b)) => b,
                };
                let mut total = waited.lock().expect("wait lock");
                if *total + wait > max_total_wait {
                    return None;
                }
                *total += wait;
                Some(wait)
            })
            .notify(|err, wait| {
                                self.inner.stats.retries.fetch_add(1, Ordering::Relaxed);
                crate::obs::metrics::hub_retry();
                tracing::warn!(url = %redact(url), error = %err, wait_ms = wait.as_millis() as u64, "Hub request failed, retrying");
            })
            .await
    }

    async fn send_once(&self, url: &Url, ask: &Ask) -> Result<Raw, HubError> {
        // Every hop: the Hub, its CDN, or a public host — never a private address by accident.
        self.inner.guard.check(url).await.map_err(|e| match e {
            crate::net::guard::GuardError::Refused(why) => HubError::Refused(why),
            crate::net::guard::GuardError::Unresolved(why) => HubError::Transport(why),
        })?;
        // Downloads are metered in the Hub's `resolvers` bucket, the rest in `api`: paced apart.
        let pacer = if url.path().contains("/resolve/") || !self.same_host(url) {
            &self.inner.resolve_pacer
        } else {
            &self.inner.pacer
        };
        let delay = pacer.delay();
        if !delay.is_zero() {
            tracing::info!(
                wait_ms = delay.as_millis() as u64,
                "pacing Hub requests to stay within the rate limit"
            );
            tokio::time::sleep(delay).await;
        }
        self.inner.stats.requests.fetch_add(1, Ordering::Relaxed);
        crate::obs::metrics::hub_request();
        let method = if ask.head {
            reqwest::Method::HEAD
        } else {
            reqwest::Method::GET
        };
        let mut req = self.inner.http.request(method, url.clone());
        if let Some(r) = &ask.range {
            req = req.header(
                reqwest::header::RANGE,
                format!("bytes={}-{}", r.start, r.end - 1),
            );
        }
        // The token goes to the Hub's host only, never to a CDN it redirects to.
        if let Some(token) = &self.inner.config.token {
            if self.same_host(url) {
                req = req.header(AUTHORIZATION, format!("Bearer {}", token.expose_secret()));
            }
        }
        let res = req.send().await.map_err(transport_error)?;
        let status = res.status();
        let headers = res.headers().clone();
        if let Some(limit) = headers
            .get("ratelimit")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_ratelimit)
        {
            let resolvers = headers
                .get("ratelimit")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim_start().starts_with("\"resolvers\""));
            if resolvers {
                self.inner.resolve_pacer.observe(limit);
            } else {
                self.inner.pacer.observe(limit);
            }
        }
        if let Some(q) = headers
            .get("ratelimit-policy")
            .and_then(|v| v.to_str().ok())
            .and_then(ratelimit::parse_policy_quota)
        {
            *self.inner.quota.lock().expect("quota lock") = Some(q);
        }
        let url = res.url().clone();
        let body = res.bytes().await.map_err(|e| {
            if e.is_timeout() {
                HubError::Timeout
            } else {
                HubError::Body(format!("body cut short: {e}"))
            }
        })?;
        let raw = Raw {
            status,
            headers,
            body,
            url,
        };
        if matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504) {
            if status == StatusCode::TOO_MANY_REQUESTS {
                self.inner
                    .stats
                    .rate_limited
                    .fetch_add(1, Ordering::Relaxed);
                crate::obs::metrics::hub_rate_limited();
            }
            return Err(status_error(&raw));
        }
        Ok(raw)
    }
}

/// Where a redirect points, resolved against the URL asked.
pub(super) fn redirect_target(raw: &Raw) -> Result<Url, HubError> {
    let location = raw
        .headers
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| HubError::Redirect("redirect without Location".into()))?;
    raw.url
        .join(location)
        .map_err(|e| HubError::Redirect(format!("{location}: {e}")))
}

/// What a 401/403/404 means about a repo (`None` for a success); any other status is an error.
pub(super) fn refusal<T>(raw: &Raw) -> Result<Option<RepoOutcome<T>>, HubError> {
    let gated = raw
        .headers
        .get("x-error-code")
        .is_some_and(|v| v.as_bytes() == b"GatedRepo");
    Ok(match raw.status {
        s if s.is_success() => None,
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN if gated => Some(RepoOutcome::Gated),
        StatusCode::UNAUTHORIZED => Some(RepoOutcome::MissingOrPrivate),
        StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => Some(RepoOutcome::NotFound),
        _ => return Err(status_error(raw)),
    })
}

enum Step<T> {
    Done(RepoOutcome<T>),
    Redirect(Url),
}
