//! The Hub simulator speaks the Hub's protocol: checked with our client, raw HTTP, and the official
//! Python client `huggingface_hub` (the contract test).

use crate::support::SimHandle;
use pocket_catalog::hub::{HubClient, RepoOutcome};
use pocket_catalog::hubsim::Faults;
use std::collections::{BTreeMap, BTreeSet};

async fn discover(client: &HubClient) -> BTreeMap<String, String> {
    let mut seen = BTreeMap::new();
    for filter in ["litert", "litert-lm", "tflite"] {
        let mut next = Some(client.listing_url(filter, &["sha", "tags"]));
        while let Some(url) = next {
            let page = client.list_page(&url).await.unwrap();
            assert!(page.skipped.is_empty());
            for m in page.models {
                seen.insert(m.object_id.clone().unwrap(), m.id);
            }
            next = page.next;
        }
    }
    seen
}

#[tokio::test]
async fn the_union_of_listings_is_exactly_the_public_litert_population() {
    let sim = SimHandle::start(2_500, 300, 11).await;
    let client = sim.client(None);
    let seen = discover(&client).await;
    let truth: BTreeMap<String, String> = sim
        .litert_truth()
        .into_iter()
        .map(|r| (r.object_id, r.id))
        .collect();
    assert_eq!(seen, truth);
    assert!(
        sim.sim.stats().list >= 3 + 2,
        "more than one page per large filter"
    );
}

#[tokio::test]
async fn model_info_tree_and_readme_match_the_simulated_repo() {
    let sim = SimHandle::start(60, 5, 2).await;
    let client = sim.client(None);
    let truth = sim.litert_truth();
    let repo = truth
        .iter()
        .find(|r| r.gated.is_none() && r.files.len() > 3)
        .unwrap();
    let RepoOutcome::Found {
        value: info,
        renamed_to: None,
    } = client.model_info(&repo.id, None).await.unwrap()
    else {
        panic!("found")
    };
    assert_eq!(info.object_id.as_deref(), Some(repo.object_id.as_str()));
    assert_eq!(info.sha.as_deref(), Some(repo.sha.as_str()));
    let siblings = info.siblings.unwrap();
    assert_eq!(siblings.len(), repo.files.len());
    for (s, f) in siblings.iter().zip(&repo.files) {
        assert_eq!(s.rfilename, f.path);
        assert_eq!(s.size, Some(f.size));
        assert_eq!(s.lfs.as_ref().map(|l| l.sha256.clone()), f.lfs_sha256);
        assert_eq!(s.blob_id.as_deref(), Some(f.blob_id.as_str()));
    }
    let RepoOutcome::Found { value: tree, .. } = client.tree(&repo.id, &repo.sha).await.unwrap()
    else {
        panic!()
    };
    let files: Vec<_> = tree
        .iter()
        .filter(|e| e.kind == "file")
        .map(|e| {
            (
                e.path.clone(),
                e.size,
                e.lfs.as_ref().map(|l| l.oid.clone()),
            )
        })
        .collect();
    let expected: Vec<_> = repo
        .files
        .iter()
        .map(|f| (f.path.clone(), f.size, f.lfs_sha256.clone()))
        .collect();
    assert_eq!(files, expected);
    let readme = client.readme(&repo.id, &repo.sha).await.unwrap().unwrap();
    assert_eq!(readme, repo.readme);
    assert!(matches!(
        client
            .model_info(&repo.id, Some("0000000000000000000000000000000000000000"))
            .await
            .unwrap(),
        RepoOutcome::NotFound
    ));
}

#[tokio::test]
async fn missing_private_renamed_and_gated_repos_answer_like_the_hub() {
    let sim = SimHandle::start(400, 0, 5).await;
    let anonymous = sim.client(None);
    let with_token = sim.client(Some("hf_test"));
    assert_eq!(
        anonymous.model_info("nobody/nothing", None).await.unwrap(),
        RepoOutcome::MissingOrPrivate
    );
    assert_eq!(
        with_token.model_info("nobody/nothing", None).await.unwrap(),
        RepoOutcome::NotFound
    );
    let private = sim
        .sim
        .repos()
        .into_iter()
        .find(|r| r.private)
        .expect("a private repo");
    assert_eq!(
        anonymous.model_info(&private.id, None).await.unwrap(),
        RepoOutcome::MissingOrPrivate
    );
    let report = sim.sim.mutate();
    let (old, new) = report.renamed.first().cloned().expect("a rename");
    match anonymous.model_info(&old, None).await.unwrap() {
        RepoOutcome::Found { value, renamed_to } => {
            assert_eq!(renamed_to.as_deref(), Some(new.as_str()));
            assert_eq!(value.id, new);
        }
        other => panic!("{other:?}"),
    }
    let removed = report.removed.first().expect("a removal");
    assert_eq!(
        anonymous.model_info(removed, None).await.unwrap(),
        RepoOutcome::MissingOrPrivate
    );
    let gated = sim
        .litert_truth()
        .into_iter()
        .find(|r| r.gated.is_some())
        .expect("a gated repo");
    assert!(
        matches!(
            anonymous.model_info(&gated.id, None).await.unwrap(),
            RepoOutcome::Found { .. }
        ),
        "metadata of gated repos is public"
    );
    let res = reqwest::get(format!("{}/{}/resolve/main/config.json", sim.url, gated.id))
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["x-error-code"], "GatedRepo");
}

#[tokio::test]
async fn listing_parameters_follow_the_hub_rules() {
    let sim = SimHandle::start(50, 10, 9).await;
    let get = |q: &str| reqwest::get(format!("{}/api/models?{q}", sim.url));
    let res = get("filter=litert&expand=sha&full=true").await.unwrap();
    assert_eq!(res.status(), 400, "expand cannot be combined with full");
    assert!(res.json::<serde_json::Value>().await.unwrap()["error"].is_string());
    assert_eq!(get("expand=nonsense").await.unwrap().status(), 400);
    let res = get("filter=litert&limit=3&expand[]=sha&expand[]=likes")
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["ratelimit"]
        .to_str()
        .unwrap()
        .starts_with("\"api\";r="));
    assert!(res.headers()["ratelimit-policy"]
        .to_str()
        .unwrap()
        .contains("q="));
    let link = res.headers()["link"].to_str().unwrap().to_string();
    assert!(
        link.starts_with(&format!("<{}/api/models?", sim.url)),
        "absolute next link: {link}"
    );
    assert!(link.contains("expand%5B%5D=sha") && link.contains("cursor="));
    let items: Vec<serde_json::Value> = res.json().await.unwrap();
    assert_eq!(items.len(), 3);
    let keys: BTreeSet<String> = items[0].as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        keys,
        ["_id", "id", "likes", "sha"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
    let default: Vec<serde_json::Value> = get("filter=litert&limit=1")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(default[0].get("modelId").is_some() && default[0].get("sha").is_none());
    let full: Vec<serde_json::Value> = get("filter=litert&limit=1&full=true&cardData=true")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(full[0].get("siblings").is_some() && full[0].get("sha").is_some());
    let both: Vec<serde_json::Value> = get("filter=litert&filter=litert-lm&limit=1000")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for m in &both {
        let tags: Vec<&str> = m["tags"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| t.as_str())
            .collect();
        assert!(
            tags.contains(&"litert") && tags.contains(&"litert-lm"),
            "filters are ANDed"
        );
    }
    let author = sim.litert_truth()[0].author().to_string();
    let mine: Vec<serde_json::Value> = get(&format!("author={author}&limit=1000"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        !mine.is_empty()
            && mine
                .iter()
                .all(|m| m["id"].as_str().unwrap().starts_with(&format!("{author}/")))
    );
    let stats = sim.sim.stats();
    assert!(stats.requests >= 7 && stats.list >= 7);
}

#[tokio::test]
async fn faults_are_injected_and_survived_by_the_client() {
    let sim = SimHandle::start(1_500, 0, 4).await;
    let client = sim.client(None);
    let truth: BTreeMap<String, String> = sim
        .litert_truth()
        .into_iter()
        .map(|r| (r.object_id, r.id))
        .collect();
    sim.sim.set_faults(Faults {
        fail_every: Some(3),
        truncate_every: Some(2),
        ..Default::default()
    });
    assert_eq!(
        discover(&client).await,
        truth,
        "5xx and truncated pages are retried"
    );
    assert!(client.stats().retries > 0);
    assert!(sim.sim.stats().faults > 0);

    sim.sim.set_faults(Faults {
        malformed_entries: true,
        ..Default::default()
    });
    let page = client
        .list_page(&client.listing_url("litert", &["sha"]))
        .await
        .unwrap();
    assert_eq!(page.skipped.len(), 1);
    assert!(page.skipped[0]
        .id
        .as_deref()
        .unwrap()
        .starts_with("broken/"));
    assert!(!page.models.is_empty());

    sim.sim.set_faults(Faults {
        rate_limit_quota: Some(2),
        rate_limit_window_secs: Some(1),
        ..Default::default()
    });
    let started = std::time::Instant::now();
    for _ in 0..4 {
        client
            .list_page(&client.listing_url("litert-lm", &["sha"]))
            .await
            .unwrap();
    }
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "the window was waited out"
    );
    assert!(sim.sim.stats().rate_limited + client.stats().rate_limited <= 2 * 4);
}

/// The official Python client reads the simulator and sees what our client sees.
#[tokio::test]
async fn the_official_python_client_agrees_with_ours() {
    let python = std::env::var("CONTRACT_PYTHON").unwrap_or_else(|_| {
        panic!("CONTRACT_PYTHON is not set: run ./scripts/test, which creates the venv with huggingface_hub")
    });
    let sim = SimHandle::start(120, 30, 21).await;
    let truth = sim.litert_truth();
    let picks: Vec<String> = truth
        .iter()
        .filter(|r| r.gated.is_none())
        // huggingface_hub refuses, before any request, ids only older Hub rules allowed.
        .filter(|r| {
            r.id.split('/').all(|p| {
                p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                    && !p.contains("--")
            })
        })
        .take(4)
        .map(|r| r.id.clone())
        .collect();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/contract/hf_client.py");
    let out = tokio::process::Command::new(&python)
        .arg(script)
        .args(&picks)
        .env("HF_ENDPOINT", &sim.url)
        .env("HF_HUB_DISABLE_TELEMETRY", "1")
        .env("HF_HUB_OFFLINE", "0")
        .env_remove("HF_TOKEN")
        .output()
        .await
        .expect("run the Python contract client");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    let ours = sim.client(None);
    let our_listing = discover(&ours).await;
    let python_ids: BTreeSet<String> = seen["listed"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let our_ids: BTreeSet<String> = our_listing.values().cloned().collect();
    assert_eq!(python_ids, our_ids);
    for id in &picks {
        let RepoOutcome::Found { value: info, .. } = ours.model_info(id, None).await.unwrap()
        else {
            panic!()
        };
        let theirs = &seen["repos"][id];
        assert_eq!(theirs["sha"], info.sha.clone().unwrap());
        assert_eq!(seen["listed"][id]["sha"], info.sha.clone().unwrap());
        for s in info.siblings.unwrap() {
            let f = &theirs["files"][&s.rfilename];
            assert_eq!(f["size"], serde_json::json!(s.size), "{id} {}", s.rfilename);
            assert_eq!(f["blob_id"], serde_json::json!(s.blob_id));
            assert_eq!(
                f["sha256"],
                serde_json::json!(s.lfs.as_ref().map(|l| l.sha256.clone()))
            );
            let t = &theirs["tree"][&s.rfilename];
            assert_eq!(t["size"], serde_json::json!(s.size));
            assert_eq!(
                t["sha256"],
                serde_json::json!(s.lfs.as_ref().map(|l| l.sha256.clone()))
            );
        }
    }
}

/// Listing entries are rendered once and kept; a change must show in the next listing all the same —
/// for the touched repos only re-rendered, after a mutation for all — whether the cache was filled by
/// requests or ahead of them (`--prerender`).
#[tokio::test]
async fn listings_show_changes_through_the_render_cache() {
    let sim = SimHandle::start(1_500, 0, 5).await;
    let client = sim.client(None);
    let downloads = |client: HubClient| async move {
        let mut all = BTreeMap::new();
        let mut next = Some(client.listing_url("litert", &["downloads", "sha"]));
        while let Some(url) = next {
            let page = client.list_page(&url).await.unwrap();
            for m in page.models {
                all.insert(m.id.clone(), (m.downloads.unwrap(), m.sha.clone()));
            }
            next = page.next;
        }
        all
    };
    let mut keys = vec!["_id", "id"];
    keys.extend_from_slice(pocket_catalog::sync::LISTING_EXPAND);
    assert!(sim.sim.prerender(&keys) > 0);
    let before = downloads(client.clone()).await;
    assert_eq!(
        before,
        downloads(client.clone()).await,
        "served from the cache"
    );
    let touched: BTreeSet<String> = sim.sim.touch(10.0).into_iter().collect();
    let after = downloads(client.clone()).await;
    for (id, (n, sha)) in &after {
        let (was, was_sha) = &before[id];
        assert_eq!(sha, was_sha);
        if touched.contains(id) {
            assert_eq!(*n, was + 1, "{id} shows its new downloads");
        } else {
            assert_eq!(n, was, "{id} unchanged");
        }
    }
    let change = sim.sim.mutate();
    let mutated = downloads(client.clone()).await;
    let truth: BTreeMap<String, String> = sim
        .litert_truth()
        .into_iter()
        .map(|r| (r.id, r.sha))
        .collect();
    let mut checked = 0;
    for id in &change.committed {
        if let (Some((_, sha)), Some(true_sha)) = (mutated.get(id), truth.get(id)) {
            assert_eq!(
                sha.as_deref(),
                Some(true_sha.as_str()),
                "{id} shows its new commit"
            );
            checked += 1;
        }
    }
    assert!(checked > 0, "a new commit was listed");
}
