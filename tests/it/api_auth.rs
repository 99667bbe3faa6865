//! The auth matrix: anonymous, invalid, user, developer and admin against each protected route.

use crate::both_backends;
use crate::support::{Backend, Role, TestApp};
use axum::http::{Method, StatusCode};
use chrono::Duration;
use pocket_catalog::auth::{generate_token, hash_token};
use serde_json::json;

both_backends!(
    protected_routes_answer_401_403_or_success_by_role,
    expired_revoked_and_malformed_tokens_are_401,
    users_me_shows_no_secret,
    the_root_dialect_follows_the_one_publishing_policy,
    a_private_model_is_shown_only_to_its_owner_in_the_root_dialect,
);

async fn the_root_dialect_follows_the_one_publishing_policy(backend: Backend) {
    let config = pocket_catalog::config::ServeArgs {
        publish_requires_developer: true,
        ..Default::default()
    };
    let app = TestApp::with_config(backend, config).await;
    let user = app.token(Role::User).await;
    let refused = app
        .post("/models", Some(&user), json!({"name": "Mine"}))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused.detail().contains("developer"),
        "{}",
        refused.detail()
    );
    let dev = app.token(Role::Developer).await;
    let made = app
        .post("/models", Some(&dev), json!({"name": "Mine"}))
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    // Another signed-in user may not add versions to it, in either dialect, with the same words.
    let slug = made.body["slug"].as_str().unwrap();
    let id = made.body["id"].as_str().unwrap();
    let root = app
        .post(
            &format!("/models/{slug}/versions"),
            Some(&user),
            json!({"version_string": "1"}),
        )
        .await;
    let v1 = app
        .post(
            &format!("/api/v1/models/{id}/versions"),
            Some(&user),
            json!({"version_name": "1", "commit_sha": "abcd1234", "assets": {}}),
        )
        .await;
    assert_eq!(
        (root.status, v1.status),
        (StatusCode::FORBIDDEN, StatusCode::FORBIDDEN)
    );
    assert_eq!(root.detail(), v1.detail());
}

async fn a_private_model_is_shown_only_to_its_owner_in_the_root_dialect(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (_, owner) = app.user(Role::User).await;
    let other = app.token(Role::User).await;
    let made = app
        .post(
            "/api/v1/models",
            Some(&owner),
            json!({"name": "Secret Net", "description": "not yet", "is_public": false}),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let slug = made.body["slug"].as_str().unwrap().to_string();
    let listed = |body: &serde_json::Value| {
        body.as_array()
            .unwrap()
            .iter()
            .any(|m| m["slug"] == slug.as_str())
    };
    for token in [None, Some(other.as_str())] {
        let list = app.get("/models", token).await;
        assert_eq!(list.status, StatusCode::OK);
        assert!(!listed(&list.body), "listed for {token:?}");
        assert_eq!(list.header("x-total-count"), Some("0"));
        assert_eq!(
            app.get(&format!("/models/{slug}"), token).await.status,
            StatusCode::NOT_FOUND
        );
    }
    // The owner sees it, and the page cache does not hand the owner's page to anyone else.
    assert!(listed(&app.get("/models", Some(&owner)).await.body));
    assert_eq!(
        app.get(&format!("/models/{slug}"), Some(&owner))
            .await
            .status,
        StatusCode::OK
    );
    assert!(!listed(&app.get("/models", None).await.body));
}

async fn protected_routes_answer_401_403_or_success_by_role(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (_owner, owner_token) = app.user(Role::Developer).await;
    let model = app
        .post("/models", Some(&owner_token), json!({"name": "Owned"}))
        .await;
    assert_eq!(model.status, StatusCode::CREATED);
    let slug = model.body["slug"].as_str().unwrap().to_string();

    let user = app.token(Role::User).await;
    let dev = app.token(Role::Developer).await;
    let admin = app.token(Role::Admin).await;
    let routes: Vec<(Method, String, serde_json::Value)> = vec![
        (Method::POST, "/models".into(), json!({"name": "New"})),
        (
            Method::PATCH,
            format!("/models/{slug}"),
            json!({"category": "fun"}),
        ),
        (
            Method::POST,
            format!("/models/{slug}/versions"),
            json!({"version_string": "v"}),
        ),
        (Method::GET, "/users/me".into(), serde_json::Value::Null),
    ];
    // Expected status per role: (anonymous, user, developer, admin). One policy for both dialects
    // (`policy.rs`): any signed-in user publishes unless POCKET_PUBLISH_REQUIRES_DEVELOPER is set.
    let expected = [
        (401, 201, 201, 201),
        (401, 403, 403, 200),
        (401, 403, 403, 201),
        (401, 200, 200, 200),
    ];
    for (i, ((method, uri, body), want)) in routes.iter().zip(expected).enumerate() {
        let body = (!body.is_null()).then(|| body.clone());
        // Version strings must differ between the developer's and the admin's attempt.
        let body_for = |n: &str| {
            body.clone().map(|mut b| {
                if b.get("version_string").is_some() {
                    b["version_string"] = json!(n);
                }
                b
            })
        };
        let anon = app.call(method.clone(), uri, None, body_for("a")).await;
        assert_eq!(anon.status.as_u16(), want.0, "route {i} anonymous");
        assert_eq!(anon.header("www-authenticate"), Some("Bearer"));
        assert!(!anon.detail().is_empty());
        let bad = app
            .call(method.clone(), uri, Some("pcat_wrong"), body_for("b"))
            .await;
        assert_eq!(
            bad.status,
            StatusCode::UNAUTHORIZED,
            "route {i} invalid token"
        );
        for (token, status, who) in [
            (&user, want.1, "user"),
            (&dev, want.2, "developer"),
            (&admin, want.3, "admin"),
        ] {
            let res = app
                .call(method.clone(), uri, Some(token), body_for(who))
                .await;
            assert_eq!(
                res.status.as_u16(),
                status,
                "route {i} as {who}: {}",
                res.body
            );
            if status == 403 {
                assert!(
                    res.detail().contains("requires")
                        || res.detail().contains("author")
                        || res.detail().contains("own"),
                    "{}",
                    res.detail()
                );
            }
        }
    }
}

async fn expired_revoked_and_malformed_tokens_are_401(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (user, good) = app.user(Role::Admin).await;
    assert_eq!(
        app.get("/users/me", Some(&good)).await.status,
        StatusCode::OK
    );

    let expired = generate_token();
    app.store
        .create_token(
            user.id,
            "old",
            &hash_token(&expired),
            Some(pocket_catalog::domain::now() - Duration::seconds(1)),
        )
        .await
        .unwrap();
    assert_eq!(
        app.get("/users/me", Some(&expired)).await.status,
        StatusCode::UNAUTHORIZED
    );

    let revoked = generate_token();
    let t = app
        .store
        .create_token(user.id, "gone", &hash_token(&revoked), None)
        .await
        .unwrap();
    app.store
        .revoke_token(t.id, pocket_catalog::domain::now())
        .await
        .unwrap();
    assert_eq!(
        app.get("/users/me", Some(&revoked)).await.status,
        StatusCode::UNAUTHORIZED
    );

    for header in [
        "Basic abc",
        "Bearer",
        "Bearer    ",
        "pcat_x",
        &format!("Bearer {}", "x".repeat(5000)),
    ] {
        let req = axum::http::Request::builder()
            .uri("/users/me")
            .header("authorization", header)
            .body(axum::body::Body::empty())
            .unwrap();
        let res = app.raw(req).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{header:.20}");
        assert_eq!(res.header("www-authenticate"), Some("Bearer"));
    }
    // On public routes a token that cannot be verified makes the caller anonymous (the portal sends
    // its token everywhere): never a 401 there, in either dialect.
    for route in ["/models", "/api/v1/models"] {
        assert_eq!(
            app.get(route, Some("pcat_wrong")).await.status,
            StatusCode::OK,
            "{route}"
        );
    }
    // last_used_at is recorded.
    let tokens = app.store.list_tokens(user.id).await.unwrap();
    assert!(tokens
        .iter()
        .find(|t| t.name == "test")
        .unwrap()
        .last_used_at
        .is_some());
}

async fn users_me_shows_no_secret(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (user, token) = app.user(Role::Developer).await;
    let me = app.get("/users/me", Some(&token)).await;
    assert_eq!(me.status, StatusCode::OK);
    let mut keys: Vec<_> = me.body.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "created_at",
            "email",
            "id",
            "is_admin",
            "is_developer",
            "username"
        ]
    );
    assert_eq!(me.body["id"], json!(user.id));
    assert!(!me.body.to_string().contains(&token));
}
