//! Each distinct model file is read once (issue #32): the same bytes published in many repos (one LFS
//! sha256) are opened and read by range once — the Hub counts every read of a model file as a
//! download — and what that reading gave serves every version with those bytes, in later runs too.

use crate::both_backends;
use crate::support::{all_synced, syncer, Backend, SimHandle, TestDb};
use pocket_catalog::domain::Trigger;
use sha2::Digest;

both_backends!(
    the_same_bytes_in_many_repos_are_read_once,
    the_same_bundle_in_many_repos_is_read_once,
    a_gated_repo_is_read_with_its_own_access_never_from_another_repos_reading,
);

/// A gated repo whose model file has the same bytes as public repos' files: whether the mirror can
/// read it is the gated repo's own (its files need access the mirror's anonymous token lacks), so its
/// version is missing for that reason — never given a public repo's reading (or failure) of the same
/// bytes because that repo happened to be read first.
async fn a_gated_repo_is_read_with_its_own_access_never_from_another_repos_reading(
    backend: Backend,
) {
    // Population 23 has gated repos among its 30, their `.tflite` backed by the same model as the rest.
    let sim = SimHandle::start(30, 0, 23).await;
    let model = crate::packed::labelled_classifier(0);
    let sha = hex::encode(sha2::Sha256::digest(&model));
    sim.sim.serve_model_files(vec![model]);
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    sync_with_versions(&store, &sim).await;
    let (mut gated, mut public_read) = (0, 0);
    for m in all_synced(&store).await {
        let is_gated =
            pocket_catalog::domain::is_gated(m.upstream.as_ref().and_then(|u| u.gated.as_deref()));
        for v in store.list_versions(m.id).await.unwrap() {
            let main = pocket_catalog::domain::assets::main_file(&v.assets).unwrap();
            if main.file_hash.as_deref() != Some(&sha) {
                continue;
            }
            if is_gated {
                gated += 1;
                assert_eq!(v.status, pocket_catalog::domain::VersionStatus::Missing);
                assert!(
                    v.unsupported_reason
                        .as_deref()
                        .is_some_and(|r| r.contains("gated")),
                    "{:?}",
                    v.unsupported_reason
                );
            } else if v.inspection.as_ref().is_some_and(|i| i["error"].is_null()) {
                public_read += 1;
            }
        }
    }
    assert!(
        gated >= 1,
        "the population has a gated repo sharing the bytes"
    );
    assert!(
        public_read >= 10,
        "{public_read} public versions read the shared bytes"
    );
}

/// LLM bundles too: every `.litertlm` of the population gets the same real bundle (the official
/// builder's); the versions whose main file it is all have its reading, made once.
async fn the_same_bundle_in_many_repos_is_read_once(backend: Backend) {
    let sim = SimHandle::start(60, 0, 43).await;
    let (bundle, _) = crate::litertlm::llm_bundle();
    let sha = hex::encode(sha2::Sha256::digest(bundle));
    for repo in sim.sim.repos() {
        for f in repo.files.iter().filter(|f| f.path.ends_with(".litertlm")) {
            sim.sim.put_file(&repo.id, &f.path, bundle.clone()).unwrap();
        }
    }
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    sync_with_versions(&store, &sim).await;
    let mut read = Vec::new();
    for m in all_synced(&store).await {
        for v in store.list_versions(m.id).await.unwrap() {
            let main = pocket_catalog::domain::assets::main_file(&v.assets).unwrap();
            if main.file_hash.as_deref() == Some(&sha) {
                let i = v.inspection.unwrap();
                assert_eq!(i["format"], "litertlm", "{i}");
                assert!(i["error"].is_null(), "{i}");
                read.push(i["bytes_read"].as_u64().unwrap_or(0));
            }
        }
    }
    assert!(
        read.len() >= 2,
        "{} versions of the shared bundle",
        read.len()
    );
    assert_eq!(
        read.iter().filter(|b| **b > 0).count(),
        1,
        "one reading, reused: {read:?}"
    );
}

async fn the_same_bytes_in_many_repos_are_read_once(backend: Backend) {
    let sim = SimHandle::start(30, 0, 37).await;
    let model = crate::packed::labelled_classifier(0);
    let sha = hex::encode(sha2::Sha256::digest(&model));
    let backed = sim.sim.serve_model_files(vec![model.clone()]);
    assert!(backed > 10, "{backed} files share one blob");
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    sync_with_versions(&store, &sim).await;
    let mut inspected = 0;
    let mut read = 0;
    for m in all_synced(&store).await {
        for v in store.list_versions(m.id).await.unwrap() {
            let Some(i) = v.inspection.as_ref().filter(|i| i["format"] == "tflite") else {
                continue;
            };
            if i["error"].is_null()
                && v.assets
                    .iter()
                    .any(|a| a.file_hash.as_deref() == Some(&sha))
            {
                inspected += 1;
                read += usize::from(i["bytes_read"].as_u64().unwrap_or(0) > 0);
                // The reading is the file's (its tensors); the spec follows each repo's own task.
                assert!(v.signature.is_some(), "{v:?}");
            }
        }
    }
    assert!(inspected > 5, "{inspected} versions of the shared file");
    assert_eq!(read, 1, "one reading, reused by the others");
    let served = sim.sim.bytes_served(&sha);
    assert!(
        served <= 2 * 256 * 1024,
        "{served} bytes of the shared file served for {inspected} versions"
    );
    // A later run with a re-upload of the same bytes under another repo's new commit reads nothing.
    let repo = sim
        .litert_truth()
        .into_iter()
        .find(|r| r.gated.is_none() && r.files.iter().any(|f| f.path.ends_with(".tflite")))
        .unwrap();
    sim.sim.commit(&repo.id).unwrap();
    sim.sim
        .put_file(&repo.id, "reuploaded.tflite", model)
        .unwrap();
    sim.sim.reset_stats();
    sync_with_versions(&store, &sim).await;
    assert_eq!(
        sim.sim.stats().cdn_requests,
        0,
        "the re-upload is not read again"
    );
}

/// One sync run that pulls versions (and reads their model files).
async fn sync_with_versions(store: &pocket_catalog::store::Store, sim: &SimHandle) {
    syncer(store, sim, |c| c.pull_versions = true)
        .run_once(Trigger::Manual, tokio_util::sync::CancellationToken::new())
        .await
        .unwrap();
}
