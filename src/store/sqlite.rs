//! The embedded SQLite backend: one file, WAL mode, 8 KiB pages, a busy timeout, foreign keys on.
//!
//! Two pools share the file: the main pool (reads, API writes) and a one-connection pool for the
//! sync's bulk writes. The writer has a page cache about the size of the indexes with random keys and
//! checkpoints the WAL less often, so a batch of thousands of inserts seldom re-reads index pages and
//! does not copy the same pages back to the database file after every commit (BENCHMARKS.md has the
//! measurements). It closes when idle, giving that memory back.

use super::listing::{bind_params, ListSql, ModelQuery};
use super::search::SearchPlan;
use super::{Dialect, StoreError, StoreResult};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::str::FromStr;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Clone, Debug)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    /// The sync's bulk writes: one connection, a large page cache, rarer WAL checkpoints.
    pub(crate) writer: SqlitePool,
    /// Where a run's owner takes its process-liveness lock.
    pub(crate) lock_site: super::owner_lock::SqliteLockSite,
}

/// The bulk writer's page cache in KiB (SQLite's default is 2 MiB): the indexes with random keys
/// (slug, repo id, name, downloads) of 100,000 models nearly fit. Measured on the first 100,000-repo
/// sync: 32 MiB was about 0.5 s faster than 24 MiB and 24 MiB about 0.3 s faster than 16 MiB, but
/// the peak RSS reached 166–170 MB and 147–153 MB with them, over the 150 MB target (BENCHMARKS.md).
const WRITER_CACHE_KIB: i64 = 16 * 1024;
/// The page size of a new database file (an existing one keeps its own). SQLite's WAL writes each page
/// with two `write()` calls: the first 100,000-repo sync issued 598,000 of them for 1.25 GB with 4 KiB
/// pages, and took 4.32–4.43 s with 8 KiB pages against 4.69–4.83 s with 4 KiB (interleaved, same peak
/// RSS; re-syncs 5 % faster, API reads unchanged within noise — BENCHMARKS.md).
const PAGE_SIZE: u32 = 8192;
/// WAL pages after which the bulk writer checkpoints (SQLite's default is 1,000 pages): 64 MiB at 8 KiB
/// a page (the measurements above are with this value; 32 MiB at 4 KiB before).
const WRITER_AUTOCHECKPOINT_PAGES: i64 = 8_192;
/// How much of the database file a server's read pool maps into memory instead of copying each page
/// it reads into its own cache (issue #33): listing 1,000 models reads about 1,000 pages scattered
/// over the file, and with `pread` most of a read's time went to copying them and to the allocator's
/// lock that each new cache page takes. Mapped pages count in the process's resident size (they are
/// the kernel's page cache, shared and reclaimable): a command such as `sync`, which reads each row
/// once, does not map (its peak RSS was 435 MB at 100,000 models with the map, 30 MB of it its own).
const READER_MMAP_BYTES: i64 = 1 << 30;

impl SqliteStore {
    /// The embedded migrations of this backend.
    pub(crate) fn migrator(&self) -> &'static sqlx::migrate::Migrator {
        &MIGRATOR
    }

    /// Opens (creating when missing) the database at `url` (`sqlite:path`, `sqlite://path` or a bare
    /// path); the read pool maps the file when `map_reads` ([`READER_MMAP_BYTES`]).
    pub async fn connect(url: &str, map_reads: bool) -> Result<SqliteStore, sqlx::Error> {
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
            .foreign_keys(true)
            .page_size(PAGE_SIZE);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        // A database in a folder that does not exist yet: the folder is made, as the file is.
        if let Some(folder) = options
            .get_filename()
            .parent()
            .filter(|d| !in_memory && !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(folder).map_err(|e| {
                sqlx::Error::Configuration(
                    format!(
                        "cannot create the folder {} for the database: {e}",
                        folder.display()
                    )
                    .into(),
                )
            })?;
        }
        let lock_site =
            super::owner_lock::SqliteLockSite::for_database(options.get_filename(), in_memory);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone().pragma(
                "mmap_size",
                if map_reads { READER_MMAP_BYTES } else { 0 }.to_string(),
            ))
            .await?;
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .idle_timeout(Duration::from_secs(30))
            // Waits behind a whole batch of the same run, never behind another run (the lease).
            .acquire_timeout(Duration::from_secs(60))
            .connect_lazy_with(
                options
                    .pragma("cache_size", (-WRITER_CACHE_KIB).to_string())
                    .pragma(
                        "wal_autocheckpoint",
                        WRITER_AUTOCHECKPOINT_PAGES.to_string(),
                    ),
            );
        Ok(SqliteStore {
            pool,
            writer,
            lock_site,
        })
    }

    /// Takes the process-liveness lock of a sync run without waiting; `None` while a live owner has it.
    pub(crate) async fn owner_lock(&self) -> StoreResult<Option<super::OwnerLock>> {
        self.lock_site
            .try_lock()
            .await
            .map_err(|e| StoreError::Unavailable(format!("cannot use the sync's lock file: {e}")))
    }

    /// `EXPLAIN QUERY PLAN` of a listing page, one line per step.
    pub(super) async fn list_plan(&self, q: &ModelQuery, plan: SearchPlan) -> StoreResult<String> {
        let list = ListSql::new(q, Dialect::Sqlite, plan);
        let (sql, params) = list.page_sql(q);
        let sql = format!("EXPLAIN QUERY PLAN {sql}");
        let steps: Vec<(i64, i64, i64, String)> = bind_params!(sqlx::query_as(&sql), params)
            .fetch_all(&self.pool)
            .await?;
        Ok(steps
            .into_iter()
            .map(|s| s.3)
            .collect::<Vec<_>>()
            .join("\n"))
    }
}
