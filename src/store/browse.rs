//! Reading a listing: the plan its search takes (a walk of the sort index, else the word index), its
//! page — as models, or as the clients' JSON made of the stored cards — and its total. The SQL is
//! `listing`'s, the words `search`'s.

use super::listing::{
    bind_params, listed_status_sql, Keyset, ListSql, ModelPage, ModelQuery, Param,
};
use super::rows::ModelRow;
use super::search::{search_words, SearchPlan, SEARCH_DRIVE_MAX, WALK_ROWS_PER_MATCH};
use super::{on_backend, Dialect, Store, StoreResult};
use crate::domain::records::Model;

impl Store {
    /// One page of models as `q` asks, with the total (unless `q.skip_count`) and where the next
    /// page starts.
    pub async fn list_models(&self, q: &ModelQuery) -> StoreResult<ModelPage> {
        let total = if q.skip_count {
            -1
        } else {
            self.count_models(q).await?
        };
        // A page of no models (a caller that wants the total only) reads no rows: a search's walk
        // and probe would still look for its one "next" row (on PostgreSQL, up to 490 ms for a word
        // in few models, where the count took 2 ms).
        if q.limit == 0 {
            return Ok(ModelPage {
                items: Vec::new(),
                total,
                next: None,
            });
        }
        // A search's page is first read by a walk; one that does not fill it is read again from the
        // word index (the walk itself tells, instead of a probe before it).
        let rows = match self.walk_plan(q) {
            Some(walk) => match self.page_rows(q, walk).await? {
                full if full.len() > q.limit as usize => full,
                _ => {
                    // The total, when it counts the word index's matches (less the hidden ones),
                    // already tells few from many.
                    let counted = (total >= 0).then_some(total);
                    let plan = self.index_plan(q, known_matches(q, counted)).await?;
                    self.page_rows(q, plan).await?
                }
            },
            None => self.page_rows(q, SearchPlan::Drive).await?,
        };
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
    /// The rows of `q`'s page (one more than its limit, when there is a next page) read as `plan` says.
    async fn page_rows(&self, q: &ModelQuery, plan: SearchPlan) -> StoreResult<Vec<ModelRow>> {
        let (sql, params) = ListSql::new(q, self.dialect(), plan).page_sql(q);
        Ok(on_backend!(self, |db| bind_params!(
            sqlx::query_as(&sql),
            params
        )
        .fetch_all(&db.pool)
        .await?))
    }

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
        let Some(walk) = self.walk_plan(q) else {
            return Ok(SearchPlan::Drive);
        };
        let (sql, params) = ListSql::new(q, self.dialect(), walk).rows_found_sql(q);
        let found: i64 = on_backend!(self, |db| bind_params!(sqlx::query_scalar(&sql), params)
            .fetch_one(&db.pool)
            .await?);
        if found > i64::from(q.limit) {
            return Ok(walk);
        }
        self.index_plan(q, known_matches(q, None)).await
    }

    /// The walk `q`'s page would take, bounded as [`WALK_ROWS_PER_MATCH`] says; `None` without a
    /// search.
    fn walk_plan(&self, q: &ModelQuery) -> Option<SearchPlan> {
        let words = q.q.as_deref().map(search_words).unwrap_or_default();
        if words.is_empty() {
            return None;
        }
        let needed = i64::from(q.offset) + i64::from(q.limit) + 1;
        Some(SearchPlan::Walk {
            rows: needed.saturating_mul(WALK_ROWS_PER_MATCH),
        })
    }

    /// How the word index is read when a walk does not fill the page: on SQLite, listing the matches
    /// when they are few, probing them per row when they are many. `matches`, when the caller knows
    /// about how many there are (the search's total), saves reading them to count (a common word's
    /// capped count merged its whole match list: 1.9 ms of an 11 ms page).
    async fn index_plan(&self, q: &ModelQuery, matches: Option<i64>) -> StoreResult<SearchPlan> {
        let words = q.q.as_deref().map(search_words).unwrap_or_default();
        let Store::Sqlite(db) = self else {
            // PostgreSQL's planner reads the word index or the sort index by its own statistics.
            return Ok(SearchPlan::Drive);
        };
        if let Some(matches) = matches {
            return Ok(if matches <= SEARCH_DRIVE_MAX {
                SearchPlan::Drive
            } else {
                SearchPlan::Probe
            });
        }
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
        if let (Store::Postgres(db), false) = (self, words.is_empty()) {
            // A word in a quarter of the catalogue was counted by reading every row and making its
            // words again (300–620 ms at 100,000 models); from the word index, 33–55 ms.
            let mut tx = pg_count_from_the_word_index(&db.pool).await?;
            let n = bind_params!(sqlx::query_scalar::<_, i64>(&sql), params)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(n);
        }
        Ok(super::on_backend!(self, |db| bind_params!(
            sqlx::query_scalar::<_, i64>(&sql),
            params
        )
        .fetch_one(&db.pool)
        .await?))
    }
}

/// A PostgreSQL transaction in which a search's count reads its matches from its word index (a
/// bitmap), never every row: its planner prices the index's expression like a column, and counted a
/// word in a quarter of the catalogue by reading every row and making its words again (300–620 ms at
/// 100,000 models, 33–55 ms from the index). A page keeps the planner's choice: forcing the index
/// there cost words in ~5,000 spread models 6 → 16–25 ms while saving clustered ones 130 → 22 ms.
async fn pg_count_from_the_word_index(
    pool: &sqlx::PgPool,
) -> StoreResult<sqlx::Transaction<'static, sqlx::Postgres>> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL enable_seqscan = off")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// How many models `q`'s search matches, as far as it is known without counting: its total (`counted`
/// when this listing counted it, else [`ModelQuery::known_total`]) when it filters nothing else than
/// every listing does, so that its total is its word index's matches less the hidden ones.
fn known_matches(q: &ModelQuery, counted: Option<i64>) -> Option<i64> {
    let total = counted.or(q.known_total)?;
    filters_only_what_every_listing_does(q).then_some(total)
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
        known_total: _,
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
