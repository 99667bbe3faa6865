//! The simulator's world: the repos by object id, deleted repos kept for restoring, the redirects of
//! renamed repos, and the deterministic mutation steps over them.

use super::*;

/// What one mutation step did, by repo id, so tests can compare a sync's counts with the truth.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MutationReport {
    pub step: u64,
    /// New commit (sha, dates and one model file changed).
    pub committed: Vec<String>,
    /// Downloads and likes changed, same commit.
    pub metadata: Vec<String>,
    pub removed: Vec<String>,
    /// `[old id, new id]`.
    pub renamed: Vec<(String, String)>,
    pub privatised: Vec<String>,
    pub added: Vec<String>,
    pub restored: Vec<String>,
}

/// The repos of the simulator with everything mutations need: repos by object id, deleted repos kept
/// for restoring, and the redirects of renamed repos.
#[derive(Debug)]
pub struct World {
    pub repos: BTreeMap<String, SimRepo>,
    pub deleted: BTreeMap<String, SimRepo>,
    /// Old id (lower case) → object id.
    pub redirects: BTreeMap<String, String>,
    pub generator: Generator,
    pub step: u64,
    /// Lower-cased id → object id.
    index: std::collections::HashMap<String, String>,
}

impl World {
    pub fn new(repos: Vec<SimRepo>, mut generator: Generator) -> World {
        for r in &repos {
            generator.reserve(&r.id);
        }
        let mut world = World {
            repos: repos
                .into_iter()
                .map(|r| (r.object_id.clone(), r))
                .collect(),
            deleted: BTreeMap::new(),
            redirects: BTreeMap::new(),
            generator,
            step: 0,
            index: Default::default(),
        };
        world.reindex();
        world
    }

    fn reindex(&mut self) {
        self.index = self
            .repos
            .values()
            .map(|r| (r.id.to_ascii_lowercase(), r.object_id.clone()))
            .collect();
    }

    /// Applies the next deterministic mutation step to the LiteRT repos.
    pub fn mutate(&mut self) -> MutationReport {
        self.step += 1;
        let step = self.step;
        let mut rng = Rng::new(
            self.generator
                .seed
                .wrapping_mul(31)
                .wrapping_add(step * 7919),
        );
        let mut report = MutationReport {
            step,
            ..Default::default()
        };
        let when = base_time() + Duration::days(1000 + step as i64);

        // Restore half of what earlier steps deleted (the first half, deterministically).
        let to_restore: Vec<String> = self
            .deleted
            .keys()
            .take(self.deleted.len().div_ceil(2))
            .cloned()
            .collect();
        for oid in to_restore {
            if let Some(repo) = self.deleted.remove(&oid) {
                report.restored.push(repo.id.clone());
                self.repos.insert(oid, repo);
            }
        }

        let candidates: Vec<String> = self
            .repos
            .values()
            .filter(|r| r.is_litert() && !r.private && !report.restored.contains(&r.id))
            .map(|r| r.object_id.clone())
            .collect();
        for oid in candidates {
            let roll = rng.below(1000);
            let repo = self.repos.get_mut(&oid).expect("candidate exists");
            match roll {
                0..=29 => {
                    repo.sha = rng.hex(40);
                    repo.last_modified = when;
                    if let Some(f) = repo.files.iter_mut().find(|f| f.lfs_sha256.is_some()) {
                        f.lfs_sha256 = Some(rng.hex(64));
                        f.size += 1 + rng.below(4096) as i64;
                        f.blob_id = rng.hex(40);
                    }
                    report.committed.push(repo.id.clone());
                }
                30..=129 => {
                    repo.downloads += 1 + rng.below(500) as i64;
                    repo.likes += rng.below(3) as i64;
                    report.metadata.push(repo.id.clone());
                }
                130..=139 => {
                    let repo = self.repos.remove(&oid).expect("exists");
                    report.removed.push(repo.id.clone());
                    self.deleted.insert(oid, repo);
                }
                140..=149 => {
                    let old = repo.id.clone();
                    let new = format!(
                        "{}/{}-renamed-{step}",
                        repo.author(),
                        old.rsplit('/').next().unwrap_or("x")
                    );
                    self.generator.reserve(&new);
                    repo.id = new.clone();
                    self.redirects.insert(old.to_ascii_lowercase(), oid.clone());
                    report.renamed.push((old, new));
                }
                150..=154 => {
                    repo.private = true;
                    report.privatised.push(repo.id.clone());
                }
                _ => {}
            }
        }
        let adds = (self.repos.len() / 50).max(1);
        for _ in 0..adds {
            let repo = self.generator.litert_repo(1000 + step as i64);
            if !repo.private && repo.is_litert() {
                report.added.push(repo.id.clone());
            }
            self.repos.insert(repo.object_id.clone(), repo);
        }
        self.reindex();
        report
    }

    /// Finds a repo by id (case-insensitive, as the Hub resolves ids).
    pub fn find(&self, id: &str) -> Option<&SimRepo> {
        self.repos.get(self.index.get(&id.to_ascii_lowercase())?)
    }

    /// Where a renamed repo went: its current id.
    pub fn redirect(&self, old_id: &str) -> Option<&str> {
        let oid = self.redirects.get(&old_id.to_ascii_lowercase())?;
        self.repos.get(oid).map(|r| r.id.as_str())
    }
}
