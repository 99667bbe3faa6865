//! The sync over HTTP and from the command line, and a sync killed with SIGKILL.

use crate::both_backends;
use crate::support::{serve_config, Backend, Role, SimHandle, TestApp, TestDb};
use axum::http::StatusCode;
use pocket_catalog::domain::RunStatus;
use serde_json::json;
use std::process::Stdio;
use std::time::Duration;

both_backends!(
    manual_trigger_answers_the_seed_shape_and_is_admin_only,
    a_running_sync_makes_a_second_trigger_409,
    an_upstream_failure_is_recorded_and_answered_502,
    run_history_is_paginated_newest_first,
    a_sync_killed_with_sigkill_leaves_no_partial_data_and_the_next_run_completes,
);

async fn app_with_sim(backend: Backend, sim: &SimHandle) -> TestApp {
    TestApp::with_config(backend, serve_config(sim)).await
}

async fn manual_trigger_answers_the_seed_shape_and_is_admin_only(backend: Backend) {
    let sim = SimHandle::start(120, 20, 8).await;
    let app = app_with_sim(backend, &sim).await;
    let path = "/sync/huggingface/litert";
    assert_eq!(
        app.post(path, None, json!({})).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.post(path, Some(&app.token(Role::Developer).await), json!({}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let admin = app.token(Role::Admin).await;
    let res = app.post(path, Some(&admin), json!({})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let n = sim.litert_truth().len();
    let b = &res.body;
    assert_eq!(b["status"], "success");
    assert_eq!(b["created"], n);
    assert_eq!(b["updated"], 0);
    assert_eq!(b["skipped"], 0);
    assert_eq!(
        b["message"],
        format!("Successfully synced LiteRT models. Created: {n}, Updated: 0, Skipped: 0")
    );
    for key in ["run_id", "unchanged", "removed", "duration_ms"] {
        assert!(b.get(key).is_some(), "{key}");
    }
    let listed = app.get("/models?source=huggingface&limit=1", None).await;
    assert_eq!(listed.header("x-total-count"), Some(n.to_string().as_str()));
    assert_eq!(listed.body[0]["source"], "huggingface");
    // A synced model's sync-owned fields are protected.
    let id = listed.body[0]["id"].as_str().unwrap();
    let res = app
        .patch(
            &format!("/models/{id}"),
            Some(&admin),
            json!({"description": "mine"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);

    // wait=false: 202 with the run id, then the run can be followed.
    let res = app
        .post(&format!("{path}?wait=false"), Some(&admin), json!({}))
        .await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    let run_id = res.body["run_id"].as_str().unwrap().to_string();
    assert_eq!(
        res.header("location"),
        Some(format!("/sync/runs/{run_id}").as_str())
    );
    let mut status = String::new();
    for _ in 0..200 {
        let run = app.get(&format!("/sync/runs/{run_id}"), Some(&admin)).await;
        assert_eq!(run.status, StatusCode::OK);
        status = run.body["status"].as_str().unwrap().to_string();
        if status != "running" {
            assert_eq!(run.body["counts"]["unchanged"], n);
            assert_eq!(run.body["trigger"], "manual");
            assert!(run.body["skipped_records"].as_array().unwrap().is_empty());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, "success");
    assert_eq!(
        app.get("/sync/runs", Some(&app.token(Role::User).await))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get("/sync/runs/not-a-uuid", Some(&admin)).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.get(
            &format!("/sync/runs/{}", uuid::Uuid::new_v4()),
            Some(&admin)
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
}

async fn a_running_sync_makes_a_second_trigger_409(backend: Backend) {
    let sim = SimHandle::start(50, 0, 9).await;
    let app = app_with_sim(backend, &sim).await;
    let admin = app.token(Role::Admin).await;
    let holder = uuid::Uuid::new_v4();
    let fence = app
        .store
        .acquire_lease("another-replica", holder, 60_000)
        .await
        .unwrap()
        .unwrap();
    let res = app
        .post("/sync/huggingface/litert", Some(&admin), json!({}))
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT);
    assert_eq!(res.body["run_id"], json!(holder));
    assert!(res.detail().contains("already running"));
    app.store.release_lease(&fence).await.unwrap();
    app.full_sync(&admin).await;
}

async fn an_upstream_failure_is_recorded_and_answered_502(backend: Backend) {
    let sim = SimHandle::start(10, 0, 10).await;
    let mut config = serve_config(&sim);
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    config.hub.hf_endpoint = url::Url::parse(&format!("http://{closed}")).unwrap();
    config.hub.hub_max_retries = 0;
    let app = TestApp::with_config(backend, config).await;
    let admin = app.token(Role::Admin).await;
    let res = app
        .post("/sync/huggingface/litert", Some(&admin), json!({}))
        .await;
    assert_eq!(res.status, StatusCode::BAD_GATEWAY, "{}", res.body);
    assert!(res.detail().starts_with("Sync failed"), "{}", res.detail());
    let run_id: uuid::Uuid = serde_json::from_value(res.body["run_id"].clone()).unwrap();
    let run = app.store.get_run(run_id).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    assert!(run.error.unwrap().contains("cannot reach the Hub"));
    assert!(run.finished_at.is_some());
    assert!(
        !app.store.lease_holder().await.unwrap().live,
        "the lease is released"
    );
}

async fn run_history_is_paginated_newest_first(backend: Backend) {
    let sim = SimHandle::start(20, 0, 12).await;
    let app = app_with_sim(backend, &sim).await;
    let admin = app.token(Role::Admin).await;
    for _ in 0..5 {
        app.full_sync(&admin).await;
    }
    let mut uri = "/sync/runs?limit=2".to_string();
    let mut starts = Vec::new();
    loop {
        let res = app.get(&uri, Some(&admin)).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        starts.extend(
            res.body
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["started_at"].as_str().unwrap().to_string()),
        );
        match res.header("link") {
            Some(l) => {
                uri = l
                    .trim_start_matches('<')
                    .split('>')
                    .next()
                    .unwrap()
                    .to_string()
            }
            None => break,
        }
    }
    assert_eq!(starts.len(), 5);
    let mut sorted = starts.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(starts, sorted);
    assert_eq!(
        app.get("/sync/runs?limit=0", Some(&admin)).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.get("/sync/runs?cursor=zzz", Some(&admin)).await.status,
        StatusCode::BAD_REQUEST
    );
}

async fn a_sync_killed_with_sigkill_leaves_no_partial_data_and_the_next_run_completes(
    backend: Backend,
) {
    let sim = SimHandle::start(4_000, 0, 13).await;
    // Slow enough to be caught mid-run: every request takes 40 ms.
    sim.sim.set_faults(pocket_catalog::hubsim::Faults {
        latency_ms: 40,
        ..Default::default()
    });
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_pocket-catalog"))
        .args([
            "--database-url",
            &db.url,
            "sync",
            "--hf-endpoint",
            &sim.url,
            "--sync-pull-versions",
            "false",
            "--sync-require-model-file",
            "false",
            "--sync-lease-secs",
            "2",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Kill it once it has committed some pages but not all.
    let mut killed_at = 0;
    for _ in 0..600 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let runs = store.list_runs(1, None).await.unwrap();
        if let Some(run) = runs.first() {
            if run.counts.created > 0 {
                child.start_kill().unwrap();
                killed_at = run.counts.created;
                break;
            }
        }
    }
    child.wait().await.unwrap();
    assert!(killed_at > 0, "the run was caught mid-way");
    let truth = sim.litert_truth();
    let runs = store.list_runs(10, None).await.unwrap();
    assert_eq!(
        runs[0].status,
        RunStatus::Running,
        "the killed run never finished"
    );
    let stored = store.active_synced().await.unwrap();
    assert!(stored.len() < truth.len(), "killed before the end");
    assert_eq!(
        stored.len() as i64,
        runs[0].counts.created,
        "counters match what was committed"
    );

    sim.sim
        .set_faults(pocket_catalog::hubsim::Faults::default());
    // The lease of the dead process expires after 2 s; then the next run takes over.
    let s = crate::support::syncer(&store, &sim, |c| c.lease_ttl = Duration::from_secs(2));
    let report = loop {
        match s
            .run_once(pocket_catalog::domain::Trigger::Manual, Default::default())
            .await
        {
            Ok(r) => break r,
            Err(pocket_catalog::sync::ClaimError::Busy { .. }) => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(report.status, RunStatus::Success, "{report:?}");
    assert_eq!(report.counts.created as usize + stored.len(), truth.len());
    let after = store.active_synced().await.unwrap();
    assert_eq!(after.len(), truth.len(), "no duplicate, none missing");
    let killed = store.get_run(runs[0].id).await.unwrap().unwrap();
    assert_eq!(killed.status, RunStatus::Failed);
    assert!(killed.error.unwrap().contains("abandoned"));
    if backend == Backend::Sqlite {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        let check: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(check, "ok");
    }
}

#[tokio::test]
async fn the_sync_command_prints_json_and_fails_with_exit_1() {
    let sim = SimHandle::start(40, 5, 14).await;
    let db = TestDb::new(Backend::Sqlite).await;
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_pocket-catalog"))
        .args([
            "--database-url",
            &db.url,
            "sync",
            "--json",
            "--hf-endpoint",
            &sim.url,
            "--sync-pull-versions",
            "false",
            "--sync-require-model-file",
            "false",
        ])
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["status"], "success");
    assert_eq!(json["created"], sim.litert_truth().len());
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_pocket-catalog"))
        .args([
            "--database-url",
            &db.url,
            "sync",
            "--hf-endpoint",
            &format!("http://{closed}"),
            "--hub-max-retries",
            "0",
        ])
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the sync failed"));
    let bad = tokio::process::Command::new(env!("CARGO_BIN_EXE_pocket-catalog"))
        .args(["--database-url", &db.url, "sync", "--sync-include", "["])
        .output()
        .await
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "a bad rule is a usage error");
}
