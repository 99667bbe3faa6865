//! Files this service hosts: label files extracted from models (issue #21), one row per content, kept
//! as long as the catalog is (a few KiB each, shared by every version that names the same file).

use super::{on_backend, on_tx, Store, StoreResult, Tx, Visibility};
use crate::domain::records::{Asset, HostedFile};
use sqlx::types::Json;
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

impl Store {
    /// Points every hosted asset at `public_url` (`{public_url}/files/{sha256}/{name}`), for when the
    /// address clients reach this service at changed (`POCKET_PUBLIC_URL`), or another process (a
    /// standalone `sync`) wrote links under its own: links are absolute, written when a file is
    /// extracted. Only versions with a `/files/` link not under `public_url` are read, so it is cheap
    /// to repeat. How many versions changed.
    pub async fn rebase_hosted_assets(&self, public_url: &url::Url) -> StoreResult<u64> {
        let base = public_url.as_str().trim_end_matches('/');
        let text = self.dialect().json_text("assets");
        let sql = format!(
            "SELECT id, assets FROM model_versions WHERE {text} LIKE '%/files/%' \
             AND {text} NOT LIKE $1 ESCAPE '!'"
        );
        let escaped: String = base
            .chars()
            .flat_map(|c| match c {
                '%' | '_' | '!' => vec!['!', c],
                c => vec![c],
            })
            .collect();
        let already = format!("%\"{escaped}/files/%");
        let rows: Vec<(Uuid, Json<Vec<Asset>>)> = on_backend!(self, |db| sqlx::query_as(&sql)
            .bind(&already)
            .fetch_all(&db.pool)
            .await?);
        let update = "UPDATE model_versions SET assets = $2 WHERE id = $1";
        let mut changed = 0;
        for (id, Json(mut assets)) in rows {
            let mut moved = false;
            for asset in assets.iter_mut().filter(|a| a.is_hosted_by_us) {
                // `…/files/{sha256}/{name}`: the name is percent-encoded, so it holds no `/`.
                let mut tail = asset.source_url.rsplitn(3, '/');
                let (Some(name), Some(sha), Some(prefix)) = (tail.next(), tail.next(), tail.next())
                else {
                    continue;
                };
                if !prefix.ends_with("/files") {
                    continue;
                }
                let url = format!("{base}/files/{sha}/{name}");
                if url != asset.source_url {
                    asset.source_url = url;
                    moved = true;
                }
            }
            if moved {
                on_backend!(self, |db| sqlx::query(update)
                    .bind(id)
                    .bind(Json(&assets))
                    .execute(&db.pool)
                    .await
                    .map(|_| ())?);
                changed += 1;
            }
        }
        Ok(changed)
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
