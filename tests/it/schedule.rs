//! The schedule: one run per slot and never two active runs across replicas (also with concurrent manual
//! triggers and a skewed clock), takeover of a killed replica's run, catch-up after downtime, pause and
//! resume, graceful shutdown leaving the run resumable.

use crate::both_backends;
use crate::support::{serve_config, syncer, Backend, Role, SimHandle, TestApp, TestDb};
use axum::http::StatusCode;
use pocket_catalog::domain::records::SyncRun;
use pocket_catalog::domain::{RunStatus, Trigger};
use pocket_catalog::schedule::{Schedule, ScheduleConfig, Scheduler, TickOutcome, JOB_ID};
use pocket_catalog::store::Store;
use serde_json::json;
use std::process::Stdio;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

both_backends!(
    replicas_run_each_slot_once_and_never_overlap,
    a_killed_replicas_run_is_taken_over_and_completes,
    a_restart_after_a_missed_slot_runs_it_once,
    pause_resume_and_status,
    shutdown_leaves_the_run_resumable,
    a_startup_run_is_recorded,
);

fn schedule(expr: &str, tick_ms: u64) -> ScheduleConfig {
    ScheduleConfig {
        schedule: Schedule::parse(expr, "UTC").unwrap(),
        enabled: true,
        on_startup: false,
        catchup_window: Duration::from_secs(24 * 3600),
        tick: Duration::from_millis(tick_ms),
        clock_offset: chrono::Duration::zero(),
    }
}

async fn all_runs(store: &Store) -> Vec<SyncRun> {
    let mut runs = store.list_runs(10_000, None).await.unwrap();
    runs.reverse();
    runs
}

async fn replicas_run_each_slot_once_and_never_overlap(backend: Backend) {
    let sim = SimHandle::start(30, 0, 21).await;
    let db = TestDb::new(backend).await;
    let cancel = CancellationToken::new();
    let mut handles = Vec::new();
    let mut stores = Vec::new();
    for replica in 0..3 {
        // Each replica has its own connection pool, owner id and (for one of them) a skewed clock.
        let store = db.store().await;
        let s = syncer(&store, &sim, |c| c.lease_ttl = Duration::from_secs(5));
        let mut config = schedule("*/2 * * * * *", 150);
        if replica == 2 {
            config.clock_offset = chrono::Duration::milliseconds(1500);
        }
        let scheduler = Scheduler::new(store.clone(), s.clone(), config);
        handles.push(tokio::spawn(scheduler.run(cancel.clone())));
        // Manual triggers on every replica, all the time.
        let (cancel, s) = (cancel.clone(), s.clone());
        handles.push(tokio::spawn(async move {
            while !cancel.is_cancelled() {
                let _ = s.run_once(Trigger::Manual, cancel.child_token()).await;
                tokio::time::sleep(Duration::from_millis(170 + 40 * replica)).await;
            }
        }));
        stores.push(store);
    }
    tokio::time::sleep(Duration::from_secs(9)).await;
    cancel.cancel();
    for h in handles {
        h.await.unwrap();
    }
    let runs = all_runs(&stores[0]).await;
    let scheduled: Vec<&SyncRun> = runs
        .iter()
        .filter(|r| r.trigger == Trigger::Schedule)
        .collect();
    assert!(scheduled.len() >= 3, "slots were run: {}", scheduled.len());
    let manual = runs.iter().filter(|r| r.trigger == Trigger::Manual).count();
    assert!(manual >= 3, "manual runs happened too: {manual}");
    // One record per slot, slots every 2 s without a gap between the first and the last.
    let mut slots: Vec<_> = scheduled.iter().map(|r| r.scheduled_for.unwrap()).collect();
    slots.sort();
    for pair in slots.windows(2) {
        assert_eq!((pair[1] - pair[0]).num_seconds(), 2, "{slots:?}");
    }
    let ran = scheduled
        .iter()
        .filter(|r| r.status != RunStatus::Missed)
        .count();
    assert!(
        ran * 2 >= scheduled.len(),
        "most slots ran: {ran} of {}",
        scheduled.len()
    );
    // Never two active runs: the runs' intervals do not overlap.
    let mut spans: Vec<_> = runs
        .iter()
        .filter(|r| r.status != RunStatus::Missed)
        // A run interrupted by the final cancel stays running (resumable): open-ended, and last.
        .map(|r| {
            (
                r.started_at,
                r.finished_at
                    .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC),
            )
        })
        .collect();
    spans.sort();
    for pair in spans.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "overlapping runs: {pair:?}");
    }
    assert!(
        runs.iter()
            .filter(|r| r.status == RunStatus::Running)
            .count()
            <= 1
    );
}

async fn a_killed_replicas_run_is_taken_over_and_completes(backend: Backend) {
    let sim = SimHandle::start(3_000, 0, 22).await;
    sim.sim.set_faults(pocket_catalog::hubsim::Faults {
        latency_ms: 30,
        ..Default::default()
    });
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut replica_a = tokio::process::Command::new(env!("CARGO_BIN_EXE_pocket-catalog"))
        .args([
            "--database-url",
            &db.url,
            "serve",
            "--addr",
            &format!("127.0.0.1:{port}"),
        ])
        .env("HF_ENDPOINT", &sim.url)
        .env("SYNC_PULL_VERSIONS", "false")
        .env("SYNC_REQUIRE_MODEL_FILE", "false")
        .env("SYNC_SCHEDULE", "*/1 * * * * *")
        .env("SYNC_SCHEDULER_TICK", "1")
        .env("SYNC_LEASE_SECS", "2")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut victim = None;
    for _ in 0..1000 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if let Some(run) = store.list_runs(1, None).await.unwrap().into_iter().next() {
            if run.status == RunStatus::Running && run.counts.created > 0 {
                replica_a.start_kill().unwrap();
                victim = Some(run.id);
                break;
            }
        }
    }
    replica_a.wait().await.unwrap();
    let victim = victim.expect("replica A was caught mid-run");
    sim.sim.set_faults(Default::default());
    let s = syncer(&store, &sim, |c| c.lease_ttl = Duration::from_secs(2));
    // Replica B never sees a slot of its own (a yearly schedule); it only takes over.
    let b = Scheduler::new(store.clone(), s, schedule("0 0 1 1 *", 100));
    let outcome = loop {
        match b.tick(&CancellationToken::new()).await.unwrap() {
            TickOutcome::Idle => tokio::time::sleep(Duration::from_millis(200)).await,
            other => break other,
        }
    };
    assert_eq!(
        outcome,
        TickOutcome::Resumed {
            run_id: victim,
            status: RunStatus::Success
        }
    );
    let run = store.get_run(victim).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Success);
    assert_eq!(run.trigger, Trigger::Schedule);
    assert_eq!(
        store.active_synced().await.unwrap().len(),
        sim.litert_truth().len()
    );
    assert_eq!(
        run.counts.created as usize,
        sim.litert_truth().len(),
        "the resumed run kept its first attempt's count"
    );
}

async fn a_restart_after_a_missed_slot_runs_it_once(backend: Backend) {
    let sim = SimHandle::start(20, 0, 23).await;
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let s = syncer(&store, &sim, |_| {});
    let real_now = store.db_now().await.unwrap();
    let hourly = Schedule::parse("0 * * * *", "UTC").unwrap();
    let due = hourly.latest_at_or_before(real_now).unwrap();
    // The service first started 3 h 20 min before the due slot and was down since.
    store
        .scheduler_state(JOB_ID, due - chrono::Duration::minutes(200))
        .await
        .unwrap();
    let mut config = schedule("0 * * * *", 100);
    config.clock_offset = (due + chrono::Duration::minutes(5)) - real_now;
    let scheduler = Scheduler::new(store.clone(), s.clone(), config.clone());
    let first = scheduler.tick(&CancellationToken::new()).await.unwrap();
    assert!(
        matches!(
            first,
            TickOutcome::Ran {
                status: RunStatus::Success,
                ..
            }
        ),
        "{first:?}"
    );
    assert_eq!(
        scheduler.tick(&CancellationToken::new()).await.unwrap(),
        TickOutcome::Idle,
        "once"
    );
    let runs = all_runs(&store).await;
    let statuses: Vec<(RunStatus, chrono::DateTime<chrono::Utc>)> = runs
        .iter()
        .map(|r| (r.status, r.scheduled_for.unwrap()))
        .collect();
    assert_eq!(
        statuses,
        vec![
            (RunStatus::Missed, due - chrono::Duration::hours(3)),
            (RunStatus::Missed, due - chrono::Duration::hours(2)),
            (RunStatus::Missed, due - chrono::Duration::hours(1)),
            (RunStatus::Success, due),
        ]
    );
    // Next hour, the service was down for 2 h and the catch-up window is 1 minute: nothing runs.
    let mut late = config.clone();
    late.catchup_window = Duration::from_secs(60);
    late.clock_offset = (due + chrono::Duration::minutes(125)) - real_now;
    let scheduler = Scheduler::new(store.clone(), s, late);
    assert_eq!(
        scheduler.tick(&CancellationToken::new()).await.unwrap(),
        TickOutcome::Idle
    );
    let runs = all_runs(&store).await;
    assert_eq!(runs.len(), 6);
    assert!(runs[4..].iter().all(|r| r.status == RunStatus::Missed));
    assert!(
        runs[5].message.contains("catch-up window"),
        "{}",
        runs[5].message
    );
}

async fn pause_resume_and_status(backend: Backend) {
    let sim = SimHandle::start(20, 0, 24).await;
    let app = TestApp::with_config(backend, serve_config(&sim)).await;
    let admin = app.token(Role::Admin).await;
    let status = app.get("/admin/scheduler/status", Some(&admin)).await;
    assert_eq!(status.status, StatusCode::OK, "{}", status.body);
    let job = &status.body["jobs"][0];
    assert_eq!(status.body["running"], true);
    assert_eq!(job["id"], "hf_litert_sync");
    assert_eq!(job["name"], "HuggingFace LiteRT Model Sync");
    assert_eq!(job["schedule"], "0 2 * * *");
    assert_eq!(job["timezone"], "UTC");
    assert_eq!(job["paused"], false);
    let next: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(job["next_run_time"].clone()).unwrap();
    assert_eq!(next.format("%H:%M:%S").to_string(), "02:00:00");
    assert!(job["last_run"].is_null());

    let paused = app
        .post("/admin/scheduler/pause", Some(&admin), json!({}))
        .await;
    assert_eq!(paused.body["jobs"][0]["paused"], true);
    assert!(paused.body["jobs"][0]["next_run_time"].is_null());
    assert_eq!(
        app.post(
            "/admin/scheduler/pause",
            Some(&app.token(Role::Developer).await),
            json!({})
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get("/admin/scheduler/status", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Manual runs still work while paused, and show up as the last run.
    app.full_sync(&admin).await;
    let resumed = app
        .post("/admin/scheduler/resume", Some(&admin), json!({}))
        .await;
    assert_eq!(resumed.body["jobs"][0]["paused"], false);
    assert!(resumed.body["jobs"][0]["next_run_time"].is_string());
    assert_eq!(resumed.body["jobs"][0]["last_run"]["trigger"], "manual");

    // Slots passing while paused are recorded as missed, not run.
    let store = &app.store;
    let s = syncer(store, &sim, |_| {});
    let every_second = Scheduler::new(store.clone(), s, schedule("* * * * * *", 100));
    store.set_paused(JOB_ID, true).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        every_second.tick(&CancellationToken::new()).await.unwrap(),
        TickOutcome::Idle
    );
    let last = store.list_runs(1, None).await.unwrap().remove(0);
    assert_eq!(last.status, RunStatus::Missed);
    assert!(last.message.contains("paused"));
}

async fn shutdown_leaves_the_run_resumable(backend: Backend) {
    let sim = SimHandle::start(2_000, 0, 25).await;
    sim.sim.set_faults(pocket_catalog::hubsim::Faults {
        latency_ms: 20,
        ..Default::default()
    });
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let s = syncer(&store, &sim, |_| {});
    let claimed = s.claim(Trigger::Manual, None).await.unwrap();
    let run_id = claimed.id();
    let cancel = CancellationToken::new();
    let task = tokio::spawn({
        let s = s.clone();
        let cancel = cancel.clone();
        async move { s.execute(claimed, cancel).await }
    });
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if store.get_run(run_id).await.unwrap().unwrap().counts.created > 0 {
            break;
        }
    }
    cancel.cancel();
    let report = task.await.unwrap();
    assert_eq!(report.status, RunStatus::Running);
    assert_eq!(
        store.get_run(run_id).await.unwrap().unwrap().status,
        RunStatus::Running
    );
    let holder = store.lease_holder().await.unwrap();
    assert!(!holder.live, "the lease was released at once");
    assert_eq!(holder.run_id, Some(run_id));
    sim.sim.set_faults(Default::default());
    let other = syncer(&store, &sim, |_| {});
    let scheduler = Scheduler::new(store.clone(), other, schedule("0 0 1 1 *", 100));
    let outcome = scheduler.tick(&CancellationToken::new()).await.unwrap();
    assert_eq!(
        outcome,
        TickOutcome::Resumed {
            run_id,
            status: RunStatus::Success
        }
    );
    assert_eq!(
        store.active_synced().await.unwrap().len(),
        sim.litert_truth().len()
    );
}

async fn a_startup_run_is_recorded(backend: Backend) {
    let sim = SimHandle::start(15, 0, 26).await;
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let mut config = schedule("0 0 1 1 *", 100);
    config.on_startup = true;
    let scheduler = Scheduler::new(store.clone(), syncer(&store, &sim, |_| {}), config);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(scheduler.run(cancel.clone()));
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(25)).await;
        if store
            .list_runs(1, None)
            .await
            .unwrap()
            .first()
            .is_some_and(|r| r.status == RunStatus::Success)
        {
            break;
        }
    }
    cancel.cancel();
    task.await.unwrap();
    let runs = all_runs(&store).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(
        (runs[0].trigger, runs[0].status),
        (Trigger::Startup, RunStatus::Success)
    );
}
