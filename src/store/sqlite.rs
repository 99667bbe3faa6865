//! The embedded SQLite backend: one file, WAL mode, a busy timeout, foreign keys on.

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::str::FromStr;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Clone, Debug)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating when missing) the database at `url` (`sqlite:path`, `sqlite://path` or a bare path).
    pub async fn connect(url: &str) -> Result<SqliteStore, sqlx::Error> {
        let url = if url.starts_with("sqlite:") {
            url.to_string()
        } else {
            format!("sqlite://{url}")
        };
        let options = SqliteConnectOptions::from_str(&url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        Ok(SqliteStore { pool })
    }
}

// Anonymous placeholders: SQLite looks numbered ones up by a linear scan, per parameter.
super::common::impl_common_store!(SqliteStore, sqlx::SqliteConnection, MIGRATOR, |_: usize| {
    "?".to_string()
});
super::sync_sql::impl_sync_store!(
    SqliteStore,
    sqlx::SqliteConnection,
    super::sync_sql::SQLITE_NOW_MS,
    super::sync_sql::SQLITE_JSON_IDS
);
