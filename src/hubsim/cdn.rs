//! Model bytes (issue #21): files a test or demo puts into a repo ([`Sim::put_file`]) are stored by
//! their SHA-256, as LFS stores them; every other LFS file the population lists is served as
//! pseudo-random bytes of its declared size ([`Blob::Synthetic`]), as the Hub serves every file. `resolve` answers such a file with a 302 to the simulator's CDN
//! path on *another host name* (`127.0.0.1` ↔ `localhost`, the same listener), so a client that sends its
//! token across hosts is caught (`cdn_authorized`). The CDN honours `Range` (206 with `Content-Range`,
//! 416 past the end), answers `HEAD` with `Content-Length` and `ETag`, and counts bytes per file.
//!
//! It also stands in for the portal's Supabase Storage bucket (CLIENTS.md F5): a file uploaded with
//! [`Sim::put_upload`] is served the same way at `/storage/v1/object/public/{bucket}/{path}`, with no
//! Hub around it (no redirect, no repo), as a person's upload outside the Hub is.

use super::*;
use axum::http::HeaderName;
use sha2::{Digest, Sha256};

/// The CDN's counters.
#[derive(Default)]
pub(super) struct CdnCounters {
    pub requests: AtomicU64,
    pub bytes: AtomicU64,
    /// Requests that arrived with an `Authorization` header (a leaked token).
    pub authorized: AtomicU64,
    /// Bytes served per file (its SHA-256).
    pub by_file: Mutex<HashMap<String, u64>>,
}

/// What the CDN serves for one SHA-256.
#[derive(Clone)]
pub(super) enum Blob {
    /// Bytes a test, the demo or an upload put there.
    Bytes(Arc<Vec<u8>>),
    /// A synthetic file of the population: this many pseudo-random bytes, made as they are read.
    Synthetic(u64),
}

impl Blob {
    fn len(&self) -> u64 {
        match self {
            Blob::Bytes(b) => b.len() as u64,
            Blob::Synthetic(size) => *size,
        }
    }

    /// The bytes of `span`, in chunks of at most [`CHUNK`] (a synthetic file of gigabytes is never
    /// held whole).
    fn body(&self, sha: &str, span: std::ops::Range<u64>) -> axum::body::Body {
        match self {
            Blob::Bytes(b) => b[span.start as usize..span.end as usize].to_vec().into(),
            Blob::Synthetic(_) => {
                let seed = sha
                    .get(..16)
                    .and_then(|h| u64::from_str_radix(h, 16).ok())
                    .unwrap_or(0);
                let chunks = (span.start..span.end)
                    .step_by(CHUNK as usize)
                    .map(move |at| {
                        let end = (at + CHUNK).min(span.end);
                        Ok::<_, std::convert::Infallible>(bytes::Bytes::from(synthetic_bytes(
                            seed,
                            at..end,
                        )))
                    });
                axum::body::Body::from_stream(futures_util::stream::iter(chunks))
            }
        }
    }
}

/// The largest piece of a synthetic file made at once.
const CHUNK: u64 = 1 << 16;

/// The pseudo-random bytes at `span` of the synthetic file seeded `seed`: byte `i` is byte `i % 8` of
/// SplitMix64 of `seed` and `i / 8`, so any range reads the same bytes as the whole file does.
pub(super) fn synthetic_bytes(seed: u64, span: std::ops::Range<u64>) -> Vec<u8> {
    let word = |block: u64| {
        let mut z = seed ^ block.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)).to_le_bytes()
    };
    span.map(|i| word(i / 8)[(i % 8) as usize]).collect()
}

impl Sim {
    /// Puts `bytes` into repo `repo_id` at `path` (replacing a file of that path) as an LFS file of
    /// the repo's current commit; returns its SHA-256. Returns `None` for an unknown repo.
    pub fn put_file(&self, repo_id: &str, path: &str, bytes: Vec<u8>) -> Option<String> {
        let sha = hex::encode(Sha256::digest(&bytes));
        let file = population::SimFile {
            path: path.to_string(),
            size: bytes.len() as i64,
            lfs_sha256: Some(sha.clone()),
            blob_id: population::git_blob_id(format!("oid sha256:{sha}").as_bytes()),
        };
        {
            let mut world = self.world.write().expect("world lock");
            let repo = world
                .repos
                .values_mut()
                .find(|r| r.id.eq_ignore_ascii_case(repo_id))?;
            repo.files.retain(|f| f.path != path);
            repo.files.push(file);
        }
        self.blobs
            .write()
            .expect("blobs lock")
            .insert(sha.clone(), Blob::Bytes(Arc::new(bytes)));
        self.invalidate();
        Some(sha)
    }

    /// Uploads `bytes` to the storage stand-in at `object` (`{bucket}/{path}`, replacing what was
    /// there); returns the URL path it is served at.
    pub fn put_upload(&self, object: &str, bytes: Vec<u8>) -> String {
        let sha = hex::encode(Sha256::digest(&bytes));
        self.blobs
            .write()
            .expect("blobs lock")
            .insert(sha.clone(), Blob::Bytes(Arc::new(bytes)));
        let object = object.trim_start_matches('/').to_string();
        let path = format!("/storage/v1/object/public/{object}");
        self.uploads
            .write()
            .expect("uploads lock")
            .insert(object, sha);
        path
    }

    /// Bytes the CDN served of the file with this SHA-256.
    pub fn bytes_served(&self, sha256: &str) -> u64 {
        let by_file = self.cdn.by_file.lock().expect("cdn lock");
        by_file.get(sha256).copied().unwrap_or(0)
    }

    pub(super) fn blob(&self, sha256: &str) -> Option<Blob> {
        self.blobs.read().expect("blobs lock").get(sha256).cloned()
    }

    /// Makes the CDN serve the LFS file the Hub lists with this SHA-256 and size: the bytes put
    /// there, else pseudo-random bytes of that size from now on (the Hub serves every file it lists).
    pub(super) fn ensure_served(&self, sha256: &str, size: i64) {
        if self.blob(sha256).is_none() {
            self.blobs
                .write()
                .expect("blobs lock")
                .entry(sha256.to_string())
                .or_insert(Blob::Synthetic(size.max(0) as u64));
        }
    }
}

/// The 302 `resolve` answers for a stored LFS file: to the CDN on the other host name, with the
/// file's size, ETag and commit, as the Hub sends them.
pub(super) fn to_cdn(
    headers: &HeaderMap,
    sha256: &str,
    name: &str,
    size: i64,
    commit: &str,
) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let cdn_host = if let Some(port) = host.strip_prefix("127.0.0.1") {
        format!("localhost{port}")
    } else if let Some(port) = host.strip_prefix("localhost") {
        format!("127.0.0.1{port}")
    } else {
        host.to_string()
    };
    let location = format!("http://{cdn_host}/_cdn/{sha256}/{}", encode_segment(name));
    let etag = format!("\"{sha256}\"");
    let mut res = StatusCode::FOUND.into_response();
    let h = res.headers_mut();
    for (k, v) in [
        ("location", location.as_str()),
        ("x-linked-size", &size.to_string()),
        ("x-linked-etag", &etag),
        ("etag", &etag),
        ("x-repo-commit", commit),
    ] {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(HeaderName::from_static(k), v);
        }
    }
    res
}

/// `GET|HEAD /_cdn/{sha256}/{name}`: the stored bytes, whole or by one range.
pub(super) async fn cdn(
    State(sim): State<Arc<Sim>>,
    method: axum::http::Method,
    headers: HeaderMap,
    axum::extract::Path((sha, _name)): axum::extract::Path<(String, String)>,
) -> Response {
    serve_blob(&sim, &method, &headers, sha)
}

/// `GET|HEAD /storage/v1/object/public/{bucket}/{path}`: an uploaded file, as the CDN serves blobs.
pub(super) async fn storage(
    State(sim): State<Arc<Sim>>,
    method: axum::http::Method,
    headers: HeaderMap,
    axum::extract::Path(object): axum::extract::Path<String>,
) -> Response {
    let sha = sim
        .uploads
        .read()
        .expect("uploads lock")
        .get(&object)
        .cloned();
    match sha {
        Some(sha) => serve_blob(&sim, &method, &headers, sha),
        None => (
            StatusCode::BAD_REQUEST,
            Json(json!({"statusCode": "404", "error": "not_found", "message": "Object not found"})),
        )
            .into_response(),
    }
}

/// The bytes of blob `sha`, whole or by one range (counted).
fn serve_blob(
    sim: &Sim,
    method: &axum::http::Method,
    headers: &HeaderMap,
    sha: String,
) -> Response {
    let c = &sim.cdn;
    c.requests.fetch_add(1, Ordering::Relaxed);
    if sim.faults().object_is_broken(&sha) {
        sim.counters.faults.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response();
    }
    if headers.contains_key(header::AUTHORIZATION) {
        c.authorized.fetch_add(1, Ordering::Relaxed);
    }
    let Some(blob) = sim.blob(&sha) else {
        return (StatusCode::NOT_FOUND, "NoSuchKey").into_response();
    };
    let size = blob.len();
    let etag = format!("\"{sha}\"");
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|v| parse_range(v, size));
    let (status, span) = match range {
        None => (StatusCode::OK, 0..size),
        Some(Some(span)) => (StatusCode::PARTIAL_CONTENT, span),
        Some(None) => {
            let mut res = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                res.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return res;
        }
    };
    let body = if method == axum::http::Method::HEAD {
        axum::body::Body::empty()
    } else {
        let length = span.end - span.start;
        c.bytes.fetch_add(length, Ordering::Relaxed);
        let body = blob.body(&sha, span.clone());
        *c.by_file.lock().expect("cdn lock").entry(sha).or_default() += length;
        body
    };
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(span.end - span.start),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if status == StatusCode::PARTIAL_CONTENT {
        let value = format!("bytes {}-{}/{size}", span.start, span.end - 1);
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    res
}

/// One `bytes=` range of a file of `size` bytes (`a-b`, `a-`, `-n`), end exclusive; `None` when it
/// cannot be satisfied. Several ranges are not supported (the first is served).
pub(super) fn parse_range(value: &str, size: u64) -> Option<std::ops::Range<u64>> {
    let spec = value
        .trim()
        .strip_prefix("bytes=")?
        .split(',')
        .next()?
        .trim();
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (size.saturating_sub(n), size)
        }
        (a, "") => (a.parse().ok()?, size),
        (a, b) => {
            let (a, b): (u64, u64) = (a.parse().ok()?, b.parse().ok()?);
            (a, b.saturating_add(1).min(size))
        }
    };
    (start < end && start < size).then_some(start..end)
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges_are_parsed_as_servers_read_them() {
        assert_eq!(parse_range("bytes=0-9", 100), Some(0..10));
        assert_eq!(parse_range("bytes=90-", 100), Some(90..100));
        assert_eq!(parse_range("bytes=-10", 100), Some(90..100));
        assert_eq!(parse_range("bytes=95-200", 100), Some(95..100));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("bytes=5-2", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }
}
