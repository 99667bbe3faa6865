//! Browsing: a listing's filters turned into one store query under the visibility rule, for both
//! dialects (each parses its own parameters, names and errors; the query and who sees what are
//! decided here).

use super::{Catalog, CatalogResult, Looker};
use crate::store::{ModelPage, ModelQuery};

/// The quantization a `quantization` filter names (`float32`, `float16`, `dynamic range`, `int8`,
/// `int4`, `mixed`); a blank one filters nothing.
pub fn quantization_filter(raw: Option<&str>) -> Result<Option<String>, String> {
    raw.filter(|q| !q.trim().is_empty())
        .map(crate::inspect::parse_quantization_kind)
        .transpose()
        .map(|kind| kind.map(str::to_string))
}

/// The longest `q` a listing takes, in characters.
pub const MAX_Q: usize = 200;

/// A listing's `q` as both dialects take it: a blank one searches nothing; one longer than [`MAX_Q`]
/// characters, or without a letter or digit (it is searched as words), is refused with this sentence.
pub fn search_filter(raw: Option<String>) -> Result<Option<String>, String> {
    let Some(q) = raw.filter(|q| !q.trim().is_empty()) else {
        return Ok(None);
    };
    if q.chars().count() > MAX_Q {
        return Err(format!("q must be at most {MAX_Q} characters"));
    }
    if crate::store::search_words(&q).is_empty() {
        return Err("q must contain a letter or digit (it is searched as words)".into());
    }
    Ok(Some(q))
}

impl Catalog {
    /// A page of models matching `query`, of those `looker` may see (the query's own visibility is
    /// replaced by the looker's).
    pub async fn browse(&self, looker: Looker<'_>, query: ModelQuery) -> CatalogResult<ModelPage> {
        let query = ModelQuery {
            visibility: looker.listing(),
            ..query
        };
        Ok(self.store.list_models(&query).await?)
    }

    /// The same page as the clients' JSON array of models, concatenated from the cards stored with
    /// each model; `None` when the page holds a model without one (render it from [`Catalog::browse`]).
    pub async fn browse_client_json(
        &self,
        looker: Looker<'_>,
        query: ModelQuery,
    ) -> CatalogResult<Option<String>> {
        let query = ModelQuery {
            visibility: looker.listing(),
            ..query
        };
        Ok(self.store.client_models_json(&query).await?)
    }
}
