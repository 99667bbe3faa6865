//! Files this service hosts: label files extracted from models (issue #21), one row per content, kept
//! as long as the catalog is (a few KiB each, shared by every version that names the same file).

use super::{on_backend, on_tx, Store, StoreResult, Tx, Visibility};
use crate::domain::records::HostedFile;
use uuid::Uuid;

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

    /// Whether a version that `visibility` shows names the hosted file with this SHA-256.
    pub async fn hosted_file_visible(
        &self,
        sha256: &str,
        visibility: Visibility,
    ) -> StoreResult<bool> {
        let filter = visibility.condition("m.", |_| "$2".into());
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM hosted_file_refs r \
             JOIN model_versions v ON v.id = r.version_id JOIN ml_models m ON m.id = v.model_id \
             WHERE r.sha256 = $1{filter})"
        );
        let seen: bool = on_backend!(self, |db| {
            let mut q = sqlx::query_scalar(&sql).bind(sha256);
            if let Some(a) = visibility.author() {
                q = q.bind(a);
            }
            q.fetch_one(&db.pool).await?
        });
        Ok(seen)
    }
}

/// Stores `files` in `tx` (a content stored already is kept as it is), named by the version `version`.
pub(super) async fn save_hosted(
    tx: &mut Tx,
    version: Uuid,
    files: &[HostedFile],
) -> StoreResult<()> {
    let sql = "INSERT INTO hosted_files (sha256, name, content, size_bytes, created_at) \
               VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING";
    let named = "INSERT INTO hosted_file_refs (sha256, version_id) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING";
    for f in files {
        on_tx!(tx, |conn| sqlx::query(named)
            .bind(&f.sha256)
            .bind(version)
            .execute(&mut *conn)
            .await
            .map(|_| ())?);
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
