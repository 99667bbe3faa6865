//! The store methods both backends share. The SQL is written once, in the dialect common to SQLite and
//! PostgreSQL (`$n` placeholders, `ON CONFLICT`, `RETURNING`), and the method bodies are stamped out for
//! each backend's pool type by [`impl_common_store!`] — explicit per-backend code without generic
//! `sqlx::Database` bounds. Where the backends' SQL differs, the code asks the backend's `Dialect`; a
//! backend adds only how it connects.

use super::StoreError;

pub(crate) const USER_COLUMNS: &str = "id, username, email, is_developer, is_admin, created_at";

pub(crate) const TOKEN_COLUMNS: &str =
    "id, user_id, name, created_at, last_used_at, expires_at, revoked_at";

pub(crate) const MODEL_COLUMNS: &str = "id, name, slug, description, category, license_type, \
    origin_repo_url, author_id, hf_model_id, is_verified_official, tags, task, total_download_count, \
    rating_weighted_avg, total_ratings, created_at, updated_at, hf_object_id, hf_sha, hf_last_modified, \
    hf_created_at, hf_downloads, hf_likes, hf_gated, library_name, upstream_status, synced_at, \
        latest_version_size_bytes, task_inferred, sync_digest";

pub(crate) const VERSION_COLUMNS: &str = "id, model_id, version_string, changelog, hf_commit_sha, \
    pipeline_spec, assets, published_at, download_count, num_ratings, rating_avg, created_by";

/// Maps a unique violation to [`StoreError::Conflict`] naming the first of `fields` found in the
/// database's message or constraint name; other errors pass through.
pub(crate) fn map_unique(err: sqlx::Error, fields: &[&str]) -> StoreError {
    if let sqlx::Error::Database(db) = &err {
        if db.is_unique_violation() {
            let text = format!("{} {}", db.message(), db.constraint().unwrap_or_default());
            let field = fields
                .iter()
                .find(|f| text.contains(*f))
                .or(fields.first())
                .copied()
                .unwrap_or("record");
            return StoreError::Conflict(field.to_string());
        }
    }
    StoreError::Database(err)
}

macro_rules! impl_common_store {
    ($store:ident, $conn:ty, $migrator:expr, $dialect:expr) => {
        use $crate::records::*;
        use $crate::store::common::{
            map_unique, MODEL_COLUMNS, TOKEN_COLUMNS, USER_COLUMNS, VERSION_COLUMNS,
        };
        use $crate::store::rows::{ModelRow, TokenRow, TokenUserRow, UserRow, VersionRow};
        use $crate::store::{
            search_text, search_words, Dialect, Keyset, ListSql, ModelPage, ModelQuery, StoreError,
            StoreResult,
        };
        use chrono::{DateTime, Utc};
        use sqlx::types::Json;
        use uuid::Uuid;

        impl $store {
            pub async fn migrate(&self) -> StoreResult<()> {
                $migrator.run(&self.pool).await?;
                Ok(())
            }

            pub async fn ready(&self) -> StoreResult<bool> {
                let applied: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM _sqlx_migrations WHERE success = TRUE",
                )
                .fetch_one(&self.pool)
                .await?;
                Ok(applied >= $migrator.iter().count() as i64)
            }

            pub async fn close(&self) {
                self.pool.close().await;
                self.writer().close().await;
            }

            pub async fn create_user(&self, new: &NewUser) -> StoreResult<User> {
                self.create_user_with_id(Uuid::new_v4(), new).await
            }

            /// Creates a user with a given id (a Supabase user keeps its `sub`).
            pub async fn create_user_with_id(&self, id: Uuid, new: &NewUser) -> StoreResult<User> {
                let sql = format!(
                    "INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) \
                     RETURNING {USER_COLUMNS}"
                );
                let row: UserRow = sqlx::query_as(&sql)
                    .bind(id)
                    .bind(&new.username)
                    .bind(&new.email)
                    .bind(new.is_developer)
                    .bind(new.is_admin)
                    .bind($crate::domain::now())
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| map_unique(e, &["username", "email", "id"]))?;
                Ok(row.into())
            }

            pub async fn get_user(&self, id: Uuid) -> StoreResult<Option<User>> {
                let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
                let row: Option<UserRow> =
                    sqlx::query_as(&sql).bind(id).fetch_optional(&self.pool).await?;
                Ok(row.map(Into::into))
            }

            pub async fn get_user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
                let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1");
                let row: Option<UserRow> = sqlx::query_as(&sql)
                    .bind(username)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map(Into::into))
            }

            pub async fn set_user_roles(
                &self,
                id: Uuid,
                is_developer: Option<bool>,
                is_admin: Option<bool>,
            ) -> StoreResult<User> {
                let sql = format!(
                    "UPDATE users SET is_developer = COALESCE($2, is_developer), \
                     is_admin = COALESCE($3, is_admin) WHERE id = $1 RETURNING {USER_COLUMNS}"
                );
                let row: Option<UserRow> = sqlx::query_as(&sql)
                    .bind(id)
                    .bind(is_developer)
                    .bind(is_admin)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(Into::into).ok_or(StoreError::NotFound)
            }

            pub async fn create_token(
                &self,
                user_id: Uuid,
                name: &str,
                token_hash: &str,
                expires_at: Option<DateTime<Utc>>,
            ) -> StoreResult<ApiToken> {
                let sql = format!(
                    "INSERT INTO api_tokens (id, user_id, name, token_hash, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING {TOKEN_COLUMNS}"
                );
                let row: TokenRow = sqlx::query_as(&sql)
                    .bind(Uuid::new_v4())
                    .bind(user_id)
                    .bind(name)
                    .bind(token_hash)
                    .bind($crate::domain::now())
                    .bind(expires_at)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| map_unique(e, &["token_hash"]))?;
                Ok(row.into())
            }

            pub async fn find_token(
                &self,
                token_hash: &str,
            ) -> StoreResult<Option<(ApiToken, User)>> {
                let row: Option<TokenUserRow> = sqlx::query_as(
                    "SELECT t.id, t.user_id, t.name, t.created_at, t.last_used_at, t.expires_at, \
                     t.revoked_at, u.id AS u_id, u.username AS u_username, u.email AS u_email, \
                     u.is_developer AS u_is_developer, u.is_admin AS u_is_admin, \
                     u.created_at AS u_created_at \
                     FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
                )
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(Into::into))
            }

            pub async fn touch_token(&self, id: Uuid, at: DateTime<Utc>) -> StoreResult<()> {
                sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
                    .bind(id)
                    .bind(at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            pub async fn revoke_token(&self, id: Uuid, at: DateTime<Utc>) -> StoreResult<()> {
                let done = sqlx::query(
                    "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1",
                )
                .bind(id)
                .bind(at)
                .execute(&self.pool)
                .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            }

            pub async fn list_tokens(&self, user_id: Uuid) -> StoreResult<Vec<ApiToken>> {
                let sql = format!(
                    "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = $1 \
                     ORDER BY created_at, id"
                );
                let rows: Vec<TokenRow> =
                    sqlx::query_as(&sql).bind(user_id).fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            pub async fn create_model(&self, new: &NewModel) -> StoreResult<Model> {
                let mut conn = self.pool.acquire().await?;
                Self::insert_model(&mut conn, new).await
            }

            /// Inserts under the first free slug candidate (`ON CONFLICT (slug) DO NOTHING` never aborts
            /// the surrounding transaction).
            async fn insert_model(conn: &mut $conn, new: &NewModel) -> StoreResult<Model> {
                let sql = format!(
                    "INSERT INTO ml_models (id, name, slug, description, category, license_type, \
                     origin_repo_url, author_id, hf_model_id, is_verified_official, tags, task, \
                     created_at, updated_at, hf_object_id, hf_sha, hf_last_modified, hf_created_at, \
                     hf_downloads, hf_likes, hf_gated, library_name, upstream_status, synced_at, \
                     search_text, task_inferred) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
                     $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25) \
                     ON CONFLICT (slug) DO NOTHING RETURNING {MODEL_COLUMNS}"
                );
                let now = $crate::domain::now();
                let up = new.upstream.clone();
                let search = search_text(&new.name, &new.description, &new.tags);
                for slug in $crate::domain::Slug::candidates(&new.slug_hint, &new.slug_disambiguator)
                {
                    let row: Option<ModelRow> = sqlx::query_as(&sql)
                        .bind(new.id)
                        .bind(&new.name)
                        .bind(slug.as_str())
                        .bind(&new.description)
                        .bind(new.category.as_str())
                        .bind(new.license_type.as_str())
                        .bind(&new.origin_repo_url)
                        .bind(new.author_id)
                        .bind(&new.hf_model_id)
                        .bind(new.is_verified_official)
                        .bind(Json(&new.tags))
                        .bind(&new.task)
                        .bind(now)
                        .bind(up.as_ref().map(|u| &u.object_id))
                        .bind(up.as_ref().and_then(|u| u.sha.clone()))
                        .bind(up.as_ref().and_then(|u| u.last_modified))
                        .bind(up.as_ref().and_then(|u| u.created_at))
                        .bind(up.as_ref().map_or(0, |u| u.downloads))
                        .bind(up.as_ref().map_or(0, |u| u.likes))
                        .bind(up.as_ref().and_then(|u| u.gated.clone()))
                        .bind(up.as_ref().and_then(|u| u.library_name.clone()))
                        .bind(up.as_ref().and_then(|u| u.status.map(|s| s.as_str())))
                        .bind(up.as_ref().and_then(|u| u.synced_at))
                        .bind(&search)
                        .bind(new.task_inferred)
                        .fetch_optional(&mut *conn)
                        .await
                        .map_err(|e| map_unique(e, &["hf_model_id", "hf_object_id", "id"]))?;
                    if let Some(row) = row {
                        return row.try_into();
                    }
                }
                Err(StoreError::Conflict("slug".into()))
            }

            /// Inserts many models with one statement per chunk, each under its slug candidate number
            /// `candidate`; returns the positions (in `news`) of those whose candidate was taken.
            async fn insert_models_bulk(
                conn: &mut $conn,
                news: &[&NewModel],
                candidate: usize,
            ) -> StoreResult<Vec<usize>> {
                const COLUMNS: usize = 27;
                let mut missed = Vec::new();
                // 1,000 rows × 27 columns stays below both backends' parameter limits (SQLite 32,766,
                // PostgreSQL 65,535). Fewer, larger statements: SQLite journals each page a statement
                // changes once per statement (100-row statements: first sync 8.1 s → 6.2 s).
                const ROWS: usize = 1000;
                for (c, chunk) in news.chunks(ROWS).enumerate() {
                    let mut sql = String::from(
                        "INSERT INTO ml_models (id, name, slug, description, category, license_type, \
                         origin_repo_url, author_id, hf_model_id, is_verified_official, tags, task, \
                         created_at, updated_at, hf_object_id, hf_sha, hf_last_modified, hf_created_at, \
                         hf_downloads, hf_likes, hf_gated, library_name, upstream_status, synced_at, \
                         search_text, task_inferred, sync_digest) VALUES ",
                    );
                    for r in 0..chunk.len() {
                        let b = r * COLUMNS;
                        let cols: Vec<String> = (1..=COLUMNS).map(|k| $dialect.placeholder(b + k)).collect();
                        if r > 0 {
                            sql.push(',');
                        }
                        sql.push('(');
                        sql.push_str(&cols.join(", "));
                        sql.push(')');
                    }
                    // No RETURNING: it makes SQLite buffer every row it inserts (measured 30 % slower).
                    // Which rows lost their slug is asked only when some did.
                    sql.push_str(" ON CONFLICT (slug) DO NOTHING");
                    let now = $crate::domain::now();
                    let mut q = sqlx::query(&sql);
                    for new in chunk {
                        let up = new.upstream.as_ref();
                        let slug = $crate::domain::Slug::candidates(&new.slug_hint, &new.slug_disambiguator)
                            .swap_remove(candidate);
                        q = q
                            .bind(new.id)
                            .bind(new.name.as_str())
                            .bind(slug.as_str().to_string())
                            .bind(new.description.as_str())
                            .bind(new.category.as_str())
                            .bind(new.license_type.as_str())
                            .bind(new.origin_repo_url.as_deref())
                            .bind(new.author_id)
                            .bind(new.hf_model_id.as_deref())
                            .bind(new.is_verified_official)
                            .bind(Json(&new.tags))
                            .bind(new.task.as_deref())
                            .bind(now)
                            .bind(now)
                            .bind(up.map(|u| u.object_id.as_str()))
                            .bind(up.and_then(|u| u.sha.as_deref()))
                            .bind(up.and_then(|u| u.last_modified))
                            .bind(up.and_then(|u| u.created_at))
                            .bind(up.map_or(0, |u| u.downloads))
                            .bind(up.map_or(0, |u| u.likes))
                            .bind(up.and_then(|u| u.gated.as_deref()))
                            .bind(up.and_then(|u| u.library_name.as_deref()))
                            .bind(up.and_then(|u| u.status.map(|s| s.as_str())))
                            .bind(up.and_then(|u| u.synced_at))
                            .bind(search_text(&new.name, &new.description, &new.tags))
                            .bind(new.task_inferred)
                            .bind(up.and_then(|u| u.digest));
                    }
                    let done = q
                        .execute(&mut *conn)
                        .await
                        .map_err(|e| map_unique(e, &["hf_model_id", "hf_object_id", "id"]))?;
                    if done.rows_affected() as usize == chunk.len() {
                        continue;
                    }
                    let marks: Vec<String> = (1..=chunk.len()).map(|k| $dialect.placeholder(k)).collect();
                    let sql = format!("SELECT id FROM ml_models WHERE id IN ({})", marks.join(", "));
                    let mut q = sqlx::query_scalar::<_, Uuid>(&sql);
                    for new in chunk {
                        q = q.bind(new.id);
                    }
                    let inserted: std::collections::HashSet<Uuid> =
                        q.fetch_all(&mut *conn).await?.into_iter().collect();
                    missed.extend(
                        chunk.iter().enumerate().filter(|(_, n)| !inserted.contains(&n.id)).map(|(i, _)| c * ROWS + i),
                    );
                }
                Ok(missed)
            }

            pub async fn get_model(&self, id: Uuid) -> StoreResult<Option<Model>> {
                let sql = format!("SELECT {MODEL_COLUMNS} FROM ml_models WHERE id = $1");
                let row: Option<ModelRow> =
                    sqlx::query_as(&sql).bind(id).fetch_optional(&self.pool).await?;
                row.map(TryInto::try_into).transpose()
            }

            pub async fn get_model_by_slug(&self, slug: &str) -> StoreResult<Option<Model>> {
                let sql = format!("SELECT {MODEL_COLUMNS} FROM ml_models WHERE slug = $1");
                let row: Option<ModelRow> =
                    sqlx::query_as(&sql).bind(slug).fetch_optional(&self.pool).await?;
                row.map(TryInto::try_into).transpose()
            }

            pub async fn update_model(&self, id: Uuid, patch: &ModelPatch) -> StoreResult<Model> {
                let sql = format!(
                    "UPDATE ml_models SET name = COALESCE($2, name), \
                     description = COALESCE($3, description), category = COALESCE($4, category), \
                     license_type = COALESCE($5, license_type), \
                     origin_repo_url = COALESCE($6, origin_repo_url), \
                     is_verified_official = COALESCE($7, is_verified_official), \
                     tags = COALESCE($8, tags), task = COALESCE($9, task), updated_at = $10, \
                     sync_digest = NULL WHERE id = $1 RETURNING {MODEL_COLUMNS}"
                );
                let mut tx = self.pool.begin().await?;
                let row: Option<ModelRow> = sqlx::query_as(&sql)
                    .bind(id)
                    .bind(&patch.name)
                    .bind(&patch.description)
                    .bind(patch.category.map(|c| c.as_str()))
                    .bind(patch.license_type.map(|l| l.as_str()))
                    .bind(&patch.origin_repo_url)
                    .bind(patch.is_verified_official)
                    .bind(patch.tags.as_ref().map(Json))
                    .bind(&patch.task)
                    .bind($crate::domain::now())
                    .fetch_optional(&mut *tx)
                    .await?;
                let model: Model = row.ok_or(StoreError::NotFound)?.try_into()?;
                sqlx::query("UPDATE ml_models SET search_text = $2 WHERE id = $1")
                    .bind(id)
                    .bind(search_text(&model.name, &model.description, &model.tags))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(model)
            }

            /// How many models the word index finds for `q`'s search (SQLite, where it decides the
            /// plan; 0 without a search or on PostgreSQL, whose planner has its own statistics).
            pub(crate) async fn search_matches(&self, q: &ModelQuery) -> StoreResult<i64> {
                let words = q.q.as_deref().map(search_words).unwrap_or_default();
                if words.is_empty() || $dialect != Dialect::Sqlite {
                    return Ok(0);
                }
                Ok(sqlx::query_scalar(
                    "SELECT count(*) FROM ml_models_fts WHERE ml_models_fts MATCH $1",
                )
                .bind($dialect.search_query(&words))
                .fetch_one(&self.pool)
                .await?)
            }

            pub async fn list_models(&self, q: &ModelQuery) -> StoreResult<ModelPage> {
                let list = ListSql::new(q, $dialect, self.search_matches(q).await?);
                let count_sql = list.count_sql();
                let count = $crate::store::bind_params!(
                    sqlx::query_scalar::<_, i64>(&count_sql),
                    list.params.clone()
                );
                let total = if q.skip_count { -1 } else { count.fetch_one(&self.pool).await? };
                let (sql, params) = list.page_sql(q);
                let page = $crate::store::bind_params!(sqlx::query_as::<_, ModelRow>(&sql), params);
                let rows = page.fetch_all(&self.pool).await?;
                let mut items = rows
                    .into_iter()
                    .map(Model::try_from)
                    .collect::<StoreResult<Vec<_>>>()?;
                let next = if items.len() > q.limit as usize {
                    items.truncate(q.limit as usize);
                    items.last().map(|m| Keyset::of(m, q.sort))
                } else {
                    None
                };
                Ok(ModelPage { items, total, next })
            }

            pub async fn create_version(&self, new: &NewVersion) -> StoreResult<ModelVersion> {
                let sql = format!(
                    "INSERT INTO model_versions (id, model_id, version_string, changelog, \
                     hf_commit_sha, pipeline_spec, assets, published_at, created_by, total_size_bytes) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {VERSION_COLUMNS}"
                );
                let mut tx = self.pool.begin().await?;
                let row: VersionRow = sqlx::query_as(&sql)
                    .bind(Uuid::new_v4())
                    .bind(new.model_id)
                    .bind(&new.version_string)
                    .bind(&new.changelog)
                    .bind(&new.hf_commit_sha)
                    .bind(new.pipeline_spec.as_ref().map(Json))
                    .bind(Json(&new.assets))
                    .bind(new.published_at)
                    .bind(new.created_by)
                    .bind(new.total_size_bytes())
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(|e| map_unique(e, &["version_string", "hf_commit_sha"]))?;
                Self::refresh_latest_size(&mut tx, new.model_id).await?;
                tx.commit().await?;
                Ok(row.into())
            }

            /// Copies the newest version's total size onto its model.
            async fn refresh_latest_size(conn: &mut $conn, model_id: Uuid) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE ml_models SET latest_version_size_bytes = (SELECT v.total_size_bytes \
                     FROM model_versions v WHERE v.model_id = $1 ORDER BY v.published_at DESC, v.id DESC LIMIT 1) \
                     WHERE id = $1",
                )
                .bind(model_id)
                .execute(&mut *conn)
                .await?;
                Ok(())
            }

                        /// Counts one download of an asset on its version and its model, atomically (increments in
            /// the database, writes first so concurrent requests queue instead of conflicting). Returns the
            /// asset's URL, or `None` (and counts nothing) when the version or asset does not exist.
            pub async fn count_download(&self, version_id: Uuid, asset_key: &str) -> StoreResult<Option<String>> {
                let mut tx = self.pool.begin().await?;
                let row: Option<(Uuid, Json<Vec<Asset>>)> = sqlx::query_as(
                    "UPDATE model_versions SET download_count = download_count + 1 WHERE id = $1 \
                     RETURNING model_id, assets",
                )
                .bind(version_id)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((model_id, assets)) = row else { return Ok(None) };
                let Some(url) = assets.0.into_iter().find(|a| a.asset_key == asset_key).map(|a| a.source_url) else {
                    tx.rollback().await?;
                    return Ok(None);
                };
                sqlx::query("UPDATE ml_models SET total_download_count = total_download_count + 1 WHERE id = $1")
                    .bind(model_id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(Some(url))
            }

            /// A version by id alone.
            pub async fn get_version_by_id(&self, id: Uuid) -> StoreResult<Option<ModelVersion>> {
                let sql = format!("SELECT {VERSION_COLUMNS} FROM model_versions WHERE id = $1");
                let row: Option<VersionRow> = sqlx::query_as(&sql).bind(id).fetch_optional(&self.pool).await?;
                Ok(row.map(Into::into))
            }

            pub async fn list_versions(&self, model_id: Uuid) -> StoreResult<Vec<ModelVersion>> {
                let sql = format!(
                    "SELECT {VERSION_COLUMNS} FROM model_versions WHERE model_id = $1 \
                     ORDER BY published_at DESC, id DESC"
                );
                let rows: Vec<VersionRow> =
                    sqlx::query_as(&sql).bind(model_id).fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            pub async fn get_version(
                &self,
                model_id: Uuid,
                id: Uuid,
            ) -> StoreResult<Option<ModelVersion>> {
                let sql = format!(
                    "SELECT {VERSION_COLUMNS} FROM model_versions WHERE model_id = $1 AND id = $2"
                );
                let row: Option<VersionRow> = sqlx::query_as(&sql)
                    .bind(model_id)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map(Into::into))
            }
        }
    };
}

pub(crate) use impl_common_store;
