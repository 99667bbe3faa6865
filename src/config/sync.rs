//! What the sync is told: the `SYNC_*` and `NOTIFY_*` options of `serve` and `sync`, and the
//! [`crate::sync::SyncConfig`] and notifier built from them.

use super::clap_defaults;
use super::values::{millis_between, secs_between};
use crate::sync::defaults as sync_defaults;
use clap::Args;
use std::time::Duration;

/// What the sync mirrors and how.
#[derive(Debug, Clone, Args)]
pub struct SyncArgs {
    /// Discovery filters: one Hub listing each, union by repo.
    #[arg(
        long,
        env = "SYNC_FILTERS",
        value_delimiter = ',',
        default_value = sync_defaults::FILTERS
    )]
    pub sync_filters: Vec<String>,
    /// Stop discovery after this many repos (no limit by default; a limited run never removes anything).
    #[arg(long, env = "SYNC_LIMIT")]
    pub sync_limit: Option<usize>,
    /// Remove nothing when more than this percentage of mirrored models is missing from a listing.
    #[arg(long, env = "SYNC_REMOVAL_THRESHOLD_PCT", default_value_t = sync_defaults::REMOVAL_THRESHOLD_PCT)]
    pub sync_removal_threshold_pct: f64,
    /// A JSON file of filtering rules (include, exclude, include_authors, exclude_authors, allow_gated,
    /// min_downloads, required_files); the SYNC_* rule variables add to it.
    #[arg(long, env = "SYNC_RULES_FILE")]
    pub sync_rules_file: Option<std::path::PathBuf>,
    /// Repo id globs to mirror (all when empty).
    #[arg(long, env = "SYNC_INCLUDE", value_delimiter = ',')]
    pub sync_include: Vec<String>,
    /// Repo id globs never to mirror.
    #[arg(long, env = "SYNC_EXCLUDE", value_delimiter = ',')]
    pub sync_exclude: Vec<String>,
    /// Author globs to mirror (all when empty).
    #[arg(long, env = "SYNC_INCLUDE_AUTHORS", value_delimiter = ',')]
    pub sync_include_authors: Vec<String>,
    /// Author globs never to mirror.
    #[arg(long, env = "SYNC_EXCLUDE_AUTHORS", value_delimiter = ',')]
    pub sync_exclude_authors: Vec<String>,
    /// Mirror gated repos.
    #[arg(long, env = "SYNC_ALLOW_GATED", value_parser = clap::builder::BoolishValueParser::new())]
    pub sync_allow_gated: Option<bool>,
    /// Minimum upstream downloads (30 days) of a mirrored repo.
    #[arg(long, env = "SYNC_MIN_DOWNLOADS")]
    pub sync_min_downloads: Option<i64>,
    /// File kinds a repo must contain one of (tflite, litertlm, task).
    #[arg(long, env = "SYNC_REQUIRE_FILES", value_delimiter = ',')]
    pub sync_require_files: Vec<String>,
    /// Concurrent detail requests (READMEs, confirmations, versions).
    #[arg(long, env = "SYNC_DETAIL_CONCURRENCY", default_value_t = sync_defaults::DETAIL_CONCURRENCY, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub sync_detail_concurrency: u64,
    /// Create versions from upstream commits.
    #[arg(long, env = "SYNC_PULL_VERSIONS", default_value_t = sync_defaults::PULL_VERSIONS, action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub sync_pull_versions: bool,
    /// Inspect each new version's model file by HTTP range (its structure only, never the weights) and
    /// derive the pipeline the app runs from it.
    #[arg(long, env = "SYNC_INSPECT_MODELS", default_value_t = sync_defaults::INSPECT_MODELS, action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub sync_inspect_models: bool,
    /// Mirrored versions stored without an inspection (or with an older inspector's) inspected per
    /// run, newest first; 0 turns the backlog off.
    #[arg(long, env = "SYNC_INSPECT_BACKLOG", default_value_t = sync_defaults::INSPECT_BACKLOG)]
    pub sync_inspect_backlog: usize,
    /// Seconds a sync gives the reads of one model file (each retried once, briefly); a file that
    /// cannot be read in time is deferred to a later run, its version written all the same (1 to 3600).
    #[arg(long = "sync-file-read-secs", env = "SYNC_FILE_READ_SECS", default_value = sync_defaults::FILE_READ_SECS,
          value_parser = secs_between(1, 3600))]
    pub sync_file_read: Duration,
    /// Seconds before a deferred model file is read again, doubled after each failed attempt up to a
    /// week (0 to 86400; 0 retries on the next run).
    #[arg(long = "sync-inspect-retry-secs", env = "SYNC_INSPECT_RETRY_SECS", default_value = sync_defaults::INSPECT_RETRY_SECS,
          value_parser = secs_between(0, 86400))]
    pub sync_inspect_retry: Duration,
    /// Also read model files that a version names by URL outside the Hub (a person's upload) at
    /// loopback and private addresses. Off, only public hosts are read (a guard against requests
    /// forged into the service's own network); on for tests and a file server on your own network.
    #[arg(long, env = "SYNC_INSPECT_PRIVATE_NETWORKS", default_value_t = false, action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub sync_inspect_private_networks: bool,
    /// The URL clients reach this service at: links to the files it hosts (label files extracted from
    /// models) are made under it when it answers (stored links hold only the file's path). By default
    /// `serve` uses `http://` and the address it listens on (`localhost` for an unspecified one); set
    /// it when the service runs behind a proxy or a domain. The one-shot `sync` has no use for it.
    #[arg(long, env = "POCKET_PUBLIC_URL")]
    pub public_url: Option<url::Url>,
    /// Skip new repos that contain no model file (.tflite, .litertlm, .task).
    #[arg(long, env = "SYNC_REQUIRE_MODEL_FILE", default_value_t = sync_defaults::REQUIRE_MODEL_FILE, action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub sync_require_model_file: bool,
    /// Describe models without a card text by their README's first paragraph (a request per new or
    /// changed repo).
    #[arg(long, env = "SYNC_FETCH_READMES", default_value_t = sync_defaults::FETCH_READMES, action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub sync_fetch_readmes: bool,
    /// URLs notified (JSON POST, Slack-compatible) of failed runs and recoveries.
    #[arg(
        long,
        env = "NOTIFY_WEBHOOK_URLS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub notify_webhook_urls: Vec<url::Url>,
    /// Also notify a successful run that skipped more than this many records (never changes its status).
    #[arg(long, env = "NOTIFY_SKIPPED_ABOVE")]
    pub notify_skipped_above: Option<u64>,
    /// Benchmarks and the crash suite only: hold each batch's transaction this long before writing,
    /// as a slow disk would.
    #[arg(
        long = "sync-bench-write-delay-ms",
        env = "SYNC_BENCH_WRITE_DELAY_MS",
        default_value = "0",
        value_parser = millis_between(0, 600_000),
        hide = true
    )]
    pub sync_bench_write_delay: Duration,
    /// Seconds a sync lease lasts without renewal; another replica takes over a run after that (1 to
    /// 3600).
    #[arg(long = "sync-lease-secs", env = "SYNC_LEASE_SECS", default_value = sync_defaults::LEASE_SECS,
          value_parser = secs_between(1, 3600))]
    pub sync_lease: Duration,
}

impl Default for SyncArgs {
    fn default() -> Self {
        clap_defaults()
    }
}

impl SyncArgs {
    /// The notifier of run outcomes (inert without URLs).
    pub fn notifier(&self) -> crate::sync::notify::Notifier {
        crate::sync::notify::Notifier::new(self.notify_webhook_urls.clone())
            .with_skipped_above(self.notify_skipped_above)
    }

    /// The sync configuration; a bad rule or rules file is an error naming it.
    pub fn sync_config(&self) -> Result<crate::sync::SyncConfig, String> {
        use crate::sync::rules::{RuleSpec, Rules};
        let mut spec = match &self.sync_rules_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read SYNC_RULES_FILE {}: {e}", path.display()))?;
                serde_json::from_str::<RuleSpec>(&text)
                    .map_err(|e| format!("SYNC_RULES_FILE {}: {e}", path.display()))?
            }
            None => RuleSpec::default(),
        };
        spec.include.extend(self.sync_include.iter().cloned());
        spec.exclude.extend(self.sync_exclude.iter().cloned());
        spec.include_authors
            .extend(self.sync_include_authors.iter().cloned());
        spec.exclude_authors
            .extend(self.sync_exclude_authors.iter().cloned());
        spec.required_files
            .extend(self.sync_require_files.iter().cloned());
        if self.sync_allow_gated.is_some() {
            spec.allow_gated = self.sync_allow_gated;
        }
        if self.sync_min_downloads.is_some() {
            spec.min_downloads = self.sync_min_downloads;
        }
        let filters: Vec<String> = self
            .sync_filters
            .iter()
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty())
            .collect();
        if filters.is_empty() {
            return Err("SYNC_FILTERS must name at least one filter".into());
        }
        if !(0.0..=100.0).contains(&self.sync_removal_threshold_pct) {
            return Err("SYNC_REMOVAL_THRESHOLD_PCT must be between 0 and 100".into());
        }
        let mut config = crate::sync::SyncConfig::new(Rules::new(spec)?);
        config.filters = filters;
        config.limit = self.sync_limit;
        config.removal_threshold_pct = self.sync_removal_threshold_pct;
        config.detail_concurrency = self.sync_detail_concurrency as usize;
        config.pull_versions = self.sync_pull_versions;
        config.inspect_models = self.sync_inspect_models;
        config.inspect_backlog = self.sync_inspect_backlog;
        config.file_read_timeout = self.sync_file_read;
        config.inspect_retry_base = self.sync_inspect_retry;
        config.inspect_private_networks = self.sync_inspect_private_networks;
        config.require_model_file = self.sync_require_model_file;
        config.fetch_readmes = self.sync_fetch_readmes;
        config.lease_ttl = self.sync_lease;
        config.write_delay = self.sync_bench_write_delay;
        Ok(config)
    }
}
