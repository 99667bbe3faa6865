//! Files this service hosts: label files extracted from models (issue #21), one row per content, kept
//! as long as the catalog is (a few KiB each, shared by every version that names the same file).

use super::{on_backend, on_tx, Store, StoreResult, Tx};
use crate::records::HostedFile;

/// A hosted file as served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub name: String,
    pub content: Vec<u8>,
}

impl Store {
    /// The hosted file whose content has this SHA-256 (hex, lower case).
    pub async fn hosted_file(&self, sha256: &str) -> StoreResult<Option<StoredFile>> {
        let sql = "SELECT name, content FROM hosted_files WHERE sha256 = $1";
        let row: Option<(String, Vec<u8>)> = on_backend!(self, |db| sqlx::query_as(sql)
            .bind(sha256)
            .fetch_optional(&db.pool)
            .await?);
        Ok(row.map(|(name, content)| StoredFile { name, content }))
    }
}

/// Stores `files` in `tx` (a content stored already is kept as it is).
pub(super) async fn save_hosted(tx: &mut Tx, files: &[HostedFile]) -> StoreResult<()> {
    let sql = "INSERT INTO hosted_files (sha256, name, content, size_bytes, created_at) \
               VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING";
    for f in files {
        on_tx!(tx, |conn| sqlx::query(sql)
            .bind(&f.sha256)
            .bind(&f.name)
            .bind(&f.bytes)
            .bind(f.bytes.len() as i64)
            .bind(crate::domain::now())
            .execute(&mut *conn)
            .await
            .map(|_| ())?);
    }
    Ok(())
}
