//! The sync over HTTP and from the command line.

use crate::both_backends;
use crate::support::{serve_config, Backend, Role, SimHandle, TestApp, TestDb};
use axum::http::StatusCode;
use pocket_catalog::domain::RunStatus;
use serde_json::json;
use std::time::Duration;

both_backends!(
    manual_trigger_answers_the_seed_shape_and_is_admin_only,
    a_running_sync_makes_a_second_trigger_409,
    an_upstream_failure_is_recorded_and_answered_502,
    run_history_is_paginated_newest_first,
    runs_record_the_catalog_size_and_models_filter_by_upstream_status,
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
        .acquire_lease("another-replica", holder, 60_000, false)
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
    assert_eq!(json["counts"]["created"], sim.litert_truth().len());
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
        .env("RUST_LOG", "info")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    // The output tells the truth, once (issue #35): no "completed" before the failure; the reason in
    // the run's message; the last line names the run instead of repeating it.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stderr.contains("Sync completed"), "{stderr}");
    assert!(stdout.starts_with("LiteRT model sync failed."), "{stdout}");
    assert!(stdout.contains("cannot reach the Hub"), "{stdout}");
    let last = stderr.lines().last().unwrap();
    assert!(last.starts_with("error: the sync failed (run "), "{last}");
    assert!(!last.contains("cannot reach the Hub"), "{last}");
    let bad = tokio::process::Command::new(env!("CARGO_BIN_EXE_pocket-catalog"))
        .args(["--database-url", &db.url, "sync", "--sync-include", "["])
        .output()
        .await
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "a bad rule is a usage error");
}

async fn runs_record_the_catalog_size_and_models_filter_by_upstream_status(backend: Backend) {
    let sim = SimHandle::start(300, 0, 16).await;
    let app = app_with_sim(backend, &sim).await;
    let admin = app.token(Role::Admin).await;
    let status = app.get("/admin/scheduler/status", Some(&admin)).await;
    assert!(status.body["jobs"][0]["last_success_at"].is_null());
    app.full_sync(&admin).await;
    let first = sim.litert_truth().len() as i64;
    let change = sim.sim.mutate();
    app.full_sync(&admin).await;

    let runs = app.get("/sync/runs", Some(&admin)).await;
    let sizes: Vec<i64> = runs
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["catalog_size"].as_i64().unwrap())
        .collect();
    assert_eq!(sizes, vec![sim.litert_truth().len() as i64, first]);
    let status = app.get("/admin/scheduler/status", Some(&admin)).await;
    assert_eq!(
        status.body["jobs"][0]["last_success_at"],
        runs.body[0]["finished_at"]
    );

    let count = |status: &'static str| {
        let app = &app;
        async move {
            let res = app
                .get(&format!("/models?upstream_status={status}&limit=1"), None)
                .await;
            assert_eq!(res.status, StatusCode::OK, "{}", res.body);
            res.header("x-total-count")
                .unwrap()
                .parse::<usize>()
                .unwrap()
        }
    };
    // The Hub answers a private repo exactly as a deleted one: both are `removed`.
    let gone = change.removed.len() + change.privatised.len();
    assert!(gone > 0);
    assert_eq!(count("removed").await, gone);
    assert_eq!(
        count("active").await + count("renamed").await,
        sim.litert_truth().len()
    );
    assert_eq!(
        app.get("/models?upstream_status=gone", None).await.status,
        StatusCode::BAD_REQUEST
    );
}

/// The everyday operations from the command line, on the local database (issue #35): the runs'
/// history and one run (as the API's record with `--json`), the schedule's status, pause and resume,
/// the users and taking a role away.
#[tokio::test]
async fn the_everyday_commands_show_runs_operate_the_schedule_and_manage_roles() {
    let sim = SimHandle::start(12, 2, 21).await;
    let db = TestDb::new(Backend::Sqlite).await;
    let cli = |args: Vec<&str>| {
        let url = db.url.clone();
        let args: Vec<String> = args.into_iter().map(str::to_string).collect();
        async move {
            tokio::process::Command::new(env!("CARGO_BIN_EXE_pocket-catalog"))
                .args(["--database-url", &url])
                .args(args)
                .env("RUST_LOG", "warn")
                .output()
                .await
                .unwrap()
        }
    };
    let text = |out: &std::process::Output| String::from_utf8_lossy(&out.stdout).to_string();
    let sync = cli(vec![
        "sync",
        "--json",
        "--hf-endpoint",
        &sim.url,
        "--sync-pull-versions",
        "false",
        "--sync-require-model-file",
        "false",
    ])
    .await;
    assert!(
        sync.status.success(),
        "{}",
        String::from_utf8_lossy(&sync.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&sync.stdout).unwrap();
    let run_id = printed["id"].as_str().unwrap().to_string();

    let listed = cli(vec!["runs", "list"]).await;
    assert!(listed.status.success());
    let line = text(&listed);
    assert!(
        line.starts_with(&format!("{run_id}\tmanual\tsuccess\t")),
        "{line}"
    );
    let records: serde_json::Value = serde_json::from_slice(
        &cli(vec!["runs", "list", "--json", "--limit", "5"])
            .await
            .stdout,
    )
    .unwrap();
    assert_eq!(records[0]["id"], run_id.as_str());
    assert_eq!(records[0]["counts"]["created"], sim.litert_truth().len());
    let shown = cli(vec!["runs", "show", &run_id]).await;
    assert!(
        text(&shown).contains(&format!("run {run_id} (manual, success)")),
        "{}",
        text(&shown)
    );
    let record: serde_json::Value =
        serde_json::from_slice(&cli(vec!["runs", "show", &run_id, "--json"]).await.stdout).unwrap();
    assert_eq!(
        record, records[0],
        "one record, whichever command prints it"
    );
    assert_eq!(record, printed, "`sync --json` prints the run's record");
    let missing = cli(vec!["runs", "show", "00000000-0000-0000-0000-000000000000"]).await;
    assert_eq!(missing.status.code(), Some(2));

    let status = cli(vec!["schedule", "status"]).await;
    assert!(
        text(&status).starts_with("schedule hf_litert_sync: active since "),
        "{}",
        text(&status)
    );
    assert!(cli(vec!["schedule", "pause"]).await.status.success());
    let paused: serde_json::Value =
        serde_json::from_slice(&cli(vec!["schedule", "status", "--json"]).await.stdout).unwrap();
    assert_eq!(paused["paused"], true);
    assert_eq!(paused["last_run"]["id"], run_id.as_str());
    assert!(cli(vec!["schedule", "resume"]).await.status.success());
    let resumed = cli(vec!["schedule", "status"]).await;
    assert!(
        text(&resumed).contains(": active since "),
        "{}",
        text(&resumed)
    );

    assert!(cli(vec!["token", "create", "--username", "ops", "--admin"])
        .await
        .status
        .success());
    let dev = cli(vec![
        "user",
        "create",
        "--username",
        "dev",
        "--email",
        "dev@example.com",
        "--developer",
    ])
    .await;
    assert!(dev.status.success());
    let users = text(&cli(vec!["user", "list"]).await);
    assert!(
        users
            .lines()
            .any(|l| l.starts_with("dev\tdev@example.com\tdeveloper\t")),
        "{users}"
    );
    assert!(
        users
            .lines()
            .any(|l| l.starts_with("ops\t") && l.contains("\tadmin")),
        "{users}"
    );
    let demoted = cli(vec!["user", "demote", "--username", "ops", "--admin"]).await;
    assert!(
        demoted.status.success(),
        "{}",
        String::from_utf8_lossy(&demoted.stderr)
    );
    let listed: serde_json::Value =
        serde_json::from_slice(&cli(vec!["user", "list", "--json"]).await.stdout).unwrap();
    let ops = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "ops")
        .unwrap();
    assert_eq!(ops["is_admin"], false);
    let nothing = cli(vec!["user", "demote", "--username", "dev"]).await;
    assert_eq!(nothing.status.code(), Some(2));
}

/// A manual sync answers at once when asked (`Prefer: respond-async`, RFC 7240), and never waits past
/// `POCKET_SYNC_WAIT_SECS`: a run still going then is answered 202 with its id and where to follow it,
/// and completes in the background (issue #35: the request held the connection 103 s in silence).
#[tokio::test]
async fn a_manual_sync_answers_202_when_asked_or_when_it_runs_past_the_wait_limit() {
    use axum::body::Body;
    use axum::http::Request;
    let sim = SimHandle::start(30, 0, 3).await;
    let mut config = crate::support::serve_config(&sim);
    config.sync_wait = Duration::from_secs(1);
    // Every batch's transaction held 1.5 s, as on a slow disk: the run outlasts the wait.
    config.sync.sync_bench_write_delay = Duration::from_millis(1500);
    let app = TestApp::with_config(Backend::Sqlite, config).await;
    let admin = app.token(Role::Admin).await;
    let follow = |run_id: String| {
        let (app, admin) = (&app, &admin);
        async move {
            for _ in 0..400 {
                let run = app.get(&format!("/sync/runs/{run_id}"), Some(admin)).await;
                if run.body["status"] != "running" {
                    return run.body["status"].as_str().unwrap().to_string();
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            "still running".to_string()
        }
    };
    let asked = app
        .raw(
            Request::post("/sync/huggingface/litert")
                .header("authorization", format!("Bearer {admin}"))
                .header("prefer", "respond-async, wait=100")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
    assert_eq!(asked.header("preference-applied"), Some("respond-async"));
    let run_id = asked.body["run_id"].as_str().unwrap().to_string();
    assert_eq!(
        asked.header("location"),
        Some(format!("/sync/runs/{run_id}").as_str())
    );
    assert_eq!(follow(run_id).await, "success");

    // Half the Hub changes: the next run has batches to write.
    assert!(!sim.sim.touch(50.0).is_empty());
    let started = std::time::Instant::now();
    let waited = app
        .post(
            "/sync/huggingface/litert",
            Some(&admin),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(waited.status, StatusCode::ACCEPTED, "{}", waited.body);
    assert!(started.elapsed() < Duration::from_secs(10));
    let run_id = waited.body["run_id"].as_str().unwrap().to_string();
    assert_eq!(
        waited.body["detail"],
        format!("Sync still running after 1 s; follow /sync/runs/{run_id}")
    );
    assert_eq!(
        follow(run_id).await,
        "success",
        "it completed in the background"
    );
}
