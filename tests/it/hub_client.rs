//! The Hub client against wiremock: each retry rule waits exactly what it should (on tokio's paused
//! clock), errors that must not be retried are not, redirects are renames, bad pages are retried.

use pocket_catalog::hub::{HubClient, HubConfig, HubError, RepoOutcome};
use secrecy::SecretString;
use std::time::Duration;
use tokio::time::Instant;
use url::Url;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const OID: &str = "6909b87b734dd24dd19da3ef";

fn client(server: &MockServer, token: Option<&str>) -> HubClient {
    let mut config = HubConfig::new(
        Url::parse(&server.uri()).unwrap(),
        token.map(|t| SecretString::from(t.to_string())),
    );
    // No timers while a request is in flight, so the paused clock advances only by our own waits.
    config.connect_timeout = None;
    config.request_timeout = None;
    config.max_retries = 3;
    config.max_total_wait = Duration::from_secs(120);
    HubClient::new(config).unwrap()
}

fn page(ids: &[&str]) -> serde_json::Value {
    serde_json::Value::Array(
        ids.iter()
            .map(|id| serde_json::json!({"_id": OID, "id": id}))
            .collect(),
    )
}

async fn list(client: &HubClient) -> Result<pocket_catalog::hub::Page, HubError> {
    client
        .list_page(&client.listing_url("litert", &["sha"]))
        .await
}

#[tokio::test(start_paused = true)]
async fn a_429_with_ratelimit_r0_waits_t_plus_one_second() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("RateLimit", "\"api\";r=0;t=7"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(&["a/b"])))
        .mount(&server)
        .await;
    let client = client(&server, None);
    let start = Instant::now();
    let page = list(&client).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(8));
    assert_eq!(page.models.len(), 1);
    assert_eq!(client.stats().rate_limited, 1);
    assert_eq!(client.stats().retries, 1);
}

#[tokio::test(start_paused = true)]
async fn a_429_with_retry_after_waits_exactly_that() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "3"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(&[])))
        .mount(&server)
        .await;
    let client = client(&server, None);
    let start = Instant::now();
    list(&client).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn server_errors_back_off_exponentially_then_give_up() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let client = client(&server, None);
    let start = Instant::now();
    let err = list(&client).await.unwrap_err();
    let waited = start.elapsed();
    assert!(
        matches!(err, HubError::Status { status: 503, .. }),
        "{err:?}"
    );
    // 1 s, 2 s and 4 s, each with up to as much jitter again.
    assert!(
        waited >= Duration::from_secs(7) && waited < Duration::from_secs(14),
        "{waited:?}"
    );
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        4,
        "one attempt and three retries"
    );
}

#[tokio::test(start_paused = true)]
async fn the_total_wait_is_bounded() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("RateLimit", "\"api\";r=0;t=600"))
        .mount(&server)
        .await;
    let client = client(&server, None);
    let start = Instant::now();
    let err = list(&client).await.unwrap_err();
    assert!(matches!(err, HubError::Status { status: 429, .. }));
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "a wait beyond the bound is not started"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn truncated_and_non_json_pages_are_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("[{\"_id\": \"69"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>oops</html>"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(&["a/b"])))
        .mount(&server)
        .await;
    let client = client(&server, None);
    let page = list(&client).await.unwrap();
    assert_eq!(page.models[0].id, "a/b");
    assert_eq!(client.stats().requests, 3);
}

#[tokio::test(start_paused = true)]
async fn connection_errors_are_retried_then_reported() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut config = HubConfig::new(
        Url::parse(&format!("http://127.0.0.1:{port}")).unwrap(),
        None,
    );
    config.connect_timeout = None;
    config.request_timeout = None;
    config.max_retries = 2;
    let client = HubClient::new(config).unwrap();
    let err = list(&client).await.unwrap_err();
    assert!(matches!(err, HubError::Transport(_)), "{err:?}");
    assert_eq!(client.stats().requests, 3);
}

#[tokio::test(start_paused = true)]
async fn unauthorised_forbidden_and_missing_are_outcomes_not_retried() {
    let server = MockServer::start().await;
    Mock::given(path("/api/models/o/private"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(serde_json::json!({"error": "Invalid username or password."})),
        )
        .mount(&server)
        .await;
    Mock::given(path("/api/models/o/missing"))
        .respond_with(ResponseTemplate::new(404).insert_header("X-Error-Code", "RepoNotFound"))
        .mount(&server)
        .await;
    Mock::given(path("/api/models/o/gated"))
        .respond_with(ResponseTemplate::new(403).insert_header("X-Error-Code", "GatedRepo"))
        .mount(&server)
        .await;
    let client = client(&server, None);
    assert_eq!(
        client.model_info("o/private", None).await.unwrap(),
        RepoOutcome::MissingOrPrivate
    );
    assert_eq!(
        client.model_info("o/missing", None).await.unwrap(),
        RepoOutcome::NotFound
    );
    assert_eq!(
        client.model_info("o/gated", None).await.unwrap(),
        RepoOutcome::Gated
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
    assert_eq!(client.stats().retries, 0);
}

#[tokio::test(start_paused = true)]
async fn a_307_is_followed_and_reported_as_a_rename() {
    let server = MockServer::start().await;
    Mock::given(path("/api/models/old-owner/model"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("Location", "/api/models/new-owner/model?blobs=true"),
        )
        .mount(&server)
        .await;
    Mock::given(path("/api/models/new-owner/model"))
        .and(query_param("blobs", "true"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                serde_json::json!({"_id": OID, "id": "new-owner/model", "sha": "abc"}),
            ),
        )
        .mount(&server)
        .await;
    let client = client(&server, None);
    match client.model_info("old-owner/model", None).await.unwrap() {
        RepoOutcome::Found { value, renamed_to } => {
            assert_eq!(renamed_to.as_deref(), Some("new-owner/model"));
            assert_eq!(value.object_id.as_deref(), Some(OID));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_redirect_to_another_host_is_not_followed() {
    let server = MockServer::start().await;
    Mock::given(path("/api/models/o/m"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("Location", "https://elsewhere.example/api/models/o/m"),
        )
        .mount(&server)
        .await;
    let client = client(&server, Some("hf_secret"));
    assert!(matches!(
        client.model_info("o/m", None).await,
        Err(HubError::Redirect(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn the_token_is_sent_as_bearer_with_our_user_agent() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(header("authorization", "Bearer hf_secret"))
        .and(header(
            "user-agent",
            concat!("pocket-catalog/", env!("CARGO_PKG_VERSION")),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(&["a/b"])))
        .mount(&server)
        .await;
    let client = client(&server, Some("hf_secret"));
    assert_eq!(list(&client).await.unwrap().models.len(), 1);
    assert!(
        !format!("{client:?}").contains("hf_secret"),
        "Debug redacts the token"
    );
}

#[tokio::test(start_paused = true)]
async fn requests_are_paced_when_the_window_runs_low() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("RateLimit", "\"api\";r=2;t=30")
                .set_body_json(page(&[])),
        )
        .mount(&server)
        .await;
    let client = client(&server, None);
    list(&client).await.unwrap();
    let start = Instant::now();
    list(&client).await.unwrap();
    // Two requests left for 30 s: each waits a third of the window.
    assert_eq!(start.elapsed(), Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn listing_follows_link_headers_verbatim_and_keeps_good_entries_of_bad_pages() {
    let server = MockServer::start().await;
    let next = format!(
        "{}/api/models?filter=litert&cursor=opaque%3D%3D",
        server.uri()
    );
    Mock::given(path("/api/models"))
        .and(query_param("cursor", "opaque=="))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(&["c/d"])))
        .mount(&server)
        .await;
    Mock::given(path("/api/models"))
        .and(query_param("filter", "litert"))
        .and(query_param("limit", "1000"))
        .and(query_param("expand", "sha"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Link", format!("<{next}>; rel=\"next\"").as_str())
                .set_body_json(serde_json::json!([{"_id": OID, "id": "a/b"}, {"_id": OID, "id": "x/y", "likes": "many"}])),
        )
        .mount(&server)
        .await;
    let client = client(&server, None);
    let first = list(&client).await.unwrap();
    assert_eq!(first.models.len(), 1);
    assert_eq!(first.skipped.len(), 1);
    assert_eq!(first.skipped[0].id.as_deref(), Some("x/y"));
    assert_eq!(first.next.as_ref().unwrap().as_str(), next);
    let second = client
        .list_page(first.next.as_ref().unwrap())
        .await
        .unwrap();
    assert_eq!(second.models[0].id, "c/d");
    assert!(second.next.is_none());
}
