//! The Hugging Face sync against the simulator, on both backends: exact first sync, a second sync that
//! writes nothing, mutations counted exactly, faults survived, damaged listings never remove anything.

use crate::both_backends;
use crate::support::{
    all_synced, assert_catalog_equals_truth, execute_raw, scalar_raw, syncer, Backend, SimHandle,
    TestDb,
};
use pocket_catalog::domain::records::Model;
use pocket_catalog::domain::{RunStatus, Trigger, UpstreamStatus};
use pocket_catalog::hubsim::population::SimRepo;
use pocket_catalog::hubsim::Faults;
use pocket_catalog::store::ModelQuery;
use pocket_catalog::sync::RunReport;
use std::collections::{BTreeMap, BTreeSet};
use tokio_util::sync::CancellationToken;

both_backends!(
    first_sync_mirrors_exactly_the_litert_repos_with_their_licences,
    second_sync_writes_nothing,
    mutations_are_counted_exactly_and_renames_keep_their_id,
    faults_are_survived_with_the_same_end_state,
    damaged_listings_never_remove_anything,
    a_mass_disappearance_is_refused_by_the_threshold,
    filtering_rules_are_applied_and_recorded,
    a_simulator_killed_mid_listing_removes_nothing_and_the_next_run_completes,
    a_repo_id_freed_by_a_rename_is_taken_by_a_new_repo_in_the_same_run,
    a_record_the_database_refuses_is_skipped_and_the_rest_of_its_batch_is_written,
    a_stored_digest_skips_unchanged_models_and_a_missing_one_is_written_once,
    counter_changes_update_only_the_counters_and_leave_the_rest_as_it_was,
    repos_named_under_older_hub_rules_are_mirrored_and_their_file_urls_open,
);

async fn sync(s: &pocket_catalog::sync::Syncer) -> RunReport {
    s.run_once(Trigger::Manual, CancellationToken::new())
        .await
        .expect("claim")
}

/// The licence a repo must get, written independently of the mapping code.
fn expected_licence(r: &SimRepo) -> &'static str {
    let first = match r.card_data.as_ref().and_then(|c| c.get("license")) {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Array(a)) => a.first().and_then(|v| v.as_str()).map(str::to_string),
        _ => r
            .tags
            .iter()
            .find_map(|t| t.strip_prefix("license:").map(str::to_string)),
    };
    match first.as_deref() {
        None => "unknown",
        Some("apache-2.0") => "apache-2.0",
        Some("mit") => "mit",
        Some("cc-by-4.0") => "cc-by-4.0",
        Some("bsd-3-clause") => "bsd-3-clause",
        Some("openrail") => "openrail",
        Some("cc-by-nc-4.0") => "cc-by-nc-4.0",
        Some("agpl-3.0") => "agpl-3.0",
        Some("llama3.2") => "llama3",
        Some("gemma") | Some("other") => "other",
        Some(other) => panic!("the test table lacks {other}"),
    }
}

async fn first_sync_mirrors_exactly_the_litert_repos_with_their_licences(backend: Backend) {
    let sim = SimHandle::start(600, 150, 1).await;
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let report = sync(&syncer(&store, &sim, |_| {})).await;
    let truth = sim.litert_truth();
    assert_eq!(report.status, RunStatus::Success, "{report:?}");
    assert_eq!(report.counts.created as usize, truth.len());
    assert_eq!(report.counts.fetched as usize, truth.len());
    assert_eq!(
        (
            report.counts.skipped,
            report.counts.updated,
            report.counts.removed
        ),
        (0, 0, 0)
    );
    assert_eq!(
        report.message,
        format!(
            "Successfully synced LiteRT models. Created: {}, Updated: 0, Skipped: 0",
            truth.len()
        )
    );
    assert!(report.listing_complete);

    let models = all_synced(&store).await;
    let by_object: BTreeMap<&str, &Model> = models
        .iter()
        .map(|m| (m.upstream.as_ref().unwrap().object_id.as_str(), m))
        .collect();
    assert_eq!(by_object.len(), truth.len(), "no other repo, none twice");
    let slugs: BTreeSet<&str> = models.iter().map(|m| m.slug.as_str()).collect();
    assert_eq!(slugs.len(), models.len(), "slugs are unique");
    assert!(
        models
            .iter()
            .any(|m| m.slug.len() > 9 && m.slug[m.slug.len() - 9..].starts_with('-')),
        "collisions were resolved, not skipped"
    );
    let system = store
        .get_user_by_username("hf_sync_system")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(system.email, "system@pocket-ai.local");
    assert!(system.is_developer);
    for r in &truth {
        let m = by_object[r.object_id.as_str()];
        assert_eq!(m.hf_model_id.as_deref(), Some(r.id.as_str()));
        assert_eq!(m.license_type.as_str(), expected_licence(r), "{}", r.id);
        assert_eq!(m.author_id, system.id);
        assert_eq!(m.category.as_str(), "utility");
        match &r.pipeline_tag {
            Some(task) => assert_eq!((m.task.as_ref(), m.task_inferred), (Some(task), false)),
            // The simulator's names carry their architecture, so inference always finds a task.
            None => assert!(
                m.task_inferred && m.task.as_deref().is_some_and(|t| t != "unknown"),
                "{}",
                r.id
            ),
        }
        let mut page = url::Url::parse("https://huggingface.co/").unwrap();
        page.path_segments_mut()
            .unwrap()
            .pop_if_empty()
            .extend(r.id.split('/'));
        assert_eq!(m.origin_repo_url.as_deref(), Some(page.as_str()));
        let up = m.upstream.as_ref().unwrap();
        assert_eq!(up.sha.as_deref(), Some(r.sha.as_str()));
        assert_eq!((up.downloads, up.likes), (r.downloads, r.likes));
        assert_eq!(up.created_at, Some(r.created_at));
        assert_eq!(up.status, Some(UpstreamStatus::Active));
        let card = r
            .card_data
            .as_ref()
            .and_then(|c| c.get("summary").or(c.get("description")))
            .and_then(|v| v.as_str());
        match card {
            Some(text) => assert_eq!(m.description, text),
            None => {
                let para = r.readme.split("\n\n").nth(2).unwrap();
                assert!(
                    m.description
                        .starts_with(&para.chars().take(100).collect::<String>()),
                    "{}: {}",
                    r.id,
                    m.description
                );
            }
        }
    }
    let run = store.get_run(report.run_id).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Success);
    assert_eq!(run.counts, report.counts);
    assert!(run.counts.hub_requests > 3);
    assert_eq!(run.counts.rows_written, truth.len() as i64);
}

/// ...and on PostgreSQL the first sync leaves the catalogue analyzed (searches are planned by its
/// statistics), an unchanged one does not analyze it again.
async fn second_sync_writes_nothing(backend: Backend) {
    let sim = SimHandle::start(400, 50, 2).await;
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let s = syncer(&store, &sim, |_| {});
    let statistics = "SELECT COUNT(*) FROM pg_stats WHERE tablename = 'ml_models'";
    let first = sync(&s).await;
    if matches!(backend, Backend::Postgres) {
        assert!(
            scalar_raw(&db, statistics).await > 0,
            "analyzed by the first sync"
        );
        execute_raw(
            &db,
            "DELETE FROM pg_statistic WHERE starelid = 'ml_models'::regclass",
        )
        .await;
    }
    let before = all_synced(&store).await;
    sim.sim.reset_stats();
    let second = sync(&s).await;
    if matches!(backend, Backend::Postgres) {
        assert_eq!(scalar_raw(&db, statistics).await, 0, "not analyzed again");
    }
    assert_eq!(second.status, RunStatus::Success);
    assert_eq!(
        (
            second.counts.created,
            second.counts.updated,
            second.counts.rows_written
        ),
        (0, 0, 0)
    );
    assert_eq!(second.counts.unchanged, first.counts.created);
    assert_eq!(
        all_synced(&store).await,
        before,
        "not a single column changed"
    );
    let stats = sim.sim.stats();
    assert_eq!(
        stats.requests, stats.list,
        "an unchanged catalog costs only the listings"
    );
}

async fn mutations_are_counted_exactly_and_renames_keep_their_id(backend: Backend) {
    let sim = SimHandle::start(800, 0, 3).await;
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let s = syncer(&store, &sim, |_| {});
    sync(&s).await;
    let ids_before: BTreeMap<String, uuid::Uuid> = all_synced(&store)
        .await
        .into_iter()
        .map(|m| (m.hf_model_id.clone().unwrap(), m.id))
        .collect();

    let m1 = sim.sim.mutate();
    let r1 = sync(&s).await;
    assert_eq!(r1.status, RunStatus::Success, "{r1:?}");
    assert_eq!(r1.counts.created as usize, m1.added.len());
    assert_eq!(
        r1.counts.updated as usize,
        m1.committed.len() + m1.metadata.len()
    );
    assert_eq!(
        r1.counts.removed as usize,
        m1.removed.len() + m1.privatised.len()
    );
    assert_eq!(r1.counts.renamed as usize, m1.renamed.len());
    assert_eq!(r1.counts.restored, 0);
    let after: BTreeMap<String, Model> = all_synced(&store)
        .await
        .into_iter()
        .map(|m| (m.hf_model_id.clone().unwrap(), m))
        .collect();
    for (old, new) in &m1.renamed {
        assert!(!after.contains_key(old));
        assert_eq!(
            after[new].id, ids_before[old],
            "a renamed model keeps its catalog id"
        );
        assert_eq!(
            after[new].origin_repo_url.as_deref(),
            Some(format!("https://huggingface.co/{new}").as_str())
        );
    }
    for gone in m1.removed.iter().chain(&m1.privatised) {
        assert_eq!(
            after[gone].upstream.as_ref().unwrap().status,
            Some(UpstreamStatus::Removed),
            "{gone}"
        );
        assert_eq!(after[gone].id, ids_before[gone], "kept, only hidden");
    }
    for id in &m1.committed {
        let truth = sim.sim.repos().into_iter().find(|r| &r.id == id).unwrap();
        assert_eq!(
            after[id].upstream.as_ref().unwrap().sha.as_deref(),
            Some(truth.sha.as_str())
        );
    }
    let visible = store
        .list_models(&ModelQuery {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        visible.total as usize,
        sim.litert_truth().len(),
        "removed models are hidden by default"
    );

    let m2 = sim.sim.mutate();
    assert!(!m2.restored.is_empty());
    let r2 = sync(&s).await;
    assert_eq!(r2.counts.restored as usize, m2.restored.len());
    assert_eq!(r2.counts.created as usize, m2.added.len());
    for id in &m2.restored {
        let m = store
            .synced_models(&[], std::slice::from_ref(id))
            .await
            .unwrap()
            .pop()
            .unwrap();
        assert_eq!(m.upstream.unwrap().status, Some(UpstreamStatus::Active));
        assert_eq!(m.id, ids_before[id], "restored under its old id");
    }
    assert_catalog_equals_truth(&store, &sim).await;
}

async fn faults_are_survived_with_the_same_end_state(backend: Backend) {
    let sim = SimHandle::start(2_500, 0, 4).await;
    sim.sim.set_faults(Faults {
        fail_every: Some(4),
        truncate_every: Some(3),
        latency_ms: 1,
        ..Default::default()
    });
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    // Every 4th request fails and every 3rd is cut off: half of them, and with the READMEs fetched
    // beside the listing a request's retries land on any of them. Enough retries that no request
    // runs out (at 5, one listing page in a few hundred did, under a loaded machine's timing, and
    // the run completed as it should — without that filter's rest, a warning saying so).
    let patient = || {
        use pocket_catalog::{hub, sync};
        let mut config = hub::HubConfig::new(url::Url::parse(&sim.url).unwrap(), None);
        config.min_backoff = std::time::Duration::from_millis(10);
        config.max_backoff = std::time::Duration::from_millis(50);
        config.max_retries = 15;
        let rules = sync::rules::Rules::new(Default::default()).unwrap();
        let mut sync_config = sync::SyncConfig::new(rules);
        sync_config.pull_versions = false;
        sync_config.require_model_file = false;
        pocket_catalog::app::syncer(
            store.clone(),
            hub::HubClient::new(config).unwrap(),
            sync_config,
        )
        .unwrap()
    };
    let report = sync(&patient()).await;
    assert_eq!(report.status, RunStatus::Success, "{report:?}");
    assert!(report.counts.hub_retries > 0);
    let catalog: BTreeSet<String> = all_synced(&store)
        .await
        .into_iter()
        .map(|m| m.upstream.unwrap().object_id)
        .collect();
    let truth: BTreeSet<String> = sim
        .litert_truth()
        .into_iter()
        .map(|r| r.object_id)
        .collect();
    assert_eq!(catalog, truth);

    // A 429 storm: a small quota per one-second window, so most windows run dry.
    sim.sim.set_faults(Faults {
        rate_limit_quota: Some(40),
        rate_limit_window_secs: Some(1),
        ..Default::default()
    });
    sim.sim.mutate();
    let report = sync(&patient()).await;
    let skips = store.run_skips(report.run_id, 10).await.unwrap();
    assert_eq!(report.status, RunStatus::Success, "{report:?} {skips:?}");
    let stats = sim.sim.stats();
    assert!(stats.rate_limited > 0, "the storm happened");
    assert_catalog_equals_truth(&store, &sim).await;
    // For RELIABILITY.md (`-- --nocapture`).
    println!(
        "{backend:?}: {} Hub requests, {} answered 5xx or cut off, {} answered 429; catalog equals the truth",
        stats.requests, stats.faults, stats.rate_limited
    );
}

async fn damaged_listings_never_remove_anything(backend: Backend) {
    let sim = SimHandle::start(500, 0, 5).await;
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let s = syncer(&store, &sim, |c| c.removal_threshold_pct = 100.0);
    sync(&s).await;
    let m = sim.sim.mutate();
    assert!(!m.removed.is_empty());
    sim.sim.set_faults(Faults {
        malformed_entries: true,
        ..Default::default()
    });
    let report = sync(&s).await;
    assert_eq!(
        report.status,
        RunStatus::Success,
        "a run that skips records completes: {report:?}"
    );
    assert_eq!(
        report.message,
        format!(
            "Successfully synced LiteRT models. Created: {}, Updated: {}, Skipped: {}",
            report.counts.created, report.counts.updated, report.counts.skipped
        ),
        "the seed's message, whatever was skipped"
    );
    assert_eq!(
        report.counts.removed, 0,
        "a damaged listing removes nothing"
    );
    assert!(!report.listing_complete);
    assert!(report.removals_held_back);
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("could not be read")),
        "{:?}",
        report.warnings
    );
    let recorded = store.get_run(report.run_id).await.unwrap().unwrap();
    assert_eq!(recorded.status, RunStatus::Success);
    assert!(recorded.removals_held_back);
    assert_eq!(recorded.warnings, report.warnings);
    assert!(report.counts.skipped > 0);
    assert_eq!(
        report.counts.created as usize,
        m.added.len(),
        "good entries of damaged pages are kept"
    );
    let skips = store.run_skips(report.run_id, 100).await.unwrap();
    assert_eq!(skips.len() as i64, report.counts.skipped);
    assert!(skips.iter().all(|s| s.reason.contains("malformed")
        && s.hf_model_id.as_deref().unwrap().starts_with("broken/")));

    // A listing that breaks off for good (every request after a few fails) removes nothing either.
    sim.sim.set_faults(Faults {
        fail_every: Some(1),
        ..Default::default()
    });
    let report = sync(&syncer(&store, &sim, |c| c.removal_threshold_pct = 100.0)).await;
    assert_eq!(report.status, RunStatus::Failed, "{report:?}");
    assert_eq!(report.counts.removed, 0);
    sim.sim.set_faults(Faults::default());
    let report = sync(&s).await;
    assert_eq!(report.status, RunStatus::Success);
    assert!(!report.removals_held_back && report.warnings.is_empty());
    assert_eq!(
        report.counts.removed as usize,
        m.removed.len() + m.privatised.len()
    );
}

async fn a_mass_disappearance_is_refused_by_the_threshold(backend: Backend) {
    let sim = SimHandle::start(300, 0, 6).await;
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    sync(&syncer(&store, &sim, |_| {})).await;
    // Listing only `litert-lm` now hides most of the catalog: far more than 10 % missing.
    let report = sync(&syncer(&store, &sim, |c| {
        c.filters = vec!["litert-lm".into()]
    }))
    .await;
    assert_eq!(report.counts.removed, 0);
    assert_eq!(report.status, RunStatus::Success);
    assert!(report.removals_held_back);
    assert!(report.listing_complete);
    assert!(
        report.warnings.iter().any(|w| w.contains("threshold")),
        "{:?}",
        report.warnings
    );
    let active = store.active_synced().await.unwrap();
    assert_eq!(active.len(), sim.litert_truth().len());
}

async fn filtering_rules_are_applied_and_recorded(backend: Backend) {
    use pocket_catalog::sync::rules::{RuleSpec, Rules};
    let sim = SimHandle::start(300, 0, 7).await;
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let spec = RuleSpec {
        include_authors: vec!["litert-community".into(), "google".into()],
        exclude: vec!["*edge*".into()],
        allow_gated: Some(false),
        ..Default::default()
    };
    let rules = Rules::new(spec.clone()).unwrap();
    let report = sync(&syncer(&store, &sim, |c| c.rules = rules)).await;
    let expected: BTreeSet<String> = sim
        .litert_truth()
        .into_iter()
        .filter(|r| {
            let author = r.author().to_ascii_lowercase();
            (author == "litert-community" || author == "google")
                && !r.id.to_ascii_lowercase().contains("edge")
                && r.gated.is_none()
        })
        .map(|r| r.id)
        .collect();
    let got: BTreeSet<String> = all_synced(&store)
        .await
        .into_iter()
        .map(|m| m.hf_model_id.unwrap())
        .collect();
    assert_eq!(got, expected);
    assert_eq!(
        report.counts.filtered as usize,
        sim.litert_truth().len() - expected.len()
    );
    let run = store.get_run(report.run_id).await.unwrap().unwrap();
    assert_eq!(
        run.rules,
        serde_json::to_value(&spec).unwrap(),
        "the rules in force are recorded"
    );
}

async fn a_simulator_killed_mid_listing_removes_nothing_and_the_next_run_completes(
    backend: Backend,
) {
    let sim = SimHandle::start(3_000, 0, 7).await;
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    sync(&syncer(&store, &sim, |_| {})).await;
    let before = store.active_synced().await.unwrap().len();
    let change = sim.sim.mutate();
    assert!(!change.removed.is_empty());
    sim.sim.set_faults(Faults {
        latency_ms: 40,
        ..Default::default()
    });
    let world = sim.sim.clone();
    let run = {
        let s = syncer(&store, &sim, |_| {});
        tokio::spawn(async move { sync(&s).await })
    };
    // The Hub goes away once it has served the first listing pages (the run fetches ahead of its
    // writes, so what it has committed by then says nothing about how far the listing got).
    while sim.sim.stats().list < 2 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    drop(sim);
    let report = run.await.unwrap();
    assert!(
        matches!(report.status, RunStatus::Failed | RunStatus::Success),
        "{report:?}"
    );
    assert!(!report.listing_complete);
    assert!(report.removals_held_back);
    let said = format!("{report:?}");
    assert!(
        said.contains("stopped early") || said.contains("cannot reach the Hub"),
        "the run says why its listing is incomplete: {report:?}"
    );
    assert_eq!(
        report.counts.removed, 0,
        "nothing removed on a broken listing"
    );
    assert_eq!(
        store.active_synced().await.unwrap().len(),
        before + report.counts.created as usize
    );

    // The Hub is back (same repos, another address): the next run completes to the truth.
    world.set_faults(Faults::default());
    let sim = SimHandle::with_world(world).await;
    let report = sync(&syncer(&store, &sim, |_| {})).await;
    assert_eq!(report.status, RunStatus::Success, "{report:?}");
    assert_eq!(
        report.counts.removed as usize,
        change.removed.len() + change.privatised.len()
    );
    assert_catalog_equals_truth(&store, &sim).await;
}

/// A repo renamed upstream and a new repo created under its old id, both in one listing (and so in
/// one write batch): the rename keeps its catalog model and the new repo gets a model of its own in
/// the same run — nothing is skipped as "still held".
async fn a_repo_id_freed_by_a_rename_is_taken_by_a_new_repo_in_the_same_run(backend: Backend) {
    use pocket_catalog::hubsim::population::{generate, PopulationSpec, World};
    use pocket_catalog::hubsim::Sim;
    let spec = || PopulationSpec {
        litert: 40,
        other: 0,
        seed: 23,
    };
    let (repos, generator) = generate(spec());
    let sim =
        SimHandle::with_world(Sim::new(World::new(repos, generator), Faults::default())).await;
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    sync(&syncer(&store, &sim, |_| {})).await;

    // The same population, with one repo renamed and a new repo (created later) under its old id.
    let (mut repos, mut generator) = generate(spec());
    let renamed = repos
        .iter_mut()
        .find(|r| r.is_litert() && !r.private && r.gated.is_none())
        .unwrap();
    let old_id = renamed.id.clone();
    let renamed_oid = renamed.object_id.clone();
    renamed.id = format!("{old_id}-moved");
    let new_id = renamed.id.clone();
    let mut newcomer = generator.litert_repo(2_000);
    newcomer.id = old_id.clone();
    newcomer.private = false;
    let newcomer_oid = newcomer.object_id.clone();
    repos.push(newcomer);
    let before = all_synced(&store).await;
    let model_of = |models: &[Model], oid: &str| {
        models
            .iter()
            .find(|m| m.upstream.as_ref().is_some_and(|u| u.object_id == oid))
            .cloned()
    };
    let kept = model_of(&before, &renamed_oid).unwrap();
    let sim =
        SimHandle::with_world(Sim::new(World::new(repos, generator), Faults::default())).await;
    let report = sync(&syncer(&store, &sim, |_| {})).await;
    assert_eq!(report.status, RunStatus::Success, "{report:?}");
    assert_eq!(report.counts.skipped, 0, "{report:?}");
    assert_eq!(report.counts.renamed, 1);
    assert_eq!(report.counts.created, 1);
    let after = all_synced(&store).await;
    let moved = model_of(&after, &renamed_oid).unwrap();
    assert_eq!(
        moved.id, kept.id,
        "the renamed repo keeps its catalog model"
    );
    assert_eq!(moved.hf_model_id.as_deref(), Some(new_id.as_str()));
    let taken = model_of(&after, &newcomer_oid).expect("the new repo is mirrored in this run");
    assert_eq!(taken.hf_model_id.as_deref(), Some(old_id.as_str()));
    assert_ne!(taken.id, kept.id);
    assert_catalog_equals_truth(&store, &sim).await;
}

/// The database refuses one model (a trigger stands in for any per-record failure): its batch fails,
/// is written again record by record, and only that model is skipped, with the database's reason.
async fn a_record_the_database_refuses_is_skipped_and_the_rest_of_its_batch_is_written(
    backend: Backend,
) {
    let sim = SimHandle::start(300, 0, 29).await;
    let refused = sim.litert_truth()[150].id.clone();
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    if db.url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        sqlx::query(&format!(
            "CREATE TRIGGER refuse BEFORE INSERT ON ml_models WHEN NEW.hf_model_id = '{refused}' \
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
        ))
        .execute(&pool)
        .await
        .unwrap();
    } else {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        sqlx::query(&format!(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             IF NEW.hf_model_id = '{refused}' THEN RAISE EXCEPTION 'refused by the test'; END IF; \
             RETURN NEW; END $$"
        ))
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query("CREATE TRIGGER refuse BEFORE INSERT ON ml_models FOR EACH ROW EXECUTE FUNCTION refuse()")
            .execute(&pool)
            .await
            .unwrap();
    }
    let report = sync(&syncer(&store, &sim, |_| {})).await;
    let truth = sim.litert_truth();
    assert_eq!(report.counts.skipped, 1, "{report:?}");
    assert_eq!(report.counts.created as usize, truth.len() - 1);
    let skips = store.run_skips(report.run_id, 10).await.unwrap();
    assert_eq!(skips.len(), 1);
    assert_eq!(skips[0].hf_model_id.as_deref(), Some(refused.as_str()));
    assert!(
        skips[0].reason.starts_with("could not be written")
            && skips[0].reason.contains("refused by the test"),
        "{}",
        skips[0].reason
    );
    let stored: BTreeSet<String> = all_synced(&store)
        .await
        .into_iter()
        .filter_map(|m| m.hf_model_id)
        .collect();
    let expected: BTreeSet<String> = truth
        .into_iter()
        .map(|r| r.id)
        .filter(|id| *id != refused)
        .collect();
    assert_eq!(stored, expected);
}

/// A re-sync trusts a model's stored digest only while it is the digest of what the Hub lists: a
/// user's edit clears it (the next run compares field by field and restores the upstream value), and
/// models stored without one (synced before digests were kept) get it written once, alone.
async fn a_stored_digest_skips_unchanged_models_and_a_missing_one_is_written_once(
    backend: Backend,
) {
    let sim = SimHandle::start(300, 0, 31).await;
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let s = syncer(&store, &sim, |_| {});
    let first = sync(&s).await;
    let n = first.counts.created;
    let synced = all_synced(&store).await;
    assert!(
        synced
            .iter()
            .all(|m| m.upstream.as_ref().unwrap().digest.is_some()),
        "every synced model carries its digest"
    );
    let edited = &synced[7];
    let upstream_name = edited.name.clone();
    let patch = pocket_catalog::domain::records::ModelPatch {
        name: Some("renamed by an admin".into()),
        ..Default::default()
    };
    let after_edit = store.update_model(edited.id, &patch).await.unwrap();
    assert_eq!(
        after_edit.upstream.unwrap().digest,
        None,
        "an edit clears the digest"
    );
    // Twenty models as a catalog synced before digests were kept holds them.
    let older: Vec<String> = synced[10..30]
        .iter()
        .map(|m| format!("'{}'", m.hf_model_id.as_deref().unwrap()))
        .collect();
    execute_raw(
        &db,
        &format!(
            "UPDATE ml_models SET sync_digest = NULL WHERE hf_model_id IN ({})",
            older.join(", ")
        ),
    )
    .await;

    let second = sync(&s).await;
    assert_eq!(second.status, RunStatus::Success);
    assert_eq!(
        (second.counts.updated, second.counts.unchanged),
        (1, n - 1),
        "the edit is undone; the models without a digest are unchanged"
    );
    assert_eq!(
        second.counts.rows_written, 21,
        "one update and twenty digests"
    );
    let restored = store.get_model(edited.id).await.unwrap().unwrap();
    assert_eq!(restored.name, upstream_name);
    let now = all_synced(&store).await;
    assert!(now
        .iter()
        .all(|m| m.upstream.as_ref().unwrap().digest.is_some()));
    let unchanged_before: Vec<_> = synced.iter().filter(|m| m.id != edited.id).collect();
    for m in unchanged_before {
        let after = now.iter().find(|x| x.id == m.id).unwrap();
        assert_eq!(
            after.updated_at, m.updated_at,
            "a digest write is not a change"
        );
    }

    let third = sync(&s).await;
    assert_eq!((third.counts.unchanged, third.counts.rows_written), (n, 0));
}

/// Downloads that changed upstream (the common daily change) are written by the narrow counter update:
/// the touched models carry the new counts and a new digest, every other column stays as it was, and
/// the next run finds everything unchanged.
async fn counter_changes_update_only_the_counters_and_leave_the_rest_as_it_was(backend: Backend) {
    let sim = SimHandle::start(300, 0, 37).await;
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let s = syncer(&store, &sim, |_| {});
    sync(&s).await;
    let before: BTreeMap<String, Model> = all_synced(&store)
        .await
        .into_iter()
        .map(|m| (m.hf_model_id.clone().unwrap(), m))
        .collect();
    let touched: BTreeSet<String> = sim.sim.touch(10.0).into_iter().collect();
    assert!(touched.len() >= 20);
    let run = sync(&s).await;
    assert_eq!(
        (run.counts.updated, run.counts.rows_written),
        (touched.len() as i64, touched.len() as i64)
    );
    let truth: BTreeMap<String, SimRepo> = sim
        .litert_truth()
        .into_iter()
        .map(|r| (r.id.clone(), r))
        .collect();
    for m in all_synced(&store).await {
        let id = m.hf_model_id.clone().unwrap();
        let old = &before[&id];
        let up = m.upstream.as_ref().unwrap();
        assert_eq!(up.downloads, truth[&id].downloads, "{id}");
        if touched.contains(&id) {
            assert_eq!(up.downloads, old.upstream.as_ref().unwrap().downloads + 1);
            assert_ne!(up.digest, old.upstream.as_ref().unwrap().digest);
            assert!(m.updated_at > old.updated_at);
            // Everything but the counters, the sync's timestamps and the digest is as it was.
            let mut same = m.clone();
            let same_up = same.upstream.as_mut().unwrap();
            let old_up = old.upstream.as_ref().unwrap();
            same_up.downloads = old_up.downloads;
            same_up.synced_at = old_up.synced_at;
            same_up.digest = old_up.digest;
            same.updated_at = old.updated_at;
            assert_eq!(&same, old);
        } else {
            assert_eq!(&m, old, "{id} was not touched");
        }
    }
    let again = sync(&s).await;
    assert_eq!((again.counts.updated, again.counts.rows_written), (0, 0));
}

async fn repos_named_under_older_hub_rules_are_mirrored_and_their_file_urls_open(backend: Backend) {
    use pocket_catalog::hubsim::population::AWKWARD_NAMES;
    // Every 41st generated repo has one of the awkward names, and its files too.
    let sim = SimHandle::start(41 * AWKWARD_NAMES.len() + 40, 0, 23).await;
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let report = sync(&syncer(&store, &sim, |c| {
        c.pull_versions = true;
        c.require_model_file = false;
    }))
    .await;
    assert_eq!(report.status, RunStatus::Success, "{report:?}");
    let skips = store.run_skips(report.run_id, 1000).await.unwrap();
    assert!(skips.is_empty(), "nothing listed is skipped: {skips:?}");
    assert_catalog_equals_truth(&store, &sim).await;

    let awkward: Vec<SimRepo> = sim
        .litert_truth()
        .into_iter()
        .filter(|r| {
            !r.id.is_ascii() || r.id.contains([' ', '#', '%', '+', '?']) || r.id.contains("--")
        })
        .collect();
    assert!(awkward.len() >= AWKWARD_NAMES.len(), "{}", awkward.len());
    let by_hf: BTreeMap<String, Model> = all_synced(&store)
        .await
        .into_iter()
        .filter_map(|m| Some((m.hf_model_id.clone()?, m)))
        .collect();
    let http = reqwest::Client::new();
    let mut slugs = BTreeSet::new();
    let mut opened = 0;
    for repo in &awkward {
        let model = by_hf
            .get(&repo.id)
            .unwrap_or_else(|| panic!("{} is mirrored under its exact id", repo.id));
        assert!(
            model.slug.is_ascii() && model.slug.parse::<pocket_catalog::domain::Slug>().is_ok(),
            "{}",
            model.slug
        );
        assert!(slugs.insert(model.slug.clone()), "slugs stay unique");
        let origin = model.origin_repo_url.as_deref().unwrap();
        assert!(
            origin.is_ascii() && !origin[8..].contains([' ', '#', '?']),
            "{origin}"
        );
        for version in store.list_versions(model.id).await.unwrap() {
            for asset in &version.assets {
                assert!(
                    asset.source_url.starts_with(&sim.url),
                    "{}",
                    asset.source_url
                );
                // Every file is served (LFS ones through the CDN): a HEAD finds it at its size.
                let res = http.head(&asset.source_url).send().await.unwrap();
                assert_eq!(
                    res.status().as_u16(),
                    200,
                    "{} ({})",
                    asset.source_url,
                    repo.id
                );
                opened += 1;
            }
        }
    }
    assert!(
        opened >= awkward.len(),
        "every awkward repo's files were opened: {opened}"
    );
}

/// A lock file that cannot be used (here a folder in its place) costs only the instant takeover: the run
/// goes ahead on the lease alone.
#[tokio::test]
async fn a_sync_runs_on_the_lease_alone_when_its_lock_file_cannot_be_used() {
    let sim = SimHandle::start(50, 0, 24).await;
    let db = TestDb::new(Backend::Sqlite).await;
    let path = db.url.trim_start_matches("sqlite://").to_string();
    std::fs::create_dir(format!("{path}.sync-lock")).unwrap();
    let store = db.store().await;
    assert!(
        store.owner_lock().await.is_err(),
        "the lock file cannot be opened"
    );
    let report = sync(&syncer(&store, &sim, |_| {})).await;
    assert_eq!(report.status, RunStatus::Success, "{report:?}");
    assert_catalog_equals_truth(&store, &sim).await;
    assert!(!store.lease_holder().await.unwrap().owner_locked);
}
