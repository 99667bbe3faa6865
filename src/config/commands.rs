//! The arguments of the one-shot subcommands — the Hub simulator, users, tokens, one sync — beside
//! the service's own (`serve`) in `config.rs`.

use super::{HubArgs, SyncArgs};
use clap::{Args, Subcommand};
use std::net::SocketAddr;

#[derive(Debug, Clone, Args)]
pub struct HubsimArgs {
    /// Address to listen on: `IP:PORT`, or `HOST:PORT` resolved at startup.
    #[arg(long, env = "HUBSIM_ADDR", default_value = "127.0.0.1:9000", value_parser = super::listen_addr)]
    pub addr: SocketAddr,
    /// Number of LiteRT repos to generate.
    #[arg(long, env = "HUBSIM_LITERT", default_value_t = 800)]
    pub litert: usize,
    /// Number of other (non-LiteRT) repos to generate.
    #[arg(long, env = "HUBSIM_OTHER", default_value_t = 200)]
    pub other: usize,
    /// Seed of the generated population.
    #[arg(long, env = "HUBSIM_SEED", default_value_t = 42)]
    pub seed: u64,
    /// Serve the repos of this JSON-lines file instead of a generated population.
    #[arg(long, env = "HUBSIM_REPOS")]
    pub repos: Option<std::path::PathBuf>,
    /// Apply this many mutation steps before serving.
    #[arg(long, env = "HUBSIM_EPOCH", default_value_t = 0)]
    pub epoch: u64,
    /// Every K-th request fails with --fail-status.
    #[arg(long, env = "HUBSIM_FAIL_EVERY")]
    pub fail_every: Option<u64>,
    /// The HTTP status of the requests --fail-every fails.
    #[arg(long, env = "HUBSIM_FAIL_STATUS", default_value_t = 503)]
    pub fail_status: u16,
    /// This percentage of the stored model files (picked by their SHA-256) cannot be read: the CDN
    /// answers 503 to every request for them (0 to 100).
    #[arg(long, env = "HUBSIM_BROKEN_OBJECTS_PCT", value_parser = clap::value_parser!(u8).range(0..=100))]
    pub broken_objects_pct: Option<u8>,
    /// Latency added to every request, in milliseconds.
    #[arg(long, env = "HUBSIM_LATENCY_MS", default_value_t = 0)]
    pub latency_ms: u64,
    /// Put one malformed entry in every listing page.
    #[arg(long, env = "HUBSIM_MALFORMED_ENTRIES")]
    pub malformed_entries: bool,
    /// Cut every K-th listing page off mid-body.
    #[arg(long, env = "HUBSIM_TRUNCATE_EVERY")]
    pub truncate_every: Option<u64>,
    /// Requests allowed per rate-limit window (unlimited when absent).
    #[arg(long, env = "HUBSIM_RATE_LIMIT_QUOTA")]
    pub rate_limit_quota: Option<u64>,
    /// Length of the rate-limit window in seconds.
    #[arg(long, env = "HUBSIM_RATE_LIMIT_WINDOW_SECS", default_value_t = 300)]
    pub rate_limit_window_secs: u64,
    /// Send Retry-After on 429 answers too.
    #[arg(long, env = "HUBSIM_RETRY_AFTER")]
    pub retry_after: bool,
    /// Render every listing entry the sync asks for before serving, so the first listing costs the
    /// simulator no more than later ones (benchmarks: the simulator shares the machine with the sync).
    #[arg(long, env = "HUBSIM_PRERENDER")]
    pub prerender: bool,
    /// Back every `.tflite` file of the population with one of the `.tflite` files in this directory
    /// (chosen by its repo and path, the same every time) instead of the simulator's own models, which
    /// back only image classifiers and segmenters. Other LFS files are pseudo-random bytes either way.
    #[arg(long, env = "HUBSIM_MODEL_FILES")]
    pub model_files: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub no_database: super::NoDatabase,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user.
    Create {
        /// The new user's name: 1 to 64 letters, digits, '-', '_' or '.'.
        #[arg(long)]
        username: String,
        /// Their email address.
        #[arg(long)]
        email: String,
        /// May publish models and versions.
        #[arg(long)]
        developer: bool,
        /// May run syncs and operate the service.
        #[arg(long)]
        admin: bool,
    },
    /// List the users: username, email, roles, since when (`--json`: an array).
    List {
        /// Print JSON instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Take roles away from a user (an operator who left, a developer no more).
    Demote {
        /// The user to demote.
        #[arg(long)]
        username: String,
        /// Take away publishing models and versions.
        #[arg(long)]
        developer: bool,
        /// Take away running syncs and operating the service.
        #[arg(long)]
        admin: bool,
    },
    /// Grant roles to an existing user.
    Promote {
        /// The user to promote.
        #[arg(long)]
        username: String,
        /// Let them publish models and versions.
        #[arg(long)]
        developer: bool,
        /// Let them run syncs and operate the service.
        #[arg(long)]
        admin: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token and print it, alone, on stdout.
    Create {
        /// Whose token it is (with --admin, created as an admin when missing).
        #[arg(long)]
        username: String,
        /// A label for the token.
        #[arg(long, default_value = "cli")]
        name: String,
        /// Days until the token expires (never by default).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=3650))]
        expires_days: Option<u32>,
        /// Create the user as an admin when missing (bootstraps an operator in one command).
        #[arg(long)]
        admin: bool,
    },
    /// List a user's tokens (never their secrets).
    List {
        /// Whose tokens to list.
        #[arg(long)]
        username: String,
    },
    /// Revoke a token by its id (from `token list`).
    Revoke {
        /// The token's id (the first column of `token list`); revoking it again changes nothing.
        #[arg(long)]
        id: uuid::Uuid,
    },
}

/// `pocket-catalog sync`: one run with the service's configuration.
#[derive(Debug, Clone, Args)]
pub struct SyncCommandArgs {
    /// Print the run's JSON (the manual trigger's answer) instead of a summary.
    #[arg(long)]
    pub json: bool,
    /// While another live run holds the sync, wait for it to end and then run (instead of exiting 1).
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub hub: HubArgs,
    #[command(flatten)]
    pub sync: SyncArgs,
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// The latest sync runs, newest first: id, trigger, status, start, duration, counts, message.
    List {
        /// How many runs (1 to 1,000).
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(i64).range(1..=1000))]
        limit: i64,
        /// Print the runs' records as JSON (what `GET /sync/runs` answers).
        #[arg(long)]
        json: bool,
    },
    /// One run in full: counters, warnings, message and error.
    Show {
        /// The run's id (the first column of `runs list`).
        id: uuid::Uuid,
        /// Print the run's record as JSON (what `GET /sync/runs/{id}` answers).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Whether the daily sync is paused (on every replica), the last run and the last success.
    Status {
        /// Print JSON instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Pause the schedule on every replica: slots that pass are recorded as missed; manual syncs
    /// still run.
    Pause,
    /// Resume the schedule.
    Resume,
}
