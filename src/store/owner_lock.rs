//! The process-liveness lock of a sync run: held by the run's owner from its claim to its end, released
//! by the operating system or the database server the moment the owner's process is gone — unlike the
//! lease, which a dead owner keeps until it expires. A claimant that finds the lease unexpired but this
//! lock free knows the owner is dead and takes the run over at once (see `sync::claim`).
//!
//! - PostgreSQL: a session-level advisory lock on a connection of its own, outside the pool; the server
//!   drops a session's locks when its connection closes, which the kernel does when the process dies.
//! - SQLite: an exclusive `flock` on a file beside the database (`<db>.sync-lock`), through the standard
//!   library's `File::try_lock`; the kernel releases it when the process dies. `flock` locks conflict
//!   between open files of one process too, so two runs of one `serve` exclude each other as well.
//! - An in-memory SQLite database lives in one process: an in-process lock is exact there.

use sqlx::Connection;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::PathBuf;
use std::sync::Arc;

/// The advisory lock key of the Hugging Face sync (any fixed number; only this service uses it).
pub(crate) const ADVISORY_KEY: i64 = 0x5f0c_7a1d_3b29_84e6;

/// Proof that this process is alive while it owns a run; dropping it releases the lock.
#[derive(Debug)]
pub enum OwnerLock {
    File(File),
    Memory(tokio::sync::OwnedMutexGuard<()>),
    Postgres(sqlx::PgConnection),
}

impl OwnerLock {
    /// Releases the lock now (dropping it does too; this also closes a PostgreSQL session cleanly).
    pub async fn release(self) {
        match self {
            OwnerLock::Postgres(conn) => {
                let _ = conn.close().await;
            }
            OwnerLock::File(file) => {
                let _ = file.unlock();
            }
            OwnerLock::Memory(_) => {}
        }
    }
}

/// Where a SQLite store takes its lock.
#[derive(Debug, Clone)]
pub(crate) enum SqliteLockSite {
    File(PathBuf),
    Memory(Arc<tokio::sync::Mutex<()>>),
}

impl SqliteLockSite {
    /// The lock file beside `database`, or an in-process lock for an in-memory database.
    pub(crate) fn for_database(database: &std::path::Path, in_memory: bool) -> SqliteLockSite {
        if in_memory {
            return SqliteLockSite::Memory(Arc::default());
        }
        let mut name = database.as_os_str().to_owned();
        name.push(".sync-lock");
        SqliteLockSite::File(PathBuf::from(name))
    }

    /// Takes the lock without waiting; `None` when a live owner holds it.
    pub(crate) async fn try_lock(&self) -> std::io::Result<Option<OwnerLock>> {
        match self {
            SqliteLockSite::Memory(mutex) => {
                Ok(mutex.clone().try_lock_owned().ok().map(OwnerLock::Memory))
            }
            SqliteLockSite::File(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || {
                    let file = OpenOptions::new()
                        .create(true)
                        .truncate(false)
                        .write(true)
                        .open(&path)?;
                    match file.try_lock() {
                        Ok(()) => Ok(Some(OwnerLock::File(file))),
                        Err(TryLockError::WouldBlock) => Ok(None),
                        Err(TryLockError::Error(e)) => Err(e),
                    }
                })
                .await
                .map_err(std::io::Error::other)?
            }
        }
    }
}

/// Takes the advisory lock on a new session of `pool`'s database without waiting; `None` when another
/// live session holds it.
pub(crate) async fn try_pg_lock(pool: &sqlx::PgPool) -> Result<Option<OwnerLock>, sqlx::Error> {
    // A connection of its own: a pooled one would go back to the pool still holding the lock.
    let mut conn = pool.acquire().await?.detach();
    let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(ADVISORY_KEY)
        .fetch_one(&mut conn)
        .await?;
    if taken {
        Ok(Some(OwnerLock::Postgres(conn)))
    } else {
        let _ = conn.close().await;
        Ok(None)
    }
}
