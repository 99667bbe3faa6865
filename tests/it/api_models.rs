//! The catalog API through the router: success and error paths of every endpoint.

use crate::both_backends;
use crate::store_conformance::synced_model;
use crate::support::{Backend, Role, TestApp};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use pocket_catalog::config::ServeArgs;
use pocket_catalog::domain::UpstreamStatus;
use serde_json::{json, Value};

both_backends!(
    models_are_created_read_by_id_and_slug,
    listing_paginates_with_link_and_total_headers,
    listing_filters_and_searches,
    listing_rejects_bad_parameters_with_400,
    owners_and_admins_edit_and_synced_fields_are_protected,
    versions_are_published_listed_and_read,
    malformed_bodies_get_clear_4xx,
    probes_docs_and_unknown_routes,
    list_pages_are_cached_briefly_by_revision_and_every_write_shows_at_once,
);

async fn models_are_created_read_by_id_and_slug(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (dev, token) = app.user(Role::Developer).await;
    let created = app
        .post(
            "/models",
            Some(&token),
            json!({"name": "  Face Mesh  ", "description": "468 landmarks", "category": "fun",
                   "license_type": "apache-2.0", "tags": ["face", "face", "vision"], "task": "face-landmarks",
                   "origin_repo_url": "https://github.com/example/face"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let m = &created.body;
    assert_eq!(m["name"], "Face Mesh");
    assert_eq!(m["slug"], "face-mesh");
    assert_eq!(m["category"], "fun");
    assert_eq!(m["license_type"], "apache-2.0");
    assert_eq!(m["tags"], json!(["face", "vision"]));
    assert_eq!(m["author_id"], json!(dev.id));
    assert_eq!(m["source"], "user");
    assert_eq!(m["hf_model_id"], Value::Null);
    assert_eq!(m["total_download_count"], 0);
    for key in [
        "origin_repo_url",
        "is_verified_official",
        "rating_weighted_avg",
        "total_ratings",
        "created_at",
        "updated_at",
        "upstream_status",
    ] {
        assert!(m.get(key).is_some(), "{key} missing");
    }
    let second = app
        .post("/models", Some(&token), json!({"name": "Face Mesh"}))
        .await;
    assert_eq!(second.status, StatusCode::CREATED);
    assert_ne!(second.body["slug"], "face-mesh");
    assert!(second.body["slug"]
        .as_str()
        .unwrap()
        .starts_with("face-mesh-"));
    assert_eq!(second.body["category"], "utility");
    assert_eq!(second.body["license_type"], "unknown");

    let id = m["id"].as_str().unwrap();
    let by_id = app.get(&format!("/models/{id}"), None).await;
    assert_eq!(by_id.status, StatusCode::OK);
    assert_eq!(&by_id.body, m);
    let by_slug = app.get("/models/face-mesh", None).await;
    assert_eq!(by_slug.body["id"], m["id"]);
    let missing = app
        .get(&format!("/models/{}", uuid::Uuid::new_v4()), None)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.detail().contains("not found"));
    let weird = app.get("/models/%27%3B%20DROP%20TABLE", None).await;
    assert_eq!(weird.status, StatusCode::NOT_FOUND);
}

async fn listing_paginates_with_link_and_total_headers(backend: Backend) {
    let app = TestApp::new(backend).await;
    let token = app.token(Role::Developer).await;
    for i in 0..12 {
        let res = app
            .post(
                "/models",
                Some(&token),
                json!({"name": format!("Model {i:02}")}),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED);
    }
    let mut uri = "/models?limit=5&sort=name".to_string();
    let mut names = Vec::new();
    let mut pages = 0;
    loop {
        let res = app.get(&uri, None).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        assert_eq!(res.header("x-total-count"), Some("12"));
        pages += 1;
        names.extend(
            res.body
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["name"].as_str().unwrap().to_string()),
        );
        match res.header("link") {
            Some(link) => {
                assert!(link.ends_with("; rel=\"next\""), "{link}");
                uri = link
                    .trim_start_matches('<')
                    .split('>')
                    .next()
                    .unwrap()
                    .to_string();
                assert!(
                    uri.contains("sort=name") && uri.contains("limit=5"),
                    "parameters are kept: {uri}"
                );
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..12).map(|i| format!("Model {i:02}")).collect();
    assert_eq!(names, expected);
    let default = app.get("/models", None).await;
    assert_eq!(default.body.as_array().unwrap().len(), 12);
    assert_eq!(
        default.body[0]["name"], "Model 11",
        "newest first by default"
    );
    assert!(default.header("link").is_none());
}

async fn listing_filters_and_searches(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (dev, token) = app.user(Role::Developer).await;
    app.post("/models", Some(&token), json!({"name": "Detector", "task": "object-detection", "license_type": "mit", "tags": ["yolo"]})).await;
    app.post("/models", Some(&token), json!({"name": "Classifier", "task": "image-classification", "category": "diagnostic", "description": "100% accurate_ish"})).await;
    app.store
        .create_model(&synced_model(
            dev.id,
            "litert-community/Gone",
            "0000000000000000000000e1",
            UpstreamStatus::Removed,
        ))
        .await
        .unwrap();
    app.store
        .create_model(&synced_model(
            dev.id,
            "litert-community/Live",
            "0000000000000000000000e2",
            UpstreamStatus::Active,
        ))
        .await
        .unwrap();
    let count = |uri: String| {
        let app = &app;
        async move {
            let res = app.get(&uri, None).await;
            assert_eq!(res.status, StatusCode::OK, "{uri}: {}", res.body);
            res.body.as_array().unwrap().len()
        }
    };
    assert_eq!(count("/models?task=object-detection".into()).await, 1);
    assert_eq!(count("/models?category=diagnostic".into()).await, 1);
    assert_eq!(
        count("/models?license_type=mit".into()).await,
        2,
        "the detector and the live synced fixture"
    );
    assert_eq!(count("/models?source=huggingface".into()).await, 1);
    assert_eq!(count("/models?source=user".into()).await, 2);
    assert_eq!(
        count("/models?source=huggingface&include_removed=true".into()).await,
        2
    );
    assert_eq!(count(format!("/models?author_id={}", dev.id)).await, 3);
    // Words, each the start of a word of the name, description or tags, case-insensitive.
    assert_eq!(count("/models?q=YOLO".into()).await, 1);
    assert_eq!(count("/models?q=yo".into()).await, 1, "a prefix of a tag");
    assert_eq!(
        count("/models?q=detect".into()).await,
        1,
        "a prefix of a name"
    );
    assert_eq!(
        count("/models?q=etector".into()).await,
        0,
        "not inside a word"
    );
    assert_eq!(count("/models?q=100%25".into()).await, 1);
    assert_eq!(
        count("/models?q=_ish".into()).await,
        1,
        "punctuation splits words"
    );
    assert_eq!(
        count("/models?q=ACCURATE%20100".into()).await,
        1,
        "words in any order"
    );
    assert_eq!(
        count("/models?q=accurate%20yolo".into()).await,
        0,
        "every word must match"
    );
    assert_eq!(
        count("/models?q=%20%20".into()).await,
        3,
        "a blank q is no filter"
    );
    assert_eq!(count("/models?q=%27%20OR%201%3D1%20--".into()).await, 0);
    assert_eq!(
        count("/models?q=detector%20OR%20classifier".into()).await,
        0,
        "search syntax is not interpreted: OR is a word to match"
    );
    assert_eq!(count("/models?q=%22detector%22*".into()).await, 1);
    assert_eq!(
        count("/models?q=a%E1%A6%B0b".into()).await,
        0,
        "a letter SQLite's tokenizer splits on (U+19B0) makes the word a phrase, not an error"
    );
    assert_eq!(
        count("/models?q=%E2%9C%93%20unicode%20%C3%A9".into()).await,
        0
    );
    assert_eq!(count("/models?sort=downloads".into()).await, 3);
    assert_eq!(count("/models?sort=updated_at".into()).await, 3);
}

async fn listing_rejects_bad_parameters_with_400(backend: Backend) {
    let app = TestApp::new(backend).await;
    let long_q = format!("/models?q={}", "a".repeat(201));
    let cursor_for_name = {
        let token = app.token(Role::Developer).await;
        app.post("/models", Some(&token), json!({"name": "A"}))
            .await;
        app.post("/models", Some(&token), json!({"name": "B"}))
            .await;
        let res = app.get("/models?limit=1&sort=name", None).await;
        let link = res.header("link").unwrap().to_string();
        link.split("cursor=")
            .nth(1)
            .unwrap()
            .split('>')
            .next()
            .unwrap()
            .to_string()
    };
    for uri in [
        "/models?limit=0".to_string(),
        "/models?limit=-5".into(),
        "/models?limit=1001".into(),
        "/models?limit=99999999999999999999999".into(),
        "/models?limit=ten".into(),
        "/models?category=weird".into(),
        "/models?license_type=wtfpl".into(),
        "/models?source=github".into(),
        "/models?sort=random".into(),
        "/models?author_id=not-a-uuid".into(),
        "/models?include_removed=maybe".into(),
        "/models?cursor=garbage!!".into(),
        "/models?cursor=eyJ4IjoxfQ".into(),
        format!("/models?cursor={cursor_for_name}"),
        long_q,
        "/models?q=%25".into(),
        "/models?q=-_-%20%22".into(),
    ] {
        let res = app.get(&uri, None).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{uri}: {}", res.body);
        assert!(!res.detail().is_empty());
    }
    let ok = app
        .get(
            &format!("/models?sort=name&limit=1&cursor={cursor_for_name}"),
            None,
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.body[0]["name"], "B");
    let no_words = app.get("/models?q=%25", None).await;
    assert!(
        no_words.detail().contains("letter or digit"),
        "{}",
        no_words.body
    );
}

async fn owners_and_admins_edit_and_synced_fields_are_protected(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (dev, token) = app.user(Role::Developer).await;
    let other = app.token(Role::Developer).await;
    let admin = app.token(Role::Admin).await;
    let m = app
        .post("/models", Some(&token), json!({"name": "Editable"}))
        .await
        .body;
    let uri = format!("/models/{}", m["id"].as_str().unwrap());
    let res = app
        .patch(
            &uri,
            Some(&token),
            json!({"description": "better", "tags": ["x"], "category": "performance"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["description"], "better");
    assert_eq!(res.body["category"], "performance");
    assert_eq!(res.body["name"], "Editable");
    assert_eq!(
        app.patch(&uri, Some(&other), json!({"description": "mine"}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let verify = app
        .patch(&uri, Some(&token), json!({"is_verified_official": true}))
        .await;
    assert_eq!(verify.status, StatusCode::FORBIDDEN);
    let verify = app
        .patch(&uri, Some(&admin), json!({"is_verified_official": true}))
        .await;
    assert_eq!(verify.status, StatusCode::OK);
    assert_eq!(verify.body["is_verified_official"], true);
    assert_eq!(
        app.patch(&uri, Some(&token), json!({"name": ""}))
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.patch(
            &uri,
            Some(&token),
            json!({"origin_repo_url": "javascript:alert(1)"})
        )
        .await
        .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.patch(&uri, Some(&token), json!({"slug": "mine"}))
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    let synced = app
        .store
        .create_model(&synced_model(
            dev.id,
            "litert-community/Synced",
            "0000000000000000000000f1",
            UpstreamStatus::Active,
        ))
        .await
        .unwrap();
    let uri = format!("/models/{}", synced.id);
    for body in [
        json!({"description": "x"}),
        json!({"name": "x", "license_type": "mit"}),
        json!({"tags": []}),
    ] {
        let res = app.patch(&uri, Some(&admin), body).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
        assert!(
            res.detail().contains("managed by the sync"),
            "{}",
            res.detail()
        );
    }
    let res = app
        .patch(&uri, Some(&admin), json!({"category": "fun"}))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["category"], "fun");
    assert_eq!(res.body["source"], "huggingface");
    assert_eq!(
        app.patch("/models/nope", Some(&admin), json!({}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

async fn versions_are_published_listed_and_read(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (dev, token) = app.user(Role::Developer).await;
    let other = app.token(Role::Developer).await;
    let m = app
        .post("/models", Some(&token), json!({"name": "Versioned"}))
        .await
        .body;
    let base = format!("/models/{}/versions", m["slug"].as_str().unwrap());
    let asset = json!({"asset_key": "model.tflite", "asset_type": "tflite", "source_url": "https://example.com/m.tflite",
                       "file_size_bytes": 2048, "file_hash": "ab".repeat(32), "is_hosted_by_us": false});
    let v1 = app
        .post(
            &base,
            Some(&token),
            json!({"version_string": "1.0.0", "changelog": "first", "assets": [asset]}),
        )
        .await;
    assert_eq!(v1.status, StatusCode::CREATED, "{}", v1.body);
    assert_eq!(v1.body["total_size_bytes"], 2048);
    assert_eq!(v1.body["assets"][0]["file_size_bytes"], 2048);
    let v2 = app
        .post(
            &base,
            Some(&token),
            json!({"version_string": "1.1.0", "pipeline_spec": {"input": "image"}}),
        )
        .await;
    assert_eq!(v2.status, StatusCode::CREATED);
    let dup = app
        .post(&base, Some(&token), json!({"version_string": "1.0.0"}))
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert!(dup.detail().contains("version_string"));
    assert_eq!(
        app.post(&base, Some(&other), json!({"version_string": "9"}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let bad_asset = app.post(&base, Some(&token), json!({"version_string": "2", "assets": [{"asset_key": "x", "asset_type": "tflite", "source_url": "ftp://x"}]})).await;
    assert_eq!(bad_asset.status, StatusCode::UNPROCESSABLE_ENTITY);
    let negative = app.post(&base, Some(&token), json!({"version_string": "2", "assets": [{"asset_key": "x", "asset_type": "tflite", "source_url": "https://x", "file_size_bytes": -1}]})).await;
    assert_eq!(negative.status, StatusCode::UNPROCESSABLE_ENTITY);

    let listed = app.get(&base, None).await;
    assert_eq!(listed.status, StatusCode::OK);
    let versions: Vec<&str> = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version_string"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["1.1.0", "1.0.0"]);
    let vid = v1.body["id"].as_str().unwrap();
    let one = app.get(&format!("{base}/{vid}"), None).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.body, v1.body);
    assert_eq!(
        app.get(&format!("{base}/not-a-uuid"), None).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.get(&format!("{base}/{}", uuid::Uuid::new_v4()), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/models/missing/versions", None).await.status,
        StatusCode::NOT_FOUND
    );

    // Any developer may add versions to a synced model.
    let synced = app
        .store
        .create_model(&synced_model(
            dev.id,
            "google/gemma-litert",
            "0000000000000000000000f2",
            UpstreamStatus::Active,
        ))
        .await
        .unwrap();
    let res = app
        .post(
            &format!("/models/{}/versions", synced.id),
            Some(&other),
            json!({"version_string": "community-1"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
}

async fn malformed_bodies_get_clear_4xx(backend: Backend) {
    let config = ServeArgs {
        max_body_bytes: 4096,
        ..ServeArgs::default()
    };
    let app = TestApp::with_config(backend, config).await;
    let token = app.token(Role::Developer).await;
    let send = |body: &'static str, content_type: Option<&'static str>| {
        let mut req = Request::builder()
            .method("POST")
            .uri("/models")
            .header("authorization", format!("Bearer {token}"));
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        app.raw(req.body(Body::from(body)).unwrap())
    };
    let res = send("{not json", Some("application/json")).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(!res.detail().is_empty());
    let res = send(r#"{"name": 42}"#, Some("application/json")).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.detail().contains("name"), "{}", res.detail());
    let res = send(
        r#"{"name": "x", "category": "sports"}"#,
        Some("application/json"),
    )
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.detail().contains("category") || res.detail().contains("variant"),
        "{}",
        res.detail()
    );
    let res = send(r#"{"name": "x"}"#, None).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.detail().contains("application/json"));
    let res = send(r#"{}"#, Some("application/json")).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let huge = format!(
        r#"{{"name": "x", "description": "{}"}}"#,
        "a".repeat(10_000)
    );
    let req = Request::builder()
        .method("POST")
        .uri("/models")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(huge))
        .unwrap();
    let res = app.raw(req).await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(!res.detail().is_empty());
    let long = app
        .post("/models", Some(&token), json!({"name": "x".repeat(201)}))
        .await;
    assert_eq!(long.status, StatusCode::UNPROCESSABLE_ENTITY);
    let tags = app
        .post(
            "/models",
            Some(&token),
            json!({"name": "x", "tags": vec!["t"; 65]}),
        )
        .await;
    assert_eq!(tags.status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn probes_docs_and_unknown_routes(backend: Backend) {
    let app = TestApp::new(backend).await;
    assert_eq!(app.get("/livez", None).await.body, json!({"status": "ok"}));
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status, StatusCode::OK);
    let spec = app.get("/openapi.json", None).await;
    assert_eq!(spec.status, StatusCode::OK);
    for path in [
        "/models",
        "/models/{id}",
        "/models/{id}/versions",
        "/models/{id}/versions/{version_id}",
        "/users/me",
        "/livez",
        "/readyz",
    ] {
        assert!(
            spec.body["paths"].get(path).is_some(),
            "{path} is documented"
        );
    }
    // Enums are documented with the names clients send and receive (found by schemathesis).
    let schemas = &spec.body["components"]["schemas"];
    assert!(schemas["LicenseType"]["enum"]
        .as_array()
        .unwrap()
        .contains(&json!("apache-2.0")));
    assert!(schemas["Category"]["enum"]
        .as_array()
        .unwrap()
        .contains(&json!("utility")));
    assert!(
        schemas["SortKey"].is_object(),
        "every referenced schema is defined"
    );
    let text = spec.body.to_string();
    for name in regex_refs(&text) {
        assert!(schemas.get(&name).is_some(), "unresolved $ref to {name}");
    }
    let docs = app.get("/docs/", None).await;
    assert_eq!(docs.status, StatusCode::OK);
    assert!(
        docs.body.as_str().unwrap().contains("swagger"),
        "the docs page is served by the binary"
    );
    let missing = app.get("/nope", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.detail(), "Not found");
    let res = app
        .call(axum::http::Method::DELETE, "/livez", None, None)
        .await;
    assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(app
        .get("/livez", None)
        .await
        .header("x-request-id")
        .is_some());

    app.store.close().await;
    assert_eq!(
        app.get("/readyz", None).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

/// The schema names referenced as `#/components/schemas/NAME` in an OpenAPI document.
fn regex_refs(text: &str) -> Vec<String> {
    text.split("#/components/schemas/")
        .skip(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

async fn list_pages_are_cached_briefly_by_revision_and_every_write_shows_at_once(backend: Backend) {
    let config = ServeArgs {
        list_cache: std::time::Duration::from_millis(300),
        ..Default::default()
    };
    let app = TestApp::with_config(backend, config).await;
    let (dev, token) = app.user(Role::Developer).await;
    let names = |res: &crate::support::TestResponse| -> Vec<String> {
        res.body
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(names(&app.get("/models", None).await).is_empty());
    // A write through the API clears the cache: the next read sees it.
    let created = app
        .post("/models", Some(&token), json!({"name": "Hand Pose"}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let first = app.get("/models", None).await;
    assert_eq!(names(&first), ["Hand Pose"]);
    assert_eq!(first.header("content-type"), Some("application/json"));
    assert_eq!(first.header("x-total-count"), Some("1"));
    // A write this replica's API did not make (the sync, another replica) shows at once too: the
    // pages are cached by the catalogue's revision, which every write raises.
    app.store
        .create_model(&crate::store_conformance::new_model(dev.id, "Pose Lite"))
        .await
        .unwrap();
    let both = app.get("/models", None).await;
    assert_eq!(names(&both), ["Pose Lite", "Hand Pose"]);
    // The total is exact at once too (counts are cached by the revision, not for a few seconds).
    assert_eq!(both.header("x-total-count"), Some("2"));
    // Unchanged, a page is answered from memory for the TTL — even when the database could not
    // make it any more (the revision is still read).
    let broken = "ALTER TABLE ml_models RENAME COLUMN name TO name_gone";
    crate::support::execute_raw(&app._db, broken).await;
    assert_eq!(
        names(&app.get("/models", None).await),
        ["Pose Lite", "Hand Pose"],
        "served from the cache"
    );
    assert_eq!(
        app.get("/models?sort=name", None).await.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "another URL is another entry"
    );
    tokio::time::sleep(std::time::Duration::from_millis(350)).await;
    assert_eq!(
        app.get("/models", None).await.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "expired"
    );
}
