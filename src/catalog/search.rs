//! Searching the Hub for repos to import (the portal's import flow): repos matching a query that
//! contain LiteRT files, and whether each is already in the catalog.

use super::{Catalog, CatalogError, CatalogResult};
use crate::sync::versions::has_model_file;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

const EXPAND: &[&str] = &[
    "author",
    "downloads",
    "likes",
    "library_name",
    "sha",
    "siblings",
    "tags",
    "private",
    "pipeline_tag",
    "cardData",
];

/// The description of a repo whose card says nothing (the clients show it as is; never empty).
const NO_DESCRIPTION: &str = "TFLite model from Hugging Face";

/// A Hub repo with LiteRT files.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HubHit {
    /// `owner/repo`.
    pub id: String,
    /// The model card's summary or description; never empty.
    pub description: String,
    pub tags: Vec<String>,
    pub pipeline_tag: Option<String>,
    pub repo_id: String,
    pub author: Option<String>,
    pub library_name: Option<String>,
    pub downloads: i64,
    pub likes: i64,
    pub sha: Option<String>,
    /// The repo's `.tflite`, `.litertlm` and `.task` files.
    pub model_files: Vec<String>,
    pub in_catalog: bool,
    /// The catalog model mirroring it, when there is one.
    pub catalog_id: Option<Uuid>,
    #[serde(skip)]
    object_id: String,
}

impl Catalog {
    /// Hub repos matching `query` that contain LiteRT files, most downloaded first — asked anonymously
    /// (a user's search finds what the Hub shows everyone).
    pub async fn search_hub(&self, query: &str) -> CatalogResult<Vec<HubHit>> {
        // A search a user makes: anonymous, so it finds what the Hub shows everyone.
        let hub = self.syncer.public_hub();
        let mut hits: Vec<HubHit> = Vec::new();
        for filter in &self.syncer.config().filters {
            let page = hub
                .list_page(&hub.search_url(filter, query, 100, EXPAND))
                .await
                .map_err(|e| match e {
                    crate::hub::HubError::Status { status: 429, .. } => CatalogError::Busy(
                        "The Hugging Face Hub is rate limiting us; try again shortly".into(),
                    ),
                    other => CatalogError::Upstream(format!(
                        "The Hugging Face Hub search failed: {other}"
                    )),
                })?;
            for m in page.models {
                let files: Vec<String> = m
                    .siblings
                    .iter()
                    .flatten()
                    .map(|s| s.rfilename.clone())
                    .collect();
                let Some(object_id) = m.object_id.clone() else {
                    continue;
                };
                if m.private == Some(true)
                    || has_model_file(Some(&files)) != Some(true)
                    || hits.iter().any(|h| h.object_id == object_id)
                {
                    continue;
                }
                let description = crate::sync::mapping::card_description(m.card_data.as_ref())
                    .filter(|d| !d.trim().is_empty())
                    .unwrap_or_else(|| NO_DESCRIPTION.to_string());
                hits.push(HubHit {
                    id: m.id.clone(),
                    description,
                    tags: m.tags.clone(),
                    pipeline_tag: m.pipeline_tag.clone(),
                    repo_id: m.id,
                    author: m.author,
                    library_name: m.library_name,
                    downloads: m.downloads.unwrap_or(0),
                    likes: m.likes.unwrap_or(0),
                    sha: m.sha,
                    model_files: files
                        .into_iter()
                        .filter(|f| has_model_file(Some(std::slice::from_ref(f))) == Some(true))
                        .collect(),
                    in_catalog: false,
                    catalog_id: None,
                    object_id,
                });
            }
        }
        hits.sort_by(|a, b| {
            b.downloads
                .cmp(&a.downloads)
                .then_with(|| a.repo_id.cmp(&b.repo_id))
        });
        Ok(hits)
    }

    /// Marks which `hits` the catalog mirrors, and as which model (always fresh, even for a cached
    /// search).
    pub async fn mark_in_catalog(&self, hits: &mut [HubHit]) -> CatalogResult<()> {
        let ids: Vec<String> = hits.iter().map(|h| h.object_id.clone()).collect();
        let known = self.store.synced_models(&ids, &[]).await?;
        for h in hits {
            let model = known.iter().find(|m| {
                m.upstream
                    .as_ref()
                    .is_some_and(|u| u.object_id == h.object_id)
            });
            h.in_catalog = model.is_some();
            h.catalog_id = model.map(|m| m.id);
        }
        Ok(())
    }
}
