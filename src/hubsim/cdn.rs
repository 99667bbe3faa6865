//! Model bytes (issue #21): files a test or demo puts into a repo ([`Sim::put_file`]) are stored by
//! their SHA-256, as LFS stores them. `resolve` answers such a file with a 302 to the simulator's CDN
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
            .insert(sha.clone(), Arc::new(bytes));
        self.invalidate();
        Some(sha)
    }

    /// Backs every `.tflite` file of the population with one of `models` (chosen by repo id and path,
    /// the same every time): the files take the model's size and SHA-256, and the CDN serves its bytes.
    /// Returns how many files are backed.
    pub fn serve_model_files(&self, models: Vec<Vec<u8>>) -> usize {
        let models: Vec<(String, Arc<Vec<u8>>)> = models
            .into_iter()
            .map(|b| (hex::encode(Sha256::digest(&b)), Arc::new(b)))
            .collect();
        let mut backed = 0;
        {
            let mut world = self.world.write().expect("world lock");
            for repo in world.repos.values_mut() {
                for file in repo
                    .files
                    .iter_mut()
                    .filter(|f| f.path.ends_with(".tflite"))
                {
                    let key = format!("{}/{}", repo.id, file.path);
                    let pick = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
                    });
                    let (sha, bytes) = &models[(pick % models.len() as u64) as usize];
                    file.size = bytes.len() as i64;
                    file.lfs_sha256 = Some(sha.clone());
                    file.blob_id = population::git_blob_id(format!("oid sha256:{sha}").as_bytes());
                    backed += 1;
                }
            }
        }
        let mut blobs = self.blobs.write().expect("blobs lock");
        for (sha, bytes) in models {
            blobs.insert(sha, bytes);
        }
        drop(blobs);
        self.invalidate();
        backed
    }

    /// Uploads `bytes` to the storage stand-in at `object` (`{bucket}/{path}`, replacing what was
    /// there); returns the URL path it is served at.
    pub fn put_upload(&self, object: &str, bytes: Vec<u8>) -> String {
        let sha = hex::encode(Sha256::digest(&bytes));
        self.blobs
            .write()
            .expect("blobs lock")
            .insert(sha.clone(), Arc::new(bytes));
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

    pub(super) fn blob(&self, sha256: &str) -> Option<Arc<Vec<u8>>> {
        self.blobs.read().expect("blobs lock").get(sha256).cloned()
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
    let size = blob.len() as u64;
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
        Vec::new()
    } else {
        let bytes = blob[span.start as usize..span.end as usize].to_vec();
        c.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        *c.by_file.lock().expect("cdn lock").entry(sha).or_default() += bytes.len() as u64;
        bytes
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
