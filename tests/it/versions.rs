//! Versions and assets from upstream commits, against the simulator on both backends.

use crate::both_backends;
use crate::support::{
    has_model_file, serve_config, syncer, Backend, Role, SimHandle, TestApp, TestDb,
};
use axum::http::StatusCode;
use pocket_catalog::domain::records::Asset;
use pocket_catalog::domain::{RunStatus, Trigger};
use pocket_catalog::hubsim::population::SimRepo;
use pocket_catalog::store::Store;
use pocket_catalog::sync::Syncer;
use std::collections::BTreeSet;
use tokio_util::sync::CancellationToken;

both_backends!(
    versions_carry_the_exact_files_of_each_commit,
    an_unchanged_catalog_costs_no_detail_request_and_a_commit_one_version,
    repos_without_a_model_file_are_skipped_or_kept_by_configuration,
    the_api_shows_versions_newest_first_and_the_latest_size,
    a_new_version_says_which_files_changed_since_the_previous_one,
);

fn versioned(store: &Store, sim: &SimHandle) -> Syncer {
    syncer(store, sim, |c| {
        c.pull_versions = true;
        c.require_model_file = true;
    })
}

/// The assets a repo's head commit must have, computed from the simulator's own files.
fn expected_assets(sim: &SimHandle, r: &SimRepo) -> Vec<(String, i64, String, String)> {
    let companion = |p: &str| {
        matches!(
            p,
            "labels.txt" | "vocab.txt" | "tokenizer.model" | "config.json"
        )
    };
    let mut out: Vec<_> = r
        .files
        .iter()
        .filter(|f| {
            f.path.ends_with(".tflite")
                || f.path.ends_with(".litertlm")
                || f.path.ends_with(".task")
                || companion(&f.path)
        })
        .map(|f| {
            (
                f.path.clone(),
                f.size,
                f.lfs_sha256.clone().unwrap_or_else(|| f.blob_id.clone()),
                {
                    // Every segment percent-encoded (ids and file names may hold `é`, ` `, `#`, …).
                    let mut url = url::Url::parse(&sim.url).unwrap();
                    url.path_segments_mut()
                        .unwrap()
                        .pop_if_empty()
                        .extend(r.id.split('/'))
                        .extend(["resolve", r.sha.as_str()])
                        .extend(f.path.split('/'));
                    url.to_string()
                },
            )
        })
        .collect();
    out.sort();
    out
}

fn actual_assets(assets: &[Asset]) -> Vec<(String, i64, String, String)> {
    let mut out: Vec<_> = assets
        .iter()
        .map(|a| {
            (
                a.asset_key.clone(),
                a.file_size_bytes.unwrap(),
                a.file_hash.clone().unwrap(),
                a.source_url.clone(),
            )
        })
        .collect();
    out.sort();
    out
}

async fn run(s: &Syncer) -> pocket_catalog::sync::RunReport {
    s.run_once(Trigger::Manual, CancellationToken::new())
        .await
        .unwrap()
}

async fn versions_carry_the_exact_files_of_each_commit(backend: Backend) {
    let sim = SimHandle::start(400, 50, 31).await;
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let report = run(&versioned(&store, &sim)).await;
    let truth = sim.litert_truth();
    let usable: Vec<&SimRepo> = truth.iter().filter(|r| has_model_file(r)).collect();
    assert!(
        usable.len() < truth.len(),
        "the population has repos without model files"
    );
    assert_eq!(
        report.status,
        RunStatus::Success,
        "policy skips do not make a run partial"
    );
    assert_eq!(report.counts.created as usize, usable.len());
    assert_eq!(report.counts.versions_created as usize, usable.len());
    assert_eq!(report.counts.skipped as usize, truth.len() - usable.len());
    let skips = store.run_skips(report.run_id, 1000).await.unwrap();
    assert!(skips.iter().all(|s| s.reason.starts_with("no model file")));
    for r in usable {
        let model = store
            .synced_models(&[], std::slice::from_ref(&r.id))
            .await
            .unwrap()
            .pop()
            .unwrap();
        let versions = store.list_versions(model.id).await.unwrap();
        assert_eq!(versions.len(), 1, "{}", r.id);
        let v = &versions[0];
        assert_eq!(v.hf_commit_sha.as_deref(), Some(r.sha.as_str()));
        assert_eq!(
            v.version_string,
            format!("{}-{}", r.last_modified.format("%Y.%m.%d"), &r.sha[..7])
        );
        assert_eq!(v.published_at, r.last_modified);
        assert_eq!(
            actual_assets(&v.assets),
            expected_assets(&sim, r),
            "{}",
            r.id
        );
        let primaries: Vec<&Asset> = v.assets.iter().filter(|a| a.is_primary).collect();
        assert_eq!(primaries.len(), 1);
        assert!(matches!(
            primaries[0].asset_type.as_str(),
            "tflite" | "litertlm" | "task"
        ));
        if v.assets.iter().any(|a| a.asset_type == "litertlm") {
            assert_eq!(primaries[0].asset_type, "litertlm");
        }
        for a in &v.assets {
            let lfs = r
                .files
                .iter()
                .find(|f| f.path == a.asset_key)
                .unwrap()
                .lfs_sha256
                .is_some();
            assert_eq!(
                a.hash_kind.as_deref(),
                Some(if lfs { "sha256" } else { "git-blob-sha1" })
            );
        }
        let total: i64 = v.assets.iter().filter_map(|a| a.file_size_bytes).sum();
        assert_eq!(model.latest_version_size_bytes, Some(total));
    }
}

async fn an_unchanged_catalog_costs_no_detail_request_and_a_commit_one_version(backend: Backend) {
    let sim = SimHandle::start(500, 0, 32).await;
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let s = versioned(&store, &sim);
    run(&s).await;
    // A developer's own version on a synced model is never touched.
    let some = store.active_synced().await.unwrap()[0].clone();
    let dev_version = store
        .create_version(&pocket_catalog::domain::records::NewVersion {
            model_id: some.0,
            version_string: "community-int4".into(),
            changelog: None,
            hf_commit_sha: None,
            pipeline_spec: None,
            assets: vec![],
            published_at: pocket_catalog::domain::now() - chrono::Duration::days(3650),
            created_by: None,
            license_type: None,
            inspected: None,
            refusal: None,
            deferred: None,
        })
        .await
        .unwrap();

    sim.sim.reset_stats();
    let second = run(&s).await;
    assert_eq!(
        (
            second.counts.versions_created,
            second.counts.created,
            second.counts.updated
        ),
        (0, 0, 0)
    );
    let stats = sim.sim.stats();
    assert_eq!(stats.requests, stats.list, "only the listings: {stats:?}");
    assert_eq!(second.counts.rows_written, 0);

    let m = sim.sim.mutate();
    let in_catalog: BTreeSet<String> = store
        .active_synced()
        .await
        .unwrap()
        .into_iter()
        .map(|(_, _, id)| id)
        .collect();
    let committed: Vec<&String> = m
        .committed
        .iter()
        .filter(|id| in_catalog.contains(*id))
        .collect();
    let added = sim
        .litert_truth()
        .into_iter()
        .filter(|r| m.added.contains(&r.id) && has_model_file(r))
        .count();
    sim.sim.reset_stats();
    let third = run(&s).await;
    assert_eq!(
        third.counts.versions_created as usize,
        committed.len() + added,
        "{third:?}"
    );
    for id in &committed {
        let model = store
            .synced_models(&[], std::slice::from_ref(*id))
            .await
            .unwrap()
            .pop()
            .unwrap();
        let versions: Vec<_> = store
            .list_versions(model.id)
            .await
            .unwrap()
            .into_iter()
            .filter(|v| v.hf_commit_sha.is_some())
            .collect();
        let head = sim.sim.repos().into_iter().find(|r| &&r.id == id).unwrap();
        assert_eq!(versions.len(), 2, "history is kept: {id}");
        assert_eq!(
            versions[0].hf_commit_sha.as_deref(),
            Some(head.sha.as_str()),
            "newest first"
        );
    }
    for id in m.metadata.iter().filter(|id| in_catalog.contains(*id)) {
        let model = store
            .synced_models(&[], std::slice::from_ref(id))
            .await
            .unwrap()
            .pop()
            .unwrap();
        let synced = store
            .list_versions(model.id)
            .await
            .unwrap()
            .into_iter()
            .filter(|v| v.hf_commit_sha.is_some())
            .count();
        assert_eq!(synced, 1, "metadata alone makes no version");
    }
    // Detail requests only for new and changed commits (plus READMEs of those without a card text).
    let stats = sim.sim.stats();
    let confirmations = m
        .removed
        .iter()
        .chain(&m.privatised)
        .filter(|id| in_catalog.contains(*id))
        .count();
    assert_eq!(
        stats.model_info as usize,
        committed.len() + added + confirmations
    );
    let kept = store.get_version(some.0, dev_version.id).await.unwrap();
    assert_eq!(kept, Some(dev_version));
}

async fn repos_without_a_model_file_are_skipped_or_kept_by_configuration(backend: Backend) {
    let sim = SimHandle::start(600, 0, 33).await;
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let report = run(&syncer(&store, &sim, |c| {
        c.pull_versions = true;
        c.require_model_file = false;
    }))
    .await;
    let truth = sim.litert_truth();
    assert_eq!(report.counts.created as usize, truth.len());
    assert_eq!(report.counts.skipped, 0);
    let without: Vec<&SimRepo> = truth.iter().filter(|r| !has_model_file(r)).collect();
    assert!(!without.is_empty());
    for r in without {
        let model = store
            .synced_models(&[], std::slice::from_ref(&r.id))
            .await
            .unwrap()
            .pop()
            .unwrap();
        assert!(
            store.list_versions(model.id).await.unwrap().is_empty(),
            "no version without a model file"
        );
    }
}

async fn the_api_shows_versions_newest_first_and_the_latest_size(backend: Backend) {
    let sim = SimHandle::start(60, 0, 34).await;
    let mut config = serve_config(&sim);
    config.sync.sync_pull_versions = true;
    config.sync.sync_require_model_file = true;
    let app = TestApp::with_config(backend, config).await;
    let admin = app.token(Role::Admin).await;
    let res = app
        .post(
            "/sync/huggingface/litert",
            Some(&admin),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(res.body["versions_created"].as_i64().unwrap() > 0);
    let models = app.get("/models?source=huggingface&limit=5", None).await;
    for m in models.body.as_array().unwrap() {
        let versions = app
            .get(
                &format!("/models/{}/versions", m["slug"].as_str().unwrap()),
                None,
            )
            .await;
        assert_eq!(versions.status, StatusCode::OK);
        let v = &versions.body[0];
        assert_eq!(m["latest_version_size_bytes"], v["total_size_bytes"]);
        assert!(v["assets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["is_primary"] == true));
        assert!(v["hf_commit_sha"].is_string());
    }
}

/// A changelog from the content (issue #32): a new commit whose model file changed gives a version
/// whose changelog and `changed_files` name it; a commit that changed only other files (the model card)
/// says no model or companion file changed; the first version says it is the first. Both dialects show
/// the list.
async fn a_new_version_says_which_files_changed_since_the_previous_one(backend: Backend) {
    let sim = SimHandle::start(30, 0, 31).await;
    let app = TestApp::with_config(backend, serve_config(&sim)).await;
    let store = app.store.clone();
    let s = versioned(&store, &sim);
    run(&s).await;
    let repos: Vec<SimRepo> = sim
        .litert_truth()
        .into_iter()
        .filter(|r| r.gated.is_none() && !r.disabled)
        .filter(|r| r.files.iter().any(|f| f.path.ends_with(".tflite")))
        .take(2)
        .collect();
    let [edited, carded] = <[SimRepo; 2]>::try_from(repos).unwrap();
    let newest = |id: String| {
        let store = store.clone();
        async move {
            let model = crate::support::all_synced(&store)
                .await
                .into_iter()
                .find(|m| m.hf_model_id.as_deref() == Some(id.as_str()))
                .unwrap();
            let mut versions = store.list_versions(model.id).await.unwrap();
            versions.sort_by_key(|v| v.published_at);
            (model.id, versions)
        }
    };
    let (_, first) = newest(edited.id.clone()).await;
    assert!(first[0]
        .changelog
        .as_deref()
        .unwrap()
        .contains("first version"));

    let model_file = edited
        .files
        .iter()
        .find(|f| f.path.ends_with(".tflite"))
        .unwrap();
    sim.sim.commit(&edited.id).unwrap();
    sim.sim
        .put_file(&edited.id, &model_file.path, b"new model bytes".to_vec())
        .unwrap();
    sim.sim.commit(&carded.id).unwrap();
    run(&s).await;

    let (model_id, versions) = newest(edited.id.clone()).await;
    assert_eq!(versions.len(), 2);
    let new = versions.last().unwrap();
    let changed = new.changed_files.as_ref().unwrap();
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!(changed[0].path, model_file.path);
    assert_eq!(
        changed[0].change,
        pocket_catalog::domain::changes::Change::Changed
    );
    let text = new.changelog.as_deref().unwrap();
    assert!(
        text.contains(&format!("the model file {} changed", model_file.path))
            && text.contains(&versions[0].version_string),
        "{text}"
    );
    let (_, carded_versions) = newest(carded.id.clone()).await;
    let card_only = carded_versions.last().unwrap();
    assert_eq!(carded_versions.len(), 2);
    assert_eq!(card_only.changed_files.as_deref(), Some(&[][..]));
    assert!(card_only
        .changelog
        .as_deref()
        .unwrap()
        .contains("No model or companion file changed"));

    // Both dialects show the list.
    let v1 = app
        .get(&format!("/api/v1/models/{model_id}/versions"), None)
        .await;
    let shown = v1
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == new.id.to_string())
        .unwrap()
        .clone();
    assert_eq!(shown["changed_files"][0]["change"], "changed");
    assert_eq!(shown["changed_files"][0]["kind"], "tflite");
    let root = app
        .get(&format!("/models/{model_id}/versions/{}", new.id), None)
        .await;
    assert_eq!(root.body["changed_files"], shown["changed_files"]);
}
