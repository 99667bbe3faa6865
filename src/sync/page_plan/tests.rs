//! The page planner's rules, without a database.
use super::*;
use crate::sync::plan::tests::{mirror, stored};
use std::time::Duration;

const SETTINGS: PlanSettings = PlanSettings {
    pull_versions: false,
    fetch_readmes: true,
    require_model_file: true,
};

fn entry(repo: &str, object_id: &str) -> Entry {
    let mut m = mirror(repo, "sha1", 5);
    m.object_id = object_id.into();
    Entry::new(m)
}

/// Plans `entries` against `models` with no digests or commits known.
fn plan_page(
    settings: PlanSettings,
    entries: Vec<Entry>,
    models: &[Model],
    renamed_away: &mut HashSet<String>,
) -> PagePlan {
    let (digests, commits) = (HashSet::new(), HashMap::new());
    let planner = PagePlanner {
        settings,
        listed_digests: &digests,
        commits: &commits,
    };
    planner.plan(entries, models, renamed_away)
}

#[test]
fn a_rename_in_the_same_page_frees_its_old_repo_id_for_a_new_repo() {
    let old = stored(&entry("o/a", "obj1").mirror, "d");
    // obj1 moved to o/b, and a new repo (obj2) took the name o/a.
    let entries = vec![entry("o/a", "obj2"), entry("o/b", "obj1")];
    let mut renamed_away = HashSet::new();
    let page = plan_page(
        SETTINGS,
        entries,
        std::slice::from_ref(&old),
        &mut renamed_away,
    );
    assert!(page.skips.is_empty(), "{:?}", page.skips);
    assert_eq!(page.entries[0].plan, Plan::Create);
    assert!(matches!(
        &page.entries[1].plan,
        Plan::Update { kind: UpdateKind::Renamed { from }, .. } if from == "o/a"
    ));
    assert!(renamed_away.contains("o/a"));
}

#[test]
fn a_repo_id_freed_by_a_rename_on_an_earlier_page_is_free_too() {
    let old = stored(&entry("o/a", "obj1").mirror, "d");
    let mut renamed_away = HashSet::from(["o/a".to_string()]);
    let page = plan_page(
        SETTINGS,
        vec![entry("o/a", "obj2")],
        &[old],
        &mut renamed_away,
    );
    assert!(page.skips.is_empty());
    assert_eq!(page.entries[0].plan, Plan::Create);
}

#[test]
fn a_repo_id_still_held_by_another_repos_model_is_skipped_with_the_holder() {
    let holder = stored(&entry("o/a", "obj1").mirror, "d");
    let page = plan_page(
        SETTINGS,
        vec![entry("o/a", "obj2")],
        std::slice::from_ref(&holder),
        &mut HashSet::new(),
    );
    assert!(page.entries.is_empty());
    assert_eq!(page.skips.len(), 1);
    let skip = &page.skips[0];
    assert_eq!(skip.object_id.as_deref(), Some("obj2"));
    assert!(
        skip.reason.contains(&holder.id.to_string()) && skip.reason.contains("retried"),
        "{}",
        skip.reason
    );
}

#[test]
fn a_removed_model_gives_its_repo_id_to_the_new_repo_that_took_it() {
    let mut gone = stored(&entry("o/a", "obj1").mirror, "d");
    gone.upstream.as_mut().unwrap().status = Some(UpstreamStatus::Removed);
    let page = plan_page(
        SETTINGS,
        vec![entry("o/a", "obj2")],
        std::slice::from_ref(&gone),
        &mut HashSet::new(),
    );
    assert!(page.skips.is_empty());
    assert_eq!(
        page.entries[0].existing_id,
        Some(gone.id),
        "the model follows the id"
    );
}

#[test]
fn a_new_repo_without_a_model_file_is_skipped_only_when_one_is_required() {
    let mut e = entry("o/docs", "obj1");
    e.mirror.files = Some(vec!["README.md".into(), "notes.txt".into()]);
    let e = Entry::new(e.mirror);
    let page = plan_page(SETTINGS, vec![e.clone()], &[], &mut HashSet::new());
    assert!(page.entries.is_empty());
    assert!(page.skips[0].reason.starts_with("no model file"));

    let lenient = PlanSettings {
        require_model_file: false,
        ..SETTINGS
    };
    let page = plan_page(lenient, vec![e.clone()], &[], &mut HashSet::new());
    assert_eq!(page.entries[0].plan, Plan::Create);

    // A repo the catalog holds is kept up to date even when its model file went away.
    let known = stored(&entry("o/docs", "obj1").mirror, "d");
    let mut newer = e.mirror.clone();
    newer.downloads += 1;
    let page = plan_page(
        SETTINGS,
        vec![Entry::new(newer)],
        std::slice::from_ref(&known),
        &mut HashSet::new(),
    );
    assert!(page.skips.is_empty());
    assert!(matches!(page.entries[0].plan, Plan::Update { .. }));
    assert_eq!(page.entries[0].existing_id, Some(known.id));
}

#[test]
fn an_unchanged_model_stored_without_this_digest_gets_it_written() {
    let e = entry("o/a", "obj1");
    let mut model = stored(&e.mirror, "d");
    model.upstream.as_mut().unwrap().digest = None;
    let page = plan_page(
        SETTINGS,
        vec![e.clone()],
        std::slice::from_ref(&model),
        &mut HashSet::new(),
    );
    let planned = &page.entries[0];
    assert_eq!(planned.plan, Plan::Unchanged);
    assert!(planned.digest_stale);
    let (items, unchanged) = batch_items(
        &page.entries,
        HashMap::new(),
        crate::domain::now(),
        Duration::ZERO,
    );
    assert_eq!(unchanged, 1);
    assert_eq!(items.len(), 1);
    assert!(items[0].write.is_none());
    assert_eq!(items[0].digest, Some((model.id, e.digest)));

    // Stored with it: nothing at all is written.
    let model = stored(&e.mirror, "d");
    let page = plan_page(SETTINGS, vec![e], &[model], &mut HashSet::new());
    assert!(!page.entries[0].digest_stale);
    let (items, _) = batch_items(
        &page.entries,
        HashMap::new(),
        crate::domain::now(),
        Duration::ZERO,
    );
    assert!(items.is_empty());
}

#[test]
fn a_listed_digest_means_unchanged_without_reading_the_model_unless_a_version_is_wanted() {
    let e = entry("o/a", "obj1");
    let digests = HashSet::from([e.digest]);
    let mut commits = HashMap::new();
    let versions = PlanSettings {
        pull_versions: true,
        ..SETTINGS
    };
    let planner = PagePlanner {
        settings: versions,
        listed_digests: &digests,
        commits: &commits,
    };
    // The commit has no version yet: the model is read and a version planned.
    assert_eq!(planner.models_to_read(std::slice::from_ref(&e)).0, ["obj1"]);
    commits.insert("obj1".to_string(), vec!["sha1".to_string()]);
    let planner = PagePlanner {
        settings: versions,
        listed_digests: &digests,
        commits: &commits,
    };
    assert!(planner
        .models_to_read(std::slice::from_ref(&e))
        .0
        .is_empty());
    let page = planner.plan(vec![e], &[], &mut HashSet::new());
    assert_eq!(page.entries[0].plan, Plan::Unchanged);
    assert!(!page.entries[0].needs_version && !page.entries[0].needs_readme);
}

#[test]
fn new_commits_want_a_version_and_new_repos_a_readme() {
    let e = entry("o/a", "obj1");
    let (digests, commits) = (HashSet::new(), HashMap::new());
    let planner = PagePlanner {
        settings: PlanSettings {
            pull_versions: true,
            ..SETTINGS
        },
        listed_digests: &digests,
        commits: &commits,
    };
    let page = planner.plan(vec![e.clone()], &[], &mut HashSet::new());
    assert!(page.entries[0].needs_version && page.entries[0].needs_readme);
    let details = HashMap::from([(
        0,
        EntryDetails {
            readme: Some("From the README.".into()),
            assets: Some(Err("commit details unavailable".into())),
            reading: None,
            unread: None,
        },
    )]);
    let (items, unchanged) =
        batch_items(&page.entries, details, crate::domain::now(), Duration::ZERO);
    assert_eq!(unchanged, 0);
    let (write, kind) = items[0].write.as_ref().unwrap();
    assert_eq!(*kind, WriteKind::Created);
    assert_eq!(write.description, "From the README.");
    assert!(
        items[0].version.is_none(),
        "no version when its files could not be read"
    );
}

#[test]
fn a_version_is_written_with_the_pipeline_its_file_reading_earns() {
    let e = entry("o/llm", "obj9");
    let (digests, commits) = (HashSet::new(), HashMap::new());
    let planner = PagePlanner {
        settings: PlanSettings {
            pull_versions: true,
            ..SETTINGS
        },
        listed_digests: &digests,
        commits: &commits,
    };
    let page = planner.plan(vec![e], &[], &mut HashSet::new());
    let bundle = Asset {
        asset_key: "gemma3-1b-it.task".into(),
        asset_type: "task".into(),
        source_url: "https://huggingface.co/o/llm/resolve/abc/gemma3-1b-it.task".into(),
        file_size_bytes: Some(1 << 30),
        file_hash: None,
        hash_kind: None,
        is_hosted_by_us: false,
        is_primary: true,
    };
    let reading = crate::pipeline::derive::FileReading::Bundle {
        path: "gemma3-1b-it.task".into(),
        format: "task".into(),
        read: None,
    };
    let details = HashMap::from([(
        0,
        EntryDetails {
            readme: None,
            assets: Some(Ok(vec![bundle.clone()])),
            reading: Some(reading),
            unread: None,
        },
    )]);
    let (items, _) = batch_items(&page.entries, details, crate::domain::now(), Duration::ZERO);
    let version = &items[0].version.as_ref().unwrap().version;
    assert_eq!(version.status(), crate::domain::VersionStatus::Pending);
    // A file that could not be read this run: the version is written all the same, deferred.
    let unread = HashMap::from([(
        0,
        EntryDetails {
            readme: None,
            assets: Some(Ok(vec![bundle])),
            reading: None,
            unread: Some("the Hub answered 503".into()),
        },
    )]);
    let hour = Duration::from_secs(3600);
    let (items, _) = batch_items(&page.entries, unread, crate::domain::now(), hour);
    let deferred = &items[0].version.as_ref().unwrap().version;
    assert_eq!(deferred.status(), crate::domain::VersionStatus::Missing);
    let reason = deferred.unsupported_reason().unwrap();
    assert!(
        reason.contains("503") && reason.contains("attempt 1"),
        "{reason}"
    );
    assert!(deferred.deferred.as_ref().unwrap().retry_at > crate::domain::now());
    let spec = version.spec().unwrap();
    assert_eq!(spec["metadata"][0]["framework"], "mediapipe_litert");
    assert_eq!(
        spec["postprocessing"][0]["steps"][0]["params"]["model_type"],
        "gemmaIt"
    );
}
