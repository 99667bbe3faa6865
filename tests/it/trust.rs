//! Trust boundaries (issue #29), each finding of the attacker's report as a test: private stays
//! private on every route of both dialects, the operator's Hub token serves only the mirror, text is
//! text, emails are their owners', errors are `{"detail": …}`, telemetry and counts are plausible, and
//! the failure throttle never refuses valid credentials.

use crate::support::{Backend, Role, TestApp, TestResponse};
use axum::http::{Method, StatusCode};
use pocket_catalog::domain::records::{Asset, NewModel, NewVersion, User};
use pocket_catalog::domain::{Category, LicenseType};
use serde_json::{json, Value};
use uuid::Uuid;

crate::both_backends!(
    every_route_that_takes_a_model_or_version_id_hides_a_private_one,
    listings_files_and_counts_hide_a_private_model,
    text_with_control_characters_is_refused_before_sql,
    arbitrary_text_never_makes_a_server_error,
    telemetry_is_plausible_and_only_for_visible_versions,
    a_download_is_counted_once_per_client_and_hour,
    an_email_is_shown_to_its_user_and_admins_only,
    valid_credentials_pass_the_failure_throttle,
    hub_text_with_control_characters_is_cleaned_and_synced,
);

/// A private model of `owner` with one version whose packed label file this service hosts.
pub struct Private {
    pub model: Uuid,
    pub slug: String,
    pub version: Uuid,
    pub label_sha: String,
}

fn tflite_asset() -> Asset {
    Asset {
        asset_key: "tflite".into(),
        asset_type: "tflite".into(),
        // The dead local Hub of the tests: reading it fails at once.
        source_url: format!("{}o/secret/resolve/main/m.tflite", crate::support::DEAD_HUB),
        file_size_bytes: Some(1234),
        file_hash: None,
        hash_kind: None,
        is_hosted_by_us: false,
        is_primary: true,
    }
}

pub async fn private_model(app: &TestApp, owner: &User) -> Private {
    let id = Uuid::now_v7();
    let model = app
        .store
        .create_model(&NewModel {
            id,
            name: format!("Secret {id}"),
            slug_hint: format!("secret-{}", id.simple()),
            slug_disambiguator: id.to_string(),
            description: "not for everyone".into(),
            category: Category::Utility,
            license_type: LicenseType::Unknown,
            origin_repo_url: None,
            author_id: owner.id,
            hf_model_id: None,
            is_verified_official: false,
            tags: vec![],
            task: Some("image-classification".into()),
            task_inferred: false,
            upstream: None,
            is_public: false,
        })
        .await
        .unwrap();
    let version = app
        .store
        .create_version(&NewVersion {
            hf_commit_sha: Some("0123abcd".into()),
            ..crate::support::published_version(model.id, owner.id, "1.0", vec![tflite_asset()])
        })
        .await
        .unwrap();
    let bytes = format!("secret-class-{id}\nother\n").into_bytes();
    let sha = crate::support::host_labels(
        &app.store,
        version.id,
        vec![tflite_asset()],
        "labels.txt",
        bytes,
    )
    .await;
    Private {
        model: model.id,
        slug: model.slug,
        version: version.id,
        label_sha: sha,
    }
}

/// A model `token`'s user publishes through `/api/v1`; its id.
async fn v1_model(app: &TestApp, token: &str, name: &str) -> String {
    let body = json!({"name": name, "description": "d"});
    let res = app.post("/api/v1/models", Some(token), body).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    res.body["id"].as_str().unwrap().to_string()
}

/// A version of `model_id` with these asset pointers, through `/api/v1`; its id. A `tflite` URL on
/// huggingface.co is read through the tests' dead local Hub, never off this machine.
async fn v1_version(app: &TestApp, token: &str, model_id: &str, assets: Value) -> String {
    let body = json!({"version_name": "1", "commit_sha": "abc", "assets": assets});
    let path = format!("/api/v1/models/{model_id}/versions");
    let res = app.post(&path, Some(token), body).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    res.body["id"].as_str().unwrap().to_string()
}

/// A body each write route accepts from someone allowed to use it (by method and path template).
fn body_for(method: &str, template: &str) -> Option<Value> {
    Some(match (method, template) {
        ("post", "/models/{id}/versions") => json!({"version_string": "9.9", "assets": []}),
        ("patch", "/models/{id}") => json!({"description": "changed"}),
        ("post", "/api/v1/models/{model_id}/versions") => {
            json!({"version_name": "9.9", "commit_sha": "abc", "assets": {}})
        }
        ("patch", "/api/v1/versions/{version_id}") => json!({"status": "pending"}),
        ("post" | "patch" | "put", _) => json!({}),
        _ => return None,
    })
}

/// `template` with its ids filled: the model's (by id, or by slug for the root dialect's `{id}`),
/// the version's, and `tflite` for an asset key. `None` for a route that takes no model or version.
fn fill(template: &str, model: &str, version: &str) -> Option<String> {
    if !["{id}", "{model_id}", "{version_id}"]
        .iter()
        .any(|p| template.contains(p))
    {
        return None;
    }
    let mut path = template
        .replace("{id}", model)
        .replace("{model_id}", model)
        .replace("{version_id}", version)
        .replace("{asset_key}", "tflite");
    if path.contains('{') {
        // Another kind of id (a user, a run): not this rule's.
        path.clear();
    }
    (!path.is_empty()).then_some(path)
}

async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> TestResponse {
    let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
    app.call(method, path, token, body).await
}

/// Every route of the served OpenAPI document (both dialects) that takes a model or version id answers
/// a private model's ids, to anonymous callers and to another user, exactly as it answers ids that
/// never existed; its owner and admins get past the lookup. A route added later is covered by being
/// in the document.
async fn every_route_that_takes_a_model_or_version_id_hides_a_private_one(backend: Backend) {
    let app = TestApp::new(backend).await;
    let doc = app.get("/openapi.json", None).await.body;
    let (owner, owner_token) = app.user(Role::User).await;
    let other_token = app.token(Role::User).await;
    let developer_token = app.token(Role::Developer).await;
    let admin_token = app.token(Role::Admin).await;
    let (ghost_model, ghost_version) = (Uuid::new_v4().to_string(), Uuid::new_v4().to_string());
    let mut checked = Vec::new();
    for (template, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "patch", "put", "delete"] {
            if item.get(method).is_none() {
                continue;
            }
            let Some(ghost) = fill(template, &ghost_model, &ghost_version) else {
                continue;
            };
            // A fresh private model per route: a route may change or delete it.
            let private = private_model(&app, &owner).await;
            let by_slug = template.starts_with("/models/{id}");
            let model_ref = if by_slug {
                private.slug.clone()
            } else {
                private.model.to_string()
            };
            for model_ref in [model_ref, private.model.to_string()] {
                let real = fill(template, &model_ref, &private.version.to_string()).unwrap();
                let body = body_for(method, template);
                for (who, token) in [
                    ("anonymous", None),
                    ("another user", Some(other_token.as_str())),
                    ("a developer", Some(developer_token.as_str())),
                ] {
                    let hidden = send(&app, method, &real, token, body.clone()).await;
                    let never = send(&app, method, &ghost, token, body.clone()).await;
                    assert_eq!(
                        hidden.status, never.status,
                        "{method} {template} for {who}: {} vs {}",
                        hidden.body, never.body
                    );
                    let mask = |r: &TestResponse| {
                        r.body
                            .to_string()
                            .replace(&model_ref, "ID")
                            .replace(&private.version.to_string(), "ID")
                            .replace(&ghost_model, "ID")
                            .replace(&ghost_version, "ID")
                    };
                    assert_eq!(mask(&hidden), mask(&never), "{method} {template} for {who}");
                }
            }
            for (who, token) in [("its owner", &owner_token), ("an admin", &admin_token)] {
                let fresh = private_model(&app, &owner).await;
                let real = fill(
                    template,
                    &fresh.model.to_string(),
                    &fresh.version.to_string(),
                )
                .unwrap();
                let seen = send(&app, method, &real, Some(token), body_for(method, template)).await;
                assert_ne!(
                    seen.status,
                    StatusCode::NOT_FOUND,
                    "{method} {template} for {who}: {}",
                    seen.body
                );
            }
            checked.push(format!("{method} {template}"));
        }
    }
    // The routes the report found leaking are among those checked, and both dialects are.
    for route in [
        "get /models/{id}/versions",
        "get /models/{id}/versions/{version_id}",
        "get /versions/{version_id}/download/{asset_key}",
        "get /api/v1/versions/{version_id}",
        "get /api/v1/versions/{version_id}/stats",
        "post /api/v1/versions/{version_id}/generate-pipeline",
    ] {
        assert!(
            checked.iter().any(|c| c == route),
            "{route} not in {checked:?}"
        );
    }
}

/// Lists, hosted files and download counts: a private model is not listed for others, its hosted label
/// file is its owner's, and a refused download counts nothing.
async fn listings_files_and_counts_hide_a_private_model(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, owner_token) = app.user(Role::User).await;
    let other = app.token(Role::User).await;
    let admin = app.token(Role::Admin).await;
    let private = private_model(&app, &owner).await;
    let id = private.model.to_string();
    let listed = |r: &TestResponse| {
        r.body
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == id.as_str())
    };
    for list in ["/models?limit=1000", "/api/v1/models"] {
        assert!(!listed(&app.get(list, None).await), "{list} anonymous");
        assert!(
            !listed(&app.get(list, Some(&other)).await),
            "{list} another user"
        );
        assert!(
            listed(&app.get(list, Some(&owner_token)).await),
            "{list} owner"
        );
        assert!(listed(&app.get(list, Some(&admin)).await), "{list} admin");
    }
    for file in [
        format!("/files/{}", private.label_sha),
        format!("/files/{}/labels.txt", private.label_sha),
    ] {
        for token in [None, Some(other.as_str())] {
            let res = app.get(&file, token).await;
            assert_eq!(res.status, StatusCode::NOT_FOUND, "{file}");
            assert_eq!(res.detail(), "File not found.");
        }
        let (_, none) = app.raw_get(&format!("/files/{}", "0".repeat(64))).await;
        let (_, hidden) = app.raw_get(&file).await;
        assert_eq!(none, hidden, "the same answer as a file that never existed");
        let res = app.get(&file, Some(&owner_token)).await;
        assert_eq!(res.status, StatusCode::OK, "{file} for its owner");
    }
    let labels = format!("/api/v1/versions/{}/download/labels", private.version);
    assert_eq!(app.get(&labels, None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get(&labels, Some(&owner_token)).await.status,
        StatusCode::OK
    );
    for path in [
        format!("/versions/{}/download/tflite", private.version),
        format!("/api/v1/versions/{}/download/tflite", private.version),
    ] {
        assert_eq!(
            app.get(&path, None).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let version = app
        .store
        .get_version_by_id(private.version)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        version.download_count, 0,
        "a refused download counts nothing"
    );
    // Telemetry for a version the caller cannot see is skipped like an unknown one.
    let event = json!({"stats": [{"model_version_id": private.version, "device_model": "Pixel",
        "platform": "android", "total_inference_ms": 12, "success": true}]});
    let res = app
        .post("/api/v1/telemetry/batch", Some(&other), event.clone())
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.body["accepted"], 0);
    let res = app
        .post("/api/v1/telemetry/batch", Some(&owner_token), event)
        .await;
    assert_eq!(res.body["accepted"], 1, "{}", res.body);
}

/// NUL and other control characters never reach SQL (PostgreSQL refuses NUL in text with a 500):
/// every kind of text input answers 422 with a detail.
async fn text_with_control_characters_is_refused_before_sql(backend: Backend) {
    let app = TestApp::new(backend).await;
    let token = app.token(Role::User).await;
    let admin = app.token(Role::Admin).await;
    let model_id = v1_model(&app, &token, "Fine").await;
    let version_id = v1_version(&app, &token, &model_id, json!({})).await;
    for uri in [
        "/models?task=a%00b".to_string(),
        "/api/v1/models?task=%00".into(),
        "/models/x%00".into(),
        "/models?q=mobile%01net".into(),
        "/api/v1/models?author_id=%00".into(),
        format!("/api/v1/models/{model_id}%00"),
        "/search/huggingface?q=a%00".into(),
    ] {
        for who in [None, Some(token.as_str())] {
            let res = app.get(&uri, who).await;
            assert_eq!(
                res.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{uri}: {}",
                res.body
            );
            assert!(
                res.detail().contains("control characters"),
                "{uri}: {}",
                res.body
            );
        }
    }
    let event = |field: &str, value: &str| {
        let mut e = json!({"model_version_id": version_id, "device_model": "Pixel",
            "platform": "android", "total_inference_ms": 12, "success": true});
        e[field] = json!(value);
        json!({"stats": [e]})
    };
    for (method, uri, body) in [
        (
            Method::POST,
            "/api/v1/models".to_string(),
            json!({"name": "a\u{0}b", "description": "d"}),
        ),
        (
            Method::POST,
            "/api/v1/models".into(),
            json!({"name": "n", "description": "d\u{0}"}),
        ),
        (
            Method::POST,
            "/api/v1/models".into(),
            json!({"name": "n", "description": "d", "tags": ["t\u{1b}"]}),
        ),
        (
            Method::POST,
            "/models".into(),
            json!({"name": "n", "task": "x\u{85}"}),
        ),
        (
            Method::POST,
            format!("/api/v1/models/{model_id}/versions"),
            json!({"version_name": "2\u{0}", "commit_sha": "abc", "assets": {}}),
        ),
        (
            Method::POST,
            format!("/api/v1/models/{model_id}/versions"),
            json!({"version_name": "2", "commit_sha": "abc", "assets": {},
                   "pipeline_spec": {"metadata": [{"model_name": "x\u{0}"}]}}),
        ),
        (
            Method::PATCH,
            format!("/models/{model_id}"),
            json!({"description": "\u{0}"}),
        ),
        (
            Method::POST,
            "/api/v1/telemetry/batch".into(),
            event("device_model", "Pix\u{0}el"),
        ),
        (
            Method::POST,
            "/api/v1/users".into(),
            json!({"username": "u\u{0}", "email": "u@x.org"}),
        ),
        (
            Method::POST,
            "/import/huggingface".into(),
            json!({"hf_id": "o/r\u{0}"}),
        ),
    ] {
        let res = app
            .call(method.clone(), &uri, Some(&admin), Some(body.clone()))
            .await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{method} {uri} {body}: {}",
            res.body
        );
    }
    // One bad event is the batch's 422, not a failed write of the whole batch.
    let res = app
        .post(
            "/api/v1/telemetry/batch",
            Some(&token),
            event("task_type", "a\u{0}"),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Names that show nothing, and names with line breaks, are refused; prose keeps its lines.
    for name in [" ", "\u{200b}\u{feff}", "\u{3164}", "two\nlines"] {
        let res = app
            .post(
                "/api/v1/models",
                Some(&token),
                json!({"name": name, "description": "d"}),
            )
            .await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name:?}: {}",
            res.body
        );
    }
    let res = app
        .post(
            "/api/v1/models",
            Some(&token),
            json!({"name": "Prose", "description": "one\ntwo\tthree"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    // A body that is not a JSON object is a 422 wherever one is expected, and invalid UTF-8 a 400.
    let patch = format!("/api/v1/versions/{version_id}");
    for body in [json!([]), json!("x"), json!(1), json!(null)] {
        let res = app.patch(&patch, Some(&token), body.clone()).await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            res.body
        );
    }
    let req = axum::http::Request::builder()
        .method(Method::PATCH)
        .uri(&patch)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(
            b"{\"status\": \"pen\xffding\"}".to_vec(),
        ))
        .unwrap();
    let res = app.raw(req).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    assert!(res.body["detail"].is_string());
}

/// Arbitrary strings (control characters, invisible ones, any plane) sent through every route that
/// takes text, anonymously and signed in, never answer 5xx.
async fn arbitrary_text_never_makes_a_server_error(backend: Backend) {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let app = TestApp::new(backend).await;
    let token = app.token(Role::Admin).await;
    let model_id = v1_model(&app, &token, "Base").await;
    let mut runner = TestRunner::new(Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        any::<String>(),
        "[\\x00-\\x1f\\x7f\\u{80}-\\u{9f}\\u{200b}a-z ]{0,12}",
    );
    let cases: std::sync::Mutex<Vec<(String, String)>> = Default::default();
    runner
        .run(&strategy, |(wild, controls)| {
            cases.lock().unwrap().push((wild, controls));
            Ok(())
        })
        .unwrap();
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    for (wild, controls) in cases.into_inner().unwrap() {
        for s in [wild.as_str(), controls.as_str()] {
            let e = enc(s);
            let mut requests: Vec<(Method, String, Option<Value>)> = vec![
                (Method::GET, format!("/models?q={e}&task={e}"), None),
                (Method::GET, format!("/models/{e}"), None),
                (Method::GET, format!("/models/{e}/versions"), None),
                (
                    Method::GET,
                    format!("/api/v1/models?task={e}&author_id={e}&quantization={e}"),
                    None,
                ),
                (Method::GET, format!("/api/v1/models/{e}"), None),
                (Method::GET, format!("/api/v1/versions/{e}"), None),
                (
                    Method::GET,
                    format!("/versions/{}/download/{e}", Uuid::new_v4()),
                    None,
                ),
                (Method::GET, format!("/files/{e}"), None),
                (
                    Method::POST,
                    "/api/v1/models".into(),
                    Some(
                        json!({"name": s, "description": s, "tags": [s], "task": s, "license_type": s}),
                    ),
                ),
                (
                    Method::POST,
                    "/models".into(),
                    Some(json!({"name": s, "description": s, "tags": [s], "task": s})),
                ),
                (
                    Method::PATCH,
                    format!("/models/{model_id}"),
                    Some(json!({"description": s, "task": s})),
                ),
                (
                    Method::POST,
                    format!("/api/v1/models/{model_id}/versions"),
                    Some(
                        json!({"version_name": s, "commit_sha": s, "changelog": s, "assets": {"tflite": s}, "license_type": s}),
                    ),
                ),
                (
                    Method::POST,
                    format!("/models/{model_id}/versions"),
                    Some(
                        json!({"version_string": s, "changelog": s, "assets": [{"asset_key": s, "asset_type": s, "source_url": s}]}),
                    ),
                ),
                (
                    Method::POST,
                    "/api/v1/users".into(),
                    Some(json!({"username": s, "email": format!("{s}@x.org")})),
                ),
                (
                    Method::POST,
                    "/api/v1/telemetry/batch".into(),
                    Some(
                        json!({"stats": [{"model_version_id": Uuid::new_v4(), "device_model": s, "platform": "ios", "total_inference_ms": 1, "success": true, "task_type": s}]}),
                    ),
                ),
            ];
            for (method, uri, body) in requests.drain(..) {
                for who in [None, Some(token.as_str())] {
                    let res = app.call(method.clone(), &uri, who, body.clone()).await;
                    assert!(
                        res.status.as_u16() < 500,
                        "{method} {uri} {body:?} ({s:?}): {} {}",
                        res.status,
                        res.body
                    );
                    if !res.status.is_success() && res.status.as_u16() != 307 {
                        assert!(
                            res.body["detail"].is_string(),
                            "{method} {uri}: {}",
                            res.body
                        );
                    }
                }
            }
        }
    }
}

/// Telemetry bounds: implausible numbers are refused with the field named; the per-user allowance
/// answers 429 past it.
async fn telemetry_is_plausible_and_only_for_visible_versions(backend: Backend) {
    let config = pocket_catalog::config::ServeArgs {
        telemetry_events_per_hour: 5,
        ..Default::default()
    };
    let app = TestApp::with_config(backend, config).await;
    let token = app.token(Role::User).await;
    let model_id = v1_model(&app, &token, "T").await;
    let vid = v1_version(&app, &token, &model_id, json!({})).await;
    let event = |field: &str, value: Value| {
        let mut e = json!({"model_version_id": vid, "device_model": "Pixel",
            "platform": "android", "total_inference_ms": 12, "success": true});
        e[field] = value;
        json!({"stats": [e]})
    };
    for (field, value) in [
        ("total_inference_ms", json!(9_223_372_036_854_775_807_i64)),
        ("total_inference_ms", json!(-1)),
        ("top_confidence", json!(-1.0)),
        ("top_confidence", json!(1e308)),
        ("num_results", json!(-1)),
        ("num_results", json!(10_000_000)),
    ] {
        let res = app
            .post(
                "/api/v1/telemetry/batch",
                Some(&token),
                event(field, value.clone()),
            )
            .await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field} {value}: {}",
            res.body
        );
        assert!(res.detail().contains(field), "{}", res.body);
    }
    for value in [json!(0.0), json!(1.0), json!(0.42)] {
        let res = app
            .post(
                "/api/v1/telemetry/batch",
                Some(&token),
                event("top_confidence", value),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    }
    // 3 accepted so far; 2 more fit the allowance of 5, a third does not.
    let two = json!({"stats": [event("num_results", json!(3))["stats"][0], event("num_results", json!(4))["stats"][0]]});
    assert_eq!(
        app.post("/api/v1/telemetry/batch", Some(&token), two)
            .await
            .status,
        StatusCode::CREATED
    );
    let res = app
        .post(
            "/api/v1/telemetry/batch",
            Some(&token),
            event("num_results", json!(1)),
        )
        .await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.body);
    assert!(res.detail().contains("telemetry events an hour"));
    // Another user has an allowance of their own.
    let other = app.token(Role::User).await;
    assert_eq!(
        app.post(
            "/api/v1/telemetry/batch",
            Some(&other),
            event("num_results", json!(1))
        )
        .await
        .status,
        StatusCode::CREATED
    );
}

/// 25 downloads in a row by one client count once (the hour's rule); another client counts again, and
/// the model's total follows.
async fn a_download_is_counted_once_per_client_and_hour(backend: Backend) {
    let app = TestApp::new(backend).await;
    let token = app.token(Role::User).await;
    let model_id = v1_model(&app, &token, "D").await;
    let vid = v1_version(
        &app,
        &token,
        &model_id,
        json!({"tflite": "https://huggingface.co/o/r/resolve/main/m.tflite"}),
    )
    .await;
    for _ in 0..25 {
        let res = app
            .get(&format!("/api/v1/versions/{vid}/download/tflite"), None)
            .await;
        assert_eq!(res.status, StatusCode::TEMPORARY_REDIRECT);
        let res = app
            .get(&format!("/versions/{vid}/download/tflite"), None)
            .await;
        assert_eq!(res.status, StatusCode::TEMPORARY_REDIRECT);
    }
    let counted = |app: &TestApp| {
        let (store, vid) = (app.store.clone(), Uuid::parse_str(&vid).unwrap());
        async move {
            let v = store.get_version_by_id(vid).await.unwrap().unwrap();
            let m = store.get_model(v.model_id).await.unwrap().unwrap();
            (v.download_count, m.total_download_count)
        }
    };
    assert_eq!(
        counted(&app).await,
        (1, 1),
        "one anonymous client, one download"
    );
    for _ in 0..3 {
        app.get(
            &format!("/api/v1/versions/{vid}/download/tflite"),
            Some(&token),
        )
        .await;
    }
    assert_eq!(
        counted(&app).await,
        (2, 2),
        "a signed-in user is another client"
    );
}

const OPERATOR_TOKEN: &str = "hf_operator_secret_token";

/// A Hub that records every request and answers 401 to all of them (a private repo, to anonymous
/// callers and to the operator's token alike: what matters is who sent the token).
async fn recording_hub() -> wiremock::MockServer {
    let hub = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(
            wiremock::ResponseTemplate::new(401)
                .set_body_json(json!({"error": "Invalid credentials in Authorization header"})),
        )
        .mount(&hub)
        .await;
    hub
}

fn with_token(hub: &wiremock::MockServer) -> pocket_catalog::config::ServeArgs {
    let mut config = pocket_catalog::config::ServeArgs::default();
    config.hub.hf_endpoint = url::Url::parse(&hub.uri()).unwrap();
    config.hub.hf_token = Some(secrecy::SecretString::from(OPERATOR_TOKEN));
    config.hub.hub_max_retries = 0;
    config
}

/// Everything a user causes reads the Hub anonymously: a version URL they publish (with a spec and
/// without), generate-pipeline, the root dialect's publish, a Hub search and an import. A file that is
/// not public is then refused with its reason; the mirror's own requests (an admin's ad-hoc sync)
/// still carry the token.
#[tokio::test]
async fn a_users_requests_never_carry_the_operators_hub_token() {
    let hub = recording_hub().await;
    let app = TestApp::with_config(Backend::Sqlite, with_token(&hub)).await;
    let token = app.token(Role::User).await;
    let file = format!("{}/org/private/resolve/main/model.tflite", hub.uri());
    let model_id = v1_model(&app, &token, "Mine").await;
    let spec = json!({"metadata": [{"model_name": "m", "model_task": "image_classification"}],
        "inputs": [{"name": "input", "shape": [1, 224, 224, 3], "dtype": "float32"}],
        "outputs": [{"name": "scores", "shape": [1, 10], "dtype": "float32"}],
        "preprocessing": [], "postprocessing": []});
    for body in [
        json!({"version_name": "1", "commit_sha": "abc", "assets": {"tflite": file}}),
        json!({"version_name": "2", "commit_sha": "abc", "assets": {"tflite": file}, "pipeline_spec": spec}),
    ] {
        let res = app
            .post(
                &format!("/api/v1/models/{model_id}/versions"),
                Some(&token),
                body,
            )
            .await;
        assert!(
            res.status.is_success() || res.status == StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            res.body
        );
    }
    let versions = app
        .get(&format!("/api/v1/models/{model_id}/versions"), Some(&token))
        .await;
    let vid = versions.body[0]["id"].as_str().unwrap().to_string();
    let res = app
        .post(
            &format!("/api/v1/versions/{vid}/generate-pipeline"),
            Some(&token),
            json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert!(
        res.detail().contains("not public on the Hugging Face Hub"),
        "{}",
        res.body
    );
    let root = app
        .post(
            &format!("/models/{model_id}/versions"),
            Some(&token),
            json!({"version_string": "3", "assets": [{"asset_key": "model.tflite", "asset_type": "tflite",
                   "source_url": file, "is_primary": true}]}),
        )
        .await;
    assert_eq!(root.status, StatusCode::CREATED, "{}", root.body);
    app.get("/search/huggingface?q=private", Some(&token)).await;
    let res = app
        .post(
            "/import/huggingface",
            Some(&token),
            json!({"hf_id": "org/private"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.body);
    let users = hub.received_requests().await.unwrap();
    let asked: Vec<String> = users
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect();
    for (flow, path) in [
        (
            "publishing and generate-pipeline",
            "/org/private/resolve/main/model.tflite",
        ),
        ("the import", "/api/models/org/private"),
    ] {
        assert!(
            asked.iter().any(|a| a.ends_with(path)),
            "{flow} reads the Hub: {asked:?}"
        );
    }
    for req in &users {
        assert!(
            !req.headers.contains_key("authorization"),
            "{} {} carried the operator's token",
            req.method,
            req.url
        );
    }
    // The mirror's own request — an admin's ad-hoc sync — is the token's use.
    hub.reset().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(401))
        .mount(&hub)
        .await;
    let admin = app.token(Role::Admin).await;
    app.post(
        "/sync/huggingface/litert/adhoc",
        Some(&admin),
        json!({"repo_id": "org/private"}),
    )
    .await;
    let mirror = hub.received_requests().await.unwrap();
    assert!(!mirror.is_empty());
    let bearer = format!("Bearer {OPERATOR_TOKEN}");
    assert!(mirror.iter().all(
        |r| r.headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(bearer.as_str())
    ));
}

/// Every redirect hop of the Hub client passes the address guard: a Hub that redirects a file to
/// another port of this machine, or to 0.0.0.0, is not followed — the listeners there see no
/// connection —, while a CDN host the operator configured is. (Only loopback listeners: the guard's
/// verdict on metadata, private and 6to4 addresses is `net::guard`'s unit test, never a connection.)
#[tokio::test]
async fn the_hub_clients_redirects_pass_the_address_guard() {
    use pocket_catalog::hub::{HubClient, HubConfig, HubError};
    use wiremock::matchers::path;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let trap = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let trap_any = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    trap.set_nonblocking(true).unwrap();
    trap_any.set_nonblocking(true).unwrap();
    let (p1, p2) = (
        trap.local_addr().unwrap().port(),
        trap_any.local_addr().unwrap().port(),
    );
    let cdn = MockServer::start().await;
    Mock::given(path("/blob"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(b"TFL3".to_vec()))
        .mount(&cdn)
        .await;
    let hub = MockServer::start().await;
    for (file, location) in [
        ("a.tflite", format!("http://127.0.0.1:{p1}/blob")),
        ("b.tflite", format!("http://0.0.0.0:{p2}/blob")),
        ("c.tflite", format!("{}/blob", cdn.uri())),
    ] {
        Mock::given(path(format!("/o/r/resolve/main/{file}")))
            .respond_with(ResponseTemplate::new(302).insert_header("location", location.as_str()))
            .mount(&hub)
            .await;
    }
    let client = |cdn_hosts: Vec<&str>| {
        let mut config = HubConfig::new(url::Url::parse(&hub.uri()).unwrap(), None);
        config.max_retries = 0;
        config.cdn_hosts = cdn_hosts.iter().map(|h| h.parse().unwrap()).collect();
        HubClient::new(config).unwrap()
    };
    let plain = client(vec![]);
    for file in ["a.tflite", "b.tflite", "c.tflite"] {
        match plain.open_file("o/r", "main", file).await {
            Err(HubError::Refused(why)) => {
                assert!(why.contains("not a public address"), "{file}: {why}")
            }
            other => panic!("{file}: {other:?}"),
        }
    }
    for listener in [&trap, &trap_any] {
        assert_eq!(
            listener.accept().map(|_| ()).unwrap_err().kind(),
            std::io::ErrorKind::WouldBlock,
            "no connection reached a refused address"
        );
    }
    // The CDN the operator names is followed, and its size read there.
    let cdn_host = cdn.uri().trim_start_matches("http://").to_string();
    let trusted = client(vec![cdn_host.as_str()]);
    match trusted.open_file("o/r", "main", "c.tflite").await {
        Ok(pocket_catalog::hub::RepoOutcome::Found { value, .. }) => assert_eq!(value.size, 4),
        other => panic!("{other:?}"),
    }
}

/// Issue #29 (4): `GET /api/v1/users/{id}` shows the email to the user themself and to admins only.
async fn an_email_is_shown_to_its_user_and_admins_only(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (user, token) = app.user(Role::User).await;
    let other = app.token(Role::User).await;
    let admin = app.token(Role::Admin).await;
    let path = format!("/api/v1/users/{}", user.id);
    let res = app.get(&path, Some(&other)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["email"], Value::Null, "{}", res.body);
    assert_eq!(res.body["username"], user.username.as_str());
    for who in [&token, &admin] {
        let res = app.get(&path, Some(who)).await;
        assert_eq!(res.body["email"], user.email.as_str(), "{}", res.body);
    }
    assert!(!app
        .get(&path, Some(&other))
        .await
        .body
        .to_string()
        .contains(&user.email));
}

/// Issue #29 (9): after a client's failures reach the limit, its invalid credentials get 429 — and
/// valid ones still pass, so behind a proxy one client cannot lock the others out.
async fn valid_credentials_pass_the_failure_throttle(backend: Backend) {
    let config = pocket_catalog::config::ServeArgs {
        auth_failures_per_minute: 30,
        ..Default::default()
    };
    let app = TestApp::with_config(backend, config).await;
    let admin = app.token(Role::Admin).await;
    for _ in 0..30 {
        let res = app.get("/users/me", Some("pcat_not_a_real_token")).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    }
    let res = app.get("/users/me", Some("pcat_not_a_real_token")).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.body);
    let res = app.get("/admin/scheduler/status", Some(&admin)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let res = app.get("/users/me", Some(&admin)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
}

/// Issue #29 (6): each dialect's request types have their own schema names in the served document, so
/// the clients' real bodies (docs/CLIENTS.md F5–F7, the app's telemetry, an admin's user) validate
/// against the `/api/v1` operations' schemas — checked by the JSON Schema validator of the contract
/// venv — and are accepted when sent; the root dialect's body is invalid there and refused.
#[tokio::test]
async fn the_clients_real_bodies_validate_against_the_api_v1_document_and_are_accepted() {
    let app = TestApp::new(Backend::Sqlite).await;
    let token = app.token(Role::Admin).await;
    let doc = app.get("/openapi.json", None).await.body;
    let request_schema = |path: &str, method: &str| -> Value {
        doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"].clone()
    };
    let model = json!({"name": "Leaf Classifier", "description": "Tells leaves apart", "category": "utility",
        "is_public": true, "tags": ["plants"], "task": "image-classification",
        "hf_model_id": "plantlab/leaf-classifier", "license_type": "apache-2.0"});
    let version = json!({"version_name": "1.0.0", "commit_sha": "a1b2c3d4",
        "assets": {"tflite": "https://huggingface.co/plantlab/leaf/resolve/main/leaf.tflite", "labels": null},
        "is_hosted_by_us": false, "file_size_bytes": 0, "changelog": "first", "license_type": "apache-2.0"});
    let patch = json!({"pipeline_spec": null, "status": "pending"});
    let user = json!({"username": "leafy", "email": "leafy@example.org", "is_developer": true});
    let root_version = json!({"version_string": "1", "assets": []});
    let mut cases = vec![
        ("/api/v1/models", "post", model.clone(), true),
        (
            "/api/v1/models/{model_id}/versions",
            "post",
            version.clone(),
            true,
        ),
        (
            "/api/v1/versions/{version_id}",
            "patch",
            patch.clone(),
            true,
        ),
        ("/api/v1/users", "post", user.clone(), true),
        (
            "/api/v1/models/{model_id}/versions",
            "post",
            root_version.clone(),
            false,
        ),
        ("/models", "post", json!({"name": "Root"}), true),
        ("/models/{id}/versions", "post", root_version.clone(), true),
    ];
    let mut named = Vec::new();
    for (path, method, body, valid) in cases.drain(..) {
        let schema = request_schema(path, method);
        assert!(schema.is_object(), "{method} {path} documents its body");
        named.push((
            path,
            schema["$ref"].as_str().unwrap_or_default().to_string(),
        ));
        let mut root = doc.clone();
        root["$ref"] = schema["$ref"].clone();
        // jsonschema_rs comes with schemathesis (pinned in scripts/contract-venv).
        let script = "import json, sys, jsonschema_rs\n\
            schema, body = json.loads(sys.argv[1]), json.loads(sys.argv[2])\n\
            errors = list(jsonschema_rs.Draft202012Validator(schema).iter_errors(body))\n\
            print('valid' if not errors else 'invalid: ' + errors[0].message)";
        let out =
            crate::inspect::contract_run(["-c", script, &root.to_string(), &body.to_string()]);
        let out = String::from_utf8_lossy(&out);
        assert_eq!(
            out.trim() == "valid",
            valid,
            "{method} {path} {body}: {out}"
        );
    }
    let v1: Vec<&String> = named
        .iter()
        .filter(|(p, _)| p.starts_with("/api/v1"))
        .map(|(_, r)| r)
        .collect();
    let root: Vec<&String> = named
        .iter()
        .filter(|(p, _)| !p.starts_with("/api/v1"))
        .map(|(_, r)| r)
        .collect();
    assert!(
        v1.iter().all(|r| !root.contains(r)),
        "the dialects share no request schema: {named:?}"
    );
    // And the server takes what the document says it takes.
    let created = app.post("/api/v1/models", Some(&token), model).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let mid = created.body["id"].as_str().unwrap().to_string();
    let added = app
        .post(
            &format!("/api/v1/models/{mid}/versions"),
            Some(&token),
            version,
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    let vid = added.body["id"].as_str().unwrap().to_string();
    let patched = app
        .patch(&format!("/api/v1/versions/{vid}"), Some(&token), patch)
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let made = app.post("/api/v1/users", Some(&token), user).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let refused = app
        .post(
            &format!("/api/v1/models/{mid}/versions"),
            Some(&token),
            root_version,
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
}

/// Issue #29 (7): whatever layer answers an error — the request timeout, the body limit, an unknown
/// file under the docs, a method — the body is `{"detail": "<string>"}` as `application/json`.
#[tokio::test]
async fn every_error_body_is_a_json_detail_whatever_layer_answered() {
    let hub = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(
            wiremock::ResponseTemplate::new(200).set_delay(std::time::Duration::from_secs(5)),
        )
        .mount(&hub)
        .await;
    let mut config = pocket_catalog::config::ServeArgs::default();
    config.hub.hf_endpoint = url::Url::parse(&hub.uri()).unwrap();
    config.hub.hub_max_retries = 0;
    config.request_timeout = std::time::Duration::from_secs(1);
    config.max_body_bytes = 2048;
    config.hf_webhook_secret = Some(secrecy::SecretString::from("hook"));
    let app = TestApp::with_config(Backend::Sqlite, config).await;
    let token = app.token(Role::Admin).await;
    let (owner, _) = app.user(Role::User).await;
    let private = private_model(&app, &owner).await;
    let mut asset = tflite_asset();
    asset.source_url = format!("{}/o/r/resolve/main/m.tflite", hub.uri());
    let version = app
        .store
        .create_version(&crate::support::published_version(
            private.model,
            owner.id,
            "slow",
            vec![asset],
        ))
        .await
        .unwrap();
    let vid = version.id;
    let big = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/webhooks/huggingface")
        .header("x-webhook-secret", "hook")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(vec![b' '; 4096]))
        .unwrap();
    let timed_out = app
        .post(
            &format!("/api/v1/versions/{vid}/generate-pipeline"),
            Some(&token),
            json!({}),
        )
        .await;
    for (what, res, status) in [
        ("timeout", timed_out, StatusCode::REQUEST_TIMEOUT),
        (
            "body limit",
            app.raw(big).await,
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "docs",
            app.get("/docs/no-such-file.js", None).await,
            StatusCode::NOT_FOUND,
        ),
        (
            "path",
            app.get("/no/such/path", None).await,
            StatusCode::NOT_FOUND,
        ),
        (
            "method",
            app.call(Method::PUT, "/models", None, None).await,
            StatusCode::METHOD_NOT_ALLOWED,
        ),
    ] {
        assert_eq!(res.status, status, "{what}: {}", res.body);
        assert!(res.body["detail"].is_string(), "{what}: {}", res.body);
        assert_eq!(
            res.header("content-type"),
            Some("application/json"),
            "{what}"
        );
    }
}

/// Issue #29 (3), the sync's side: a Hub entry whose card, tags, task, library, README and file names
/// hold NUL and other control characters is mirrored with them dropped — on PostgreSQL too, where a
/// NUL in text fails the write — and the rest of the run is unaffected.
async fn hub_text_with_control_characters_is_cleaned_and_synced(backend: Backend) {
    use pocket_catalog::hubsim::population::{self, SimFile};
    use pocket_catalog::hubsim::{Faults, Sim};
    let (mut repos, generator) = population::generate(population::PopulationSpec {
        litert: 12,
        other: 0,
        seed: 29,
    });
    let hostile = repos[3].id.clone();
    let r = &mut repos[3];
    r.card_data = Some(json!({"summary": "Detects\u{0} things\u{1b}[31m", "license": "mit"}));
    r.tags.push("vis\u{0}ion".into());
    r.tags.push("\u{0}".into());
    r.pipeline_tag = Some("image-classification\u{0}".into());
    r.library_name = Some("tf\u{85}lite".into());
    r.readme = "# T\n\nA model\u{0} that works.\n".into();
    r.files.push(SimFile {
        path: "extra\u{1}.tflite".into(),
        size: 10,
        lfs_sha256: Some("e".repeat(64)),
        blob_id: "f".repeat(40),
    });
    let sim = crate::support::SimHandle::with_world(Sim::new(
        population::World::new(repos, generator),
        Faults::default(),
    ))
    .await;
    let mut config = crate::support::serve_config(&sim);
    config.sync.sync_pull_versions = true;
    let app = TestApp::with_config(backend, config).await;
    let admin = app.token(Role::Admin).await;
    let res = app.full_sync(&admin).await;
    assert_eq!(res.body["status"], "success", "{}", res.body);
    let page = app.get("/models?limit=100", None).await;
    let models = page.body.as_array().unwrap();
    assert_eq!(models.len(), 12, "every repo mirrored");
    let m = models
        .iter()
        .find(|m| m["hf_model_id"] == hostile.as_str())
        .unwrap();
    let shown = m.to_string();
    assert!(
        !shown.contains("\\u0000") && !shown.contains("\\u001b"),
        "{shown}"
    );
    assert_eq!(m["task"], "image-classification");
    assert!(
        m["tags"].as_array().unwrap().iter().any(|t| t == "vision"),
        "{}",
        m["tags"]
    );
    assert_eq!(m["library_name"], "tflite");
    let versions = app
        .get(
            &format!("/models/{}/versions", m["id"].as_str().unwrap()),
            None,
        )
        .await;
    let text = versions.body.to_string();
    assert!(
        !text.contains("\\u0000") && !text.contains("\\u0001"),
        "{text}"
    );
}
