//! Model files on the Hub, read by range (issue #21). `resolve` URLs answer with a 302 to a CDN host
//! that honours `Range`; a `HEAD` gives the file's size (`X-Linked-Size`), ETag and commit. The file is
//! opened with a HEAD that follows same-host redirects (a renamed repo) and stops at the CDN; its bytes
//! are then read by `Range` from wherever the Hub pointed. Every request is paced (downloads in the
//! `resolvers` bucket, apart from the API's) and retried as the API's are; the token is sent to the
//! Hub's host only, never to the CDN.

use super::*;
use crate::inspect::RangeSource;
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, ETAG};

/// A file of a repo at a pinned revision, opened for range reads.
#[derive(Debug, Clone)]
pub struct HubFile {
    client: HubClient,
    /// Where its bytes are: the CDN the Hub redirected to, or the Hub itself.
    url: Url,
    pub size: u64,
    pub etag: Option<String>,
    pub commit: Option<String>,
}

fn header(raw: &Raw, name: &str) -> Option<String> {
    raw.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().trim_matches('"').to_string())
        .filter(|v| !v.is_empty())
}

impl HubClient {
    /// Opens `path` of `repo_id` at `revision` for range reads (HEAD requests only).
    pub async fn open_file(
        &self,
        repo_id: &str,
        revision: &str,
        path: &str,
    ) -> Result<RepoOutcome<HubFile>, HubError> {
        let mut segments: Vec<&str> = repo_id.split('/').collect();
        segments.extend(["resolve", revision]);
        segments.extend(path.split('/'));
        let mut url = self.endpoint_url(&segments);
        let (mut size, mut etag, mut commit) = (None, None, None);
        let head = Ask {
            head: true,
            range: None,
        };
        for _ in 0..=MAX_REDIRECTS {
            let step = self
                .fetch_as(&url, &head, |raw| {
                    let linked = header(raw, "x-linked-size").and_then(|s| s.parse::<u64>().ok());
                    let etag = header(raw, "x-linked-etag").or_else(|| header(raw, ETAG.as_str()));
                    let meta = (linked, etag, header(raw, "x-repo-commit"));
                    if raw.status.is_redirection() {
                        return Ok((Some(redirect_target(raw)?), meta, None));
                    }
                    let outcome = refusal(raw)?;
                    let length = header(raw, CONTENT_LENGTH.as_str()).and_then(|s| s.parse().ok());
                    Ok((None, (linked.or(length), meta.1, meta.2), outcome))
                })
                .await?;
            let (next, (linked, tag, sha), outcome) = step;
            size = size.or(linked);
            etag = etag.or(tag);
            commit = commit.or(sha);
            if let Some(outcome) = outcome {
                return Ok(outcome);
            }
            match next {
                // Served by the Hub itself, or a rename on the same host to follow.
                None => break,
                Some(next) if self.same_host(&next) => url = next,
                Some(next) => {
                    url = next;
                    break;
                }
            }
        }
        let size = match size {
            Some(size) => size,
            // No size from the Hub: ask the CDN (without the token: another host).
            None => {
                self.fetch_as(&url, &head, |raw| {
                    if !raw.status.is_success() {
                        return Err(status_error(raw));
                    }
                    header(raw, CONTENT_LENGTH.as_str())
                        .and_then(|s| s.parse().ok())
                        .ok_or_else(|| HubError::Body("the file's size is not given".into()))
                })
                .await?
            }
        };
        Ok(RepoOutcome::Found {
            value: HubFile {
                client: self.clone(),
                url,
                size,
                etag,
                commit,
            },
            renamed_to: None,
        })
    }
}

impl HubFile {
    /// Where the bytes are read from.
    pub fn url(&self) -> &Url {
        &self.url
    }

    async fn read_range(&self, range: std::ops::Range<u64>) -> Result<Vec<u8>, HubError> {
        let ask = Ask {
            head: false,
            range: Some(range.clone()),
        };
        let len = (range.end - range.start) as usize;
        let size = self.size;
        self.client
            .fetch_as(&self.url, &ask, |raw| match raw.status {
                StatusCode::PARTIAL_CONTENT => {
                    let start = header(raw, CONTENT_RANGE.as_str())
                        .and_then(|v| crate::inspect::content_range_start(&v));
                    if start != Some(range.start) || raw.body.len() != len {
                        return Err(HubError::Body(format!(
                            "asked for {len} bytes at {}, got {} at {start:?}",
                            range.start,
                            raw.body.len()
                        )));
                    }
                    Ok(raw.body.to_vec())
                }
                // A server that ignores Range sends the whole file: the part asked for is kept.
                StatusCode::OK if raw.body.len() as u64 == size => {
                    Ok(raw.body[range.start as usize..range.end as usize].to_vec())
                }
                StatusCode::RANGE_NOT_SATISFIABLE => Err(HubError::Body(format!(
                    "bytes {range:?} are past the end of the {size}-byte file"
                ))),
                _ => Err(status_error(raw)),
            })
            .await
    }
}

impl RangeSource for HubFile {
    async fn read(&self, range: std::ops::Range<u64>) -> Result<Vec<u8>, String> {
        self.read_range(range).await.map_err(|e| e.to_string())
    }
}
