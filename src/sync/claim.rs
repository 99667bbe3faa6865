//! Claiming a run: the one sync lease (timed by the database's clock, renewed by a heartbeat, fenced), the
//! process-liveness lock its owner holds beside it ([`OwnerLock`]), and the run record. A free or expired
//! lease is taken; an unexpired one only when its owner held the liveness lock and that lock is free now —
//! the owner's process is gone, so its run is taken over at once. An owner that hangs or is cut off keeps
//! its liveness lock and is taken over only when its lease expires.

use super::{Syncer, Work};
use crate::domain::records::{Fence, LeaseHolder, NewRun, SyncRun};
use crate::domain::Trigger;
use crate::store::{constraint, OwnerLock, StoreError};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// `host-pid-random`: unique per process; `host` is the machine's name (dashes kept: the pid and the
/// random part are read from the end).
pub fn default_owner() -> String {
    let name = gethostname::gethostname();
    let host = match name.to_string_lossy().trim() {
        "" => "host".to_string(),
        name => name.to_string(),
    };
    format!(
        "{host}-{}-{}",
        std::process::id(),
        &Uuid::new_v4().simple().to_string()[..8]
    )
}

/// The host and process id inside an owner made by [`default_owner`], when it is one.
pub fn owner_host_pid(owner: &str) -> Option<(&str, u32)> {
    let mut parts = owner.rsplitn(3, '-');
    let _random = parts.next()?;
    let pid = parts.next()?.parse().ok()?;
    Some((parts.next()?, pid))
}

#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// Another live run holds the lease; `holder` says whose it is and until when.
    #[error("a sync is already running")]
    Busy {
        run_id: Option<Uuid>,
        holder: Option<LeaseHolder>,
    },
    /// The schedule slot already has its run (another replica took it).
    #[error("the schedule slot already has a run")]
    SlotTaken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ClaimError {
    fn busy(holder: LeaseHolder) -> ClaimError {
        ClaimError::Busy {
            run_id: holder.run_id,
            holder: Some(holder),
        }
    }
}

/// A run that holds the lease and is recorded as running.
#[derive(Debug)]
pub struct ClaimedRun {
    pub run: SyncRun,
    pub(super) fence: Fence,
    pub(super) work: Work,
    /// Held until the run ends; `None` when another process holds it (a hung owner was taken over).
    pub(super) alive: Option<OwnerLock>,
}

impl ClaimedRun {
    pub fn id(&self) -> Uuid {
        self.run.id
    }
}

/// The lease for a run, and how it was had.
struct Lease {
    fence: Fence,
    alive: Option<OwnerLock>,
    /// Taken from an owner whose process is gone (its lease had not expired).
    from_dead_owner: bool,
}

impl Syncer {
    /// Takes the sync lease and records a running run; `Busy` when another run holds the lease.
    pub async fn claim(
        &self,
        trigger: Trigger,
        scheduled_for: Option<DateTime<Utc>>,
    ) -> Result<ClaimedRun, ClaimError> {
        self.claim_work(trigger, scheduled_for, Work::Full).await
    }

    /// Claims a run refreshing one repo.
    pub async fn claim_repo(
        &self,
        trigger: Trigger,
        repo_id: &str,
        revision: Option<String>,
        adhoc: bool,
    ) -> Result<ClaimedRun, ClaimError> {
        let work = Work::Repo {
            repo_id: repo_id.to_string(),
            revision,
            adhoc,
        };
        self.claim_work(trigger, None, work).await
    }

    /// The lease for `run_id`: free or expired, or held by an owner whose process is gone.
    async fn take_lease(&self, run_id: Uuid) -> Result<Lease, ClaimError> {
        let owner = &self.config.owner;
        let ttl = self.config.lease_ttl.as_millis() as i64;
        // Without the lock (a read-only folder, a refused session) the run still goes ahead, on the
        // lease alone: a dead owner is then known only when its lease expires.
        let alive = match self.store.owner_lock().await {
            Ok(alive) => alive,
            Err(e) => {
                tracing::warn!(error = %e, "the sync's liveness lock is unavailable; relying on the lease alone");
                None
            }
        };
        let locked = alive.is_some();
        if let Some(fence) = self.store.acquire_lease(owner, run_id, ttl, locked).await? {
            return Ok(Lease {
                fence,
                alive,
                from_dead_owner: false,
            });
        }
        let holder = self.store.lease_holder().await?;
        if let Some(alive) = alive {
            if holder.owner_locked {
                if let Some(fence) = self
                    .store
                    .take_over_lease(owner, run_id, ttl, holder.fence)
                    .await?
                {
                    tracing::warn!(
                        previous_owner = holder.owner.as_deref().unwrap_or(""),
                        previous_run = ?holder.run_id,
                        "took over the sync lease at once: its owner's process is gone"
                    );
                    return Ok(Lease {
                        fence,
                        alive: Some(alive),
                        from_dead_owner: true,
                    });
                }
            }
            alive.release().await;
        }
        Err(ClaimError::busy(holder))
    }

    async fn claim_work(
        &self,
        trigger: Trigger,
        scheduled_for: Option<DateTime<Utc>>,
        work: Work,
    ) -> Result<ClaimedRun, ClaimError> {
        let run_id = Uuid::new_v4();
        let lease = self.take_lease(run_id).await?;
        let reason = if lease.from_dead_owner {
            "abandoned: its owner's process is gone"
        } else {
            "abandoned: its owner stopped renewing the sync lease"
        };
        let abandoned = self.store.abandon_runs(run_id, reason).await?;
        if abandoned > 0 {
            tracing::warn!(abandoned, "took over the sync from a run whose owner died");
        }
        let rules = serde_json::to_value(self.config.rules.spec()).unwrap_or_default();
        let run = match self
            .store
            .create_run(&NewRun {
                id: run_id,
                trigger,
                owner: self.config.owner.clone(),
                scheduled_for,
                rules,
                repo_id: match &work {
                    Work::Full => None,
                    Work::Repo { repo_id, .. } => Some(repo_id.clone()),
                },
            })
            .await
        {
            Ok(run) => run,
            Err(e) => {
                self.give_back(lease).await;
                return Err(match e {
                    e if e.is_conflict_on(constraint::SYNC_RUNS_SCHEDULED_FOR) => {
                        ClaimError::SlotTaken
                    }
                    other => other.into(),
                });
            }
        };
        Ok(ClaimedRun {
            run,
            fence: lease.fence,
            work,
            alive: lease.alive,
        })
    }

    /// Takes over a run left running by an owner that died or shut down, to resume it: the lease is
    /// taken for that run id and the run changes owner. `Busy` when a live owner holds the lease or the
    /// run ended.
    pub async fn claim_resume(&self, run_id: Uuid) -> Result<ClaimedRun, ClaimError> {
        let lease = self.take_lease(run_id).await?;
        match self.store.adopt_run(run_id, &self.config.owner).await {
            Ok(Some(run)) => {
                tracing::warn!(%run_id, "resuming a run whose owner stopped");
                let work = match run.repo_id.clone() {
                    Some(repo_id) => Work::Repo {
                        repo_id,
                        revision: None,
                        adhoc: run.trigger == Trigger::Adhoc,
                    },
                    None => Work::Full,
                };
                Ok(ClaimedRun {
                    run,
                    fence: lease.fence,
                    work,
                    alive: lease.alive,
                })
            }
            Ok(None) => {
                self.give_back(lease).await;
                Err(ClaimError::Busy {
                    run_id: None,
                    holder: None,
                })
            }
            Err(e) => {
                self.give_back(lease).await;
                Err(e.into())
            }
        }
    }

    /// Frees a lease whose run could not start.
    async fn give_back(&self, lease: Lease) {
        let _ = self.store.release_lease(&lease.fence).await;
        if let Some(alive) = lease.alive {
            alive.release().await;
        }
    }

    /// Ends a claimed run's hold: the lease (unless another owner took it) and the liveness lock.
    pub(super) async fn release_claim(&self, claimed: ClaimedRun, lease_lost: bool) {
        if !lease_lost {
            if let Err(e) = self.store.release_lease(&claimed.fence).await {
                tracing::warn!(error = %e, "could not release the sync lease; it expires by itself");
            }
        }
        if let Some(alive) = claimed.alive {
            alive.release().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_name_their_host_and_process() {
        let owner = default_owner();
        let (host, pid) = owner_host_pid(&owner).unwrap();
        assert_eq!(pid, std::process::id());
        // The machine's name, whatever the environment exports (issue #35: `HOSTNAME` is a shell
        // variable, not exported, so every owner read "host").
        let name = gethostname::gethostname();
        assert_eq!(host, name.to_string_lossy().trim());
        assert_eq!(
            owner_host_pid("web-1-eu-4242-0a1b2c3d"),
            Some(("web-1-eu", 4242))
        );
        assert_eq!(owner_host_pid("another-replica"), None);
    }
}
