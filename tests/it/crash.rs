//! The crash suite: the real `pocket-catalog sync` killed with SIGKILL at three points of a run (mid
//! listing, during the detail step, during the confirmation of removals), on both backends. After each
//! kill the database is intact, holds no half-written record, and the next run — started at once, well
//! inside the dead owner's 60-second lease, because its liveness lock died with it — completes to the
//! simulator's truth. A stopped (SIGSTOP) owner is alive: it is taken over only after its lease — on
//! PostgreSQL also when it was stopped inside a write batch, holding the lease row.

use crate::both_backends;
use crate::support::{
    active_object_ids, all_synced, assert_catalog_equals_truth, has_model_file, syncer, Backend,
    SimHandle, TestDb,
};
use pocket_catalog::domain::records::SyncRun;
use pocket_catalog::domain::{RunStatus, Trigger, UpstreamStatus};
use pocket_catalog::hubsim::{Faults, Stats};
use pocket_catalog::store::Store;
use pocket_catalog::sync::{ClaimError, RunReport, SyncConfig};
use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Child;

both_backends!(
    a_sync_killed_with_sigkill_leaves_no_partial_data_and_the_next_run_completes,
    a_sync_killed_during_the_detail_step_leaves_no_model_without_its_version,
    a_sync_killed_while_confirming_removals_loses_nothing_and_the_next_run_removes_them,
    a_stopped_owner_is_taken_over_only_after_its_lease_and_then_cannot_write,
    sync_names_the_live_run_it_yields_to_and_wait_runs_after_it,
);

/// Slow enough to be caught mid-run: every Hub request takes 40 ms.
fn slow() -> Faults {
    Faults {
        latency_ms: 40,
        ..Default::default()
    }
}

/// The real binary syncing `db` from `sim` with a lease of `lease_secs`.
fn spawn_sync(db: &TestDb, sim: &SimHandle, versions: bool, lease_secs: u64) -> Child {
    spawn_sync_with(db, sim, versions, lease_secs, &[])
}

/// [`spawn_sync`] with more arguments to `sync`.
fn spawn_sync_with(
    db: &TestDb,
    sim: &SimHandle,
    versions: bool,
    lease_secs: u64,
    more: &[&str],
) -> Child {
    let flag = if versions { "true" } else { "false" };
    tokio::process::Command::new(env!("CARGO_BIN_EXE_pocket-catalog"))
        .args(["--database-url", &db.url, "sync", "--hf-endpoint", &sim.url])
        .args(more)
        .args(["--sync-pull-versions", flag])
        .args(["--sync-require-model-file", flag])
        .args(["--sync-lease-secs", &lease_secs.to_string()])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn pocket-catalog sync")
}

/// Polls the newest run and the simulator's counters every 20 ms; SIGKILLs the child as soon as `at`
/// holds and returns the run as it was recorded at that moment.
async fn kill_when(
    child: &mut Child,
    store: &Store,
    sim: &SimHandle,
    at: impl Fn(&SyncRun, &Stats) -> bool,
) -> SyncRun {
    for _ in 0..1500 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let runs = store.list_runs(1, None).await.unwrap();
        if let Some(run) = runs.into_iter().next() {
            if run.status == RunStatus::Running && at(&run, &sim.sim.stats()) {
                child.start_kill().unwrap();
                child.wait().await.unwrap();
                return store.get_run(run.id).await.unwrap().unwrap();
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the sync ended ({status}) before the kill point was reached");
        }
    }
    panic!("the kill point was never reached");
}

/// The killed runs' lease: a minute, so a successor that got in did not wait for it to expire.
const KILLED_LEASE_SECS: u64 = 60;

/// The next run, at once, with the simulator healthy again. The dead owner's lease has not expired;
/// only its liveness lock is gone. (The kernel closes a killed process's files at once; PostgreSQL
/// ends its session as soon as it reads the closed socket, so a claim is retried for up to 3 s.)
async fn next_run(store: &Store, sim: &SimHandle, tweak: impl Fn(&mut SyncConfig)) -> RunReport {
    sim.sim.set_faults(Faults::default());
    let s = syncer(store, sim, |c| {
        c.lease_ttl = Duration::from_secs(2);
        tweak(c)
    });
    let started = std::time::Instant::now();
    loop {
        match s.run_once(Trigger::Manual, Default::default()).await {
            Ok(report) => return report,
            Err(ClaimError::Busy { holder, .. }) if started.elapsed() < Duration::from_secs(3) => {
                assert!(holder.unwrap().owner_locked, "the dead owner held the lock");
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("the next run must start inside the dead owner's lease: {e:?}"),
        }
    }
}

/// The database file is sound (SQLite's own check; PostgreSQL is crash-safe by its WAL) and the killed
/// run is recorded as failed (abandoned) by its successor.
async fn assert_intact_and_killed_run_recorded(db: &TestDb, store: &Store, killed: &SyncRun) {
    if db.url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        let check: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(check, "ok");
    }
    let after = store.get_run(killed.id).await.unwrap().unwrap();
    assert_eq!(after.status, RunStatus::Failed);
    let error = after.error.unwrap();
    assert!(
        error.contains("abandoned: its owner's process is gone"),
        "{error}"
    );
}

/// Wakes a stopped owner (SIGCONT) whose run was taken over: it ends reporting a failure, and the
/// catalog holds no more mirrored models than before.
async fn wake_and_see_it_fail(child: &mut Child, store: &Store) {
    let before = store.active_synced().await.unwrap().len();
    signal(child, "CONT");
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("the woken owner stops")
        .unwrap();
    assert!(!status.success(), "the fenced-out owner reports a failure");
    assert_eq!(store.active_synced().await.unwrap().len(), before);
}

fn signal(child: &Child, name: &str) {
    let pid = child.id().expect("running").to_string();
    let ok = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{name} {pid}");
}

async fn a_stopped_owner_is_taken_over_only_after_its_lease_and_then_cannot_write(
    backend: Backend,
) {
    const LEASE_SECS: u64 = 3;
    let sim = SimHandle::start(3_000, 0, 16).await;
    sim.sim.set_faults(slow());
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let mut child = spawn_sync(&db, &sim, false, LEASE_SECS);
    let mut stopped = None;
    for _ in 0..1500 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let run = store.list_runs(1, None).await.unwrap().into_iter().next();
        if let Some(run) = run.filter(|r| r.status == RunStatus::Running && r.counts.created > 0) {
            signal(&child, "STOP");
            stopped = Some(run);
            break;
        }
    }
    let stopped = stopped.expect("the run got under way");
    let stopped_at = std::time::Instant::now();
    sim.sim.set_faults(Faults::default());
    let s = syncer(&store, &sim, |c| {
        c.lease_ttl = Duration::from_secs(LEASE_SECS)
    });

    // Inside its lease the stopped owner is alive: its liveness lock is held.
    match s.claim(Trigger::Manual, None).await {
        Err(ClaimError::Busy { run_id, holder }) => {
            assert_eq!(run_id, Some(stopped.id));
            let holder = holder.unwrap();
            assert!(holder.live && holder.owner_locked, "{holder:?}");
        }
        other => panic!("a stopped owner is not taken over inside its lease: {other:?}"),
    }
    let report = loop {
        match s.run_once(Trigger::Manual, Default::default()).await {
            Ok(report) => break report,
            Err(ClaimError::Busy { .. }) => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => panic!("{e}"),
        }
    };
    assert!(
        stopped_at.elapsed() >= Duration::from_secs(LEASE_SECS) - Duration::from_millis(500),
        "taken over only once the lease expired ({:?})",
        stopped_at.elapsed()
    );
    assert_eq!(report.status, RunStatus::Success, "{report:?}");
    let after = store.get_run(stopped.id).await.unwrap().unwrap();
    assert_eq!(after.status, RunStatus::Failed);
    assert!(after.error.unwrap().contains("stopped renewing"));

    // Woken up, the old owner finds its lease gone: it writes nothing and ends.
    wake_and_see_it_fail(&mut child, &store).await;
    assert_catalog_equals_truth(&store, &sim).await;
    assert_eq!(
        store.get_run(stopped.id).await.unwrap().unwrap().status,
        RunStatus::Failed
    );
}

async fn a_sync_killed_with_sigkill_leaves_no_partial_data_and_the_next_run_completes(
    backend: Backend,
) {
    let sim = SimHandle::start(4_000, 0, 13).await;
    sim.sim.set_faults(slow());
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let mut child = spawn_sync(&db, &sim, false, KILLED_LEASE_SECS);
    // Killed once it has committed some pages but not all.
    let killed = kill_when(&mut child, &store, &sim, |run, _| run.counts.created > 0).await;
    let truth = sim.litert_truth();
    let stored = store.active_synced().await.unwrap();
    assert!(stored.len() < truth.len(), "killed before the end");
    assert_eq!(
        stored.len() as i64,
        killed.counts.created,
        "the run's counters equal what was committed"
    );

    let report = next_run(&store, &sim, |_| {}).await;
    assert_eq!(report.status, RunStatus::Success, "{report:?}");
    assert_eq!(report.counts.created as usize + stored.len(), truth.len());
    assert_eq!(store.active_synced().await.unwrap().len(), truth.len());
    assert_catalog_equals_truth(&store, &sim).await;
    assert_intact_and_killed_run_recorded(&db, &store, &killed).await;
}

async fn a_sync_killed_during_the_detail_step_leaves_no_model_without_its_version(
    backend: Backend,
) {
    let sim = SimHandle::start(1_500, 0, 14).await;
    sim.sim.set_faults(slow());
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let mut child = spawn_sync(&db, &sim, true, KILLED_LEASE_SECS);
    // Killed with a page's versions committed and the next page's detail requests in flight.
    let killed = kill_when(&mut child, &store, &sim, |run, stats| {
        let detail_requests = stats.model_info + stats.tree;
        run.counts.versions_created > 0 && detail_requests > run.counts.versions_created as u64 + 8
    })
    .await;
    let truth: BTreeSet<String> = sim
        .litert_truth()
        .into_iter()
        .filter(has_model_file)
        .map(|r| r.object_id)
        .collect();
    let stored = all_synced(&store).await;
    assert!(
        !stored.is_empty() && stored.len() < truth.len(),
        "killed mid-way"
    );
    for m in &stored {
        let versions = store.list_versions(m.id).await.unwrap();
        assert_eq!(versions.len(), 1, "{:?} has no version", m.hf_model_id);
        assert!(!versions[0].assets.is_empty());
    }
    assert_eq!(stored.len() as i64, killed.counts.versions_created);

    let report = next_run(&store, &sim, |c| {
        c.pull_versions = true;
        c.require_model_file = true;
    })
    .await;
    assert_eq!(report.status, RunStatus::Success, "{report:?}");
    assert_eq!(active_object_ids(&store).await, truth);
    let repos = sim.litert_truth();
    for m in all_synced(&store).await {
        let oid = m.upstream.as_ref().unwrap().object_id.clone();
        let repo = repos.iter().find(|r| r.object_id == oid).unwrap();
        let versions = store.list_versions(m.id).await.unwrap();
        assert_eq!(versions.len(), 1, "exactly one version, no duplicate");
        assert_eq!(
            versions[0].hf_commit_sha.as_deref(),
            Some(repo.sha.as_str())
        );
    }
    assert_intact_and_killed_run_recorded(&db, &store, &killed).await;
}

async fn a_sync_killed_while_confirming_removals_loses_nothing_and_the_next_run_removes_them(
    backend: Backend,
) {
    let sim = SimHandle::start(3_000, 0, 15).await;
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let first = next_run(&store, &sim, |_| {}).await;
    assert_eq!(first.status, RunStatus::Success);
    let before = active_object_ids(&store).await;
    let change = sim.sim.mutate();
    let gone = change.removed.len() + change.privatised.len();
    assert!(gone > 20, "enough removals to be caught among them: {gone}");

    sim.sim.reset_stats();
    sim.sim.set_faults(slow());
    let mut child = spawn_sync(&db, &sim, false, KILLED_LEASE_SECS);
    // Every listing page is fetched; the confirmations of the missing repos are under way.
    let killed = kill_when(&mut child, &store, &sim, |_, stats| stats.model_info >= 10).await;
    let stored = all_synced(&store).await;
    let removed_now = stored
        .iter()
        .filter(|m| m.upstream.as_ref().unwrap().status != Some(UpstreamStatus::Active))
        .count();
    assert_eq!(removed_now, 0, "nothing is removed before it is confirmed");
    assert_eq!(killed.counts.removed, 0);
    let truth: BTreeSet<String> = sim
        .litert_truth()
        .into_iter()
        .map(|r| r.object_id)
        .collect();
    let still_upstream: BTreeSet<String> = before.intersection(&truth).cloned().collect();
    assert!(
        active_object_ids(&store).await.is_superset(&still_upstream),
        "every repo still upstream is still active"
    );

    let report = next_run(&store, &sim, |_| {}).await;
    assert_eq!(report.status, RunStatus::Success, "{report:?}");
    assert_eq!(report.counts.removed as usize, gone);
    assert_catalog_equals_truth(&store, &sim).await;
    assert_intact_and_killed_run_recorded(&db, &store, &killed).await;
}

/// `pocket-catalog sync` beside a live run: names it and exits 1; with `--wait`, runs once it has ended.
/// Their output goes to pipes here, so it carries no colour codes.
async fn sync_names_the_live_run_it_yields_to_and_wait_runs_after_it(backend: Backend) {
    let sim = SimHandle::start(1_500, 0, 17).await;
    sim.sim.set_faults(slow());
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let mut live = spawn_sync(&db, &sim, false, KILLED_LEASE_SECS);
    let live_pid = live.id().unwrap();
    let mut running = None;
    for _ in 0..1500 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let run = store.list_runs(1, None).await.unwrap().into_iter().next();
        if let Some(run) = run.filter(|r| r.status == RunStatus::Running) {
            running = Some(run);
            break;
        }
    }
    let running = running.expect("the first run started");
    let command = |wait: bool| {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_pocket-catalog"));
        cmd.args(["--database-url", &db.url, "sync", "--hf-endpoint", &sim.url])
            .args(["--sync-pull-versions", "false"])
            .env("RUST_LOG", "info")
            .env_remove("NO_COLOR")
            .kill_on_drop(true);
        if wait {
            cmd.arg("--wait");
        }
        cmd
    };

    let refused = command(false).output().await.unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    for needle in [
        format!("a sync is already running: run {}", running.id),
        format!("pid {live_pid}"),
        "started ".to_string(),
        "its lease expires ".to_string(),
        "--wait".to_string(),
    ] {
        assert!(
            stderr.contains(&needle),
            "{needle:?} missing from: {stderr}"
        );
    }

    let waited = command(true).output().await.unwrap();
    let stderr = String::from_utf8_lossy(&waited.stderr);
    let stdout = String::from_utf8_lossy(&waited.stdout);
    assert!(waited.status.success(), "{stderr}");
    assert!(stderr.contains("waiting for it to end"), "{stderr}");
    assert!(
        stdout.starts_with("Successfully synced LiteRT models."),
        "{stdout}"
    );
    assert!(
        !stderr.contains('\x1b') && !stdout.contains('\x1b'),
        "no colour codes in a pipe: {stderr}"
    );
    let first = live.wait().await.unwrap();
    assert!(first.success());
    let runs = store.list_runs(2, None).await.unwrap();
    assert_eq!(runs[1].id, running.id);
    assert_eq!(runs[1].status, RunStatus::Success);
    assert!(
        runs[0].started_at >= runs[1].finished_at.unwrap(),
        "--wait ran after it"
    );
    assert_catalog_equals_truth(&store, &sim).await;
}

/// PostgreSQL: an owner stopped (SIGSTOP) inside a write batch holds the lease row in its open
/// transaction. The server ends that transaction once it has sat idle for a lease's time, so a
/// successor takes over — it would wait on the row for ever otherwise — and the woken owner, its
/// session gone, writes nothing of its batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_stopped_inside_a_write_batch_is_taken_over_once_the_server_ends_its_transaction()
{
    const LEASE_SECS: u64 = 3;
    let sim = SimHandle::start(600, 0, 17).await;
    let db = TestDb::new(Backend::Postgres).await;
    let store = db.store().await;
    let watch = sqlx::PgPool::connect(&db.url).await.unwrap();
    // Each batch holds its transaction 2 s (a slow disk): time to catch the owner inside one.
    let more = ["--sync-bench-write-delay-ms", "2000"];
    let mut child = spawn_sync_with(&db, &sim, false, LEASE_SECS, &more);
    let mut inside = false;
    for _ in 0..1500 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        // The owner's batch session, idle in its transaction right after renewing the lease.
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND state = 'idle in transaction' AND query LIKE 'UPDATE sync_lease%'",
        )
        .fetch_one(&watch)
        .await
        .unwrap();
        if waiting > 0 {
            signal(&child, "STOP");
            inside = true;
            break;
        }
    }
    assert!(inside, "the owner never held a batch open");
    let stopped = store.list_runs(1, None).await.unwrap().remove(0);
    assert_eq!(stopped.status, RunStatus::Running);
    let s = syncer(&store, &sim, |c| {
        c.lease_ttl = Duration::from_secs(LEASE_SECS)
    });
    let report = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match s.run_once(Trigger::Manual, Default::default()).await {
                Ok(report) => break report,
                Err(ClaimError::Busy { .. }) => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Err(e) => panic!("{e}"),
            }
        }
    })
    .await
    .expect("the successor is not kept waiting by the frozen owner's transaction");
    assert_eq!(report.status, RunStatus::Success, "{report:?}");
    let after = store.get_run(stopped.id).await.unwrap().unwrap();
    assert_eq!(after.status, RunStatus::Failed);
    // Woken up, its session ended by the server, it writes nothing of its batch and ends.
    wake_and_see_it_fail(&mut child, &store).await;
    assert_catalog_equals_truth(&store, &sim).await;
    watch.close().await;
}

/// A generate-pipeline-all job recorded as a run (a second request meanwhile is told about it), its
/// `serve` killed with SIGKILL mid-job: the record stays `running` only until a `serve` sees that it recorded no progress for two minutes (here: its
/// times set back, as two minutes later) — at startup the new process marks it failed, saying why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_killed_with_sigkill_is_marked_failed_by_the_next_serve() {
    use crate::support::{execute_raw, run_cli, Served};
    let sim = SimHandle::start(30, 0, 7).await;
    let db = TestDb::new(Backend::Sqlite).await;
    let store = db.store().await;
    let admin = run_cli(&db, &["token", "create", "--username", "ops", "--admin"]);
    let env = [
        ("HF_ENDPOINT", sim.url.as_str()),
        ("SYNC_ENABLED", "false"),
        ("RUST_LOG", "warn"),
    ];
    let mut served = Served::start(&db, &env).await;
    let http = reqwest::Client::new();
    let api = format!("{}/api/v1", served.base);
    let synced = http
        .post(format!("{api}/sync/huggingface/litert"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert!(synced.status().is_success());
    // The simulator's files are not models: every version is `missing`, and the job takes them all,
    // slowly.
    sim.sim.set_faults(Faults {
        latency_ms: 400,
        ..Default::default()
    });
    let started = http
        .post(format!("{api}/versions/generate-pipeline-all"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert!(started.status().is_success());
    let job = store.list_runs(1, None).await.unwrap().remove(0);
    assert_eq!(job.trigger, Trigger::Inspection);
    assert_eq!(job.status, RunStatus::Running);
    // One job at a time: asking again (either job) is told about the running one and starts nothing.
    let again: serde_json::Value = http
        .post(format!("{api}/versions/retry-segmentation"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["status"], "processing", "{again}");
    let told = again["message"].as_str().unwrap();
    assert!(
        told.starts_with(&format!(
            "Pipeline generation is already running (run {})",
            job.id
        )),
        "{told}"
    );
    assert_eq!(store.list_runs(5, None).await.unwrap()[0].id, job.id);
    served.child.start_kill().unwrap();
    served.child.wait().await.unwrap();
    let after_kill = store.get_run(job.id).await.unwrap().unwrap();
    assert_eq!(
        after_kill.status,
        RunStatus::Running,
        "nobody ended it: {after_kill:?}"
    );

    // A serve started at once leaves it alone (it may be another replica's, alive)…
    sim.sim.set_faults(Faults::default());
    let next = Served::start(&db, &env).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        store.get_run(job.id).await.unwrap().unwrap().status,
        RunStatus::Running
    );
    next.stop().await;
    // …and one started after two silent minutes marks it failed.
    execute_raw(
        &db,
        &format!(
            "UPDATE sync_runs SET started_at = '2000-01-01T00:00:00+00:00', heartbeat_at = NULL \
             WHERE id = x'{}'",
            job.id.simple()
        ),
    )
    .await;
    let last = Served::start(&db, &env).await;
    let mut ended = None;
    for _ in 0..200 {
        let run = store.get_run(job.id).await.unwrap().unwrap();
        if run.status != RunStatus::Running {
            ended = Some(run);
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let ended = ended.expect("the job is marked failed");
    assert_eq!(ended.status, RunStatus::Failed);
    assert_eq!(
        ended.error.as_deref(),
        Some("abandoned: the job's process stopped (no progress recorded for 2 minutes)")
    );
    last.stop().await;
}
