//! Supabase JWT bearer tokens next to our own API tokens, with keys generated here and a local JWKS server.

use crate::support::{Backend, Role, TestApp};
use axum::http::StatusCode;
use base64::Engine;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use pocket_catalog::config::ServeArgs;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::json;
use uuid::Uuid;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "super-secret-jwt-key-for-tests-only";

fn claims(sub: Uuid, email: &str, aud: &str, exp_offset: i64) -> serde_json::Value {
    let now = chrono::Utc::now().timestamp();
    json!({"sub": sub.to_string(), "email": email, "aud": aud, "exp": now + exp_offset, "iat": now, "role": "authenticated"})
}

fn hs256(secret: &str, claims: &serde_json::Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

struct EcKey {
    encoding: EncodingKey,
    jwk: serde_json::Value,
}

fn ec_key(kid: &str) -> EcKey {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let public = pair.public_key().as_ref();
    EcKey {
        encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
        jwk: json!({"kty": "EC", "crv": "P-256", "x": b64(&public[1..33]), "y": b64(&public[33..65]), "kid": kid, "alg": "ES256", "use": "sig"}),
    }
}

fn es256(key: &EcKey, kid: &str, claims: &serde_json::Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.to_string());
    encode(&header, claims, &key.encoding).unwrap()
}

async fn app_with(secret: Option<&str>, supabase: Option<&str>) -> TestApp {
    let config = ServeArgs {
        supabase_jwt_secret: secret.map(secrecy::SecretString::from),
        supabase_url: supabase.map(|u| url::Url::parse(&format!("{u}/")).unwrap()),
        ..ServeArgs::default()
    };
    TestApp::with_config(Backend::Sqlite, config).await
}

#[tokio::test]
async fn hs256_tokens_sign_in_and_create_the_user_once() {
    let app = app_with(Some(SECRET), None).await;
    let sub = Uuid::new_v4();
    let token = hs256(
        SECRET,
        &claims(sub, "jane.doe@example.com", "authenticated", 3600),
    );
    let me = app.get("/users/me", Some(&token)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.body["id"], json!(sub));
    assert_eq!(me.body["username"], "jane.doe");
    assert_eq!(me.body["is_developer"], false, "a JWT user is a plain user");
    assert_eq!(
        app.get("/users/me", Some(&token)).await.body["id"],
        json!(sub),
        "the same user next time"
    );

    // Another account with the same local part: a unique, deterministic username; no 500.
    let other = Uuid::new_v4();
    let token2 = hs256(
        SECRET,
        &claims(other, "jane.doe@example.com", "authenticated", 3600),
    );
    let me2 = app.get("/users/me", Some(&token2)).await;
    assert_eq!(me2.status, StatusCode::OK, "{}", me2.body);
    assert_eq!(
        me2.body["username"],
        format!("jane.doe-{}", &other.simple().to_string()[..6])
    );

    // A signed-in user publishes at once (one policy for both dialects, `policy.rs`); roles stay
    // ours: the token grants none, an admin does.
    assert_eq!(
        app.post("/models", Some(&token), json!({"name": "x"}))
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.get("/users/me", Some(&token)).await.body["is_developer"],
        false
    );
    let admin = app.token(Role::Admin).await;
    let promoted = app
        .post(
            &format!("/admin/users/{sub}/roles"),
            Some(&admin),
            json!({"is_developer": true}),
        )
        .await;
    assert_eq!(promoted.status, StatusCode::OK, "{}", promoted.body);
    assert_eq!(
        app.get("/users/me", Some(&token)).await.body["is_developer"],
        true
    );
    assert_eq!(
        app.post(
            &format!("/admin/users/{sub}/roles"),
            Some(&token),
            json!({"is_admin": true})
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post(
            &format!("/admin/users/{}/roles", Uuid::new_v4()),
            Some(&admin),
            json!({})
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );

    // An admin cannot demote themselves (the last operator would lock everyone out).
    let me = app.get("/users/me", Some(&admin)).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let demote = app
        .post(
            &format!("/admin/users/{me}/roles"),
            Some(&admin),
            json!({"is_admin": false}),
        )
        .await;
    assert_eq!(demote.status, StatusCode::CONFLICT, "{}", demote.body);

    // Our opaque tokens keep working next to JWTs.
    assert_eq!(
        app.get("/users/me", Some(&admin)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn bad_tokens_are_401_with_www_authenticate() {
    let app = app_with(Some(SECRET), None).await;
    let sub = Uuid::new_v4();
    let expired = hs256(SECRET, &claims(sub, "a@example.com", "authenticated", -120));
    let audience = hs256(SECRET, &claims(sub, "a@example.com", "anon", 3600));
    let signature = hs256(
        "another-secret",
        &claims(sub, "a@example.com", "authenticated", 3600),
    );
    let payload = b64(claims(sub, "a@example.com", "authenticated", 3600)
        .to_string()
        .as_bytes());
    let none = format!("{}.{payload}.", b64(br#"{"alg":"none","typ":"JWT"}"#));
    let not_uuid = hs256(
        SECRET,
        &json!({"sub": "nope", "aud": "authenticated", "exp": chrono::Utc::now().timestamp() + 60}),
    );
    let es_without_jwks = es256(
        &ec_key("k"),
        "k",
        &claims(sub, "a@example.com", "authenticated", 3600),
    );
    for (name, token) in [
        ("expired", expired),
        ("audience", audience),
        ("signature", signature),
        ("alg none", none),
        ("sub", not_uuid),
        ("es256 without jwks", es_without_jwks),
        ("garbage", "eyJ.x.y".into()),
    ] {
        let res = app.get("/users/me", Some(&token)).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(res.header("www-authenticate"), Some("Bearer"), "{name}");
    }
    // Within the leeway, a just-expired token still passes.
    let fresh = hs256(SECRET, &claims(sub, "a@example.com", "authenticated", -5));
    assert_eq!(
        app.get("/users/me", Some(&fresh)).await.status,
        StatusCode::OK
    );
    // Without any Supabase configuration a JWT is just an invalid token.
    let plain = app_with(None, None).await;
    let token = hs256(SECRET, &claims(sub, "a@example.com", "authenticated", 3600));
    assert_eq!(
        plain.get("/users/me", Some(&token)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn es256_tokens_use_cached_jwks_refetched_once_for_an_unknown_kid() {
    let jwks = MockServer::start().await;
    let k1 = ec_key("k1");
    Mock::given(path("/auth/v1/.well-known/jwks.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"keys": [k1.jwk.clone()]})))
        .mount(&jwks)
        .await;
    let app = app_with(None, Some(&jwks.uri())).await;
    let sub = Uuid::new_v4();
    let token = es256(
        &k1,
        "k1",
        &claims(sub, "es@example.com", "authenticated", 3600),
    );
    assert_eq!(
        app.get("/users/me", Some(&token)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.get("/users/me", Some(&token)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        jwks.received_requests().await.unwrap().len(),
        1,
        "fetched once, never per request"
    );

    // An unknown kid: one refetch, then 401 — and no refetch storm.
    let k2 = ec_key("k2");
    let unknown = es256(
        &k2,
        "k2",
        &claims(sub, "es@example.com", "authenticated", 3600),
    );
    assert_eq!(
        app.get("/users/me", Some(&unknown)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/users/me", Some(&unknown)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        jwks.received_requests().await.unwrap().len(),
        2,
        "one refetch for the unknown kid"
    );

    // A token claiming HS256 with a kid of an EC key is refused (the algorithm is pinned to the key).
    let forged = hs256("k1", &claims(sub, "es@example.com", "authenticated", 3600));
    assert_eq!(
        app.get("/users/me", Some(&forged)).await.status,
        StatusCode::UNAUTHORIZED
    );

    // The JWKS server goes down: cached keys still work.
    jwks.reset().await;
    Mock::given(path("/auth/v1/.well-known/jwks.json"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&jwks)
        .await;
    assert_eq!(
        app.get("/users/me", Some(&token)).await.status,
        StatusCode::OK
    );
}

/// Issue #29: a token that is not valid yet (`nbf`) or issued in the future (`iat`) is refused; within
/// the 30 s leeway for clock skew it passes.
#[tokio::test]
async fn tokens_not_yet_valid_or_issued_in_the_future_are_refused() {
    let app = app_with(Some(SECRET), None).await;
    let sub = Uuid::new_v4();
    let now = chrono::Utc::now().timestamp();
    let with = |extra: serde_json::Value| {
        let mut c = claims(sub, "f@example.com", "authenticated", 7200);
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        hs256(SECRET, &c)
    };
    for (name, token) in [
        ("nbf an hour ahead", with(json!({"nbf": now + 3600}))),
        ("iat an hour ahead", with(json!({"iat": now + 3600}))),
    ] {
        let res = app.get("/users/me", Some(&token)).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{name}: {}", res.body);
    }
    for (name, token) in [
        ("nbf within the leeway", with(json!({"nbf": now + 10}))),
        ("iat within the leeway", with(json!({"iat": now + 10}))),
        ("nbf in the past", with(json!({"nbf": now - 60}))),
    ] {
        let res = app.get("/users/me", Some(&token)).await;
        assert_eq!(res.status, StatusCode::OK, "{name}: {}", res.body);
    }
}
