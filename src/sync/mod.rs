//! The Hugging Face LiteRT sync, one file per stage of a run:
//! - [`claim`]: the one sync lease, the owner's liveness lock and the run record ([`Syncer::claim`]);
//! - this file: a run's lifecycle ([`Syncer::execute`]: heartbeat, phases, how it ended, notification);
//! - `full`: the full run's driver (`run_phases`): discovery, writes, removals, the backlog;
//! - `listing`: one listing per filter, union by object id, fetched a few pages (and bytes) ahead;
//! - `page_plan`: each page planned against the catalog, a pure function with the page-level rules
//!   ([`plan`] per entry; an entry whose [`mapping::Mirror::digest`] matches the stored one is unchanged
//!   without reading its model); `page`: the catalog rows and the details it needs, read around it;
//! - `write`: planned pages written in fenced transactions of a few thousand rows with the run's
//!   counters, in the background;
//! - `removals`: after a complete listing, each missing repo confirmed on its own before it is marked
//!   removed or follows its rename;
//! - `backlog`: after the listing, stored mirrored versions not inspected yet (or by an older inspector)
//!   get their model file inspected, a bounded number per run (`page` inspects the new ones);
//! - `repo`: a run for one repo (webhooks, ad-hoc imports); `notify`: telling people about runs;
//! - `config`: what a run is configured with ([`SyncConfig`]) and its defaults.
mod backlog;
mod claim;
mod config;
mod full;
mod listing;
pub mod live;
pub mod mapping;
pub mod notify;
mod page;
mod page_plan;
pub mod plan;
pub mod queue;
mod removals;
mod repo;
pub mod rules;
pub mod versions;
mod write;

use crate::domain::records::*;
use crate::domain::{RunStatus, Trigger, UpstreamStatus};
use crate::hub::{HubClient, HubError, HubModel, RepoOutcome};
use crate::store::{Store, StoreError};
use futures_util::stream::{self, StreamExt};
use mapping::map_model;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;
use uuid::Uuid;

use listing::*;
use write::*;

pub use backlog::{fail_stale_jobs, JOB_HEARTBEAT, JOB_STALE};
pub use claim::{default_owner, owner_host_pid, ClaimError, ClaimedRun};
pub use config::{defaults, SyncConfig};

/// The fields a listing asks for: exactly what the mapping and the rules use.
pub const LISTING_EXPAND: &[&str] = &[
    "author",
    "cardData",
    "createdAt",
    "disabled",
    "downloads",
    "gated",
    "lastModified",
    "library_name",
    "likes",
    "pipeline_tag",
    "private",
    "sha",
    "siblings",
    "tags",
];

pub const SYSTEM_USERNAME: &str = "hf_sync_system";
pub const SYSTEM_EMAIL: &str = "system@pocket-ai.local";

/// What a run does: the whole mirror, or one repo (a Hub webhook, or an admin's ad-hoc import).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Work {
    Full,
    Repo {
        repo_id: String,
        /// A commit to import instead of the head.
        revision: Option<String>,
        /// Ad-hoc imports need not match the discovery filters (they still need a model file).
        adhoc: bool,
    },
}

/// How a run ended.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunReport {
    pub run_id: Uuid,
    pub status: RunStatus,
    pub counts: RunCounts,
    pub message: String,
    pub error: Option<String>,
    pub listing_complete: bool,
    /// Nothing was marked removed although the run completed (see [`SyncRun::removals_held_back`]).
    pub removals_held_back: bool,
    pub warnings: Vec<String>,
    pub duration_ms: u64,
}

#[derive(Clone)]
pub struct Syncer {
    store: Store,
    /// The mirror's client: the operator's token goes with its requests to the Hub's host.
    hub: HubClient,
    /// The same Hub without the token, for everything a user causes.
    public_hub: HubClient,
    /// `hub` retrying briefly, for the model-file reads a failure defers (issue #32).
    brief_hub: HubClient,
    /// What reading each distinct model file gave, by its SHA-256 (issue #32).
    readings: Arc<crate::pipeline::readings::Readings>,
    /// Model files outside the Hub (a person's uploads), read for the pipeline jobs.
    web: crate::pipeline::webfile::WebFiles,
    config: Arc<SyncConfig>,
    notifier: Option<notify::Notifier>,
    /// How far the run this syncer executes is, between its written batches.
    live: Arc<live::LiveProgress>,
}

/// The mutable state of one run.
struct RunState {
    run_id: Uuid,
    fence: Fence,
    author_id: Uuid,
    counts: RunCounts,
    seen: HashSet<String>,
    skip_seq: i64,
    /// What a person should know about a run that completed: a listing that stopped early, removals held
    /// back, `SYNC_LIMIT`, a repo that could not be read.
    problems: Vec<String>,
    /// Nothing was marked removed: the listing was incomplete or more was missing than the threshold.
    removals_held_back: bool,
    /// Listing entries that could not be read (each skipped with its reason).
    unreadable_entries: i64,
    /// New commits whose file list could not be read: their versions wait for a later run.
    versions_waiting: i64,
    hub_start: crate::hub::HubStatsSnapshot,
    pending: PendingWrites,
    /// Repo ids that renames planned in this run move models away from.
    renamed_away: HashSet<String>,
    /// The digests of the listed models as the run found them (full runs; empty otherwise).
    listed_digests: HashSet<i64>,
    /// The batch being written while the next pages are planned.
    in_flight: Option<InFlight>,
}

enum RunHalt {
    LeaseLost,
    Cancelled,
    Store(StoreError),
}

impl From<StoreError> for RunHalt {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::LeaseLost => RunHalt::LeaseLost,
            other => RunHalt::Store(other),
        }
    }
}

impl Syncer {
    /// The mirror over `store`, reading the Hub through `hub` (with the operator's token) and other
    /// hosts through `web`. Built by the composition root (`app::syncer`).
    pub fn new(
        store: Store,
        hub: HubClient,
        web: crate::pipeline::webfile::WebFiles,
        config: SyncConfig,
    ) -> Syncer {
        Syncer {
            readings: Arc::new(crate::pipeline::readings::Readings::new(store.clone())),
            store,
            public_hub: hub.anonymous(),
            brief_hub: hub.brief(),
            hub,
            web,
            config: Arc::new(config),
            notifier: None,
            live: Arc::default(),
        }
    }

    /// The live progress of the run this syncer executes (`live.rs`).
    pub fn live(&self) -> Arc<live::LiveProgress> {
        self.live.clone()
    }

    /// Sends failure and recovery notifications after each run.
    pub fn with_notifier(mut self, notifier: notify::Notifier) -> Syncer {
        self.notifier = (!notifier.is_empty()).then_some(notifier);
        self
    }

    pub fn config(&self) -> &SyncConfig {
        &self.config
    }

    pub fn hub(&self) -> &HubClient {
        &self.hub
    }

    /// The Hub without the operator's token, for the requests users cause (a search).
    pub fn public_hub(&self) -> &HubClient {
        &self.public_hub
    }

    /// Where the mirror's own reads go: the Hub with the operator's token (to its host only), and
    /// other hosts through the guarded reader.
    pub fn sources(&self) -> crate::pipeline::derive::Sources<'_> {
        crate::pipeline::derive::Sources {
            hub: &self.hub,
            web: &self.web,
            for_user: false,
            readings: Some(&self.readings),
        }
    }

    /// [`Syncer::sources`] retrying briefly: a sync's model-file reads, which a failure defers to a
    /// later run rather than waiting it out (issue #32).
    pub fn brief_sources(&self) -> crate::pipeline::derive::Sources<'_> {
        crate::pipeline::derive::Sources {
            hub: &self.brief_hub,
            ..self.sources()
        }
    }

    /// Where the reads a user causes go (a URL they publish, generate-pipeline): the Hub
    /// anonymously — a gated or private file is refused with its reason, never read with the
    /// operator's rights.
    pub fn public_sources(&self) -> crate::pipeline::derive::Sources<'_> {
        crate::pipeline::derive::Sources {
            hub: &self.public_hub,
            web: &self.web,
            for_user: true,
            // A user's reads are their own: never another read's result.
            readings: None,
        }
    }

    /// Where a stored version's file is read by the backlog and the pipeline jobs: with the
    /// operator's token (retrying briefly: a failure defers it) for a version the mirror wrote,
    /// anonymously for one a person published.
    pub fn sources_for(&self, version: &ModelVersion) -> crate::pipeline::derive::Sources<'_> {
        if version.created_by.is_none() {
            self.brief_sources()
        } else {
            self.public_sources()
        }
    }

    /// This syncer as users' requests run it (an ad-hoc import): every Hub request anonymous.
    pub fn for_users(&self) -> Syncer {
        Syncer {
            hub: self.public_hub.clone(),
            brief_hub: self.public_hub.brief(),
            ..self.clone()
        }
    }

    /// Claims and executes a run in one call.
    pub async fn run_once(
        &self,
        trigger: Trigger,
        cancel: CancellationToken,
    ) -> Result<RunReport, ClaimError> {
        let claimed = self.claim(trigger, None).await?;
        Ok(self.execute(claimed, cancel).await)
    }

    /// Runs a claimed sync to its end and records how it ended. Never panics on upstream or data
    /// problems: a run that completes is a success whatever it skipped; one that cannot is failed.
    pub async fn execute(&self, claimed: ClaimedRun, cancel: CancellationToken) -> RunReport {
        use tracing::Instrument;
        let span = tracing::info_span!("sync_run", run_id = %claimed.run.id, trigger = %claimed.run.trigger);
        self.execute_claimed(claimed, cancel).instrument(span).await
    }

    /// [`Syncer::execute`] inside the run's span.
    async fn execute_claimed(&self, claimed: ClaimedRun, cancel: CancellationToken) -> RunReport {
        let started = Instant::now();
        let run_id = claimed.run.id;
        self.live.reset();
        banner("Starting HuggingFace LiteRT Model Sync");
        let lease_lost = CancellationToken::new();
        let heartbeat = self.spawn_heartbeat(claimed.fence.clone(), lease_lost.clone());
        let stop = CancellationToken::new();
        let stop_guard = stop.clone();
        let forward = {
            let (cancel, lease_lost, stop) = (cancel.clone(), lease_lost.clone(), stop.clone());
            tokio::spawn(async move {
                tokio::select! {
                    _ = cancel.cancelled() => stop.cancel(),
                    _ = lease_lost.cancelled() => stop.cancel(),
                    _ = stop.cancelled() => {}
                }
            })
        };
        let mut state = self.new_run_state(&claimed);
        let outcome = match &claimed.work {
            Work::Full => self.run_phases(&mut state, &stop).await,
            Work::Repo {
                repo_id,
                revision,
                adhoc,
            } => self
                .run_repo(&mut state, repo_id, revision.as_deref(), *adhoc)
                .await
                .map(|()| false),
        };
        stop_guard.cancel();
        let _ = forward.await;
        heartbeat.abort();
        let hub = self.hub.stats();
        state.counts.hub_requests =
            claimed.run.counts.hub_requests + (hub.requests - state.hub_start.requests) as i64;
        state.counts.hub_retries =
            claimed.run.counts.hub_retries + (hub.retries - state.hub_start.retries) as i64;
        let c = state.counts;
        if matches!(outcome, Err(RunHalt::Cancelled)) && !lease_lost.is_cancelled() {
            // Shutdown: leave the run resumable — still running, lease released with its run id.
            tracing::warn!("sync interrupted by shutdown; the run stays resumable");
            self.release_claim(claimed, false).await;
            return RunReport {
                run_id,
                status: RunStatus::Running,
                counts: c,
                message: "Interrupted by shutdown; the run will be resumed".into(),
                error: Some("interrupted by shutdown".into()),
                listing_complete: false,
                removals_held_back: true,
                warnings: state.problems,
                duration_ms: started.elapsed().as_millis() as u64,
            };
        }
        let (status, listing_complete, error) =
            run_ending(outcome, lease_lost.is_cancelled(), &c, &state.problems);
        let message = run_message(status, &c, error.as_deref());
        let removals_held_back =
            matches!(claimed.work, Work::Full) && (state.removals_held_back || !listing_complete);
        let (trigger, skipped_before) = (claimed.run.trigger, claimed.run.counts.skipped);
        let end = RunEnd {
            status,
            counts: c,
            listing_complete,
            removals_held_back,
            warnings: state.problems,
            message,
            error,
        };
        if let Err(e) = self.store.finish_run(run_id, &end).await {
            tracing::error!(error = %e, "could not record the end of the run");
        }
        self.release_claim(claimed, lease_lost.is_cancelled()).await;
        crate::obs::metrics::record_run(trigger.as_str(), status.as_str(), started.elapsed());
        crate::obs::metrics::record_run_outcome(c.skipped - skipped_before, removals_held_back);
        self.notify(run_id).await;
        match status {
            RunStatus::Success => {
                // Said only of a run that completed (a failed one said "completed" before its failure).
                tracing::info!(
                    "Sync completed - Created: {}, Updated: {}, Skipped: {}",
                    c.created,
                    c.updated,
                    c.skipped
                );
                for warning in &end.warnings {
                    tracing::warn!("{warning}");
                }
                banner("HuggingFace LiteRT Model Sync Completed Successfully")
            }
            _ => {
                tracing::error!(
                    error = end.error.as_deref().unwrap_or(""),
                    "HuggingFace LiteRT Model Sync Failed"
                );
            }
        }
        RunReport {
            run_id,
            status,
            counts: c,
            message: end.message,
            error: end.error,
            listing_complete,
            removals_held_back,
            warnings: end.warnings,
            duration_ms: started.elapsed().as_millis() as u64,
        }
    }

    /// The state a claimed run starts with; a resumed run keeps what its earlier attempt wrote.
    fn new_run_state(&self, claimed: &ClaimedRun) -> RunState {
        RunState {
            run_id: claimed.run.id,
            fence: claimed.fence.clone(),
            author_id: Uuid::nil(),
            counts: claimed.run.counts,
            seen: HashSet::new(),
            skip_seq: 0,
            problems: Vec::new(),
            removals_held_back: false,
            unreadable_entries: 0,
            versions_waiting: 0,
            hub_start: self.hub.stats(),
            pending: PendingWrites::default(),
            renamed_away: HashSet::new(),
            listed_digests: HashSet::new(),
            in_flight: None,
        }
    }

    fn spawn_heartbeat(
        &self,
        fence: Fence,
        lost: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let store = self.store.clone();
        let every = (self.config.lease_ttl / 3).max(Duration::from_millis(100));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match store.heartbeat(&fence).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::error!(
                            "the sync lease was taken over by another replica; stopping"
                        );
                        lost.cancel();
                        return;
                    }
                    Err(e) => tracing::warn!(error = %e, "could not renew the sync lease"),
                }
            }
        })
    }

    async fn ensure_system_user(&self, state: &mut RunState) -> Result<(), RunHalt> {
        let system = self
            .store
            .ensure_user(&NewUser {
                username: SYSTEM_USERNAME.into(),
                email: SYSTEM_EMAIL.into(),
                is_developer: true,
                is_admin: false,
            })
            .await?;
        state.author_id = system.id;
        Ok(())
    }
}

fn banner(text: &str) {
    let rule = "============================================================";
    tracing::info!("{rule}\n{text}\n{rule}");
}

/// How a run ended — its status, whether its listing was complete, its error — from the outcome of
/// its phases, whether its lease was lost, and what it fetched and met.
fn run_ending(
    outcome: Result<bool, RunHalt>,
    lease_lost: bool,
    c: &RunCounts,
    problems: &[String],
) -> (RunStatus, bool, Option<String>) {
    let (status, listing_complete, error) = match outcome {
        Ok(complete) => (RunStatus::Success, complete, None),
        Err(RunHalt::LeaseLost) => (
            RunStatus::Failed,
            false,
            Some("the sync lease was lost to another replica".to_string()),
        ),
        Err(RunHalt::Cancelled) if lease_lost => (
            RunStatus::Failed,
            false,
            Some("the sync lease was lost to another replica".to_string()),
        ),
        Err(RunHalt::Cancelled) => (
            RunStatus::Failed,
            false,
            Some("interrupted by shutdown".to_string()),
        ),
        Err(RunHalt::Store(e)) => (
            RunStatus::Failed,
            false,
            Some(format!("database error: {e}")),
        ),
    };
    let error =
        error.or_else(|| (c.fetched == 0 && !problems.is_empty()).then(|| problems.join("; ")));
    let status = if error.is_some() {
        RunStatus::Failed
    } else {
        status
    };
    (status, listing_complete, error)
}

/// The one-line summary of a run.
fn run_message(status: RunStatus, c: &RunCounts, error: Option<&str>) -> String {
    let counts_text = format!(
        "Created: {}, Updated: {}, Skipped: {}",
        c.created, c.updated, c.skipped
    );
    let message = match status {
        RunStatus::Success => format!("Successfully synced LiteRT models. {counts_text}"),
        _ => format!(
            "LiteRT model sync failed. {counts_text}. {}",
            error.unwrap_or_default()
        ),
    };
    let message = message.trim_end_matches(['.', ' ']).to_string();
    let message = if message.ends_with(char::is_numeric) {
        message
    } else {
        format!("{message}.")
    };
    message
}
