//! The clients' list is concatenated by the database from a card stored with each model (issue #33,
//! `src/domain/client_card.rs`): whatever wrote a model — a sync creating or changing it, a person's
//! edit, a version, a download — the list read from the cards is the list rendered from the rows, and
//! a model without a card (a row older than the cards) is rendered the old way until connecting fills
//! its card in.

use crate::both_backends;
use crate::store_conformance::new_model;
use crate::support::{
    execute_raw, published_version, scalar_raw, serve_config, Backend, Role, SimHandle, TestApp,
};
use axum::http::StatusCode;
use pocket_catalog::domain::records::{Asset, ModelPatch};
use serde_json::Value;
use std::time::Duration;

both_backends!(the_list_from_stored_cards_is_the_list_rendered_from_the_rows);

fn model_file(url: &str, bytes: i64) -> Asset {
    Asset {
        asset_key: "model.tflite".into(),
        asset_type: "tflite".into(),
        source_url: url.into(),
        file_size_bytes: Some(bytes),
        file_hash: None,
        hash_kind: None,
        is_hosted_by_us: false,
        is_primary: true,
    }
}

async fn list(app: &TestApp, uri: &str, token: &str) -> Value {
    let res = app.get(uri, Some(token)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.body
}

async fn models_without_card(app: &TestApp) -> i64 {
    scalar_raw(
        &app._db,
        "SELECT COUNT(*) FROM ml_models WHERE client_card IS NULL",
    )
    .await
}

async fn the_list_from_stored_cards_is_the_list_rendered_from_the_rows(backend: Backend) {
    let sim = SimHandle::start(40, 4, 23).await;
    let mut config = serve_config(&sim);
    config.list_cache = Duration::ZERO;
    let app = TestApp::with_config(backend, config).await;
    let admin = app.token(Role::Admin).await;
    app.full_sync(&admin).await;
    // The Hub changes (renames, new cards, removals, new repos): the sync updates models.
    sim.sim.mutate();
    app.full_sync(&admin).await;

    // A person's models: a private one, one naming its Hub repo by URL, edited, with versions and a
    // download.
    let (dev, token) = app.user(Role::Developer).await;
    let mut private = new_model(dev.id, "Quiet \"model\"");
    private.is_public = false;
    app.store.create_model(&private).await.unwrap();
    let mut origin = new_model(dev.id, "From the Hub");
    origin.origin_repo_url = Some("https://huggingface.co/acme/tiny%20net".into());
    let origin = app.store.create_model(&origin).await.unwrap();
    let patch = ModelPatch {
        name: Some("Renamed ünïcode".into()),
        tags: Some(vec!["a".into(), "b\"c".into()]),
        ..ModelPatch::default()
    };
    app.store.update_model(origin.id, &patch).await.unwrap();
    let version = app
        .store
        .create_version(&published_version(
            origin.id,
            dev.id,
            "1.0",
            vec![model_file("https://cdn.example/a.tflite", 12_345)],
        ))
        .await
        .unwrap();
    assert!(app.store.count_download(version.id, "c1").await.unwrap());
    assert_eq!(models_without_card(&app).await, 0);

    let uris = [
        "/api/v1/models",
        "/api/v1/models?skip=3&limit=7",
        "/api/v1/models?supported_only=true",
        "/api/v1/models?task=image-classification",
    ];
    let mut from_cards = Vec::new();
    for uri in uris {
        from_cards.push(list(&app, uri, &token).await);
    }
    let all = from_cards[0].as_array().unwrap();
    assert!(all.len() > 40, "{}", all.len());
    let mine = all
        .iter()
        .find(|m| m["id"] == origin.id.to_string())
        .expect("the edited model is listed");
    assert_eq!(mine["name"], "Renamed ünïcode");
    assert_eq!(mine["hf_model_id"], "acme/tiny net");
    assert_eq!(mine["total_download_count"], 1);
    assert_eq!(mine["version_count"], 1);
    assert_eq!(mine["file_size_bytes"], 12_345);
    assert!(all.iter().any(|m| m["name"] == "Quiet \"model\""));
    let anonymous = app.get("/api/v1/models", None).await.body;
    assert!(!anonymous
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["name"] == "Quiet \"model\""));

    // Without cards, the same pages are rendered from the rows: the same JSON.
    execute_raw(&app._db, "UPDATE ml_models SET client_card = NULL").await;
    for (uri, expected) in uris.iter().zip(&from_cards) {
        assert_eq!(&list(&app, uri, &token).await, expected, "{uri}");
    }
    // Connecting renders them again, and the search text with them (migration 0028 cleared both).
    execute_raw(&app._db, "UPDATE ml_models SET search_text = ''").await;
    let total = |uri: &'static str| {
        let (app, token) = (&app, &token);
        async move {
            let got = app.get(uri, Some(token)).await;
            got.header("x-total-count").map(str::to_string)
        }
    };
    // (Two spellings of one search: the second is not answered from the first's cached count.)
    assert_eq!(
        total("/models?q=renamed%20%C3%BCn").await.as_deref(),
        Some("0")
    );
    app.store.migrate().await.unwrap();
    assert_eq!(models_without_card(&app).await, 0);
    for (uri, expected) in uris.iter().zip(&from_cards) {
        assert_eq!(&list(&app, uri, &token).await, expected, "{uri}");
    }
    assert_eq!(
        total("/models?q=%C3%BCn%20renamed").await.as_deref(),
        Some("1")
    );
}
