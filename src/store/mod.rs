//! Persistence. [`Store`] is the one handle the rest of the program uses; it is either the embedded SQLite
//! backend or PostgreSQL, chosen once from the database URL. Both backends run the same SQL text (kept in
//! [`common`]) and differ only in how they connect and migrate; one conformance suite exercises every
//! method on both.

mod common;
mod owner_lock;
pub mod postgres;
mod rows;
pub mod sqlite;
mod sync_sql;

use crate::domain::{Category, LicenseType, Source, UpstreamStatus};
use crate::records::*;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use owner_lock::OwnerLock;
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint was violated; the string names what was duplicated.
    #[error("{0} already exists")]
    Conflict(String),
    #[error("not found")]
    NotFound,
    /// The sync lease was taken over by another owner; this owner must stop writing.
    #[error("the sync lease was lost to another owner")]
    LeaseLost,
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// A resource beside the database (the sync's lock file) cannot be used.
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// When the sync lease may be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseClaim {
    /// When nobody holds it or its owner stopped renewing it; `locked`: the new owner holds its
    /// [`OwnerLock`].
    FreeOrExpired { locked: bool },
    /// From an owner that held the liveness lock and is gone (the caller holds that lock now), while the
    /// lease is still the one the caller read (`fence`).
    FromDeadOwner { fence: i64 },
}

/// What one sync batch wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    pub rows: i64,
    pub versions_created: i64,
}

/// How `GET /models` orders its results. Each key is paired with the id so pages never overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    /// Newest first.
    #[default]
    CreatedAt,
    /// Most recently changed first.
    UpdatedAt,
    /// Alphabetical.
    Name,
    /// Most downloaded first (Hub downloads plus Pocket AI downloads).
    Downloads,
}

impl SortKey {
    /// The column its index leads with (the index continues with `id`).
    fn column(self) -> &'static str {
        match self {
            SortKey::CreatedAt => "created_at",
            SortKey::UpdatedAt => "updated_at",
            SortKey::Name => "name",
            SortKey::Downloads => "popularity",
        }
    }
    fn descending(self) -> bool {
        !matches!(self, SortKey::Name)
    }
}

/// The value of the sort key of the last row of a page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SortValue {
    Int(i64),
    Time(DateTime<Utc>),
    Text(String),
}

/// Where the next page starts: after the row with this sort value and id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Keyset {
    #[serde(rename = "s")]
    pub sort: SortKey,
    #[serde(rename = "v")]
    pub value: SortValue,
    #[serde(rename = "i")]
    pub id: Uuid,
}

impl Keyset {
    /// The opaque cursor clients pass back.
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).expect("keyset serialises");
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    /// Parses a cursor; it must have been made for the same sort order.
    pub fn decode(cursor: &str, sort: SortKey) -> Result<Keyset, String> {
        let bad = || "invalid cursor".to_string();
        if cursor.len() > 512 {
            return Err(bad());
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(cursor)
            .map_err(|_| bad())?;
        let keyset: Keyset = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        let value_fits = matches!(
            (keyset.sort, &keyset.value),
            (SortKey::CreatedAt | SortKey::UpdatedAt, SortValue::Time(_))
                | (SortKey::Name, SortValue::Text(_))
                | (SortKey::Downloads, SortValue::Int(_))
        );
        if keyset.sort != sort || !value_fits {
            return Err("the cursor belongs to another sort order".to_string());
        }
        Ok(keyset)
    }

    /// The keyset of a row: the page after it starts right behind it.
    pub fn of(model: &Model, sort: SortKey) -> Keyset {
        let value = match sort {
            SortKey::CreatedAt => SortValue::Time(model.created_at),
            SortKey::UpdatedAt => SortValue::Time(model.updated_at),
            SortKey::Name => SortValue::Text(model.name.clone()),
            SortKey::Downloads => SortValue::Int(
                model.total_download_count + model.upstream.as_ref().map_or(0, |u| u.downloads),
            ),
        };
        Keyset {
            sort,
            value,
            id: model.id,
        }
    }
}

/// A filtered, sorted page request over models.
#[derive(Debug, Clone, Default)]
pub struct ModelQuery {
    pub task: Option<String>,
    pub category: Option<Category>,
    pub author_id: Option<Uuid>,
    pub license_type: Option<LicenseType>,
    pub source: Option<Source>,
    pub q: Option<String>,
    pub sort: SortKey,
    pub include_removed: bool,
    /// Only mirrored models with this upstream status (overrides `include_removed`).
    pub upstream_status: Option<UpstreamStatus>,
    /// Only licences that generally allow (or forbid) commercial use.
    pub commercial: Option<bool>,
    /// Leave `total` at -1 (the caller knows it already).
    pub skip_count: bool,
    pub limit: u32,
    pub after: Option<Keyset>,
}

#[derive(Debug, Clone)]
pub struct ModelPage {
    pub items: Vec<Model>,
    pub total: i64,
    pub next: Option<Keyset>,
}

/// A bind parameter of dynamically built SQL.
#[derive(Debug, Clone)]
enum Param {
    Text(String),
    Int(i64),
    Time(DateTime<Utc>),
    Uuid(Uuid),
}

/// Still listed upstream, in SQL (a model without a status is too): the set of
/// [`UpstreamStatus::is_listed`]. A macro so that constants can be `concat!`ed from it.
macro_rules! listed_status_sql {
    () => {
        "(upstream_status IS NULL OR upstream_status IN ('active', 'renamed'))"
    };
}
pub(crate) use listed_status_sql;

/// Binds a listing's parameters to `query`, in order.
macro_rules! bind_params {
    ($query:expr, $params:expr) => {{
        let mut query = $query;
        for p in $params {
            query = match p {
                $crate::store::Param::Text(v) => query.bind(v),
                $crate::store::Param::Int(v) => query.bind(v),
                $crate::store::Param::Time(v) => query.bind(v),
                $crate::store::Param::Uuid(v) => query.bind(v),
            };
        }
        query
    }};
}
pub(crate) use bind_params;

/// SQL for a model listing, shared by both backends (`$n` placeholders work in both).
struct ListSql {
    filter: String,
    params: Vec<Param>,
}

impl ListSql {
    /// The listing `q` asks for; `search_matches` is how many models the word index finds for its
    /// `q` (decides the plan on SQLite; ignored without `q`).
    fn new(q: &ModelQuery, dialect: Dialect, search_matches: i64) -> ListSql {
        let mut sql = ListSql {
            filter: String::from(" WHERE 1=1"),
            params: Vec::new(),
        };
        if let Some(status) = q.upstream_status {
            sql.push_eq("upstream_status", Param::Text(status.as_str().into()));
        } else if !q.include_removed {
            sql.filter.push_str(concat!(" AND ", listed_status_sql!()));
        }
        if let Some(task) = &q.task {
            sql.push_eq("task", Param::Text(task.clone()));
        }
        if let Some(c) = q.category {
            sql.push_eq("category", Param::Text(c.as_str().into()));
        }
        if let Some(a) = q.author_id {
            sql.push_eq("author_id", Param::Uuid(a));
        }
        if let Some(l) = q.license_type {
            sql.push_eq("license_type", Param::Text(l.as_str().into()));
        }
        match q.source {
            Some(Source::HuggingFace) => sql.filter.push_str(" AND hf_model_id IS NOT NULL"),
            Some(Source::User) => sql.filter.push_str(" AND hf_model_id IS NULL"),
            None => {}
        }
        if let Some(allowed) = q.commercial {
            let names: Vec<String> = LicenseType::with_commercial_use(allowed)
                .iter()
                .map(|l| format!("'{}'", l.as_str()))
                .collect();
            // The names are the catalog's own constants, never client input.
            sql.filter
                .push_str(&format!(" AND license_type IN ({})", names.join(", ")));
        }
        let words = q.q.as_deref().map(search_words).unwrap_or_default();
        if !words.is_empty() {
            let n = sql.bind(Param::Text(dialect.search_query(&words)));
            sql.filter
                .push_str(&dialect.search_filter(n, search_matches <= SEARCH_DRIVE_MAX));
        }
        sql
    }

    fn bind(&mut self, p: Param) -> usize {
        self.params.push(p);
        self.params.len()
    }

    fn push_eq(&mut self, column: &str, p: Param) {
        let n = self.bind(p);
        self.filter.push_str(&format!(" AND {column} = ${n}"));
    }

    fn count_sql(&self) -> String {
        format!("SELECT COUNT(*) FROM ml_models{}", self.filter)
    }

    /// The page query: filters, the keyset condition, order and limit (one extra row tells whether a
    /// next page exists).
    fn page_sql(mut self, q: &ModelQuery) -> (String, Vec<Param>) {
        let col = q.sort.column();
        let (cmp, dir) = if q.sort.descending() {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        let mut filter = self.filter.clone();
        if let Some(after) = &q.after {
            let v = self.bind(match &after.value {
                SortValue::Int(i) => Param::Int(*i),
                SortValue::Time(t) => Param::Time(*t),
                SortValue::Text(s) => Param::Text(s.clone()),
            });
            let i = self.bind(Param::Uuid(after.id));
            // A row comparison, which both backends seek in the `(sort column, id)` index. The
            // equivalent `col < v OR (col = v AND id < i)` is read as a filter over the index from its
            // start: O(depth), like OFFSET (BENCHMARKS.md, "Deep pages").
            filter.push_str(&format!(" AND ({col}, id) {cmp} (${v}, ${i})"));
        }
        let limit = self.bind(Param::Int(i64::from(q.limit) + 1));
        let sql = format!(
            "SELECT {} FROM ml_models{filter} ORDER BY {col} {dir}, id {dir} LIMIT ${limit}",
            common::MODEL_COLUMNS
        );
        (sql, self.params)
    }
}

/// The words a `q` search looks for: the runs of letters and digits of `q`, lower-cased, at most
/// [`MAX_SEARCH_WORDS`]. A model matches when each word starts a word of its name, description or
/// tags (`mobile` finds "MobileNet", `yolov8 face` finds "yolov8n-face").
pub fn search_words(q: &str) -> Vec<String> {
    q.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .take(MAX_SEARCH_WORDS)
        .collect()
}

/// More words than this in one `q` are ignored (each is an index lookup).
pub const MAX_SEARCH_WORDS: usize = 16;

/// A search with at most this many matches reads them from the word index and sorts them; one with
/// more walks the sort index and keeps the rows that match, which stops after a page when matches are
/// dense (at this many of 100,000 models, about 2,500 rows a page).
const SEARCH_DRIVE_MAX: i64 = 2_000;

/// Where the two backends' SQL differs; the shared store code (`common.rs`, `sync_sql.rs`) asks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// Bind parameter number `n` (from 1). SQLite gets anonymous `?`: it looks numbered ones up by a
    /// linear scan, per parameter.
    fn placeholder(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => "?".to_string(),
            Dialect::Postgres => format!("${n}"),
        }
    }

    /// Database-clock milliseconds since the epoch.
    fn now_ms(self) -> &'static str {
        match self {
            Dialect::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
            Dialect::Postgres => "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT",
        }
    }

    /// The strings of a JSON array parameter `$1`, as a subquery.
    fn json_ids(self) -> &'static str {
        match self {
            Dialect::Sqlite => "SELECT value FROM json_each($1)",
            Dialect::Postgres => "SELECT json_array_elements_text($1::json)",
        }
    }

    /// The aggregate that gathers a column into one JSON array.
    fn json_agg(self) -> &'static str {
        match self {
            Dialect::Sqlite => "json_group_array",
            Dialect::Postgres => "json_agg",
        }
    }

    /// The word query for `words`: every word, as a prefix.
    fn search_query(self, words: &[String]) -> String {
        match self {
            // FTS5: quoted strings ANDed, each a prefix (`"mobile"* "v2"*`).
            Dialect::Sqlite => words
                .iter()
                .map(|w| format!("\"{}\"*", w.replace('"', "\"\"")))
                .collect::<Vec<_>>()
                .join(" "),
            // tsquery: `mobile:* & v2:*` (words are letters and digits only).
            Dialect::Postgres => words
                .iter()
                .map(|w| format!("{w}:*"))
                .collect::<Vec<_>>()
                .join(" & "),
        }
    }

    /// The condition that a model matches the word query bound as parameter `n`. On SQLite, `drive`
    /// lets the match list lead the plan; otherwise (`+rowid`) the sort index leads and the match list
    /// is probed. PostgreSQL's planner chooses by its own statistics.
    fn search_filter(self, n: usize, drive: bool) -> String {
        match self {
            Dialect::Sqlite => format!(
                " AND {}rowid IN (SELECT rowid FROM ml_models_fts WHERE ml_models_fts MATCH ${n})",
                if drive { "" } else { "+" }
            ),
            Dialect::Postgres => format!(" AND {PG_SEARCH_VECTOR} @@ to_tsquery('simple', ${n})"),
        }
    }
}

/// The words of a model's search text on PostgreSQL, as indexed by `ml_models_search` (migration
/// 0011): punctuation turned into spaces first, so its parser sees plain words as SQLite's does.
const PG_SEARCH_VECTOR: &str =
    "to_tsvector('simple', regexp_replace(search_text, '[^[:alnum:]]+', ' ', 'g'))";

/// The lower-cased text of a model its word index reads (`ml_models_fts` on SQLite, `ml_models_search`
/// on PostgreSQL; migration 0011): name, description and tags.
pub(crate) fn search_text(name: &str, description: &str, tags: &[String]) -> String {
    let mut s = String::with_capacity(name.len() + description.len() + 16 * tags.len());
    s.push_str(name);
    s.push('\n');
    s.push_str(description);
    for t in tags {
        s.push('\n');
        s.push_str(t);
    }
    s.to_lowercase()
}

/// The database behind the catalog.
#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

macro_rules! dispatch {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            Store::Sqlite($s) => $e,
            Store::Postgres($s) => $e,
        }
    };
}

impl Store {
    /// Connects to `url` (`sqlite:…` or `postgres://…`) and applies pending migrations.
    pub async fn connect(url: &str) -> StoreResult<Store> {
        let store = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Store::Postgres(PgStore::connect(url).await?)
        } else {
            Store::Sqlite(SqliteStore::connect(url).await?)
        };
        store.migrate().await?;
        Ok(store)
    }

    pub fn backend(&self) -> &'static str {
        dispatch!(self, _s => match self { Store::Sqlite(_) => "sqlite", Store::Postgres(_) => "postgres" })
    }

    pub async fn migrate(&self) -> StoreResult<()> {
        dispatch!(self, s => s.migrate().await)
    }

    /// The database answers and every embedded migration is applied.
    pub async fn ready(&self) -> StoreResult<bool> {
        dispatch!(self, s => s.ready().await)
    }

    /// Takes the process-liveness lock a sync run's owner holds from its claim to its end (see
    /// [`OwnerLock`]), without waiting; `None` while a live process holds it.
    pub async fn owner_lock(&self) -> StoreResult<Option<OwnerLock>> {
        dispatch!(self, s => s.owner_lock().await)
    }

    pub async fn close(&self) {
        dispatch!(self, s => s.close().await)
    }

    pub async fn create_user(&self, new: &NewUser) -> StoreResult<User> {
        dispatch!(self, s => s.create_user(new).await)
    }

    pub async fn create_user_with_id(&self, id: Uuid, new: &NewUser) -> StoreResult<User> {
        dispatch!(self, s => s.create_user_with_id(id, new).await)
    }

    pub async fn get_user(&self, id: Uuid) -> StoreResult<Option<User>> {
        dispatch!(self, s => s.get_user(id).await)
    }

    pub async fn get_user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        dispatch!(self, s => s.get_user_by_username(username).await)
    }

    /// Sets a user's roles; `None` leaves a role as it is.
    pub async fn set_user_roles(
        &self,
        id: Uuid,
        is_developer: Option<bool>,
        is_admin: Option<bool>,
    ) -> StoreResult<User> {
        dispatch!(self, s => s.set_user_roles(id, is_developer, is_admin).await)
    }

    pub async fn create_token(
        &self,
        user_id: Uuid,
        name: &str,
        token_hash: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> StoreResult<ApiToken> {
        dispatch!(self, s => s.create_token(user_id, name, token_hash, expires_at).await)
    }

    /// The token with this hash and its user, whatever the token's state.
    pub async fn find_token(&self, token_hash: &str) -> StoreResult<Option<(ApiToken, User)>> {
        dispatch!(self, s => s.find_token(token_hash).await)
    }

    pub async fn touch_token(&self, id: Uuid, at: DateTime<Utc>) -> StoreResult<()> {
        dispatch!(self, s => s.touch_token(id, at).await)
    }

    pub async fn revoke_token(&self, id: Uuid, at: DateTime<Utc>) -> StoreResult<()> {
        dispatch!(self, s => s.revoke_token(id, at).await)
    }

    pub async fn list_tokens(&self, user_id: Uuid) -> StoreResult<Vec<ApiToken>> {
        dispatch!(self, s => s.list_tokens(user_id).await)
    }

    /// Inserts a model under the first free slug of its candidates.
    pub async fn create_model(&self, new: &NewModel) -> StoreResult<Model> {
        dispatch!(self, s => s.create_model(new).await)
    }

    pub async fn get_model(&self, id: Uuid) -> StoreResult<Option<Model>> {
        dispatch!(self, s => s.get_model(id).await)
    }

    pub async fn get_model_by_slug(&self, slug: &str) -> StoreResult<Option<Model>> {
        dispatch!(self, s => s.get_model_by_slug(slug).await)
    }

    pub async fn update_model(&self, id: Uuid, patch: &ModelPatch) -> StoreResult<Model> {
        dispatch!(self, s => s.update_model(id, patch).await)
    }

    pub async fn list_models(&self, q: &ModelQuery) -> StoreResult<ModelPage> {
        dispatch!(self, s => s.list_models(q).await)
    }

    /// The database's plan for the page `q` asks for, as text (tests check that a page deep in the
    /// cursor chain seeks the sort index rather than reading it from the start).
    #[doc(hidden)]
    pub async fn list_plan(&self, q: &ModelQuery) -> StoreResult<String> {
        dispatch!(self, s => s.list_plan(q).await)
    }

    pub async fn create_version(&self, new: &NewVersion) -> StoreResult<ModelVersion> {
        dispatch!(self, s => s.create_version(new).await)
    }

    /// Versions of a model, newest first.
    pub async fn list_versions(&self, model_id: Uuid) -> StoreResult<Vec<ModelVersion>> {
        dispatch!(self, s => s.list_versions(model_id).await)
    }

    pub async fn get_version(&self, model_id: Uuid, id: Uuid) -> StoreResult<Option<ModelVersion>> {
        dispatch!(self, s => s.get_version(model_id, id).await)
    }

    pub async fn ensure_user(&self, new: &NewUser) -> StoreResult<User> {
        dispatch!(self, s => s.ensure_user(new).await)
    }

    /// Synced models with any of these Hub object ids or repo ids.
    pub async fn synced_models(
        &self,
        object_ids: &[String],
        hf_ids: &[String],
    ) -> StoreResult<Vec<Model>> {
        dispatch!(self, s => s.synced_models(object_ids, hf_ids).await)
    }

    /// The digests of the synced models that are active upstream and have one.
    pub async fn listed_digests(&self) -> StoreResult<Vec<i64>> {
        dispatch!(self, s => s.listed_digests().await)
    }

    /// The Hub object ids of every synced model that is active upstream.
    pub async fn active_object_ids(&self) -> StoreResult<Vec<String>> {
        dispatch!(self, s => s.active_object_ids().await)
    }

    /// `(model id, object id, repo id)` of every synced model that is active upstream.
    pub async fn active_synced(&self) -> StoreResult<Vec<(Uuid, String, String)>> {
        dispatch!(self, s => s.active_synced().await)
    }

    /// Takes the sync lease when it is free or expired; `locked`: the owner holds its [`OwnerLock`].
    pub async fn acquire_lease(
        &self,
        owner: &str,
        run_id: Uuid,
        ttl_ms: i64,
        locked: bool,
    ) -> StoreResult<Option<Fence>> {
        let claim = LeaseClaim::FreeOrExpired { locked };
        dispatch!(self, s => s.claim_lease(owner, run_id, ttl_ms, claim).await)
    }

    /// Takes over the unexpired lease `from_fence` of an owner known dead (it held the [`OwnerLock`]
    /// the caller now holds).
    pub async fn take_over_lease(
        &self,
        owner: &str,
        run_id: Uuid,
        ttl_ms: i64,
        from_fence: i64,
    ) -> StoreResult<Option<Fence>> {
        let claim = LeaseClaim::FromDeadOwner { fence: from_fence };
        dispatch!(self, s => s.claim_lease(owner, run_id, ttl_ms, claim).await)
    }

    pub async fn heartbeat(&self, fence: &Fence) -> StoreResult<bool> {
        dispatch!(self, s => s.heartbeat(fence).await)
    }

    pub async fn release_lease(&self, fence: &Fence) -> StoreResult<()> {
        dispatch!(self, s => s.release_lease(fence).await)
    }

    pub async fn lease_holder(&self) -> StoreResult<LeaseHolder> {
        dispatch!(self, s => s.lease_holder().await)
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn apply_sync(
        &self,
        fence: &Fence,
        run_id: Uuid,
        author_id: Uuid,
        writes: &[SyncWrite],
        versions: &[SyncVersion],
        digests: &[(Uuid, i64)],
        skips: &[(i64, SkipRecord)],
        counts: &RunCounts,
    ) -> StoreResult<Applied> {
        dispatch!(self, s => s.apply_sync(fence, run_id, author_id, writes, versions, digests, skips, counts).await)
    }

    /// Counts one download of an asset (version and model, atomically); its URL, or `None`.
    pub async fn count_download(
        &self,
        version_id: Uuid,
        asset_key: &str,
    ) -> StoreResult<Option<String>> {
        dispatch!(self, s => s.count_download(version_id, asset_key).await)
    }

    pub async fn get_version_by_id(&self, id: Uuid) -> StoreResult<Option<ModelVersion>> {
        dispatch!(self, s => s.get_version_by_id(id).await)
    }

    /// `(object id, commit sha)` of the synced versions of the models with these object ids.
    pub async fn version_commits(
        &self,
        object_ids: &[String],
    ) -> StoreResult<Vec<(String, String)>> {
        dispatch!(self, s => s.version_commits(object_ids).await)
    }

    pub async fn mark_upstream(
        &self,
        fence: &Fence,
        run_id: Uuid,
        model_ids: &[Uuid],
        status: crate::domain::UpstreamStatus,
        counts: &RunCounts,
    ) -> StoreResult<i64> {
        dispatch!(self, s => s.mark_upstream(fence, run_id, model_ids, status, counts).await)
    }

    pub async fn create_run(&self, new: &NewRun) -> StoreResult<SyncRun> {
        dispatch!(self, s => s.create_run(new).await)
    }

    /// Records how a running run ended; false when it was no longer running.
    pub async fn finish_run(
        &self,
        run_id: Uuid,
        end: &crate::records::RunEnd,
    ) -> StoreResult<bool> {
        dispatch!(self, s => s.finish_run(run_id, end).await)
    }

    pub async fn abandon_runs(&self, keep: Uuid, reason: &str) -> StoreResult<u64> {
        dispatch!(self, s => s.abandon_runs(keep, reason).await)
    }

    pub async fn get_run(&self, id: Uuid) -> StoreResult<Option<SyncRun>> {
        dispatch!(self, s => s.get_run(id).await)
    }

    pub async fn adopt_run(&self, id: Uuid, owner: &str) -> StoreResult<Option<SyncRun>> {
        dispatch!(self, s => s.adopt_run(id, owner).await)
    }

    pub async fn record_missed(
        &self,
        slot: DateTime<Utc>,
        owner: &str,
        reason: &str,
    ) -> StoreResult<bool> {
        dispatch!(self, s => s.record_missed(slot, owner, reason).await)
    }

    pub async fn last_slot(&self) -> StoreResult<Option<DateTime<Utc>>> {
        dispatch!(self, s => s.last_slot().await)
    }

    pub async fn last_success_at(&self) -> StoreResult<Option<DateTime<Utc>>> {
        dispatch!(self, s => s.last_success_at().await)
    }

    pub async fn model_counts(&self) -> StoreResult<Vec<(String, String, i64)>> {
        dispatch!(self, s => s.model_counts().await)
    }

    pub async fn db_now(&self) -> StoreResult<DateTime<Utc>> {
        dispatch!(self, s => s.db_now().await)
    }

    pub async fn scheduler_state(
        &self,
        job_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<(bool, DateTime<Utc>)> {
        dispatch!(self, s => s.scheduler_state(job_id, now).await)
    }

    pub async fn set_paused(&self, job_id: &str, paused: bool) -> StoreResult<()> {
        dispatch!(self, s => s.set_paused(job_id, paused).await)
    }

    pub async fn list_runs(
        &self,
        limit: i64,
        before: Option<(DateTime<Utc>, Uuid)>,
    ) -> StoreResult<Vec<SyncRun>> {
        dispatch!(self, s => s.list_runs(limit, before).await)
    }

    pub async fn run_skips(&self, run_id: Uuid, limit: i64) -> StoreResult<Vec<SkipRecord>> {
        dispatch!(self, s => s.run_skips(run_id, limit).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_words_are_lower_cased_runs_of_letters_and_digits() {
        assert_eq!(search_words("YOLOv8n-face"), ["yolov8n", "face"]);
        assert_eq!(
            search_words("  ssd_mobilenet v2 "),
            ["ssd", "mobilenet", "v2"]
        );
        assert_eq!(search_words("Über Modèle ✓"), ["über", "modèle"]);
        assert!(search_words("%_ -- '\"").is_empty());
        assert_eq!(search_words(&"a ".repeat(40)).len(), MAX_SEARCH_WORDS);
    }

    #[test]
    fn word_queries_take_each_word_as_a_prefix() {
        let words = search_words("Mobile-Net v2");
        assert_eq!(
            Dialect::Sqlite.search_query(&words),
            r#""mobile"* "net"* "v2"*"#
        );
        assert_eq!(
            Dialect::Postgres.search_query(&words),
            "mobile:* & net:* & v2:*"
        );
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let k = Keyset {
            sort: SortKey::Name,
            value: SortValue::Text("abc".into()),
            id: Uuid::new_v4(),
        };
        assert_eq!(Keyset::decode(&k.encode(), SortKey::Name).unwrap(), k);
        assert!(Keyset::decode(&k.encode(), SortKey::CreatedAt).is_err());
        assert!(Keyset::decode("not-base64!!", SortKey::Name).is_err());
        assert!(Keyset::decode("e30", SortKey::Name).is_err());
    }
}
