//! A version never depends on being able to read its file (issue #32): against a simulator whose
//! storage answers 503 for broken objects, or whose Hub cannot resolve files, a sync writes every
//! version all the same — `missing`, with a reason that says it will be retried — counts and names
//! what it deferred, and spends at most one brief retry on each read; a later run reads the files once
//! they heal, after a backoff that grows with the failed attempts.

use crate::both_backends;
use crate::support::{all_synced, syncer, Backend, SimHandle, TestDb};
use pocket_catalog::domain::inspection::INSPECTION_DEFERRED;
use pocket_catalog::domain::records::{ModelVersion, SyncRun};
use pocket_catalog::domain::{Trigger, VersionStatus};
use pocket_catalog::hubsim::Faults;
use pocket_catalog::store::Store;
use std::time::Duration;

both_backends!(
    a_file_that_cannot_be_read_defers_its_inspection_until_a_later_run_reads_it,
    a_file_the_hub_cannot_resolve_still_gets_its_version,
    a_commit_whose_file_list_cannot_be_read_is_said_in_the_run,
);

/// Without the commit's file list there is no version to write (its files, sizes and hashes are the
/// version): the run says so, and the next run, the Hub back, writes the versions.
async fn a_commit_whose_file_list_cannot_be_read_is_said_in_the_run(backend: Backend) {
    let (sim, _db, store) = faulty_hub(
        41,
        Faults {
            commit_details_fail: true,
            ..Default::default()
        },
        backend,
    )
    .await;
    let run = sync(&store, &sim, Duration::ZERO).await;
    assert!(versions(&store).await.is_empty());
    assert!(
        run.warnings
            .iter()
            .any(|w| w.contains("file lists could not be read") && w.contains("next run")),
        "{:?}",
        run.warnings
    );
    sim.sim.set_faults(Faults::default());
    let next = sync(&store, &sim, Duration::ZERO).await;
    assert!(versions(&store).await.len() > 5);
    assert!(next.warnings.iter().all(|w| !w.contains("file lists")));
}

/// A simulator of 30 LiteRT repos (population `seed`) with `faults`, a classifier the app can run (its
/// labels packed in the file) behind every `.tflite`, and an empty catalog on `backend`.
async fn faulty_hub(seed: u64, faults: Faults, backend: Backend) -> (SimHandle, TestDb, Store) {
    let sim = SimHandle::start(30, 0, seed).await;
    sim.sim
        .serve_model_files(vec![crate::packed::labelled_classifier(0)]);
    sim.sim.set_faults(faults);
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    (sim, db, store)
}

/// One sync run with versions and inspection, a deferred file retried after `retry` at the earliest.
async fn sync(store: &Store, sim: &SimHandle, retry: Duration) -> SyncRun {
    let s = syncer(store, sim, |c| {
        c.pull_versions = true;
        c.inspect_retry_base = retry;
    });
    let report = s
        .run_once(Trigger::Manual, tokio_util::sync::CancellationToken::new())
        .await
        .unwrap();
    store.get_run(report.run_id).await.unwrap().unwrap()
}

/// Every version of the mirrored models whose main file is one of the served classifiers (not a
/// bundle, which the simulator does not back; not in a gated repo, whose files are final).
async fn versions(store: &Store) -> Vec<ModelVersion> {
    let mut out = Vec::new();
    for m in all_synced(store).await {
        out.extend(store.list_versions(m.id).await.unwrap());
    }
    out.retain(|v| {
        pocket_catalog::domain::assets::main_file(&v.assets)
            .is_some_and(|a| a.asset_key.ends_with(".tflite"))
            && v.unsupported_reason
                .as_deref()
                .is_none_or(|r| !r.contains("gated"))
    });
    out
}

fn deferred(v: &ModelVersion) -> bool {
    v.unsupported_reason
        .as_deref()
        .is_some_and(|r| r.starts_with(INSPECTION_DEFERRED))
}

async fn a_file_that_cannot_be_read_defers_its_inspection_until_a_later_run_reads_it(
    backend: Backend,
) {
    let (sim, _db, store) = faulty_hub(
        23,
        Faults {
            broken_objects_pct: Some(100),
            ..Default::default()
        },
        backend,
    )
    .await;

    let run = sync(&store, &sim, Duration::ZERO).await;
    let written = versions(&store).await;
    assert!(written.len() > 5, "{}", written.len());
    for v in &written {
        assert_eq!(v.status, VersionStatus::Missing, "{v:?}");
        assert!(deferred(v), "{:?}", v.unsupported_reason);
        assert!(v
            .unsupported_reason
            .as_deref()
            .unwrap()
            .contains("attempt 1"));
    }
    assert!(run.counts.inspections_deferred >= written.len() as i64);
    assert!(
        run.warnings.iter().any(|w| w.contains("could not be read")),
        "{:?}",
        run.warnings
    );
    // Each broken read is tried once more, briefly, never waited out: at most two requests per
    // file a run (the HEAD that opens it is the Hub's, not the broken storage's).
    let faults = sim.sim.stats().faults;
    assert!(
        faults <= 2 * written.len() as u64,
        "{faults} failed reads for {} files",
        written.len()
    );

    // Still broken: the next run tries again and counts a second attempt, due in two hours.
    let again = sync(&store, &sim, Duration::from_secs(3600)).await;
    assert_eq!(
        again.counts.inspections_deferred,
        run.counts.inspections_deferred
    );
    assert!(versions(&store).await.iter().all(|v| v
        .unsupported_reason
        .as_deref()
        .is_some_and(|r| r.contains("attempt 2"))));

    // Healed, but not yet due (a backoff of an hour): nothing is read.
    sim.sim.set_faults(Faults::default());
    sim.sim.reset_stats();
    let early = sync(&store, &sim, Duration::from_secs(3600)).await;
    assert_eq!(early.counts.inspections_deferred, 0);
    assert!(versions(&store).await.iter().all(deferred));
    assert_eq!(
        sim.sim.stats().cdn_requests,
        0,
        "nothing read before it is due"
    );
    // Pushed back by hand to now, they are due: the next run inspects every one.
    for v in versions(&store).await {
        store
            .defer_inspection(v.id, "test: due now", Duration::ZERO)
            .await
            .unwrap();
    }
    let healed = sync(&store, &sim, Duration::from_secs(3600)).await;
    assert_eq!(healed.counts.inspections_deferred, 0);
    assert!(healed.warnings.is_empty(), "{:?}", healed.warnings);
    let read = versions(&store).await;
    for v in &read {
        assert!(!deferred(v), "{:?}", v.unsupported_reason);
        assert!(v.inspection.is_some());
    }
    // Judged as the app runs it, by the task each repo names: the classifiers are verified.
    assert!(read.iter().any(|v| v.status == VersionStatus::Verified));
}

async fn a_file_the_hub_cannot_resolve_still_gets_its_version(backend: Backend) {
    let (sim, _db, store) = faulty_hub(
        29,
        Faults {
            resolve_fails: true,
            ..Default::default()
        },
        backend,
    )
    .await;
    let run = sync(&store, &sim, Duration::ZERO).await;
    let written = versions(&store).await;
    assert!(written.len() > 5, "{}", written.len());
    assert!(written.iter().all(deferred), "every version is written");
    assert!(run.counts.inspections_deferred >= written.len() as i64);
    sim.sim.set_faults(Faults::default());
    sync(&store, &sim, Duration::ZERO).await;
    let read = versions(&store).await;
    assert!(read.iter().all(|v| !deferred(v) && v.inspection.is_some()));
    assert!(read.iter().any(|v| v.status == VersionStatus::Verified));
}
