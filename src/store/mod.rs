//! Persistence. [`Store`] is the one handle the rest of the program uses; it is either the embedded SQLite
//! backend or PostgreSQL, chosen once from the database URL.
//!
//! Each aggregate's SQL lives in its own file as plain `impl Store` methods — `users.rs` (users and API
//! tokens), `models.rs`, `versions.rs`, `listing.rs` (filtered, sorted, searched pages of models),
//! `sync_batch.rs` (the sync's fenced batch writes and its views of the catalog), `runs.rs` (the sync
//! lease, run records, the schedule's state), `telemetry.rs` (the app's inference events), `readings.rs`
//! (what reading each distinct model file gave, by its SHA-256), `hosted_files.rs` (files this service
//! hosts). The SQL is written once, in the dialect both databases
//! speak (`$n` placeholders, `ON CONFLICT`, `RETURNING`); where they differ the code asks [`Dialect`].
//! [`on_backend!`] and [`on_tx!`] compile one statement's binding and fetching code for each backend's
//! driver types — a `match` with the same body in both arms, no generic `sqlx::Database` bounds.
//! `sqlite.rs` / `postgres.rs` hold only how each backend connects; one conformance suite exercises
//! every method on both.

mod browse;
mod dialect;
mod error;
mod hosted_files;
mod listing;
mod models;
mod owner_lock;
pub mod postgres;
mod ratings;
mod readings;
mod rows;
mod runs;
mod search;
pub mod sqlite;
mod sync_batch;
mod telemetry;
mod users;
mod versions;

pub use error::{constraint, StoreError, StoreResult};
pub use hosted_files::StoredFile;
pub use listing::{Keyset, ModelPage, ModelQuery, SortKey, SortValue, Visibility};
pub use owner_lock::OwnerLock;
pub use postgres::PgStore;
pub use ratings::{Rating, RatingTotals};
pub use search::{search_words, MAX_SEARCH_WORDS};
pub use sqlite::SqliteStore;
pub use sync_batch::{Applied, SyncBatch};
pub use versions::DOWNLOAD_WINDOW;

pub(crate) use dialect::Dialect;
pub(crate) use listing::listed_status_sql;
pub use runs::LeaseClaim;
pub(crate) use search::search_text;

/// The database behind the catalog.
#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

/// Evaluates `$body` with `$db` bound to the backend store (`&SqliteStore` or `&PgStore`): the body is
/// written once and compiled for each backend's types. It is not a closure: `?` and `.await` in the
/// body act on the enclosing function.
macro_rules! on_backend {
    ($store:expr, |$db:ident| $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite($db) => $body,
            $crate::store::Store::Postgres($db) => $body,
        }
    };
}
pub(crate) use on_backend;

/// Evaluates `$body` with `$conn` bound to the connection of the transaction `$tx` (a [`Tx`] or
/// `&mut Tx`), like [`on_backend!`].
macro_rules! on_tx {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match $tx.conn() {
            $crate::store::TxConn::Sqlite($conn) => $body,
            $crate::store::TxConn::Postgres($conn) => $body,
        }
    };
}
pub(crate) use on_tx;

/// A transaction on either backend.
pub(crate) enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// The connection of a [`Tx`], for [`on_tx!`].
pub(crate) enum TxConn<'a> {
    Sqlite(&'a mut sqlx::SqliteConnection),
    Postgres(&'a mut sqlx::PgConnection),
}

impl Tx {
    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Tx::Sqlite(_) => Dialect::Sqlite,
            Tx::Postgres(_) => Dialect::Postgres,
        }
    }

    pub(crate) fn conn(&mut self) -> TxConn<'_> {
        match self {
            Tx::Sqlite(t) => TxConn::Sqlite(t),
            Tx::Postgres(t) => TxConn::Postgres(t),
        }
    }

    pub(crate) async fn commit(self) -> StoreResult<()> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }

    pub(crate) async fn rollback(self) -> StoreResult<()> {
        match self {
            Tx::Sqlite(t) => t.rollback().await?,
            Tx::Postgres(t) => t.rollback().await?,
        }
        Ok(())
    }
}

/// What a connection is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Answering requests: many short reads over the whole catalogue.
    Serving,
    /// A command (a sync, a token, a user): a process that ends, whose memory is its own.
    Batch,
}

/// How every SQLite write transaction begins (see [`Store::begin`]).
const SQLITE_BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

impl Store {
    /// Connects to `url` (`sqlite:…` or `postgres://…`) and applies pending migrations.
    pub async fn connect(url: &str) -> StoreResult<Store> {
        Store::connect_for(url, Workload::Batch).await
    }

    /// [`Store::connect`] for `workload`: a server's SQLite readers map the file (see
    /// [`SqliteStore::connect`]).
    pub async fn connect_for(url: &str, workload: Workload) -> StoreResult<Store> {
        let store = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Store::Postgres(PgStore::connect(url).await?)
        } else {
            Store::Sqlite(SqliteStore::connect(url, workload == Workload::Serving).await?)
        };
        store.migrate().await?;
        Ok(store)
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// Where this backend's SQL differs from the other's.
    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Store::Sqlite(_) => Dialect::Sqlite,
            Store::Postgres(_) => Dialect::Postgres,
        }
    }

    /// A write transaction on the main pool.
    ///
    /// On SQLite it takes the write lock at `BEGIN` (`IMMEDIATE`): a deferred transaction that reads
    /// first and then writes while another connection holds the lock — even one only waiting to roll
    /// back a refused insert — gets `SQLITE_BUSY` at once, because SQLite calls the busy handler only
    /// for a connection with no transaction open.
    pub(crate) async fn begin(&self) -> StoreResult<Tx> {
        Ok(match self {
            Store::Sqlite(s) => Tx::Sqlite(s.pool.begin_with(SQLITE_BEGIN_WRITE).await?),
            Store::Postgres(s) => Tx::Postgres(s.pool.begin().await?),
        })
    }

    /// A transaction for the sync's bulk writes (see [`Store::begin`] for why it is `IMMEDIATE`) (SQLite: its own writer connection).
    pub(crate) async fn begin_bulk(&self) -> StoreResult<Tx> {
        Ok(match self {
            Store::Sqlite(s) => Tx::Sqlite(s.writer.begin_with(SQLITE_BEGIN_WRITE).await?),
            Store::Postgres(s) => Tx::Postgres(s.pool.begin().await?),
        })
    }

    /// Applies the embedded migrations, then renders the client card of every model written before
    /// cards existed ([`Store::fill_client_cards`]).
    pub async fn migrate(&self) -> StoreResult<()> {
        on_backend!(self, |db| db.migrator().run(&db.pool).await)?;
        let filled = self.fill_client_cards().await?;
        if filled > 0 {
            tracing::info!(models = filled, "rendered the client cards of older models");
        }
        Ok(())
    }

    /// The catalogue's revision: a number that grows with every write to models, versions and users
    /// (triggers, migration 0029), committed with the write.
    pub async fn catalog_revision(&self) -> StoreResult<i64> {
        let sql = "SELECT n FROM catalog_revision WHERE id = 1";
        Ok(on_backend!(self, |db| sqlx::query_scalar(sql)
            .fetch_one(&db.pool)
            .await?))
    }

    /// The database answers and every embedded migration is applied.
    pub async fn ready(&self) -> StoreResult<bool> {
        let sql = "SELECT COUNT(*) FROM _sqlx_migrations WHERE success = TRUE";
        let (applied, embedded): (i64, usize) = on_backend!(self, |db| (
            sqlx::query_scalar(sql).fetch_one(&db.pool).await?,
            db.migrator().iter().count()
        ));
        Ok(applied >= embedded as i64)
    }

    /// Takes the process-liveness lock a sync run's owner holds from its claim to its end (see
    /// [`OwnerLock`]), without waiting; `None` while a live process holds it.
    pub async fn owner_lock(&self) -> StoreResult<Option<OwnerLock>> {
        on_backend!(self, |db| db.owner_lock().await)
    }

    pub async fn close(&self) {
        match self {
            Store::Sqlite(s) => {
                s.pool.close().await;
                s.writer.close().await;
            }
            Store::Postgres(s) => s.pool.close().await,
        }
    }

    /// The database's plan for the page `q` asks for, as text (tests check that a page deep in the
    /// cursor chain seeks the sort index rather than reading it from the start).
    #[doc(hidden)]
    pub async fn list_plan(&self, q: &ModelQuery) -> StoreResult<String> {
        let plan = self.search_plan(q).await?;
        on_backend!(self, |db| db.list_plan(q, plan).await)
    }
}
