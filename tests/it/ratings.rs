//! Ratings (issue #34): a signed-in user rates a version they may see, 1–5 stars, once (again:
//! replaced; removable), in both dialects; the version's and the model's aggregates follow in the
//! same transaction — the model's a Bayesian average one 5-star rating cannot put on top — and the
//! clients' lists, cards and `sort=rating` show them.

use crate::both_backends;
use crate::clients::new_version;
use crate::store_conformance::new_model;
use crate::support::{Backend, Role, TestApp};
use axum::http::{Method, StatusCode};
use pocket_catalog::domain::weighted_rating;
use serde_json::{json, Value};

both_backends!(
    a_user_rates_a_version_once_and_every_aggregate_follows,
    the_highest_rated_come_first_and_ratings_are_rate_limited,
);

fn close(a: &Value, b: f64) -> bool {
    (a.as_f64().unwrap() - b).abs() < 1e-9
}

async fn a_user_rates_a_version_once_and_every_aggregate_follows(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, owner_token) = app.user(Role::Developer).await;
    let (_, a) = app.user(Role::Developer).await;
    let (_, b) = app.user(Role::Developer).await;
    let (_, c) = app.user(Role::Developer).await;
    let model = app
        .store
        .create_model(&new_model(owner.id, "Rated"))
        .await
        .unwrap();
    let v1 = app
        .store
        .create_version(&new_version(model.id, "1.0", None, vec![]))
        .await
        .unwrap();
    let v2 = app
        .store
        .create_version(&new_version(model.id, "2.0", None, vec![]))
        .await
        .unwrap();
    let rate = |token: String, version: uuid::Uuid, stars: Value, root: bool| {
        let app = &app;
        async move {
            let prefix = if root { "" } else { "/api/v1" };
            let uri = format!("{prefix}/versions/{version}/rating");
            app.call(
                Method::PUT,
                &uri,
                Some(&token),
                Some(json!({ "stars": stars })),
            )
            .await
        }
    };

    let res = rate(a.clone(), v1.id, json!(5), false).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["num_ratings"], 1);
    assert!(close(&res.body["rating_avg"], 5.0));
    assert_eq!(res.body["model_total_ratings"], 1);
    assert!(
        close(&res.body["model_rating_weighted_avg"], 20.0 / 6.0),
        "{}",
        res.body
    );
    let res = rate(b.clone(), v1.id, json!(3), false).await;
    assert_eq!(res.body["num_ratings"], 2);
    assert!(close(&res.body["rating_avg"], 4.0));
    // Rating again replaces: still two ratings.
    let res = rate(a.clone(), v1.id, json!(1), false).await;
    assert_eq!(res.body["num_ratings"], 2);
    assert!(close(&res.body["rating_avg"], 2.0));
    // The root dialect rates the same way.
    let res = rate(c.clone(), v2.id, json!(4), true).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["model_total_ratings"], 3);
    let weighted = weighted_rating(3, 1 + 3 + 4);
    assert!(close(&res.body["model_rating_weighted_avg"], weighted));

    // Everything the clients read shows it: the model, its versions, the list (from its card).
    let m = app.get(&format!("/api/v1/models/{}", model.id), None).await;
    assert_eq!(m.body["total_ratings"], 3);
    assert!(close(&m.body["rating_weighted_avg"], weighted));
    let listed = app.get("/api/v1/models", None).await;
    assert_eq!(listed.body[0]["total_ratings"], 3);
    assert!(close(&listed.body[0]["rating_weighted_avg"], weighted));
    let versions = app
        .get(&format!("/api/v1/models/{}/versions", model.id), None)
        .await;
    let first = versions
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == v1.id.to_string())
        .unwrap();
    assert_eq!(first["num_ratings"], 2);
    assert!(close(&first["rating_avg"], 2.0));
    let root = app.get(&format!("/models/{}", model.id), None).await;
    assert_eq!(root.body["total_ratings"], 3);

    // One's own rating, read back; none is a null.
    let mine = app
        .get(&format!("/api/v1/versions/{}/rating", v1.id), Some(&a))
        .await;
    assert_eq!(mine.status, StatusCode::OK);
    assert_eq!(mine.body["stars"], 1);
    let none = app
        .get(&format!("/api/v1/versions/{}/rating", v1.id), Some(&c))
        .await;
    assert_eq!(none.status, StatusCode::OK);
    assert_eq!(none.body["stars"], Value::Null);

    // Removing it: the aggregates follow; removing nothing is not an error.
    let uri = format!("/api/v1/versions/{}/rating", v1.id);
    assert_eq!(
        app.call(Method::DELETE, &uri, Some(&a), None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.call(Method::DELETE, &uri, Some(&a), None).await.status,
        StatusCode::NO_CONTENT
    );
    let m = app.get(&format!("/api/v1/models/{}", model.id), None).await;
    assert_eq!(m.body["total_ratings"], 2);
    assert!(close(
        &m.body["rating_weighted_avg"],
        weighted_rating(2, 3 + 4)
    ));
    // A version deleted takes its ratings with it.
    let res = app
        .call(
            Method::DELETE,
            &format!("/api/v1/versions/{}", v2.id),
            Some(&owner_token),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    let m = app.get(&format!("/api/v1/models/{}", model.id), None).await;
    assert_eq!(m.body["total_ratings"], 1);
    assert!(close(&m.body["rating_weighted_avg"], weighted_rating(1, 3)));

    // What cannot be rated: a version one cannot see (the owner can), stars out of range, no token.
    let mut private = new_model(owner.id, "Hidden");
    private.is_public = false;
    let private = app.store.create_model(&private).await.unwrap();
    let pv = app
        .store
        .create_version(&new_version(private.id, "1.0", None, vec![]))
        .await
        .unwrap();
    assert_eq!(
        rate(a.clone(), pv.id, json!(4), false).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        rate(owner_token.clone(), pv.id, json!(4), false)
            .await
            .status,
        StatusCode::OK
    );
    for stars in [json!(0), json!(6), json!("5"), json!(4.5)] {
        let res = rate(b.clone(), v1.id, stars.clone(), false).await;
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{stars}: {}",
            res.body
        );
    }
    let res = app
        .call(Method::PUT, &uri, None, Some(json!({"stars": 4})))
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let res = app
        .call(
            Method::PUT,
            "/api/v1/versions/nope/rating",
            Some(&b),
            Some(json!({"stars": 4})),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn the_highest_rated_come_first_and_ratings_are_rate_limited(backend: Backend) {
    let app = TestApp::new(backend).await;
    let (owner, _) = app.user(Role::Developer).await;
    let mut versions = Vec::new();
    for name in ["Unrated", "One perfect", "Many good"] {
        let m = app
            .store
            .create_model(&new_model(owner.id, name))
            .await
            .unwrap();
        versions.push(
            app.store
                .create_version(&new_version(m.id, "1.0", None, vec![]))
                .await
                .unwrap()
                .id,
        );
    }
    // One 5-star rating against six 4s and 5s.
    let (_, first) = app.user(Role::Developer).await;
    let uri = |v: uuid::Uuid| format!("/api/v1/versions/{v}/rating");
    app.call(
        Method::PUT,
        &uri(versions[1]),
        Some(&first),
        Some(json!({"stars": 5})),
    )
    .await;
    for stars in [5, 4, 5, 4, 5, 5] {
        let (_, token) = app.user(Role::Developer).await;
        let res = app
            .call(
                Method::PUT,
                &uri(versions[2]),
                Some(&token),
                Some(json!({ "stars": stars })),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    }
    let order = ["Many good", "One perfect", "Unrated"];
    let names = |body: &Value| -> Vec<String> {
        body.as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(&app.get("/api/v1/models?sort=rating", None).await.body),
        order
    );
    assert_eq!(
        names(&app.get("/models?sort=rating", None).await.body),
        order
    );
    // The root dialect's cursor pages through the same order, one at a time.
    let mut walked = Vec::new();
    let mut next = Some("/models?sort=rating&limit=1".to_string());
    while let Some(uri) = next {
        let page = app.get(&uri, None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        walked.extend(names(&page.body));
        next = page.header("link").map(|l| {
            let url = l.trim_start_matches('<').split('>').next().unwrap();
            url.trim_start_matches("http://localhost").to_string()
        });
    }
    assert_eq!(walked, order);

    // 120 rating writes an hour (the first was above), then a 429 that says when.
    for i in 1..120 {
        let res = app
            .call(
                Method::PUT,
                &uri(versions[0]),
                Some(&first),
                Some(json!({"stars": 1 + i % 5})),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "write {i}: {}", res.body);
    }
    let res = app
        .call(
            Method::PUT,
            &uri(versions[0]),
            Some(&first),
            Some(json!({"stars": 3})),
        )
        .await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        res.body["detail"]
            .as_str()
            .unwrap()
            .starts_with("At most 120 ratings an hour"),
        "{}",
        res.body
    );
}
