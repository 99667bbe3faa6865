//! The portal's publishing flows of CLIENTS.md §5 through `/api/v1`, on both backends, sending exactly
//! what the portal sends: F5 (create a model and its first version), F6 (add a version with a
//! hand-made spec, or without one), F7 (edit, clear and delete), with the policy's refusals.

use crate::both_backends;
use crate::support::{serve_config, Backend, Role, SimHandle, TestApp};
use axum::http::{Method, StatusCode};
use pocket_catalog::config::ServeArgs;
use serde_json::{json, Value};

both_backends!(
    a_portal_user_publishes_a_model_and_maintains_its_versions,
    publishing_can_require_the_developer_role_and_needs_a_sign_in,
    users_syncs_and_imports_in_the_clients_dialect,
);

pub fn spec() -> Value {
    json!({
        "metadata": [{"model_name": "Leaf", "model_version": "1.1.0", "model_task": "image_classification"}],
        "inputs": [{"name": "input", "shape": [1, 224, 224, 3], "dtype": "float32"}],
        "outputs": [{"name": "scores", "shape": [1, 10], "dtype": "float32"}],
        "preprocessing": [{"input_name": "input", "expects_type": "image", "steps": [
            {"step": "resize_image", "params": {"height": 224, "width": 224}},
            {"step": "normalize", "params": {"method": "scale_div", "value": 255.0}},
            {"step": "format", "params": {"target_dtype": "float32", "color_space": "RGB", "data_layout": "NHWC"}}
        ]}],
        "postprocessing": [{"output_name": "scores", "interpretation": "classification_scores",
            "source_tensors": ["scores"], "steps": [
            {"step": "apply_activation", "params": {"function": "softmax"}},
            {"step": "map_labels", "params": {"labels_url": "labels", "class_tensor": "scores", "top_k": 3}}
        ]}]
    })
}

async fn a_portal_user_publishes_a_model_and_maintains_its_versions(backend: Backend) {
    // The Hub is the tests' dead one: files on huggingface.co are read through it, fail at once,
    // and a spec published with one is taken unchecked.
    let app = TestApp::new(backend).await;
    let (_, token) = app.user(Role::User).await;
    let (_, other) = app.user(Role::User).await;
    // F5 step 3: the Upload page's body, slug and unknown fields included.
    let created = app
        .post(
            "/api/v1/models",
            Some(&token),
            json!({"name": "Leaf Classifier", "description": "Tells leaves apart", "category": "utility",
                   "is_public": true, "tags": ["plants", "vision"], "task": "image-classification",
                   "hf_model_id": "plantlab/leaf-classifier", "license_type": "apache-2.0",
                   "slug": "ignored", "shiny": true}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let model = created.body.clone();
    assert_eq!(model["hf_model_id"], "plantlab/leaf-classifier");
    assert_eq!(model["license_type"], "apache-2.0");
    assert_eq!(model["slug"], "leaf-classifier");
    assert_eq!(
        (
            model["version_count"].clone(),
            model["best_version_status"].clone()
        ),
        (json!(0), Value::Null)
    );
    let mid = model["id"].as_str().unwrap();
    let url = "https://huggingface.co/plantlab/leaf-classifier/resolve/main/leaf.tflite";
    let first = app
        .post(
            &format!("/api/v1/models/{mid}/versions"),
            Some(&token),
            json!({"version_name": "1.0.0", "commit_sha": "a1b2c3d4", "assets": {"tflite": url, "weird": "x"},
                   "is_hosted_by_us": false, "license_type": "apache-2.0", "is_commercial_safe": false,
                   "file_size_bytes": 2_500_000, "status": "verified"}),
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(
        first.body["status"], "missing",
        "no spec: the sent status is ignored"
    );
    assert_eq!(first.body["assets"]["tflite"], url);
    assert_eq!(first.body["file_size_bytes"], 2_500_000);
    assert_eq!(first.body["commit_sha"], "a1b2c3d4");
    assert_eq!(first.body["assets"].as_object().unwrap().len(), 6);
    // F6, manual: a hand-made spec makes it pending, filled in as the reference does.
    let second = app
        .post(
            &format!("/api/v1/models/{mid}/versions"),
            Some(&token),
            json!({"version_name": "1.1.0", "commit_sha": "e5f6a7b8", "assets": {"tflite": url}, "pipeline_spec": spec()}),
        )
        .await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.body);
    assert_eq!(second.body["status"], "pending");
    let stored = &second.body["pipeline_spec"];
    assert_eq!(
        stored["metadata"][0]["source_repository"],
        "https://huggingface.co/plantlab/leaf-classifier"
    );
    assert_eq!(stored["metadata"][0]["framework"], "tflite");
    assert!(second.body["pipeline_updated_at"].is_string());
    // The visual editor's older shape is refused with a sentence (the portal shows `detail`).
    let old = app
        .post(
            &format!("/api/v1/models/{mid}/versions"),
            Some(&token),
            json!({"version_name": "1.2.0", "commit_sha": "0badc0de", "assets": {"tflite": url},
                   "pipeline_spec": {"schema_version": "1.0", "preprocessing": [{"action": "resize", "params": {}}]}}),
        )
        .await;
    assert_eq!(old.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        old.detail().starts_with("pipeline_spec"),
        "{}",
        old.detail()
    );
    // As in the reference, a second "1.0.0" (the portal's default name) with the same commit_sha is
    // a version like any other; it keeps the licence it was published under.
    let same_name = app
        .post(
            &format!("/api/v1/models/{mid}/versions"),
            Some(&token),
            json!({"version_name": "1.0.0", "commit_sha": "a1b2c3d4", "assets": {"tflite": url},
                   "license_type": "GPL-3.0"}),
        )
        .await;
    assert_eq!(same_name.status, StatusCode::CREATED, "{}", same_name.body);
    assert_ne!(same_name.body["id"], first.body["id"]);
    assert_eq!(
        (
            same_name.body["license_type"].clone(),
            same_name.body["is_commercial_safe"].clone(),
            same_name.body["requires_commercial_warning"].clone()
        ),
        (json!("gpl-3.0"), json!(false), json!(true))
    );
    assert_eq!(first.body["license_type"], "apache-2.0");
    let listed = app.get(&format!("/api/v1/models/{mid}"), None).await;
    assert_eq!(listed.body["version_count"], 3);
    assert_eq!(listed.body["best_version_status"], "pending");
    // Another user may neither add to this model nor edit its versions.
    let vid = first.body["id"].as_str().unwrap();
    let refused = app
        .post(
            &format!("/api/v1/models/{mid}/versions"),
            Some(&other),
            json!({"version_name": "9", "commit_sha": "99999999", "assets": {"tflite": url}}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(!refused.detail().is_empty());
    let refused = app
        .patch(
            &format!("/api/v1/versions/{vid}"),
            Some(&other),
            json!({"status": "pending"}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    // F7: the portal's edit, then the legacy word, then nonsense.
    let edited = app
        .patch(
            &format!("/api/v1/versions/{vid}"),
            Some(&token),
            json!({"pipeline_spec": spec(), "status": "pending"}),
        )
        .await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.body);
    assert_eq!(edited.body["status"], "pending");
    assert!(edited.body["pipeline_spec"].is_object());
    let legacy = app
        .patch(
            &format!("/api/v1/versions/{vid}"),
            Some(&token),
            json!({"status": "supported"}),
        )
        .await;
    assert_eq!(legacy.body["status"], "verified");
    assert!(
        legacy.body["pipeline_spec"].is_object(),
        "a status alone keeps the spec"
    );
    let bad = app
        .patch(
            &format!("/api/v1/versions/{vid}"),
            Some(&token),
            json!({"status": "great"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.detail().contains("verified"), "{}", bad.detail());
    let verified = app.get(&format!("/api/v1/models/{mid}"), None).await;
    assert_eq!(verified.body["best_version_status"], "verified");
    // Clear the pipeline (R11), then delete the version (R9).
    let cleared = app
        .call(
            Method::DELETE,
            &format!("/api/v1/versions/{vid}/pipeline"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(cleared.status, StatusCode::OK, "{}", cleared.body);
    assert_eq!(cleared.body["status"], "missing");
    assert!(
        cleared.body["pipeline_spec"].is_null() && cleared.body["pipeline_updated_at"].is_null()
    );
    let deleted = app
        .call(
            Method::DELETE,
            &format!("/api/v1/versions/{vid}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert!(deleted.body.is_null());
    let gone = app.get(&format!("/api/v1/versions/{vid}"), None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let again = app
        .call(
            Method::DELETE,
            &format!("/api/v1/versions/{vid}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(again.detail(), "Model version not found.");
    let after = app.get(&format!("/api/v1/models/{mid}"), None).await;
    assert_eq!(after.body["version_count"], 2);
    assert_eq!(after.body["best_version_status"], "pending");
    // The root dialect sees the same model and versions.
    let root = app.get(&format!("/models/{mid}/versions"), None).await;
    assert_eq!(root.body.as_array().unwrap().len(), 2);
}

async fn publishing_can_require_the_developer_role_and_needs_a_sign_in(backend: Backend) {
    let body = json!({"name": "Gated", "description": "d"});
    let open = TestApp::new(backend).await;
    let anonymous = open.post("/api/v1/models", None, body.clone()).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.detail(), "Not authenticated");
    let bad = open
        .post("/api/v1/models", Some("pcat_nonsense"), body.clone())
        .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    assert_eq!(bad.detail(), "Could not validate credentials");
    assert_eq!(bad.header("www-authenticate"), Some("Bearer"));
    let missing = open
        .post(
            "/api/v1/models",
            Some(&open.token(Role::User).await),
            json!({"name": "x"}),
        )
        .await;
    assert!(missing.status.is_client_error());
    assert!(
        missing.detail().contains("description"),
        "{}",
        missing.detail()
    );
    let config = ServeArgs {
        publish_requires_developer: true,
        ..ServeArgs::default()
    };
    let gated = TestApp::with_config(backend, config).await;
    let plain = gated
        .post(
            "/api/v1/models",
            Some(&gated.token(Role::User).await),
            body.clone(),
        )
        .await;
    assert_eq!(plain.status, StatusCode::FORBIDDEN);
    assert!(plain.detail().contains("developer"));
    let dev = gated
        .post(
            "/api/v1/models",
            Some(&gated.token(Role::Developer).await),
            body,
        )
        .await;
    assert_eq!(dev.status, StatusCode::CREATED, "{}", dev.body);
}

async fn users_syncs_and_imports_in_the_clients_dialect(backend: Backend) {
    let sim = SimHandle::start(30, 0, 91).await;
    let mut config = serve_config(&sim);
    config.imports_per_hour = 1;
    config.sync.sync_pull_versions = true;
    config.sync.sync_require_model_file = true;
    let app = TestApp::with_config(backend, config).await;
    let (user, token) = app.user(Role::User).await;
    let admin = app.token(Role::Admin).await;
    // R20–R23.
    let me = app.get("/api/v1/users/me", Some(&token)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["id"], user.id.to_string());
    assert!(me.body["hf_username"].is_null() && me.body.get("is_admin").is_none());
    assert_eq!(
        app.get("/api/v1/users/me", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let found = app
        .get(&format!("/api/v1/users/{}", user.id), Some(&token))
        .await;
    assert_eq!(found.body["username"], user.username.as_str());
    let missing = app
        .get(
            &format!("/api/v1/users/{}", uuid::Uuid::new_v4()),
            Some(&token),
        )
        .await;
    assert_eq!(
        (missing.status, missing.detail()),
        (StatusCode::NOT_FOUND, "User not found")
    );
    let body = json!({"username": "newbie", "email": "newbie@example.com", "hf_access_token": "hf_secret"});
    assert_eq!(
        app.post("/api/v1/users", Some(&token), body.clone())
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let created = app.post("/api/v1/users", Some(&admin), body.clone()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert!(!created.body.to_string().contains("hf_secret"));
    let dup = app
        .post(
            "/api/v1/users",
            Some(&admin),
            json!({"username": "other", "email": "newbie@example.com"}),
        )
        .await;
    assert_eq!(
        (dup.status, dup.detail()),
        (
            StatusCode::BAD_REQUEST,
            "User with this email already exists"
        )
    );
    // R17 and R18: admins only.
    assert_eq!(
        app.post("/api/v1/sync/huggingface/litert", Some(&token), json!({}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let run = app
        .post("/api/v1/sync/huggingface/litert", Some(&admin), json!({}))
        .await;
    assert_eq!(run.status, StatusCode::OK, "{}", run.body);
    assert_eq!(run.body["status"], "success");
    assert!(run.body["message"]
        .as_str()
        .unwrap()
        .starts_with("Successfully synced LiteRT models."));
    let repo = sim
        .litert_truth()
        .into_iter()
        .find(crate::support::has_model_file)
        .unwrap()
        .id;
    let adhoc = app
        .post(
            &format!("/api/v1/sync/huggingface/litert/adhoc?repo_id={repo}"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(adhoc.status, StatusCode::OK, "{}", adhoc.body);
    assert_eq!(
        adhoc.body["message"],
        format!("Manual sync for {repo} at head completed. Check logs for details.")
    );
    // R16: a signed-in user's import, a few an hour.
    let imported = app
        .post(
            "/api/v1/import/huggingface",
            Some(&token),
            json!({"hf_id": repo}),
        )
        .await;
    assert_eq!(imported.status, StatusCode::OK, "{}", imported.body);
    assert_eq!(imported.body["hf_model_id"], repo.as_str());
    let again = app
        .post("/import/huggingface", Some(&token), json!({"hf_id": repo}))
        .await;
    assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(again.detail().contains("imports an hour"));
    let by_admin = app
        .post("/import/huggingface", Some(&admin), json!({"hf_id": repo}))
        .await;
    assert_eq!(by_admin.status, StatusCode::OK);
    assert_eq!(by_admin.body["hf_model_id"], repo.as_str());
    let system = by_admin.body["author_id"].as_str().unwrap().to_string();
    let models = app
        .get(
            &format!("/api/v1/users/{system}/models?limit=5"),
            Some(&token),
        )
        .await;
    assert_eq!(models.body.as_array().unwrap().len(), 5);
}

/// A spec published with a file on a Hub that does not answer is accepted unchecked after
/// `runnable::SPEC_CHECK_TIMEOUT` (as the reference accepts it), within the request's time.
#[tokio::test]
async fn a_spec_is_accepted_unchecked_when_the_hub_does_not_answer() {
    // Accepts connections (the kernel's backlog) and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hub = format!("http://{}", silent.local_addr().unwrap());
    let mut config = ServeArgs::default();
    config.hub.hf_endpoint = url::Url::parse(&hub).unwrap();
    let app = TestApp::with_config(Backend::Sqlite, config).await;
    let (_, token) = app.user(Role::User).await;
    let model = app
        .post(
            "/api/v1/models",
            Some(&token),
            json!({"name": "Leaf", "description": "d"}),
        )
        .await
        .body;
    let res = app
        .post(
            &format!("/api/v1/models/{}/versions", model["id"].as_str().unwrap()),
            Some(&token),
            json!({"version_name": "1.0.0", "commit_sha": "a1b2c3d4",
                   "assets": {"tflite": format!("{hub}/plantlab/leaf/resolve/main/leaf.tflite")},
                   "pipeline_spec": spec()}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.body["status"], "pending");
    assert!(res.body["signature"].is_null());
    drop(silent);
}
