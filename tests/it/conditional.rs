//! The catalogue small and conditional on the wire (issue #33): JSON answers are compressed with gzip or
//! brotli as the client accepts (still `application/json`), and carry a strong `ETag`; a request whose
//! `If-None-Match` names it gets `304 Not Modified` with no body, until the answer changes.

use crate::support::{Backend, Role, TestApp};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::{json, Value};
use std::io::Read;
use tower::ServiceExt;

/// A GET of `uri` with these request headers: status, headers and body bytes.
async fn get(
    app: &TestApp,
    uri: &str,
    headers: &[(header::HeaderName, &str)],
) -> (StatusCode, header::HeaderMap, Vec<u8>) {
    let mut req = Request::builder().uri(uri);
    for (name, value) in headers {
        req = req.header(name, *value);
    }
    let res = app
        .router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap()
        .to_vec();
    (parts.status, parts.headers, bytes)
}

#[tokio::test]
async fn the_catalogue_is_compressed_as_accepted_and_an_unchanged_one_costs_a_304() {
    let app = TestApp::new(Backend::Sqlite).await;
    let token = app.token(Role::Developer).await;
    for i in 0..40 {
        let res = app
            .post(
                "/api/v1/models",
                Some(&token),
                json!({"name": format!("Model {i}"), "description": "A model that tells things apart, described at some length."}),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    }
    let list = "/api/v1/models?skip=0&limit=1000";
    let (status, plain_headers, plain) = get(&app, list, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(plain_headers.get(header::CONTENT_ENCODING).is_none());
    let listed: Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 40);

    // gzip: smaller on the wire, the same JSON, still application/json.
    let (_, headers, gzipped) = get(&app, list, &[(header::ACCEPT_ENCODING, "gzip")]).await;
    assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
    assert!(headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    assert!(
        gzipped.len() * 3 < plain.len(),
        "{} of {}",
        gzipped.len(),
        plain.len()
    );
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(gzipped.as_slice())
        .read_to_end(&mut unzipped)
        .unwrap();
    assert_eq!(unzipped, plain);
    // brotli when preferred.
    let (_, headers, brotli) = get(&app, list, &[(header::ACCEPT_ENCODING, "br")]).await;
    assert_eq!(headers[header::CONTENT_ENCODING], "br");
    assert!(brotli.len() * 3 < plain.len());

    // The ETag names the JSON whatever its coding; If-None-Match with it is a 304 without a body.
    let etag = plain_headers[header::ETAG].to_str().unwrap().to_string();
    assert!(
        etag.starts_with('"') && !etag.starts_with("W/"),
        "strong: {etag}"
    );
    assert_eq!(headers[header::ETAG].to_str().unwrap(), etag);
    let (status, headers, body) = get(
        &app,
        list,
        &[
            (header::IF_NONE_MATCH, etag.as_str()),
            (header::ACCEPT_ENCODING, "gzip"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    assert_eq!(headers[header::ETAG].to_str().unwrap(), etag);

    // A model, its versions, a version: tagged too.
    let id = listed[0]["id"].as_str().unwrap();
    for uri in [
        format!("/api/v1/models/{id}"),
        format!("/api/v1/models/{id}/versions"),
    ] {
        let (_, headers, _) = get(&app, &uri, &[]).await;
        let tag = headers[header::ETAG].to_str().unwrap().to_string();
        let (status, _, _) = get(&app, &uri, &[(header::IF_NONE_MATCH, tag.as_str())]).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED, "{uri}");
    }

    // The catalogue changes: the old tag no longer matches, the answer comes whole with a new one.
    let res = app
        .post(
            "/api/v1/models",
            Some(&token),
            json!({"name": "One more", "description": "d"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED);
    let (status, headers, body) = get(&app, list, &[(header::IF_NONE_MATCH, etag.as_str())]).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(headers[header::ETAG].to_str().unwrap(), etag);
    let listed: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 41);
    // Errors carry no ETag.
    let (status, headers, _) = get(&app, "/api/v1/models/not-a-uuid", &[]).await;
    assert!(status.is_client_error());
    assert!(headers.get(header::ETAG).is_none());
}
