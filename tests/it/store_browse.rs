//! Browse like a store (issue #34): the clients' list is most used first — Pocket AI's own downloads,
//! then the Hub's, then the id — and searches, filters, sorts and counts on the server, every
//! parameter optional so today's clients keep working unchanged; owners edit and delete their models.

use crate::both_backends;
use crate::store_conformance::{new_model, synced_model};
use crate::support::{execute_raw, scalar_raw, Backend, Role, TestApp};
use axum::http::StatusCode;
use pocket_catalog::domain::{popularity, Category, UpstreamStatus};
use serde_json::Value;
use uuid::Uuid;

both_backends!(
    the_default_order_is_own_downloads_then_the_hubs_then_the_id,
    the_clients_list_searches_filters_sorts_and_counts_on_the_server,
    owners_edit_and_delete_their_models_and_a_mirrored_one_is_hidden_not_deleted,
    a_search_finds_a_repos_owner_and_name,
);

fn id_sql(backend: Backend, id: Uuid) -> String {
    match backend {
        Backend::Sqlite => format!("X'{}'", id.simple()),
        Backend::Postgres => format!("'{id}'"),
    }
}

/// Sets a model's own and Hub download counts.
async fn downloads(app: &TestApp, backend: Backend, id: Uuid, own: i64, hub: i64) {
    let sql = format!(
        "UPDATE ml_models SET total_download_count = {own}, hf_downloads = {hub} WHERE id = {}",
        id_sql(backend, id)
    );
    execute_raw(&app._db, &sql).await;
}

fn names(body: &Value) -> Vec<&str> {
    body.as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect()
}

async fn the_default_order_is_own_downloads_then_the_hubs_then_the_id(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (user, _) = app.user(Role::Developer).await;
    let mut ids = std::collections::HashMap::new();
    for (i, name) in ["hub star", "used a little", "tie one", "tie two", "unused"]
        .iter()
        .enumerate()
    {
        let m = if i == 0 {
            app.store
                .create_model(&synced_model(
                    user.id,
                    "acme/hub-star",
                    "0000000000000000000000a1",
                    UpstreamStatus::Active,
                ))
                .await
                .unwrap()
        } else {
            app.store
                .create_model(&new_model(user.id, name))
                .await
                .unwrap()
        };
        ids.insert(*name, m.id);
    }
    // A million Hub downloads do not outrank two of Pocket AI's own; equal own downloads are ordered
    // by the Hub's, then by id.
    downloads(&app, backend, ids["hub star"], 0, 1_000_000).await;
    downloads(&app, backend, ids["used a little"], 2, 0).await;
    downloads(&app, backend, ids["tie one"], 2, 5).await;
    downloads(&app, backend, ids["tie two"], 2, 5).await;
    let (first_tie, second_tie) = if ids["tie one"] > ids["tie two"] {
        ("tie one", "tie two")
    } else {
        ("tie two", "tie one")
    };
    let expected = [first_tie, second_tie, "used a little", "hub-star", "unused"];
    let listed = app.get("/api/v1/models", None).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(names(&listed.body), expected);
    assert_eq!(listed.header("x-total-count"), Some("5"));
    let popular = app.get("/api/v1/models?sort=popular", None).await;
    assert_eq!(names(&popular.body), expected);
    // The root dialect's downloads sort is the same order.
    let root = app.get("/models?sort=downloads", None).await;
    assert_eq!(names(&root.body), expected);

    // The database's number is the domain's, at the caps too.
    for (own, hub) in [
        (0, 0),
        (3, 7),
        (1, 2_147_483_647),
        (1, 3_000_000_000),
        (5_000_000_000, 9),
    ] {
        downloads(&app, backend, ids["unused"], own, hub).await;
        let sql = format!(
            "SELECT popularity FROM ml_models WHERE id = {}",
            id_sql(backend, ids["unused"])
        );
        assert_eq!(
            scalar_raw(&app._db, &sql).await,
            popularity(own, hub),
            "{own} {hub}"
        );
    }
    assert!(popularity(1, 0) > popularity(0, 3_000_000_000));
    assert!(popularity(5_000_000_000, 0) > popularity(4_294_967_294, 2_147_483_647));
}

async fn the_clients_list_searches_filters_sorts_and_counts_on_the_server(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (user, _) = app.user(Role::Developer).await;
    let mut ids = Vec::new();
    for (name, category) in [
        ("Pose Lite", Category::Fun),
        ("Pose Heavy", Category::Utility),
        ("Hand Pose", Category::Fun),
        ("Face Mesh", Category::Utility),
        ("Aardvark Classifier", Category::Other),
    ] {
        let mut m = new_model(user.id, name);
        m.category = category;
        ids.push(app.store.create_model(&m).await.unwrap().id);
    }
    for (i, id) in ids.iter().enumerate() {
        downloads(&app, backend, *id, 10 - i as i64, 0).await;
    }
    let status = |id: Uuid, s: &str| {
        format!(
            "UPDATE ml_models SET best_version_status = '{s}' WHERE id = {}",
            id_sql(backend, id)
        )
    };
    execute_raw(&app._db, &status(ids[0], "verified")).await;
    execute_raw(&app._db, &status(ids[2], "pending")).await;
    execute_raw(&app._db, &status(ids[3], "verified")).await;

    for (uri, expected) in [
        (
            "/api/v1/models?q=pose",
            vec!["Pose Lite", "Pose Heavy", "Hand Pose"],
        ),
        ("/api/v1/models?q=POSE%20li", vec!["Pose Lite"]),
        (
            "/api/v1/models?q=pose&sort=name",
            vec!["Hand Pose", "Pose Heavy", "Pose Lite"],
        ),
        (
            "/api/v1/models?sort=newest&limit=2",
            vec!["Aardvark Classifier", "Face Mesh"],
        ),
        (
            "/api/v1/models?category=fun",
            vec!["Pose Lite", "Hand Pose"],
        ),
        ("/api/v1/models?category=FUN&q=hand", vec!["Hand Pose"]),
        (
            "/api/v1/models?status=verified",
            vec!["Pose Lite", "Face Mesh"],
        ),
        (
            "/api/v1/models?status=supported",
            vec!["Pose Lite", "Face Mesh"],
        ),
        (
            "/api/v1/models?status=pending&supported_only=true",
            vec!["Hand Pose"],
        ),
        ("/api/v1/models?q=pose&skip=1&limit=1", vec!["Pose Heavy"]),
        (
            "/api/v1/models?q=&sort=&category=&status=",
            vec![
                "Pose Lite",
                "Pose Heavy",
                "Hand Pose",
                "Face Mesh",
                "Aardvark Classifier",
            ],
        ),
    ] {
        let res = app.get(uri, None).await;
        assert_eq!(res.status, StatusCode::OK, "{uri}: {}", res.body);
        assert_eq!(names(&res.body), expected, "{uri}");
    }
    // The total counts every match, not the page.
    for (uri, total) in [
        ("/api/v1/models?q=pose&skip=1&limit=1", "3"),
        ("/api/v1/models?limit=1", "5"),
        ("/api/v1/models?status=verified&category=utility", "1"),
        ("/api/v1/models?q=zebra", "0"),
    ] {
        assert_eq!(
            app.get(uri, None).await.header("x-total-count"),
            Some(total),
            "{uri}"
        );
    }
    // What cannot be searched, sorted or filtered is refused with a sentence.
    for (uri, detail) in [
        (
            "/api/v1/models?sort=stars",
            "sort must be popular, rating, newest or name, not 'stars'",
        ),
        (
            "/api/v1/models?category=games",
            "category must be utility, diagnostic, performance, fun or other",
        ),
        (
            "/api/v1/models?status=broken",
            "status must be verified, pending or missing",
        ),
        (
            "/api/v1/models?q=---",
            "q must contain a letter or digit (it is searched as words)",
        ),
    ] {
        let res = app.get(uri, None).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{uri}");
        assert_eq!(res.body["detail"], detail, "{uri}");
    }
}

/// `PATCH` and `DELETE /api/v1/models/{id}`: the owner or an admin; others get a 403, a caller without a
/// token a 401, a model they cannot see a 404. A mirrored model's synced fields are refused by name; it
/// is hidden rather than deleted, and the next sync leaves it hidden.
async fn owners_edit_and_delete_their_models_and_a_mirrored_one_is_hidden_not_deleted(
    backend: Backend,
) {
    use crate::support::{serve_config, SimHandle};
    use axum::http::Method;
    use serde_json::json;
    let sim = SimHandle::start(6, 0, 5).await;
    let app = TestApp::with_config(backend, serve_config(&sim)).await;
    let (owner, owner_token) = app.user(Role::Developer).await;
    let (_, other_token) = app.user(Role::Developer).await;
    let admin = app.token(Role::Admin).await;
    let mine = app
        .store
        .create_model(&new_model(owner.id, "Pose Lite"))
        .await
        .unwrap();
    let uri = format!("/api/v1/models/{}", mine.id);

    // The owner edits every field the issue names; the list and the model show it at once.
    let edit = json!({
        "name": "Pose Lite 2", "description": "Finds people", "category": "fun",
        "task": "pose-estimation", "tags": ["pose", "body"], "license_type": "apache-2.0",
    });
    let res = app.patch(&uri, Some(&owner_token), edit).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["name"], "Pose Lite 2");
    assert_eq!(res.body["category"], "fun");
    assert_eq!(res.body["tags"], json!(["pose", "body"]));
    assert_eq!(res.body["license_type"], "apache-2.0");
    let found = app.get("/api/v1/models?q=finds%20people", None).await;
    assert_eq!(names(&found.body), ["Pose Lite 2"]);
    // Someone else may not; without a token, a 401; bad values are 422s.
    let res = app
        .patch(&uri, Some(&other_token), json!({"name": "Mine now"}))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    assert_eq!(
        app.patch(&uri, None, json!({"name": "x"})).await.status,
        StatusCode::UNAUTHORIZED
    );
    let res = app
        .patch(&uri, Some(&owner_token), json!({"category": "games"}))
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    let res = app
        .patch(&uri, Some(&owner_token), json!({"stars": 5}))
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    // Private: gone for everyone else, still there for its owner.
    let res = app
        .patch(&uri, Some(&owner_token), json!({"is_public": false}))
        .await;
    assert_eq!(res.body["is_public"], false);
    assert_eq!(app.get(&uri, None).await.status, StatusCode::NOT_FOUND);
    assert!(names(&app.get("/api/v1/models", None).await.body).is_empty());
    assert_eq!(
        app.get(&uri, Some(&owner_token)).await.status,
        StatusCode::OK
    );
    // Deleting someone else's model is refused, one they cannot see is a 404; the owner's delete
    // removes the model and its versions.
    let res = app
        .call(Method::DELETE, &uri, Some(&other_token), None)
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "private: {}", res.body);
    app.patch(&uri, Some(&owner_token), json!({"is_public": true}))
        .await;
    let res = app
        .call(Method::DELETE, &uri, Some(&other_token), None)
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    let version = crate::clients::new_version(mine.id, "1.0", None, vec![]);
    let version = app.store.create_version(&version).await.unwrap();
    let res = app
        .call(Method::DELETE, &uri, Some(&owner_token), None)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["outcome"], "deleted");
    assert_eq!(
        app.get(&uri, Some(&admin)).await.status,
        StatusCode::NOT_FOUND
    );
    assert!(app
        .store
        .get_version_by_id(version.id)
        .await
        .unwrap()
        .is_none());

    // A mirrored model: its synced fields are the sync's; an admin hides it instead of deleting it.
    app.full_sync(&admin).await;
    let listed = app.get("/api/v1/models", None).await;
    let mirrored = listed.body.as_array().unwrap()[0].clone();
    let uri = format!("/api/v1/models/{}", mirrored["id"].as_str().unwrap());
    let res = app
        .patch(&uri, Some(&admin), json!({"name": "Renamed", "tags": []}))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(
        res.body["detail"],
        "This model is mirrored from Hugging Face; its name, tags are managed by the sync and cannot be edited"
    );
    let res = app
        .patch(&uri, Some(&admin), json!({"category": "fun"}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let res = app
        .call(Method::DELETE, &uri, Some(&owner_token), None)
        .await;
    assert_eq!(
        res.status,
        StatusCode::FORBIDDEN,
        "only an admin: {}",
        res.body
    );
    let res = app.call(Method::DELETE, &uri, Some(&admin), None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["outcome"], "hidden");
    let total = listed
        .header("x-total-count")
        .unwrap()
        .parse::<i64>()
        .unwrap();
    let after = || async {
        let res = app.get("/api/v1/models", None).await;
        res.header("x-total-count").unwrap().parse::<i64>().unwrap()
    };
    assert_eq!(after().await, total - 1);
    assert_eq!(app.get(&uri, None).await.status, StatusCode::NOT_FOUND);
    // The next sync finds it on the Hub and leaves it hidden; an admin can still show it again.
    app.full_sync(&admin).await;
    assert_eq!(after().await, total - 1);
    assert_eq!(app.get(&uri, Some(&admin)).await.body["is_public"], false);
    let res = app
        .patch(&uri, Some(&admin), json!({"is_public": true}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(after().await, total);
}

/// `q` matches a mirrored model's Hub owner and repo name as well as its name, description and tags
/// (issue #35: `q=user109` found nothing though hundreds of repos are user109's) — for models the sync
/// wrote in bulk and for one written alone.
async fn a_search_finds_a_repos_owner_and_name(backend: Backend) {
    use crate::support::{serve_config, SimHandle};
    let sim = SimHandle::start(60, 0, 11).await;
    let app = TestApp::with_config(backend, serve_config(&sim)).await;
    let admin = app.token(Role::Admin).await;
    app.full_sync(&admin).await;
    let truth = sim.litert_truth();
    let owner = truth[0].id.split('/').next().unwrap().to_string();
    let owned: std::collections::BTreeSet<String> = truth
        .iter()
        .filter(|r| r.id.starts_with(&format!("{owner}/")))
        .map(|r| r.id.clone())
        .collect();
    let listed = app
        .get(&format!("/models?q={owner}&limit=1000"), None)
        .await;
    let found: std::collections::BTreeSet<String> = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["hf_model_id"].as_str().map(str::to_string))
        .collect();
    assert!(!owned.is_empty());
    assert!(owned.is_subset(&found), "{owned:?} in {found:?}");
    let (user, _) = app.user(Role::Developer).await;
    let mut alone = synced_model(
        user.id,
        "zanzibar-labs/tiny-segmenter",
        "0000000000000000000000f1",
        UpstreamStatus::Active,
    );
    alone.name = "Tiny".into();
    alone.description = "d".into();
    alone.tags = vec![];
    app.store.create_model(&alone).await.unwrap();
    for q in ["zanzibar", "ZANZIBAR-labs", "segmenter", "tiny seg"] {
        let res = app
            .get(&format!("/api/v1/models?q={}", q.replace(' ', "%20")), None)
            .await;
        assert_eq!(names(&res.body), ["Tiny"], "{q}");
    }
}
