//! Pages of models: filters, the sort orders and their keyset cursors, and the word search behind `q`
//! (SQLite FTS5, PostgreSQL `tsvector`), built as SQL text once for both backends.

use super::rows::ModelRow;
use super::{on_backend, Dialect, Store, StoreResult};
use crate::domain::client_card::CARD_CLOSING_SQL;
use crate::domain::records::Model;
use crate::domain::{Category, LicenseType, Source, UpstreamStatus};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

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
    /// This keyset, when it was made for `sort` and its value has that sort's type (a cursor the
    /// client passed back, decoded).
    pub fn for_sort(self, sort: SortKey) -> Result<Keyset, String> {
        let value_fits = matches!(
            (self.sort, &self.value),
            (SortKey::CreatedAt | SortKey::UpdatedAt, SortValue::Time(_))
                | (SortKey::Name, SortValue::Text(_))
                | (SortKey::Downloads, SortValue::Int(_))
        );
        if self.sort != sort || !value_fits {
            return Err("the cursor belongs to another sort order".to_string());
        }
        Ok(self)
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
    /// Rows to skip before the page (the clients' `skip`; keyset cursors are the fast way to page).
    pub offset: u32,
    /// Whose private models are listed besides the public ones.
    pub visibility: Visibility,
    /// Only models with a version the app can run (`best_version_status` verified or pending).
    pub supported_only: bool,
    /// Only models with a version whose model file has this kind of quantization (`float32`,
    /// `float16`, `dynamic range`, `int8`, `int4`, `mixed`).
    pub quantization: Option<String>,
}

/// Which models a listing may show.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Visibility {
    /// Every model, private ones too (admins; the sync).
    #[default]
    Everything,
    /// Public models, and the private models of this author when there is one (CLIENTS.md §1.2).
    PublicAnd(Option<Uuid>),
}

impl Visibility {
    /// This visibility as SQL — `""` or ` AND …` — over the models' columns named with `prefix`
    /// (`""` or `"m."`); `mark` gives the placeholder the author is bound at, when one is named. The
    /// one SQL form of the rule, for listings, hosted files and telemetry.
    pub(super) fn condition(self, prefix: &str, mark: impl FnOnce(Uuid) -> String) -> String {
        match self {
            Visibility::Everything => String::new(),
            Visibility::PublicAnd(None) => format!(" AND {prefix}is_public = TRUE"),
            Visibility::PublicAnd(Some(author)) => format!(
                " AND ({prefix}is_public = TRUE OR {prefix}author_id = {})",
                mark(author)
            ),
        }
    }

    /// The author this visibility binds, if any.
    pub(super) fn author(self) -> Option<Uuid> {
        match self {
            Visibility::PublicAnd(author) => author,
            Visibility::Everything => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ModelPage {
    pub items: Vec<Model>,
    pub total: i64,
    pub next: Option<Keyset>,
}

/// A bind parameter of dynamically built SQL.
#[derive(Debug, Clone)]
pub(super) enum Param {
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
                $crate::store::listing::Param::Text(v) => query.bind(v),
                $crate::store::listing::Param::Int(v) => query.bind(v),
                $crate::store::listing::Param::Time(v) => query.bind(v),
                $crate::store::listing::Param::Uuid(v) => query.bind(v),
            };
        }
        query
    }};
}
pub(crate) use bind_params;

/// SQL for a model listing, shared by both backends (`$n` placeholders work in both).
pub(super) struct ListSql {
    filter: String,
    params: Vec<Param>,
}

impl ListSql {
    /// The listing `q` asks for; `search_matches` is how many models the word index finds for its
    /// `q` (decides the plan on SQLite; ignored without `q`).
    pub(super) fn new(q: &ModelQuery, dialect: Dialect, search_matches: i64) -> ListSql {
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
        let visible = q
            .visibility
            .condition("", |author| format!("${}", sql.bind(Param::Uuid(author))));
        sql.filter.push_str(&visible);
        if q.supported_only {
            sql.filter
                .push_str(" AND best_version_status IN ('verified', 'pending')");
        }
        if let Some(kind) = &q.quantization {
            let n = sql.bind(Param::Text(kind.clone()));
            sql.filter.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM model_versions v WHERE v.quantization = ${n} \
                 AND v.model_id = ml_models.id)"
            ));
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
    pub(super) fn page_sql(self, q: &ModelQuery) -> (String, Vec<Param>) {
        self.select(q, super::models::MODEL_COLUMNS, q.limit + 1)
    }

    /// The page as the clients' JSON array, made by the database: each model's stored card closed by
    /// its counters, joined in the page's order, in brackets — and how many of the page's models have
    /// no card.
    fn client_json_sql(self, q: &ModelQuery, dialect: Dialect) -> (String, Vec<Param>) {
        let (dir, col) = (
            if q.sort.descending() { "DESC" } else { "ASC" },
            q.sort.column(),
        );
        let columns = format!("client_card || {CARD_CLOSING_SQL} AS j, {col} AS k, id");
        let (page, params) = self.select(q, &columns, q.limit);
        let sql = format!(
            "SELECT '[' || COALESCE({}, '') || ']', COUNT(*) - COUNT(j) FROM ({page}) AS page",
            dialect.join_in_order("j", &format!("k {dir}, id {dir}"))
        );
        (sql, params)
    }

    /// `columns` of the page's rows: filters, the keyset condition, order and `limit` rows.
    fn select(mut self, q: &ModelQuery, columns: &str, limit: u32) -> (String, Vec<Param>) {
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
        let limit = self.bind(Param::Int(i64::from(limit)));
        let offset = if q.offset > 0 {
            format!(" OFFSET ${}", self.bind(Param::Int(i64::from(q.offset))))
        } else {
            String::new()
        };
        let sql = format!(
            "SELECT {columns} FROM ml_models{filter} ORDER BY {col} {dir}, id {dir} LIMIT ${limit}{offset}"
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

/// The words of a model's search text on PostgreSQL, as indexed by `ml_models_search` (migration
/// 0011): punctuation turned into spaces first, so its parser sees plain words as SQLite's does.
pub(super) const PG_SEARCH_VECTOR: &str =
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

impl Store {
    /// How many models the word index finds for `q`'s search (SQLite, where it decides the plan; 0
    /// without a search or on PostgreSQL, whose planner has its own statistics).
    pub(crate) async fn search_matches(&self, q: &ModelQuery) -> StoreResult<i64> {
        let words = q.q.as_deref().map(search_words).unwrap_or_default();
        let Store::Sqlite(db) = self else {
            return Ok(0);
        };
        if words.is_empty() {
            return Ok(0);
        }
        Ok(
            sqlx::query_scalar("SELECT count(*) FROM ml_models_fts WHERE ml_models_fts MATCH $1")
                .bind(Dialect::Sqlite.search_query(&words))
                .fetch_one(&db.pool)
                .await?,
        )
    }

    /// One page of models as `q` asks, with the total (unless `q.skip_count`) and where the next
    /// page starts.
    pub async fn list_models(&self, q: &ModelQuery) -> StoreResult<ModelPage> {
        let list = ListSql::new(q, self.dialect(), self.search_matches(q).await?);
        let count_sql = list.count_sql();
        let total = if q.skip_count {
            -1
        } else {
            on_backend!(self, |db| bind_params!(
                sqlx::query_scalar::<_, i64>(&count_sql),
                list.params.clone()
            )
            .fetch_one(&db.pool)
            .await?)
        };
        let (sql, params) = list.page_sql(q);
        let rows: Vec<ModelRow> =
            on_backend!(self, |db| bind_params!(sqlx::query_as(&sql), params)
                .fetch_all(&db.pool)
                .await?);
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
}

impl Store {
    /// The page `q` asks for as the clients' JSON array of models (`/api/v1`'s `MLModelRead`s),
    /// concatenated by the database from the stored cards; `None` when a model of the page has no
    /// card yet (the caller renders that page from its rows).
    pub async fn client_models_json(&self, q: &ModelQuery) -> StoreResult<Option<String>> {
        let list = ListSql::new(q, self.dialect(), self.search_matches(q).await?);
        let (sql, params) = list.client_json_sql(q, self.dialect());
        let (array, without_card): (String, i64) =
            on_backend!(self, |db| bind_params!(sqlx::query_as(&sql), params)
                .fetch_one(&db.pool)
                .await?);
        if without_card > 0 {
            tracing::warn!(
                models = without_card,
                "a page holds models without a client card"
            );
            return Ok(None);
        }
        Ok(Some(array))
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
}
