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

crate::both_backends!(
    a_catalogue_tag_is_the_revision_so_every_visible_write_changes_it_and_a_304_makes_no_answer
);

/// The catalogue's answers are tagged from its revision: each kind of write a client could see —
/// a model created, edited, deleted, a version added, a download counted, a user's role — gives the
/// list and the model new tags; reading changes nothing. An anonymous client's current tag is
/// confirmed without making the answer (here the answer could not be made at all); a signed-in
/// client's answer is made first (so a token that no longer works gets its 401, never a 304).
async fn a_catalogue_tag_is_the_revision_so_every_visible_write_changes_it_and_a_304_makes_no_answer(
    backend: Backend,
) {
    use crate::support::execute_raw;
    use pocket_catalog::domain::records::ModelPatch;
    let app = TestApp::with_config(
        backend,
        pocket_catalog::config::ServeArgs {
            list_cache: std::time::Duration::ZERO,
            ..Default::default()
        },
    )
    .await;
    let (developer, token) = app.user(Role::Developer).await;
    let mut ids = Vec::new();
    for name in ["First", "Second"] {
        let res = app
            .post(
                "/api/v1/models",
                Some(&token),
                json!({"name": name, "description": "d"}),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        ids.push(uuid::Uuid::parse_str(res.body["id"].as_str().unwrap()).unwrap());
    }
    let list = "/api/v1/models?skip=0&limit=1000";
    let model = format!("/models/{}", ids[0]);
    let tags = || async {
        let mut both = Vec::new();
        for uri in [list, model.as_str()] {
            let (status, headers, _) = get(&app, uri, &[]).await;
            assert_eq!(status, StatusCode::OK, "{uri}");
            both.push(headers[header::ETAG].to_str().unwrap().to_string());
        }
        both
    };
    let mut before = tags().await;
    assert_eq!(tags().await, before, "reading changes nothing");
    let mut revision = app.store.catalog_revision().await.unwrap();
    let writes = [
        "a model created",
        "a model edited",
        "a version added",
        "a download counted",
        "a role changed",
        "a model deleted",
    ];
    for write in writes {
        match write {
            "a model created" => {
                let res = app
                    .post(
                        "/api/v1/models",
                        Some(&token),
                        json!({"name": "Third", "description": "d"}),
                    )
                    .await;
                assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
            }
            "a model edited" => {
                let patch = ModelPatch {
                    description: Some("edited".into()),
                    ..Default::default()
                };
                app.store.update_model(ids[0], &patch).await.unwrap();
            }
            "a version added" => {
                let v = crate::clients::new_version(ids[0], "1.0", None, vec![]);
                app.store.create_version(&v).await.unwrap();
            }
            "a download counted" => {
                let versions = app.store.list_versions(ids[0]).await.unwrap();
                app.store
                    .count_download(versions[0].id, "203.0.113.9")
                    .await
                    .unwrap();
            }
            "a role changed" => {
                app.store
                    .set_user_roles(developer.id, None, Some(true))
                    .await
                    .unwrap();
            }
            _ => {
                let sql = format!("DELETE FROM ml_models WHERE id = '{}'", ids[1]);
                let sql = match backend {
                    Backend::Sqlite => {
                        format!("DELETE FROM ml_models WHERE id = X'{}'", ids[1].simple())
                    }
                    Backend::Postgres => sql,
                };
                execute_raw(&app._db, &sql).await;
            }
        }
        let now = app.store.catalog_revision().await.unwrap();
        assert!(now > revision, "{write}: the revision grows");
        revision = now;
        let after = tags().await;
        assert_ne!(after[0], before[0], "{write}: the list's tag");
        if write != "a model deleted" {
            assert_ne!(after[1], before[1], "{write}: the model's tag");
        }
        before = after;
    }

    // A signed-in client's tag, then the answers cannot be made any more.
    let (_, signed_in, _) = get(
        &app,
        list,
        &[(header::AUTHORIZATION, &format!("Bearer {token}"))],
    )
    .await;
    let signed_in = signed_in[header::ETAG].to_str().unwrap().to_string();
    assert_ne!(signed_in, before[0], "who asks is part of the tag");
    let broken = "ALTER TABLE ml_models RENAME COLUMN client_card TO card_gone";
    execute_raw(&app._db, broken).await;
    let (status, _, _) = get(&app, list, &[]).await;
    assert_eq!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "the answer needs the table"
    );
    let (status, headers, body) =
        get(&app, list, &[(header::IF_NONE_MATCH, before[0].as_str())]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    assert_eq!(headers[header::ETAG].to_str().unwrap(), before[0]);
    let (status, _, _) = get(
        &app,
        list,
        &[
            (header::IF_NONE_MATCH, signed_in.as_str()),
            (header::AUTHORIZATION, &format!("Bearer {token}")),
        ],
    )
    .await;
    assert_eq!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "a signed-in 304 comes after the answer"
    );
}
