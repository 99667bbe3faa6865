//! The PostgreSQL backend, for several replicas sharing one database.

use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Clone, Debug)]
pub struct PgStore {
    pub(crate) pool: PgPool,
}

impl PgStore {
    pub async fn connect(url: &str) -> Result<PgStore, sqlx::Error> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        Ok(PgStore { pool })
    }

    /// The pool the sync's bulk writes use: the shared one (the server manages its own cache).
    pub(crate) fn writer(&self) -> &PgPool {
        &self.pool
    }
}

// Numbered placeholders.
super::common::impl_common_store!(PgStore, sqlx::PgConnection, MIGRATOR, |n: usize| format!(
    "${n}"
));
super::sync_sql::impl_sync_store!(
    PgStore,
    sqlx::PgConnection,
    super::sync_sql::POSTGRES_NOW_MS,
    super::sync_sql::POSTGRES_JSON_IDS,
    super::sync_sql::POSTGRES_JSON_AGG
);
