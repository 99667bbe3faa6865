//! The PostgreSQL backend, for several replicas sharing one database.

use super::listing::{bind_params, ListSql, ModelQuery};
use super::search::SearchPlan;
use super::{Dialect, StoreResult};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Clone, Debug)]
pub struct PgStore {
    pub(crate) pool: PgPool,
}

impl PgStore {
    /// The embedded migrations of this backend.
    pub(crate) fn migrator(&self) -> &'static sqlx::migrate::Migrator {
        &MIGRATOR
    }

    pub async fn connect(url: &str) -> Result<PgStore, sqlx::Error> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        Ok(PgStore { pool })
    }

    /// Takes the process-liveness lock of a sync run without waiting; `None` while a live owner has it.
    pub(crate) async fn owner_lock(&self) -> StoreResult<Option<super::OwnerLock>> {
        Ok(super::owner_lock::try_pg_lock(&self.pool).await?)
    }

    /// `EXPLAIN` of a listing page with sequential scans, bitmap scans and sorts priced out (on a
    /// table of test size they would win), so the plan shows whether an index can serve the keyset
    /// condition in the page's order; with a search, only sequential scans.
    pub(super) async fn list_plan(&self, q: &ModelQuery, plan: SearchPlan) -> StoreResult<String> {
        let list = ListSql::new(q, Dialect::Postgres, plan);
        let (sql, params) = list.page_sql(q);
        let sql = format!("EXPLAIN {sql}");
        let mut tx = self.pool.begin().await?;
        // A search reads its word index (GIN) by a bitmap scan, and sorts what it finds.
        let searching =
            q.q.as_deref()
                .is_some_and(|t| !super::search_words(t).is_empty());
        let off: &[&str] = if searching {
            &["enable_seqscan"]
        } else {
            &["enable_seqscan", "enable_bitmapscan", "enable_sort"]
        };
        for setting in off {
            sqlx::query(&format!("SET LOCAL {setting} = off"))
                .execute(&mut *tx)
                .await?;
        }
        let lines: Vec<String> = bind_params!(sqlx::query_scalar(&sql), params)
            .fetch_all(&mut *tx)
            .await?;
        tx.rollback().await?;
        Ok(lines.join("\n"))
    }
}
