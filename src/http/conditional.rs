//! Conditional requests (issue #33): every successful JSON answer to a `GET` carries a strong `ETag`,
//! and a request whose `If-None-Match` names it is answered `304 Not Modified` with no body: an
//! unchanged catalogue costs a client a few hundred bytes. The tag is the same on every replica; the
//! content coding is negotiated per request (`Vary: Accept-Encoding`, the compression layer).
//!
//! A catalogue answer — a list of models, a model, its versions, a version, in either dialect — is
//! tagged from what changed: the catalogue's revision (a number the database's triggers raise with
//! every write to models, versions and users; migration 0029), the URL, who asks and this build. Read
//! before the answer is made, it is one lookup: an anonymous client's current copy is confirmed
//! without making the answer, and the answer caches key on the revision
//! ([`CatalogRevision`]), so they never serve a page older than its tag. A signed-in client's `304`
//! comes after the handler (which decides whether the token still lets them see it). Any other JSON
//! answer is tagged by a 128-bit hash of its bytes.

use super::AppState;
use axum::body::Body;
use axum::body::HttpBody as _;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// The catalogue's revision when a catalogue request came in (a request extension, set by [`etag`]):
/// caches of catalogue answers key on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogRevision(pub i64);

/// Whether `path` is a catalogue answer's: the models (or a user's), a model (by id or slug), its
/// versions, one of them, or a version — at the root or under `/api/v1`.
fn is_catalogue(path: &str) -> bool {
    let path = path.strip_prefix("/api/v1").unwrap_or(path);
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    matches!(
        segments.as_slice(),
        ["models"]
            | ["users", _, "models"]
            | ["models", _]
            | ["models", _, "versions"]
            | ["models", _, "versions", _]
            | ["versions", _]
    )
}

/// The tag of a catalogue answer: this build, where clients reach it, the catalogue's revision, the
/// path and query, and who asks (a SHA-256 of the `Authorization` header, never the header itself).
fn catalogue_tag(
    public_url: &str,
    revision: i64,
    path_and_query: &str,
    headers: &HeaderMap,
) -> String {
    let asker = headers
        .get(header::AUTHORIZATION)
        .map(|v| hex::encode(Sha256::digest(v.as_bytes())))
        .unwrap_or_default();
    etag_of(
        format!(
            "{}\n{public_url}\n{revision}\n{path_and_query}\n{asker}",
            env!("CARGO_PKG_VERSION")
        )
        .as_bytes(),
    )
}

/// Answers larger than this are sent without an `ETag` (none of the catalogue's comes near).
const MAX_TAGGED: u64 = 64 << 20;

/// The strong entity tag of these bytes: 128 bits of rapidhash v3, whose output is fixed across
/// versions and machines (every replica tags the same answer alike). SipHash, used before, cost 6 %
/// of serving the uncached 1,000-model list (BENCHMARKS.md, "The clients' catalog").
pub fn etag_of(bytes: &[u8]) -> String {
    use rapidhash::v3::{rapidhash_v3_seeded, RapidSecrets};
    const FIRST: RapidSecrets = RapidSecrets::seed(1);
    const SECOND: RapidSecrets = RapidSecrets::seed(2);
    format!(
        "\"{:016x}{:016x}\"",
        rapidhash_v3_seeded(bytes, &FIRST),
        rapidhash_v3_seeded(bytes, &SECOND)
    )
}

/// Whether an `If-None-Match` header value names `etag` (or is `*`); weak tags compare by their value.
fn matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match
        .split(',')
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == etag)
}

/// The middleware: tags successful JSON answers to `GET`/`HEAD` and answers a matching
/// `If-None-Match` with 304 — for an anonymous catalogue request, before the answer is made.
pub async fn etag(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let conditional = matches!(*req.method(), Method::GET | Method::HEAD);
    let if_none_match = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut catalogue = None;
    if conditional && is_catalogue(req.uri().path()) {
        match state.store.catalog_revision().await {
            Ok(revision) => {
                req.extensions_mut().insert(CatalogRevision(revision));
                let path = req.uri().path_and_query().map_or("", |p| p.as_str());
                catalogue = Some(catalogue_tag(
                    state.public_url.as_str(),
                    revision,
                    path,
                    req.headers(),
                ));
            }
            // The answer will fail the same way, or be tagged by its bytes.
            Err(e) => tracing::warn!(error = %e, "cannot read the catalogue's revision"),
        }
    }
    let anonymous = !req.headers().contains_key(header::AUTHORIZATION);
    if let (Some(tag), Some(wanted), true) = (&catalogue, &if_none_match, anonymous) {
        if matches(wanted, tag) {
            return not_modified(tag, &HeaderMap::new());
        }
    }
    let res = next.run(req).await;
    let json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    let small = res
        .body()
        .size_hint()
        .exact()
        .is_some_and(|n| n <= MAX_TAGGED);
    if !conditional || res.status() != StatusCode::OK || !json || !small {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let (tag, body) = match catalogue {
        Some(tag) => (tag, body),
        None => {
            let Ok(bytes) = axum::body::to_bytes(body, MAX_TAGGED as usize).await else {
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            };
            (etag_of(&bytes), Body::from(bytes))
        }
    };
    if if_none_match.is_some_and(|v| matches(&v, &tag)) {
        return not_modified(&tag, &parts.headers);
    }
    parts.headers.insert(
        header::ETAG,
        HeaderValue::from_str(&tag).expect("hex in quotes"),
    );
    Response::from_parts(parts, body)
}

/// `304 Not Modified` for `tag`, with the caching headers the full answer has (`answer`).
fn not_modified(tag: &str, answer: &HeaderMap) -> Response {
    let mut res = StatusCode::NOT_MODIFIED.into_response();
    let h = res.headers_mut();
    h.insert(
        header::ETAG,
        HeaderValue::from_str(tag).expect("hex in quotes"),
    );
    for name in [header::CACHE_CONTROL, header::VARY] {
        if let Some(v) = answer.get(&name) {
            h.insert(name, v.clone());
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_follow_the_bytes_and_if_none_match_lists_compare_by_value() {
        let a = etag_of(br#"[{"id": 1}]"#);
        assert_eq!(a, etag_of(br#"[{"id": 1}]"#));
        assert_ne!(a, etag_of(br#"[{"id": 2}]"#));
        assert_eq!(a.len(), 34);
        assert!(matches(&a, &a));
        assert!(matches(&format!("\"x\", W/{a}"), &a));
        assert!(matches("*", &a));
        assert!(!matches("\"other\"", &a));
    }

    #[test]
    fn catalogue_answers_are_the_models_and_versions_in_both_dialects() {
        for path in [
            "/models",
            "/models/some-slug",
            "/models/1/versions",
            "/models/1/versions/2",
            "/versions/2",
            "/api/v1/models",
            "/api/v1/models/1",
            "/api/v1/models/1/versions",
            "/api/v1/versions/2",
            "/users/1/models",
        ] {
            assert!(is_catalogue(path), "{path}");
        }
        for path in [
            "/",
            "/users/me",
            "/versions/2/stats",
            "/versions/2/download/model",
            "/sync/runs",
            "/api/v1/users/me",
            "/modelsx",
        ] {
            assert!(!is_catalogue(path), "{path}");
        }
    }

    #[test]
    fn a_catalogue_tag_follows_the_revision_the_url_and_the_asker_and_hides_the_token() {
        let anonymous = HeaderMap::new();
        let mut signed_in = HeaderMap::new();
        signed_in.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer secret-token"),
        );
        let tag = |rev, path, h: &HeaderMap| catalogue_tag("http://x/", rev, path, h);
        let first = tag(7, "/models?q=a", &anonymous);
        assert_eq!(first, tag(7, "/models?q=a", &anonymous));
        assert_ne!(first, tag(8, "/models?q=a", &anonymous));
        assert_ne!(first, tag(7, "/models?q=b", &anonymous));
        assert_ne!(first, tag(7, "/models?q=a", &signed_in));
        assert_ne!(
            first,
            catalogue_tag("http://y/", 7, "/models?q=a", &anonymous)
        );
        assert!(!tag(7, "/models", &signed_in).contains("secret"));
    }
}
