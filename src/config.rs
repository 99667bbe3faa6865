//! Configuration: the command line and its environment variables, parsed once by clap into plain structs
//! that the rest of the program (and the tests) build and pass around. Secrets are `SecretString`s and
//! database URLs redact their password when printed. Here: the command line, `serve`'s options and the
//! Hub's and the schedule's; the sync's in `sync`, the other subcommands' in `commands`, values with
//! their own parsing in `values`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use secrecy::SecretString;
use std::net::SocketAddr;
use std::time::Duration;

mod commands;
mod sync;
mod values;
pub use commands::{
    HubsimArgs, RunsCommand, ScheduleCommand, SyncCommandArgs, TokenCommand, UserCommand,
};
pub use sync::SyncArgs;
pub use values::{listen_addr, parse_duration, redact_url, secret, DatabaseUrl};
use values::{millis_between, parse_secret, secs_between};

use crate::hub::defaults as hub_defaults;

#[derive(Debug, Parser)]
#[command(
    name = "pocket-catalog",
    version,
    about = "Pocket AI model catalog with a Hugging Face LiteRT mirror"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Database URL: `sqlite:FILE` (created when missing) or `postgres://USER@HOST/DB`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://pocket-catalog.db",
        global = true
    )]
    pub database_url: DatabaseUrl,
    /// Log format. Levels come from RUST_LOG (default `info`).
    #[arg(long, env = "POCKET_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

// Parsed once at start; the size of the serve variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (applies migrations first).
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Run one Hugging Face sync now and print its summary (exit 1 when it failed).
    Sync(SyncCommandArgs),
    /// The sync runs' history.
    #[command(subcommand)]
    Runs(RunsCommand),
    /// The daily sync's schedule: status, pause, resume.
    #[command(subcommand)]
    Schedule(ScheduleCommand),
    /// Run the Hugging Face Hub simulator (for tests, demos and benchmarks; no internet needed).
    Hubsim(HubsimArgs),
    /// Inspect a `.tflite` file (or bundle) as the catalog does — a local file, or one at an http(s)
    /// URL, reading only its structure, by ranges — and print what it declares as JSON: its tensors in
    /// model order, operators, signatures, metadata, quantization, and the bytes and requests it took
    /// (exit 1 when the file cannot be opened or is not a readable model; 2 for a URL of another
    /// scheme than http or https).
    Inspect(InspectArgs),
}

#[derive(Debug, Clone, Args)]
pub struct InspectArgs {
    /// The model file: a `.tflite`, a `.task` or a `.litertlm` (told by its first bytes), as a path
    /// or an `http(s)://` URL (a Hub `resolve` URL, an upload), read by range with no credentials.
    pub file: String,
    /// The model's task as the Hub names it (`image-classification`, …), for the derived pipeline;
    /// without it the task is read from the tensors' shapes.
    #[arg(long)]
    pub task: Option<String>,
    #[command(flatten)]
    pub no_database: NoDatabase,
}

/// For a command that opens no database: takes the global `--database-url`'s place, unlisted, so
/// its help does not offer an option that does nothing there (it is still accepted and ignored).
#[derive(Debug, Clone, Default, Args)]
pub struct NoDatabase {
    /// Ignored: this command opens no database.
    #[arg(long = "database-url", id = "database_url", hide = true)]
    ignored_database_url: Option<DatabaseUrl>,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on: `IP:PORT`, or `HOST:PORT` (`localhost:8000`) resolved at startup.
    #[arg(long, env = "POCKET_ADDR", default_value = "127.0.0.1:8000", value_parser = listen_addr)]
    pub addr: SocketAddr,
    /// Origins allowed by CORS, comma-separated (`*` for any); by default the portal's development
    /// server. CORS is closed when set empty.
    #[arg(
        long,
        env = "POCKET_CORS_ORIGINS",
        value_delimiter = ',',
        default_value = "http://localhost:5173,http://127.0.0.1:5173"
    )]
    pub cors_origins: Vec<String>,
    /// Seconds before a request is answered with 408 (1 to 3600).
    #[arg(long = "request-timeout-secs", env = "POCKET_REQUEST_TIMEOUT_SECS", default_value = "30",
          value_parser = secs_between(1, 3600))]
    pub request_timeout: Duration,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "POCKET_MAX_BODY_BYTES", default_value_t = 1_048_576,
          value_parser = clap::value_parser!(u64).range(1024..=104_857_600))]
    pub max_body_bytes: u64,
    /// The longest a manual sync request waits for its run, in seconds (1 to 3600); a run still going
    /// then is answered 202 with its id and a link to follow it (it goes on in the background).
    #[arg(long = "sync-wait-secs", env = "POCKET_SYNC_WAIT_SECS", default_value = "25",
          value_parser = secs_between(1, 3600))]
    pub sync_wait: Duration,
    /// Failed authentications a client may make per minute before it is refused with 429.
    #[arg(long, env = "POCKET_AUTH_FAILURES_PER_MINUTE", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub auth_failures_per_minute: u32,
    /// How long `GET /models` pages and `GET /models/{id}` answers may be served from memory, in
    /// milliseconds (0 disables it). Writes through this replica's API clear the cache; the sync's and
    /// other replicas' writes, and download counters, show within this time.
    #[arg(long = "list-cache-ms", env = "POCKET_LIST_CACHE_MS", default_value = "1000",
          value_parser = millis_between(0, 60_000))]
    pub list_cache: Duration,
    /// Only developers (and admins) may publish models; by default any signed-in user may.
    #[arg(long, env = "POCKET_PUBLISH_REQUIRES_DEVELOPER", default_value_t = false,
          action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub publish_requires_developer: bool,
    /// Ad-hoc imports (`POST /import/huggingface`) a signed-in user may start per hour (admins: any).
    #[arg(long, env = "POCKET_IMPORTS_PER_HOUR", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub imports_per_hour: u32,
    /// Most telemetry events accepted in one `POST /api/v1/telemetry/batch` (the app sends up to 200).
    #[arg(long, env = "POCKET_TELEMETRY_MAX_EVENTS", default_value_t = 500,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub telemetry_max_events: u32,
    /// Telemetry events one user may send per hour (the app sends one per inference run); a batch past
    /// it is refused with 429 and nothing of it is stored.
    #[arg(long, env = "POCKET_TELEMETRY_EVENTS_PER_HOUR", default_value_t = 5_000,
          value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub telemetry_events_per_hour: u32,
    /// How long telemetry events are kept (`90d`, `720h`; a bare number is seconds).
    #[arg(long, env = "POCKET_TELEMETRY_RETENTION", default_value = "90d", value_parser = parse_duration)]
    pub telemetry_retention: Duration,
    /// Supabase JWT secret: accept the portal's HS256 access tokens as well as API tokens.
    #[arg(long, env = "SUPABASE_JWT_SECRET", hide_env_values = true, value_parser = parse_secret)]
    pub supabase_jwt_secret: Option<SecretString>,
    /// Supabase project URL: accept RS256/ES256 access tokens signed by its JWKS keys.
    #[arg(long, env = "SUPABASE_URL")]
    pub supabase_url: Option<url::Url>,
    /// Shared secret of the Hub webhook (`X-Webhook-Secret`); `POST /webhooks/huggingface` is off without it.
    #[arg(long, env = "HF_WEBHOOK_SECRET", hide_env_values = true, value_parser = parse_secret)]
    pub hf_webhook_secret: Option<SecretString>,
    #[command(flatten)]
    pub hub: HubArgs,
    #[command(flatten)]
    pub sync: SyncArgs,
    #[command(flatten)]
    pub schedule: ScheduleArgs,
}

/// When the sync runs by itself.
#[derive(Debug, Clone, Args)]
pub struct ScheduleArgs {
    /// Crontab expression of the sync (5 fields; an optional leading seconds field is accepted).
    #[arg(long, env = "SYNC_SCHEDULE", default_value = "0 2 * * *")]
    pub sync_schedule: String,
    /// IANA time zone of the schedule.
    #[arg(long, env = "SYNC_TIMEZONE", default_value = "UTC")]
    pub sync_timezone: String,
    /// Run a sync when the service starts.
    #[arg(long, env = "SYNC_ON_STARTUP", default_value_t = false, action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub sync_on_startup: bool,
    /// Run the schedule (manual runs work either way).
    #[arg(long, env = "SYNC_ENABLED", default_value_t = true, action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub sync_enabled: bool,
    /// A slot missed while the service was down runs once if it is younger than this (`24h`, `90m`,
    /// `1h 30m`; a bare number is seconds).
    #[arg(long, env = "SYNC_CATCHUP_WINDOW", default_value = "24h", value_parser = parse_duration)]
    pub sync_catchup_window: Duration,
    /// How often a replica looks at the schedule's shared state (pauses, orphaned runs), at most
    /// (at least 100ms).
    #[arg(long, env = "SYNC_SCHEDULER_TICK", default_value = "15s", value_parser = parse_duration)]
    pub sync_scheduler_tick: Duration,
}

impl Default for ScheduleArgs {
    fn default() -> Self {
        clap_defaults()
    }
}

impl ScheduleArgs {
    /// The schedule configuration; a bad expression or zone is an error naming the value.
    pub fn schedule_config(&self) -> Result<crate::schedule::ScheduleConfig, String> {
        use crate::schedule::{Schedule, ScheduleConfig};
        Ok(ScheduleConfig {
            schedule: Schedule::parse(&self.sync_schedule, &self.sync_timezone)?,
            enabled: self.sync_enabled,
            on_startup: self.sync_on_startup,
            catchup_window: self.sync_catchup_window,
            tick: self.sync_scheduler_tick.max(Duration::from_millis(100)),
            clock_offset: chrono::Duration::zero(),
        })
    }
}

/// How to reach the Hugging Face Hub.
#[derive(Debug, Clone, Args)]
pub struct HubArgs {
    /// Hugging Face Hub endpoint (point it at `pocket-catalog hubsim` to work offline).
    #[arg(long, env = "HF_ENDPOINT", default_value = crate::hub::DEFAULT_ENDPOINT)]
    pub hf_endpoint: url::Url,
    /// Hugging Face token, sent as `Authorization: Bearer` (raises the rate limit; never logged).
    #[arg(long, env = "HF_TOKEN", hide_env_values = true, value_parser = parse_secret)]
    pub hf_token: Option<SecretString>,
    /// Retries of a failed Hub request (429, 5xx, timeouts).
    #[arg(long, env = "HUB_MAX_RETRIES", default_value_t = hub_defaults::MAX_RETRIES,
          value_parser = clap::value_parser!(u64).range(0..=20))]
    pub hub_max_retries: u64,
    /// Seconds before a Hub request times out (1 to 3600).
    #[arg(long = "hub-timeout-secs", env = "HUB_TIMEOUT_SECS", default_value = hub_defaults::TIMEOUT_SECS,
          value_parser = secs_between(1, 3600))]
    pub hub_timeout: Duration,
    /// Longest total wait over the retries of one request, in seconds.
    #[arg(long = "hub-max-wait-secs", env = "HUB_MAX_WAIT_SECS", default_value = hub_defaults::MAX_WAIT_SECS,
          value_parser = secs_between(0, u64::MAX))]
    pub hub_max_wait: Duration,
    /// The Hub's CDN hosts (comma-separated `host`, `host:port` or `*.domain`): where the Hub's
    /// redirects for file downloads may lead whatever their address; a redirect to any other host is
    /// followed only when its address is public. The simulator's CDN is `localhost:PORT` beside
    /// `HF_ENDPOINT=http://127.0.0.1:PORT`.
    #[arg(long, env = "HF_CDN_HOSTS", default_value = crate::hub::defaults::CDN_HOSTS,
          value_delimiter = ',')]
    pub hf_cdn_hosts: Vec<crate::net::guard::HostPattern>,
}

impl Default for HubArgs {
    fn default() -> Self {
        clap_defaults()
    }
}

impl HubArgs {
    pub fn hub_config(&self) -> crate::hub::HubConfig {
        let mut c =
            crate::hub::HubConfig::new(self.hf_endpoint.clone(), secret(self.hf_token.clone()));
        c.max_retries = self.hub_max_retries as usize;
        c.request_timeout = Some(self.hub_timeout);
        c.max_total_wait = self.hub_max_wait;
        c.cdn_hosts = self.hf_cdn_hosts.clone();
        c
    }
}

impl ServeArgs {
    pub fn webhook_secret(&self) -> Option<SecretString> {
        secret(self.hf_webhook_secret.clone())
    }
}

impl Default for ServeArgs {
    /// The command line's defaults, listening on any free port.
    fn default() -> Self {
        ServeArgs {
            addr: "127.0.0.1:0".parse().expect("static address"),
            ..clap_defaults()
        }
    }
}

/// The values clap gives `T` when no flag and no environment variable is set: every default is
/// written once, in its `#[arg]`.
pub(crate) fn clap_defaults<T: Args + clap::FromArgMatches>() -> T {
    let command = T::augment_args(clap::Command::new("defaults")).mut_args(|a| a.env(None));
    let matches = command
        .try_get_matches_from(["defaults"])
        .expect("every option has a default or is optional");
    T::from_arg_matches(&matches).expect("defaults parse")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn a_listening_address_may_name_a_host() {
        assert_eq!(
            listen_addr("127.0.0.1:8111").unwrap().to_string(),
            "127.0.0.1:8111"
        );
        assert_eq!(listen_addr("[::1]:8111").unwrap().to_string(), "[::1]:8111");
        let local = listen_addr("localhost:8111").unwrap();
        assert!(local.ip().is_loopback() && local.port() == 8111, "{local}");
        let cli =
            Cli::try_parse_from(["pocket-catalog", "serve", "--addr", "localhost:8111"]).unwrap();
        let Command::Serve(serve) = cli.command else {
            panic!("serve")
        };
        assert_eq!(serve.addr.port(), 8111);
        let refused = listen_addr("8111").unwrap_err();
        assert!(
            refused.starts_with("expected IP:PORT or HOST:PORT"),
            "{refused}"
        );
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Every flag of every command says what it does, in words for an operator (issue #35: several
    /// had no description, and one cited an issue number).
    #[test]
    fn every_flag_is_described_without_issue_numbers() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version") {
                    continue;
                }
                let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                if help.trim().is_empty() || help.contains("issue #") {
                    missing.push(format!("{path} --{id}: {help:?}"));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "pocket-catalog", &mut missing);
        assert!(missing.is_empty(), "{missing:#?}");
    }

    /// No option is listed where it does nothing (issue #35): the commands that open no database do
    /// not list `--database-url`; the others do.
    #[test]
    fn commands_without_a_database_do_not_list_its_url() {
        let mut definition = Cli::command();
        definition.build();
        for (name, listed) in [
            ("hubsim", false),
            ("inspect", false),
            ("sync", true),
            ("serve", true),
        ] {
            let help = definition
                .find_subcommand_mut(name)
                .unwrap()
                .render_long_help()
                .to_string();
            assert_eq!(help.contains("--database-url"), listed, "{name}: {help}");
        }
        // It is still accepted after any command, as a global option is, and help still answers.
        for args in [
            &["sync", "--database-url", "sqlite://x.db"][..],
            &["hubsim", "--database-url", "sqlite://x.db"],
            &["inspect", "m.tflite", "--database-url", "sqlite://x.db"],
        ] {
            let cli =
                Cli::try_parse_from(std::iter::once("pocket-catalog").chain(args.iter().copied()));
            assert!(cli.is_ok(), "{args:?}: {:?}", cli.err());
        }
        for name in ["hubsim", "inspect"] {
            let help = Cli::try_parse_from(["pocket-catalog", name, "--help"]).unwrap_err();
            assert_eq!(
                help.kind(),
                clap::error::ErrorKind::DisplayHelp,
                "{name}: {help}"
            );
        }
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let cli = Cli::parse_from([
            "pocket-catalog",
            "--database-url",
            "postgres://app:db-password@db/catalog",
            "serve",
            "--hf-token",
            "hf_secret_token",
            "--hf-webhook-secret",
            "webhook-secret",
            "--supabase-jwt-secret",
            "jwt-secret",
        ]);
        let text = format!("{cli:?}");
        for secret in [
            "db-password",
            "hf_secret_token",
            "webhook-secret",
            "jwt-secret",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        let Command::Serve(args) = cli.command else {
            panic!("serve")
        };
        assert!(args.webhook_secret().is_some());
        assert!(args.hub.hub_config().token.is_some());
    }

    #[test]
    fn durations_take_humantime_or_bare_seconds() {
        assert_eq!(parse_duration("24h").unwrap(), Duration::from_secs(86_400));
        assert_eq!(parse_duration("90m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("1h 30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("15").unwrap(), Duration::from_secs(15));
        assert_eq!(parse_duration("2d").unwrap(), Duration::from_secs(172_800));
        assert!(parse_duration("soon").is_err());
        assert!(secs_between(1, 3600)("0").is_err());
        assert_eq!(
            secs_between(1, 3600)("30").unwrap(),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn defaults_are_the_command_lines() {
        let sync = SyncArgs::default();
        assert_eq!(sync.sync_filters, ["litert", "litert-lm", "tflite"]);
        assert_eq!(sync.sync_lease, Duration::from_secs(60));
        assert!(sync.sync_pull_versions && sync.sync_fetch_readmes);
        let serve = ServeArgs::default();
        assert_eq!(serve.request_timeout, Duration::from_secs(30));
        assert_eq!(serve.list_cache, Duration::from_millis(1000));
        assert_eq!(
            serve.schedule.sync_catchup_window,
            Duration::from_secs(86_400)
        );
        assert_eq!(serve.hub.hub_config().max_retries, 5);
        let config = sync.sync_config().unwrap();
        let plain = crate::sync::SyncConfig::new(config.rules.clone());
        assert_eq!(
            (config.filters, config.detail_concurrency, config.lease_ttl),
            (plain.filters, plain.detail_concurrency, plain.lease_ttl)
        );
    }

    #[test]
    fn database_urls_hide_passwords() {
        let url: DatabaseUrl = "postgres://app:hunter2@db:5432/catalog".parse().unwrap();
        assert!(!format!("{url:?} {url}").contains("hunter2"));
        assert_eq!(url.expose(), "postgres://app:hunter2@db:5432/catalog");
        assert!("mysql://x".parse::<DatabaseUrl>().is_err());
    }
}
