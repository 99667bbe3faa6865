//! Publishing through one service layer (`catalog`) under both dialects: a person's spec is checked
//! once, when it is written, and what is stored is what both dialects show; links to the files the
//! service hosts are stored as paths and made absolute when answering, under the public URL of the
//! replica that answers.

use crate::both_backends;
use crate::support::{Backend, Role, TestApp};
use axum::http::StatusCode;
use pocket_catalog::domain::records::{Asset, NewVersion, NO_MODEL_FILE, SPEC_OUTSIDE_APP_SCHEMA};
use pocket_catalog::domain::VersionStatus;
use serde_json::{json, Value};
use tower::ServiceExt;

both_backends!(
    a_root_spec_outside_the_apps_schema_is_kept_and_never_shown_to_the_app,
    a_version_without_a_model_file_is_written_missing_in_both_dialects,
    versions_published_before_are_settled_once_at_startup,
    hosted_links_are_stored_as_paths_and_made_under_the_answering_replicas_url,
    a_persons_spec_is_kept_and_each_rule_of_the_app_it_breaks_is_shown_in_both_dialects,
);

/// A model file on huggingface.co: read, if at all, through the tests' dead local Hub.
const MODEL_FILE: &str = "https://huggingface.co/o/r/resolve/abc/model.tflite";

/// A spec in the app's schema (CLIENTS.md §4).
fn app_spec() -> Value {
    json!({
        "metadata": [{"model_name": "M", "model_version": "1", "model_task": "image_classification"}],
        "inputs": [{"name": "input", "shape": [1, 8, 8, 3], "dtype": "uint8"}],
        "outputs": [{"name": "scores", "shape": [1, 2], "dtype": "float32"}],
        "preprocessing": [{"input_name": "input", "steps": [
            {"step": "resize_image", "params": {"height": 8, "width": 8}}]}],
        "postprocessing": [{"output_name": "scores", "interpretation": "classification_scores",
            "source_tensors": ["scores"], "steps": []}]
    })
}

/// A root-dialect model of `token`'s user: `(id, slug)`.
async fn root_model(app: &TestApp, token: &str) -> (String, String) {
    let res = app
        .post("/models", Some(token), json!({"name": "Hand made"}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    (
        res.body["id"].as_str().unwrap().to_string(),
        res.body["slug"].as_str().unwrap().to_string(),
    )
}

fn tflite(url: &str) -> Value {
    json!({"asset_key": "model.tflite", "asset_type": "tflite", "source_url": url,
           "file_size_bytes": 2048, "is_hosted_by_us": false})
}

/// The version `id` as the clients' dialect lists it under `model`.
async fn v1_version(app: &TestApp, token: &str, model: &str, id: &str) -> Value {
    let res = app
        .get(&format!("/api/v1/models/{model}/versions"), Some(token))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.body
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == id)
        .cloned()
        .expect("the version is listed")
}

async fn a_root_spec_outside_the_apps_schema_is_kept_and_never_shown_to_the_app(backend: Backend) {
    let app = TestApp::new(backend).await;
    let token = app.token(Role::Developer).await;
    let (model, slug) = root_model(&app, &token).await;
    let old_form = json!({"input": "image", "nodes": [1, 2]});
    let res = app
        .post(
            &format!("/models/{slug}/versions"),
            Some(&token),
            json!({"version_string": "1", "pipeline_spec": old_form, "assets": [tflite(MODEL_FILE)]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(
        res.body["pipeline_spec"], old_form,
        "the root dialect keeps it"
    );
    let id = res.body["id"].as_str().unwrap().to_string();

    // Decided when written: the stored row says the app cannot run it, and why.
    let stored = app
        .store
        .get_version_by_id(id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, VersionStatus::Missing);
    let reason = stored.unsupported_reason.clone().unwrap();
    assert!(reason.starts_with(SPEC_OUTSIDE_APP_SCHEMA), "{reason}");

    let shown = v1_version(&app, &token, &model, &id).await;
    assert_eq!(
        shown["pipeline_spec"],
        Value::Null,
        "never shown to the app"
    );
    assert_eq!(shown["status"], "missing");
    assert_eq!(shown["unsupported_reason"], reason.as_str());

    // The clients' dialect refuses the same spec outright.
    let refused = app
        .post(
            &format!("/api/v1/models/{model}/versions"),
            Some(&token),
            json!({"version_name": "2", "commit_sha": "abc", "assets": {"tflite": MODEL_FILE},
                   "pipeline_spec": old_form}),
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );

    // Asking for `verified` cannot make the kept spec runnable.
    let asked = app
        .patch(
            &format!("/api/v1/versions/{id}"),
            Some(&token),
            json!({"status": "verified"}),
        )
        .await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    assert_eq!(asked.body["status"], "missing");
    assert_eq!(asked.body["pipeline_spec"], Value::Null);
    assert_eq!(asked.body["unsupported_reason"], reason.as_str());

    // A spec in the app's schema, set later, ends the refusal.
    let fixed = app
        .patch(
            &format!("/api/v1/versions/{id}"),
            Some(&token),
            json!({"pipeline_spec": app_spec()}),
        )
        .await;
    assert_eq!(fixed.status, StatusCode::OK, "{}", fixed.body);
    assert_eq!(fixed.body["status"], "pending");
    assert_eq!(fixed.body["unsupported_reason"], Value::Null);
    assert_eq!(fixed.body["pipeline_spec"]["inputs"][0]["name"], "input");
}

async fn a_version_without_a_model_file_is_written_missing_in_both_dialects(backend: Backend) {
    let app = TestApp::new(backend).await;
    let token = app.token(Role::Developer).await;
    let (model, slug) = root_model(&app, &token).await;
    let root = app
        .post(
            &format!("/models/{slug}/versions"),
            Some(&token),
            json!({"version_string": "1", "pipeline_spec": app_spec()}),
        )
        .await;
    assert_eq!(root.status, StatusCode::CREATED, "{}", root.body);
    let v1 = app
        .post(
            &format!("/api/v1/models/{model}/versions"),
            Some(&token),
            json!({"version_name": "2", "commit_sha": "abc", "assets": {"labels": MODEL_FILE},
                   "pipeline_spec": app_spec()}),
        )
        .await;
    assert_eq!(v1.status, StatusCode::CREATED, "{}", v1.body);
    assert_eq!(v1.body["status"], "missing");
    for id in [&root.body["id"], &v1.body["id"]] {
        let stored = app
            .store
            .get_version_by_id(id.as_str().unwrap().parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.status, VersionStatus::Missing);
        assert_eq!(stored.unsupported_reason.as_deref(), Some(NO_MODEL_FILE));
        let shown = v1_version(&app, &token, &model, id.as_str().unwrap()).await;
        assert_eq!(shown["status"], "missing");
        assert_eq!(shown["unsupported_reason"], NO_MODEL_FILE);
    }
    // Asking for `verified` does not make a version without a file runnable.
    let id = v1.body["id"].as_str().unwrap();
    let patched = app
        .patch(
            &format!("/api/v1/versions/{id}"),
            Some(&token),
            json!({"status": "verified"}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.body["status"], "missing");
}

async fn versions_published_before_are_settled_once_at_startup(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (user, token) = app.user(Role::Developer).await;
    let (model, _) = root_model(&app, &token).await;
    let asset = |url: &str| Asset {
        asset_key: "model.tflite".into(),
        asset_type: "tflite".into(),
        source_url: url.into(),
        file_size_bytes: Some(10),
        file_hash: None,
        hash_kind: None,
        is_hosted_by_us: false,
        is_primary: true,
    };
    // Rows as an older release wrote them: pending, whatever their spec or files.
    let written = |name: &str, spec: Value, assets: Vec<Asset>| NewVersion {
        pipeline_spec: Some(spec),
        ..crate::support::published_version(model.parse().unwrap(), user.id, name, assets)
    };
    let outside = app
        .store
        .create_version(&written(
            "old",
            json!({"input": "image"}),
            vec![asset(MODEL_FILE)],
        ))
        .await
        .unwrap();
    let no_file = app
        .store
        .create_version(&written("bare", app_spec(), vec![]))
        .await
        .unwrap();
    let fine = app
        .store
        .create_version(&written("fine", app_spec(), vec![asset(MODEL_FILE)]))
        .await
        .unwrap();
    for v in [&outside, &no_file, &fine] {
        assert_eq!(v.status, VersionStatus::Pending);
    }
    let catalog = &app.state.catalog;
    assert_eq!(catalog.settle_published_versions().await.unwrap(), 2);
    assert_eq!(
        catalog.settle_published_versions().await.unwrap(),
        0,
        "once"
    );
    let get = |id| app.store.get_version_by_id(id);
    let outside = get(outside.id).await.unwrap().unwrap();
    assert_eq!(outside.status, VersionStatus::Missing);
    assert!(outside.spec_outside_app_schema());
    assert_eq!(
        outside.pipeline_spec,
        Some(json!({"input": "image"})),
        "kept"
    );
    let no_file = get(no_file.id).await.unwrap().unwrap();
    assert_eq!(no_file.unsupported_reason.as_deref(), Some(NO_MODEL_FILE));
    assert_eq!(
        get(fine.id).await.unwrap().unwrap().status,
        VersionStatus::Pending
    );
    let shown = v1_version(&app, &token, &model, &outside.id.to_string()).await;
    assert_eq!(shown["pipeline_spec"], Value::Null);
}

async fn hosted_links_are_stored_as_paths_and_made_under_the_answering_replicas_url(
    backend: Backend,
) {
    let mut config = pocket_catalog::config::ServeArgs::default();
    config.sync.public_url = Some(url::Url::parse("https://first.example/catalog/").unwrap());
    let app = TestApp::with_config(backend, config).await;
    let token = app.token(Role::Developer).await;
    let (model, slug) = root_model(&app, &token).await;
    let res = app
        .post(
            &format!("/models/{slug}/versions"),
            Some(&token),
            json!({"version_string": "1", "assets": [tflite(MODEL_FILE)]}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let id: uuid::Uuid = res.body["id"].as_str().unwrap().parse().unwrap();
    let stored = app.store.get_version_by_id(id).await.unwrap().unwrap();
    let sha = crate::support::host_labels(
        &app.store,
        id,
        stored.assets,
        "my labels.txt",
        b"cat\ndog\n".to_vec(),
    )
    .await;
    let path = format!("/files/{sha}/my%20labels.txt");
    let row = app.store.get_version_by_id(id).await.unwrap().unwrap();
    assert_eq!(row.assets[1].source_url, path, "the row holds no address");

    let shown = v1_version(&app, &token, &model, &id.to_string()).await;
    assert_eq!(
        shown["assets"]["labels"],
        format!("https://first.example/catalog{path}")
    );
    let root = app
        .get(&format!("/models/{slug}/versions/{id}"), None)
        .await;
    assert_eq!(
        root.body["assets"][1]["source_url"],
        format!("https://first.example/catalog{path}")
    );

    // Another replica over the same database (a `serve` on another address after a standalone
    // `sync`): its own address, at once.
    let mut other = pocket_catalog::config::ServeArgs::default();
    other.sync.public_url = Some(url::Url::parse("http://127.0.0.1:9/").unwrap());
    other.hub.hf_endpoint = url::Url::parse("http://127.0.0.1:9/").unwrap();
    let state = pocket_catalog::app::build(
        app.store.clone(),
        pocket_catalog::app::check(other).unwrap(),
    )
    .unwrap();
    let req = axum::http::Request::builder()
        .uri(format!("/api/v1/models/{model}/versions"))
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let res = pocket_catalog::http::app(state).oneshot(req).await.unwrap();
    let body = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    let listed: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        listed[0]["assets"]["labels"],
        format!("http://127.0.0.1:9{path}")
    );
    // The app's download of it is answered here, wherever the link pointed.
    let labels = app
        .raw_get(&format!("/api/v1/versions/{id}/download/labels"))
        .await;
    assert_eq!(labels.0, StatusCode::OK);
    assert_eq!(labels.1, b"cat\ndog\n");
}

/// A person's spec is accepted as the reference accepts it — here the app's broken per-channel
/// `mean_stddev` and a sigmoid the app does not implement — and each rule of the app it breaks is reported on
/// the version in both dialects; asked to be `verified`, it stays `pending`. Fixed, the warnings go.
async fn a_persons_spec_is_kept_and_each_rule_of_the_app_it_breaks_is_shown_in_both_dialects(
    backend: Backend,
) {
    let app = TestApp::new(backend).await;
    let token = app.token(Role::Developer).await;
    let (model, slug) = root_model(&app, &token).await;
    let mut spec = app_spec();
    spec["inputs"][0]["dtype"] = json!("float32");
    spec["preprocessing"][0]["steps"] = json!([
        {"step": "resize_image", "params": {"height": 8, "width": 8}},
        {"step": "normalize", "params": {"method": "mean_stddev", "mean": [0.485, 0.456, 0.406],
            "stddev": [0.229, 0.224, 0.225]}},
        {"step": "format", "params": {"target_dtype": "float32"}}]);
    spec["postprocessing"][0]["steps"] = json!([
        {"step": "apply_activation", "params": {"function": "sigmoid"}}]);
    let res = app
        .post(
            &format!("/api/v1/models/{model}/versions"),
            Some(&token),
            json!({"version_name": "1", "commit_sha": "abc", "assets": {"tflite": MODEL_FILE},
                   "pipeline_spec": spec}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let id = res.body["id"].as_str().unwrap().to_string();
    let said = res.body["app_warnings"].to_string();
    assert!(said.contains("R1") && said.contains("sigmoid"), "{said}");
    let shown = v1_version(&app, &token, &model, &id).await;
    assert_eq!(shown["app_warnings"], res.body["app_warnings"]);
    let root = app
        .get(&format!("/models/{slug}/versions/{id}"), Some(&token))
        .await;
    assert_eq!(root.body["app_warnings"], res.body["app_warnings"]);
    let asked = app
        .patch(
            &format!("/api/v1/versions/{id}"),
            Some(&token),
            json!({"status": "verified"}),
        )
        .await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    assert_eq!(asked.body["status"], "pending", "{}", asked.body);
    assert_eq!(
        asked.body["pipeline_spec"]["preprocessing"][0]["steps"][1]["params"]["method"],
        "mean_stddev",
        "kept as written"
    );
    let mut fixed = spec.clone();
    fixed["postprocessing"][0]["steps"] = json!([]);
    fixed["preprocessing"][0]["steps"] = json!([
        {"step": "resize_image", "params": {"height": 8, "width": 8}},
        {"step": "format", "params": {"target_dtype": "float32", "color_space": "RGB",
            "data_layout": "NHWC"}}]);
    let res = app
        .patch(
            &format!("/api/v1/versions/{id}"),
            Some(&token),
            json!({"pipeline_spec": fixed, "status": "verified"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["app_warnings"], json!([]));
    assert_eq!(res.body["status"], "verified");
}
