//! The population's determinism and mutation steps.
use super::*;

#[test]
fn populations_are_deterministic_and_unique() {
    let spec = PopulationSpec {
        litert: 300,
        other: 50,
        seed: 7,
    };
    let (a, _) = generate(spec);
    let (b, _) = generate(spec);
    assert_eq!(a, b);
    let ids: HashSet<String> = a.iter().map(|r| r.id.to_ascii_lowercase()).collect();
    assert_eq!(ids.len(), 350);
    let oids: HashSet<&str> = a.iter().map(|r| r.object_id.as_str()).collect();
    assert_eq!(oids.len(), 350);
    assert!(a[..300].iter().all(SimRepo::is_litert));
    assert!(a[300..].iter().all(|r| !r.is_litert()));
}

#[test]
fn populations_are_realistic() {
    let (repos, _) = generate(PopulationSpec {
        litert: 800,
        other: 0,
        seed: 1,
    });
    let has = |f: &dyn Fn(&SimRepo) -> bool| repos.iter().filter(|r| f(r)).count();
    assert!(has(&|r| r.library_name.as_deref() == Some("litert-lm")) > 20);
    assert!(has(&|r| r.library_name.is_none()) > 10);
    assert!(has(&|r| r.files.iter().any(|f| f.path.ends_with(".task"))) > 10);
    assert!(
        has(&|r| r
            .card_data
            .as_ref()
            .is_some_and(|c| c["license"].is_array()))
            > 5
    );
    assert!(has(&|r| !r.tags.iter().any(|t| t.starts_with("license:"))) > 50);
    assert!(has(&|r| r.gated.is_some()) > 5);
    assert!(has(&|r| r.private) > 0);
    assert!(has(&|r| r.id.contains('_') && r.id.chars().any(|c| c.is_ascii_uppercase())) > 5);
    assert!(
        has(&|r| !r.files.iter().any(|f| f.lfs_sha256.is_some())) > 0,
        "some repos have no model file"
    );
    for r in &repos {
        let readme = r.files.iter().find(|f| f.path == "README.md").unwrap();
        assert_eq!(readme.blob_id, git_blob_id(r.readme.as_bytes()));
        assert_eq!(readme.size, r.readme.len() as i64);
        assert_eq!(
            &r.object_id[..8],
            &format!("{:08x}", r.created_at.timestamp())
        );
    }
}

#[test]
fn mutations_are_deterministic_and_reported() {
    let run = || {
        let (repos, generator) = generate(PopulationSpec {
            litert: 500,
            other: 10,
            seed: 3,
        });
        let mut world = World::new(repos, generator);
        (world.mutate(), world.mutate(), world.repos.len())
    };
    let (a1, a2, n) = run();
    assert_eq!(run(), (a1.clone(), a2.clone(), n));
    assert!(!a1.committed.is_empty() && !a1.removed.is_empty() && !a1.renamed.is_empty());
    assert!(!a1.added.is_empty() && !a1.metadata.is_empty());
    assert_eq!(a2.restored.len(), a1.removed.len().div_ceil(2));
}

#[test]
fn the_world_resolves_ids_case_insensitively() {
    let (repos, generator) = generate(PopulationSpec {
        litert: 5,
        other: 0,
        seed: 1,
    });
    let id = repos[0].id.clone();
    let world = World::new(repos, generator);
    assert!(world.find(&id.to_uppercase()).is_some());
}
