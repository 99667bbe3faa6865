//! Conditional requests (issue #33): every successful JSON answer to a `GET` carries a strong `ETag`
//! — a 128-bit hash of its bytes, so it changes exactly when what the client would receive changes, on
//! every replica alike — and a request whose `If-None-Match` names it is answered `304 Not Modified`
//! with no body: an unchanged catalogue costs a client a few hundred bytes. The hash is of the JSON
//! itself; its content coding is negotiated per request (`Vary: Accept-Encoding`, the compression layer).

use axum::body::Body;
use axum::body::HttpBody as _;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

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
/// `If-None-Match` with 304.
pub async fn etag(req: Request, next: Next) -> Response {
    let conditional = matches!(*req.method(), Method::GET | Method::HEAD);
    let if_none_match = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
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
    let Ok(bytes) = axum::body::to_bytes(body, MAX_TAGGED as usize).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let tag = etag_of(&bytes);
    let value = HeaderValue::from_str(&tag).expect("hex in quotes");
    if if_none_match.is_some_and(|v| matches(&v, &tag)) {
        let mut not_modified = StatusCode::NOT_MODIFIED.into_response();
        let h = not_modified.headers_mut();
        h.insert(header::ETAG, value);
        for name in [header::CACHE_CONTROL, header::VARY] {
            if let Some(v) = parts.headers.get(&name) {
                h.insert(name, v.clone());
            }
        }
        return not_modified;
    }
    parts.headers.insert(header::ETAG, value);
    Response::from_parts(parts, Body::from(bytes))
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
}
