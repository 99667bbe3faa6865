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
);

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
    // Expected status per role: (anonymous, user, developer, admin).
    let expected = [
        (401, 403, 201, 201),
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
    // An invalid token is refused even on public routes, so a client learns its token is wrong.
    assert_eq!(
        app.get("/models", Some("pcat_wrong")).await.status,
        StatusCode::UNAUTHORIZED
    );
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
