//! Where the SQL of the two backends differs: each difference is one method of [`Dialect`].

use super::search::PG_SEARCH_VECTOR;

/// Where the two backends' SQL differs; the store's shared SQL asks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// Bind parameter number `n` (from 1). SQLite gets anonymous `?`: it looks numbered ones up by a
    /// linear scan, per parameter.
    pub(crate) fn placeholder(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => "?".to_string(),
            Dialect::Postgres => format!("${n}"),
        }
    }

    /// Database-clock milliseconds since the epoch.
    pub(crate) fn now_ms(self) -> &'static str {
        match self {
            Dialect::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
            Dialect::Postgres => "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT",
        }
    }

    /// The strings of a JSON array parameter `$1`, as a subquery.
    pub(crate) fn json_ids(self) -> &'static str {
        match self {
            Dialect::Sqlite => "SELECT value FROM json_each($1)",
            Dialect::Postgres => "SELECT json_array_elements_text($1::json)",
        }
    }

    /// The aggregate that gathers a column into one JSON array.
    pub(crate) fn json_agg(self) -> &'static str {
        match self {
            Dialect::Sqlite => "json_group_array",
            Dialect::Postgres => "json_agg",
        }
    }

    /// The aggregate that joins the strings `column` of an ordered subquery with commas, in the order
    /// `order`. SQLite gets no `ORDER BY` in the aggregate: it reads an ordered subquery as a
    /// co-routine, row by row in its order, while an aggregate `ORDER BY` copies every string into a
    /// temporary b-tree first (a quarter of the time of listing 1,000 models; the order is asserted in
    /// `tests/it/client_cards.rs`).
    pub(crate) fn join_in_order(self, column: &str, order: &str) -> String {
        match self {
            Dialect::Sqlite => format!("group_concat({column}, ',')"),
            Dialect::Postgres => format!("string_agg({column}, ',' ORDER BY {order})"),
        }
    }

    /// The word query for `words`: every word, as a prefix.
    pub(crate) fn search_query(self, words: &[String]) -> String {
        match self {
            // FTS5: quoted strings ANDed, each a prefix (`"mobile"* "v2"*`).
            Dialect::Sqlite => words
                .iter()
                .map(|w| format!("\"{}\"*", w.replace('"', "\"\"")))
                .collect::<Vec<_>>()
                .join(" "),
            // tsquery input, each word a lexeme as it is: `'mobile':* & 'v2':*`.
            Dialect::Postgres => words
                .iter()
                .map(|w| format!("'{}':*", w.replace('\\', "\\\\").replace('\'', "''")))
                .collect::<Vec<_>>()
                .join(" & "),
        }
    }

    /// The condition that a model's text has a word starting with the word bound as parameter `n`
    /// (what the word index finds for that word, read from the row itself: `search::search_text`).
    pub(crate) fn word_in_text(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => format!(" AND instr(search_text, ' ' || ${n}) > 0"),
            Dialect::Postgres => format!(" AND strpos(search_text, ' ' || ${n}) > 0"),
        }
    }

    /// The condition that a model matches the word query bound as parameter `n`. On SQLite, `drive`
    /// lets the match list lead the plan; otherwise (`+rowid`) the sort index leads and the match list
    /// is probed. PostgreSQL's planner chooses by its own statistics.
    pub(crate) fn search_filter(self, n: usize, drive: bool) -> String {
        match self {
            Dialect::Sqlite => format!(
                " AND {}rowid IN (SELECT rowid FROM ml_models_fts WHERE ml_models_fts MATCH ${n})",
                if drive { "" } else { "+" }
            ),
            Dialect::Postgres => format!(" AND {PG_SEARCH_VECTOR} @@ ${n}::tsquery"),
        }
    }
}
