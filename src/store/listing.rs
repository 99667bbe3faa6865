//! Pages of models as SQL: filters, the sort orders and their keyset cursors, and the word search behind
//! `q`, built as SQL text once for both backends (the words are `search`'s; which plan a search takes,
//! and running the page and its total, `browse`'s).

use super::search::{search_words, SearchPlan};
use super::Dialect;
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
    /// The total, when the caller counted it already (`X-Total-Count`): a search on SQLite then
    /// tells few matches from many by it instead of counting them again.
    pub known_total: Option<i64>,
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
    pub(super) fn client_json_sql(self, q: &ModelQuery, dialect: Dialect) -> (String, Vec<Param>) {
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
