//! What the original's clients rely on: licence classes, downloads, ad-hoc imports, Hub search, a user's
//! models, task inference markers.

use crate::both_backends;
use crate::support::{serve_config, Backend, Role, SimHandle, TestApp};
use axum::http::StatusCode;
use pocket_catalog::hubsim::population::{self, SimFile};
use pocket_catalog::hubsim::{Faults, Sim};
use serde_json::json;

both_backends!(
    licence_classes_are_shown_and_filterable,
    downloads_redirect_and_count_exactly_under_concurrency,
    adhoc_imports_one_repo_outside_the_filters,
    hub_search_marks_what_the_catalog_holds,
    a_users_models_and_inferred_tasks,
);

async fn licence_classes_are_shown_and_filterable(backend: Backend) {
    let app = TestApp::new(backend).await;
    let dev = app.token(Role::Developer).await;
    for (name, licence) in [
        ("A", "apache-2.0"),
        ("B", "cc-by-4.0"),
        ("C", "cc-by-nc-4.0"),
        ("D", "gpl-3.0"),
        ("E", "unknown"),
        ("F", "other"),
    ] {
        let res = app
            .post(
                "/models",
                Some(&dev),
                json!({"name": name, "license_type": licence}),
            )
            .await;
        assert_eq!(res.status, StatusCode::CREATED);
    }
    let all = app.get("/models?sort=name", None).await;
    let classes: Vec<(String, String, serde_json::Value)> = all
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["license_type"].as_str().unwrap().into(),
                m["license_class"].as_str().unwrap().into(),
                m["commercial_use"].clone(),
            )
        })
        .collect();
    assert_eq!(
        classes,
        vec![
            ("apache-2.0".into(), "permissive".into(), json!(true)),
            ("cc-by-4.0".into(), "conditions".into(), json!(true)),
            ("cc-by-nc-4.0".into(), "restricted".into(), json!(false)),
            ("gpl-3.0".into(), "restricted".into(), json!(false)),
            ("unknown".into(), "unknown".into(), json!(null)),
            ("other".into(), "unknown".into(), json!(null)),
        ]
    );
    let names = |uri: &'static str| {
        let app = &app;
        async move {
            app.get(uri, None)
                .await
                .body
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["name"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(names("/models?commercial=true&sort=name").await, ["A", "B"]);
    assert_eq!(
        names("/models?commercial=false&sort=name").await,
        ["C", "D"]
    );
    assert_eq!(
        app.get("/models?commercial=maybe", None).await.status,
        StatusCode::BAD_REQUEST
    );
}

async fn downloads_redirect_and_count_exactly_under_concurrency(backend: Backend) {
    let app = TestApp::new(backend).await;
    let dev = app.token(Role::Developer).await;
    let m = app
        .post("/models", Some(&dev), json!({"name": "Counted"}))
        .await
        .body;
    let asset = |key: &str| json!({"asset_key": key, "asset_type": "tflite", "source_url": format!("https://cdn.example/{key}"), "file_size_bytes": 10});
    let v = app
        .post(&format!("/models/{}/versions", m["id"].as_str().unwrap()), Some(&dev), json!({"version_string": "1", "assets": [asset("model.tflite"), asset("dir/labels.txt")]}))
        .await
        .body;
    let vid = v["id"].as_str().unwrap().to_string();
    let one = app
        .get(&format!("/versions/{vid}/download/model.tflite"), None)
        .await;
    assert_eq!(one.status, StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(
        one.header("location"),
        Some("https://cdn.example/model.tflite")
    );
    let nested = app
        .get(&format!("/versions/{vid}/download/dir%2Flabels.txt"), None)
        .await;
    assert_eq!(
        nested.header("location"),
        Some("https://cdn.example/dir/labels.txt")
    );
    assert_eq!(
        app.get(&format!("/versions/{vid}/download/nope.bin"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/versions/not-a-uuid/download/x", None)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.get(
            &format!("/versions/{}/download/x", uuid::Uuid::new_v4()),
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );

    // Many parallel downloads by distinct clients (signed-in users): no lost update. The anonymous
    // ones above came from one client within the hour: they counted once (issue #29).
    let n = 120;
    let uri = format!("/versions/{vid}/download/model.tflite");
    let mut tokens = Vec::new();
    for _ in 0..n {
        tokens.push(app.token(Role::User).await);
    }
    let results =
        futures_util::future::join_all(tokens.iter().map(|t| app.get(&uri, Some(t)))).await;
    assert!(results
        .iter()
        .all(|r| r.status == StatusCode::TEMPORARY_REDIRECT));
    let model = app
        .get(&format!("/models/{}", m["id"].as_str().unwrap()), None)
        .await
        .body;
    let version = app
        .get(
            &format!("/models/{}/versions/{vid}", m["id"].as_str().unwrap()),
            None,
        )
        .await
        .body;
    assert_eq!(
        version["download_count"],
        n + 1,
        "every client's download counted once on the version"
    );
    assert_eq!(model["total_download_count"], n + 1, "and on the model");
}

/// A world with one repo outside the discovery filters that has a `.tflite`, and one without any model file.
async fn sim_with_outsiders() -> (SimHandle, String, String) {
    let (mut repos, generator) = population::generate(population::PopulationSpec {
        litert: 30,
        other: 2,
        seed: 51,
    });
    let outside = repos[30].id.clone();
    repos[30].files.push(SimFile {
        path: "converted.tflite".into(),
        size: 1234,
        lfs_sha256: Some("c".repeat(64)),
        blob_id: "d".repeat(40),
    });
    let no_model = repos[31].id.clone();
    let sim = SimHandle::with_world(Sim::new(
        population::World::new(repos, generator),
        Faults::default(),
    ))
    .await;
    (sim, outside, no_model)
}

async fn adhoc_imports_one_repo_outside_the_filters(backend: Backend) {
    let (sim, outside, no_model) = sim_with_outsiders().await;
    let mut config = serve_config(&sim);
    config.sync.sync_pull_versions = true;
    let app = TestApp::with_config(backend, config).await;
    let admin = app.token(Role::Admin).await;
    let path = "/sync/huggingface/litert/adhoc";
    assert_eq!(
        app.post(
            path,
            Some(&app.token(Role::Developer).await),
            json!({"repo_id": outside})
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    let res = app
        .post(path, Some(&admin), json!({"repo_id": outside}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(
        (
            res.body["created"].clone(),
            res.body["versions_created"].clone()
        ),
        (json!(1), json!(1))
    );
    let run_id: uuid::Uuid = serde_json::from_value(res.body["run_id"].clone()).unwrap();
    let run = app.store.get_run(run_id).await.unwrap().unwrap();
    assert_eq!(
        (run.trigger.as_str(), run.repo_id.as_deref()),
        ("adhoc", Some(outside.as_str()))
    );
    let model = app
        .store
        .synced_models(&[], std::slice::from_ref(&outside))
        .await
        .unwrap()
        .pop()
        .unwrap();
    let versions = app.store.list_versions(model.id).await.unwrap();
    assert_eq!(
        versions[0]
            .assets
            .iter()
            .find(|a| a.is_primary)
            .unwrap()
            .asset_key,
        "converted.tflite"
    );
    // Again: unchanged.
    let again = app
        .post(path, Some(&admin), json!({"repo_id": outside}))
        .await;
    assert_eq!(
        (
            again.body["created"].clone(),
            again.body["unchanged"].clone()
        ),
        (json!(0), json!(1))
    );
    // Any revision the Hub resolves is taken, as the reference passes it on (a short sha here), and
    // the import is pinned to the full commit it names: no second version.
    let sha = versions[0].hf_commit_sha.clone().unwrap();
    let short = app
        .post(
            path,
            Some(&admin),
            json!({"repo_id": outside, "commit_sha": &sha[..7]}),
        )
        .await;
    assert_eq!(short.status, StatusCode::OK, "{}", short.body);
    let after = app.store.list_versions(model.id).await.unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].hf_commit_sha.as_deref(), Some(sha.as_str()));
    for (rev, status) in [
        ("0123456789abcdef", StatusCode::NOT_FOUND),
        ("a b", StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let res = app
            .post(
                path,
                Some(&admin),
                json!({"repo_id": outside, "commit_sha": rev}),
            )
            .await;
        assert_eq!(res.status, status, "{rev}: {}", res.body);
    }

    let res = app
        .post(path, Some(&admin), json!({"repo_id": no_model}))
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.detail().contains("no model file"), "{}", res.detail());
    assert_eq!(
        app.post(path, Some(&admin), json!({"repo_id": "nobody/nothing"}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.post(path, Some(&admin), json!({"repo_id": "../etc/passwd"}))
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // A branch name is a revision the Hub resolves too.
    assert_eq!(
        app.post(
            path,
            Some(&admin),
            json!({"repo_id": outside, "commit_sha": "main"})
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        app.post(path, Some(&admin), json!({"repo": outside}))
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

async fn hub_search_marks_what_the_catalog_holds(backend: Backend) {
    let (sim, outside, _) = sim_with_outsiders().await;
    let mut config = serve_config(&sim);
    config.hub.hub_max_retries = 1;
    let app = TestApp::with_config(backend, config).await;
    let user = app.token(Role::User).await;
    let admin = app.token(Role::Admin).await;
    let target = sim
        .litert_truth()
        .into_iter()
        .find(|r| r.files.iter().any(|f| f.path.ends_with(".tflite")))
        .unwrap();
    let query = target.id.split('/').nth(1).unwrap().to_lowercase();
    let uri = format!("/search/huggingface?query={query}");
    // Public, and the portal's one-character queries get the reference's words.
    let short = app.get("/search/huggingface?query=a", Some(&user)).await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST);
    assert_eq!(short.detail(), "Query must be at least 2 characters");
    let res = app.get(&uri, None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let v1 = app.get(&format!("/api/v1{uri}"), Some(&user)).await;
    assert_eq!(v1.body, res.body, "both dialects give the same answer");
    let results = res.body["results"]
        .as_array()
        .expect("{\"results\": [...]}");
    for r in results {
        assert!(!r["description"].as_str().unwrap().is_empty(), "{r}");
        assert!(r["tags"].is_array() && r["id"].is_string(), "{r}");
        assert!(r["pipeline_tag"].is_null() || r["pipeline_tag"].is_string());
    }
    let hit = results
        .iter()
        .find(|h| h["id"] == target.id.as_str())
        .expect("found")
        .clone();
    assert_eq!(hit["repo_id"], hit["id"]);
    assert_eq!(hit["in_catalog"], false);
    assert!(!hit["model_files"].as_array().unwrap().is_empty());
    let lists_before = sim.sim.stats().list;
    app.full_sync(&admin).await;
    let lists_after_sync = sim.sim.stats().list;
    let res = app.get(&uri, Some(&user)).await;
    assert_eq!(
        sim.sim.stats().list,
        lists_after_sync,
        "answered from the cache"
    );
    assert!(lists_after_sync > lists_before);
    let hit = res.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["repo_id"] == target.id.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        hit["in_catalog"], true,
        "membership is fresh even from the cache"
    );
    assert!(hit["catalog_id"].is_string());
    // The outsider has a .tflite but no LiteRT tag: the Hub's filters do not find it.
    let res = app
        .get(
            &format!(
                "/search/huggingface?query={}",
                outside.split('/').nth(1).unwrap()
            ),
            Some(&user),
        )
        .await;
    assert!(res.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["repo_id"] != outside.as_str()));

    sim.sim.set_faults(Faults {
        fail_every: Some(1),
        ..Default::default()
    });
    let res = app
        .get("/search/huggingface?query=zz-not-cached", Some(&user))
        .await;
    assert!(
        matches!(
            res.status,
            StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE
        ),
        "{}",
        res.status
    );
    assert!(res.detail().contains("Hugging Face"));
}

async fn a_users_models_and_inferred_tasks(backend: Backend) {
    let sim = SimHandle::start(200, 0, 52).await;
    let app = TestApp::with_config(backend, serve_config(&sim)).await;
    let admin = app.token(Role::Admin).await;
    app.full_sync(&admin).await;
    let system = app
        .store
        .get_user_by_username("hf_sync_system")
        .await
        .unwrap()
        .unwrap();
    let res = app
        .get(&format!("/users/{}/models?limit=1000", system.id), None)
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body.as_array().unwrap().len(), sim.litert_truth().len());
    assert_eq!(
        res.header("x-total-count"),
        Some(sim.litert_truth().len().to_string().as_str())
    );
    assert!(
        res.body
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["task_inferred"] == true),
        "some repos had no pipeline_tag"
    );
    let (dev, token) = app.user(Role::Developer).await;
    app.post("/models", Some(&token), json!({"name": "Mine"}))
        .await;
    let mine = app.get(&format!("/users/{}/models", dev.id), None).await;
    assert_eq!(mine.body.as_array().unwrap().len(), 1);
    assert_eq!(mine.body[0]["task_inferred"], false);
    assert_eq!(
        app.get(&format!("/users/{}/models", uuid::Uuid::new_v4()), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/users/nope/models", None).await.status,
        StatusCode::BAD_REQUEST
    );
}
