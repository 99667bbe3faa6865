//! The `/api/v1` dialect of the Pocket AI portal and app, checked against CLIENTS.md on both backends:
//! the shapes the app decodes strictly (§3.1, §3.2, §7.3), the catalog flows F1 (portal browse →
//! detail) and F2 (app browse → download), visibility, optional auth that never answers 401, and the
//! download redirect.

use crate::both_backends;
use crate::support::{execute_raw, serve_config, Backend, Role, SimHandle, TestApp};
use axum::http::StatusCode;
use pocket_catalog::domain::records::{Asset, NewModel, NewVersion};
use pocket_catalog::domain::{Category, LicenseType};
use serde_json::{json, Value};

both_backends!(
    every_synced_model_and_version_decodes_as_the_app_requires,
    a_version_with_a_spec_makes_its_model_runnable_for_the_app,
    private_models_are_seen_by_their_author_alone_and_bad_tokens_are_anonymous,
    downloads_redirect_by_client_key_and_only_tflite_counts,
    versions_stored_before_the_client_dialect_get_their_status_and_summary_on_migration,
    telemetry_takes_both_body_forms_skips_unknown_versions_and_feeds_the_stats,
    the_apps_catalog_call_reads_only_the_runnable_models,
);

const STATUSES: [&str; 3] = ["verified", "pending", "missing"];

/// What the app's `Model.fromJson` needs (CLIENTS.md §3.1): the strict fields present and of their type.
fn assert_app_decodes_model(m: &Value) {
    for key in [
        "id",
        "author_id",
        "name",
        "description",
        "category",
        "created_at",
    ] {
        assert!(m[key].is_string(), "model {key} must be a string: {m}");
    }
    assert!(m["tags"].is_array(), "{m}");
    for key in [
        "total_download_count",
        "total_ratings",
        "version_count",
        "file_size_bytes",
    ] {
        assert!(m[key].is_i64(), "model {key} must be an integer: {m}");
    }
    assert!(m["rating_weighted_avg"].is_number(), "{m}");
    assert!(m["is_public"].is_boolean() && m["is_verified_official"].is_boolean());
    assert!(m["license_type"].is_string(), "the portal shows it: {m}");
    let best = &m["best_version_status"];
    assert!(
        best.is_null() || STATUSES.contains(&best.as_str().unwrap()),
        "{m}"
    );
    let category: Category = m["category"].as_str().unwrap().parse().unwrap();
    assert!(Category::ALL.contains(&category));
    // One fixed timestamp format: RFC 3339 in UTC with microseconds (the app compares strings).
    let created = m["created_at"].as_str().unwrap();
    assert!(created.ends_with('Z') && created.len() == 27, "{created}");
}

/// What the app's `ModelVersion.fromJson` needs (§3.2, §3.3): one bad element fails the whole list.
pub fn assert_app_decodes_version(v: &Value) {
    for key in [
        "id",
        "model_id",
        "version_name",
        "commit_sha",
        "license_type",
        "status",
        "published_at",
    ] {
        assert!(v[key].is_string(), "version {key} must be a string: {v}");
    }
    for key in ["file_size_bytes", "download_count", "num_ratings"] {
        assert!(v[key].is_i64(), "version {key} must be an integer: {v}");
    }
    assert!(v["rating_avg"].is_number());
    for key in [
        "is_hosted_by_us",
        "is_commercial_safe",
        "requires_commercial_warning",
    ] {
        assert!(v[key].is_boolean(), "version {key} must be a boolean: {v}");
    }
    assert!(STATUSES.contains(&v["status"].as_str().unwrap()), "{v}");
    let assets = v["assets"].as_object().expect("assets is a map");
    let mut keys: Vec<&str> = assets.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "anchors",
            "labels",
            "litert_lm",
            "tflite",
            "tokenizer",
            "vocab"
        ]
    );
    assert!(assets["tflite"].is_string(), "tflite is never null: {v}");
    for (key, value) in assets {
        assert!(value.is_null() || value.is_string(), "{key}: {value}");
    }
    let spec = &v["pipeline_spec"];
    assert!(spec.is_null() || spec.is_object());
    if v["status"] != "missing" {
        // A runnable version points at a real file.
        assert!(
            assets["tflite"].as_str().unwrap().starts_with("http"),
            "{v}"
        );
    }
}

async fn synced_app(backend: Backend, repos: usize, seed: u64) -> (TestApp, SimHandle) {
    let sim = SimHandle::start(repos, 0, seed).await;
    // The population's .litertlm bundles get real bytes (a bundle the official builder made).
    let (bundle, _) = crate::litertlm::llm_bundle();
    for repo in sim.sim.repos() {
        for f in repo.files.iter().filter(|f| f.path.ends_with(".litertlm")) {
            sim.sim.put_file(&repo.id, &f.path, bundle.clone()).unwrap();
        }
    }
    let mut config = serve_config(&sim);
    config.sync.sync_pull_versions = true;
    config.sync.sync_require_model_file = false;
    let app = TestApp::with_config(backend, config).await;
    let admin = app.token(Role::Admin).await;
    let res = app.full_sync(&admin).await;
    assert!(
        res.body["versions_created"].as_i64().unwrap() > 0,
        "{}",
        res.body
    );
    (app, sim)
}

async fn every_synced_model_and_version_decodes_as_the_app_requires(backend: Backend) {
    let (app, _sim) = synced_app(backend, 50, 81).await;
    // F1: the portal asks without parameters and gets the whole catalog (default limit 1000).
    let all = app.get("/api/v1/models", None).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    let models = all.body.as_array().unwrap();
    let root = app
        .get("/models?limit=1000&include_removed=true", None)
        .await;
    assert_eq!(models.len(), root.body.as_array().unwrap().len());
    assert!(models.len() >= 40, "{}", models.len());
    let mut versions_seen = 0;
    let mut llm_bundles = 0;
    let mut read_bundles = 0;
    for m in models {
        assert_app_decodes_model(m);
        let id = m["id"].as_str().unwrap();
        // F1: the detail page finds the model in the list and asks for its versions.
        let one = app.get(&format!("/api/v1/models/{id}"), None).await;
        assert_eq!(one.status, StatusCode::OK);
        assert_eq!(&one.body, m, "the list and the detail agree");
        let list = app
            .get(&format!("/api/v1/models/{id}/versions"), None)
            .await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.body);
        let versions = list.body.as_array().unwrap();
        assert_eq!(
            m["version_count"].as_u64().unwrap() as usize,
            versions.len()
        );
        let largest = versions
            .iter()
            .map(|v| v["file_size_bytes"].as_i64().unwrap())
            .max();
        assert_eq!(m["file_size_bytes"].as_i64().unwrap(), largest.unwrap_or(0));
        if versions.is_empty() {
            assert!(m["best_version_status"].is_null());
        }
        for v in versions {
            assert_app_decodes_version(v);
            assert_eq!(v["model_id"], m["id"]);
            assert_eq!(v["license_type"], m["license_type"]);
            // A mirrored version is pinned to its commit and inspected by the sync: the population's
            // .tflite and .task files are pseudo-random bytes (missing, with the reason); its
            // .litertlm bundles are real ones the test put there, and are read: a model and a
            // tokenizer, the MediaPipe recipe.
            let sha = v["commit_sha"].as_str().unwrap();
            assert_eq!(sha.len(), 40, "{v}");
            assert!(
                v["assets"]["tflite"].as_str().unwrap().contains(sha) || v["status"] == "missing"
            );
            assert_eq!(
                v["inspection"]["inspector_version"],
                pocket_catalog::inspect::INSPECTOR_VERSION,
                "{v}"
            );
            if v["assets"]["litert_lm"].is_string()
                && !v["assets"]["tflite"].as_str().unwrap().ends_with(".tflite")
            {
                assert_eq!(v["assets"]["tflite"], v["assets"]["litert_lm"], "{v}");
                llm_bundles += 1;
                if v["assets"]["tflite"]
                    .as_str()
                    .unwrap()
                    .ends_with(".litertlm")
                {
                    // Not verified until the app is shown to load a .litertlm (R15).
                    assert_eq!(v["status"], "pending", "{v}");
                    assert_eq!(
                        v["pipeline_spec"]["metadata"][0]["framework"],
                        "mediapipe_litert"
                    );
                    assert_eq!(v["inspection"]["format"], "litertlm");
                    assert_eq!(v["inspection"]["format_version"], "1.7.0");
                    let members: Vec<&str> = v["inspection"]["members"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|m| m["name"].as_str().unwrap())
                        .collect();
                    assert_eq!(
                        members,
                        [
                            "LlmMetadataProto",
                            "TFLiteModel (tf_lite_prefill_decode)",
                            "SP_Tokenizer"
                        ]
                    );
                    assert_eq!(v["inspection"]["llm_metadata"]["model_type"], "qwen3");
                    assert_eq!(m["best_version_status"], "pending");
                    read_bundles += 1;
                } else {
                    // A .task is read as a ZIP: the population's are pseudo-random bytes.
                    assert_eq!(v["status"], "missing", "{v}");
                    let why = v["unsupported_reason"].as_str().unwrap_or_default();
                    assert!(
                        why.contains("no end-of-central-directory record")
                            || why.starts_with("the repo is gated"),
                        "{v}"
                    );
                }
            } else {
                assert_eq!(v["status"], "missing", "{v}");
                let why = v["unsupported_reason"].as_str().unwrap_or_default();
                // The population's own files are pseudo-random bytes: not a model, and said so.
                assert!(
                    why.starts_with("the model file cannot be read: not a TFLite model: its FlatBuffers identifier is ")
                        || why.starts_with("the repo is gated"),
                    "{v}"
                );
            }
            let single = app
                .get(
                    &format!("/api/v1/versions/{}", v["id"].as_str().unwrap()),
                    None,
                )
                .await;
            assert_eq!(&single.body, v);
            versions_seen += 1;
        }
    }
    assert!(versions_seen >= 30, "{versions_seen}");
    assert!(llm_bundles > 0, "the population has LLM-only repos");
    // F2: the app's filtered list holds exactly the models with a runnable version (here the
    // .litertlm bundles, which the sync read and gave the MediaPipe recipe).
    let app_list = app
        .get("/api/v1/models?skip=0&limit=1000&supported_only=true", None)
        .await;
    let listed = app_list.body.as_array().unwrap();
    assert!(read_bundles > 0, "the population has .litertlm repos");
    assert_eq!(
        listed.len(),
        read_bundles,
        "one runnable version per .litertlm repo"
    );
    assert!(listed.iter().all(|m| matches!(
        m["best_version_status"].as_str(),
        Some("verified" | "pending")
    )));
    // Paging, the task filter, unknown parameters ignored.
    let two = app
        .get("/api/v1/models?skip=1&limit=2&colour=blue", None)
        .await;
    assert_eq!(two.body.as_array().unwrap().as_slice(), &models[1..3]);
    let task = models[0]["task"].as_str().unwrap();
    let by_task = app.get(&format!("/api/v1/models?task={task}"), None).await;
    assert!(by_task
        .body
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["task"] == task));
    // Errors are strings.
    for uri in [
        "/api/v1/models?limit=0",
        "/api/v1/models?author_id=nope",
        "/api/v1/models?supported_only=maybe",
        "/api/v1/models/not-a-uuid",
        "/api/v1/versions/not-a-uuid",
    ] {
        let res = app.get(uri, None).await;
        assert!(res.status.is_client_error(), "{uri}: {}", res.status);
        assert!(!res.detail().is_empty(), "{uri}");
    }
    let missing = app
        .get(&format!("/api/v1/models/{}", uuid::Uuid::new_v4()), None)
        .await;
    assert_eq!(
        (missing.status, missing.detail()),
        (StatusCode::NOT_FOUND, "Model not found")
    );
    let missing = app
        .get(&format!("/api/v1/versions/{}", uuid::Uuid::new_v4()), None)
        .await;
    assert_eq!(missing.detail(), "Model version not found");
}

fn tflite_asset(url: &str) -> Asset {
    Asset {
        asset_key: "model.tflite".into(),
        asset_type: "tflite".into(),
        source_url: url.into(),
        file_size_bytes: Some(4_000_000),
        file_hash: None,
        hash_kind: None,
        is_hosted_by_us: false,
        is_primary: true,
    }
}

fn new_model(author: uuid::Uuid, name: &str, is_public: bool) -> NewModel {
    NewModel {
        id: uuid::Uuid::now_v7(),
        name: name.into(),
        slug_hint: name.into(),
        slug_disambiguator: name.into(),
        description: format!("{name}, published by hand"),
        category: Category::Utility,
        license_type: LicenseType::Mit,
        origin_repo_url: None,
        author_id: author,
        hf_model_id: None,
        is_verified_official: false,
        tags: vec!["vision".into()],
        task: Some("image-classification".into()),
        task_inferred: false,
        upstream: None,
        is_public,
    }
}

pub(crate) fn new_version(
    model_id: uuid::Uuid,
    name: &str,
    spec: Option<Value>,
    assets: Vec<Asset>,
) -> NewVersion {
    NewVersion {
        model_id,
        version_string: name.into(),
        changelog: None,
        hf_commit_sha: Some(format!("{:08x}", rand_sha(name))),
        pipeline_spec: spec,
        assets,
        published_at: pocket_catalog::domain::now(),
        created_by: None,
        license_type: None,
        inspected: None,
        refusal: None,
        deferred: None,
    }
}

/// The portal sends 8 hex characters of its own as `commit_sha`; one per version name here.
fn rand_sha(name: &str) -> u32 {
    name.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

async fn a_version_with_a_spec_makes_its_model_runnable_for_the_app(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (user, _) = app.user(Role::User).await;
    let model = app
        .store
        .create_model(&new_model(user.id, "Leaf Classifier", true))
        .await
        .unwrap();
    let url = "https://cdn.example/leaf/model.tflite";
    app.store
        .create_version(&new_version(
            model.id,
            "1.0.0",
            None,
            vec![tflite_asset(url)],
        ))
        .await
        .unwrap();
    let listed = app.get("/api/v1/models?supported_only=true", None).await;
    assert_eq!(
        listed.body,
        json!([]),
        "a version without a spec is missing"
    );
    let spec = json!({"metadata": [], "inputs": [], "outputs": [], "preprocessing": [], "postprocessing": []});
    app.store
        .create_version(&new_version(
            model.id,
            "1.1.0",
            Some(spec),
            vec![tflite_asset(url)],
        ))
        .await
        .unwrap();
    let listed = app
        .get("/api/v1/models?skip=0&limit=1000&supported_only=true", None)
        .await;
    let models = listed.body.as_array().unwrap();
    assert_eq!(models.len(), 1, "{}", listed.body);
    assert_app_decodes_model(&models[0]);
    assert_eq!(models[0]["best_version_status"], "pending");
    assert_eq!(models[0]["version_count"], 2);
    assert_eq!(models[0]["file_size_bytes"], 4_000_000);
    let versions = app
        .get(&format!("/api/v1/models/{}/versions", model.id), None)
        .await;
    let versions = versions.body.as_array().unwrap();
    // Oldest first, as the portal's add-version wizard expects.
    assert_eq!(versions[0]["version_name"], "1.0.0");
    assert_eq!(versions[0]["status"], "missing");
    assert_eq!(versions[1]["status"], "pending");
    assert!(versions[1]["pipeline_updated_at"].is_string());
    assert!(versions[0]["pipeline_updated_at"].is_null());
    assert_eq!(versions[1]["is_commercial_safe"], true);
    assert_eq!(versions[1]["requires_commercial_warning"], false);
    assert_eq!(versions[1]["assets"]["tflite"], url);
    for v in versions {
        assert_app_decodes_version(v);
    }
}

async fn private_models_are_seen_by_their_author_alone_and_bad_tokens_are_anonymous(
    backend: Backend,
) {
    let app = TestApp::new(backend).await;
    let (author, author_token) = app.user(Role::User).await;
    let (_, other_token) = app.user(Role::User).await;
    let public = app
        .store
        .create_model(&new_model(author.id, "Open Model", true))
        .await
        .unwrap();
    let private = app
        .store
        .create_model(&new_model(author.id, "Secret Model", false))
        .await
        .unwrap();
    let ids = |res: &crate::support::TestResponse| -> Vec<String> {
        res.body
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect()
    };
    let anonymous = app.get("/api/v1/models", None).await;
    assert_eq!(ids(&anonymous), [public.id.to_string()]);
    let mine = app.get("/api/v1/models", Some(&author_token)).await;
    assert_eq!(mine.body.as_array().unwrap().len(), 2);
    let theirs = app.get("/api/v1/models", Some(&other_token)).await;
    assert_eq!(ids(&theirs), [public.id.to_string()]);
    // The dashboard's own list (F8).
    let dashboard = app
        .get(
            &format!("/api/v1/models?author_id={}", author.id),
            Some(&author_token),
        )
        .await;
    assert_eq!(dashboard.body.as_array().unwrap().len(), 2);
    let private_uri = format!("/api/v1/models/{}", private.id);
    assert_eq!(
        app.get(&private_uri, None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&private_uri, Some(&other_token)).await.status,
        StatusCode::NOT_FOUND
    );
    let seen = app.get(&private_uri, Some(&author_token)).await;
    assert_eq!(seen.status, StatusCode::OK);
    assert_eq!(seen.body["is_public"], false);
    let versions = format!("{private_uri}/versions");
    assert_eq!(app.get(&versions, None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get(&versions, Some(&author_token)).await.status,
        StatusCode::OK
    );
    // A token that cannot be verified never costs the public catalog: the caller is anonymous.
    for bad in [
        "pcat_not-a-real-token",
        "eyJhbGciOiJIUzI1NiJ9.e30.c2ln",
        "garbage",
    ] {
        let res = app.get("/api/v1/models", Some(bad)).await;
        assert_eq!(res.status, StatusCode::OK, "{bad}: {}", res.body);
        assert_eq!(ids(&res), [public.id.to_string()]);
        let one = app
            .get(&format!("/api/v1/models/{}", public.id), Some(bad))
            .await;
        assert_eq!(one.status, StatusCode::OK);
    }
    let metrics = app.get("/metrics", None).await;
    let text = metrics.body.as_str().unwrap_or_default().to_string();
    assert!(
        text.contains("pocket_auth_degraded_to_anonymous_total"),
        "{text}"
    );
}

async fn downloads_redirect_by_client_key_and_only_tflite_counts(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (user, _) = app.user(Role::User).await;
    let model = app
        .store
        .create_model(&new_model(user.id, "Counted", true))
        .await
        .unwrap();
    let mut labels = tflite_asset("https://cdn.example/counted/labels.txt");
    labels.asset_key = "labels.txt".into();
    labels.asset_type = "label_txt".into();
    labels.is_primary = false;
    let tflite = tflite_asset("https://cdn.example/counted/model.tflite");
    let version = app
        .store
        .create_version(&new_version(model.id, "1.0.0", None, vec![tflite, labels]))
        .await
        .unwrap();
    let base = format!("/api/v1/versions/{}/download", version.id);
    let res = app.get(&format!("{base}/tflite"), None).await;
    assert_eq!(res.status, StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(
        res.header("location"),
        Some("https://cdn.example/counted/model.tflite")
    );
    let res = app.get(&format!("{base}/labels"), None).await;
    assert_eq!(res.status, StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(
        res.header("location"),
        Some("https://cdn.example/counted/labels.txt")
    );
    let res = app.get(&format!("{base}/vocab"), None).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(res.detail(), "Asset 'vocab' not found for this version.");
    assert_eq!(
        app.get(&format!("{base}/model.tflite"), None).await.status,
        StatusCode::NOT_FOUND
    );
    let res = app
        .get(
            &format!("/api/v1/versions/{}/download/tflite", uuid::Uuid::new_v4()),
            None,
        )
        .await;
    assert_eq!(res.detail(), "Model version not found.");
    let v = app
        .get(&format!("/api/v1/versions/{}", version.id), None)
        .await;
    assert_eq!(v.body["download_count"], 1, "only tflite counts");
    let m = app.store.get_model(model.id).await.unwrap().unwrap();
    assert_eq!(m.total_download_count, 1);
}

async fn versions_stored_before_the_client_dialect_get_their_status_and_summary_on_migration(
    backend: Backend,
) {
    let app = TestApp::new(backend).await;
    let (user, _) = app.user(Role::User).await;
    let model = app
        .store
        .create_model(&new_model(user.id, "Old Model", true))
        .await
        .unwrap();
    let spec = json!({"metadata": [], "inputs": [], "outputs": [], "preprocessing": [], "postprocessing": []});
    let mut edgetpu = tflite_asset("https://cdn.example/old/model_edgetpu.tflite");
    edgetpu.asset_key = "model_edgetpu.tflite".into();
    edgetpu.file_size_bytes = Some(9_000_000);
    let mut bundle = tflite_asset("https://cdn.example/old/llm.task");
    bundle.asset_key = "llm.task".into();
    bundle.asset_type = "task".into();
    bundle.file_size_bytes = Some(50_000_000);
    let plain = tflite_asset("https://cdn.example/old/model.tflite");
    app.store
        .create_version(&new_version(
            model.id,
            "1.0",
            None,
            vec![bundle.clone(), edgetpu.clone(), plain],
        ))
        .await
        .unwrap();
    app.store
        .create_version(&new_version(
            model.id,
            "2.0",
            Some(spec),
            vec![bundle, edgetpu],
        ))
        .await
        .unwrap();
    // The catalog as 0013 left it (0016's and 0028's indexes go first: they name columns 0014 adds).
    for sql in [
        "DROP INDEX ml_models_runnable",
        "DELETE FROM _sqlx_migrations WHERE version = 16",
        "DROP INDEX IF EXISTS ml_models_hidden",
        "DELETE FROM _sqlx_migrations WHERE version = 28",
        "ALTER TABLE ml_models DROP COLUMN is_public",
        "ALTER TABLE ml_models DROP COLUMN version_count",
        "ALTER TABLE ml_models DROP COLUMN largest_file_bytes",
        "ALTER TABLE ml_models DROP COLUMN best_version_status",
        "ALTER TABLE model_versions DROP COLUMN status",
        "ALTER TABLE model_versions DROP COLUMN unsupported_reason",
        "ALTER TABLE model_versions DROP COLUMN pipeline_updated_at",
        "ALTER TABLE model_versions DROP COLUMN main_file_bytes",
        "DELETE FROM _sqlx_migrations WHERE version = 14",
    ] {
        execute_raw(&app._db, sql).await;
    }
    app.store.migrate().await.unwrap();
    let m = app.get(&format!("/api/v1/models/{}", model.id), None).await;
    assert_eq!(m.body["version_count"], 2);
    assert_eq!(m.body["best_version_status"], "pending");
    assert_eq!(m.body["is_public"], true);
    // 1.0's main file is the plain .tflite (4 MB); 2.0's the EdgeTPU build (9 MB), before the bundle.
    assert_eq!(m.body["file_size_bytes"], 9_000_000);
    let versions = app
        .get(&format!("/api/v1/models/{}/versions", model.id), None)
        .await;
    let sizes: Vec<i64> = versions
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["file_size_bytes"].as_i64().unwrap())
        .collect();
    assert_eq!(sizes, [4_000_000, 9_000_000]);
    assert_eq!(versions.body[0]["status"], "missing");
    assert_eq!(versions.body[1]["status"], "pending");
    assert!(versions.body[1]["pipeline_updated_at"].is_string());
}

fn event(version: &str, device: &str, ms: i64, success: bool) -> Value {
    json!({
        "model_version_id": version,
        "device_model": device,
        "platform": "android",
        "total_inference_ms": ms,
        "success": success,
        "task_type": "image_classification",
        "top_confidence": 0.91,
        "num_results": 5,
    })
}

async fn telemetry_takes_both_body_forms_skips_unknown_versions_and_feeds_the_stats(
    backend: Backend,
) {
    let config = pocket_catalog::config::ServeArgs {
        telemetry_max_events: 3,
        ..Default::default()
    };
    let app = TestApp::with_config(backend, config).await;
    let (user, token) = app.user(Role::User).await;
    let model = app
        .store
        .create_model(&new_model(user.id, "Timed", true))
        .await
        .unwrap();
    let version = app
        .store
        .create_version(&new_version(
            model.id,
            "1.0",
            None,
            vec![tflite_asset("https://cdn.example/t.tflite")],
        ))
        .await
        .unwrap();
    let vid = version.id.to_string();
    let unknown = uuid::Uuid::new_v4().to_string();
    let uri = "/api/v1/telemetry/batch";
    let anonymous = app.post(uri, None, json!({"stats": []})).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert!(!anonymous.detail().is_empty());
    // The app's form, with an event of a version this catalog does not know.
    let res = app
        .post(uri, Some(&token), json!({"stats": [event(&vid, "Google Pixel 8", 40, true), event(&unknown, "x", 1, true)]}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.body, json!({"accepted": 1}));
    // The reference's bare array.
    let res = app
        .post(
            uri,
            Some(&token),
            json!([
                event(&vid, "Google Pixel 8", 60, true),
                event(&vid, "Google Pixel 8", 9_000, false)
            ]),
        )
        .await;
    assert_eq!(
        (res.status, res.body.clone()),
        (StatusCode::CREATED, json!({"accepted": 2}))
    );
    assert_eq!(
        app.post(uri, Some(&token), json!({"stats": []})).await.body,
        json!({"accepted": 0})
    );
    let too_many = vec![event(&vid, "a", 1, true); 4];
    let res = app
        .post(uri, Some(&token), json!({"stats": too_many}))
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.detail().contains("at most 3"), "{}", res.detail());
    let mut bad = event(&vid, "a", 1, true);
    bad["platform"] = json!("windows");
    let res = app.post(uri, Some(&token), json!({"stats": [bad]})).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.detail().starts_with("stats[0]"), "{}", res.detail());
    let res = app.post(uri, Some(&token), json!({"nothing": true})).await;
    assert!(res.status.is_client_error());
    assert!(!res.detail().is_empty());

    let stats = app
        .get(&format!("/api/v1/versions/{vid}/stats"), None)
        .await;
    assert_eq!(stats.status, StatusCode::OK, "{}", stats.body);
    assert_eq!(stats.body["runs"], 3);
    assert_eq!(stats.body["successes"], 2);
    assert_eq!(stats.body["p50_ms"], 40);
    assert_eq!(stats.body["p95_ms"], 60);
    assert_eq!(stats.body["by_device"][0]["device_model"], "Google Pixel 8");
    assert_eq!(stats.body["by_device"][0]["platform"], "android");
    let missing = app
        .get(&format!("/api/v1/versions/{unknown}/stats"), None)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    if backend == Backend::Sqlite {
        // Migration 0017 rebuilds the versions table inside a transaction, where the drop of the old
        // table cascades to these events: it sets them aside and puts them back. Applied again here
        // (with the migrations after it that add to the rebuilt table, 0018–0020, 0024 and 0025).
        execute_raw(
            &app._db,
            "DELETE FROM _sqlx_migrations WHERE version BETWEEN 17 AND 20 OR version IN (24, 25)",
        )
        .await;
        app.store.migrate().await.unwrap();
        let kept = app
            .get(&format!("/api/v1/versions/{vid}/stats"), None)
            .await;
        assert_eq!(kept.body["runs"], 3, "{}", kept.body);
    }

    // Retention: events older than it are deleted as new ones arrive.
    let config = pocket_catalog::config::ServeArgs {
        telemetry_retention: std::time::Duration::ZERO,
        ..Default::default()
    };
    let short = TestApp::with_config(backend, config).await;
    let (user, token) = short.user(Role::User).await;
    let model = short
        .store
        .create_model(&new_model(user.id, "Brief", true))
        .await
        .unwrap();
    let version = short
        .store
        .create_version(&new_version(
            model.id,
            "1.0",
            None,
            vec![tflite_asset("https://cdn.example/b.tflite")],
        ))
        .await
        .unwrap();
    let vid = version.id.to_string();
    short
        .post(
            uri,
            Some(&token),
            json!([event(&vid, "a", 1, true), event(&vid, "a", 2, true)]),
        )
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    short
        .post(uri, Some(&token), json!([event(&vid, "a", 3, true)]))
        .await;
    let stats = short
        .get(&format!("/api/v1/versions/{vid}/stats"), None)
        .await;
    assert_eq!(stats.body["runs"], 1, "{}", stats.body);
}

/// `supported_only=true` reads the partial index of runnable models (migration 0016) instead of walking
/// the whole popularity index: 6 → 19,000 requests/s at 100,000 models (BENCHMARKS.md).
async fn the_apps_catalog_call_reads_only_the_runnable_models(backend: Backend) {
    use pocket_catalog::store::{ModelQuery, SortKey, Visibility};
    let app = TestApp::new(backend).await;
    let plan = app
        .store
        .list_plan(&ModelQuery {
            sort: SortKey::Downloads,
            include_removed: true,
            limit: 1000,
            skip_count: true,
            visibility: Visibility::PublicAnd(None),
            supported_only: true,
            ..ModelQuery::default()
        })
        .await
        .unwrap();
    assert!(plan.contains("ml_models_runnable"), "{plan}");
}
