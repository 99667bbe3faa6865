//! Every store method, on both backends, with the same expectations.

use crate::both_backends;
use crate::support::{execute_raw, scalar_raw, Backend, TestDb};
use chrono::Duration;
use pocket_catalog::domain::records::*;
use pocket_catalog::domain::{now, Category, LicenseType, Source, UpstreamStatus};
use pocket_catalog::store::{
    search_words, Keyset, ModelQuery, SortKey, Store, StoreError, SyncBatch, Visibility,
};
use uuid::Uuid;

both_backends!(
    migrations_are_idempotent_and_ready,
    runs_recorded_as_partial_become_successes_on_migration,
    the_owner_lock_excludes_other_holders_and_marks_the_lease,
    a_job_whose_heartbeat_stopped_is_failed_and_a_live_one_is_kept,
    users_are_unique_and_roles_change,
    tokens_are_found_by_hash_touched_revoked_and_listed,
    colliding_slugs_get_deterministic_suffixes,
    a_sync_batch_places_colliding_slugs_and_counts_its_rows,
    hub_ids_are_unique,
    concurrent_writes_wait_for_each_other_instead_of_failing_busy,
    models_update_and_search_text_follows,
    listing_filters_and_paginates_without_overlap,
    deep_pages_follow_ties_by_id_and_seek_the_sort_index,
    word_search_reads_its_index_and_follows_every_write,
    a_search_counts_and_lists_what_its_viewer_may_see_whichever_plan,
    the_word_index_and_the_text_find_the_same_models,
    removed_models_are_hidden_unless_asked,
    versions_are_unique_per_model_and_newest_first,
    stored_hosted_links_become_paths_and_nothing_else_moves,
);

async fn setup(backend: Backend) -> (TestDb, Store, User) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let user = store
        .create_user(&NewUser {
            username: "dev".into(),
            email: "dev@example.com".into(),
            is_developer: true,
            is_admin: false,
        })
        .await
        .unwrap();
    (db, store, user)
}

pub fn new_model(author: Uuid, name: &str) -> NewModel {
    let id = Uuid::new_v4();
    NewModel {
        id,
        name: name.into(),
        slug_hint: name.into(),
        slug_disambiguator: id.to_string(),
        description: format!("{name} description"),
        category: Category::Utility,
        license_type: LicenseType::Mit,
        origin_repo_url: None,
        author_id: author,
        hf_model_id: None,
        is_verified_official: false,
        tags: vec!["vision".into()],
        task: Some("image-classification".into()),
        task_inferred: false,
        upstream: None,
        is_public: true,
    }
}

pub fn synced_model(
    author: Uuid,
    hf_id: &str,
    object_id: &str,
    status: UpstreamStatus,
) -> NewModel {
    let mut m = new_model(author, hf_id.rsplit('/').next().unwrap());
    m.slug_hint = hf_id.into();
    m.slug_disambiguator = hf_id.into();
    m.hf_model_id = Some(hf_id.into());
    m.upstream = Some(Upstream {
        object_id: object_id.into(),
        sha: Some("abc".into()),
        downloads: 10,
        likes: 2,
        status: Some(status),
        synced_at: Some(now()),
        ..Default::default()
    });
    m
}

async fn migrations_are_idempotent_and_ready(backend: Backend) {
    let (db, store, _) = setup(backend).await;
    if backend == Backend::Sqlite {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        let page_size: i64 = sqlx::query_scalar("PRAGMA page_size")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(page_size, 8192, "a new database file gets 8 KiB pages");
        pool.close().await;
    }
    store.migrate().await.unwrap();
    assert!(store.ready().await.unwrap());
    assert_eq!(
        store.backend(),
        if backend == Backend::Sqlite {
            "sqlite"
        } else {
            "postgres"
        }
    );
}

async fn runs_recorded_as_partial_become_successes_on_migration(backend: Backend) {
    use pocket_catalog::domain::{RunStatus, Trigger};
    let (db, store, _) = setup(backend).await;
    let run = store
        .create_run(&NewRun {
            id: Uuid::new_v4(),
            trigger: Trigger::Schedule,
            owner: "host-1-abc".into(),
            scheduled_for: None,
            rules: serde_json::json!({}),
            repo_id: None,
        })
        .await
        .unwrap();
    // The catalog as 0011 left it: the run was recorded as `partial` by the code of that time.
    execute_raw(&db, "ALTER TABLE sync_runs DROP COLUMN warnings").await;
    execute_raw(&db, "ALTER TABLE sync_runs DROP COLUMN removals_held_back").await;
    execute_raw(&db, "DELETE FROM _sqlx_migrations WHERE version = 12").await;
    execute_raw(
        &db,
        "UPDATE sync_runs SET status = 'partial', created = 150, updated = 20, skipped = 2, \
         listing_complete = FALSE, message = 'Partially synced LiteRT models. Created: 150, \
         Updated: 20, Skipped: 2. listing ''litert'' stopped early: the Hub answered 500'",
    )
    .await;
    store.migrate().await.unwrap();
    let migrated = store.get_run(run.id).await.unwrap().unwrap();
    assert_eq!(migrated.status, RunStatus::Success);
    assert_eq!(
        migrated.message,
        "Successfully synced LiteRT models. Created: 150, Updated: 20, Skipped: 2"
    );
    assert!(migrated.removals_held_back);
    assert_eq!(migrated.warnings.len(), 1);
    assert!(migrated.warnings[0].contains("stopped early"));
    assert!(store.ready().await.unwrap());
}

/// A background job (trigger `inspection`) holds no lease: one runs at a time, and it is taken as dead
/// when it recorded no progress since the cutoff, and only then; sync runs are never touched by this.
async fn a_job_whose_heartbeat_stopped_is_failed_and_a_live_one_is_kept(backend: Backend) {
    use pocket_catalog::domain::{RunStatus, Trigger};
    use pocket_catalog::store::constraint;
    let (_db, store, _) = setup(backend).await;
    let new_run = |trigger| NewRun {
        id: Uuid::now_v7(),
        trigger,
        owner: "test".into(),
        scheduled_for: None,
        rules: serde_json::json!({}),
        repo_id: None,
    };
    let pause = || tokio::time::sleep(std::time::Duration::from_millis(30));
    let silent = store
        .create_run(&new_run(Trigger::Inspection))
        .await
        .unwrap();
    let second = store.create_run(&new_run(Trigger::Inspection)).await;
    assert!(
        second
            .unwrap_err()
            .is_conflict_on(constraint::SYNC_RUNS_ONE_JOB),
        "one job at a time"
    );
    assert_eq!(store.running_job().await.unwrap().unwrap().id, silent.id);
    let sync = store.create_run(&new_run(Trigger::Manual)).await.unwrap();
    pause().await;
    let cutoff = now();
    pause().await;
    assert_eq!(
        store
            .fail_stale_jobs(cutoff, "abandoned: gone")
            .await
            .unwrap(),
        1
    );
    let silent = store.get_run(silent.id).await.unwrap().unwrap();
    assert_eq!(silent.status, RunStatus::Failed);
    assert_eq!(silent.error.as_deref(), Some("abandoned: gone"));
    assert!(silent.finished_at.is_some());
    assert_eq!(
        store.get_run(sync.id).await.unwrap().unwrap().status,
        RunStatus::Running,
        "a sync run is left to its lease"
    );
    assert!(!store.job_progress(sync.id, 1, 1).await.unwrap());
    assert!(
        !store.job_progress(silent.id, 1, 1).await.unwrap(),
        "an ended job records no more progress"
    );

    // The next job may start; started after the cutoff, or beating after it, it is alive.
    let live = store
        .create_run(&new_run(Trigger::Inspection))
        .await
        .unwrap();
    assert!(store.job_progress(live.id, 10, 7).await.unwrap());
    assert_eq!(store.fail_stale_jobs(cutoff, "x").await.unwrap(), 0);
    pause().await;
    let later = now();
    pause().await;
    assert!(store.job_progress(live.id, 10, 8).await.unwrap());
    assert_eq!(store.fail_stale_jobs(later, "x").await.unwrap(), 0);
    let shown = store.running_job().await.unwrap().unwrap();
    assert_eq!(shown.id, live.id);
    assert_eq!((shown.counts.fetched, shown.counts.updated), (10, 8));
    pause().await;
    assert_eq!(store.fail_stale_jobs(now(), "x").await.unwrap(), 1);
    assert!(store.running_job().await.unwrap().is_none());
}

async fn the_owner_lock_excludes_other_holders_and_marks_the_lease(backend: Backend) {
    let (db, store, _) = setup(backend).await;
    let first = store.owner_lock().await.unwrap().expect("free at first");
    assert!(
        store.owner_lock().await.unwrap().is_none(),
        "a second holder is refused, in the same process too"
    );
    let other = TestDb::store(&db).await;
    assert!(
        other.owner_lock().await.unwrap().is_none(),
        "and from another pool"
    );
    first.release().await;
    let again = other
        .owner_lock()
        .await
        .unwrap()
        .expect("free once released");
    drop(again);
    // Dropping closes the socket, as a dying process does; PostgreSQL frees the session's lock once its
    // backend reads the close, a moment later — so the next holder may have to ask again.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let retaken = loop {
        match store.owner_lock().await.unwrap() {
            Some(lock) => break Some(lock),
            None if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await
            }
            None => break None,
        }
    };
    retaken.expect("dropping releases it").release().await;

    // A lease taken with the lock can be taken over (by a caller holding the lock: its owner is dead);
    // one taken without it cannot, and neither can a lease that changed since it was read.
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let locked = store
        .acquire_lease("dead", a, 60_000, true)
        .await
        .unwrap()
        .unwrap();
    let holder = store.lease_holder().await.unwrap();
    assert!(holder.live && holder.owner_locked);
    assert!(
        holder.remaining_ms > 50_000 && holder.remaining_ms <= 60_000,
        "{holder:?}"
    );
    assert!(store
        .take_over_lease("next", b, 60_000, locked.token - 1)
        .await
        .unwrap()
        .is_none());
    let taken = store
        .take_over_lease("next", b, 60_000, locked.token)
        .await
        .unwrap()
        .expect("taken over");
    assert!(taken.token > locked.token);
    assert!(
        !store.heartbeat(&locked).await.unwrap(),
        "the dead owner is fenced out"
    );
    store.release_lease(&taken).await.unwrap();
    let unlocked = store
        .acquire_lease("hung", a, 60_000, false)
        .await
        .unwrap()
        .unwrap();
    assert!(!store.lease_holder().await.unwrap().owner_locked);
    assert!(store
        .take_over_lease("next", b, 60_000, unlocked.token)
        .await
        .unwrap()
        .is_none());
}

async fn users_are_unique_and_roles_change(backend: Backend) {
    let (_db, store, user) = setup(backend).await;
    let dup = store
        .create_user(&NewUser {
            username: "dev".into(),
            email: "other@example.com".into(),
            is_developer: false,
            is_admin: false,
        })
        .await;
    assert!(
        matches!(dup, Err(StoreError::Conflict { ref constraint }) if constraint == "users_username_key"),
        "{dup:?}"
    );
    let dup = store
        .create_user(&NewUser {
            username: "other".into(),
            email: "dev@example.com".into(),
            is_developer: false,
            is_admin: false,
        })
        .await;
    assert!(
        matches!(dup, Err(StoreError::Conflict { ref constraint }) if constraint == "users_email_key"),
        "{dup:?}"
    );
    assert_eq!(store.get_user(user.id).await.unwrap(), Some(user.clone()));
    assert_eq!(
        store.get_user_by_username("dev").await.unwrap(),
        Some(user.clone())
    );
    assert_eq!(store.get_user_by_username("nobody").await.unwrap(), None);
    let promoted = store
        .set_user_roles(user.id, None, Some(true))
        .await
        .unwrap();
    assert!(promoted.is_admin && promoted.is_developer);
    assert!(matches!(
        store.set_user_roles(Uuid::new_v4(), Some(true), None).await,
        Err(StoreError::NotFound)
    ));
}

async fn tokens_are_found_by_hash_touched_revoked_and_listed(backend: Backend) {
    let (_db, store, user) = setup(backend).await;
    let expires = now() + Duration::days(1);
    let token = store
        .create_token(user.id, "ci", "hash-1", Some(expires))
        .await
        .unwrap();
    assert_eq!(token.expires_at, Some(expires));
    let (found, owner) = store.find_token("hash-1").await.unwrap().unwrap();
    assert_eq!(found, token);
    assert_eq!(owner, user);
    assert!(found.is_usable(now()));
    assert!(!found.is_usable(expires + Duration::seconds(1)));
    assert!(store.find_token("hash-2").await.unwrap().is_none());
    assert!(matches!(
        store.create_token(user.id, "dup", "hash-1", None).await,
        Err(StoreError::Conflict { ref constraint }) if constraint == "api_tokens_token_hash_key"
    ));
    let at = now();
    store.touch_token(token.id, at).await.unwrap();
    assert_eq!(store.revoke_token(token.id, at).await.unwrap(), None);
    // Again: it was revoked then, and stays so.
    let later = at + Duration::seconds(5);
    assert_eq!(store.revoke_token(token.id, later).await.unwrap(), Some(at));
    let (after, _) = store.find_token("hash-1").await.unwrap().unwrap();
    assert_eq!(after.last_used_at, Some(at));
    assert_eq!(after.revoked_at, Some(at));
    assert!(!after.is_usable(now()));
    assert!(matches!(
        store.revoke_token(Uuid::new_v4(), at).await,
        Err(StoreError::NotFound)
    ));
    store
        .create_token(user.id, "second", "hash-3", None)
        .await
        .unwrap();
    let names: Vec<_> = store
        .list_tokens(user.id)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["ci", "second"]);
}

async fn colliding_slugs_get_deterministic_suffixes(backend: Backend) {
    let (_db, store, user) = setup(backend).await;
    let a = store
        .create_model(&synced_model(
            user.id,
            "a-b/c",
            "000000000000000000000001",
            UpstreamStatus::Active,
        ))
        .await
        .unwrap();
    let b = store
        .create_model(&synced_model(
            user.id,
            "a/b-c",
            "000000000000000000000002",
            UpstreamStatus::Active,
        ))
        .await
        .unwrap();
    let c = store
        .create_model(&synced_model(
            user.id,
            "A/B-C",
            "000000000000000000000003",
            UpstreamStatus::Active,
        ))
        .await
        .unwrap();
    assert_eq!(a.slug, "a-b-c");
    let expected = pocket_catalog::domain::Slug::candidates("a/b-c", "a/b-c");
    assert_eq!(b.slug, expected[1].as_str());
    assert_ne!(c.slug, b.slug);
    assert!(c.slug.starts_with("a-b-c-"));
    assert_eq!(
        store.get_model_by_slug(&b.slug).await.unwrap().unwrap().id,
        b.id
    );
}

fn sync_write(hf_id: &str, object_id: &str) -> SyncWrite {
    SyncWrite {
        model_id: Uuid::now_v7(),
        create: true,
        hf_model_id: hf_id.into(),
        name: hf_id.rsplit('/').next().unwrap().into(),
        description: String::new(),
        license_type: LicenseType::Mit,
        task: None,
        task_inferred: false,
        tags: vec!["litert".into()],
        origin_repo_url: format!("https://huggingface.co/{hf_id}"),
        counters_only: false,
        upstream: Upstream {
            object_id: object_id.into(),
            status: Some(UpstreamStatus::Active),
            synced_at: Some(now()),
            ..Default::default()
        },
    }
}

/// The sync's bulk insert (one statement per chunk, no RETURNING): rows whose slug is taken — by a
/// stored model or by an earlier row of the same batch — are found and placed under their next slug
/// candidate, and the run's counters are written in the same transaction.
async fn a_sync_batch_places_colliding_slugs_and_counts_its_rows(backend: Backend) {
    let (_db, store, user) = setup(backend).await;
    let held = store
        .create_model(&synced_model(
            user.id,
            "x-y/z",
            "0000000000000000000000f0",
            UpstreamStatus::Active,
        ))
        .await
        .unwrap();
    let run_id = Uuid::now_v7();
    let fence = store
        .acquire_lease("conformance", run_id, 60_000, false)
        .await
        .unwrap()
        .expect("lease");
    store
        .create_run(&NewRun {
            id: run_id,
            trigger: pocket_catalog::domain::Trigger::Manual,
            owner: "conformance".into(),
            scheduled_for: None,
            rules: serde_json::json!({}),
            repo_id: None,
        })
        .await
        .unwrap();
    let mut writes: Vec<SyncWrite> = (0..1_203)
        .map(|i| sync_write(&format!("bulk/model-{i}"), &format!("b{i:023x}")))
        .collect();
    // Same slug as the stored model, and two rows of the batch that slug alike ("a-b/c" ~ "a/b-c").
    writes.insert(700, sync_write("x/y-z", "0000000000000000000000f1"));
    writes.push(sync_write("a-b/c", "0000000000000000000000f2"));
    writes.push(sync_write("a/b-c", "0000000000000000000000f3"));
    let counts = RunCounts {
        created: writes.len() as i64,
        ..Default::default()
    };
    let applied = store
        .apply_sync(&SyncBatch {
            writes: &writes,
            ..SyncBatch::new(&fence, run_id, user.id, &counts)
        })
        .await
        .unwrap();
    assert_eq!(applied.rows, writes.len() as i64);
    let run = store.get_run(run_id).await.unwrap().unwrap();
    assert_eq!(run.counts.created, writes.len() as i64);
    assert_eq!(run.counts.rows_written, writes.len() as i64);
    let mut slugs = std::collections::HashSet::new();
    for w in &writes {
        let m = store
            .get_model(w.model_id)
            .await
            .unwrap()
            .expect("every row inserted");
        assert_eq!(m.hf_model_id.as_deref(), Some(w.hf_model_id.as_str()));
        assert!(slugs.insert(m.slug.clone()), "slug {} given twice", m.slug);
    }
    assert!(!slugs.contains(&held.slug));
    let moved = store
        .get_model(writes[700].model_id)
        .await
        .unwrap()
        .unwrap();
    let expected = pocket_catalog::domain::Slug::candidates("x/y-z", "x/y-z");
    assert_eq!(moved.slug, expected[1].as_str(), "the next candidate");
}

async fn hub_ids_are_unique(backend: Backend) {
    let (_db, store, user) = setup(backend).await;
    store
        .create_model(&synced_model(
            user.id,
            "o/m",
            "0000000000000000000000aa",
            UpstreamStatus::Active,
        ))
        .await
        .unwrap();
    let again = store
        .create_model(&synced_model(
            user.id,
            "o/m",
            "0000000000000000000000bb",
            UpstreamStatus::Active,
        ))
        .await;
    assert!(
        matches!(again, Err(StoreError::Conflict { ref constraint }) if constraint == "ml_models_hf_model_id_key"),
        "{again:?}"
    );
    let same_object = store
        .create_model(&synced_model(
            user.id,
            "o/m2",
            "0000000000000000000000aa",
            UpstreamStatus::Active,
        ))
        .await;
    assert!(
        matches!(same_object, Err(StoreError::Conflict { ref constraint }) if constraint == "ml_models_hf_object_id_key"),
        "{same_object:?}"
    );
}

/// Writers racing on the pool, some refused by a unique conflict (whose rollback may still be pending
/// when the next write starts): every write that should succeed succeeds. On SQLite a deferred
/// transaction that read before writing failed at once with "database is locked" here.
async fn concurrent_writes_wait_for_each_other_instead_of_failing_busy(backend: Backend) {
    let (_db, store, user) = setup(backend).await;
    store
        .create_model(&synced_model(
            user.id,
            "o/taken",
            "00000000000000000000ffff",
            UpstreamStatus::Active,
        ))
        .await
        .unwrap();
    let writers = (0..16).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            let refused = store
                .create_model(&synced_model(
                    user.id,
                    "o/taken",
                    &format!("{i:024x}"),
                    UpstreamStatus::Active,
                ))
                .await;
            assert!(
                matches!(refused, Err(StoreError::Conflict { .. })),
                "{refused:?}"
            );
            for j in 0..4 {
                store
                    .create_model(&new_model(user.id, &format!("racer {i} {j}")))
                    .await
                    .unwrap_or_else(|e| panic!("writer {i}, write {j}: {e}"));
            }
        })
    });
    for w in futures_util::future::join_all(writers).await {
        w.unwrap();
    }
    let all = store
        .list_models(&ModelQuery {
            limit: 100,
            ..ModelQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(all.total, 1 + 16 * 4);
}

async fn models_update_and_search_text_follows(backend: Backend) {
    let (_db, store, user) = setup(backend).await;
    let m = store
        .create_model(&new_model(user.id, "Pose Estimator"))
        .await
        .unwrap();
    assert_eq!(m.slug, "pose-estimator");
    assert_eq!(store.get_model(m.id).await.unwrap().unwrap(), m);
    let patch = ModelPatch {
        name: Some("Hand Tracker".into()),
        category: Some(Category::Fun),
        tags: Some(vec!["gesture".into()]),
        ..Default::default()
    };
    let updated = store.update_model(m.id, &patch).await.unwrap();
    assert_eq!(updated.name, "Hand Tracker");
    assert_eq!(updated.category, Category::Fun);
    assert_eq!(updated.description, m.description, "untouched fields stay");
    assert_eq!(updated.slug, m.slug, "slugs are stable");
    assert!(updated.updated_at >= m.updated_at);
    let found = |q: &str| {
        let store = store.clone();
        let q = q.to_string();
        async move {
            store
                .list_models(&ModelQuery {
                    q: Some(q),
                    limit: 10,
                    ..Default::default()
                })
                .await
                .unwrap()
                .total
        }
    };
    assert_eq!(found("GESTURE").await, 1);
    assert_eq!(found("hand").await, 1);
    assert_eq!(
        found("vision").await,
        0,
        "replaced tags are no longer found"
    );
    assert!(matches!(
        store.update_model(Uuid::new_v4(), &patch).await,
        Err(StoreError::NotFound)
    ));
}

async fn listing_filters_and_paginates_without_overlap(backend: Backend) {
    let (_db, store, user) = setup(backend).await;
    for i in 0..25 {
        let mut m = new_model(user.id, &format!("Model {i:02}"));
        if i % 5 == 0 {
            m.task = Some("object-detection".into());
            m.license_type = LicenseType::Apache2;
        }
        store.create_model(&m).await.unwrap();
    }
    store
        .create_model(&synced_model(
            user.id,
            "org/synced",
            "0000000000000000000000cc",
            UpstreamStatus::Active,
        ))
        .await
        .unwrap();
    for sort in [
        SortKey::CreatedAt,
        SortKey::UpdatedAt,
        SortKey::Name,
        SortKey::Downloads,
        SortKey::Rating,
    ] {
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .list_models(&ModelQuery {
                    sort,
                    limit: 7,
                    after: after.clone(),
                    ..Default::default()
                })
                .await
                .unwrap();
            assert_eq!(page.total, 26);
            seen.extend(page.items.iter().map(|m| m.id));
            match page.next {
                Some(next) => {
                    // cursors survive the trip through their text form
                    let text = pocket_catalog::http::cursor::encode(&next);
                    after = Some(pocket_catalog::http::cursor::keyset(&text, sort).unwrap());
                }
                None => break,
            }
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 26, "{sort:?}: every model once");
        assert_eq!(seen.len(), 26, "{sort:?}: no overlap");
    }
    let names: Vec<String> = store
        .list_models(&ModelQuery {
            sort: SortKey::Name,
            limit: 3,
            ..Default::default()
        })
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(names, ["Model 00", "Model 01", "Model 02"]);
    let detection = store
        .list_models(&ModelQuery {
            task: Some("object-detection".into()),
            license_type: Some(LicenseType::Apache2),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(detection.total, 5);
    let hf = store
        .list_models(&ModelQuery {
            source: Some(Source::HuggingFace),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(hf.total, 1);
    let users = store
        .list_models(&ModelQuery {
            source: Some(Source::User),
            author_id: Some(user.id),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(users.total, 25);
    let none = store
        .list_models(&ModelQuery {
            category: Some(Category::Fun),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((none.total, none.items.len()), (0, 0));
    let tricky = store
        .list_models(&ModelQuery {
            q: Some("'; DROP TABLE ml_models; --%_".into()),
            limit: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(tricky.total, 0);
}

/// Walks every page of `query` from its start and returns the models in the order the pages gave them.
async fn walk_pages(store: &Store, query: ModelQuery) -> Vec<Model> {
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_models(&ModelQuery {
                after,
                skip_count: true,
                ..query.clone()
            })
            .await
            .unwrap();
        seen.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => return seen,
        }
    }
}

/// The query for pages of `limit` models in `sort` order.
fn sorted(sort: SortKey, limit: u32) -> ModelQuery {
    ModelQuery {
        sort,
        limit,
        ..Default::default()
    }
}

fn popularity(m: &Model) -> i64 {
    pocket_catalog::domain::popularity(
        m.total_download_count,
        m.upstream.as_ref().map_or(0, |u| u.downloads),
    )
}

async fn deep_pages_follow_ties_by_id_and_seek_the_sort_index(backend: Backend) {
    let (db, store, user) = setup(backend).await;
    // Ties in every sort key: half the models share a name, most share zero downloads, and the synced
    // ones share a few download counts.
    for i in 0..40 {
        let name = if i % 2 == 0 {
            "Same name".to_string()
        } else {
            format!("Model {i:02}")
        };
        let mut m = if i % 3 == 0 {
            let mut m = synced_model(
                user.id,
                &format!("org/m{i}"),
                &format!("{i:024x}"),
                UpstreamStatus::Active,
            );
            m.upstream.as_mut().unwrap().downloads = (i % 4) * 10;
            m
        } else {
            new_model(user.id, &name)
        };
        m.name = name;
        if i % 5 == 0 {
            m.task = Some("object-detection".into());
        }
        store.create_model(&m).await.unwrap();
    }
    // Ratings with ties too: a third of the models at each of three averages.
    execute_raw(
        &db,
        "UPDATE ml_models SET rating_weighted_avg = (CASE WHEN name LIKE '%1%' THEN 3.5 \
         WHEN name LIKE '%2%' THEN 4.25 ELSE 0 END)",
    )
    .await;
    let all = walk_pages(&store, sorted(SortKey::CreatedAt, 100)).await;
    assert_eq!(all.len(), 40);
    for sort in [
        SortKey::CreatedAt,
        SortKey::UpdatedAt,
        SortKey::Name,
        SortKey::Downloads,
    ] {
        // The order the sort promises, computed here: its key, then the id, in the key's direction.
        let mut expected = all.clone();
        expected.sort_by(|a, b| {
            let by_key = match sort {
                SortKey::CreatedAt => b.created_at.cmp(&a.created_at),
                SortKey::UpdatedAt => b.updated_at.cmp(&a.updated_at),
                SortKey::Name => a.name.cmp(&b.name),
                SortKey::Downloads => popularity(b).cmp(&popularity(a)),
                SortKey::Rating => b.rating_weighted_avg.total_cmp(&a.rating_weighted_avg),
            };
            let by_id = if sort == SortKey::Name {
                a.id.cmp(&b.id)
            } else {
                b.id.cmp(&a.id)
            };
            by_key.then(by_id)
        });
        let expected: Vec<Uuid> = expected.iter().map(|m| m.id).collect();
        let walked: Vec<Uuid> = walk_pages(&store, sorted(sort, 6))
            .await
            .iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(walked, expected, "{sort:?}: pages of 6 in the sort's order");

        // A page deep in the chain is found by a range seek in the `(key, id)` index, not by reading
        // the index from its start and filtering (which costs what OFFSET does).
        let deep = ModelQuery {
            sort,
            limit: 6,
            after: Some(Keyset::of(
                all.iter().find(|m| m.id == expected[12]).unwrap(),
                sort,
            )),
            ..Default::default()
        };
        let plan = store.list_plan(&deep).await.unwrap();
        let column = match sort {
            SortKey::CreatedAt => "created_at",
            SortKey::UpdatedAt => "updated_at",
            SortKey::Name => "name",
            SortKey::Downloads => "popularity",
            SortKey::Rating => "rating_weighted_avg",
        };
        let seek = match backend {
            Backend::Sqlite => format!("({column},id)"),
            Backend::Postgres => format!("Index Cond: (ROW({column}, id)"),
        };
        assert!(plan.contains(&seek), "{sort:?}: {plan}");
        assert!(
            !plan.contains("SCAN") && !plan.contains("Sort"),
            "{sort:?}: {plan}"
        );
    }
    let detection: Vec<Uuid> = all
        .iter()
        .filter(|m| m.task.as_deref() == Some("object-detection"))
        .map(|m| m.id)
        .collect();
    let walked: Vec<Uuid> = walk_pages(
        &store,
        ModelQuery {
            task: Some("object-detection".into()),
            ..sorted(SortKey::CreatedAt, 3)
        },
    )
    .await
    .iter()
    .map(|m| m.id)
    .collect();
    assert_eq!(walked, detection, "a filtered list pages in the same order");
    let plan = store
        .list_plan(&ModelQuery {
            task: Some("object-detection".into()),
            limit: 3,
            after: Some(Keyset::of(&all[10], SortKey::CreatedAt)),
            ..Default::default()
        })
        .await
        .unwrap();
    let seek = match backend {
        Backend::Sqlite => "task=? AND (created_at,id)<(?,?)",
        Backend::Postgres => "Index Cond: ((task = ",
    };
    assert!(plan.contains(seek), "{plan}");
}

async fn word_search_reads_its_index_and_follows_every_write(backend: Backend) {
    let (db, store, user) = setup(backend).await;
    let mut yolo = None;
    for name in [
        "MobileNet V2",
        "ssd_mobilenet",
        "Über Modèle",
        "yolov8n-face",
    ] {
        let m = store.create_model(&new_model(user.id, name)).await.unwrap();
        yolo = Some(m.id);
    }
    let found = |q: &'static str| {
        let store = &store;
        async move {
            let page = store
                .list_models(&ModelQuery {
                    q: Some(q.into()),
                    limit: 50,
                    ..Default::default()
                })
                .await
                .unwrap();
            let mut names: Vec<String> = page.items.into_iter().map(|m| m.name).collect();
            names.sort();
            assert_eq!(page.total, names.len() as i64, "{q}: total");
            names
        }
    };
    assert_eq!(found("mobile").await, ["MobileNet V2", "ssd_mobilenet"]);
    assert_eq!(found("MOBILENET v2").await, ["MobileNet V2"]);
    assert!(found("net").await.is_empty(), "inside a word is no match");
    assert_eq!(found("über").await, ["Über Modèle"]);
    assert_eq!(found("MODÈLE").await, ["Über Modèle"]);
    assert!(found("uber").await.is_empty(), "diacritics are kept");
    assert_eq!(found("yolov8n face").await, ["yolov8n-face"]);
    assert_eq!(found("description ssd").await, ["ssd_mobilenet"]);

    // A few matches: the word index leads and the matches are sorted.
    let plan = store
        .list_plan(&ModelQuery {
            q: Some("mobile".into()),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    let index_read = match backend {
        Backend::Sqlite => "SEARCH ml_models USING INTEGER PRIMARY KEY (rowid=?)",
        Backend::Postgres => "Bitmap Index Scan on ml_models_search",
    };
    assert!(plan.contains(index_read), "{plan}");

    // Edits and deletes reach the index in their own transaction.
    let patch = ModelPatch {
        name: Some("Pose Estimator".into()),
        description: Some("Finds people".into()),
        ..Default::default()
    };
    store.update_model(yolo.unwrap(), &patch).await.unwrap();
    assert!(found("yolov8n").await.is_empty());
    assert_eq!(found("pose").await, ["Pose Estimator"]);
    execute_raw(&db, "DELETE FROM ml_models WHERE name = 'Pose Estimator'").await;
    assert!(found("pose").await.is_empty());

    // Many matches (more than SQLite reads from the index and sorts): the sort index leads and the
    // index is probed per row. Same pages, same order as the catalog without the search.
    let fillers = match backend {
        Backend::Sqlite => format!(
            "INSERT INTO ml_models (id, name, slug, author_id, created_at, updated_at, search_text) \
             SELECT randomblob(16), 'Filler ' || i, 'filler-' || i, X'{}', \
                    '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00', ' filler ' || i || ' ' \
             FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2100) \
                   SELECT i FROM n)",
            user.id.simple()
        ),
        Backend::Postgres => format!(
            "INSERT INTO ml_models (id, name, slug, author_id, created_at, updated_at, search_text) \
             SELECT gen_random_uuid(), 'Filler ' || i, 'filler-' || i, '{}', \
                    '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', ' filler ' || i || ' ' \
             FROM generate_series(1, 2100) AS i",
            user.id
        ),
    };
    execute_raw(&db, &fillers).await;
    let walked: Vec<Uuid> = walk_pages(
        &store,
        ModelQuery {
            q: Some("filler".into()),
            ..sorted(SortKey::CreatedAt, 500)
        },
    )
    .await
    .iter()
    .map(|m| m.id)
    .collect();
    let expected: Vec<Uuid> = walk_pages(&store, sorted(SortKey::CreatedAt, 1000))
        .await
        .iter()
        .filter(|m| m.name.starts_with("Filler "))
        .map(|m| m.id)
        .collect();
    assert_eq!(expected.len(), 2100);
    assert_eq!(walked, expected);
    let first = store
        .list_models(&ModelQuery {
            q: Some("filler".into()),
            ..sorted(SortKey::CreatedAt, 500)
        })
        .await
        .unwrap();
    assert_eq!(first.total, 2100);
    if backend == Backend::Sqlite {
        let plan = store
            .list_plan(&ModelQuery {
                q: Some("filler".into()),
                limit: 50,
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(
            plan.contains("SCAN ml_models USING INDEX ml_models_created"),
            "{plan}"
        );
    }
}

/// A common word's page walks the sort index (SQLite), its total is the word index's count less the
/// hidden models that match, and a rarer word reads the word index: each viewer gets the same models
/// whichever way they are read, and a total equal to what paging through finds.
async fn a_search_counts_and_lists_what_its_viewer_may_see_whichever_plan(backend: Backend) {
    let (_db, store, user) = setup(backend).await;
    let other = store
        .create_user(&NewUser {
            username: "other".into(),
            email: "other@example.com".into(),
            is_developer: true,
            is_admin: false,
        })
        .await
        .unwrap();
    for i in 0..60 {
        store
            .create_model(&new_model(user.id, &format!("Alpha {i}")))
            .await
            .unwrap();
    }
    for i in 0..5 {
        store
            .create_model(&new_model(user.id, &format!("Beta {i}")))
            .await
            .unwrap();
    }
    for i in 0..2 {
        let mut private = new_model(other.id, &format!("Alpha private {i}"));
        private.is_public = false;
        store.create_model(&private).await.unwrap();
    }
    store
        .create_model(&synced_model(
            user.id,
            "o/alpha-gone",
            "0000000000000000000000e1",
            UpstreamStatus::Removed,
        ))
        .await
        .unwrap();
    let search = |q: &str, visibility: Visibility, include_removed: bool| ModelQuery {
        q: Some(q.into()),
        visibility,
        include_removed,
        ..sorted(SortKey::CreatedAt, 7)
    };
    let anonymous = Visibility::PublicAnd(None);
    let owner = Visibility::PublicAnd(Some(other.id));
    for (query, total) in [
        (search("alpha", anonymous, false), 60),
        (search("alpha", owner, false), 62),
        (search("alpha", anonymous, true), 61),
        (search("alpha", Visibility::Everything, true), 63),
        (search("alpha private", anonymous, false), 0),
        (search("alpha private", owner, false), 2),
        (search("ALP", owner, true), 63),
        (search("bet", anonymous, false), 5),
    ] {
        let first = store.list_models(&query).await.unwrap();
        assert_eq!(first.total, total, "{query:?}");
        // A caller that wants the total only (limit 0, as the handlers' X-Total-Count) gets it and
        // no models.
        let counted = store
            .list_models(&ModelQuery {
                limit: 0,
                ..query.clone()
            })
            .await
            .unwrap();
        assert_eq!(
            (counted.total, counted.items.len()),
            (total, 0),
            "{query:?}"
        );
        assert!(counted.next.is_none());
        // A caller that counted already (X-Total-Count) gets the same page, uncounted: the total
        // only tells few matches from many, and a wrong one changes no result.
        for known in [total, 0, 100_000] {
            let told = ModelQuery {
                skip_count: true,
                known_total: Some(known),
                ..query.clone()
            };
            let page = store.list_models(&told).await.unwrap();
            assert_eq!(page.total, -1);
            assert_eq!(
                page.items.iter().map(|m| m.id).collect::<Vec<_>>(),
                first.items.iter().map(|m| m.id).collect::<Vec<_>>(),
                "{told:?}"
            );
        }
        let walked = walk_pages(&store, query.clone()).await;
        assert_eq!(walked.len() as i64, total, "{query:?}");
        // The same models, in the same order, as the listing without the search, filtered here.
        let words = search_words(query.q.as_deref().unwrap());
        let expected: Vec<Uuid> = walk_pages(
            &store,
            ModelQuery {
                q: None,
                ..query.clone()
            },
        )
        .await
        .into_iter()
        .filter(|m| {
            let text = format!("{} {} {}", m.name, m.description, m.tags.join(" "));
            let have = search_words(&text);
            words
                .iter()
                .all(|w| have.iter().any(|h| h.starts_with(w.as_str())))
        })
        .map(|m| m.id)
        .collect();
        assert_eq!(
            walked.iter().map(|m| m.id).collect::<Vec<_>>(),
            expected,
            "{query:?}"
        );
        // Filtered by more than every listing does, the total is counted row by row: the same.
        let by_task = ModelQuery {
            task: Some("image-classification".into()),
            ..query.clone()
        };
        assert_eq!(
            store.list_models(&by_task).await.unwrap().total,
            total,
            "{by_task:?}"
        );
    }
    let (sort_index, word_index) = match backend {
        Backend::Sqlite => ("USING INDEX ml_models_created", "VIRTUAL TABLE"),
        Backend::Postgres => ("using ml_models_created", "ml_models_search"),
    };
    // Alpha is in most models: the first page's rows are read in order and tested in place.
    let plan = store
        .list_plan(&search("alpha", anonymous, false))
        .await
        .unwrap();
    assert!(plan.contains(sort_index), "{plan}");
    assert!(!plan.contains(word_index), "{plan}");
    // Beta is in few: the word index finds them.
    let plan = store
        .list_plan(&search("bet", anonymous, false))
        .await
        .unwrap();
    assert!(plan.contains(word_index), "{plan}");
}

/// A search is read either from the word index or from each row's text (a walk): for every word and
/// every prefix of a word of these names — punctuation, case, scripts without case, a final sigma, a
/// dotted capital I, a combining accent, a ligature, digits that are not ASCII — both find the same
/// models, on both backends.
async fn the_word_index_and_the_text_find_the_same_models(backend: Backend) {
    let (db, store, user) = setup(backend).await;
    let names = [
        "YOLOv8n-face_detector.v2",
        "ΟΔΥΣΣΕΑΣ Σίσυφος",
        "İstanbul ISTANBUL",
        "naïve café NAÏVE",
        "東京タワー model",
        "x²-net ½ Ⅻ",
        "Straße STRASSE ǅemal",
        "e\u{301}tude ﬁne",
        "a_b-c.d/e:f",
    ];
    for name in names {
        store.create_model(&new_model(user.id, name)).await.unwrap();
    }
    let mut probes = std::collections::BTreeSet::new();
    for name in names {
        for word in search_words(name) {
            for (i, _) in word.char_indices().skip(1) {
                probes.insert(word[..i].to_string());
            }
            probes.insert(word);
        }
    }
    assert!(probes.len() > 60, "{probes:?}");
    for w in probes {
        let (index, text) = match backend {
            Backend::Sqlite => (
                format!("SELECT count(*) FROM ml_models_fts WHERE ml_models_fts MATCH '\"{w}\"*'"),
                format!("SELECT count(*) FROM ml_models WHERE instr(search_text, ' {w}') > 0"),
            ),
            Backend::Postgres => (
                format!(
                    "SELECT count(*) FROM ml_models WHERE \
                     array_to_tsvector(string_to_array(btrim(search_text), ' ')) @@ '''{w}'':*'::tsquery"
                ),
                format!("SELECT count(*) FROM ml_models WHERE strpos(search_text, ' {w}') > 0"),
            ),
        };
        let from_index = scalar_raw(&db, &index).await;
        let from_text = scalar_raw(&db, &text).await;
        assert_eq!(from_index, from_text, "{w:?}");
        assert!(from_text > 0, "{w:?}");
    }
}

async fn removed_models_are_hidden_unless_asked(backend: Backend) {
    let (_db, store, user) = setup(backend).await;
    store
        .create_model(&synced_model(
            user.id,
            "o/live",
            "0000000000000000000000d1",
            UpstreamStatus::Active,
        ))
        .await
        .unwrap();
    store
        .create_model(&synced_model(
            user.id,
            "o/gone",
            "0000000000000000000000d2",
            UpstreamStatus::Removed,
        ))
        .await
        .unwrap();
    store
        .create_model(&synced_model(
            user.id,
            "o/hidden",
            "0000000000000000000000d3",
            UpstreamStatus::Private,
        ))
        .await
        .unwrap();
    let visible = store
        .list_models(&ModelQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(visible.total, 1);
    let all = store
        .list_models(&ModelQuery {
            limit: 10,
            include_removed: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.total, 3);
}

async fn versions_are_unique_per_model_and_newest_first(backend: Backend) {
    let (_db, store, user) = setup(backend).await;
    let m = store
        .create_model(&new_model(user.id, "Classifier"))
        .await
        .unwrap();
    let other = store
        .create_model(&new_model(user.id, "Other"))
        .await
        .unwrap();
    let asset = Asset {
        asset_key: "model.tflite".into(),
        asset_type: "tflite".into(),
        source_url: "https://example.com/model.tflite".into(),
        file_size_bytes: Some(1234),
        file_hash: Some("ab".repeat(32)),
        hash_kind: Some("sha256".into()),
        is_hosted_by_us: false,
        is_primary: true,
    };
    let mk = |model_id, v: &str, minutes: i64| NewVersion {
        model_id,
        version_string: v.into(),
        changelog: Some(format!("release {v}")),
        hf_commit_sha: None,
        pipeline_spec: Some(serde_json::json!({"input": [1, 224, 224, 3]})),
        assets: vec![asset.clone()],
        published_at: now() + Duration::minutes(minutes),
        created_by: Some(user.id),
        license_type: None,
        inspected: None,
        refusal: None,
        deferred: None,
    };
    let v1 = store.create_version(&mk(m.id, "1.0", 0)).await.unwrap();
    let v2 = store.create_version(&mk(m.id, "2.0", 1)).await.unwrap();
    store.create_version(&mk(other.id, "1.0", 0)).await.unwrap();
    assert!(matches!(
        store.create_version(&mk(m.id, "1.0", 2)).await,
        Err(StoreError::Conflict { ref constraint }) if constraint == "model_versions_model_id_version_string_key"
    ));
    // A version with a commit sha published by a person (the clients' dialect) may repeat a name and
    // a sha, as in the reference; a mirrored one (no creator) is unique per commit.
    let client = |sha: &str, by: Option<Uuid>| NewVersion {
        hf_commit_sha: Some(sha.into()),
        created_by: by,
        license_type: Some(LicenseType::Mit),
        inspected: None,
        refusal: None,
        deferred: None,
        ..mk(other.id, "1.0", 3)
    };
    let a = store
        .create_version(&client("c0ffee00", Some(user.id)))
        .await
        .unwrap();
    let b = store
        .create_version(&client("c0ffee00", Some(user.id)))
        .await
        .unwrap();
    assert_ne!(a.id, b.id);
    assert_eq!(b.license_type, Some(LicenseType::Mit));
    store
        .create_version(&client("c0ffee00", None))
        .await
        .unwrap();
    assert!(matches!(
        store.create_version(&client("c0ffee00", None)).await,
        Err(StoreError::Conflict { ref constraint }) if constraint == "model_versions_model_id_hf_commit_sha_key"
    ));
    let listed = store.list_versions(m.id).await.unwrap();
    assert_eq!(
        listed.iter().map(|v| v.id).collect::<Vec<_>>(),
        [v2.id, v1.id]
    );
    assert_eq!(listed[1], v1);
    assert_eq!(v1.assets, vec![asset]);
    assert_eq!(
        store.get_version(m.id, v1.id).await.unwrap(),
        Some(v1.clone())
    );
    assert_eq!(store.get_version(other.id, v1.id).await.unwrap(), None);
}

/// The links to files this service hosts are rebased on the public URL; a version's other assets, and
/// versions without hosted files, are left as they are.
/// Migration 0023 turns the absolute hosted-file links older versions stored (under whatever public
/// URL their writer had) into the file's path under the service; nothing else moves. It is run again
/// here over rows written in the old form.
async fn stored_hosted_links_become_paths_and_nothing_else_moves(backend: Backend) {
    let (db, store, user) = setup(backend).await;
    let m = store
        .create_model(&new_model(user.id, "Leaf"))
        .await
        .unwrap();
    let sha = "cd".repeat(32);
    let asset = |key: &str, url: String, hosted: bool| Asset {
        asset_key: key.into(),
        asset_type: if hosted { "label_txt" } else { "tflite" }.into(),
        source_url: url,
        file_size_bytes: Some(10),
        file_hash: None,
        hash_kind: None,
        is_hosted_by_us: hosted,
        is_primary: !hosted,
    };
    let hub = "https://huggingface.co/o/leaf/resolve/abc/files/leaf.tflite".to_string();
    let version = |name: &str, assets: Vec<Asset>| NewVersion {
        model_id: m.id,
        version_string: name.into(),
        changelog: None,
        hf_commit_sha: None,
        pipeline_spec: None,
        assets,
        published_at: now(),
        created_by: Some(user.id),
        license_type: None,
        inspected: None,
        refusal: None,
        deferred: None,
    };
    let old_form = store
        .create_version(&version(
            "1.0",
            vec![
                asset("leaf.tflite", hub.clone(), false),
                asset(
                    "labels",
                    format!("http://localhost:8000/files/{sha}/labels%20v2.txt"),
                    true,
                ),
                // Uploaded to the portal's storage: hosted by "us", but not by this service.
                asset(
                    "vocab",
                    "https://x.supabase.co/storage/v1/object/public/m/vocab.txt".into(),
                    true,
                ),
            ],
        ))
        .await
        .unwrap();
    let plain = store
        .create_version(&version(
            "2.0",
            vec![asset("leaf.tflite", hub.clone(), false)],
        ))
        .await
        .unwrap();
    let migration = match backend {
        Backend::Sqlite => include_str!("../../migrations/sqlite/0023_hosted_paths.sql"),
        Backend::Postgres => include_str!("../../migrations/postgres/0023_hosted_paths.sql"),
    };
    let statement: String = migration
        .lines()
        .filter(|l| !l.starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    for _ in 0..2 {
        // Twice: a path stays a path.
        execute_raw(&db, &statement).await;
        let moved = store.get_version_by_id(old_form.id).await.unwrap().unwrap();
        assert_eq!(
            moved.assets[0], old_form.assets[0],
            "a Hub link with /files/ in it stays"
        );
        assert_eq!(
            moved.assets[1].source_url,
            format!("/files/{sha}/labels%20v2.txt")
        );
        assert_eq!(moved.assets[1].asset_key, "labels");
        assert_eq!(
            moved.assets[2], old_form.assets[2],
            "another host's file stays"
        );
        let kept = store.get_version_by_id(plain.id).await.unwrap().unwrap();
        assert_eq!(kept.assets, plain.assets);
    }
    // And it is made absolute when a client is answered.
    let public = url::Url::parse("https://catalog.example/").unwrap();
    let moved = store.get_version_by_id(old_form.id).await.unwrap().unwrap();
    assert_eq!(
        moved.assets[1].url_under(&public),
        format!("https://catalog.example/files/{sha}/labels%20v2.txt")
    );
    assert_eq!(
        moved.assets[2].url_under(&public),
        old_form.assets[2].source_url
    );
}

/// A SQLite database in a folder that does not exist yet is created with its folder (issue #35: it
/// said "(code: 14) unable to open database file").
#[tokio::test]
async fn a_sqlite_database_in_a_missing_folder_is_created_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not/yet/there/catalog.db");
    let store = Store::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    assert!(store.ready().await.unwrap());
    assert!(path.exists());
}
