//! Security properties: tokens hashed at rest, throttled failed authentication, CORS open only to the portal's development origins by default,
//! and no secret in any log line of a real process.

use crate::support::{post_sync, run_cli, Backend, Role, Served, SimHandle, TestApp, TestDb};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use pocket_catalog::config::ServeArgs;
use std::time::Duration;

#[tokio::test]
async fn tokens_are_stored_only_as_hashes() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let app = TestApp::new(backend).await;
        let (_, token) = app.user(Role::Developer).await;
        let hash = pocket_catalog::auth::hash_token(&token);
        match backend {
            Backend::Sqlite => {
                // Every byte of the database and its WAL: the hash is there, the token nowhere.
                let path = app_db_path(&app);
                let mut bytes = std::fs::read(&path).unwrap();
                bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
                let text = String::from_utf8_lossy(&bytes);
                assert!(text.contains(&hash), "the search itself works");
                assert!(!text.contains(&token), "no plaintext token on disk");
            }
            Backend::Postgres => {
                let pool = sqlx::PgPool::connect(&app_db_url(&app)).await.unwrap();
                let dump: Vec<String> =
                    sqlx::query_scalar("SELECT row_to_json(t)::text FROM api_tokens t")
                        .fetch_all(&pool)
                        .await
                        .unwrap();
                assert!(dump.iter().any(|r| r.contains(&hash)));
                assert!(dump.iter().all(|r| !r.contains(&token)));
            }
        }
    }
}

fn app_db_url(app: &TestApp) -> String {
    app.db_url().to_string()
}

fn app_db_path(app: &TestApp) -> String {
    app.db_url().trim_start_matches("sqlite://").to_string()
}

#[tokio::test]
async fn repeated_failed_authentication_is_throttled_per_client() {
    let app = TestApp::new(Backend::Sqlite).await;
    let good = app.token(Role::User).await;
    for _ in 0..5 {
        assert_eq!(
            app.get("/users/me", Some(&good)).await.status,
            StatusCode::OK,
            "successes do not count"
        );
    }
    for i in 0..30 {
        assert_eq!(
            app.get("/users/me", Some("pcat_guess")).await.status,
            StatusCode::UNAUTHORIZED,
            "attempt {i}"
        );
    }
    let blocked = app.get("/users/me", Some("pcat_guess")).await;
    assert_eq!(blocked.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(blocked
        .detail()
        .contains("Too many failed authentication attempts"));
    // Issue #29: valid credentials are never refused by the failure throttle (behind a proxy, one
    // client's failures would otherwise lock everyone out).
    assert_eq!(
        app.get("/users/me", Some(&good)).await.status,
        StatusCode::OK,
        "valid credentials pass a blocked client"
    );
    assert_eq!(
        app.get("/models", None).await.status,
        StatusCode::OK,
        "anonymous reads stay open"
    );
    let other = TestApp::new(Backend::Sqlite).await;
    let token = other.token(Role::User).await;
    assert_eq!(
        other.get("/users/me", Some(&token)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn cors_allows_the_portals_dev_origins_by_default_and_others_only_when_configured() {
    fn preflight<'a>(
        app: &'a TestApp,
        origin: &str,
    ) -> impl std::future::Future<Output = crate::support::TestResponse> + 'a {
        let req = Request::builder()
            .method("OPTIONS")
            .uri("/api/v1/models")
            .header("origin", origin)
            .header("access-control-request-method", "DELETE")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .body(Body::empty())
            .unwrap();
        app.raw(req)
    }
    let default = TestApp::new(Backend::Sqlite).await;
    for origin in ["http://localhost:5173", "http://127.0.0.1:5173"] {
        let res = preflight(&default, origin).await;
        assert!(res.status.is_success(), "{}", res.status);
        assert_eq!(res.header("access-control-allow-origin"), Some(origin));
        let methods = res
            .header("access-control-allow-methods")
            .unwrap()
            .to_string();
        for m in ["GET", "POST", "PATCH", "DELETE"] {
            assert!(methods.contains(m), "{methods}");
        }
        let headers = res
            .header("access-control-allow-headers")
            .unwrap()
            .to_lowercase();
        assert!(headers.contains("authorization") && headers.contains("content-type"));
    }
    assert!(preflight(&default, "https://portal.example")
        .await
        .header("access-control-allow-origin")
        .is_none());
    let config = ServeArgs {
        cors_origins: vec!["https://portal.example".into()],
        ..ServeArgs::default()
    };
    let open = TestApp::with_config(Backend::Sqlite, config).await;
    assert_eq!(
        preflight(&open, "https://portal.example")
            .await
            .header("access-control-allow-origin"),
        Some("https://portal.example")
    );
    let closed = TestApp::with_config(
        Backend::Sqlite,
        ServeArgs {
            cors_origins: vec![String::new()],
            ..ServeArgs::default()
        },
    )
    .await;
    assert!(preflight(&closed, "http://localhost:5173")
        .await
        .header("access-control-allow-origin")
        .is_none());
}

/// A real process with every secret in use, at debug level: no log line carries any of them.
#[tokio::test]
async fn no_secret_reaches_the_logs() {
    let sim = SimHandle::start(40, 0, 61).await;
    let db = TestDb::new(Backend::Sqlite).await;
    let admin = run_cli(&db, &["token", "create", "--username", "ops", "--admin"]);
    let hf_token = "hf_SuperSecretHubToken0123456789";
    let webhook_secret = "whsec-SuperSecretWebhook";
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let notify_path = "hooks/T000/B000/SuperSecretSlackPath";
    let notify_url = format!("http://{closed}/{notify_path}");
    let served = Served::start(
        &db,
        &[
            ("RUST_LOG", "debug"),
            ("POCKET_LOG_FORMAT", "json"),
            ("HF_ENDPOINT", &sim.url),
            ("HF_TOKEN", hf_token),
            ("HF_WEBHOOK_SECRET", webhook_secret),
            ("NOTIFY_WEBHOOK_URLS", &notify_url),
            ("SYNC_PULL_VERSIONS", "true"),
        ],
    )
    .await;
    let base = &served.base;
    let http = reqwest::Client::new();
    let (status, body) = post_sync(base.clone(), admin.clone()).await;
    assert_eq!(status, 200);
    let res = http
        .get(format!("{base}/users/me"))
        .bearer_auth("pcat_wrong-token-value")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let hook = serde_json::json!({"event": {"action": "update", "scope": "repo.content"}, "repo": {"type": "model", "name": "o/m"}});
    let res = http
        .post(format!("{base}/webhooks/huggingface"))
        .header("x-webhook-secret", webhook_secret)
        .json(&hook)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    // An ad-hoc import of a repo the Hub does not have (the Hub client sends HF_TOKEN).
    let bad = http
        .post(format!("{base}/sync/huggingface/litert/adhoc"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"repo_id": "nobody/nothing"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 404);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let logs = served.stop().await;
    assert!(logs.lines().count() > 20, "debug logs were written");
    assert!(logs.contains("request_id"));
    for secret in [
        admin.as_str(),
        hf_token,
        webhook_secret,
        notify_path,
        "pcat_wrong-token-value",
    ] {
        assert!(
            !logs.contains(secret),
            "a secret reached the logs: {secret}"
        );
        assert!(
            !body.contains(secret),
            "a secret reached a response: {secret}"
        );
    }
}
