//! Pages of models: filters, the sort orders and their keyset cursors, and the word search behind `q`
//! (its SQL; the plan and the words are `search`'s), built as SQL text once for both backends.

use super::rows::ModelRow;
use super::search::{search_words, SearchPlan, SEARCH_DRIVE_MAX, WALK_ROWS_PER_MATCH};
use super::{on_backend, Dialect, Store, StoreResult};
use crate::domain::client_card::CARD_CLOSING_SQL;
use crate::domain::records::Model;
use crate::domain::{Category, LicenseType, Source, UpstreamStatus, VersionStatus};
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
    /// Most used first: Pocket AI's own downloads, then the Hub's, then the id
    /// ([`crate::domain::popularity`]).
    Downloads,
    /// Highest rated first: the models' Bayesian averages ([`crate::domain::weighted_rating`]),
    /// then the id; models nobody rated last.
    Rating,
}

impl SortKey {
    /// The column its index leads with (the index continues with `id`).
    fn column(self) -> &'static str {
        match self {
            SortKey::CreatedAt => "created_at",
            SortKey::UpdatedAt => "updated_at",
            SortKey::Name => "name",
            SortKey::Downloads => "popularity",
            SortKey::Rating => "rating_weighted_avg",
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
    Float(f64),
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
                | (SortKey::Rating, SortValue::Float(_))
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
            SortKey::Downloads => SortValue::Int(crate::domain::popularity(
                model.total_download_count,
                model.upstream.as_ref().map_or(0, |u| u.downloads),
            )),
            SortKey::Rating => SortValue::Float(model.rating_weighted_avg),
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
    /// Only models whose best version has this status.
    pub best_status: Option<VersionStatus>,
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
    Float(f64),
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
                $crate::store::listing::Param::Float(v) => query.bind(v),
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
    /// With [`SearchPlan::Walk`]: the words' conditions, tested on the rows the sort index leads to,
    /// and at most how many rows to read.
    walk: Option<(String, i64)>,
    dialect: Dialect,
}

impl ListSql {
    /// The listing `q` asks for, its search (if any) read as `plan` says.
    pub(super) fn new(q: &ModelQuery, dialect: Dialect, plan: SearchPlan) -> ListSql {
        let mut sql = ListSql {
            filter: String::from(" WHERE 1=1"),
            params: Vec::new(),
            walk: None,
            dialect,
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
        if let Some(status) = q.best_status {
            sql.push_eq("best_version_status", Param::Text(status.as_str().into()));
        }
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
        if words.is_empty() {
            return sql;
        }
        if let SearchPlan::Walk { rows } = plan {
            let conditions = words
                .into_iter()
                .map(|w| dialect.word_in_text(sql.bind(Param::Text(w))))
                .collect();
            sql.walk = Some((conditions, rows));
        } else {
            let n = sql.bind(Param::Text(dialect.search_query(&words)));
            sql.filter
                .push_str(&dialect.search_filter(n, plan == SearchPlan::Drive));
        }
        sql
    }

    /// The conditions of the listing but its search, as one SQL expression, with their parameters
    /// (the search's parameters, if any, follow them).
    pub(super) fn filter_without_search(q: &ModelQuery, dialect: Dialect) -> (String, Vec<Param>) {
        let q = ModelQuery {
            q: None,
            ..q.clone()
        };
        let list = ListSql::new(&q, dialect, SearchPlan::Drive);
        (list.filter[" WHERE ".len()..].to_string(), list.params)
    }

    fn bind(&mut self, p: Param) -> usize {
        self.params.push(p);
        self.params.len()
    }

    fn push_eq(&mut self, column: &str, p: Param) {
        let n = self.bind(p);
        self.filter.push_str(&format!(" AND {column} = ${n}"));
    }

    /// The count of the listing's models, with its parameters.
    pub(super) fn count_sql(self) -> (String, Vec<Param>) {
        debug_assert!(self.walk.is_none(), "a walk is bounded: it cannot count");
        (
            format!("SELECT COUNT(*) FROM ml_models{}", self.filter),
            self.params,
        )
    }

    /// How many rows of the page (one more than `q.limit` at most) the listing finds.
    pub(super) fn rows_found_sql(self, q: &ModelQuery) -> (String, Vec<Param>) {
        let (page, params) = self.select(q, "1", q.limit + 1);
        (format!("SELECT count(*) FROM ({page}) AS page"), params)
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
                SortValue::Float(f) => Param::Float(*f),
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
        let order = format!("ORDER BY {col} {dir}, id {dir}");
        let sql = match self.walk.take() {
            None => {
                format!("SELECT {columns} FROM ml_models{filter} {order} LIMIT ${limit}{offset}")
            }
            // The first `rows` rows in order (read from the sort index), then those of them whose
            // text has the words, in the same order: SQLite runs the inner query as a co-routine
            // (a subquery with a LIMIT under a WHERE is never flattened) and stops reading it once
            // the page is full; PostgreSQL is told the order again (it keeps the rows in order
            // without sorting them).
            Some((words, rows)) => {
                let rows = self.bind(Param::Int(rows));
                let outer_order = match self.dialect {
                    Dialect::Sqlite => "",
                    Dialect::Postgres => order.as_str(),
                };
                format!(
                    "SELECT {columns} FROM (SELECT * FROM ml_models{filter} {order} LIMIT ${rows}) \
                     AS ml_models WHERE 1=1{words} {outer_order} LIMIT ${limit}{offset}"
                )
            }
        };
        (sql, self.params)
    }
}

impl Store {
    /// One page of models as `q` asks, with the total (unless `q.skip_count`) and where the next
    /// page starts.
    pub async fn list_models(&self, q: &ModelQuery) -> StoreResult<ModelPage> {
        let total = if q.skip_count {
            -1
        } else {
            self.count_models(q).await?
        };
        let list = ListSql::new(q, self.dialect(), self.search_plan(q).await?);
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
        let list = ListSql::new(q, self.dialect(), self.search_plan(q).await?);
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

/// The models no anonymous listing shows (removed upstream, or private): the only rows the catalogue's
/// default filters drop, kept in a partial index of their own (`ml_models_hidden`, migration 0028) so
/// that a search's total is its word index's count minus the hidden models that match. The text must
/// stay the index's `WHERE`, for SQLite to use it.
const HIDDEN_SQL: &str = concat!("NOT (", listed_status_sql!(), " AND is_public = TRUE)");

impl Store {
    /// How `q`'s search reads its matches: a walk when the first rows in the page's order hold the
    /// page (a walk finds out, bounded as the page's would be — a common word's page, which
    /// PostgreSQL's planner took 40–170 ms over at 100,000 models, sorting every match); otherwise
    /// from the word index — on SQLite, listing the matches when they are few and probing them per
    /// row when they are many.
    pub(super) async fn search_plan(&self, q: &ModelQuery) -> StoreResult<SearchPlan> {
        let words = q.q.as_deref().map(search_words).unwrap_or_default();
        if words.is_empty() {
            return Ok(SearchPlan::Drive);
        }
        let needed = i64::from(q.offset) + i64::from(q.limit) + 1;
        let walk = SearchPlan::Walk {
            rows: needed.saturating_mul(WALK_ROWS_PER_MATCH),
        };
        let (sql, params) = ListSql::new(q, self.dialect(), walk).rows_found_sql(q);
        let found: i64 = on_backend!(self, |db| bind_params!(sqlx::query_scalar(&sql), params)
            .fetch_one(&db.pool)
            .await?);
        if found > i64::from(q.limit) {
            return Ok(walk);
        }
        let Store::Sqlite(db) = self else {
            // PostgreSQL's planner reads the word index or the sort index by its own statistics.
            return Ok(SearchPlan::Drive);
        };
        // At most SEARCH_DRIVE_MAX + 1 matches are read to tell few from many.
        let matches: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT rowid FROM ml_models_fts WHERE ml_models_fts MATCH $1 \
             LIMIT $2)",
        )
        .bind(Dialect::Sqlite.search_query(&words))
        .bind(SEARCH_DRIVE_MAX + 1)
        .fetch_one(&db.pool)
        .await?;
        Ok(if matches <= SEARCH_DRIVE_MAX {
            SearchPlan::Drive
        } else {
            SearchPlan::Probe
        })
    }

    /// How many models `q` lists (its total). A search on SQLite that filters only what every
    /// listing does (removed and others' private models) is counted from its word index alone, less
    /// the hidden models that match: reading a common word's 95,000 matches row by row cost 70 ms,
    /// its word index's count 20 ms.
    pub(super) async fn count_models(&self, q: &ModelQuery) -> StoreResult<i64> {
        let words = q.q.as_deref().map(search_words).unwrap_or_default();
        if let (Store::Sqlite(db), false, true) = (
            self,
            words.is_empty(),
            filters_only_what_every_listing_does(q),
        ) {
            let (filter, mut params) = ListSql::filter_without_search(q, Dialect::Sqlite);
            params.push(Param::Text(Dialect::Sqlite.search_query(&words)));
            let matches = params.len();
            let mut hidden_matching =
                format!("SELECT count(*) FROM ml_models WHERE {HIDDEN_SQL} AND NOT ({filter})");
            for w in words {
                params.push(Param::Text(w));
                hidden_matching.push_str(&Dialect::Sqlite.word_in_text(params.len()));
            }
            let sql = format!(
                "SELECT (SELECT count(*) FROM ml_models_fts WHERE ml_models_fts MATCH ${matches}) \
                 - ({hidden_matching})"
            );
            return Ok(bind_params!(sqlx::query_scalar(&sql), params)
                .fetch_one(&db.pool)
                .await?);
        }
        let (sql, params) = ListSql::new(q, self.dialect(), SearchPlan::Drive).count_sql();
        Ok(super::on_backend!(self, |db| bind_params!(
            sqlx::query_scalar::<_, i64>(&sql),
            params
        )
        .fetch_one(&db.pool)
        .await?))
    }
}

/// `q` filters no more than the listed status and who may see a model (besides its search): every
/// model it leaves out is one of [`HIDDEN_SQL`]'s.
fn filters_only_what_every_listing_does(q: &ModelQuery) -> bool {
    let ModelQuery {
        task,
        category,
        author_id,
        license_type,
        source,
        upstream_status,
        commercial,
        supported_only,
        quantization,
        best_status,
        q: _,
        sort: _,
        include_removed: _,
        skip_count: _,
        limit: _,
        after: _,
        offset: _,
        visibility: _,
    } = q;
    task.is_none()
        && category.is_none()
        && author_id.is_none()
        && license_type.is_none()
        && source.is_none()
        && upstream_status.is_none()
        && commercial.is_none()
        && !supported_only
        && quantization.is_none()
        && best_status.is_none()
}
