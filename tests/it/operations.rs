//! Operations: failure and recovery notifications, Hub webhooks refreshing one repo, Prometheus metrics.

use crate::both_backends;
use crate::support::{serve_config, syncer, Backend, Role, SimHandle, TestApp, TestDb};
use axum::http::{Method, Request, StatusCode};
use pocket_catalog::domain::{RunStatus, Trigger, UpstreamStatus};
use pocket_catalog::hub::{HubClient, HubConfig};
use pocket_catalog::store::Store;
use pocket_catalog::sync::notify::Notifier;
use pocket_catalog::sync::{SyncConfig, Syncer};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

both_backends!(
    failures_and_recoveries_are_notified_and_ordinary_successes_are_not,
    hub_webhooks_refresh_one_repo_and_collapse_duplicates,
    metrics_are_scraped_after_a_sync,
    a_run_that_skips_records_is_a_success_and_optionally_noticed,
);

fn failing_syncer(store: &Store) -> Syncer {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut hub = HubConfig::new(url::Url::parse(&format!("http://{closed}")).unwrap(), None);
    hub.max_retries = 0;
    let config =
        SyncConfig::new(pocket_catalog::sync::rules::Rules::new(Default::default()).unwrap());
    pocket_catalog::app::syncer(store.clone(), HubClient::new(hub).unwrap(), config).unwrap()
}

async fn events(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

async fn failures_and_recoveries_are_notified_and_ordinary_successes_are_not(backend: Backend) {
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let broken = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&broken)
        .await;
    let notifier = Notifier::new(vec![
        url::Url::parse(&format!("{}/hooks/secret-path", receiver.uri())).unwrap(),
        url::Url::parse(&format!("{}/down", broken.uri())).unwrap(),
    ])
    .with_backoff(Duration::from_millis(5));
    let sim = SimHandle::start(30, 0, 41).await;
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let good = syncer(&store, &sim, |_| {}).with_notifier(notifier.clone());
    let bad = failing_syncer(&store).with_notifier(notifier.clone());
    let run = |s: Syncer| async move {
        s.run_once(Trigger::Manual, CancellationToken::new())
            .await
            .unwrap()
    };

    let ok = run(good.clone()).await;
    assert_eq!(ok.status, RunStatus::Success);
    good.flush_notifications(Duration::from_secs(10)).await;
    assert!(
        events(&receiver).await.is_empty(),
        "an ordinary success is not notified"
    );

    let failed = run(bad.clone()).await;
    assert_eq!(
        failed.status,
        RunStatus::Failed,
        "the run itself is unaffected by a broken receiver"
    );
    bad.flush_notifications(Duration::from_secs(10)).await;
    let got = events(&receiver).await;
    assert_eq!(got.len(), 1);
    let e = &got[0];
    assert_eq!(e["event"], "sync.failed");
    assert_eq!(e["status"], "failed");
    assert_eq!(e["trigger"], "manual");
    assert_eq!(e["run_id"], json!(failed.run_id));
    let error = e["error"].as_str().unwrap();
    assert!(error.contains("cannot reach the Hub"), "{error}");
    assert!(
        error.len() < 300
            && !error.contains("/api/models")
            && error.contains("check the network and HF_ENDPOINT"),
        "an unreachable Hub is said once, briefly, with what to check: {error}"
    );
    assert!(
        e["text"].as_str().unwrap().contains("failed"),
        "Slack-compatible text"
    );
    for key in ["counts", "started_at", "finished_at"] {
        assert!(e.get(key).is_some(), "{key}");
    }
    assert!(
        broken.received_requests().await.unwrap().len() > 1,
        "delivery to a failing receiver was retried"
    );

    let recovered = run(good.clone()).await;
    good.flush_notifications(Duration::from_secs(10)).await;
    let got = events(&receiver).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[1]["event"], "sync.recovered");
    assert_eq!(got[1]["run_id"], json!(recovered.run_id));

    run(good.clone()).await;
    good.flush_notifications(Duration::from_secs(10)).await;
    assert_eq!(
        events(&receiver).await.len(),
        2,
        "no notification for a success after a success"
    );
}

async fn webhook(
    app: &TestApp,
    secret: Option<&str>,
    payload: &Value,
) -> crate::support::TestResponse {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri("/webhooks/huggingface")
        .header("content-type", "application/json");
    if let Some(s) = secret {
        req = req.header("x-webhook-secret", s);
    }
    app.raw(
        req.body(axum::body::Body::from(payload.to_string()))
            .unwrap(),
    )
    .await
}

fn update(repo: &str, sha: &str) -> Value {
    json!({"event": {"action": "update", "scope": "repo.content"},
           "repo": {"type": "model", "name": repo, "id": "6909b87b734dd24dd19da3ef", "private": false, "headSha": sha},
           "updatedRefs": [{"ref": "refs/heads/main", "oldSha": "0", "newSha": sha}],
           "webhook": {"id": "abc", "version": 3}})
}

async fn wait_for_webhook_runs(
    store: &Store,
    repo: &str,
    n: usize,
) -> Vec<pocket_catalog::domain::records::SyncRun> {
    for _ in 0..300 {
        let runs: Vec<_> = store
            .list_runs(100, None)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| {
                r.trigger == Trigger::Webhook
                    && r.repo_id.as_deref() == Some(repo)
                    && r.status != RunStatus::Running
            })
            .collect();
        if runs.len() >= n {
            return runs;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no webhook run for {repo}");
}

async fn hub_webhooks_refresh_one_repo_and_collapse_duplicates(backend: Backend) {
    let sim = SimHandle::start(300, 0, 42).await;
    let disabled = TestApp::with_config(backend, serve_config(&sim)).await;
    assert_eq!(
        webhook(&disabled, Some("x"), &update("o/m", "a"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let mut config = serve_config(&sim);
    config.hf_webhook_secret = Some("s3cret".into());
    config.sync.sync_pull_versions = true;
    let app = TestApp::with_config(backend, config).await;
    pocket_catalog::app::spawn_background(&app.state);
    let admin = app.token(Role::Admin).await;
    app.full_sync(&admin).await;

    for secret in [None, Some("wrong"), Some("s3cret-but-longer")] {
        let res = webhook(&app, secret, &update("o/m", "a")).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{secret:?}");
    }
    let bad = webhook(&app, Some("s3cret"), &json!({"no": "event"})).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let ignored = webhook(&app, Some("s3cret"), &json!({"event": {"action": "update", "scope": "repo.content"}, "repo": {"type": "dataset", "name": "o/d"}})).await;
    assert_eq!(
        (ignored.status, ignored.body["status"].clone()),
        (StatusCode::ACCEPTED, json!("ignored"))
    );

    // A new commit upstream: the webhook refreshes that repo alone.
    let report = sim.sim.mutate();
    let in_catalog: Vec<String> = app
        .store
        .active_synced()
        .await
        .unwrap()
        .into_iter()
        .map(|(_, _, id)| id)
        .collect();
    let repo = report
        .committed
        .iter()
        .find(|id| in_catalog.contains(id))
        .expect("a committed repo")
        .clone();
    let head = sim.sim.repos().into_iter().find(|r| r.id == repo).unwrap();
    sim.sim.reset_stats();
    let res = webhook(&app, Some("s3cret"), &update(&repo, &head.sha)).await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    assert_eq!(res.body["status"], "queued");
    let runs = wait_for_webhook_runs(&app.store, &repo, 1).await;
    assert_eq!(runs[0].status, RunStatus::Success, "{:?}", runs[0]);
    assert_eq!(runs[0].counts.updated, 1);
    assert_eq!(runs[0].counts.versions_created, 1);
    let model = app
        .store
        .synced_models(&[], std::slice::from_ref(&repo))
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(
        model.upstream.unwrap().sha.as_deref(),
        Some(head.sha.as_str())
    );
    assert_eq!(sim.sim.stats().list, 0, "one repo, no listing");

    // Duplicates collapse while a refresh is pending (another run holds the lease meanwhile).
    let other = report
        .committed
        .iter()
        .filter(|id| in_catalog.contains(id))
        .nth(1)
        .unwrap_or(&repo)
        .clone();
    // The webhook run records its end, then lets the lease go: wait for that.
    let mut fence = None;
    for _ in 0..100 {
        fence = app
            .store
            .acquire_lease("someone-else", uuid::Uuid::new_v4(), 60_000, false)
            .await
            .unwrap();
        if fence.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let fence = fence.expect("the webhook run lets the lease go");
    let statuses: Vec<Value> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(
                webhook(&app, Some("s3cret"), &update(&other, "feedbeef"))
                    .await
                    .body["status"]
                    .clone(),
            );
        }
        v
    };
    assert_eq!(
        statuses,
        [json!("queued"), json!("duplicate"), json!("duplicate")]
    );
    app.store.release_lease(&fence).await.unwrap();
    let runs = wait_for_webhook_runs(&app.store, &other, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        wait_for_webhook_runs(&app.store, &other, 1).await.len(),
        runs.len(),
        "one refresh for three deliveries"
    );

    // A deleted repo is marked removed.
    let gone = report
        .removed
        .iter()
        .find(|id| in_catalog.contains(id))
        .expect("a removed repo")
        .clone();
    let delete = json!({"event": {"action": "delete", "scope": "repo"}, "repo": {"type": "model", "name": gone}});
    assert_eq!(
        webhook(&app, Some("s3cret"), &delete).await.status,
        StatusCode::ACCEPTED
    );
    let runs = wait_for_webhook_runs(&app.store, &gone, 1).await;
    assert_eq!(runs[0].counts.removed, 1);
    let model = app
        .store
        .synced_models(&[], std::slice::from_ref(&gone))
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(
        model.upstream.unwrap().status,
        Some(UpstreamStatus::Removed)
    );
    app.state.shutdown.cancel();
}

async fn metrics_are_scraped_after_a_sync(backend: Backend) {
    let sim = SimHandle::start(40, 0, 43).await;
    // Damaged entries are skipped: the run is still the success the staleness alert waits for.
    sim.sim.set_faults(pocket_catalog::hubsim::Faults {
        malformed_entries: true,
        ..Default::default()
    });
    let app = TestApp::with_config(backend, serve_config(&sim)).await;
    let admin = app.token(Role::Admin).await;
    let sync = app.full_sync(&admin).await;
    assert_eq!(sync.body["status"], "success", "{}", sync.body);
    assert!(sync.body["skipped"].as_i64().unwrap() > 0);
    assert_eq!(sync.body["removals_held_back"], true);
    let res = app.get("/metrics", None).await;
    assert_eq!(res.status, StatusCode::OK);
    let text = res.body.as_str().unwrap().to_string();
    let n = sim.litert_truth().len();
    for needle in [
        "pocket_sync_runs_total{trigger=\"manual\",status=\"success\"}".to_string(),
        "pocket_sync_run_duration_seconds_bucket".to_string(),
        "pocket_sync_last_success_timestamp_seconds ".to_string(),
        format!("pocket_models{{source=\"huggingface\",upstream_status=\"active\"}} {n}"),
        "pocket_hub_requests_total ".to_string(),
        "pocket_sync_skipped_records_total ".to_string(),
        "pocket_sync_removals_held_back_total ".to_string(),
        "pocket_http_requests_total{method=\"POST\",route=\"/sync/huggingface/litert\",status=\"200\"}".to_string(),
        "pocket_http_request_duration_seconds_bucket{method=\"POST\",route=\"/sync/huggingface/litert\"".to_string(),
    ] {
        assert!(text.contains(&needle), "{needle} missing from:\n{text}");
    }
    let last: f64 = text
        .lines()
        .find(|l| l.starts_with("pocket_sync_last_success_timestamp_seconds "))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .parse()
        .unwrap();
    let now = chrono::Utc::now().timestamp() as f64;
    assert!(
        (now - last).abs() < 120.0,
        "the last success is recent: {last} vs {now}"
    );
}

async fn a_run_that_skips_records_is_a_success_and_optionally_noticed(backend: Backend) {
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let url = url::Url::parse(&format!("{}/hooks", receiver.uri())).unwrap();
    let sim = SimHandle::start(60, 0, 44).await;
    sim.sim.set_faults(pocket_catalog::hubsim::Faults {
        malformed_entries: true,
        ..Default::default()
    });
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let run = |notifier: Notifier| {
        let s = syncer(&store, &sim, |_| {}).with_notifier(notifier);
        async move {
            let report = s
                .run_once(Trigger::Manual, CancellationToken::new())
                .await
                .unwrap();
            s.flush_notifications(Duration::from_secs(10)).await;
            report
        }
    };

    // Without a limit a run that skips is as quiet as any success.
    let quiet = run(Notifier::new(vec![url.clone()]).with_backoff(Duration::from_millis(5))).await;
    assert_eq!(quiet.status, RunStatus::Success, "{quiet:?}");
    assert!(quiet.counts.skipped > 0);
    assert!(events(&receiver).await.is_empty());

    // Above the limit it is noticed, and still a success.
    let limit = (quiet.counts.skipped - 1) as u64;
    let noticed = run(Notifier::new(vec![url.clone()])
        .with_backoff(Duration::from_millis(5))
        .with_skipped_above(Some(limit)))
    .await;
    assert_eq!(noticed.status, RunStatus::Success);
    let got = events(&receiver).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["event"], "sync.skipped");
    assert_eq!(got[0]["status"], "success");
    assert_eq!(got[0]["run_id"], json!(noticed.run_id));

    // At or under the limit: quiet.
    let under = run(Notifier::new(vec![url])
        .with_backoff(Duration::from_millis(5))
        .with_skipped_above(Some(noticed.counts.skipped as u64)))
    .await;
    assert_eq!(under.status, RunStatus::Success);
    assert_eq!(events(&receiver).await.len(), 1);
}
