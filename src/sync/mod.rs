//! The Hugging Face LiteRT sync. [`Syncer::claim`] takes the one sync lease and records the run;
//! [`Syncer::execute`] discovers (one listing per filter, union by object id, page by page, fetched by
//! a producer task a few pages ahead), plans each page against the catalog ([`plan`]; an entry whose
//! [`Mirror::digest`] matches the stored one is unchanged without reading its model), writes the
//! planned pages in fenced transactions of a few thousand rows with the run's counters, then — only
//! after a complete listing — confirms each missing repo individually before marking it removed or
//! following its rename.

mod claim;
pub mod mapping;
pub mod plan;
pub mod queue;
pub mod rules;
pub mod versions;

use crate::domain::{RunStatus, Trigger, UpstreamStatus};
use crate::hub::{HubClient, HubError, HubModel, RepoOutcome};
use crate::records::*;
use crate::store::{Store, StoreError};
use futures_util::stream::{self, StreamExt};
use mapping::{map_model, Mirror};
use plan::{Plan, UpdateKind};
use rules::Rules;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;
use uuid::Uuid;

pub use claim::{default_owner, owner_host_pid, ClaimError, ClaimedRun};

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

/// Planned writes go to the database in one transaction when the writer is idle and no page is
/// waiting, or once they hold this many rows (SQLite rewrites each index page a transaction touches
/// once per commit, so fewer, larger commits write far less)...
const WRITE_BATCH_ROWS: usize = 5_000;
/// ...or this many bytes (estimated: see [`BatchItem::bytes`]; long descriptions and versions with many
/// assets make rows large), so what waits for a slow writer is bounded by its size, not its count...
const WRITE_BATCH_BYTES: usize = 4 << 20;
/// ...or once the oldest has waited this long.
const WRITE_BATCH_AGE: Duration = Duration::from_secs(1);
/// Listing pages fetched ahead of the planning and writing: at most this many...
const LISTING_AHEAD_PAGES: usize = 4;
/// ...holding at most this many bytes as received (a page of repos with long file lists is large);
/// one page is always let through whatever its size.
const LISTING_AHEAD_BYTES: usize = 8 << 20;

/// At most this many skipped records are kept per run (the count is always exact).
const MAX_SKIP_RECORDS: i64 = 10_000;

pub const SYSTEM_USERNAME: &str = "hf_sync_system";
pub const SYSTEM_EMAIL: &str = "system@pocket-ai.local";

#[derive(Debug, Clone)]
pub struct SyncConfig {
    pub filters: Vec<String>,
    /// Stop discovery after this many distinct repos (no limit by default).
    pub limit: Option<usize>,
    /// Nothing is removed when more than this share (percent) of the catalog is missing from a listing.
    pub removal_threshold_pct: f64,
    pub rules: Rules,
    pub detail_concurrency: usize,
    pub pull_versions: bool,
    /// Skip new repos without any model file (`.tflite`, `.litertlm`, `.task`).
    pub require_model_file: bool,
    /// Describe models without a card text by their README's first paragraph (one request per new or
    /// changed repo); off, they get the fallback text until a README is read.
    pub fetch_readmes: bool,
    pub lease_ttl: Duration,
    /// Who this process is, in lease and run records.
    pub owner: String,
    /// Benchmarks only: a pause before each batch write, to model a slow disk.
    pub write_delay: Duration,
}

impl SyncConfig {
    pub fn new(rules: Rules) -> SyncConfig {
        SyncConfig {
            filters: vec!["litert".into(), "litert-lm".into(), "tflite".into()],
            limit: None,
            removal_threshold_pct: 10.0,
            rules,
            detail_concurrency: 8,
            pull_versions: true,
            require_model_file: true,
            fetch_readmes: true,
            lease_ttl: Duration::from_secs(60),
            owner: default_owner(),
            write_delay: Duration::ZERO,
        }
    }
}

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
    hub: HubClient,
    config: Arc<SyncConfig>,
    notifier: Option<crate::notify::Notifier>,
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
    hub_start: crate::hub::HubStatsSnapshot,
    pending: Pending,
    /// Repo ids that renames planned in this run move models away from.
    renamed_away: HashSet<String>,
    /// The digests of the listed models as the run found them (full runs; empty otherwise).
    listed_digests: HashSet<i64>,
    /// The batch being written while the next pages are planned.
    in_flight: Option<InFlight>,
}

/// One listing entry on its way to the database.
struct Planned {
    mirror: Mirror,
    plan: Plan,
    existing_id: Option<Uuid>,
    needs_readme: bool,
    needs_version: bool,
    /// [`Mirror::digest`] of the entry.
    digest: i64,
    /// Unchanged, but the stored digest is not this entry's.
    digest_stale: bool,
}

/// A README paragraph, and the assets of the commit (or why they could not be read).
type Details = (Option<String>, Option<Result<Vec<Asset>, String>>);

/// Planned writes not yet in the database, their estimated size, and since when the oldest has waited.
#[derive(Default)]
struct Pending {
    items: Vec<BatchItem>,
    skips: Vec<SkipRecord>,
    bytes: usize,
    since: Option<Instant>,
}

impl Pending {
    fn add(&mut self, items: Vec<BatchItem>, skips: Vec<SkipRecord>) {
        if items.is_empty() && skips.is_empty() {
            return;
        }
        self.since.get_or_insert_with(Instant::now);
        self.bytes += items.iter().map(BatchItem::bytes).sum::<usize>();
        self.bytes += skips.iter().map(skip_bytes).sum::<usize>();
        self.items.extend(items);
        self.skips.extend(skips);
    }

    fn rows(&self) -> usize {
        self.items.len() + self.skips.len()
    }

    /// Enough is waiting to be written now, by count or by size.
    fn full(&self) -> bool {
        self.rows() >= WRITE_BATCH_ROWS || self.bytes >= WRITE_BATCH_BYTES
    }
}

fn opt_len(s: &Option<String>) -> usize {
    s.as_ref().map_or(0, String::len)
}

fn skip_bytes(s: &SkipRecord) -> usize {
    std::mem::size_of::<SkipRecord>()
        + opt_len(&s.hf_model_id)
        + opt_len(&s.object_id)
        + s.reason.len()
}

/// A batch on its way to the store.
struct Batch {
    writes: Vec<SyncWrite>,
    kinds: Vec<WriteKind>,
    versions: Vec<SyncVersion>,
    /// `(model id, digest)` of unchanged models whose stored digest is missing or stale.
    digests: Vec<(Uuid, i64)>,
    numbered: Vec<(i64, SkipRecord)>,
    /// Skipped records (all of them, also those beyond [`MAX_SKIP_RECORDS`]).
    skipped: i64,
}

impl Batch {
    /// Moves the run's counters by what this batch writes.
    fn count(&self, c: &mut RunCounts) {
        c.skipped += self.skipped;
        for kind in &self.kinds {
            kind.count(c);
        }
    }
}

/// One model's write (if it has one) and its new versions, written on their own after a batch failed.
type Alone = (Option<(SyncWrite, WriteKind)>, Vec<SyncVersion>);

/// A batch being written, and how it went.
type InFlight = AbortOnDropHandle<(Batch, Result<crate::store::Applied, StoreError>)>;

/// What the listing producer hands the run.
enum Listed {
    /// A page, and its share of [`LISTING_AHEAD_BYTES`], given back once the page is planned.
    Page(crate::hub::Page, tokio::sync::OwnedSemaphorePermit),
    /// The filter's listing stopped at this page; the producer goes on with the next filter.
    Failed { filter: String, error: HubError },
}

/// One model's write, its new version, and the digest of an unchanged model stored without it.
struct BatchItem {
    write: Option<(SyncWrite, WriteKind)>,
    version: Option<SyncVersion>,
    digest: Option<(Uuid, i64)>,
}

impl BatchItem {
    /// About how many bytes the item holds: its own size and the text it points to (allocator slack
    /// aside), which is what a batch waiting for the writer keeps alive.
    fn bytes(&self) -> usize {
        let write = self.write.as_ref().map_or(0, |(w, _)| {
            let u = &w.upstream;
            w.hf_model_id.len()
                + w.name.len()
                + w.description.len()
                + w.origin_repo_url.len()
                + w.task.as_ref().map_or(0, String::len)
                + w.tags.iter().map(|t| t.len() + 24).sum::<usize>()
                + u.object_id.len()
                + opt_len(&u.sha)
                + opt_len(&u.gated)
                + opt_len(&u.library_name)
        });
        let version = self.version.as_ref().map_or(0, |v| {
            let v = &v.version;
            v.version_string.len()
                + opt_len(&v.changelog)
                + opt_len(&v.hf_commit_sha)
                + v.pipeline_spec.as_ref().map_or(0, |s| s.to_string().len())
                + v.assets
                    .iter()
                    .map(|a| {
                        std::mem::size_of::<Asset>()
                            + a.asset_key.len()
                            + a.asset_type.len()
                            + a.source_url.len()
                            + opt_len(&a.file_hash)
                            + opt_len(&a.hash_kind)
                    })
                    .sum::<usize>()
        });
        std::mem::size_of::<BatchItem>() + write + version
    }
}

enum Halt {
    LeaseLost,
    Cancelled,
    Store(StoreError),
}

impl From<StoreError> for Halt {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::LeaseLost => Halt::LeaseLost,
            other => Halt::Store(other),
        }
    }
}

impl Syncer {
    pub fn new(store: Store, hub: HubClient, config: SyncConfig) -> Syncer {
        Syncer {
            store,
            hub,
            config: Arc::new(config),
            notifier: None,
        }
    }

    /// Sends failure and recovery notifications after each run.
    pub fn with_notifier(mut self, notifier: crate::notify::Notifier) -> Syncer {
        self.notifier = (!notifier.is_empty()).then_some(notifier);
        self
    }

    pub fn config(&self) -> &SyncConfig {
        &self.config
    }

    pub fn hub(&self) -> &HubClient {
        &self.hub
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
        let started = Instant::now();
        let run_id = claimed.run.id;
        let span =
            tracing::info_span!("sync_run", run_id = %run_id, trigger = %claimed.run.trigger);
        let _enter = span.enter();
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
        // A resumed run keeps what its earlier attempt wrote.
        let mut state = RunState {
            run_id,
            fence: claimed.fence.clone(),
            author_id: Uuid::nil(),
            counts: claimed.run.counts,
            seen: HashSet::new(),
            skip_seq: 0,
            problems: Vec::new(),
            removals_held_back: false,
            unreadable_entries: 0,
            hub_start: self.hub.stats(),
            pending: Pending::default(),
            renamed_away: HashSet::new(),
            listed_digests: HashSet::new(),
            in_flight: None,
        };
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
        if matches!(outcome, Err(Halt::Cancelled)) && !lease_lost.is_cancelled() {
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
        let (status, listing_complete, error) = match outcome {
            Ok(complete) => (RunStatus::Success, complete, None),
            Err(Halt::LeaseLost) => (
                RunStatus::Failed,
                false,
                Some("the sync lease was lost to another replica".to_string()),
            ),
            Err(Halt::Cancelled) if lease_lost.is_cancelled() => (
                RunStatus::Failed,
                false,
                Some("the sync lease was lost to another replica".to_string()),
            ),
            Err(Halt::Cancelled) => (
                RunStatus::Failed,
                false,
                Some("interrupted by shutdown".to_string()),
            ),
            Err(Halt::Store(e)) => (
                RunStatus::Failed,
                false,
                Some(format!("database error: {e}")),
            ),
        };
        let error = error.or_else(|| {
            (c.fetched == 0 && !state.problems.is_empty()).then(|| state.problems.join("; "))
        });
        let status = if error.is_some() {
            RunStatus::Failed
        } else {
            status
        };
        let counts_text = format!(
            "Created: {}, Updated: {}, Skipped: {}",
            c.created, c.updated, c.skipped
        );
        let message = match status {
            RunStatus::Success => format!("Successfully synced LiteRT models. {counts_text}"),
            _ => format!(
                "LiteRT model sync failed. {counts_text}. {}",
                error.clone().unwrap_or_default()
            ),
        };
        let message = message.trim_end_matches(['.', ' ']).to_string();
        let message = if message.ends_with(char::is_numeric) {
            message
        } else {
            format!("{message}.")
        };
        tracing::info!("Sync completed - {counts_text}");
        let removals_held_back =
            matches!(claimed.work, Work::Full) && (state.removals_held_back || !listing_complete);
        let (trigger, skipped_before) = (claimed.run.trigger, claimed.run.counts.skipped);
        let end = crate::records::RunEnd {
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
        crate::metrics::record_run(trigger.as_str(), status.as_str(), started.elapsed());
        crate::metrics::record_run_outcome(c.skipped - skipped_before, removals_held_back);
        self.notify(run_id).await;
        match status {
            RunStatus::Success => {
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

    /// Waits (at most `limit`) for notifications still being delivered.
    pub async fn flush_notifications(&self, limit: Duration) {
        if let Some(n) = &self.notifier {
            n.flush(limit).await;
        }
    }

    /// Notifies of a failed or partial run, or of the first success after one.
    async fn notify(&self, run_id: Uuid) {
        let Some(notifier) = &self.notifier else {
            return;
        };
        let runs = match self.store.list_runs(50, None).await {
            Ok(runs) => runs,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the runs to decide on a notification");
                return;
            }
        };
        let Some(pos) = runs.iter().position(|r| r.id == run_id) else {
            return;
        };
        let previous = runs[pos + 1..]
            .iter()
            .find(|r| matches!(r.status, RunStatus::Success | RunStatus::Failed));
        if let Some(event) = notifier.event_for(&runs[pos], previous) {
            notifier.send(event);
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

    /// Refreshes one repo: imports or updates it, follows a rename, or marks it removed when it is gone.
    async fn run_repo(
        &self,
        state: &mut RunState,
        repo_id: &str,
        revision: Option<&str>,
        adhoc: bool,
    ) -> Result<(), Halt> {
        self.ensure_system_user(state).await?;
        let outcome = match self.hub.model_info(repo_id, revision).await {
            Ok(o) => o,
            Err(e) => {
                state
                    .problems
                    .push(format!("could not read {repo_id}: {e}"));
                return Ok(());
            }
        };
        let mut skips = Vec::new();
        match outcome {
            RepoOutcome::Found { value, .. } => {
                let in_filters = self.config.filters.iter().any(|f| {
                    value.library_name.as_deref() == Some(f.as_str())
                        || value.tags.iter().any(|t| t == f)
                });
                if !adhoc && !in_filters {
                    tracing::info!(repo_id, "not a LiteRT repo by SYNC_FILTERS: left out");
                    state.counts.filtered += 1;
                    return self.write_batch(state, Vec::new(), skips).await;
                }
                let files: Option<Vec<String>> = value
                    .siblings
                    .as_ref()
                    .map(|s| s.iter().map(|f| f.rfilename.clone()).collect());
                let no_model_file = versions::has_model_file(files.as_deref()) == Some(false);
                if no_model_file && (adhoc || self.config.require_model_file) {
                    skips.push(SkipRecord {
                        hf_model_id: Some(value.id.clone()),
                        object_id: value.object_id.clone(),
                        reason:
                            "no model file (.tflite, .litertlm or .task): not a usable LiteRT model"
                                .into(),
                    });
                    return self.write_batch(state, Vec::new(), skips).await;
                }
                if let Some(oid) = &value.object_id {
                    state.seen.insert(oid.clone());
                }
                state.counts.fetched = 1;
                self.process_page(state, vec![value], &mut skips).await
            }
            RepoOutcome::MissingOrPrivate | RepoOutcome::NotFound => {
                let known = self
                    .store
                    .synced_models(&[], &[repo_id.to_string()])
                    .await?;
                let gone: Vec<Uuid> = known
                    .iter()
                    .filter(|m| {
                        m.upstream
                            .as_ref()
                            .is_none_or(|u| u.status.is_none_or(|s| s == UpstreamStatus::Active))
                    })
                    .map(|m| m.id)
                    .collect();
                self.mark_removed(state, &gone).await
            }
            RepoOutcome::Gated => Ok(()),
        }
    }

    /// Marks models removed upstream (hidden, kept), counted in the same transaction.
    async fn mark_removed(&self, state: &mut RunState, ids: &[Uuid]) -> Result<(), Halt> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut after = state.counts;
        after.removed += ids.len() as i64;
        let rows = self
            .store
            .mark_upstream(
                &state.fence,
                state.run_id,
                ids,
                UpstreamStatus::Removed,
                &after,
            )
            .await?;
        after.rows_written += rows;
        state.counts = after;
        Ok(())
    }

    async fn ensure_system_user(&self, state: &mut RunState) -> Result<(), Halt> {
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

    /// Discovery, writes and removals. `Ok(listing_complete)`.
    async fn run_phases(
        &self,
        state: &mut RunState,
        stop: &CancellationToken,
    ) -> Result<bool, Halt> {
        self.ensure_system_user(state).await?;
        // One read of 8 bytes per listed model lets every unchanged entry be planned without a query.
        state.listed_digests = self.store.listed_digests().await?.into_iter().collect();
        tracing::info!("Starting fetch of LiteRT models from HuggingFace...");
        let mut complete = true;
        let mut limit_hit = false;
        let mut listing_failures = Vec::new();
        let mut pages = 0usize;
        let (mut listing, _producer) = self.spawn_listing();
        loop {
            // Writing now costs nothing when the writer is idle and the next page has not arrived:
            // batches grow while the writer is busy and shrink when it keeps up, and a slow listing
            // still shows its progress page by page.
            let writer_idle = state.in_flight.as_ref().is_none_or(|w| w.is_finished());
            if writer_idle && listing.is_empty() && state.pending.rows() > 0 {
                self.flush(state).await?;
            }
            let deadline = tokio::time::Instant::from_std(
                state.pending.since.unwrap_or_else(Instant::now) + WRITE_BATCH_AGE,
            );
            let event = tokio::select! {
                biased;
                _ = stop.cancelled() => {
                    // What is planned is kept: a resumed run finds it written.
                    self.flush(state).await?;
                    self.settle(state).await?;
                    return Err(Halt::Cancelled);
                }
                _ = tokio::time::sleep_until(deadline), if state.pending.since.is_some() => {
                    self.flush(state).await?;
                    continue;
                }
                event = listing.recv() => event,
            };
            let page = match event {
                None => break,
                Some(Listed::Failed { filter, error }) => {
                    complete = false;
                    tracing::warn!(filter, error = %error, "a listing page failed; the listing is incomplete");
                    listing_failures.push((filter, error));
                    continue;
                }
                Some(Listed::Page(page, budget)) => (page, budget),
            };
            let (page, budget) = page;
            pages += 1;
            let mut skips: Vec<SkipRecord> = page
                .skipped
                .into_iter()
                .map(|s| SkipRecord {
                    hf_model_id: s.id,
                    object_id: None,
                    reason: s.reason,
                })
                .collect();
            if !skips.is_empty() {
                complete = false;
                state.unreadable_entries += skips.len() as i64;
            }
            let mut fresh = Vec::with_capacity(page.models.len());
            for m in page.models {
                if let Some(limit) = self.config.limit {
                    if state.seen.len() >= limit {
                        limit_hit = true;
                        break;
                    }
                }
                let oid = m.object_id.clone().unwrap_or_default();
                if state.seen.insert(oid) {
                    fresh.push(m);
                }
            }
            state.counts.fetched = state.seen.len() as i64;
            let items = self.plan_page(state, fresh, &mut skips).await?;
            drop(budget);
            state.pending.add(items, skips);
            if state.pending.full() {
                self.flush(state).await?;
            }
            if limit_hit {
                break;
            }
        }
        self.flush(state).await?;
        self.settle(state).await?;
        tracing::info!(
            "Fetched {} LiteRT models from HuggingFace",
            state.counts.fetched
        );
        if limit_hit {
            complete = false;
            state.problems.push(format!(
                "stopped at SYNC_LIMIT={}",
                self.config.limit.unwrap_or(0)
            ));
        }
        state
            .problems
            .extend(self.describe_listing_failures(&listing_failures, pages == 0));
        if state.unreadable_entries > 0 {
            state.problems.push(format!(
                "{} listing entries could not be read (skipped with their reasons)",
                state.unreadable_entries
            ));
        }
        if complete {
            self.handle_missing(state, stop).await?;
        } else {
            tracing::warn!("the listing was incomplete: nothing is marked removed in this run");
        }
        Ok(complete && !limit_hit)
    }

    /// Fetches the listings of every filter, one page after another, into a queue a few pages deep,
    /// so the Hub (and the parsing of its pages) keeps going while the run plans and writes. The
    /// listing stops when the receiver is dropped or the handle is.
    fn spawn_listing(&self) -> (mpsc::Receiver<Listed>, AbortOnDropHandle<()>) {
        let (tx, rx) = mpsc::channel(LISTING_AHEAD_PAGES);
        let ahead = Arc::new(tokio::sync::Semaphore::new(LISTING_AHEAD_BYTES >> 10));
        let hub = self.hub.clone();
        let filters = self.config.filters.clone();
        let producer = tokio::spawn(async move {
            // A repo listed by several filters is decoded once (the run sees each object id once).
            let mut seen = HashSet::new();
            for filter in filters {
                // The next page is requested as soon as the current one has arrived, before it is
                // decoded: the Hub prepares the next while this one is read.
                let fetch = |url: url::Url| {
                    let hub = hub.clone();
                    AbortOnDropHandle::new(tokio::spawn(
                        async move { hub.list_page_raw(&url).await },
                    ))
                };
                let mut next = Some(fetch(hub.listing_url(&filter, LISTING_EXPAND)));
                let mut first = true;
                while let Some(handle) = next.take() {
                    let fetched = handle.await.unwrap_or_else(|e| {
                        Err(HubError::Transport(format!("listing task failed: {e}")))
                    });
                    // The page's share of the bytes ahead (in KiB), waited for before it is decoded.
                    let budget = match &fetched {
                        Ok(raw) => {
                            let kib = (raw.len_bytes() >> 10).clamp(1, LISTING_AHEAD_BYTES >> 10);
                            match ahead.clone().acquire_many_owned(kib as u32).await {
                                Ok(permit) => Some(permit),
                                Err(_) => return,
                            }
                        }
                        Err(_) => None,
                    };
                    let fetched = fetched.and_then(|raw| {
                        next = raw.next.clone().map(fetch);
                        raw.decode_fresh(&mut seen)
                    });
                    let mut unreachable = false;
                    let event = match (fetched, budget) {
                        (Ok(page), Some(budget)) => Listed::Page(page, budget),
                        (Ok(_), None) => unreachable!("a fetched page has its budget"),
                        (Err(error), _) => {
                            // This filter's listing ends here; when its first request got no answer
                            // at all after its retries, the Hub is out of reach for the others too.
                            next = None;
                            unreachable = first
                                && matches!(error, HubError::Transport(_) | HubError::Timeout);
                            Listed::Failed {
                                filter: filter.clone(),
                                error,
                            }
                        }
                    };
                    first = false;
                    if tx.send(event).await.is_err() || unreachable {
                        return;
                    }
                }
            }
        });
        (rx, AbortOnDropHandle::new(producer))
    }

    /// One sentence per distinct failure of the filters' listings. A Hub that served no page at all
    /// (`nothing`) and only failed to answer is said once, with what to check.
    fn describe_listing_failures(
        &self,
        failures: &[(String, HubError)],
        nothing: bool,
    ) -> Vec<String> {
        if nothing
            && !failures.is_empty()
            && failures
                .iter()
                .all(|(_, e)| matches!(e, HubError::Transport(_) | HubError::Timeout))
        {
            let endpoint = self.hub.config().endpoint.as_str().trim_end_matches('/');
            return vec![format!(
                "{} (HF_ENDPOINT={endpoint}); check the network and HF_ENDPOINT — offline, \
                 `pocket-catalog hubsim` serves a simulated Hub",
                failures[0].1
            )];
        }
        let mut by_error: Vec<(String, Vec<&str>)> = Vec::new();
        for (filter, error) in failures {
            let error = error.to_string();
            match by_error.iter_mut().find(|(e, _)| *e == error) {
                Some((_, filters)) => filters.push(filter),
                None => by_error.push((error, vec![filter])),
            }
        }
        by_error
            .into_iter()
            .map(|(error, filters)| {
                let names: Vec<String> = filters.iter().map(|f| format!("'{f}'")).collect();
                let noun = if names.len() == 1 {
                    "listing"
                } else {
                    "listings"
                };
                format!("{noun} {} stopped early: {error}", names.join(", "))
            })
            .collect()
    }

    /// Starts writing what is planned and not yet written, in one transaction, once the write before
    /// it has finished; the run goes on planning while it is written.
    async fn flush(&self, state: &mut RunState) -> Result<(), Halt> {
        let Pending { items, skips, .. } = std::mem::take(&mut state.pending);
        if items.is_empty() && skips.is_empty() {
            return Ok(());
        }
        self.settle(state).await?;
        let batch = self.prepare(state, items, skips);
        state.in_flight = Some(self.start_write(state, batch));
        Ok(())
    }

    /// Waits for the write in flight, if any, and folds its outcome into the run.
    async fn settle(&self, state: &mut RunState) -> Result<(), Halt> {
        let Some(write) = state.in_flight.take() else {
            return Ok(());
        };
        let done = self.finish_write(state, write).await;
        // The batch is gone: hand what it and its pages held back to the system, or the allocator's
        // per-thread arenas keep it (BENCHMARKS.md, "Memory").
        crate::memory::release_freed();
        done
    }

    /// Plans and writes one page of fresh (not yet seen) entries at once (webhooks, renames found
    /// while confirming removals).
    async fn process_page(
        &self,
        state: &mut RunState,
        models: Vec<HubModel>,
        skips: &mut Vec<SkipRecord>,
    ) -> Result<(), Halt> {
        let items = self.plan_page(state, models, skips).await?;
        self.write_batch(state, items, std::mem::take(skips)).await
    }

    /// Plans one page of fresh (not yet seen) listing entries against the catalog and fetches the
    /// details they need; returns the writes. Entries that cannot be mirrored go to `skips`.
    async fn plan_page(
        &self,
        state: &mut RunState,
        models: Vec<HubModel>,
        skips: &mut Vec<SkipRecord>,
    ) -> Result<Vec<BatchItem>, Halt> {
        let mut mirrors = Vec::with_capacity(models.len());
        for m in &models {
            match map_model(m) {
                Ok(mirror) => match self.config.rules.check(&mirror) {
                    Ok(()) => mirrors.push(mirror),
                    Err(reason) => {
                        tracing::debug!(repo = %mirror.repo_id, reason, "left out by the filtering rules");
                        state.counts.filtered += 1;
                    }
                },
                Err(reason) => skips.push(SkipRecord {
                    hf_model_id: Some(m.id.clone()),
                    object_id: m.object_id.clone(),
                    reason,
                }),
            }
        }
        let object_ids: Vec<String> = mirrors.iter().map(|m| m.object_id.clone()).collect();
        // The commits that have a version, per object id (looked up by reference, entry by entry).
        let mut commits: HashMap<String, Vec<String>> = HashMap::new();
        if self.config.pull_versions {
            for (object_id, sha) in self.store.version_commits(&object_ids).await? {
                commits.entry(object_id).or_default().push(sha);
            }
        }
        let needs_version = |mirror: &Mirror, model_file: Option<bool>| {
            self.config.pull_versions
                && model_file != Some(false)
                && mirror.sha.as_deref().is_some_and(|sha| {
                    !commits
                        .get(mirror.object_id.as_str())
                        .is_some_and(|shas| shas.iter().any(|s| s == sha))
                })
        };
        // Most entries of a re-sync are unchanged: the digest of the entry is one a listed model was
        // written from (the run read them all at its start), and nothing about the model is read.
        // The others are read whole and compared field by field.
        let digests: Vec<i64> = mirrors.iter().map(Mirror::digest).collect();
        let model_files: Vec<Option<bool>> = mirrors
            .iter()
            .map(|m| versions::has_model_file(m.files.as_deref()))
            .collect();
        let same: Vec<bool> = mirrors
            .iter()
            .zip(&digests)
            .zip(&model_files)
            .map(|((m, digest), &model_file)| {
                state.listed_digests.contains(digest) && !needs_version(m, model_file)
            })
            .collect();
        let (rest_objects, rest_repos): (Vec<String>, Vec<String>) = mirrors
            .iter()
            .zip(&same)
            .filter(|(_, same)| !**same)
            .map(|(m, _)| (m.object_id.clone(), m.repo_id.to_string()))
            .unzip();
        let existing = self.store.synced_models(&rest_objects, &rest_repos).await?;
        let by_object: HashMap<&str, &Model> = existing
            .iter()
            .filter_map(|m| m.upstream.as_ref().map(|u| (u.object_id.as_str(), m)))
            .collect();
        let by_repo: HashMap<&str, &Model> = existing
            .iter()
            .filter_map(|m| m.hf_model_id.as_deref().map(|id| (id, m)))
            .collect();

        // A rename planned in this run frees its old repo id for a new repo: the rename is written
        // first (in an earlier batch, or before the creates of its own batch).
        for mirror in &mirrors {
            let old = by_object
                .get(mirror.object_id.as_str())
                .and_then(|m| m.hf_model_id.as_deref());
            if let Some(old) = old.filter(|old| *old != mirror.repo_id.as_str()) {
                state.renamed_away.insert(old.to_string());
            }
        }
        let mut planned: Vec<Planned> = Vec::with_capacity(mirrors.len());
        let entries = mirrors.into_iter().zip(digests).zip(model_files).zip(same);
        for (((mirror, digest), model_file), same) in entries {
            if same {
                planned.push(Planned {
                    existing_id: None,
                    needs_readme: false,
                    needs_version: false,
                    mirror,
                    plan: Plan::Unchanged,
                    digest,
                    digest_stale: false,
                });
                continue;
            }
            let current = by_object
                .get(mirror.object_id.as_str())
                .copied()
                .or_else(|| {
                    // A repo id deleted and created anew: the inactive model that held the id follows it.
                    by_repo.get(mirror.repo_id.as_str()).copied().filter(|m| {
                        m.upstream.as_ref().is_some_and(|u| {
                            u.object_id != mirror.object_id
                                && matches!(
                                    u.status,
                                    Some(UpstreamStatus::Removed | UpstreamStatus::Private)
                                )
                        })
                    })
                });
            if current.is_none() {
                let holder = by_repo.get(mirror.repo_id.as_str()).filter(|h| {
                    !h.hf_model_id
                        .as_deref()
                        .is_some_and(|id| state.renamed_away.contains(id))
                });
                if let Some(holder) = holder {
                    skips.push(SkipRecord {
                        hf_model_id: Some(mirror.repo_id.to_string()),
                        object_id: Some(mirror.object_id.clone()),
                        reason: format!(
                            "repo id is still held by catalog model {} of another Hub repo; retried next run",
                            holder.id
                        ),
                    });
                    continue;
                }
            }
            if current.is_none() && model_file == Some(false) && self.config.require_model_file {
                skips.push(SkipRecord {
                    hf_model_id: Some(mirror.repo_id.to_string()),
                    object_id: Some(mirror.object_id.clone()),
                    reason:
                        "no model file (.tflite, .litertlm or .task): not a usable LiteRT model"
                            .into(),
                });
                continue;
            }
            let plan = plan::plan(&mirror, current);
            // Unchanged, but stored without this digest (synced before digests were kept, or edited
            // since): the digest alone is written, so the next run need not read the model.
            let digest_stale = plan == Plan::Unchanged
                && current
                    .is_some_and(|m| m.upstream.as_ref().and_then(|u| u.digest) != Some(digest));
            planned.push(Planned {
                existing_id: current.map(|m| m.id),
                needs_readme: self.config.fetch_readmes && plan.needs_readme(&mirror),
                needs_version: needs_version(&mirror, model_file),
                mirror,
                plan,
                digest,
                digest_stale,
            });
        }
        let details = self.fetch_details(&planned).await;
        let now = crate::domain::now();
        let mut items = Vec::with_capacity(planned.len());
        let mut unchanged = 0;
        for (i, p) in planned.iter().enumerate() {
            let (readme, assets) = details.get(&i).cloned().unwrap_or_default();
            let write = match &p.plan {
                Plan::Unchanged => {
                    unchanged += 1;
                    None
                }
                plan => {
                    let kind = match plan {
                        Plan::Create => WriteKind::Created,
                        Plan::Update {
                            kind: UpdateKind::Renamed { from },
                            ..
                        } => {
                            tracing::info!(from, to = %p.mirror.repo_id, "repo renamed upstream");
                            WriteKind::Renamed
                        }
                        Plan::Update {
                            kind: UpdateKind::Restored,
                            ..
                        } => WriteKind::Restored,
                        _ => WriteKind::Updated,
                    };
                    plan.write(&p.mirror, p.digest, readme, now)
                        .map(|w| (w, kind))
                }
            };
            let model_id = write.as_ref().map(|(w, _)| w.model_id).or(p.existing_id);
            let version = match (assets, model_id) {
                (Some(Ok(assets)), Some(model_id)) => Some(SyncVersion {
                    model_id,
                    version: versions::new_version(model_id, &p.mirror, assets, now),
                }),
                (Some(Err(reason)), _) => {
                    tracing::warn!(repo = %p.mirror.repo_id, reason, "no version this run");
                    None
                }
                _ => None,
            };
            let digest = p
                .existing_id
                .filter(|_| p.digest_stale)
                .map(|id| (id, p.digest));
            if write.is_some() || version.is_some() || digest.is_some() {
                items.push(BatchItem {
                    write,
                    version,
                    digest,
                });
            }
        }
        state.counts.unchanged += unchanged;
        Ok(items)
    }

    /// READMEs (for descriptions) and file details (for versions) of the planned repos that need them,
    /// with bounded concurrency. Neither failing is a reason to skip a model: the description falls
    /// back, and a missing version is retried next run.
    async fn fetch_details(&self, planned: &[Planned]) -> HashMap<usize, Details> {
        // Owned inputs: the futures must not borrow `planned` across the stream.
        let wanted: Vec<(usize, String, String, bool, bool)> = planned
            .iter()
            .enumerate()
            .filter(|(_, p)| p.needs_readme || p.needs_version)
            .map(|(i, p)| {
                let sha = p.mirror.sha.clone().unwrap_or_else(|| "main".into());
                (
                    i,
                    p.mirror.repo_id.to_string(),
                    sha,
                    p.needs_readme,
                    p.needs_version,
                )
            })
            .collect();
        stream::iter(wanted)
            .map(|(i, id, sha, needs_readme, needs_version)| async move {
                let readme = async {
                    if !needs_readme {
                        return None;
                    }
                    match self.hub.readme(&id, &sha).await {
                        Ok(text) => text.as_deref().and_then(mapping::readme_first_paragraph),
                        Err(e) => {
                            tracing::debug!(repo = id, error = %e, "README not readable");
                            None
                        }
                    }
                };
                let files = async {
                    if !needs_version {
                        return None;
                    }
                    Some(match self.hub.model_info(&id, Some(&sha)).await {
                        Ok(RepoOutcome::Found { value, .. }) => versions::assets(
                            self.hub.config().endpoint.as_str(),
                            &id,
                            &sha,
                            value.siblings.as_deref(),
                        ),
                        Ok(other) => Err(format!("commit details unavailable: {other:?}")),
                        Err(e) => Err(format!("commit details unavailable: {e}")),
                    })
                };
                let (readme, files) = tokio::join!(readme, files);
                (i, (readme, files))
            })
            .buffer_unordered(self.config.detail_concurrency.max(1))
            .collect()
            .await
    }

    /// Writes a batch in one transaction and waits for it (see [`Self::finish_write`]).
    async fn write_batch(
        &self,
        state: &mut RunState,
        items: Vec<BatchItem>,
        skips: Vec<SkipRecord>,
    ) -> Result<(), Halt> {
        self.settle(state).await?;
        let batch = self.prepare(state, items, skips);
        let write = self.start_write(state, batch);
        self.finish_write(state, write).await
    }

    /// Numbers the skips and splits the items into what the store takes.
    fn prepare(
        &self,
        state: &mut RunState,
        items: Vec<BatchItem>,
        skips: Vec<SkipRecord>,
    ) -> Batch {
        let (numbered, skipped) = self.number_skips(state, skips);
        let mut batch = Batch {
            writes: Vec::with_capacity(items.len()),
            kinds: Vec::with_capacity(items.len()),
            versions: Vec::new(),
            digests: Vec::new(),
            numbered,
            skipped,
        };
        for item in items {
            if let Some((write, kind)) = item.write {
                batch.writes.push(write);
                batch.kinds.push(kind);
            }
            batch.versions.extend(item.version);
            batch.digests.extend(item.digest);
        }
        batch
    }

    /// Writes a batch in a task of its own, with the run's counters as they will be after it.
    fn start_write(&self, state: &RunState, batch: Batch) -> InFlight {
        let mut after = state.counts;
        batch.count(&mut after);
        let store = self.store.clone();
        let fence = state.fence.clone();
        let (run_id, author_id) = (state.run_id, state.author_id);
        let delay = self.config.write_delay;
        AbortOnDropHandle::new(tokio::spawn(async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let result = store
                .apply_sync(
                    &fence,
                    run_id,
                    author_id,
                    &batch.writes,
                    &batch.versions,
                    &batch.digests,
                    &batch.numbered,
                    &after,
                )
                .await;
            (batch, result)
        }))
    }

    /// Waits for a batch's write. If it failed on a record, each record is written again alone and
    /// the ones that still fail are skipped with their reason: one bad record never costs the others
    /// their work.
    async fn finish_write(&self, state: &mut RunState, write: InFlight) -> Result<(), Halt> {
        let (batch, result) = match write.await {
            Ok(done) => done,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => return Err(Halt::Cancelled),
        };
        match result {
            Ok(applied) => {
                batch.count(&mut state.counts);
                state.counts.rows_written += applied.rows;
                state.counts.versions_created += applied.versions_created;
                return Ok(());
            }
            Err(StoreError::LeaseLost) => return Err(Halt::LeaseLost),
            Err(StoreError::Database(e)) if is_connection_error(&e) => {
                return Err(Halt::Store(StoreError::Database(e)))
            }
            Err(e) => tracing::warn!(error = %e, "a batch failed; retrying its records one by one"),
        }
        // Slow path: the skips first, then each model (with its version) alone, then versions of
        // models that were not written.
        let Batch {
            writes,
            kinds,
            versions,
            digests,
            numbered,
            skipped,
        } = batch;
        let mut counts = state.counts;
        counts.skipped += skipped;
        let applied = self
            .store
            .apply_sync(
                &state.fence,
                state.run_id,
                state.author_id,
                &[],
                &[],
                &digests,
                &numbered,
                &counts,
            )
            .await?;
        counts.rows_written += applied.rows;
        let position: HashMap<Uuid, usize> = writes
            .iter()
            .enumerate()
            .map(|(i, w)| (w.model_id, i))
            .collect();
        let mut alone: Vec<Alone> = writes
            .into_iter()
            .zip(kinds)
            .map(|(w, kind)| (Some((w, kind)), Vec::new()))
            .collect();
        for v in versions {
            match position.get(&v.model_id) {
                Some(&i) => alone[i].1.push(v),
                None => alone.push((None, vec![v])),
            }
        }
        for (write, version) in alone {
            let mut next = counts;
            if let Some((_, kind)) = &write {
                kind.count(&mut next);
            }
            let one: Vec<SyncWrite> = write.iter().map(|(w, _)| w.clone()).collect();
            match self
                .store
                .apply_sync(
                    &state.fence,
                    state.run_id,
                    state.author_id,
                    &one,
                    &version,
                    &[],
                    &[],
                    &next,
                )
                .await
            {
                Ok(applied) => {
                    next.rows_written += applied.rows;
                    next.versions_created += applied.versions_created;
                    counts = next;
                }
                Err(StoreError::LeaseLost) => return Err(Halt::LeaseLost),
                Err(e) => {
                    let (hf_model_id, object_id) = match &write {
                        Some((w, _)) => (
                            Some(w.hf_model_id.clone()),
                            Some(w.upstream.object_id.clone()),
                        ),
                        None => (None, None),
                    };
                    let (seq, n) = self.number_skips(
                        state,
                        vec![SkipRecord {
                            hf_model_id,
                            object_id,
                            reason: format!("could not be written: {e}"),
                        }],
                    );
                    counts.skipped += n;
                    self.store
                        .apply_sync(
                            &state.fence,
                            state.run_id,
                            state.author_id,
                            &[],
                            &[],
                            &[],
                            &seq,
                            &counts,
                        )
                        .await?;
                }
            }
        }
        state.counts = counts;
        Ok(())
    }

    /// Gives skipped records their sequence numbers (keeping at most [`MAX_SKIP_RECORDS`]); returns the
    /// records to store and how many were skipped.
    fn number_skips(
        &self,
        state: &mut RunState,
        skips: Vec<SkipRecord>,
    ) -> (Vec<(i64, SkipRecord)>, i64) {
        let n = skips.len() as i64;
        let mut out = Vec::new();
        for s in skips {
            tracing::warn!(repo = s.hf_model_id.as_deref().unwrap_or("?"), reason = %s.reason, "skipped");
            if state.skip_seq < MAX_SKIP_RECORDS {
                out.push((state.skip_seq, s));
            }
            state.skip_seq += 1;
        }
        (out, n)
    }

    /// After a complete listing: every active catalog model that was not listed is confirmed one by one.
    async fn handle_missing(
        &self,
        state: &mut RunState,
        stop: &CancellationToken,
    ) -> Result<(), Halt> {
        let active = self.store.active_object_ids().await?;
        let missing: Vec<String> = active
            .iter()
            .filter(|oid| !state.seen.contains(*oid))
            .cloned()
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let share = 100.0 * missing.len() as f64 / active.len().max(1) as f64;
        if share > self.config.removal_threshold_pct {
            let note = format!(
                "{} of {} mirrored models ({share:.1}%) are missing from the listing, more than the {}% threshold: nothing was removed",
                missing.len(),
                active.len(),
                self.config.removal_threshold_pct
            );
            tracing::warn!("{note}");
            state.problems.push(note);
            state.removals_held_back = true;
            return Ok(());
        }
        tracing::info!(
            candidates = missing.len(),
            "confirming repos missing from the listing"
        );
        let missing: Vec<(Uuid, String, String)> = self
            .store
            .synced_models(&missing, &[])
            .await?
            .into_iter()
            .filter_map(|m| Some((m.id, m.upstream?.object_id, m.hf_model_id?)))
            .collect();
        let checks: Vec<Confirmation> = stream::iter(missing)
            .map(|(id, oid, repo)| async move {
                let outcome = self.hub.model_info(&repo, None).await;
                (id, oid, repo, outcome)
            })
            .buffer_unordered(self.config.detail_concurrency.max(1))
            .collect()
            .await;
        if stop.is_cancelled() {
            return Err(Halt::Cancelled);
        }
        let mut removed = Vec::new();
        let mut skips = Vec::new();
        let mut renames: Vec<HubModel> = Vec::new();
        for (id, oid, repo, outcome) in checks {
            match outcome {
                Ok(RepoOutcome::MissingOrPrivate | RepoOutcome::NotFound) => removed.push(id),
                Ok(RepoOutcome::Gated) => {}
                Ok(RepoOutcome::Found { value, renamed_to }) => {
                    let same_repo = value.object_id.as_deref() == Some(oid.as_str());
                    if same_repo && renamed_to.is_some() {
                        renames.push(value);
                    } else {
                        // Either another repo now holds the id, or the repo is no longer tagged LiteRT.
                        tracing::info!(
                            repo,
                            same_repo,
                            "no longer a listed LiteRT repo: marked removed"
                        );
                        removed.push(id);
                    }
                }
                Err(e) => skips.push(SkipRecord {
                    hf_model_id: Some(repo),
                    object_id: Some(oid),
                    reason: format!("could not confirm that the repo is gone: {e}"),
                }),
            }
        }
        self.mark_removed(state, &removed).await?;
        if !renames.is_empty() || !skips.is_empty() {
            let mut mirrors = Vec::new();
            for m in &renames {
                if let Ok(mirror) = map_model(m) {
                    state.seen.insert(mirror.object_id.clone());
                    mirrors.push(m.clone());
                }
            }
            let mut skips = skips;
            self.process_page(state, mirrors, &mut skips).await?;
        }
        Ok(())
    }
}

/// A repo missing from the listing and what the Hub said about it: (model id, object id, repo id, answer).
type Confirmation = (
    Uuid,
    String,
    String,
    Result<RepoOutcome<HubModel>, HubError>,
);

/// Which counter a write moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteKind {
    Created,
    Updated,
    Renamed,
    Restored,
}

impl WriteKind {
    fn count(self, c: &mut RunCounts) {
        match self {
            WriteKind::Created => c.created += 1,
            WriteKind::Updated => c.updated += 1,
            WriteKind::Renamed => c.renamed += 1,
            WriteKind::Restored => c.restored += 1,
        }
    }
}

fn is_connection_error(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
    )
}

fn banner(text: &str) {
    tracing::info!("============================================================");
    tracing::info!("{text}");
    tracing::info!("============================================================");
}
