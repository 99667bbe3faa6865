//! What the sync is configured with ([`SyncConfig`]), and the defaults the command line shows.

use super::default_owner;
use super::rules::Rules;
use std::time::Duration;

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
    /// Inspect the model file of each version created (`pipeline::derive`), deriving its pipeline.
    pub inspect_models: bool,
    /// Stored mirrored versions not inspected yet (or by an older inspector) inspected per run.
    pub inspect_backlog: usize,
    /// How long a sync gives one model file's reads (a file that takes longer is deferred).
    pub file_read_timeout: Duration,
    /// The wait before a deferred inspection's first retry, doubled for each later one (capped at
    /// `domain::inspection::MAX_RETRY_DELAY`).
    pub inspect_retry_base: Duration,
    /// Read model files given by URL (not on the Hub) at loopback and private addresses too.
    pub inspect_private_networks: bool,
    /// Skip new repos without any model file (`.tflite`, `.litertlm`, `.task`).
    pub require_model_file: bool,
    /// Describe models without a card text by their README's first paragraph (one request per new or
    /// changed repo); off, they get the fallback text until a README is read.
    pub fetch_readmes: bool,
    pub lease_ttl: Duration,
    /// Who this process is, in lease and run records.
    pub owner: String,
    /// Benchmarks and the crash suite only: how long each batch holds its transaction before
    /// writing, to model a slow disk.
    pub write_delay: Duration,
}

/// The defaults of [`SyncConfig`]; the command line (`config.rs`) shows and uses the same (lists and
/// durations as it spells them).
pub mod defaults {
    /// The Hub listings a run unites (`SYNC_FILTERS`), comma-separated.
    pub const FILTERS: &str = "litert,litert-lm,tflite";
    pub const REMOVAL_THRESHOLD_PCT: f64 = 10.0;
    pub const DETAIL_CONCURRENCY: u64 = 8;
    pub const PULL_VERSIONS: bool = true;
    pub const INSPECT_MODELS: bool = true;
    pub const INSPECT_BACKLOG: usize = 1000;
    pub const REQUIRE_MODEL_FILE: bool = true;
    pub const FETCH_READMES: bool = true;
    pub const LEASE_SECS: &str = "60";
    pub const FILE_READ_SECS: &str = "20";
    pub const INSPECT_RETRY_SECS: &str = "3600";
}

impl SyncConfig {
    /// The default configuration with these filtering rules.
    pub fn new(rules: Rules) -> SyncConfig {
        SyncConfig {
            filters: defaults::FILTERS.split(',').map(str::to_string).collect(),
            limit: None,
            removal_threshold_pct: defaults::REMOVAL_THRESHOLD_PCT,
            rules,
            detail_concurrency: defaults::DETAIL_CONCURRENCY as usize,
            pull_versions: defaults::PULL_VERSIONS,
            inspect_models: defaults::INSPECT_MODELS,
            inspect_backlog: defaults::INSPECT_BACKLOG,
            file_read_timeout: crate::hub::defaults::secs(defaults::FILE_READ_SECS),
            inspect_retry_base: crate::hub::defaults::secs(defaults::INSPECT_RETRY_SECS),
            inspect_private_networks: false,
            require_model_file: defaults::REQUIRE_MODEL_FILE,
            fetch_readmes: defaults::FETCH_READMES,
            lease_ttl: crate::hub::defaults::secs(defaults::LEASE_SECS),
            owner: default_owner(),
            write_delay: Duration::ZERO,
        }
    }
}
