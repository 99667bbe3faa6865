//! Configuration: the command line and its environment variables, parsed once by clap into plain structs
//! that the rest of the program (and the tests) build and pass around. Secrets are `SecretString`s and
//! database URLs redact their password when printed.

use clap::{Args, Parser, Subcommand, ValueEnum};
use secrecy::SecretString;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

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
    /// Run the Hugging Face Hub simulator (for tests, demos and benchmarks; no internet needed).
    Hubsim(HubsimArgs),
}

#[derive(Debug, Clone, Args)]
pub struct HubsimArgs {
    /// Address to listen on.
    #[arg(long, env = "HUBSIM_ADDR", default_value = "127.0.0.1:9000")]
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
    #[arg(long, env = "HUBSIM_FAIL_STATUS", default_value_t = 503)]
    pub fail_status: u16,
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
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        /// May publish models and versions.
        #[arg(long)]
        developer: bool,
        /// May run syncs and operate the service.
        #[arg(long)]
        admin: bool,
    },
    /// Grant roles to an existing user.
    Promote {
        #[arg(long)]
        username: String,
        #[arg(long)]
        developer: bool,
        #[arg(long)]
        admin: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token and print it, alone, on stdout.
    Create {
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
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "POCKET_ADDR", default_value = "127.0.0.1:8000")]
    pub addr: SocketAddr,
    /// Origins allowed by CORS, comma-separated (`*` for any). CORS is closed when empty.
    #[arg(long, env = "POCKET_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// Seconds before a request is answered with 408.
    #[arg(long, env = "POCKET_REQUEST_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub request_timeout_secs: u64,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "POCKET_MAX_BODY_BYTES", default_value_t = 1_048_576,
          value_parser = clap::value_parser!(u64).range(1024..=104_857_600))]
    pub max_body_bytes: u64,
}

impl ServeArgs {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }
}

impl Default for ServeArgs {
    fn default() -> Self {
        ServeArgs {
            addr: "127.0.0.1:0".parse().expect("static address"),
            cors_origins: Vec::new(),
            request_timeout_secs: 30,
            max_body_bytes: 1_048_576,
        }
    }
}

/// A database URL; its `Debug` and `Display` hide any password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(SecretUrl);

#[derive(Clone, PartialEq, Eq)]
struct SecretUrl(String);

impl DatabaseUrl {
    pub fn expose(&self) -> &str {
        &self.0 .0
    }
    pub fn is_postgres(&self) -> bool {
        self.expose().starts_with("postgres")
    }
}

impl FromStr for DatabaseUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.starts_with("sqlite:")
            || s.starts_with("postgres://")
            || s.starts_with("postgresql://")
        {
            Ok(DatabaseUrl(SecretUrl(s.to_string())))
        } else {
            Err("expected sqlite:PATH, postgres://… or postgresql://…".to_string())
        }
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url(self.expose()))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// Replaces the password of a URL (`scheme://user:password@host`) with `***`.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => raw.to_string(),
    }
}

/// Reads an optional secret from the environment-backed string clap produced.
pub fn secret(value: Option<String>) -> Option<SecretString> {
    value.filter(|v| !v.is_empty()).map(SecretString::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn database_urls_hide_passwords() {
        let url: DatabaseUrl = "postgres://app:hunter2@db:5432/catalog".parse().unwrap();
        assert!(!format!("{url:?} {url}").contains("hunter2"));
        assert_eq!(url.expose(), "postgres://app:hunter2@db:5432/catalog");
        assert!("mysql://x".parse::<DatabaseUrl>().is_err());
    }
}
